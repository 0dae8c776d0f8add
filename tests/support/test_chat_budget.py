"""Query budgets of the chat's request path: a bot reply may not drift far from storing one message.

Measured when set (docs/benchmarks/storefront.md "Chat: bot reply vs storing one message";
PostgreSQL, the tests' cache, so the session and the user row may be read from the database too):
a reply reads the conversation once, with the FAQ/policy stamp as a column (the texts themselves
are cached per process until it changes), reads a signed-in shopper's own order joined to its
lines in one query, and writes the conversation and both messages in one statement that applies
only if the conversation is unchanged since the read (services.shopper_message_post). A new query
per message or per order line fails here, and so do the optimistic turn's races.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from sklearn.metrics.pairwise import linear_kernel

from ecommerce.models import Order
from support import engine, services
from support.api import ConversationOut, MessageOut, conversation_out, message_out
from support.dialogue import Dialogue
from support.models import Conversation, FAQEntry, Handoff, Message
from support.nlu.entities import ProductMatcher
from support.nlu.faq import FaqIndex
from support.replies import render
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, UserFactory
from tests.support.test_chat_api import bot_reply, say, start

pytestmark = pytest.mark.django_db

# The optimistic turn is PostgreSQL's (one UPDATE ... RETURNING + INSERT statement); SQLite, the
# embedded default, takes the row-locked path, so each test states what holds on each backend.
OPTIMISTIC = connection.vendor == "postgresql"


@pytest.mark.parametrize(
    ("text", "optimistic_budget", "locked_budget"),
    [("hello", 5, 8), ("what payment methods do you take", 5, 8), ("where is my order 536365?", 6, 9)],
)
def test_bot_reply_query_budget(
    active_intent_model, user, shopper_client, text, optimistic_budget, locked_budget, django_assert_max_num_queries
):
    budget = optimistic_budget if OPTIMISTIC else locked_budget
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


def _turn_statements(shopper_client, conversation: int, text: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        say(shopper_client, conversation, text)
    return [q["sql"] for q in queries.captured_queries if "support_" in q["sql"] or "ecommerce_order" in q["sql"]]


def test_a_reply_is_one_read_and_one_write_of_the_chat(active_intent_model, user, shopper_client):
    order = OrderFactory(user=user, number="536365")
    OrderItemFactory(order=order, product=ProductFactory(), quantity=2)
    conversation = start(shopper_client)
    say(shopper_client, conversation, "hi")
    engine.support_texts()
    greeting = _turn_statements(shopper_client, conversation, "hello")
    if not OPTIMISTIC:  # the locked path: no optimistic statement, the reply still stored
        assert not any(sql.startswith("WITH turn AS") for sql in greeting)
        assert Message.objects.filter(conversation_id=conversation).count() == 4
        return
    assert len(greeting) == 2 and "FOR UPDATE" not in greeting[0] and greeting[1].startswith("WITH turn AS (UPDATE")
    policy = _turn_statements(shopper_client, conversation, "what payment methods do you take")
    assert len(policy) == 2  # the FAQ/policy stamp came with the conversation
    status = _turn_statements(shopper_client, conversation, "where is my order 536365?")
    assert len(status) == 3  # + the order joined to its lines


def test_a_turn_that_loses_a_race_is_decided_again_on_the_new_state(active_intent_model, shopper_client, monkeypatch):
    conversation = start(shopper_client)
    say(shopper_client, conversation, "hello")
    real_respond, calls = Dialogue.respond, []

    def respond(self, text, language=None):
        calls.append(dict(self.state))
        if len(calls) == 1:  # another request changes the conversation between our read and write
            Conversation.objects.filter(pk=conversation).update(
                updated_at=timezone.now(), state={"out_of_scope": 1, "low_confidence": 0}
            )
        return real_respond(self, text, language)

    monkeypatch.setattr(Dialogue, "respond", respond)
    body = say(shopper_client, conversation, "hello")
    if not OPTIMISTIC:  # decided once, under the row lock that keeps other requests out
        assert len(calls) == 1 and [m["sender"] for m in body["messages"]] == ["shopper", "bot"]
        assert Message.objects.filter(conversation_id=conversation).count() == 4
        return
    assert len(calls) == 2 and calls[1]["out_of_scope"] == 1  # the second decision saw the change
    assert [m["sender"] for m in body["messages"]] == ["shopper", "bot"]
    assert Message.objects.filter(conversation_id=conversation).count() == 4  # nothing from the lost try
    ids = list(Message.objects.filter(conversation_id=conversation).values_list("id", flat=True))
    assert body["messages"][0]["id"] == ids[2] and body["cursor"] == ids[3]


def test_an_agent_taking_over_mid_turn_keeps_the_bot_quiet(active_intent_model, agent, shopper_client, monkeypatch):
    conversation = start(shopper_client)
    real_respond = Dialogue.respond

    def respond(self, text, language=None):
        Conversation.objects.filter(pk=conversation).update(
            status=Conversation.Status.ASSIGNED, assigned_agent=agent, updated_at=timezone.now()
        )
        return real_respond(self, text, language)

    monkeypatch.setattr(Dialogue, "respond", respond)
    body = say(shopper_client, conversation, "hello")
    if not OPTIMISTIC:
        # Under the row lock no other request can take the chat mid-turn (here the test's own
        # connection did, inside the lock): the turn completes as it was decided.
        assert [m["sender"] for m in body["messages"]] == ["shopper", "bot"]
        return
    assert [m["sender"] for m in body["messages"]] == ["shopper"] and body["status"] == "assigned"
    assert list(Message.objects.filter(conversation_id=conversation).values_list("sender", flat=True)) == ["shopper"]


def test_a_confirmation_that_changes_an_order_runs_under_the_row_lock(active_intent_model, user, shopper_client):
    order = OrderFactory(user=user, number="536365", status=Order.Status.PAID)
    OrderItemFactory(order=order, product=ProductFactory(), quantity=1)
    conversation = start(shopper_client)
    assert "536365" in bot_reply(say(shopper_client, conversation, "please cancel my order 536365"))
    assert Conversation.objects.get(pk=conversation).state["pending"]["awaiting"] == "confirm"
    with CaptureQueriesContext(connection) as queries:
        say(shopper_client, conversation, "yes")
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any(sql.startswith("WITH turn AS") for sql in statements)
    if connection.features.has_select_for_update:  # SQLite locks the whole database instead
        assert any("FOR UPDATE" in sql and "support_conversation" in sql for sql in statements)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_a_handoff_decided_optimistically_is_stored_with_its_messages(active_intent_model, shopper_client):
    conversation = start(shopper_client)
    body = say(shopper_client, conversation, "I want to talk to a human agent")
    assert body["status"] == "waiting" and [m["sender"] for m in body["messages"]] == ["shopper", "bot"]
    assert Handoff.objects.filter(conversation_id=conversation, reason="asked").count() == 1
    assert Message.objects.filter(conversation_id=conversation).count() == 2


def test_an_edited_faq_shows_in_the_next_reply_via_the_stamp_read_with_the_conversation(
    active_intent_model, shopper_client
):
    conversation = start(shopper_client)
    entry = FAQEntry.objects.create(
        question="Do you gift wrap parcels?", answer="Gift wrap costs 2 pounds.", is_active=True
    )
    assert "Gift wrap costs 2 pounds" in bot_reply(say(shopper_client, conversation, "do you gift wrap parcels?"))
    entry.answer = "Gift wrap is free."
    entry.save()  # an admin edit (the stamp is the count and last edit, as before)
    assert "Gift wrap is free" in bot_reply(say(shopper_client, conversation, "do you gift wrap parcels?"))


def test_the_reply_json_equals_the_serializers(active_intent_model, agent, shopper_client):
    conversation = start(shopper_client)
    say(shopper_client, conversation, "hello")
    Message.objects.create(conversation_id=conversation, sender=Message.Sender.AGENT, author=agent, text="Hi!")
    conv = Conversation.objects.get(pk=conversation)
    conv.csat = 4
    assert conversation_out(conv) == ConversationOut(conv).data
    for message in Message.objects.filter(conversation_id=conversation).select_related("author"):
        assert message_out(message) == MessageOut(message).data


def test_the_own_order_shortcut_reveals_nothing_of_other_shoppers_orders(active_intent_model, shopper_client):
    other = UserFactory()
    order = OrderFactory(user=other, number="536399", status=Order.Status.PAID)
    OrderItemFactory(order=order, product=ProductFactory(), quantity=3)
    conversation = start(shopper_client)
    assert bot_reply(say(shopper_client, conversation, "where is my order 536399?")) == render("order_not_found", "en")


def test_services_facts_equal_for_the_shortcut_and_the_order_service(user):
    from support import actions

    order = OrderFactory(user=user, number="536377")
    for quantity in (2, -1, 3):
        OrderItemFactory(order=order, product=ProductFactory(), quantity=quantity)
    shopper = actions.Shopper(user=user, language="en")
    shortcut_order, shortcut = actions._own_order_with_facts(shopper, "536377", "en")
    assert shortcut_order.pk == order.pk and shortcut == actions._order_facts(order, "en")
    empty = OrderFactory(user=user, number="536378")
    assert actions._own_order_with_facts(shopper, "536378", "en")[1] == actions._order_facts(empty, "en")
    assert actions._own_order_with_facts(actions.Shopper(user=UserFactory()), "536377", "en") is None


def test_product_matcher_index_finds_what_a_scan_of_every_title_finds():
    rng = random.Random(3)
    vocabulary = [f"word{i}" for i in range(40)]
    titles = [(pk, " ".join(rng.sample(vocabulary, rng.randint(1, 5)))) for pk in range(1, 400)]
    matcher = ProductMatcher(titles)
    for _ in range(300):
        text = " ".join(rng.sample(vocabulary, rng.randint(0, 12)))
        words = set(text.split())
        scan = sorted(((size, pid) for pid, tw, size in matcher._index if tw <= words), reverse=True)
        assert matcher.match(text) == ([pid for _, pid in scan[:5]] if len(words) >= 2 else [])


def test_faq_scores_equal_scikit_learns_linear_kernel():
    index = FaqIndex(
        [(1, ["How long does delivery take?", "配送需要多久？"]), (2, "Which payment methods do you accept?")],
        answers=[["Two to four days.", "两到四天。"], "Cards and PayPal."],
        encoder=None,
    )
    for query in ["how long is shipping", "can I pay with paypal", "配送", "zzz", "hello"]:
        expected = linear_kernel(index.vectorizer.transform([query]), index.matrix).ravel()
        assert np.array_equal((index._transform([query]) @ index.matrix.T).toarray().ravel(), expected)


def test_sqlite_or_any_other_database_takes_the_locked_path(monkeypatch, active_intent_model, shopper_client):
    conversation = start(shopper_client)
    monkeypatch.setattr(services, "OPTIMISTIC_TURN_ATTEMPTS", 0)  # as if not PostgreSQL
    with CaptureQueriesContext(connection) as queries:
        body = say(shopper_client, conversation, "hello")
    assert [m["sender"] for m in body["messages"]] == ["shopper", "bot"]
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any(sql.startswith("WITH turn AS") for sql in statements)
    if connection.features.has_select_for_update:
        assert any("FOR UPDATE" in sql for sql in statements)
