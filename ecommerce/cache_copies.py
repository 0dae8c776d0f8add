"""Per-process copies of hot cache values, kept in step by Redis's invalidation messages.

Why: a signed-in serving request reads its session, its user row, the recommendations generation
and its cached answer in one round trip (ecommerce/cache_batch.py); a signed-in page reads those
plus its shell, the catalogue generation, the cart summary and its widgets. That round trip was
the largest cost left in such a request (docs/benchmarks/storefront.md, round 9). These values
change rarely and are read on every request. So each process keeps the raw bytes it read, and Redis tells it when any
of them changes. This is Redis's "client-side caching" in broadcast mode: `CLIENT TRACKING on BCAST
PREFIX ...` makes Redis send the name of every changed key under the tracked prefixes to one
connection of ours (RESP2 pub/sub on `__redis__:invalidate`, Redis 6.0 and later). redis-py's own
client-side caching cannot be used: redis-py 8 refuses it below Redis 7.4.

How exact:
- Before a copy is served, the invalidations already received are read and applied (a
  non-blocking poll, ~3 µs). Redis queues a write's invalidations in the same event-loop turn in
  which it answers the write. So a logout's DEL is normally seen by the next request in every
  process.
- In the worst case (a TCP retransmit, a backlogged socket: the invalidation reaches this process
  after the writer's answer reached its client), STALE_AFTER_SECONDS bounds it. The connection is
  PINGed every HEARTBEAT_SECONDS; a PING's answer comes after every invalidation Redis queued
  before it, so once it is read, the copies are as exact as Redis was when the PING was sent.
  Copies are served only while that moment is less than STALE_AFTER_SECONDS ago. The same bound
  covers a Redis that stops answering without closing (frozen, partitioned): it sends no
  invalidations and no PING answers.
- A value read from Redis is kept only if nothing was applied since the poll that preceded the
  read (an epoch counter): in a threaded server another thread's poll may have used up the
  invalidation of a write that came after the read.
- This process's own writes through the cache drop its copy at once (ecommerce/cache_backend.py).
- When the tracking connection fails, when Redis closes it (its output-buffer limit, a restart) or
  sends "flush everything" (FLUSHDB/FLUSHALL), every copy is dropped. Reads then go to Redis until
  tracking is set up again (tried again after RETRY_SECONDS).
- Tracking is trusted only after Redis has reported a probe write: a server or proxy that says OK
  to CLIENT TRACKING but reports nothing is never used for copies.

Copies are the raw bytes Redis returned, decoded per request: a request that changes what it read
(a session dict) cannot change the copy. At most MAX_COPIES values and MAX_COPY_BYTES per process;
a full table is cleared.
Only keys under the prefixes registered with `track_prefix` are copied; tracking is set up again when
a prefix is registered later.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .resilience import rate_limited_log

logger = logging.getLogger(__name__)

CHANNEL = "__redis__:invalidate"
MAX_COPIES = 10_000
MAX_COPY_BYTES = 64 * 1024 * 1024  # page shells are tens of kB: bound the bytes too
RETRY_SECONDS = 5.0
HEARTBEAT_SECONDS = 0.2
STALE_AFTER_SECONDS = 1.0
PROBE_SECONDS = 1.0  # how long a new tracking connection may take to report the probe write

_registered: list[str] = []  # raw cache keys' prefixes (before the cache's own key prefix)


def track_prefix(prefix: str) -> None:
    """Let values under `prefix` be copied: call it where the keys are defined, at import."""
    if prefix not in _registered:
        _registered.append(prefix)


def _made_prefixes(backend: Any) -> tuple[str, ...] | None:
    """The registered prefixes as Redis sees them (the cache's key function applied), without overlaps.

    None when the key function does not keep prefixes (a custom KEY_FUNCTION): nothing is copied.
    """
    made = []
    for prefix in _registered:
        full = backend.make_key(prefix)
        if not backend.make_key(prefix + "x").startswith(full):
            return None
        made.append(full)
    # Redis refuses overlapping BCAST prefixes; the shorter one covers the longer.
    made.sort(key=len)
    kept: list[str] = []
    for full in made:
        if not any(full.startswith(shorter) for shorter in kept):
            kept.append(full)
    return tuple(kept)


class _Copies:
    """The copies of one process and the tracking connection that keeps them exact."""

    def __init__(self) -> None:
        self.raw: dict[str, bytes] = {}
        self.bytes_kept = 0  # bytes stored since the table was last emptied (dropped copies included)
        self.lock = threading.Lock()  # threaded servers: one tracking connection per process
        self.connection: Any = None
        self.server: tuple | None = None  # the Redis server the connection tracks
        self.pid: int | None = None
        self.prefixes: tuple[str, ...] = ()  # what tracking was set up for
        self.registered_count = 0
        self.retry_at = 0.0
        self.last_heard = 0.0
        self.last_ping = 0.0
        self.epoch = 0  # bumped by whatever can make a value read from Redis older than its copy

    # -- the connection -----------------------------------------------------------------------
    def reset(self, *, retry_in: float = 0.0) -> None:
        """Drop every copy and the connection; set tracking up again after `retry_in` seconds."""
        self.raw.clear()
        self.epoch += 1
        connection, self.connection = self.connection, None
        if connection is not None and self.pid == os.getpid():  # a forked child must not close its parent's socket
            try:
                connection.disconnect()
            except Exception as error:  # closing a broken socket: nothing left to do
                logger.debug("cache_copies.disconnect_failed error=%s", type(error).__name__)
        self.retry_at = time.monotonic() + retry_in

    def _connect(self, backend: Any, pool: Any) -> bool:
        prefixes = _made_prefixes(backend)
        if not prefixes:  # nothing registered yet, or a key function that hides prefixes
            self.retry_at = time.monotonic() + RETRY_SECONDS
            return False
        # Pub/sub replies are plain arrays in RESP2; a RESP3 connection would get them as pushes.
        connection = pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})
        try:
            connection.connect()
            connection.send_command("CLIENT", "ID")
            client_id = connection.read_response()
            arguments = [argument for prefix in prefixes for argument in ("PREFIX", prefix)]
            connection.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *arguments)
            if connection.read_response() not in (b"OK", "OK"):
                raise ConnectionError("CLIENT TRACKING was refused")
            connection.send_command("SUBSCRIBE", CHANNEL)
            connection.read_response()  # ["subscribe", CHANNEL, 1]: from here on every change is reported
            _probe(connection, backend.get_client(write=True), f"{prefixes[0]}copies-probe:{client_id}")
        except BaseException:
            connection.disconnect()
            raise
        self.connection, self.pid, self.server, self.prefixes = connection, os.getpid(), _server(pool), prefixes
        self.registered_count = len(_registered)
        self.raw.clear()
        self.epoch += 1
        self.last_heard = self.last_ping = time.monotonic()
        return True

    def ready(self, backend: Any) -> bool:
        """True when copies may be served and stored: tracking is up and every message so far applied."""
        if not settings.CACHE_LOCAL_COPIES:
            return False
        if self.pid is not None and self.pid != os.getpid():  # forked: the socket is the parent's
            self.connection = None
            self.reset()
        pool = backend.get_client(write=True).connection_pool
        if self.connection is not None and (self.registered_count != len(_registered) or self.server != _server(pool)):
            self.reset()  # a prefix registered after setup, or another Redis behind the cache
        try:
            if self.connection is None and (time.monotonic() < self.retry_at or not self._connect(backend, pool)):
                return False
            return self._apply_pending()
        except Exception as error:  # any failure of the tracking connection: copies can't be trusted
            rate_limited_log.warning("cache_copies.tracking_lost", error=type(error).__name__)
            self.reset(retry_in=RETRY_SECONDS)
            return False

    def _apply_pending(self) -> bool:
        connection, now = self.connection, time.monotonic()
        while connection.can_read(timeout=0):
            message = connection.read_response()
            if isinstance(message, list) and len(message) == 2 and message[0] == b"pong":
                # Redis was alive when it answered the PING sent at the time the PING carries.
                self.last_heard = max(self.last_heard, float(message[1]))
                continue
            if not isinstance(message, list) or len(message) < 3 or message[0] != b"message":
                continue  # the subscription's confirmation
            keys = message[2]
            self.epoch += 1
            if keys is None:  # FLUSHDB/FLUSHALL, or Redis dropped its tracking state
                self.raw.clear()
                continue
            for key in keys:
                self.raw.pop(key.decode("utf-8", "surrogateescape"), None)
        if now - self.last_ping >= HEARTBEAT_SECONDS:
            connection.send_command("PING", repr(now))
            self.last_ping = now
        # A frozen Redis answers nothing and invalidates nothing: stop trusting copies.
        return now - self.last_heard < STALE_AFTER_SECONDS

    # -- the copies ---------------------------------------------------------------------------
    def held(self, backend: Any, made_keys: Iterable[str]) -> tuple[dict[str, bytes], int | None]:
        """(The copies of `made_keys` this process may serve now, the epoch to `keep` what Redis
        answers for the others); epoch None: tracking is not up, keep nothing. Keys as Redis names them."""
        with self.lock:
            if not self.ready(backend):
                return {}, None
            raw = self.raw
            return {key: raw[key] for key in made_keys if key in raw}, self.epoch

    def keep(self, answered: dict[str, bytes], epoch: int | None) -> None:
        """Remember what Redis answered (made key -> raw value) for the keys under tracked prefixes,
        unless anything was applied since `held` gave `epoch` (the answer may be older than that)."""
        with self.lock:
            if epoch is None or epoch != self.epoch or self.connection is None:
                return
            for made_key, value in answered.items():
                if made_key.startswith(self.prefixes):
                    if len(self.raw) >= MAX_COPIES or self.bytes_kept + len(value) > MAX_COPY_BYTES:
                        self.raw.clear()
                        self.bytes_kept = 0
                    self.raw[made_key] = value
                    self.bytes_kept += len(value)

    def forget_all(self) -> None:
        with self.lock:
            self.raw.clear()
            self.epoch += 1

    def forget(self, made_keys: Iterable[str]) -> None:
        """This process is writing `made_keys`: its copies are old from now on."""
        with self.lock:
            for key in made_keys:
                self.raw.pop(key, None)
            self.epoch += 1


def _probe(connection: Any, client: Any, key: str) -> None:
    """Write `key` and wait for its invalidation on `connection`: proof that changes are reported."""
    client.set(key, b"1", px=10_000)
    deadline = time.monotonic() + PROBE_SECONDS
    while connection.can_read(timeout=max(0.0, deadline - time.monotonic())):
        message = connection.read_response()
        reported = message[2] if isinstance(message, list) and len(message) >= 3 and message[0] == b"message" else None
        if reported is not None and key.encode() in reported:
            return
    raise ConnectionError("the tracking connection did not report the probe write")


def _server(pool: Any) -> tuple:
    kwargs = pool.connection_kwargs
    return (pool.connection_class, kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), kwargs.get("db"))


copies = _Copies()


@receiver(setting_changed)
def _reset_on_cache_settings(setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", "CACHE_LOCAL_COPIES"):
        with copies.lock:
            copies.reset()
