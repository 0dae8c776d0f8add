"""Reads for serving, targeting, audience estimates and reports."""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from ecommerce.cache_batch import MISSING, batched_forget, batched_value
from ecommerce.models import Event, Product, User

from . import conf
from .auction import AdSpec, CampaignSpec, ShopperContext
from .models import Ad, AudienceScore, Campaign, DailyReport, Impression, gender_codes_of

logger = logging.getLogger(__name__)


def segments_for(user_id: int) -> frozenset[str]:
    """Analytics segment keys of a shopper; no analytics app (yet) means no segments."""
    try:
        from analytics.selectors import segments_for_user
    except ImportError:
        return frozenset()
    try:
        return frozenset(segments_for_user(user_id=user_id))
    except Exception:  # analytics failing must not take the storefront's ad slot down
        logger.exception("advertising.segments_lookup_failed", extra={"user_id": user_id})
        return frozenset()


def segment_members(key: str) -> set[int] | None:
    """User ids of a segment, or None when analytics is not available."""
    try:
        from analytics.selectors import segment_member_ids
    except ImportError:
        return None
    try:
        return set(segment_member_ids(key=key))
    except Exception:
        logger.exception("advertising.segment_members_failed")
        return None


def _strings_of(value: object) -> frozenset[str]:
    """The strings of a stored JSON list; malformed rows (written around clean()) must not crash serving."""
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


def campaign_spec_of(campaign: Campaign, today: date) -> CampaignSpec:
    ad_products = {ad.product_id for ad in campaign.ads.all() if ad.product_id}
    product_categories = {
        ad.product.category_id for ad in campaign.ads.all() if ad.product_id and ad.product.category_id
    }
    retarget_categories = {c.pk for c in campaign.retarget_categories.all()} | product_categories
    return CampaignSpec(
        id=campaign.pk,
        bid_type=campaign.bid_type,
        bid=campaign.bid,
        daily_budget=campaign.daily_budget,
        total_budget=campaign.total_budget,
        spend_total=campaign.spend_total,
        spend_today=campaign.spend_today if campaign.spend_day == today else Decimal("0"),
        min_age=campaign.min_age,
        max_age=campaign.max_age,
        genders=gender_codes_of(campaign.genders),
        countries=_strings_of(campaign.countries),
        interest_category_ids=frozenset(c.pk for c in campaign.interest_categories.all()),
        segments=_strings_of(campaign.segments),
        retarget=campaign.retarget,
        retarget_days=campaign.retarget_days,
        retarget_product_ids=frozenset(ad_products),
        retarget_category_ids=frozenset(retarget_categories),
        lookalike_min_score=campaign.lookalike_min_score,
        cap_per_user_day=campaign.cap_per_user_day,
        cap_per_session=campaign.cap_per_session,
        run_of_site=campaign.run_of_site,
    )


LIVE_VERSION_KEY = "advertising:live_version"
# (version, loaded at, pairs): replaced as one tuple so a reader never sees half an update.
_live_snapshot: tuple[str | None, float, list] = (None, 0.0, [])


# The version this process last read (live_version) or set: requests reuse it for up to a second
# instead of asking Redis again, so another process's change shows within a second.
_seen: dict[str, Any] = {"version": None, "at": -1e9}
SEEN_FRESH_SECONDS = 1.0


def live_version_seen(version: str | None) -> None:
    _seen.update(version=version, at=time.monotonic())


def live_version_known() -> str | None:
    """The snapshot version this request's cache batch or this process's last read (within
    SEEN_FRESH_SECONDS) brought back, or None; never a read of its own."""
    value = batched_value(LIVE_VERSION_KEY)
    if value is not MISSING:
        return value
    if _seen["version"] is not None and time.monotonic() - _seen["at"] < SEEN_FRESH_SECONDS:
        return _seen["version"]
    return None


def live_version_forget() -> None:
    _seen.update(version=None, at=-1e9)


def live_ads_invalidate() -> None:
    """Tell every process to reload live campaigns (after a save, status change, budget out)."""
    version = uuid.uuid4().hex
    cache.set(LIVE_VERSION_KEY, version, timeout=None)
    batched_forget(LIVE_VERSION_KEY)
    live_version_seen(version)  # this process at once; the others within SEEN_FRESH_SECONDS


def live_version() -> str | None:
    """The shared snapshot version: this request's cache batch, else what the last buffer round
    trip of this process saw within the last second, else the cache. So a change made in another
    process shows within a request or a second, without a read of its own on every request."""
    value = batched_value(LIVE_VERSION_KEY)
    if value is not MISSING:
        return value
    if _seen["version"] is not None and time.monotonic() - _seen["at"] < SEEN_FRESH_SECONDS:
        return _seen["version"]
    version = cache.get(LIVE_VERSION_KEY)
    if version is not None:
        live_version_seen(version)
    return version


def live_ads_cached() -> list[tuple[AdSpec, Ad]]:
    """`live_ads()` kept per process, its spend and stock refreshed every few seconds
    (ADS_LIVE_CACHE_SECONDS, default 10).

    Loading 200 campaigns with their targeting costs far more than the rest of a request (~100 ms:
    building model instances), so serving reads a snapshot. A version key in the shared cache,
    bumped on every campaign, ad, settings or model change and when a budget runs out, makes those
    visible at once and triggers the full reload. Between versions, every TTL, the snapshot's
    volatile parts are re-read in two small queries (`live_ads_refreshed`: which campaigns are live,
    their spend, their products' stock, price and title), and a change in which campaigns are live
    (a start or end date passed, a budget spent) reloads it all. So spend and stock are at most the
    TTL old, as before, without a 100 ms reload in the middle of serving every TTL; that is safe
    because the charge itself re-checks the budget (the reservation, the settling UPDATE).
    """
    ttl = conf.live_cache_seconds()
    if ttl <= 0:
        return live_ads()
    version = live_version()
    if version is None:
        version = uuid.uuid4().hex
        cache.add(LIVE_VERSION_KEY, version, timeout=None)
        version = cache.get(LIVE_VERSION_KEY) or version
    global _live_snapshot
    cached_version, loaded_at, cached_pairs = _live_snapshot
    now = time.monotonic()
    if cached_version == version and now - loaded_at < ttl:
        return cached_pairs
    pairs = live_ads_refreshed(cached_pairs) if cached_version == version else None
    if pairs is None:
        pairs = live_ads()
    _live_snapshot = (version, now, pairs)
    return pairs


# What a light refresh re-reads of an ad's product (what serving and rendering read).
_PRODUCT_FIELDS = ("stock", "is_active", "is_non_product", "title", "price", "currency", "image_url", "category_id")


def live_ads_refreshed(pairs: list[tuple[AdSpec, Ad]], now: datetime | None = None) -> list[tuple[AdSpec, Ad]] | None:
    """`pairs` with today's spend and their products' current stock and fields, in two queries;
    None when a full `live_ads()` is needed (the set of live campaigns changed, a product moved
    category). The same list object when nothing changed (so the auction memo survives)."""
    now = now or timezone.now()
    today = now.date()
    spend = {
        pk: (total, spent_today if day == today else Decimal("0"))
        for pk, total, spent_today, day in Campaign.objects.live(now)
        .filter(spend_total__lt=F("total_budget"))
        .values_list("pk", "spend_total", "spend_today", "spend_day")
    }
    if set(spend) != {spec.campaign.id for spec, _ in pairs}:
        return None
    if any(ad.product_id and ad.product is None for _, ad in pairs):
        return None  # an ad's product was gone at the last load: let live_ads decide again
    products = {id(ad.product): ad.product for _, ad in pairs if ad.product_id}  # each instance once
    fresh = {
        row[0]: row[1:]
        for row in Product.objects.filter(pk__in={p.pk for p in products.values()}).values_list("pk", *_PRODUCT_FIELDS)
    }
    for product in products.values():
        values = fresh.get(product.pk)
        if values is None or values[-1] != product.category_id:
            return None  # deleted, or moved category (retargeting derives from it): rebuild the specs
        for name, value in zip(_PRODUCT_FIELDS, values, strict=True):
            if getattr(product, name) != value:
                setattr(product, name, value)  # the Ad rows render it: keep them current
    changed = False
    specs: dict[int, CampaignSpec] = {}
    out: list[tuple[AdSpec, Ad]] = []
    for spec, ad in pairs:
        campaign = spec.campaign
        if campaign.id not in specs:
            total, spent_today = spend[campaign.id]
            if (campaign.spend_total, campaign.spend_today) != (total, spent_today):
                campaign = replace(campaign, spend_total=total, spend_today=spent_today)
            specs[campaign.id] = campaign
        campaign = specs[campaign.id]
        product = ad.product
        sellable = product is None or (product.is_active and not product.is_non_product and product.stock > 0)
        if campaign is not spec.campaign or sellable != spec.product_sellable:
            spec = replace(spec, campaign=campaign, product_sellable=sellable)
            changed = True
        out.append((spec, ad))
    return out if changed else pairs


def live_ads(now: datetime | None = None) -> list[tuple[AdSpec, Ad]]:
    """Every active ad of every live campaign, as auction specs (5 queries whatever the count)."""
    now = now or timezone.now()
    today = now.date()
    campaigns = (
        Campaign.objects.live(now)
        .filter(spend_total__lt=F("total_budget"))
        .prefetch_related("interest_categories", "retarget_categories", "ads__product")
    )
    out: list[tuple[AdSpec, Ad]] = []
    for campaign in campaigns:
        spec = campaign_spec_of(campaign, today)
        for ad in campaign.ads.all():
            if not ad.is_active:
                continue
            product = ad.product
            sellable = product is None or (product.is_active and not product.is_non_product and product.stock > 0)
            if ad.product_id and product is None:
                sellable = False
            out.append((AdSpec(id=ad.pk, campaign=spec, product_id=ad.product_id, product_sellable=sellable), ad))
    return out


def shopper_context(
    *,
    user: User | None,
    session_key: str,
    campaigns: list[CampaignSpec],
    now: datetime | None = None,
    cap_counts: dict[int, int] | None = None,
) -> ShopperContext:
    """Everything targeting and caps need about this shopper, in a handful of queries.

    Frequency caps count `cap_counts` (today's impressions in this browser, from its signed
    cookie) and, for a signed-in shopper, the account's stored impressions (other devices),
    whichever is higher. Anonymous visitors cost no query and need no session.
    """
    now = now or timezone.now()
    authenticated = user is not None and user.is_authenticated
    age = gender = country = None
    interests: frozenset[int] = frozenset()
    segments: frozenset[str] = frozenset()
    if authenticated:
        age = (now.year - user.birth_year) if user.birth_year else None
        gender, country = user.gender, user.country
        if any(c.interest_category_ids for c in campaigns):
            interests = frozenset(user.interests.values_list("pk", flat=True))
        if any(c.segments for c in campaigns):
            segments = segments_for(user.pk)

    viewed_p: dict[int, int] = {}
    carted_p: dict[int, int] = {}
    viewed_c: dict[int, int] = {}
    carted_c: dict[int, int] = {}
    retargeting = [c for c in campaigns if c.retarget]
    if retargeting and (authenticated or session_key):
        window = max(c.retarget_days for c in retargeting)
        who = Q(user=user) if authenticated else Q(session_key=session_key)
        rows = (
            Event.objects.filter(
                who,
                occurred_at__gte=now - timedelta(days=window),
                type__in=[Event.Type.PRODUCT_VIEW, Event.Type.ADD_TO_CART],
                product__isnull=False,
            )
            .values_list("type", "product_id", "product__category_id", "occurred_at")
            .order_by()[:2000]
        )
        for event_type, product_id, category_id, occurred_at in rows:
            days = (now - occurred_at).days
            products, categories = (
                (carted_p, carted_c) if event_type == Event.Type.ADD_TO_CART else (viewed_p, viewed_c)
            )
            products[product_id] = min(days, products.get(product_id, days))
            if category_id:
                categories[category_id] = min(days, categories.get(category_id, days))

    scores: dict[int, float] = {}
    lookalike_ids = [c.id for c in campaigns if c.lookalike_min_score is not None]
    if lookalike_ids and authenticated:
        scores = dict(
            AudienceScore.objects.filter(user=user, campaign_id__in=lookalike_ids).values_list("campaign_id", "score")
        )

    shown_today: dict[int, int] = dict(cap_counts or {})
    shown_session: dict[int, int] = dict(cap_counts or {})
    capped_ids = [c.id for c in campaigns if c.cap_per_user_day is not None or c.cap_per_session is not None]
    if capped_ids and authenticated:
        start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        # One query: today's count per campaign for this account, and the count within this
        # session. Buffered impressions are not stored yet: the cookie counts those.
        in_session = Q(session_key=session_key) if session_key else Q(pk__in=[])
        rows = (
            Impression.objects.filter(Q(user=user) | in_session, campaign_id__in=capped_ids)
            .values("campaign_id")
            .annotate(
                today=Count("id", filter=Q(user=user, created_at__gte=start_of_day)),
                session=Count("id", filter=in_session),
            )
            .order_by()
        )
        for row in rows:
            cid = row["campaign_id"]
            shown_today[cid] = max(row["today"], shown_today.get(cid, 0))
            shown_session[cid] = max(row["session"], shown_session.get(cid, 0))
    return ShopperContext(
        age=age,
        gender=gender or "",
        country=country or "",
        interest_category_ids=interests,
        segments=segments,
        viewed_product_days=viewed_p,
        carted_product_days=carted_p,
        viewed_category_days=viewed_c,
        carted_category_days=carted_c,
        audience_scores=scores,
        shown_today=shown_today,
        shown_in_session=shown_session,
    )


def audience_estimate(*, campaign: Campaign) -> dict[str, Any]:
    """How many registered shoppers the targeting could reach today (before caps and budget).

    Counts accounts, not sessions: anonymous visitors can match only untargeted campaigns.
    """
    now = timezone.now()
    users = User.objects.filter(is_active=True, is_staff=False, date_erased__isnull=True)
    total = users.count()
    if campaign.min_age is not None:
        users = users.filter(birth_year__lte=now.year - campaign.min_age)
    if campaign.max_age is not None:
        users = users.filter(birth_year__gte=now.year - campaign.max_age)
    genders = gender_codes_of(campaign.genders)
    if genders:
        users = users.filter(gender__in=genders)
    if campaign.countries:
        country_q = Q()
        for country in campaign.countries:
            country_q |= Q(country__iexact=country)
        users = users.filter(country_q)
    if campaign.pk and campaign.interest_categories.exists():
        users = users.filter(interests__in=campaign.interest_categories.all())
    notes: list[str] = []
    if campaign.segments:
        member_ids: set[int] = set()
        known = False
        for key in campaign.segments:
            members = segment_members(key)
            if members is not None:
                known = True
                member_ids |= members
        if known:
            users = users.filter(pk__in=member_ids)
        else:
            notes.append("Segments are not available yet: the estimate ignores the segment rule.")
    if campaign.pk and campaign.retarget:
        product_ids = list(campaign.ads.exclude(product=None).values_list("product_id", flat=True))
        category_ids = list(campaign.retarget_categories.values_list("pk", flat=True))
        category_ids += list(
            Product.objects.filter(pk__in=product_ids).exclude(category=None).values_list("category_id", flat=True)
        )
        types = (
            [Event.Type.ADD_TO_CART]
            if campaign.retarget == Campaign.Retarget.CARTED
            else [Event.Type.PRODUCT_VIEW, Event.Type.ADD_TO_CART]
        )
        recent = Event.objects.filter(
            type__in=types, occurred_at__gte=now - timedelta(days=campaign.retarget_days), user__isnull=False
        ).filter(Q(product_id__in=product_ids) | Q(product__category_id__in=category_ids))
        users = users.filter(pk__in=recent.values("user_id"))
    likely_interested = None
    if campaign.pk:
        scored = AudienceScore.objects.filter(campaign=campaign)
        threshold = campaign.lookalike_min_score if campaign.lookalike_min_score is not None else 0.5
        likely_interested = scored.filter(score__gte=threshold).count() if scored.exists() else None
        if campaign.lookalike_min_score is not None:
            if scored.exists():
                users = users.filter(pk__in=scored.filter(score__gte=threshold).values("user_id"))
            else:
                notes.append("Lookalike scores are not computed yet: run the audience scoring.")
    return {
        "matching_users": users.distinct().count(),
        "total_users": total,
        "likely_interested": likely_interested,
        "notes": notes,
    }


def report_rows(*, campaign: Campaign, since: date | None = None) -> QuerySet[DailyReport]:
    rows = DailyReport.objects.filter(campaign=campaign)
    if since:
        rows = rows.filter(day__gte=since)
    return rows.order_by("day")


def report_totals(rows) -> dict[str, Any]:
    totals: dict[str, Any] = defaultdict(int)
    totals["spend"] = Decimal("0")
    totals["revenue"] = Decimal("0")
    for row in rows:
        for name in ("impressions", "clicks", "conversions", "spend", "revenue"):
            totals[name] += getattr(row, name)
    totals["ctr"] = totals["clicks"] / totals["impressions"] if totals["impressions"] else 0.0
    totals["avg_cpc"] = (
        (totals["spend"] / totals["clicks"]).quantize(Decimal("0.0001")) if totals["clicks"] else Decimal("0")
    )
    totals["roas"] = float(totals["revenue"] / totals["spend"]) if totals["spend"] else 0.0
    totals["cpa"] = (
        (totals["spend"] / totals["conversions"]).quantize(Decimal("0.0001")) if totals["conversions"] else None
    )
    return dict(totals)


def lookalike_campaign_ids() -> list[int]:
    """Live campaigns that serve only to a scored lookalike audience (they need AudienceScore rows)."""
    return list(
        Campaign.objects.live().filter(lookalike_min_score__isnull=False).order_by("pk").values_list("pk", flat=True)
    )


def portal_landing_for(user: User) -> str | None:
    """After login, advertiser accounts (not merchant staff) land on their portal."""
    from django.urls import reverse

    if user.is_authenticated and not user.is_staff and user.advertiser_accounts.filter(is_active=True).exists():
        return reverse("advertising:portal")
    return None


def country_choices() -> list[tuple[str, str]]:
    """Countries shoppers live in (what targeting can match), for the multi-selects."""
    names = User.objects.exclude(country="").order_by("country").values_list("country", flat=True).distinct()[:300]
    return [(name, name) for name in names]


def segment_choices() -> list[tuple[str, str]]:
    """(key, "Name (n shoppers)") of the analytics segments; none without the analytics app."""
    try:
        from analytics.selectors import segment_list
    except ImportError:
        return []
    try:
        return [(s.key, f"{s.name} ({s.size} shoppers)") for s in segment_list()[:200]]
    except Exception:  # analytics failing must not break the campaign forms
        logger.exception("advertising.segment_choices_failed")
        return []


def portal_campaigns(*, user: User) -> QuerySet[Campaign]:
    """The campaigns of the advertisers this account belongs to (the portal's scope: even a
    merchant account that is also a member sees only its advertiser's campaigns here)."""
    return (
        Campaign.objects.visible_to(user)
        .filter(advertiser__users=user, advertiser__is_active=True)
        .select_related("advertiser")
        .distinct()
    )


def product_search(*, query: str, limit: int = 12) -> list[dict[str, Any]]:
    """Sellable products for the ad picker: by title words or exact number."""
    products = Product.objects.sellable().in_stock().select_related("category")
    query = query.strip()
    if query.isdigit():
        products = products.filter(pk=int(query))
    else:
        for word in query.split()[:5]:
            products = products.filter(title__icontains=word)
    return [
        {
            "id": p.pk,
            "title": p.title,
            "price": str(p.price),
            "currency": p.currency,
            "category": p.category.name if p.category_id else "",
            "image_url": p.thumbnail_url,
            "url": p.get_absolute_url(),
        }
        for p in products.order_by("title")[:limit]
    ]
