"""ModelRows builds the instance a QuerySet would have built, from a hand-written SELECT."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from ecommerce.model_rows import ModelRows
from ecommerce.models import Product
from support.models import Conversation
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def _read(rows: ModelRows, pk: int, extra: str = "") -> tuple:
    table = connection.ops.quote_name(rows.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {rows.select_list('default')}{extra} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()


def test_a_conversation_row_becomes_the_instance_the_orm_builds():
    user = UserFactory()
    conversation = Conversation.objects.create(
        user=user,
        language="zh",
        state={"pending": {"number": "536365", "awaiting": "email"}, "out_of_scope": 2},
        csat=None,
        handed_off_at=timezone.now() - timedelta(minutes=3),
    )
    rows = ModelRows(Conversation)
    built, extra = rows.instance("default", _read(rows, conversation.pk, ", 41 + 1"))
    expected = Conversation.objects.get(pk=conversation.pk)
    assert _fields(built) == _fields(expected)
    assert built.state == {"pending": {"number": "536365", "awaiting": "email"}, "out_of_scope": 2}  # decoded JSON
    assert built.handed_off_at.tzinfo is not None and built.resolved_at is None
    assert extra == (42,)
    assert not built._state.adding and built._state.db == "default"
    built.summary = "saved through the normal path"
    built.save(update_fields=["summary"])
    assert Conversation.objects.get(pk=conversation.pk).summary == "saved through the normal path"


def test_decimals_and_booleans_come_back_as_the_orm_gives_them():
    product = ProductFactory(is_active=False)
    rows = ModelRows(Product)
    built, extra = rows.instance("default", _read(rows, product.pk))
    expected = Product.objects.get(pk=product.pk)
    assert _fields(built) == _fields(expected) and extra == ()
    assert type(built.price) is type(expected.price) and built.is_active is False


def test_each_thread_uses_its_own_connection():
    rows = ModelRows(Conversation)
    rows.select_list("default")
    seen = []

    def other_thread():
        seen.append(rows._plan("default")[0] is connections["default"])
        connections["default"].close()

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert seen == [True] and rows._plan("default")[0] is connections["default"]
