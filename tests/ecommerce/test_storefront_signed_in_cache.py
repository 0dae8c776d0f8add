"""The signed-in page cache: one shared shell per page, every shopper's own parts filled per answer.

These run with `SHARED_CACHE` on (the settings turn it on with Redis; the tests' LocMem cache is one
process, which is what "shared" means here). Without a shared cache the pages render as before,
which the other storefront tests cover.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ecommerce.auth_backends import user_cache_key
from ecommerce.models import Cart, CartItem
from ecommerce.privacy import NO_TRACKING
from ecommerce.services.catalog import catalogue_changed
from ecommerce.services.orders import order_place_from_cart
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.factories.recommendations import UserRecommendationFactory

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture(autouse=True)
def _shared_cache(settings):
    settings.SHARED_CACHE = True
    settings.STOREFRONT_PAGE_CACHE_SECONDS = 300


@pytest.fixture
def shop():
    category = CategoryFactory(name="Bags", slug="bags")
    return category, [ProductFactory(category=category, title=f"Jute bag {i}", stock=20) for i in range(8)]


def _shopper(shop, name: str, *, cart_lines: int, pick: int, **extra):
    _, products = shop
    user = UserFactory(username=name, **extra)
    cart = Cart.objects.create(user=user)
    for product in products[:cart_lines]:
        CartItem.objects.create(cart=cart, product=product, quantity=2)
    UserRecommendationFactory(user=user, product=products[pick], rank=0, score=5.0, reason=f"Chosen for {name}")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    # Logging in drops the cached user row for TOMBSTONE_SECONDS; a returning shopper comes later.
    cache.delete(user_cache_key(user.pk))
    client.cookies["tracking_consent"] = "yes"
    return user, client


def _badge(html: str) -> int:
    return int(re.search(r"data-cart-count>(\d+)<", html).group(1))


def _token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_two_shoppers_get_their_own_header_cart_and_recommendations_from_one_shell(shop):
    alice, alice_client = _shopper(shop, "alice", cart_lines=1, pick=6, is_staff=True)
    bob, bob_client = _shopper(shop, "bob", cart_lines=3, pick=7)
    first = alice_client.get("/")
    assert first["X-Page-Cache"] == "shell-miss"
    page = bob_client.get("/")
    assert page["X-Page-Cache"] == "shell-hit"
    html = page.content.decode()
    assert "Signed in as bob" in html and _badge(html) == 6
    assert "Chosen for bob" in html and "Chosen for alice" not in html
    assert "alice" not in html and 'href="/admin/"' not in html  # nothing of the shopper who rendered it
    mine = alice_client.get("/").content.decode()
    assert "Signed in as alice" in mine and _badge(mine) == 2 and "Chosen for alice" in mine
    assert 'href="/admin/"' in mine  # her own staff link, not bob's page
    for url in ("/cart/", f"/products/{shop[1][0].pk}/", "/c/bags/", "/search/?q=bag"):
        alice_client.get(url)
        answer = bob_client.get(url)
        assert answer["X-Page-Cache"] == "shell-hit", url
        body = answer.content.decode()
        assert "alice" not in body and "Signed in as bob" in body and _badge(body) == 6, url
    cart = bob_client.get("/cart/").content.decode()
    assert cart.count("Jute bag") >= 3 and "Jute bag 7" not in cart.split("You may also like")[0]


def test_each_shopper_posts_with_their_own_csrf_token_from_a_cached_page(shop):
    _, alice_client = _shopper(shop, "alice", cart_lines=0, pick=6)
    _, bob_client = _shopper(shop, "bob", cart_lines=0, pick=7)
    url = f"/products/{shop[1][2].pk}/"
    alice_token = _token(alice_client.get(url).content.decode())
    page = bob_client.get(url)
    assert page["X-Page-Cache"] == "shell-hit"
    bob_token = _token(page.content.decode())
    assert "CSRFPLACEHOLDER" not in page.content.decode() and bob_token != alice_token
    add = {"product_id": shop[1][2].pk, "action": "add", "quantity": 1}
    assert bob_client.post("/cart/update/", {**add, "csrfmiddlewaretoken": bob_token}).status_code == 302
    stranger = Client(enforce_csrf_checks=True)
    stranger.force_login(UserFactory())
    stranger.get("/")  # has a CSRF cookie of its own
    assert stranger.post("/cart/update/", {**add, "csrfmiddlewaretoken": alice_token}).status_code == 403


def test_the_cart_shows_a_change_at_once_on_every_cached_page(shop, django_capture_on_commit_callbacks):
    user, client = _shopper(shop, "carol", cart_lines=1, pick=6)
    product = shop[1][4]
    url = f"/products/{product.pk}/"
    assert _badge(client.get(url).content.decode()) == 2
    assert "Jute bag 4" not in client.get("/cart/").content.decode().split("You may also like")[0]
    client.get(url)
    token = _token(client.get(url).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/cart/update/",
            {"product_id": product.pk, "action": "add", "quantity": 3, "csrfmiddlewaretoken": token},
        )
    client.get("/c/bags/")  # shows (and so spends) the "Added ..." message
    page = client.get(url)
    assert page["X-Page-Cache"] == "shell-hit" and _badge(page.content.decode()) == 5
    cart = client.get("/cart/")
    assert cart["X-Page-Cache"] == "shell-hit"
    assert 'value="3"' in cart.content.decode() and "Jute bag 4" in cart.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        order_place_from_cart(
            cart=Cart.objects.get(user=user),
            user=user,
            email="c@example.com",
            shipping_name="C",
            shipping_address="1 Road",
            tracking=NO_TRACKING,
        )
    assert _badge(client.get(url).content.decode()) == 0
    assert "Your cart is empty" in client.get("/cart/").content.decode()


def test_a_waiting_message_is_shown_once_then_the_shell_serves_again(shop):
    _, client = _shopper(shop, "dave", cart_lines=0, pick=6)
    url = f"/products/{shop[1][1].pk}/"
    client.get(url)
    token = _token(client.get(url).content.decode())
    answer = client.post(
        "/cart/update/", {"product_id": shop[1][1].pk, "action": "add", "quantity": 1, "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 302
    page = client.get(url)
    assert "Added Jute bag 1 to your cart." in page.content.decode()
    assert not page.has_header("X-Page-Cache")  # rendered for this shopper, never stored
    again = client.get(url)
    assert again["X-Page-Cache"] == "shell-hit" and "Added Jute bag" not in again.content.decode()


def test_consent_and_language_are_part_of_the_shell_key(shop):
    _, yes = _shopper(shop, "erin", cart_lines=0, pick=6)
    undecided = Client()
    undecided.force_login(UserFactory(username="frank"))
    yes.get("/c/bags/")
    page = undecided.get("/c/bags/")
    assert page["X-Page-Cache"] == "shell-miss" and "consent-banner" in page.content.decode()
    assert "consent-banner" not in yes.get("/c/bags/").content.decode()
    # a shell per language: a Chinese page is never one rendered in English
    assert undecided.get("/c/bags/", HTTP_ACCEPT_LANGUAGE="zh-hans")["X-Page-Cache"] == "shell-miss"
    assert undecided.get("/c/bags/", HTTP_ACCEPT_LANGUAGE="zh-hans")["X-Page-Cache"] == "shell-hit"


def test_a_signed_in_hit_reads_no_catalogue_and_writes_nothing(shop, settings, django_assert_max_num_queries):
    # with Redis (sessions and users cached): none; database sessions: the session and the user row
    budget = 0 if settings.SESSION_ENGINE == "ecommerce.sessions" and settings.AUTH_USER_CACHE_SECONDS else 2
    _, client = _shopper(shop, "gina", cart_lines=2, pick=6)
    client.cookies["recent_views"] = str(shop[1][3].pk)
    urls = ["/", "/c/bags/", "/search/?q=bag", f"/products/{shop[1][0].pk}/", "/cart/"]
    for url in urls:
        client.get(url)
    for url in urls:
        with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(budget):
            assert client.get(url)["X-Page-Cache"] == "shell-hit"
        assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
        assert not [q for q in queries.captured_queries if "ecommerce_product" in q["sql"]]


def test_a_catalogue_change_retires_the_shell(shop, django_capture_on_commit_callbacks):
    _, client = _shopper(shop, "hana", cart_lines=1, pick=6)
    product = shop[1][0]
    url = f"/products/{product.pk}/"
    client.get(url)
    assert client.get(url)["X-Page-Cache"] == "shell-hit"
    with django_capture_on_commit_callbacks(execute=True):
        product.price = "12.34"
        product.save()
        catalogue_changed()  # what the admin and the catalogue services call after a change
    page = client.get(url)
    assert page["X-Page-Cache"] == "shell-miss" and "12.34" in page.content.decode()
    assert "12.34" in client.get("/cart/").content.decode()  # the cached cart lines too


def test_without_a_shared_cache_signed_in_pages_render_as_before(shop, settings):
    settings.SHARED_CACHE = False
    _, client = _shopper(shop, "ivan", cart_lines=1, pick=6)
    client.get("/")
    page = client.get("/")
    assert not page.has_header("X-Page-Cache") and _badge(page.content.decode()) == 2


def test_when_the_cache_batch_fails_the_page_still_serves_its_shopper(shop, monkeypatch):
    import ecommerce.cache_batch

    _, client = _shopper(shop, "jane", cart_lines=1, pick=6)
    client.get("/")
    monkeypatch.setattr(ecommerce.cache_batch, "_fetch", lambda keys, counters: None)  # Redis did not answer
    page = client.get("/")
    assert page.status_code == 200 and "Signed in as jane" in page.content.decode()
    assert _badge(page.content.decode()) == 2
