"""Broker faults against a real worker process and a redis-server of the test's own (issue 11)."""

from __future__ import annotations

import time

import pytest

from ecommerce.models import TaskDelivery
from tests.faults.conftest import wait_for

pytestmark = pytest.mark.worker


def _send_sleeps(client_app, markers, count: int, seconds: float) -> list[str]:
    return [
        client_app.send_task("faults.sleep", args=[seconds, f"t{i}", markers.path], queue="default").id
        for i in range(count)
    ]


def test_worker_survives_redis_stopped_mid_task_and_finishes_queued_work(
    worker_process, redis_server, client_app, markers
):
    # given a worker running the first of three queued tasks
    worker = worker_process()
    _send_sleeps(client_app, markers, 3, 2.0)
    wait_for(lambda: "start t0" in markers(), 20, "the first task to start")
    # when Redis stops while the task runs, and comes back (from its AOF) after 3 s
    redis_server.stop()
    time.sleep(3)
    redis_server.start()
    # then the worker is still there and every task finishes, each exactly once
    wait_for(lambda: all(f"done t{i}" in markers() for i in range(3)), 40, "all three tasks to finish")
    time.sleep(1.5)  # room for a wrongly restored copy to run again
    assert worker.alive(), worker.log()[-3000:]
    assert "Unrecoverable error" not in worker.log()
    assert sorted(m for m in markers() if m.startswith("done")) == ["done t0", "done t1", "done t2"]
    assert not redis_server.command("-n", "0", "HLEN", "unacked").strip(b"\n0")


def test_dropped_broker_connection_does_not_run_the_task_in_flight_twice(
    worker_process, redis_server, client_app, markers
):
    # given a worker running a task
    worker = worker_process()
    task_id = client_app.send_task("faults.sleep", args=[3.0, "t0", markers.path], queue="default").id
    wait_for(lambda: "start t0" in markers(), 20, "the task to start")
    # when every client connection is killed while Redis stays up (a network blip): the
    # transport restores the unacknowledged message, so the queue holds a second copy
    redis_server.command("CLIENT", "KILL", "TYPE", "normal")
    redis_server.command("CLIENT", "KILL", "TYPE", "pubsub")
    wait_for(lambda: "done t0" in markers(), 20, "the task to finish")
    # a task queued behind the copy: once it ran, the copy has been consumed
    follow = client_app.send_task("faults.sleep", args=[0.1, "after", markers.path], queue="default")
    wait_for(lambda: "done after" in markers(), 30, "the follow-up task")
    # then the task ran once: the restored copy was delivered and skipped as finished
    assert worker.alive()
    assert markers().count("start t0") == 1
    assert TaskDelivery.objects.get(task_id=task_id).outcome == "done"
    assert "celery.delivery_skipped" in worker.log()
    assert client_app.AsyncResult(task_id).get(timeout=5) == "t0"  # the copy kept the original's result
    assert follow.get(timeout=5) == "after"
