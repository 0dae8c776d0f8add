"""What signing in links to the account (ecommerce.privacy.user_login_link): conservative rules."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ecommerce.models import Order, UserAlias
from support.models import Conversation
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def _guest_checkout(client: Client, email: str) -> None:
    product = ProductFactory(stock=5)
    client.post(reverse("storefront:cart_update"), {"product_id": product.pk, "quantity": 1, "action": "add"})
    response = client.post(
        reverse("storefront:checkout"),
        {"shipping_name": "G", "email": email, "shipping_address": "x", "country": "", "anonymous_id": ""},
    )
    assert response.status_code == 302


def _login(client: Client, user) -> None:
    response = client.post(
        reverse("storefront:login"), {"username": user.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302


def test_guest_order_is_linked_only_with_the_same_session_and_the_same_email():
    # given: two guest orders in one session, one with the account's email
    ada = UserFactory(email="ada@example.com")
    client = Client()
    _guest_checkout(client, "ADA@example.com")
    _guest_checkout(client, "someone.else@example.com")
    # when
    _login(client, ada)
    # then
    linked = set(UserAlias.objects.filter(user=ada, kind=UserAlias.Kind.GUEST_ORDER).values_list("value", flat=True))
    assert len(linked) == 1
    assert linked == set(Order.objects.filter(email="ADA@example.com").values_list("number", flat=True))


def test_session_key_is_recorded_only_with_tracking_consent():
    declined, accepted = UserFactory(), UserFactory()
    for user, consent in ((declined, "no"), (accepted, "yes")):
        client = Client()
        client.cookies["tracking_consent"] = consent
        client.post("/api/support/conversations/", {}, content_type="application/json")  # makes a session
        _login(client, user)
    assert not UserAlias.objects.filter(user=declined).exists()
    assert UserAlias.objects.filter(user=accepted, kind=UserAlias.Kind.SESSION).count() == 1


def test_the_pre_login_chat_goes_on_under_the_account():
    # given: an anonymous chat (no tracking consent needed: the shopper asked for help)
    ada = UserFactory()
    client = Client()
    conversation_id = client.post("/api/support/conversations/", {}, content_type="application/json").json()["id"]
    client.post(
        f"/api/support/conversations/{conversation_id}/messages/",
        {"text": "where is my order?"},
        content_type="application/json",
    )
    stranger = Client()
    other_id = stranger.post("/api/support/conversations/", {}, content_type="application/json").json()["id"]
    # when
    _login(client, ada)
    # then: the same conversation, now hers; a stranger's chat is not
    response = client.get(f"/api/support/conversations/{conversation_id}/messages/")
    assert response.status_code == 200 and response.json()["messages"]
    assert Conversation.objects.get(pk=conversation_id).user == ada
    assert Conversation.objects.get(pk=other_id).user is None
