"""Per-process copies of session, user-row and recommendation values (ecommerce/cache_copies.py).

The copies serve only while Redis's invalidation messages say nothing changed. Every test runs
against a redis-server of its own (started here on a free port, whatever cache the suite uses), so
it can count the reads Redis answers (INFO commandstats), write "from another process" with a
separate connection, kill the tracking connection and freeze the server. Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.contrib.sessions.models import Session

from ecommerce import cache_batch as cache_batch_module
from ecommerce import cache_copies
from ecommerce.auth_backends import user_cache_key
from ecommerce.cache_backend import BreakerConnection
from ecommerce.cache_batch import batched_value, cache_batch
from ecommerce.cache_copies import copies
from tests.factories import UserFactory

REDIS_SERVER = "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    """A redis-server for this test alone; its client plays "another process"."""
    binary = REDIS_SERVER if os.access(REDIS_SERVER, os.X_OK) else shutil.which("redis-server")
    assert binary, "redis-server is required (apt-get install redis-server)"  # no skip: CI has it
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    other = redis.Redis(port=port, socket_timeout=2)
    deadline = time.monotonic() + 10
    while True:
        try:
            other.ping()
            break
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield other
    finally:
        process.send_signal(signal.SIGCONT)  # a test may leave it frozen
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_cache(settings, own_redis: redis.Redis):
    """The default cache on the test's own Redis, configured as settings.py configures CACHE_URL."""
    port = own_redis.connection_pool.connection_kwargs["port"]
    settings.CACHES = {
        "default": {
            "BACKEND": "ecommerce.cache_backend.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.5,
                "CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool",
            },
        }
    }
    settings.CACHE_LOCAL_COPIES = True
    from django.core.cache import cache

    yield cache
    with copies.lock:
        copies.reset()  # the connection belongs to the server this fixture stops


def _mget_calls(server: redis.Redis) -> int:
    return int(server.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))


def _read(key: str):
    with cache_batch(keys=[key]):
        return batched_value(key)


def _raw(cache, value) -> bytes:
    """A value as django-redis stores it (what another process writing it would send)."""
    return cache.client.encode(value)


def test_a_value_read_twice_is_read_from_redis_once(redis_cache, own_redis):
    key = user_cache_key(101)
    redis_cache.set(key, {"name": "first"})
    before = _mget_calls(own_redis)
    assert _read(key) == {"name": "first"}
    assert _mget_calls(own_redis) == before + 1
    for _ in range(5):
        assert _read(key) == {"name": "first"}
    assert _mget_calls(own_redis) == before + 1  # the copy answered

    # Keys under no registered prefix are never copied.
    redis_cache.set("untracked:key", 1)
    _read("untracked:key")
    _read("untracked:key")
    assert _mget_calls(own_redis) == before + 3


def test_a_copy_is_mutable_per_request_not_shared(redis_cache):
    key = user_cache_key(102)
    redis_cache.set(key, {"cart": [1]})
    _read(key)
    first = _read(key)
    first["cart"].append(2)  # a request changing what it read
    assert _read(key) == {"cart": [1]}


def test_a_change_by_another_process_is_seen_by_the_next_read(redis_cache, own_redis):
    """Write with another connection, then read at once: 200 times, never the old value."""
    key = user_cache_key(103)
    made = redis_cache.client.make_key(key)
    redis_cache.set(key, 0)
    assert _read(key) == 0
    for n in range(1, 201):
        own_redis.set(made, _raw(redis_cache, n))
        assert _read(key) == n
    own_redis.delete(made)
    assert _read(key) is None


def test_this_process_writes_drop_its_copy_at_once(redis_cache):
    """Without waiting for Redis's message: the write itself drops the copy."""
    key = user_cache_key(104)
    made = redis_cache.client.make_key(key)
    redis_cache.set(key, "old")
    _read(key)
    assert made in copies.raw
    redis_cache.set(key, "new")
    assert made not in copies.raw  # nothing was read from the tracking connection in between
    assert _read(key) == "new"
    redis_cache.delete(key)
    assert made not in copies.raw
    assert _read(key) is None


def test_a_flush_drops_every_copy(redis_cache, own_redis):
    keys = [user_cache_key(n) for n in range(110, 115)]
    for key in keys:
        redis_cache.set(key, "kept")
        _read(key)
    connection = copies.connection
    own_redis.flushdb()  # another process clears the cache
    assert [_read(key) for key in keys] == [None] * len(keys)
    assert copies.connection is connection  # Redis's "flush everything" message, not a lost connection


def test_a_read_older_than_an_applied_change_is_not_kept(redis_cache, own_redis, monkeypatch):
    """Threaded servers: another thread applies a change's invalidation between this thread's read
    and its keep; the value read before the change must not become a copy (nothing would drop it)."""
    key = user_cache_key(105)
    made = redis_cache.client.make_key(key)
    redis_cache.set(key, "before")
    _read(key)  # tracking is up
    redis_cache.delete(key)  # no copy: the next read goes to Redis
    own_redis.set(made, _raw(redis_cache, "before"))
    real_send = cache_batch_module._send

    def send_then_another_thread_drains(pool, commands):
        replies = real_send(pool, commands)  # this thread has read "before"
        own_redis.delete(made)  # another process's write, acknowledged
        deadline = time.monotonic() + 2
        epoch = copies.epoch
        while copies.epoch == epoch:  # "another thread" polls and applies the invalidation
            copies.held(redis_cache.client, [])
            assert time.monotonic() < deadline, "no invalidation arrived"
        return replies

    monkeypatch.setattr(cache_batch_module, "_send", send_then_another_thread_drains)
    assert _read(key) == "before"  # what this request read, at the time it read it
    monkeypatch.setattr(cache_batch_module, "_send", real_send)
    assert made not in copies.raw
    assert _read(key) is None


def test_a_server_that_reports_nothing_is_not_trusted(redis_cache, own_redis, monkeypatch):
    """CLIENT TRACKING answered OK but nothing reported (a proxy in front of Redis, say): no copies.

    The proxy is played on the wire: the tracking command that reaches Redis is TRACKING OFF,
    which Redis also answers OK."""
    monkeypatch.setattr(cache_copies, "PROBE_SECONDS", 0.2)
    real_send_command = BreakerConnection.send_command

    def tracking_ignored(self, *args, **kwargs):
        if args[:3] == ("CLIENT", "TRACKING", "ON"):
            args = ("CLIENT", "TRACKING", "OFF")
        return real_send_command(self, *args, **kwargs)

    monkeypatch.setattr(BreakerConnection, "send_command", tracking_ignored)
    key = user_cache_key(106)
    redis_cache.set(key, "v")
    calls = _mget_calls(own_redis)
    assert [_read(key) for _ in range(3)] == ["v"] * 3
    assert _mget_calls(own_redis) == calls + 3
    assert copies.connection is None and not copies.raw


def test_a_lost_tracking_connection_drops_copies_and_comes_back(redis_cache, own_redis, monkeypatch):
    monkeypatch.setattr(cache_copies, "RETRY_SECONDS", 0.2)
    key = user_cache_key(120)
    made = redis_cache.client.make_key(key)
    redis_cache.set(key, "before")
    _read(key)
    assert copies.raw
    own_redis.client_kill_filter(_type="pubsub")
    # While the connection is gone Redis tells this process nothing: a change must still show.
    own_redis.set(made, _raw(redis_cache, "after"))
    calls = _mget_calls(own_redis)
    assert _read(key) == "after"
    assert not copies.raw and copies.connection is None
    assert _read(key) == "after"
    assert _mget_calls(own_redis) == calls + 2  # no copies while tracking is down
    time.sleep(0.25)
    _read(key)  # tracking set up again
    calls = _mget_calls(own_redis)
    assert _read(key) == "after"
    assert _mget_calls(own_redis) == calls  # served from the copy again


def test_a_frozen_redis_stops_the_copies(redis_cache, own_redis, monkeypatch):
    """A server that answers nothing also invalidates nothing: copies stop within STALE_AFTER_SECONDS."""
    monkeypatch.setattr(cache_copies, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(cache_copies, "STALE_AFTER_SECONDS", 0.3)
    key = user_cache_key(130)
    redis_cache.set(key, "live")
    _read(key)
    deadline = time.monotonic() + 2
    while not copies.held(redis_cache.client, [redis_cache.client.make_key(key)])[0]:  # pongs arrive: served
        assert time.monotonic() < deadline, "copies never served"
        time.sleep(0.02)
    pid = int(own_redis.info("server")["process_id"])
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 0.5
        while copies.held(redis_cache.client, [redis_cache.client.make_key(key)])[0]:
            assert time.monotonic() < deadline, "copies still served by a frozen Redis"
            time.sleep(0.05)
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.django_db
def test_a_logout_elsewhere_signs_the_shopper_out_here(redis_cache, own_redis, settings, client):
    """The session ended by another process (cache key and database row gone): the next request is anonymous."""
    settings.SESSION_ENGINE = "ecommerce.sessions"
    settings.SHARED_CACHE = True
    settings.AUTH_USER_CACHE_SECONDS = 300
    shopper = UserFactory()
    client.force_login(shopper, backend="ecommerce.auth_backends.CachedModelBackend")
    session_key = client.cookies["sessionid"].value
    for _ in range(3):  # the session and user row are now copies in this process
        answer = client.get("/api/recommendations/me/?k=3", HTTP_ACCEPT="application/json")
        assert answer.status_code == 200
        assert answer.wsgi_request.user == shopper
    from ecommerce.sessions import SessionStore

    made = redis_cache.client.make_key(SessionStore.cache_key_prefix + session_key)
    assert made in copies.raw
    calls = _mget_calls(own_redis)
    client.get("/api/recommendations/me/?k=3", HTTP_ACCEPT="application/json")
    assert _mget_calls(own_redis) == calls  # the signed-in request was answered from copies

    own_redis.delete(made)  # what a logout in another process does: the cached session and ...
    Session.objects.filter(session_key=session_key).delete()  # ... its database row
    who = client.get("/api/recommendations/me/?k=3", HTTP_ACCEPT="application/json")
    assert who.status_code == 200
    assert who.wsgi_request.user.is_authenticated is False
    assert made not in copies.raw
