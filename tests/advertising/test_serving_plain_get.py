"""The ad endpoint's plain GET path (advertising/api.py `AdServeApi._plain_get`) answers as DRF's
dispatch does, and the answer's URLs reversed once per process are the URLs reverse() gives.

GET skips DRF's request wrapper, Response and renderer; HEAD still goes through APIView.dispatch,
so each GET is compared with the HEAD of the same URL (status and headers) and with DRF's own
error bodies: 400 for a bad query, 429 with Retry-After when throttled, 503 when Redis is down.
"""

from __future__ import annotations

import json

import pytest
from django.core import signing
from django.urls import reverse
from rest_framework.renderers import JSONRenderer
from rest_framework.throttling import ScopedRateThrottle

from advertising import conf, services
from ecommerce.api.throttling import CounterScopedRateThrottle
from tests.factories import ProductFactory, UserFactory
from tests.factories.advertising import AdFactory, CampaignFactory

pytestmark = pytest.mark.django_db

HEADERS = ("Content-Type", "Allow", "Vary", "X-Frame-Options", "Content-Security-Policy", "Cache-Control")


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    settings.ADS_PACING = False


@pytest.mark.parametrize("signed_in", [False, True])
def test_get_answers_with_drf_status_and_headers(api_client, signed_in):
    CampaignFactory()
    product = ProductFactory()
    if signed_in:
        api_client.force_login(UserFactory())
    for query in (
        "slot=listing&n=2",
        f"slot=product&product_id={product.pk}",
        "slot=search&q=bag",
        "slot=sidebar",
        "slot=product&n=11",
        "product_id=1",
    ):
        url = "/api/ads/serve/?" + query
        got, drf = api_client.get(url), api_client.head(url)
        assert got.status_code == drf.status_code, url
        for header in HEADERS:
            assert got.headers.get(header) == drf.headers.get(header), (url, header)
        assert got["Allow"] == "GET, HEAD, OPTIONS"
        assert got["Content-Type"] == "application/json"


def test_get_body_is_drfs_json_rendering(api_client):
    campaign = CampaignFactory()
    response = api_client.get("/api/ads/serve/?slot=listing&n=2")
    assert response.status_code == 200
    payload = json.loads(response.content)
    assert [ad["campaign_id"] for ad in payload["ads"]] == [campaign.pk]
    assert response.content == JSONRenderer().render(payload)  # compact, as DRF renders it
    assert response["Cache-Control"] == "private, no-store"


def test_get_errors_have_drf_bodies(api_client):
    bad_slot = api_client.get("/api/ads/serve/?slot=sidebar")
    assert bad_slot.status_code == 400
    assert bad_slot.json() == {"slot": ["Unknown slot sidebar: use listing, search or product."]}
    too_many = api_client.get("/api/ads/serve/?slot=product&n=11")
    assert too_many.status_code == 400
    assert set(too_many.json()) == {"n"}


def test_get_is_throttled_like_drf(api_client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "ads", "2/min")
    monkeypatch.setattr(CounterScopedRateThrottle, "timer", staticmethod(lambda: 60 * 30_000 + 30.0))
    CampaignFactory()
    statuses = [api_client.get("/api/ads/serve/?slot=listing").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = api_client.get("/api/ads/serve/?slot=listing")
    assert throttled["Content-Type"] == "application/json"
    # Seconds left in the window, as every other API says (it said the key's 61 s expiry before).
    assert throttled["Retry-After"] == "30"
    assert throttled.json() == {"detail": "Request was throttled. Expected available in 30 seconds."}


def test_caps_cookie_is_set_on_the_plain_path(api_client):
    api_client.cookies["tracking_consent"] = "yes"
    CampaignFactory(cap_per_session=1)
    first = api_client.get("/api/ads/serve/?slot=listing")
    assert len(first.json()["ads"]) == 1
    cookie = first.cookies[services.CAPS_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert api_client.get("/api/ads/serve/?slot=listing").json()["ads"] == []  # the cookie's cap holds


def test_answer_urls_are_what_reverse_gives(api_client):
    campaign = CampaignFactory(with_ad=False)
    ad = AdFactory(campaign=campaign)
    served = api_client.get("/api/ads/serve/?slot=listing").json()["ads"][0]
    assert served["product"]["url"] == reverse("storefront:product", args=[ad.product_id])
    token = served["click_url"].split("/")[-2]
    assert served["click_url"] == reverse("advertising:click", args=[token])
    assert signing.loads(token, salt=conf.CLICK_SALT)["a"] == ad.pk
    # A token with a character reverse() would quote takes reverse() itself.
    assert services._click_url("a b") == reverse("advertising:click", args=["a b"])
    assert services._click_url("abc:DEF-_.1") == reverse("advertising:click", args=["abc:DEF-_.1"])


def test_answer_urls_follow_the_script_prefix(api_client):
    from django.urls import set_script_prefix

    CampaignFactory()
    api_client.get("/api/ads/serve/?slot=listing")  # remembered under "/"
    set_script_prefix("/shop/")
    try:
        assert services._click_url("tok") == "/shop/ads/click/tok/"
        assert services._product_url(ProductFactory.build(pk=42)) == "/shop/products/42/"
    finally:
        set_script_prefix("/")
    assert services._click_url("tok") == "/ads/click/tok/"


def test_a_dependency_down_is_drfs_json_503(api_client, monkeypatch):
    from django.db import OperationalError

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "ads_serve", down)
    got, drf = api_client.get("/api/ads/serve/?slot=listing"), api_client.head("/api/ads/serve/?slot=listing")
    assert got.status_code == drf.status_code == 503
    assert got["Retry-After"] == drf["Retry-After"] == "10"
    assert got["Content-Type"] == "application/json"
    assert got.json()["code"] == "service_unavailable"
