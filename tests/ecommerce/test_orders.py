"""Order lifecycle (ecommerce/services/orders.py): transitions, ownership, guests, checkout."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from ecommerce.errors import DomainError, InvalidTransition, NotFound
from ecommerce.models import Cart, CartItem, Event, Order
from ecommerce.privacy import NO_TRACKING, Tracking
from ecommerce.services import orders as order_services
from ecommerce.services.events import event_id_for
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

STATUSES = [s.value for s in Order.Status]
LEGAL = {
    ("pending", "paid"),
    ("pending", "cancelled"),
    ("paid", "shipped"),
    ("paid", "cancelled"),
    ("shipped", "delivered"),
    ("shipped", "returned"),
    ("delivered", "returned"),
}
NOT_FOUND_MESSAGE = "No order with that number was found for you."


@pytest.mark.parametrize("to_status", STATUSES)
@pytest.mark.parametrize("from_status", STATUSES)
def test_order_transition_allows_exactly_the_lifecycle(from_status, to_status):
    order = OrderFactory(status=from_status)
    if (from_status, to_status) in LEGAL:
        moved = order_services.order_transition(order=order, to_status=to_status)
        assert moved.status == to_status
        order.refresh_from_db()
        assert order.status == to_status
    else:
        with pytest.raises(InvalidTransition):
            order_services.order_transition(order=order, to_status=to_status)
        order.refresh_from_db()
        assert order.status == from_status


def test_order_transition_to_shipped_stamps_time_and_tracking_number():
    order = order_services.order_transition(order=OrderFactory(status="paid"), to_status="shipped")
    assert order.shipped_at is not None and order.tracking_number.startswith("TRK")
    delivered = order_services.order_transition(order=order, to_status="delivered")
    assert delivered.delivered_at is not None


def test_order_cancel_restocks_positive_lines(user):
    product = ProductFactory(stock=5)
    order = OrderFactory(user=user, status="paid")
    OrderItemFactory(order=order, product=product, quantity=3, line_number=1)
    OrderItemFactory(order=order, product=product, quantity=-1, line_number=2)  # an imported return line
    # when
    cancelled = order_services.order_cancel(number=order.number, actor=user)
    # then
    assert cancelled.status == Order.Status.CANCELLED
    product.refresh_from_db()
    assert product.stock == 8


def test_order_return_restocks_when_the_items_are_received(user, staff):
    product = ProductFactory(stock=1)
    order = OrderFactory(user=user, status="delivered", delivered_at=timezone.now() - timedelta(days=2))
    OrderItemFactory(order=order, product=product, quantity=2, line_number=1)
    request = order_services.order_request_return(number=order.number, actor=user)
    product.refresh_from_db()
    assert product.stock == 1  # a request alone puts nothing back on the shelf
    order_services.return_request_approve(return_id=request.pk, actor=staff)
    order_services.return_request_receive(return_id=request.pk, actor=staff)
    product.refresh_from_db()
    assert product.stock == 3


def test_order_cancel_of_a_shipped_order_is_refused(user):
    order = OrderFactory(user=user, status="shipped")
    with pytest.raises(InvalidTransition, match="can no longer be cancelled"):
        order_services.order_cancel(number=order.number, actor=user)


def test_shopper_cannot_see_or_act_on_another_shoppers_order(user, other_user):
    order = OrderFactory(user=other_user, status="paid")
    for action in (
        lambda: order_services.order_get_for_actor(number=order.number, actor=user),
        lambda: order_services.order_cancel(number=order.number, actor=user),
        lambda: order_services.order_change_address(number=order.number, actor=user, address="2 Road"),
        lambda: order_services.order_request_return(number=order.number, actor=user),
    ):
        with pytest.raises(NotFound) as foreign:
            action()
        # the same answer as for an order that does not exist: nothing is revealed
        assert str(foreign.value) == NOT_FOUND_MESSAGE
    with pytest.raises(NotFound) as missing:
        order_services.order_get_for_actor(number="NOPE123", actor=user)
    assert str(missing.value) == NOT_FOUND_MESSAGE
    order.refresh_from_db()
    assert order.status == "paid" and order.shipping_address == "1 High Street, London"


def test_superuser_may_act_on_any_order(staff, other_user):
    order = OrderFactory(user=other_user, status="paid")
    assert order_services.order_cancel(number=order.number, actor=staff).status == "cancelled"


@pytest.mark.parametrize("role", [None, "analyst", "catalog_manager", "marketing"])
def test_staff_without_an_order_role_cannot_read_or_cancel_others_orders(staff_in_role, other_user, role):
    # given a customer's paid order and an employee whose role has nothing to do with orders
    order = OrderFactory(user=other_user, status="paid")
    employee = staff_in_role(role)
    # when / then: the order does not exist for them, and it stays paid
    with pytest.raises(NotFound, match=NOT_FOUND_MESSAGE):
        order_services.order_get_for_actor(number=order.number, actor=employee)
    with pytest.raises(NotFound, match=NOT_FOUND_MESSAGE):
        order_services.order_cancel(number=order.number, actor=employee)
    order.refresh_from_db()
    assert order.status == "paid"


def test_support_agent_reads_but_cannot_cancel_others_orders(staff_in_role, other_user):
    order = OrderFactory(user=other_user, status="paid")
    agent = staff_in_role("support_agent")
    assert order_services.order_get_for_actor(number=order.number, actor=agent).pk == order.pk
    with pytest.raises(NotFound):
        order_services.order_cancel(number=order.number, actor=agent)
    with pytest.raises(NotFound):
        order_services.order_change_address(number=order.number, actor=agent, address="Elsewhere 1")


def test_order_manager_may_read_and_cancel_any_order(staff_in_role, other_user):
    order = OrderFactory(user=other_user, status="paid")
    manager = staff_in_role("order_manager")
    assert order_services.order_get_for_actor(number=order.number, actor=manager).pk == order.pk
    assert order_services.order_cancel(number=order.number, actor=manager).status == "cancelled"


def test_order_api_refuses_an_advertiser_and_staff_without_role(client, staff_in_role, other_user):
    # the report: a staff advertiser read and cancelled a customer's paid order over the API
    from advertising.models import Advertiser

    order = OrderFactory(user=other_user, status="paid")
    advertiser = UserFactory()
    Advertiser.objects.create(name="Acme Ads").users.add(advertiser)
    for actor in (advertiser, staff_in_role(None)):
        client.force_login(actor)
        assert client.get(f"/api/orders/{order.number}/").status_code == 404
        assert client.post(f"/api/orders/{order.number}/cancel/").status_code == 404
    order.refresh_from_db()
    assert order.status == "paid"


def test_guest_order_is_found_by_number_and_email_only():
    order = OrderFactory(user=None, email="Guest@Example.com", status="paid")
    anonymous = AnonymousUser()
    found = order_services.order_get_for_actor(number=f" {order.number} ", actor=anonymous, email="guest@example.com ")
    assert found.pk == order.pk
    with pytest.raises(NotFound, match=NOT_FOUND_MESSAGE):
        order_services.order_get_for_actor(number=order.number, actor=anonymous, email="other@example.com")
    with pytest.raises(NotFound):
        order_services.order_get_for_actor(number=order.number, actor=None)
    assert order_services.order_cancel(number=order.number, actor=None, email="guest@example.com").status == "cancelled"


def test_order_change_address_until_shipped(user):
    order = OrderFactory(user=user, status="paid")
    changed = order_services.order_change_address(number=order.number, actor=user, address=" 9 New Street ")
    assert changed.shipping_address == "9 New Street"
    with pytest.raises(DomainError, match="at most 1,000"):
        order_services.order_change_address(number=order.number, actor=user, address="")
    Order.objects.filter(pk=order.pk).update(status="shipped")
    with pytest.raises(InvalidTransition, match="already shipped"):
        order_services.order_change_address(number=order.number, actor=user, address="3 Late Lane")


def test_order_return_window(user):
    recent = OrderFactory(user=user, status="delivered", delivered_at=timezone.now() - timedelta(days=29))
    OrderItemFactory(order=recent, quantity=1, line_number=1)
    old = OrderFactory(user=user, status="delivered", delivered_at=timezone.now() - timedelta(days=31))
    assert order_services.order_request_return(number=recent.number, actor=user).status == "requested"
    with pytest.raises(DomainError, match="30-day return window"):
        order_services.order_request_return(number=old.number, actor=user)
    paid = OrderFactory(user=user, status="paid")
    with pytest.raises(InvalidTransition, match="only shipped or delivered"):
        order_services.order_request_return(number=paid.number, actor=user)


def _cart_with(user, *lines):
    cart = Cart.objects.create(user=user)
    for product, quantity in lines:
        CartItem.objects.create(cart=cart, product=product, quantity=quantity)
    return cart


def test_order_place_from_cart_reserves_stock_pays_and_logs_purchases(user):
    mug, lamp = ProductFactory(stock=5, price=Decimal("4.50")), ProductFactory(stock=2, price=Decimal("12.00"))
    cart = _cart_with(user, (mug, 2), (lamp, 1))
    # when
    order = order_services.order_place_from_cart(
        cart=cart,
        user=user,
        email="",
        shipping_name="A",
        shipping_address="1 Road",
        tracking=Tracking.consented(user=user),
    )
    # then
    assert order.status == Order.Status.PAID and order.user == user and order.email == user.email
    assert order.total() == Decimal("21.00")
    assert list(order.items.order_by("line_number").values_list("line_number", "quantity")) == [(1, 2), (2, 1)]
    mug.refresh_from_db(), lamp.refresh_from_db()
    assert (mug.stock, lamp.stock) == (3, 1)
    assert not cart.items.exists()
    purchases = Event.objects.filter(type="purchase", user=user)
    assert purchases.count() == 2
    assert Event.objects.filter(pk=event_id_for("purchase", order.number, mug.pk)).exists()


def test_order_place_from_cart_refuses_and_writes_nothing(user):
    scarce = ProductFactory(stock=1)
    cart = _cart_with(user, (ProductFactory(stock=9), 1), (scarce, 2))
    with pytest.raises(DomainError, match="Only 1"):
        order_services.order_place_from_cart(cart=cart, user=user, email="", shipping_name="A", shipping_address="x")
    assert not Order.objects.exists()
    assert cart.items.count() == 2
    with pytest.raises(DomainError, match="empty"):
        order_services.order_place_from_cart(
            cart=Cart.objects.create(session_key="s1"),
            user=None,
            email="g@example.com",
            shipping_name="A",
            shipping_address="x",
        )


def test_order_place_from_cart_refuses_fee_lines_and_guest_without_email():
    fee = ProductFactory(is_non_product=True, stock=5)
    cart = Cart.objects.create(session_key="guest-session")
    CartItem.objects.create(cart=cart, product=fee, quantity=1)
    with pytest.raises(DomainError, match="email"):
        order_services.order_place_from_cart(cart=cart, user=None, email="", shipping_name="A", shipping_address="x")
    with pytest.raises(DomainError, match="no longer for sale"):
        order_services.order_place_from_cart(
            cart=cart, user=None, email="g@example.com", shipping_name="A", shipping_address="x"
        )
    assert not Order.objects.exists()


def test_guest_checkout_creates_a_guest_order():
    product = ProductFactory(stock=3)
    cart = Cart.objects.create(session_key="guest-2")
    CartItem.objects.create(cart=cart, product=product, quantity=1)
    order = order_services.order_place_from_cart(
        cart=cart,
        user=None,
        email="g@example.com",
        shipping_name="G",
        shipping_address="x",
        tracking=Tracking.consented(anonymous_id="anon-1"),
    )
    assert order.user is None and order.email == "g@example.com"
    assert Event.objects.get(type="purchase").anonymous_id == "anon-1"


def test_order_without_tracking_consent_logs_no_purchase_event(user):
    # given: the consent rule said no (declined, Do-Not-Track or GPC)
    cart = _cart_with(user, (ProductFactory(stock=3), 1))
    # when
    order = order_services.order_place_from_cart(
        cart=cart, user=user, email="", shipping_name="A", shipping_address="1 Road", tracking=NO_TRACKING
    )
    # then: the order (a contract) is kept, the behaviour log holds nothing
    assert order.user == user
    assert not Event.objects.exists()
