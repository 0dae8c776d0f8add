"""One metric over time (hour, day, week or month buckets)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, DateField, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from ecommerce.errors import DomainError

from ..expressions import ACTIVE, LINE_VALUE, ORDERS, actor_expr, buyer_expr, day_bounds, event_metric
from ..models import ActorSketch, DailyMetric, HourlyMetric
from ..rollups_names import MONTH_SUFFIX
from ..sketches import estimate
from .common import (
    BUSINESS_METRICS,
    EVENT_TYPES,
    INTERVALS,
    Filters,
    _actors,
    _events,
    _group_metrics,
    _lines,
    _num,
    _orders,
    _trunc_start,
    _use_sketches,
)


def _period_keys(f: Filters, interval: str) -> list[str]:
    keys: list[str] = []
    if interval == "hour":
        t0, t1 = day_bounds(f.start, f.end)
        t = t0
        while t < t1:
            keys.append(_fmt_period(t, interval))
            t += timedelta(hours=1)
        return keys
    d = f.start
    if interval == "week":
        d = d - timedelta(days=d.weekday())
    elif interval == "month":
        d = d.replace(day=1)
    while d <= f.end:
        keys.append(d.isoformat())
        if interval == "day":
            d += timedelta(days=1)
        elif interval == "week":
            d += timedelta(days=7)
        else:
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return keys


def _fmt_period(value: Any, interval: str) -> str:
    if interval == "hour":
        return timezone.localtime(value).strftime("%Y-%m-%dT%H:00")
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.isoformat()


def _whole_months(f: Filters) -> bool:
    return f.start.day == 1 and (f.end + timedelta(days=1)).day == 1


def trends(f: Filters, *, metric: str, interval: str, force_raw: bool = False) -> dict[str, Any]:
    """A metric per period. Business metrics: revenue (GMV), orders, customers (distinct buyers),
    visitors (distinct actors); any event type gives its event count per period."""
    if interval not in INTERVALS:
        raise DomainError(f"Unknown interval {interval!r}: use one of {', '.join(INTERVALS)}.")
    if metric not in BUSINESS_METRICS and metric not in EVENT_TYPES:
        raise DomainError(f"Unknown metric {metric!r}: use revenue, orders, customers, visitors or an event type.")
    if interval == "hour" and f.days > 93:
        raise DomainError("Hourly trends are limited to 93 days; choose day, week or month.")
    values: dict[str, Any] = {}
    raw = force_raw or f.needs_raw or (interval == "hour" and bool(f.country))
    if interval == "hour" and not raw and metric not in ("customers", "visitors"):
        t0, t1 = day_bounds(f.start, f.end)
        rows = HourlyMetric.objects.filter(
            hour__gte=t0, hour__lt=t1, metric=ORDERS if metric in ("revenue", "orders") else event_metric(metric)
        )
        field = "amount" if metric == "revenue" else "count"
        for row in rows.values("hour", field):
            values[_fmt_period(row["hour"], "hour")] = row[field]
    elif not raw and metric in ("customers", "visitors") and interval != "hour":
        group = ORDERS if metric == "customers" else ACTIVE
        if interval == "month" and not f.country and not f.segment and _whole_months(f):
            # Exact distinct actors per calendar month, stored by the rollup (rollups.months_refresh).
            for day, n in ActorSketch.objects.filter(
                day__gte=f.start, day__lte=f.end, metric=group + MONTH_SUFFIX
            ).values_list("day", "actors"):
                values[day.isoformat()] = n
        elif interval == "day" and not f.country and not f.segment:
            for day, n in ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=group).values_list(
                "day", "actors"
            ):
                values[day.isoformat()] = n  # each day's exact distinct count, stored by the rollup
        elif interval == "day" or not _use_sketches(f, group):
            # A day's distinct count is stored exactly; longer periods are exact below the limit.
            qs = _actors(f, _group_metrics(group))
            for row in (
                qs.annotate(p=Trunc("day", interval, output_field=DateField()))
                .values("p")
                .annotate(v=Count("actor", distinct=True))
            ):
                values[_fmt_period(row["p"], interval)] = row["v"]
        else:
            by_period: dict[str, list[bytes]] = {}
            for day, blob in ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=group).values_list(
                "day", "registers"
            ):
                by_period.setdefault(_trunc_start(day, interval).isoformat(), []).append(blob)
            values = {key: estimate(blobs) for key, blobs in by_period.items()}
    elif not raw and interval != "hour":
        qs = DailyMetric.objects.filter(
            day__gte=f.start, day__lte=f.end, metric=ORDERS if metric in ("revenue", "orders") else event_metric(metric)
        )
        if f.country:
            qs = qs.filter(country=f.country)
        field = "amount" if metric == "revenue" else "count"
        for row in qs.annotate(p=Trunc("day", interval, output_field=DateField())).values("p").annotate(v=Sum(field)):
            values[_fmt_period(row["p"], interval)] = row["v"]
    else:
        kind = interval
        if metric == "revenue":
            qs = _lines(f).annotate(p=Trunc("order__placed_at", kind)).values("p").annotate(v=Sum(LINE_VALUE))
        elif metric == "orders":
            qs = _orders(f).annotate(p=Trunc("placed_at", kind)).values("p").annotate(v=Count("id", distinct=True))
        elif metric == "customers":
            qs = (
                _orders(f)
                .annotate(p=Trunc("placed_at", kind))
                .values("p")
                .annotate(v=Count(buyer_expr(), distinct=True))
            )
        elif metric == "visitors":
            qs = (
                _events(f)
                .annotate(p=Trunc("occurred_at", kind))
                .values("p")
                .annotate(v=Count(actor_expr(), distinct=True))
            )
        else:
            qs = (
                _events(f)
                .filter(type=metric)
                .annotate(p=Trunc("occurred_at", kind))
                .values("p")
                .annotate(v=Count("id"))
            )
        for row in qs:
            values[_fmt_period(row["p"], interval)] = row["v"]
    series = [{"period": key, "value": _num(values.get(key, 0) or 0)} for key in _period_keys(f, interval)]
    return {"metric": metric, "interval": interval, "series": series}
