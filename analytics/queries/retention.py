"""Cohort retention: first period of an actor, then the share active in each later period."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import Count, DateField, F, Min, OuterRef, Subquery, Window
from django.db.models.functions import Trunc
from django.utils import timezone

from ecommerce.errors import DomainError
from ecommerce.models import Order

from ..expressions import ORDERS, day_bounds, day_start, event_metric, order_country_expr
from ..models import CohortCell, DailyActor
from .common import EVENT_TYPES, Filters, _segment_actor_keys, _segment_user_ids, _trunc_start


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
        first = (
            Order.objects.not_cancelled()
            .filter(user_id=OuterRef("user_id"))
            .order_by("placed_at")
            .annotate(p=Trunc("placed_at", period))
            .values("p")[:1]
        )
        rows = (
            base.filter(placed_at__lt=t1)
            .annotate(p=Trunc("placed_at", period), cohort=Subquery(first))
            .filter(cohort__gte=day_start(_trunc_start(f.start, period)))
            .values("cohort", "p")
            .annotate(n=Count("user_id", distinct=True))
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
                    metric=metric,
                    period=period,
                    cohort__gte=cohort_from,
                    cohort__lte=f.end,
                    period_start__lte=f.end,
                ).values_list("cohort", "period_start", "actors")
            ]
        else:
            rows = [
                {"cohort": c, "p": p, "n": n}
                for c, p, n in cohort_counts(
                    metric=metric, period=period, end=f.end, country=f.country, segment=f.segment
                )
                if c >= cohort_from
            ]
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


def cohort_counts(
    *, metric: str, period: str, end: date | None = None, country: str = "", segment: str = ""
) -> list[tuple[date, date, int]]:
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
