"""A first visit served from the anonymous page cache works in a real browser: the consent form
posts with the visitor's own CSRF token, and the tracker then sends the widgets' impressions."""

from __future__ import annotations

import pytest

from ecommerce.models import Event
from tests.ecommerce.test_browser_tracker import FAST, _wait
from tests.factories import ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cached_first_visit_accepts_consent_and_reports_impressions(live_server, browser, screenshot):
    ProductFactory.create_batch(6, stock=10)
    warm = browser.new_context()
    warm.new_page().goto(live_server.url + "/")  # the first visitor fills the cache
    warm.close()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(FAST)
    page = context.new_page()
    try:
        response = page.goto(live_server.url + "/")
        assert response.headers.get("x-page-cache") == "hit"
        assert not any(c["name"] == "sessionid" for c in context.cookies())
        screenshot(page, "storefront-cached-first-visit")
        page.get_by_role("button", name="Accept tracking").click()
        page.wait_for_load_state()
        assert page.locator("#consent-banner").count() == 0  # CSRF accepted: the choice is stored
        assert any(c["name"] == "tracking_consent" and c["value"] == "yes" for c in context.cookies())
        page.locator("[data-recommendation-slot=home]").wait_for()
        shown = page.locator("[data-recommendation-slot=home] article").count()
        assert _wait(page, lambda: Event.objects.filter(type="recommendation_impression").count() == shown)
        positions = sorted(e.properties["position"] for e in Event.objects.filter(type="recommendation_impression"))
        assert positions == list(range(shown))
    finally:
        context.clear_cookies()
        context.close()


def test_the_tracker_remembers_viewed_products_in_a_cookie_only_with_consent(live_server, browser):
    product = ProductFactory(stock=5)
    context = browser.new_context()
    context.add_init_script(FAST)
    page = context.new_page()
    try:
        page.goto(live_server.url + product.get_absolute_url())
        assert not any(c["name"] == "recent_views" for c in context.cookies())
        context.add_cookies([{"name": "tracking_consent", "value": "yes", "url": live_server.url}])
        page.goto(live_server.url + product.get_absolute_url())
        assert {c["name"]: c["value"] for c in context.cookies()}.get("recent_views") == str(product.pk)
        page.goto(live_server.url + "/account/privacy/")
        page.get_by_role("button", name="Stop tracking").click()
        page.wait_for_load_state()
        assert not any(c["name"] == "recent_views" for c in context.cookies())
    finally:
        context.clear_cookies()
        context.close()
