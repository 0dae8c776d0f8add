"""Training glue between the logs (Django) and the Django-free models in advertising/ctr/.

`ctr_model_train` retrains the click model from Impression/Click rows and promotes it only if it
beats the serving model on the same later, held-out impressions. `audience_scores_refresh`
recomputes one campaign's lookalike scores.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ecommerce.ml import (
    TrainingAlreadyRunning,
    model_load_active,
    model_training_lock,
    model_version_promote,
    model_version_register,
)
from ecommerce.models import Event, OrderItem, User, age_band_for

from . import conf
from .ctr.audience import audience_scores
from .ctr.features import CROSSES, FEATURES, feature_row
from .ctr.model import CTRModel, metrics_for, time_split
from .models import AudienceScore, Campaign, Click, Impression

logger = logging.getLogger(__name__)

MAX_TRAINING_IMPRESSIONS = 500_000
MIN_TRAINING_IMPRESSIONS = 200
HELD_OUT_FRACTION = 0.2
C_GRID = (0.03, 0.1, 0.3, 1.0)
# Our own logs have a few thousand distinct feature values: 2**16 buckets keep collisions rare
# and the artifact small (the weights are a dense vector).
N_FEATURES = 2**16


def training_rows(limit: int = MAX_TRAINING_IMPRESSIONS) -> tuple[list[dict[str, str]], np.ndarray]:
    """The latest `limit` impressions, oldest first, with 1 where a click followed."""
    clicked = Click.objects.filter(impression_id=OuterRef("pk"))
    recent = (
        Impression.objects.annotate(clicked=Exists(clicked))
        .order_by("-created_at", "-id")
        .values_list("features", "clicked")[:limit]
    )
    pairs = list(recent)[::-1]
    return [feature_row(f or {}) for f, _ in pairs], np.array([int(c) for _, c in pairs], dtype=np.int8)


def ctr_model_fit(rows: list[dict[str, str]], labels: np.ndarray, *, c_grid=C_GRID) -> tuple[CTRModel, dict]:
    """Pick C on the last 20% of the given (training) rows, then fit on all of them."""
    cut = time_split(len(rows), 0.2)
    tuning = []
    if len(set(labels[:cut].tolist())) == 2 and len(set(labels[cut:].tolist())) == 2:
        for c in c_grid:
            model = CTRModel(FEATURES, CROSSES, (), C=c, n_features=N_FEATURES).fit(rows[:cut], labels[:cut])
            tuning.append({"C": c, **metrics_for(labels[cut:], model.predict_proba(rows[cut:]))})
    best_c = min(tuning, key=lambda r: r["logloss"])["C"] if tuning else 1.0
    return CTRModel(FEATURES, CROSSES, (), C=best_c, n_features=N_FEATURES).fit(rows, labels), {
        "C": best_c,
        "tuning": tuning,
    }


def ctr_model_train(*, c_grid: tuple[float, ...] = C_GRID) -> dict[str, Any]:
    """Train on earlier impressions, score on the later 20%, register, promote if better; one run
    at a time (a second one returns {"status": "already_running"})."""
    try:
        with model_training_lock(conf.CTR_MODEL_NAME):
            return _ctr_model_train(c_grid=c_grid)
    except TrainingAlreadyRunning:
        logger.info("advertising.ctr_train_already_running")
        return {"status": "already_running"}


def _ctr_model_train(*, c_grid: tuple[float, ...]) -> dict[str, Any]:
    rows, labels = training_rows()
    if len(rows) < MIN_TRAINING_IMPRESSIONS or labels.sum() < 5:
        logger.info("advertising.ctr_train_skipped", extra={"impressions": len(rows)})
        return {"status": "skipped", "impressions": len(rows), "clicks": int(labels.sum())}
    cut = time_split(len(rows), HELD_OUT_FRACTION)
    train_rows, test_rows, y_train, y_test = rows[:cut], rows[cut:], labels[:cut], labels[cut:]
    if len(set(y_train.tolist())) < 2:
        return {"status": "skipped", "impressions": len(rows), "clicks": int(labels.sum())}
    model, params = ctr_model_fit(train_rows, y_train, c_grid=c_grid)
    metrics = metrics_for(y_test, model.predict_proba(test_rows))
    metrics["fit_seconds"] = round(model.fit_seconds_, 3)
    active = model_load_active(conf.CTR_MODEL_NAME)
    active_score = None
    if active is not None:
        active_score = metrics_for(y_test, active.artifact.predict_proba(test_rows))["logloss"]
    version = model_version_register(
        name=conf.CTR_MODEL_NAME,
        artifact=model,
        metrics=metrics,
        primary_metric="logloss",
        higher_is_better=False,
        params={"C": params["C"], "features": FEATURES, "crosses": [list(c) for c in CROSSES]},
        data_ref={
            "n_train": len(train_rows),
            "n_test": len(test_rows),
            "split": "time 80/20",
            "until": timezone.now().isoformat(),
        },
    )
    promoted = model_version_promote(version=version, active_score_on_same_data=active_score)
    if promoted:
        from .selectors import live_ads_invalidate

        live_ads_invalidate()  # serving processes pick up the new model
    logger.info("advertising.ctr_trained", extra={"version": version.version, "promoted": promoted})
    return {
        "status": "trained",
        "version": version.version,
        "promoted": promoted,
        "auc": metrics["auc"],
        "logloss": metrics["logloss"],
        "calibration": metrics["calibration"],
        "n_train": len(train_rows),
        "n_test": len(test_rows),
    }


def _campaign_targets(campaign: Campaign) -> tuple[set[int], set[int]]:
    product_ids = set(campaign.ads.exclude(product=None).values_list("product_id", flat=True))
    category_ids = set(campaign.ads.exclude(product__category=None).values_list("product__category_id", flat=True))
    category_ids |= set(campaign.interest_categories.values_list("pk", flat=True))
    category_ids |= set(campaign.retarget_categories.values_list("pk", flat=True))
    return product_ids, category_ids


@dataclass(frozen=True)
class AudienceData:
    """What every campaign's audience model reads: shoppers' events, purchases and profiles."""

    events: list[tuple[int, str, int, int | None]]
    bought: list[tuple[int, int, int | None]]
    users: list[tuple[int, int | None, str, str]]


def audience_data_load() -> AudienceData:
    events = (
        Event.objects.filter(
            user__isnull=False,
            product__isnull=False,
            type__in=[Event.Type.PRODUCT_VIEW, Event.Type.ADD_TO_CART, Event.Type.PURCHASE],
        )
        .values_list("user_id", "type", "product_id", "product__category_id")
        .order_by()[:2_000_000]
    )
    bought = (
        OrderItem.objects.filter(order__user__isnull=False)
        .values_list("order__user_id", "product_id", "product__category_id")
        .order_by()[:2_000_000]
    )
    users = User.objects.filter(is_active=True, is_staff=False, date_erased__isnull=True).values_list(
        "pk", "birth_year", "gender", "country"
    )
    return AudienceData(events=list(events), bought=list(bought), users=list(users))


def audience_scores_refresh_many(campaign_ids: list[int]) -> list[dict[str, Any]]:
    """Score several campaigns' audiences reading the logs once (the demo's training job)."""
    data = audience_data_load() if campaign_ids else None
    return [audience_scores_refresh(campaign_id=pk, data=data) for pk in campaign_ids]


def audience_scores_refresh(*, campaign_id: int, data: AudienceData | None = None) -> dict[str, Any]:
    """Score every shopper's likely interest in the campaign; replace its AudienceScore rows."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return {"status": "missing"}
    product_ids, category_ids = _campaign_targets(campaign)
    data = data or audience_data_load()
    tokens: dict[int, list[str]] = defaultdict(list)
    positives: set[int] = set()
    for user_id, event_type, product_id, category_id in data.events:
        if product_id in product_ids or category_id in category_ids:
            positives.add(user_id)
        else:
            tokens[user_id].append(f"{event_type}:cat={category_id}")
    for user_id, product_id, category_id in data.bought:
        if product_id in product_ids or category_id in category_ids:
            positives.add(user_id)
        else:
            tokens[user_id].append(f"bought:cat={category_id}")
    now_year = timezone.now().year
    rows, labels, ids = [], [], []
    for pk, birth_year, gender, country in data.users:
        band = age_band_for(now_year - birth_year) if birth_year else ""
        rows.append(tokens.get(pk, []) + [f"age={band}", f"gender={gender}", f"country={country}"])
        labels.append(1 if pk in positives else 0)
        ids.append(pk)
    scores = audience_scores(rows, labels)
    if scores is None:
        return {"status": "not_enough_data", "positives": len(positives), "users": len(ids)}
    with transaction.atomic():
        AudienceScore.objects.filter(campaign=campaign).delete()
        AudienceScore.objects.bulk_create(
            [AudienceScore(campaign=campaign, user_id=pk, score=float(s)) for pk, s in zip(ids, scores, strict=True)],
            batch_size=2000,
        )
    return {
        "status": "scored",
        "users": len(ids),
        "positives": len(positives),
        "likely_interested": int((scores >= 0.5).sum()),
    }
