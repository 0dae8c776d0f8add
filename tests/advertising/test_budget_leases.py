"""CPM budget reserved in blocks per process (advertising/buffer.py BudgetLeases) and spooled
impressions reaching the database, on a real Redis.

These tests always talk to a Redis server: the configured cache when it is Redis (CI), else a
redis-server of their own on a spare port (a fresh machine's `make test`). Two BudgetLeases objects
stand for two worker processes sharing it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from advertising import buffer
from advertising.auction import CPM
from advertising.buffer import BudgetLeases, Reservation, budget_leases
from advertising.models import Campaign, Impression
from tests.factories.advertising import AdFactory, CampaignFactory

pytestmark = pytest.mark.django_db

PRICE = Decimal("0.001")  # one CPM impression's charge: 1,000 micro-units


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    settings.ADS_PACING = False  # pacing depends on the time of day; test_auction covers it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_cache(settings) -> Iterator[None]:
    """The ads buffer on Redis: the configured one, else a private redis-server."""
    settings.ADS_BUFFER = "redis"
    if django_settings.SHARED_CACHE:
        yield
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        settings.CACHES = {
            "default": {
                "BACKEND": "ecommerce.cache_backend.ResilientRedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
                "OPTIONS": {"CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool"},
            }
        }
        yield
    finally:
        server.kill()
        server.wait()


def _ask(campaign_id: int, *, budget: Decimal, price: Decimal = PRICE) -> Reservation:
    return Reservation(
        campaign_id=campaign_id,
        day="2026-12-01",
        amount=price,
        daily_budget=budget,
        total_budget=budget,
        spend_today=Decimal("0"),
        spend_total=Decimal("0"),
        record={"u": "x"},
    )


def _reserved(campaign_id: int) -> int:
    return int(cache.get(buffer._day_key(campaign_id, "2026-12-01")))


def _client():
    return buffer._backend()[1]


def test_a_block_pays_for_many_impressions_and_is_reserved_before_any_is_shown(redis_cache):
    leases = BudgetLeases()
    # when one process shows its first impression of a campaign with room for 100,000
    assert leases.take([_ask(901, budget=Decimal("100"))], _client()) == [True]
    # then it reserved a whole block in the shared counters (64 impressions' worth), spent one
    block = _reserved(901)
    assert block == 64 * 1000
    assert leases.held(901) == block - 1000
    # and the next 63 come out of it, with no new reservation
    assert all(leases.take([_ask(901, budget=Decimal("100"))], _client()) == [True] for _ in range(63))
    assert _reserved(901) == block and leases.held(901) == 0
    # the 65th reserves the next block
    assert leases.take([_ask(901, budget=Decimal("100"))], _client()) == [True]
    assert _reserved(901) == 2 * block


def test_two_processes_never_show_more_than_the_budget_pays(redis_cache):
    # given a budget for exactly 100 impressions and two processes serving it in turn
    first, second = BudgetLeases(), BudgetLeases()
    budget = PRICE * 100
    shown = 0
    for i in range(400):
        process = first if i % 2 else second
        shown += process.take([_ask(902, budget=budget)], _client())[0]
    # then never more than the budget pays, and never more reserved than the budget
    assert _reserved(902) <= 100 * 1000
    assert shown <= 100
    # what one process still holds is at most what it reserved last: blocks shrink near the end
    assert shown >= 100 - (first.held(902) + second.held(902)) // 1000
    # when both give back what they hold (process exit), the other's budget is usable again
    first.release()
    second.release()
    third = BudgetLeases()
    shown += sum(third.take([_ask(902, budget=budget)], _client())[0] for _ in range(200))
    assert shown == 100 and _reserved(902) == 100 * 1000


def test_a_lowered_budget_is_not_spent_from_a_block_of_the_old_one(redis_cache):
    leases = BudgetLeases()
    assert leases.take([_ask(903, budget=Decimal("100"))], _client()) == [True]
    assert leases.held(903) > 0
    # the merchant lowers the budget below what is already reserved: the old block is not used
    assert leases.take([_ask(903, budget=PRICE * 10)], _client()) == [False]


def test_cpc_asks_need_no_budget_and_no_round_trip(redis_cache):
    leases = BudgetLeases()
    ask = Reservation(
        campaign_id=904,
        day="2026-12-01",
        amount=Decimal("0"),
        daily_budget=Decimal("0.01"),
        total_budget=Decimal("0.01"),
        spend_today=Decimal("0.01"),
        spend_total=Decimal("0.01"),
        record={"u": "y"},
    )
    assert leases.take([ask], _client()) == [True]
    assert cache.get(buffer._day_key(904, "2026-12-01")) is None  # nothing was asked of Redis


def test_served_through_redis_the_impressions_and_charges_reach_the_database(redis_cache, flush):
    # given a CPM campaign with room for 3 impressions
    campaign = CampaignFactory(
        bid_type=CPM, bid=Decimal("4.00"), daily_budget=Decimal("0.0015"), total_budget=Decimal("0.0015")
    )
    client = Client()
    # when 5 requests are served (the price is the reserve, 0.50 per mille: 0.0005 each)
    served = [client.get("/api/ads/serve/", {"slot": "listing"}).json()["ads"] for _ in range(5)]
    # then 3 are shown, spooled in this process until the flush ships and writes them
    assert [len(ads) for ads in served] == [1, 1, 1, 0, 0]
    assert buffer.length() == 3 and not Impression.objects.exists()
    assert flush()["inserted"] == 3
    campaign.refresh_from_db()
    assert campaign.spend_total == Decimal("0.0015") == sum(i.charged for i in Impression.objects.all())
    assert budget_leases.held(campaign.pk) == 0


def test_redis_gone_after_a_block_was_reserved_keeps_serving_and_loses_nothing(redis_cache, flush, settings):
    # given a block already reserved while Redis answered
    CampaignFactory(bid_type=CPM, bid=Decimal("4.00"))
    client = Client()
    assert client.get("/api/ads/serve/", {"slot": "listing"}).json()["ads"]
    working = settings.CACHES
    # when Redis refuses connections: serving goes on from the block, the spool keeps the record
    settings.CACHES = {
        "default": {
            "BACKEND": "ecommerce.cache_backend.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{_free_port()}/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.5,
                "CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool",
            },
        }
    }
    assert client.get("/api/ads/serve/", {"slot": "listing"}).json()["ads"]
    assert flush()["inserted"] == 0  # the spool cannot ship: nothing written, nothing dropped
    assert buffer.spool.pending() == 2
    # then once Redis answers again both impressions are written, and charged
    settings.CACHES = working
    assert flush()["inserted"] == 2
    assert Impression.objects.count() == 2 and Campaign.objects.get().spend_total == Decimal("0.0010")


def _orphan_file(folder, ad, uid: str) -> None:
    """What a web worker killed before its flusher ran leaves behind: its spool file, unlocked."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "u": uid,
        "c": ad.campaign_id,
        "a": ad.pk,
        "us": None,
        "sk": "",
        "s": "listing",
        "b": "cpc",
        "p": "0.10",
        "ch": "0",
        "pc": 0.02,
        "f": {},
        "t": "2026-12-01T09:00:00+00:00",
    }
    (folder / f"web-1-{uid[:8]}.jsonl").write_text(json.dumps(record) + "\n")


def test_the_flush_task_adopts_a_dead_workers_spool(redis_cache, flush, settings, tmp_path):
    settings.ADS_SPOOL_DIR = str(tmp_path / "spool")
    ad = AdFactory()
    _orphan_file(tmp_path / "spool", ad, uuid.uuid4().hex)
    result = flush()
    assert result["adopted"] == 1 and result["inserted"] == 1
    assert Impression.objects.get().ad_id == ad.pk
    assert list((tmp_path / "spool").iterdir()) == []


def test_ship_ad_spool_command_ships_what_dead_workers_left(redis_cache, flush, settings, tmp_path):
    settings.ADS_SPOOL_DIR = str(tmp_path / "spool")
    ad = AdFactory()
    _orphan_file(tmp_path / "spool", ad, uuid.uuid4().hex)
    _orphan_file(tmp_path / "spool", ad, uuid.uuid4().hex)
    out = io.StringIO()
    call_command("ship_ad_spool", stdout=out)
    assert "Shipped 2 spooled impression(s)" in out.getvalue()
    assert flush()["inserted"] == 2


def test_ship_ad_spool_without_redis_says_so_and_keeps_the_files(settings, tmp_path):
    settings.ADS_SPOOL_DIR = str(tmp_path / "spool")
    settings.ADS_BUFFER = "direct"
    _orphan_file(tmp_path / "spool", AdFactory(), uuid.uuid4().hex)
    with pytest.raises(CommandError, match="not available"):
        call_command("ship_ad_spool")
    assert len(list((tmp_path / "spool").iterdir())) == 1


def test_budget_held_for_a_counter_redis_lost_is_not_given_back_to_its_successor(redis_cache):
    # given a process holding most of a block, and Redis losing the counters (restart, eviction)
    first = BudgetLeases()
    assert first.take([_ask(905, budget=Decimal("100"))], _client()) == [True]
    assert first.held(905) > 0
    cache.delete_many([buffer._day_key(905, "2026-12-01"), buffer._total_key(905)])
    # when another process starts the counters again from the snapshot and takes a block
    second = BudgetLeases()
    assert second.take([_ask(905, budget=Decimal("100"))], _client()) == [True]
    reserved = _reserved(905)
    # then the first process's exit gives nothing back to counters it never reserved from
    first.release()
    assert _reserved(905) == reserved
    # while the second one's release does go back to its own counter
    second.release()
    assert _reserved(905) == 1000


def test_a_forked_child_does_not_spend_its_parents_blocks(redis_cache):
    assert budget_leases.take([_ask(906, budget=Decimal("100"))], _client()) == [True]
    assert budget_leases.held(906) > 0
    pid = os.fork()
    if pid == 0:  # the child: report what it holds through its exit code, nothing else
        os._exit(0 if budget_leases.held(906) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert budget_leases.held(906) > 0  # the parent keeps its own
