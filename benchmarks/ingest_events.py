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

Issue 16 (ingestion next to history): `--existing N` gives the log N events over the last 365
days first (written server-side into index-less partitions, then attached; kept between runs), and
`--compare-empty` alternates runs into an empty log (database `<name>_empty`) and next to the
history, `--rounds` times, then prints API(history) / API(empty) and API(history) / COPY:

    .venv/bin/python benchmarks/ingest_events.py --batches 150 --existing 20000000 --compare-empty \
        --rounds 2 --database-url postgres://postgres@127.0.0.1:5432/h_scale20m_ing
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


def _period(when: datetime, interval: str) -> tuple[datetime, datetime]:
    """[low, high) of the `interval` period holding `when`, UTC; as ecommerce.partitions.period_of
    (not imported: this script runs the server, not Django itself)."""
    day = when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "month":
        low = day.replace(day=1)
        return low, (low + timedelta(days=32)).replace(day=1)
    return day, day + timedelta(days=1)


def _partition_name(low: datetime, high: datetime) -> str:
    """As ecommerce.partitions names them: a whole month pYYYY_MM, anything else pYYYY_MM_DD."""
    if low.day == 1 and _period(low, "month") == (low, high):
        return f"ecommerce_event_p{low:%Y_%m}"
    return f"ecommerce_event_p{low:%Y_%m_%d}"


def resolve_interval(interval: str, rows: int) -> str:
    """`auto` as ecommerce.partitions.partition_interval decides it for a log that took `rows`
    events evenly over 365 days (the history this script writes)."""
    if interval != "auto":
        return interval
    target = int(os.environ.get("EVENT_PARTITION_TARGET_ROWS", "250000"))
    return "month" if rows / 365 * 31 <= target else "day"


def lay_out_partitions(database_url: str, env: dict[str, str]) -> None:
    """Drop the log's (empty) range partitions and let the project create them at the interval in
    `env` (manage.py ensure_event_partitions): both logs of a comparison then have the same layout."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE ecommerce_event")
        for (name,) in conn.execute(_RANGE_PARTITIONS).fetchall():
            conn.execute(f'DROP TABLE "{name}"')
    subprocess.run(
        [str(PYTHON), "manage.py", "ensure_event_partitions"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


_RANGE_PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'ecommerce_event'::regclass AND c.relname <> 'ecommerce_event_default'"
)


def _span_now(conn) -> timedelta | None:
    """The length of the partition that holds this instant (where the API writes)."""
    for (name,) in conn.execute(_RANGE_PARTITIONS).fetchall():
        bound = conn.execute(
            "SELECT (b[1])::timestamptz, (b[2])::timestamptz FROM regexp_match(pg_get_expr("
            "(SELECT relpartbound FROM pg_class WHERE relname = %s), %s::regclass), "
            "$$FROM \\('([^']+)'\\) TO \\('([^']+)'\\)$$) b",
            (name, name),
        ).fetchone()
        if bound[0] <= datetime.now(UTC) < bound[1]:
            return bound[1] - bound[0]
    return None


def prefill(database_url: str, env: dict[str, str], rows: int) -> int:
    """Give the event log `rows` events of history spread evenly over the last 365 days, in the
    layout the project keeps at the interval in env["EVENT_PARTITION_INTERVAL"]: one partition per
    past month (compacted), this month in partitions of the interval (with months, this month's
    partition, where the API writes, already holds ~1/12 of the history), unless it holds at least
    that many already in that layout (kept between runs: each run's API and COPY rows are deleted
    after it). Returns the count.

    Written server-side (generate_series) into the periods' partitions while they are plain tables
    without indexes or foreign keys, under a staging parent; each is then ATTACHed to the log, which
    builds its nine indexes in one sorted pass and checks its foreign keys with one join. Writing
    the same rows into the indexed log row by row took 1,057 s for 5M on the shared machine; this
    takes a few minutes for 20M. Freshly built indexes are densely packed (no free space from page
    splits), so an insert splits pages sooner than in a log that grew by inserts: if anything the
    test is harder on ingestion than the real thing."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        interval = env["EVENT_PARTITION_INTERVAL"]
        have = conn.execute("SELECT count(*) FROM ecommerce_event").fetchone()[0]
        low, high = _period(datetime.now(UTC), interval)
        if have >= rows and _span_now(conn) == high - low:
            return have
        started = time.perf_counter()
        now = datetime.now(UTC)
        conn.execute("TRUNCATE ecommerce_event")
        for (name,) in conn.execute(_RANGE_PARTITIONS).fetchall():
            conn.execute(f'DROP TABLE "{name}"')  # empty after the TRUNCATE
        conn.execute("DROP TABLE IF EXISTS bench_event_stage")
        conn.execute(
            "CREATE TABLE bench_event_stage (LIKE ecommerce_event INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)"
        )
        bounds = []
        this_month, _ = _period(now, "month")
        low, _ = _period(now - timedelta(days=365), "month")
        while low <= now:
            high = _period(low, "month" if low < this_month else interval)[1]
            name = _partition_name(low, high)
            bounds.append((name, low, high))
            conn.execute(
                f'CREATE TABLE "{name}" PARTITION OF bench_event_stage '
                f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
            )
            low = high
        first = conn.execute("SELECT min(id) FROM ecommerce_product WHERE sku LIKE 'BENCH-%'").fetchone()[0]
        # The same kinds, products and visitor ids as the API batches (_make_batches), so new rows
        # land among existing keys in every index rather than in a range of their own.
        conn.execute(
            "INSERT INTO bench_event_stage (id, type, occurred_at, received_at, user_id, anonymous_id, "
            "session_key, product_id, query, properties) "
            "SELECT gen_random_uuid(), type, at, at + interval '2 seconds', NULL, 'visitor-' || (g %% 50000), '', "
            "CASE WHEN type = 'page_view' THEN NULL ELSE %(first)s + g %% 500 END, "
            "CASE WHEN type = 'search' THEN 'heart lantern' ELSE '' END, "
            "jsonb_build_object('path', '/products/' || (%(first)s + g %% 500) || '/') "
            "FROM (SELECT g, (ARRAY['page_view', 'product_view', 'product_view', 'add_to_cart', 'search'])"
            "[1 + g %% 5] AS type, %(now)s::timestamptz - random() * interval '365 days' AS at "
            "FROM generate_series(1, %(rows)s) g) s",
            {"first": first, "rows": rows, "now": now},
        )
        written = time.perf_counter() - started
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, low, high in bounds:
            conn.execute(f'ALTER TABLE bench_event_stage DETACH PARTITION "{name}"')
            conn.execute(
                f"ALTER TABLE ecommerce_event ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{low.isoformat()}') "
                f"TO ('{high.isoformat()}')"
            )
        conn.execute("DROP TABLE bench_event_stage")
        indexed = time.perf_counter() - started - written
        # The periods ahead (as beat keeps them), then what autovacuum would have done by now.
        subprocess.run(
            [str(PYTHON), "manage.py", "ensure_event_partitions"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        conn.execute("VACUUM ANALYZE ecommerce_event")
        print(
            f"prefill:          {rows:,} events over {len(bounds)} {interval} partitions in "
            f"{time.perf_counter() - started:.0f}s (rows {written:.0f}s, indexes and foreign keys "
            f"{indexed:.0f}s, then VACUUM ANALYZE)"
        )
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


def measure(
    database_url: str, env: dict[str, str], token: str, args: argparse.Namespace, keep_history: bool
) -> dict[str, object]:
    """One timed API run on gunicorn, then the COPY of the same rows, against `database_url`.
    With `keep_history` the API rows are deleted before the COPY (the history stays); otherwise the
    log is emptied before each of the two."""
    batches = _make_batches(args.batches, _product_ids(database_url))  # fresh ids on every run
    bodies = [json.dumps({"events": batch}).encode() for batch in batches]
    with psycopg.connect(database_url, autocommit=True) as conn:
        if not keep_history:
            conn.execute("TRUNCATE ecommerce_event")
        existing = conn.execute("SELECT count(*) FROM ecommerce_event").fetchone()[0]
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
    load_api = os.getloadavg()[0]
    copy_seconds, copied = run_copy(database_url, batches, api_started if keep_history else None)
    if keep_history:
        # Take this run's rows (the API's were deleted before the COPY, now the COPY's) out again and
        # vacuum their dead index entries, so every run meets the same history: with day partitions
        # the rows of earlier runs would otherwise double today's partition run after run.
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM ecommerce_event WHERE received_at >= %s", (api_started,))
            conn.execute("VACUUM ANALYZE ecommerce_event")
    return {
        "at": datetime.now(UTC),
        "existing": existing,
        "sent": args.batches * BATCH_SIZE,
        "accepted": accepted,
        "api_seconds": api_seconds,
        "api_rate": accepted / api_seconds,
        "copied": copied,
        "copy_seconds": copy_seconds,
        "copy_rate": copied / copy_seconds,
        "load": load_api,
        "problems": problems,
    }


def report(result: dict[str, object], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(f"date (UTC):       {result['at']:%Y-%m-%d %H:%M}")
    print(f"load average:     {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores, shared)")
    print(
        f"setup:            gunicorn {args.workers} sync workers, {args.clients} client threads, "
        f"{args.batches} batches x {BATCH_SIZE} events"
    )
    print(
        f"API:              {result['accepted']:,} of {result['sent']:,} events accepted in "
        f"{result['api_seconds']:.2f}s = {result['api_rate']:,.0f} events/s"
    )
    print(
        f"raw COPY:         {result['copied']:,} rows in {result['copy_seconds']:.2f}s = "
        f"{result['copy_rate']:,.0f} rows/s"
    )
    print(f"API / COPY:       {result['api_rate'] / result['copy_rate']:.1%}")
    print(f"existing events:  {result['existing']:,} (history the API and COPY wrote next to)")
    if result["problems"]:
        print(f"problems ({len(result['problems'])}): {result['problems'][:3]}")


def compare(runs: list[tuple[str, dict[str, object]]]) -> None:
    """The issue-16 goals from alternated runs into an empty log and next to the history."""
    print("\n| run | database | existing events | load avg | API events/s | COPY rows/s | API / COPY |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for i, (label, r) in enumerate(runs, 1):
        print(
            f"| {i} {r['at']:%H:%M} | {label} | {r['existing']:,} | {r['load']:.1f} | {r['api_rate']:,.0f} | "
            f"{r['copy_rate']:,.0f} | {r['api_rate'] / r['copy_rate']:.1%} |"
        )

    def mean(label: str, key: str) -> float:
        values = [r[key] for lab, r in runs if lab == label]
        return sum(values) / len(values)

    api_empty, api_full = mean("empty", "api_rate"), mean("history", "api_rate")
    copy_empty, copy_full = mean("empty", "copy_rate"), mean("history", "copy_rate")
    ratio = api_full / api_empty
    print(
        f"\nAPI next to the history / API into the empty log: {api_full:,.0f} / {api_empty:,.0f} = "
        f"{ratio:.2f} (goal >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})"
    )
    for what, copy_rate in (("the same history", copy_full), ("the empty log", copy_empty)):
        share = api_full / copy_rate
        print(
            f"API next to the history / COPY into {what}: {api_full:,.0f} / {copy_rate:,.0f} = {share:.1%} "
            f"(goal >= 50%: {'met' if share >= 0.5 else 'NOT met'})"
        )


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
    parser.add_argument(
        "--compare-empty",
        action="store_true",
        help="with --existing: also ingest into an empty log (in the database --empty-database-url), "
        "alternating empty / history runs --rounds times, and print the issue-16 ratios",
    )
    parser.add_argument("--empty-database-url", help="default: --database-url's database name + '_empty'")
    parser.add_argument("--rounds", type=int, default=2, help="with --compare-empty: pairs of runs")
    parser.add_argument(
        "--partition-interval",
        choices=["auto", "month", "day"],
        default=os.environ.get("EVENT_PARTITION_INTERVAL", "auto"),
        help="EVENT_PARTITION_INTERVAL of both logs; auto decides from --existing over a year as the "
        "project does from the last week's rate (default: the environment's, else auto)",
    )
    args = parser.parse_args()

    interval = resolve_interval(args.partition_interval, args.existing)
    print(f"partitions:       {interval} (EVENT_PARTITION_INTERVAL={args.partition_interval})")
    env = _env(args.database_url) | {"EVENT_PARTITION_INTERVAL": interval}
    token = _prepare_database(args.database_url, env)
    if not args.existing:
        lay_out_partitions(args.database_url, env)
    if not args.compare_empty:
        existing = prefill(args.database_url, env, args.existing) if args.existing else 0
        if existing:
            print(f"history:          {existing:,} events")
        result = measure(args.database_url, env, token, args, keep_history=bool(args.existing))
        report(result, args)
        if result["accepted"] != result["sent"]:
            sys.exit(1)
        return
    if not args.existing:
        sys.exit("--compare-empty needs --existing N")
    empty_url = args.empty_database_url or args.database_url + "_empty"
    empty_env = _env(empty_url) | {"EVENT_PARTITION_INTERVAL": interval}
    empty_token = _prepare_database(empty_url, empty_env)
    lay_out_partitions(empty_url, empty_env)
    print(f"history:          {prefill(args.database_url, env, args.existing):,} events in {args.database_url}")
    runs = []
    for _ in range(args.rounds):
        for label, url, run_env, run_token in (
            ("empty", empty_url, empty_env, empty_token),
            ("history", args.database_url, env, token),
        ):
            result = measure(url, run_env, run_token, args, keep_history=label == "history")
            print(f"\n-- {label}: {url}")
            report(result, args)
            runs.append((label, result))
            if result["accepted"] != result["sent"]:
                sys.exit(1)
    compare(runs)


if __name__ == "__main__":
    main()
