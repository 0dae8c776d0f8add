"""Order reads. A shopper only ever sees their own orders."""

from __future__ import annotations

from django.db.models import QuerySet

from ..models import Order, User


def order_list_for(*, user: User) -> QuerySet[Order]:
    return Order.objects.owned_by(user).prefetch_related("items__product").order_by("-placed_at")


def order_numbers_for(*, user: User, open_only: bool = False, limit: int | None = None) -> list[str]:
    """The shopper's order numbers, newest first; at most `limit` of them (read no more than that)."""
    qs = Order.objects.owned_by(user)
    if open_only:
        qs = qs.filter(status__in=[Order.Status.PENDING, Order.Status.PAID, Order.Status.SHIPPED])
    numbers = qs.order_by("-placed_at").values_list("number", flat=True)
    return list(numbers if limit is None else numbers[:limit])
