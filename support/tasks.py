"""Celery tasks of the support app: thin, they call one service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_process_init


@worker_process_init.connect
def warm_encoder_in_worker(**kwargs: Any) -> None:
    """Load the sentence encoder (~3 s) when a worker process starts, not inside its first task."""
    from .nlu.encoder import load_encoder

    load_encoder()


@shared_task(
    name="support.retrain_intents", acks_late=True, reject_on_worker_lost=True, soft_time_limit=1800, time_limit=2000
)
def retrain_intents_task(max_bitext_per_intent: int | None = None) -> dict[str, Any]:
    """Nightly (beat) retrain with the agents' corrections. Safe to run twice: each run is a new
    registry version, and promotion only happens when it beats the active one on the same data."""
    from .training import intent_model_retrain

    return intent_model_retrain(max_bitext_per_intent=max_bitext_per_intent)


@shared_task(name="support.build_product_index", acks_late=True, soft_time_limit=600, time_limit=700)
def build_product_index_task() -> dict[str, Any]:
    """Embed the catalog titles for product search from chat (requested by serving when the
    catalog changed; also run by the support training job). Safe to run twice."""
    from .training import product_index_build

    return product_index_build()
