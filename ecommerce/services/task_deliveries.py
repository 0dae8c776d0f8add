"""Redelivery bookkeeping for Celery tasks with late acknowledgement.

With `acks_late` + `reject_on_worker_lost` a message is handed out again when its worker dies
mid-task, and the Redis transport also hands it out again when the broker connection drops while
the task runs ("Restoring N unacknowledged message(s)"). These services turn "at least once"
into "once in effect": one TaskDelivery row per task id counts the starts, a per-task-id lock
tells a live run from a dead one, and `finished_at` stops a late copy from running again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ecommerce.models import TaskDelivery

logger = logging.getLogger(__name__)

# Finished rows are kept this long so a copy redelivered late (visibility timeout, a broker
# restored from disk) still finds them; older ones are pruned as new tasks start.
KEEP_FINISHED = timedelta(days=7)


@dataclass(frozen=True)
class DeliveryDecision:
    run: bool
    reason: str  # "first" / "redelivered" / "finished" / "gave_up"
    deliveries: int


def task_delivery_start(*, task_id: str, task_name: str, max_deliveries: int) -> DeliveryDecision:
    """Count one more start of `task_id`; say whether it should run.

    The caller holds the task id's lock (ecommerce.locks), so no other live process runs it.
    """
    now = timezone.now()
    with transaction.atomic():
        row, created = TaskDelivery.objects.select_for_update().get_or_create(
            task_id=task_id,
            defaults={"task_name": task_name, "deliveries": 1, "first_started_at": now, "last_started_at": now},
        )
        if created:
            decision = DeliveryDecision(run=True, reason="first", deliveries=1)
        elif row.finished_at is not None:
            decision = DeliveryDecision(run=False, reason="finished", deliveries=row.deliveries)
        elif row.deliveries >= max_deliveries:
            # Every earlier start died without finishing: probably the task kills its worker
            # (out of memory, a segfault). Stop the loop; an operator re-runs it after a fix.
            row.finished_at, row.outcome = now, "gave_up"
            row.save(update_fields=["finished_at", "outcome"])
            decision = DeliveryDecision(run=False, reason="gave_up", deliveries=row.deliveries)
        else:
            TaskDelivery.objects.filter(pk=row.pk).update(deliveries=F("deliveries") + 1, last_started_at=now)
            decision = DeliveryDecision(run=True, reason="redelivered", deliveries=row.deliveries + 1)
    if created:
        TaskDelivery.objects.filter(finished_at__lt=now - KEEP_FINISHED).delete()
    return decision


def task_delivery_finish(*, task_id: str) -> None:
    """The task returned or raised normally: a later copy of this id must not run again."""
    TaskDelivery.objects.filter(task_id=task_id, finished_at__isnull=True).update(
        finished_at=timezone.now(), outcome="done"
    )


def task_delivery_retry(*, task_id: str) -> None:
    """The task asked to be retried (same id, new message): the retry is not a redelivery."""
    TaskDelivery.objects.filter(task_id=task_id, finished_at__isnull=True).update(deliveries=0)
