"""Core Celery tasks. Thin: fetch by id, call one service, return a small dict."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(
    name="ecommerce.erase_user",
    acks_late=True,
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def erase_user_task(user_id: int) -> dict:
    """Erase a shopper's personal data in every app. Safe to run twice: an erased user is skipped."""
    from .models import User
    from .privacy import user_erase

    user = User.objects.filter(pk=user_id).first()
    if user is None or user.date_erased is not None:
        logger.info("privacy.erase_skipped", extra={"user_id": user_id})
        return {"erased": False}
    counts = user_erase(user=user)
    return {"erased": True, "counts": {k: v for k, v in counts.items() if isinstance(v, int)}}


@shared_task(name="ecommerce.drain_outbox")
def drain_outbox_task() -> dict:
    """Publish tasks that waited in the outbox while the broker was down (ecommerce/outbox.py)."""
    from .outbox import outbox_drain

    return outbox_drain()


@shared_task(name="ecommerce.ensure_event_partitions", soft_time_limit=600, time_limit=900)
def ensure_event_partitions_task() -> dict:
    """Daily: the event log's partitions for the periods ahead, rows that fell into the default
    partition moved into partitions of their own, then the days of months that are over merged
    into one partition per month (ecommerce/partitions.py). Idempotent."""
    from .partitions import event_partitions_compact, event_partitions_ensure

    result = event_partitions_ensure()
    result["compacted"] = event_partitions_compact()
    return result
