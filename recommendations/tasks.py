"""Celery tasks of the recommendations app: thin wrappers around services.

`recommendations.retrain_models` is named in CELERY_BEAT_SCHEDULE (nightly) and routed to the
`ml` queue. It is safe to run twice: versions get fresh numbers, a new version's rows are
precomputed before it is promoted, and overlapping runs are serialized by a training lock (the
second returns {"status": "already_running"}).

The per-customer precompute of a retrain fans out: `recommendations.precompute_chunk` tasks (a
Celery group, one per chunk of RECOMMENDATIONS_PRECOMPUTE_CHUNK_USERS customers, on the `ml`
queue so every ml worker takes some) with `recommendations.precompute_finish` as the chord
callback, which promotes the new version once every chunk is done. A failed chunk means the
callback never runs: the previous version keeps serving, and the next retrain supersedes the run.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from .services import precompute_chunk_compute, precompute_run_finish, recommenders_train

logger = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a run killed mid-way is redelivered and re-run (it is one
# unit, see recommenders_train); DeliveryGuardedTask gives up after max_deliveries deaths.
@shared_task(
    name="recommendations.retrain_models",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=False,
    soft_time_limit=20 * 60,
    time_limit=25 * 60,
)
def retrain_models_task() -> dict[str, Any]:
    """Train -> evaluate -> promote -> precompute top-N per customer and similar items."""
    logger.info("recommendations.retrain_task_start")
    summary = recommenders_train(fan_out=True)
    logger.info("recommendations.retrain_task_done", extra={"status": summary.get("status")})
    return summary


# A chunk is idempotent (its customers' rows are replaced with the chunk marked done in one
# transaction): redelivery after a worker died re-runs it.
@shared_task(
    name="recommendations.precompute_chunk",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=10 * 60,
    time_limit=12 * 60,
)
def precompute_chunk_task(run_id: int, index: int) -> int:
    return precompute_chunk_compute(run_id=run_id, index=index)


@shared_task(name="recommendations.precompute_finish", acks_late=True, reject_on_worker_lost=True)
def precompute_finish_task(run_id: int) -> dict[str, Any]:
    """Chord callback: runs once every chunk succeeded; promotes at most once per run."""
    return precompute_run_finish(run_id=run_id)
