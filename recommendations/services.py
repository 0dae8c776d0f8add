"""Writes of the recommendations app: train -> evaluate -> register/promote -> precompute.

The pipeline reads purchases (and weighted browsing events) through selectors, fits plain
NumPy models from `recommendations.algorithms`, records every trained model in the registry
(ecommerce.ml) with its offline metrics, promotes only when the new model beats the active
one on the same split, and writes the precomputed rows the request path serves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ecommerce import ml
from ecommerce.bulk import bulk_insert
from ecommerce.models import Event, ModelVersion, Product, User
from ecommerce.privacy import Tracking
from ecommerce.services.events import event_record, events_ingest

from .algorithms import (
    ALGORITHMS,
    BasketCoPurchase,
    ContentTfidf,
    FitContext,
    ItemKNN,
    Recommender,
    interaction_matrix,
)
from .algorithms.base import DEFAULT_EVENT_WEIGHTS
from .conf import ACTIVE_MODEL_NAME
from .evaluation import Split, build_matrices, evaluate_recommender, temporal_split
from .models import BusinessRules, PrecomputeChunk, PrecomputeRun, SimilarProduct, UserRecommendation
from .selectors import product_side_information, purchase_history_frame, recommendations_generation_bump

logger = logging.getLogger(__name__)

EVAL_QUANTILE = 0.8
EVAL_K = 10
PRIMARY_METRIC = f"ndcg@{EVAL_K}"
# The serving algorithm (a key of ALGORITHMS), registered as ACTIVE_MODEL_NAME, and cheap
# comparison models registered under recommendations.<algorithm> so the admin shows the gap.
SERVING_ALGORITHM = "hybrid"
COMPARISON_ALGORITHMS = ("most_popular", "item_knn_bm25")
# Fewer evaluated users than this and the offline metric is noise: serve the fallback.
MIN_EVAL_USERS = 5
# Browsing events count as a fraction of a purchase in the serving matrix (view < cart < purchase).
EVENT_TYPES_FOR_TRAINING = ("product_view", "add_to_cart", "checkout_start", "purchase")


@dataclass
class TrainedRecommender:
    """The registry artifact: the fitted model with the id maps needed to use it."""

    algorithm: str
    model: Recommender
    user_ids: list[str]
    item_ids: list[str]
    history: sp.csr_matrix  # the model's input per user (purchases, plus weaker browsing signal)
    purchased: sp.csr_matrix | None = None  # bought before: excluded from "recommended for you"
    trained_at: str = ""
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Data


def browsing_interactions(users: list[str], items: list[str], now: pd.Timestamp | None) -> sp.csr_matrix:
    """Logged-in shoppers' views/carts/purchases as weights in [0, 1] (purchase = 1), decayed."""
    rows = list(
        # date_erased: the exclusion list of erased shoppers (read by training and serving).
        Event.objects.filter(
            user__isnull=False, user__date_erased__isnull=True, product__isnull=False, type__in=EVENT_TYPES_FOR_TRAINING
        )
        .values_list("user_id", "product_id", "type", "occurred_at")
        .iterator(chunk_size=20000)
    )
    shape = (len(users), len(items))
    if not rows:
        return sp.csr_matrix(shape, dtype=np.float32)
    frame = pd.DataFrame(rows, columns=["user", "item", "type", "ts"])
    u = pd.Index(users).get_indexer(frame["user"].astype(str))
    i = pd.Index(items).get_indexer(frame["item"].astype(str))
    ok = (u >= 0) & (i >= 0)
    if not ok.any():
        return sp.csr_matrix(shape, dtype=np.float32)
    ts = pd.to_datetime(frame.loc[ok, "ts"], utc=True)
    seconds = ((ts - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()
    reference = now.timestamp() if now is not None else float(seconds.max())
    matrix = interaction_matrix(
        u[ok], i[ok], frame.loc[ok, "type"].to_numpy(), seconds, shape=shape, half_life_days=60.0, now=reference
    )
    matrix.data = np.minimum(matrix.data / DEFAULT_EVENT_WEIGHTS["purchase"], 1.0)
    return matrix


def _fit_full(
    purchases: pd.DataFrame, text: dict[str, str], categories: dict[str, int]
) -> tuple[list[str], list[str], sp.csr_matrix, sp.csr_matrix, FitContext]:
    """(users, items, model input, purchased, context) over the whole history."""
    users = sorted(purchases["user"].unique().tolist())
    items = sorted(purchases["item"].unique().tolist())
    purchased, context = build_matrices(purchases, users, items, item_text=text, item_category=categories)
    context.num_threads = settings.RECOMMENDATIONS_THREADS
    matrix = purchased
    browsing = browsing_interactions(users, items, purchases["ts"].max())
    if browsing.nnz:
        matrix = purchased.maximum(browsing).tocsr().astype(np.float32)
    return users, items, matrix, purchased, context


# ---------------------------------------------------------------------------------------------
# Training, evaluation, promotion


def _register(
    name: str,
    artifact: Any,
    metrics: dict[str, float],
    params: dict[str, Any],
    data_ref: dict[str, Any],
    notes: str = "",
) -> ModelVersion:
    return ml.model_version_register(
        name=name,
        artifact=artifact,
        metrics=metrics,
        primary_metric=PRIMARY_METRIC,
        params=params,
        data_ref=data_ref,
        notes=notes,
    )


def _promotion_args(version: ModelVersion, split: Split, algorithm: str) -> dict[str, Any]:
    """Keyword arguments for ml.model_version_promote / model_version_would_promote.

    Promote if strictly better than the active version's configuration on the same split. The
    active version's algorithm is re-fitted on the same training window and scored on the same
    truth, so both numbers come from identical data. The same configuration retrained on newer
    data scores identically there; it is promoted too (it is the same model, fresher), which the
    version's notes say.
    """
    active = ml.model_version_get_active(name=version.name)
    if active is None:
        return {}
    active_algorithm = active.params.get("algorithm", "")
    if active_algorithm == algorithm and active.params.get("config") == version.params.get("config"):
        ModelVersion.objects.filter(pk=version.pk).update(
            notes=(version.notes + "\nSame configuration as the active version, retrained on newer data.").strip()
        )
        return {"force": True}
    if active_algorithm not in ALGORITHMS:
        return {"active_score_on_same_data": active.primary_score}
    active_score = evaluate_recommender(ALGORITHMS[active_algorithm](), split, EVAL_K)[PRIMARY_METRIC]
    return {"active_score_on_same_data": active_score}


RETRAIN_LOCK = "recommendations.retrain"


def recommenders_train(
    *,
    serving_algorithm: str = SERVING_ALGORITHM,
    comparison_algorithms: tuple[str, ...] = COMPARISON_ALGORITHMS,
    fan_out: bool = False,
) -> dict[str, Any]:
    """Train, evaluate, register, precompute and promote as one unit; one run at a time.

    Overlapping runs (the nightly beat and the admin's "Retrain now") are serialized by a
    training lock: the second one returns {"status": "already_running"} and changes nothing.
    With `fan_out` (the Celery task) the per-customer precompute goes out as a chord of chunks
    and promotion happens when the last chunk is done (summary["precompute"]["result_id"]).
    """
    try:
        with ml.model_training_lock(RETRAIN_LOCK):
            return _recommenders_train(
                serving_algorithm=serving_algorithm, comparison_algorithms=comparison_algorithms, fan_out=fan_out
            )
    except ml.TrainingAlreadyRunning:
        logger.info("recommendations.retrain_already_running")
        return {"status": "already_running"}


def _recommenders_train(
    *,
    serving_algorithm: str = SERVING_ALGORITHM,
    comparison_algorithms: tuple[str, ...] = COMPARISON_ALGORITHMS,
    fan_out: bool = False,
) -> dict[str, Any]:
    """Train, evaluate on the temporal split, register and (maybe) promote; then precompute.

    On an empty or tiny purchase log nothing is registered or promoted: widgets keep serving
    the fallback (session -> category popularity -> trending), content-based similar items are
    still precomputed, and the summary says so.
    """
    if serving_algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {serving_algorithm!r}")
    started = time.perf_counter()
    summary: dict[str, Any] = {"status": "ok", "versions": {}, "promoted": {}, "timings": {}}

    def lap(stage: str) -> None:
        summary["timings"][stage] = round(time.perf_counter() - started, 2)
        logger.info("recommendations.train_stage", extra={"stage": stage, "seconds": summary["timings"][stage]})

    purchases = purchase_history_frame()
    logger.info("recommendations.train_start", extra={"purchase_lines": int(len(purchases))})
    all_products = list(Product.objects.sellable().values_list("pk", flat=True))
    text_all, cats_all = product_side_information([str(p) for p in all_products])

    split = None
    if not purchases.empty and purchases["user"].nunique() >= 2:
        try:
            split = temporal_split(purchases, EVAL_QUANTILE, item_text=text_all, item_category=cats_all)
            split.context.num_threads = settings.RECOMMENDATIONS_THREADS
        except ValueError:
            split = None
    if split is None or len(split.eval_rows) < MIN_EVAL_USERS:
        summary["status"] = "fallback"
        summary["reason"] = (
            f"too little purchase history to train and evaluate ({len(purchases)} purchase lines, "
            f"{0 if split is None else len(split.eval_rows)} evaluable customers; need {MIN_EVAL_USERS}): "
            "serving the popularity/session fallback"
        )
        summary["similar_rows"] = similar_items_precompute(
            version=None, purchases=purchases, text=text_all, categories=cats_all
        )
        recommendations_generation_bump()
        summary["seconds"] = round(time.perf_counter() - started, 2)
        logger.info("recommendations.train_fallback", extra={"purchase_lines": int(len(purchases))})
        return summary

    lap("data_loaded")
    data_ref = {
        "cutoff_quantile": EVAL_QUANTILE,
        "cutoff": str(split.cutoff),
        "users_evaluated": int(len(split.eval_rows)),
        "train_users": len(split.users),
        "train_items": len(split.items),
        "purchase_lines": int(len(purchases)),
    }
    users, items, matrix, purchased, context = _fit_full(purchases, text_all, cats_all)
    active_users = active_customer_ids(purchases)
    summary["active_customers"] = len(active_users)
    jobs = [(ACTIVE_MODEL_NAME, serving_algorithm)] + [
        (f"recommendations.{a}", a) for a in comparison_algorithms if a != serving_algorithm
    ]
    rules = BusinessRules.objects.filter(is_active=True).select_related("challenger_version").first()
    target: ModelVersion | None = None
    for name, algorithm in jobs:
        metrics = evaluate_recommender(ALGORITHMS[algorithm](), split, EVAL_K)
        lap(f"{algorithm}.evaluated")
        logger.info(
            "recommendations.evaluated", extra={"algorithm": algorithm, PRIMARY_METRIC: metrics[PRIMARY_METRIC]}
        )
        model = ALGORITHMS[algorithm]().fit(matrix, context)
        artifact = TrainedRecommender(
            algorithm=algorithm,
            model=model,
            user_ids=users,
            item_ids=items,
            history=matrix,
            purchased=purchased,
            trained_at=timezone.now().isoformat(),
        )
        params = {"algorithm": algorithm, "config": _config_of(model)}
        lap(f"{algorithm}.fitted")
        version = _register(name, artifact, {k: round(float(v), 6) for k, v in metrics.items()}, params, data_ref)
        lap(f"{algorithm}.registered")
        promote_args = _promotion_args(version, split, algorithm)
        summary["versions"][name] = version.version
        summary[f"{name}.{PRIMARY_METRIC}"] = metrics[PRIMARY_METRIC]
        if name != ACTIVE_MODEL_NAME:
            summary["promoted"][name] = ml.model_version_promote(version=version, **promote_args)
            continue
        # The serving model: rows first, promotion second. A run of chunks writes the rows of
        # the candidate (or, if it will not be promoted, refreshes the active version's rows),
        # and only its finishing step, after every chunk, promotes: a run killed in between
        # leaves the previous version serving with its rows.
        will_promote = ml.model_version_would_promote(version=version, **promote_args)
        if not will_promote:
            summary["promoted"][name] = ml.model_version_promote(version=version, **promote_args)  # records why not
        target = version if will_promote else ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
        if target is None:
            continue
        run = precompute_run_create(
            target=target,
            user_pks=[int(u) for u in active_users],
            promote=will_promote,
            promote_args=_json_safe(promote_args),
            challenger=rules.challenger_version if rules else None,
        )
        outcome = precompute_run_execute(run=run, fan_out=fan_out)
        summary["precompute"] = outcome
        if will_promote:
            summary["promoted"][name] = outcome.get("promoted")  # None while a fanned-out run is going
        summary["user_rows"] = outcome.get("user_rows")
        lap("user_rows_precomputed")
    # 'Similar' neighbours come from the version this run serves (the candidate being promoted).
    summary["similar_rows"] = similar_items_precompute(
        version=target, purchases=purchases, text=text_all, categories=cats_all
    )
    lap("similar_rows_precomputed")
    recommendations_generation_bump()
    summary["seconds"] = round(time.perf_counter() - started, 2)
    logger.info("recommendations.train_done", extra={"seconds": summary["seconds"]})
    return summary


def _json_safe(args: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in args.items()}


def _config_of(model: Recommender) -> dict[str, Any]:
    """JSON-able hyper-parameters of a fitted model, to compare configurations across versions."""

    def plain(value: Any) -> Any:
        return value if isinstance(value, int | float | str | bool | type(None)) else repr(type(value).__name__)

    config = {
        k: plain(v)
        for k, v in vars(model).items()
        if isinstance(v, int | float | str | bool | type(None)) and k not in {"n_users", "n_items"}
    }
    for name, sub in getattr(model, "models", {}).items():
        config[name] = {
            k: plain(v)
            for k, v in vars(sub).items()
            if isinstance(v, int | float | str | bool | type(None)) and k not in {"n_users", "n_items"}
        }
        config[name]["weight"] = model.weights.get(name)
    return config


def artifact_for(version: ModelVersion) -> TrainedRecommender:
    return ml.model_load(version)


# ---------------------------------------------------------------------------------------------
# Precompute


def _reasons_for(trained: TrainedRecommender, row: int, item_cols: np.ndarray, titles: dict[str, str]) -> list[str]:
    """'Because you bought X': the history item contributing most to each recommended item."""
    history = trained.history.getrow(row)
    model = trained.model
    weights = None
    for candidate in [model, *getattr(model, "models", {}).values()]:
        weights = getattr(candidate, "weights", None) if hasattr(candidate, "score_history") else None
        if isinstance(weights, np.ndarray):
            break
        sim = getattr(candidate, "similarity", None)
        if sim is not None:
            weights = sim
            break
    if weights is None or history.nnz == 0:
        return ["Popular with customers like you"] * len(item_cols)
    owned = history.indices
    if sp.issparse(weights):
        block = weights[owned][:, item_cols].toarray()
    else:
        block = np.asarray(weights[np.ix_(owned, item_cols)])  # a small copy, not a row slab
    contribution = block * history.data[:, None]
    best = contribution.argmax(axis=0)
    bought = set(trained.purchased.getrow(row).indices.tolist()) if trained.purchased is not None else set(owned)
    reasons = []
    for col, b in zip(range(len(item_cols)), best, strict=True):
        if contribution[b, col] <= 0:
            reasons.append("Trending now")
        else:
            title = titles.get(trained.item_ids[owned[b]], "")
            verb = "bought" if owned[b] in bought else "viewed"
            reasons.append(f"Because you {verb} {title}"[:255] if title else "Picked for you")
    return reasons


def active_customer_ids(purchases: pd.DataFrame, days: int | None = None) -> set[str]:
    """Customers who bought within `days` of the newest purchase (measured on the data's own clock,
    so an imported history counts as recent). Only they get precomputed rows; others fall back."""
    if purchases.empty:
        return set()
    days = settings.RECOMMENDATIONS_ACTIVE_USER_DAYS if days is None else days
    newest = purchases["ts"].max()
    recent = purchases[purchases["ts"] >= newest - pd.Timedelta(days=days)]
    return set(recent["user"].unique().tolist())


def _row_index(trained: TrainedRecommender) -> dict[int, int]:
    """customer pk -> matrix row of `trained`, built once per loaded artifact."""
    index = getattr(trained, "_row_index", None)
    if index is None:
        index = {int(u): r for r, u in enumerate(trained.user_ids)}
        trained._row_index = index
    return index


def _recommendation_rows(
    *, version: ModelVersion, trained: TrainedRecommender, user_pks: list[int], top_n: int, batch_size: int = 1024
) -> list[tuple]:
    """(user, product, rank, score, reason, version, created_at) tuples for the customers
    `user_pks` who are in `trained` and not erased."""
    item_pks = np.array([int(i) for i in trained.item_ids])
    sellable = set(Product.objects.sellable().filter(pk__in=item_pks.tolist()).values_list("pk", flat=True))
    not_sellable = np.array([pk not in sellable for pk in item_pks])
    titles = {str(pk): t for pk, t in Product.objects.filter(pk__in=item_pks.tolist()).values_list("pk", "title")}
    index = _row_index(trained)
    wanted = [u for u in user_pks if u in index]
    # An artifact trained before an erasure still has that shopper's row: never serve it.
    known = set(User.objects.filter(pk__in=wanted, date_erased__isnull=True).values_list("pk", flat=True))
    rows_to_score = np.array(sorted(index[u] for u in wanted if u in known), dtype=np.int64)
    owned = trained.purchased if trained.purchased is not None else trained.history
    objects: list[tuple] = []
    now = timezone.now()
    for start in range(0, len(rows_to_score), batch_size):
        chunk = rows_to_score[start : start + batch_size]
        exclude = owned[chunk].copy()
        exclude.data[:] = 1.0
        if not_sellable.any():
            mask = sp.csr_matrix(np.tile(not_sellable, (len(chunk), 1)).astype(np.float32))
            exclude = exclude.maximum(mask).tocsr()
        ids, scores = trained.model.recommend(chunk, k=top_n, exclude=exclude)
        for row, item_cols, item_scores in zip(chunk, ids, scores, strict=True):
            valid = item_cols >= 0
            cols = item_cols[valid]
            reasons = _reasons_for(trained, int(row), cols, titles)
            user_pk = int(trained.user_ids[row])
            for rank, (col, score, reason) in enumerate(zip(cols, item_scores[valid], reasons, strict=True)):
                objects.append((user_pk, int(item_pks[col]), rank, float(score), reason, version.pk, now))
    return objects


_ROW_COLUMNS = ["user_id", "product_id", "rank", "score", "reason", "model_version_id", "created_at"]


def user_recommendations_precompute(
    *,
    version: ModelVersion,
    trained: TrainedRecommender,
    top_n: int | None = None,
    batch_size: int = 1024,
    only_user_ids: set[str] | None = None,
) -> int:
    """Replace `version`'s UserRecommendation rows with fresh top-N lists in one transaction
    (idempotent). The retrain pipeline uses the chunked run below instead."""
    top_n = settings.RECOMMENDATIONS_PRECOMPUTE_TOP_N if top_n is None else top_n
    users = [int(u) for u in trained.user_ids if only_user_ids is None or u in only_user_ids]
    objects = _recommendation_rows(version=version, trained=trained, user_pks=users, top_n=top_n, batch_size=batch_size)
    with transaction.atomic():
        UserRecommendation.objects.filter(model_version=version).delete()
        bulk_insert(UserRecommendation, _ROW_COLUMNS, objects)
    return len(objects)


# Chunked precompute: a run is split into chunks of customers that any worker computes (a Celery
# group), and a chord callback finishes it: promotion, stale-row cleanup, cache generation bump.


def precompute_run_create(
    *,
    target: ModelVersion,
    user_pks: list[int],
    promote: bool,
    promote_args: dict[str, Any] | None = None,
    challenger: ModelVersion | None = None,
    chunk_size: int | None = None,
) -> PrecomputeRun:
    """Record a run and its chunks; an older run still running is superseded (does nothing more)."""
    chunk_size = chunk_size or settings.RECOMMENDATIONS_PRECOMPUTE_CHUNK_USERS
    users = sorted(set(user_pks))
    with transaction.atomic():
        PrecomputeRun.objects.filter(status=PrecomputeRun.Status.RUNNING).update(
            status=PrecomputeRun.Status.SUPERSEDED, finished_at=timezone.now()
        )
        run = PrecomputeRun.objects.create(
            target=target,
            challenger=challenger if challenger is not None and challenger.pk != target.pk else None,
            promote=promote,
            promote_args=promote_args or {},
            chunk_count=max(1, -(-len(users) // chunk_size)),
        )
        PrecomputeChunk.objects.bulk_create(
            [
                PrecomputeChunk(run=run, index=i, user_ids=users[i * chunk_size : (i + 1) * chunk_size])
                for i in range(run.chunk_count)
            ]
        )
    return run


def precompute_chunk_compute(*, run_id: int, index: int) -> int:
    """Write the rows of one chunk's customers for the run's target (and challenger) version.

    Idempotent: the chunk's customers' rows of those versions are replaced in the transaction
    that marks the chunk done, so a redelivered chunk rewrites the same rows. A chunk of a run
    that is no longer running does nothing.
    """
    chunk = PrecomputeChunk.objects.select_related("run__target", "run__challenger").get(run_id=run_id, index=index)
    run = chunk.run
    if run.status != PrecomputeRun.Status.RUNNING:
        logger.info("recommendations.precompute_chunk_skipped", extra={"run_id": run_id, "status": run.status})
        return 0
    top_n = settings.RECOMMENDATIONS_PRECOMPUTE_TOP_N
    versions = [v for v in (run.target, run.challenger) if v is not None]
    objects: list[tuple] = []
    for version in versions:
        objects += _recommendation_rows(
            version=version, trained=artifact_for(version), user_pks=chunk.user_ids, top_n=top_n
        )
    with transaction.atomic():
        UserRecommendation.objects.filter(model_version__in=versions, user_id__in=chunk.user_ids).delete()
        bulk_insert(UserRecommendation, _ROW_COLUMNS, objects)
        PrecomputeChunk.objects.filter(pk=chunk.pk).update(rows=len(objects), done_at=timezone.now())
    logger.info("recommendations.precompute_chunk_done", extra={"run_id": run_id, "chunk": index, "rows": len(objects)})
    return len(objects)


def precompute_run_finish(*, run_id: int) -> dict[str, Any]:
    """After every chunk: drop rows of customers no longer in the run, promote the candidate
    (once), keep only the active and challenger versions' rows, and switch cached widgets.

    A run with an unfinished chunk is marked failed and promotes nothing.
    """
    with transaction.atomic():
        run = PrecomputeRun.objects.select_for_update().select_related("target").get(pk=run_id)
        if run.status != PrecomputeRun.Status.RUNNING:
            return {"status": run.status, **run.result}
        chunks = list(run.chunks.values_list("done_at", "rows", "user_ids"))
        missing = sum(1 for done_at, _, _ in chunks if done_at is None)
        if missing or len(chunks) != run.chunk_count:
            run.status = PrecomputeRun.Status.FAILED
            run.result = {"missing_chunks": missing or run.chunk_count - len(chunks)}
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "result", "finished_at"])
            logger.warning("recommendations.precompute_run_incomplete", extra={"run_id": run_id})
            return {"status": run.status, **run.result}
        in_run = {u for _, _, users in chunks for u in users}
        versions = [run.target_id] + ([run.challenger_id] if run.challenger_id else [])
        for version_id in versions:
            # Customers no longer active: their rows were not rewritten by any chunk.
            had_rows = set(
                UserRecommendation.objects.filter(model_version_id=version_id)
                .order_by()
                .values_list("user_id", flat=True)
                .distinct()
            )
            gone = sorted(had_rows - in_run)
            for start in range(0, len(gone), 500):
                UserRecommendation.objects.filter(
                    model_version_id=version_id, user_id__in=gone[start : start + 500]
                ).delete()
        promoted = ml.model_version_promote(version=run.target, **run.promote_args) if run.promote else False
        active = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
        _delete_stale_rows(keep=[v for v in (active.pk if active else None, run.challenger_id) if v is not None])
        run.status = PrecomputeRun.Status.DONE
        run.result = {"promoted": promoted, "user_rows": sum(rows for _, rows, _ in chunks), "chunks": len(chunks)}
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "result", "finished_at"])
    recommendations_generation_bump()  # cached widgets switch to the new rows now
    logger.info("recommendations.precompute_run_done", extra={"run_id": run_id, **run.result})
    return {"status": run.status, **run.result}


def precompute_run_execute(*, run: PrecomputeRun, fan_out: bool) -> dict[str, Any]:
    """Compute a run: a Celery chord of its chunks (any worker takes any chunk) with the finish
    as callback, or every chunk in this process then the finish (`fan_out=False`, the demo and
    direct callers). In eager Celery the chord runs in this process too."""
    if not fan_out:
        for index in range(run.chunk_count):
            precompute_chunk_compute(run_id=run.pk, index=index)
        return precompute_run_finish(run_id=run.pk)
    from celery import chord

    from .tasks import precompute_chunk_task, precompute_finish_task

    header = [precompute_chunk_task.si(run.pk, index) for index in range(run.chunk_count)]
    result = chord(header)(precompute_finish_task.si(run.pk))
    return {"status": "dispatched", "run": run.pk, "chunks": run.chunk_count, "result_id": result.id}


def _delete_stale_rows(*, keep: list[int]) -> None:
    UserRecommendation.objects.exclude(model_version_id__in=keep).delete()


def similar_items_precompute(
    *,
    version: ModelVersion | None,
    purchases: pd.DataFrame,
    text: dict[str, str],
    categories: dict[str, int],
    top_n: int | None = None,
) -> int:
    """Replace every SimilarProduct row: 'similar' = CF neighbours blended with text similarity
    (so cold products have neighbours too), 'bought_together' = same-basket co-purchase."""
    top_n = settings.RECOMMENDATIONS_SIMILAR_TOP_N if top_n is None else top_n
    items = sorted(text.keys(), key=int)
    if not items:
        with transaction.atomic():
            SimilarProduct.objects.all().delete()
        return 0
    item_pos = pd.Index(items)
    context = FitContext(item_text=[text[i] for i in items])
    empty = sp.csr_matrix((1, len(items)), dtype=np.float32)
    content = ContentTfidf(neighbours=top_n * 2).fit(empty, context).similarity
    similar = content * 0.3
    together = None
    if not purchases.empty:
        known = purchases[purchases["item"].isin(item_pos)]
        users = sorted(known["user"].unique().tolist())
        if users:
            binary, ctx = build_matrices(known, users, items)
            cf = ItemKNN(similarity="bm25", neighbours=top_n * 2, shrinkage=10.0).fit(binary).similarity
            similar = (cf + content * 0.3).tocsr()
            together = BasketCoPurchase(neighbours=top_n, shrinkage=5.0).fit(binary, ctx).similarity
    item_pks = [int(i) for i in items]
    version_pk = version.pk if version is not None else None
    objects: list[tuple] = []
    for kind, matrix in ((SimilarProduct.Kind.SIMILAR, similar), (SimilarProduct.Kind.BOUGHT_TOGETHER, together)):
        if matrix is None:
            continue
        matrix = sp.csr_matrix(matrix)
        for row in range(matrix.shape[0]):
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            if start == end:
                continue
            cols = matrix.indices[start:end]
            vals = matrix.data[start:end]
            order = np.argsort(-vals, kind="stable")[:top_n]
            for rank, pos in enumerate(order):
                if vals[pos] <= 0:
                    continue
                objects.append((item_pks[row], item_pks[cols[pos]], str(kind), rank, float(vals[pos]), version_pk))
    with transaction.atomic():
        SimilarProduct.objects.all().delete()
        bulk_insert(SimilarProduct, ["product_id", "similar_id", "kind", "rank", "score", "model_version_id"], objects)
    logger.info("recommendations.similar_precomputed", extra={"rows": len(objects)})
    return len(objects)


# ---------------------------------------------------------------------------------------------
# Online feedback


def recommendation_impressions_record(*, tracking: Tracking, slot: str, items: list[tuple[int, int | None]]) -> int:
    """One recommendation_impression event per rendered item (slot, position, model version),
    written as one batch through the core event service; nothing without consent."""
    import uuid

    if not tracking.allowed:
        return 0
    now = timezone.now().isoformat()
    raw = [
        {
            "id": str(uuid.uuid4()),
            "type": Event.Type.RECOMMENDATION_IMPRESSION,
            "occurred_at": now,
            "product_id": product_id,
            "properties": {"slot": slot, "model_version": model_version, "position": position},
        }
        for position, (product_id, model_version) in enumerate(items)
    ]
    if not raw:
        return 0
    return events_ingest(raw_events=raw, user=tracking.user, session_key=tracking.session_key).accepted


def recommendation_click_record(
    *, tracking: Tracking, slot: str, product_id: int, model_version: int | None, position: int | None = None
) -> None:
    event_record(
        type=Event.Type.RECOMMENDATION_CLICK,
        tracking=tracking,
        product_id=product_id,
        properties={"slot": slot, "model_version": model_version, "position": position},
    )
