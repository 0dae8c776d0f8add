"""factory_boy factories for the advertising app."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from advertising.models import Ad, Advertiser, Campaign
from tests.factories import ProductFactory


class AdvertiserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Advertiser

    name = factory.Sequence(lambda n: f"Advertiser {n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    """An ACTIVE, untargeted CPC campaign with one ad (status set directly for test set-up)."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    advertiser = factory.SubFactory(AdvertiserFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    status = Campaign.Status.ACTIVE
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    daily_budget = Decimal("100.00")
    total_budget = Decimal("1000.00")
    bid_type = Campaign.BidType.CPC
    bid = Decimal("1.00")

    @factory.post_generation
    def with_ad(self, create, extracted, **kwargs):
        if create and extracted is not False:
            AdFactory(campaign=self)


class AdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ad

    campaign = factory.SubFactory(CampaignFactory, with_ad=False)
    headline = factory.Sequence(lambda n: f"Great gift {n}")
    product = factory.SubFactory(ProductFactory)
    landing_url = factory.LazyAttribute(lambda a: f"https://shop.example.com/products/{a.product.pk}/")
