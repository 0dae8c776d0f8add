"""Model instances from a hand-written SELECT, for the few reads where the ORM costs more than the query.

Compiling a QuerySet is Python work done again on every call: the chat's conversation read
(`support.services.conversation_get_for_owner`, one row by primary key and owner) spent ~0.6-0.9 ms
of CPU building and compiling its QuerySet around a query that costs PostgreSQL ~0.1 ms
(docs/benchmarks/storefront.md, "Round 10"). With `ModelRows` the caller writes the WHERE clause
and reads the row itself; the select list and the row-to-instance step are Django's own:

- `select_list(alias)`: every concrete column of the model, quoted, in field order (the order
  `Model.from_db` expects);
- `instance(alias, row)`: the row through the converters Django's compiler would apply for those
  columns on that database (JSON decoding, SQLite's dates and booleans, ...), then `from_db`, so
  the instance is the one a QuerySet would have built (tests/ecommerce/test_model_rows.py holds
  the two equal on the test database).

Extra columns after the model's (an annotation written in SQL) are returned as they are.
Converters are worked out once per database connection object (connections are per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import Model
from django.db.models.sql import Query


class ModelRows:
    """Build `model` instances from rows that start with `select_list(alias)`'s columns."""

    def __init__(self, model: type[Model]):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self._local = threading.local()

    def _plan(self, alias: str) -> tuple[Any, str, Any, dict]:
        connection = connections[alias]
        plans = self._local.__dict__.setdefault("plans", {})
        plan = plans.get(alias)
        if plan is None or plan[0] is not connection:
            table = self.model._meta.db_table
            qn = connection.ops.quote_name
            select = ", ".join(f"{qn(table)}.{qn(field.column)}" for field in self.fields)
            compiler = connection.ops.compiler("SQLCompiler")(Query(self.model), connection, alias)
            converters = compiler.get_converters([field.get_col(table) for field in self.fields])
            plan = (connection, select, compiler, converters)
            plans[alias] = plan
        return plan

    def select_list(self, alias: str) -> str:
        """'"table"."col1", "table"."col2", ...': the model's concrete columns for `alias`."""
        return self._plan(alias)[1]

    def instance(self, alias: str, row: Sequence[Any]) -> tuple[Model, tuple[Any, ...]]:
        """(the model instance from the row's first columns, the row's extra columns)."""
        _, _, compiler, converters = self._plan(alias)
        width = len(self.fields)
        values = list(row[:width])
        if converters:
            values = next(iter(compiler.apply_converters([values], converters)))
        return self.model.from_db(alias, self.attnames, values), tuple(row[width:])
