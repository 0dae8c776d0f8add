"""Django's PostgreSQL backend, with a health check that costs no round trip on a quiet connection.

CONN_HEALTH_CHECKS makes Django check a persistent connection before a request's first query:
`SELECT 1` on the server. That is a whole round trip per request: 76 µs of the worker's CPU,
153 µs of wall time and a backend wake-up on PostgreSQL, measured in process
(docs/benchmarks/storefront.md "Round 10"); the poll below costs 2-3 µs. Here the check first
asks the operating system: a connection that sits idle has nothing to read, so if its socket
has nothing to read it is usable (no query is in flight between requests, and this project never
LISTENs). A server that went away leaves something
to read: a restart or `pg_terminate_backend` sends an error message and closes the socket, and
an idle-session timeout does the same. Then, or when the connection is closed, broken, or not
idle, Django's own check (`SELECT 1`) decides, as before, and a failed check reconnects.

What neither check catches, a silently dropped network path, makes the query itself fail, as
before. tests/ecommerce/test_db_health_check.py kills a connection's server process and requires
the next request to be served.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from django.db.backends.postgresql.psycopg_any import is_psycopg3


class DatabaseWrapper(PostgresDatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            not self.pool
            and self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self.quiet_and_idle()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def quiet_and_idle(self) -> bool:
        """True when the open connection is idle with nothing from the server waiting to be read."""
        if not is_psycopg3:
            return False
        from psycopg import pq

        connection = self.connection
        if connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            poller = select.poll()
            poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
            return not poller.poll(0)  # POLLERR/POLLHUP are always reported too
        except Exception:  # noqa: BLE001 - no socket, no poll(): let SELECT 1 decide
            return False
