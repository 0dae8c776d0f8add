"""The shopper chat through the API: dialogue flows (EN/ZH), safety across customers, CSRF, handoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ecommerce.models import Order, ReturnRequest
from support.models import Conversation, Message
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, UserFactory
from tests.support.conftest import csrf_client

pytestmark = pytest.mark.django_db


def start(client) -> int:
    response = client.post("/api/support/conversations/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["id"]


def say(client, conversation_id: int, text: str) -> dict:
    response = client.post(f"/api/support/conversations/{conversation_id}/messages/", {"text": text}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def bot_reply(body: dict) -> str:
    bots = [m["text"] for m in body["messages"] if m["sender"] == "bot"]
    return bots[-1] if bots else ""


def order_for(user, number: str, status=Order.Status.PAID, **kwargs) -> Order:
    order = OrderFactory(user=user, number=number, status=status, **kwargs)
    OrderItemFactory(order=order, product=ProductFactory(title="Regency cakestand"), quantity=2)
    return order


def test_order_status_in_english_is_grounded_in_the_order(active_intent_model, user, shopper_client):
    order_for(user, "536365", status=Order.Status.SHIPPED, tracking_number="TRK123", shipped_at=timezone.now())
    conversation = start(shopper_client)
    reply = bot_reply(say(shopper_client, conversation, "where is my order 536365?"))
    assert "536365" in reply and "shipped" in reply and "TRK123" in reply and "2 item" in reply


def test_order_status_in_chinese_uses_the_only_order(active_intent_model, user, shopper_client):
    order_for(user, "536365")
    conversation = start(shopper_client)
    reply = bot_reply(say(shopper_client, conversation, "我的订单到哪了"))
    assert "订单 536365" in reply and "已付款" in reply


def test_which_order_is_asked_when_the_shopper_has_several(active_intent_model, user, shopper_client):
    order_for(user, "536365")
    order_for(user, "536366", placed_at=timezone.now() - timedelta(days=1))
    conversation = start(shopper_client)
    body = say(shopper_client, conversation, "where is my order")
    assert "Which order" in bot_reply(body) and "536365" in bot_reply(body) and "536366" in bot_reply(body)
    reply = bot_reply(say(shopper_client, conversation, "536366"))
    assert "Order 536366" in reply


def test_cancel_needs_confirmation_and_no_keeps_the_order(active_intent_model, user, shopper_client):
    order = order_for(user, "536365")
    conversation = start(shopper_client)
    assert "yes or no" in bot_reply(say(shopper_client, conversation, "please cancel order 536365"))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert "haven't changed" in bot_reply(say(shopper_client, conversation, "no"))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_cancel_in_chinese_after_yes_cancels(active_intent_model, user, shopper_client):
    order = order_for(user, "536365")
    conversation = start(shopper_client)
    assert "确定要取消订单 536365" in bot_reply(say(shopper_client, conversation, "请帮我取消订单536365"))
    assert "已取消" in bot_reply(say(shopper_client, conversation, "是的"))
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_shipped_order_cannot_be_cancelled(active_intent_model, user, shopper_client):
    order_for(user, "536365", status=Order.Status.SHIPPED)
    conversation = start(shopper_client)
    assert "can no longer be cancelled" in bot_reply(say(shopper_client, conversation, "cancel order 536365"))


def test_change_address_asks_address_then_confirms(active_intent_model, user, shopper_client):
    order = order_for(user, "536365")
    conversation = start(shopper_client)
    assert "new shipping address" in bot_reply(
        say(shopper_client, conversation, "change the delivery address for order 536365")
    )
    assert "yes or no" in bot_reply(say(shopper_client, conversation, "22 Acacia Avenue, Leeds LS1 1AA"))
    assert "new address" in bot_reply(say(shopper_client, conversation, "yes"))
    order.refresh_from_db()
    assert order.shipping_address == "22 Acacia Avenue, Leeds LS1 1AA"


def test_return_is_a_per_item_request_with_reason_and_confirmation(active_intent_model, user, shopper_client):
    # given a delivered order with one line of two cakestands
    order = order_for(user, "536365", status=Order.Status.DELIVERED, delivered_at=timezone.now())
    conversation = start(shopper_client)
    # when the shopper asks for a return, the bot lists the items instead of returning the order
    asked = bot_reply(say(shopper_client, conversation, "i want to return order 536365 and get my money back"))
    assert "Which items" in asked and "1. Regency cakestand (up to 2)" in asked
    # more than was bought is refused, and the question stays open
    assert "at most 2 of Regency cakestand" in bot_reply(say(shopper_client, conversation, "1 x3"))
    assert "Why are you returning" in bot_reply(say(shopper_client, conversation, "1"))
    assert "yes or no" in bot_reply(say(shopper_client, conversation, "it arrived chipped"))
    assert "registered" in bot_reply(say(shopper_client, conversation, "yes"))
    # then: a request for one item with the reason; the order itself is not "returned"
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    request = ReturnRequest.objects.get(order=order)
    assert request.status == ReturnRequest.Status.REQUESTED and request.reason == "it arrived chipped"
    assert [(line.item.title, line.quantity) for line in request.lines.all()] == [("Regency cakestand", 1)]
    # and the second ask offers only what is left (one unit: nothing to choose, straight to the reason)
    again = bot_reply(say(shopper_client, conversation, "i want to return order 536365"))
    assert "Returning 1 × Regency cakestand" in again


def test_chinese_conversation_stays_chinese_through_an_order_number(active_intent_model, user, shopper_client):
    order_for(user, "536365", status=Order.Status.SHIPPED)
    OrderFactory(user=user, number="536366", status=Order.Status.PAID)
    conversation = start(shopper_client)
    assert say(shopper_client, conversation, "我的订单到哪了？")["language"] == "zh"
    body = say(shopper_client, conversation, "536365")
    assert body["language"] == "zh"
    assert "订单 536365" in bot_reply(body) and "已发货" in bot_reply(body)
    # "ok" is not a whole English message either; two English words are
    assert say(shopper_client, conversation, "ok")["language"] == "zh"
    assert say(shopper_client, conversation, "where is order 536365")["language"] == "en"


def test_another_customers_order_reveals_nothing(active_intent_model, user, other_user, shopper_client):
    order_for(other_user, "536999", status=Order.Status.SHIPPED, tracking_number="SECRET1")
    conversation = start(shopper_client)
    for text in ("where is my order 536999?", "cancel order 536999"):
        reply = bot_reply(say(shopper_client, conversation, text))
        assert "couldn't find an order with that number" in reply
        assert "SECRET1" not in reply and "shipped" not in reply
    missing = bot_reply(say(shopper_client, conversation, "where is my order 111111?"))
    assert missing == bot_reply(say(shopper_client, conversation, "where is my order 536999?"))
    assert Order.objects.get(number="536999").status == Order.Status.SHIPPED


def test_anonymous_shopper_must_give_number_and_email(active_intent_model, guest_client):
    owner = UserFactory(email="owner@example.com")
    order_for(owner, "536365", status=Order.Status.SHIPPED, tracking_number="TRK9", shipped_at=timezone.now())
    conversation = start(guest_client)
    reply = bot_reply(say(guest_client, conversation, "where is my order 536365?"))
    assert "email" in reply and "TRK9" not in reply and "shipped" not in reply
    wrong = bot_reply(say(guest_client, conversation, "it's thief@example.com"))
    assert "couldn't find" in wrong and "TRK9" not in wrong
    right = bot_reply(say(guest_client, conversation, "where is my order 536365? owner@example.com"))
    assert "TRK9" in right


def test_guest_cannot_cancel_someone_elses_order_with_a_wrong_email(active_intent_model, guest_client):
    order = order_for(UserFactory(email="owner@example.com"), "536365")
    conversation = start(guest_client)
    say(guest_client, conversation, "cancel order 536365 my email is me@example.com")
    say(guest_client, conversation, "yes")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_conversation_of_another_shopper_is_not_found(active_intent_model, user, other_user):
    mine = csrf_client(user)
    conversation = start(mine)
    say(mine, conversation, "hello")
    theirs = csrf_client(other_user)
    assert theirs.get(f"/api/support/conversations/{conversation}/messages/").status_code == 404
    response = theirs.post(f"/api/support/conversations/{conversation}/messages/", {"text": "hi"}, format="json")
    assert response.status_code == 404
    guest = csrf_client()
    assert guest.get(f"/api/support/conversations/{conversation}/messages/").status_code == 404


def test_anonymous_chat_requires_csrf_token(db):
    client = APIClient(enforce_csrf_checks=True)
    client.get("/support/chat/")
    assert client.post("/api/support/conversations/", {}, format="json").status_code == 403
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert client.post("/api/support/conversations/", {}, format="json").status_code == 200


def test_messages_are_length_capped_and_stored_verbatim(active_intent_model, shopper_client):
    conversation = start(shopper_client)
    too_long = shopper_client.post(
        f"/api/support/conversations/{conversation}/messages/", {"text": "x" * 1001}, format="json"
    )
    assert too_long.status_code == 400
    empty = shopper_client.post(f"/api/support/conversations/{conversation}/messages/", {"text": "  "}, format="json")
    assert empty.status_code == 400
    body = say(shopper_client, conversation, "<script>alert(1)</script>")
    assert body["messages"][0]["text"] == "<script>alert(1)</script>"
    page = shopper_client.get("/support/chat/").content.decode()
    assert "<script>alert(1)</script>" not in page


def test_chat_is_throttled_per_session(active_intent_model, guest_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    from ecommerce.api.throttling import CounterScopedRateThrottle

    # DRF reads the rates once at import: swap the class attribute for this test.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "chat": "3/min"})
    # The counter's window is the clock minute: freeze the clock 10 s into a minute, or requests
    # that straddle a minute boundary (the first reply loads the encoder, ~3 s) start a new count.
    monkeypatch.setattr(CounterScopedRateThrottle, "timer", staticmethod(lambda: 60 * 40_000 + 10.0))
    conversation = start(guest_client)
    codes = [
        guest_client.post(
            f"/api/support/conversations/{conversation}/messages/", {"text": "hi"}, format="json"
        ).status_code
        for _ in range(4)
    ]
    assert codes[-1] == 429


def test_asking_for_a_human_hands_off_and_the_bot_stops(active_intent_model, shopper_client):
    conversation = start(shopper_client)
    body = say(shopper_client, conversation, "I want to talk to a real person")
    assert body["status"] == "waiting" and "agent" in bot_reply(body)
    assert Conversation.objects.get(pk=conversation).handoffs.get().reason == "asked"
    body = say(shopper_client, conversation, "hello?")
    assert [m["sender"] for m in body["messages"]] == ["shopper"]


def test_angry_complaint_hands_off_with_summary(active_intent_model, user, shopper_client):
    order_for(user, "536365")
    conversation = start(shopper_client)
    say(shopper_client, conversation, "where is order 536365")
    body = say(shopper_client, conversation, "this is ridiculous, worst service ever, I'm furious")
    assert body["status"] == "waiting" and "sorry" in bot_reply(body).lower()
    conv = Conversation.objects.get(pk=conversation)
    assert conv.handoffs.get().reason == "complaint"
    assert "536365" in conv.summary and "furious" in conv.summary


def test_out_of_scope_answered_first_then_handed_off(active_intent_model, shopper_client):
    conversation = start(shopper_client)
    first = say(shopper_client, conversation, "what's the weather like in Paris today?")
    assert first["status"] == "bot" and "shopping questions" in bot_reply(first)
    second = say(shopper_client, conversation, "tell me a joke about cats")
    assert second["status"] == "waiting"
    assert Conversation.objects.get(pk=conversation).handoffs.get().reason == "out_of_scope"


def test_low_confidence_twice_hands_off(small_intent_model, shopper_client):
    import copy

    from ecommerce.ml import model_version_promote, model_version_register

    unsure = copy.deepcopy(small_intent_model)
    unsure.threshold, unsure.language_thresholds = 1.01, {}  # nothing is confident enough (p <= 1)
    model_version_promote(
        version=model_version_register(
            name="support.intents", artifact=unsure, metrics={"accuracy": 0.5}, primary_metric="accuracy"
        )
    )
    conversation = start(shopper_client)
    first = say(shopper_client, conversation, "order where hmm")
    assert first["status"] == "bot" and "say it another way" in bot_reply(first)
    second = say(shopper_client, conversation, "cancel maybe the order")
    assert second["status"] == "waiting"
    assert Conversation.objects.get(pk=conversation).handoffs.get().reason == "low_confidence"


def test_product_suggestions_respect_the_max_price(active_intent_model, shopper_client):
    ProductFactory(title="Rose scented candle", price="8.50")
    ProductFactory(title="Luxury candle set", price="45.00")
    conversation = start(shopper_client)
    body = say(shopper_client, conversation, "a candle gift for my mum under £20")
    products = body["messages"][-1]["data"]["products"]
    assert products and all(float(p["price"]) <= 20 for p in products)
    assert products[0]["title"] == "Rose scented candle"


def test_policy_answers_come_from_merchant_policy_text(active_intent_model, shopper_client):
    from tests.factories.support import PolicyTextFactory

    PolicyTextFactory(key="payment", text="We take Visa and PayPal only.", text_zh="我们只接受 Visa 和 PayPal。")
    conversation = start(shopper_client)
    assert (
        bot_reply(say(shopper_client, conversation, "what payment methods do you accept"))
        == "We take Visa and PayPal only."
    )
    assert bot_reply(say(shopper_client, conversation, "支持哪些付款方式")) == "我们只接受 Visa 和 PayPal。"


def test_keyword_fallback_serves_when_no_model_is_active(user, shopper_client):
    order_for(user, "536365")
    conversation = start(shopper_client)
    assert "Order 536365" in bot_reply(say(shopper_client, conversation, "where is my order 536365"))
    shopper_message = Message.objects.filter(conversation_id=conversation, sender="shopper").get()
    assert shopper_message.intent == "track_order"


def test_start_resumes_the_open_conversation(shopper_client):
    assert start(shopper_client) == start(shopper_client)


def test_chat_bubble_partial_renders_for_storefront_pages_only(rf):
    from django.template.loader import render_to_string
    from django.urls import resolve

    request = rf.get("/some-page/")
    request.resolver_match = None
    html = render_to_string("support/_chat_bubble.html", {"request": request})
    assert "data-support-bubble" in html and "support-chat.js" in html
    request = rf.get("/support/chat/")
    request.resolver_match = resolve("/support/chat/")
    assert "data-support-bubble" not in render_to_string("support/_chat_bubble.html", {"request": request})


def test_history_lists_only_the_shoppers_own_conversations(user, other_user, shopper_client):
    mine = Conversation.objects.create(
        user=user, status=Conversation.Status.RESOLVED, csat=5, resolved_at=timezone.now()
    )
    theirs = Conversation.objects.create(user=other_user)
    Conversation.objects.create(session_key="someone-elses-session")
    body = shopper_client.post("/api/support/conversations/", {}, format="json").json()
    ids = [c["id"] for c in body["history"]]
    assert mine.pk in ids and theirs.pk not in ids and len(ids) == 2  # the rated one and the new one
    assert [c["id"] for c in shopper_client.get("/api/support/conversations/").json()["conversations"]] == ids
    # a client-sent id of someone else's conversation answers like a missing one
    assert shopper_client.get(f"/api/support/conversations/{theirs.pk}/messages/").status_code == 404


def test_returning_shopper_gets_the_resolved_unrated_conversation_back(user, agent, shopper_client):
    from support import services

    conversation = Conversation.objects.create(user=user, status=Conversation.Status.WAITING)
    Message.objects.create(conversation=conversation, sender="shopper", text="help")
    services.agent_reply(conversation_id=conversation.pk, agent=agent, text="Sorted!")
    services.conversation_resolve(conversation_id=conversation.pk, agent=agent)
    body = shopper_client.post("/api/support/conversations/", {}, format="json").json()
    assert body["id"] == conversation.pk and body["status"] == "resolved" and body["csat"] is None
    agent_message = [m for m in body["messages"] if m["sender"] == "agent"][0]
    assert agent_message["author_name"] == (agent.first_name or agent.username) and agent_message["created_at"]
    shopper_client.post(f"/api/support/conversations/{conversation.pk}/csat/", {"score": 4}, format="json")
    # once rated, coming back starts a fresh conversation (the old one stays in the history)
    fresh = shopper_client.post("/api/support/conversations/", {}, format="json").json()
    assert fresh["id"] != conversation.pk
    assert conversation.pk in [c["id"] for c in fresh["history"]]


@pytest.mark.parametrize(
    ("current", "text", "expected"),
    [
        ("zh", "W2611301A2B3C", "zh"),
        ("zh", "536365", "zh"),
        ("zh", "ok", "zh"),
        ("zh", "me@example.com", "zh"),
        ("zh", "where is my order", "en"),
        ("en", "我的订单", "zh"),
        ("en", "536365", "en"),
        ("en", "order 536365 到哪了", "zh"),
        ("zh", "yes 好的", "zh"),
    ],
)
def test_conversation_language_changes_only_on_a_whole_message(current, text, expected):
    from support.dialogue import conversation_language

    assert conversation_language(text, current) == expected
