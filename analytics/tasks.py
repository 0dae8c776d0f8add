"""Celery tasks of the analytics app: thin wrappers around services (house style)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(
    name="analytics.refresh_rollups", acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=900
)
def refresh_rollups_task(start: str | None = None, end: str | None = None) -> dict[str, Any]:
    """Beat runs it every 10 minutes with no arguments (days touched since the last run);
    with ISO dates it recomputes that range. Idempotent: a day is deleted and re-inserted."""
    from .rollups import rollups_refresh_days, rollups_refresh_pending

    if start and end:
        result: dict[str, Any] = rollups_refresh_days(start=date.fromisoformat(start), end=date.fromisoformat(end))
    else:
        result = rollups_refresh_pending()
    return result


@shared_task(name="analytics.cluster_segments", soft_time_limit=600, time_limit=900)
def cluster_segments_task() -> dict[str, Any]:
    """Recompute RFM and behaviour-cluster segments (replaces their members atomically)."""
    from .segmentation import segments_refresh

    return segments_refresh()
