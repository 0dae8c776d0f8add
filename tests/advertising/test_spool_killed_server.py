"""Nothing lost when the web server dies: impressions served by gunicorn workers that are killed
(SIGKILL: no atexit, no shutdown hook) before their spool was shipped still reach the database.

Real parts: a redis-server of the test's own, gunicorn with 2 sync workers serving the ads API
over HTTP (production WSGI stack), the spool files on disk, and the flush task in this process.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests
from django.conf import settings as django_settings

from advertising import buffer
from advertising.auction import CPM
from advertising.models import Campaign, Impression
from tests.ecommerce.test_redis_outage import _database_url, _free_port, _redis_up, _wait_for, server_env
from tests.factories.advertising import CampaignFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_until_unlocked(folder) -> None:
    """Until no killed worker holds a spool file's lock any more (a dying process still does)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        held = 0
        for path in folder.glob("*.jsonl"):
            with path.open("rb") as file:
                try:
                    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    held += 1
        if not held:
            return
        time.sleep(0.05)
    raise AssertionError("gunicorn's workers held their spool files 20 s after SIGKILL")


def test_impressions_served_by_killed_workers_are_adopted_and_written_once(tmp_path, settings, flush):
    # given a CPM campaign, a Redis, and gunicorn serving ads whose spool never ships by itself
    campaign = CampaignFactory(bid_type=CPM, bid="4.00", daily_budget="100", total_budget="100")
    redis_port, web_port = _free_port(), _free_port()
    redis_proc = _redis_up(redis_port)
    spool_dir = tmp_path / "spool"
    database_url, _ = _database_url(tmp_path)
    env = server_env(
        tmp_path,
        database_url,
        redis_port,
        ADS_BUFFER="redis",
        ADS_PACING="0",
        ADS_SPOOL_DIR=str(spool_dir),
        ADS_SPOOL_SHIP_SECONDS="3600",  # the thread waits an hour: only the files hold the records
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ecommerce.wsgi:application", "--bind", f"127.0.0.1:{web_port}"]
        + ["--workers", "2", "--timeout", "60", "--log-level", "warning"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("w"),
        start_new_session=True,  # its own process group: one SIGKILL takes master and workers
    )
    base = f"http://127.0.0.1:{web_port}"
    try:
        _wait_for(base + "/healthz", 90, server)
        # when shoppers are served 30 times (a new connection each: both workers serve)
        served = []
        for _ in range(30):
            response = requests.get(base + "/api/ads/serve/", params={"slot": "listing"}, timeout=30)
            assert response.status_code == 200, response.text[:300]
            served += [ad["impression_id"] for ad in response.json()["ads"]]
        assert len(served) == 30
        # and the whole server is killed before any worker shipped its spool
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=20)
        _wait_until_unlocked(spool_dir)
        settings.CACHES = {
            "default": {
                "BACKEND": "ecommerce.cache_backend.ResilientRedisCache",
                "LOCATION": f"redis://127.0.0.1:{redis_port}/0",
                "OPTIONS": {"CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool"},
            }
        }
        settings.ADS_BUFFER = "redis"
        settings.ADS_SPOOL_DIR = str(spool_dir)
        assert buffer.length() == 0  # nothing reached Redis: the records are only on disk
        assert list(spool_dir.glob("*.jsonl"))
        # then the flush adopts the dead workers' files and writes every impression once
        result = flush()
        assert result["adopted"] == 30 and result["inserted"] == 30
        assert sorted(Impression.objects.values_list("uid", flat=True)) == sorted(uuid.UUID(uid) for uid in served)
        assert list(spool_dir.iterdir()) == []
        assert flush()["inserted"] == 0
        # and the CPM charges are settled: 30 impressions at the reserve price each
        charged = sum(i.charged for i in Impression.objects.all())
        assert Campaign.objects.get(pk=campaign.pk).spend_total == charged > 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        redis_proc.kill()
        redis_proc.wait()
