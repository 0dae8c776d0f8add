"""The replica router: dashboards, reports and changelists read `replica`; writes and
read-after-write stay on `default`. In tests `replica` is a mirror of the test database with its
own connection, so which connection ran a query is observable (CaptureQueriesContext)."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from ecommerce.db_routing import PIN_COOKIE, read_alias, replica_reads
from ecommerce.models import Category, Product
from tests.factories import ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _queries(alias: str) -> CaptureQueriesContext:
    return CaptureQueriesContext(connections[alias])


def test_dashboard_api_reads_the_replica_and_the_login_the_primary(client):
    # Given a signed-in merchant
    client.force_login(StaffFactory())
    # When the dashboard's KPI API is read
    with _queries("replica") as on_replica:
        response = client.get("/api/analytics/kpis/")
    # Then the analytics queries ran on the replica, never the session or permission lookups
    # (those stay on the primary, or the cache when CACHE_URL backs sessions)
    assert response.status_code == 200
    assert on_replica.captured_queries, "no query reached the replica"
    replica_sql = " ".join(q["sql"] for q in on_replica.captured_queries)
    assert "django_session" not in replica_sql
    assert "auth_permission" not in replica_sql


def test_admin_changelist_reads_the_replica(client):
    ProductFactory.create_batch(3)
    client.force_login(StaffFactory())
    with _queries("replica") as on_replica:
        response = client.get("/admin/ecommerce/product/")
    assert response.status_code == 200
    assert any("ecommerce_product" in q["sql"] for q in on_replica.captured_queries)


def test_a_write_pins_this_browser_to_the_primary_for_a_short_window(client, settings):
    settings.DATABASE_REPLICA_PIN_SECONDS = 7
    client.force_login(StaffFactory())
    # When the merchant writes (adds a category in the admin)
    response = client.post(
        "/admin/ecommerce/category/add/", {"name": "Lamps", "slug": "lamps", "_save": "Save"}, follow=False
    )
    assert response.status_code == 302
    assert Category.objects.filter(slug="lamps").exists()
    # Then the response sets the short pin cookie
    cookie = response.cookies[PIN_COOKIE]
    assert cookie["max-age"] == 7
    # And the changelist it redirects to reads only the primary (it shows the new row)
    with _queries("replica") as on_replica:
        listing = client.get(response["Location"])
    assert listing.status_code == 200
    assert b"Lamps" in listing.content
    assert on_replica.captured_queries == []
    # Once the cookie expires the changelist reads the replica again
    client.cookies.pop(PIN_COOKIE)
    with _queries("replica") as on_replica:
        client.get("/admin/ecommerce/category/")
    assert on_replica.captured_queries


def test_reads_after_a_write_in_the_same_unit_stay_on_the_primary():
    product = ProductFactory()
    with replica_reads():
        assert read_alias(Product) == "replica"
        with _queries("replica") as on_replica:
            assert Product.objects.filter(pk=product.pk).count() == 1
        assert len(on_replica.captured_queries) == 1
        # A write goes to the primary and pins the rest of the block there.
        with _queries("default") as on_primary, _queries("replica") as on_replica:
            Product.objects.filter(pk=product.pk).update(stock=5)
            assert Product.objects.get(pk=product.pk).stock == 5
        assert on_replica.captured_queries == []
        assert len(on_primary.captured_queries) == 2
        assert read_alias(Product) == "default"


def test_reads_inside_a_transaction_and_identity_reads_use_the_primary():
    from django.contrib.auth.models import Group

    with replica_reads():
        assert read_alias(Group) == "default"  # permissions must be seen at once
        with transaction.atomic():
            assert read_alias(Product) == "default"  # same snapshot as the writes
        assert read_alias(Product) == "replica"


def test_work_outside_a_replica_block_reads_the_primary():
    # Celery tasks and storefront requests never opt in.
    assert read_alias(Product) == "default"
    with _queries("replica") as on_replica:
        Product.objects.count()
    assert on_replica.captured_queries == []


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_without_a_replica_url_everything_uses_default(settings):
    settings.DATABASES = {"default": settings.DATABASES["default"]}
    with replica_reads():
        assert read_alias(Product) == "default"


def test_a_task_run_eagerly_inside_a_replica_request_reads_the_primary():
    from celery import shared_task

    from tests.conftest import celery_eager

    @shared_task(name="tests.replica_probe_alias")
    def alias_task() -> str:
        return read_alias(Product)

    with replica_reads(), celery_eager():
        assert read_alias(Product) == "replica"
        assert alias_task.delay().get() == "default"
        assert read_alias(Product) == "replica"
