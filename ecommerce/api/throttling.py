"""Rate limits counted with one atomic cache increment per request.

DRF's SimpleRateThrottle keeps the list of every request time in the window: it costs two cache
round trips per request (read the list, write it back), a pickle that grows with the rate (at
3000/min, up to 3000 floats each way), and concurrent requests read the same list and overwrite
each other's entries, so a burst from many processes is under-counted. A fixed-window counter
costs one atomic increment (django-redis runs it as a script on Redis; LocMem holds its lock) and
never under-counts. The price: across a window boundary a client can get up to twice the rate
in a short stretch, the usual trade of fixed windows (django-ratelimit makes the same one).

Each process reserves counts in blocks (ecommerce/counter_leases.py): a limit is still never
exceeded, and a request costs a round trip only when its process's block is used up.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from ..cache_batch import batched_count
from ..counter_leases import leases


class FixedWindowCounterThrottle(SimpleRateThrottle):
    """SimpleRateThrottle's bookkeeping replaced by a counter per fixed window."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident_key = self.get_cache_key(request, view)
        if ident_key is None:
            return True
        self.now = self.timer()
        self.key = self._window_key(ident_key)
        count = batched_count(self.key)  # already counted in this request's cache batch?
        if count is None:
            # From this process's reserved block: one round trip per block, not per request.
            count = leases.count(self.key, self.expiry, self.num_requests)
        return count <= self.num_requests

    def _window_key(self, ident_key: str) -> str:
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        self.expiry = self.duration + 1  # +1 s: the key outlives its window even with clock skew
        return f"{ident_key}:{window}"

    def wait(self) -> float:
        """Seconds until the window resets (DRF sends it as Retry-After)."""
        return max(self.window_ends_at - self.now, 0.0)


class CounterScopedRateThrottle(ScopedRateThrottle, FixedWindowCounterThrottle):
    """ScopedRateThrottle (same scopes, rates and idents) counted per fixed window.

    ScopedRateThrottle.allow_request picks the view's scope and rate, then its super() call
    lands in FixedWindowCounterThrottle (method resolution order) instead of the history list.
    """

    @classmethod
    def expected_counter(cls, request: HttpRequest, scope: str, user_id: str | None) -> tuple[str, int] | None:
        """(counter key, expiry) a request will be counted against, for ecommerce.cache_batch.

        `user_id` is the session's (not yet verified) user; if authentication later disagrees,
        the throttle simply counts under its own key.
        """
        throttle = cls.expected_throttle(request, scope, user_id)
        return None if throttle is None else (throttle.key, throttle.expiry)

    @classmethod
    def expected_throttle(
        cls, request: HttpRequest, scope: str, user_id: str | None
    ) -> CounterScopedRateThrottle | None:
        """The throttle that will count this request, its window chosen: `key`, `expiry`,
        `num_requests` and `wait()` (for callers that count the request themselves, as ad
        serving does). None when the scope has no rate."""
        rate = cls.THROTTLE_RATES.get(scope)
        if rate is None:
            return None
        throttle = cls()
        throttle.scope = scope
        throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
        throttle.now = throttle.timer()
        ident = user_id if user_id is not None else throttle.get_ident(request)
        throttle.key = throttle._window_key(throttle.cache_format % {"scope": scope, "ident": ident})
        return throttle
