"""Worker faults during retrains and poison tasks, against real worker processes (issue 11)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.db import connections
from django.db.models import Exists, OuterRef

from ecommerce.models import ModelVersion, TaskDelivery
from recommendations.conf import ACTIVE_MODEL_NAME
from recommendations.models import UserRecommendation
from recommendations.services import recommenders_train
from tests.factories.recommendations import two_cluster_shop
from tests.faults.conftest import wait_for

pytestmark = pytest.mark.worker


class ActiveRowsWatcher(threading.Thread):
    """Polls the database every 20 ms: is there an active personalized model without rows?"""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop_event = threading.Event()
        self.violations: list[int] = []
        self.polls = 0

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                # One statement, so one snapshot: two queries (the active version, then its rows)
                # could straddle a promotion that commits in between and report a false violation.
                without_rows = (
                    ModelVersion.objects.filter(name=ACTIVE_MODEL_NAME, status="active")
                    .exclude(Exists(UserRecommendation.objects.filter(model_version=OuterRef("pk"))))
                    .values_list("version", flat=True)
                )
                self.violations.extend(without_rows)
                self.polls += 1
                time.sleep(0.02)
        finally:
            connections.close_all()

    def __enter__(self) -> ActiveRowsWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.join(timeout=10)


def _chord_done(client_app, summary: dict) -> dict:
    """The retrain's precompute chord (chunks on any pool process, then the promoting callback)."""
    return client_app.AsyncResult(summary["precompute"]["result_id"]).get(timeout=90)


def _shop_with_an_active_model() -> ModelVersion:
    two_cluster_shop()
    assert recommenders_train()["status"] == "ok"
    active = ModelVersion.objects.get(name=ACTIVE_MODEL_NAME, status="active")
    assert UserRecommendation.objects.filter(model_version=active).exists()
    return active


def test_pool_process_killed_mid_retrain_is_redelivered_and_promotes_once(worker_process, client_app, markers):
    # given an active model with rows, and a retrain that pauses just before precomputing
    before = _shop_with_an_active_model()
    worker = worker_process(FAULTS_PAUSE_AT="precompute", FAULTS_PAUSE_SECONDS="2")
    with ActiveRowsWatcher() as watcher:
        result = client_app.send_task("recommendations.retrain_models", queue="ml")
        wait_for(lambda: "at precompute" in markers(), 60, "the retrain to reach precompute")
        # when the pool process running it is killed (the OOM killer's SIGKILL)
        for pid in worker.pool_pids():
            os.kill(pid, signal.SIGKILL)
        # then the task is delivered again and completes, and so does its chord of chunks
        summary = result.get(timeout=90)
        assert summary["status"] == "ok", summary
        assert _chord_done(client_app, summary)["promoted"] is True
    assert markers().count("at precompute") == 2
    delivery = TaskDelivery.objects.get(task_id=result.id)
    assert (delivery.deliveries, delivery.outcome) == (2, "done")
    # exactly once in effect: one new active version, the killed run's version never served
    active = ModelVersion.objects.get(name=ACTIVE_MODEL_NAME, status="active")
    assert active.version == summary["versions"][ACTIVE_MODEL_NAME] == before.version + 2
    killed_run = ModelVersion.objects.get(name=ACTIVE_MODEL_NAME, version=before.version + 1)
    assert killed_run.status == "trained" and killed_run.promoted_at is None
    assert ModelVersion.objects.filter(name=ACTIVE_MODEL_NAME, promoted_at__isnull=False).count() == 2
    # and at no point was the active version without its precomputed rows
    assert watcher.polls > 50 and watcher.violations == []
    assert not UserRecommendation.objects.exclude(model_version=active).exists()
    assert worker.alive()


def test_worker_killed_after_precompute_before_promotion_keeps_the_old_version_serving(
    worker_process, client_app, markers
):
    # given an active model, and a retrain that pauses after precomputing, before promoting
    before = _shop_with_an_active_model()
    worker = worker_process(FAULTS_PAUSE_AT="promote", FAULTS_PAUSE_SECONDS="30")
    with ActiveRowsWatcher() as watcher:
        client_app.send_task("recommendations.retrain_models", queue="ml")
        wait_for(lambda: "at promote" in markers(), 60, "the retrain to reach promotion")
        # when the whole worker dies there
        worker.kill_all()
        time.sleep(0.5)
    # then the previous version still serves, with its rows; the new rows are not served
    active = ModelVersion.objects.get(name=ACTIVE_MODEL_NAME, status="active")
    assert active.pk == before.pk
    assert UserRecommendation.objects.filter(model_version=active).exists()
    assert watcher.violations == []


def test_two_retrains_at_once_give_one_promotion_and_already_running(worker_process, client_app, markers):
    # given an active model and a worker with two pool processes
    before = _shop_with_an_active_model()
    worker_process(concurrency=2, FAULTS_PAUSE_AT="precompute", FAULTS_PAUSE_SECONDS="3")
    # when the nightly retrain and the admin's "Retrain now" run at the same time
    first = client_app.send_task("recommendations.retrain_models", queue="ml")
    wait_for(lambda: "at precompute" in markers(), 60, "the first retrain to hold the lock")
    second = client_app.send_task("recommendations.retrain_models", queue="ml")
    summaries = [first.get(timeout=90), second.get(timeout=90)]
    # then one ran and promoted, the other said so and changed nothing
    assert sorted(s["status"] for s in summaries) == ["already_running", "ok"]
    assert markers().count("at precompute") == 1
    done = next(s for s in summaries if s["status"] == "ok")
    assert _chord_done(client_app, done)["promoted"] is True
    active = ModelVersion.objects.get(name=ACTIVE_MODEL_NAME, status="active")
    assert active.version == done["versions"][ACTIVE_MODEL_NAME] == before.version + 1
    assert UserRecommendation.objects.filter(model_version=active).exists()


def test_poison_task_that_kills_its_worker_is_given_up_after_three_deliveries(worker_process, client_app, markers):
    # given a task that SIGKILLs the pool process running it, every time
    worker = worker_process()
    result = client_app.send_task("faults.kill_own_process", args=[markers.path], queue="default")
    # when it is redelivered after each death
    wait_for(
        lambda: TaskDelivery.objects.filter(task_id=result.id, outcome="gave_up").exists(), 60, "the guard to give up"
    )
    # then it ran three times and is not run again; the worker is still serving
    assert markers().count("start poison") == 3
    follow = client_app.send_task("faults.sleep", args=[0.1, "after", markers.path], queue="default")
    assert follow.get(timeout=30) == "after"
    assert markers().count("start poison") == 3
    assert worker.alive()


def test_whole_worker_killed_mid_task_is_redelivered_after_the_visibility_timeout(worker_process, client_app, markers):
    # given a worker (visibility timeout shortened to 4 s for the test) running a task
    worker = worker_process(CELERY_BROKER_VISIBILITY_TIMEOUT="4")
    result = client_app.send_task("faults.sleep", args=[2.0, "t0", markers.path], queue="default")
    wait_for(lambda: "start t0" in markers(), 20, "the task to start")
    # when the whole worker is SIGKILLed and a new one starts
    worker.kill_all()
    started = time.monotonic()
    worker_process(CELERY_BROKER_VISIBILITY_TIMEOUT="4")
    # then the new worker gets the message once the timeout passed, and it finishes once
    # (bounds with room for a loaded CI box: the point is seconds after the 4 s timeout, not the
    # 40 minutes of the production setting)
    assert result.get(timeout=180) == "t0"
    assert time.monotonic() - started < 170
    assert markers().count("done t0") == 1
    assert TaskDelivery.objects.get(task_id=result.id).deliveries == 2
