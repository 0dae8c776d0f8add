"""Relevance in real serving (API, database): the floor, run-of-site, the recommender's lists,
the click model's context features, the goal command and relative landing URLs."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advertising import services
from advertising.models import Ad, Campaign, Impression
from advertising.selectors import live_ads_invalidate
from ecommerce.models import Event
from tests.factories import CategoryFactory, EventFactory, ProductFactory
from tests.factories.advertising import AdFactory, CampaignFactory
from tests.factories.recommendations import SimilarProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    settings.ADS_PACING = False  # time-of-day dependent; unit-tested in test_auction


def _campaign_for(product, bid="1.00", **kw):
    campaign = CampaignFactory(with_ad=False, bid=Decimal(bid), **kw)
    AdFactory(campaign=campaign, product=product, landing_url=product.get_absolute_url())
    return campaign


def _serve(client, **params):
    response = client.get("/api/ads/serve/", {"n": 2, **params})
    assert response.status_code == 200, response.content
    return response.json()["ads"]


@pytest.fixture
def shop():
    bags, candles, xmas = CategoryFactory(name="Bags"), CategoryFactory(name="Candles"), CategoryFactory(name="Xmas")
    items = {
        "lunch_bag": ProductFactory(title="Lunch Bag Red Retrospot", category=bags),
        "jumbo_bag": ProductFactory(title="Jumbo Bag Pink Polkadot", category=bags),
        "candle": ProductFactory(title="White Hanging Heart T-Light Holder", category=candles),
        "candle2": ProductFactory(title="Red Heart T-Light Holder", category=candles),
        "tree": ProductFactory(title="Christmas Tree Decoration", category=xmas),
    }
    return {"bags": bags, "candles": candles, "xmas": xmas, **items}


def test_lunch_bag_search_shows_the_bag_ad_not_the_candle_ad(api_client, shop, flush):
    # given an untargeted candle campaign bidding five times the bag campaign
    bag = _campaign_for(shop["lunch_bag"], bid="0.50")
    candle = _campaign_for(shop["candle"], bid="2.50")
    # when a shopper searches "lunch bag"
    ads = _serve(api_client, slot="search", query="lunch bags")
    # then only the bag is sponsored: the candle is below the relevance floor
    assert [a["campaign_id"] for a in ads] == [bag.pk]
    flush()
    assert Impression.objects.get().features["query_overlap"] == "all"
    # and the candle still shows where it fits: a candle search, its category page
    assert [a["campaign_id"] for a in _serve(api_client, slot="search", query="t-light holder")] == [candle.pk]
    assert [a["campaign_id"] for a in _serve(api_client, slot="listing", category=shop["candles"].slug)] == [candle.pk]


def test_an_empty_slot_beats_an_irrelevant_ad_unless_the_campaign_runs_site_wide(api_client, shop, flush):
    candle = _campaign_for(shop["candle"])
    # a bag page and a christmas page: nothing fits, nothing is shown
    assert _serve(api_client, slot="product", product_id=shop["jumbo_bag"].pk) == []
    assert _serve(api_client, slot="listing", category=shop["xmas"].slug) == []
    flush()
    assert not Impression.objects.exists()
    # the advertiser opts in to run-of-site: now it shows there too
    Campaign.objects.filter(pk=candle.pk).update(run_of_site=True)
    live_ads_invalidate()
    assert [a["campaign_id"] for a in _serve(api_client, slot="product", product_id=shop["jumbo_bag"].pk)] == [
        candle.pk
    ]
    flush()
    features = Impression.objects.get().features
    assert (features["same_category"], features["in_similar"], features["query_overlap"]) == ("0", "none", "")


def test_a_relevant_ad_outranks_a_richer_run_of_site_ad(api_client, shop):
    bag = _campaign_for(shop["lunch_bag"], bid="1.00")
    _campaign_for(shop["candle"], bid="3.00", run_of_site=True)  # 3 x weight 0.25 = 0.75 < 1.00
    ads = _serve(api_client, slot="product", product_id=shop["jumbo_bag"].pk, n=1)
    assert [a["campaign_id"] for a in ads] == [bag.pk]


def test_the_recommenders_lists_make_a_product_of_another_category_relevant(api_client, shop, flush):
    # "bought together" with the lunch bag: the christmas tree decoration
    SimilarProductFactory(product=shop["lunch_bag"], similar=shop["tree"], kind="bought_together")
    tree = _campaign_for(shop["tree"])
    _campaign_for(shop["candle"])
    ads = _serve(api_client, slot="product", product_id=shop["lunch_bag"].pk)
    assert [a["campaign_id"] for a in ads] == [tree.pk]
    flush()
    features = Impression.objects.get().features
    assert features["in_similar"] == "together" and features["same_category"] == "0"


def test_the_lists_are_read_once_per_product_and_generation(api_client, shop):
    from recommendations.selectors import recommendations_generation_bump

    _campaign_for(shop["jumbo_bag"])

    def list_queries():
        services._auction_memo.clear()  # anonymous auctions are memoised per page and minute
        with CaptureQueriesContext(connection) as queries:
            _serve(api_client, slot="product", product_id=shop["lunch_bag"].pk)
        return sum("recommendations_similarproduct" in q["sql"] for q in queries.captured_queries)

    assert list_queries() == 1
    assert list_queries() == 0  # kept in process memory
    recommendations_generation_bump()  # a retrain
    assert list_queries() == 1


def test_floor_is_a_setting(api_client, shop, settings):
    _campaign_for(shop["candle2"])  # "Red Heart T-Light Holder" shares only "red" with the query
    assert _serve(api_client, slot="search", query="red lunch bag") == []
    settings.ADS_RELEVANCE_FLOOR = 0.1
    assert len(_serve(api_client, slot="search", query="red lunch bag")) == 1


def test_evaluate_ad_relevance_on_a_small_catalogue(shop, tmp_path, flush):
    # given a campaign per category and two searches the shoppers made
    campaigns = [_campaign_for(shop[k]) for k in ("lunch_bag", "candle", "tree")]
    for q in ("lunch bag", "heart holder"):
        EventFactory(type=Event.Type.SEARCH, product=None, properties={"path": f"/search/?q={q.replace(' ', '+')}"})
    out = tmp_path / "relevance.json"
    # when
    call_command("evaluate_ad_relevance", "--json", str(out))
    result = json.loads(out.read_text())
    # then: 5 product pages; an ad never promotes the page's own product, so only the jumbo bag
    # (lunch bag ad) and the second candle (candle ad) pages show one
    assert result["product_pages"] == 5
    assert result["product_pages_with_ad"] == 2 and result["product_page_coverage"] == pytest.approx(0.4)
    assert result["searches"] == 2 and result["search_served"] == 2 and result["search_relevant"] == 2
    assert result["relevant_share"] == 1.0 and result["goals"]["met"] is True
    # nothing was logged or charged, nor left in the impression buffer for a later flush
    from advertising import buffer

    assert buffer.length() == 0
    flush()
    assert not Impression.objects.exists()
    assert all(Campaign.objects.get(pk=c.pk).spend_total == 0 for c in campaigns)

    # an irrelevant run-of-site campaign bidding high takes slots and the share drops below the goal
    loud = ProductFactory(title="Garden Gnome", category=CategoryFactory(name="Garden"))
    _campaign_for(loud, bid="20.00", run_of_site=True)
    live_ads_invalidate()  # factories write around the services that would announce it
    call_command("evaluate_ad_relevance", "--json", str(out))
    worse = json.loads(out.read_text())
    assert worse["relevant_share"] < 0.8 and worse["goals"]["met"] is False


def test_relative_product_landing_urls_are_valid_and_unsafe_ones_are_not():
    from django.core.exceptions import ValidationError
    from django.forms import modelform_factory

    product = ProductFactory()
    campaign = CampaignFactory(with_ad=False)
    form_class = modelform_factory(Ad, fields=["campaign", "headline", "product", "landing_url", "image_url"])
    data = {"campaign": campaign.pk, "headline": "Lunch bag", "product": product.pk, "image_url": ""}
    for good in (product.get_absolute_url(), "https://brand.example.com/lunch-bag?utm=shop"):
        form = form_class(data={**data, "landing_url": good})
        assert form.is_valid(), form.errors
    for bad in ("//evil.example.com/", "javascript:alert(1)", "products/7/", "/a b", "https://", "ftp://x.org/"):
        form = form_class(data={**data, "landing_url": bad})
        assert not form.is_valid() and "landing_url" in form.errors, bad
    ad = Ad(campaign=campaign, headline="x", landing_url="/products/1/", image_url="/media/p.jpg")
    ad.full_clean()
    with pytest.raises(ValidationError):
        Ad(campaign=campaign, headline="x", landing_url="data:text/html,hi").full_clean()


def test_campaign_api_takes_run_of_site_and_a_product_page_landing_url(user_client, user):
    from tests.factories.advertising import AdvertiserFactory

    AdvertiserFactory().users.add(user)
    product = ProductFactory()
    body = {
        "name": "Everywhere",
        "daily_budget": "10.00",
        "total_budget": "100.00",
        "bid_type": "cpc",
        "bid": "0.50",
        "run_of_site": True,
        "ads": [{"headline": "Tea set", "product_id": product.pk, "landing_url": product.get_absolute_url()}],
    }
    created = user_client.post("/api/ads/campaigns/", body, format="json")
    assert created.status_code == 201, created.content
    campaign = Campaign.objects.get(pk=created.json()["id"])
    assert campaign.run_of_site is True
    assert campaign.ads.get().landing_url == product.get_absolute_url()
    # saving it again unchanged works (the seeded campaigns could not be edited before)
    again = user_client.patch(f"/api/ads/campaigns/{campaign.pk}/", {"name": "Everywhere 2"}, format="json")
    assert again.status_code == 200, again.content
    assert user_client.get(f"/api/ads/campaigns/{campaign.pk}/").json()["run_of_site"] is True
