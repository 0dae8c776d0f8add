"""Demo data: advertisers, campaigns on real products and simulated traffic with known CTRs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ecommerce.models import Product, User

from .ctr.simulation import SimulatedAd, simulate
from .models import Ad, Advertiser, Campaign, Click, Impression
from .services import campaign_charge, campaign_transition, cpm_price, impressions_settle, report_rollups_refresh

DEMO_ADVERTISERS = ["Hearth & Home Gifts", "Party Time Supplies", "Vintage Kitchen Co"]


def _campaign(
    advertiser: Advertiser, name: str, products: list[Product], *, bid_type: str, bid: str, **targeting: Any
) -> Campaign:
    campaign = Campaign.objects.create(
        advertiser=advertiser,
        name=name,
        objective=Campaign.Objective.TRAFFIC,
        starts_at=timezone.now() - timedelta(days=15),
        daily_budget=Decimal("50.00"),
        total_budget=Decimal("2000.00"),
        bid_type=bid_type,
        bid=Decimal(bid),
        **targeting,
    )
    for product in products:
        Ad.objects.create(
            campaign=campaign,
            headline=product.title[:80].title(),
            product=product,
            image_url=product.image_url,
            landing_url=product.get_absolute_url(),
        )
    campaign_transition(campaign=campaign, to_status=Campaign.Status.ACTIVE)
    return campaign


def simulated_traffic_store(*, campaigns: list[Campaign], n: int, seed: int) -> dict[str, int]:
    """Log `n` simulated impressions (and the clicks they drew) with their true CTR recorded."""
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
        return {"impressions": 0, "clicks": 0}
    simulated, _ = simulate(ads, n=n, seed=seed)
    by_id = {a.pk: a for c in campaigns for a in c.ads.select_related("campaign")}
    now = timezone.now()
    rows: list[Impression] = []
    for i, s in enumerate(simulated):
        ad = by_id[int(s.features["ad"])]
        when = (now - timedelta(days=s.day_offset)).replace(hour=int(s.features["hour"]), minute=i % 60)
        when = min(when, now)
        rows.append(
            Impression(
                campaign_id=ad.campaign_id,
                ad=ad,
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
        clicks = []
        for impression, s in zip(created, simulated, strict=True):
            if not s.clicked:
                continue
            charged = Decimal("0")
            if impression.bid_type == Campaign.BidType.CPC and campaign_charge(
                campaign_id=impression.campaign_id, amount=impression.price, today=impression.created_at.date()
            ):
                charged = impression.price
            clicks.append(
                Click(
                    impression=impression,
                    campaign_id=impression.campaign_id,
                    ad_id=impression.ad_id,
                    charged=charged,
                    created_at=impression.created_at + timedelta(seconds=5),
                )
            )
        Click.objects.bulk_create(clicks, batch_size=2000)
        impressions_settle()
    return {"impressions": len(rows), "clicks": len(clicks)}


def seed_demo_advertising(*, seed: int, stdout) -> None:
    products = list(Product.objects.sellable().in_stock().exclude(category=None).order_by("pk")[:12])
    if len(products) < 6:
        stdout.write("advertising: not enough sellable products for demo campaigns, skipped\n")
        return
    advertisers = [Advertiser.objects.get_or_create(name=name)[0] for name in DEMO_ADVERTISERS]
    if Campaign.objects.filter(advertiser__in=advertisers).exists():
        stdout.write("advertising: demo campaigns exist already\n")
        return
    # An advertiser login is a customer account, not staff (it reaches its campaigns by membership).
    demo_user, created = User.objects.get_or_create(
        username="advertiser", defaults={"is_staff": False, "email": "advertiser@example.com"}
    )
    if created:
        demo_user.set_password("advertiser-demo")
        demo_user.save()
    advertisers[0].users.add(demo_user)
    campaigns = [
        _campaign(advertisers[0], "Cosy home essentials", products[0:3], bid_type="cpc", bid="0.40"),
        _campaign(
            advertisers[1],
            "Party season",
            products[3:6],
            bid_type="cpc",
            bid="0.30",
            min_age=18,
            max_age=44,
            cap_per_user_day=5,
        ),
        _campaign(
            advertisers[2], "Kitchen classics awareness", products[6:9], bid_type="cpm", bid="3.00", cap_per_session=3
        ),
    ]
    summary = simulated_traffic_store(campaigns=campaigns, n=6000, seed=seed)
    report_rollups_refresh(days=15)
    stdout.write(
        f"advertising: {len(campaigns)} campaigns, {summary['impressions']} simulated impressions, "
        f"{summary['clicks']} clicks\n"
    )


def train_advertising_models() -> dict[str, Any]:
    from .training import audience_scores_refresh, ctr_model_train

    result: dict[str, Any] = {"ctr": ctr_model_train()}
    result["audiences"] = [
        audience_scores_refresh(campaign_id=pk)
        for pk in Campaign.objects.filter(status=Campaign.Status.ACTIVE).values_list("pk", flat=True)
    ]
    return result
