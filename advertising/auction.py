"""The ad auction: eligibility, ranking by expected value, generalized second price, pacing.

Plain Python on small dataclasses (no Django), so every rule is unit-tested with hand-computed
numbers. The service (advertising.services.ads_serve) loads rows into these dataclasses, calls
`eligible`, asks the click model for pCTRs, calls `run_auction`, then charges and logs.

Ranking follows the usual sponsored-search set-up (Edelman, Ostrovsky & Schwarz 2007; Revive's
delivery engine), weighted by how well the ad fits the page (advertising.relevance): each
candidate's expected value per impression is
    CPC bid: bid x pCTR x w          CPM bid: bid / 1000 x w
(eCPM = 1000 x value), with w = relevance weight = 0.25 + 0.75 x relevance (1 on a page without
context). The winner in position k pays the least bid that would still keep it above position k+1:
    CPC: value(k+1) / (pCTR(k) x w(k))    CPM: value(k+1) x 1000 / w(k)
never more than its own bid and never less than the reserve price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_UP, Decimal

CPC = "cpc"
CPM = "cpm"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ShopperContext:
    """What targeting may know about the shopper on this request."""

    age: int | None = None
    gender: str = ""
    country: str = ""
    interest_category_ids: frozenset[int] = frozenset()
    segments: frozenset[str] = frozenset()
    # (kind, id, days_ago): kind in {"viewed_product", "carted_product", "viewed_category", "carted_category"}
    viewed_product_days: dict[int, int] = field(default_factory=dict)
    carted_product_days: dict[int, int] = field(default_factory=dict)
    viewed_category_days: dict[int, int] = field(default_factory=dict)
    carted_category_days: dict[int, int] = field(default_factory=dict)
    # campaign id -> lookalike score for this shopper
    audience_scores: dict[int, float] = field(default_factory=dict)
    # campaign id -> impressions already shown today (user) / in this session
    shown_today: dict[int, int] = field(default_factory=dict)
    shown_in_session: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CampaignSpec:
    id: int
    bid_type: str
    bid: Decimal
    daily_budget: Decimal
    total_budget: Decimal
    spend_total: Decimal
    spend_today: Decimal
    min_age: int | None = None
    max_age: int | None = None
    genders: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    interest_category_ids: frozenset[int] = frozenset()
    segments: frozenset[str] = frozenset()
    retarget: str = ""  # "", "viewed", "carted"
    retarget_days: int = 30
    retarget_product_ids: frozenset[int] = frozenset()
    retarget_category_ids: frozenset[int] = frozenset()
    lookalike_min_score: float | None = None
    cap_per_user_day: int | None = None
    cap_per_session: int | None = None
    # May serve where its product does not fit the page (below the relevance floor).
    run_of_site: bool = False

    @property
    def audience_targeted(self) -> bool:
        """Aimed at the shopper's own interest (retargeting, interest categories, lookalike):
        such an ad is relevant to the shopper even where it does not fit the page."""
        return bool(self.retarget or self.interest_category_ids or self.lookalike_min_score is not None)


@dataclass(frozen=True)
class AdSpec:
    id: int
    campaign: CampaignSpec
    product_id: int | None
    product_sellable: bool = True  # active, a real product, in stock


@dataclass(frozen=True)
class Candidate:
    ad: AdSpec
    pctr: float
    # advertising.relevance.weight(relevance): 1 where the page has no context.
    relevance_weight: float = 1.0

    @property
    def value(self) -> Decimal:
        """Relevance-weighted expected revenue per impression (what we rank by; eCPM / 1000)."""
        campaign = self.ad.campaign
        w = Decimal(str(self.relevance_weight))
        if campaign.bid_type == CPM:
            return campaign.bid / 1000 * w
        return campaign.bid * Decimal(str(self.pctr)) * w

    @property
    def ecpm(self) -> Decimal:
        return self.value * 1000


@dataclass(frozen=True)
class Winner:
    ad: AdSpec
    pctr: float
    position: int
    price: Decimal  # in bid units: per click (CPC) or per 1,000 impressions (CPM)


# --- eligibility ----------------------------------------------------------------------------


def _recent(days_by_id: dict[int, int], ids: Iterable[int], window: int) -> bool:
    return any(days_by_id.get(i, window + 1) <= window for i in ids)


def targeting_matches(campaign: CampaignSpec, shopper: ShopperContext) -> bool:
    """Every rule that is set must hold; an unknown attribute never matches a set rule."""
    if campaign.min_age is not None and (shopper.age is None or shopper.age < campaign.min_age):
        return False
    if campaign.max_age is not None and (shopper.age is None or shopper.age > campaign.max_age):
        return False
    if campaign.genders and shopper.gender not in campaign.genders:
        return False
    if campaign.countries and shopper.country.casefold() not in {c.casefold() for c in campaign.countries}:
        return False
    if campaign.interest_category_ids and not (campaign.interest_category_ids & shopper.interest_category_ids):
        return False
    if campaign.segments and not (campaign.segments & shopper.segments):
        return False
    if campaign.retarget:
        window = campaign.retarget_days
        if campaign.retarget == "carted":
            hit = _recent(shopper.carted_product_days, campaign.retarget_product_ids, window) or _recent(
                shopper.carted_category_days, campaign.retarget_category_ids, window
            )
        else:  # viewed (carting implies having viewed)
            hit = (
                _recent(shopper.viewed_product_days, campaign.retarget_product_ids, window)
                or _recent(shopper.viewed_category_days, campaign.retarget_category_ids, window)
                or _recent(shopper.carted_product_days, campaign.retarget_product_ids, window)
                or _recent(shopper.carted_category_days, campaign.retarget_category_ids, window)
            )
        if not hit:
            return False
    return (
        campaign.lookalike_min_score is None
        or shopper.audience_scores.get(campaign.id, 0.0) >= campaign.lookalike_min_score
    )


def caps_allow(campaign: CampaignSpec, shopper: ShopperContext) -> bool:
    if campaign.cap_per_user_day is not None and shopper.shown_today.get(campaign.id, 0) >= campaign.cap_per_user_day:
        return False
    return campaign.cap_per_session is None or shopper.shown_in_session.get(campaign.id, 0) < campaign.cap_per_session


def min_charge(campaign: CampaignSpec, reserve: Decimal) -> Decimal:
    """The least one billable event can cost: used to decide whether budget is left."""
    price = max(reserve, CENT) if campaign.bid_type == CPC else max(reserve, CENT) / 1000
    return price


def budget_allows(campaign: CampaignSpec, reserve: Decimal) -> bool:
    need = min_charge(campaign, reserve)
    return campaign.spend_total + need <= campaign.total_budget and campaign.spend_today + need <= campaign.daily_budget


def pacing_allows(campaign: CampaignSpec, day_fraction: float, slack: float = 0.05) -> bool:
    """Spread the daily budget over the day: hold back while spend runs ahead of the clock.

    At 06:00 (a quarter of the day gone) a campaign may have spent up to 25% (+ slack) of its
    daily budget; the slack lets a fresh day start serving at midnight.
    """
    allowed = campaign.daily_budget * Decimal(str(min(1.0, max(0.0, day_fraction) + slack)))
    return campaign.spend_today < allowed


def eligible(
    ads: Sequence[AdSpec],
    shopper: ShopperContext,
    *,
    reserve_cpc: Decimal,
    reserve_cpm: Decimal,
    day_fraction: float,
    pacing: bool = True,
    pacing_slack: float = 0.05,
) -> list[AdSpec]:
    """Ads that may take part: sellable product, budget left, on pace, targeting, caps, reserve."""
    out = []
    for ad in ads:
        campaign = ad.campaign
        reserve = reserve_cpc if campaign.bid_type == CPC else reserve_cpm
        if not ad.product_sellable or campaign.bid < reserve:
            continue
        if not budget_allows(campaign, reserve):
            continue
        if pacing and not pacing_allows(campaign, day_fraction, pacing_slack):
            continue
        if not caps_allow(campaign, shopper) or not targeting_matches(campaign, shopper):
            continue
        out.append(ad)
    return out


# --- auction --------------------------------------------------------------------------------


def _round_up_cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_UP)


def run_auction(
    candidates: Sequence[Candidate],
    *,
    n_slots: int,
    reserve_cpc: Decimal,
    reserve_cpm: Decimal,
) -> list[Winner]:
    """Rank by value, one ad per campaign, and price each winner by generalized second price.

    Ties are broken by ad id so the result is deterministic. The runner-up after the last slot
    sets the last winner's price; with nobody below, a winner pays the reserve.
    """
    if n_slots <= 0:
        return []
    ranked = sorted(candidates, key=lambda c: (-c.value, c.ad.id))
    seen_campaigns: set[int] = set()
    unique: list[Candidate] = []
    for cand in ranked:
        if cand.ad.campaign.id in seen_campaigns or cand.pctr <= 0 or cand.relevance_weight <= 0:
            continue
        seen_campaigns.add(cand.ad.campaign.id)
        unique.append(cand)
    winners: list[Winner] = []
    for position, cand in enumerate(unique[:n_slots]):
        campaign = cand.ad.campaign
        next_value = unique[position + 1].value if position + 1 < len(unique) else Decimal("0")
        w = Decimal(str(cand.relevance_weight))
        if campaign.bid_type == CPM:
            reserve = reserve_cpm
            needed = next_value * 1000 / w
        else:
            reserve = reserve_cpc
            needed = next_value / (Decimal(str(cand.pctr)) * w)
        price = min(campaign.bid, max(reserve, _round_up_cent(needed)))
        winners.append(Winner(ad=cand.ad, pctr=cand.pctr, position=position, price=price))
    return winners


def smoothed_ctr(clicks: int, impressions: int, *, prior: float, strength: float = 200.0) -> float:
    """Beta-prior CTR: an ad with no history gets the prior; history moves it gradually.

    `strength` is the prior's weight in pseudo-impressions: 200 means the ad's own rate counts
    as much as the prior after 200 impressions.
    """
    return (clicks + prior * strength) / (impressions + strength)


def day_fraction_of(seconds_since_midnight: float) -> float:
    return max(0.0, min(1.0, seconds_since_midnight / 86400.0))


def same_day(a: date | None, b: date) -> bool:
    return a == b
