"""Where served impressions wait for the bulk flush, and the budget reservations of CPM ads.

Serving never writes to the database (shared/ARCHITECTURE.md). One serve request makes ONE call
here, `reserve_and_push`: for each winner it reserves the CPM charge against the campaign's
daily and total budget (an atomic counter per campaign-day and per campaign) and, when the
reservation fits (CPC ads always fit: they pay at the click), appends the impression record
to the buffer. The flush task (advertising.flush_impressions) pops records, bulk-inserts them
and settles the CPM charges into Campaign spend (services.impressions_flush).

Backends (settings.ADS_BUFFER):
- "redis": a Redis list plus integer counters in micro-units of the shop currency, in the shared
  cache's Redis, all in one Lua script (one round trip, atomic: 50 concurrent requests cannot
  reserve past a budget);
- "memory": the same in this process behind a lock (tests; a one-process setup with its own
  flusher);
- "direct": nothing buffered; the caller charges and inserts at once (the embedded default
  without a shared cache, and what a request does when Redis does not answer).

The counters only ever grow during a day (settlement does not give reservations back), so
"reserved today" is every CPM charge of the day, settled or not. A missing counter (first use
of the day, or Redis lost its data) starts from the spend the live snapshot saw; the settlement's
conditional UPDATE stays the database's last word on the budget.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from ecommerce.resilience import rate_limited_log

logger = logging.getLogger(__name__)

BUFFER_KEY = "advertising:impression_buffer"
MICRO = Decimal("0.000001")  # money columns have 6 decimal places: counters count these units
DAY_KEY_TTL = 2 * 24 * 3600  # a day's counter outlives its day by one (late settlements read none)
TOTAL_KEY_TTL = 40 * 24 * 3600  # refreshed on every reservation of a live campaign


def to_micro(amount: Decimal) -> int:
    return int((amount / MICRO).to_integral_value())


@dataclass(frozen=True)
class Reservation:
    """One winner's ask: reserve `amount` (0 for CPC) and buffer `record` if it fits."""

    campaign_id: int
    day: str  # local date, ISO
    amount: Decimal
    daily_budget: Decimal
    total_budget: Decimal
    spend_today: Decimal  # what the live snapshot saw: the counters' starting point
    spend_total: Decimal
    record: dict[str, Any]


class BufferUnavailable(Exception):
    """The buffer's store did not answer: the caller writes directly instead."""


def backend_name() -> str:
    return _backend()[0]


def _backend() -> tuple[str, Any]:
    """(the backend's name, the django-redis client when it is "redis", else None)."""
    name = str(getattr(settings, "ADS_BUFFER", "auto") or "auto").lower()
    if name not in {"auto", "redis", "memory", "direct"}:
        raise ValueError(f"ADS_BUFFER must be auto, redis, memory or direct, not {name!r}")
    if name in {"auto", "redis"}:
        client = _redis()
        if client is not None:
            return "redis", client
        return ("direct" if name == "auto" else "redis"), None
    return name, None


def _send(pool: Any, commands: list[tuple]) -> list[Any]:
    from ecommerce.cache_batch import _send

    return _send(pool, commands)


def _redis():
    from ecommerce.cache_batch import _redis_client

    return _redis_client()


def _redis_errors() -> tuple[type[BaseException], ...]:
    from ecommerce.cache_batch import redis_errors

    return (OSError, *redis_errors())


# KEYS: the rate-limit counter, the live-snapshot version, the buffer list, then per winner its
# day counter and total counter. ARGV: the counter's expiry and limit (0: no counter), then per
# winner 6 values: amount, daily budget, total budget, day start, total start (all micro-units)
# and the record (JSON). Returns {count, version, 1/0 per winner: reserved and buffered or not};
# over the rate limit nothing is reserved or buffered.
_RESERVE_LUA = """
local count = 0
if tonumber(ARGV[2]) > 0 then
  count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
end
local out = {count, redis.call('GET', KEYS[2]) or false}
if tonumber(ARGV[2]) > 0 and count > tonumber(ARGV[2]) then return out end
local n = (#ARGV - 2) / 6
for i = 0, n - 1 do
  local a = tonumber(ARGV[i * 6 + 3])
  local ok = 1
  if a > 0 then
    local dk, tk = KEYS[i * 2 + 4], KEYS[i * 2 + 5]
    redis.call('SET', dk, ARGV[i * 6 + 6], 'NX', 'EX', DAY_TTL)
    redis.call('SET', tk, ARGV[i * 6 + 7], 'NX', 'EX', TOTAL_TTL)
    local d = tonumber(redis.call('GET', dk))
    local t = tonumber(redis.call('GET', tk))
    if d + a <= tonumber(ARGV[i * 6 + 4]) and t + a <= tonumber(ARGV[i * 6 + 5]) then
      redis.call('INCRBY', dk, a)
      redis.call('INCRBY', tk, a)
      redis.call('EXPIRE', tk, TOTAL_TTL)
    else
      ok = 0
    end
  end
  if ok == 1 then redis.call('RPUSH', KEYS[3], ARGV[i * 6 + 8]) end
  out[#out + 1] = ok
end
return out
""".replace("DAY_TTL", str(DAY_KEY_TTL)).replace("TOTAL_TTL", str(TOTAL_KEY_TTL))

# Take up to ARGV[1] records off the front of the list, atomically.
_POP_LUA = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then redis.call('LTRIM', KEYS[1], #items, -1) end
return items
"""


def _day_key(campaign_id: int, day: str) -> str:
    return f"advertising:reserved:{campaign_id}:{day}"


def _total_key(campaign_id: int) -> str:
    return f"advertising:reserved:{campaign_id}:total"


class _Memory:
    """The Redis semantics in one process (a list and counters behind a lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[str] = []
        self.counters: dict[str, int] = {}

    def reserve_and_push(self, asks: list[Reservation]) -> list[bool]:
        out = []
        with self.lock:
            for ask in asks:
                amount = to_micro(ask.amount)
                if amount > 0:
                    dk, tk = _day_key(ask.campaign_id, ask.day), _total_key(ask.campaign_id)
                    d = self.counters.setdefault(dk, to_micro(ask.spend_today))
                    t = self.counters.setdefault(tk, to_micro(ask.spend_total))
                    if d + amount > to_micro(ask.daily_budget) or t + amount > to_micro(ask.total_budget):
                        out.append(False)
                        continue
                    self.counters[dk], self.counters[tk] = d + amount, t + amount
                self.items.append(json.dumps(ask.record))
                out.append(True)
        return out

    def pop(self, limit: int) -> list[str]:
        with self.lock:
            taken, self.items = self.items[:limit], self.items[limit:]
        return taken

    def requeue(self, items: list[str]) -> None:
        with self.lock:
            self.items[:0] = items

    def length(self) -> int:
        return len(self.items)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.counters.clear()


memory = _Memory()


@dataclass(frozen=True)
class RateCounter:
    """The request's rate-limit window counter (ecommerce.api.throttling's key and expiry)."""

    key: str
    expiry: int
    limit: int


@dataclass(frozen=True)
class Outcome:
    shown: list[bool]
    throttled: bool = False
    version: str | None = None  # the live-snapshot version the store holds now (None: unknown)


def reserve_and_push(asks: list[Reservation], *, counter: RateCounter | None = None, version_key: str = "") -> Outcome:
    """Count the request against its rate limit, read the live-snapshot version, and reserve and
    buffer each ask: ONE round trip to Redis. Raises BufferUnavailable if the store is down."""
    name, backend = _backend()  # one lookup of the cache client (~5 µs each through the proxy)
    if name == "memory":
        return local_outcome(asks, counter, version_key, memory.reserve_and_push)
    if name != "redis":
        raise BufferUnavailable(name)
    if backend is None:
        raise BufferUnavailable("no redis cache")
    keys = [
        backend.make_key(counter.key if counter else "advertising:no-counter"),
        backend.make_key(version_key or "advertising:no-version"),
        backend.make_key(BUFFER_KEY),
    ]
    args: list[Any] = [counter.expiry if counter else 0, counter.limit if counter else 0]
    for ask in asks:
        keys += [backend.make_key(_day_key(ask.campaign_id, ask.day)), backend.make_key(_total_key(ask.campaign_id))]
        args += [
            to_micro(ask.amount),
            to_micro(ask.daily_budget),
            to_micro(ask.total_budget),
            to_micro(ask.spend_today),
            to_micro(ask.spend_total),
            json.dumps(ask.record),
        ]
    try:
        # One command on one pooled connection, without redis-py's per-call machinery (as the
        # serving APIs' cache batch sends, ecommerce/cache_batch.py).
        (replies,) = _send(
            backend.get_client(write=True).connection_pool, [("EVAL", _RESERVE_LUA, len(keys), *keys, *args)]
        )
    except _redis_errors() as error:
        rate_limited_log.warning("advertising.buffer_unavailable", error=type(error).__name__)
        raise BufferUnavailable(type(error).__name__) from error
    count, raw_version, *oks = replies
    throttled = counter is not None and int(count) > counter.limit
    version = backend.decode(raw_version) if raw_version else None
    return Outcome(shown=[bool(int(r)) for r in oks] if not throttled else [], throttled=throttled, version=version)


def local_outcome(asks, counter, version_key, reserve) -> Outcome:
    """The same contract without the Redis script: the throttle's own counter and cache read."""
    from django.core.cache import cache

    from ecommerce.cache_batch import counter_increment

    if counter is not None and counter_increment(counter.key, counter.expiry) > counter.limit:
        return Outcome(shown=[], throttled=True)
    version = cache.get(version_key) if version_key else None
    return Outcome(shown=reserve(asks) if asks else [], version=version)


def pop(limit: int) -> list[dict[str, Any]]:
    """Take up to `limit` buffered records (oldest first). Empty when the store is down."""
    name = backend_name()
    if name == "memory":
        raw = memory.pop(limit)
    elif name == "redis" and (backend := _redis()) is not None:
        try:
            raw = backend.get_client(write=True).eval(_POP_LUA, 1, backend.make_key(BUFFER_KEY), limit)
        except _redis_errors() as error:
            rate_limited_log.warning("advertising.buffer_unavailable", error=type(error).__name__)
            return []
    else:
        return []
    return [json.loads(item) for item in raw]


def requeue(records: list[dict[str, Any]]) -> None:
    """Put records back (the insert failed): the next flush tries them again."""
    if not records:
        return
    items = [json.dumps(r) for r in records]
    if backend_name() == "memory":
        memory.requeue(items)
        return
    backend = _redis()
    if backend is None:
        return
    try:
        backend.get_client(write=True).lpush(backend.make_key(BUFFER_KEY), *reversed(items))
    except _redis_errors():
        logger.exception("advertising.requeue_failed", extra={"n": len(items)})
        raise


def length() -> int:
    """Records waiting (for the health view and tests)."""
    name = backend_name()
    if name == "memory":
        return memory.length()
    backend = _redis() if name == "redis" else None
    if backend is None:
        return 0
    try:
        return int(backend.get_client(write=False).llen(backend.make_key(BUFFER_KEY)))
    except _redis_errors():
        return 0
