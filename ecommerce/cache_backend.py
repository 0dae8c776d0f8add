"""django-redis cache that degrades instead of failing when Redis is down (issue 11).

Settings choose it for every redis:// CACHE_URL. Compared with django-redis's own
IGNORE_EXCEPTIONS it adds:
- a circuit breaker on the connection (ecommerce/resilience.py), so a blackholed Redis costs one
  socket timeout per process every BREAKER_SECONDS instead of one per cache call;
- no retries inside redis-py (its default retries a failed command with backoff: seconds per call);
- counters (`incr`/`decr`) raise CacheUnavailable instead of returning None, so the rate limiter
  can fall back to a per-process count instead of comparing None with a number;
- writes that could not reach Redis are remembered and their keys deleted once Redis answers
  again: a partitioned (not restarted) Redis still holds the old session or user row, and must
  not serve it after a logout or a change made during the outage.
Reads return the default (a miss), so every caller goes to the source: sessions and users to the
database, recommendation and ad caches to their selectors.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.retry import Retry

from .cache_copies import copies
from .resilience import Breaker, CacheUnavailable, breaker_for, rate_limited_log

# Keys of lost writes kept per process; beyond that the whole cache is cleared on recovery
# (a cache holds nothing that cannot be rebuilt; sessions are in the database too).
MAX_LOST_WRITES = 10_000


def _breaker_name(host: Any, port: Any, db: Any) -> str:
    return f"cache:{host}:{port}/{db}"


class BreakerConnection(redis.connection.Connection):
    """A redis-py connection that refuses at once while its server's breaker is open."""

    @property
    def breaker(self) -> Breaker:
        return breaker_for(_breaker_name(self.host, self.port, self.db))

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        if self._sock:
            return None
        breaker = self.breaker
        if not breaker.allow():
            raise redis.exceptions.ConnectionError("Redis marked unavailable (circuit breaker open)")
        try:
            result = super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
            breaker.failure(error)
            raise
        breaker.success()
        return result

    def send_packed_command(self, command, check_health: bool = True):
        try:
            return super().send_packed_command(command, check_health=check_health)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            self.breaker.failure(error)
            raise

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            self.breaker.failure(error)
            raise


class _LostWrites:
    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.overflow = False
        self.lock = threading.Lock()


_lost_registry: dict[str, _LostWrites] = {}
_registry_lock = threading.Lock()


class BreakerConnectionPool(redis.ConnectionPool):
    """OPTIONS["CONNECTION_POOL_CLASS"]: plain TCP connections get the breaker; no retries.

    redis-py retries a failed command (with backoff) by default: against a dead Redis that turns
    one cache call into seconds. The request degrades instead; the breaker decides when to retry.
    """

    def __init__(self, connection_class=redis.connection.Connection, **kwargs: Any) -> None:
        if connection_class is redis.connection.Connection:
            connection_class = BreakerConnection
        kwargs["retry"] = Retry(NoBackoff(), 0)
        super().__init__(connection_class=connection_class, **kwargs)


class ResilientRedisCache(RedisCache):
    """RedisCache whose outages look like misses (reads) or no-ops (writes), never errors."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._ignore_exceptions = True
        self._log_ignored_exceptions = False  # the breaker logs, rate-limited
        # Django makes one cache object per thread: lost writes are shared per server.
        with _registry_lock:
            self._lost_writes = _lost_registry.setdefault(str(server), _LostWrites())

    def _breaker(self) -> Breaker | None:
        """The breaker of the (first) server, as BreakerConnection names it; None for sockets."""
        if not hasattr(self, "_breaker_cached"):
            server = self._server if isinstance(self._server, str) else list(self._server)[0]
            server = server.split(",")[0]
            try:
                options = redis.connection.parse_url(server)
            except ValueError:
                options = {}
            self._breaker_cached = (
                breaker_for(
                    _breaker_name(options.get("host", "localhost"), options.get("port", 6379), options.get("db", 0))
                )
                if server.startswith("redis://")
                else None
            )
        return self._breaker_cached

    # -- lost writes --------------------------------------------------------------------------
    def _remember_lost(self, keys: list[Any], version: int | None) -> None:
        rate_limited_log.warning("cache.write_lost", keys=len(keys))
        lost = self._lost_writes
        with lost.lock:
            if lost.overflow:
                return
            for key in keys:
                lost.keys.add(str(self.client.make_key(key, version=version)))
            if len(lost.keys) > MAX_LOST_WRITES:
                lost.keys.clear()
                lost.overflow = True

    def _replay_lost(self) -> None:
        """Redis answers again: drop every key written (or deleted) while it did not."""
        lost = self._lost_writes
        if not lost.keys and not lost.overflow:  # the common case: nothing to do, no lock
            return
        breaker = self._breaker()
        if breaker is not None and breaker.is_open:  # still down: don't copy the set on every call
            return
        with lost.lock:
            keys, overflow = list(lost.keys), lost.overflow
            lost.keys, lost.overflow = set(), False
        try:
            redis_client = self.client.get_client(write=True)
            if overflow:
                redis_client.flushdb()
            elif keys:
                redis_client.delete(*keys)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            with lost.lock:  # still down: try again on a later call
                lost.keys.update(keys)
                lost.overflow = lost.overflow or overflow
            return
        rate_limited_log.warning("cache.lost_writes_replayed", keys=len(keys), flushed=overflow)

    def _write(self, method: str, keys: list[Any], version: int | None, args, kwargs, default):
        self._replay_lost()
        if copies.raw:  # this process's copies of what it writes are old now, whatever Redis answers
            copies.forget(str(self.client.make_key(key, version=version)) for key in keys)
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except ConnectionInterrupted:
            self._remember_lost(keys, version)
            return default

    # -- writes: remember what did not arrive ---------------------------------------------------
    def set(self, key, *args, **kwargs):
        return self._write("set", [key], kwargs.get("version"), (key, *args), kwargs, False)

    def add(self, key, *args, **kwargs):
        return self._write("add", [key], kwargs.get("version"), (key, *args), kwargs, False)

    def delete(self, key, *args, **kwargs):
        return self._write("delete", [key], kwargs.get("version"), (key, *args), kwargs, False)

    def set_many(self, data, *args, **kwargs):
        failed = self._write("set_many", list(data), kwargs.get("version"), (data, *args), kwargs, list(data))
        return failed or []

    def delete_many(self, keys, *args, **kwargs):
        keys = list(keys)
        return self._write("delete_many", keys, kwargs.get("version"), (keys, *args), kwargs, 0)

    def touch(self, key, *args, **kwargs):
        return self._write("touch", [key], kwargs.get("version"), (key, *args), kwargs, False)

    def clear(self, *args, **kwargs):
        copies.forget_all()  # Redis reports the flush too; this process need not wait for it
        return super().clear(*args, **kwargs)

    # -- counters: the caller must know ---------------------------------------------------------
    def incr(self, key, *args, **kwargs):
        self._replay_lost()
        if copies.raw:  # the recommendations generation is a counter with copies
            copies.forget([str(self.client.make_key(key, version=kwargs.get("version")))])
        try:
            return self.client.incr(key, *args, **kwargs)
        except ConnectionInterrupted as error:
            self._remember_lost([key], kwargs.get("version"))
            raise CacheUnavailable("cache unavailable") from error

    def decr(self, key, *args, **kwargs):
        self._replay_lost()
        if copies.raw:
            copies.forget([str(self.client.make_key(key, version=kwargs.get("version")))])
        try:
            return self.client.decr(key, *args, **kwargs)
        except ConnectionInterrupted as error:
            self._remember_lost([key], kwargs.get("version"))
            raise CacheUnavailable("cache unavailable") from error

    # -- reads: a miss (RedisCache already returns the default when ignoring exceptions) --------
    def get(self, key, default=None, version=None, client=None):
        self._replay_lost()
        return super().get(key, default=default, version=version, client=client)

    def get_many(self, *args, **kwargs):
        self._replay_lost()
        return super().get_many(*args, **kwargs)

    def has_key(self, *args, **kwargs):
        self._replay_lost()
        return bool(super().has_key(*args, **kwargs))

    def ping(self) -> bool:
        """True when Redis answers now (readiness checks); never raises."""
        try:
            return bool(self.client.get_client(write=False).ping())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionInterrupted):
            return False
