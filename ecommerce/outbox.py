"""Enqueue Celery tasks without losing them or hanging when the broker is down (issue 11).

Every enqueue on a request path goes through `task_enqueue`:
- eager mode (the embedded default, no broker): the task runs after the transaction commits,
  exactly like `delay_on_commit`;
- with a broker: an OutboxMessage row is written in the caller's transaction; after commit the
  task is published with a bounded connection timeout and no publish retries, and the row is
  deleted. If the broker does not answer (refused or blackholed) the row stays, the request goes
  on, and `outbox_drain` publishes it later (beat task `ecommerce.drain_outbox` every minute and
  `manage.py drain_outbox`). Delivery is at least once: tasks are idempotent (house rule).
A per-process breaker (ecommerce/resilience.py) skips the broker for a few seconds after a
failure, so an outage costs one connect timeout per process, not one per request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import current_app
from celery.exceptions import NotRegistered
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import OutboxMessage
from .resilience import breaker_for, dependency_errors

logger = logging.getLogger(__name__)

BROKER = "broker"


def _is_eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def _task_by_name(name: str) -> Any:
    """The registered task; autodiscovery is lazy, so import the apps' tasks modules if needed."""
    try:
        return current_app.tasks[name]
    except NotRegistered:
        from django.apps import apps

        # The apps' tasks modules only (import_default_modules would also run the worker fixups).
        current_app.loader.autodiscover_tasks([config.name for config in apps.get_app_configs()])
        return current_app.tasks[name]


def _publish_connection():
    """A broker connection that gives up fast: publishing must never hold a request for long."""
    timeout = settings.OUTBOX_PUBLISH_TIMEOUT
    options = {
        **(current_app.conf.broker_transport_options or {}),
        # Redis transport: a refused and a blackholed server both fail within `timeout`.
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry_on_timeout": False,
        # kombu retries a failed connect (1 s, 2 s, ...) before publishing: once is enough here.
        "max_retries": 0,
    }
    return current_app.connection_for_write(connect_timeout=timeout, transport_options=options)


def _publish(name: str, args: Sequence[Any], kwargs: dict[str, Any], connection=None) -> str | None:
    """Publish one task; None on success, else the error class name (broker unreachable)."""
    breaker = breaker_for(BROKER)
    if not breaker.allow():
        return "BrokerUnavailable"
    own = connection is None
    connection = connection or _publish_connection()
    try:
        current_app.send_task(name, args=list(args), kwargs=dict(kwargs), connection=connection, retry=False)
    except (*dependency_errors(), OSError) as error:
        breaker.failure(error)
        return type(error).__name__
    finally:
        if own:
            connection.release()
    breaker.success()
    return None


def task_enqueue(*, task: Any, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> None:
    """Run `task` (a Celery task or its name) after the current transaction commits; never lost."""
    kwargs = dict(kwargs or {})
    name = task if isinstance(task, str) else task.name
    if _is_eager():
        task_obj = task if not isinstance(task, str) else _task_by_name(name)
        transaction.on_commit(lambda: task_obj.apply_async(args=list(args), kwargs=kwargs))
        return
    row = OutboxMessage.objects.create(task_name=name, args=list(args), kwargs=kwargs)

    def publish_after_commit() -> None:
        error = _publish(name, args, kwargs)
        if error is None:
            OutboxMessage.objects.filter(pk=row.pk).delete()
        else:
            OutboxMessage.objects.filter(pk=row.pk).update(attempts=1, last_error=error)
            logger.warning("outbox.kept", extra={"outbox_id": row.pk, "task": name, "error": error})

    transaction.on_commit(publish_after_commit)


def outbox_drain(*, limit: int = 500, min_age: timedelta | None = None) -> dict[str, int]:
    """Publish waiting outbox rows, oldest first; stop at the first broker failure.

    `min_age` leaves alone rows a request is publishing right now (it deletes them itself).
    """
    min_age = settings.OUTBOX_MIN_AGE if min_age is None else min_age
    cutoff = timezone.now() - min_age
    sent = failed = 0
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(created_at__lte=cutoff)
            .order_by("created_at", "pk")[:limit]
        )
        if not rows:
            return {"sent": 0, "failed": 0, "waiting": 0}
        if _is_eager():
            for row in rows:
                _task_by_name(row.task_name).apply_async(args=row.args, kwargs=row.kwargs)
                row.delete()
                sent += 1
        else:
            breaker_for(BROKER).reset()  # the drain is the retry: always try the broker once
            connection = _publish_connection()
            try:
                for row in rows:
                    error = _publish(row.task_name, row.args, row.kwargs, connection=connection)
                    if error is not None:
                        OutboxMessage.objects.filter(pk=row.pk).update(attempts=row.attempts + 1, last_error=error)
                        failed += 1
                        break
                    row.delete()
                    sent += 1
            finally:
                connection.release()
    waiting = OutboxMessage.objects.count()
    logger.info("outbox.drained", extra={"sent": sent, "failed": failed, "waiting": waiting})
    return {"sent": sent, "failed": failed, "waiting": waiting}
