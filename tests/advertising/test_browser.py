"""Staff creates a campaign in the admin; it serves on the storefront; a click redirects to the
landing URL; the report (after the rollup) shows the click."""

from decimal import Decimal

import pytest

from advertising.models import Campaign, Click, Impression
from advertising.services import impressions_flush
from tests.factories import CategoryFactory, ProductFactory, StaffFactory
from tests.factories.advertising import AdFactory, CampaignFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_campaign_created_in_admin_serves_clicks_and_reports(live_server, page, screenshot, settings):
    settings.ADS_PACING = False  # the test may run at any time of day
    # given a catalogue and a staff member
    category = CategoryFactory(name="Kitchen", slug="kitchen")
    promoted = ProductFactory(title="regency cakestand 3 tier", category=category, price=Decimal("12.75"), stock=20)
    tins = ProductFactory(title="set of 3 cake tins", category=category, stock=5)
    StaffFactory(username="boss", password="correct-horse-battery")
    url = live_server.url
    landing = f"{url}/products/{promoted.pk}/"
    # when staff logs in and fills the campaign form with one ad
    page.goto(url + "/admin/login/?next=/admin/advertising/campaign/add/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.goto(url + "/admin/advertiser/add/".replace("advertiser/", "advertising/advertiser/"))
    page.fill("#id_name", "Cake Co")
    page.click("input[name=_save]")
    page.goto(url + "/admin/advertising/campaign/add/")
    page.select_option("#id_advertiser", label="Cake Co")
    page.fill("#id_name", "Cake stands spring")
    page.fill("#id_daily_budget", "20")
    page.fill("#id_total_budget", "200")
    page.select_option("#id_bid_type", "cpc")
    page.fill("#id_bid", "0.80")
    page.fill("#id_ads-0-headline", "The cake stand everyone wants")
    page.fill("#id_ads-0-product", str(promoted.pk))
    page.fill("#id_ads-0-landing_url", landing)
    page.click("input[name=_continue]")
    assert page.locator(".errornote").count() == 0, page.content()[:3000]
    screenshot(page, "advertising-admin-campaign-saved")
    campaign = Campaign.objects.get(name="Cake stands spring")
    assert "registered shoppers match" in page.content()
    # and activates it with the admin action
    page.goto(url + "/admin/advertising/campaign/")
    page.check(f"input[name=_selected_action][value='{campaign.pk}']")
    page.select_option("select[name=action]", "make_active")
    page.click("button[name=index]")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    # then it serves, marked Sponsored, on the storefront category page (the page's script
    # fills the empty slot from the ads API)
    page.goto(f"{url}/c/kitchen/")
    slot = page.locator("[data-ad-slot=listing]")
    assert slot.count() == 1
    slot.locator("a.ad-card").first.wait_for()
    assert "sponsored" in slot.inner_text().lower() and "The cake stand everyone wants" in slot.inner_text()
    screenshot(page, "advertising-category-sponsored")
    # a click through the signed URL lands on the ad's landing URL
    slot.locator("a.ad-card").first.click()
    page.wait_for_url(landing)
    assert Click.objects.filter(campaign=campaign).count() == 1
    # and on another product's page the slot serves as well (never on the promoted product's own)
    page.goto(f"{url}/products/{tins.pk}/")
    page.locator("[data-ad-slot=product][data-ad-filled]").wait_for(state="attached")
    assert page.locator("[data-ad-slot=product] .ad-sponsored").count() == 1
    screenshot(page, "advertising-product-sponsored")
    page.goto(f"{url}/products/{promoted.pk}/")
    page.locator("[data-ad-slot=product][data-ad-filled]").wait_for(state="attached")
    assert page.locator("[data-ad-slot=product] .ad-sponsored").count() == 0
    # the report after the rollup shows the click
    page.goto(f"{url}/admin/advertising/campaign/{campaign.pk}/report/")
    page.click("button[name=refresh]")
    assert page.locator("#total-clicks").inner_text() == "1"
    screenshot(page, "advertising-admin-report")


def test_product_page_ad_is_filled_by_the_script_and_a_click_is_recorded(live_server, page, screenshot, settings):
    settings.ADS_PACING = False
    # given a product page and a CPM campaign for another product of the same category
    category = CategoryFactory(name="Bags", slug="bags")
    viewed = ProductFactory(title="jumbo bag red retrospot", category=category, stock=10)
    promoted = ProductFactory(title="lunch bag woodland", category=category, price=Decimal("1.65"), stock=10)
    campaign = CampaignFactory(bid_type=Campaign.BidType.CPM, bid=Decimal("5.00"), with_ad=False)
    AdFactory(
        campaign=campaign, product=promoted, headline="Lunch bag woodland", landing_url=f"/products/{promoted.pk}/"
    )
    # when a shopper opens the product page
    response = page.goto(f"{live_server.url}/products/{viewed.pk}/")
    assert response.status == 200
    card = page.locator("[data-ad-slot=product] a.ad-card")
    card.wait_for()
    # then the card says Sponsored, with the title and the price in the shop's currency
    text = card.inner_text()
    assert "SPONSORED" in text.upper() and "Lunch bag woodland" in text and "£1.65" in text
    assert card.get_attribute("rel") == "sponsored nofollow"
    assert not Impression.objects.exists()  # buffered, not written by the page or the API
    screenshot(page, "advertising-product-card-filled-by-script")
    # and a click lands on the promoted product's page and is recorded; the flush settles the CPM
    card.click()
    page.wait_for_url(f"{live_server.url}/products/{promoted.pk}/")
    impressions_flush()
    click = Click.objects.get(campaign=campaign)
    assert click.impression.uid is not None and click.impression.settled
    campaign.refresh_from_db()
    assert campaign.spend_total == click.impression.price / 1000
