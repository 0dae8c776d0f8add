"""Per-item returns: one service for the order page, the bot, the API and the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from ecommerce.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from ecommerce.models import Order, ReturnRequest
from ecommerce.services import orders as order_services
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(user):
    order = OrderFactory(user=user, status=Order.Status.DELIVERED, delivered_at=timezone.now() - timedelta(days=3))
    mug = OrderItemFactory(
        order=order, product=ProductFactory(title="Mug", stock=0), quantity=3, line_number=1, unit_price="4.00"
    )
    plate = OrderItemFactory(
        order=order, product=ProductFactory(title="Plate", stock=0), quantity=1, line_number=2, unit_price="10.00"
    )
    return order, mug, plate


@pytest.fixture
def merchant(db):
    person = UserFactory(is_staff=True)
    person.user_permissions.add(Permission.objects.get(codename="manage_returns"))
    return person


def test_quantity_never_exceeds_bought_minus_already_returned(user, delivered):
    order, mug, plate = delivered
    order_services.return_request_create(number=order.number, actor=user, lines={mug.pk: 2}, reason="too many")
    with pytest.raises(DomainError, match="at most 1 of Mug"):
        order_services.return_request_create(number=order.number, actor=user, lines={mug.pk: 2}, reason="again")
    for bad in ({mug.pk: -1}, {mug.pk: "x"}, {}, {plate.pk: 0}):
        with pytest.raises(DomainError):
            order_services.return_request_create(number=order.number, actor=user, lines=bad, reason="r")
    with pytest.raises(DomainError, match="why"):
        order_services.return_request_create(number=order.number, actor=user, lines={plate.pk: 1}, reason=" ")
    assert order_services.order_returnable_quantities(order) == {mug.pk: 1, plate.pk: 1}
    assert ReturnRequest.objects.count() == 1  # nothing half-written by the refusals


def test_a_rejected_request_frees_its_quantities(user, delivered, merchant):
    order, mug, _ = delivered
    request = order_services.return_request_create(number=order.number, actor=user, lines={mug.pk: 3}, reason="r")
    order_services.return_request_reject(return_id=request.pk, actor=merchant)
    assert order_services.order_returnable_quantities(order)[mug.pk] == 3


def test_lines_of_another_order_are_refused(user, delivered):
    order, _, _ = delivered
    foreign_line = OrderItemFactory(order=OrderFactory(user=user, status="delivered", delivered_at=timezone.now()))
    with pytest.raises(DomainError, match="not part of this order"):
        order_services.return_request_create(number=order.number, actor=user, lines={foreign_line.pk: 1}, reason="r")


def test_state_machine_requested_approved_received_refunded(user, delivered, merchant):
    order, mug, plate = delivered
    request = order_services.return_request_create(
        number=order.number, actor=user, lines={mug.pk: 2, plate.pk: 1}, reason="broken"
    )
    with pytest.raises(InvalidTransition):
        order_services.return_request_refund(return_id=request.pk, actor=merchant)  # not received yet
    with pytest.raises(InvalidTransition):
        order_services.return_request_receive(return_id=request.pk, actor=merchant)  # not approved yet
    assert order_services.return_request_approve(return_id=request.pk, actor=merchant).status == "approved"
    received = order_services.return_request_receive(return_id=request.pk, actor=merchant)
    assert received.status == "received"
    mug.product.refresh_from_db()
    plate.product.refresh_from_db()
    assert (mug.product.stock, plate.product.stock) == (2, 1)
    refunded = order_services.return_request_refund(return_id=request.pk, actor=merchant)
    assert refunded.status == "refunded" and str(refunded.refund_amount) == "18.00"
    with pytest.raises(InvalidTransition):
        order_services.return_request_reject(return_id=request.pk, actor=merchant)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_only_holders_of_manage_returns_move_a_request(user, delivered):
    order, mug, _ = delivered
    request = order_services.return_request_create(number=order.number, actor=user, lines={mug.pk: 1}, reason="r")
    plain_staff = UserFactory(is_staff=True)
    for actor in (user, plain_staff, None):
        with pytest.raises(PermissionDenied):
            order_services.return_request_approve(return_id=request.pk, actor=actor)
    assert ReturnRequest.objects.get().status == "requested"


def test_shopper_cannot_request_a_return_on_another_shoppers_order(delivered, other_user):
    order, mug, _ = delivered
    with pytest.raises(NotFound):
        order_services.return_request_create(number=order.number, actor=other_user, lines={mug.pk: 1}, reason="r")


def test_not_yet_shipped_orders_cannot_be_returned(user):
    order = OrderFactory(user=user, status=Order.Status.PAID)
    line = OrderItemFactory(order=order, quantity=1)
    with pytest.raises(InvalidTransition, match="only shipped or delivered"):
        order_services.return_request_create(number=order.number, actor=user, lines={line.pk: 1}, reason="r")


def test_order_page_return_form_and_cancel_button(user, delivered, other_user):
    order, mug, _ = delivered
    client = Client()
    client.force_login(user)
    page = client.get(f"/account/orders/{order.number}/")
    assert b"Request a return" in page.content and b"Cancel this order" not in page.content
    # too many: a 400 with the message, nothing stored
    too_many = client.post(f"/account/orders/{order.number}/return/", {f"qty-{mug.pk}": "4", "reason": "x"})
    assert too_many.status_code == 400 and b"at most 3 of Mug" in too_many.content
    assert not ReturnRequest.objects.exists()
    done = client.post(f"/account/orders/{order.number}/return/", {f"qty-{mug.pk}": "2", "reason": "chipped"})
    assert done.status_code == 302
    request = ReturnRequest.objects.get()
    assert [(line.item_id, line.quantity) for line in request.lines.all()] == [(mug.pk, 2)]
    assert b"chipped" in client.get(f"/account/orders/{order.number}/").content
    # someone else's order: 404 for both actions
    stranger = Client()
    stranger.force_login(other_user)
    assert (
        stranger.post(f"/account/orders/{order.number}/return/", {f"qty-{mug.pk}": "1", "reason": "r"}).status_code
        == 404
    )
    assert stranger.post(f"/account/orders/{order.number}/cancel/").status_code == 404
    # cancel on a paid order, through the same order service
    paid = OrderFactory(user=user, status=Order.Status.PAID)
    OrderItemFactory(order=paid)
    assert b"Cancel this order" in client.get(f"/account/orders/{paid.number}/").content
    assert client.post(f"/account/orders/{paid.number}/cancel/").status_code == 302
    paid.refresh_from_db()
    assert paid.status == Order.Status.CANCELLED


def test_admin_actions_move_returns_through_the_service(user, delivered, merchant):
    order, mug, _ = delivered
    request = order_services.return_request_create(number=order.number, actor=user, lines={mug.pk: 1}, reason="r")
    merchant.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_returnrequest", "change_returnrequest"])
    )
    admin = Client()
    admin.force_login(merchant)
    url = "/admin/ecommerce/returnrequest/"
    assert admin.get(url).status_code == 200
    assert admin.get(f"{url}{request.pk}/change/").status_code == 200
    assert admin.get(f"{url}add/").status_code == 403  # requests come from shoppers, not the admin
    for action, expected in (
        ("return_approve", "approved"),
        ("return_receive", "received"),
        ("return_refund", "refunded"),
    ):
        response = admin.post(url, {"action": action, "_selected_action": [request.pk]})
        assert response.status_code == 302
        request.refresh_from_db()
        assert request.status == expected
    # staff without manage_returns: the service refuses, the row does not move
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_returnrequest", "change_returnrequest"]))
    other = order_services.return_request_create(number=order.number, actor=user, lines={mug.pk: 1}, reason="r")
    admin.force_login(clerk)
    admin.post(url, {"action": "return_approve", "_selected_action": [other.pk]})
    other.refresh_from_db()
    assert other.status == "requested"


def test_api_create_validate_and_move_returns(user, other_user, delivered, merchant):
    from rest_framework.test import APIClient

    order, mug, plate = delivered
    shopper = APIClient()
    shopper.force_login(user)
    url = f"/api/orders/{order.number}/returns/"
    too_many = shopper.post(url, {"lines": [{"item_id": mug.pk, "quantity": 4}], "reason": "r"}, format="json")
    assert too_many.status_code == 400 and "at most 3 of Mug" in too_many.json()["detail"]
    for bad in (
        {"lines": [], "reason": "r"},
        {"lines": [{"item_id": mug.pk, "quantity": 0}], "reason": "r"},
        {"lines": [{"item_id": mug.pk, "quantity": 1}]},
        {"lines": "x", "reason": "r"},
    ):
        assert shopper.post(url, bad, format="json").status_code == 400
    created = shopper.post(
        url,
        {"lines": [{"item_id": mug.pk, "quantity": 2}, {"item_id": plate.pk, "quantity": 1}], "reason": "broken"},
        format="json",
    )
    assert created.status_code == 201, created.content
    return_id = created.json()["id"]
    assert [r["id"] for r in shopper.get(url).json()] == [return_id]
    # another shopper: the order does not exist for them; a shopper cannot approve
    stranger = APIClient()
    stranger.force_login(other_user)
    assert stranger.get(url).status_code == 404
    assert shopper.post(f"/api/returns/{return_id}/approve/").status_code == 403
    boss = APIClient()
    boss.force_login(merchant)
    assert boss.post(f"/api/returns/{return_id}/refund/").status_code == 409  # not received yet
    for move, expected in (("approve", "approved"), ("receive", "received"), ("refund", "refunded")):
        response = boss.post(f"/api/returns/{return_id}/{move}/")
        assert response.status_code == 200 and response.json()["status"] == expected
    assert boss.post(f"/api/returns/{return_id}/explode/").status_code == 404
