"""The advertising app's settings, read with defaults so ecommerce/settings.py need not change.

Every value can be set in settings (or the environment through settings) under the same name.
"""

from __future__ import annotations

import os
from decimal import Decimal

from django.conf import settings

DEFAULT_SLOT_SIZES = {"listing": 2, "search": 2, "product": 1}


def _get(name: str, default):
    if hasattr(settings, name):
        return getattr(settings, name)
    raw = os.environ.get(name)
    if raw is None:
        return default
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, Decimal):
        return Decimal(raw)
    return type(default)(raw)


def slot_sizes() -> dict[str, int]:
    """How many sponsored ads each slot shows at most."""
    return dict(_get("ADS_SLOT_SIZES", DEFAULT_SLOT_SIZES))


def max_ads_per_request() -> int:
    return int(_get("ADS_MAX_PER_REQUEST", 5))


def reserve_cpc() -> Decimal:
    """Least price per click anybody pays (also the least CPC bid that may enter)."""
    return Decimal(str(_get("ADS_RESERVE_CPC", Decimal("0.05"))))


def reserve_cpm() -> Decimal:
    """Least price per 1,000 impressions."""
    return Decimal(str(_get("ADS_RESERVE_CPM", Decimal("0.50"))))


def prior_ctr() -> float:
    """The click-through rate assumed for an ad with no history and no trained model."""
    return float(_get("ADS_PRIOR_CTR", 0.02))


def pacing_enabled() -> bool:
    return bool(_get("ADS_PACING", True))


def pacing_slack() -> float:
    return float(_get("ADS_PACING_SLACK", 0.05))


def click_token_max_age() -> int:
    """Seconds a signed click URL stays valid (a day: pages stay open in tabs)."""
    return int(_get("ADS_CLICK_MAX_AGE", 24 * 3600))


def live_cache_seconds() -> float:
    """How long a process reuses its snapshot of live campaigns (0 = reload every request)."""
    return float(_get("ADS_LIVE_CACHE_SECONDS", 10.0))


CTR_MODEL_NAME = "advertising.ctr"
CLICK_SALT = "advertising.click"
