"""The one consent rule, end to end: declined, Do-Not-Track and Global Privacy Control each leave
no row that names the shopper or their browser after a browse, a recommendation click and an
ad click (every table that can hold a user id, session key or anonymous id is checked)."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from advertising.models import Click, Impression
from ecommerce.models import Event
from recommendations.models import SimilarProduct
from tests.ecommerce.privacy_checks import linked_rows, links_in
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.factories.advertising import CampaignFactory
from tests.factories.recommendations import SimilarProductFactory

pytestmark = pytest.mark.django_db

REFUSALS = {
    "declined": ({}, "no"),
    "do-not-track": ({"DNT": "1"}, "yes"),
    "global-privacy-control": ({"Sec-GPC": "1"}, "yes"),
}


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    settings.ADS_PACING = False


@pytest.fixture
def shop():
    category = CategoryFactory(name="Lamps", slug="lamps")
    products = [ProductFactory(category=category, title=f"Desk lamp {i}", stock=9) for i in range(4)]
    SimilarProductFactory(product=products[0], similar=products[1], kind=SimilarProduct.Kind.SIMILAR)
    CampaignFactory(run_of_site=True)  # untargeted and run-of-site: shown on every page
    return category, products


def _browse(client: Client, category, products) -> int:
    """Home, a category, a product, a search, the ad API; then a recommendation and an ad click."""
    home = client.get("/")
    assert home.status_code == 200
    listing = client.get(f"/c/{category.slug}/")
    product_page = client.get(f"/products/{products[0].pk}/")
    assert client.get("/search/", {"q": "lamp"}).status_code == 200
    assert client.get("/api/ads/serve/", {"slot": "product", "product_id": products[0].pk}).status_code == 200
    assert client.get("/api/recommendations/me/").status_code == 200
    rec_links = links_in(home.content.decode() + product_page.content.decode(), "/recommendations/click/")
    ad_links = links_in(listing.content.decode() + product_page.content.decode(), "/ads/click/")
    assert rec_links and ad_links, "the page must still show recommendations and ads"
    assert client.get(rec_links[0]).status_code == 302
    assert client.get(ad_links[0]).status_code == 302
    beacon = {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "type": "product_view",
                "anonymous_id": "anon-refused",
                "occurred_at": timezone.now().isoformat(),
                "product_id": products[0].pk,
            }
        ]
    }
    return client.post("/api/events/", beacon, content_type="application/json").status_code


@pytest.mark.parametrize("refusal", list(REFUSALS))
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_without_consent_a_visit_stores_nothing_linked_to_the_shopper(shop, refusal, signed_in):
    # given
    headers, cookie = REFUSALS[refusal]
    shopper = UserFactory(birth_year=1990, gender="f", country="France")
    client = Client(headers=headers)
    client.cookies["tracking_consent"] = cookie
    if signed_in:
        client.force_login(shopper)
    sessions_before = Session.objects.count()
    # when
    beacon_status = _browse(client, *shop)
    # then: nothing names the shopper or the browser, in any table
    assert linked_rows(user_ids=[shopper.pk]) == {}
    assert beacon_status == 403
    assert not Event.objects.exists()
    assert Session.objects.count() == sessions_before  # no session made just to follow the browser
    # ads were still served and billed, anonymously and without demographics
    assert Impression.objects.exists() and Click.objects.exists()
    for features in Impression.objects.values_list("features", flat=True):
        assert not any(features.get(k) for k in ("age_band", "gender", "country", "segment"))


def test_with_consent_the_same_visit_is_logged_under_the_shopper(shop):
    # given: the control case, so the test above cannot pass because nothing is ever logged
    shopper = UserFactory()
    client = Client()
    client.cookies["tracking_consent"] = "yes"
    client.force_login(shopper)
    # when
    category, products = shop
    client.get("/")
    product_page = client.get(f"/products/{products[0].pk}/").content.decode()
    client.get(links_in(product_page, "/recommendations/click/")[0])
    client.get(links_in(product_page, "/ads/click/")[0])
    # then
    types = set(Event.objects.filter(user=shopper).values_list("type", flat=True))
    assert {"recommendation_impression", "recommendation_click", "ad_click"} <= types
    assert Impression.objects.filter(user=shopper).exists()
    assert Click.objects.filter(user=shopper).exists()
