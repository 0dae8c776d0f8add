"""The live-campaign snapshot (advertising/selectors.py live_ads_cached): a full reload only on a new
version; every ADS_LIVE_CACHE_SECONDS its spend, the live set and its products' stock are re-read in
two queries, so a campaign out of budget or a sold-out product stops being served as before."""

import time
from decimal import Decimal

import pytest
from django.utils import timezone

from advertising.models import Campaign
from advertising.selectors import live_ads_cached, live_ads_invalidate
from ecommerce.models import Product
from tests.factories.advertising import CampaignFactory

pytestmark = pytest.mark.django_db

TTL = 0.05


@pytest.fixture
def short_ttl(settings):
    settings.ADS_LIVE_CACHE_SECONDS = TTL
    live_ads_invalidate()


def _after_ttl() -> None:
    time.sleep(TTL * 1.5)


def _by_campaign(pairs) -> dict:
    return {spec.campaign.id: (spec, ad) for spec, ad in pairs}


def test_nothing_changed_keeps_the_same_snapshot_in_two_queries(short_ttl, django_assert_num_queries):
    CampaignFactory.create_batch(3)
    first = live_ads_cached()
    _after_ttl()
    with django_assert_num_queries(2):
        again = live_ads_cached()
    assert again is first  # the same object: the anonymous auction memo survives


def test_spend_and_stock_are_refreshed_without_a_reload(short_ttl, django_assert_max_num_queries):
    spending, selling = CampaignFactory(), CampaignFactory()
    first = _by_campaign(live_ads_cached())
    today = timezone.localdate()
    Campaign.objects.filter(pk=spending.pk).update(
        spend_total=Decimal("12.50"), spend_today=Decimal("2.50"), spend_day=today
    )
    product_id = first[selling.pk][1].product_id
    Product.objects.filter(pk=product_id).update(stock=0, price=Decimal("9.99"))
    _after_ttl()
    with django_assert_max_num_queries(2):
        now = _by_campaign(live_ads_cached())
    assert now[spending.pk][0].campaign.spend_total == Decimal("12.50")
    assert now[spending.pk][0].campaign.spend_today == Decimal("2.50")
    assert now[selling.pk][0].product_sellable is False
    assert now[selling.pk][1] is first[selling.pk][1]  # same Ad row, its product brought up to date
    assert now[selling.pk][1].product.price == Decimal("9.99")


def test_a_campaign_whose_budget_is_spent_leaves_the_snapshot(short_ttl):
    spent, other = CampaignFactory(), CampaignFactory()
    assert set(_by_campaign(live_ads_cached())) == {spent.pk, other.pk}
    # What the settling UPDATE leaves behind when the last impression used the budget up.
    Campaign.objects.filter(pk=spent.pk).update(spend_total=spent.total_budget)
    _after_ttl()
    assert set(_by_campaign(live_ads_cached())) == {other.pk}


def test_a_campaign_past_its_end_leaves_the_snapshot(short_ttl):
    ending, other = CampaignFactory(), CampaignFactory()
    live_ads_cached()
    Campaign.objects.filter(pk=ending.pk).update(ends_at=timezone.now())
    _after_ttl()
    assert set(_by_campaign(live_ads_cached())) == {other.pk}


def test_daily_budget_spent_stops_serving_it(short_ttl, api_client):
    campaign = CampaignFactory(daily_budget=Decimal("5.00"))
    url = "/api/ads/serve/?slot=search&n=3"
    assert [a["campaign_id"] for a in api_client.get(url).json()["ads"]] == [campaign.pk]
    Campaign.objects.filter(pk=campaign.pk).update(
        spend_today=Decimal("5.00"), spend_total=Decimal("5.00"), spend_day=timezone.localdate()
    )
    _after_ttl()
    assert api_client.get(url).json()["ads"] == []


def test_a_new_version_reloads_everything(short_ttl):
    CampaignFactory()
    first = live_ads_cached()
    live_ads_invalidate()  # what every campaign, ad or settings change does
    again = live_ads_cached()
    assert again is not first
    assert again[0][1] is not first[0][1]  # fresh rows
