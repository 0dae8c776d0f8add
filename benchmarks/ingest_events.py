"""Event ingestion throughput: POST /api/events/ on gunicorn + PostgreSQL vs a raw COPY.

    .venv/bin/python benchmarks/ingest_events.py [--batches 200] [--clients 8] [--workers 4]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_ingest] [--port 8102]

What it does, all on 127.0.0.1:
1. creates (if missing) and migrates its own PostgreSQL database, adds 500 products and an
   ingestion token (manage.py create_ingestion_token);
2. starts gunicorn (sync workers, production settings: DJANGO_DEBUG=0) on --port;
3. `--clients` threads POST `--batches` pre-encoded batches of 1,000 events each with the
   Bearer token (a fixed number of requests, no open-ended loop) and time it;
4. empties the event table and COPYs the very same rows into it with psycopg (the limit a
   Python client can reach), then prints both rates and the ratio.

Targets (issue 2, part 11): >= 10,000 events/s through the API and >= 25% of raw COPY.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from psycopg.types.json import Jsonb

# ecommerce.models.EVENT_ROW_COLUMNS (not imported: this script runs the server, not Django itself).
EVENT_ROW_COLUMNS = (
    "id",
    "type",
    "occurred_at",
    "received_at",
    "user_id",
    "anonymous_id",
    "session_key",
    "product_id",
    "query",
    "properties",
)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
BATCH_SIZE = 1000
EVENT_TYPES = ["page_view", "product_view", "product_view", "add_to_cart", "search"]


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "CACHE_URL"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-" + "k" * 60,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on the loopback
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    if os.environ.get("BENCH_CACHE_URL"):
        env["CACHE_URL"] = os.environ["BENCH_CACHE_URL"]
    return env


def _prepare_database(database_url: str, env: dict[str, str]) -> str:
    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([str(PYTHON), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ecommerce_product (sku, title, description, price, currency, stock, is_active, "
            "is_non_product, image_url, attributes, created_at, image, image_thumbnail) "
            "SELECT 'BENCH-' || g, 'Bench product ' || g, '', 9.99, 'GBP', 100, true, false, '', '{}', now(), '', '' "
            "FROM generate_series(1, 500) g ON CONFLICT (sku) DO NOTHING"
        )
    token_name = f"bench-{uuid.uuid4().hex[:8]}"
    out = subprocess.run(
        [str(PYTHON), "manage.py", "create_ingestion_token", token_name],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _product_ids(database_url: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM ecommerce_product WHERE sku LIKE 'BENCH-%' ORDER BY id")]


def _make_batches(batches: int, product_ids: list[int]) -> list[list[dict]]:
    now = datetime.now(UTC)
    out = []
    for b in range(batches):
        events = []
        for i in range(BATCH_SIZE):
            kind = EVENT_TYPES[(b + i) % len(EVENT_TYPES)]
            product = product_ids[(b * 7 + i) % len(product_ids)]
            event = {
                "id": str(uuid.uuid4()),
                "type": kind,
                "occurred_at": (now - timedelta(seconds=i % 300)).isoformat(),
                "anonymous_id": f"visitor-{(b * 31 + i) % 5000}",
                "properties": {"path": f"/products/{product}/"},
            }
            if kind != "page_view":
                event["product_id"] = product
            if kind == "search":
                event["query"] = "heart lantern"
            events.append(event)
        out.append(events)
    return out


def _start_gunicorn(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(GUNICORN),
            "ecommerce.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "sync",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )


def _post(port: int, body: bytes, token: str, timeout: float = 60) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/api/events/",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        conn.close()


def _wait_ready(port: int, token: str, tries: int = 120) -> None:
    empty = json.dumps({"events": []}).encode()
    for _ in range(tries):  # bounded: at most ~60 s
        try:
            status, _ = _post(port, empty, token, timeout=5)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer on the loopback in time")


def run_api(port: int, token: str, bodies: list[bytes], clients: int) -> tuple[float, int, list[str]]:
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))

    def client() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            outcome = _post(port, bodies[index], token)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    accepted = sum(r[1].get("accepted", 0) for r in results if r[0] == 200)
    problems = [f"{status}: {str(body)[:200]}" for status, body in results if status != 200 or body.get("rejected")]
    return seconds, accepted, problems


def prefill(database_url: str, env: dict[str, str], rows: int) -> int:
    """Top the event log up to `rows` events spread over the last 365 days (history the new
    events are ingested next to), written server-side; returns the count."""
    subprocess.run(
        [
            str(PYTHON),
            "manage.py",
            "ensure_event_partitions",
            "--since",
            f"{datetime.now(UTC) - timedelta(days=366):%Y-%m-%d}",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM ecommerce_event").fetchone()[0]
        if have < rows:
            first = conn.execute("SELECT min(id) FROM ecommerce_product WHERE sku LIKE 'BENCH-%'").fetchone()[0]
            started = time.perf_counter()
            conn.execute(
                "INSERT INTO ecommerce_event (id, type, occurred_at, received_at, user_id, anonymous_id, "
                "session_key, product_id, query, properties) "
                "SELECT gen_random_uuid(), "
                "(ARRAY['page_view', 'product_view', 'product_view', 'add_to_cart'])[1 + g %% 4], "
                "now() - random() * interval '365 days', now() - interval '1 hour', NULL, "
                "'old-visitor-' || (g %% 100000), '', "
                "CASE WHEN g %% 4 = 0 THEN NULL ELSE %s + g %% 500 END, '', '{}' FROM generate_series(1, %s) g",
                (first, rows - have),
            )
            conn.execute("VACUUM ANALYZE ecommerce_event")
            print(f"prefill:          {rows - have:,} events written in {time.perf_counter() - started:.0f}s")
        return conn.execute("SELECT count(*) FROM ecommerce_event").fetchone()[0]


def run_copy(database_url: str, batches: list[list[dict]], since: datetime | None = None) -> tuple[float, int]:
    received = datetime.now(UTC)
    rows = [
        (
            uuid.UUID(e["id"]),
            e["type"],
            datetime.fromisoformat(e["occurred_at"]),
            received,
            None,
            e.get("anonymous_id", ""),
            "",
            e.get("product_id"),
            e.get("query", ""),
            Jsonb(e.get("properties", {})),
        )
        for batch in batches
        for e in batch
    ]
    with psycopg.connect(database_url) as conn:
        if since is None:
            conn.execute("TRUNCATE ecommerce_event")
        else:  # keep the existing history: remove only what the API run wrote
            conn.execute("DELETE FROM ecommerce_event WHERE received_at >= %s", (since,))
        before = conn.execute("SELECT count(*) FROM ecommerce_event").fetchone()[0]
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY ecommerce_event ({', '.join(EVENT_ROW_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM ecommerce_event").fetchone()[0] - before
    return seconds, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_ingest")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--existing",
        type=int,
        default=0,
        help="ingest next to this many events of history (kept between runs); 0: into an empty table",
    )
    args = parser.parse_args()

    env = _env(args.database_url)
    token = _prepare_database(args.database_url, env)
    batches = _make_batches(args.batches, _product_ids(args.database_url))
    bodies = [json.dumps({"events": batch}).encode() for batch in batches]
    existing = 0
    if args.existing:
        existing = prefill(args.database_url, env, args.existing)
    else:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("TRUNCATE ecommerce_event")
    api_started = datetime.now(UTC)

    server = _start_gunicorn(env, args.port, args.workers)
    try:
        _wait_ready(args.port, token)
        # BENCH_PROFILE=out.txt: sample the gunicorn workers with py-spy (raw flame-graph format)
        # during the run to see where request time goes; a profiled run's figures are not comparable.
        profiler = None
        if os.environ.get("BENCH_PROFILE"):
            profiler = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "py-spy"),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--subprocesses",
                    "--format",
                    "raw",
                    "-o",
                    os.environ["BENCH_PROFILE"],
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(2)
        api_seconds, accepted, problems = run_api(args.port, token, bodies, args.clients)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            profiler.wait(timeout=60)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    sent = args.batches * BATCH_SIZE
    api_rate = accepted / api_seconds
    copy_seconds, copied = run_copy(args.database_url, batches, api_started if args.existing else None)
    copy_rate = copied / copy_seconds
    load = os.getloadavg()
    print(f"date (UTC):       {datetime.now(UTC):%Y-%m-%d %H:%M}")
    print(f"load average:     {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores, shared)")
    print(
        f"setup:            gunicorn {args.workers} sync workers, {args.clients} client threads, "
        f"{args.batches} batches x {BATCH_SIZE} events"
    )
    print(
        f"API:              {accepted:,} of {sent:,} events accepted in {api_seconds:.2f}s = {api_rate:,.0f} events/s"
    )
    print(f"raw COPY:         {copied:,} rows in {copy_seconds:.2f}s = {copy_rate:,.0f} rows/s")
    print(f"API / COPY:       {api_rate / copy_rate:.1%}")
    print(f"existing events:  {existing:,} (history the API and COPY wrote next to)")
    if problems:
        print(f"problems ({len(problems)}): {problems[:3]}")
    if accepted != sent:
        sys.exit(1)


if __name__ == "__main__":
    main()
