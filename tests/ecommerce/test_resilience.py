"""Issue 11: the pieces that keep the site up when Redis or the broker is gone.

The end-to-end outage (gunicorn + a real redis-server stopped mid-run) is in
test_redis_outage.py; these tests pin each piece against real, unreachable endpoints (a TCP port
nothing listens on), without mocks.
"""

from __future__ import annotations

import socket
import sys
import time
from datetime import timedelta

import pytest
from celery import current_app
from django.core.cache import cache
from django.db import OperationalError
from django.test import RequestFactory, override_settings

from ecommerce.api.exceptions import exception_handler
from ecommerce.cache_batch import cache_batch, counter_increment
from ecommerce.health import JsonErrorMiddleware, server_error
from ecommerce.models import ModelVersion, OutboxMessage
from ecommerce.outbox import outbox_drain, task_enqueue
from ecommerce.resilience import Breaker, CacheUnavailable, breaker_for
from ecommerce.tasks import drain_outbox_task


def _dead_port() -> int:
    """A local port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_redis_cache():
    port = _dead_port()
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "ecommerce.cache_backend.ResilientRedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
                "OPTIONS": {
                    "SOCKET_CONNECT_TIMEOUT": 0.25,
                    "SOCKET_TIMEOUT": 0.5,
                    "CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool",
                },
            }
        },
        SHARED_CACHE=True,
    ):
        yield port
    breaker_for(f"cache:127.0.0.1:{port}/0").reset()


@pytest.fixture
def broker(settings):
    """A real (non-eager) Celery app configuration; restored afterwards."""
    conf = current_app.conf
    saved = (conf.task_always_eager, conf.broker_url, conf.broker_write_url, conf.broker_read_url)
    breaker_for("broker").reset()
    yield conf
    conf.task_always_eager, conf.broker_url, conf.broker_write_url, conf.broker_read_url = saved
    breaker_for("broker").reset()


# --- the breaker ---------------------------------------------------------------------------------


def test_breaker_opens_on_failure_and_lets_one_call_try_later():
    breaker = Breaker("test", seconds=0.05)
    assert breaker.allow()
    breaker.failure(ConnectionError())
    assert not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open


# --- the cache -----------------------------------------------------------------------------------


def test_dead_redis_reads_miss_writes_noop_fast(dead_redis_cache):
    started = time.monotonic()
    assert cache.get("k") is None
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set("k", 1) is False
    assert cache.add("k", 1) is False
    cache.delete("k")
    assert "k" not in cache
    with pytest.raises(CacheUnavailable):
        cache.incr("counter")
    assert time.monotonic() - started < 2


def test_rate_limit_counts_per_process_when_redis_is_dead(dead_redis_cache):
    assert [counter_increment("throttle:x:1", 60) for _ in range(3)] == [1, 2, 3]


def test_cache_batch_degrades_to_unbatched_reads(dead_redis_cache):
    from ecommerce.cache_batch import batched_count, batched_value

    with cache_batch(keys=["session:a"], counters=[("throttle:y:1", 60)]):
        assert batched_value("session:a") is not None  # MISSING: the reader asks for itself
        assert batched_count("throttle:y:1") is None


@pytest.mark.django_db
def test_signed_in_shopper_stays_signed_in_with_redis_dead(dead_redis_cache, user, client):
    with override_settings(SESSION_ENGINE="ecommerce.sessions", AUTH_USER_CACHE_SECONDS=300):
        client.force_login(user)
        response = client.get("/account/")
    assert response.status_code == 200
    assert response.context["user"] == user


@pytest.mark.django_db
def test_api_answers_with_redis_dead(dead_redis_cache, user_client):
    response = user_client.get("/api/products/")
    assert response.status_code == 200


# --- JSON errors ---------------------------------------------------------------------------------


def test_drf_handler_answers_503_with_retry_after_for_a_dead_dependency():
    response = exception_handler(CacheUnavailable("down"), {})
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.data["service"] == "cache"


def test_json_path_exception_is_json_500_not_html():
    request = RequestFactory().get("/api/products/")
    response = JsonErrorMiddleware(lambda r: None).process_exception(request, ValueError("bug"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"


def test_accept_json_dependency_error_is_503():
    request = RequestFactory().get("/cart/", HTTP_ACCEPT="application/json")
    response = JsonErrorMiddleware(lambda r: None).process_exception(request, OperationalError("db gone"))
    assert response.status_code == 503
    assert response["Retry-After"]


def test_html_page_error_is_left_to_django():
    request = RequestFactory().get("/cart/", HTTP_ACCEPT="text/html")
    assert JsonErrorMiddleware(lambda r: None).process_exception(request, ValueError("bug")) is None


def test_handler500_gives_json_to_json_clients_even_from_middleware_errors():
    request = RequestFactory().get("/api/events/")
    try:
        raise OperationalError("db gone")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert sys.exc_info() == (None, None, None)


# --- health --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "cache", "broker", "models"}
    assert response.json()["checks"]["database"] == {"ok": True, "required": True, "ms": pytest.approx(0, abs=1e4)}
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
def test_readyz_reports_a_dead_cache_without_failing(dead_redis_cache, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"]["ok"] is False


@pytest.mark.django_db
def test_readyz_503_when_a_required_check_fails(client, settings, tmp_path):
    settings.READYZ_REQUIRED = ["database", "models"]
    ModelVersion.objects.create(
        name="recommendations.item_knn", version=1, status="active", artifact_path="recommendations.item_knn/1.joblib"
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["checks"]["models"]["missing"] == ["recommendations.item_knn"]


# --- the outbox ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enqueue_eager_runs_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        task_enqueue(task=drain_outbox_task)
    assert len(callbacks) == 1
    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_enqueue_with_dead_broker_keeps_the_task_then_drain_publishes_it(broker, django_capture_on_commit_callbacks):
    # given: a broker nobody answers on
    broker.task_always_eager = False
    broker.broker_url = broker.broker_write_url = f"redis://127.0.0.1:{_dead_port()}/0"
    # when
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        task_enqueue(task="ecommerce.drain_outbox", kwargs={"limit": 7})
    # then: the request went on at once and the task waits in the database
    assert time.monotonic() - started < 2
    row = OutboxMessage.objects.get()
    assert (row.task_name, row.args, row.kwargs, row.attempts) == ("ecommerce.drain_outbox", [], {"limit": 7}, 1)
    assert outbox_drain(min_age=timedelta(0)) == {"sent": 0, "failed": 1, "waiting": 1}
    # when the broker is back (the in-memory transport), the drain publishes it
    broker.broker_url = broker.broker_write_url = broker.broker_read_url = "memory://"
    assert outbox_drain(min_age=timedelta(0)) == {"sent": 1, "failed": 0, "waiting": 0}
    # then: the message is on the queue (taken off again: the memory broker is shared per process)
    with current_app.connection_for_read() as conn:
        message = conn.default_channel.basic_get("default", no_ack=True)
    assert message is not None
    assert message.headers["task"] == "ecommerce.drain_outbox"
    assert message.decode()[1] == {"limit": 7}


@pytest.mark.django_db
def test_drain_leaves_rows_a_request_is_still_publishing(broker):
    broker.task_always_eager = False
    broker.broker_url = broker.broker_write_url = "memory://"
    OutboxMessage.objects.create(task_name="ecommerce.drain_outbox")
    assert outbox_drain(min_age=timedelta(minutes=5)) == {"sent": 0, "failed": 0, "waiting": 0}
    assert OutboxMessage.objects.count() == 1


def test_writes_lost_in_an_outage_are_dropped_when_redis_returns(tmp_path):
    """A partitioned Redis keeps its old data: after a logout (or any write) made during the
    outage it must not serve the old value once it answers again."""
    import os
    import signal

    from tests.ecommerce.test_redis_outage import _free_port, _redis_up

    port = _free_port()
    server = _redis_up(port)
    name = f"cache:127.0.0.1:{port}/0"
    try:
        with override_settings(
            CACHES={
                "default": {
                    "BACKEND": "ecommerce.cache_backend.ResilientRedisCache",
                    "LOCATION": f"redis://127.0.0.1:{port}/0",
                    "OPTIONS": {
                        "SOCKET_CONNECT_TIMEOUT": 0.25,
                        "SOCKET_TIMEOUT": 0.25,
                        "CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool",
                    },
                }
            }
        ):
            # given: a session cached while Redis was up
            cache.set("session:abc", {"user": 1})
            # when: Redis freezes and the session is deleted (a logout) meanwhile
            os.kill(server.pid, signal.SIGSTOP)
            assert cache.get("anything") is None  # times out: the breaker opens
            cache.delete("session:abc")  # never reaches Redis (a frozen one would run it on waking)
            assert cache.get("session:abc") is None  # a miss: the database answers
            os.kill(server.pid, signal.SIGCONT)
            breaker_for(name).reset()  # as if the 5 s window had passed
            # then: the old session is not served again
            assert cache.get("session:abc") is None
            cache.set("other", 1)
            assert cache.get("other") == 1
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.kill()
        server.wait()
        breaker_for(name).reset()
