"""Serving, clicks, charging and validation through the API (real database)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.utils import timezone

from advertising import buffer
from advertising.models import Campaign, Click, Impression
from advertising.services import campaign_charge, campaign_transition
from ecommerce.errors import InvalidTransition
from ecommerce.models import Event
from tests.factories import CategoryFactory, EventFactory, ProductFactory, UserFactory
from tests.factories.advertising import AdFactory, AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    # Pacing depends on the time of day the test runs; its rule is unit-tested in test_auction.
    settings.ADS_PACING = False


def _serve(client, **params):
    params.setdefault("slot", "listing")
    return client.get("/api/ads/serve/", params)


def test_serve_unknown_slot_is_400(api_client):
    response = _serve(api_client, slot="sidebar")
    assert response.status_code == 400
    assert "slot" in response.json()


def test_serve_returns_sponsored_creative_with_signed_click_url_and_buffers_impression(api_client, flush):
    campaign = CampaignFactory()
    response = _serve(api_client, n=2)
    assert response.status_code == 200
    ads = response.json()["ads"]
    assert len(ads) == 1 and ads[0]["sponsored"] is True and ads[0]["campaign_id"] == campaign.pk
    assert ads[0]["click_url"].startswith("/ads/click/")
    assert ads[0]["product"]["price_display"].startswith("£")
    assert not Impression.objects.exists()  # serving wrote nothing: the impression is buffered
    assert flush()["inserted"] == 1
    impression = Impression.objects.get()
    assert impression.uid.hex == ads[0]["impression_id"] and impression.settled
    assert impression.price == Decimal("0.05")  # alone in the auction: pays the reserve
    assert impression.charged == 0  # CPC pays at the click


def test_serve_skips_out_of_stock_paused_future_and_exhausted_campaigns(api_client):
    out_of_stock = CampaignFactory(with_ad=False)
    AdFactory(campaign=out_of_stock, product=ProductFactory(stock=0))
    CampaignFactory(status=Campaign.Status.PAUSED)
    CampaignFactory(starts_at=timezone.now() + timedelta(days=1))
    CampaignFactory(
        total_budget=Decimal("1.00"), daily_budget=Decimal("1.00"), bid=Decimal("0.50"), spend_total=Decimal("0.98")
    )
    live = CampaignFactory()
    ads = _serve(api_client, n=5).json()["ads"]
    assert [a["campaign_id"] for a in ads] == [live.pk]


def test_serve_respects_targeting_and_frequency_cap(api_client, flush):
    api_client.cookies["tracking_consent"] = "yes"  # personal targeting and logs need consent
    shopper = UserFactory(birth_year=timezone.now().year - 30, gender="f", country="France")
    CampaignFactory(min_age=40)
    CampaignFactory(countries=["Germany"])
    capped = CampaignFactory(countries=["France"], genders=["f"], cap_per_user_day=2)
    api_client.force_login(shopper)
    served = [len(_serve(api_client).json()["ads"]) for _ in range(3)]
    assert served == [1, 1, 0]
    flush()
    assert set(Impression.objects.values_list("campaign_id", flat=True)) == {capped.pk}


def test_serve_retargets_shoppers_who_carted_the_product(api_client):
    api_client.cookies["tracking_consent"] = "yes"  # personal targeting and logs need consent
    shopper = UserFactory()
    campaign = CampaignFactory(with_ad=False, retarget=Campaign.Retarget.CARTED, retarget_days=7)
    ad = AdFactory(campaign=campaign)
    api_client.force_login(shopper)
    assert _serve(api_client).json()["ads"] == []
    EventFactory(
        type=Event.Type.ADD_TO_CART, user=shopper, product=ad.product, occurred_at=timezone.now() - timedelta(days=2)
    )
    assert [a["ad_id"] for a in _serve(api_client).json()["ads"]] == [ad.pk]


def test_segment_targeting_without_analytics_matches_nobody_logged_out(api_client):
    CampaignFactory(segments=["loyal"])
    assert _serve(api_client).json()["ads"] == []


def test_click_redirects_to_landing_url_charges_once_and_logs_event(api_client):
    api_client.cookies["tracking_consent"] = "yes"  # personal targeting and logs need consent
    campaign = CampaignFactory(bid=Decimal("2.00"))
    CampaignFactory(bid=Decimal("1.00"))  # runner-up sets the price
    ad = _serve(api_client, n=1).json()["ads"][0]
    assert ad["campaign_id"] == campaign.pk
    first = api_client.get(ad["click_url"])
    second = api_client.get(ad["click_url"])
    assert first.status_code == 302 and second.status_code == 302
    assert first["Location"] == campaign.ads.get().landing_url
    click = Click.objects.get()
    impression = Impression.objects.get(pk=click.impression_id)
    campaign.refresh_from_db()
    assert click.charged == impression.price == campaign.spend_total
    assert Decimal("0.05") <= campaign.spend_total <= Decimal("2.00")
    assert Event.objects.filter(type="ad_click").count() == 1


def test_click_with_tampered_or_expired_token_is_400_and_charges_nothing(api_client, settings):
    campaign = CampaignFactory()
    ad = _serve(api_client).json()["ads"][0]
    token = ad["click_url"].split("/")[-2]
    assert api_client.get(f"/ads/click/{token[:-2]}xx/").status_code == 400
    forged = signing.dumps({"i": ad["impression_id"]}, salt="other")
    assert api_client.get(f"/ads/click/{forged}/").status_code == 400
    settings.ADS_CLICK_MAX_AGE = -1
    assert api_client.get(ad["click_url"]).status_code == 400
    campaign.refresh_from_db()
    assert campaign.spend_total == 0 and not Click.objects.exists()


def test_a_click_token_from_before_the_held_signer_still_clicks_and_a_rotated_key_signs_anew(api_client, settings):
    # Tokens used to be signing.dumps(..., compress=True): ones already on pages must still work.
    campaign = CampaignFactory()
    ad = _serve(api_client).json()["ads"][0]
    payload = signing.loads(ad["click_url"].split("/")[-2], salt="advertising.click")
    legacy = signing.dumps(payload, salt="advertising.click", compress=True)
    assert legacy.startswith(".")  # really the compressed form
    assert api_client.get(f"/ads/click/{legacy}/").status_code == 302
    # A new SECRET_KEY: the process must not keep signing with the old one.
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-for-this-test-" + "x" * 40
    rotated = _serve(api_client).json()["ads"][0]["click_url"].split("/")[-2]
    assert signing.loads(rotated, salt="advertising.click")["a"] == campaign.ads.get().pk
    with pytest.raises(signing.BadSignature):
        signing.loads(rotated, salt="advertising.click", key=old_key, fallback_keys=[])


def test_an_edited_ad_serves_its_new_headline_and_product_price(api_client):
    campaign = CampaignFactory()
    first = _serve(api_client).json()["ads"][0]
    ad = campaign.ads.get()
    ad.headline = "A new headline"
    ad.save()
    ad.product.price = Decimal("12.34")
    ad.product.save()
    from advertising.selectors import live_ads_invalidate

    live_ads_invalidate()  # what the admin's save does (a new snapshot, new rows)
    second = _serve(api_client).json()["ads"][0]
    assert first["headline"] != "A new headline"
    assert second["headline"] == "A new headline"
    assert second["product"]["price"] == "12.34"
    assert second["impression_id"] != first["impression_id"]


def test_cpm_campaign_is_charged_per_impression_when_the_flush_settles(flush):
    campaign = CampaignFactory(bid_type=Campaign.BidType.CPM, bid=Decimal("4.00"))
    from rest_framework.test import APIClient

    for _ in range(3):
        APIClient().get("/api/ads/serve/", {"slot": "product"})
    campaign.refresh_from_db()
    assert campaign.spend_total == 0  # reserved in the buffer, not yet settled
    assert flush()["settled"] == 3
    campaign.refresh_from_db()
    # alone: pays the CPM reserve 0.50 per mille = 0.0005 per impression
    assert campaign.spend_total == Decimal("0.0015")
    assert flush()["settled"] == 0  # settling again charges nothing
    campaign.refresh_from_db()
    assert campaign.spend_total == Decimal("0.0015")


def test_campaign_charge_refuses_overspend_of_total_and_daily_budget():
    campaign = CampaignFactory(daily_budget=Decimal("3.00"), total_budget=Decimal("5.00"))
    assert campaign_charge(campaign_id=campaign.pk, amount=Decimal("2.00"))
    assert not campaign_charge(campaign_id=campaign.pk, amount=Decimal("1.50"))  # today 3.50 > 3
    assert campaign_charge(campaign_id=campaign.pk, amount=Decimal("1.00"))
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert campaign_charge(campaign_id=campaign.pk, amount=Decimal("2.00"), today=tomorrow)
    assert not campaign_charge(campaign_id=campaign.pk, amount=Decimal("0.50"), today=tomorrow)  # total
    campaign.refresh_from_db()
    assert campaign.spend_total == Decimal("5.00") and campaign.spend_today == Decimal("2.00")


def test_campaign_transition_enforces_lifecycle():
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    campaign_transition(campaign=campaign, to_status="active")
    campaign_transition(campaign=campaign, to_status="paused")
    campaign_transition(campaign=campaign, to_status="finished")
    with pytest.raises(InvalidTransition):
        campaign_transition(campaign=campaign, to_status="active")
    empty = CampaignFactory(status=Campaign.Status.DRAFT, with_ad=False)
    with pytest.raises(Exception, match="at least one active ad"):
        campaign_transition(campaign=empty, to_status="active")


def _campaign_payload(**overrides):
    body = {
        "name": "Spring",
        "objective": "traffic",
        "starts_at": timezone.now().isoformat(),
        "daily_budget": "10.00",
        "total_budget": "100.00",
        "bid_type": "cpc",
        "bid": "0.50",
        "ads": [{"headline": "Tea set", "landing_url": "/tea/"}],
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": "2000-01-01T00:00:00Z"}, "ends_at"),
        ({"total_budget": "0"}, "total_budget"),
        ({"daily_budget": "-5"}, "daily_budget"),
        ({"bid": "20.00"}, "bid"),
        ({"min_age": 40, "max_age": 30}, "max_age"),
        ({"genders": ["x"]}, "genders"),
        ({"cap_per_session": 0}, "cap_per_session"),
        ({"ads": [{"headline": "Bad", "landing_url": "javascript:alert(1)"}]}, "landing_url"),
    ],
)
def test_campaign_api_rejects_invalid_campaigns(overrides, field):
    from rest_framework.test import APIClient

    advertiser = AdvertiserFactory()
    owner = UserFactory()
    advertiser.users.add(owner)
    client = APIClient()
    client.force_login(owner)
    response = client.post("/api/ads/campaigns/", _campaign_payload(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in str(response.json())
    assert not Campaign.objects.exists()


def test_campaign_api_owner_only_and_audience_estimate(user_client, user, other_user):
    advertiser = AdvertiserFactory()
    advertiser.users.add(user)
    created = user_client.post("/api/ads/campaigns/", _campaign_payload(countries=["United Kingdom"]), format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert (
        user_client.post(f"/api/ads/campaigns/{pk}/transition/", {"status": "active"}, format="json").json()["status"]
        == "active"
    )
    estimate = user_client.get(f"/api/ads/campaigns/{pk}/audience/").json()
    assert estimate["matching_users"] == 2  # user and other_user, both in the UK by default
    from rest_framework.test import APIClient

    stranger = APIClient()
    stranger.force_login(other_user)
    assert stranger.get(f"/api/ads/campaigns/{pk}/").status_code == 404
    assert stranger.get("/api/ads/campaigns/").json() == []
    assert stranger.post("/api/ads/campaigns/", _campaign_payload(), format="json").status_code == 403


def test_erasure_step_anonymizes_impressions_and_clicks(api_client):
    api_client.cookies["tracking_consent"] = "yes"  # personal targeting and logs need consent
    from advertising.services import erase_ad_data_of, export_ad_data_of

    shopper = UserFactory()
    CampaignFactory()
    api_client.force_login(shopper)
    ad = _serve(api_client).json()["ads"][0]
    api_client.get(ad["click_url"])
    assert len(export_ad_data_of(shopper)["ad_clicks"]) == 1
    counts = erase_ad_data_of(shopper)
    assert counts["impressions"] == 1 and counts["clicks"] == 1
    assert not Impression.objects.filter(user=shopper).exists()
    assert Impression.objects.get().session_key == ""


def test_ad_slot_template_tag_renders_a_placeholder_without_auction_session_or_write(
    django_assert_max_num_queries,
):
    category = CategoryFactory()
    product = ProductFactory(category=category)
    CampaignFactory()
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.COOKIES["tracking_consent"] = "yes"
    request.user = AnonymousUser()
    request.session = SessionStore()
    with django_assert_max_num_queries(0):
        html = Template('{% include "advertising/_slot.html" with slot="product" %}').render(
            Context({"request": request, "product": product, "query": 'lunch "bag"'})
        )
    assert 'data-ad-slot="product"' in html and f'data-product-id="{product.pk}"' in html
    assert f'data-category-id="{category.pk}"' in html and 'data-query="lunch &quot;bag&quot;"' in html
    assert "/static/js/ads.js" in html and "/ads/click/" not in html
    assert request.session.session_key is None  # no session made for an anonymous visitor
    assert buffer.length() == 0 and not Impression.objects.exists()


def test_pausing_a_campaign_stops_serving_at_once_despite_the_snapshot(api_client):
    campaign = CampaignFactory()
    assert len(_serve(api_client).json()["ads"]) == 1  # the live snapshot is now cached
    campaign_transition(campaign=campaign, to_status="paused")
    assert _serve(api_client).json()["ads"] == []


def test_product_page_never_advertises_the_product_itself(api_client, flush):
    campaign = CampaignFactory()
    other = CampaignFactory(run_of_site=True)  # not related to the page product: shown only site-wide
    own_product = campaign.ads.get().product
    ads = _serve(api_client, slot="product", product_id=own_product.pk, n=2).json()["ads"]
    assert [a["campaign_id"] for a in ads] == [other.pk]
    flush()
    assert Impression.objects.get(campaign=other).features["page_match"] == "0"


def test_click_never_redirects_to_a_protocol_relative_or_script_url(api_client):
    from advertising.models import landing_url_is_safe

    assert not landing_url_is_safe("//evil.example.com/")
    assert not landing_url_is_safe("javascript:alert(1)")
    assert landing_url_is_safe("/products/1/") and landing_url_is_safe("https://brand.example.com/x")
    campaign = CampaignFactory(with_ad=False)
    AdFactory(campaign=campaign, landing_url="//evil.example.com/")  # written around validation
    ad = _serve(api_client).json()["ads"][0]
    response = api_client.get(ad["click_url"])
    assert response.status_code == 302 and response["Location"] == "/"


def test_segment_targeting_uses_analytics_segments(api_client):
    api_client.cookies["tracking_consent"] = "yes"  # personal targeting and logs need consent
    from advertising.selectors import audience_estimate
    from analytics.services import segment_save

    loyal, other = UserFactory(), UserFactory()
    segment_save(key="loyal", name="Loyal", user_ids=[loyal.pk])
    campaign = CampaignFactory(segments=["loyal"])
    api_client.force_login(other)
    assert _serve(api_client).json()["ads"] == []
    api_client.force_login(loyal)
    assert [a["campaign_id"] for a in _serve(api_client).json()["ads"]] == [campaign.pk]
    assert audience_estimate(campaign=campaign)["matching_users"] == 1


@pytest.mark.parametrize("headers", [{}, {"HTTP_DNT": "1"}, {"HTTP_SEC_GPC": "1"}])
def test_without_consent_ads_are_contextual_and_logs_name_nobody(api_client, headers):
    # given: a signed-in shopper who declined (or whose browser sends DNT / GPC)
    shopper = UserFactory(birth_year=timezone.now().year - 30, gender="f", country="France")
    untargeted = CampaignFactory()
    CampaignFactory(countries=["France"])  # profile targeting needs consent
    CampaignFactory(cap_per_session=3)  # a cap cannot be counted for a shopper we may not recognise
    api_client.force_login(shopper)
    api_client.cookies["tracking_consent"] = "yes" if headers else "no"
    # when
    ads = api_client.get("/api/ads/serve/", {"slot": "listing", "n": 5}, **headers).json()["ads"]
    api_client.get(ads[0]["click_url"], **headers)
    # then: served and billed, but nothing links it to the shopper
    assert [a["campaign_id"] for a in ads] == [untargeted.pk]
    impression = Impression.objects.get()
    assert impression.user_id is None and impression.session_key == ""
    assert not any(impression.features.get(k) for k in ("age_band", "gender", "country", "segment"))
    click = Click.objects.get()
    assert click.user_id is None and click.charged > 0
    assert not Event.objects.exists()
