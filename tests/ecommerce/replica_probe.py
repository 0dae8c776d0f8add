"""Run by tests/ecommerce/test_replica_streaming.py in a child process whose DATABASE_URL is a
fresh primary cluster and DATABASE_REPLICA_URL its streaming standby. Prints one JSON object
with what it observed; the test asserts on it. Not a test module (no test_ prefix)."""

from __future__ import annotations

import json
import os
import sys
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ecommerce.models import Category, User

    out: dict = {}

    def server(alias: str) -> dict:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
            in_recovery, port = cursor.fetchone()
        return {"in_recovery": in_recovery, "port": port}

    def wait_on_replica(check, timeout: float = 20.0) -> float | None:
        """Lag-tolerant read: poll the replica until `check` sees the primary's write."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if check():
                return round(time.monotonic() - started, 3)
            time.sleep(0.05)
        return None

    out["default"] = server("default")
    out["replica"] = server("replica")
    # The schema streams to the standby like any other write.
    call_command("migrate", verbosity=0, interactive=False)
    User.objects.create_superuser(username="boss", email="boss@example.com", password="x" * 20)
    out["user_visible_after_s"] = wait_on_replica(
        lambda: User.objects.using("replica").filter(username="boss").exists()
    )

    client = Client()
    client.force_login(User.objects.get(username="boss"))
    # A dashboard query: routed to the replica connection.
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        response = client.get("/api/analytics/kpis/")
    out["dashboard_status"] = response.status_code
    out["dashboard_replica_queries"] = len(on_replica.captured_queries)
    out["dashboard_primary_sql"] = [q["sql"][:80] for q in on_primary.captured_queries]

    # A write: goes to the primary (the replica is read-only), pins this browser.
    response = client.post("/admin/ecommerce/category/add/", {"name": "Lamps", "slug": "lamps", "_save": "Save"})
    out["write_status"] = response.status_code
    out["pin_cookie"] = "db_pin" in response.cookies
    out["on_primary_at_once"] = Category.objects.using("default").filter(slug="lamps").exists()
    # Read-after-write: the redirected changelist reads the primary only.
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        listing = client.get(response["Location"])
    out["changelist_after_write_replica_queries"] = len(on_replica.captured_queries)
    out["changelist_shows_new_row"] = b"Lamps" in listing.content
    # Lag-tolerant read: the standby catches up within the timeout.
    out["write_visible_on_replica_after_s"] = wait_on_replica(
        lambda: Category.objects.using("replica").filter(slug="lamps").exists()
    )
    # Without the pin cookie the changelist reads the replica again.
    client.cookies.pop("db_pin", None)
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        client.get("/admin/ecommerce/category/")
    out["changelist_later_replica_queries"] = len(on_replica.captured_queries)
    # The standby really refuses writes.
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute("CREATE TABLE should_fail (id int)")
        out["replica_write_refused"] = False
    except Exception as error:  # noqa: BLE001 - we report the refusal's message
        out["replica_write_refused"] = "read-only" in str(error)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
