"""Serving APIs in process: CPU µs per request through the WSGI handler, next to a bare Django view.

    DATABASE_URL=... CACHE_URL=... .venv/bin/python benchmarks/api_inprocess.py [--n 2000] [--repeat 5]

Uses a database benchmarks/storefront_load.py has prepared (demo shop, 200 live campaigns, the
`storefront_bench` shopper). Each target is called --n times in a loop over the WSGI handler
gunicorn serves (ecommerce/wsgi.py; --django-handler: Django's own) with production settings
(DEBUG off, the full middleware chain, throttles lifted as the load benchmark lifts them); the
best of --repeat loops is reported, as CPU time (process_time) and wall time per request. The
bare view is storefront_load.py's one-file app (SecurityMiddleware + CommonMiddleware), measured
in a child process the same way. No server, no sockets: this is the floor each request costs
before gunicorn's ~210 µs (docs/benchmarks/storefront.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.storefront_load import BARE_APP, SECRET  # noqa: E402


def _environ(path: str, cookie: str = "") -> dict:
    path_info, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if cookie:
        env["HTTP_COOKIE"] = cookie
    return env


def _loop(app, path: str, cookie: str, n: int, repeat: int) -> tuple[float, float, str]:
    status_seen = []

    def start_response(status, headers, exc_info=None):
        status_seen.append(status)

    def once() -> None:
        body = app(_environ(path, cookie), start_response)
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()

    for _ in range(min(n, 200)):  # warm: caches, snapshot, memo
        once()
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            once()
        best_cpu = min(best_cpu, (time.process_time() - c0) / n * 1e6)
        best_wall = min(best_wall, (time.perf_counter() - w0) / n * 1e6)
    return best_cpu, best_wall, status_seen[-1]


def bare(n: int, repeat: int) -> tuple[float, float, str]:
    namespace: dict = {"__name__": "bare_app"}
    sys.modules["bare_app"] = type(sys)("bare_app")
    exec(compile(BARE_APP, "bare_app", "exec"), sys.modules["bare_app"].__dict__)  # noqa: S102
    namespace = sys.modules["bare_app"].__dict__
    return _loop(namespace["application"], "/", "", n, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="run only targets whose label contains this")
    parser.add_argument(
        "--django-handler", action="store_true", help="Django's own WSGIHandler instead of the one gunicorn serves"
    )
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(bare(args.n, args.repeat)))
        return
    from benchmarks.storefront_load import env_for_project

    os.environ.update(env_for_project(dict(os.environ)))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import Client

    from ecommerce.handlers import ServingWSGIHandler
    from ecommerce.models import User

    # The handler ecommerce/wsgi.py gives gunicorn (or, to compare, Django's own).
    app = WSGIHandler() if args.django_handler else ServingWSGIHandler()
    client = Client()
    shopper = User.objects.get(username="storefront_bench")
    client.force_login(shopper, backend="ecommerce.auth_backends.CachedModelBackend")  # as a real login records
    session = client.cookies["sessionid"].value
    logged_in_at = time.monotonic()
    from advertising.models import Ad

    product = Ad.objects.filter(campaign__name__startswith="Storefront bench").order_by("pk").first().product_id
    signed_in = f"sessionid={session}; tracking_consent=yes"
    targets = [
        ("recommendations/me k=10 (signed in)", "/api/recommendations/me/?k=10", signed_in),
        ("recommendations/me k=10 (first visit)", "/api/recommendations/me/?k=10", ""),
        ("products/<id>/similar", f"/api/products/{product}/similar/", ""),
        ("products/<id>/bought-together", f"/api/products/{product}/bought-together/", ""),
        ("ads/serve slot=product", f"/api/ads/serve/?slot=product&product_id={product}", ""),
    ]
    out = subprocess.run(
        [sys.executable, __file__, "--bare", "--n", str(args.n), "--repeat", str(args.repeat)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SECRET_KEY": SECRET},
    )
    bare_cpu, bare_wall, _ = json.loads(out.stdout)
    # The login saved last_login, which leaves a tombstone on the cached user row for
    # TOMBSTONE_SECONDS (ecommerce/auth_backends.py): wait it out, as a real shopper's later requests do.
    from ecommerce.auth_backends import TOMBSTONE_SECONDS

    time.sleep(max(0.0, TOMBSTONE_SECONDS + 1 - (time.monotonic() - logged_in_at)))
    print(f"load average {os.getloadavg()[0]:.1f}; best of {args.repeat} x {args.n} requests")
    print("| target | status | CPU µs | wall µs | CPU vs bare |\n|---|---|---|---|---|")
    print(f"| bare Django JSON view | 200 OK | {bare_cpu:.0f} | {bare_wall:.0f} | 1 |")
    for label, path, cookie in targets:
        if args.only and args.only not in label:
            continue
        cpu, wall, status = _loop(app, path, cookie, args.n, args.repeat)
        print(f"| {label} | {status} | {cpu:.0f} | {wall:.0f} | {cpu / bare_cpu:.1f}× |")


if __name__ == "__main__":
    main()
