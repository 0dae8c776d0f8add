"""Agent endpoints: permissions, claim, round-robin with a limit, reply, notes, corrections, resolve, CSAT."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from support import services
from support.models import Conversation, IntentCorrection, Message
from tests.factories import UserFactory
from tests.factories.support import CannedResponseFactory, ConversationFactory, MessageFactory
from tests.support.conftest import csrf_client

pytestmark = pytest.mark.django_db


def make_agent(username: str):
    agent = UserFactory(username=username, is_staff=True)
    agent.user_permissions.add(Permission.objects.get(codename="handle_conversations"))
    return agent


def waiting_conversation(user=None) -> Conversation:
    conversation = ConversationFactory(user=user or UserFactory())
    MessageFactory(conversation=conversation, text="I need a human please", intent="contact_human_agent")
    services.conversation_handoff(conversation=conversation, reason="asked")
    conversation.refresh_from_db()
    return conversation


def test_agent_endpoints_refuse_shoppers_and_staff_without_permission(user, plain_staff):
    conversation = waiting_conversation()
    for client in (csrf_client(), csrf_client(user), csrf_client(plain_staff)):
        assert client.get("/api/support/agent/conversations/").status_code in (401, 403)
        assert client.post(f"/api/support/agent/conversations/{conversation.pk}/claim/").status_code in (401, 403)
    assert csrf_client(plain_staff).get("/support/console/").status_code == 403


def test_queue_lists_by_status_with_counts(agent_client):
    waiting_conversation()
    ConversationFactory()
    body = agent_client.get("/api/support/agent/conversations/?status=waiting").json()
    assert body["counts"]["waiting"] == 1 and body["counts"]["bot"] == 1
    assert [c["status"] for c in body["conversations"]] == ["waiting"]
    assert "[asked]" in body["conversations"][0]["summary"]
    assert agent_client.get("/api/support/agent/conversations/?status=nonsense").status_code == 400


def test_claim_reply_note_resolve_and_csat(agent, agent_client):
    shopper = UserFactory()
    conversation = waiting_conversation(shopper)
    assert (
        agent_client.post(f"/api/support/agent/conversations/{conversation.pk}/claim/").json()["status"] == "assigned"
    )
    reply = agent_client.post(
        f"/api/support/agent/conversations/{conversation.pk}/reply/", {"text": "Hi, I'm here"}, format="json"
    )
    assert reply.status_code == 201
    agent_client.post(
        f"/api/support/agent/conversations/{conversation.pk}/note/", {"text": "VIP customer"}, format="json"
    )
    shopper_client = csrf_client(shopper)
    seen = shopper_client.get(f"/api/support/conversations/{conversation.pk}/messages/").json()
    assert [m["text"] for m in seen["messages"] if m["sender"] == "agent"] == ["Hi, I'm here"]
    assert all(m["sender"] != "note" for m in seen["messages"])
    # CSAT only after resolution
    assert (
        shopper_client.post(
            f"/api/support/conversations/{conversation.pk}/csat/", {"score": 5}, format="json"
        ).status_code
        == 409
    )
    assert (
        agent_client.post(f"/api/support/agent/conversations/{conversation.pk}/resolve/").json()["status"] == "resolved"
    )
    assert (
        shopper_client.post(
            f"/api/support/conversations/{conversation.pk}/csat/", {"score": 9}, format="json"
        ).status_code
        == 400
    )
    assert (
        shopper_client.post(f"/api/support/conversations/{conversation.pk}/csat/", {"score": 4}, format="json").json()[
            "csat"
        ]
        == 4
    )
    conversation.refresh_from_db()
    assert conversation.first_agent_reply_at is not None and conversation.assigned_agent == agent


def test_bot_stays_quiet_while_an_agent_has_the_conversation(agent_client):
    shopper = UserFactory()
    conversation = waiting_conversation(shopper)
    agent_client.post(f"/api/support/agent/conversations/{conversation.pk}/claim/")
    client = csrf_client(shopper)
    body = client.post(
        f"/api/support/conversations/{conversation.pk}/messages/", {"text": "where is my order"}, format="json"
    ).json()
    assert [m["sender"] for m in body["messages"]] == ["shopper"]
    assert (
        not Message.objects.filter(conversation=conversation, sender="bot")
        .exclude(pk__lt=body["messages"][0]["id"])
        .exists()
    )


def test_claim_of_someone_elses_conversation_conflicts(agent_client):
    conversation = waiting_conversation()
    services.conversation_claim(conversation_id=conversation.pk, agent=make_agent("other_agent"))
    assert agent_client.post(f"/api/support/agent/conversations/{conversation.pk}/claim/").status_code == 409
    reply = agent_client.post(
        f"/api/support/agent/conversations/{conversation.pk}/reply/", {"text": "hi"}, format="json"
    )
    assert reply.status_code == 403


def test_round_robin_rotates_agents_and_respects_the_limit(settings, agent_client):
    settings.SUPPORT_AGENT_MAX_ACTIVE = 1
    first, second = make_agent("rr_a"), make_agent("rr_b")
    assigned = []
    conversations = [waiting_conversation() for _ in range(4)]
    for conversation in conversations[:3]:
        response = agent_client.post(f"/api/support/agent/conversations/{conversation.pk}/assign/", {}, format="json")
        assert response.status_code == 200, response.content
        assigned.append(response.json()["assigned_agent"])
    assert len(set(assigned)) == 3  # agent_one, rr_a, rr_b each got one
    assert {first.username, second.username} <= set(assigned)
    full = agent_client.post(f"/api/support/agent/conversations/{conversations[3].pk}/assign/", {}, format="json")
    assert full.status_code == 409
    assert Conversation.objects.get(pk=conversations[3].pk).status == "waiting"


def test_agent_corrects_an_intent(agent_client):
    message = MessageFactory(text="wheres my stuff", intent="out_of_scope")
    response = agent_client.post(
        f"/api/support/agent/messages/{message.pk}/intent/", {"intent": "track_order"}, format="json"
    )
    assert response.status_code == 200
    assert IntentCorrection.objects.get(message=message).intent == "track_order"
    bad = agent_client.post(
        f"/api/support/agent/messages/{message.pk}/intent/", {"intent": "fly_to_moon"}, format="json"
    )
    assert bad.status_code == 400


def test_conversation_detail_shows_shopper_orders_and_notes(agent_client):
    from tests.factories import OrderFactory

    shopper = UserFactory()
    OrderFactory(user=shopper, number="536365")
    OrderFactory(number="999999")  # someone else's
    conversation = waiting_conversation(shopper)
    body = agent_client.get(f"/api/support/agent/conversations/{conversation.pk}/").json()
    assert [o["number"] for o in body["context"]["orders"]] == ["536365"]
    assert body["messages"][0]["intent"] == "contact_human_agent"


def test_canned_responses_and_console_and_metrics_pages(agent_client, staff_client):
    CannedResponseFactory(title="Hello", text="Hello from support")
    assert agent_client.get("/api/support/agent/canned/").json()[0]["text"] == "Hello from support"
    assert agent_client.get("/support/console/").status_code == 200
    conversation = waiting_conversation()
    services.conversation_claim(conversation_id=conversation.pk, agent=make_agent("m_agent"))
    page = staff_client.get("/support/metrics/")
    assert page.status_code == 200 and b"Containment rate" in page.content


def test_metrics_page_needs_the_metrics_permission(client, staff_in_role):
    client.force_login(staff_in_role(None))
    assert client.get("/support/metrics/").status_code == 403
    assert client.get("/support/console/").status_code == 403
    client.force_login(staff_in_role("analyst"))
    assert client.get("/support/metrics/").status_code == 200
    assert client.get("/support/console/").status_code == 403


def test_support_metrics_containment_handoff_and_csat(agent):
    contained = ConversationFactory()
    MessageFactory(conversation=contained)
    handed = waiting_conversation()
    services.agent_reply(conversation_id=handed.pk, agent=agent, text="hi")
    services.conversation_resolve(conversation_id=handed.pk, agent=agent)
    services.csat_submit(conversation=handed, score=5)
    from support.selectors import support_metrics

    metrics = support_metrics()
    assert metrics.conversations == 2 and metrics.containment_rate == 0.5 and metrics.handoff_rate == 0.5
    assert metrics.csat_average == 5.0 and metrics.avg_first_response_seconds is not None


def test_privacy_export_and_erasure_of_conversations(user):
    from ecommerce import plugins

    conversation = ConversationFactory(user=user)
    MessageFactory(conversation=conversation, text="my address is 1 High St")
    MessageFactory(conversation=conversation, sender="note", text="internal")
    export = {s.app: s.func(user) for s in plugins.export_steps()}["support"]
    assert export[0]["messages"][0]["text"] == "my address is 1 High St" and len(export[0]["messages"]) == 1
    counts = {s.app: s.func(user) for s in plugins.erasure_steps()}["support"]
    assert counts == {"conversations": 1, "messages": 2}
    assert not Conversation.objects.filter(user=user).exists()


def test_queue_unread_counts_and_seen_marker(agent, agent_client, user):
    from support.models import Conversation, Message

    conversation = Conversation.objects.create(user=user, status=Conversation.Status.WAITING)
    first = Message.objects.create(conversation=conversation, sender="shopper", text="hello")
    Message.objects.create(conversation=conversation, sender="shopper", text="anyone?")
    body = agent_client.get("/api/support/agent/conversations/?status=waiting").json()
    assert body["unread"]["waiting"] == 1 and body["conversations"][0]["unread"] == 2
    seen = agent_client.post(
        f"/api/support/agent/conversations/{conversation.pk}/seen/", {"message_id": first.pk}, format="json"
    )
    assert seen.status_code == 200
    assert (
        agent_client.get("/api/support/agent/conversations/?status=waiting").json()["conversations"][0]["unread"] == 1
    )
    bad = agent_client.post(
        f"/api/support/agent/conversations/{conversation.pk}/seen/", {"message_id": -1}, format="json"
    )
    assert bad.status_code == 400


def test_seen_marker_is_for_agents_only(shopper_client, user):
    from support.models import Conversation

    conversation = Conversation.objects.create(user=user, status=Conversation.Status.WAITING)
    response = shopper_client.post(
        f"/api/support/agent/conversations/{conversation.pk}/seen/", {"message_id": 1}, format="json"
    )
    assert response.status_code == 403


def test_live_summary_names_every_order_and_the_majority_language(agent, agent_client, user):
    from support.models import Conversation, Message

    conversation = Conversation.objects.create(user=user, status=Conversation.Status.WAITING, language="en")
    for text, numbers in (
        ("订单536501坏了", ["536501"]),
        ("还有536502", ["536502"]),
        ("and 536503", ["536503"]),
        ("536504 也是", ["536504"]),
        ("请快点", []),
        ("谢谢", []),
        ("ok", []),
    ):
        Message.objects.create(
            conversation=conversation, sender="shopper", text=text, data={"entities": {"order_numbers": numbers}}
        )
    body = agent_client.get(f"/api/support/agent/conversations/{conversation.pk}/").json()
    summary = body["conversation"]["summary_live"]
    assert "Language: Chinese" in summary
    assert all(n in summary for n in ("536501", "536502", "536503", "536504"))
    assert set(body["context"]) >= {"orders", "cart", "events", "returns", "conversations"}
