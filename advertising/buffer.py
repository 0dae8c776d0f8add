"""Where served impressions wait for the bulk flush, and the budget reservations of CPM ads.

Serving never writes to the database (shared/ARCHITECTURE.md). One serve request makes ONE call
here, `reserve_and_push`: for each winner it reserves the CPM charge against the campaign's
daily and total budget (a counter per campaign-day and per campaign) and, when the reservation
fits (CPC ads always fit: they pay at the click), appends the impression record to the buffer.
The flush task (advertising.flush_impressions) pops records, bulk-inserts them and settles the
CPM charges into Campaign spend (services.impressions_flush).

Backends (settings.ADS_BUFFER):
- "redis": integer counters in micro-units of the shop currency in the shared cache's Redis, which
  each process reserves from in blocks (BudgetLeases; atomic Lua: 50 concurrent requests cannot
  reserve past a budget), and a Redis list the flush task pops. A request appends its records to
  this process's spool file (advertising/spool.py), which a flusher thread ships to the list in
  bulk; rate counts come from blocks too (ecommerce/counter_leases.py). So a request makes a
  round trip only when a block runs out (docs/benchmarks/storefront.md "Round 6");
- "memory": the same in this process behind a lock, one ask at a time (tests without Redis; a
  one-process setup with its own flusher);
- "direct": nothing buffered; the caller charges and inserts at once (the embedded default
  without a shared cache, and what a request does when Redis does not answer).

The counters only ever grow during a day (settlement does not give reservations back), so
"reserved today" is every CPM charge of the day, settled or not. A missing counter (first use
of the day, or Redis lost its data) starts from the spend the live snapshot saw; the settlement's
conditional UPDATE stays the database's last word on the budget.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from ecommerce.counter_leases import leases
from ecommerce.resilience import rate_limited_log

from .spool import spool

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
    retry_after: float  # seconds until the window resets: what a throttled answer's Retry-After says


@dataclass(frozen=True)
class Outcome:
    shown: list[bool]
    throttled: bool = False
    version: str | None = None  # the live-snapshot version the store holds now (None: unknown)


def reserve_and_push(asks: list[Reservation], *, counter: RateCounter | None = None, version_key: str = "") -> Outcome:
    """Count the request against its rate limit, reserve each CPM ask's charge and spool each ask
    that fits. With Redis, usually no round trip: counts and budget come from blocks this process
    reserved earlier (one round trip per block), records go to this process's spool file
    (advertising/spool.py). The snapshot version is learnt by `live_version()`, not here (the
    argument is kept for the memory backend). Raises BufferUnavailable if Redis is needed and down."""
    name, backend = _backend()  # one lookup of the cache client (~5 µs each through the proxy)
    if name == "memory":
        return local_outcome(asks, counter, version_key, memory.reserve_and_push)
    if name != "redis":
        raise BufferUnavailable(name)
    if backend is None:
        raise BufferUnavailable("no redis cache")
    if counter is not None and leases.count(counter.key, counter.expiry, counter.limit) > counter.limit:
        return Outcome(shown=[], throttled=True)
    if not asks:
        return Outcome(shown=[])
    shown = budget_leases.take(asks, backend)
    records = [json.dumps(ask.record) for ask, ok in zip(asks, shown, strict=True) if ok]
    if records:
        try:
            spool.append(records)
        except OSError as error:  # the spool folder is full or unwritable: write directly instead
            rate_limited_log.warning("advertising.spool_unavailable", error=type(error).__name__)
            raise BufferUnavailable(type(error).__name__) from error
        spool.start_flusher(push_records)
    return Outcome(shown=shown)


# KEYS: per ask its day counter, that counter's birth mark, its total counter and birth mark.
# ARGV: per ask 7 values: the shortfall (what this process needs beyond what it holds), the block
# it would like, the daily budget, the total budget, the day and total counters' starting points
# (micro-units), and a token that marks a counter this call creates. Returns per ask: what was
# granted (0 when not even the shortfall fits; else at least the shortfall, at most what is left
# and at most a BLOCK_SHARE-th of what is left beyond it: the last stretch goes one ask at a time),
# and the two counters' birth marks (what a release must match: a counter Redis lost and recreated
# never gets back budget it did not hand out).
_BLOCK_LUA = """
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local dk, db, tk, tb = KEYS[i * 4 + 1], KEYS[i * 4 + 2], KEYS[i * 4 + 3], KEYS[i * 4 + 4]
  local need, want = tonumber(ARGV[i * 7 + 1]), tonumber(ARGV[i * 7 + 2])
  if redis.call('SET', dk, ARGV[i * 7 + 5], 'NX', 'EX', DAY_TTL) then
    redis.call('SET', db, ARGV[i * 7 + 7], 'EX', DAY_TTL)
  end
  if redis.call('SET', tk, ARGV[i * 7 + 6], 'NX', 'EX', TOTAL_TTL) then
    redis.call('SET', tb, ARGV[i * 7 + 7], 'EX', TOTAL_TTL)
  end
  local left = math.min(tonumber(ARGV[i * 7 + 3]) - tonumber(redis.call('GET', dk)),
                        tonumber(ARGV[i * 7 + 4]) - tonumber(redis.call('GET', tk)))
  local grant = 0
  if left >= need then
    grant = math.min(left, math.max(need, math.min(want, math.floor(left / SHARE))))
    redis.call('INCRBY', dk, grant)
    redis.call('INCRBY', tk, grant)
    redis.call('EXPIRE', tk, TOTAL_TTL)
    redis.call('EXPIRE', tb, TOTAL_TTL)
  end
  out[#out + 1] = grant
  out[#out + 1] = redis.call('GET', db)
  out[#out + 1] = redis.call('GET', tb)
end
return out
"""
BLOCK_SHARE = 32
BLOCK_IMPRESSIONS = 64  # a block pays for at most this many impressions at the asking price
_BLOCK_LUA = (
    _BLOCK_LUA.replace("DAY_TTL", str(DAY_KEY_TTL))
    .replace("TOTAL_TTL", str(TOTAL_KEY_TTL))
    .replace("SHARE", str(BLOCK_SHARE))
)

# Hand unused budget back (process exit): KEYS counter, birth mark pairs; ARGV amount, mark pairs.
# Only into the very counter it was reserved from (same birth mark).
_RELEASE_LUA = """
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i + 1]) == ARGV[i + 1] then redis.call('DECRBY', KEYS[i], ARGV[i]) end
end
return 1
"""


class BudgetLeases:
    """CPM budget this process reserved in the shared counters and has not spent yet.

    A reservation used to be one Redis round trip per ad request. Now a process reserves a block
    (up to BLOCK_IMPRESSIONS impressions' worth, at most a BLOCK_SHARE-th of what is left) and
    spends it locally. Every charge is still reserved in the shared counters before the ad is
    shown, so **a budget is never overspent**; the price runs the other way: budget one process
    holds is invisible to the others, so a campaign can stop up to (processes - 1) x one block
    early, and blocks shrink to single impressions over the last BLOCK_SHARE-th of a budget.
    A block belongs to its campaign, day and budgets: a changed budget starts a new block (the old
    one's rest is never spent). What a process holds at exit is handed back.
    """

    def __init__(self) -> None:
        self._held: dict[tuple, int] = {}
        self._marks: dict[tuple, tuple | None] = {}  # the counters' birth marks per lease key
        self._lock = threading.Lock()

    def take(self, asks: list[Reservation], backend: Any) -> list[bool]:
        """Whether each ask fits: spent from held blocks, else from a block reserved now (one
        round trip for every ask that needs one). Raises BufferUnavailable if Redis is down."""
        amounts = [to_micro(ask.amount) for ask in asks]
        shown = [amount <= 0 for amount in amounts]
        short: list[tuple[int, tuple, int]] = []  # (ask index, lease key, shortfall)
        with self._lock:
            for i, (ask, amount) in enumerate(zip(asks, amounts, strict=True)):
                if amount <= 0:
                    continue
                key = _lease_key(ask)
                held = self._held.get(key, 0)
                if held >= amount:
                    self._held[key] = held - amount
                    shown[i] = True
                else:
                    short.append((i, key, amount - held))
        if not short:
            return shown
        keys: list[str] = []
        args: list[Any] = []
        token = uuid.uuid4().hex
        for i, _, need in short:
            ask = asks[i]
            day_key, total_key = _day_key(ask.campaign_id, ask.day), _total_key(ask.campaign_id)
            keys += [
                backend.make_key(day_key),
                backend.make_key(day_key + ":born"),
                backend.make_key(total_key),
                backend.make_key(total_key + ":born"),
            ]
            args += [
                need,
                max(need, amounts[i] * BLOCK_IMPRESSIONS),
                to_micro(ask.daily_budget),
                to_micro(ask.total_budget),
                to_micro(ask.spend_today),
                to_micro(ask.spend_total),
                token,
            ]
        try:
            (grants,) = _send(
                backend.get_client(write=True).connection_pool, [("EVAL", _BLOCK_LUA, len(keys), *keys, *args)]
            )
        except _redis_errors() as error:
            rate_limited_log.warning("advertising.buffer_unavailable", error=type(error).__name__)
            raise BufferUnavailable(type(error).__name__) from error
        with self._lock:
            for n, (i, key, _) in enumerate(short):
                grant, marks = int(grants[n * 3]), (grants[n * 3 + 1], grants[n * 3 + 2])
                held = self._held.get(key, 0) + grant
                if grant and self._marks.setdefault(key, marks) != marks:
                    self._marks[key] = None  # blocks of two counter lives: never given back
                if held >= amounts[i]:
                    held -= amounts[i]
                    shown[i] = True
                self._held[key] = held
        return shown

    def held(self, campaign_id: int) -> int:
        """Micro-units this process holds for a campaign (tests, diagnostics)."""
        with self._lock:
            return sum(v for k, v in self._held.items() if k[0] == campaign_id)

    def release(self) -> None:
        """Give what is held back to the shared counters (process exit); best effort."""
        with self._lock:
            held, self._held = self._held, {}
            marks, self._marks = self._marks, {}
        keys: list[str] = []
        args: list[Any] = []
        name, backend = _backend()
        if name != "redis" or backend is None:
            return
        for key, micro in held.items():
            day_mark, total_mark = marks.get(key) or (None, None)
            campaign_id, day = key[0], key[1]
            for counter, mark in ((_day_key(campaign_id, day), day_mark), (_total_key(campaign_id), total_mark)):
                if micro > 0 and mark:  # no mark: a counter from before marks, or two lives
                    keys += [backend.make_key(counter), backend.make_key(counter + ":born")]
                    args += [micro, mark]
        if keys:
            try:
                backend.get_client(write=True).eval(_RELEASE_LUA, len(keys), *keys, *args)
            except _redis_errors():
                logger.warning("advertising.budget_release_failed", extra={"n": len(held)})

    def forget(self) -> None:
        """Drop what is held without giving it back (tests: the counters went with the cache)."""
        with self._lock:
            self._held.clear()
            self._marks.clear()

    def _after_fork_in_child(self) -> None:
        # The parent's blocks are the parent's: a child spending them too would overspend.
        self._lock = threading.Lock()
        self._held, self._marks = {}, {}


def _lease_key(ask: Reservation) -> tuple:
    return (ask.campaign_id, ask.day, ask.daily_budget, ask.total_budget)


budget_leases = BudgetLeases()
os.register_at_fork(after_in_child=budget_leases._after_fork_in_child)


def adopt_spool_orphans() -> int:
    """Ship the spool files of processes on this machine that died (the flush task and
    `manage.py ship_ad_spool` call it); returns how many records were shipped. Raises
    BufferUnavailable when Redis is not there to take them (the files stay)."""
    name, backend = _backend()
    if name != "redis" or backend is None:
        raise BufferUnavailable(name)
    return spool.adopt_orphans(push_records)


def push_records(lines: list[str]) -> None:
    """Append spooled records to the shared list (the flush task's input), one round trip."""
    name, backend = _backend()
    if name != "redis" or backend is None:
        raise BufferUnavailable(name)
    try:
        _send(backend.get_client(write=True).connection_pool, [("RPUSH", backend.make_key(BUFFER_KEY), *lines)])
    except _redis_errors() as error:
        raise BufferUnavailable(type(error).__name__) from error


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
            spool.ship(push_records)  # this process's spooled records first (no flusher thread: tests)
            raw = backend.get_client(write=True).eval(_POP_LUA, 1, backend.make_key(BUFFER_KEY), limit)
        except (BufferUnavailable, *_redis_errors()) as error:
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
    """Records waiting: this process's spool and the shared list (for the health view and tests;
    a shipment between the two reads may count a few records twice)."""
    name = backend_name()
    if name == "memory":
        return memory.length()
    backend = _redis() if name == "redis" else None
    if backend is None:
        return 0
    waiting = spool.pending()
    try:
        return waiting + int(backend.get_client(write=False).llen(backend.make_key(BUFFER_KEY)))
    except _redis_errors():
        return waiting


atexit.register(budget_leases.release)
