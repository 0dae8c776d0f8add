"""Real Rasa webhook payloads through rasa_sdk's ActionExecutor, running the shop's actions."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from rasa_sdk.interfaces import ActionNotFoundException

from ecommerce.models import Order
from support.models import Conversation
from support.rasa_actions import build_executor, rasa_sender_token
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db


def payload(action: str, *, sender_id: str = "rasa-user-1", text: str = "", slots: dict | None = None) -> dict:
    """The JSON Rasa Open Source POSTs to the action server's /webhook."""
    return {
        "next_action": action,
        "sender_id": sender_id,
        "version": "3.21.0",
        "tracker": {
            "sender_id": sender_id,
            "slots": slots or {},
            "latest_message": {
                "text": text,
                "intent": {"name": "track_order", "confidence": 0.97},
                "entities": [],
                "intent_ranking": [],
            },
            "events": [
                {"event": "action", "name": "action_listen"},
                {"event": "user", "text": text, "parse_data": {"intent": {"name": "track_order"}}},
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {
            "slots": {
                name: {"type": "any", "mappings": []}
                for name in (
                    "order_number",
                    "email",
                    "confirmed",
                    "order_status",
                    "max_price",
                    "product_query",
                    "suggested_product_ids",
                    "support_conversation_id",
                )
            },
            "responses": {},
            "actions": [],
            "intents": [],
        },
    }


def run(body: dict) -> dict:
    result = async_to_sync(build_executor().run)(body)
    return result.model_dump()


def texts(result: dict) -> list[str]:
    return [r["text"] for r in result["responses"]]


def test_order_status_for_a_signed_in_shopper_via_signed_sender_id(user):
    OrderFactory(user=user, number="536365", status=Order.Status.PAID)
    result = run(payload("action_order_status", sender_id=rasa_sender_token(user), text="where is order 536365?"))
    assert "Order 536365" in texts(result)[0]
    assert {"event": "slot", "name": "order_status", "value": "paid", "timestamp": None} in result["events"]


def test_unsigned_sender_id_is_anonymous_and_needs_the_email(user):
    OrderFactory(user=user, number="536365", email=user.email)
    result = run(payload("action_order_status", sender_id=str(user.pk), slots={"order_number": "536365"}))
    assert "email" in texts(result)[0] and result["events"] == []
    wrong = run(payload("action_order_status", slots={"order_number": "536365", "email": "x@example.com"}))
    assert "couldn't find" in texts(wrong)[0]
    right = run(payload("action_order_status", slots={"order_number": "536365", "email": user.email}))
    assert "Order 536365" in texts(right)[0]


def test_missing_order_number_slot_asks_for_it():
    result = run(payload("action_order_status", text="where is my order"))
    assert "order number" in texts(result)[0] and result["events"] == []


def test_cancel_requires_confirmed_slot(user):
    order = OrderFactory(user=user, number="536365", status=Order.Status.PAID)
    sender = rasa_sender_token(user)
    ask = run(payload("action_cancel_order", sender_id=sender, slots={"order_number": "536365"}))
    assert "yes or no" in texts(ask)[0]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    done = run(payload("action_cancel_order", sender_id=sender, slots={"order_number": "536365", "confirmed": True}))
    assert "cancelled" in texts(done)[0]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_cancel_of_another_customers_order_reveals_nothing(user, other_user):
    order = OrderFactory(user=other_user, number="536999")
    result = run(
        payload(
            "action_cancel_order",
            sender_id=rasa_sender_token(user),
            slots={"order_number": "536999", "confirmed": True},
        )
    )
    assert "couldn't find" in texts(result)[0]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_return_request_with_confirmation(user):
    order = OrderFactory(user=user, number="536365", status=Order.Status.DELIVERED, delivered_at=timezone.now())
    OrderItemFactory(order=order, title="Tea towel", quantity=2)
    asked = run(payload("action_return_request", sender_id=rasa_sender_token(user), slots={"order_number": "536365"}))
    assert "Request a return of 2 × Tea towel from order 536365" in texts(asked)[0]
    result = run(
        payload(
            "action_return_request",
            sender_id=rasa_sender_token(user),
            slots={"order_number": "536365", "confirmed": True},
        )
    )
    assert "registered" in texts(result)[0]
    # a return is a request for the items, not a flip of the order's status
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert order.return_requests.get().status == "requested"


def test_recommend_products_under_a_max_price():
    ProductFactory(title="Rose scented candle", price="8.50")
    ProductFactory(title="Grand candle chandelier", price="80.00")
    result = run(payload("action_recommend_products", text="a candle for my mum under £20"))
    assert "Rose scented candle" in texts(result)[0] and "chandelier" not in texts(result)[0]
    slot = [e for e in result["events"] if e["name"] == "suggested_product_ids"][0]
    assert len(slot["value"]) >= 1


def test_handoff_to_human_queues_a_conversation_and_pauses_rasa():
    result = run(payload("action_handoff_to_human", sender_id="rasa-abc", text="我要人工客服"))
    assert "人工客服" in texts(result)[0]
    assert {"event": "pause", "timestamp": None} in result["events"]
    conversation = Conversation.objects.get(session_key="rasa:rasa-abc")
    assert conversation.status == "waiting" and conversation.handoffs.get().reason == "rasa"


def test_unknown_action_is_rejected():
    with pytest.raises(ActionNotFoundException):
        run(payload("action_launch_rockets"))


def test_expired_or_forged_sender_token_is_anonymous(user, settings):
    OrderFactory(user=user, number="536365")
    forged = "shop:" + str(user.pk) + ":forged"
    result = run(payload("action_order_status", sender_id=forged, slots={"order_number": "536365"}))
    assert "email" in texts(result)[0]


def test_action_server_lists_the_shop_actions():
    assert sorted(build_executor().actions) == [
        "action_cancel_order",
        "action_handoff_to_human",
        "action_order_status",
        "action_recommend_products",
        "action_return_request",
    ]


async def _asgi_request(app, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One HTTP request to rasa_sdk's sanic app over ASGI (what run_action_server serves)."""
    import json

    messages = [{"type": "http.request", "body": json.dumps(body).encode() if body else b"", "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(payload or b"null")


def test_webhook_over_http_on_the_action_server_app(user):
    import asyncio

    from rasa_sdk.endpoint import create_app
    from sanic import Sanic

    OrderFactory(user=user, number="536365", status=Order.Status.PAID)
    Sanic.test_mode = True  # allows a fresh app named "rasa_sdk" per test
    app = create_app(build_executor(), cors_origins=None)

    async def exchange():
        inbox, outbox = asyncio.Queue(), asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        lifespan = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
        assert (await asyncio.wait_for(outbox.get(), 30))["type"] == "lifespan.startup.complete"
        results = [
            await _asgi_request(app, "GET", "/health"),
            await _asgi_request(
                app,
                "POST",
                "/webhook",
                payload("action_order_status", sender_id=rasa_sender_token(user), text="where is my order 536365"),
            ),
            await _asgi_request(app, "POST", "/webhook", payload("action_launch_rockets")),
        ]
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 30)
        return results

    health, status, unknown = async_to_sync(exchange)()
    assert health == (200, {"status": "ok"})
    assert status[0] == 200 and "Order 536365" in status[1]["responses"][0]["text"]
    assert unknown[0] == 404 and unknown[1]["action_name"] == "action_launch_rockets"
