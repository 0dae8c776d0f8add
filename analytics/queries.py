"""Dashboard queries. Aggregation happens in the database (Trunc*, Count(distinct), Sum, NTILE);
Python only reshapes the aggregated rows. KPIs, trends and the heat-map read the rollup tables
(analytics/rollups.py) unless a filter needs raw rows (segment, category), see docs/analytics.md.

All ranges are dates, both ends inclusive, in the shop's time zone.
"""

from __future__ import annotations

import statistics
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    CharField,
    Count,
    DateField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import (
    Cast,
    Concat,
    ExtractHour,
    ExtractIsoWeekDay,
    Lower,
    Ntile,
    Trunc,
)
from django.utils import timezone

from ecommerce.errors import DomainError
from ecommerce.models import AGE_BANDS, CartItem, Event, Order, Product, User, age_band_for

from .expressions import actor_expr, buyer_expr, day_bounds, day_start, event_country_expr, gmv_lines, order_country_expr
from .models import ActorSketch, CohortCell, DailyActor, DailyMetric, HourlyMetric, SegmentMembership
from .rollups import ACTIVE, ANY, LINE_VALUE, ORDERS, event_metric
from .sketches import estimate, exact_limit

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
            start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1),
            segment=self.segment, country=self.country, category_id=self.category_id,
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
        return estimate(ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=group)
                        .values_list("registers", flat=True))
    return _actors(f, _group_metrics(group)).aggregate(n=Count("actor", distinct=True))["n"]


def _daily_active_sum(f: Filters) -> int:
    """Σ over days of that day's distinct active actors (exact), for DAU."""
    if not f.country and not f.segment:
        return ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=ACTIVE).aggregate(
            n=Sum("actors"))["n"] or 0
    return sum(_actors(f, [ANY, ORDERS]).values("day").annotate(n=Count("actor", distinct=True)).values_list("n", flat=True))


def gmv(f: Filters) -> Decimal:
    """GMV: Σ quantity × unit price over lines with quantity > 0 and price > 0 of non-cancelled orders."""
    return _lines(f).aggregate(v=Sum(LINE_VALUE))["v"] or Decimal("0")


# ---------------------------------------------------------------- KPIs

def _kpi_values(f: Filters, *, force_raw: bool = False) -> dict[str, Any]:
    if f.needs_raw or force_raw:
        orders = _orders(f).aggregate(n=Count("id", distinct=True), buyers=Count(buyer_expr(), distinct=True))
        revenue = gmv(f)
        order_count, buyers = orders["n"], orders["buyers"]
    else:
        rows = DailyMetric.objects.filter(day__gte=f.start, day__lte=f.end, metric=ORDERS)
        if f.country:
            rows = rows.filter(country=f.country)
        agg = rows.aggregate(n=Sum("count"), amount=Sum("amount"))
        order_count, revenue = agg["n"] or 0, agg["amount"] or Decimal("0")
        buyers = distinct_actors(f, ORDERS)
    if f.category_id is not None:
        # Visitors of a category: who viewed or bought in it (raw events of that category).
        visitors = _events(f).aggregate(n=Count(actor_expr(), distinct=True))["n"] + 0
        visitors = max(visitors, buyers)
        daily = list(
            _events(f).annotate(d=Trunc("occurred_at", "day", output_field=DateField()))
            .values("d").annotate(n=Count(actor_expr(), distinct=True)).values_list("n", flat=True)
        )
        wau = mau = None
    else:
        visitors = distinct_actors(f, ACTIVE)
        daily = [_daily_active_sum(f)]
        wau = distinct_actors(Filters(f.end - timedelta(days=6), f.end, f.segment, f.country), ACTIVE)
        mau = distinct_actors(Filters(f.end - timedelta(days=29), f.end, f.segment, f.country), ACTIVE)
    dau = round(sum(daily) / f.days, 2)
    return {
        "visitors": visitors,
        "dau": dau,
        "wau": wau,
        "mau": mau,
        "orders": order_count,
        "customers": buyers,
        "gmv": revenue,
        "aov": (revenue / order_count).quantize(Decimal("0.01")) if order_count else None,
        "conversion_rate": round(buyers / visitors, 4) if visitors else None,
    }


KPI_LABELS = {
    "visitors": "Visitors", "dau": "Daily active (avg)", "wau": "Weekly active (last 7 days)",
    "mau": "Monthly active (last 30 days)", "orders": "Orders", "customers": "Buying customers",
    "gmv": "GMV", "aov": "Average order value", "conversion_rate": "Conversion rate",
}
# Shown on the dashboard: a figure a merchant cannot compare with another tool's is no use.
KPI_DEFINITIONS = {
    "visitors": "Distinct people (signed-in customers and anonymous browsers) with any event or order in the range.",
    "dau": "People active on a day, averaged over the days of the range.",
    "wau": "Distinct people active in the 7 days ending on the range's last day.",
    "mau": "Distinct people active in the 30 days ending on the range's last day.",
    "orders": "Orders placed in the range; cancelled orders are left out.",
    "customers": "Distinct people with at least one order (not cancelled) in the range.",
    "gmv": "Gross merchandise value: quantity × unit price over the lines of orders that were not cancelled; "
           "return lines and free items are left out, shipping and fee lines count.",
    "aov": "GMV ÷ orders. Shopify's average order value divides sales after discounts by orders and GA4's "
           "average purchase revenue divides purchase revenue by purchases: with no discounts they agree.",
    "conversion_rate": "Buying customers ÷ visitors: the share of the people seen in the range who ordered "
                       "(GA4's user conversion rate). Shopify's online-store rate counts sessions that reached "
                       "an order instead, which is lower when people visit several times before buying.",
}


def _change(current: Any, previous: Any) -> float | None:
    if current is None or previous in (None, 0):
        return None
    return round((float(current) - float(previous)) / float(previous), 4)


def kpis(f: Filters, *, force_raw: bool = False) -> dict[str, Any]:
    """KPIs of the range and of the previous period of equal length, with the relative change.
    force_raw computes orders/GMV/buyers from the order tables (tests compare both paths)."""
    current, prev_f = _kpi_values(f, force_raw=force_raw), f.previous()
    previous = _kpi_values(prev_f, force_raw=force_raw)
    return {
        "start": f.start.isoformat(), "end": f.end.isoformat(),
        "previous_start": prev_f.start.isoformat(), "previous_end": prev_f.end.isoformat(),
        "kpis": [
            {"key": key, "label": label, "definition": KPI_DEFINITIONS[key], "value": _num(current[key]),
             "previous": _num(previous[key]), "change": _change(current[key], previous[key])}
            for key, label in KPI_LABELS.items()
        ],
    }


def _num(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


# ---------------------------------------------------------------- trends

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
        rows = HourlyMetric.objects.filter(hour__gte=t0, hour__lt=t1,
                                           metric=ORDERS if metric in ("revenue", "orders") else event_metric(metric))
        field = "amount" if metric == "revenue" else "count"
        for row in rows.values("hour", field):
            values[_fmt_period(row["hour"], "hour")] = row[field]
    elif not raw and metric in ("customers", "visitors") and interval != "hour":
        group = ORDERS if metric == "customers" else ACTIVE
        if interval == "day" and not f.country and not f.segment:
            for day, n in (ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=group)
                           .values_list("day", "actors")):
                values[day.isoformat()] = n  # each day's exact distinct count, stored by the rollup
        elif interval == "day" or not _use_sketches(f, group):
            # A day's distinct count is stored exactly; longer periods are exact below the limit.
            qs = _actors(f, _group_metrics(group))
            for row in (qs.annotate(p=Trunc("day", interval, output_field=DateField())).values("p")
                        .annotate(v=Count("actor", distinct=True))):
                values[_fmt_period(row["p"], interval)] = row["v"]
        else:
            by_period: dict[str, list[bytes]] = {}
            for day, blob in (ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=group)
                              .values_list("day", "registers")):
                by_period.setdefault(_trunc_start(day, interval).isoformat(), []).append(blob)
            values = {key: estimate(blobs) for key, blobs in by_period.items()}
    elif not raw and interval != "hour":
        qs = DailyMetric.objects.filter(day__gte=f.start, day__lte=f.end,
                                        metric=ORDERS if metric in ("revenue", "orders") else event_metric(metric))
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
            qs = _orders(f).annotate(p=Trunc("placed_at", kind)).values("p").annotate(v=Count(buyer_expr(), distinct=True))
        elif metric == "visitors":
            qs = _events(f).annotate(p=Trunc("occurred_at", kind)).values("p").annotate(v=Count(actor_expr(), distinct=True))
        else:
            qs = _events(f).filter(type=metric).annotate(p=Trunc("occurred_at", kind)).values("p").annotate(v=Count("id"))
        for row in qs:
            values[_fmt_period(row["p"], interval)] = row["v"]
    series = [{"period": key, "value": _num(values.get(key, 0) or 0)} for key in _period_keys(f, interval)]
    return {"metric": metric, "interval": interval, "series": series}


# ---------------------------------------------------------------- funnel

def _sql_datetime(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _seconds_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _within_window(later: str, earlier: str) -> str:
    """SQL condition later <= earlier + window (window seconds as the next parameter)."""
    if connection.vendor == "postgresql":
        return f"{later} <= {earlier} + (%s * INTERVAL '1 second')"
    return f"julianday({later}) <= julianday({earlier}) + (%s / 86400.0)"


def funnel(f: Filters, *, steps: list[str], window_seconds: int, breakdown: str = "") -> dict[str, Any]:
    """Ordered funnel: an actor enters at their first step-1 event in the range; step k counts if
    they did it at or after step k-1 and within `window_seconds` of entering."""
    if not 2 <= len(steps) <= 8:
        raise DomainError("A funnel needs 2 to 8 steps.")
    unknown = [s for s in steps if s not in EVENT_TYPES]
    if unknown:
        raise DomainError(f"Unknown step {unknown[0]!r}: steps are event types ({', '.join(EVENT_TYPES)}).")
    if breakdown not in ("", "country", "segment"):
        raise DomainError("breakdown must be '', 'country' or 'segment'.")
    if not 60 <= window_seconds <= 90 * 86400:
        raise DomainError("window must be between 1 minute and 90 days.")
    t0, t1 = day_bounds(f.start, f.end)
    ev_table, user_table = Event._meta.db_table, User._meta.db_table
    mem_table = SegmentMembership._meta.db_table
    seg_table = SegmentMembership._meta.get_field("segment").related_model._meta.db_table
    where = ["e.type IN (%s)" % ", ".join(["%s"] * len(set(steps))), "e.occurred_at >= %s", "e.occurred_at < %s"]
    params: list[Any] = [*sorted(set(steps)), _sql_datetime(t0), _sql_datetime(t1 + timedelta(seconds=window_seconds))]
    if f.segment:
        where.append(f"e.user_id IN (SELECT m.user_id FROM {mem_table} m JOIN {seg_table} s ON s.id = m.segment_id WHERE s.key = %s)")
        params.append(f.segment)
    if f.country:
        where.append(f"e.user_id IN (SELECT id FROM {user_table} WHERE country = %s)")
        params.append(f.country)
    if f.category_id is not None:
        ids = _category_ids(f.category_id)
        where.append("(e.product_id IS NULL OR e.product_id IN (SELECT id FROM %s WHERE category_id IN (%s)))"
                     % (Product._meta.db_table, ", ".join(str(int(i)) for i in ids)))
    actor_sql = ("CASE WHEN e.user_id IS NOT NULL THEN 'u' || CAST(e.user_id AS TEXT) "
                 "WHEN e.anonymous_id <> '' THEN 'a' || e.anonymous_id END")
    ctes = [f"ev AS (SELECT {actor_sql} AS actor, e.user_id AS user_id, e.type AS type, e.occurred_at AS occurred_at "
            f"FROM {ev_table} e WHERE {' AND '.join(where)})"]
    ctes.append("s1 AS (SELECT actor, MIN(user_id) AS user_id, MIN(occurred_at) AS t FROM ev "
                "WHERE type = %s AND occurred_at < %s AND actor IS NOT NULL GROUP BY actor)")
    params += [steps[0], _sql_datetime(t1)]
    for k in range(2, len(steps) + 1):
        ctes.append(
            f"s{k} AS (SELECT p.actor AS actor, MIN(ev.occurred_at) AS t FROM s{k - 1} p "
            f"JOIN s1 ON s1.actor = p.actor JOIN ev ON ev.actor = p.actor AND ev.type = %s "
            f"AND ev.occurred_at >= p.t AND {_within_window('ev.occurred_at', 's1.t')} GROUP BY p.actor)"
        )
        params += [steps[k - 1], window_seconds]
    if breakdown == "country":
        group_sql = f"COALESCE((SELECT u.country FROM {user_table} u WHERE u.id = s1.user_id), '')"
        group_join = ""
    elif breakdown == "segment":
        group_sql = "COALESCE(sg.key, '(none)')"
        group_join = (f" LEFT JOIN {mem_table} sm ON sm.user_id = s1.user_id "
                      f"LEFT JOIN {seg_table} sg ON sg.id = sm.segment_id")
    else:
        group_sql, group_join = "''", ""
    joins = " ".join(f"LEFT JOIN s{k} ON s{k}.actor = s1.actor" for k in range(2, len(steps) + 1))
    durations = ", ".join(
        f"CASE WHEN s{k}.t IS NULL THEN NULL ELSE {_seconds_between(f's{k}.t', 's1.t')} END AS d{k}"
        for k in range(2, len(steps) + 1)
    )
    ctes.append(f"f AS (SELECT {group_sql} AS grp, s1.actor AS actor, {durations} FROM s1{group_join} {joins})")
    with_sql = "WITH " + ", ".join(ctes)
    counts_sql = (f"{with_sql} SELECT grp, COUNT(*), "
                  + ", ".join(f"COUNT(d{k})" for k in range(2, len(steps) + 1))
                  + " FROM f GROUP BY grp ORDER BY COUNT(*) DESC")
    # PostgreSQL: a transaction so that SET LOCAL ends with it. Not on SQLite, whose IMMEDIATE
    # transactions would take the write lock for a read.
    scope = transaction.atomic() if connection.vendor == "postgresql" else nullcontext()
    with scope, connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The CTEs carry no statistics; PostgreSQL then picks nested loops over the actor
            # joins, 70x slower at 200k events than hash joins (measured, docs/benchmarks).
            cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(counts_sql, params)
        count_rows = cursor.fetchall()
        # Median time to convert is computed from converters' durations (one number per
        # converting actor, never raw events): SQLite has no percentile aggregate.
        cursor.execute(f"{with_sql} SELECT grp, d{len(steps)} FROM f WHERE d{len(steps)} IS NOT NULL", params)
        final_durations: dict[str, list[float]] = {}
        for grp, seconds in cursor.fetchall():
            final_durations.setdefault(grp, []).append(float(seconds))

    def shape(counts: list[int], secs: list[float]) -> dict[str, Any]:
        out_steps = []
        for i, step in enumerate(steps):
            n = counts[i]
            prev = counts[i - 1] if i else n
            out_steps.append({
                "step": step, "count": n,
                "conversion_from_previous": round(n / prev, 4) if prev else None,
                "conversion_from_start": round(n / counts[0], 4) if counts[0] else None,
                "drop_off": (prev - n) if i else 0,
            })
        return {"entered": counts[0], "converted": counts[-1],
                "conversion_rate": round(counts[-1] / counts[0], 4) if counts[0] else None,
                "median_seconds_to_convert": statistics.median(secs) if secs else None,
                "step_counts": out_steps}

    total_counts = [0] * len(steps)
    groups = []
    for row in count_rows:
        counts = [int(x) for x in row[1:]]
        groups.append({"group": row[0], **shape(counts, final_durations.get(row[0], []))})
        total_counts = [a + b for a, b in zip(total_counts, counts, strict=True)]
    all_secs = [s for v in final_durations.values() for s in v]
    result = {"steps": steps, "window_seconds": window_seconds, "start": f.start.isoformat(),
              "end": f.end.isoformat(), "breakdown": breakdown}
    result.update(shape(total_counts, all_secs))
    if breakdown:
        result["groups"] = groups
        if breakdown == "segment":
            result["note"] = "A shopper in several segments is counted in each of them."
    return result


# ---------------------------------------------------------------- retention

def _offset(cohort: date, period: date, unit: str) -> int:
    if unit == "month":
        return (period.year - cohort.year) * 12 + period.month - cohort.month
    return (period - cohort).days // 7


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def retention(f: Filters, *, period: str, event: str = "purchase", force_raw: bool = False) -> dict[str, Any]:
    """Cohort table. event=purchase: cohort = period of the customer's first non-cancelled order
    (ever), active = placed a non-cancelled order in the period. Any other event type: cohort =
    period of the actor's first such event, active = did that event.

    Read from DailyActor (one row per active actor-day, so the cost follows active customers,
    not events or order lines); force_raw=True computes purchases from the order table instead
    (tests and the exactness check compare both)."""
    if period not in ("week", "month"):
        raise DomainError("period must be 'week' or 'month'.")
    if event != "purchase" and event not in EVENT_TYPES:
        raise DomainError(f"Unknown event {event!r}: use purchase or an event type.")
    t0, t1 = day_bounds(f.start, f.end)
    if event == "purchase" and force_raw:
        base = Order.objects.not_cancelled().filter(user__isnull=False)
        if f.country:
            base = base.annotate(ctry=order_country_expr()).filter(ctry=f.country)
        first = (Order.objects.not_cancelled().filter(user_id=OuterRef("user_id"))
                 .order_by("placed_at").annotate(p=Trunc("placed_at", period)).values("p")[:1])
        rows = (
            base.filter(placed_at__lt=t1)
            .annotate(p=Trunc("placed_at", period), cohort=Subquery(first))
            .filter(cohort__gte=day_start(_trunc_start(f.start, period)))
            .values("cohort", "p").annotate(n=Count("user_id", distinct=True))
        )
        if f.segment:
            rows = rows.filter(user_id__in=_segment_user_ids(f.segment))
    else:
        metric = ORDERS if event == "purchase" else event_metric(event)
        cohort_from = _trunc_start(f.start, period)
        if metric == ORDERS and not f.country and not f.segment:
            # Precomputed by the rollup task (CohortCell): O(cohorts × periods) to read.
            rows = [
                {"cohort": c, "p": p, "n": n}
                for c, p, n in CohortCell.objects.filter(
                    metric=metric, period=period, cohort__gte=cohort_from, cohort__lte=f.end, period_start__lte=f.end,
                ).values_list("cohort", "period_start", "actors")
            ]
        else:
            rows = [{"cohort": c, "p": p, "n": n}
                    for c, p, n in cohort_counts(metric=metric, period=period, end=f.end, country=f.country,
                                                 segment=f.segment) if c >= cohort_from]
    table: dict[date, dict[int, int]] = {}
    for row in rows:
        cohort, p = _as_date(row["cohort"]), _as_date(row["p"])
        if cohort > f.end:
            continue
        table.setdefault(cohort, {})[_offset(cohort, p, period)] = row["n"]
    last = _as_date(_trunc_start(f.end, period))
    cohorts = []
    for cohort in sorted(table):
        width = _offset(cohort, last, period) + 1
        retained = [table[cohort].get(k, 0) for k in range(width)]
        cohorts.append({"cohort": cohort.isoformat(), "size": retained[0], "retained": retained})
    return {"period": period, "event": event, "cohorts": cohorts}


def cohort_counts(*, metric: str, period: str, end: date | None = None, country: str = "",
                  segment: str = "") -> list[tuple[date, date, int]]:
    """(cohort, period, distinct actors) from the actor-day rollup: cohort = the actor's first
    period (a window MIN over the actor's rows), then one GROUP BY (cohort, period)."""
    base = DailyActor.objects.filter(metric=metric)
    if end is not None:
        base = base.filter(day__lte=end)
    if country:
        base = base.filter(country=country)
    if segment:
        base = base.filter(actor__in=_segment_actor_keys(segment))
    inner = base.annotate(
        p=Trunc("day", period, output_field=DateField()),
        cohort=Window(Min(Trunc("day", period, output_field=DateField())), partition_by=[F("actor")]),
    ).values("actor", "p", "cohort")
    inner_sql, inner_params = inner.query.sql_with_params()
    sql = f"SELECT cohort, p, COUNT(DISTINCT actor) FROM ({inner_sql}) AS cohorts GROUP BY cohort, p"
    with connection.cursor() as cursor:
        cursor.execute(sql, inner_params)
        return [(_parse_date(c), _parse_date(p), int(n)) for c, p, n in cursor.fetchall()]


def _parse_date(value: Any) -> date:
    """Raw cursors give dates (PostgreSQL) or ISO strings (SQLite)."""
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return _as_date(value)


def _trunc_start(day: date, period: str) -> Any:
    if period == "month":
        start = day.replace(day=1)
    else:
        start = day - timedelta(days=day.weekday())
    return start


# ---------------------------------------------------------------- top tables

TOP_DIMENSIONS = ("products", "categories", "searches", "zero_result_searches", "abandoned_carts", "countries")


def top(f: Filters, *, dimension: str, limit: int = 10) -> dict[str, Any]:
    """Top rows of a dimension. Products and categories rank by GMV (fee lines such as postage,
    Product.is_non_product, are not products and are left out here, though they count in GMV)."""
    if dimension not in TOP_DIMENSIONS:
        raise DomainError(f"Unknown dimension {dimension!r}: use one of {', '.join(TOP_DIMENSIONS)}.")
    limit = max(1, min(int(limit), 200))
    if dimension == "products":
        rows = (
            _lines(f).filter(product__is_non_product=False)
            .values("product_id", "product__sku", "product__title")
            .annotate(revenue=Sum(LINE_VALUE), units=Sum("quantity"), orders=Count("order_id", distinct=True))
            .order_by("-revenue", "product_id")[:limit]
        )
        items = [{"product_id": r["product_id"], "sku": r["product__sku"], "title": r["product__title"],
                  "revenue": _num(r["revenue"]), "units": r["units"], "orders": r["orders"]} for r in rows]
        views = dict(
            _events(f).filter(type=Event.Type.PRODUCT_VIEW, product_id__in=[i["product_id"] for i in items])
            .values("product_id").annotate(n=Count("id")).values_list("product_id", "n")
        )
        for item in items:
            item["views"] = views.get(item["product_id"], 0)
    elif dimension == "categories":
        rows = (
            _lines(f).filter(product__is_non_product=False)
            .values("product__category_id", "product__category__name")
            .annotate(revenue=Sum(LINE_VALUE), units=Sum("quantity"), orders=Count("order_id", distinct=True))
            .order_by("-revenue", "product__category_id")[:limit]
        )
        items = [{"category_id": r["product__category_id"], "name": r["product__category__name"] or "(none)",
                  "revenue": _num(r["revenue"]), "units": r["units"], "orders": r["orders"]} for r in rows]
    elif dimension == "countries":
        rows = (
            _lines(f).annotate(ctry=order_country_expr("order__")).values("ctry")
            .annotate(revenue=Sum(LINE_VALUE), orders=Count("order_id", distinct=True))
            .order_by("-revenue", "ctry")[:limit]
        )
        items = [{"country": r["ctry"] or "(unknown)", "revenue": _num(r["revenue"]), "orders": r["orders"]} for r in rows]
    elif dimension == "searches":
        rows = (
            _events(f).filter(type=Event.Type.SEARCH).exclude(query="").annotate(term=Lower("query"))
            .values("term").annotate(searches=Count("id"), searchers=Count(actor_expr(), distinct=True))
            .order_by("-searches", "term")[:limit]
        )
        items = [{"term": r["term"], "searches": r["searches"], "searchers": r["searchers"]} for r in rows]
    elif dimension == "zero_result_searches":
        items = _zero_result_searches(f, limit)
    else:
        return abandoned_carts(f, limit=limit)
    return {"dimension": dimension, "start": f.start.isoformat(), "end": f.end.isoformat(), "items": items}


def _zero_result_searches(f: Filters, limit: int) -> list[dict[str, Any]]:
    """Searches that found nothing. Events that recorded `properties.results` are taken at their
    word; for terms logged without it, the term is checked against today's sellable catalog
    (title, description or category name contains it)."""
    searches = _events(f).filter(type=Event.Type.SEARCH).exclude(query="").annotate(term=Lower("query"))
    recorded = (
        searches.filter(properties__results=0).values("term")
        .annotate(searches=Count("id")).order_by("-searches", "term")[:limit]
    )
    found = {r["term"]: {"term": r["term"], "searches": r["searches"], "source": "recorded"} for r in recorded}
    unrecorded = (
        searches.filter(~Q(properties__has_key="results")).values("term")
        .annotate(searches=Count("id")).order_by("-searches", "term")[:200]
    )
    sellable = Product.objects.sellable()
    for row in unrecorded:
        term = row["term"]
        hit = sellable.filter(Q(title__icontains=term) | Q(description__icontains=term) | Q(category__name__icontains=term)).exists()
        if not hit:
            entry = found.setdefault(term, {"term": term, "searches": 0, "source": "catalog"})
            entry["searches"] += row["searches"]
    return sorted(found.values(), key=lambda r: (-r["searches"], r["term"]))[:limit]


def abandoned_carts(f: Filters, *, limit: int = 20, idle_hours: int = 24) -> dict[str, Any]:
    """Carts with items, untouched for `idle_hours`, last changed within the range: the value left
    in them (current prices) and the total over all such carts."""
    t0, t1 = day_bounds(f.start, f.end)
    cutoff = min(t1, timezone.now() - timedelta(hours=idle_hours))
    items = CartItem.objects.filter(cart__updated_at__gte=t0, cart__updated_at__lt=cutoff)
    if f.segment:
        items = items.filter(cart__user_id__in=_segment_user_ids(f.segment))
    if f.country:
        items = items.filter(cart__user__country=f.country)
    if f.category_id is not None:
        items = items.filter(product__category_id__in=_category_ids(f.category_id))
    value = F("quantity") * F("product__price")
    per_cart = (
        items.values("cart_id", "cart__user_id", "cart__updated_at")
        .annotate(value=Sum(value), units=Sum("quantity"), lines=Count("id"))
        .order_by("-value", "cart_id")
    )
    totals = items.aggregate(value=Sum(value), carts=Count("cart_id", distinct=True))
    rows = [{"cart_id": r["cart_id"], "user_id": r["cart__user_id"], "updated_at": r["cart__updated_at"].isoformat(),
             "lines": r["lines"], "units": r["units"], "value": _num(r["value"])} for r in per_cart[:limit]]
    return {"dimension": "abandoned_carts", "start": f.start.isoformat(), "end": f.end.isoformat(),
            "idle_hours": idle_hours, "carts": totals["carts"], "value_left": _num(totals["value"] or Decimal("0")),
            "items": rows}


# ---------------------------------------------------------------- heat-map

def heatmap(f: Filters, *, event: str = "any") -> dict[str, Any]:
    """Activity by ISO weekday (1 = Monday) × hour of day, in the shop's time zone."""
    if event not in ("any", "orders") and event not in EVENT_TYPES:
        raise DomainError(f"Unknown event {event!r}: use any, orders or an event type.")
    t0, t1 = day_bounds(f.start, f.end)
    if f.needs_raw or f.country:
        if event == "orders":
            qs = _orders(f).annotate(wd=ExtractIsoWeekDay("placed_at"), h=ExtractHour("placed_at"))
            rows = qs.values("wd", "h").annotate(v=Count("id", distinct=True))
        else:
            qs = _events(f)
            if event != "any":
                qs = qs.filter(type=event)
            rows = qs.annotate(wd=ExtractIsoWeekDay("occurred_at"), h=ExtractHour("occurred_at")).values("wd", "h").annotate(v=Count("id"))
    else:
        metric = ANY if event == "any" else ORDERS if event == "orders" else event_metric(event)
        rows = (
            HourlyMetric.objects.filter(hour__gte=t0, hour__lt=t1, metric=metric)
            .annotate(wd=ExtractIsoWeekDay("hour"), h=ExtractHour("hour"))
            .values("wd", "h").annotate(v=Sum("count"))
        )
    matrix = [[0] * 24 for _ in range(7)]
    for row in rows:
        matrix[int(row["wd"]) - 1][int(row["h"])] += int(row["v"] or 0)
    return {"event": event, "start": f.start.isoformat(), "end": f.end.isoformat(),
            "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "matrix": matrix}


# ---------------------------------------------------------------- distributions

BROWSING_BUCKETS = [(1, 1), (2, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, None)]
DISTRIBUTION_FIELDS = ("age", "gender", "browsing_count", "country")


def _active_users(f: Filters) -> QuerySet:
    """Registered shoppers active (any event or a non-cancelled order) in the range."""
    keys = _actors(f, [ANY, ORDERS]).filter(actor__startswith="u").values("actor")
    return (User.objects.filter(is_staff=False)
            .annotate(actor_key=Concat(Value("u"), Cast("id", CharField()), output_field=CharField()))
            .filter(actor_key__in=keys))


def distributions(f: Filters, *, field: str) -> dict[str, Any]:
    if field not in DISTRIBUTION_FIELDS:
        raise DomainError(f"Unknown field {field!r}: use one of {', '.join(DISTRIBUTION_FIELDS)}.")
    if field == "browsing_count":
        return browsing_distribution(f)
    users = _active_users(f)
    if field == "age":
        today_year = f.end.year
        counts: dict[str, int] = {}
        unknown = 0
        for birth_year, n in users.values("birth_year").annotate(n=Count("id")).values_list("birth_year", "n"):
            band = age_band_for(today_year - birth_year) if birth_year else ""
            if band:
                counts[band] = counts.get(band, 0) + n
            else:
                unknown += n
        buckets = [{"bucket": label, "count": counts.get(label, 0)} for _, _, label in AGE_BANDS]
        buckets.append({"bucket": "unknown", "count": unknown})
    elif field == "gender":
        labels = dict(User.Gender.choices)
        buckets = [{"bucket": str(labels.get(g, g)) if g else "unknown", "count": n}
                   for g, n in users.values("gender").annotate(n=Count("id")).order_by("gender").values_list("gender", "n")]
    else:
        buckets = [{"bucket": c or "unknown", "count": n}
                   for c, n in users.values("country").annotate(n=Count("id")).order_by("-n", "country").values_list("country", "n")]
    return {"field": field, "start": f.start.isoformat(), "end": f.end.isoformat(), "population": "active shoppers",
            "buckets": buckets}


def browsing_distribution(f: Filters) -> dict[str, Any]:
    """How many product pages each visitor viewed in the range, as a histogram. The per-visitor
    counts are a GROUP BY inside the database; the bucketing is an outer GROUP BY on that."""
    inner = (
        _events(f).filter(type=Event.Type.PRODUCT_VIEW).annotate(actor=actor_expr())
        .filter(actor__isnull=False).values("actor").annotate(n=Count("id")).values("n")
    )
    inner_sql, params = inner.query.sql_with_params()
    cases = " ".join(
        f"WHEN n >= {low} AND n <= {high} THEN {i}" if high else f"WHEN n >= {low} THEN {i}"
        for i, (low, high) in enumerate(BROWSING_BUCKETS)
    )
    sql = f"SELECT CASE {cases} END AS b, COUNT(*), SUM(n) FROM ({inner_sql}) AS per_actor GROUP BY b"
    counts = {}
    visitors = views = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for bucket, n, total in cursor.fetchall():
            counts[int(bucket)] = int(n)
            visitors += int(n)
            views += int(total or 0)
    buckets = [{"bucket": f"{low}" if low == high else (f"{low}-{high}" if high else f"{low}+"), "count": counts.get(i, 0)}
               for i, (low, high) in enumerate(BROWSING_BUCKETS)]
    return {"field": "browsing_count", "start": f.start.isoformat(), "end": f.end.isoformat(),
            "population": "visitors with at least one product view", "visitors": visitors,
            "mean": round(views / visitors, 2) if visitors else None, "buckets": buckets}


# ---------------------------------------------------------------- RFM

RFM_SEGMENTS = [
    # (key, name, description, predicate on (r, f)) — the classic R×F segment map.
    ("champions", "Champions", "Bought recently, buy often and spend the most.", lambda r, f: r == 5 and f >= 4),
    ("loyal", "Loyal", "Buy regularly; responsive to promotions.", lambda r, f: r in (3, 4) and f >= 4),
    ("potential-loyalist", "Potential loyalist", "Recent customers with average frequency.", lambda r, f: r >= 4 and f in (2, 3)),
    ("new-customers", "New customers", "Bought most recently, but only once or rarely.", lambda r, f: r == 5 and f == 1),
    ("promising", "Promising", "Recent shoppers who have not bought much yet.", lambda r, f: r == 4 and f == 1),
    ("need-attention", "Need attention", "Above-average recency and frequency, slipping.", lambda r, f: r == 3 and f == 3),
    ("about-to-sleep", "About to sleep", "Below-average recency and frequency.", lambda r, f: r == 3 and f <= 2),
    ("cant-lose-them", "Can't lose them", "Used to buy very often, long ago.", lambda r, f: r <= 2 and f == 5),
    ("at-risk", "At risk", "Bought often, but a long time ago.", lambda r, f: r <= 2 and f in (3, 4)),
    ("hibernating", "Hibernating", "Last bought long ago, rarely.", lambda r, f: r <= 2 and f <= 2),
]


def rfm_segment_for(r: int, f: int) -> tuple[str, str]:
    for key, name, _, predicate in RFM_SEGMENTS:
        if predicate(r, f):
            return key, name
    raise ValueError(f"no RFM segment for r={r} f={f}")  # the map covers all 25 cells


def rfm_scores(*, as_of: date | None = None) -> tuple[date, list[dict[str, Any]]]:
    """Per registered customer: recency (days since the last non-cancelled order before `as_of`),
    frequency (non-cancelled orders), monetary (GMV), each scored 1–5 by quintile with NTILE(5)
    in the database (5 = best: most recent, most frequent, highest spend). Ties are broken by the
    other measures then the user id, so scores are deterministic."""
    if as_of is None:
        last = Order.objects.not_cancelled().aggregate(d=Max("placed_at"))["d"]
        as_of = (timezone.localtime(last).date() + timedelta(days=1)) if last else timezone.localdate()
    cutoff = day_start(as_of)
    positive = Q(items__quantity__gt=0, items__unit_price__gt=0)
    qs = (
        Order.objects.not_cancelled().filter(user__isnull=False, placed_at__lt=cutoff)
        .values("user_id")
        .annotate(
            last=Max("placed_at"),
            frequency=Count("id", distinct=True),
            monetary=Sum(F("items__quantity") * F("items__unit_price"), filter=positive),
        )
        .annotate(
            r_score=Window(Ntile(5), order_by=[F("last").asc(), F("frequency").asc(), F("user_id").asc()]),
            f_score=Window(Ntile(5), order_by=[F("frequency").asc(), F("monetary").asc(nulls_first=True), F("user_id").asc()]),
            m_score=Window(Ntile(5), order_by=[F("monetary").asc(nulls_first=True), F("frequency").asc(), F("user_id").asc()]),
        )
        .order_by("user_id")
    )
    rows = []
    for row in qs:
        key, name = rfm_segment_for(row["r_score"], row["f_score"])
        rows.append({
            "user_id": row["user_id"],
            "recency_days": (as_of - timezone.localtime(row["last"]).date()).days,
            "frequency": row["frequency"], "monetary": row["monetary"] or Decimal("0"),
            "r": row["r_score"], "f": row["f_score"], "m": row["m_score"],
            "segment": key, "segment_name": name,
        })
    return as_of, rows


def rfm_summary(*, as_of: date | None = None) -> dict[str, Any]:
    as_of, rows = rfm_scores(as_of=as_of)
    total = len(rows)
    summary = []
    for key, name, description, _ in RFM_SEGMENTS:
        members = [r for r in rows if r["segment"] == key]
        value = sum((r["monetary"] for r in members), Decimal("0"))
        summary.append({
            "key": f"rfm-{key}", "name": name, "description": description, "size": len(members),
            "share": round(len(members) / total, 4) if total else 0.0,
            "monetary": float(value),
            "avg_recency_days": round(statistics.mean(r["recency_days"] for r in members), 1) if members else None,
            "avg_frequency": round(statistics.mean(r["frequency"] for r in members), 2) if members else None,
            "avg_monetary": round(float(value) / len(members), 2) if members else None,
        })
    grid = [[0] * 5 for _ in range(5)]
    for r in rows:
        grid[r["r"] - 1][r["f"] - 1] += 1
    # as_of is exclusive (scores count orders placed before it); people read "as of" as the last
    # day included, so the page shows orders_through.
    return {"as_of": as_of.isoformat(), "orders_through": (as_of - timedelta(days=1)).isoformat(),
            "customers": total, "segments": summary, "grid_r_by_f": grid}
