"""Rate-limit counts from blocks each process reserves (ecommerce/counter_leases.py).

Runs against the configured cache: Redis in CI, LocMem locally. Two CounterLeases objects stand
for two worker processes sharing the cache.
"""

from __future__ import annotations

import threading

from django.core.cache import cache

from ecommerce import counter_leases
from ecommerce.counter_leases import CounterLeases


def _allowed(leases: CounterLeases, key: str, limit: int, times: int) -> list[bool]:
    return [leases.count(key, 60, limit) <= limit for _ in range(times)]


def test_one_process_allows_exactly_the_limit():
    leases = CounterLeases()
    assert _allowed(leases, "lease:exact", 3000, 3001) == [True] * 3000 + [False]


def test_a_large_limit_costs_one_round_trip_per_block(monkeypatch):
    trips: list[int] = []
    real = counter_leases.counter_increment

    def counted(key, expiry, delta=1):
        trips.append(delta)
        return real(key, expiry, delta)

    monkeypatch.setattr(counter_leases, "counter_increment", counted)
    leases = CounterLeases()
    assert all(_allowed(leases, "lease:trips", 100_000, 640))
    assert trips == [counter_leases.MAX_BLOCK] * 10
    assert cache.get("lease:trips") == 640  # every count handed out was reserved first


def test_small_limits_reserve_one_count_at_a_time():
    leases = CounterLeases()
    assert _allowed(leases, "lease:small", 30, 31) == [True] * 30 + [False]
    assert cache.get("lease:small") == 31  # one reservation per request: exact, as before


def test_several_processes_never_exceed_the_limit_and_refuse_little_early():
    """Requests spread over 4 processes: never more than the limit, and not refused more than
    (processes - 1) x a block early (blocks shrink as the window fills)."""
    processes = [CounterLeases() for _ in range(4)]
    allowed = 0
    for i in range(1200):
        allowed += processes[i % 4].count("lease:spread", 60, 1000) <= 1000
    assert allowed <= 1000
    assert allowed >= 1000 - 3 * (1000 // counter_leases.BLOCK_SHARE)


def test_concurrent_threads_never_share_a_count():
    leases = CounterLeases()
    counts: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        mine = [leases.count("lease:threads", 60, 100_000) for _ in range(200)]
        with lock:
            counts.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(counts)) == 1600  # no count handed out twice
    # Counts are used in the order reserved; only the blocks the threads reserved last may hold
    # unused counts (one block per thread at most).
    reserved = cache.get("lease:threads")
    assert reserved <= 1600 + 8 * counter_leases.MAX_BLOCK
    assert set(range(1, 1601 - 8 * counter_leases.MAX_BLOCK)) <= set(counts)


def test_past_the_limit_the_window_is_refused_without_asking_again():
    leases = CounterLeases()
    assert _allowed(leases, "lease:over", 2, 3) == [True, True, False]
    shared_count = cache.get("lease:over")  # what the cache's counter holds once refused
    assert _allowed(leases, "lease:over", 2, 5) == [False] * 5
    assert cache.get("lease:over") == shared_count  # no further increment reached the cache


def test_a_new_window_is_a_new_key_and_old_blocks_are_dropped_when_full(monkeypatch):
    monkeypatch.setattr(counter_leases, "MAX_KEYS", 3)
    leases = CounterLeases()
    for window in range(5):
        assert _allowed(leases, f"lease:window:{window}", 2, 3) == [True, True, False]
    assert len(leases._blocks) <= 3
