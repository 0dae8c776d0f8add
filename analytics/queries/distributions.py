"""Activity heat-map and the distributions of active shoppers (age, gender, browsing, country)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Count, QuerySet, Sum
from django.db.models.functions import Cast, ExtractHour, ExtractIsoWeekDay, Substr

from ecommerce.errors import DomainError
from ecommerce.models import AGE_BANDS, Event, User, age_band_for

from ..expressions import ACTIVE, ANY, ORDERS, actor_expr, day_bounds, event_metric
from ..models import ActorSketch, DailyMetric, HourlyMetric
from ..sampling import level_for, levels_from
from ..sketches import exact_limit
from .common import EVENT_TYPES, Filters, _actors, _events, _orders


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
            rows = (
                qs.annotate(wd=ExtractIsoWeekDay("occurred_at"), h=ExtractHour("occurred_at"))
                .values("wd", "h")
                .annotate(v=Count("id"))
            )
    else:
        metric = ANY if event == "any" else ORDERS if event == "orders" else event_metric(event)
        rows = (
            HourlyMetric.objects.filter(hour__gte=t0, hour__lt=t1, metric=metric)
            .annotate(wd=ExtractIsoWeekDay("hour"), h=ExtractHour("hour"))
            .values("wd", "h")
            .annotate(v=Sum("count"))
        )
    matrix = [[0] * 24 for _ in range(7)]
    for row in rows:
        matrix[int(row["wd"]) - 1][int(row["h"])] += int(row["v"] or 0)
    return {
        "event": event,
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "matrix": matrix,
    }


BROWSING_BUCKETS = [(1, 1), (2, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, None)]
DISTRIBUTION_FIELDS = ("age", "gender", "browsing_count", "country")


def _active_level(f: Filters) -> int:
    """The sample level of the active-shopper distributions: 0 (every shopper, exact) while the
    range holds at most ANALYTICS_EXACT_ACTOR_DAYS active actor-days, else the smallest level
    that brings it under (analytics.sampling). Segments are bounded by their members: exact."""
    if f.segment:
        return 0
    if f.country:
        days = DailyMetric.objects.filter(day__gte=f.start, day__lte=f.end, metric=ANY, country=f.country)
        total = sum(days.values_list("actors", flat=True))
    else:
        total = sum(
            ActorSketch.objects.filter(day__gte=f.start, day__lte=f.end, metric=ACTIVE).values_list("actors", flat=True)
        )
    return level_for(total, exact_limit())


def _active_users(f: Filters, level: int = 0) -> QuerySet:
    """Registered shoppers active (any event or a non-cancelled order) in the range; with a level,
    only those of that hash sample level or above (1/2^level of them)."""
    keys = _actors(f, [ANY, ORDERS]).filter(actor__startswith="u")
    if level:
        keys = keys.filter(sample__in=levels_from(level))
    # "u<id>" -> id: the users are then looked up by primary key (no scan of every account).
    ids = keys.annotate(user_id=Cast(Substr("actor", 2), BigIntegerField())).values("user_id")
    return User.objects.filter(is_staff=False, pk__in=ids)


def distributions(f: Filters, *, field: str, force_raw: bool = False) -> dict[str, Any]:
    """Active shoppers by age band, gender or country (every one while the range holds at most
    ANALYTICS_EXACT_ACTOR_DAYS actor-days or `force_raw`, else a uniform sample scaled up), or
    the browsing distribution."""
    if field not in DISTRIBUTION_FIELDS:
        raise DomainError(f"Unknown field {field!r}: use one of {', '.join(DISTRIBUTION_FIELDS)}.")
    if field == "browsing_count":
        return browsing_distribution(f, force_raw=force_raw)
    level = 0 if force_raw else _active_level(f)
    users = _active_users(f, level)
    scale = 1 << level
    if field == "age":
        today_year = f.end.year
        counts: dict[str, int] = {}
        unknown = 0
        for birth_year, n in users.values("birth_year").annotate(n=Count("id")).values_list("birth_year", "n"):
            band = age_band_for(today_year - birth_year) if birth_year else ""
            if band:
                counts[band] = counts.get(band, 0) + n * scale
            else:
                unknown += n * scale
        buckets = [{"bucket": label, "count": counts.get(label, 0)} for _, _, label in AGE_BANDS]
        buckets.append({"bucket": "unknown", "count": unknown})
    elif field == "gender":
        labels = dict(User.Gender.choices)
        buckets = [
            {"bucket": str(labels.get(g, g)) if g else "unknown", "count": n * scale}
            for g, n in users.values("gender").annotate(n=Count("id")).order_by("gender").values_list("gender", "n")
        ]
    else:
        buckets = [
            {"bucket": c or "unknown", "count": n * scale}
            for c, n in users.values("country")
            .annotate(n=Count("id"))
            .order_by("-n", "country")
            .values_list("country", "n")
        ]
    return {
        "field": field,
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "population": "active shoppers",
        "buckets": buckets,
        "sampled_fraction": 1 / scale,
    }


def browsing_distribution(f: Filters, *, force_raw: bool = False) -> dict[str, Any]:
    """How many product pages each visitor viewed in the range, as a histogram. The per-visitor
    counts are a GROUP BY inside the database; the bucketing is an outer GROUP BY on that.

    Read from the per-actor-day rollup (DailyActor counts) unless a category filter applies (or
    `force_raw`); over more actor-days than ANALYTICS_EXACT_ACTOR_DAYS from a uniform sample of
    visitors scaled up (analytics.sampling), exact below."""
    level = 0
    if force_raw or f.category_id is not None:
        inner = (
            _events(f)
            .filter(type=Event.Type.PRODUCT_VIEW)
            .annotate(actor=actor_expr())
            .filter(actor__isnull=False)
            .values("actor")
            .annotate(n=Count("id"))
            .values("n")
        )
    else:
        metric = event_metric(Event.Type.PRODUCT_VIEW)
        qs = _actors(f, [metric])
        if not f.segment:
            days = DailyMetric.objects.filter(day__gte=f.start, day__lte=f.end, metric=metric)
            if f.country:
                days = days.filter(country=f.country)
            level = level_for(sum(days.values_list("actors", flat=True)), exact_limit())
        if level:
            qs = qs.filter(sample__in=levels_from(level))
        inner = qs.values("actor").annotate(n=Sum("count")).values("n")
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
    scale = 1 << level
    visitors *= scale
    views *= scale
    buckets = [
        {
            "bucket": f"{low}" if low == high else (f"{low}-{high}" if high else f"{low}+"),
            "count": counts.get(i, 0) * scale,
        }
        for i, (low, high) in enumerate(BROWSING_BUCKETS)
    ]
    return {
        "field": "browsing_count",
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "population": "visitors with at least one product view",
        "visitors": visitors,
        "mean": round(views / visitors, 2) if visitors else None,
        "buckets": buckets,
        "sampled_fraction": 1 / scale,
    }
