"""The merchant's order work: ship with a tracking number, refund, cancel (service and admin),
what a paid order locks, and the money on the order change page."""

from decimal import Decimal

import pytest
from django.test import Client

from ecommerce.errors import DomainError, InvalidTransition, PermissionDenied
from ecommerce.models import Order, OrderItem, ReturnRequest
from ecommerce.services import orders as order_services
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, RoleStaffFactory, StaffFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/ecommerce/order/"


def _order(status: str = "paid", *, quantity: int = 2, price: str = "12.50") -> Order:
    order = OrderFactory(status=status)
    product = ProductFactory(price=Decimal(price), stock=10)
    OrderItemFactory(order=order, product=product, quantity=quantity, unit_price=Decimal(price), line_number=1)
    return order


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager():
    return RoleStaffFactory(role="order_manager")


# --- services -------------------------------------------------------------------------------------


def test_mark_shipped_sets_the_tracking_number(manager):
    order = _order()
    shipped = order_services.order_mark_shipped(order_id=order.pk, actor=manager, tracking_number=" RM 1234-5678GB ")
    assert shipped.status == "shipped" and shipped.tracking_number == "RM 1234-5678GB" and shipped.shipped_at


@pytest.mark.parametrize("actor_role", [None, "support_agent", "catalog_manager"])
def test_order_actions_need_manage_orders(actor_role):
    # given staff without ecommerce.manage_orders (is_staff grants nothing)
    actor = RoleStaffFactory(role=actor_role)
    order = _order()
    # then every merchant move is refused in the service and the order is unchanged
    with pytest.raises(PermissionDenied):
        order_services.order_mark_shipped(order_id=order.pk, actor=actor, tracking_number="TRK123")
    with pytest.raises(PermissionDenied):
        order_services.order_refund(order_id=order.pk, actor=actor)
    with pytest.raises(PermissionDenied):
        order_services.order_cancel_for_merchant(order_id=order.pk, actor=actor)
    order.refresh_from_db()
    assert order.status == "paid" and not order.return_requests.exists()


@pytest.mark.parametrize(("tracking", "message"), [("", "tracking number"), ("<script>", "3 to 64")])
def test_mark_shipped_wants_a_real_tracking_number(manager, tracking, message):
    order = _order()
    with pytest.raises(DomainError, match=message):
        order_services.order_mark_shipped(order_id=order.pk, actor=manager, tracking_number=tracking)
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_only_paid_orders_ship(manager):
    with pytest.raises(InvalidTransition, match="only paid orders"):
        order_services.order_mark_shipped(order_id=_order("pending").pk, actor=manager, tracking_number="TRK123")


def test_refund_of_a_paid_order_cancels_restocks_and_records_the_refund(manager):
    order = _order(quantity=2, price="12.50")
    product = order.items.get().product
    refund = order_services.order_refund(order_id=order.pk, actor=manager)
    order.refresh_from_db()
    product.refresh_from_db()
    assert order.status == "cancelled" and product.stock == 12
    assert refund.status == ReturnRequest.Status.REFUNDED and refund.refund_amount == Decimal("25.00")
    assert refund.received_at is None and [(line.quantity) for line in refund.lines.all()] == [2]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("pending", "never paid"),
        ("shipped", "return request"),
        ("delivered", "return request"),
        ("cancelled", "cannot be refunded"),
    ],
)
def test_refund_refuses_what_is_not_a_paid_unshipped_order(manager, status, message):
    order = _order(status)
    with pytest.raises(InvalidTransition, match=message):
        order_services.order_refund(order_id=order.pk, actor=manager)
    assert Order.objects.get(pk=order.pk).status == status and not order.return_requests.exists()


def test_cancelling_a_paid_order_refunds_it_but_a_pending_one_has_nothing_to_refund(manager):
    paid, pending = _order("paid"), _order("pending")
    order_services.order_cancel(number=paid.number, actor=paid.user)  # the shopper cancels
    order_services.order_cancel_for_merchant(order_id=pending.pk, actor=manager)
    assert paid.return_requests.get().refund_amount == Decimal("25.00")
    assert not pending.return_requests.exists()
    assert Order.objects.get(pk=pending.pk).status == "cancelled"


# --- admin ----------------------------------------------------------------------------------------


def test_orders_have_no_delete_action_and_actions_only_for_order_managers(manager):
    _order()
    actions = _client(manager).get(CHANGELIST).context["action_form"].fields["action"].choices
    names = [name for name, _ in actions]
    assert "delete_selected" not in names
    assert {"mark_shipped", "order_refund", "order_cancel"} <= set(names)
    superuser_names = [
        n for n, _ in _client(StaffFactory()).get(CHANGELIST).context["action_form"].fields["action"].choices
    ]
    assert "delete_selected" not in superuser_names
    agent_page = _client(RoleStaffFactory(role="support_agent")).get(CHANGELIST)
    assert agent_page.status_code == 200
    assert "order_refund" not in agent_page.content.decode()


def test_admin_mark_shipped_asks_for_tracking_numbers_then_ships(manager):
    order = _order()
    client = _client(manager)
    # the action first shows one tracking-number box per order
    page = client.post(CHANGELIST, {"action": "mark_shipped", "_selected_action": [order.pk]})
    assert page.status_code == 200
    assert f'name="tracking_{order.pk}"' in page.content.decode() and "£25.00" in page.content.decode()
    # an empty number is refused with a message, the order stays paid
    again = client.post(
        CHANGELIST, {"action": "mark_shipped", "_selected_action": [order.pk], "apply": "1", f"tracking_{order.pk}": ""}
    )
    assert again.status_code == 200 and "Give the carrier&#x27;s tracking number." in again.content.decode()
    assert Order.objects.get(pk=order.pk).status == "paid"
    # with a number it ships and returns to the changelist
    done = client.post(
        CHANGELIST,
        {
            "action": "mark_shipped",
            "_selected_action": [order.pk],
            "apply": "1",
            f"tracking_{order.pk}": "RM123456789GB",
        },
    )
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "shipped" and order.tracking_number == "RM123456789GB"


def test_admin_refund_and_cancel_actions(manager):
    paid, shipped = _order("paid"), _order("shipped")
    client = _client(manager)
    response = client.post(
        CHANGELIST, {"action": "order_refund", "_selected_action": [paid.pk, shipped.pk]}, follow=True
    )
    text = response.content.decode()
    assert "Cancelled and refunded: 1 order(s)." in text and "refund it through a return request" in text
    assert Order.objects.get(pk=paid.pk).status == "cancelled"
    assert Order.objects.get(pk=shipped.pk).status == "shipped"
    # the refund is a return request, listed with its amount in money
    returns = client.get("/admin/ecommerce/returnrequest/").content.decode()
    assert "£25.00" in returns and "Cancelled before shipping: refunded in full" in returns
    pending = _order("pending")
    client.post(CHANGELIST, {"action": "order_cancel", "_selected_action": [pending.pk]})
    assert Order.objects.get(pk=pending.pk).status == "cancelled"


def test_admin_actions_are_refused_without_manage_orders():
    order = _order()
    agent = _client(RoleStaffFactory(role="support_agent"))  # may read orders, not act on them
    agent.post(CHANGELIST, {"action": "order_refund", "_selected_action": [order.pk]})
    agent.post(
        CHANGELIST,
        {"action": "mark_shipped", "_selected_action": [order.pk], "apply": "1", f"tracking_{order.pk}": "TRK999"},
    )
    order.refresh_from_db()
    assert order.status == "paid" and not order.return_requests.exists()


def _change_form(client, order) -> dict:
    """The change form's POST body as the browser would send it, from the rendered page."""
    item = order.items.get()
    return {
        "shipping_name": order.shipping_name,
        "shipping_address": order.shipping_address,
        "country": "UK",
        "user": order.user_id,
        "email": "changed@example.com",
        "currency": "EUR",
        "number": order.number,
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "1",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-id": item.pk,
        "items-0-order": order.pk,
        "items-0-line_number": "1",
        "items-0-product": item.product_id,
        "items-0-title": "Changed",
        "items-0-quantity": "99",
        "items-0-unit_price": "0.01",
        "_save": "Save",
    }


@pytest.mark.parametrize("status", ["paid", "shipped", "returned"])
def test_a_paid_order_locks_lines_prices_customer_and_currency(status):
    order = _order(status)
    client = _client(StaffFactory())  # even the superuser, who could edit a pending order
    page = client.get(f"{CHANGELIST}{order.pk}/change/").content.decode()
    assert 'name="items-0-quantity"' not in page and 'name="items-0-unit_price"' not in page
    assert 'name="email"' not in page and 'name="currency"' not in page
    # a hand-made POST changes nothing that is locked
    response = client.post(f"{CHANGELIST}{order.pk}/change/", _change_form(client, order))
    assert response.status_code == 302
    order.refresh_from_db()
    item = order.items.get()
    assert (item.quantity, item.unit_price, item.title) == (2, Decimal("12.50"), item.product.title)
    assert (order.email, order.currency, order.status) == (order.user.email, "GBP", status)
    # the address stays editable until the parcel leaves
    assert order.country == ("UK" if status == "paid" else "")


def test_a_pending_order_can_still_be_edited():
    order = _order("pending")
    client = _client(StaffFactory())  # order managers only read lines; the superuser may edit them
    assert 'name="items-0-quantity"' in client.get(f"{CHANGELIST}{order.pk}/change/").content.decode()
    client.post(f"{CHANGELIST}{order.pk}/change/", _change_form(client, order))
    assert OrderItem.objects.get(order=order).quantity == 99


def test_order_change_page_shows_total_line_totals_and_readable_lines(manager):
    order = _order(quantity=3, price="1000.5")
    order_services.order_mark_shipped(order_id=order.pk, actor=manager, tracking_number="TRK-42")
    page = _client(manager).get(f"{CHANGELIST}{order.pk}/change/").content.decode()
    assert page.count("£3,001.50") == 2 and "£1,000.50" in page  # order total, line total, unit price
    assert "OrderItem object" not in page and f"3 × {order.items.get().title}" in page
    assert "Shipped, tracking TRK-42" in page
    listing = _client(manager).get(CHANGELIST).content.decode()
    assert "£3,001.50" in listing


def test_orders_cannot_be_deleted_in_the_admin():
    order = _order()
    response = _client(StaffFactory()).post(f"{CHANGELIST}{order.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403 and Order.objects.filter(pk=order.pk).exists()


def test_the_shopper_sees_the_refund_of_a_cancelled_paid_order(client):
    order = _order("paid")
    client.force_login(order.user)
    client.post(f"/account/orders/{order.number}/cancel/")
    page = client.get(f"/account/orders/{order.number}/").content.decode()
    assert "Cancelled before shipping: refunded in full" in page
    assert "refunded £25.00" in page
