"""Range partitions of the event log by time (PostgreSQL declarative partitioning).

On PostgreSQL `ecommerce_event` is a table partitioned by RANGE (occurred_at), with a DEFAULT
partition `ecommerce_event_default` for rows no partition covers yet (an import of old history, a
client with a wrong clock). SQLite keeps the plain table (`is_partitioned()` is False there and
every function here does nothing).

How big a partition is matters for ingestion: every insert updates the nine indexes of the
partition it lands in, and the random keys among them (the event id, the visitor) touch a page per
row wherever the partition has grown large. Measured with the same 1,000-event batches
(benchmarks/ingest_partition_size.py, docs/benchmarks/ingestion.md), the rate falls as the
partition grows (0.74x the empty-partition rate at 1.8M rows). How many partitions there are matters
for reads: a query that cannot prune by time (a shopper's recent views, erasure, the late-event
scan) is planned over every partition, about 0.3-0.5 ms each (100-200 ms for a year of days).
So:

- The partitions where live ingestion writes (this month and after) are whole months, or days
  for a busy shop: EVENT_PARTITION_INTERVAL `month`, `day`, or `auto` (days when the last 7 days'
  rate would put more than EVENT_PARTITION_TARGET_ROWS events in a month).
- Once a month is over (EVENT_PARTITION_COMPACT_AFTER_DAYS later, when late events have stopped
  arriving), `event_partitions_compact` merges its days into one month partition, so a year of a
  busy shop is 12 month partitions plus this month's days, not 365 tables.
- Partitions created for months already past (an import of history) are whole months.

Names: a whole calendar month is `ecommerce_event_pYYYY_MM`; a day, or a piece of a month between
existing partitions, is `ecommerce_event_pYYYY_MM_DD` (its first day). Bounds are UTC midnights and
read from the catalogue, so partitions of different sizes live side by side and a change of interval
applies from the first period not yet created (empty partitions ahead that are larger than the new
interval are dropped and recreated smaller).

- `event_partitions_ensure` creates the partitions from the start of this month to
  EVENT_PARTITIONS_AHEAD periods after the current one, and moves the rows that fell into the
  default partition into partitions of their own. Beat runs it daily, then the compaction
  (`ecommerce.ensure_event_partitions`); importers call `event_partitions_ensure_for` with the
  times of the rows they are about to write, so an import of past years goes straight into its
  months.
- `event_partitions_detach` detaches the partitions wholly before a date: they stay as plain
  tables (archive them with pg_dump, then DROP), or are dropped with `drop=True`.

New partitions are built as plain tables and ATTACHed, which locks the parent only in SHARE
UPDATE EXCLUSIVE mode: ingestion and dashboard reads go on while a partition is added.

The primary key of a partitioned table must contain the partition key, so it is
(id, occurred_at): a replayed event (same client id and timestamp) is still a duplicate and is
skipped by ON CONFLICT DO NOTHING. An id reused with a *different* timestamp is a different
event. Every writer in this project replays with the same timestamp (the tracker resends the
same batch; server-side facts use a uuid5 id and the fact's own time).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

TABLE = "ecommerce_event"
DEFAULT_PARTITION = f"{TABLE}_default"
INTERVALS = ("month", "day")
# The longest span of a partition of each interval: an empty partition ahead that is longer than
# the chosen interval's is recreated smaller.
_MAX_SPAN = {"month": timedelta(days=31), "day": timedelta(days=1)}
# Time ranges known to be covered by a partition in this process (importers ask per batch).
_known_ranges: list[tuple[datetime, datetime]] = []


@dataclass(frozen=True)
class Partition:
    name: str
    low: datetime  # inclusive, UTC
    high: datetime  # exclusive


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        return cursor.fetchone() is not None


def month_of(value: date | datetime) -> date:
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
    return date(value.year, value.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    """The name of the partition of a whole calendar month."""
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def period_of(when: datetime, interval: str) -> tuple[datetime, datetime]:
    """The [low, high) UTC bounds of the `interval` period holding `when`."""
    day = when.astimezone(UTC).date()
    if interval == "month":
        month = date(day.year, day.month, 1)
        return _midnight(month), _midnight(next_month(month))
    if interval == "day":
        return _midnight(day), _midnight(day + timedelta(days=1))
    raise ValueError(f"unknown partition interval {interval!r}; expected one of {', '.join(INTERVALS)}")


def _is_whole_month(low: datetime, high: datetime) -> bool:
    return (low, high) == period_of(low, "month")


def _name_for(low: datetime, high: datetime) -> str:
    if _is_whole_month(low, high):
        return partition_name(low.date())
    return f"{TABLE}_p{low:%Y_%m_%d}"


def partitions() -> list[Partition]:
    """The range partitions attached to the log, oldest first (the default partition left out)."""
    with connection.cursor() as cursor:
        # The catalogue keeps each bound as text ("FOR VALUES FROM ('…') TO ('…')"); PostgreSQL
        # itself parses the two timestamps back.
        cursor.execute(
            "SELECT name, (bound[1])::timestamptz, (bound[2])::timestamptz FROM ("
            "  SELECT c.relname AS name, regexp_match(pg_get_expr(c.relpartbound, c.oid), "
            "    $$FROM \\('([^']+)'\\) TO \\('([^']+)'\\)$$) AS bound "
            "  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)"
            ") p WHERE bound IS NOT NULL ORDER BY 2",
            [TABLE],
        )
        return [Partition(name, low.astimezone(UTC), high.astimezone(UTC)) for name, low, high in cursor.fetchall()]


def partition_months() -> list[date]:
    """Months that have a whole-month partition attached, oldest first."""
    return [p.low.date() for p in partitions() if _is_whole_month(p.low, p.high)]


def partition_interval() -> str:
    """The interval of the partitions where live ingestion writes: EVENT_PARTITION_INTERVAL, or
    with `auto` days when a month at the last 7 days' rate would exceed EVENT_PARTITION_TARGET_ROWS."""
    interval = settings.EVENT_PARTITION_INTERVAL
    if interval != "auto":
        return interval
    from .models import Event  # the models module does not import this one; keep it that way

    now = datetime.now(UTC)
    per_day = Event.objects.filter(occurred_at__gte=now - timedelta(days=7), occurred_at__lt=now).count() / 7
    return "month" if per_day * 31 <= settings.EVENT_PARTITION_TARGET_ROWS else "day"


def _gaps(low: datetime, high: datetime, taken: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The parts of [low, high) that no range in `taken` covers."""
    pieces, start = [], low
    for t_low, t_high in sorted(taken):
        if t_high <= start or t_low >= high:
            continue
        if t_low > start:
            pieces.append((start, t_low))
        start = max(start, t_high)
        if start >= high:
            break
    if start < high:
        pieces.append((start, high))
    return pieces


def _attach(cursor, low: datetime, high: datetime) -> tuple[str, int]:
    """Create and attach the partition [low, high), moving its rows out of the default partition
    first (ATTACH refuses while the default holds rows of the new range). Returns (name, rows moved)."""
    name, low_s, high_s = _name_for(low, high), low.isoformat(), high.isoformat()
    # Fails if a detached partition of that name is still around: drop or rename it first.
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS)')
    # The CHECK lets ATTACH skip scanning the new table for rows outside its bounds.
    check = f"{name}_bounds"[:63]
    cursor.execute(
        f'ALTER TABLE "{name}" ADD CONSTRAINT "{check}" CHECK (occurred_at IS NOT NULL '
        f"AND occurred_at >= '{low_s}' AND occurred_at < '{high_s}')"
    )
    cursor.execute(
        f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" WHERE occurred_at >= %s AND occurred_at < %s '
        f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
        [low, high],
    )
    moved = cursor.rowcount
    cursor.execute(f"ALTER TABLE \"{TABLE}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{low_s}') TO ('{high_s}')")
    cursor.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{check}"')
    return name, moved


def _default_days(cursor) -> list[datetime]:
    cursor.execute(
        f"SELECT DISTINCT date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date FROM \"{DEFAULT_PARTITION}\""
    )
    return sorted(_midnight(r[0]) for r in cursor.fetchall())


def _is_empty(cursor, name: str) -> bool:
    cursor.execute(f'SELECT NOT EXISTS (SELECT 1 FROM "{name}")')
    return cursor.fetchone()[0]


def _drop_if_empty(cursor, part: Partition, *, locked: bool) -> None:
    """Drop `part` if it holds no rows. `locked`: writers may be inserting into it, so take its
    lock first (a savepoint: a lock not granted within a second leaves it as it is)."""
    if not locked:
        if _is_empty(cursor, part.name):
            cursor.execute(f'DROP TABLE "{part.name}"')
        return
    try:
        with transaction.atomic():
            cursor.execute("SELECT set_config('lock_timeout', '1s', true)")
            cursor.execute(f'LOCK TABLE "{TABLE}", "{part.name}" IN ACCESS EXCLUSIVE MODE')
            cursor.execute("SELECT set_config('lock_timeout', '0', true)")
            if _is_empty(cursor, part.name):
                cursor.execute(f'DROP TABLE "{part.name}"')
    except OperationalError as exc:  # lock_timeout (55P03) or a deadlock (40P01)
        logger.warning("events.partition_resize_skipped", extra={"partition": part.name, "error": str(exc)})


def event_partitions_ensure(
    *, periods_ahead: int | None = None, times: Iterable[datetime | date] = ()
) -> dict[str, object]:
    """Create the partitions from the start of this month to `periods_ahead` periods after the
    current one (EVENT_PARTITIONS_AHEAD), those holding each of `times`, and those of every row
    found in the default partition (its rows are moved). Safe to run any time and twice; does
    nothing off PostgreSQL or on a plain table."""
    if not is_partitioned():
        return {"partitioned": False, "created": [], "moved": 0, "interval": None}
    ahead = settings.EVENT_PARTITIONS_AHEAD if periods_ahead is None else periods_ahead
    now = datetime.now(UTC)
    this_month = _midnight(month_of(now))
    created: list[str] = []
    moved = 0
    with transaction.atomic(), connection.cursor() as cursor:
        # One ensure at a time (beat and an import together): a transaction-scoped advisory lock.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [DEFAULT_PARTITION])
        interval = partition_interval()
        existing = partitions()
        # Empty partitions longer than the interval now wanted, ahead or holding "now" (the month
        # the migration made, on a shop that turned busy or a fresh install), make way for smaller
        # ones. The current one may be receiving its first rows right now: it is locked before it
        # is found empty, and left alone if the lock is not granted within a second.
        period_low, period_high = period_of(now, interval)
        for part in existing:
            if part.high > period_low and part.high - part.low > _MAX_SPAN[interval]:
                _drop_if_empty(cursor, part, locked=part.low < period_high)
        existing = partitions()
        # From this month on: the chosen interval, with no gap up to the last period ahead.
        horizon = period_high
        for _ in range(ahead):
            horizon = period_of(horizon, interval)[1]
        wanted: set[tuple[datetime, datetime]] = set()
        low = this_month
        while low < horizon:
            wanted.add(period_of(low, interval))
            low = period_of(low, interval)[1]
        # Where rows are (or are about to be): whole months before this one, the interval after
        # the horizon (a clock a little ahead).
        points = [_as_utc(t) for t in times] + _default_days(cursor)
        wanted |= {period_of(t, "month") for t in points if t < this_month}
        wanted |= {period_of(t, interval) for t in points if t >= horizon}
        taken = [(p.low, p.high) for p in existing]
        missing: list[tuple[datetime, datetime]] = []
        for w_low, w_high in sorted(wanted):
            for piece in _gaps(w_low, w_high, taken):
                missing.append(piece)
                taken.append(piece)
        if missing:
            # ATTACH refuses while this transaction has deferred foreign-key checks pending on the
            # log (an import adding a month after writing earlier batches): run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for p_low, p_high in sorted(missing):
            name, rows = _attach(cursor, p_low, p_high)
            created.append(name)
            moved += rows
        if missing:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are deferred
        # Remembered once committed: a rolled-back import must not leave ranges "known".
        transaction.on_commit(lambda: _remember(taken))
    if created:
        logger.info("events.partitions_created", extra={"partitions": created, "moved": moved, "interval": interval})
    return {"partitioned": True, "created": created, "moved": moved, "interval": interval}


def _as_utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return _midnight(value)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _remember(ranges: list[tuple[datetime, datetime]]) -> None:
    _known_ranges[:] = sorted(ranges)


def _covered(when: datetime) -> bool:
    return any(low <= when < high for low, high in _known_ranges)


def event_partitions_ensure_for(times: Iterable[datetime]) -> None:
    """Before a bulk write of events at `times`: make sure partitions cover them, so an import of
    past years does not pile up in the default partition. Cheap when they exist."""
    if connection.vendor != "postgresql":
        return
    # Every partition bound is a UTC midnight, so a day is covered when its first instant is.
    days = {_midnight(_as_utc(t).date()) for t in times if t is not None}
    uncovered = [d for d in days if not _covered(d)]
    if uncovered:
        event_partitions_ensure(times=uncovered)


def event_partitions_detach(*, before: date, drop: bool = False) -> list[str]:
    """Detach every partition that ends on or before `before` (00:00 UTC). Detached partitions
    remain as plain tables unless `drop`. Returns their names."""
    if not is_partitioned():
        return []
    limit = _midnight(before)
    done = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [DEFAULT_PARTITION])
        for part in partitions():
            if part.high > limit:
                continue
            cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{part.name}"')
            if drop:
                cursor.execute(f'DROP TABLE "{part.name}"')
            done.append(part.name)
        _known_ranges[:] = [r for r in _known_ranges if r[1] > limit]
    logger.info("events.partitions_detached", extra={"partitions": done, "dropped": drop})
    return done


def _months_to_compact(parts: list[Partition], settled_before: datetime) -> list[tuple[datetime, datetime]]:
    """Months over by `settled_before` whose events lie in more than one partition."""
    months: dict[tuple[datetime, datetime], int] = {}
    for part in parts:
        month = period_of(part.low, "month")
        if part.high <= month[1] and not _is_whole_month(part.low, part.high) and month[1] <= settled_before:
            months[month] = months.get(month, 0) + 1
    return sorted(month for month, pieces in months.items() if pieces > 1)


def _parent_definitions(cursor) -> tuple[list[str], list[tuple[str, str]]]:
    """(CREATE INDEX statements without name or table, [(name, FOREIGN KEY definition)]) of the
    log's partitioned indexes other than the primary key, and its foreign keys."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = to_regclass(%s) "
        "AND NOT i.indisprimary ORDER BY i.indexrelid",
        [TABLE],
    )
    # "CREATE INDEX name ON ONLY public.ecommerce_event USING btree (type, occurred_at)": keep what
    # follows the table (the method and columns), so the copy matches and ATTACH adopts it.
    indexes = [re.search(r" ON (?:ONLY )?\S+ (USING .*)$", sql)[1] for (sql,) in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY conname",
        [TABLE],
    )
    return indexes, cursor.fetchall()


def _compact_month(cursor, low: datetime, high: datetime, pieces: list[Partition]) -> str:
    """Merge `pieces` (the partitions of the month [low, high)) into one month partition, inside
    the caller's transaction. The pieces are locked against writes (SHARE) while the month's
    table is copied and indexed beside them, so nothing written meanwhile can be lost or an
    erased row come back; writes to other months go on. Then, under a brief exclusive lock on the
    log, the pieces are detached and dropped and the month is attached: its indexes, primary key,
    foreign keys and a bounds CHECK were built beforehand, so ATTACH adopts them without
    rebuilding or rescanning anything."""
    name = partition_name(low.date())
    for piece in sorted(pieces, key=lambda p: p.name):
        cursor.execute(f'LOCK TABLE "{piece.name}" IN SHARE MODE')
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS)')
    for piece in pieces:
        cursor.execute(f'INSERT INTO "{name}" SELECT * FROM "{piece.name}"')
    check = f"{name}_bounds"[:63]
    low_s, high_s = low.isoformat(), high.isoformat()
    cursor.execute(
        f'ALTER TABLE "{name}" ADD CONSTRAINT "{check}" CHECK (occurred_at IS NOT NULL '
        f"AND occurred_at >= '{low_s}' AND occurred_at < '{high_s}')"
    )
    cursor.execute(f'ALTER TABLE "{name}" ADD PRIMARY KEY (id, occurred_at)')
    indexes, foreign_keys = _parent_definitions(cursor)
    for definition in indexes:
        cursor.execute(f'CREATE INDEX ON "{name}" {definition}')
    for fk_name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE "{name}" ADD CONSTRAINT "{fk_name}" {definition}')
    cursor.execute(f'ANALYZE "{name}"')
    cursor.execute(f'LOCK TABLE "{TABLE}" IN ACCESS EXCLUSIVE MODE')
    for piece in pieces:
        cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{piece.name}"')
        cursor.execute(f'DROP TABLE "{piece.name}"')
    cursor.execute(f"ALTER TABLE \"{TABLE}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{low_s}') TO ('{high_s}')")
    cursor.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{check}"')
    return name


def event_partitions_compact(*, settle_days: int | None = None, lock_timeout: str = "30s") -> list[str]:
    """Merge the day partitions (and pieces) of every month that ended at least `settle_days`
    (EVENT_PARTITION_COMPACT_AFTER_DAYS) ago into one partition per month; returns the months'
    partition names. One month per transaction, each with a lock timeout: if a lock is not
    granted in time (or a deadlock is detected), that month is left as it was for the next run."""
    if not is_partitioned():
        return []
    days = settings.EVENT_PARTITION_COMPACT_AFTER_DAYS if settle_days is None else settle_days
    settled_before = _midnight(datetime.now(UTC).date()) - timedelta(days=days)
    done = []
    for low, high in _months_to_compact(partitions(), settled_before):
        # A gap in the month (no partition for some days) is filled first, so the month is whole.
        event_partitions_ensure(times=[low])
        pieces = [p for p in partitions() if low <= p.low and p.high <= high]
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [DEFAULT_PARTITION])
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
                # ALTER TABLE refuses while deferred foreign-key checks are pending on the log.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                done.append(_compact_month(cursor, low, high, pieces))
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        except OperationalError as exc:  # lock_timeout (55P03) or a deadlock (40P01)
            logger.warning("events.partitions_compact_skipped", extra={"month": f"{low:%Y-%m}", "error": str(exc)})
            continue
        _remember([r for r in _known_ranges if not (low <= r[0] and r[1] <= high)] + [(low, high)])
    if done:
        logger.info("events.partitions_compacted", extra={"partitions": done})
    return done
