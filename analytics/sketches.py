"""HyperLogLog sketches (datasketch) of daily actors: distinct counts over long ranges in O(days).

Exact counts stay the default: a range is counted exactly from DailyActor while the sum of its
daily actor counts is at most exact_limit(); beyond that the days' sketches are merged
(register-wise max) and estimated, with a standard error of 1.04 / sqrt(4096) ≈ 1.6 %.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
from datasketch import HyperLogLog
from django.conf import settings

P = 12  # 4,096 one-byte registers per day and group


def exact_limit() -> int:
    """Actor-days up to which distinct counts are exact (setting ANALYTICS_EXACT_ACTOR_DAYS)."""
    # Default 5,000 actor-days: ~170 active shoppers a day over a 30-day range (the UCI shop's
    # busiest month has 2,391 customer-days, so its figures stay exact). Beyond it an exact
    # COUNT(DISTINCT) costs more than merging the days' sketches (docs/benchmarks/analytics.md).
    return int(settings.ANALYTICS_EXACT_ACTOR_DAYS)


def sketch_of(actors: Iterable[str]) -> bytes:
    hll = HyperLogLog(p=P)
    for actor in actors:
        hll.update(actor.encode())
    return hll.reg.astype(np.int8).tobytes()


def estimate(register_blobs: Iterable[bytes]) -> int:
    """Distinct actors over the union of the sketched days."""
    merged = None
    for blob in register_blobs:
        reg = np.frombuffer(bytes(blob), dtype=np.int8)
        merged = reg.copy() if merged is None else np.maximum(merged, reg)
    if merged is None:
        return 0
    with warnings.catch_warnings():
        # datasketch warns near its small-range threshold (2.5 × 4,096); the error there is
        # still a few percent, which the docs state.
        warnings.simplefilter("ignore", UserWarning)
        return int(round(HyperLogLog(p=P, reg=merged).count()))
