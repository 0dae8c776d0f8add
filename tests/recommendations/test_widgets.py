"""Widgets: template tags render items, log impressions, link through the click redirect."""

from __future__ import annotations

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


def test_home_widget_renders_and_logs_one_impression_per_item():
    products = ProductFactory.create_batch(3)
    request = _consenting_request()
    html = render_to_string("recommendations/_home.html", {"request": request, "user": request.user})
    assert "Recommended for you" in html
    for product in products:
        assert f"/recommendations/click/{product.pk}/?slot=home" in html
    impressions = Event.objects.filter(type=Event.Type.RECOMMENDATION_IMPRESSION)
    assert impressions.count() == 3
    assert {e.properties["slot"] for e in impressions} == {"home"}
    assert {e.session_key for e in impressions} == {request.session.session_key}


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


def test_product_widget_remembers_view_only_with_consent():
    from recommendations.selectors import SESSION_VIEWS_KEY

    product = ProductFactory()
    request = _request()
    render_to_string("recommendations/_product.html", {"request": request, "user": request.user, "product": product})
    assert SESSION_VIEWS_KEY not in request.session
    request.COOKIES["tracking_consent"] = "yes"
    render_to_string("recommendations/_product.html", {"request": request, "user": request.user, "product": product})
    assert request.session[SESSION_VIEWS_KEY] == [product.pk]


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
