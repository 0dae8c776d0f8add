"""The event log becomes a table partitioned by month on PostgreSQL (issue 16). SQLite keeps the
plain table: this migration does nothing there and Django's model state is unchanged.

Forward, in one transaction: rename the old table (and its indexes and constraints), create the
partitioned parent with the same columns and primary key (id, occurred_at) (a partitioned
table's unique keys must contain the partition key), a default partition, one partition for every
month holding rows plus the months ahead, copy the rows, rebuild the indexes and foreign keys under
their original names, drop the old table. Backward does the opposite (a plain table, primary key
id). Big tables: this rewrites the whole event log while holding it locked (ingestion waits);
on millions of rows run it in a maintenance window.
"""

from django.db import migrations

TABLE = "ecommerce_event"
OLD = "ecommerce_event_unpartitioned"
MONTHS_AHEAD = 3


def _month(value):
    from datetime import date

    return date(value.year, value.month, 1)


def _next(month):
    from datetime import date

    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _definitions(cursor, table):
    """(indexes [(name, CREATE INDEX sql)], foreign keys [(name, definition)]) of `table`."""
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY c.relname",
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [table],
    )
    return indexes, cursor.fetchall()


def _rename_away(cursor, table, indexes, fks):
    """Free the names: the rebuilt table gets the original index and constraint names."""
    cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{table}"')
    for name, _sql in indexes:
        cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{("o_" + name)[:63]}"')
    for name, _sql in fks:
        cursor.execute(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{name}" TO "{("o_" + name)[:63]}"')
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [table],
    )
    for (pk,) in cursor.fetchall():
        cursor.execute(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{pk}" TO "{("o_" + pk)[:63]}"')


def _rebuild(cursor, source, indexes, fks):
    cursor.execute(f'INSERT INTO "{TABLE}" SELECT * FROM "{source}"')
    for _name, sql in indexes:
        # pg_get_indexdef names the table as it was when read: ecommerce_event, the new table
        # ("ON ONLY" when read from a partitioned parent: the plain table takes the whole index).
        cursor.execute(sql.replace(" ON ONLY ", " ON ", 1))
    for name, definition in fks:
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(f'DROP TABLE "{source}"')
    cursor.execute(f'ANALYZE "{TABLE}"')


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from datetime import UTC, datetime

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        if cursor.fetchone():
            return
        indexes, fks = _definitions(cursor, TABLE)
        _rename_away(cursor, OLD, indexes, fks)
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{OLD}" INCLUDING DEFAULTS, PRIMARY KEY (id, occurred_at)) '
            "PARTITION BY RANGE (occurred_at)"
        )
        cursor.execute(f'CREATE TABLE "{TABLE}_default" PARTITION OF "{TABLE}" DEFAULT')
        cursor.execute(f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date FROM \"{OLD}\"")
        months = {r[0] for r in cursor.fetchall()}
        month = _month(datetime.now(UTC))
        for _ in range(MONTHS_AHEAD + 1):
            months.add(month)
            month = _next(month)
        for month in sorted(months):
            name = f"{TABLE}_p{month.year:04d}_{month.month:02d}"
            cursor.execute(
                f'CREATE TABLE "{name}" PARTITION OF "{TABLE}" FOR VALUES FROM (%s) TO (%s)',
                [f"{month.isoformat()} 00:00:00+00", f"{_next(month).isoformat()} 00:00:00+00"],
            )
        _rebuild(cursor, OLD, indexes, fks)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        if not cursor.fetchone():
            return
        source = "ecommerce_event_partitioned"
        indexes, fks = _definitions(cursor, TABLE)
        _rename_away(cursor, source, indexes, fks)
        cursor.execute(f'CREATE TABLE "{TABLE}" (LIKE "{source}" INCLUDING DEFAULTS, PRIMARY KEY (id))')
        _rebuild(cursor, source, indexes, fks)


class Migration(migrations.Migration):
    # PostgreSQL runs DDL in the transaction: a failure leaves the old table as it was.
    atomic = True

    dependencies = [
        ("ecommerce", "0009_model_artifact_blob"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
