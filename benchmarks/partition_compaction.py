"""Merging a finished month's day partitions into one (issue 16): how long it takes, and how long
ingestion into the current month waits meanwhile.

    .venv/bin/python benchmarks/partition_compaction.py [--rows 1700000]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_partition_compaction]

Creates (or reuses) its own migrated database, gives a past month (two months ago) day partitions
holding `--rows` events (the layout of a shop on EVENT_PARTITION_INTERVAL=day), then runs
`manage.py ensure_event_partitions` (which merges finished months) while another connection keeps
inserting 100-event batches into the current month. Prints the merge's wall time and the insert
latencies (median and worst) before and during the merge: the worst is how long the swap's lock on
the log held ingestion up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    return env | {"DATABASE_URL": database_url, "DJANGO_DEBUG": "1", "DJANGO_LOG_LEVEL": "WARNING"}


def prepare(database_url: str, rows: int) -> datetime:
    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [str(PYTHON), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=_env(database_url), check=True
    )
    now = datetime.now(UTC)
    month = (now.replace(day=1) - timedelta(days=40)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (month + timedelta(days=32)).replace(day=1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE ecommerce_event")
        for (part,) in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'ecommerce_event'::regclass AND c.relname LIKE %s",
            (f"ecommerce_event_p{month:%Y_%m}%",),
        ).fetchall():
            conn.execute(f'DROP TABLE "{part}"')
        day = month
        while day < following:
            conn.execute(
                f'CREATE TABLE "ecommerce_event_p{day:%Y_%m_%d}" PARTITION OF ecommerce_event '
                f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
            )
            day += timedelta(days=1)
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO ecommerce_event (id, type, occurred_at, received_at, user_id, anonymous_id, session_key, "
            "product_id, query, properties) SELECT gen_random_uuid(), (ARRAY['page_view', 'product_view', "
            "'add_to_cart', 'search'])[1 + g %% 4], at, at, NULL, 'visitor-' || (g %% 50000), '', NULL, '', "
            "jsonb_build_object('path', '/') FROM (SELECT g, %(low)s::timestamptz + random() * "
            "(%(high)s::timestamptz - %(low)s::timestamptz) AS at FROM generate_series(1, %(rows)s) g) s",
            {"low": month, "high": following, "rows": rows},
        )
        conn.execute("VACUUM ANALYZE ecommerce_event")
        print(
            f"setup: {rows:,} events in the 31 day partitions of {month:%Y-%m} ({time.perf_counter() - started:.0f}s)"
        )
    return month


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_partition_compaction")
    parser.add_argument("--rows", type=int, default=1_700_000)
    args = parser.parse_args()
    month = prepare(args.database_url, args.rows)
    latencies: dict[str, list[float]] = {"before": [], "during": []}
    phase = ["before"]
    stop = threading.Event()

    def ingest() -> None:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            while not stop.is_set():
                now = datetime.now(UTC)
                rows = [(uuid.uuid4(), "page_view", now, now, "visitor-1") for _ in range(100)]
                started = time.perf_counter()
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO ecommerce_event (id, type, occurred_at, received_at, anonymous_id, session_key, "
                        "query, properties) VALUES (%s, %s, %s, %s, %s, '', '', '{}')",
                        rows,
                    )
                latencies[phase[0]].append((time.perf_counter() - started) * 1000)
                time.sleep(0.01)

    writer = threading.Thread(target=ingest)
    writer.start()
    time.sleep(3)
    phase[0] = "during"
    started = time.perf_counter()
    out = subprocess.run(
        [str(PYTHON), "manage.py", "ensure_event_partitions"],
        cwd=ROOT,
        env=_env(args.database_url),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    merge_seconds = time.perf_counter() - started
    stop.set()
    writer.join()
    print(out.strip())
    print(f"date (UTC) {datetime.now(UTC):%Y-%m-%d %H:%M}, load average {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"merge of {month:%Y-%m} ({args.rows:,} events, 31 day partitions): {merge_seconds:.1f}s wall")
    for label, values in latencies.items():
        print(
            f"100-event insert into the current month {label} the merge: {len(values)} batches, "
            f"median {statistics.median(values):.1f} ms, worst {max(values):.1f} ms"
        )


if __name__ == "__main__":
    main()
