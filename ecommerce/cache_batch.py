"""One cache round trip for the reads and counters a request is known to need.

A signed-in serving request reads its session, its user row, the rate-limit counter, the
recommendations generation and the cached answer: five round trips to Redis, each ~0.1 ms of
mostly CPU on the reference box (more across a network). When the keys are known up front (a
signed-in session key carries the user id, ecommerce/sessions.py) a view fetches them all in one
pipelined round trip inside `cache_batch(...)`; the code that normally reads them (the session
store, the login backend, the throttle, the answer cache) asks `batched_value` / `batched_count`
first and falls back to its own cache call when the key was not batched. Nothing is cached longer
or differently: the batch only moves the same reads earlier in the same request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

from .cache_copies import copies
from .resilience import CacheUnavailable, rate_limited_log

logger = logging.getLogger(__name__)

MISSING = object()

# Per-process counters for when the shared cache is down: rate limits fail open to a limit per
# process (N processes allow up to N times the rate) rather than refusing or failing everyone.
_local_counters = LocMemCache("ecommerce-fallback-counters", {"OPTIONS": {"MAX_ENTRIES": 10_000}})

# Counter: INCR, and give a new key its window's expiry (same value format as cache.incr/add).
# Sent in one pipeline with the MGET (measured: a single Lua script doing both was ~15 µs slower).
_COUNT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

_current: ContextVar[dict[str, Any] | None] = ContextVar("cache_batch", default=None)


def _increment(store: Any, key: str, expiry: int, delta: int) -> int:
    try:
        return store.incr(key, delta)
    except ValueError:  # the first increment creates it; add() loses to a concurrent first
        return delta if store.add(key, delta, expiry) else store.incr(key, delta)


def counter_increment(key: str, expiry: int, delta: int = 1) -> int:
    """Add `delta` to a counter that expires `expiry` seconds after its first increment.

    When the shared cache is down the count is kept in this process (fail open, logged).
    """
    try:
        return _increment(cache, key, expiry, delta)
    except CacheUnavailable:
        rate_limited_log.warning("throttle.fail_open_per_process")
        return _increment(_local_counters, key, expiry, delta)


def redis_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _redis_client():
    """django-redis's DefaultClient behind the cache, else None (LocMem, other clients).

    Exactly DefaultClient: the pipeline below sends raw MGET/EVAL and decodes like it does;
    HerdClient wraps values and ShardClient spreads keys over servers, so they take the plain path.
    """
    client = getattr(cache, "client", None)
    if client is None:
        return None
    try:
        from django_redis.client import DefaultClient
    except ImportError:
        return None
    return client if type(client) is DefaultClient else None


def _fetch(keys: list[str], counters: list[tuple[str, int]]) -> tuple[dict[str, Any], dict[str, int]] | None:
    """(values, counts) in one round trip, or None when the cache did not answer."""
    backend = _redis_client()
    if backend is None:  # in-process caches: no round trip to save
        return cache.get_many(keys), {key: counter_increment(key, ttl) for key, ttl in counters}
    made = [backend.make_key(key) for key in keys]
    # This process's copies of tracked values (ecommerce/cache_copies.py); the rest from Redis.
    raw_by_key, epoch = copies.held(backend, made) if made else ({}, None)
    asked = [key for key in made if key not in raw_by_key]
    commands: list[tuple] = [("MGET", *asked)] if asked else []
    commands += [("EVAL", _COUNT_LUA, 1, backend.make_key(key), ttl) for key, ttl in counters]
    try:
        replies = _send(backend.get_client(write=True).connection_pool, commands)
    except (OSError, *redis_errors()) as error:
        # Redis is down: batch nothing, so each reader takes its own (degrading) path:
        # sessions and users from the database, the throttle from a per-process counter.
        rate_limited_log.warning("cache_batch.unavailable", error=type(error).__name__)
        return None
    answered = {key: raw for key, raw in zip(asked, replies.pop(0) if asked else (), strict=True) if raw is not None}
    if answered:
        copies.keep(answered, epoch)
        raw_by_key.update(answered)
    pairs = zip(keys, made, strict=True)
    values = {key: backend.decode(raw_by_key[made_key]) for key, made_key in pairs if made_key in raw_by_key}
    counts = {key: int(n) for (key, _), n in zip(counters, replies, strict=True)}
    return values, counts


def _send(pool: Any, commands: list[tuple]) -> list[Any]:
    """The replies to `commands`, written in one go on one pooled connection (what a redis-py
    pipeline without a transaction sends), without the pipeline's command stack and per-command
    bookkeeping: ~20 µs of a serving request's ~60 µs round trip (docs/benchmarks/storefront.md
    "Serving APIs, round 3"). A connection that failed midway (an error reply, a timeout) may
    still hold unread replies, so it is dropped, not given back as it is."""
    if not commands:
        return []
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        return [connection.read_response() for _ in commands]
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


@contextmanager
def cache_batch(*, keys: Iterable[str] = (), counters: Iterable[tuple[str, int]] = ()) -> Iterator[None]:
    """Read `keys` and increment `counters` ((key, expiry seconds)) now, in one round trip."""
    keys = list(dict.fromkeys(keys))
    fetched = _fetch(keys, list(counters))
    if fetched is None:  # Redis down: nothing is batched, readers ask (and degrade) themselves
        keys, fetched = [], ({}, {})
    values, counts = fetched
    batch = {"values": values, "keys": set(keys), "counts": counts}
    token = _current.set(batch)
    try:
        yield
    finally:
        _current.reset(token)
        # A count nobody used was taken on a wrong guess (say a forged session key naming another
        # user, or a window that ended mid-request): give it back.
        for key in batch["counts"]:
            try:
                cache.decr(key)
            except Exception as error:  # expired, or the cache is down: the window ends soon anyway
                logger.debug("cache_batch.count_not_returned error=%s", type(error).__name__)


def batched_value(key: str) -> Any:
    """The batched value of `key` (None when the cache had none), or MISSING if not batched."""
    batch = _current.get()
    if batch is None or key not in batch["keys"]:
        return MISSING
    return batch["values"].get(key)


def batched_count(key: str) -> int | None:
    """The counter value the batch already incremented for `key`, once; None if not batched."""
    batch = _current.get()
    if batch is None:
        return None
    return batch["counts"].pop(key, None)


def batched_forget(key: str) -> None:
    """A write in this request changed `key`: later reads must go to the cache again."""
    batch = _current.get()
    if batch is not None:
        batch["keys"].discard(key)
        batch["values"].pop(key, None)
