"""The advertiser REST API with per-advertiser tokens: scoping, approval gate, ads from the
catalogue, reports as JSON and CSV, token revocation, bad input as 400 JSON, the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from advertising.models import ApiToken, Campaign, DailyReport
from advertising.selectors import live_ads
from advertising.services import campaign_review
from advertising.tokens import api_token_create, api_token_revoke, key_hash
from tests.factories import ProductFactory, RoleStaffFactory, UserFactory
from tests.factories.advertising import AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db


def _member(advertiser):
    user = UserFactory()
    advertiser.users.add(user)
    return user


def _token_client(user, advertiser) -> tuple[APIClient, str]:
    _, key = api_token_create(user=user, advertiser=advertiser, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, key


def _body(product, **overrides):
    body = {
        "name": "Lunch bags",
        "starts_at": timezone.now().isoformat(),
        "daily_budget": "10.00",
        "total_budget": "100.00",
        "bid_type": "cpc",
        "bid": "0.40",
        "ads": [{"product_id": product.pk}],
    }
    body.update(overrides)
    return body


def test_token_is_hashed_at_rest_and_acts_for_its_advertiser_only():
    # given two advertisers with a campaign each
    a, b = AdvertiserFactory(), AdvertiserFactory()
    alice = _member(a)
    own, theirs = CampaignFactory(advertiser=a), CampaignFactory(advertiser=b)
    client, key = _token_client(alice, a)
    # then the key itself is not stored
    token = ApiToken.objects.get()
    assert token.key_hash == key_hash(key) and key not in (token.prefix, token.key_hash)
    # and it sees, edits and reports only its own advertiser's campaigns
    assert [c["id"] for c in client.get("/api/ads/campaigns/").json()] == [own.pk]
    assert client.get(f"/api/ads/campaigns/{theirs.pk}/").status_code == 404
    assert client.patch(f"/api/ads/campaigns/{theirs.pk}/", {"name": "Mine now"}, format="json").status_code == 404
    assert client.get(f"/api/ads/campaigns/{theirs.pk}/report/").status_code == 404
    assert client.get(f"/api/ads/campaigns/{theirs.pk}/report.csv").status_code == 404
    assert client.post(f"/api/ads/campaigns/{theirs.pk}/ads/", {}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name != "Mine now"
    assert ApiToken.objects.get().last_used_at is not None


def test_revoked_or_unknown_token_is_401_and_a_member_who_left_loses_it():
    advertiser = AdvertiserFactory()
    alice = _member(advertiser)
    client, _ = _token_client(alice, advertiser)
    assert client.get("/api/ads/campaigns/").status_code == 200
    api_token_revoke(user=alice, token_id=ApiToken.objects.get().pk)
    response = client.get("/api/ads/campaigns/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert "revoked" in response.json()["detail"]
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token adv_not-a-real-key")
    assert stranger.get("/api/ads/campaigns/").status_code == 401
    assert APIClient().get("/api/ads/campaigns/").status_code == 401
    # a token outlives nobody's membership
    bob = _member(advertiser)
    bob_client, _ = _token_client(bob, advertiser)
    advertiser.users.remove(bob)
    assert bob_client.get("/api/ads/campaigns/").status_code == 401


def test_another_advertiser_cannot_revoke_my_token():
    a, b = AdvertiserFactory(), AdvertiserFactory()
    alice, mallory = _member(a), _member(b)
    _token_client(alice, a)
    from ecommerce.errors import NotFound

    with pytest.raises(NotFound):
        api_token_revoke(user=mallory, token_id=ApiToken.objects.get().pk)


def test_created_campaign_waits_for_approval_before_it_serves():
    # given an advertiser creating a campaign for a product through the API
    advertiser = AdvertiserFactory()
    alice = _member(advertiser)
    client, _ = _token_client(alice, advertiser)
    product = ProductFactory(title="jumbo lunch bag red", stock=10)
    created = client.post("/api/ads/campaigns/", _body(product), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    # then the product's page, title and picture came with the ad, money in the shop's currency
    assert body["review_status"] == "pending_review" and body["currency"] == "GBP"
    ad = body["ads"][0]
    assert ad["landing_url"] == f"/products/{product.pk}/" and ad["headline"] == "Jumbo Lunch Bag Red"
    # and even started it does not serve until the merchant approves it
    pk = body["id"]
    assert client.post(f"/api/ads/campaigns/{pk}/transition/", {"status": "active"}, format="json").status_code == 200
    assert not Campaign.objects.live().filter(pk=pk).exists()
    assert not [spec for spec, _ in live_ads() if spec.campaign.id == pk]
    merchant = RoleStaffFactory(role="marketing")
    campaign_review(campaign=Campaign.objects.get(pk=pk), user=merchant, approve=True)
    assert Campaign.objects.live().filter(pk=pk).exists()
    # a new creative from the advertiser sends it back to review; budgets do not
    assert client.patch(f"/api/ads/campaigns/{pk}/", {"daily_budget": "12.00"}, format="json").json()[
        "review_status"
    ] == ("approved")
    added = client.post(f"/api/ads/campaigns/{pk}/ads/", {"product_id": product.pk, "headline": "New"}, format="json")
    assert added.status_code == 201
    assert Campaign.objects.get(pk=pk).review_status == "pending_review"


def test_rejection_needs_a_reason_and_only_reviewers_may_review():
    from ecommerce.errors import DomainError, PermissionDenied

    campaign = CampaignFactory()
    Campaign.objects.filter(pk=campaign.pk).update(review_status="pending_review")
    with pytest.raises(PermissionDenied):
        campaign_review(campaign=campaign, user=RoleStaffFactory(role="analyst"), approve=True)
    merchant = RoleStaffFactory(role="marketing")
    with pytest.raises(DomainError):
        campaign_review(campaign=campaign, user=merchant, approve=False, reason="  ")
    campaign_review(campaign=campaign, user=merchant, approve=False, reason="Landing page is off-brand.")
    campaign.refresh_from_db()
    assert (campaign.review_status, campaign.review_reason) == ("rejected", "Landing page is off-brand.")
    assert not Campaign.objects.live().filter(pk=campaign.pk).exists()


def test_external_landing_url_only_when_the_merchant_allows_it(settings):
    advertiser = AdvertiserFactory()
    client, _ = _token_client(_member(advertiser), advertiser)
    external = {"ads": [{"headline": "Our shop", "landing_url": "https://brand.example.com/bags"}]}
    refused = client.post("/api/ads/campaigns/", _body(ProductFactory(), **external), format="json")
    assert refused.status_code == 400 and "landing_url" in refused.json()
    assert not Campaign.objects.exists()  # nothing half-written
    settings.ADS_ALLOW_EXTERNAL_LANDING_URLS = True
    assert client.post("/api/ads/campaigns/", _body(ProductFactory(), **external), format="json").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bid": "abc"}, "bid"),
        ({"total_budget": "0"}, "total_budget"),
        ({"genders": ["x"]}, "genders"),
        ({"ads": [{"product_id": 999999}]}, "product_id"),
        ({"ads": [{"headline": "No product, no URL"}]}, "landing_url"),
        ({"ads": [{"landing_url": "javascript:alert(1)"}]}, "landing_url"),
        ({"view_attribution_days": 99}, "view_attribution_days"),
    ],
)
def test_bad_input_is_400_json_naming_the_field(body, field):
    advertiser = AdvertiserFactory()
    client, _ = _token_client(_member(advertiser), advertiser)
    response = client.post("/api/ads/campaigns/", _body(ProductFactory(), **body), format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in str(response.json())
    assert not Campaign.objects.exists()


def test_report_json_and_csv_with_roas_and_cpa():
    advertiser = AdvertiserFactory()
    client, _ = _token_client(_member(advertiser), advertiser)
    campaign = CampaignFactory(advertiser=advertiser)
    day = timezone.localdate()
    DailyReport.objects.create(
        campaign=campaign,
        day=day - timedelta(days=1),
        impressions=100,
        clicks=4,
        spend=Decimal("2.00"),
        conversions=2,
        revenue=Decimal("30.00"),
    )
    DailyReport.objects.create(campaign=campaign, day=day, impressions=50, clicks=0, spend=Decimal("0"))
    report = client.get(f"/api/ads/campaigns/{campaign.pk}/report/").json()
    assert report["currency"] == "GBP" and len(report["rows"]) == 2
    first = report["rows"][0]
    assert (first["roas"], first["cpa"], first["spend"], first["revenue"]) == (15.0, "1.00", "2.00", "30.00")
    assert report["rows"][1]["cpa"] is None
    assert report["totals"]["conversions"] == 2 and report["totals"]["roas"] == 15.0
    only_today = client.get(f"/api/ads/campaigns/{campaign.pk}/report/", {"since": day.isoformat()}).json()
    assert [r["day"] for r in only_today["rows"]] == [day.isoformat()]
    assert client.get(f"/api/ads/campaigns/{campaign.pk}/report/", {"since": "yesterday"}).status_code == 400
    csv = client.get(f"/api/ads/campaigns/{campaign.pk}/report.csv", HTTP_ACCEPT="text/csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0] == "day,impressions,clicks,ctr,spend,avg_cpc,conversions,revenue,roas,cpa,currency"
    assert lines[1].split(",")[1:] == ["100", "4", "0.0400", "2.00", "0.50", "2", "30.00", "15.00", "1.00", "GBP"]


def test_delete_finishes_and_ads_switch_off():
    advertiser = AdvertiserFactory()
    client, _ = _token_client(_member(advertiser), advertiser)
    campaign = CampaignFactory(advertiser=advertiser)
    ad = campaign.ads.first()
    off = client.patch(f"/api/ads/campaigns/{campaign.pk}/ads/{ad.pk}/", {"is_active": False}, format="json")
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert (
        client.patch(
            f"/api/ads/campaigns/{campaign.pk}/ads/{ad.pk}/", {"is_active": "maybe"}, format="json"
        ).status_code
        == 400
    )
    assert client.delete(f"/api/ads/campaigns/{campaign.pk}/").json()["status"] == "finished"
    assert client.patch(f"/api/ads/campaigns/{campaign.pk}/", {"name": "x"}, format="json").status_code == 409


def test_openapi_schema_documents_the_advertiser_api_and_token(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/ads/campaigns/{id}/ads/",
        "/api/ads/campaigns/{id}/report/",
        "/api/ads/campaigns/{id}/report.csv",
        "/api/ads/campaigns/{id}/ads/{ad_id}/",
    ):
        assert path in text
    assert "advertiserToken" in text and "review_status" in text
