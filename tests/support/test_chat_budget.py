"""Query budgets of the chat's request path: a bot reply may not drift far from storing one message.

Measured when set (docs/benchmarks/support.md "Bot reply speed"; SQLite, no shared cache, so the
session and the user are read from the database): a reply reads the conversation once (owner check
and row lock in one SELECT ... FOR UPDATE), the order the answer needs or the FAQ/policy stamp
(one query; the texts themselves are cached per process until it changes), and writes both
messages in one INSERT and the conversation in one UPDATE, inside one savepoint. A new query per
message or per order line fails here.
"""

from __future__ import annotations

import pytest

from support import engine
from support.models import Message
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory
from tests.support.test_chat_api import say, start

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "budget"),
    [("hello", 7), ("what payment methods do you take", 8), ("where is my order 536365?", 9)],
)
def test_bot_reply_query_budget(active_intent_model, user, shopper_client, text, budget, django_assert_max_num_queries):
    order = OrderFactory(user=user, number="536365")
    for _ in range(3):  # the reply must not read the order's lines one by one
        OrderItemFactory(order=order, product=ProductFactory())
    conversation = start(shopper_client)
    say(shopper_client, conversation, "hi")  # warm the per-process model and index caches
    engine.support_texts()  # and the FAQ/policy snapshot (rebuilt only when they change)
    with django_assert_max_num_queries(budget):
        body = say(shopper_client, conversation, text)
    assert [m["sender"] for m in body["messages"]] == ["shopper", "bot"]
    assert Message.objects.filter(conversation_id=conversation).count() == 4


def test_the_reply_writes_both_messages_in_order(active_intent_model, shopper_client):
    conversation = start(shopper_client)
    body = say(shopper_client, conversation, "hello")
    shopper, bot = body["messages"]
    assert shopper["id"] < bot["id"] and body["cursor"] == bot["id"]
