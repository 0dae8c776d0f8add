"""ecommerce.bulk.bulk_insert: the one fast insert path (events, importers, precompute), on the
database the suite runs on (SQLite by default, PostgreSQL in CI)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from ecommerce.bulk import bulk_insert
from ecommerce.models import EVENT_ROW_COLUMNS, Event

pytestmark = pytest.mark.django_db

# Every character a hand-built PostgreSQL array literal has to escape, and the word NULL.
AWKWARD = ['say "hi"', "back\\slash", "{braces}", "a,b", "NULL", "", "ünïcødé 你好", "  spaced  "]


def _row(query: str, properties, *, event_id: uuid.UUID | None = None) -> tuple:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    return (event_id or uuid.uuid4(), "search", when, when, None, "anon", "", None, query, properties)


def test_bulk_insert_round_trips_awkward_text_and_json():
    # given rows whose text and JSON hold quotes, backslashes, braces, commas and the word NULL
    rows = [_row(text, {"q": text, "n": [1, None]}) for text in AWKWARD]
    # when they are inserted
    inserted = bulk_insert(Event, EVENT_ROW_COLUMNS, rows)
    # then every value reads back unchanged
    assert inserted == len(AWKWARD)
    stored = {e.query: e.properties for e in Event.objects.all()}
    assert stored == {text: {"q": text, "n": [1, None]} for text in AWKWARD}


def test_bulk_insert_json_text_is_stored_as_json():
    rows = [_row("x", json.dumps({"a": 'quote " and \\ backslash'}))]
    bulk_insert(Event, EVENT_ROW_COLUMNS, rows, json_is_text=True)
    assert Event.objects.get().properties == {"a": 'quote " and \\ backslash'}


def test_bulk_insert_ignoring_conflicts_counts_only_new_rows_and_batches():
    existing = uuid.uuid4()
    bulk_insert(Event, EVENT_ROW_COLUMNS, [_row("first", {}, event_id=existing)])
    rows = [_row("again", {}, event_id=existing)] + [_row(f"new {i}", {}) for i in range(5)]
    # batch_size 2 splits the rows over three statements; the counts add up
    inserted = bulk_insert(Event, EVENT_ROW_COLUMNS, rows, ignore_conflicts=True, batch_size=2)
    assert inserted == 5
    assert Event.objects.get(pk=existing).query == "first"
    assert Event.objects.count() == 6


def test_bulk_insert_of_nothing_touches_nothing():
    assert bulk_insert(Event, EVENT_ROW_COLUMNS, []) == 0
    assert not Event.objects.exists()
