"""The merchant's back office: event log, per-person timeline, model figures, branding."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from ecommerce.models import AuditLogEntry, Event, ModelVersion
from tests.factories import EventFactory, OrderFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def _events_in_order(html: str, markers: list[str]) -> list[int]:
    return [html.index(m) for m in markers]


def test_event_log_lists_newest_first(admin_client):
    now = timezone.now()
    EventFactory(type=Event.Type.SEARCH, query="oldest-marker", occurred_at=now - timedelta(days=3))
    EventFactory(type=Event.Type.SEARCH, query="newest-marker", occurred_at=now)
    EventFactory(type=Event.Type.SEARCH, query="middle-marker", occurred_at=now - timedelta(days=1))

    html = admin_client.get("/admin/ecommerce/event/").content.decode()

    positions = _events_in_order(html, ["newest-marker", "middle-marker", "oldest-marker"])
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "term_of",
    [
        lambda ctx: f"user:{ctx['alice'].pk}",
        lambda ctx: f"user:{ctx['alice'].username}",
        lambda ctx: ctx["alice"].username,
    ],
)
def test_event_log_search_by_user(admin_client, term_of):
    alice, bob = UserFactory(), UserFactory()
    EventFactory(type=Event.Type.SEARCH, user=alice, query="alice-marker")
    EventFactory(type=Event.Type.SEARCH, user=bob, query="bob-marker")

    html = admin_client.get("/admin/ecommerce/event/", {"q": term_of({"alice": alice})}).content.decode()

    assert "alice-marker" in html and "bob-marker" not in html


def test_event_log_search_by_anonymous_id_product_and_query(admin_client):
    mug, lamp = ProductFactory(sku="MUG1", title="Mug"), ProductFactory(sku="LAMP1", title="Lamp")
    EventFactory(type=Event.Type.PRODUCT_VIEW, anonymous_id="anon-abc", product=mug, user=None)
    EventFactory(type=Event.Type.PRODUCT_VIEW, anonymous_id="anon-xyz", product=lamp, user=None)
    EventFactory(type=Event.Type.SEARCH, query="Lunch Bag", user=None)

    def found(term):
        return admin_client.get("/admin/ecommerce/event/", {"q": term}).content.decode()

    assert "Mug" in found("anon:anon-abc") and "Lamp" not in found("anon:anon-abc")
    assert "Lamp" in found("product:LAMP1") and "Mug" not in found("product:LAMP1")
    assert "Mug" in found(f"product:{mug.pk}") and "Lamp" not in found(f"product:{mug.pk}")
    assert "Lunch Bag" in found("q:lunch bag") and "Mug" not in found("q:lunch bag")
    assert "Mug" not in found("nobody-matches-this")


def test_person_timeline_shows_events_and_orders_and_is_audited(admin_client, staff):
    alice = UserFactory()
    order = OrderFactory(user=alice)
    EventFactory(
        type=Event.Type.SEARCH, user=alice, query="first-search", occurred_at=timezone.now() - timedelta(hours=2)
    )
    EventFactory(type=Event.Type.SEARCH, user=alice, query="second-search", occurred_at=timezone.now())
    EventFactory(type=Event.Type.SEARCH, query="someone-else")

    response = admin_client.get(f"/admin/ecommerce/event/person/user/{alice.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("second-search") < html.index("first-search")
    assert "someone-else" not in html
    assert order.number in html
    assert AuditLogEntry.objects.filter(actor=staff, subject=alice, action="admin.view_timeline").exists()


def test_person_timeline_of_an_anonymous_visitor_and_unknown_people(admin_client):
    EventFactory(type=Event.Type.SEARCH, user=None, anonymous_id="anon-1", query="anon-search")

    assert "anon-search" in admin_client.get("/admin/ecommerce/event/person/anon/anon-1/").content.decode()
    assert admin_client.get("/admin/ecommerce/event/person/user/999999/").status_code == 404
    assert admin_client.get("/admin/ecommerce/event/person/robot/1/").status_code == 404


def test_person_timeline_needs_the_event_view_permission(client):
    alice = UserFactory()
    no_role = StaffFactory(is_superuser=False)
    client.force_login(no_role)

    assert client.get(f"/admin/ecommerce/event/person/user/{alice.pk}/").status_code == 403

    no_role.user_permissions.add(Permission.objects.get(codename="view_event", content_type__app_label="ecommerce"))
    client.force_login(no_role)
    assert client.get(f"/admin/ecommerce/event/person/user/{alice.pk}/").status_code == 200


def _version(version, score, status, promoted_days_ago=None):
    return ModelVersion.objects.create(
        name="support.intents",
        version=version,
        status=status,
        primary_metric="accuracy",
        metrics={"accuracy": score, "macro_f1": score - 0.01},
        params={"C": 4.0},
        promoted_at=timezone.now() - timedelta(days=promoted_days_ago) if promoted_days_ago is not None else None,
    )


def test_model_versions_show_figures_and_the_comparison_with_the_replaced_version(admin_client):
    old = _version(1, 0.9012, "retired", promoted_days_ago=10)
    new = _version(2, 0.9345, "active", promoted_days_ago=1)

    listing = admin_client.get("/admin/ecommerce/modelversion/").content.decode()
    detail = admin_client.get(f"/admin/ecommerce/modelversion/{new.pk}/change/").content.decode()

    assert "0.9345" in listing and "0.9012" in listing
    assert "+0.0333 vs v1 (better)" in listing
    assert "macro_f1" in detail and "0.9245" in detail and "0.8912" in detail  # this vs replaced
    assert "replaced version" in detail
    assert old.pk != new.pk
    assert "Add model version" not in listing  # registry rows come from training only


def test_model_versions_say_when_a_version_only_equals_the_one_it_replaced(admin_client):
    _version(1, 0.5, "retired", promoted_days_ago=3)
    _version(2, 0.5, "active", promoted_days_ago=1)

    assert "same as v1" in admin_client.get("/admin/ecommerce/modelversion/").content.decode()


def test_admin_is_branded_and_links_the_shop_tools(admin_client, settings):
    html = admin_client.get("/admin/").content.decode()

    assert f"{settings.SHOP_NAME} administration" in html
    assert "Django administration" not in html
    for url in ("/analytics/dashboard/", "/support/console/", "/support/metrics/", "/api/docs/"):
        assert f'href="{url}"' in html


def test_admin_tools_hide_what_a_staff_user_without_a_role_may_not_open(client):
    client.force_login(StaffFactory(is_superuser=False))

    html = client.get("/admin/").content.decode()

    assert 'href="/api/docs/"' in html
    for url in ("/analytics/dashboard/", "/support/console/", "/support/metrics/"):
        assert f'href="{url}"' not in html
