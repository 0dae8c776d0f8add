"""Widgets: template tags render items, log impressions, link through the click redirect."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.template.loader import render_to_string
from django.test import RequestFactory

from ecommerce.models import Event
from recommendations.models import SimilarProduct
from tests.factories import OrderItemFactory, ProductFactory
from tests.factories.recommendations import SimilarProductFactory

pytestmark = pytest.mark.django_db


def _request(user=None):
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    request.session = SessionStore()
    request.session.create()
    return request


def _consenting_request(user=None):
    request = _request(user)
    request.COOKIES["tracking_consent"] = "yes"
    return request


def test_home_widget_renders_items_for_the_tracker_and_writes_nothing(django_assert_num_queries):
    products = ProductFactory.create_batch(3)
    request = _consenting_request()
    html = render_to_string("recommendations/_home.html", {"request": request, "user": request.user})
    assert "Recommended for you" in html
    for product in products:
        assert f"/recommendations/click/{product.pk}/?slot=home" in html
    # what static/js/tracker.js turns into one recommendation_impression per item
    shown = re.findall(r'data-product-id="(\d+)" data-position="(\d+)"', html)
    assert sorted(int(p) for p, _ in shown) == sorted(p.pk for p in products)
    assert [int(pos) for _, pos in shown] == [0, 1, 2]
    assert 'data-recommendation-slot="home"' in html
    assert not Event.objects.exists()  # impressions come from the browser, not the render


def test_product_widgets_are_cached_per_product_until_a_generation_bump(django_assert_num_queries):
    from ecommerce.services.catalog import catalogue_generation_bump
    from recommendations.selectors import recommendations_generation_bump

    product, near = ProductFactory.create_batch(2)
    SimilarProductFactory(product=product, similar=near, kind=SimilarProduct.Kind.SIMILAR)
    context = {"request": _request(), "user": AnonymousUser(), "product": product}
    first = render_to_string("recommendations/_product.html", context)
    with django_assert_num_queries(0):  # both widgets from the cache
        assert render_to_string("recommendations/_product.html", context) == first
    near.title = "Renamed lamp"
    near.save()
    catalogue_generation_bump()
    assert "Renamed lamp" in render_to_string("recommendations/_product.html", context)
    SimilarProduct.objects.all().delete()
    recommendations_generation_bump()
    assert f"/recommendations/click/{near.pk}/?slot=product_similar" not in render_to_string(
        "recommendations/_product.html", context
    )


def test_product_widget_shows_similar_and_bought_together():
    product, near, together = ProductFactory.create_batch(3)
    SimilarProductFactory(product=product, similar=near, kind=SimilarProduct.Kind.SIMILAR)
    SimilarProductFactory(product=product, similar=together, kind=SimilarProduct.Kind.BOUGHT_TOGETHER)
    request = _request()
    html = render_to_string(
        "recommendations/_product.html", {"request": request, "user": request.user, "product": product}
    )
    assert "Similar products" in html and "Customers also bought" in html
    assert f"/recommendations/click/{near.pk}/?slot=product_similar" in html
    assert f"/recommendations/click/{together.pk}/?slot=product_together" in html


def test_account_widget_buy_it_again_only_for_logged_in(user):
    bought = ProductFactory(title="Jam jar")
    OrderItemFactory(order__user=user, product=bought)
    html = render_to_string("recommendations/_account.html", {"request": _request(user), "user": user})
    assert "Buy it again" in html and "Jam jar" in html
    anonymous = _request()
    assert "Buy it again" not in render_to_string(
        "recommendations/_account.html", {"request": anonymous, "user": anonymous.user}
    )


def test_widget_titles_are_escaped():
    ProductFactory(title="<script>alert(1)</script>")
    request = _request()
    html = render_to_string("recommendations/_home.html", {"request": request, "user": request.user})
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_empty_catalog_renders_nothing():
    request = _request()
    assert "recommendations" not in render_to_string(
        "recommendations/_home.html", {"request": request, "user": request.user}
    )


def test_cart_widget_leaves_out_what_is_in_the_cart():
    from ecommerce.models import Cart, CartItem

    in_cart, other = ProductFactory.create_batch(2)
    cart = Cart.objects.create(session_key="cart-session")
    CartItem.objects.create(cart=cart, product=in_cart, quantity=1)
    request = _request()
    html = render_to_string("recommendations/_cart.html", {"request": request, "user": request.user, "cart": cart})
    assert f"/recommendations/click/{other.pk}/" in html
    assert f"/recommendations/click/{in_cart.pk}/" not in html


def test_home_widget_follows_the_trackers_recent_views_cookie_only_with_consent():
    viewed, neighbour, *_ = ProductFactory.create_batch(5)
    SimilarProductFactory(product=viewed, similar=neighbour, kind=SimilarProduct.Kind.SIMILAR, score=0.99)
    request = _request()
    request.COOKIES["recent_views"] = f"{viewed.pk}.x.9999999999999"
    html = render_to_string("recommendations/_home.html", {"request": request, "user": request.user})
    assert f"Because you viewed {viewed.title}" not in html  # no consent: the cookie is ignored
    request.COOKIES["tracking_consent"] = "yes"
    html = render_to_string("recommendations/_home.html", {"request": request, "user": request.user})
    assert f"Because you viewed {viewed.title}" in html
    assert dict(request.session.items()) == {}  # nothing stored on the server


@pytest.mark.parametrize("headers", [{}, {"DNT": "1"}, {"Sec-GPC": "1"}])
def test_widget_without_consent_renders_but_logs_nothing(headers, user):
    # given: declined, or accepted but Do-Not-Track / Global Privacy Control
    products = ProductFactory.create_batch(3)
    request = RequestFactory().get("/", headers=headers)
    request.user = user
    request.session = SessionStore()
    request.session.create()
    request.COOKIES["tracking_consent"] = "no" if not headers else "yes"
    # when
    html = render_to_string("recommendations/_home.html", {"request": request, "user": user})
    # then: the widget still works, the event log stays empty
    assert all(f"/recommendations/click/{p.pk}/" in html for p in products)
    assert not Event.objects.exists()
