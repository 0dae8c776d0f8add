"""Rollup benchmark: do dashboard queries stay flat as the raw event log grows?

For each size (default 50k and 5M events) the script empties its own PostgreSQL database,
generates a year of shop traffic with COPY (shoppers, sessions of events, orders with lines),
refreshes the rollups (timed), then times the dashboard's queries for a 30-day range
(median of several warm runs). The TARGET (≤ 2× at 5M vs 50k) is the whole dashboard: every
panel the merchant's dashboard page loads (KPIs, trends, funnel, retention, every top table,
heat-map, distributions, RFM, saved segments), all on rollups since issue 16; the rollup answers
are compared with the raw computation (accuracy lines).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dev_analytics_bench \
        .venv/bin/python benchmarks/analytics_rollup_bench.py --sizes 50000 5000000

The database is created if missing and wiped on every size: never point it at real data.
`--database SIZE=NAME` gives a size a database of its own on the same server, so with `--reuse`
both sizes' data are kept between runs (only the rollups are recomputed). 20M vs 200k:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_scale20m_dash \
        .venv/bin/python benchmarks/analytics_rollup_bench.py --sizes 200000 20000000 \
        --database 200000=h_scale20m_dash200k --reuse

Generation writes the very same rows as before for a given size and seed (text COPY lines into
index-less monthly partitions attached afterwards): 20M events in about 10 minutes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dev_analytics_bench"  # its own: wiped per size
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365
EVENTS_PER_SESSION = 10  # average; the generator draws 6..14
REGISTERED = 20_000  # shoppers with accounts; more traffic brings more anonymous visitors too
PRODUCTS = 500


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def use_database(connection, url: str, name: str) -> None:
    """Point Django's connection at database `name` on DATABASE_URL's server (created and migrated
    if needed); a no-op when it is already the current one."""
    from django.core.management import call_command

    if connection.settings_dict["NAME"] == name:
        return
    connection.close()
    ensure_database(url.rsplit("/", 1)[0] + "/" + name)
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)


def rollup_models() -> tuple:
    """Every table the rollup refresh writes (and its bookkeeping): emptied for a refresh from
    scratch (`--reuse`) and, with the shop's own tables, by reset()."""
    from analytics.models import (
        ActorSketch,
        DailyActor,
        DailyMetric,
        DailyProduct,
        DailySearcher,
        DailyTop,
        FunnelEntry,
        HourlyMetric,
        PanelSnapshot,
        RollupState,
    )

    return (
        ActorSketch,
        DailyActor,
        DailyMetric,
        DailyProduct,
        DailySearcher,
        DailyTop,
        FunnelEntry,
        HourlyMetric,
        PanelSnapshot,
        RollupState,
    )


def _truncate(connection, models, suffix: str = "") -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(f'"{m._meta.db_table}"' for m in models) + suffix)


def reset(connection) -> None:
    from analytics.models import CohortCell, Segment
    from ecommerce.models import Category, Event, Order, OrderItem, Product, User

    shop = (CohortCell, Segment, OrderItem, Order, Event, Product, Category, User)
    _truncate(connection, (*rollup_models(), *shop), " RESTART IDENTITY CASCADE")


def _month_starts() -> list[date]:
    """The generated year's months and the January after it (late sessions of Dec 31 end there)."""
    return [date(YEAR_START.year, m, 1) for m in range(1, 13)] + [date(YEAR_START.year + 1, 1, 1)]


def _stage_event_partitions(cur) -> None:
    """Create the year's monthly partitions as plain tables without indexes or foreign keys, under a
    staging parent `bench_event_stage` (COPY there routes rows by month with no index upkeep and
    no deferred foreign-key queue: 20M rows would queue 40M checks until commit)."""
    from ecommerce.partitions import TABLE, next_month, partition_name

    cur.execute("DROP TABLE IF EXISTS bench_event_stage")
    cur.execute(f'CREATE TABLE bench_event_stage (LIKE "{TABLE}" INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)')
    for month in _month_starts():
        name = partition_name(month)
        if cur.execute("SELECT to_regclass(%s)", [name]).fetchone()[0] is not None:
            # Empty after reset(); leaving it attached would keep its indexes in the load path.
            cur.execute(f'DROP TABLE "{name}"')
        cur.execute(
            f'CREATE TABLE "{name}" PARTITION OF bench_event_stage '
            f"FOR VALUES FROM ('{month} 00:00:00+00') TO ('{next_month(month)} 00:00:00+00')"
        )


def _attach_staged_partitions(cur) -> None:
    """Move the loaded months from the staging parent to the event log. ATTACH builds each
    partition's nine indexes in one sorted pass and checks its foreign keys with one join, instead of
    a random-order index insert and a queued trigger per row (what made 5M take ~17 minutes)."""
    from ecommerce.partitions import TABLE, next_month, partition_name

    cur.execute("SET maintenance_work_mem = '512MB'")
    for month in _month_starts():
        name = partition_name(month)
        cur.execute(f'ALTER TABLE bench_event_stage DETACH PARTITION "{name}"')
        cur.execute(
            f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{name}" '
            f"FOR VALUES FROM ('{month} 00:00:00+00') TO ('{next_month(month)} 00:00:00+00')"
        )
    cur.execute("DROP TABLE bench_event_stage")
    cur.execute("RESET maintenance_work_mem")


def generate(connection, n_events: int, seed: int = 0) -> dict[str, int]:
    """COPY a year of traffic: sessions of 6-14 events, 1 in 4 sessions buys (an order with lines).

    Events go as text COPY lines built with plain string formatting (no datetime or UUID objects
    per event) into index-less monthly partitions that are attached to the event log afterwards
    (see _stage_event_partitions): the same rows as before for a given seed (checked at 200k), and
    20M events in 622 s on the shared machine where 5M took 479 s before (~3x faster per event)."""
    rng = random.Random(seed)
    raw = connection.connection  # psycopg 3 connection under Django (autocommit)
    ev_cols = "id, type, occurred_at, received_at, user_id, anonymous_id, session_key, product_id, query, properties"
    with raw.cursor() as cur:
        with cur.copy("COPY ecommerce_category (id, name, slug, parent_id) FROM STDIN") as cp:
            for i in range(1, 11):
                cp.write_row((i, f"Category {i}", f"cat-{i}", None))
        with cur.copy(
            "COPY ecommerce_product (id, sku, title, description, category_id, price, currency, stock, "
            "is_active, is_non_product, image_url, attributes, created_at, image, image_thumbnail) FROM STDIN"
        ) as cp:
            for i in range(1, PRODUCTS + 1):
                cp.write_row(
                    (
                        i,
                        f"B{i:05d}",
                        f"Bench product {i}",
                        "",
                        1 + i % 10,
                        f"{rng.uniform(1, 60):.2f}",
                        "GBP",
                        100,
                        True,
                        False,
                        "",
                        "{}",
                        YEAR_START,
                        "",
                        "",
                    )
                )
        countries = ["United Kingdom"] * 6 + ["France", "Germany", "Netherlands", "Spain"]
        with cur.copy(
            "COPY ecommerce_user (id, password, is_superuser, username, first_name, last_name, email, "
            "is_staff, is_active, date_joined, birth_year, gender, country, tracking_consent) FROM STDIN"
        ) as cp:
            for i in range(1, REGISTERED + 1):
                cp.write_row(
                    (
                        i,
                        "!",
                        False,
                        f"bench{i}",
                        "",
                        "",
                        f"bench{i}@example.com",
                        False,
                        True,
                        YEAR_START,
                        rng.randint(1950, 2005),
                        rng.choice("fmo"),
                        rng.choice(countries),
                        True,
                    )
                )
        n_sessions = max(1, n_events // EVENTS_PER_SESSION)
        # Traffic grows with visitors: anonymous visitors scale with the number of sessions.
        n_anonymous = max(100, n_sessions // 3)
        written = orders = 0
        order_rows, line_rows = [], []
        hours = [8, 9, 10, 11, 12, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20, 21, 21, 22]
        queries_ = ["mug", "lamp", "unicorn", "candle", "gnome"]
        # Times as integer seconds since YEAR_START, formatted from a per-day prefix.
        days = [f"{(YEAR_START + timedelta(days=d)):%Y-%m-%d} " for d in range(DAYS + 2)]
        # A version-4 UUID from 128 random bits, as uuid.UUID(int=..., version=4) sets them.
        clear = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
        variant = (0x8000 << 48) | (4 << 76)
        getrandbits, randint, randrange, rand, choice = (
            rng.getrandbits,
            rng.randint,
            rng.randrange,
            rng.random,
            rng.choice,
        )
        _stage_event_partitions(cur)
        lines: list[str] = []
        with cur.copy(f"COPY bench_event_stage ({ev_cols}) FROM STDIN") as cp:
            while written < n_events:
                start = randrange(DAYS) * 86400 + choice(hours) * 3600 + randrange(60) * 60
                registered = rand() < 0.6
                user_id = randint(1, REGISTERED) if registered else None
                anon = f"a{randrange(n_anonymous)}" if not registered else f"r{user_id}"
                user = "\\N" if user_id is None else str(user_id)
                t = start
                steps = ["page_view"] + ["product_view"] * randint(3, 9)
                if rand() < 0.3:
                    steps.insert(1, "search")
                buys = rand() < 0.25
                if rand() < 0.5 or buys:
                    steps += ["add_to_cart", "checkout_start"] + (["purchase"] if buys else [])
                product = randint(1, PRODUCTS)
                for step in steps:
                    if written >= n_events:
                        break
                    t += randint(5, 240)
                    day, sec = divmod(t, 86400)
                    stamp = f"{days[day]}{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}+00"
                    query = choice(queries_) if step == "search" else ""
                    props = '{"results": 0}' if query == "unicorn" else "{}"
                    pid = product if step in ("product_view", "add_to_cart") else "\\N"
                    lines.append(
                        f"{(getrandbits(128) & clear) | variant:032x}\t{step}\t{stamp}\t{stamp}\t{user}\t"
                        f"{anon}\t\t{pid}\t{query}\t{props}\n"
                    )
                    written += 1
                if len(lines) >= 20_000:
                    cp.write("".join(lines))
                    lines.clear()
                if buys and user_id is not None and written < n_events:
                    orders += 1
                    status = "cancelled" if rand() < 0.05 else "delivered"
                    placed = YEAR_START + timedelta(seconds=t)
                    order_rows.append(
                        (
                            orders,
                            f"B{orders:09d}",
                            user_id,
                            "",
                            status,
                            placed,
                            placed,
                            "GBP",
                            "",
                            "",
                            "",
                            "",
                            None,
                            None,
                            "bench",
                        )
                    )
                    for line in range(1, randint(1, 4) + 1):
                        line_rows.append(
                            (
                                orders,
                                randint(1, PRODUCTS),
                                "Bench product",
                                randint(1, 5),
                                f"{rng.uniform(1, 60):.2f}",
                                line,
                            )
                        )
            if lines:
                cp.write("".join(lines))
        _attach_staged_partitions(cur)
        with cur.copy(
            "COPY ecommerce_order (id, number, user_id, email, status, placed_at, updated_at, currency, "
            "shipping_name, shipping_address, country, tracking_number, shipped_at, delivered_at, source) "
            "FROM STDIN"
        ) as cp:
            for row in order_rows:
                cp.write_row(row)
        with cur.copy(
            "COPY ecommerce_orderitem (order_id, product_id, title, quantity, unit_price, line_number) FROM STDIN"
        ) as cp:
            for row in line_rows:
                cp.write_row(row)
        for table in ("ecommerce_user", "ecommerce_product", "ecommerce_category", "ecommerce_order"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    raw.commit()
    from ecommerce.partitions import event_partitions_ensure

    event_partitions_ensure()  # the months ahead of today, as beat keeps them
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"events": written, "orders": orders, "order_lines": len(line_rows), "sessions_anonymous_pool": n_anonymous}


def timed(fn, repeat: int) -> float:
    fn()  # warm
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def dashboard_queries():
    """(panels on rollups before issue 16, panels moved by issue 16's first pass, the rest of the
    dashboard moved since). All three together are every panel the merchant's dashboard page
    loads (templates/analytics/dashboard.html) plus the other trend intervals: the TARGET."""
    from analytics import queries
    from analytics.queries import Filters
    from analytics.selectors import segment_list

    f = Filters(start=date(2025, 12, 2), end=date(2025, 12, 31))
    rollup_backed = {
        "kpis (30 d, with previous period)": lambda: queries.kpis(f),
        "trend revenue by day": lambda: queries.trends(f, metric="revenue", interval="day"),
        "trend product_view by day": lambda: queries.trends(f, metric="product_view", interval="day"),
        "trend visitors by week": lambda: queries.trends(f, metric="visitors", interval="week"),
        "trend customers by month (12 months)": lambda: queries.trends(
            Filters(start=date(2025, 1, 1), end=f.end), metric="customers", interval="month"
        ),
        "trend orders by hour": lambda: queries.trends(f, metric="orders", interval="hour"),
        "heat-map (all events)": lambda: queries.heatmap(f),
        "retention by month (purchase, 12 months)": lambda: queries.retention(
            Filters(start=date(2025, 1, 1), end=f.end), period="month"
        ),
    }
    moved = {
        "funnel (4 steps, 7 d window)": lambda: queries.funnel(
            f, steps=queries.DEFAULT_FUNNEL, window_seconds=7 * 86400
        ),
        "top products": lambda: queries.top(f, dimension="products"),
        "browsing-count distribution": lambda: queries.distributions(f, field="browsing_count"),
    }
    rest = {
        "top categories": lambda: queries.top(f, dimension="categories"),
        "top countries": lambda: queries.top(f, dimension="countries"),
        "top searches": lambda: queries.top(f, dimension="searches"),
        "zero-result searches": lambda: queries.top(f, dimension="zero_result_searches"),
        "abandoned carts": lambda: queries.top(f, dimension="abandoned_carts"),
        "age distribution": lambda: queries.distributions(f, field="age"),
        "gender distribution": lambda: queries.distributions(f, field="gender"),
        "rfm segments (default: all orders)": lambda: queries.rfm_summary(),
        "saved segments list": lambda: list(segment_list()),
    }
    return rollup_backed, moved, rest


def accuracy(connection) -> dict[str, tuple]:
    """The rollup answers against the raw computation at this size (sampling beyond the limit)."""
    from analytics import queries
    from analytics.queries import Filters

    f = Filters(start=date(2025, 12, 2), end=date(2025, 12, 31))
    fast = queries.funnel(f, steps=queries.DEFAULT_FUNNEL, window_seconds=7 * 86400)
    t0 = time.perf_counter()
    raw = queries.funnel(f, steps=queries.DEFAULT_FUNNEL, window_seconds=7 * 86400, force_raw=True)
    raw_s = time.perf_counter() - t0
    out = {
        "funnel entered (rollup, raw)": (fast["entered"], raw["entered"]),
        "funnel conversion (rollup, raw)": (fast["conversion_rate"], raw["conversion_rate"]),
        "funnel median s (rollup, raw)": (fast["median_seconds_to_convert"], raw["median_seconds_to_convert"]),
        "funnel sampled fraction": (fast.get("sampled_fraction"), 1),
        "raw funnel ms": (round(raw_s * 1000, 1), None),
    }
    fast_b = queries.browsing_distribution(f)
    t0 = time.perf_counter()
    raw_b = queries.browsing_distribution(f, force_raw=True)
    raw_b_s = time.perf_counter() - t0
    out["browsing visitors (rollup, raw)"] = (fast_b["visitors"], raw_b["visitors"])
    out["browsing mean (rollup, raw)"] = (fast_b["mean"], raw_b["mean"])
    out["browsing bucket shares (rollup, raw)"] = (
        [round(b["count"] / max(1, fast_b["visitors"]), 3) for b in fast_b["buckets"]],
        [round(b["count"] / max(1, raw_b["visitors"]), 3) for b in raw_b["buckets"]],
    )
    out["raw browsing ms"] = (round(raw_b_s * 1000, 1), None)
    for dimension in ("categories", "countries", "zero_result_searches"):
        same = queries.top(f, dimension=dimension) == queries.top(f, dimension=dimension, force_raw=True)
        out[f"top {dimension} identical to raw"] = (same, True)
    fast_s, raw_s_ = queries.top(f, dimension="searches"), queries.top(f, dimension="searches", force_raw=True)
    out["top searches: searches identical"] = (
        [(i["term"], i["searches"]) for i in fast_s["items"]] == [(i["term"], i["searches"]) for i in raw_s_["items"]],
        True,
    )
    out["top searches: searchers (rollup, raw)"] = (
        [i["searchers"] for i in fast_s["items"]],
        [i["searchers"] for i in raw_s_["items"]],
    )
    fast_a, raw_a = queries.distributions(f, field="age"), queries.distributions(f, field="age", force_raw=True)
    out["age buckets (rollup, exact)"] = (
        [b["count"] for b in fast_a["buckets"]],
        [b["count"] for b in raw_a["buckets"]],
    )
    out["age sampled fraction"] = (fast_a["sampled_fraction"], 1)
    out["rfm snapshot identical to raw"] = (queries.rfm_summary() == queries.rfm_summary(force_raw=True), True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[50_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep the generated data when its size matches")
    parser.add_argument("--generate-only", action="store_true", help="generate the first size and stop")
    parser.add_argument(
        "--keep-rollups", action="store_true", help="data and rollups of this size exist: only time the queries"
    )
    parser.add_argument("--no-accuracy", action="store_true", help="skip the rollup-vs-raw comparison")
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        metavar="SIZE=NAME",
        help="use database NAME (same server) for SIZE, so each size's data can be kept for --reuse "
        "(e.g. 200000=h_dash_200k); other sizes use DATABASE_URL's database",
    )
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("This benchmark needs PostgreSQL (COPY).")
    ensure_database(url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.DEBUG = False  # no query log
    call_command("migrate", verbosity=0)
    from analytics.rollups import rollups_refresh_pending

    results = {}
    from ecommerce.models import Event

    databases = {int(k): v for k, v in (item.split("=", 1) for item in args.database)}
    for size in args.sizes:
        use_database(connection, url, databases.get(size, url.rsplit("/", 1)[1]))
        kept = False
        if args.keep_rollups and Event.objects.count() == size:
            # Same data and rollups as the previous run: time the queries again only.
            counts, gen_s, kept = {"events": size, "reused": True, "rollups_kept": True}, 0.0, True
        elif args.reuse and Event.objects.count() == size:
            # Same data as a previous run (generation of 5M events takes long on a busy machine):
            # recompute the rollups from scratch and time again.
            # TRUNCATE, not DELETE: a refresh from scratch writes into empty tables, as a new shop's
            # first refresh does (rows of deleted runs would leave the new ones scattered).
            _truncate(connection, rollup_models())
            counts, gen_s = {"events": size, "reused": True}, 0.0
        else:
            reset(connection)
            t0 = time.perf_counter()
            counts = generate(connection, size)
            gen_s = time.perf_counter() - t0
            if args.generate_only:
                print(f"generated {counts} in {gen_s:.1f} s")
                return
        if kept:
            from analytics.models import DailyActor, DailyMetric, FunnelEntry, HourlyMetric

            rolled = {
                "daily": DailyMetric.objects.count(),
                "hourly": HourlyMetric.objects.count(),
                "actors": DailyActor.objects.count(),
                "funnel_entries": FunnelEntry.objects.count(),
            }
            roll_s = 0.0
        else:
            t0 = time.perf_counter()
            rolled = rollups_refresh_pending()
            roll_s = time.perf_counter() - t0
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does after a bulk insert; keeps plans honest
        rollup_backed, moved, rest = dashboard_queries()
        timings = {name: timed(fn, args.repeat) for name, fn in {**rollup_backed, **moved, **rest}.items()}
        results[size] = {
            "counts": counts,
            "generate_s": gen_s,
            "rollup_s": roll_s,
            "rolled": rolled,
            "timings": timings,
            "rollup_total": sum(timings[n] for n in rollup_backed),
            "issue_table_total": sum(timings[n] for n in {**rollup_backed, **moved}),
            "dashboard_total": sum(timings.values()),  # every panel: the target
        }
        print(
            f"\n== {size:,} events: generated in {gen_s:.1f} s {counts}; rollups in {roll_s:.1f} s "
            f"({rolled['daily']} daily, {rolled['hourly']} hourly, {rolled['actors']} actor-day rows, "
            f"{rolled['funnel_entries']} funnel entries); load average {os.getloadavg()[0]:.1f}"
        )
        for name, seconds in timings.items():
            note = (
                "   (moved: first pass)"
                if name in moved
                else "   (moved: rest of the dashboard)"
                if name in rest
                else ""
            )
            print(f"   {name:45s} {seconds * 1000:9.1f} ms{note}")
        print(f"   {'rollup-backed panels total':45s} {results[size]['rollup_total'] * 1000:9.1f} ms")
        print(f"   {'issue 16 table panels total':45s} {results[size]['issue_table_total'] * 1000:9.1f} ms")
        print(f"   {'whole dashboard (every panel) total':45s} {results[size]['dashboard_total'] * 1000:9.1f} ms")
        if not args.no_accuracy:
            for name, (fast, exact) in accuracy(connection).items():
                print(f"   accuracy: {name:40s} {fast} {'' if exact is None else exact}")
        sys.stdout.flush()
    if len(args.sizes) >= 2:
        lo, hi = min(args.sizes), max(args.sizes)
        small, big = results[lo], results[hi]
        print(f"\nratio {hi:,} / {lo:,} events:")
        for name in small["timings"]:
            print(f"   {name:45s} {big['timings'][name] / small['timings'][name]:6.2f}x")
        print(f"   {'rollup-backed panels total':45s} {big['rollup_total'] / small['rollup_total']:6.2f}x")
        print(f"   {'issue 16 table panels total':45s} {big['issue_table_total'] / small['issue_table_total']:6.2f}x")
        ratio = big["dashboard_total"] / small["dashboard_total"]
        print(
            f"   {'whole dashboard (every panel) total':45s} {ratio:6.2f}x"
            f"  (target <= 2x: {'met' if ratio <= 2 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
