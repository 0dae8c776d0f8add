"""Storefront under load: pages, recommendation APIs and the ad endpoint next to a bare Django JSON view.

    .venv/bin/python benchmarks/storefront_load.py [--duration 15] [--out docs/benchmarks/storefront-run.md]

One command from a fresh checkout with PostgreSQL and Redis running (defaults: the local server's
`storefront_bench` database, Redis DB 4 for the cache and 5 for the broker; override with
DATABASE_URL / CACHE_URL). It
1. creates the database if missing, migrates, loads the demo shop (`seed_demo`) and trains the
   models once (a database that already has products and a serving model is reused as it is), and
   tops the live campaigns up to 200 (bench campaigns, untargeted and targeted, like
   benchmarks/advertising_serving.py);
2. makes a signed-in shopper (with tracking consent and recent views, a cart and orders);
3. starts gunicorn (2 sync workers) with production settings (DEBUG off, PostgreSQL, Redis cache
   and sessions) and, beside it, a bare Django JSON view served the same way;
4. loads each target for --duration seconds with --conns connections (wrk when installed, else a
   Python generator), first the bare view, then every target, and prints req/s, p50, p99 and the
   ratios to the bare view with the issue's goal for each row.

First-visit rows send no cookie at all (a new visitor or a crawler); signed-in rows send the
shopper's session cookie. Throttles are lifted for the run (every request still pays for the
counter). Exit status 0 when every run was clean (< 1% errors / non-2xx).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECRET = "storefront-load-benchmark-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105

# The goals: (min share of the bare view's req/s, max multiple of its p99).
GOALS = {"page": (0.20, 5.0), "recs": (0.50, 3.0), "ads": (0.50, 3.0)}

BARE_APP = """
from django.conf import settings
settings.configure(DEBUG=False, SECRET_KEY="bare-view-not-a-secret-0123456789abcdefghijklmnopqrstuv",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"], ROOT_URLCONF=__name__, INSTALLED_APPS=[], DATABASES={},
    MIDDLEWARE=["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"],
    USE_TZ=True)
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path
def ok(request):
    return JsonResponse({"ok": True})
urlpatterns = [path("", ok)]
application = get_wsgi_application()
"""

SETUP = r"""
import json, os
from decimal import Decimal
from django.utils import timezone
from django.test import Client
from ecommerce.models import Category, Product, User, Cart, CartItem
from advertising.models import Ad, Advertiser, Campaign
products = list(Product.objects.sellable().filter(stock__gt=5).order_by("pk")[:40])
live = Campaign.objects.filter(status=Campaign.Status.ACTIVE).count()
if live < 200:
    advertiser, _ = Advertiser.objects.get_or_create(name="Storefront bench")
    for i in range(200 - live):
        targeting = [{}, {"min_age": 18, "max_age": 65}, {"cap_per_session": 1000},
                     {"countries": ["United Kingdom", "France"]}][i % 4]
        campaign = Campaign.objects.create(
            advertiser=advertiser, name=f"Storefront bench {i}", status=Campaign.Status.ACTIVE,
            starts_at=timezone.now() - timezone.timedelta(days=1), daily_budget=Decimal("1000000"),
            total_budget=Decimal("10000000"), bid_type="cpm" if i % 5 == 0 else "cpc",
            bid=Decimal("0.10") + Decimal(i % 90) / 100, **targeting)
        p = products[i % len(products)]
        Ad.objects.create(campaign=campaign, headline=p.title[:80], product=p, landing_url=p.get_absolute_url())
user, created = User.objects.get_or_create(username="storefront_bench", defaults={"email": "bench@example.com",
                                           "country": "United Kingdom", "birth_year": 1985})
cart, _ = Cart.objects.get_or_create(user=user)
if not cart.items.exists():
    for p in products[:3]:
        CartItem.objects.create(cart=cart, product=p, quantity=1)
chat_sessions = []
for i in range(8):
    chatter, _ = User.objects.get_or_create(
        username=f"storefront_bench_chat{i}", defaults={"email": f"chat{i}@example.com"})
    chat_client = Client()
    # The backend a real login records (storefront LoginView): its user lookup is served from the cache.
    chat_client.force_login(chatter, backend="ecommerce.auth_backends.CachedModelBackend")
    chat_sessions.append(chat_client.cookies["sessionid"].value)
client = Client()
client.force_login(user, backend="ecommerce.auth_backends.CachedModelBackend")  # as a real login records
category = Category.objects.filter(parent__isnull=True, products__isnull=False).order_by("name").first()
print(json.dumps({
    "session": client.cookies["sessionid"].value,
    "chat_sessions": chat_sessions,
    "product": products[0].pk,
    "category": category.slug if category else "",
    "recent": ".".join(str(p.pk) for p in products[5:8]),
    "live_campaigns": Campaign.objects.filter(status=Campaign.Status.ACTIVE).count(),
}))
"""

LOADGEN = r"""
import http.client, json, math, multiprocessing as mp, sys, threading, time, urllib.parse
def proc(url, nthreads, duration, header, q):
    u = urllib.parse.urlsplit(url)
    target = (u.path or "/") + ("?" + u.query if u.query else "")
    headers = {"Connection": "keep-alive"}
    if header:
        k, _, v = header.partition(":")
        headers[k.strip()] = v.strip()
    lock, out = threading.Lock(), {"lat": [], "errors": 0, "non2xx": 0}
    t_end = time.monotonic() + duration
    def run():
        conn, lat, err, bad = None, [], 0, 0
        while time.monotonic() < t_end:
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
                conn.request("GET", target, headers=headers)
                r = conn.getresponse(); r.read()
                lat.append(time.perf_counter() - t0)
                bad += not 200 <= r.status < 400
                if r.will_close:
                    conn.close(); conn = None
            except Exception:
                err += 1; conn = None; time.sleep(0.01)
        with lock:
            out["lat"].extend(lat); out["errors"] += err; out["non2xx"] += bad
    ts = [threading.Thread(target=run) for _ in range(nthreads)]
    [t.start() for t in ts]; [t.join(duration + 30) for t in ts]
    q.put(out)
url, conns, duration, procs, header = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
q = mp.Queue()
shares = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
t0 = time.monotonic()
ps = [mp.Process(target=proc, args=(url, s, duration, header, q)) for s in shares]
[p.start() for p in ps]
outs = [q.get(timeout=duration + 60) for _ in ps]
elapsed = time.monotonic() - t0
lat = sorted(x for o in outs for x in o["lat"])
pct = lambda p: lat[max(0, math.ceil(p * len(lat)) - 1)] * 1000 if lat else float("nan")
print(json.dumps({"requests": len(lat), "rps": len(lat) / min(elapsed, duration + 1), "p50_ms": pct(0.5),
    "p99_ms": pct(0.99), "errors": sum(o["errors"] for o in outs), "non2xx": sum(o["non2xx"] for o in outs)}))
"""


def parse_wrk(text: str) -> dict:
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}

    def lat(p: int) -> float:
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(m.group(1)) * unit[m.group(2)] if m else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    req = re.search(r"(\d+) requests in", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "requests": int(req.group(1)) if req else 0,
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": lat(50),
        "p99_ms": lat(99),
        "errors": sum(map(int, sock.groups())) if sock else 0,
        "non2xx": int(bad.group(1)) if bad else 0,
    }


def env_for_project(base: dict) -> dict:
    env = dict(base)
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/storefront_bench")
    env.setdefault("CACHE_URL", "redis://127.0.0.1:6379/4")
    env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/5")
    env.setdefault("CELERY_RESULT_BACKEND", env["CELERY_BROKER_URL"])
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ecommerce.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SECRET,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_LOG_LEVEL": "WARNING",
            # DEBUG off serves hashed static files from a manifest: collected once per checkout.
            "DJANGO_STATIC_ROOT": str(ROOT / "var" / "storefront-bench-static"),
        }
    )
    for scope in ("EVENTS", "CATALOG", "ORDERS", "RECOMMENDATIONS", "CHAT", "ADS", "PRIVACY"):
        env[f"THROTTLE_{scope}"] = "100000000/min"
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(var, None)
    return env


def manage(env: dict, *args: str, quiet: bool = True) -> str:
    out = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=3600
    )
    if out.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return out.stdout


def ensure_database(env: dict) -> None:
    import psycopg

    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def vacuum_chat_tables(env: dict) -> str:
    """VACUUM (ANALYZE) the chat's tables before the chat run; returns the server's autovacuum setting.

    Every run sends thousands of replies into the same 8 conversations, and each reply updates its
    conversation row (a new row version and an entry in each of its indexes). In production
    autovacuum clears those between runs; a server with autovacuum off (the shared test server's
    is) piles them up from run to run, and each run then reads and writes through more dead
    versions than the last: 50,000 after a few runs on 2026-12-01."""
    import psycopg

    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        setting = conn.execute("SHOW autovacuum").fetchone()[0]
        conn.execute("VACUUM (ANALYZE) support_conversation, support_message")
    return setting


def prepare(env: dict) -> dict:
    ensure_database(env)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "collectstatic", "--no-input", "-v", "0")
    probe = manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        "from ecommerce.models import Product, ModelVersion;"
        "print(Product.objects.count(), ModelVersion.objects.filter(status='active').count())",
    ).split()
    products, active_models = int(probe[-2]), int(probe[-1])
    if products == 0:
        print("loading the demo shop (seed_demo), once per database...")
        manage(env, "seed_demo")
    if active_models == 0:
        print("training the models (train_models), once per database...")
        manage(env, "train_models")
    out = manage(env, "shell", "-v", "0", "-c", SETUP)
    return json.loads(out.strip().splitlines()[-1])


def wait_up(url: str, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=3)  # noqa: S310 - loopback URL built here
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"nothing answered at {url}; last lines of {log}:\n" + log.read_text()[-3000:])


def start(cmd: list[str], env: dict, log: Path, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own gunicorn
        cmd, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def measure(url: str, header: str, args: argparse.Namespace, tool: str, work: Path) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for _ in range(20):  # warm-up: caches, lazily loaded models
        request = urllib.request.Request(url)  # noqa: S310 - a loopback http:// URL built here
        if header:
            key, _, value = header.partition(":")
            request.add_header(key.strip(), value.strip())
        with contextlib.suppress(OSError):
            opener.open(request, timeout=10).read()
    if tool == "wrk":
        cmd = ["wrk", "-t", "2", "-c", str(args.conns), "--latency", "--timeout", "10s"]
        if header:
            cmd += ["-H", header]
        # Untimed warm-up under the same load: whichever target came first right after the bare
        # view measured at ~half its rate (0.34× vs 0.70× for the same similar-products URL placed
        # third, 2026-11-30), a start-up effect of the workers, not of the endpoint.
        subprocess.run([*cmd, "-d", "3s", url], capture_output=True, text=True, timeout=60, check=False)
        cmd += ["-d", f"{args.duration}s"]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=args.duration + 60, check=False)
        return parse_wrk(out.stdout)
    script = work / "loadgen.py"
    script.write_text(LOADGEN)
    out = subprocess.run(
        [PY, str(script), url, str(args.conns), str(args.duration), "2", header],
        capture_output=True,
        text=True,
        timeout=args.duration + 120,
        check=False,
    )
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"requests": 0, "rps": 0.0, "p50_ms": math.nan, "p99_ms": math.nan, "errors": -1, "non2xx": 0}


CHAT_TEXTS = [
    "where is my order?",
    "what payment methods do you take",
    "我的订单到哪了",
    "hello",
    "how do returns work",
]


def chat_load(port: int, sessions: list[str], duration: int) -> dict:
    """len(sessions) shoppers chatting at once, each with its own conversation: reply latency."""
    import http.client
    import threading

    csrf = "benchcsrfsecret0123456789abcdefg"  # a 32-character CSRF secret: cookie and header agree
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    ready = threading.Barrier(len(sessions))

    def chat(session: str) -> None:
        headers = {
            "Cookie": f"sessionid={session}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Content-Type": "application/json",
        }
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/support/conversations/", body="{}", headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            with lock:
                errors[0] += 1
            ready.abort()
            return
        url = f"/api/support/conversations/{json.loads(body)['id']}/messages/"
        for text in CHAT_TEXTS:  # warm-up, not timed: each worker loads the intent model once
            conn.request("POST", url, body=json.dumps({"text": text}), headers=headers)
            conn.getresponse().read()
        try:
            ready.wait(120)
        except threading.BrokenBarrierError:  # another shopper could not start: no fair run
            return
        mine, i = [], 0
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            text = json.dumps({"text": CHAT_TEXTS[i % len(CHAT_TEXTS)]})
            i += 1
            started = time.perf_counter()
            conn.request("POST", url, body=text, headers=headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 201:
                with lock:
                    errors[0] += 1
                continue
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=chat, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 180)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[max(0, math.ceil(p * len(latencies)) - 1)] if latencies else math.nan

    return {"replies": len(latencies), "p50_ms": pct(0.5), "p95_ms": pct(0.95), "errors": errors[0]}


def targets(info: dict) -> list[tuple[str, str, str, str]]:
    """(label, path, kind, who) for every measured target."""
    product, slug = info["product"], info["category"]
    pages = [
        ("home", "/"),
        ("category", f"/c/{slug}/"),
        ("search", "/search/?q=bag"),
        ("product", f"/products/{product}/"),
        ("cart", "/cart/"),
    ]
    rows = [(f"{name} (first visit)", path, "page", "first") for name, path in pages]
    rows += [(f"{name} (signed in)", path, "page", "signed") for name, path in pages]
    rows += [
        ("recommendations/me k=10 (signed in)", "/api/recommendations/me/?k=10", "recs", "signed"),
        ("recommendations/me k=10 (first visit)", "/api/recommendations/me/?k=10", "recs", "first"),
        ("products/<id>/similar", f"/api/products/{product}/similar/", "recs", "first"),
        ("products/<id>/bought-together", f"/api/products/{product}/bought-together/", "recs", "first"),
        ("ads/serve slot=product", f"/api/ads/serve/?slot=product&product_id={product}", "ads", "first"),
    ]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per target (default 15)")
    parser.add_argument("--conns", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--out", type=Path, help="also write the table (Markdown) and raw rows (JSON, .json beside)")
    parser.add_argument("--only", default="", help="only targets whose label contains this text")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--port", type=int, default=8112, help="project port; the bare view uses port+1")
    parser.add_argument("--no-chat", action="store_true", help="skip the 8 concurrent chats run")
    parser.add_argument("--chat-only", action="store_true", help="only the 8 concurrent chats run (no wrk targets)")
    parser.add_argument(
        "--bare-each",
        action="store_true",
        help="measure the bare view again right before every target and take each ratio against that "
        "neighbour (twice the time; on a box whose speed drifts, ratios swing less)",
    )
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    gunicorn = str(Path(PY).with_name("gunicorn"))
    if not Path(gunicorn).exists():
        sys.exit(f"no gunicorn beside {PY}")

    env = env_for_project(os.environ)
    print(f"database {env['DATABASE_URL']}, cache {env['CACHE_URL']}")
    info = prepare(env)
    print(f"live campaigns: {info['live_campaigns']}; product {info['product']}, category {info['category']}")
    session_header = f"Cookie: sessionid={info['session']}; tracking_consent=yes; recent_views={info['recent']}"

    work = Path(tempfile.mkdtemp(prefix="storefront-load-"))
    (work / "bareapp.py").write_text(BARE_APP)
    project_log, bare_log = work / "project.log", work / "bare.log"
    bare_port = args.port + 1
    bind = ["-w", str(args.workers), "--log-level", "warning"]
    project = start(
        [gunicorn, "ecommerce.wsgi:application", "-b", f"127.0.0.1:{args.port}", *bind], env, project_log, ROOT
    )
    bare = start([gunicorn, "bareapp:application", "-b", f"127.0.0.1:{bare_port}", *bind], env, bare_log, work)
    rows = []
    chat = None
    try:
        wait_up(f"http://127.0.0.1:{args.port}/healthz", 90, project_log)
        wait_up(f"http://127.0.0.1:{bare_port}/", 60, bare_log)
        print(
            f"load: {tool}, {args.conns} connections, {args.duration} s per target, gunicorn -w {args.workers} (sync)"
        )
        bare_m = measure(f"http://127.0.0.1:{bare_port}/", "", args, tool, work)
        rows.append({"label": "bare Django JSON view", "kind": "bare", "m": bare_m})
        print(f"  bare view: {bare_m['rps']:.0f} req/s, p99 {bare_m['p99_ms']:.1f} ms", flush=True)
        for label, path, kind, who in targets(info):
            if args.chat_only or (args.only and args.only not in label):
                continue
            reference = None
            if args.bare_each:
                reference = measure(f"http://127.0.0.1:{bare_port}/", "", args, tool, work)
            m = measure(
                f"http://127.0.0.1:{args.port}{path}", session_header if who == "signed" else "", args, tool, work
            )
            rows.append({"label": label, "path": path, "kind": kind, "m": m, "bare": reference})
            print(f"  {label}: {m['rps']:.0f} req/s, p99 {m['p99_ms']:.1f} ms", flush=True)
        if args.chat_only or (not args.no_chat and not args.only):
            print(f"  vacuumed the chat tables (server autovacuum: {vacuum_chat_tables(env)})", flush=True)
            chat = chat_load(args.port, info["chat_sessions"], args.duration)
            print(f"  chat, {len(info['chat_sessions'])} concurrent shoppers: {chat}", flush=True)
    finally:
        stop(project)
        stop(bare)
    table = render(rows, args, tool)
    if chat is not None:
        table += (
            f"\n\nChat: {len(info['chat_sessions'])} shoppers chatting at once (each its own conversation, "
            f"{args.duration} s): {chat['replies']} bot replies, p50 {chat['p50_ms']:.1f} ms, "
            f"p95 {chat['p95_ms']:.1f} ms (goal p95 ≤ 50 ms: {'met' if chat['p95_ms'] <= 50 else '**not met**'}), "
            f"{chat['errors']} errors."
        )
    print()
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    clean = all(
        r["m"]["requests"] > 0 and 0 <= r["m"]["errors"] + r["m"]["non2xx"] <= 0.01 * r["m"]["requests"] for r in rows
    )
    return 0 if clean else 1


def render(rows: list[dict], args: argparse.Namespace, tool: str) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when}: {tool}, {args.conns} connections, {args.duration} s per target, "
        f"gunicorn -w {args.workers} sync, DEBUG off, PostgreSQL + Redis, {os.cpu_count()} cores.",
        "",
        "| target | req/s | p50 ms | p99 ms | req/s vs bare | p99 vs bare | goal | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    if args.bare_each:
        lines[0] += " Each ratio against the bare view measured just before that target (req/s, p99 in brackets)."
    for row in rows:
        m = row["m"]
        bare = row.get("bare") or rows[0]["m"]
        tput = m["rps"] / bare["rps"] if bare["rps"] else math.nan
        p99 = m["p99_ms"] / bare["p99_ms"] if bare["p99_ms"] else math.nan
        goal, met = "", ""
        if row["kind"] in GOALS:
            min_t, max_p = GOALS[row["kind"]]
            goal = f"≥ {min_t:.2f}×, p99 ≤ {max_p:g}×"
            met = "yes" if tput >= min_t and p99 <= max_p else "**no**"
        bad = m["errors"] + m["non2xx"]
        note = f" ({bad} errors/non-2xx)" if bad else ""
        if row.get("bare"):
            note += f" [bare {bare['rps']:,.0f}, {bare['p99_ms']:.1f} ms]"
        lines.append(
            f"| {row['label']}{note} | {m['rps']:,.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | "
            f"{tput:.2f}× | {p99:.1f}× | {goal} | {met} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
