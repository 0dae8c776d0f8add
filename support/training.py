"""Retrain the intent model: shipped data + agents' corrections -> train -> evaluate -> promote if better.

Promotion compares the new and the active model on the SAME fixed data neither was trained on:
our realistic test sets (support/data/eval: English with typos, Chinese, off-topic). The primary
metric is accuracy over all of them together.

The frozen hand-written test set (README in the data folder) is NOT read here: it is neither training data
nor the promotion gate, so it stays an honest test (`manage.py evaluate_intents --test-file`).
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from ecommerce.ml import (
    TrainingAlreadyRunning,
    model_load,
    model_training_lock,
    model_version_get_active,
    model_version_promote,
    model_version_register,
)
from ecommerce.models import Product

from .engine import INTENT_MODEL_NAME, catalog_version, product_index_path
from .models import IntentCorrection
from .nlu.data import DATA_DIR, Examples, load_base_examples, read_labelled_csv
from .nlu.encoder import DEFAULT_ENCODER
from .nlu.intents import evaluate, train_intent_model
from .nlu.products import embed_titles

logger = logging.getLogger(__name__)

EVAL_DIR = DATA_DIR / "eval"
PROMOTION_FILES = ("realistic_en.csv", "realistic_zh.csv", "off_topic.csv")


def bitext_eval_path() -> Path:
    return Path(settings.SHARED_DATA_DIR) / "support" / "bitext_eval_split.csv.gz"


def promotion_rows() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name in PROMOTION_FILES:
        rows += read_labelled_csv(EVAL_DIR / name)
    return rows


def training_examples(*, max_bitext_per_intent: int | None = None, seed: int = 13) -> Examples:
    base = load_base_examples()
    if max_bitext_per_intent:
        # Small, fast models for tests and smoke runs: a fixed sample per intent.
        rng = random.Random(seed)
        by_intent: dict[str, list[int]] = defaultdict(list)
        for i, source in enumerate(base.sources):
            if source == "bitext":
                by_intent[base.intents[i]].append(i)
        keep = {i for ids in by_intent.values() for i in rng.sample(ids, min(len(ids), max_bitext_per_intent))}
        trimmed = Examples()
        for i, (t, intent, s) in enumerate(zip(base.texts, base.intents, base.sources, strict=True)):
            if s != "bitext" or i in keep:
                trimmed.add(t, intent, s)
        base = trimmed
    for text, intent in IntentCorrection.objects.values_list("message__text", "intent"):
        base.add(text, intent, "correction")
    return base


def intent_model_retrain(*, max_bitext_per_intent: int | None = None, seed: int = 13) -> dict[str, Any]:
    """Retrain, score, register and maybe promote; one run at a time (a second one returns
    {"status": "already_running"} instead of racing the first for promotion)."""
    try:
        with model_training_lock(INTENT_MODEL_NAME):
            return _intent_model_retrain(max_bitext_per_intent=max_bitext_per_intent, seed=seed)
    except TrainingAlreadyRunning:
        logger.info("support.intents_retrain_already_running")
        return {"status": "already_running"}


def _intent_model_retrain(*, max_bitext_per_intent: int | None, seed: int) -> dict[str, Any]:
    examples = training_examples(max_bitext_per_intent=max_bitext_per_intent, seed=seed)
    model, report = train_intent_model(examples, seed=seed)
    summary = intent_model_register_and_promote(
        model=model,
        report=report,
        params={
            "C": report["C"],
            "seed": seed,
            "max_bitext_per_intent": max_bitext_per_intent,
            "features": report["features"],
            "encoder": report["encoder"],
            "encoder_weight": report["encoder_weight"],
            "temperature": report["temperature"],
        },
    )
    summary["corrections"] = examples.sources.count("correction")
    return summary


def intent_model_register_and_promote(
    *, model: Any, report: dict[str, Any], params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Score on the fixed promotion data, register, and promote only if strictly better than the
    active version scored on the same data."""
    rows = promotion_rows()
    scores = evaluate(model, rows, with_predictions=False)
    metrics: dict[str, Any] = {
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "validation_accuracy": report.get("validation_accuracy"),
        "threshold": report.get("threshold"),
        "language_thresholds": report.get("language_thresholds", {}),
        "features": report.get("features", "tfidf"),
        "temperature": report.get("temperature"),
        "calibration": report.get("calibration", {}),
    }
    for name in PROMOTION_FILES:
        metrics[f"accuracy_{name.removesuffix('.csv')}"] = evaluate(
            model, read_labelled_csv(EVAL_DIR / name), with_predictions=False
        )["accuracy"]
    if bitext_eval_path().exists():
        metrics["accuracy_bitext_eval"] = evaluate(
            model, read_labelled_csv(bitext_eval_path()), with_predictions=False
        )["accuracy"]
    version = model_version_register(
        name=INTENT_MODEL_NAME,
        artifact=model,
        metrics=metrics,
        primary_metric="accuracy",
        params=params or {},
        data_ref={
            "sources": report.get("sources", {}),
            "n_train": report.get("n_train"),
            "promotion_data": list(PROMOTION_FILES),
            "n_promotion": len(rows),
        },
    )
    active = model_version_get_active(name=INTENT_MODEL_NAME)
    active_score = None
    if active is not None:
        active_score = evaluate(model_load(active), rows, with_predictions=False)["accuracy"]
    promoted = model_version_promote(version=version, active_score_on_same_data=active_score)
    logger.info("support.intents_retrained", extra={"version": version.version, "promoted": promoted})
    return {
        "version": version.version,
        "promoted": promoted,
        "accuracy": metrics["accuracy"],
        "active_accuracy_same_data": active_score,
    }


def product_index_build(*, encoder: str = DEFAULT_ENCODER) -> dict[str, Any]:
    """Embed the sellable catalog's titles for product search from chat and store them where
    serving looks (`engine.product_index_path`). Safe to run twice: the file is named after the
    catalog version and written with an atomic rename; an existing file is kept."""
    version = catalog_version()
    path = product_index_path(version, encoder)
    if path.exists():
        return {"built": False, "reason": "exists", "file": path.name}
    rows = list(Product.objects.sellable().order_by("id").values_list("id", "title", "price"))
    start = time.perf_counter()
    vectors = embed_titles([title for _, title, _ in rows], encoder=encoder)
    if vectors is None:
        return {"built": False, "reason": "encoder_unavailable" if rows else "empty_catalog"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        np.savez(
            handle,
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            prices=np.array([float(r[2]) for r in rows], dtype=float),
            vectors=vectors,
        )
    os.replace(handle.name, path)
    for old in path.parent.glob("*.npz"):  # earlier catalog versions: never served again
        if old != path:
            old.unlink(missing_ok=True)
    seconds = round(time.perf_counter() - start, 1)
    logger.info("support.product_index_built", extra={"products": len(rows), "seconds": seconds})
    return {"built": True, "products": len(rows), "seconds": seconds, "file": path.name}
