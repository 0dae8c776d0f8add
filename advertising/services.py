"""Writes of the advertising app: campaign lifecycle, serving, clicks, charging, conversions,
report rollups, lookalike scores and privacy steps.

Money rules (docs/advertising.md):
- spend only changes in `campaign_charge`: one conditional UPDATE ... WHERE spend + price <=
  budget (total and today's), with F expressions, so concurrent requests cannot overspend;
- CPC campaigns pay at the click, once per impression (Click is unique per impression);
- CPM campaigns pay price/1000 per impression (prices in whole thousandths, so it is exact):
  serving reserves it against the budget in the buffer's atomic counters (advertising/buffer.py)
  and the flush task settles it into spend (`impressions_settle`), once per impression;
- a charge the budget cannot cover is not made: the impression is not shown (CPM) or the click
  is free for the advertiser (CPC).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from ecommerce.bulk import bulk_insert
from ecommerce.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from ecommerce.models import Category, Product, User
from ecommerce.money import format_money
from ecommerce.privacy import Tracking
from ecommerce.roles import (
    ADD_ANY_CAMPAIGN,
    CHANGE_ADS_SETTINGS,
    CHANGE_ALL_CAMPAIGNS,
    REVIEW_CAMPAIGNS,
    perm_require,
    user_can,
)

from . import auction, buffer, conf, page_context, relevance
from .attribution import conversions_attribute
from .ctr.features import feature_row
from .models import (
    Ad,
    AdsSettings,
    Advertiser,
    AudienceScore,
    Campaign,
    Click,
    Conversion,
    DailyReport,
    Impression,
    landing_url_is_external,
    landing_url_is_safe,
)
from .selectors import LIVE_VERSION_KEY, live_ads_cached, live_ads_invalidate, live_version_seen, shopper_context

logger = logging.getLogger(__name__)

SLOTS = ("listing", "search", "product")


class UnknownSlot(DomainError):
    pass


class InvalidClickToken(DomainError):
    pass


# --- campaigns ------------------------------------------------------------------------------


def advertiser_for(user: User) -> Advertiser | None:
    return user.advertiser_accounts.filter(is_active=True).first() if user.is_authenticated else None


def campaign_check_access(*, campaign: Campaign, user: User) -> None:
    """May `user` change this campaign? Its advertiser's members and holders of
    advertising.change_campaign may; others get NotFound (or PermissionDenied if they may see it)."""
    if not Campaign.objects.visible_to(user).filter(pk=campaign.pk).exists():
        raise NotFound("No such campaign.")
    if not (user_can(user, CHANGE_ALL_CAMPAIGNS) or campaign.advertiser.users.filter(pk=user.pk).exists()):
        raise PermissionDenied("You may not change this campaign.")


CAMPAIGN_FIELDS = (
    "name",
    "objective",
    "starts_at",
    "ends_at",
    "daily_budget",
    "total_budget",
    "bid_type",
    "bid",
    "min_age",
    "max_age",
    "genders",
    "countries",
    "segments",
    "retarget",
    "retarget_days",
    "lookalike_min_score",
    "cap_per_user_day",
    "cap_per_session",
    "attribution_days",
    "run_of_site",
    "view_attribution_days",
)
# Changes the merchant must see again before the campaign serves: what shoppers are shown.
REVIEWED_FIELDS = ("name", "ads")


def is_merchant(user: User) -> bool:
    """Shop staff who manage every campaign (Marketing, superusers): no approval needed."""
    return user_can(user, CHANGE_ALL_CAMPAIGNS)


def ad_build(*, campaign: Campaign, raw: dict[str, Any], user: User) -> Ad:
    """One validated creative. With a product, its page, title and picture are the defaults; an
    external landing URL only from the merchant's staff or when the merchant allows it."""
    product = None
    product_id = raw.get("product_id")
    if product_id is not None:
        product = Product.objects.filter(pk=product_id).first()
        if not product_sellable(product):
            raise ValidationError({"product_id": f"Product {product_id} is not for sale."})
    headline = (raw.get("headline") or (product.title.title() if product else "")).strip()[:90]
    landing_url = (raw.get("landing_url") or (product.get_absolute_url() if product else "")).strip()
    if not landing_url:
        raise ValidationError({"landing_url": "Pick a product or give a landing URL."})
    if landing_url_is_external(landing_url) and not (conf.external_landing_urls_allowed() or is_merchant(user)):
        raise ValidationError(
            {"landing_url": "This shop does not allow external landing URLs: promote one of its products."}
        )
    ad = Ad(
        campaign=campaign,
        headline=headline,
        image_url=(raw.get("image_url") or (product.image_url if product else "")).strip(),
        product=product,
        landing_url=landing_url,
    )
    ad.full_clean()
    return ad


@transaction.atomic
def campaign_save(
    *,
    user: User,
    data: dict[str, Any],
    campaign: Campaign | None = None,
    advertiser: Advertiser | None = None,
) -> Campaign:
    """Create or update a campaign (with its ads when given) after full validation.

    A campaign an advertiser creates, or whose name or ads an advertiser changes, waits for the
    merchant's review (Campaign.review_status) before it serves; budgets, bids, targeting and
    dates need no new review. The merchant's own saves keep the review status."""
    if campaign is None:
        advertiser = advertiser or advertiser_for(user)
        if advertiser is None:
            raise PermissionDenied("Your account is not linked to an advertiser.")
        if not (user_can(user, ADD_ANY_CAMPAIGN) or advertiser.users.filter(pk=user.pk).exists()):
            raise PermissionDenied("You may only create campaigns for your own advertiser.")
        campaign = Campaign(advertiser=advertiser)
        needs_review = not is_merchant(user)
    else:
        campaign_check_access(campaign=campaign, user=user)
        if campaign.status == Campaign.Status.FINISHED:
            raise InvalidTransition("A finished campaign cannot be changed.")
        needs_review = not is_merchant(user) and ("ads" in data or ("name" in data and data["name"] != campaign.name))
    for name in CAMPAIGN_FIELDS:
        if name in data:
            setattr(campaign, name, data[name])
    if needs_review:
        campaign.review_status = Campaign.Review.PENDING
        campaign.review_reason = ""
        campaign.reviewed_at = campaign.reviewed_by = None
    campaign.full_clean()
    campaign.save()
    for name in ("interest_categories", "retarget_categories"):
        if name in data:
            getattr(campaign, name).set(Category.objects.filter(pk__in=data[name]))
    if "ads" in data:
        ads = [ad_build(campaign=campaign, raw=dict(raw), user=user) for raw in data["ads"]]
        campaign.ads.update(is_active=False)  # old creatives stay for the billing records
        for ad in ads:
            ad.save()
    _invalidate_now_and_on_commit()
    return campaign


@transaction.atomic
def ad_add(*, campaign: Campaign, user: User, raw: dict[str, Any]) -> Ad:
    """Add one creative to a campaign (the others stay). From an advertiser it needs review."""
    campaign_check_access(campaign=campaign, user=user)
    if campaign.status == Campaign.Status.FINISHED:
        raise InvalidTransition("A finished campaign cannot be changed.")
    ad = ad_build(campaign=campaign, raw=raw, user=user)
    ad.save()
    if not is_merchant(user):
        _review_again(campaign)
    _invalidate_now_and_on_commit()
    return ad


@transaction.atomic
def ad_set_active(*, ad: Ad, user: User, active: bool) -> Ad:
    """Switch a creative off (or on again: from an advertiser that needs review)."""
    campaign_check_access(campaign=ad.campaign, user=user)
    if ad.is_active == active:
        return ad
    Ad.objects.filter(pk=ad.pk).update(is_active=active)
    ad.is_active = active
    if active and not is_merchant(user):
        _review_again(ad.campaign)
    _invalidate_now_and_on_commit()
    return ad


def _review_again(campaign: Campaign) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(
        review_status=Campaign.Review.PENDING, review_reason="", reviewed_at=None, reviewed_by=None
    )
    campaign.review_status, campaign.review_reason = Campaign.Review.PENDING, ""


@transaction.atomic
def campaign_review(*, campaign: Campaign, user: User, approve: bool, reason: str = "") -> Campaign:
    """The merchant approves a campaign (it may serve) or rejects it with a reason the
    advertiser sees. A guarded UPDATE: two reviewers at once cannot both decide."""
    perm_require(user, REVIEW_CAMPAIGNS, "You may not review campaigns.")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise DomainError("Give the advertiser a reason for the rejection.")
    if len(reason) > 500:
        raise DomainError("Keep the reason under 500 characters.")
    to = Campaign.Review.APPROVED if approve else Campaign.Review.REJECTED
    campaign.refresh_from_db(fields=["review_status"])
    if campaign.review_status == to:
        raise InvalidTransition(f"The campaign is already {campaign.get_review_status_display().lower()}.")
    now = timezone.now()
    moved = Campaign.objects.filter(pk=campaign.pk, review_status=campaign.review_status).update(
        review_status=to, review_reason=reason, reviewed_at=now, reviewed_by=user
    )
    if not moved:
        raise InvalidTransition("The campaign changed meanwhile; reload and try again.")
    logger.info("advertising.campaign_reviewed", extra={"campaign_id": campaign.pk, "to": str(to)})
    _invalidate_now_and_on_commit()
    campaign.review_status, campaign.review_reason, campaign.reviewed_at = to, reason, now
    return campaign


def merchant_settings_save(*, user: User, data: dict[str, Any]) -> AdsSettings:
    """Save the merchant's advertising settings (reserve prices, slots, external URLs)."""
    perm_require(user, CHANGE_ADS_SETTINGS, "You may not change the advertising settings.")
    current = conf.merchant_settings()
    row = AdsSettings.objects.filter(pk=1).first() or AdsSettings(
        pk=1,
        reserve_cpc=current.reserve_cpc,
        reserve_cpm=current.reserve_cpm,
        allowed_slots=list(current.allowed_slots),
        allow_external_landing_urls=current.allow_external_landing_urls,
    )
    for name in ("reserve_cpc", "reserve_cpm", "allowed_slots", "allow_external_landing_urls"):
        if name in data:
            setattr(row, name, data[name])
    row.full_clean()
    row.save()
    transaction.on_commit(conf.merchant_settings_forget)
    conf.merchant_settings_forget()
    _invalidate_now_and_on_commit()
    return row


def _invalidate_now_and_on_commit() -> None:
    """Bump the live snapshot now (this process and anyone reading before commit reload) and
    again after commit (so nobody keeps a snapshot read between the two)."""
    live_ads_invalidate()
    transaction.on_commit(live_ads_invalidate)


def campaign_transition(*, campaign: Campaign, to_status: str, user: User | None = None) -> Campaign:
    """The ONE place a campaign's status changes: draft -> active -> paused -> finished.

    A guarded UPDATE (WHERE status = the status we saw), so two admins clicking at once cannot
    both move it. Activation needs at least one active ad.
    """
    if user is not None:
        campaign_check_access(campaign=campaign, user=user)
    campaign.refresh_from_db(fields=["status"])
    if to_status not in Campaign.Status.values:
        raise DomainError(f"Unknown status {to_status!r}.")
    if not campaign.can_transition_to(to_status):
        raise InvalidTransition(f"A {campaign.status} campaign cannot become {to_status}.")
    if to_status == Campaign.Status.ACTIVE and not campaign.ads.filter(is_active=True).exists():
        raise DomainError("A campaign needs at least one active ad before it can run.")
    moved = Campaign.objects.filter(pk=campaign.pk, status=campaign.status).update(status=to_status)
    if not moved:
        raise InvalidTransition("The campaign changed meanwhile; reload and try again.")
    logger.info("advertising.campaign_transition", extra={"campaign_id": campaign.pk, "to": to_status})
    _invalidate_now_and_on_commit()
    campaign.status = to_status
    return campaign


def campaign_charge(*, campaign_id: int, amount: Decimal, today: date | None = None) -> bool:
    """Add `amount` to the campaign's spend if both budgets can take it. True if charged.

    One UPDATE with the budget checks in its WHERE clause: the database serializes concurrent
    charges on the row, and a charge that would overspend matches no row. Today's spend resets
    when the stored day is not today (in the same statement).
    """
    if amount <= 0:
        return True
    today = today or timezone.localdate()
    same_day = Q(spend_day=today)
    fits_today = (same_day & Q(spend_today__lte=F("daily_budget") - amount)) | (
        (~same_day | Q(spend_day__isnull=True)) & Q(daily_budget__gte=amount)
    )
    try:
        updated = Campaign.objects.filter(
            Q(pk=campaign_id) & Q(spend_total__lte=F("total_budget") - amount) & fits_today
        ).update(
            spend_total=F("spend_total") + amount,
            spend_today=Case(When(spend_day=today, then=F("spend_today") + amount), default=Value(amount)),
            spend_day=today,
        )
    except IntegrityError:
        # The check constraint caught a rounding edge (SQLite stores decimals as floats).
        logger.warning("advertising.charge_rejected_by_constraint", extra={"campaign_id": campaign_id})
        return False
    return updated == 1


# --- serving --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageContext:
    """What the page is about: the slot, and the product, category, search words and cart."""

    slot: str
    product_id: int | None = None
    category_id: int | None = None
    query: str = ""
    cart_product_ids: tuple[int, ...] = ()


@dataclass
class CapCounts:
    """Impressions of frequency-capped campaigns this browser saw today, carried in a signed
    cookie (`caps_from_cookie` / `caps_cookie_value`): anonymous visitors are capped without a
    session. `changed` tells the view to send the cookie back."""

    day: str
    counts: dict[int, int] = field(default_factory=dict)
    changed: bool = False


# pCTRs per (model version, context without the ad): every shopper with the same age band,
# gender, country, segment, slot and hour gets the same predictions, so scoring 200 ads once per
# context and reusing it saves most of the model's cost. Bounded; cleared when it fills up.
_pctr_cache: dict[tuple, float] = {}
_PCTR_CACHE_MAX = 50_000


_active_model: dict[str, Any] = {"at": -1e9, "version": None, "loaded": None}


def _active_ctr_model():
    """The serving click model, looked up at most every ADS_LIVE_CACHE_SECONDS per process
    (the same snapshot rule as live campaigns; a promotion bumps the live version key)."""
    import time

    from ecommerce.ml import model_load_active

    from .selectors import live_version

    now, version = time.monotonic(), live_version()
    if version is None or version != _active_model["version"] or now - _active_model["at"] >= conf.live_cache_seconds():
        _active_model.update({"at": now, "version": version, "loaded": model_load_active(conf.CTR_MODEL_NAME)})
    return _active_model["loaded"]


def _predict_ctr(ads: list[Ad], row_for, context_key: tuple) -> list[float]:
    """pCTR per candidate from the active click model, else the smoothed historical CTR.

    Model predictions are cached per (model version, page/shopper context, ad): the feature row
    of an ad is only built when that combination was never scored by this process.
    """
    loaded = _active_ctr_model() if ads else None
    if loaded is not None:
        try:
            version = (loaded.version.pk, loaded.version.version)
            keys = [(version, context_key, ad.pk) for ad in ads]
            missing = [i for i, key in enumerate(keys) if key not in _pctr_cache]
            if missing:
                predicted = loaded.artifact.predict_proba([row_for(ads[i]) for i in missing])
                if len(_pctr_cache) + len(missing) > _PCTR_CACHE_MAX:
                    _pctr_cache.clear()
                for i, p in zip(missing, predicted, strict=True):
                    _pctr_cache[keys[i]] = float(p)
            return [_pctr_cache[key] for key in keys]
        except Exception:  # a broken model must not break the page: fall back
            logger.exception("advertising.ctr_predict_failed", extra={"version": loaded.version.version})
    prior = conf.prior_ctr()
    return [auction.smoothed_ctr(ad.clicks_count, ad.impressions_count, prior=prior) for ad in ads]


def _page_match(ad: Ad, page_category_id: int | None, query_words: frozenset[str]) -> str:
    """Is the ad about what the page is about? Same category, or the search words in its title."""
    product = ad.product if ad.product_id else None
    if product is None:
        return "0"
    if page_category_id is not None and product.category_id == page_category_id:
        return "1"
    if query_words and query_words & set(product.title.lower().split()):
        return "1"
    return "0"


def relevance_matches(
    *, page: PageContext, page_category_id: int | None, tracking: Tracking, ads: dict[int, Ad]
) -> dict[int, relevance.Match]:
    """How well each candidate ad's product fits this page (advertising/relevance.py)."""
    signals, idf = page_context.page_signals(
        product_id=page.product_id, category_id=page_category_id, query=page.query, tracking=tracking
    )
    return {pk: relevance.match(page_context.ad_product_of(ad), signals, idf) for pk, ad in ads.items()}


def relevance_allows(spec: auction.AdSpec, found: relevance.Match) -> bool:
    return relevance.context_allows(
        found.score,
        floor=conf.relevance_floor(),
        run_of_site=spec.campaign.run_of_site,
        audience_targeted=spec.campaign.audience_targeted,
    )


def _features(
    *,
    shopper: auction.ShopperContext,
    ad: Ad,
    slot: str,
    segment: str,
    now: datetime,
    page_match: str,
    context_match: relevance.Match = relevance.NO_CONTEXT,
) -> dict[str, str]:
    from ecommerce.models import age_band_for

    return feature_row(
        {
            **context_match.features(),
            "age_band": age_band_for(shopper.age) if shopper.age is not None else "",
            "gender": shopper.gender,
            "country": shopper.country,
            "segment": segment,
            "ad": ad.pk,
            "campaign": ad.campaign_id,
            "category": ad.product.category_id if ad.product_id and ad.product else "",
            "slot": slot,
            "hour": now.hour,
            "weekday": now.weekday(),
            "page_match": page_match,
        }
    )


CAPS_COOKIE = "ads_caps"
_CAPS_SALT = "advertising.caps"
_CAPS_MAX_CAMPAIGNS = 200  # a cookie stays small whatever the number of capped campaigns


def caps_from_cookie(value: str | None, *, today: date) -> CapCounts:
    """Today's counts from the signed cookie; anything unsigned, stale or malformed counts nothing."""
    caps = CapCounts(day=today.isoformat())
    if not value:
        return caps
    try:
        data = signing.loads(value, salt=_CAPS_SALT, max_age=2 * 24 * 3600)
        if data.get("d") == caps.day:
            caps.counts = {int(k): int(v) for k, v in dict(data.get("c", {})).items()}
    except (signing.BadSignature, AttributeError, TypeError, ValueError):
        pass
    return caps


def caps_cookie_value(caps: CapCounts) -> str:
    counts = dict(sorted(caps.counts.items(), key=lambda kv: -kv[0])[:_CAPS_MAX_CAMPAIGNS])
    return signing.dumps({"d": caps.day, "c": counts}, salt=_CAPS_SALT, compress=True)


# Columns of a buffered impression, in the order the flush inserts them (ecommerce.bulk).
IMPRESSION_COLUMNS = (
    "uid",
    "campaign_id",
    "ad_id",
    "user_id",
    "session_key",
    "slot",
    "bid_type",
    "price",
    "charged",
    "pctr",
    "features",
    "created_at",
    "settled",
)
_MILLI = Decimal("0.001")


def cpm_price(price: Decimal) -> Decimal:
    """A CPM price in whole thousandths (rounded down, in the advertiser's favour), so that one
    impression's charge, price / 1000, is exact in the 6-decimal money columns and N impressions
    cost exactly N x price / 1000."""
    return price.quantize(_MILLI, rounding=ROUND_DOWN)


def click_token_for(*, uid: str, ad_id: int, price: Decimal, bid_type: str, slot: str, at: datetime) -> str:
    """Signed click URL token. It carries the impression's pre-generated uid and what is needed to
    write the impression itself if the click comes before the buffer is flushed; never a URL."""
    payload = {"u": uid, "a": ad_id, "p": str(price), "b": bid_type, "s": slot, "t": int(at.timestamp())}
    return _click_signer().sign_object(payload)


# The click signer of this process: what signing.dumps(payload, salt=CLICK_SALT) builds per call
# (settings read, key derivation), made once per SECRET_KEY. Not compressed: zlib on a ~90 byte
# payload cost more than the 40 characters it saved. signing.loads reads both forms, so tokens
# handed out before this change still click. 26 -> 14 µs per ad (docs/benchmarks/storefront.md
# "Round 5").
_click_signers: dict[str, signing.TimestampSigner] = {}


def _click_signer() -> signing.TimestampSigner:
    secret = settings.SECRET_KEY
    signer = _click_signers.get(secret)
    if signer is None:
        _click_signers.clear()  # a rotated key: the old signer must not sign again
        signer = _click_signers[secret] = signing.TimestampSigner(salt=conf.CLICK_SALT)
    return signer


def _record_row(record: dict[str, Any], *, settled: bool) -> tuple:
    return (
        uuid.UUID(record["u"]),
        record["c"],
        record["a"],
        record.get("us"),
        record.get("sk", ""),
        record["s"],
        record["b"],
        Decimal(record["p"]),
        Decimal(record["ch"]),
        float(record.get("pc", 0.0)),
        record.get("f", {}),
        datetime.fromisoformat(record["t"]),
        settled,
    )


def _serve_direct(asks: list[buffer.Reservation]) -> list[bool]:
    """No buffer (embedded default, or Redis not answering): charge CPM now and insert the rows
    at once, settled. Slower, never lost, and the conditional UPDATE still guards the budget."""
    shown: list[bool] = []
    rows: list[tuple] = []
    with transaction.atomic():
        for ask in asks:
            fits = ask.amount <= 0 or campaign_charge(
                campaign_id=ask.campaign_id, amount=ask.amount, today=date.fromisoformat(ask.day)
            )
            shown.append(fits)
            if fits:
                rows.append(_record_row(ask.record, settled=True))
            else:
                transaction.on_commit(live_ads_invalidate)  # our snapshot's spend is stale: reload it
        bulk_insert(Impression, IMPRESSION_COLUMNS, rows)
    return shown


def ads_serve(
    *,
    tracking: Tracking,
    page: PageContext,
    n: int,
    now: datetime | None = None,
    caps: CapCounts | None = None,
    counter: buffer.RateCounter | None = None,
) -> list[dict[str, Any]]:
    """Pick and price up to `n` ads for this shopper and page; reserve CPM spend; buffer the
    impressions. No database write (advertising/buffer.py; the flush task writes and settles).

    `counter` is the request's rate-limit window: counted in the same buffer call as the
    reservations (raises RateLimited past its limit).

    Without tracking consent (ecommerce.privacy.tracking_for) the auction sees an anonymous
    shopper (contextual ads only, no profile or history) and the impression is stored without
    user, session or demographic fields; frequency-capped campaigns are left out, since their
    caps cannot be counted for a shopper we may not recognise. With consent, caps count from the
    account's stored impressions and from `caps` (the browser's signed cookie), which this call
    updates for what it served.
    """
    user, session_key = tracking.user, tracking.session_key
    if page.slot not in SLOTS:
        raise UnknownSlot(f"Unknown slot {page.slot!r}; use one of {', '.join(SLOTS)}.")
    n = max(0, min(n, conf.max_ads_per_request()))
    now = now or timezone.now()
    local_now = timezone.localtime(now)
    pairs = live_ads_cached()
    if not pairs or n == 0:
        _buffer_round_trip([], counter)
        return []
    cap_counts = caps.counts if caps is not None and tracking.allowed else None
    day = local_now.date().isoformat()
    if _auction_memo.get("pairs") is not pairs:  # a new snapshot: forget what the old one decided
        _auction_memo.clear()
        _auction_memo["pairs"] = pairs
        _exhausted.clear()
    anonymous = (user is None or not user.is_authenticated) and not session_key and not cap_counts
    if anonymous:
        # Every anonymous visitor of this page in this minute gets the same auction: run it once.
        # (A retrain's new similar lists reach these memoised auctions within the minute.)
        memo_key = (
            page,
            n,
            tracking.allowed,
            local_now.replace(second=0, microsecond=0),
            _exhausted_version(),
            conf.relevance_floor(),
        )
        entries = _auction_memo.setdefault("entries", {})
        if memo_key not in entries:
            if len(entries) > _AUCTION_MEMO_MAX:
                entries.clear()
            entries[memo_key] = _auction(tracking, page, n, now, local_now, pairs, cap_counts, day)
        winners, ad_rows, features = entries[memo_key]
    else:
        winners, ad_rows, features = _auction(tracking, page, n, now, local_now, pairs, cap_counts, day)
    return _buffer_and_render(
        winners=winners,
        ad_rows=ad_rows,
        features=features,
        tracking=tracking,
        page=page,
        now=now,
        day=day,
        caps=caps,
        counter=counter,
    )


class RateLimited(DomainError):
    def __init__(self, wait: float) -> None:
        super().__init__("Too many ad requests; try again shortly.")
        self.wait = wait


def _buffer_round_trip(asks: list[buffer.Reservation], counter: buffer.RateCounter | None) -> list[bool]:
    """Count the request, reserve and buffer (a round trip only when a leased block runs out);
    written directly when there is no buffer (or Redis is down)."""
    if counter is None and not asks:
        return []
    try:
        outcome = buffer.reserve_and_push(asks, counter=counter, version_key=LIVE_VERSION_KEY)
    except buffer.BufferUnavailable:
        outcome = buffer.local_outcome(asks, counter, "", _serve_direct)
    if outcome.version is not None:
        live_version_seen(outcome.version)
    if outcome.throttled:
        raise RateLimited(counter.retry_after if counter else 60)
    return outcome.shown


# The anonymous auctions of this process, per (page, n, consent, minute): reset with the snapshot.
_auction_memo: dict[str, Any] = {}
_AUCTION_MEMO_MAX = 20_000
# Campaigns whose budget reservation failed today in this process: out of the auction until the
# next snapshot (whose spend lags the reservations until the flush has settled them).
_exhausted: dict[int, str] = {}
_exhausted_changes = [0]


def _exhausted_version() -> int:
    return _exhausted_changes[0]


def _auction(
    tracking: Tracking,
    page: PageContext,
    n: int,
    now: datetime,
    local_now: datetime,
    pairs: list,
    cap_counts: dict[int, int] | None,
    day: str,
) -> tuple[list[auction.Winner], dict[int, Ad], list[dict[str, str]]]:
    """Eligibility, pCTR and the second-price auction for this shopper and page (no I/O for
    an anonymous shopper; a signed-in one costs the shopper-context queries)."""
    user, session_key = tracking.user, tracking.session_key
    nothing: tuple[list[auction.Winner], dict[int, Ad], list[dict[str, str]]] = ([], {}, [])
    if _exhausted:
        pairs = [(spec, ad) for spec, ad in pairs if _exhausted.get(spec.campaign.id) != day]
    if not tracking.allowed:
        pairs = [
            (spec, ad)
            for spec, ad in pairs
            if spec.campaign.cap_per_user_day is None and spec.campaign.cap_per_session is None
        ]
        if not pairs:
            return nothing
    specs = {spec.campaign.id: spec.campaign for spec, _ in pairs}
    shopper = shopper_context(
        user=user, session_key=session_key, campaigns=list(specs.values()), now=now, cap_counts=cap_counts
    )
    seconds = local_now.hour * 3600 + local_now.minute * 60 + local_now.second
    allowed = auction.eligible(
        [spec for spec, _ in pairs],
        shopper,
        reserve_cpc=conf.reserve_cpc(),
        reserve_cpm=conf.reserve_cpm(),
        day_fraction=auction.day_fraction_of(seconds),
        pacing=conf.pacing_enabled(),
        pacing_slack=conf.pacing_slack(),
    )
    if not allowed:
        return nothing
    ad_rows = {ad.pk: ad for _, ad in pairs}
    # Never advertise the very product the shopper is looking at.
    allowed = [spec for spec in allowed if not (page.product_id and spec.product_id == page.product_id)]
    page_category_id = page.category_id
    if page_category_id is None and page.product_id:
        page_category_id = product_category_id(page.product_id)
    query_words = frozenset(w for w in page.query.lower().split() if len(w) > 2)
    segment = sorted(shopper.segments)[0] if shopper.segments else ""
    # --- context relevance (advertising/relevance.py): gate each candidate, weigh its eCPM -----
    matches = relevance_matches(
        page=page, page_category_id=page_category_id, tracking=tracking, ads={s.id: ad_rows[s.id] for s in allowed}
    )
    allowed = [spec for spec in allowed if relevance_allows(spec, matches[spec.id])]
    if not allowed:
        return nothing  # an empty slot beats an irrelevant ad
    # --- end context relevance ------------------------------------------------------------------

    def row_for(ad: Ad) -> dict[str, str]:
        return _features(
            shopper=shopper,
            ad=ad,
            slot=page.slot,
            segment=segment,
            now=local_now,
            page_match=_page_match(ad, page_category_id, query_words),
            context_match=matches[ad.pk],
        )

    context_key = (
        shopper.age,
        shopper.gender,
        shopper.country,
        segment,
        page.slot,
        local_now.hour,
        local_now.weekday(),
        page_category_id,
        query_words,
        page.product_id,  # the context-match features depend on the page product's lists
    )
    pctrs = _predict_ctr([ad_rows[spec.id] for spec in allowed], row_for, context_key)
    candidates = [
        auction.Candidate(ad=spec, pctr=p, relevance_weight=relevance.weight(matches[spec.id].score))
        for spec, p in zip(allowed, pctrs, strict=True)
    ]
    winners = auction.run_auction(candidates, n_slots=n, reserve_cpc=conf.reserve_cpc(), reserve_cpm=conf.reserve_cpm())
    winner_ads = {winner.ad.id: ad_rows[winner.ad.id] for winner in winners}
    return winners, winner_ads, [row_for(ad_rows[winner.ad.id]) for winner in winners]


def _buffer_and_render(
    *,
    winners: list[auction.Winner],
    ad_rows: dict[int, Ad],
    features: list[dict[str, str]],
    tracking: Tracking,
    page: PageContext,
    now: datetime,
    day: str,
    caps: CapCounts | None,
    counter: buffer.RateCounter | None,
) -> list[dict[str, Any]]:
    """Reserve CPM spend and buffer the winners' impressions (one buffer call), then the JSON."""
    user, session_key = tracking.user, tracking.session_key
    user_id = user.pk if (user is not None and user.is_authenticated) else None
    created_at = now.isoformat()
    asks: list[buffer.Reservation] = []
    for winner, row in zip(winners, features, strict=True):
        ad, campaign = ad_rows[winner.ad.id], winner.ad.campaign
        is_cpm = campaign.bid_type == auction.CPM
        price = cpm_price(winner.price) if is_cpm else winner.price
        record = {
            "u": uuid.uuid4().hex,
            "c": ad.campaign_id,
            "a": ad.pk,
            "us": user_id,
            "sk": session_key or "",
            "s": page.slot,
            "b": campaign.bid_type,
            "p": str(price),
            "ch": str(price / 1000 if is_cpm else Decimal("0")),
            "pc": winner.pctr,
            "f": row,
            "t": created_at,
        }
        asks.append(
            buffer.Reservation(
                campaign_id=ad.campaign_id,
                day=day,
                amount=price / 1000 if is_cpm else Decimal("0"),
                daily_budget=campaign.daily_budget,
                total_budget=campaign.total_budget,
                spend_today=campaign.spend_today,
                spend_total=campaign.spend_total,
                record=record,
            )
        )
    shown = _buffer_round_trip(asks, counter)
    served: list[dict[str, Any]] = []
    for winner, ask, ok in zip(winners, asks, shown, strict=True):
        if not ok:  # the budget is spent (reserved by other requests): do not show it
            if _exhausted.get(ask.campaign_id) != day:
                _exhausted[ask.campaign_id] = day
                _exhausted_changes[0] += 1
            continue
        ad, campaign, record = ad_rows[winner.ad.id], winner.ad.campaign, ask.record
        if caps is not None and (campaign.cap_per_user_day is not None or campaign.cap_per_session is not None):
            caps.counts[campaign.id] = caps.counts.get(campaign.id, 0) + 1
            caps.changed = True
        token = click_token_for(
            uid=record["u"], ad_id=ad.pk, price=Decimal(record["p"]), bid_type=record["b"], slot=page.slot, at=now
        )
        served.append(
            {
                "impression_id": record["u"],
                **_ad_fields(ad),
                "click_url": _click_url(token),
                "sponsored": True,
                "position": winner.position,
            }
        )
    logger.debug("advertising.served", extra={"slot": page.slot, "n": len(served)})  # per request: debug only
    return served


# URLs the ad answer links to, reversed once per process (two reverse() calls were ~45 µs of an
# ad request, docs/benchmarks/storefront.md "Serving APIs, round 3"). They belong to the URLconf
# and script prefix they were reversed under: another URLconf or prefix starts afresh.
_urls: dict[Any, Any] = {}
_urls_owner: list[Any] = [None]
_URLS_MAX = 10_000
_CLICK_MARKER = "0click0token0"
# What a signed click token is made of (URL-safe base64, signing's ":" and the compressed "."):
# characters reverse() leaves as they are, so the token can go between the reversed URL's parts.
_CLICK_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:.")


def _url_memo() -> dict[Any, Any]:
    owner = (get_resolver(get_urlconf()), get_script_prefix())
    if _urls_owner[0] != owner or len(_urls) >= _URLS_MAX:
        _urls.clear()
        _urls_owner[0] = owner
    return _urls


def _ad_fields(ad: Ad) -> dict[str, Any]:
    """What an answer says about `ad` and its product, the same for every request: built once per
    snapshot row (a changed ad or product comes in a new snapshot, as new rows) and URLconf.
    Kept with the row it was built from, so a row of another snapshot never reads it. Every
    answer shares the returned dicts (the product dict too): read them, never change them."""
    memo = _url_memo()
    entry = memo.get(("ad", ad.pk))
    if entry is not None and entry[0] is ad:
        return entry[1]
    product = ad.product
    fields = {
        "ad_id": ad.pk,
        "campaign_id": ad.campaign_id,
        "headline": ad.headline,
        "image_url": ad.image_url or (product.image_url if product else ""),
        "product": None
        if product is None
        else {
            "id": product.pk,
            "title": product.title,
            "price": str(product.price),
            "currency": product.currency,
            "price_display": format_money(product.price, product.currency),
            "url": _product_url(product),
        },
    }
    memo[("ad", ad.pk)] = (ad, fields)
    return fields


def _product_url(product: Product) -> str:
    """product.get_absolute_url(), reversed once per product id."""
    memo = _url_memo()
    key = ("product", product.pk)
    url = memo.get(key)
    if url is None:
        url = memo[key] = product.get_absolute_url()
    return url


def _click_url(token: str) -> str:
    """reverse("advertising:click", args=[token]), the URL around the token reversed once."""
    memo = _url_memo()
    parts = memo.get("click")
    if parts is None:
        before, _, after = reverse("advertising:click", args=[_CLICK_MARKER]).partition(_CLICK_MARKER)
        parts = memo["click"] = (before, after)
    if not token or not _CLICK_TOKEN_CHARS.issuperset(token):
        return reverse("advertising:click", args=[token])
    return f"{parts[0]}{token}{parts[1]}"


_product_categories: dict[int, int | None] = {}


def product_category_id(product_id: int) -> int | None:
    """A product's category, remembered per process (categories of products rarely move; the
    page script sends the category with the product, so this is only the API's fallback)."""
    if product_id not in _product_categories:
        if len(_product_categories) > 100_000:
            _product_categories.clear()
        _product_categories[product_id] = (
            Product.objects.filter(pk=product_id).values_list("category_id", flat=True).first()
        )
    return _product_categories[product_id]


# --- the impression buffer: flush and settlement ---------------------------------------------


def impressions_flush(*, limit: int | None = None, settle: bool = True) -> dict[str, int]:
    """Write buffered impressions in bulk, then settle unsettled CPM charges into spend.

    Idempotent: the insert skips uids already written (a click may have written its impression
    first), and settlement charges each row once (it flips `settled` in the same transaction).
    A failed insert puts the records back for the next run.
    """
    limit = limit or conf.flush_batch()
    records = buffer.pop(limit)
    inserted = 0
    if records:
        try:
            with transaction.atomic():
                inserted = _insert_records(records)
        except Exception:
            buffer.requeue(records)
            raise
    result = {"popped": len(records), "inserted": inserted}
    if settle:
        result.update(impressions_settle())
    if records:
        logger.info("advertising.impressions_flushed", extra=result)
    return result


def _insert_records(records: list[dict[str, Any]]) -> int:
    # Rows must not fail as a batch: an ad deleted since (never shown again) drops its rows, an
    # account erased since loses its link.
    ad_ids = set(Ad.objects.filter(pk__in={r["a"] for r in records}).values_list("pk", flat=True))
    user_ids = {r["us"] for r in records if r.get("us")}
    if user_ids:
        user_ids = set(User.objects.filter(pk__in=user_ids).values_list("pk", flat=True))
    rows = []
    for record in records:
        if record["a"] not in ad_ids:
            logger.warning("advertising.impression_dropped", extra={"ad_id": record["a"]})
            continue
        if record.get("us") and record["us"] not in user_ids:
            record = {**record, "us": None, "sk": "", "f": {}}
        rows.append(_record_row(record, settled=False))
    return bulk_insert(Impression, IMPRESSION_COLUMNS, rows, ignore_conflicts=True)


def _settle_charge(*, campaign_id: int, amount: Decimal, day: date, today: date) -> bool:
    if day >= today:
        return campaign_charge(campaign_id=campaign_id, amount=amount, today=today)
    # An earlier day settled after midnight: only the total moves (today's spend is today's).
    try:
        return (
            Campaign.objects.filter(pk=campaign_id, spend_total__lte=F("total_budget") - amount).update(
                spend_total=F("spend_total") + amount
            )
            == 1
        )
    except IntegrityError:
        return False


def impressions_settle(*, limit: int = 50_000) -> dict[str, int]:
    """Add the charges of unsettled impressions to their campaigns' spend, one UPDATE per
    campaign and day, and mark them settled, in one transaction.

    The buffer's reservations kept those charges within budget; if a reservation counter was
    lost (Redis restarted empty), a charge the budget cannot take is not made: those impressions
    are stored as free (charged 0), so spend never passes the budget and the ledger stays exact.
    """
    today = timezone.localdate()
    unfunded: list[int] = []
    with transaction.atomic():
        rows = list(
            Impression.objects.select_for_update(skip_locked=True)
            .filter(settled=False)
            .order_by()
            .values_list("pk", "campaign_id", "charged", "created_at")[:limit]
        )
        if not rows:
            return {"settled": 0, "unfunded": 0}
        groups: dict[tuple[int, date], list[tuple[int, Decimal]]] = {}
        for pk, campaign_id, charged, created_at in rows:
            groups.setdefault((campaign_id, timezone.localdate(created_at)), []).append((pk, charged))
        for (campaign_id, day), items in groups.items():
            amount = sum((charged for _, charged in items), Decimal("0"))
            if amount <= 0 or _settle_charge(campaign_id=campaign_id, amount=amount, day=day, today=today):
                continue
            for pk, charged in items:  # rare: charge what still fits, one by one
                if charged > 0 and not _settle_charge(campaign_id=campaign_id, amount=charged, day=day, today=today):
                    unfunded.append(pk)
        if unfunded:
            Impression.objects.filter(pk__in=unfunded).update(charged=Decimal("0"))
            logger.warning("advertising.impressions_unfunded", extra={"n": len(unfunded)})
            transaction.on_commit(live_ads_invalidate)
        Impression.objects.filter(pk__in=[row[0] for row in rows]).update(settled=True)
    return {"settled": len(rows), "unfunded": len(unfunded)}


# --- clicks ---------------------------------------------------------------------------------


def _impression_for_click(payload: dict[str, Any]) -> Impression | None:
    """The clicked impression: stored, or still in the buffer (flush it), or written here from
    the signed token (the buffered copy is then skipped by the flush)."""
    rows = Impression.objects.select_related("ad")
    if "i" in payload:  # a link served before impressions were buffered
        return rows.filter(pk=int(payload["i"])).first()
    uid = uuid.UUID(str(payload["u"]))
    impression = rows.filter(uid=uid).first()
    if impression is not None:
        return impression
    impressions_flush(settle=False)
    impression = rows.filter(uid=uid).first()
    if impression is not None:
        return impression
    ad = Ad.objects.filter(pk=int(payload["a"])).only("pk", "campaign_id").first()
    bid_type = str(payload["b"])
    if ad is None or bid_type not in Campaign.BidType.values:
        return None
    price = Decimal(str(payload["p"]))
    at = datetime.fromtimestamp(int(payload["t"]), tz=UTC)
    charged = price / 1000 if bid_type == Campaign.BidType.CPM else Decimal("0")
    record = {
        "u": uid.hex,
        "c": ad.campaign_id,
        "a": ad.pk,
        "s": str(payload["s"])[:16],
        "b": bid_type,
        "p": str(price),
        "ch": str(charged),
        "t": at.isoformat(),
    }
    bulk_insert(Impression, IMPRESSION_COLUMNS, [_record_row(record, settled=False)], ignore_conflicts=True)
    logger.info("advertising.impression_written_by_click", extra={"ad_id": ad.pk})
    return rows.filter(uid=uid).first()


def ad_click(*, token: str, tracking: Tracking) -> str:
    """Verify the signed token, record the click once, charge CPC once; return the landing URL.

    The redirect target is ALWAYS the ad's stored landing URL: the token carries only the
    impression's uid and price data, so nobody can make us redirect elsewhere.
    """
    try:
        payload = signing.loads(token, salt=conf.CLICK_SALT, max_age=conf.click_token_max_age())
        impression = _impression_for_click(payload)
    except signing.SignatureExpired as exc:
        raise InvalidClickToken("This ad link has expired.") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidClickToken("Invalid ad link.") from exc
    if impression is None:
        raise InvalidClickToken("Invalid ad link.")
    impression_id = impression.pk
    landing_url = impression.ad.landing_url
    if not landing_url_is_safe(landing_url):  # rows written around validation: never redirect off-scheme
        logger.warning("advertising.unsafe_landing_url", extra={"ad_id": impression.ad_id})
        landing_url = "/"
    # Billed either way; linked to the shopper only with consent (tracking.user is None without).
    authenticated_user = tracking.user
    try:
        with transaction.atomic():
            click = Click.objects.create(
                impression=impression,
                campaign_id=impression.campaign_id,
                ad_id=impression.ad_id,
                user=authenticated_user or (impression.user if tracking.allowed else None),
            )
            charged = Decimal("0")
            if impression.bid_type == Campaign.BidType.CPC:
                if campaign_charge(campaign_id=impression.campaign_id, amount=impression.price):
                    charged = impression.price
                else:
                    transaction.on_commit(live_ads_invalidate)  # out of budget: stop serving it
            if charged:
                Click.objects.filter(pk=click.pk).update(charged=charged)
    except IntegrityError:
        # Second click from the same impression: redirect again, charge nothing.
        logger.info("advertising.duplicate_click", extra={"impression_id": impression_id})
        return landing_url
    from ecommerce.services.events import event_record

    event_record(
        type="ad_click",
        tracking=tracking,
        product_id=impression.ad.product_id,
        properties={
            "ad_id": impression.ad_id,
            "campaign_id": impression.campaign_id,
            "impression_id": impression.pk,
            "slot": impression.slot,
        },
    )
    logger.info("advertising.click", extra={"impression_id": impression_id, "charged": str(charged)})
    return landing_url


# --- conversions and reports ----------------------------------------------------------------


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, start + timedelta(days=1)


def report_rollups_refresh(*, days: int = 2, today: date | None = None) -> dict[str, int]:
    """Recompute the per-campaign daily rows of the last `days` days from the raw logs.

    Recomputing (not incrementing) makes it safe to run twice or concurrently.
    """
    impressions_flush()  # the buffered impressions belong in the report too
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start, _ = _day_bounds(first)
    _, end = _day_bounds(today)
    attributed = conversions_attribute(since=start - timedelta(days=30))
    rows = 0
    for offset in range(days):
        day = first + timedelta(days=offset)
        lo, hi = _day_bounds(day)
        stats: dict[int, dict[str, Any]] = {}
        for cid, n, spend in (
            Impression.objects.filter(created_at__gte=lo, created_at__lt=hi)
            .values_list("campaign_id")
            .annotate(Count("id"), Sum("charged"))
            .order_by()
        ):
            stats.setdefault(cid, {}).update(impressions=n, spend=spend or Decimal("0"))
        for cid, n, spend in (
            Click.objects.filter(created_at__gte=lo, created_at__lt=hi)
            .values_list("campaign_id")
            .annotate(Count("id"), Sum("charged"))
            .order_by()
        ):
            entry = stats.setdefault(cid, {})
            entry["clicks"] = n
            entry["spend"] = entry.get("spend", Decimal("0")) + (spend or Decimal("0"))
        for cid, n, revenue in (
            Conversion.objects.filter(converted_at__gte=lo, converted_at__lt=hi)
            .values_list("campaign_id")
            .annotate(Count("id"), Sum("revenue"))
            .order_by()
        ):
            stats.setdefault(cid, {}).update(conversions=n, revenue=revenue or Decimal("0"))
        for cid, entry in stats.items():
            DailyReport.objects.update_or_create(
                campaign_id=cid,
                day=day,
                defaults={
                    "impressions": entry.get("impressions", 0),
                    "clicks": entry.get("clicks", 0),
                    "spend": entry.get("spend", Decimal("0")),
                    "conversions": entry.get("conversions", 0),
                    "revenue": entry.get("revenue", Decimal("0")),
                },
            )
            rows += 1
    ad_counters_refresh()
    return {"rows": rows, "conversions_attributed": attributed, "days": days, "until": str(end.date())}


def ad_counters_refresh() -> None:
    """Recount impressions and clicks per ad (the no-model pCTR fallback reads these).

    Counted here, off the request path, instead of an UPDATE per served ad.
    """
    impressions = dict(Impression.objects.values_list("ad_id").annotate(Count("id")).order_by())
    clicks = dict(Click.objects.values_list("ad_id").annotate(Count("id")).order_by())
    for ad in Ad.objects.filter(pk__in=set(impressions) | set(clicks)).only("pk", "impressions_count", "clicks_count"):
        n_imp, n_click = impressions.get(ad.pk, 0), clicks.get(ad.pk, 0)
        if (ad.impressions_count, ad.clicks_count) != (n_imp, n_click):
            Ad.objects.filter(pk=ad.pk).update(impressions_count=n_imp, clicks_count=n_click)
    live_ads_invalidate()


# --- privacy --------------------------------------------------------------------------------


def _ad_rows_of(user: User, subject: Any) -> tuple[Any, Any]:
    """The shopper's impressions (account or pre-login sessions) and the clicks on them."""
    session_keys = sorted(getattr(subject, "session_keys", ()) or ())
    who = Q(user=user) | (Q(user__isnull=True, session_key__in=session_keys) if session_keys else Q(pk__in=[]))
    impressions = Impression.objects.filter(who)
    clicks = Click.objects.filter(Q(user=user) | Q(user__isnull=True, impression__in=impressions.values("pk")))
    return impressions, clicks


def erase_ad_data_of(user: User, *, subject: Any = None) -> dict[str, int]:
    """Unlink the shopper from impressions/clicks (billing records stay, anonymous)."""
    impressions_flush()  # buffered impressions of the shopper are erased like stored ones
    impressions, clicks = _ad_rows_of(user, subject)
    n_clicks = clicks.update(user=None)  # before the impressions lose the session key that finds them
    n_impressions = impressions.update(user=None, session_key="", features={})
    scores, _ = AudienceScore.objects.filter(user=user).delete()
    return {"impressions": n_impressions, "clicks": n_clicks, "audience_scores": scores}


def export_ad_data_of(user: User, *, subject: Any = None) -> dict[str, Any]:
    impressions_flush()  # the export holds exactly what erasure removes, buffered rows included
    impressions, clicks = _ad_rows_of(user, subject)
    return {
        "ad_impressions": [
            {
                "ad_id": i.ad_id,
                "campaign_id": i.campaign_id,
                "slot": i.slot,
                "shown_at": i.created_at.isoformat(),
                "session_key": i.session_key,
                "features": i.features,
            }
            for i in impressions.order_by("created_at")[:50_000]
        ],
        "ad_clicks": [
            {"ad_id": c.ad_id, "campaign_id": c.campaign_id, "clicked_at": c.created_at.isoformat()}
            for c in clicks.order_by("created_at")[:50_000]
        ],
        "audience_scores": list(AudienceScore.objects.filter(user=user).values("campaign_id", "score")),
    }


def product_sellable(product: Product | None) -> bool:
    return product is not None and product.is_active and not product.is_non_product and product.stock > 0


# --- accounts -------------------------------------------------------------------------------


@transaction.atomic
def advertiser_account_create(*, name: str, username: str, email: str, password: str) -> tuple[Advertiser, User]:
    """A non-staff login that belongs to one advertiser (created if new) and reaches only its
    campaigns. Advertisers are customers of the shop, never staff."""
    from ecommerce.services.staff import account_fields_check

    name, username = (name or "").strip(), (username or "").strip()
    if not name or len(name) > 200:
        raise DomainError("Give an advertiser name of 1 to 200 characters.")
    account_fields_check(username=username, email=email, password=password)
    advertiser, _ = Advertiser.objects.get_or_create(name=name)
    user = User.objects.create_user(username=username, email=email, password=password, is_staff=False)
    advertiser.users.add(user)
    logger.info("advertising.account_created", extra={"advertiser_id": advertiser.pk, "user_id": user.pk})
    return advertiser, user
