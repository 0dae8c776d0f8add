"""Storefront speed rules held by tests: query budgets, no render-time writes, the anonymous page cache.

Budgets are the counts measured when they were set (docs/benchmarks/storefront.md): a change that
adds a query per item (an N+1) or a write while rendering fails here, not in production. Raise a
budget only with a reason in the commit message.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from ecommerce.models import Cart, CartItem, Event
from ecommerce.services.catalog import catalogue_generation_bump
from ecommerce.storefront.pagecache import CSRF_PLACEHOLDER, anonymous_page_cache
from recommendations.models import SimilarProduct
from tests.factories import CategoryFactory, OrderItemFactory, ProductFactory, UserFactory
from tests.factories.recommendations import SimilarProductFactory

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def shop():
    parent = CategoryFactory(name="Home", slug="home-goods")
    category = CategoryFactory(name="Bags", slug="bags", parent=parent)
    products = [ProductFactory(category=category, title=f"Jute bag {i}", stock=20) for i in range(12)]
    for other in products[1:7]:
        SimilarProductFactory(product=products[0], similar=other, kind=SimilarProduct.Kind.SIMILAR)
        SimilarProductFactory(product=products[0], similar=other, kind=SimilarProduct.Kind.BOUGHT_TOGETHER)
    return category, products


@pytest.fixture
def shopper(shop):
    _, products = shop
    user = UserFactory()
    for product in products[:5]:
        OrderItemFactory(order__user=user, product=product)
    cart = Cart.objects.create(user=user)
    for product in products[5:9]:
        CartItem.objects.create(cart=cart, product=product, quantity=1)
    return user


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


def _pages(shop) -> list[str]:
    category, products = shop
    return ["/", f"/c/{category.slug}/", "/search/?q=bag", f"/products/{products[0].pk}/", "/cart/"]


# --- query budgets: pages ---------------------------------------------------------------------

# path index in _pages -> (first visit, signed-in); measured with the fixture above
# (the category, search and product pages still include the server-side ad slot's queries)
PAGE_BUDGETS = {0: (10, 5), 1: (8, 9), 2: (4, 5), 3: (10, 5), 4: (5, 6)}
# Signed-in renders with Redis sessions and the cached cart summary: two queries fewer than the
# figures above (database sessions, summary read from SQL).
SHARED_CACHE_SAVES = 2


@pytest.mark.parametrize("index", sorted(PAGE_BUDGETS))
def test_page_query_budget_first_visit(shop, index, settings, django_assert_max_num_queries):
    settings.STOREFRONT_PAGE_CACHE_SECONDS = 0  # the render itself, not a cache hit
    url = _pages(shop)[index]
    with django_assert_max_num_queries(PAGE_BUDGETS[index][0]):
        assert Client().get(url).status_code == 200


@pytest.mark.parametrize("index", sorted(PAGE_BUDGETS))
def test_page_query_budget_signed_in(shop, shopper, index, settings, django_assert_max_num_queries):
    # The full render (a cache miss); a signed-in hit is 0-2 queries (test_storefront_signed_in_cache.py).
    settings.STOREFRONT_PAGE_CACHE_SECONDS = 0
    client = Client()
    client.force_login(shopper)
    client.cookies["tracking_consent"] = "yes"
    url = _pages(shop)[index]
    client.get(url)  # warm the per-process caches (rules, popularity) as a running server has them
    budget = PAGE_BUDGETS[index][1] - (SHARED_CACHE_SAVES if settings.SHARED_CACHE else 0)
    with django_assert_max_num_queries(budget):
        assert client.get(url).status_code == 200


# --- query budgets: APIs (cold caches: the selectors' own cost, not a cached answer) ----------

API_BUDGETS = {
    "/api/products/{p}/": (False, 1),
    "/api/products/": (False, 2),
    "/api/recommendations/me/?k=10": (False, 7),
    "/api/recommendations/me/?k=10 ": (True, 12),  # signed in (the space keeps the key unique)
    "/api/products/{p}/similar/": (False, 10),
    "/api/products/{p}/bought-together/": (False, 10),
}


@pytest.mark.parametrize("url", sorted(API_BUDGETS))
def test_api_query_budget(shop, shopper, url, django_assert_max_num_queries):
    from django.core.cache import cache

    signed_in, budget = API_BUDGETS[url]
    client = APIClient()
    if signed_in:
        client.force_login(shopper)
    target = url.strip().format(p=shop[1][0].pk)
    client.get(target)
    cache.clear()
    with django_assert_max_num_queries(budget):
        assert client.get(target).status_code == 200


def test_event_ingestion_query_budget_does_not_grow_with_the_batch(shop, shopper, django_assert_max_num_queries):
    _, products = shop
    client = APIClient()
    client.force_login(shopper)
    client.cookies["tracking_consent"] = "yes"
    batch = [
        {
            "id": str(uuid.uuid4()),
            "type": "recommendation_impression",
            "occurred_at": timezone.now().isoformat(),
            "product_id": products[i % len(products)].pk,
            "properties": {"slot": "home", "position": i},
        }
        for i in range(40)
    ]
    with django_assert_max_num_queries(6):
        response = client.post("/api/events/", {"events": batch}, format="json")
    assert response.status_code == 200 and response.json()["accepted"] == 40


def test_cart_add_query_budget(shop, shopper, django_assert_max_num_queries):
    _, products = shop
    client = Client()
    client.force_login(shopper)
    with django_assert_max_num_queries(13):
        response = client.post("/cart/update/", {"product_id": products[10].pk, "action": "add", "quantity": 1})
    assert response.status_code == 302


# --- no writes and no session while rendering --------------------------------------------------


@pytest.mark.parametrize("index", [0, 4])  # pages without the (server-side) ad slot
@pytest.mark.parametrize("consent", ["", "yes"])
def test_a_first_visit_writes_nothing_and_makes_no_session(shop, index, consent):
    client = Client()
    if consent:
        client.cookies["tracking_consent"] = consent
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_pages(shop)[index])
    assert response.status_code == 200
    assert _writes(queries.captured_queries) == []
    assert "sessionid" not in response.cookies and not Session.objects.exists()
    assert "csrftoken" in response.cookies  # the forms and the tracker still get their token


def test_a_signed_in_product_page_writes_nothing(shop, shopper):
    client = Client()
    client.force_login(shopper)
    client.cookies["tracking_consent"] = "yes"
    client.cookies["recent_views"] = str(shop[1][3].pk)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
        assert client.get("/cart/").status_code == 200
    assert _writes(queries.captured_queries) == []
    assert not Event.objects.exists()


# --- the anonymous page cache ------------------------------------------------------------------


def test_anonymous_pages_come_from_the_cache_with_a_working_csrf_token(shop, django_assert_num_queries):
    first = Client(enforce_csrf_checks=True).get("/")
    assert first["X-Page-Cache"] == "miss"
    visitor = Client(enforce_csrf_checks=True)
    with django_assert_num_queries(0):
        page = visitor.get("/")
    assert page["X-Page-Cache"] == "hit"
    body = page.content.decode()
    assert CSRF_PLACEHOLDER not in body
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    # the cached page's consent form posts with this visitor's own token
    answer = visitor.post("/privacy/consent/", {"choice": "no", "csrfmiddlewaretoken": token})
    assert answer.status_code == 302
    # and a token from another visitor's copy of the page is refused
    stranger = Client(enforce_csrf_checks=True)
    stranger.get("/")
    assert stranger.post("/privacy/consent/", {"choice": "no", "csrfmiddlewaretoken": "x" * 64}).status_code == 403


def test_signed_in_and_cookie_carrying_visitors_never_get_the_anonymous_page(shop, shopper):
    Client().get("/")
    signed_in = Client()
    signed_in.force_login(shopper)
    page = signed_in.get("/")
    # their own render, or the signed-in shell with their own parts (test_storefront_signed_in_cache.py)
    assert page.get("X-Page-Cache", "") not in ("hit", "miss")
    assert f"Signed in as {shopper.username}" in page.content.decode()
    viewer = Client()
    viewer.cookies["recent_views"] = "1"
    assert not viewer.get("/").has_header("X-Page-Cache")


def test_the_consent_state_is_part_of_the_key(shop):
    assert "consent-banner" in Client().get("/").content.decode()
    declined = Client()
    declined.cookies["tracking_consent"] = "no"
    assert "consent-banner" not in declined.get("/").content.decode()
    assert "consent-banner" in Client().get("/").content.decode()


def test_a_catalogue_change_retires_cached_pages(shop, django_capture_on_commit_callbacks):
    _, products = shop
    url = f"/products/{products[0].pk}/"
    Client().get(url)
    assert Client().get(url)["X-Page-Cache"] == "hit"
    products[0].title = "Jute bag deluxe"
    products[0].save()
    catalogue_generation_bump()
    page = Client().get(url)
    assert page["X-Page-Cache"] == "miss" and "Jute bag deluxe" in page.content.decode()


def test_placing_an_order_retires_cached_pages(shop, shopper, django_capture_on_commit_callbacks):
    from ecommerce.privacy import NO_TRACKING
    from ecommerce.services.orders import order_place_from_cart

    Client().get("/")
    with django_capture_on_commit_callbacks(execute=True):
        order_place_from_cart(
            cart=Cart.objects.get(user=shopper),
            user=shopper,
            email="a@example.com",
            shipping_name="A",
            shipping_address="1 Road",
            country="France",
            tracking=NO_TRACKING,
        )
    assert Client().get("/")["X-Page-Cache"] == "miss"  # stock counts moved


def test_a_render_that_writes_is_never_cached(rf, settings):
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpResponse

    settings.STOREFRONT_PAGE_CACHE_SECONDS = 60
    calls = []

    @anonymous_page_cache
    def writes_per_render(request):
        calls.append(1)
        CategoryFactory()
        return HttpResponse("<p>page</p>")

    for _ in range(2):
        request = rf.get("/writes/")
        request.session = SessionStore()
        assert writes_per_render(request).status_code == 200
    assert len(calls) == 2  # rendered both times: a hit would have skipped the write
