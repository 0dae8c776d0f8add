"""Cart writes (ecommerce/services/cart.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from ecommerce.errors import DomainError, NotFound
from ecommerce.models import Cart, CartItem
from ecommerce.services import cart as cart_services
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_cart_get_or_create_for_user_and_for_session(user):
    assert cart_services.cart_get_or_create(user=user, session_key=None) == cart_services.cart_get_or_create(
        user=user, session_key="ignored"
    )
    session_cart = cart_services.cart_get_or_create(user=AnonymousUser(), session_key="sess-1")
    assert session_cart.user is None and session_cart.session_key == "sess-1"
    assert cart_services.cart_get_or_create(user=None, session_key="sess-1") == session_cart
    assert Cart.objects.count() == 2


def test_cart_needs_a_session_for_anonymous_shoppers():
    with pytest.raises(DomainError, match="session"):
        cart_services.cart_get_or_create(user=AnonymousUser(), session_key="")


def test_cart_add_accumulates_and_totals(user):
    cart = cart_services.cart_get_or_create(user=user, session_key=None)
    mug = ProductFactory(price=Decimal("3.50"), stock=10)
    cart_services.cart_add(cart=cart, product_id=mug.pk)
    line = cart_services.cart_add(cart=cart, product_id=mug.pk, quantity=2)
    assert line.quantity == 3
    assert cart.total() == Decimal("10.50")


def test_cart_set_quantity_zero_removes_the_line(user):
    cart = cart_services.cart_get_or_create(user=user, session_key=None)
    product = ProductFactory()
    cart_services.cart_set_quantity(cart=cart, product_id=product.pk, quantity=2)
    assert cart_services.cart_set_quantity(cart=cart, product_id=product.pk, quantity=0) is None
    assert not cart.items.exists()


@pytest.mark.parametrize("quantity", [-1, 100])
def test_cart_set_quantity_out_of_range_is_refused(user, quantity):
    cart = cart_services.cart_get_or_create(user=user, session_key=None)
    with pytest.raises(DomainError, match="between 0 and 99"):
        cart_services.cart_set_quantity(cart=cart, product_id=ProductFactory().pk, quantity=quantity)


def test_cart_refuses_more_than_in_stock(user):
    cart = cart_services.cart_get_or_create(user=user, session_key=None)
    product = ProductFactory(stock=2)
    with pytest.raises(DomainError, match="Only 2"):
        cart_services.cart_set_quantity(cart=cart, product_id=product.pk, quantity=3)
    assert not cart.items.exists()


@pytest.mark.parametrize("kind", ["fee", "inactive", "missing"])
def test_cart_refuses_what_is_not_for_sale(user, kind):
    cart = cart_services.cart_get_or_create(user=user, session_key=None)
    product_id = {
        "fee": lambda: ProductFactory(is_non_product=True).pk,
        "inactive": lambda: ProductFactory(is_active=False).pk,
        "missing": lambda: 999_999,
    }[kind]()
    with pytest.raises(NotFound, match="not for sale"):
        cart_services.cart_add(cart=cart, product_id=product_id)


def test_cart_merge_into_user_after_login(user):
    shared, only_anonymous = ProductFactory(stock=200), ProductFactory()
    user_cart = cart_services.cart_get_or_create(user=user, session_key=None)
    cart_services.cart_set_quantity(cart=user_cart, product_id=shared.pk, quantity=98)
    anonymous = cart_services.cart_get_or_create(user=None, session_key="before-login")
    cart_services.cart_set_quantity(cart=anonymous, product_id=shared.pk, quantity=5)
    cart_services.cart_set_quantity(cart=anonymous, product_id=only_anonymous.pk, quantity=2)
    # when
    merged = cart_services.cart_merge_into_user(session_key="before-login", user=user)
    # then
    assert merged.pk == user_cart.pk
    quantities = dict(merged.items.values_list("product_id", "quantity"))
    assert quantities == {shared.pk: 99, only_anonymous.pk: 2}  # capped at the per-line maximum
    assert not Cart.objects.filter(session_key="before-login").exists()
    assert CartItem.objects.count() == 2


def test_cart_merge_without_an_anonymous_cart_keeps_the_user_cart(user):
    cart = cart_services.cart_merge_into_user(session_key="", user=user)
    assert cart.user == user and Cart.objects.count() == 1
