"""Admin: advertisers see only their campaigns; validation errors; report and CSV."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from advertising.models import Campaign, DailyReport
from tests.factories import StaffFactory, UserFactory
from tests.factories.advertising import AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db


def _advertiser_client():
    advertiser = AdvertiserFactory()
    user = UserFactory(is_staff=True)
    advertiser.users.add(user)
    client = Client()
    client.force_login(user)
    return advertiser, client


def test_advertiser_user_sees_only_own_campaigns_in_admin():
    advertiser, client = _advertiser_client()
    mine = CampaignFactory(advertiser=advertiser, name="Mine")
    theirs = CampaignFactory(name="Theirs")
    page = client.get("/admin/advertising/campaign/")
    assert page.status_code == 200
    assert b"Mine" in page.content and b"Theirs" not in page.content
    assert client.get(f"/admin/advertising/campaign/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/advertising/campaign/{theirs.pk}/report/").status_code == 404
    assert client.get(f"/admin/advertising/campaign/{mine.pk}/change/").status_code == 200


def test_admin_form_rejects_bid_above_budget_and_impossible_ages():
    advertiser, client = _advertiser_client()
    now = timezone.now()
    form = {
        "advertiser": advertiser.pk, "name": "Bad", "objective": "traffic",
        "starts_at_0": now.strftime("%Y-%m-%d"), "starts_at_1": "00:00:00",
        "daily_budget": "5", "total_budget": "50", "bid_type": "cpc", "bid": "9", "min_age": "50", "max_age": "20",
        "genders": "[]", "countries": "[]", "segments": "[]", "retarget": "", "retarget_days": "30",
        "attribution_days": "7",
        "ads-TOTAL_FORMS": "0", "ads-INITIAL_FORMS": "0", "ads-MIN_NUM_FORMS": "0", "ads-MAX_NUM_FORMS": "1000",
    }
    response = client.post("/admin/advertising/campaign/add/", form)
    assert response.status_code == 200
    assert b"could never be paid" in response.content and b"nobody could match" in response.content
    assert not Campaign.objects.exists()


def test_report_page_chart_and_csv():
    staff = StaffFactory()
    client = Client()
    client.force_login(staff)
    campaign = CampaignFactory()
    DailyReport.objects.create(campaign=campaign, day=timezone.localdate(), impressions=200, clicks=7,
                               spend=Decimal("3.50"), conversions=1, revenue=Decimal("35.00"))
    page = client.get(f"/admin/advertising/campaign/{campaign.pk}/report/")
    assert page.status_code == 200
    assert b"<svg" in page.content and b'id="total-clicks">7<' in page.content
    csv = client.get(f"/admin/advertising/campaign/{campaign.pk}/report.csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("day,impressions,clicks,ctr,spend,avg_cpc")
    assert lines[1].split(",")[1:] == ["200", "7", "0.0350", "3.50", "0.5000", "1", "35.00", "10.00"]
