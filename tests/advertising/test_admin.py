"""Admin: Marketing manages campaigns, advertisers stay out; validation errors; report and CSV."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from advertising.models import Campaign, DailyReport
from tests.factories import RoleStaffFactory, StaffFactory, UserFactory
from tests.factories.advertising import AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db


def _advertiser_client():
    """An advertiser login: a non-staff member of its advertiser (create_advertiser makes these)."""
    advertiser = AdvertiserFactory()
    user = UserFactory()
    advertiser.users.add(user)
    client = Client()
    client.force_login(user)
    return advertiser, client


def _marketing_client():
    client = Client()
    client.force_login(RoleStaffFactory(role="marketing"))
    return client


def test_advertiser_is_kept_out_of_the_admin_and_reaches_only_own_campaigns_by_api():
    advertiser, client = _advertiser_client()
    mine = CampaignFactory(advertiser=advertiser, name="Mine")
    theirs = CampaignFactory(name="Theirs")
    # the admin is for staff: an advertiser is sent to its login page
    assert client.get("/admin/advertising/campaign/").status_code == 302
    assert client.get(f"/admin/advertising/campaign/{mine.pk}/report/").status_code == 302
    # the API shows its own campaigns only
    assert [c["name"] for c in client.get("/api/ads/campaigns/").json()] == ["Mine"]
    assert client.get(f"/api/ads/campaigns/{mine.pk}/").status_code == 200
    assert client.get(f"/api/ads/campaigns/{theirs.pk}/").status_code == 404


def test_staff_without_marketing_role_sees_no_campaigns_in_admin():
    staff = RoleStaffFactory(role=None)
    campaign = CampaignFactory(name="Theirs")
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/advertising/campaign/").status_code == 403
    assert client.get(f"/admin/advertising/campaign/{campaign.pk}/report/").status_code == 403
    page = _marketing_client().get("/admin/advertising/campaign/")
    assert page.status_code == 200 and b"Theirs" in page.content


def test_admin_form_rejects_bid_above_budget_and_impossible_ages():
    advertiser, client = AdvertiserFactory(), _marketing_client()
    now = timezone.now()
    form = {
        "advertiser": advertiser.pk,
        "name": "Bad",
        "objective": "traffic",
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": "00:00:00",
        "daily_budget": "5",
        "total_budget": "50",
        "bid_type": "cpc",
        "bid": "9",
        "min_age": "50",
        "max_age": "20",
        "genders": "[]",
        "countries": "[]",
        "segments": "[]",
        "retarget": "",
        "retarget_days": "30",
        "attribution_days": "7",
        "ads-TOTAL_FORMS": "0",
        "ads-INITIAL_FORMS": "0",
        "ads-MIN_NUM_FORMS": "0",
        "ads-MAX_NUM_FORMS": "1000",
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
    DailyReport.objects.create(
        campaign=campaign,
        day=timezone.localdate(),
        impressions=200,
        clicks=7,
        spend=Decimal("3.50"),
        conversions=1,
        revenue=Decimal("35.00"),
    )
    page = client.get(f"/admin/advertising/campaign/{campaign.pk}/report/")
    assert page.status_code == 200
    assert b"<svg" in page.content and b'id="total-clicks">7<' in page.content
    csv = client.get(f"/admin/advertising/campaign/{campaign.pk}/report.csv")
    lines = csv.content.decode().strip().splitlines()
    # money in the CSV: plain decimals with 2 places, the currency in its own column
    assert lines[0] == "day,impressions,clicks,ctr,spend,avg_cpc,conversions,revenue,roas,cpa,currency"
    assert lines[1].split(",")[1:] == ["200", "7", "0.0350", "3.50", "0.50", "1", "35.00", "10.00", "3.50", "GBP"]


def test_report_page_and_changelist_show_money_with_the_currency(settings):
    # given a campaign whose money columns have 6 decimal places in the database
    settings.SHOP_CURRENCY = "GBP"
    client = _marketing_client()
    campaign = CampaignFactory(bid=Decimal("3"), daily_budget=Decimal("25"), total_budget=Decimal("1200"))
    DailyReport.objects.create(
        campaign=campaign,
        day=timezone.localdate(),
        impressions=10,
        clicks=4,
        spend=Decimal("3.000000"),
        conversions=0,
        revenue=Decimal("0"),
    )
    # when the merchant opens the report, the changelist and the change form
    report = client.get(f"/admin/advertising/campaign/{campaign.pk}/report/").content.decode()
    changelist = client.get("/admin/advertising/campaign/").content.decode()
    change = client.get(f"/admin/advertising/campaign/{campaign.pk}/change/").content.decode()
    # then every amount reads as money, never as 3.000000
    assert "Bid £3.00" in report and "of £1,200.00" in report
    assert '<td class="money">£3.00</td>' in report and '<td class="money">£0.75</td>' in report
    assert "£25.00" in changelist and "£1,200.00" in changelist
    assert 'value="3.00"' in change and "3.000000" not in change
    for html in (report, changelist, change):
        assert "3.000000" not in html
