"""Uniform samples of actors for panels over ranges with very many actor-days.

Every actor gets a fixed level from a hash of its key: level >= L holds for 1/2^L of all actors,
the same ones on every day. A per-actor panel (browsing distribution, funnel) over a range with
more actor-days than ANALYTICS_EXACT_ACTOR_DAYS reads only the actors of level >= L (L the
smallest level that brings the range under the limit) and scales counts by 2^L; below the limit
it reads every actor and is exact. With >= 2,500 sampled actors a share (conversion rate, a
bucket's fraction) is within about ±2 percentage points (95 %), docs/analytics.md.
"""

from __future__ import annotations

import hashlib

MAX_LEVEL = 15


def sample_level(actor: str) -> int:
    """Number of trailing zero bits of a 64-bit hash of the actor, capped at MAX_LEVEL."""
    value = int.from_bytes(hashlib.blake2b(actor.encode(), digest_size=8).digest(), "little")
    if value == 0:
        return MAX_LEVEL
    return min(MAX_LEVEL, (value & -value).bit_length() - 1)


def level_for(actor_days: int, limit: int) -> int:
    """The smallest level L with actor_days / 2^L <= limit."""
    level = 0
    while level < MAX_LEVEL and actor_days > limit * (1 << level):
        level += 1
    return level


def levels_from(level: int) -> list[int]:
    return list(range(level, MAX_LEVEL + 1))
