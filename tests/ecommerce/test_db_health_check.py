"""The PostgreSQL health check (ecommerce/db_backends/postgresql): no round trip on a quiet
connection, and a connection whose server process went away is replaced before it is used.

On a throwaway cluster of its own (tests/pg_cluster.py): the test kills a server process."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db.utils import ConnectionHandler

from tests.conftest import postgres_bin_dir
from tests.pg_cluster import Cluster, spare_port

pytestmark = pytest.mark.replica  # needs PostgreSQL's server binaries (REQUIRE_REPLICA=1 in CI)


@pytest.fixture
def postgres_port():
    root = Path(tempfile.mkdtemp(prefix="health-check-test-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster, port = Cluster(postgres_bin_dir(), root), spare_port()
    try:
        cluster.run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        cluster.start(root / "data", port)
        yield port
    finally:
        cluster.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def _persistent_connection(port: int):
    settings = {
        "ENGINE": "ecommerce.db_backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
    return ConnectionHandler({"default": settings})["default"]  # a handler of its own, not the project's


def _next_request(connection) -> int:
    """What Django does around a request (request_started, then the first query): the server pid."""
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_quiet_connection_is_reused_without_a_round_trip_and_a_dead_one_is_replaced(postgres_port, django_db_blocker):
    connection = _persistent_connection(postgres_port)
    real_is_usable, round_trips = connection.is_usable, []

    def counted_is_usable():  # Django's SELECT 1, still run: only counted
        round_trips.append(True)
        return real_is_usable()

    connection.is_usable = counted_is_usable
    with django_db_blocker.unblock():  # the throwaway server, not the test database
        _kill_and_reconnect(connection, postgres_port, round_trips)


def _kill_and_reconnect(connection, postgres_port: int, round_trips: list) -> None:
    try:
        first = _next_request(connection)
        assert _next_request(connection) == first and _next_request(connection) == first
        assert round_trips == []  # reused twice, checked twice, no SELECT 1

        with psycopg.connect(f"host=127.0.0.1 port={postgres_port} user=postgres dbname=postgres") as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [first])
        deadline = time.monotonic() + 10
        while connection.quiet_and_idle() and time.monotonic() < deadline:  # the server's goodbye arrives
            time.sleep(0.01)

        second = _next_request(connection)  # served: the check saw the closed socket and reconnected
        assert second != first
        assert round_trips == [True]  # the socket had something to read: SELECT 1 decided (and failed)
        assert _next_request(connection) == second and round_trips == [True]
    finally:
        connection.close()
