"""The advertising app's settings: thin readers of django.conf.settings, and the merchant's
database-backed settings (advertising.models.AdsSettings: reserve prices, allowed slots,
external landing URLs).

The values and their environment variables live in ecommerce/settings.py (the advertising block);
reading them at call time lets tests change them with pytest-django's `settings` fixture. Once the
merchant saves the AdsSettings row (admin), its values win over the environment's. The row is
kept in the shared cache (one GET per read, never a database query on the serving path after the
first), dropped on save; with the cache down it is read from the database. A serving process
also remembers the row under the live-snapshot version it last saw (advertising/selectors.py):
saving the settings bumps that version, so another process sees the change within the same
second as a campaign edit, and the ads API pays no round trip of its own for the settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger(__name__)

SLOTS = ("listing", "search", "product")
SETTINGS_CACHE_KEY = "advertising:merchant_settings:v1"
_NO_ROW = "none"


@dataclass(frozen=True)
class MerchantSettings:
    reserve_cpc: Decimal
    reserve_cpm: Decimal
    allowed_slots: tuple[str, ...]
    allow_external_landing_urls: bool


def _from_db() -> dict | str:
    from .models import AdsSettings

    row = AdsSettings.objects.filter(pk=1).first()
    if row is None:
        return _NO_ROW
    return {
        "reserve_cpc": str(row.reserve_cpc),
        "reserve_cpm": str(row.reserve_cpm),
        "allowed_slots": [s for s in row.allowed_slots if s in SLOTS],
        "allow_external_landing_urls": row.allow_external_landing_urls,
    }


# (live-snapshot version, raw row) of the last read in this process; replaced as one tuple.
_memo: tuple[str | None, dict | str | None] = (None, None)


def _raw_settings() -> dict | str:
    global _memo
    from .selectors import live_version_known

    version = live_version_known()  # no I/O: this request's batch or the last read of this process
    if version is not None and _memo[0] == version and _memo[1] is not None:
        return _memo[1]
    try:
        raw = cache.get(SETTINGS_CACHE_KEY)
    except Exception:  # the cache makes it faster, never possible
        logger.warning("advertising.settings_cache_unavailable")
        raw = None
    if raw is None:
        raw = _from_db()
        try:
            cache.set(SETTINGS_CACHE_KEY, raw, timeout=None)
        except Exception:
            logger.warning("advertising.settings_cache_unavailable")
    _memo = (version, raw)
    return raw


# The MerchantSettings last built in this process and the raw row it was built from: an ad
# request asks twice, and building one (Decimals, tuples, settings reads) was ~10 µs a time.
# A new raw row (a new dict after every re-read) or a changed ADS_* setting builds it again.
_built: list = [None, None]


@receiver(setting_changed)
def _forget_built(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("ADS_"):
        _built[:] = [None, None]


def merchant_settings() -> MerchantSettings:
    """The merchant's advertising settings (the AdsSettings row, else the environment's defaults)."""
    raw = _raw_settings()
    if raw == _NO_ROW:
        raw = _NO_ROW  # the constant itself (the cache hands back an equal copy)
    built_from, built = _built
    if built is not None and built_from is raw:
        return built
    built = _build_merchant_settings(raw)
    _built[:] = [raw, built]
    return built


def _build_merchant_settings(raw: dict | str) -> MerchantSettings:
    if raw == _NO_ROW:
        return MerchantSettings(
            reserve_cpc=Decimal(str(settings.ADS_RESERVE_CPC)),
            reserve_cpm=Decimal(str(settings.ADS_RESERVE_CPM)),
            allowed_slots=tuple(s for s in settings.ADS_SLOT_SIZES if s in SLOTS),
            allow_external_landing_urls=bool(settings.ADS_ALLOW_EXTERNAL_LANDING_URLS),
        )
    return MerchantSettings(
        reserve_cpc=Decimal(raw["reserve_cpc"]),
        reserve_cpm=Decimal(raw["reserve_cpm"]),
        allowed_slots=tuple(raw["allowed_slots"]),
        allow_external_landing_urls=bool(raw["allow_external_landing_urls"]),
    )


def merchant_settings_forget() -> None:
    """After a save: every process reads the new row on its next call (the save also bumps the
    live-snapshot version, which other processes' memos are keyed by)."""
    global _memo
    _memo = (None, None)
    try:
        cache.delete(SETTINGS_CACHE_KEY)
    except Exception:
        logger.warning("advertising.settings_cache_unavailable")


def slot_allowed(slot: str) -> bool:
    return slot in merchant_settings().allowed_slots


def slot_sizes() -> dict[str, int]:
    """How many sponsored ads each slot shows at most (0 for a slot the merchant switched off)."""
    allowed = merchant_settings().allowed_slots
    return {slot: (int(n) if slot in allowed else 0) for slot, n in settings.ADS_SLOT_SIZES.items()}


def max_ads_per_request() -> int:
    return int(settings.ADS_MAX_PER_REQUEST)


def reserve_cpc() -> Decimal:
    """Least price per click anybody pays (also the least CPC bid that may enter)."""
    return merchant_settings().reserve_cpc


def reserve_cpm() -> Decimal:
    """Least price per 1,000 impressions."""
    return merchant_settings().reserve_cpm


def external_landing_urls_allowed() -> bool:
    """May advertisers send clicks off this shop (their own http(s) site)?"""
    return merchant_settings().allow_external_landing_urls


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
