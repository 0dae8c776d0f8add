"""A real streaming replica: a throwaway primary cluster (initdb + pg_ctl on a spare port, never
the shared server), a standby made with `pg_basebackup -R -X stream` on another spare port, and
the app in a child process pointed at both (DATABASE_URL / DATABASE_REPLICA_URL)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import postgres_bin_dir
from tests.pg_cluster import Cluster, spare_port

pytestmark = pytest.mark.replica


@pytest.fixture
def streaming_replica():
    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="replica-test-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(bin_dir, root)
    primary_port, replica_port = spare_port(), spare_port()
    try:
        cluster.run("initdb", "-D", str(root / "primary"), "-A", "trust", "-U", "postgres", "--no-sync")
        cluster.start(root / "primary", primary_port)
        cluster.run("createdb", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres", "shop")
        cluster.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres"),
            *("-D", str(root / "standby"), "-R", "-X", "stream"),
        )
        cluster.start(root / "standby", replica_port)
        yield primary_port, replica_port
    finally:
        cluster.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def test_dashboard_reads_the_streaming_replica_and_writes_the_primary(streaming_replica):
    primary_port, replica_port = streaming_replica
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "CACHE_", "REDIS_"))},
        "DJANGO_SETTINGS_MODULE": "ecommerce.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{primary_port}/shop",
        "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{replica_port}/shop",
        "ML_ARTIFACT_ROOT": tempfile.mkdtemp(prefix="replica-ml-"),
    }
    probe = subprocess.run(
        [sys.executable, "-m", "tests.ecommerce.replica_probe"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    shutil.rmtree(env["ML_ARTIFACT_ROOT"], ignore_errors=True)
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    # The lag the README's capacity plan quotes (pytest -o log_cli=true -o log_cli_level=INFO shows it).
    logging.getLogger(__name__).info("replica lag: %s", {k: v for k, v in seen.items() if k.endswith("_after_s")})
    # The two aliases are the two clusters: a primary and a standby in recovery.
    assert seen["default"] == {"in_recovery": False, "port": primary_port}
    assert seen["replica"] == {"in_recovery": True, "port": replica_port}
    # The migrations and the new user streamed over.
    assert seen["user_visible_after_s"] is not None
    # A dashboard query ran on the replica; the primary saw only the session/user lookups.
    assert seen["dashboard_status"] == 200
    assert seen["dashboard_replica_queries"] > 0
    assert all("analytics" not in sql for sql in seen["dashboard_primary_sql"]), seen["dashboard_primary_sql"]
    # The write went to the primary and pinned the browser: the next page read the primary only.
    assert seen["write_status"] == 302
    assert seen["pin_cookie"] is True
    assert seen["on_primary_at_once"] is True
    assert seen["changelist_after_write_replica_queries"] == 0
    assert seen["changelist_shows_new_row"] is True
    # Lag-tolerant read: the standby shows the write within the timeout.
    assert seen["write_visible_on_replica_after_s"] is not None
    assert seen["changelist_later_replica_queries"] > 0
    assert seen["replica_write_refused"] is True
