"""Fail soft when Redis (cache) or the broker is gone: circuit breakers and dependency errors.

Redis and the broker make things faster, never possible (shared/ARCHITECTURE.md). Two ways they
go away, and both must cost a request milliseconds, not seconds:
- refused (the server is down, the port closed): the connect fails at once;
- blackholed (a stopped process, a partition): the connect or the reply never comes, so every
  call waits for its socket timeout.
A breaker per dependency remembers a failure for BREAKER_SECONDS: meanwhile calls fail at once
without touching the network, then one call tries again. With ~10 cache calls per page, a
blackholed Redis would otherwise cost 10 socket timeouts per page.

Logging is rate-limited (one line when a breaker opens, one when it closes, at most one per
LOG_EVERY_SECONDS in between): an outage must not flood the log with a traceback per call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Long enough that a blackholed Redis costs one socket timeout per process every few seconds,
# short enough that a recovered Redis is used again before anyone notices.
BREAKER_SECONDS = 5.0
LOG_EVERY_SECONDS = 60.0


class DependencyUnavailable(Exception):
    """A backing service (cache, broker) is unreachable; the caller degrades or answers 503."""

    service = "dependency"
    retry_after = 10


class CacheUnavailable(DependencyUnavailable):
    service = "cache"


class BrokerUnavailable(DependencyUnavailable):
    service = "broker"


class RateLimitedLog:
    """Log one line per `every` seconds per event name, counting what it skipped."""

    def __init__(self, every: float = LOG_EVERY_SECONDS) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, event: str, **extra: object) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(event)
            if last is not None and now - last < self.every:
                self._skipped[event] = self._skipped.get(event, 0) + 1
                return False
            self._last[event] = now
            skipped = self._skipped.pop(event, 0)
        logger.warning(event, extra={**extra, "skipped": skipped})
        return True


rate_limited_log = RateLimitedLog()


class Breaker:
    """Per-process circuit breaker: open for `seconds` after a failure, then let one call try."""

    def __init__(self, name: str, seconds: float = BREAKER_SECONDS) -> None:
        self.name = name
        self.seconds = seconds
        self._open_until = 0.0
        self._opened = False  # failed since the last success (for the recovery log/callbacks)
        self._lock = threading.Lock()
        self._on_recover: list[Callable[[], None]] = []

    def allow(self) -> bool:
        return time.monotonic() >= self._open_until

    @property
    def is_open(self) -> bool:
        return not self.allow()

    def failure(self, error: BaseException | None = None) -> None:
        with self._lock:
            first = not self._opened
            self._opened = True
            self._open_until = time.monotonic() + self.seconds
        if first:
            logger.warning(
                "resilience.breaker_open",
                extra={"service": self.name, "error": type(error).__name__ if error else None},
            )
        else:
            rate_limited_log.warning("resilience.still_unavailable", service=self.name)

    def success(self) -> None:
        if not self._opened:  # the common case: no lock, no work
            return
        with self._lock:
            if not self._opened:
                return
            self._opened = False
            self._open_until = 0.0
        logger.warning("resilience.breaker_closed", extra={"service": self.name})
        for callback in list(self._on_recover):
            callback()

    def on_recover(self, callback: Callable[[], None]) -> None:
        self._on_recover.append(callback)

    def reset(self) -> None:
        """Forget any failure (tests; a process that knows the service is back)."""
        with self._lock:
            self._opened = False
            self._open_until = 0.0


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(name: str) -> Breaker:
    with _breakers_lock:
        if name not in _breakers:
            _breakers[name] = Breaker(name)
        return _breakers[name]


def dependency_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "a backing service is down", not "this code is wrong"."""
    from django.db import InterfaceError, OperationalError

    errors: list[type[BaseException]] = [DependencyUnavailable, OperationalError, InterfaceError]
    try:
        import redis.exceptions

        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis is in requirements.txt
        pass
    try:
        from django_redis.exceptions import ConnectionInterrupted

        errors.append(ConnectionInterrupted)
    except ImportError:  # pragma: no cover
        pass
    try:
        import kombu.exceptions

        errors.append(kombu.exceptions.OperationalError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def is_dependency_error(exc: BaseException) -> bool:
    return isinstance(exc, dependency_errors())


def dependency_name(exc: BaseException) -> str:
    """Which service failed, for the JSON error body (no hosts or credentials)."""
    if isinstance(exc, DependencyUnavailable):
        return exc.service
    module = type(exc).__module__
    if module.startswith(("redis", "django_redis")):
        return "cache"
    if module.startswith(("kombu", "amqp", "celery")):
        return "broker"
    return "database"
