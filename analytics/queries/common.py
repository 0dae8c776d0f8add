"""What every dashboard question shares: the filters, the date range and the base querysets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Count, Max, QuerySet, Sum, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from ecommerce.errors import DomainError
from ecommerce.models import Event, Order

from ..expressions import ACTIVE, ANY, LINE_VALUE, ORDERS, day_bounds, event_country_expr, gmv_lines, order_country_expr
from ..models import ActorSketch, DailyActor, DailyMetric, SegmentMembership
from ..sketches import estimate, exact_limit

EVENT_TYPES = tuple(Event.Type.values)
BUSINESS_METRICS = ("revenue", "orders", "customers", "visitors")
INTERVALS = ("hour", "day", "week", "month")
DEFAULT_FUNNEL = ["product_view", "add_to_cart", "checkout_start", "purchase"]


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    segment: str = ""
    country: str = ""
    category_id: int | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of equal length just before this one."""
        return Filters(
            start=self.start - timedelta(days=self.days),
            end=self.start - timedelta(days=1),
            segment=self.segment,
            country=self.country,
            category_id=self.category_id,
        )

    @property
    def needs_raw(self) -> bool:
        return bool(self.segment) or self.category_id is not None


def default_range(days: int = 30) -> tuple[date, date]:
    """The last `days` days up to and including today, so today's orders show; when the newest
    data is older than that (an import of past years), the `days` days ending on its last day."""
    today = timezone.localdate()
    latest = DailyMetric.objects.aggregate(d=Max("day"))["d"] or today
    end = today if latest > today - timedelta(days=days) else latest
    return end - timedelta(days=days - 1), end


def _segment_user_ids(key: str) -> QuerySet:
    return SegmentMembership.objects.filter(segment__key=key).values("user_id")


def _segment_actor_keys(key: str) -> QuerySet:
    return (
        SegmentMembership.objects.filter(segment__key=key)
        .annotate(actor_key=Concat(Value("u"), Cast("user_id", CharField()), output_field=CharField()))
        .values("actor_key")
    )


def _category_ids(category_id: int) -> list[int]:
    from ecommerce.models import Category

    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise DomainError(f"Unknown category {category_id}.")
    return category.descendant_ids()


def _orders(f: Filters) -> QuerySet:
    t0, t1 = day_bounds(f.start, f.end)
    qs = Order.objects.not_cancelled().filter(placed_at__gte=t0, placed_at__lt=t1)
    if f.segment:
        qs = qs.filter(user_id__in=_segment_user_ids(f.segment))
    if f.country:
        qs = qs.annotate(ctry=order_country_expr()).filter(ctry=f.country)
    if f.category_id is not None:
        qs = qs.filter(items__product__category_id__in=_category_ids(f.category_id)).distinct()
    return qs


def _lines(f: Filters) -> QuerySet:
    t0, t1 = day_bounds(f.start, f.end)
    qs = gmv_lines().filter(order__placed_at__gte=t0, order__placed_at__lt=t1)
    if f.segment:
        qs = qs.filter(order__user_id__in=_segment_user_ids(f.segment))
    if f.country:
        qs = qs.annotate(ctry=order_country_expr("order__")).filter(ctry=f.country)
    if f.category_id is not None:
        qs = qs.filter(product__category_id__in=_category_ids(f.category_id))
    return qs


def _events(f: Filters, *, end_padding: timedelta = timedelta(0)) -> QuerySet:
    t0, t1 = day_bounds(f.start, f.end)
    qs = Event.objects.filter(occurred_at__gte=t0, occurred_at__lt=t1 + end_padding)
    if f.segment:
        qs = qs.filter(user_id__in=_segment_user_ids(f.segment))
    if f.country:
        qs = qs.annotate(ctry=event_country_expr()).filter(ctry=f.country)
    if f.category_id is not None:
        qs = qs.filter(product__category_id__in=_category_ids(f.category_id))
    return qs


def _actors(f: Filters, metrics: list[str]) -> QuerySet:
    qs = DailyActor.objects.filter(day__gte=f.start, day__lte=f.end, metric__in=metrics)
    if f.country:
        qs = qs.filter(country=f.country)
    if f.segment:
        qs = qs.filter(actor__in=_segment_actor_keys(f.segment))
    return qs


def _group_metrics(group: str) -> list[str]:
    return [ANY, ORDERS] if group == ACTIVE else [ORDERS]


def _use_sketches(f: Filters, group: str) -> bool:
    """Sketches only for all-country, all-shopper ranges with more actor-days than the exact limit."""
    if f.country or f.segment:
        return False
    total = ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=group).aggregate(n=Sum("actors"))["n"]
    return (total or 0) > exact_limit()


def distinct_actors(f: Filters, group: str) -> int:
    """Distinct actors of a group ("active" or "orders") over the range: exact from DailyActor,
    or a HyperLogLog estimate (±1.6 %) when the range holds more actor-days than the limit."""
    if _use_sketches(f, group):
        return estimate(
            ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=group).values_list(
                "registers", flat=True
            )
        )
    return _actors(f, _group_metrics(group)).aggregate(n=Count("actor", distinct=True))["n"]


def _daily_active_sum(f: Filters) -> int:
    """Σ over days of that day's distinct active actors (exact), for DAU."""
    if not f.country and not f.segment:
        return (
            ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=ACTIVE).aggregate(n=Sum("actors"))["n"]
            or 0
        )
    return sum(
        _actors(f, [ANY, ORDERS]).values("day").annotate(n=Count("actor", distinct=True)).values_list("n", flat=True)
    )


def gmv(f: Filters) -> Decimal:
    """GMV: Σ quantity × unit price over lines with quantity > 0 and price > 0 of non-cancelled orders."""
    return _lines(f).aggregate(v=Sum(LINE_VALUE))["v"] or Decimal("0")


def _num(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def _trunc_start(day: date, period: str) -> Any:
    return day.replace(day=1) if period == "month" else day - timedelta(days=day.weekday())
