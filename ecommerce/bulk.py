"""One way to insert many plain rows fast: event ingestion, the data set importers and the
recommendation precompute all write through `bulk_insert`.

Building a model instance per row and letting bulk_create compile the SQL cost most of the time
of those paths (docs/data.md, docs/benchmarks/ingestion.md); the rows here are plain tuples in
`columns` order, already validated by the caller.

- PostgreSQL: one `INSERT ... SELECT FROM unnest(%s::type[], ...)` per batch. Each column goes as
  one Python list and psycopg adapts it in binary format (`%b`): no hand-built array literals, no
  quoting to get wrong, and less client CPU than building text literals (docs/benchmarks/ingestion.md).
  The statement stays tiny whatever the number of rows.
- SQLite: `executemany` of one-row INSERTs (sqlite3 loops in C).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models
from django.db.models import Field, Model

# Bounded so one statement's parameters stay a few MB (~10 columns x 10,000 values).
BATCH_ROWS = 10_000


def _sqlite_adapter(field: Field, json_is_text: bool) -> Callable[[Any], Any] | None:
    """How a Python value of `field` is sent to SQLite (what Field.get_db_prep_save does, minus
    the per-value dispatch)."""
    if isinstance(field, models.UUIDField) and not connection.features.has_native_uuid_field:
        return lambda value: value.hex if value is not None else None
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.JSONField) and not json_is_text:
        encoder = field.encoder
        return lambda value: connection.ops.adapt_json_value(value, encoder)
    return None


def _postgresql_column(field: Field, values: list[Any], json_is_text: bool) -> tuple[list[Any], str]:
    """(the column as a list psycopg can adapt, the array type it is cast to)."""
    if isinstance(field, models.JSONField):
        if not json_is_text:
            encoder = field.encoder
            values = [None if v is None else json.dumps(v, cls=encoder) for v in values]
        # JSON text goes as text[] and is cast server-side (psycopg would need a Jsonb wrapper per value).
        return values, "text[]"
    return values, f"{field.db_type(connection)}[]"


def _insert_postgresql(
    table: str, fields: list[Field], rows: Sequence[tuple], conflict: str, json_is_text: bool
) -> int:
    quote = connection.ops.quote_name
    columns = list(zip(*rows, strict=True))
    params, selects = [], []
    for index, field in enumerate(fields):
        values, array_type = _postgresql_column(field, list(columns[index]), json_is_text)
        params.append(values)
        cast = "::jsonb" if isinstance(field, models.JSONField) else ""
        selects.append(f"c{index}{cast}")
    # %b: psycopg dumps each list in binary format (in C); %s would pick its text list dumper, which
    # quotes every element with regular expressions in Python (8x the client CPU).
    unnest = ", ".join(f"%b::{_postgresql_column(f, [], json_is_text)[1]}" for f in fields)
    aliases = ", ".join(f"c{i}" for i in range(len(fields)))
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(selects)} FROM unnest({unnest}) AS u({aliases}){conflict}"
    )
    import psycopg  # installed with the PostgreSQL driver; SQLite-only setups never get here

    connection.ensure_connection()
    # A server-binding cursor on Django's connection (same transaction): the lists go as parameters.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _insert_sqlite(table: str, fields: list[Field], rows: Sequence[tuple], conflict: str, json_is_text: bool) -> int:
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}){conflict}"
    )
    adapters = [(i, a) for i, a in enumerate(_sqlite_adapter(f, json_is_text) for f in fields) if a is not None]
    prepared: Sequence[Sequence[Any]] = rows
    if adapters:
        prepared = []
        for row in rows:
            values = list(row)
            for i, adapt in adapters:
                values[i] = adapt(values[i])
            prepared.append(values)
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)
        return cursor.rowcount


def bulk_insert(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[tuple],
    *,
    ignore_conflicts: bool = False,
    json_is_text: bool = False,
    batch_size: int = BATCH_ROWS,
) -> int:
    """Insert `rows` (tuples in `columns` order) into `model`'s table; returns how many were inserted.

    `ignore_conflicts` adds ON CONFLICT DO NOTHING: a row whose unique key exists is skipped (and
    not counted), so reruns and replays add nothing. `json_is_text` says JSONField values are
    already encoded JSON text (event ingestion encodes them while validating).
    """
    if not rows:
        return 0
    fields = [model._meta.get_field(name) for name in columns]
    table = connection.ops.quote_name(model._meta.db_table)
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_sqlite
    inserted = 0
    for start in range(0, len(rows), batch_size):
        inserted += insert(table, fields, rows[start : start + batch_size], conflict, json_is_text)
    return inserted
