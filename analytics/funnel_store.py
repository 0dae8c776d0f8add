"""The per-actor step table behind the dashboard's funnels (FunnelEntry), kept by the rollups.

For each stored funnel and each day, every actor who did the first step that day gets one row:
the time of that day's first step-1 event and, greedily, the seconds to the earliest step k at or
after step k-1 within the longest window (ANALYTICS_FUNNEL_MAX_WINDOW_DAYS). Steps of a day D can
happen up to that window after D, so refreshing days a..b recomputes the entries of days
a - window .. b (rollups.rollups_refresh_days does).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ecommerce.bulk import bulk_insert
from ecommerce.models import Event

from .expressions import actor_expr, day_bounds
from .models import FunnelEntry
from .queries.common import DEFAULT_FUNNEL
from .sampling import sample_level

# The funnels kept as step tables. A requested funnel whose steps are a prefix of one of these
# (2 steps or more) and whose window is at most the stored window is read from the table.
STORED_FUNNELS: dict[str, list[str]] = {"default": list(DEFAULT_FUNNEL)}


def max_window() -> timedelta:
    return timedelta(days=int(settings.ANALYTICS_FUNNEL_MAX_WINDOW_DAYS))


def stored_funnel_for(steps: list[str]) -> str | None:
    for key, stored in STORED_FUNNELS.items():
        if 2 <= len(steps) <= len(stored) and stored[: len(steps)] == steps:
            return key
    return None


ENTRY_COLUMNS = ("funnel", "day", "actor", "user_id", "sample", "entered_at", "d2", "d3", "d4", "d5", "d6", "d7", "d8")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _step_events(steps: list[str], t0: datetime, t1: datetime):
    """(actor, type, µs since the epoch) of the step events in [t0, t1): integer microseconds
    keep durations exact; PostgreSQL computes them (parsing ~1M timestamps in Python took most
    of a 5M-event refresh), SQLite returns datetimes converted here."""
    qs = (
        Event.objects.filter(occurred_at__gte=t0, occurred_at__lt=t1, type__in=set(steps))
        .annotate(actor=actor_expr())
        .filter(actor__isnull=False)
    )
    if connection.vendor == "postgresql":
        micros = RawSQL("(EXTRACT(EPOCH FROM occurred_at) * 1000000)::bigint", [], output_field=BigIntegerField())
        yield from qs.annotate(us=micros).values_list("actor", "type", "us").iterator(chunk_size=20_000)
        return
    for actor, kind, when in qs.values_list("actor", "type", "occurred_at").iterator(chunk_size=20_000):
        yield actor, kind, (when - EPOCH) // MICROSECOND


def _entries(key: str, steps: list[str], start: date, end: date) -> list[tuple]:
    window = max_window() // MICROSECOND
    t0, t1 = day_bounds(start, end)
    lo, hi = (t0 - EPOCH) // MICROSECOND, (t1 - EPOCH) // MICROSECOND
    by_actor: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for actor, kind, us in _step_events(steps, t0, t1 + max_window()):
        by_actor[actor][kind].append(us)
    tz = timezone.get_current_timezone()
    out = []
    for actor, times in by_actor.items():
        for kind in times:
            times[kind].sort()
        firsts: dict[date, int] = {}
        for us in times.get(steps[0], ()):
            if lo <= us < hi:
                day = (EPOCH + us * MICROSECOND).astimezone(tz).date()
                if day not in firsts:
                    firsts[day] = us
        if not firsts:
            continue
        user_id = int(actor[1:]) if actor.startswith("u") else None
        level = sample_level(actor)
        for day, entered in firsts.items():
            limit = entered + window
            previous = entered
            durations: list[float | None] = []
            for step in steps[1:]:
                candidates = times.get(step, [])
                i = bisect_left(candidates, previous)
                if i == len(candidates) or candidates[i] > limit:
                    break
                previous = candidates[i]
                durations.append((previous - entered) / 1_000_000)
            durations += [None] * (7 - len(durations))
            out.append((key, day, actor, user_id, level, EPOCH + entered * MICROSECOND, *durations))
    return out


def funnel_entries_refresh(*, start: date, end: date) -> int:
    """Recompute every stored funnel's entries of the days start..end (delete + insert)."""
    written = 0
    for key, steps in STORED_FUNNELS.items():
        entries = _entries(key, steps, start, end)
        with transaction.atomic():
            FunnelEntry.objects.filter(funnel=key, day__gte=start, day__lte=end).delete()
            # (sample level, day) order: sampled reads touch contiguous pages (as DailyActor).
            bulk_insert(FunnelEntry, ENTRY_COLUMNS, sorted(entries, key=lambda row: (row[4], row[1])))
        written += len(entries)
    return written
