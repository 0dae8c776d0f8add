"""Fault tests: the site keeps serving while Redis (cache and broker) stops answering (issue 11).

Real parts only: the test starts its own redis-server on a free port, a gunicorn server (the
production WSGI stack, settings read from the environment at import as in production) whose
CACHE_URL and CELERY_BROKER_URL point at that Redis, and drives it over HTTP. The server uses the
test database: on PostgreSQL the test database itself (data committed by `transactional_db`),
on SQLite a file copy of the in-memory test database.

Two outages, as in production:
- blackholed: redis-server is SIGSTOPped; connections open but nothing answers (socket timeouts);
- refused: redis-server is killed; connects fail at once.
Every page, every API and the health endpoints must answer without a 500 (JSON APIs: 2xx/4xx or a
JSON 503 with Retry-After), quickly, and a signed-in shopper stays signed in throughout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from ecommerce.models import ModelVersion
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, StaffFactory, UserFactory

REDIS_SERVER = "/usr/bin/redis-server"
PASSWORD = "correct-horse-battery"
# A request may pay one cache socket timeout (0.5 s) and one broker publish timeout (1 s) before
# the breakers open; anything near this bound means something waits for a dead Redis.
MAX_SECONDS = 3.0

# Under /api/ but a page for people (Swagger UI): checked as a page.
HTML_UNDER_API = {"api/docs/"}

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up within {seconds} s")


def _redis_up(port: int) -> subprocess.Popen:
    # No skip: CI must have redis-server; a missing binary fails the test here.
    assert Path(REDIS_SERVER).exists() or shutil.which("redis-server"), "redis-server is required"
    binary = REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("redis-server did not start")


def _database_url(tmp_path: Path) -> tuple[str, Path | None]:
    """A URL the server process can use for this test's database."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}", None
    assert connection.vendor == "sqlite"
    path = tmp_path / "server.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)  # the in-memory test database, committed rows included
    target.close()
    return f"sqlite:///{path}", path


def server_env(tmp_path: Path, database_url: str, redis_port: int, **extra: str) -> dict[str, str]:
    """The environment of a test's own gunicorn: production settings read at import, this test's
    database, its own Redis as cache and broker, and `extra` on top."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecommerce.settings",
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": "server-test-" + "x" * 50,
        "DATABASE_URL": database_url,
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/1",
        "CELERY_RESULT_BACKEND": "",
        "ML_ARTIFACT_ROOT": str(tmp_path / "models"),
        **extra,
    }
    env.pop("REDIS_URL", None)
    return env


def _count(sql: str, sqlite_path: Path | None) -> int:
    if sqlite_path is None:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]
    with sqlite3.connect(sqlite_path) as con:
        return con.execute(sql).fetchone()[0]


def _api_urls(ids: dict[str, object]) -> list[str]:
    """Every URL under /api/, with path parameters filled from `ids` (1 when unknown: a 404 is fine)."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/") and route not in HTML_UNDER_API:
                found.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), 1)), route))

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


class Site:
    """A signed-in browser session against the gunicorn server, recording timings."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.timings: list[tuple[str, float]] = []

    def csrf(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        headers = kwargs.pop("headers", {})
        if method != "GET":
            headers.setdefault("X-CSRFToken", self.csrf())
            headers.setdefault("Referer", self.base + "/")
        started = time.monotonic()
        response = self.http.request(method, self.base + path, headers=headers, **kwargs)
        self.timings.append((f"{method} {path}", time.monotonic() - started))
        return response

    def login(self, username: str) -> None:
        self.request("GET", "/accounts/login/")
        response = self.request(
            "POST",
            "/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": self.csrf()},
        )
        assert response.status_code == 302, response.text[:500]


def _assert_page(site: Site, method: str, path: str, **kwargs) -> requests.Response:
    response = site.request(method, path, **kwargs)
    assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:300]}"
    return response


def _assert_api(site: Site, method: str, path: str, **kwargs) -> requests.Response:
    response = site.request(method, path, headers={"Accept": "application/json"}, **kwargs)
    status = response.status_code
    assert status < 500 or status == 503, f"{method} {path}: {status} {response.text[:300]}"
    if status == 503:
        assert response.headers.get("Retry-After"), f"{path}: 503 without Retry-After"
    if status != 204 and not (300 <= status < 400):
        assert response.headers.get("Content-Type", "").startswith("application/json"), (
            f"{method} {path}: {status} answered {response.headers.get('Content-Type')}"
        )
        json.loads(response.content)
    return response


def _signed_in(site: Site, username: str) -> bool:
    response = site.request("GET", "/account/")
    return response.status_code == 200 and username in response.text


def _exercise(shopper: Site, staff: Site, seeded: dict, outage: str) -> None:
    product, category, order = seeded["product"], seeded["category"], seeded["order"]
    for path in [
        "/",
        f"/c/{category.slug}/",
        "/search/?q=gift",
        f"/products/{product.pk}/",
        "/cart/",
        "/account/",
        "/account/orders/",
        f"/account/orders/{order.number}/",
        "/support/chat/",
        "/accounts/login/",
        "/accounts/register/",
        *(f"/{path}" for path in HTML_UNDER_API),
    ]:
        _assert_page(shopper, "GET", path)
    # Writes: add to the cart, check out, chat.
    response = _assert_page(
        shopper,
        "POST",
        "/cart/update/",
        data={"product_id": product.pk, "quantity": 1, "action": "add", "csrfmiddlewaretoken": shopper.csrf()},
    )
    assert response.status_code == 302
    _assert_page(shopper, "GET", "/checkout/")
    response = _assert_page(
        shopper,
        "POST",
        "/checkout/",
        data={
            "shipping_name": "A Shopper",
            "email": "a@example.com",
            "shipping_address": "1 High St",
            "country": "United Kingdom",
            "csrfmiddlewaretoken": shopper.csrf(),
        },
    )
    assert response.status_code == 302 and "/checkout/done/" in response.headers["Location"], outage
    conversation = _assert_api(shopper, "POST", "/api/support/conversations/", json={})
    if conversation.status_code in (200, 201):
        conversation_id = conversation.json()["id"]
        _assert_api(
            shopper,
            "POST",
            f"/api/support/conversations/{conversation_id}/messages/",
            json={"text": "where is my order?"},
        )
    _assert_api(shopper, "POST", "/api/events/", json={"events": []})
    # Every API, as the shopper and as staff.
    for path in _api_urls(seeded["ids"]):
        _assert_api(shopper, "GET", path)
        _assert_api(staff, "GET", path)
    # Admin: pages and an action that enqueues a Celery task (broker down: kept in the outbox).
    for path in ["/admin/", "/admin/ecommerce/order/", "/admin/recommendations/recommenderversion/"]:
        _assert_page(staff, "GET", path)
    staff.request("GET", "/admin/recommendations/recommenderversion/")
    response = _assert_page(
        staff,
        "POST",
        "/admin/recommendations/recommenderversion/",
        data={
            "action": "retrain_now",
            "_selected_action": seeded["model_version"].pk,
            "csrfmiddlewaretoken": staff.csrf(),
        },
    )
    assert response.status_code == 302, outage
    # Health: the process is up; ready (the database is up) but the cache is reported down.
    assert _assert_api(shopper, "GET", "/healthz").json() == {"status": "ok"}


def _during(site: Site, action) -> list[tuple[str, int]]:
    """Requests keep coming (another connection, same signed-in session) while `action` runs,
    so the outage starts in the middle of requests, not between them."""
    http = requests.Session()
    http.cookies.update(site.http.cookies)
    answers: list[tuple[str, int]] = []
    stop = threading.Event()

    def load() -> None:
        paths = ["/", "/api/recommendations/me/", "/account/", "/api/products/"]
        i = 0
        while not stop.is_set():
            path = paths[i % len(paths)]
            answers.append((path, http.get(site.base + path, timeout=30, allow_redirects=False).status_code))
            i += 1

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(0.5)
    action()
    time.sleep(1.5)
    stop.set()
    worker.join(timeout=60)
    return answers


def _assert_fast_and_report(outage: str, timings: list[tuple[str, float]]) -> None:
    seconds = sorted(t for _, t in timings)
    slowest = max(timings, key=lambda item: item[1])
    # Printed for BENCHMARKS.md ("Redis outage (issue 11)"); run with -s to see it.
    report = (
        f"\n{outage}: {len(seconds)} requests, first {timings[0][1] * 1000:.0f} ms ({timings[0][0]}), "
        f"median {seconds[len(seconds) // 2] * 1000:.0f} ms, slowest {slowest[1] * 1000:.0f} ms ({slowest[0]})"
    )
    print(report)  # noqa: T201 - the figures BENCHMARKS.md quotes
    assert slowest[1] < MAX_SECONDS, slowest


def test_site_serves_through_a_redis_outage(tmp_path):
    # given: a shop, a shopper and a merchant, Redis, and gunicorn using both
    shopper_user = UserFactory(username="outage-shopper")
    staff_user = StaffFactory(username="outage-staff")
    product = ProductFactory()
    order = OrderFactory(user=shopper_user)
    OrderItemFactory(order=order, product=product)
    # The server runs the production hashers (tests use MD5): store a hash it can check.
    for account in (shopper_user, staff_user):
        account.password = PBKDF2PasswordHasher().encode(PASSWORD, "outagesalt", iterations=1000)
        account.save(update_fields=["password"])
    model_version = ModelVersion.objects.create(name="recommendations.item_knn", version=1, status="trained")
    seeded = {
        "product": product,
        "category": product.category,
        "order": order,
        "model_version": model_version,
        "ids": {"product_id": product.pk, "user_id": shopper_user.pk, "number": order.number},
    }
    redis_port, web_port = _free_port(), _free_port()
    redis_proc = _redis_up(redis_port)
    database_url, sqlite_path = _database_url(tmp_path)
    env = server_env(tmp_path, database_url, redis_port, DJANGO_CONN_MAX_AGE="0")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ecommerce.wsgi:application",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "1",
            "--threads",
            "2",
            "--timeout",
            "60",
            # Longer than any pause between this test's requests (the longest is 5.5 s): with
            # gunicorn's default 2 s, a request sent on a pooled connection just as the server
            # closed it for idleness failed with RemoteDisconnected (once in CI, once in 8 local
            # runs, after the ~2 s of _during), a keep-alive race that says nothing about Redis.
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("w"),
    )
    base = f"http://127.0.0.1:{web_port}"
    try:
        _wait_for(base + "/healthz", 90, server)
        shopper, staff = Site(base), Site(base)
        shopper.login("outage-shopper")
        staff.login("outage-staff")
        assert _signed_in(shopper, "outage-shopper")
        _exercise(shopper, staff, seeded, "redis up")
        assert _count("SELECT COUNT(*) FROM ecommerce_outboxmessage", sqlite_path) == 0  # published
        ready = _assert_api(shopper, "GET", "/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["cache"]["ok"] is True

        # when: Redis stops answering (blackholed: the process is frozen, sockets stay open)
        answers = _during(shopper, lambda: os.kill(redis_proc.pid, signal.SIGSTOP))
        assert len(answers) > 4 and all(code == 200 for _, code in answers), answers
        shopper.timings.clear()
        staff.timings.clear()
        # then: the shopper is still signed in (sessions from the database), and everything serves
        assert _signed_in(shopper, "outage-shopper")
        _exercise(shopper, staff, seeded, "redis blackholed")
        ready = _assert_api(shopper, "GET", "/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["cache"]["ok"] is False
        assert ready.json()["checks"]["broker"]["ok"] is False
        assert ready.json()["status"] == "degraded"
        assert _count("SELECT COUNT(*) FROM ecommerce_outboxmessage", sqlite_path) >= 1  # kept, not lost
        _assert_fast_and_report("blackholed", shopper.timings + staff.timings)

        # when: Redis answers again
        os.kill(redis_proc.pid, signal.SIGCONT)
        time.sleep(5.5)  # the breakers (5 s) let a call through
        shopper.timings.clear()
        staff.timings.clear()
        # then: still signed in, and everything serves
        assert _signed_in(shopper, "outage-shopper")
        _exercise(shopper, staff, seeded, "redis back")
        _assert_fast_and_report("redis up again", shopper.timings + staff.timings)
        assert _assert_api(shopper, "GET", "/readyz").json()["checks"]["cache"]["ok"] is True

        # when: Redis is gone (connections refused)
        answers = _during(shopper, redis_proc.kill)
        redis_proc.wait()
        assert len(answers) > 4 and all(code == 200 for _, code in answers), answers
        shopper.timings.clear()
        staff.timings.clear()
        # then: the same
        assert _signed_in(shopper, "outage-shopper")
        _exercise(shopper, staff, seeded, "redis refused")
        _assert_fast_and_report("refused", shopper.timings + staff.timings)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        if redis_proc.poll() is None:
            os.kill(redis_proc.pid, signal.SIGCONT)
            redis_proc.kill()
            redis_proc.wait()
