"""Rollups: per-day and per-hour aggregates of events and orders, so dashboards read a table whose
size grows with days (and daily active actors), not with raw events.

`rollups_refresh_days` recomputes a day range by delete + insert inside one transaction, so it is
idempotent and can be re-run for any range. `rollups_refresh_pending` finds the days touched since
the last run (events received late, orders placed or changed) and recomputes exactly those.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from ecommerce.bulk import bulk_insert
from ecommerce.models import Event, Order

from .expressions import (
    ACTIVE,
    ANY,
    LINE_VALUE,
    ORDERS,
    actor_expr,
    buyer_expr,
    day_bounds,
    event_country_expr,
    event_metric,
    gmv_lines,
    order_country_expr,
)
from .funnel_store import funnel_entries_refresh, max_window
from .models import (
    ActorSketch,
    CohortCell,
    DailyActor,
    DailyMetric,
    DailyProduct,
    HourlyMetric,
    PanelSnapshot,
    RollupState,
)
from .queries.retention import cohort_counts
from .queries.rfm import RFM_SNAPSHOT, default_as_of, rfm_summary
from .rollups_names import MONTH_SUFFIX
from .sampling import sample_level
from .sketches import sketch_of
from .top_store import tops_refresh

logger = logging.getLogger(__name__)

STATE_NAME = "default"
# Recomputing a long history in one transaction would hold locks and memory for long: chunk it.
CHUNK_DAYS = 31


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _rollup_chunk(start: date, end: date) -> dict[str, int]:
    t0, t1 = day_bounds(start, end)
    now = timezone.now()
    events = Event.objects.filter(occurred_at__gte=t0, occurred_at__lt=t1)
    orders = Order.objects.not_cancelled().filter(placed_at__gte=t0, placed_at__lt=t1)
    lines = gmv_lines().filter(order__placed_at__gte=t0, order__placed_at__lt=t1)

    daily: dict[tuple[date, str, str], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "actors": 0, "amount": Decimal("0")}
    )
    ev_daily = (
        events.annotate(day=TruncDate("occurred_at"), ctry=event_country_expr())
        .values("day", "ctry", "type")
        .annotate(n=Count("id"), actors=Count(actor_expr(), distinct=True))
    )
    for row in ev_daily:
        daily[(_as_date(row["day"]), row["ctry"], event_metric(row["type"]))].update(
            count=row["n"], actors=row["actors"]
        )
    any_daily = (
        events.annotate(day=TruncDate("occurred_at"), ctry=event_country_expr())
        .values("day", "ctry")
        .annotate(n=Count("id"), actors=Count(actor_expr(), distinct=True))
    )
    for row in any_daily:
        daily[(_as_date(row["day"]), row["ctry"], ANY)].update(count=row["n"], actors=row["actors"])
    ord_daily = (
        orders.annotate(day=TruncDate("placed_at"), ctry=order_country_expr())
        .values("day", "ctry")
        .annotate(n=Count("id"), actors=Count(buyer_expr(), distinct=True))
    )
    for row in ord_daily:
        daily[(_as_date(row["day"]), row["ctry"], ORDERS)].update(count=row["n"], actors=row["actors"])
    gmv_daily = (
        lines.annotate(day=TruncDate("order__placed_at"), ctry=order_country_expr("order__"))
        .values("day", "ctry")
        .annotate(amount=Sum(LINE_VALUE))
    )
    for row in gmv_daily:
        daily[(_as_date(row["day"]), row["ctry"], ORDERS)]["amount"] = row["amount"] or Decimal("0")

    hourly: dict[tuple[datetime, str], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "actors": 0, "amount": Decimal("0")}
    )
    for row in (
        events.annotate(h=TruncHour("occurred_at"))
        .values("h", "type")
        .annotate(n=Count("id"), actors=Count(actor_expr(), distinct=True))
    ):
        hourly[(row["h"], event_metric(row["type"]))].update(count=row["n"], actors=row["actors"])
    for row in (
        events.annotate(h=TruncHour("occurred_at"))
        .values("h")
        .annotate(n=Count("id"), actors=Count(actor_expr(), distinct=True))
    ):
        hourly[(row["h"], ANY)].update(count=row["n"], actors=row["actors"])
    for row in (
        orders.annotate(h=TruncHour("placed_at"))
        .values("h")
        .annotate(n=Count("id"), actors=Count(buyer_expr(), distinct=True))
    ):
        hourly[(row["h"], ORDERS)].update(count=row["n"], actors=row["actors"])
    for row in lines.annotate(h=TruncHour("order__placed_at")).values("h").annotate(amount=Sum(LINE_VALUE)):
        hourly[(row["h"], ORDERS)]["amount"] = row["amount"] or Decimal("0")

    # Distinct actors per day and metric (with their event counts), for exact distinct counts
    # over any range and the per-visitor browsing distribution.
    actors: dict[tuple[date, str, str], list] = {}
    for row in (
        events.annotate(day=TruncDate("occurred_at"), actor=actor_expr(), ctry=event_country_expr())
        .filter(actor__isnull=False)
        .values("day", "type", "actor", "ctry")
        .annotate(n=Count("id"))
    ):
        day = _as_date(row["day"])
        actors[(day, event_metric(row["type"]), row["actor"])] = [row["ctry"], row["n"]]
        actors.setdefault((day, ANY, row["actor"]), [row["ctry"], 0])[1] += row["n"]
    for row in (
        orders.annotate(day=TruncDate("placed_at"), actor=buyer_expr(), ctry=order_country_expr())
        .filter(actor__isnull=False)
        .values("day", "actor", "ctry")
        .annotate(n=Count("id"))
    ):
        key = (_as_date(row["day"]), ORDERS, row["actor"])
        if key in actors:  # an order-country change within a day: one row, counts added
            actors[key][1] += row["n"]
        else:
            actors[key] = [row["ctry"], row["n"]]

    # Per product and day: GMV lines (order country) and product views (event country).
    products: dict[tuple[date, str, int], dict[str, Any]] = defaultdict(
        lambda: {"revenue": Decimal("0"), "units": 0, "orders": 0, "views": 0}
    )
    for row in (
        lines.annotate(day=TruncDate("order__placed_at"), ctry=order_country_expr("order__"))
        .values("day", "ctry", "product_id")
        .annotate(revenue=Sum(LINE_VALUE), units=Sum("quantity"), orders=Count("order_id", distinct=True))
    ):
        if row["product_id"] is None:
            continue
        products[(_as_date(row["day"]), row["ctry"], row["product_id"])].update(
            revenue=row["revenue"] or Decimal("0"), units=row["units"] or 0, orders=row["orders"]
        )
    for row in (
        events.filter(type=Event.Type.PRODUCT_VIEW, product_id__isnull=False)
        .annotate(day=TruncDate("occurred_at"), ctry=event_country_expr())
        .values("day", "ctry", "product_id")
        .annotate(n=Count("id"))
    ):
        products[(_as_date(row["day"]), row["ctry"], row["product_id"])]["views"] = row["n"]
    for (day, _ctry, product), v in list(products.items()):
        total = products[(day, None, product)]
        for field, value in v.items():
            total[field] += value

    groups: dict[tuple[date, str], set[str]] = defaultdict(set)
    for day, metric, actor in actors:
        if metric in (ANY, ORDERS):
            groups[(day, ACTIVE)].add(actor)
        if metric == ORDERS:
            groups[(day, ORDERS)].add(actor)
    sketches = [
        ActorSketch(day=d, metric=m, actors=len(members), registers=sketch_of(members))
        for (d, m), members in groups.items()
    ]

    with transaction.atomic():
        ActorSketch.objects.filter(day__gte=start, day__lte=end).exclude(metric__endswith=MONTH_SUFFIX).delete()
        ActorSketch.objects.bulk_create(sketches, batch_size=500)
        DailyMetric.objects.filter(day__gte=start, day__lte=end).delete()
        HourlyMetric.objects.filter(hour__gte=t0, hour__lt=t1).delete()
        DailyActor.objects.filter(day__gte=start, day__lte=end).delete()
        DailyProduct.objects.filter(day__gte=start, day__lte=end).delete()
        # Plain rows through ecommerce.bulk (one unnest INSERT per 10,000 rows on PostgreSQL):
        # model instances and bulk_create cost most of a 5M-event refresh (docs/benchmarks/analytics.md).
        bulk_insert(
            DailyProduct,
            ("day", "country", "product_id", "revenue", "units", "orders", "views"),
            [(d, c, p, v["revenue"], v["units"], v["orders"], v["views"]) for (d, c, p), v in products.items()],
        )
        bulk_insert(
            DailyMetric,
            ("day", "country", "metric", "count", "actors", "amount", "computed_at"),
            [(d, c, m, v["count"], v["actors"], v["amount"], now) for (d, c, m), v in daily.items()],
        )
        bulk_insert(
            HourlyMetric,
            ("hour", "metric", "count", "actors", "amount"),
            [(h, m, v["count"], v["actors"], v["amount"]) for (h, m), v in hourly.items()],
        )
        bulk_insert(
            DailyActor,
            ("day", "metric", "actor", "country", "count", "sample"),
            # In (metric, sample level, day) order: a panel reading one metric's sampled actors
            # over a range then reads a few contiguous pages, not one page per row.
            sorted(
                ((d, m, a, c, n, sample_level(a)) for (d, m, a), (c, n) in actors.items()),
                key=lambda row: (row[1], row[5], row[0]),
            ),
        )
    funnel_entries = funnel_entries_refresh(start=start, end=end)
    tops = tops_refresh(start=start, end=end)
    return {
        "daily": len(daily),
        "hourly": len(hourly),
        "actors": len(actors),
        "funnel_entries": funnel_entries,
        "tops": tops,
    }


def _month_start(day: date) -> date:
    return day.replace(day=1)


def months_refresh(*, start: date, end: date) -> int:
    """Exact distinct actors per calendar month ("active" and "orders" groups, all countries),
    stored as ActorSketch rows dated the 1st with metric "<group>@month" and the union of the
    month's day sketches: monthly visitor and customer trends read one row per month."""
    months = []
    month = _month_start(start)
    while month <= end:
        months.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    rows = []
    for month in months:
        last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        for group, metrics in ((ACTIVE, [ANY, ORDERS]), (ORDERS, [ORDERS])):
            members = set(
                DailyActor.objects.filter(day__gte=month, day__lte=last, metric__in=metrics)
                .values_list("actor", flat=True)
                .distinct()
            )
            rows.append(
                ActorSketch(day=month, metric=group + MONTH_SUFFIX, actors=len(members), registers=sketch_of(members))
            )
    with transaction.atomic():
        ActorSketch.objects.filter(day__in=months, metric__endswith=MONTH_SUFFIX).delete()
        ActorSketch.objects.bulk_create(rows, batch_size=100)
    return len(rows)


def cohorts_refresh() -> int:
    """Recompute the purchase cohort table from the actor-day rollup (all history, one transaction)."""
    cells = [
        CohortCell(metric=ORDERS, period=period, cohort=c, period_start=p, actors=n)
        for period in ("week", "month")
        for c, p, n in cohort_counts(metric=ORDERS, period=period)
    ]
    with transaction.atomic():
        CohortCell.objects.all().delete()
        CohortCell.objects.bulk_create(cells, batch_size=2000)
    return len(cells)


def snapshots_refresh() -> int:
    """Store the all-history panels the dashboard opens with (the RFM summary as of its default
    date): one row read instead of every order."""
    as_of = default_as_of()
    data = rfm_summary(as_of=as_of, force_raw=True)
    PanelSnapshot.objects.update_or_create(
        name=RFM_SNAPSHOT, defaults={"as_of": as_of, "data": data, "computed_at": timezone.now()}
    )
    return 1


def rollups_refresh_days(*, start: date, end: date, with_cohorts: bool = True) -> dict[str, int]:
    """Recompute every rollup row of the days start..end (inclusive), then the cohort table.
    Safe to run again."""
    totals = {"days": 0, "daily": 0, "hourly": 0, "actors": 0, "funnel_entries": 0, "tops": 0, "cohort_cells": 0}
    # Funnel entries of the days before `start` may have steps on the refreshed days.
    totals["funnel_entries"] += funnel_entries_refresh(start=start - max_window(), end=start - timedelta(days=1))
    cursor = start
    while cursor <= end:
        chunk_end = min(end, cursor + timedelta(days=CHUNK_DAYS - 1))
        counts = _rollup_chunk(cursor, chunk_end)
        for key, value in counts.items():
            totals[key] += value
        totals["days"] += (chunk_end - cursor).days + 1
        cursor = chunk_end + timedelta(days=1)
    months_refresh(start=start, end=end)
    totals["cohort_cells"] = cohorts_refresh() if with_cohorts else 0
    if with_cohorts:
        snapshots_refresh()
    _mark_refreshed()
    logger.info("analytics.rollups_refreshed", extra={"start": start.isoformat(), "end": end.isoformat(), **totals})
    return totals


def _mark_refreshed() -> None:
    RollupState.objects.update_or_create(name=STATE_NAME, defaults={"refreshed_at": timezone.now()})


def _history_range(today: date) -> tuple[date, date]:
    """First and last day holding an event or an order (today when there are none; the range
    always reaches today so today's rows exist even before its first event)."""
    bounds = [
        Event.objects.aggregate(a=Min("occurred_at"), b=Max("occurred_at")),
        Order.objects.aggregate(a=Min("placed_at"), b=Max("placed_at")),
    ]
    lows = [b["a"] for b in bounds if b["a"]]
    highs = [b["b"] for b in bounds if b["b"]]
    if not lows:
        return today, today
    low = timezone.localtime(min(lows)).date()
    high = max(timezone.localtime(max(highs)).date(), today)
    return low, high


def rollups_refresh_all() -> dict[str, Any]:
    """Recompute every day of history (an operator's repair after a bulk change)."""
    low, high = _history_range(timezone.localdate())
    return {**rollups_refresh_days(start=low, end=high), "start": low.isoformat(), "end": high.isoformat()}


def _days_to_ranges(days: set[date]) -> list[tuple[date, date]]:
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def rollups_refresh_pending() -> dict[str, Any]:
    """Recompute the days touched since the last run; the first run covers all history.

    Touched days: the occurred_at day of every event received after the watermark (late events
    recompute their own day), the placed_at day of every order changed after it (cancellations
    change GMV), and today. The new watermark is taken *before* reading, so anything arriving
    during the run is seen again next time (re-computing a day twice is harmless).
    """
    started = timezone.now()
    state, _ = RollupState.objects.get_or_create(name=STATE_NAME)
    if state.last_received_at is None:
        ranges = [_history_range(timezone.localdate(started))]
    else:
        days = {timezone.localdate(started)}
        days.update(
            _as_date(d)
            for d in Event.objects.filter(received_at__gt=state.last_received_at)
            .annotate(day=TruncDate("occurred_at"))
            .values_list("day", flat=True)
            .distinct()
        )
        days.update(
            _as_date(d)
            for d in Order.objects.filter(updated_at__gt=state.last_order_updated_at or state.last_received_at)
            .annotate(day=TruncDate("placed_at"))
            .values_list("day", flat=True)
            .distinct()
        )
        ranges = _days_to_ranges(days)
    totals = {"days": 0, "daily": 0, "hourly": 0, "actors": 0, "funnel_entries": 0, "tops": 0, "cohort_cells": 0}
    for low, high in ranges:
        for key, value in rollups_refresh_days(start=low, end=high, with_cohorts=False).items():
            totals[key] += value
    totals["cohort_cells"] = cohorts_refresh()
    snapshots_refresh()
    RollupState.objects.filter(pk=state.pk).update(
        last_received_at=started, last_order_updated_at=started, refreshed_at=timezone.now()
    )
    return {**totals, "ranges": [(a.isoformat(), b.isoformat()) for a, b in ranges]}
