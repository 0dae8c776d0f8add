"""Celery tasks of the support app: thin, they call one service."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="support.retrain_intents", acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=1800, time_limit=2000)
def retrain_intents_task(max_bitext_per_intent: int | None = None) -> dict[str, Any]:
    """Nightly (beat) retrain with the agents' corrections. Safe to run twice: each run is a new
    registry version, and promotion only happens when it beats the active one on the same data."""
    from .training import intent_model_retrain

    return intent_model_retrain(max_bitext_per_intent=max_bitext_per_intent)
