"""The event log partitioned by time on PostgreSQL; the plain table on SQLite (embedded default).

Each test states what holds on both backends; the PostgreSQL branches check the partitions
themselves (CI runs them on PostgreSQL)."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ecommerce.bulk import bulk_insert
from ecommerce.importers.common import insert_ignoring_conflicts
from ecommerce.models import EVENT_ROW_COLUMNS, Event
from ecommerce.partitions import (
    DEFAULT_PARTITION,
    event_partitions_detach,
    event_partitions_ensure,
    is_partitioned,
    month_of,
    next_month,
    partition_interval,
    partition_months,
    partition_name,
    partitions,
    period_of,
)
from ecommerce.services.events import events_ingest
from tests.factories import ProductFactory, UserFactory

PG = connection.vendor == "postgresql"


def _row(when: datetime, event_id: uuid.UUID | None = None, kind: str = "page_view") -> tuple:
    return (event_id or uuid.uuid4(), kind, when, timezone.now(), None, "visitor-1", "", None, "", "{}")


def _rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def _table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        if PG:  # Django's table list leaves partitions out
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            return cursor.fetchone()[0]
        return name in connection.introspection.table_names(cursor)


@pytest.mark.django_db
def test_event_log_is_partitioned_on_postgresql_only_with_months_ahead():
    # then
    assert is_partitioned() is PG
    if PG:
        months = partition_months()
        month = month_of(datetime.now(UTC))
        for _ in range(4):  # this month and EVENT_PARTITIONS_AHEAD=3 after it
            assert month in months
            month = next_month(month)
        assert _table_exists(DEFAULT_PARTITION)
    else:
        assert event_partitions_ensure() == {"partitioned": False, "created": [], "moved": 0, "interval": None}


@pytest.mark.django_db
def test_replayed_event_is_a_duplicate_in_every_partition_including_default():
    # given: one event this month, one in a month without a partition (the default one on PG)
    batch = [
        {"id": str(uuid.uuid4()), "type": "page_view", "occurred_at": timezone.now().isoformat()},
        {"id": str(uuid.uuid4()), "type": "page_view", "occurred_at": "2001-03-04T05:06:07+00:00"},
    ]
    # when
    first = events_ingest(raw_events=batch, trusted=True)
    replay = events_ingest(raw_events=batch, trusted=True)
    # then
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (replay.accepted, replay.duplicates) == (0, 2)
    assert Event.objects.count() == 2
    if PG:
        assert _rows_in(DEFAULT_PARTITION) == 1


@pytest.mark.django_db
def test_ensure_moves_default_rows_into_their_month_and_replays_stay_duplicates():
    # given: two events of May 2019 that fell into the default partition
    stray = uuid.uuid4()
    bulk_insert(Event, EVENT_ROW_COLUMNS, [_row(datetime(2019, 5, 3, tzinfo=UTC), stray)], json_is_text=True)
    bulk_insert(Event, EVENT_ROW_COLUMNS, [_row(datetime(2019, 5, 30, tzinfo=UTC))], json_is_text=True)
    # when
    result = event_partitions_ensure()
    again = event_partitions_ensure()
    # then
    assert Event.objects.filter(occurred_at__year=2019).count() == 2
    replayed = bulk_insert(
        Event, EVENT_ROW_COLUMNS, [_row(datetime(2019, 5, 3, tzinfo=UTC), stray)], ignore_conflicts=True
    )
    assert replayed == 0
    if PG:
        assert "ecommerce_event_p2019_05" in result["created"] and result["moved"] == 2
        assert again["created"] == [] and again["moved"] == 0
        assert _rows_in(DEFAULT_PARTITION) == 0
        assert _rows_in("ecommerce_event_p2019_05") == 2
    else:
        assert result["partitioned"] is False


@pytest.mark.django_db
def test_importer_path_writes_past_months_into_their_own_partitions():
    # given: imported history, batch after batch in one transaction (as an import runs), with
    # foreign keys to a shopper and a product (deferred checks pending when a month is added)
    shopper, product = UserFactory(), ProductFactory()

    def row(when: datetime) -> tuple:
        return (uuid.uuid4(), "product_view", when, when, shopper.pk, "", "", product.pk, "", "{}")

    january, february = [row(datetime(2011, 1, 15, 12, tzinfo=UTC))], [row(datetime(2011, 2, 15, 12, tzinfo=UTC))]
    # when
    insert_ignoring_conflicts(Event, list(EVENT_ROW_COLUMNS), january)
    insert_ignoring_conflicts(Event, list(EVENT_ROW_COLUMNS), february)
    insert_ignoring_conflicts(Event, list(EVENT_ROW_COLUMNS), january + february)  # a rerun adds nothing
    # then
    assert Event.objects.filter(occurred_at__year=2011, user=shopper, product=product).count() == 2
    if PG:
        assert {date(2011, 1, 1), date(2011, 2, 1)} <= set(partition_months())
        assert _rows_in(DEFAULT_PARTITION) == 0


@pytest.mark.django_db
def test_copy_into_the_event_log_routes_rows_to_partitions():
    # given: the COPY path (benchmarks, bulk loaders) on PostgreSQL; SQLite has no COPY
    when = timezone.now()
    if PG:
        connection.ensure_connection()
        with (
            connection.connection.cursor() as cursor,
            cursor.copy(f"COPY ecommerce_event ({', '.join(EVENT_ROW_COLUMNS)}) FROM STDIN") as copy,
        ):
            copy.write_row(_row(when))
        # then
        assert _rows_in(partition_name(month_of(when))) == 1
    else:
        bulk_insert(Event, EVENT_ROW_COLUMNS, [_row(when)], json_is_text=True)
    assert Event.objects.filter(occurred_at=when).count() == 1


@pytest.mark.django_db
def test_time_ranged_query_reads_only_its_partitions():
    # given
    event_partitions_ensure(times=[date(2020, 1, 1), date(2020, 2, 1), date(2020, 3, 1)])
    qs = Event.objects.filter(
        occurred_at__gte=datetime(2020, 2, 3, tzinfo=UTC), occurred_at__lt=datetime(2020, 2, 10, tzinfo=UTC)
    ).values("type")
    # when
    plan = qs.explain()
    # then
    if PG:
        assert "ecommerce_event_p2020_02" in plan
        scanned = set(re.findall(r"\bon (ecommerce_event_\w+)", plan))
        assert scanned == {"ecommerce_event_p2020_02"}, plan
    else:
        assert "ecommerce_event" in plan


@pytest.mark.django_db
def test_detach_command_detaches_or_drops_old_months():
    # given
    bulk_insert(Event, EVENT_ROW_COLUMNS, [_row(datetime(2018, 1, 5, tzinfo=UTC))], json_is_text=True)
    bulk_insert(Event, EVENT_ROW_COLUMNS, [_row(datetime(2018, 2, 5, tzinfo=UTC))], json_is_text=True)
    event_partitions_ensure()
    if not PG:
        with pytest.raises(Exception, match="not partitioned"):
            call_command("detach_event_partitions", "--before", "2018-02-01")
        assert event_partitions_detach(before=date(2018, 2, 1)) == []
        return
    # when: January ends on 2018-02-01; February does not end before 2018-02-15
    call_command("detach_event_partitions", "--before", "2018-02-15")
    # then: January is a plain table outside the log, February stays
    assert Event.objects.filter(occurred_at__year=2018).count() == 1
    assert date(2018, 1, 1) not in partition_months() and date(2018, 2, 1) in partition_months()
    assert _rows_in("ecommerce_event_p2018_01") == 1
    # when
    assert event_partitions_detach(before=date(2018, 3, 1), drop=True) == ["ecommerce_event_p2018_02"]
    # then
    assert not _table_exists("ecommerce_event_p2018_02")
    assert Event.objects.filter(occurred_at__year=2018).count() == 0


def test_detach_command_refuses_a_bad_date():
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        call_command("detach_event_partitions", "--before", "last year")


@pytest.mark.django_db(transaction=True)
def test_migration_converts_an_existing_table_and_back():
    """0010 turns a plain event table holding rows into the partitioned one (and back)."""
    executor = MigrationExecutor(connection)
    before = [("ecommerce", "0009_model_artifact_blob")]
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        # given: a plain table with events of two months and this month
        assert not is_partitioned()
        rows = [_row(datetime(2016, 6, 1, tzinfo=UTC)), _row(datetime(2016, 8, 1, tzinfo=UTC)), _row(timezone.now())]
        bulk_insert(Event, EVENT_ROW_COLUMNS, rows, json_is_text=True)
        # when
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
        # then
        assert Event.objects.count() == 3
        assert set(Event.objects.values_list("id", flat=True)) == {r[0] for r in rows}
        if PG:
            assert is_partitioned()
            assert {date(2016, 6, 1), date(2016, 8, 1)} <= set(partition_months())
            assert _rows_in(DEFAULT_PARTITION) == 0
            with connection.cursor() as cursor:
                indexes = connection.introspection.get_constraints(cursor, "ecommerce_event")
            assert {"ecommerce_e_type_339b29_idx", "ecommerce_e_receive_bec87a_idx"} <= set(indexes)
            assert [c["columns"] for c in indexes.values() if c["primary_key"]] == [["id", "occurred_at"]]
            # when: back to the plain table
            executor = MigrationExecutor(connection)
            executor.migrate(before)
            assert not is_partitioned() and Event.objects.count() == 3
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
        Event.objects.all().delete()


def test_periods_are_utc_months_monday_weeks_and_days():
    when = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)  # a Thursday
    assert period_of(when, "month") == (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    assert period_of(when, "week") == (datetime(2024, 2, 26, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC))
    assert period_of(when, "day") == (datetime(2024, 2, 29, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="unknown partition interval"):
        period_of(when, "hour")


def _assert_contiguous_from_this_month(parts, until: datetime) -> None:
    """No gap and no overlap from the start of this month to `until`."""
    this_month = datetime.combine(month_of(datetime.now(UTC)), datetime.min.time(), tzinfo=UTC)
    edge = this_month
    for part in parts:
        if part.high <= this_month:
            continue
        assert part.low <= edge, f"gap before {part.name}: {edge} .. {part.low}"
        edge = max(edge, part.high)
    assert edge >= until


@pytest.mark.django_db
def test_busy_shop_gets_day_partitions_ahead_and_ingestion_lands_in_today(settings):
    # given: a shop that chose day partitions (the migration made whole months ahead)
    settings.EVENT_PARTITION_INTERVAL = "day"
    now = timezone.now()
    # when
    result = event_partitions_ensure()
    # then: today's events (as the API writes them) go to today's day, or this month's partition
    assert result["interval"] == ("day" if PG else None)
    batch = [{"id": str(uuid.uuid4()), "type": "page_view", "occurred_at": now.isoformat()}]
    assert events_ingest(raw_events=batch, trusted=True).accepted == 1
    assert events_ingest(raw_events=batch, trusted=True).duplicates == 1
    if not PG:
        return
    parts = partitions()
    today_low, today_high = period_of(now, "day")
    tomorrow = today_high
    # every partition after today is one day long, up to EVENT_PARTITIONS_AHEAD=3 days ahead
    later = [p for p in parts if p.low >= tomorrow]
    assert later and all(p.high - p.low == timedelta(days=1) for p in later), later
    assert max(p.high for p in parts) == today_high + timedelta(days=3)
    _assert_contiguous_from_this_month(parts, today_high + timedelta(days=3))
    holding_today = next(p for p in parts if p.low <= now < p.high)
    assert _rows_in(holding_today.name) == 1
    assert _rows_in(DEFAULT_PARTITION) == 0
    # a past month imported now still gets one partition for the whole month
    event_partitions_ensure(times=[datetime(2015, 3, 9, tzinfo=UTC)])
    assert date(2015, 3, 1) in partition_months()
    # and going back to months leaves no gap and no overlap
    settings.EVENT_PARTITION_INTERVAL = "month"
    event_partitions_ensure()
    parts = partitions()
    _assert_contiguous_from_this_month(parts, period_of(now, "month")[1])
    assert all(a.high <= b.low for a, b in zip(parts, parts[1:], strict=False))


@pytest.mark.django_db
def test_auto_interval_follows_the_last_weeks_event_rate(settings):
    # given
    settings.EVENT_PARTITION_INTERVAL = "auto"
    settings.EVENT_PARTITION_TARGET_ROWS = 50
    now = timezone.now()
    # then: a quiet shop keeps months
    assert partition_interval() == "month"
    # given: 2 events a day on average over the last week: 14 a week, 62 a month
    rows = [_row(now - timedelta(hours=12 * i + 1)) for i in range(14)]
    bulk_insert(Event, EVENT_ROW_COLUMNS, rows, json_is_text=True)
    # then
    assert partition_interval() == "week"
    # given: 8 a day: 56 a week
    bulk_insert(
        Event, EVENT_ROW_COLUMNS, [_row(now - timedelta(hours=4 * i + 1)) for i in range(42)], json_is_text=True
    )
    # then
    assert partition_interval() == "day"
    if PG:
        assert event_partitions_ensure()["interval"] == "day"
        assert all(p.high - p.low == timedelta(days=1) for p in partitions() if p.low >= period_of(now, "day")[1])


@pytest.mark.django_db
def test_detach_takes_day_partitions_that_end_before_the_date(settings):
    settings.EVENT_PARTITION_INTERVAL = "day"
    event_partitions_ensure()
    if not PG:
        return
    # given
    days = [p for p in partitions() if p.high - p.low == timedelta(days=1)]
    first = days[0]
    # when
    detached = event_partitions_detach(before=first.high.date(), drop=True)
    # then: that day and everything before it, not the next day
    assert first.name in detached and days[1].name not in detached
    assert all(p.low >= first.high for p in partitions())
