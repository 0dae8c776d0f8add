import json
import uuid

import pytest
from django.utils import timezone

from ecommerce.models import Event
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _event(**overrides):
    event = {"id": str(uuid.uuid4()), "type": "product_view", "occurred_at": timezone.now().isoformat()}
    event.update(overrides)
    return event


def test_ingest_stores_valid_and_reports_rejected_per_item(consenting_client):
    # given
    product = ProductFactory()
    batch = [
        _event(product_id=product.pk),
        _event(type="teleport"),
        _event(product_id=999999),
        _event(occurred_at="2999-01-01T00:00:00Z"),
        _event(occurred_at="yesterday"),
    ]
    # when
    response = consenting_client.post("/api/events/", {"events": batch}, format="json")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1 and body["duplicates"] == 0
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 4]
    assert "type" in body["rejected"][0]["errors"]
    assert "product_id" in body["rejected"][1]["errors"]
    assert Event.objects.count() == 1


def test_ingest_replay_counts_duplicates_and_stores_once(consenting_client):
    batch = [_event(), _event()]
    first = consenting_client.post("/api/events/", {"events": batch}, format="json").json()
    second = consenting_client.post("/api/events/", {"events": batch + [batch[0]]}, format="json").json()
    assert first == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert second == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert Event.objects.count() == 2


def test_ingest_malformed_json_is_400(consenting_client):
    response = consenting_client.generic("POST", "/api/events/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["detail"]


def test_ingest_oversized_body_is_413(consenting_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = consenting_client.post(
        "/api/events/", {"events": [_event(query="x" * 200) for _ in range(20)]}, format="json"
    )
    assert response.status_code == 413


def test_ingest_takes_user_from_session_not_body(user_client, user, other_user):
    response = user_client.post("/api/events/", {"events": [_event(user_id=other_user.pk)]}, format="json")
    assert response.json()["rejected"][0]["errors"]["user_id"].startswith("user_id may only be set")
    user_client.post("/api/events/", {"events": [_event()]}, format="json")
    assert Event.objects.get().user_id == user.pk


def test_ingest_without_consent_stores_nothing(api_client):
    response = api_client.post("/api/events/", {"events": [_event()]}, format="json")
    assert response.status_code == 403
    assert Event.objects.count() == 0


def test_ingest_with_token_may_set_user_and_skips_consent(api_client, user):
    from ecommerce.api.authentication import ingestion_token_create

    raw = ingestion_token_create(name="backend")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api_client.post(
        "/api/events/", {"events": [_event(user_id=user.pk), _event(user_id=10**9)]}, format="json"
    )
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 1
    assert body["rejected"] == [{"index": 1, "errors": {"user_id": f"Unknown user {10**9}."}}]
    assert Event.objects.get().user_id == user.pk


def test_ingest_with_revoked_or_wrong_token_is_401(api_client):
    from ecommerce.api.authentication import ingestion_token_create
    from ecommerce.models import IngestionToken

    raw = ingestion_token_create(name="old")
    IngestionToken.objects.update(is_active=False)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.post("/api/events/", {"events": []}, format="json").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    assert api_client.post("/api/events/", {"events": []}, format="json").status_code == 401


def test_ingest_rejects_batches_over_the_limit_and_non_list_bodies(consenting_client):
    too_many = consenting_client.post("/api/events/", {"events": [_event() for _ in range(1001)]}, format="json")
    not_a_list = consenting_client.post("/api/events/", {"events": "lots"}, format="json")
    assert too_many.status_code == 400 and "At most 1000" in str(too_many.json())
    assert not_a_list.status_code == 400
    assert Event.objects.count() == 0


def test_ingest_accepts_sendbeacon_text_plain(consenting_client):
    body = json.dumps({"events": [_event()]})
    response = consenting_client.generic("POST", "/api/events/", body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200 and response.json()["accepted"] == 1


def test_ingest_is_throttled_per_client(consenting_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    from ecommerce.api.throttling import CounterScopedRateThrottle

    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "events", "3/min")
    # One clock minute for all four requests (the counter's window is the clock minute).
    monkeypatch.setattr(CounterScopedRateThrottle, "timer", staticmethod(lambda: 60 * 40_000 + 10.0))
    codes = [
        consenting_client.post("/api/events/", {"events": [_event()]}, format="json").status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    assert Event.objects.count() == 3


def test_do_not_track_header_overrides_consent(consenting_client):
    response = consenting_client.post("/api/events/", {"events": [_event()]}, format="json", HTTP_DNT="1")
    assert response.status_code == 403
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", []),
        ("product_id", 2**70),
        ("product_id", 0),
        ("anonymous_id", "abc\x00def"),
        ("query", "\ud800"),
    ],
)
def test_ingest_rejects_hostile_values_per_item_never_500(consenting_client, field, value):
    # given a batch with one good event and one hostile one
    body = json.dumps({"events": [_event(), _event(**{field: value})]})
    # when
    response = consenting_client.generic("POST", "/api/events/", body, content_type="application/json")
    # then the good one lands and the hostile one is a per-item rejection naming the field
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 1
    assert result["rejected"][0]["index"] == 1 and field in result["rejected"][0]["errors"]
    assert Event.objects.count() == 1


def test_ingest_rejects_nan_in_properties_per_item(consenting_client):
    good = json.dumps(_event())
    bad = json.dumps(_event())[:-1] + ', "properties": {"price": NaN}}'
    body = f'{{"events": [{good}, {bad}]}}'
    response = consenting_client.generic("POST", "/api/events/", body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert "properties" in response.json()["rejected"][0]["errors"]


@pytest.mark.parametrize("client_fixture", ["consenting_client", "user_client"])
def test_browsers_may_not_send_server_recorded_event_types(request, client_fixture):
    # given: purchases and ad clicks/impressions are facts only the server knows
    client = request.getfixturevalue(client_fixture)
    batch = [_event(type="purchase"), _event(type="ad_click"), _event(type="ad_impression"), _event()]
    # when
    body = client.post("/api/events/", {"events": batch}, format="json").json()
    # then: refused per item, the rest of the batch lands
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [0, 1, 2]
    assert all("recorded by the server" in r["errors"]["type"] for r in body["rejected"])
    assert list(Event.objects.values_list("type", flat=True)) == ["product_view"]


def test_an_ingestion_token_may_send_server_recorded_event_types(api_client, user):
    from ecommerce.api.authentication import ingestion_token_create

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {ingestion_token_create(name='erp')}")
    batch = [_event(type="purchase", user_id=user.pk), _event(type="ad_click")]
    body = api_client.post("/api/events/", {"events": batch}, format="json").json()
    assert body == {"accepted": 2, "duplicates": 0, "rejected": []}
