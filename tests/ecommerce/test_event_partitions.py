"""The event log partitioned by time on PostgreSQL; the plain table on SQLite (embedded default).

Each test states what holds on both backends; the PostgreSQL branches check the partitions
themselves (CI runs them on PostgreSQL)."""

import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ecommerce import partitions as partitions_module
from ecommerce.bulk import bulk_insert
from ecommerce.importers.common import insert_ignoring_conflicts
from ecommerce.models import EVENT_ROW_COLUMNS, Event
from ecommerce.partitions import (
    DEFAULT_PARTITION,
    event_partitions_compact,
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


def test_periods_are_utc_months_and_days():
    when = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    assert period_of(when, "month") == (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
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
    # given: 1 event a day over the last week: 31 a month, under the target
    bulk_insert(
        Event, EVENT_ROW_COLUMNS, [_row(now - timedelta(hours=24 * i + 1)) for i in range(7)], json_is_text=True
    )
    # then
    assert partition_interval() == "month"
    # given: 2 a day: 62 a month, over the target
    bulk_insert(
        Event, EVENT_ROW_COLUMNS, [_row(now - timedelta(hours=24 * i + 2)) for i in range(7)], json_is_text=True
    )
    # then
    assert partition_interval() == "day"
    if PG:
        assert event_partitions_ensure()["interval"] == "day"
        assert all(p.high - p.low == timedelta(days=1) for p in partitions() if p.low >= period_of(now, "day")[1])


def _split_into_pieces(month: datetime, cuts: list[int]) -> list[str]:
    """Give a past month partitions of the days given by `cuts` (as day partitions a busy shop
    had while the month was current) and return their names."""
    edges = [month + timedelta(days=d) for d in cuts] + [period_of(month, "month")[1]]
    names = []
    with connection.cursor() as cursor:
        for low, high in zip([month, *edges[:-1]], edges, strict=True):
            names.append(partitions_module._attach(cursor, low, high)[0])
    return names


@pytest.mark.django_db
def test_compaction_merges_a_finished_months_days_into_one_partition_keeping_every_event():
    if not PG:
        assert event_partitions_compact() == []
        return
    # given: July 2019 in four pieces (1st, 2nd, 3rd-19th, 20th-31st), events in each, with keys
    july = datetime(2019, 7, 1, tzinfo=UTC)
    pieces = _split_into_pieces(july, [1, 2, 19])
    shopper, product = UserFactory(), ProductFactory()
    rows = [
        (
            uuid.uuid4(),
            "product_view",
            july + timedelta(days=d, hours=3),
            timezone.now(),
            shopper.pk,
            "v-1",
            "",
            product.pk,
            "",
            "{}",
        )
        for d in (0, 1, 5, 25, 30)
    ]
    bulk_insert(Event, EVENT_ROW_COLUMNS, rows, json_is_text=True)
    # when
    merged = event_partitions_compact()
    # then: one partition for the month, every event in it, the pieces gone
    assert merged == ["ecommerce_event_p2019_07"]
    july_parts = [p for p in partitions() if p.low >= july and p.high <= period_of(july, "month")[1]]
    assert [p.name for p in july_parts] == ["ecommerce_event_p2019_07"]
    assert _rows_in("ecommerce_event_p2019_07") == 5
    assert not any(_table_exists(name) for name in pieces)
    assert set(Event.objects.filter(occurred_at__year=2019).values_list("id", flat=True)) == {r[0] for r in rows}
    # the merged partition carries every index of the log (adopted, not duplicated) and its keys
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_index WHERE indrelid = 'ecommerce_event'::regclass")
        parent_indexes = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_index WHERE indrelid = 'ecommerce_event_p2019_07'::regclass")
        assert cursor.fetchone()[0] == parent_indexes
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'ecommerce_event_p2019_07'::regclass "
            "AND contype = 'f' AND conparentid <> 0"
        )
        assert cursor.fetchone()[0] == 2
    # a replay is still a duplicate; a missing product is still refused
    assert bulk_insert(Event, EVENT_ROW_COLUMNS, rows[:1], ignore_conflicts=True) == 0
    bad = (uuid.uuid4(), "product_view", july + timedelta(days=9), timezone.now(), None, "", "", 10**9, "", "{}")

    def insert_with_checks_now(row: tuple) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            bulk_insert(Event, EVENT_ROW_COLUMNS, [row], json_is_text=True)

    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="product"):  # bulk_insert uses psycopg directly
        insert_with_checks_now(bad)
    # and a second run has nothing to do
    assert event_partitions_compact() == []


@pytest.mark.django_db
def test_compaction_leaves_the_current_month_and_months_still_settling(settings):
    settings.EVENT_PARTITION_INTERVAL = "day"
    event_partitions_ensure()
    if not PG:
        return
    # given: day partitions this month (the busy shop's layout), and last month's days if it just ended
    before = partitions()
    # when: nothing has settled for 10,000 days
    assert event_partitions_compact(settle_days=10_000) == []
    # then
    assert partitions() == before


@pytest.mark.django_db(transaction=True)
def test_compaction_gives_way_to_a_long_write_into_that_month_and_merges_it_next_time():
    if not PG:
        return
    # given: August 2019 in two pieces, and another session in the middle of writing an August event
    august = datetime(2019, 8, 1, tzinfo=UTC)
    _split_into_pieces(august, [10])
    late = _row(august + timedelta(days=3))
    other = psycopg.connect(_dsn())
    try:
        values = ", ".join(["%s"] * len(EVENT_ROW_COLUMNS))
        other.execute(f"INSERT INTO ecommerce_event ({', '.join(EVENT_ROW_COLUMNS)}) VALUES ({values})", late)
        # when
        merged = event_partitions_compact(lock_timeout="200ms")
        # then: nothing merged, the month as it was
        assert merged == []
        assert len([p for p in partitions() if p.low >= august and p.high <= datetime(2019, 9, 1, tzinfo=UTC)]) == 2
        other.commit()
    finally:
        other.close()
    # when: the next run
    merged = event_partitions_compact()
    # then: merged, with the event written meanwhile
    assert merged == ["ecommerce_event_p2019_08"]
    assert _rows_in("ecommerce_event_p2019_08") == 1
    event_partitions_detach(before=date(2019, 9, 1), drop=True)


def _dsn() -> str:
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password") and v}
    )


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


@pytest.mark.django_db
def test_ensure_command_creates_and_merges_and_can_skip_merging():
    if not PG:
        with pytest.raises(Exception, match="not partitioned"):
            call_command("ensure_event_partitions")
        return
    # given: a finished month in pieces
    _split_into_pieces(datetime(2019, 10, 1, tzinfo=UTC), [5])
    out = io.StringIO()
    # when
    call_command("ensure_event_partitions", "--no-compact", stdout=out)
    # then
    assert "Merged" not in out.getvalue()
    assert date(2019, 10, 1) not in partition_months()
    # when
    call_command("ensure_event_partitions", stdout=out)
    # then
    assert "Merged the days of 1 finished month(s): ecommerce_event_p2019_10" in out.getvalue()
    assert date(2019, 10, 1) in partition_months()


@pytest.mark.django_db
def test_a_current_month_holding_rows_is_kept_when_days_are_wanted(settings):
    # given: this month's partition (the migration's) already holds today's events
    now = timezone.now()
    batch = [{"id": str(uuid.uuid4()), "type": "page_view", "occurred_at": now.isoformat()}]
    assert events_ingest(raw_events=batch, trusted=True).accepted == 1
    if not PG:  # a plain table: nothing to partition, the event is simply stored
        settings.EVENT_PARTITION_INTERVAL = "day"
        assert event_partitions_ensure()["partitioned"] is False
        assert Event.objects.count() == 1
        return
    month_low, month_high = period_of(now, "month")
    holding = [p for p in partitions() if p.low <= now < p.high]
    assert [(p.low, p.high) for p in holding] == [(month_low, month_high)]
    # when: the shop switches to day partitions
    settings.EVENT_PARTITION_INTERVAL = "day"
    event_partitions_ensure()
    # then: the month stays with its row (days start where it ends); nothing went to the default
    assert [p.name for p in partitions() if p.low <= now < p.high] == [holding[0].name]
    assert _rows_in(holding[0].name) == 1
    assert _rows_in(DEFAULT_PARTITION) == 0
    assert all(p.high - p.low == timedelta(days=1) for p in partitions() if p.low >= month_high)
