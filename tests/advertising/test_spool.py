"""The impression spool (advertising/spool.py): records survive a failed push and a killed process.

The spool is files and locks: these tests use real files in a folder of their own, real child
processes killed with SIGKILL, and a real flusher thread. `push` is a list here (what reaches the
shared buffer); tests/advertising/test_budget_leases.py serves through Redis end to end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from advertising.spool import ImpressionSpool


@pytest.fixture
def folder(settings, tmp_path) -> Path:
    settings.ADS_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


def _records(*uids: str) -> list[str]:
    return [json.dumps({"u": uid, "a": 1}) for uid in uids]


def test_shipped_records_arrive_once_in_order_and_leave_no_file(folder):
    spool, shipped = ImpressionSpool(), []
    spool.append(_records("a", "b"))
    spool.append(_records("c"))
    assert spool.pending() == 3
    assert spool.ship(shipped.extend) == 3
    assert [json.loads(line)["u"] for line in shipped] == ["a", "b", "c"]
    assert spool.pending() == 0 and list(folder.iterdir()) == []
    assert spool.ship(shipped.extend) == 0 and len(shipped) == 3  # nothing twice


def test_a_failed_push_keeps_the_records_for_the_next_shipment(folder):
    spool, shipped = ImpressionSpool(), []
    spool.append(_records("a"))

    def redis_down(lines):
        raise ConnectionError("redis went away")

    with pytest.raises(ConnectionError):
        spool.ship(redis_down)
    spool.append(_records("b"))  # serving goes on meanwhile
    assert spool.pending() == 2
    assert spool.ship(shipped.extend) == 2
    assert sorted(json.loads(line)["u"] for line in shipped) == ["a", "b"]
    assert list(folder.iterdir()) == []


CHILD = """
import sys, time
import django
from django.conf import settings
settings.configure(ADS_SPOOL_DIR=sys.argv[1], BASE_DIR=sys.argv[2], LOGGING_CONFIG=None)
django.setup()
from advertising.spool import spool
spool.append([f'{{"u": "child-{i}", "a": 1}}' for i in range(int(sys.argv[3]))])
print("spooled", flush=True)
time.sleep(60)
"""


def _child(folder: Path, records: int) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(django_settings.BASE_DIR), str(records)],
        cwd=django_settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "spooled"
    return child


def test_a_killed_process_leaves_its_records_to_be_adopted_and_a_live_one_keeps_its_own(folder):
    # given a worker process that spooled 3 records and is still running
    child = _child(folder, 3)
    adopter, shipped = ImpressionSpool(), []
    try:
        # then nobody adopts a living process's file
        assert adopter.adopt_orphans(shipped.extend) == 0 and shipped == []
        # when it is killed before shipping (no atexit, no cleanup)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    # then another process adopts its records, once
    assert adopter.adopt_orphans(shipped.extend) == 3
    assert sorted(json.loads(line)["u"] for line in shipped) == ["child-0", "child-1", "child-2"]
    assert adopter.adopt_orphans(shipped.extend) == 0 and len(shipped) == 3
    assert list(folder.iterdir()) == []


def test_a_torn_last_line_of_a_killed_writer_is_dropped_not_shipped(folder):
    folder.mkdir(parents=True)
    (folder / "host-1-dead.jsonl").write_text('{"u": "whole", "a": 1}\n{"u": "to')
    shipped: list[str] = []
    assert ImpressionSpool().adopt_orphans(shipped.extend) == 1
    assert [json.loads(line)["u"] for line in shipped] == ["whole"]


def test_the_flusher_thread_ships_without_being_asked(folder, settings):
    settings.ADS_SPOOL_SHIP_SECONDS = 0.05
    spool, shipped = ImpressionSpool(), []
    try:
        spool.append(_records("a", "b"))
        spool.start_flusher(shipped.extend)
        deadline = time.monotonic() + 10
        while len(shipped) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [json.loads(line)["u"] for line in shipped] == ["a", "b"]
        spool.append(_records("c"))  # later appends go out on a later tick
        deadline = time.monotonic() + 10
        while len(shipped) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [json.loads(line)["u"] for line in shipped] == ["a", "b", "c"]
    finally:
        spool.stop_flusher()
    assert spool.pending() == 0


def test_no_flusher_thread_when_shipping_is_left_to_the_flush(folder, settings):
    settings.ADS_SPOOL_SHIP_SECONDS = 0
    spool = ImpressionSpool()
    spool.append(_records("a"))
    spool.start_flusher(lambda lines: None)
    assert spool._flusher is None and spool.pending() == 1
    spool.forget()
    assert spool.pending() == 0 and list(folder.iterdir()) == []


def test_spool_files_are_private_to_the_shop(folder):
    spool = ImpressionSpool()
    spool.append(_records("a"))
    (path,) = folder.iterdir()
    assert path.stat().st_mode & 0o077 == 0  # records carry user and session ids
    spool.forget()
    assert os.listdir(folder) == []


def test_an_outage_keeps_one_file_aside_not_one_per_tick(folder):
    # given Redis refuses every shipment for a while, and serving goes on meanwhile
    spool, shipped = ImpressionSpool(), []

    def redis_down(lines):
        raise ConnectionError("redis went away")

    for i in range(50):
        spool.append(_records(f"r{i}"))
        with pytest.raises(ConnectionError):
            spool.ship(redis_down)
    # then the outage holds at most the file set aside and the live one (and their descriptors)
    assert len(list(folder.iterdir())) <= 2
    assert len(spool._aside) == 1
    # and when Redis is back every record goes out once, in order
    assert spool.ship(shipped.extend) == 50
    assert [json.loads(line)["u"] for line in shipped] == [f"r{i}" for i in range(50)]
    assert list(folder.iterdir()) == []


def test_a_spool_file_is_never_visible_unlocked_to_an_adopter(folder):
    # Every file under a spool name is locked from the moment it has that name: an adopter
    # running beside a process that keeps starting new files never takes one of them.
    spool, adopted = ImpressionSpool(), []
    for i in range(200):
        spool.append(_records(f"r{i}"))
        assert ImpressionSpool().adopt_orphans(adopted.extend) == 0
        spool.ship(lambda lines: None)
    assert adopted == []
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no hidden leftovers
