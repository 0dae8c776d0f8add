"""ORM expressions and metric names shared by rollups and queries (portable between PostgreSQL and SQLite)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Case, CharField, DecimalField, ExpressionWrapper, F, Q, Value, When
from django.db.models.functions import Cast, Coalesce, Concat, NullIf
from django.utils import timezone

from ecommerce.models import Order, OrderItem

# Metric names of the rollup tables, shared by rollups.py (writes) and queries/ (reads).
ANY = "any"  # every event type together: visitors
ACTIVE = "active"  # sketch group: any event or a non-cancelled order
ORDERS = "orders"  # non-cancelled orders, GMV, buyers

LINE_VALUE = ExpressionWrapper(
    F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=18, decimal_places=2)
)


def event_metric(event_type: str) -> str:
    return f"event:{event_type}"


def actor_expr(prefix: str = "") -> Case:
    """Who did an event: "u<user id>" when logged in, else "a<anonymous id>", else NULL.

    NULL actors (no user and no anonymous id) are ignored by Count(distinct), so they count as
    events but never as visitors.
    """
    user_id, anonymous_id = f"{prefix}user_id", f"{prefix}anonymous_id"
    return Case(
        When(**{f"{user_id}__isnull": False}, then=Concat(Value("u"), Cast(user_id, CharField()))),
        When(~Q(**{anonymous_id: ""}), then=Concat(Value("a"), F(anonymous_id))),
        default=Value(None),
        output_field=CharField(),
    )


def buyer_expr(prefix: str = "") -> Case:
    """A buyer is a registered customer ("u<id>"); guest orders have no customer identity."""
    user_id = f"{prefix}user_id"
    return Case(
        When(**{f"{user_id}__isnull": False}, then=Concat(Value("u"), Cast(user_id, CharField()))),
        default=Value(None),
        output_field=CharField(),
    )


def event_country_expr() -> Coalesce:
    return Coalesce(F("user__country"), Value(""), output_field=CharField())


def order_country_expr(prefix: str = "") -> Coalesce:
    """The order's (shipping/invoice) country, else the customer's, else ""."""
    return Coalesce(
        NullIf(F(f"{prefix}country"), Value("")),
        F(f"{prefix}user__country"),
        Value(""),
        output_field=CharField(),
    )


def gmv_lines(qs=None):
    """Order lines that count in GMV: positive quantity and price, order not cancelled."""
    qs = qs if qs is not None else OrderItem.objects.all()
    return qs.filter(quantity__gt=0, unit_price__gt=0).exclude(order__status=Order.Status.CANCELLED)


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the shop's time zone: both dates are inclusive."""
    return day_start(start), day_start(end + timedelta(days=1))
