"""Demo data: advertisers with their logins, campaigns on real products in every catalogue
category (CPC and CPM, untargeted and targeted), and simulated traffic with known CTRs whose
clicking shoppers go on to buy, so the reports have conversions."""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from ecommerce.errors import DomainError
from ecommerce.models import Category, Order, OrderItem, Product, User, age_band_for

from .ctr.simulation import SimulatedAd, simulate
from .models import Ad, Advertiser, Campaign, Click, Impression
from .services import (
    advertiser_account_create,
    campaign_charge,
    campaign_transition,
    cpm_price,
    impressions_settle,
    report_rollups_refresh,
)

DEMO_ADVERTISERS = [
    "Hearth & Home Gifts",
    "Party Time Supplies",
    "Vintage Kitchen Co",
    "Carry & Co Bags",
    "Paper Garden Studio",
]
# Which advertiser promotes a category (words of the category name); others go round in turn.
ADVERTISER_CATEGORY_WORDS = {
    "Hearth & Home Gifts": ("home", "candle", "light", "christmas"),
    "Party Time Supplies": ("toy", "game", "card", "wrap", "jewel"),
    "Vintage Kitchen Co": ("kitchen",),
    "Carry & Co Bags": ("bag",),
    "Paper Garden Studio": ("stationery", "garden"),
}
DEMO_IMPRESSIONS = 9000
# Share of clicks whose shopper buys the advertised product within the next three days.
DEMO_PURCHASE_RATE = 0.12
DEMO_ORDER_PREFIX = "ADDEMO-"


def _campaign(
    advertiser: Advertiser, name: str, products: list[Product], *, bid_type: str, bid: str, **targeting: Any
) -> Campaign:
    interest_categories = targeting.pop("interest_categories", [])
    campaign = Campaign.objects.create(
        advertiser=advertiser,
        name=name,
        objective=Campaign.Objective.AWARENESS if bid_type == Campaign.BidType.CPM else Campaign.Objective.TRAFFIC,
        starts_at=timezone.now() - timedelta(days=15),
        daily_budget=Decimal("50.00"),
        total_budget=Decimal("2000.00"),
        bid_type=bid_type,
        bid=Decimal(bid),
        **targeting,
    )
    if interest_categories:
        campaign.interest_categories.set(interest_categories)
    for product in products:
        ad = Ad(
            campaign=campaign,
            headline=product.title[:80].title(),
            product=product,
            image_url=product.image_url,
            landing_url=product.get_absolute_url(),  # a relative shop path: valid and editable
        )
        ad.full_clean()
        ad.save()
    campaign.full_clean()
    campaign_transition(campaign=campaign, to_status=Campaign.Status.ACTIVE)
    return campaign


def _best_sellers_by_category() -> list[tuple[Category, list[Product]]]:
    """Each category with its sellable, in-stock products, best sellers first (biggest first)."""
    by_category: dict[int, list[Product]] = defaultdict(list)
    products = (
        Product.objects.sellable()
        .in_stock()
        .exclude(category=None)
        .select_related("category")
        .annotate(n_sold=Count("order_items"))
        .order_by("-n_sold", "pk")
    )
    for product in products:
        by_category[product.category_id].append(product)
    ranked = sorted(by_category.values(), key=lambda ps: (-len(ps), ps[0].category_id))
    return [(ps[0].category, ps) for ps in ranked]


def _lead_products(category: Category, products: list[Product], k: int) -> list[Product]:
    """The category's best sellers; for bags the lunch bags first (the shoppers' favourite search)."""
    if "bag" in category.name.lower():
        lunch = [p for p in products if "lunch bag" in p.title.lower()]
        products = lunch + [p for p in products if p not in lunch]
    return products[:k]


def _advertiser_logins(advertisers: list[Advertiser], stdout) -> None:
    """The `advertiser` login (first advertiser) and one login per other advertiser, all non-staff."""
    demo_user, created = User.objects.get_or_create(
        username="advertiser", defaults={"is_staff": False, "email": "advertiser@example.com"}
    )
    if created:
        demo_user.set_password("advertiser-demo")
        demo_user.save()
    advertisers[0].users.add(demo_user)
    for i, advertiser in enumerate(advertisers[1:], start=2):
        username = f"advertiser{i}"
        if User.objects.filter(username=username).exists():
            continue
        password = secrets.token_urlsafe(9)
        try:
            advertiser_account_create(
                name=advertiser.name, username=username, email=f"{username}@example.com", password=password
            )
        except DomainError as exc:  # a taken name or a password rule: the demo goes on without it
            stdout.write(f"advertising: no login for {advertiser.name}: {exc}\n")
            continue
        stdout.write(f"  Advertiser login ({advertiser.name}): {username} / {password}\n")


def _advertiser_for(category: Category, advertisers: list[Advertiser], i: int) -> Advertiser:
    name = category.name.lower()
    for advertiser in advertisers:
        if any(word in name for word in ADVERTISER_CATEGORY_WORDS.get(advertiser.name, ())):
            return advertiser
    return advertisers[i % len(advertisers)]


def demo_campaigns_create(advertisers: list[Advertiser]) -> list[Campaign]:
    """One untargeted campaign per category (relevance-gated: it shows next to its category, its
    products' recommender neighbours and matching searches), CPC and CPM in turn, plus targeted
    campaigns (age range, interest categories, retargeting) on the biggest categories."""
    catalogue = _best_sellers_by_category()
    campaigns: list[Campaign] = []
    for i, (category, products) in enumerate(catalogue):
        cpm = i % 3 == 2
        campaigns.append(
            _campaign(
                _advertiser_for(category, advertisers, i),
                f"{category.name}: best sellers",
                _lead_products(category, products, 3),
                bid_type="cpm" if cpm else "cpc",
                # CPM bids near the CPC campaigns' eCPM (bid x pCTR x 1000 with the demo's ~15%
                # CTR), so both kinds win slots
                bid="45.00" if cpm else ["0.40", "0.30", "0.35", "0.45"][i % 4],
                cap_per_session=4 if cpm else None,
            )
        )
    targeted = [
        {"min_age": 25, "max_age": 54, "bid_type": "cpc", "bid": "0.50"},
        {"interest": True, "bid_type": "cpc", "bid": "0.45", "cap_per_user_day": 5},
        {"retarget": Campaign.Retarget.VIEWED, "retarget_days": 14, "bid_type": "cpm", "bid": "50.00"},
    ]
    for j, ((category, products), spec) in enumerate(zip(catalogue, targeted, strict=False)):
        extra = products[3:6]
        if not extra:
            continue
        spec = dict(spec)
        if spec.pop("interest", False):
            spec["interest_categories"] = [category]
        bid_type, bid = spec.pop("bid_type"), spec.pop("bid")
        campaigns.append(
            _campaign(
                _advertiser_for(category, advertisers, j + 2),
                f"{category.name}: for you",
                extra,
                bid_type=bid_type,
                bid=bid,
                **spec,
            )
        )
    return campaigns


def _shoppers_by_profile(rng: random.Random) -> dict[tuple[str, str], list[int]]:
    year = timezone.now().year
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, birth_year, gender in User.objects.filter(
        is_active=True, is_staff=False, advertiser_accounts=None
    ).values_list("pk", "birth_year", "gender"):
        band = age_band_for(year - birth_year) if birth_year else ""
        out[(band, gender or "")].append(pk)
        out[("*", "*")].append(pk)
    return out


def simulated_traffic_store(
    *, campaigns: list[Campaign], n: int, seed: int, purchase_rate: float = 0.0
) -> dict[str, int]:
    """Log `n` simulated impressions (and the clicks they drew) with their true CTR recorded.

    Each impression is given a demo shopper of its simulated age band and gender (any shopper if
    none matches); with `purchase_rate`, that share of the clicking shoppers orders the advertised
    product within three days of the click (attributed as conversions by the report rollup).
    """
    ads = [
        SimulatedAd(
            ad_id=a.pk,
            campaign_id=a.campaign_id,
            category_id=a.product.category_id if a.product_id and a.product else None,
        )
        for c in campaigns
        for a in c.ads.select_related("product")
    ]
    if not ads:
        return {"impressions": 0, "clicks": 0, "orders": 0}
    simulated, _ = simulate(ads, n=n, seed=seed)
    by_id = {a.pk: a for c in campaigns for a in c.ads.select_related("campaign", "product")}
    rng = random.Random(f"{seed}:ad-shoppers")
    shoppers = _shoppers_by_profile(rng)
    now = timezone.now()
    rows: list[Impression] = []
    for i, s in enumerate(simulated):
        ad = by_id[int(s.features["ad"])]
        when = (now - timedelta(days=s.day_offset)).replace(hour=int(s.features["hour"]), minute=i % 60)
        when = min(when, now)
        pool = shoppers.get((s.features["age_band"], s.features["gender"])) or shoppers.get(("*", "*")) or [None]
        rows.append(
            Impression(
                campaign_id=ad.campaign_id,
                ad=ad,
                user_id=rng.choice(pool),
                slot=s.features["slot"],
                bid_type=ad.campaign.bid_type,
                price=cpm_price(ad.campaign.bid) if ad.campaign.bid_type == Campaign.BidType.CPM else ad.campaign.bid,
                # CPM impressions pay price/1000 each, settled into spend below (they were stored
                # free before, so the daily report showed a CPM spend of 0.000000).
                charged=cpm_price(ad.campaign.bid) / 1000 if ad.campaign.bid_type == Campaign.BidType.CPM else 0,
                settled=ad.campaign.bid_type != Campaign.BidType.CPM,
                pctr=0.02,
                created_at=when,
                features={**s.features, "simulated": True, "true_ctr": round(s.true_ctr, 6)},
            )
        )
    with transaction.atomic():
        created = Impression.objects.bulk_create(rows, batch_size=2000)
        if not all(r.pk for r in created):  # backends that do not return ids from bulk inserts
            created = list(Impression.objects.filter(features__simulated=True).order_by("id"))[-len(rows) :]
        clicks = [
            Click(
                impression=impression,
                campaign_id=impression.campaign_id,
                ad_id=impression.ad_id,
                user_id=impression.user_id,
                created_at=impression.created_at + timedelta(seconds=5),
            )
            for impression, s in zip(created, simulated, strict=True)
            if s.clicked
        ]
        _charge_cpc_clicks(clicks, {i.pk: i.price for i in created})
        Click.objects.bulk_create(clicks, batch_size=2000)
        impressions_settle()
        orders = _purchases_after_clicks(clicks, by_id, rate=purchase_rate, rng=rng, now=now) if purchase_rate else 0
    return {"impressions": len(rows), "clicks": len(clicks), "orders": orders}


def _charge_cpc_clicks(clicks: list[Click], price_of: dict[int, Decimal]) -> None:
    """CPC clicks pay their impression's price: one charge per campaign and day, as for CPM."""
    cpc = {c.pk for c in Campaign.objects.filter(bid_type=Campaign.BidType.CPC)}
    per_day: dict[tuple, list[Click]] = defaultdict(list)
    for click in clicks:
        if click.campaign_id in cpc:
            per_day[(click.created_at.date(), click.campaign_id)].append(click)
    for (day, campaign_id), group in sorted(per_day.items(), key=lambda item: item[0]):
        amount = sum((price_of[c.impression_id] for c in group), Decimal("0"))
        if campaign_charge(campaign_id=campaign_id, amount=amount, today=day):
            for click in group:
                click.charged = price_of[click.impression_id]


def _purchases_after_clicks(clicks: list[Click], ads: dict[int, Ad], *, rate: float, rng: random.Random, now) -> int:
    """Orders of the advertised product by some clicking shoppers, 1 hour to 3 days after the click."""
    taken = Order.objects.filter(number__startswith=DEMO_ORDER_PREFIX).count()
    orders: list[Order] = []
    lines: list[tuple[int, Product, int]] = []
    for click in clicks:
        product = ads[click.ad_id].product
        if click.user_id is None or product is None or rng.random() >= rate:
            continue
        placed_at = click.created_at + timedelta(minutes=rng.randint(60, 3 * 24 * 60))
        if placed_at > now - timedelta(minutes=1):
            continue
        orders.append(
            Order(
                number=f"{DEMO_ORDER_PREFIX}{taken + len(orders) + 1:06d}",
                user_id=click.user_id,
                status=Order.Status.DELIVERED if placed_at < now - timedelta(days=3) else Order.Status.PAID,
                placed_at=placed_at,
                country="United Kingdom",
                source="demo",
            )
        )
        lines.append((len(orders) - 1, product, rng.randint(1, 4)))
    created = Order.objects.bulk_create(orders, batch_size=1000)
    if created and not all(o.pk for o in created):
        by_number = dict(Order.objects.filter(number__in=[o.number for o in orders]).values_list("number", "pk"))
        for order in created:
            order.pk = by_number[order.number]
    OrderItem.objects.bulk_create(
        [
            OrderItem(
                order_id=created[i].pk,
                product=product,
                title=product.title,
                quantity=quantity,
                unit_price=product.price,
                line_number=1,
            )
            for i, product, quantity in lines
        ],
        batch_size=1000,
    )
    return len(created)


def seed_demo_advertising(*, seed: int, stdout) -> None:
    if Product.objects.sellable().in_stock().exclude(category=None).count() < 6:
        stdout.write("advertising: not enough sellable products for demo campaigns, skipped\n")
        return
    advertisers = [Advertiser.objects.get_or_create(name=name)[0] for name in DEMO_ADVERTISERS]
    if Campaign.objects.filter(advertiser__in=advertisers).exists():
        stdout.write("advertising: demo campaigns exist already\n")
        return
    # Advertiser logins are customer accounts, not staff (they reach their campaigns by membership).
    _advertiser_logins(advertisers, stdout)
    campaigns = demo_campaigns_create(advertisers)
    summary = simulated_traffic_store(
        campaigns=campaigns, n=DEMO_IMPRESSIONS, seed=seed, purchase_rate=DEMO_PURCHASE_RATE
    )
    report_rollups_refresh(days=15)
    stdout.write(
        f"advertising: {len(campaigns)} campaigns from {len(advertisers)} advertisers, "
        f"{summary['impressions']} simulated impressions, {summary['clicks']} clicks, "
        f"{summary['orders']} purchases after clicks\n"
    )


def train_advertising_models() -> dict[str, Any]:
    from .training import audience_scores_refresh_many, ctr_model_train

    result: dict[str, Any] = {"ctr": ctr_model_train()}
    result["audiences"] = audience_scores_refresh_many(
        list(Campaign.objects.filter(status=Campaign.Status.ACTIVE).order_by("pk").values_list("pk", flat=True))
    )
    return result
