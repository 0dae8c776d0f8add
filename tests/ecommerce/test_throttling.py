"""The counter throttle: exact under concurrency, per scope and client, resets with its window.

Runs against the configured cache: Redis in CI (several connections, as several gunicorn workers
would have), LocMem locally.
"""

from __future__ import annotations

import threading

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from ecommerce.api.throttling import CounterScopedRateThrottle


class _View:
    throttle_scope = "recommendations"


def _throttle(rate: str, now: float) -> CounterScopedRateThrottle:
    throttle = CounterScopedRateThrottle()
    throttle.THROTTLE_RATES = {"recommendations": rate}
    throttle.timer = lambda: now
    return throttle


def _request(ip: str = "10.0.0.1") -> Request:
    return Request(APIRequestFactory().get("/api/recommendations/me/", REMOTE_ADDR=ip))


def _allowed(rate: str, now: float, ip: str = "10.0.0.1") -> bool:
    return _throttle(rate, now).allow_request(_request(ip), _View())


def test_allows_exactly_the_rate_then_refuses_with_the_time_to_wait():
    now = 60 * 20_000 + 20.0  # 20 s into a minute window
    assert [_allowed("3/min", now) for _ in range(4)] == [True, True, True, False]
    refused = _throttle("3/min", now)
    assert refused.allow_request(_request(), _View()) is False
    assert refused.wait() == pytest.approx(40.0)


def test_counts_each_client_apart():
    now = 2_000_000.0
    assert [_allowed("1/min", now, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.1")] == [True, True, False]


def test_next_window_starts_from_zero():
    minute = 60 * 50_000.0
    assert [_allowed("2/min", minute + 59) for _ in range(3)] == [True, True, False]
    assert _allowed("2/min", minute + 60) is True


def test_concurrent_requests_are_never_under_counted():
    """DRF's history throttle loses entries when requests overwrite each other's list."""
    now = 4_000_000.0
    results: list[bool] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(10):
            allowed = _allowed("50/min", now)
            with lock:
                results.append(allowed)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80
    assert results.count(True) == 50


def test_api_answers_429_with_retry_after(db, api_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "catalog", "2/min")
    # 30 s into a window, so the four requests cannot straddle two windows.
    monkeypatch.setattr(CounterScopedRateThrottle, "timer", staticmethod(lambda: 60 * 30_000 + 30.0))
    codes = [api_client.get("/api/products/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    response = api_client.get("/api/products/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 30
