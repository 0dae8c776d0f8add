import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from analytics.rollups import rollups_refresh_pending
from analytics.segmentation import segments_refresh
from tests.factories.analytics import build_demo_shop


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_renders_every_panel_in_a_browser(live_server, page, screenshot, staff, settings):
    # The live server shares one in-memory SQLite connection between its request threads:
    # concurrent API calls from the page can deadlock it, so the page fetches one at a time.
    settings.ANALYTICS_DASHBOARD_PARALLEL = 1
    # given a demo-like shop, rolled up and segmented, and a logged-in staff member
    build_demo_shop(shoppers=40)
    rollups_refresh_pending()
    segments_refresh()
    client = Client()
    client.force_login(staff)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # when the dashboard opens (its default range ends on the latest day with data)
    page.goto(f"{live_server.url}/analytics/dashboard/")
    page.wait_for_selector("#analytics-dashboard[data-loaded='1']", timeout=30000)

    # then
    screenshot(page, "analytics_dashboard")
    assert errors == []
    assert page.locator("#an-kpis .an-card").count() == 9
    gmv_card = page.locator("#an-kpis .an-card", has_text="GMV")
    assert "£" in gmv_card.inner_text()
    assert page.locator("#an-retention table tbody tr").count() >= 1
    assert page.locator("#an-top-products table tbody tr").count() >= 1
    zero = page.locator("#an-top-zero").inner_text()
    assert "unicorn" in zero and "kitchen" not in zero  # "kitchen" matches products
    assert page.locator("#an-clusters table tbody tr").count() >= 2
    assert page.locator(".an-error").count() == 1 and page.locator("#an-trend-error").inner_text() == ""
    assert page.evaluate("Object.keys(Chart.instances).length") >= 6
    assert "Figures last refreshed" in page.locator("#an-refreshed").inner_text()
    assert "GMV ÷ orders" in page.locator("#an-definitions").text_content()
    # the funnel's steps are picked from the event types, not typed: drop steps 3 and 4
    assert "checkout_start" in page.locator("#an-funnel-table").inner_text()
    steps = page.locator("#an-funnel-steps .an-funnel-step")
    assert steps.count() == 6
    with page.expect_response(lambda r: "/api/analytics/funnel/" in r.url):
        steps.nth(3).select_option("")
    with page.expect_response(lambda r: "/api/analytics/funnel/" in r.url):
        steps.nth(2).select_option("")
    # A locator assertion, not page.wait_for_function: the page's CSP has no 'unsafe-eval', and
    # wait_for_function's string predicate is eval'd in the page whenever it has to poll.
    expect(page.locator("#an-funnel-table")).not_to_contain_text("checkout_start")
    assert "add_to_cart" in page.locator("#an-funnel-table").inner_text()
    screenshot(page, "analytics_dashboard_two_step_funnel")

    # and the admin index links to it
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Dashboard").first.click()
    page.wait_for_selector("#analytics-dashboard[data-loaded='1']", timeout=30000)
