"""The bot's order actions answer from the order service's rules (one home), worded per language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ecommerce.models import Order
from ecommerce.services.orders import RETURN_WINDOW_DAYS
from support import actions
from tests.factories import OrderFactory, OrderItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def _order(user, status, **kwargs):
    order = OrderFactory(user=user, status=status, **kwargs)
    OrderItemFactory(order=order)
    return order


def test_return_check_refuses_an_order_not_yet_shipped_with_the_status_reason():
    user = UserFactory()
    order = _order(user, Order.Status.PAID)
    result = actions.return_check(actions.Shopper(user=user), order.number)
    assert (result.ok, result.code) == (False, "not_allowed")
    assert "only shipped or delivered orders can be returned" in result.reply


def test_return_check_refuses_past_the_window_with_the_window_reason_in_chinese():
    user = UserFactory()
    order = _order(user, Order.Status.DELIVERED, delivered_at=timezone.now() - timedelta(days=RETURN_WINDOW_DAYS + 1))
    result = actions.return_check(actions.Shopper(user=user, language="zh"), order.number)
    assert (result.ok, result.code) == (False, "not_allowed")
    assert f"{RETURN_WINDOW_DAYS} 天退货期限" in result.reply


def test_return_check_lists_items_inside_the_window():
    user = UserFactory()
    order = _order(user, Order.Status.DELIVERED, delivered_at=timezone.now() - timedelta(days=2))
    result = actions.return_check(actions.Shopper(user=user), order.number)
    assert (result.ok, result.code) == (True, "ask_items")
    assert len(result.data["items"]) == 1


@pytest.mark.parametrize(("status", "allowed"), [(Order.Status.PAID, True), (Order.Status.SHIPPED, False)])
def test_change_address_check_follows_the_order_rule(status, allowed):
    user = UserFactory()
    order = _order(user, status)
    result = actions.change_address_check(actions.Shopper(user=user), order.number)
    assert result.ok is allowed
    assert order.can_change_address() is allowed
