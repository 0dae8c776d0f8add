"""The per-day top tables (DailyTop: categories, countries, search terms) and the per-actor
search table (DailySearcher), kept by the rollups: recomputed for a day range by delete + insert,
like every other rollup (rollups._rollup_chunk calls tops_refresh per chunk)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Lower, TruncDate

from ecommerce.bulk import bulk_insert
from ecommerce.models import Event

from .expressions import LINE_VALUE, actor_expr, day_bounds, event_country_expr, gmv_lines, order_country_expr
from .models import DailySearcher, DailyTop
from .sampling import sample_level

CATEGORY, COUNTRY, SEARCH = DailyTop.Dimension.CATEGORY, DailyTop.Dimension.COUNTRY, DailyTop.Dimension.SEARCH


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def category_key(category_id: int | None) -> str:
    return "" if category_id is None else str(category_id)


def search_terms(events):
    """Search events with a term, the term lowercased in the database (as the raw top table does)."""
    return events.filter(type=Event.Type.SEARCH).exclude(query="").annotate(term=Lower("query"))


TOP_COLUMNS = (
    "day",
    "dimension",
    "country",
    "key",
    "revenue",
    "units",
    "orders",
    "count",
    "actors",
    "zero",
    "unrecorded",
)
SEARCHER_COLUMNS = ("day", "term", "actor", "country", "count", "zero", "unrecorded", "sample")


def _rows(start: date, end: date) -> tuple[list[tuple], list[tuple]]:
    t0, t1 = day_bounds(start, end)
    lines = gmv_lines().filter(order__placed_at__gte=t0, order__placed_at__lt=t1)
    events = Event.objects.filter(occurred_at__gte=t0, occurred_at__lt=t1)
    tops: dict[tuple[date, str, str | None, str], dict[str, Any]] = defaultdict(
        lambda: {"revenue": Decimal("0"), "units": 0, "orders": 0, "count": 0, "actors": 0, "zero": 0, "unrecorded": 0}
    )
    # Categories per order country: an order has one country and one day, so distinct orders
    # add up over countries and days.
    for row in (
        lines.filter(product__is_non_product=False)
        .annotate(day=TruncDate("order__placed_at"), ctry=order_country_expr("order__"))
        .values("day", "ctry", "product__category_id")
        .annotate(revenue=Sum(LINE_VALUE), units=Sum("quantity"), orders=Count("order_id", distinct=True))
    ):
        values = {"revenue": row["revenue"] or Decimal("0"), "units": row["units"] or 0, "orders": row["orders"]}
        day, key = _as_date(row["day"]), category_key(row["product__category_id"])
        tops[(day, CATEGORY, row["ctry"], key)].update(values)
        total = tops[(day, CATEGORY, None, key)]
        for field, value in values.items():
            total[field] += value
    for row in (
        lines.annotate(day=TruncDate("order__placed_at"), ctry=order_country_expr("order__"))
        .values("day", "ctry")
        .annotate(revenue=Sum(LINE_VALUE), orders=Count("order_id", distinct=True))
    ):
        tops[(_as_date(row["day"]), COUNTRY, None, row["ctry"])].update(
            revenue=row["revenue"] or Decimal("0"), orders=row["orders"]
        )
    # Search terms per event country, and who searched them (an actor has one event country).
    searchers: dict[tuple[date, str, str], list] = {}
    for row in (
        search_terms(events)
        .annotate(day=TruncDate("occurred_at"), ctry=event_country_expr(), actor=actor_expr())
        .values("day", "ctry", "term", "actor")
        .annotate(
            n=Count("id"),
            zero=Count("id", filter=Q(properties__results=0)),
            unrecorded=Count("id", filter=~Q(properties__has_key="results")),
        )
    ):
        day = _as_date(row["day"])
        values = {"count": row["n"], "zero": row["zero"], "unrecorded": row["unrecorded"]}
        values["actors"] = 1 if row["actor"] is not None else 0
        for ctry in (row["ctry"], None):
            bucket = tops[(day, SEARCH, ctry, row["term"])]
            for field, value in values.items():
                bucket[field] += value
        if row["actor"] is not None:
            searchers[(day, row["term"], row["actor"])] = [row["ctry"], row["n"], row["zero"], row["unrecorded"]]
    return (
        [
            (d, dim, c, k, v["revenue"], v["units"], v["orders"], v["count"], v["actors"], v["zero"], v["unrecorded"])
            for (d, dim, c, k), v in tops.items()
        ],
        [(d, t, a, c, n, z, u, sample_level(a)) for (d, t, a), (c, n, z, u) in searchers.items()],
    )


def tops_refresh(*, start: date, end: date) -> int:
    """Recompute the top tables of the days start..end (inclusive): delete + insert, idempotent."""
    tops, searchers = _rows(start, end)
    with transaction.atomic():
        DailyTop.objects.filter(day__gte=start, day__lte=end).delete()
        DailySearcher.objects.filter(day__gte=start, day__lte=end).delete()
        bulk_insert(DailyTop, TOP_COLUMNS, tops)
        # (term, sample level, day) order: sampled reads touch contiguous pages (as DailyActor).
        bulk_insert(DailySearcher, SEARCHER_COLUMNS, sorted(searchers, key=lambda row: (row[1], row[7], row[0])))
    return len(tops)


def searches_erase(actor_keys: list[str]) -> int:
    """Privacy erasure: remove a shopper's search rows and take their searches out of the per-day
    term counts (a term only they searched disappears), as a refresh after the erasure (which
    blanks their events' search terms) would. Returns the search rows deleted."""
    mine = list(
        DailySearcher.objects.filter(actor__in=actor_keys).values_list(
            "day", "term", "country", "count", "zero", "unrecorded"
        )
    )
    with transaction.atomic():
        for day, term, country, n, zero, unrecorded in mine:
            DailyTop.objects.filter(dimension=SEARCH, day=day, key=term).filter(
                Q(country=country) | Q(country__isnull=True)
            ).update(
                count=F("count") - n,
                actors=F("actors") - 1,
                zero=F("zero") - zero,
                unrecorded=F("unrecorded") - unrecorded,
            )
        days = {day for day, *_ in mine}
        DailyTop.objects.filter(dimension=SEARCH, day__in=days, count__lte=0).delete()
        deleted, _ = DailySearcher.objects.filter(actor__in=actor_keys).delete()
    return deleted
