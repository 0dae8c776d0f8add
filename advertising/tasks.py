"""Celery tasks: thin wrappers over advertising services (ids and primitives in, small dict out)."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(
    name="advertising.retrain_ctr",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=20 * 60,
    time_limit=25 * 60,
)
def retrain_ctr_task(c_grid: list[float] | None = None) -> dict[str, Any]:
    """Retrain the click model from the impression/click logs; promote only if better.

    `c_grid` overrides the regularization values tried (small JSON list; default in training.py).
    """
    from .training import C_GRID, ctr_model_train

    return ctr_model_train(c_grid=tuple(c_grid) if c_grid else C_GRID)


@shared_task(name="advertising.flush_impressions", soft_time_limit=60, time_limit=90)
def flush_impressions_task() -> dict[str, Any]:
    """Beat, every ADS_FLUSH_SECONDS: buffered impressions -> one bulk INSERT, then CPM charges
    settled into campaign spend. Safe to run twice or concurrently (uids are unique; settlement
    locks the rows it settles and skips rows another run holds)."""
    from .buffer import BufferUnavailable, adopt_spool_orphans
    from .services import impressions_flush

    try:
        adopted = adopt_spool_orphans()  # records of a web worker that died on this machine
    except BufferUnavailable:
        adopted = 0
    return {**impressions_flush(), "adopted": adopted}


@shared_task(name="advertising.refresh_report_rollups", acks_late=True, reject_on_worker_lost=True)
def refresh_report_rollups_task(days: int = 2) -> dict[str, Any]:
    """Recompute the last `days` daily report rows (idempotent: recomputed, not incremented)."""
    from .services import report_rollups_refresh

    return report_rollups_refresh(days=days)


@shared_task(name="advertising.refresh_audience_scores", acks_late=True, reject_on_worker_lost=True)
def refresh_audience_scores_task(campaign_id: int) -> dict[str, Any]:
    from .training import audience_scores_refresh

    return audience_scores_refresh(campaign_id=campaign_id)


@shared_task(name="advertising.refresh_all_audience_scores", acks_late=True)
def refresh_all_audience_scores_task() -> dict[str, Any]:
    """Nightly: one refresh_audience_scores task per live lookalike campaign (fan-out, so more
    workers finish sooner and one failing campaign does not stop the others)."""
    from .selectors import lookalike_campaign_ids

    campaign_ids = lookalike_campaign_ids()
    for campaign_id in campaign_ids:
        refresh_audience_scores_task.delay(campaign_id)
    return {"campaigns": len(campaign_ids)}
