"""Erasure and export cover everything: a marker planted through the real flows in every place
that can hold a shopper's data (account, guest order placed before signing up, pre-login events
and searches, a pre-login chat, actor-day rollups, ad logs, the trained recommender) is in the
export before, and nowhere in the database after, "delete my account"."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from advertising.models import Click, Impression
from analytics.models import DailyActor
from analytics.rollups import rollups_refresh_days
from ecommerce.ml import model_version_get_active
from ecommerce.models import Event, Order, User, UserAlias
from recommendations.conf import ACTIVE_MODEL_NAME
from recommendations.models import UserRecommendation
from recommendations.services import artifact_for, recommenders_train, user_recommendations_precompute
from support.models import Conversation
from tests.ecommerce.privacy_checks import rows_containing
from tests.factories import CategoryFactory, OrderFactory, OrderItemFactory, ProductFactory, UserFactory
from tests.factories.advertising import CampaignFactory
from tests.factories.recommendations import two_cluster_shop

pytestmark = pytest.mark.django_db

MARK = "zqmark"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    settings.ADS_PACING = False


def _beacon(client: Client, anonymous_id: str, **event) -> None:
    body = {
        "events": [
            {"id": str(uuid.uuid4()), "occurred_at": timezone.now().isoformat(), "anonymous_id": anonymous_id, **event}
        ]
    }
    response = client.post("/api/events/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.content


def _chat(client: Client, text: str) -> int:
    conversation = client.post("/api/support/conversations/", {}, content_type="application/json").json()
    response = client.post(
        f"/api/support/conversations/{conversation['id']}/messages/", {"text": text}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return conversation["id"]


@pytest.fixture
def ada_history(transactional_db):
    """Ada browses, searches, chats and buys as a guest, then signs in; she also has orders
    in the trained recommender. Returns (ada, client, pre-login session key, anonymous id)."""
    customers, cluster_a, _ = two_cluster_shop()
    ada = UserFactory(username="ada", email=f"ada.{MARK}@example.com", first_name="Ada", last_name=f"L{MARK}")
    for i, product in enumerate(cluster_a[:3]):  # Ada's own purchase history feeds the model
        OrderItemFactory(
            order=OrderFactory(user=ada, placed_at=timezone.now() - timezone.timedelta(days=50 - i * 20)),
            product=product,
        )
    other = UserFactory(username="bob", email="bob@example.com")
    bystander_guest = OrderFactory(user=None, email=ada.email, shipping_name="Not Ada, same email")
    OrderItemFactory(order=bystander_guest)  # placed elsewhere: never proven to be Ada's
    lamp = ProductFactory(category=CategoryFactory(slug="lamps"), title="Desk lamp", stock=9)
    CampaignFactory(run_of_site=True)  # shown on the lamp's page though its product is no lamp
    recommenders_train()
    assert str(ada.pk) in artifact_for(model_version_get_active(name=ACTIVE_MODEL_NAME)).user_ids

    client = Client()
    client.cookies["tracking_consent"] = "yes"
    anonymous_id = f"anon-{MARK}-1"
    # pre-login: the cart makes the session (pages and ads make none), then browsing, an ad
    # (filled by the page's script from the ads API), a search, a chat
    client.get(f"/products/{lamp.pk}/")
    client.post(reverse("storefront:cart_update"), {"product_id": lamp.pk, "quantity": 1, "action": "add"})
    pre_login_key = client.session.session_key
    assert pre_login_key
    ads = client.get("/api/ads/serve/", {"slot": "product", "product_id": lamp.pk}).json()["ads"]
    _beacon(client, anonymous_id, type="product_view", product_id=lamp.pk)
    _beacon(client, anonymous_id, type="search", query=f"{MARK} lamp", properties={"note": MARK})
    client.get(ads[0]["click_url"])
    _chat(client, f"Call me on +44 7700 {MARK} or write to ada.{MARK}@example.com")
    # a guest order with the account's email, placed in this same session
    response = client.post(
        reverse("storefront:checkout"),
        {
            "shipping_name": f"Ada {MARK}",
            "email": ada.email,
            "shipping_address": f"1 {MARK} Street",
            "country": "United Kingdom",
            "anonymous_id": anonymous_id,
        },
    )
    assert response.status_code == 302
    # and someone else's activity, which must survive untouched
    bob_client = Client()
    bob_client.cookies["tracking_consent"] = "yes"
    bob_client.force_login(other)
    _beacon(bob_client, "anon-bob", type="search", query="bob's search")
    # sign in: the session's past is linked to the account
    assert client.post(reverse("storefront:login"), {"username": "ada", "password": PASSWORD}).status_code == 302
    _beacon(client, anonymous_id, type="page_view", properties={"path": f"/{MARK}"})
    rollups_refresh_days(start=timezone.localdate(), end=timezone.localdate())
    assert DailyActor.objects.filter(actor=f"a{anonymous_id}").exists()
    return ada, client, pre_login_key, anonymous_id, bystander_guest


def _wait_for_new_active_model(previous_pk: int, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = model_version_get_active(name=ACTIVE_MODEL_NAME)
        if active is not None and active.pk != previous_pk:
            return active
        time.sleep(0.2)
    raise AssertionError("the retrain queued by the erasure did not promote a new model in time")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_export_holds_everything_erasure_removes(celery_worker_real, ada_history):
    ada, client, pre_login_key, anonymous_id, bystander_guest = ada_history
    # given: the marker is in the account, the guest order, events, chat, rollups and ad logs
    planted = rows_containing(MARK)
    for place in (
        "ecommerce.User.email",
        "ecommerce.Order.shipping_address",
        "ecommerce.Event.query",
        "ecommerce.Event.anonymous_id",
        "ecommerce.Event.properties",
        "support.Message.text",
        "analytics.DailyActor.actor",
        "analytics.DailySearcher.term",  # her search term, per shopper and day
        "analytics.DailyTop.key",  # and in the per-day search-term counts
    ):
        assert place in planted, place
    assert Impression.objects.filter(session_key=pre_login_key).exists()
    assert Conversation.objects.filter(user=ada).exists()  # the pre-login chat was handed to her
    # when: she downloads her data
    response = client.get("/api/me/data/")
    # then: every one of those places is in it, and nobody else's data
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    export = response.content.decode()
    data = json.loads(export)
    assert data["core"]["linked_before_login"]["session_keys"] == [pre_login_key]
    assert anonymous_id in data["core"]["linked_before_login"]["anonymous_ids"]
    guest = [o for o in data["core"]["orders"] if o["guest"]]
    assert [o["shipping_address"] for o in guest] == [f"1 {MARK} Street"]
    assert any(e["query"] == f"{MARK} lamp" and e["properties"] == {"note": MARK} for e in data["core"]["events"])
    assert any(e["type"] == "purchase" for e in data["core"]["events"])
    assert any(MARK in m["text"] for c in data["support"] for m in c["messages"])
    assert any(row["actor"] == f"a{anonymous_id}" for row in data["analytics"]["active_days"])
    assert any(MARK.lower() in row["term"] for row in data["analytics"]["search_days"])
    assert any(i["session_key"] == pre_login_key for i in data["advertising"]["ad_impressions"])
    assert data["advertising"]["ad_clicks"]
    assert data["recommendations"]
    assert "Not Ada, same email" not in export and "bob's search" not in export and "anon-bob" not in export

    # when: she deletes her account (the retrain it queues goes through the broker to the worker)
    before = model_version_get_active(name=ACTIVE_MODEL_NAME)
    response = client.post(reverse("storefront:privacy_delete"), {"password": PASSWORD, "confirm": "on"})
    # then: the marker is nowhere, nor her ids, session key or anonymous id
    assert response.status_code == 302
    # (the one exception: a guest order elsewhere that merely used her email address; it was
    # never proven hers, so it is neither exported nor erased; see docs/storefront.md)
    assert rows_containing(MARK) == {"ecommerce.Order.email": 1}
    assert Order.objects.get(email__icontains=MARK) == bystander_guest
    assert not Event.objects.filter(anonymous_id=anonymous_id).exists()
    assert not Event.objects.filter(session_key=pre_login_key).exists()
    assert not Event.objects.filter(user=ada).exists()
    assert not Impression.objects.filter(session_key=pre_login_key).exists()
    assert not Impression.objects.filter(user=ada).exists() and not Click.objects.filter(user=ada).exists()
    assert not DailyActor.objects.filter(actor__in=[f"u{ada.pk}", f"a{anonymous_id}"]).exists()
    assert not Conversation.objects.filter(user=ada).exists()
    assert not UserAlias.objects.exists() and not UserRecommendation.objects.filter(user=ada).exists()
    assert not Order.objects.filter(user=ada).exists()
    # the model that serves no longer holds her row (retrained at once)
    active = _wait_for_new_active_model(before.pk)
    assert str(ada.pk) not in artifact_for(active).user_ids
    # billing and sales records stay, anonymous; other people's data is untouched
    assert Click.objects.count() == 1 and Order.objects.filter(shipping_name="").exists()
    bystander_guest.refresh_from_db()
    assert bystander_guest.shipping_name == "Not Ada, same email"
    assert Event.objects.filter(query="bob's search", anonymous_id="anon-bob").exists()


def test_an_artifact_trained_before_the_erasure_never_serves_the_erased_shopper(user):
    # given: an active model that has the shopper's row
    customers, _, _ = two_cluster_shop()
    recommenders_train()
    version = model_version_get_active(name=ACTIVE_MODEL_NAME)
    trained = artifact_for(version)
    erased = customers[0]
    assert str(erased.pk) in trained.user_ids
    # when: the shopper is on the exclusion list (erased), and the old artifact is used again
    User.objects.filter(pk=erased.pk).update(date_erased=timezone.now())
    user_recommendations_precompute(version=version, trained=trained)
    # then: nothing is precomputed for them, and training leaves them out
    assert not UserRecommendation.objects.filter(user=erased).exists()
    assert UserRecommendation.objects.filter(user=customers[1]).exists()
    from recommendations.selectors import purchase_history_frame

    assert str(erased.pk) not in set(purchase_history_frame()["user"])
