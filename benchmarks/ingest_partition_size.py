"""Insert rate into the event log against the size of the partition the rows land in (issue 16).

    .venv/bin/python benchmarks/ingest_partition_size.py [--sizes 0 50000 250000 500000 1000000 2000000]
        [--batches 60] [--database-url postgres://postgres@127.0.0.1:5432/bench_partition_size]

Why: ingestion next to a big history was slower than into an empty log (0.71x at 20M events in
monthly partitions). New events only ever land in the partition holding "now", so what matters is
that partition's size, not the history's. This measures the database side alone, without the API:
the current month's partition is grown to each size in turn (server-side generate_series, the same
kinds, products and visitor ids as benchmarks/ingest_events.py), and at each size one connection
sends `--batches` batches of 1,000 rows with the statement ecommerce.bulk.bulk_insert sends
(INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING), new uuid4 ids and timestamps within the
last 5 minutes. Prints rows/s and the ratio to the first (smallest) size, plus the buffer figures
of one batch from EXPLAIN (ANALYZE, BUFFERS, WAL). The database is created and migrated if missing
and emptied first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
KINDS = ["page_view", "product_view", "product_view", "add_to_cart", "search"]
INSERT = (
    "INSERT INTO ecommerce_event (id, type, occurred_at, received_at, user_id, anonymous_id, session_key, "
    "product_id, query, properties) SELECT c0, c1, c2, c3, c4, c5, c6, c7, c8, c9::jsonb FROM unnest("
    "%b::uuid[], %b::text[], %b::timestamptz[], %b::timestamptz[], %b::int[], %b::text[], %b::text[], "
    "%b::int[], %b::text[], %b::text[]) AS u(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9) ON CONFLICT DO NOTHING"
)


def prepare(database_url: str) -> tuple[psycopg.Connection, list[int]]:
    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env |= {"DATABASE_URL": database_url, "DJANGO_DEBUG": "1"}
    subprocess.run([str(PYTHON), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    conn = psycopg.connect(database_url, autocommit=True)
    conn.execute(
        "INSERT INTO ecommerce_product (sku, title, description, price, currency, stock, is_active, "
        "is_non_product, image_url, attributes, created_at, image, image_thumbnail) "
        "SELECT 'BENCH-' || g, 'Bench product ' || g, '', 9.99, 'GBP', 100, true, false, '', '{}', now(), '', '' "
        "FROM generate_series(1, 500) g ON CONFLICT (sku) DO NOTHING"
    )
    products = [r[0] for r in conn.execute("SELECT id FROM ecommerce_product WHERE sku LIKE 'BENCH-%' ORDER BY id")]
    conn.execute("TRUNCATE ecommerce_event")
    return conn, products


def grow_to(conn: psycopg.Connection, size: int, first_product: int) -> None:
    """Add history to the current month (spread over its past days) until it holds `size` rows."""
    have = conn.execute(
        "SELECT count(*) FROM ecommerce_event WHERE occurred_at >= date_trunc('month', now())"
    ).fetchone()[0]
    if size > have:
        conn.execute(
            "INSERT INTO ecommerce_event (id, type, occurred_at, received_at, user_id, anonymous_id, session_key, "
            "product_id, query, properties) "
            "SELECT gen_random_uuid(), kind, at, at, NULL, 'visitor-' || (g %% 50000), '', "
            "CASE WHEN kind = 'page_view' THEN NULL ELSE %(first)s + g %% 500 END, '', "
            "jsonb_build_object('path', '/products/' || (%(first)s + g %% 500) || '/') "
            "FROM (SELECT g, (ARRAY['page_view', 'product_view', 'product_view', 'add_to_cart', 'search'])"
            "[1 + g %% 5] AS kind, date_trunc('month', now()) + random() * "
            "(now() - interval '1 hour' - date_trunc('month', now())) AS at "
            "FROM generate_series(1, %(rows)s) g) s",
            {"first": first_product, "rows": size - have},
        )
    conn.execute("VACUUM ANALYZE ecommerce_event")


def make_batches(count: int, products: list[int]) -> list[list[list]]:
    now = datetime.now(UTC)
    out = []
    for b in range(count):
        columns: list[list] = [[] for _ in range(10)]
        for i in range(1000):
            kind, product = KINDS[(b + i) % 5], products[(b * 7 + i) % len(products)]
            row = (
                uuid.uuid4(),
                kind,
                now - timedelta(seconds=i % 300),
                now,
                None,
                f"visitor-{(b * 31 + i) % 5000}",
                "",
                None if kind == "page_view" else product,
                "heart lantern" if kind == "search" else "",
                json.dumps({"path": f"/products/{product}/"}),
            )
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        out.append(columns)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_partition_size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 50_000, 250_000, 500_000, 1_000_000, 2_000_000])
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args()
    conn, products = prepare(args.database_url)
    print(f"date (UTC) {datetime.now(UTC):%Y-%m-%d %H:%M}, load average {os.getloadavg()[0]:.1f} (2 cores)")
    print("\n| rows in the partition | rows/s | vs the first size | buffers hit / read / dirtied per batch |")
    print("|---:|---:|---:|---|")
    base = None
    for size in sorted(args.sizes):
        grow_to(conn, size, products[0])
        start_rows = conn.execute("SELECT count(*) FROM ecommerce_event").fetchone()[0]
        batches = make_batches(args.batches + 1, products)
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + INSERT, batches.pop()).fetchone()[0][0]
        started = time.perf_counter()
        for columns in batches:
            conn.execute(INSERT, columns)
        rate = args.batches * 1000 / (time.perf_counter() - started)
        base = base or rate
        top = plan["Plan"]
        buffers = f"{top['Shared Hit Blocks']:,} / {top['Shared Read Blocks']:,} / {top['Shared Dirtied Blocks']:,}"
        print(f"| {start_rows:,} | {rate:,.0f} | {rate / base:.2f} | {buffers} |", flush=True)
        # take the measured rows out again, so each size starts where it says
        conn.execute("DELETE FROM ecommerce_event WHERE received_at > now() - interval '10 minutes'")


if __name__ == "__main__":
    main()
