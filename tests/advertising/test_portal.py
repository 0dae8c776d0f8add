"""The advertiser portal (/advertisers/) and the merchant's side in the admin: scoping, the
campaign form with the product picker and targeting controls, pause/resume, report with chart
and CSV, tokens shown once, login landing; admin approval, settings and seeded campaigns that
save unchanged."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.test import Client
from django.utils import timezone

from advertising import conf
from advertising.models import AdsSettings, ApiToken, Campaign, DailyReport
from tests.factories import CategoryFactory, ProductFactory, RoleStaffFactory, UserFactory
from tests.factories.advertising import AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db


def _member_client(advertiser=None):
    advertiser = advertiser or AdvertiserFactory()
    user = UserFactory(password="pw-for-the-portal-1")
    advertiser.users.add(user)
    client = Client()
    client.force_login(user)
    return client, user, advertiser


def _form(product, **overrides):
    data = {
        "name": "Lunch bags for school",
        "objective": "sales",
        "product": product.pk,
        "headline": "",
        "bid_type": "cpc",
        "bid": "0.45",
        "daily_budget": "15",
        "total_budget": "150",
        "starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "genders": ["f", "o"],
        "min_age": "25",
        "max_age": "54",
        "retarget": "",
        "retarget_days": "30",
        "attribution_days": "7",
        "view_attribution_days": "1",
    }
    data.update(overrides)
    return data


def test_advertiser_lands_on_the_portal_after_login_and_others_do_not():
    advertiser = AdvertiserFactory()
    user = UserFactory(username="adv", password="pw-for-the-portal-1")
    advertiser.users.add(user)
    response = Client().post("/accounts/login/", {"username": "adv", "password": "pw-for-the-portal-1"})
    assert response.status_code == 302 and response["Location"] == "/advertisers/"
    UserFactory(username="shopper1", password="pw-for-the-portal-1")
    response = Client().post("/accounts/login/", {"username": "shopper1", "password": "pw-for-the-portal-1"})
    assert response["Location"] == "/"
    # an explicit next still wins
    response = Client().post("/accounts/login/?next=/cart/", {"username": "adv", "password": "pw-for-the-portal-1"})
    assert response["Location"] == "/cart/"


def test_create_campaign_for_a_product_with_targeting_then_pause_and_resume():
    client, user, advertiser = _member_client()
    category = CategoryFactory(name="Bags")
    product = ProductFactory(title="jumbo lunch bag red", category=category, stock=9)
    page = client.get("/advertisers/campaigns/new/")
    assert page.status_code == 200
    html = page.content.decode()
    # proper controls: checkboxes for genders, a multi-select of countries, money in the currency
    assert 'type="checkbox" name="genders" value="f"' in html
    assert '<select name="countries"' in html and "multiple" in html
    assert "Bid (GBP)" in html and 'name="landing_url"' not in html  # no external URLs by default
    response = client.post("/advertisers/campaigns/new/", _form(product, countries=["United Kingdom"]))
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert response["Location"] == f"/advertisers/campaigns/{campaign.pk}/"
    assert (campaign.advertiser, campaign.review_status, campaign.status) == (advertiser, "pending_review", "draft")
    assert (campaign.genders, campaign.countries, campaign.min_age, campaign.max_age) == (
        ["f", "o"],
        ["United Kingdom"],
        25,
        54,
    )
    ad = campaign.ads.get()
    assert (ad.product, ad.landing_url, ad.headline) == (product, f"/products/{product.pk}/", "Jumbo Lunch Bag Red")
    detail = client.get(response["Location"]).content.decode()
    assert "Waiting for approval" in detail and "£0.45" in detail
    # start, pause, resume
    for to, status in (("active", "active"), ("paused", "paused"), ("active", "active")):
        assert client.post(f"/advertisers/campaigns/{campaign.pk}/status/", {"to": to}).status_code == 302
        campaign.refresh_from_db()
        assert campaign.status == status
    # an edit of the budget keeps the ad (and does not ask for review again once approved)
    Campaign.objects.filter(pk=campaign.pk).update(review_status="approved")
    edit = client.get(f"/advertisers/campaigns/{campaign.pk}/edit/")
    assert edit.status_code == 200 and 'value="15.00"' in edit.content.decode()
    response = client.post(
        f"/advertisers/campaigns/{campaign.pk}/edit/",
        _form(product, daily_budget="20", headline="Jumbo Lunch Bag Red", countries=["United Kingdom"]),
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.daily_budget == Decimal("20") and campaign.review_status == "approved"
    assert campaign.ads.count() == 1


def test_bad_form_input_is_shown_and_nothing_is_saved():
    client, _, _ = _member_client()
    product = ProductFactory()
    response = client.post("/advertisers/campaigns/new/", _form(product, min_age="60", max_age="30", bid="-1"))
    assert response.status_code == 400
    assert not Campaign.objects.exists()
    response = client.post("/advertisers/campaigns/new/", {**_form(product), "product": "999999"})
    assert response.status_code == 400 and "Pick a product that is for sale." in response.content.decode()
    response = client.post("/advertisers/campaigns/new/", _form(product, daily_budget="500", total_budget="100"))
    assert response.status_code == 400 and "daily budget cannot exceed" in response.content.decode()
    assert not Campaign.objects.exists()


def test_external_landing_url_field_appears_when_the_merchant_allows_it():
    client, _, _ = _member_client()
    merchant = RoleStaffFactory(role="marketing")
    from advertising.services import merchant_settings_save

    merchant_settings_save(user=merchant, data={"allow_external_landing_urls": True})
    assert conf.external_landing_urls_allowed()
    product = ProductFactory()
    assert 'name="landing_url"' in client.get("/advertisers/campaigns/new/").content.decode()
    response = client.post("/advertisers/campaigns/new/", _form(product, landing_url="https://brand.example.com/bags"))
    assert response.status_code == 302
    assert Campaign.objects.get().ads.get().landing_url == "https://brand.example.com/bags"


def test_advertiser_a_cannot_reach_b_campaigns_in_the_portal():
    client, _, _ = _member_client()
    theirs = CampaignFactory()
    for url in (
        f"/advertisers/campaigns/{theirs.pk}/",
        f"/advertisers/campaigns/{theirs.pk}/edit/",
        f"/advertisers/campaigns/{theirs.pk}/report.csv",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/advertisers/campaigns/{theirs.pk}/status/", {"to": "paused"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "active"
    assert theirs.name not in client.get("/advertisers/").content.decode()
    # a shopper without an advertiser gets a 403 page, and anonymous visitors the login
    shopper = Client()
    shopper.force_login(UserFactory())
    assert shopper.get("/advertisers/").status_code == 403
    assert Client().get("/advertisers/")["Location"].startswith("/accounts/login/")


def test_report_page_has_chart_totals_and_csv():
    client, _, advertiser = _member_client()
    campaign = CampaignFactory(advertiser=advertiser)
    day = timezone.localdate()
    for offset, (imp, clicks, spend, conv, revenue) in enumerate(
        [(120, 6, "3.00", 1, "25.00"), (80, 2, "1.00", 1, "15.00")]
    ):
        DailyReport.objects.create(
            campaign=campaign,
            day=day - timedelta(days=1 - offset),
            impressions=imp,
            clicks=clicks,
            spend=Decimal(spend),
            conversions=conv,
            revenue=Decimal(revenue),
        )
    html = client.get(f"/advertisers/campaigns/{campaign.pk}/").content.decode()
    assert 'id="report-chart"' in html and html.count('class="bar-spend"') == 2
    assert 'id="total-clicks">8<' in html and 'id="total-conversions">2<' in html
    assert 'id="total-revenue">£40.00<' in html and 'id="total-roas">10.00<' in html
    assert 'id="total-cpa">£2.00<' in html
    csv = client.get(f"/advertisers/campaigns/{campaign.pk}/report.csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert len(csv.content.decode().strip().splitlines()) == 3


def test_product_search_and_live_audience_estimate():
    client, _, _ = _member_client()
    ProductFactory(title="jumbo lunch bag red", stock=3)
    ProductFactory(title="lunch bag out of stock", stock=0)
    found = client.get("/advertisers/products/", {"q": "lunch bag"}).json()["products"]
    assert [p["title"] for p in found] == ["jumbo lunch bag red"]
    UserFactory(gender="f", birth_year=timezone.now().year - 30, country="France")
    UserFactory(gender="m", birth_year=timezone.now().year - 30, country="France")
    estimate = client.get("/advertisers/audience/", {"genders": "f", "countries": "France"}).json()
    assert estimate["matching_users"] == 1
    bad = client.get("/advertisers/audience/", {"min_age": "old"})
    assert bad.status_code == 400 and "min_age" in bad.json()["errors"]


def test_token_is_shown_once_and_can_be_revoked():
    client, user, advertiser = _member_client()
    page = client.post("/advertisers/tokens/", {"name": "Reporting script"})
    assert page.status_code == 200
    html = page.content.decode()
    token = ApiToken.objects.get()
    key = html.split('id="new-token-key">')[1].split("<")[0]
    assert key.startswith(token.prefix) and token.key_hash != key
    assert key not in client.get("/advertisers/tokens/").content.decode()  # never shown again
    assert client.post("/advertisers/tokens/", {"name": ""}).status_code == 400
    assert client.post(f"/advertisers/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    other_client, _, _ = _member_client()
    assert other_client.post(f"/advertisers/tokens/{token.pk}/revoke/").status_code == 404


# --- the merchant's side ----------------------------------------------------------------------


def _marketing_client():
    client = Client()
    client.force_login(RoleStaffFactory(role="marketing"))
    return client


def _admin_post_data(response) -> dict:
    """The change form's current values, as the browser would post them back unchanged."""
    data: dict = {}

    def add(form, prefix_fields=None):
        for bound in form:
            if bound.field.disabled:
                continue
            widget = bound.field.widget
            value = bound.value()
            name = bound.html_name
            if hasattr(widget, "widgets"):  # split date/time
                parts = widget.decompress(value) if not isinstance(value, list) else value
                for i, part in enumerate(parts):
                    sub = widget.widgets[i]
                    data[f"{name}_{i}"] = sub.format_value(part) or ""
            elif isinstance(value, list | tuple):
                data[name] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[name] = "on"
            elif value is None:
                data[name] = ""
            else:
                formatted = widget.format_value(value)
                data[name] = "" if formatted is None else formatted

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        existing = [form for form in formset.forms if form.instance.pk]
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        data[f"{formset.prefix}-TOTAL_FORMS"] = len(existing)  # the blank extra form is left empty
        for form in existing:
            add(form)
    data["_save"] = "Save"
    return data


def test_each_seeded_campaign_saves_unchanged_from_the_admin():
    from advertising.demo import seed_demo_advertising

    for _ in range(12):
        ProductFactory(stock=20)
    seed_demo_advertising(seed=3, stdout=StringIO())
    client = _marketing_client()
    campaigns = list(Campaign.objects.all())
    assert campaigns
    for campaign in campaigns:
        before = Campaign.objects.filter(pk=campaign.pk).values().get()
        page = client.get(f"/admin/advertising/campaign/{campaign.pk}/change/")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'type="checkbox" name="genders"' in html  # not a JSON text box
        response = client.post(f"/admin/advertising/campaign/{campaign.pk}/change/", _admin_post_data(page))
        errors = ""
        if response.status_code != 302:
            errors = str(response.context["adminform"].form.errors) + str(
                [f.errors for i in response.context["inline_admin_formsets"] for f in i.formset.forms]
            )
        assert response.status_code == 302, errors
        after = Campaign.objects.filter(pk=campaign.pk).values().get()
        # the form shows times to the second, as a browser would post them
        before["starts_at"] = before["starts_at"].replace(microsecond=0)
        assert after == before


def test_admin_changelist_shows_money_with_currency_and_review_status():
    CampaignFactory(bid=Decimal("3"), daily_budget=Decimal("25"))
    html = _marketing_client().get("/admin/advertising/campaign/").content.decode()
    assert "£3.00" in html and "£25.00" in html and "Approved" in html


def test_admin_review_page_rejects_with_reason_then_approves():
    client = _marketing_client()
    campaign = CampaignFactory()
    Campaign.objects.filter(pk=campaign.pk).update(review_status="pending_review")
    url = f"/admin/advertising/campaign/{campaign.pk}/review/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"decision": "reject", "reason": ""}).status_code == 400
    assert client.post(url, {"decision": "reject", "reason": "Wrong product"}).status_code == 302
    campaign.refresh_from_db()
    assert (campaign.review_status, campaign.review_reason) == ("rejected", "Wrong product")
    assert client.post(url, {"decision": "approve"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.review_status == "approved"
    # the advertiser list shows how many wait for approval
    Campaign.objects.filter(pk=campaign.pk).update(review_status="pending_review")
    assert "review_status__exact=pending_review" in client.get("/admin/advertising/advertiser/").content.decode()


def test_admin_settings_set_reserve_prices_and_slots(settings):
    client = _marketing_client()
    page = client.get("/admin/advertising/adssettings/")
    assert page.status_code == 200 and "Reserve price per click (GBP)" in page.content.decode()
    response = client.post(
        "/admin/advertising/adssettings/",
        {"reserve_cpc": "0.25", "reserve_cpm": "2.00", "allowed_slots": ["product", "search"]},
    )
    assert response.status_code == 302
    row = AdsSettings.objects.get()
    assert row.allowed_slots == ["product", "search"] and not row.allow_external_landing_urls
    assert conf.reserve_cpc() == Decimal("0.25") and conf.reserve_cpm() == Decimal("2.00")
    assert conf.slot_sizes()["listing"] == 0 and conf.slot_sizes()["product"] == 1
    assert not conf.slot_allowed("listing")
    bad = client.post("/admin/advertising/adssettings/", {"reserve_cpc": "-1", "reserve_cpm": "2.00"})
    assert bad.status_code == 400
    assert conf.reserve_cpc() == Decimal("0.25")
    # an analyst may not change them
    analyst = Client()
    analyst.force_login(RoleStaffFactory(role="analyst"))
    assert analyst.post("/admin/advertising/adssettings/", {"reserve_cpc": "9"}).status_code == 403


def test_disallowed_slot_serves_nothing(client):
    CampaignFactory()
    merchant = RoleStaffFactory(role="marketing")
    from advertising.services import merchant_settings_save

    assert client.get("/api/ads/serve/", {"slot": "listing"}).json()["ads"]
    merchant_settings_save(user=merchant, data={"allowed_slots": ["product"]})
    assert client.get("/api/ads/serve/", {"slot": "listing", "n": 2}).json()["ads"] == []


def test_admin_ad_for_a_product_needs_no_url_or_headline():
    advertiser = AdvertiserFactory()
    product = ProductFactory(title="jumbo lunch bag red")
    now = timezone.localtime()
    response = _marketing_client().post(
        "/admin/advertising/campaign/add/",
        {
            "advertiser": advertiser.pk,
            "name": "Bags by the merchant",
            "objective": "traffic",
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": now.strftime("%H:%M:%S"),
            "daily_budget": "10",
            "total_budget": "100",
            "bid_type": "cpc",
            "bid": "0.30",
            "attribution_days": "7",
            "view_attribution_days": "1",
            "retarget_days": "30",
            "genders": ["f", "m"],
            "ads-TOTAL_FORMS": "1",
            "ads-INITIAL_FORMS": "0",
            "ads-MIN_NUM_FORMS": "0",
            "ads-MAX_NUM_FORMS": "1000",
            "ads-0-product": product.pk,
            "ads-0-is_active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Bags by the merchant")
    assert campaign.review_status == "approved" and campaign.genders == ["f", "m"]
    ad = campaign.ads.get()
    assert (ad.landing_url, ad.headline) == (f"/products/{product.pk}/", "Jumbo Lunch Bag Red")


def test_admin_daily_reports_show_roas_and_cpa():
    campaign = CampaignFactory()
    DailyReport.objects.create(
        campaign=campaign,
        day=timezone.localdate(),
        impressions=10,
        clicks=2,
        spend=Decimal("4.00"),
        conversions=2,
        revenue=Decimal("20.00"),
    )
    html = _marketing_client().get("/admin/advertising/dailyreport/").content.decode()
    assert "5.00" in html and "£2.00" in html and "£20.00" in html
