"""Ordered-step conversion funnels within a time window, optionally broken down."""

from __future__ import annotations

import statistics
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from ecommerce.errors import DomainError
from ecommerce.models import Event, Product, User

from ..expressions import day_bounds
from ..models import SegmentMembership
from .common import EVENT_TYPES, Filters, _category_ids


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


def funnel(
    f: Filters, *, steps: list[str], window_seconds: int, breakdown: str = "", force_raw: bool = False
) -> dict[str, Any]:
    """Ordered funnel: an actor enters at their first step-1 event in the range; step k counts if
    they did it at or after step k-1 and within `window_seconds` of entering.

    Read from the per-actor step table (FunnelEntry) when the steps are a prefix of a stored
    funnel, the window is within the stored one and no category filter applies; otherwise (or
    with `force_raw`, the exactness tests' reference) from raw events."""
    if not 2 <= len(steps) <= 8:
        raise DomainError("A funnel needs 2 to 8 steps.")
    unknown = [s for s in steps if s not in EVENT_TYPES]
    if unknown:
        raise DomainError(f"Unknown step {unknown[0]!r}: steps are event types ({', '.join(EVENT_TYPES)}).")
    if breakdown not in ("", "country", "segment"):
        raise DomainError("breakdown must be '', 'country' or 'segment'.")
    if not 60 <= window_seconds <= 90 * 86400:
        raise DomainError("window must be between 1 minute and 90 days.")
    from ..funnel_store import max_window, stored_funnel_for

    stored = stored_funnel_for(steps)
    if not force_raw and stored and f.category_id is None and window_seconds <= max_window().total_seconds():
        return _funnel_from_entries(f, stored, steps=steps, window_seconds=window_seconds, breakdown=breakdown)
    t0, t1 = day_bounds(f.start, f.end)
    ev_table, user_table = Event._meta.db_table, User._meta.db_table
    mem_table = SegmentMembership._meta.db_table
    seg_table = SegmentMembership._meta.get_field("segment").related_model._meta.db_table
    where = [f"e.type IN ({', '.join(['%s'] * len(set(steps)))})", "e.occurred_at >= %s", "e.occurred_at < %s"]
    params: list[Any] = [*sorted(set(steps)), _sql_datetime(t0), _sql_datetime(t1 + timedelta(seconds=window_seconds))]
    if f.segment:
        where.append(
            f"e.user_id IN (SELECT m.user_id FROM {mem_table} m JOIN {seg_table} s ON s.id = m.segment_id "
            "WHERE s.key = %s)"
        )
        params.append(f.segment)
    if f.country:
        where.append(f"e.user_id IN (SELECT id FROM {user_table} WHERE country = %s)")
        params.append(f.country)
    if f.category_id is not None:
        ids = _category_ids(f.category_id)
        id_list = ", ".join(str(int(i)) for i in ids)
        where.append(
            f"(e.product_id IS NULL OR e.product_id IN (SELECT id FROM {Product._meta.db_table} "
            f"WHERE category_id IN ({id_list})))"
        )
    actor_sql = (
        "CASE WHEN e.user_id IS NOT NULL THEN 'u' || CAST(e.user_id AS TEXT) "
        "WHEN e.anonymous_id <> '' THEN 'a' || e.anonymous_id END"
    )
    ctes = [
        f"ev AS (SELECT {actor_sql} AS actor, e.user_id AS user_id, e.type AS type, e.occurred_at AS occurred_at "
        f"FROM {ev_table} e WHERE {' AND '.join(where)})"
    ]
    ctes.append(
        "s1 AS (SELECT actor, MIN(user_id) AS user_id, MIN(occurred_at) AS t FROM ev "
        "WHERE type = %s AND occurred_at < %s AND actor IS NOT NULL GROUP BY actor)"
    )
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
        group_join = (
            f" LEFT JOIN {mem_table} sm ON sm.user_id = s1.user_id LEFT JOIN {seg_table} sg ON sg.id = sm.segment_id"
        )
    else:
        group_sql, group_join = "''", ""
    joins = " ".join(f"LEFT JOIN s{k} ON s{k}.actor = s1.actor" for k in range(2, len(steps) + 1))
    durations = ", ".join(
        f"CASE WHEN s{k}.t IS NULL THEN NULL ELSE {_seconds_between(f's{k}.t', 's1.t')} END AS d{k}"
        for k in range(2, len(steps) + 1)
    )
    ctes.append(f"f AS (SELECT {group_sql} AS grp, s1.actor AS actor, {durations} FROM s1{group_join} {joins})")
    with_sql = "WITH " + ", ".join(ctes)
    counts_sql = (
        f"{with_sql} SELECT grp, COUNT(*), "
        + ", ".join(f"COUNT(d{k})" for k in range(2, len(steps) + 1))
        + " FROM f GROUP BY grp ORDER BY COUNT(*) DESC"
    )
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

    return _assemble(f, steps, window_seconds, breakdown, count_rows, final_durations)


def _assemble(
    f: Filters,
    steps: list[str],
    window_seconds: int,
    breakdown: str,
    count_rows: list[tuple],
    final_durations: dict[str, list[float]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    def shape(counts: list[int], secs: list[float]) -> dict[str, Any]:
        out_steps = []
        for i, step in enumerate(steps):
            n = counts[i]
            prev = counts[i - 1] if i else n
            out_steps.append(
                {
                    "step": step,
                    "count": n,
                    "conversion_from_previous": round(n / prev, 4) if prev else None,
                    "conversion_from_start": round(n / counts[0], 4) if counts[0] else None,
                    "drop_off": (prev - n) if i else 0,
                }
            )
        return {
            "entered": counts[0],
            "converted": counts[-1],
            "conversion_rate": round(counts[-1] / counts[0], 4) if counts[0] else None,
            "median_seconds_to_convert": statistics.median(secs) if secs else None,
            "step_counts": out_steps,
        }

    total_counts = [0] * len(steps)
    groups = []
    for row in count_rows:
        counts = [int(x) for x in row[1:]]
        groups.append({"group": row[0], **shape(counts, final_durations.get(row[0], []))})
        total_counts = [a + b for a, b in zip(total_counts, counts, strict=True)]
    all_secs = [s for v in final_durations.values() for s in v]
    result = {
        "steps": steps,
        "window_seconds": window_seconds,
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "breakdown": breakdown,
    }
    result.update(shape(total_counts, all_secs))
    if breakdown:
        result["groups"] = groups
        if breakdown == "segment":
            result["note"] = "A shopper in several segments is counted in each of them."
    result.update(extra or {})
    return result


def _funnel_from_entries(
    f: Filters, key: str, *, steps: list[str], window_seconds: int, breakdown: str
) -> dict[str, Any]:
    """The funnel from FunnelEntry: each actor's first entry day in the range, steps within the
    window. Over more actor-days than ANALYTICS_EXACT_ACTOR_DAYS, a uniform sample of actors
    (analytics.sampling) scaled up; exact below."""
    from ..expressions import event_metric
    from ..models import DailyMetric, FunnelEntry
    from ..sampling import level_for, levels_from
    from ..sketches import exact_limit

    qs = FunnelEntry.objects.filter(funnel=key, day__gte=f.start, day__lte=f.end)
    if f.segment:
        qs = qs.filter(user_id__in=SegmentMembership.objects.filter(segment__key=f.segment).values("user_id"))
    if f.country:
        qs = qs.filter(user_id__in=User.objects.filter(country=f.country).values("id"))
    level = 0
    if not f.segment:
        # Entries are actor-days with a step-1 event: the daily rollup already counts them.
        days = DailyMetric.objects.filter(day__gte=f.start, day__lte=f.end, metric=event_metric(steps[0]))
        if f.country:
            days = days.filter(country=f.country)
        level = level_for(sum(days.values_list("actors", flat=True)), exact_limit())
    if level:
        qs = qs.filter(sample__in=levels_from(level))
    n = len(steps)
    columns = [f"d{k}" for k in range(2, n + 1)]
    first: dict[str, tuple] = {}
    for row in qs.order_by("day").values_list("actor", "user_id", *columns):
        first.setdefault(row[0], row)
    groups_of: dict[int, list[str]] = {}
    user_ids = {row[1] for row in first.values() if row[1] is not None}
    if breakdown == "country":
        groups_of = {uid: [c or ""] for uid, c in User.objects.filter(pk__in=user_ids).values_list("pk", "country")}
    elif breakdown == "segment":
        for uid, seg in SegmentMembership.objects.filter(user_id__in=user_ids).values_list("user_id", "segment__key"):
            groups_of.setdefault(uid, []).append(seg)
    missing = "(none)" if breakdown == "segment" else ""
    counts: dict[str, list[int]] = {}
    durations: dict[str, list[float]] = {}
    for row in first.values():
        reached = 1
        for d in row[2:]:
            if d is None or d > window_seconds:
                break
            reached += 1
        for grp in groups_of.get(row[1], [missing]) if breakdown else [""]:
            per = counts.setdefault(grp, [0] * n)
            for i in range(reached):
                per[i] += 1
            if reached == n:
                durations.setdefault(grp, []).append(float(row[n]))
    scale = 1 << level
    count_rows = sorted(((grp, *[c * scale for c in per]) for grp, per in counts.items()), key=lambda r: (-r[1], r[0]))
    extra = {"source": "funnel step table", "sampled_fraction": 1 / scale}
    return _assemble(f, steps, window_seconds, breakdown, count_rows, durations, extra)
