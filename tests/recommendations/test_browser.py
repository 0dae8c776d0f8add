"""Widgets in a real browser (Debian chromium via Playwright) against the live server."""

from __future__ import annotations

import pytest
from django.conf import settings

from ecommerce.models import Event
from recommendations.models import SimilarProduct
from recommendations.services import recommenders_train
from tests.factories.recommendations import SimilarProductFactory, two_cluster_shop


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [
            {"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url},
            # the shopper accepted tracking: impressions and clicks are logged
            {"name": "tracking_consent", "value": "yes", "url": live_server.url},
        ]
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_widgets_home_product_and_click_in_browser(live_server, page, screenshot, client):
    customers, cluster_a, cluster_b = two_cluster_shop()
    recommenders_train()
    _login(page, live_server, client, customers[0])

    page.goto(live_server.url + "/")
    home = page.locator("[data-recommendation-slot=home]")
    home.wait_for()
    assert "Recommended for you" in home.inner_text()
    assert "Because you bought" in home.inner_text()
    screenshot(page, "recommendations-home")

    page.goto(live_server.url + cluster_a[0].get_absolute_url())
    page.locator("[data-recommendation-slot=product_similar]").wait_for()
    assert page.locator("[data-recommendation-slot=product_together]").count() == 1
    screenshot(page, "recommendations-product")

    first = page.locator("[data-recommendation-slot=product_similar] a.card-link").first
    first.click()
    page.wait_for_load_state()
    assert "/products/" in page.url
    click = Event.objects.get(type=Event.Type.RECOMMENDATION_CLICK)
    assert click.properties["slot"] == "product_similar"
    assert click.user_id == customers[0].pk
    assert Event.objects.filter(type=Event.Type.RECOMMENDATION_IMPRESSION, user=customers[0]).exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_js_embed_renders_recommendations_on_a_page_outside_django(live_server, page, screenshot):
    _, cluster_a, _ = two_cluster_shop(customers_per_cluster=2)
    html = (
        "<!doctype html><html><head><title>Our blog</title></head><body><h1>Gift ideas</h1>"
        '<div data-shop-recommendations data-k="4" data-title="From our shop"></div>'
        f'<script src="{live_server.url}/static/js/recommendations-embed.js"></script></body></html>'
    )
    page.route(live_server.url + "/blog-page/", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(live_server.url + "/blog-page/")
    cards = page.locator("[data-shop-recommendations] article.recommendation")
    cards.first.wait_for()
    assert cards.count() == 4
    assert "From our shop" in page.inner_text("body")
    href = cards.first.locator("a").get_attribute("href")
    assert href.startswith("/recommendations/click/") and "slot=embed" in href
    screenshot(page, "recommendations-embed")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_anonymous_session_views_update_home_widget_at_once(live_server, page, screenshot):
    _, cluster_a, cluster_b = two_cluster_shop(customers_per_cluster=2)
    viewed, neighbour = cluster_b[0], cluster_b[3]
    SimilarProductFactory(product=viewed, similar=neighbour, kind=SimilarProduct.Kind.SIMILAR, score=0.99, rank=0)
    page.context.add_cookies([{"name": "tracking_consent", "value": "yes", "url": live_server.url}])
    page.goto(live_server.url + viewed.get_absolute_url())
    page.goto(live_server.url + "/")
    home = page.locator("[data-recommendation-slot=home]")
    home.wait_for()
    first = home.locator("article").first
    assert first.get_attribute("data-product-id") == str(neighbour.pk)
    assert f"Because you viewed {viewed.title}" in first.inner_text()
    screenshot(page, "recommendations-anonymous-session")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_anonymous_without_consent_views_are_not_remembered(live_server, page):
    _, cluster_a, cluster_b = two_cluster_shop(customers_per_cluster=2)
    viewed, neighbour = cluster_b[0], cluster_b[3]
    SimilarProductFactory(product=viewed, similar=neighbour, kind=SimilarProduct.Kind.SIMILAR, score=0.99, rank=0)
    page.goto(live_server.url + viewed.get_absolute_url())
    page.goto(live_server.url + "/")
    first = page.locator("[data-recommendation-slot=home] article").first
    first.wait_for()
    assert "Because you viewed" not in first.inner_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_versions_and_preview_in_browser(live_server, page, screenshot, client, staff):
    customers, _, _ = two_cluster_shop()
    recommenders_train()
    _login(page, live_server, client, staff)
    page.goto(live_server.url + "/admin/recommendations/recommenderversion/")
    assert "recommendations.personalized" in page.inner_text("#result_list")
    assert page.get_by_role("button", name="Retrain now").count() == 1
    screenshot(page, "recommendations-admin-versions")
    page.get_by_role("link", name="Preview a customer").click()
    page.fill("#customer", str(customers[0].pk))
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    assert "Because you bought" in page.inner_text("#content")
    screenshot(page, "recommendations-admin-preview")
