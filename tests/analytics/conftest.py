"""Small hand-made data sets with answers computed by hand (see each test)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ecommerce.models import Event, Order
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, UserFactory


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def order(user, placed_at, lines, status=Order.Status.PAID, country="United Kingdom"):
    o = OrderFactory(user=user, placed_at=placed_at, status=status, country=country)
    for i, (product, qty, price) in enumerate(lines, start=1):
        OrderItemFactory(order=o, product=product, quantity=qty, unit_price=Decimal(price), line_number=i)
    return o


def event(type, when, *, user=None, anon="", product=None, query="", properties=None):
    return Event.objects.create(
        id=uuid.uuid4(),
        type=type,
        occurred_at=when,
        user=user,
        anonymous_id=anon,
        product=product,
        query=query,
        properties=properties or {},
    )


@pytest.fixture
def gmv_shop(db):
    """March 2024: GMV 29.50 over 2 orders (see test_gmv_definition)."""
    mug, fee = ProductFactory(title="Mug"), ProductFactory(title="POSTAGE", is_non_product=True)
    alice = UserFactory(country="United Kingdom")
    bob = UserFactory(country="France")
    # A: 2×10 counts, -1×10 (a return line) and 1×0.00 (free gift) do not, the 1×5 fee counts: 25.
    order(alice, at(2024, 3, 1, 10), [(mug, 2, "10.00"), (mug, -1, "10.00"), (mug, 1, "0.00"), (fee, 1, "5.00")])
    # B: cancelled, never counts.
    order(bob, at(2024, 3, 1, 11), [(mug, 3, "7.00")], status=Order.Status.CANCELLED, country="France")
    # C: 4.50 late on 2 March.
    order(bob, at(2024, 3, 2, 23, 30), [(mug, 1, "4.50")], status=Order.Status.DELIVERED, country="France")
    # D: April, outside the range.
    order(alice, at(2024, 4, 1, 9), [(mug, 1, "100.00")])
    # February (the previous period for a 31-day March range is 2024-01-31..2024-02-29): 10.00.
    order(alice, at(2024, 2, 15, 9), [(mug, 1, "10.00")])
    event("product_view", at(2024, 3, 1, 9, 55), user=alice, product=mug)
    event("product_view", at(2024, 3, 1, 12), anon="anon-1", product=mug)
    event("product_view", at(2024, 3, 3, 12), anon="anon-1", product=mug)
    event("search", at(2024, 3, 3, 12, 1), anon="anon-1", query="Teapot")
    return {"mug": mug, "fee": fee, "alice": alice, "bob": bob}
