"""Throughput and latency of the recommendations API against a bare Django JSON view, both
served by the same gunicorn (2 sync workers), with keep-alive HTTP clients in threads.

    # production-like: PostgreSQL, the Redis cache, DEBUG off (no HTTPS redirect on loopback)
    DJANGO_DEBUG=0 DJANGO_ALLOWED_HOSTS=127.0.0.1 DJANGO_SECURE_SSL_REDIRECT=0 \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_recs CACHE_URL=redis://127.0.0.1:6379/12 \
        .venv/bin/python benchmarks/recommendations_api.py [--seconds 15] [--concurrency 4]

    # the embedded default's database, with or without CACHE_URL
    DATABASE_URL=sqlite:////tmp/recommendations.sqlite3 [CACHE_URL=redis://127.0.0.1:6379/13] \
        .venv/bin/python benchmarks/recommendations_api.py

The database must hold a trained catalogue (import_dataset online_retail + train_models). More than
one gunicorn worker needs a shared cache (CACHE_URL) to be a supported setup: with the per-process
LocMem cache, sessions and user rows are read from the database on every request.
Throttling stays on but with a per-second window far above the load (THROTTLE_RECOMMENDATIONS=
1000000/s): DRF keeps every request time of the window in the cache, so a per-minute window at
this rate would measure the pickling of that history instead of the endpoint. Figures go to
docs/benchmarks/recommendations.md; the 2-core box is shared,
so they are noisy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _session_cookie_for_a_customer() -> tuple[str, int, int]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")
    # One key for this process and the gunicorn workers, or their session hashes disagree.
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + os.urandom(32).hex())
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from recommendations.models import SimilarProduct, UserRecommendation

    row = UserRecommendation.objects.order_by("user_id").first()
    if row is None:
        sys.exit("No precomputed recommendations: run import_dataset and train_models first.")
    client = Client()
    client.force_login(row.user)
    product_id = SimilarProduct.objects.order_by("product_id").values_list("product_id", flat=True).first()
    return client.cookies[settings.SESSION_COOKIE_NAME].value, row.user_id, product_id


def _worker(port: int, path: str, cookie: str, stop: float, latencies: list[float], errors: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
    while time.perf_counter() < stop:
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
        except (OSError, http.client.HTTPException):
            errors.append(0)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append(time.perf_counter() - started)
    conn.close()


def measure(port: int, path: str, cookie: str, seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    # warm-up: caches, first query plans
    _worker(port, path, cookie, time.perf_counter() + 1.0, [], [])
    stop = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_worker, args=(port, path, cookie, stop, latencies, errors)) for _ in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1),
        "errors": len(errors),
        "p50_ms": round(p(0.50), 1),
        "p99_ms": round(p(0.99), 1),
        "mean_ms": round(statistics.mean(latencies) * 1000, 1) if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8103)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--session-engine", default="", help="experiment: e.g. django.contrib.sessions.backends.cached_db"
    )
    args = parser.parse_args()
    cookie, user_id, product_id = _session_cookie_for_a_customer()
    # DEBUG stays as configured (the embedded default is on; production settings need PostgreSQL
    # and HTTPS, which this local harness does not have); both views pay the same overhead.
    env = {**os.environ, "THROTTLE_RECOMMENDATIONS": "1000000/s"}
    if args.session_engine:
        env["RECS_BENCH_SESSION_ENGINE"] = args.session_engine
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--pythonpath",
            f"{ROOT},{ROOT / 'benchmarks'}",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
            "recommendations_bench_wsgi:application",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                c.request("GET", "/bench/bare/")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        results = {}
        cases = {
            "bare_json_view": ("/bench/bare/", ""),
            "bare_json_view_logged_in": ("/bench/bare-user/", cookie),
            "recommendations_me_logged_in": ("/api/recommendations/me/?k=10", cookie),
            "recommendations_me_anonymous": ("/api/recommendations/me/?k=10", ""),
            "products_bought_together": (f"/api/products/{product_id}/bought-together/?k=10", ""),
            "products_similar": (f"/api/products/{product_id}/similar/?k=10", ""),
        }
        for name, (path, cookie_value) in cases.items():
            results[name] = measure(args.port, path, cookie_value, args.seconds, args.concurrency)
            print(name, results[name], flush=True)
        bare = results["bare_json_view"]
        bare_user = results["bare_json_view_logged_in"]
        for name, r in results.items():
            if name.startswith("bare_json_view"):
                continue
            r["throughput_vs_bare"] = round(r["rps"] / bare["rps"], 3) if bare["rps"] else None
            r["p99_vs_bare"] = round(r["p99_ms"] / bare["p99_ms"], 2) if bare["p99_ms"] else None
            if "logged_in" in name:
                r["throughput_vs_bare_logged_in"] = round(r["rps"] / bare_user["rps"], 3) if bare_user["rps"] else None
                r["p99_vs_bare_logged_in"] = (
                    round(r["p99_ms"] / bare_user["p99_ms"], 2) if bare_user["p99_ms"] else None
                )
        print(
            json.dumps(
                {
                    "session_engine": args.session_engine or "settings default",
                    "concurrency": args.concurrency,
                    "seconds": args.seconds,
                    "workers": args.workers,
                    "user_id": user_id,
                    "product_id": product_id,
                    "results": results,
                },
                indent=2,
            )
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
