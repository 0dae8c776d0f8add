"""The shopper's privacy controls: consent page, download my data, delete my account."""

import json

import pytest
from django.urls import reverse

from ecommerce.models import Cart, Event, Order, User
from tests.factories import EventFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_privacy_page_is_open_to_anonymous_shoppers_without_account_actions(client):
    response = client.get(reverse("storefront:privacy"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Allow tracking" in html
    assert "Delete my account" not in html


def test_privacy_page_shows_consent_state(client):
    client.cookies["tracking_consent"] = "yes"
    assert "tracking allowed" in client.get(reverse("storefront:privacy")).content.decode()
    assert "Do-Not-Track" in client.get(reverse("storefront:privacy"), HTTP_DNT="1").content.decode()


def test_export_contains_own_orders_and_events_and_no_one_elses(client, user, other_user):
    # given
    mine = OrderFactory(user=user, shipping_address="1 My Street")
    OrderItemFactory(order=mine)
    theirs = OrderFactory(user=other_user, shipping_address="9 Their Road")
    OrderItemFactory(order=theirs)
    EventFactory(user=user, type=Event.Type.SEARCH, query="my search")
    EventFactory(user=other_user, type=Event.Type.SEARCH, query="their search")
    client.force_login(user)
    # when
    response = client.get(reverse("storefront:privacy_export"))
    # then
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.content)
    assert data["core"]["account"]["username"] == user.username
    assert [o["number"] for o in data["core"]["orders"]] == [mine.number]
    assert [e["query"] for e in data["core"]["events"]] == ["my search"]
    raw = response.content.decode()
    assert theirs.number not in raw
    assert "9 Their Road" not in raw
    assert "their search" not in raw
    assert other_user.email not in raw


def test_delete_account_needs_the_right_password(client, user):
    client.force_login(user)
    response = client.post(reverse("storefront:privacy_delete"), {"password": "wrong", "confirm": "on"})
    assert response.status_code == 400
    assert "not correct" in response.content.decode()
    user.refresh_from_db()
    assert user.is_active
    assert user.date_erased is None


def test_delete_account_needs_confirmation(client, user):
    client.force_login(user)
    response = client.post(reverse("storefront:privacy_delete"), {"password": "correct-horse-battery"})
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.is_active


def test_delete_account_is_post_only(client, user):
    client.force_login(user)
    assert client.get(reverse("storefront:privacy_delete")).status_code == 405


def test_delete_account_anonymizes_orders_events_and_deactivates_user(client, user, other_user):
    # given
    product = ProductFactory()
    order = OrderFactory(user=user, shipping_name="Ada Lovelace", shipping_address="1 My Street")
    OrderItemFactory(order=order, product=product)
    event = EventFactory(user=user, anonymous_id="anon-ada", query="ada's search", type=Event.Type.SEARCH)
    other_event = EventFactory(user=other_user, anonymous_id="anon-other")
    Cart.objects.create(user=user).items.create(product=product, quantity=1)
    client.force_login(user)
    client.cookies["tracking_consent"] = "yes"
    # when
    response = client.post(reverse("storefront:privacy_delete"), {"password": "correct-horse-battery", "confirm": "on"})
    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:home")
    assert response.cookies["tracking_consent"].value == ""  # the browser is asked again
    user.refresh_from_db()
    assert not user.is_active
    assert user.date_erased is not None
    assert user.email == ""
    assert user.username == f"erased-{user.pk}"
    assert not user.has_usable_password()
    order.refresh_from_db()
    assert order.user is None
    assert order.email == ""
    assert order.shipping_name == ""
    assert order.shipping_address == ""
    assert Order.objects.filter(pk=order.pk).exists()  # the merchant keeps the sale, without the person
    event.refresh_from_db()
    assert event.user is None
    assert event.anonymous_id == ""
    other_event.refresh_from_db()
    assert other_event.user == other_user
    assert other_event.anonymous_id == "anon-other"
    assert not Cart.objects.filter(user=user).exists()
    # the session is over, and the old credentials no longer work
    assert client.get(reverse("storefront:account")).status_code == 302
    assert not client.login(username=user.username, password="correct-horse-battery")
    assert User.objects.filter(pk=other_user.pk, is_active=True).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/me/data/",
        "/api/orders/",
        "/account/",
        "/account/orders/",
        "/account/privacy/",
        "/account/privacy/export/",
        "/api/recommendations/me/",
        "/",
        "/cart/",
    ],
)
def test_every_response_to_a_signed_in_shopper_is_no_store(client, user, path):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200, path
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_anonymous_chat_and_session_pages_are_no_store_but_public_pages_are_not(client):
    ProductFactory()
    # a visitor with no session: nothing personal, caches may keep it
    assert "no-store" not in client.get("/api/products/").get("Cache-Control", "")
    # a session-bound chat is personal even before login
    response = client.post("/api/support/conversations/", {}, content_type="application/json")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "no-store" in client.get("/api/products/")["Cache-Control"]  # the session now exists
