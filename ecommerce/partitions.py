"""Monthly partitions of the event log (PostgreSQL declarative partitioning).

On PostgreSQL `ecommerce_event` is a table partitioned by RANGE (occurred_at), one partition per
calendar month (UTC bounds) named `ecommerce_event_pYYYY_MM`, and a DEFAULT partition
`ecommerce_event_default` for rows of months with no partition yet (an import of old history, a
client with a wrong clock). SQLite keeps the plain table (`is_partitioned()` is False there and
every function here does nothing).

- `event_partitions_ensure` creates the partitions of the next months ahead and moves the rows
  that fell into the default partition into partitions of their own month. Beat runs it daily
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
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

TABLE = "ecommerce_event"
DEFAULT_PARTITION = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})_(\d{{2}})$")
# Months already known to have a partition in this process (importers ask per batch).
_known_months: set[date] = set()


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
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def _bound(month: date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


def partition_months() -> list[date]:
    """Months that have a partition attached, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        names = [r[0] for r in cursor.fetchall()]
    months = []
    for name in names:
        match = _NAME.match(name)
        if match:
            months.append(date(int(match[1]), int(match[2]), 1))
    return sorted(months)


def _attach_month(cursor, month: date) -> int:
    """Create and attach the partition of `month`, moving that month's rows out of the default
    partition first (ATTACH refuses while the default holds rows of the new range). Returns the
    number of rows moved."""
    name, low, high = partition_name(month), _bound(month), _bound(next_month(month))
    # Fails if a detached partition of that month is still around: drop or rename it first.
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS)')
    # The CHECK lets ATTACH skip scanning the new table for rows outside its bounds.
    check = f"{name}_bounds"[:63]
    cursor.execute(
        f'ALTER TABLE "{name}" ADD CONSTRAINT "{check}" CHECK (occurred_at IS NOT NULL '
        f"AND occurred_at >= '{low}' AND occurred_at < '{high}')"
    )
    cursor.execute(
        f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" WHERE occurred_at >= %s AND occurred_at < %s '
        f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
        [low, high],
    )
    moved = cursor.rowcount
    cursor.execute(f"ALTER TABLE \"{TABLE}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{low}') TO ('{high}')")
    cursor.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{check}"')
    return moved


def _default_months(cursor) -> list[date]:
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date FROM \"{DEFAULT_PARTITION}\""
    )
    return sorted(r[0] for r in cursor.fetchall())


def event_partitions_ensure(*, months_ahead: int | None = None, months: Iterable[date] = ()) -> dict[str, object]:
    """Create the partitions of this month and `months_ahead` after it (EVENT_PARTITIONS_AHEAD),
    of every month in `months`, and of every month found in the default partition (its rows are
    moved). Safe to run any time and twice; does nothing off PostgreSQL or on a plain table."""
    if not is_partitioned():
        return {"partitioned": False, "created": [], "moved": 0}
    ahead = settings.EVENT_PARTITIONS_AHEAD if months_ahead is None else months_ahead
    wanted = {month_of(m) for m in months}
    month = month_of(datetime.now(UTC))
    for _ in range(ahead + 1):
        wanted.add(month)
        month = next_month(month)
    created: list[str] = []
    moved = 0
    with transaction.atomic(), connection.cursor() as cursor:
        # One ensure at a time (beat and an import together): a transaction-scoped advisory lock.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [DEFAULT_PARTITION])
        existing = set(partition_months())
        wanted |= set(_default_months(cursor))
        missing = sorted(wanted - existing)
        if missing:
            # ATTACH refuses while this transaction has deferred foreign-key checks pending on the
            # log (an import adding a month after writing earlier batches): run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for month in missing:
            moved += _attach_month(cursor, month)
            created.append(partition_name(month))
        if missing:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are deferred
        known = existing | wanted
        # Remembered once committed: a rolled-back import must not leave months "known".
        transaction.on_commit(lambda: _known_months.update(known))
    if created:
        logger.info("events.partitions_created", extra={"partitions": created, "moved": moved})
    return {"partitioned": True, "created": created, "moved": moved}


def event_partitions_ensure_for(times: Iterable[datetime]) -> None:
    """Before a bulk write of events at `times`: make sure their months have partitions, so an
    import of past years does not pile up in the default partition. Cheap when they exist."""
    if connection.vendor != "postgresql":
        return
    months = {month_of(t) for t in times if t is not None}
    if months - _known_months:
        event_partitions_ensure(months=months)


def event_partitions_detach(*, before: date, drop: bool = False) -> list[str]:
    """Detach every monthly partition whose whole month is before `before` (the month holding
    `before` stays). Detached partitions remain as plain tables unless `drop`. Returns their names."""
    if not is_partitioned():
        return []
    done = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [DEFAULT_PARTITION])
        for month in partition_months():
            if next_month(month) > before:
                continue
            name = partition_name(month)
            cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{name}"')
            if drop:
                cursor.execute(f'DROP TABLE "{name}"')
            done.append(name)
            _known_months.discard(month)
    logger.info("events.partitions_detached", extra={"partitions": done, "dropped": drop})
    return done
