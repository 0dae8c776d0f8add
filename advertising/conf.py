"""The advertising app's settings: thin readers of django.conf.settings.

The values and their environment variables live in ecommerce/settings.py (the advertising block);
reading them at call time lets tests change them with pytest-django's `settings` fixture.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings


def slot_sizes() -> dict[str, int]:
    """How many sponsored ads each slot shows at most."""
    return dict(settings.ADS_SLOT_SIZES)


def max_ads_per_request() -> int:
    return int(settings.ADS_MAX_PER_REQUEST)


def reserve_cpc() -> Decimal:
    """Least price per click anybody pays (also the least CPC bid that may enter)."""
    return Decimal(str(settings.ADS_RESERVE_CPC))


def reserve_cpm() -> Decimal:
    """Least price per 1,000 impressions."""
    return Decimal(str(settings.ADS_RESERVE_CPM))


def prior_ctr() -> float:
    """The click-through rate assumed for an ad with no history and no trained model."""
    return float(settings.ADS_PRIOR_CTR)


def pacing_enabled() -> bool:
    return bool(settings.ADS_PACING)


def pacing_slack() -> float:
    return float(settings.ADS_PACING_SLACK)


def click_token_max_age() -> int:
    """Seconds a signed click URL stays valid (a day: pages stay open in tabs)."""
    return int(settings.ADS_CLICK_MAX_AGE)


def live_cache_seconds() -> float:
    """How long a process reuses its snapshot of live campaigns (0 = reload every request)."""
    return float(settings.ADS_LIVE_CACHE_SECONDS)


def relevance_floor() -> float:
    """Least relevance (0-1, advertising.relevance) an ad needs on a page with context, unless its
    campaign runs site-wide or targets the shopper's interest."""
    return float(settings.ADS_RELEVANCE_FLOOR)


CTR_MODEL_NAME = "advertising.ctr"
CLICK_SALT = "advertising.click"


def flush_batch() -> int:
    """Buffered impressions written per flush (one bulk INSERT each)."""
    return int(settings.ADS_FLUSH_BATCH)
