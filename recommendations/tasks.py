"""Celery tasks of the recommendations app: thin wrappers around services.

`recommendations.retrain_models` is named in CELERY_BEAT_SCHEDULE (nightly) and routed to the
`ml` queue. It is safe to run twice: versions get fresh numbers, a new version's rows are
precomputed before it is promoted, and overlapping runs are serialized by a training lock (the
second returns {"status": "already_running"}).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from .services import recommenders_train

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
    summary = recommenders_train()
    logger.info("recommendations.retrain_task_done", extra={"status": summary.get("status")})
    return summary
