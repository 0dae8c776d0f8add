"""Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered.

Every task runs through DeliveryGuardedTask: tasks declared with `acks_late=True` may be handed
out more than once (worker killed, broker connection dropped), so they are guarded by a lock per
task id and a delivery counter (ecommerce.services.task_deliveries): a copy of a task that is
still running or already finished is skipped, and one that killed its worker `max_deliveries`
times is given up. See README "Celery workers and the broker".
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore, Retry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

logger = logging.getLogger(__name__)


class DeliveryGivenUp(Exception):
    """This task id died with its worker max_deliveries times: it is not run again."""


class DeliveryGuardedTask(DjangoTask):
    # Starts of one task id that may die (worker lost) before it is given up.
    max_deliveries = 3

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Tasks read the primary (ecommerce/db_routing.py): a task that writes must see its own
        # and its caller's writes, also when it runs eagerly inside a request reading the replica.
        from ecommerce.db_routing import primary_reads

        with primary_reads():
            return self._guarded_call(*args, **kwargs)

    def _guarded_call(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if not self.acks_late or request.called_directly or request.is_eager or not request.id:
            return super().__call__(*args, **kwargs)
        from ecommerce.locks import LockHeld, exclusive_lock
        from ecommerce.services.task_deliveries import (
            task_delivery_finish,
            task_delivery_retry,
            task_delivery_start,
        )

        extra = {"task_id": request.id, "task_name": self.name}
        try:
            with exclusive_lock(f"celery.task:{request.id}"):
                decision = task_delivery_start(
                    task_id=request.id, task_name=self.name, max_deliveries=self.max_deliveries
                )
                if not decision.run:
                    if decision.reason == "gave_up":
                        logger.error("celery.delivery_gave_up", extra={**extra, "deliveries": decision.deliveries})
                        raise DeliveryGivenUp(
                            f"{self.name} {request.id} was killed with its worker "
                            f"{decision.deliveries} times: not run again"
                        )
                    # A copy of a finished task: ack it, and keep the original's stored result.
                    logger.warning("celery.delivery_skipped", extra={**extra, "reason": decision.reason})
                    raise Ignore()
                if decision.reason == "redelivered":
                    logger.warning("celery.redelivered", extra={**extra, "deliveries": decision.deliveries})
                try:
                    result = super().__call__(*args, **kwargs)
                except Retry:
                    task_delivery_retry(task_id=request.id)
                    raise
                except Exception:
                    task_delivery_finish(task_id=request.id)
                    raise
                task_delivery_finish(task_id=request.id)
                return result
        except LockHeld:
            # Another live process runs this very task id (a copy restored after a dropped
            # broker connection): it will ack its own copy when done.
            logger.warning("celery.delivery_skipped", extra={**extra, "reason": "running"})
            raise Ignore() from None


app = Celery("ecommerce", task_cls=DeliveryGuardedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
