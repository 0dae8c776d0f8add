"""The delivery guard (ecommerce.services.task_deliveries) and the cross-process lock (ecommerce.locks)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from ecommerce.locks import LockHeld, exclusive_lock
from ecommerce.models import TaskDelivery
from ecommerce.services.task_deliveries import (
    task_delivery_finish,
    task_delivery_retry,
    task_delivery_start,
)

pytestmark = pytest.mark.django_db


def test_first_delivery_runs_and_a_copy_after_it_finished_is_skipped():
    first = task_delivery_start(task_id="t-1", task_name="x.y", max_deliveries=3)
    task_delivery_finish(task_id="t-1")
    copy = task_delivery_start(task_id="t-1", task_name="x.y", max_deliveries=3)
    assert (first.run, first.reason) == (True, "first")
    assert (copy.run, copy.reason) == (False, "finished")
    assert TaskDelivery.objects.get(task_id="t-1").outcome == "done"


def test_a_task_that_keeps_dying_is_given_up_after_max_deliveries():
    # given three starts that never finished (each worker was killed)
    decisions = [task_delivery_start(task_id="t-2", task_name="x.y", max_deliveries=3) for _ in range(3)]
    # when it is delivered a fourth time
    fourth = task_delivery_start(task_id="t-2", task_name="x.y", max_deliveries=3)
    # then it does not run, and later copies do not either
    assert [d.reason for d in decisions] == ["first", "redelivered", "redelivered"]
    assert (fourth.run, fourth.reason, fourth.deliveries) == (False, "gave_up", 3)
    assert TaskDelivery.objects.get(task_id="t-2").outcome == "gave_up"
    assert task_delivery_start(task_id="t-2", task_name="x.y", max_deliveries=3).run is False


def test_a_retry_is_not_counted_as_a_redelivery():
    for _ in range(2):
        task_delivery_start(task_id="t-3", task_name="x.y", max_deliveries=3)
    task_delivery_retry(task_id="t-3")
    assert [task_delivery_start(task_id="t-3", task_name="x.y", max_deliveries=3).run for _ in range(3)] == [
        True,
        True,
        True,
    ]


def test_finished_rows_older_than_a_week_are_pruned_when_a_new_task_starts():
    old = TaskDelivery.objects.create(
        task_id="old", task_name="x.y", deliveries=1, finished_at=timezone.now() - timedelta(days=8), outcome="done"
    )
    task_delivery_start(task_id="new", task_name="x.y", max_deliveries=3)
    assert not TaskDelivery.objects.filter(pk=old.pk).exists()


def _try_lock_elsewhere(name: str) -> bool:
    """Whether another thread (another database connection) can take `name` right now."""
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            with exclusive_lock(name):
                outcome.append(True)
        except LockHeld:
            outcome.append(False)
        finally:
            connections.close_all()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=30)
    return outcome[0]


def test_exclusive_lock_is_refused_elsewhere_while_held_and_free_after():
    with exclusive_lock("tests.lock"):
        assert _try_lock_elsewhere("tests.lock") is False
        assert _try_lock_elsewhere("tests.other-lock") is True
    assert _try_lock_elsewhere("tests.lock") is True


def test_visibility_timeout_outlasts_every_task_time_limit(settings):
    """A message must not be handed to a second worker while its task can still be running."""
    from ecommerce.celery import app

    app.loader.import_default_modules()
    limits = {
        name: task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
    }
    assert "recommendations.retrain_models" in limits
    assert max(limits.values()) < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_retrain_tasks_are_redelivered_when_their_worker_dies():
    from ecommerce.celery import DeliveryGuardedTask, app

    app.loader.import_default_modules()
    for name in ("recommendations.retrain_models", "support.retrain_intents", "advertising.retrain_ctr"):
        task = app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost, name
        assert isinstance(task, DeliveryGuardedTask) and task.max_deliveries == 3


def test_admin_lists_given_up_tasks_read_only_and_only_with_the_view_permission(admin_client, client):
    from django.contrib.auth import get_user_model

    TaskDelivery.objects.create(
        task_id="t-9",
        task_name="recommendations.retrain_models",
        deliveries=3,
        finished_at=timezone.now(),
        outcome="gave_up",
    )
    page = admin_client.get("/admin/ecommerce/taskdelivery/?outcome=gave_up")
    assert page.status_code == 200 and b"t-9" in page.content
    assert admin_client.get("/admin/ecommerce/taskdelivery/add/").status_code == 403
    staff = get_user_model().objects.create_user(username="ops", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/ecommerce/taskdelivery/").status_code == 403
