"""The intent pipeline's scores for a few texts, without scikit-learn's per-call overhead.

`Pipeline([FeatureUnion([...]), LogisticRegression])).decision_function` on one chat message spent
most of its time outside the arithmetic (profile of 2026-11-30, docs/benchmarks/support.md "Bot
reply speed"): parameter and input validation on every estimator, FeatureUnion's joblib dispatch,
and `scipy.sparse.hstack` turning the 512 dense encoder columns into a sparse block only to
multiply it by the coefficients. A linear model's scores are a sum over feature blocks, so here
each block is transformed (validation off, the inputs are our own strings) and multiplied by its
slice of the coefficients, and the slices are added up: the same numbers up to float rounding.
A TF-IDF block goes further: it looks up the message's n-grams and multiplies their weights by
those rows of its coefficients, without building a sparse matrix (171 vs 296 µs per message).

Only the prediction call path: fitting, features and the artifact are untouched. A pipeline of any
other shape, or one whose blocks do not add up to the classifier's width, or whose scores here
disagree with scikit-learn's on a probe text, is scored by `pipeline.decision_function` as before.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from .encoder import EncoderUnavailable

# Batches up to this size take the fast path (a chat message is one text); evaluation and training
# batches keep scikit-learn's own path, so their reports are unchanged to the last bit.
FAST_MAX_TEXTS = 16
PROBE_TEXTS = ["where is my order 12345?", "我的订单到哪了"]


@dataclass(frozen=True)
class _Plan:
    blocks: tuple[tuple[Any, float | None], ...]  # (texts -> this block's scores (n, classes), weight)
    intercept: np.ndarray


_plans: weakref.WeakKeyDictionary[Pipeline, _Plan | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _fast_config() -> Any:
    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


def _scores(plan: _Plan, texts: list[str]) -> np.ndarray:
    scores = np.broadcast_to(plan.intercept, (len(texts), plan.intercept.shape[0])).copy()
    with _fast_config():
        for block_scores, weight in plan.blocks:
            part = block_scores(texts)
            scores += part if weight is None else weight * part
    return scores


def _tfidf_scores(vectorizer: TfidfVectorizer, coef_t: np.ndarray) -> Any:
    """TfidfVectorizer.transform's arithmetic (counts, sublinear tf, idf, L2 rows) times the
    block's coefficients, per text, on the few features the text has: no sparse matrix is built.
    On one short message the input checks and the sparse-matrix bookkeeping cost several times
    the arithmetic (profile of 2026-12-01, docs/benchmarks/storefront.md "Round 10"). Checked
    against the pipeline's own scores when the plan is built."""
    analyze = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    idf = vectorizer.idf_ if vectorizer.use_idf else None
    binary, sublinear, l2 = vectorizer.binary, vectorizer.sublinear_tf, vectorizer.norm == "l2"

    def block_scores(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), coef_t.shape[1]))
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for gram in analyze(text):
                column = vocabulary.get(gram)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if not counts:
                continue
            columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
            values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if binary:
                values.fill(1.0)
            if sublinear:
                np.log(values, out=values)
                values += 1.0
            if idf is not None:
                values *= idf[columns]
            if l2:
                norm = float(np.sqrt(values @ values))
                if norm > 0:
                    values /= norm
            out[row] = values @ coef_t[columns]
        return out

    return block_scores


def _tfidf_transform(vectorizer: TfidfVectorizer) -> Any:
    """TfidfVectorizer.transform's arithmetic (counts, sublinear tf, idf, L2 rows) as a sparse
    matrix, without its input checks, which cost more than the arithmetic on one short text
    (they probe the input for dataframe libraries). The FAQ search multiplies it by its matrix."""

    def transform(texts: list[str]) -> Any:
        _, counts = vectorizer._count_vocab(texts, fixed_vocab=True)
        if vectorizer.binary:
            counts.data.fill(1)
        matrix = counts.astype(np.float64, copy=False)
        if vectorizer.sublinear_tf:
            np.log(matrix.data, matrix.data)
            matrix.data += 1
        if vectorizer.use_idf:
            matrix.data *= vectorizer.idf_[matrix.indices]
        if vectorizer.norm == "l2":
            inplace_csr_row_normalize_l2(matrix)
        return matrix

    return transform


def _transform_function(transformer: Any) -> Any:
    if _tfidf_fast_path(transformer):
        return _tfidf_transform(transformer)
    return transformer.transform


def _tfidf_fast_path(transformer: Any) -> bool:
    return type(transformer) is TfidfVectorizer and transformer.norm in ("l2", None) and transformer.dtype == np.float64


def _block_scores(transformer: Any, coef_t: np.ndarray) -> Any:
    if _tfidf_fast_path(transformer):
        return _tfidf_scores(transformer, coef_t)
    return lambda texts: np.asarray(transformer.transform(texts) @ coef_t)


def _build_plan(pipeline: Pipeline) -> _Plan | None:
    try:
        return _checked_plan(pipeline)
    except EncoderUnavailable:
        raise  # not a verdict on the pipeline: the caller serves the fallback, the next call retries
    except Exception:  # noqa: BLE001 - anything unexpected: scikit-learn's own path serves
        return None


def _checked_plan(pipeline: Pipeline) -> _Plan | None:
    if len(pipeline.steps) != 2:
        return None
    union, clf = pipeline.steps[0][1], pipeline.steps[1][1]
    if not isinstance(union, FeatureUnion) or type(clf) is not LogisticRegression or clf.coef_.shape[0] < 2:
        return None
    weights = union.transformer_weights or {}
    blocks, offset = [], 0
    with _fast_config():
        for name, transformer in union.transformer_list:
            if isinstance(transformer, str):  # "drop" / "passthrough"
                return None
            width = transformer.transform(PROBE_TEXTS[:1]).shape[1]
            coef_t = np.ascontiguousarray(clf.coef_[:, offset : offset + width].T)
            blocks.append((_block_scores(transformer, coef_t), weights.get(name)))
            offset += width
    if offset != clf.coef_.shape[1]:
        return None
    plan = _Plan(tuple(blocks), np.asarray(clf.intercept_, dtype=np.float64))
    if not np.allclose(_scores(plan, PROBE_TEXTS), pipeline.decision_function(PROBE_TEXTS), rtol=1e-9, atol=1e-9):
        return None
    return plan


def decision_scores(pipeline: Any, texts: list[str]) -> np.ndarray:
    """`pipeline.decision_function(texts)` for a fitted Pipeline(FeatureUnion, LogisticRegression)."""
    try:
        with _lock:
            known = pipeline in _plans
            plan = _plans.get(pipeline)
    except TypeError:  # not weak-referenceable: not a scikit-learn pipeline
        return pipeline.decision_function(texts)
    if not known:
        plan = _build_plan(pipeline) if isinstance(pipeline, Pipeline) else None
        with _lock:
            _plans[pipeline] = plan
    if plan is None:
        return pipeline.decision_function(texts)
    return _scores(plan, texts)
