"""Rate-limit counts handed out from blocks each process reserves in the shared cache.

A fixed-window counter (ecommerce/api/throttling.py) cost one Redis round trip per request: on
the 2-core reference box ~100-140 µs of client CPU plus Redis's own, the largest single cost of a
cached serving answer (docs/benchmarks/storefront.md "Round 4"). Instead a process reserves a
block of counts with one INCRBY and hands them out locally, in order. A request's count is still
its position in the window among everything reserved: the block (T - b, T] where T is INCRBY's
answer. A request is allowed when its count is within the limit, as before, so **a limit is
never exceeded**: every count handed out was reserved in the shared counter first.

The price runs the other way: counts one process reserved and has not used yet are invisible to
the others, so a client whose requests land on several processes can be refused up to
(processes - 1) x one block early. Blocks are small where that matters: a block is a 32nd of
what was left of the limit at the process's last reservation (at most MAX_BLOCK), so limits up to
63 per window, and the last stretch of any limit, reserve one count per request (exact, as
before). Once a process has seen its client past the limit, the rest of that window is refused
without asking again.

When the shared cache is down, counter_increment counts in this process (fail open, logged).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from .cache_batch import counter_increment

MAX_BLOCK = 64
BLOCK_SHARE = 32  # a block is 1/BLOCK_SHARE of what was left at the last reservation
MAX_KEYS = 10_000  # windows remembered per process; ended ones are dropped first


class _Block:
    """The unused counts a process holds for one key: ranges [next, last] (threads may reserve
    side by side), the highest count reserved, and when the key expires."""

    __slots__ = ("expires_at", "ranges", "top")

    def __init__(self, expires_at: float) -> None:
        self.ranges: deque[list[int]] = deque()
        self.top = 0
        self.expires_at = expires_at


class CounterLeases:
    """One process's reserved blocks, per counter key (the key names the client and the window)."""

    def __init__(self) -> None:
        self._blocks: dict[str, _Block] = {}
        self._lock = threading.Lock()

    def count(self, key: str, expiry: int, limit: int) -> int:
        """This request's count in the window of `key` (it is allowed when count <= limit)."""
        now = time.monotonic()
        with self._lock:
            block = self._blocks.get(key)
            if block is not None and now >= block.expires_at:
                block = None
            left = limit
            if block is not None:
                while block.ranges:
                    counts = block.ranges[0]
                    count = counts[0]
                    counts[0] += 1
                    if counts[0] > counts[1]:
                        block.ranges.popleft()
                    return count
                if block.top > limit:  # already past the limit in this window: refuse, no round trip
                    return block.top + 1
                left = limit - block.top
        size = max(1, min(MAX_BLOCK, left // BLOCK_SHARE))
        top = counter_increment(key, expiry, size)
        first = top - size + 1
        with self._lock:
            block = self._blocks.get(key)
            if block is None or now >= block.expires_at:
                if len(self._blocks) >= MAX_KEYS:
                    self._drop_expired(now)
                block = self._blocks[key] = _Block(now + expiry)
            if size > 1:  # beside any block another thread reserved meanwhile: no count is lost
                block.ranges.append([first + 1, top])
            block.top = max(block.top, top)
        return first

    def _drop_expired(self, now: float) -> None:
        for key in [key for key, block in self._blocks.items() if block.expires_at <= now]:
            del self._blocks[key]
        if len(self._blocks) >= MAX_KEYS:  # a flood of distinct clients in one window
            self._blocks.clear()

    def forget(self) -> None:
        """Drop every reserved block (tests; the unused counts simply stay reserved)."""
        with self._lock:
            self._blocks.clear()


leases = CounterLeases()


def _after_fork_in_child() -> None:
    # Counts the parent reserved are the parent's to hand out: a child handing them out too
    # would let a client past its limit. Fresh lock too (another thread may have held it).
    leases._lock = threading.Lock()
    leases._blocks = {}


os.register_at_fork(after_in_child=_after_fork_in_child)
