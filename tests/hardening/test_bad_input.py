"""Issue 10, item 8: inputs that used to answer 500 answer 400 with a message."""

import pytest
from django.urls import reverse
from django.utils import timezone

from advertising.models import Campaign
from advertising.selectors import audience_estimate, campaign_spec_of
from ecommerce.api.parsers import json_depth_exceeds
from tests.factories import UserFactory
from tests.factories.advertising import AdvertiserFactory, CampaignFactory
from tests.support.conftest import csrf_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    """A superuser: holds every analytics permission whatever the role setup (issue 10 roles)."""
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x-x-x-x-x"))
    return client


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_funnel_without_window_uses_the_seven_day_default(admin_client):
    response = admin_client.post(reverse("analytics:funnel"), {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["window_seconds"] == 7 * 86400


@pytest.mark.parametrize("genders", [[["f"]], [{"a": 1}], [1], {"f": True}, "f"])
def test_campaign_api_rejects_genders_that_are_not_a_list_of_codes(genders):
    from rest_framework.test import APIClient

    owner = UserFactory()
    AdvertiserFactory().users.add(owner)
    client = APIClient()
    client.force_login(owner)
    body = {
        "name": "Spring",
        "objective": "traffic",
        "starts_at": timezone.now().isoformat(),
        "daily_budget": "10.00",
        "total_budget": "100.00",
        "bid_type": "cpc",
        "bid": "0.50",
        "genders": genders,
        "ads": [{"headline": "Tea", "landing_url": "/tea/"}],
    }

    response = client.post("/api/ads/campaigns/", body, format="json")

    assert response.status_code == 400, response.content
    assert "genders" in response.json()
    assert not Campaign.objects.exists()


def test_targeting_tolerates_bad_stored_genders():
    # given a row written around validation (an old import, a raw UPDATE)
    campaign = CampaignFactory()
    Campaign.objects.filter(pk=campaign.pk).update(genders=[["f"], {"x": 1}, "m"])
    campaign.refresh_from_db()

    # when the targeting code reads it, then it keeps the valid codes and does not crash
    assert campaign_spec_of(campaign, timezone.localdate()).genders == frozenset({"m"})
    assert audience_estimate(campaign=campaign)["matching_users"] >= 0


def test_events_api_rejects_deeply_nested_json_with_400(consenting_client):
    body = '{"events": [' + _nested(5000) + "]}"

    response = consenting_client.post("/api/events/", body, content_type="application/json")

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_events_api_rejects_json_just_over_the_limit(consenting_client, settings):
    settings.JSON_MAX_DEPTH = 64
    body = '{"events": [' + _nested(63) + "]}"  # 1 (object) + 1 (list) + 63 = 65 levels

    response = consenting_client.post("/api/events/", body, content_type="application/json")

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_chat_api_rejects_deeply_nested_json_with_400():
    client = csrf_client()

    response = client.post(
        "/api/support/conversations/", '{"a": ' + _nested(5000) + "}", content_type="application/json"
    )

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_every_drf_view_parses_with_the_depth_limit(admin_client):
    response = admin_client.post(
        reverse("analytics:funnel"), '{"steps": ' + _nested(100) + "}", content_type="application/json"
    )

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_json_depth_exceeds_counts_container_levels():
    assert not json_depth_exceeds({"a": [1, {"b": 2}]}, 3)
    assert json_depth_exceeds({"a": [1, {"b": [2]}]}, 3)
    assert not json_depth_exceeds("scalar", 1)


def test_empty_csv_export_keeps_its_content_type(admin_client):
    response = admin_client.get("/api/analytics/segments/?format=csv")  # no segments yet: an empty table

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
