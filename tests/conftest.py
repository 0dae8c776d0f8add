"""Shared fixtures: users, API clients, a real Celery worker and a real browser."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.test import TestCase, TransactionTestCase
from rest_framework.test import APIClient

from tests.factories import RoleStaffFactory, StaffFactory, UserFactory

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous, so Django's async-safety guard would be a false alarm.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(settings.BASE_DIR) / "screenshots"
# The data file every `realdata` test reads (../shared/data, never shipped with the project).
REALDATA_FILE = Path(settings.SHARED_DATA_DIR) / "uci-online-retail" / "online_retail.csv.gz"


# The `replica` alias is a test mirror of default (ecommerce/settings_test.py): transactional
# tests may read through it, so the replica router stays on in the whole suite. TestCase-style
# tests run inside a transaction on default, where the router reads default anyway; they keep
# only default (TestCase would otherwise open a second transaction on the mirror's connection).
TransactionTestCase.databases = {"default", "replica"}
TestCase.databases = {"default"}


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """`realdata` tests need ../shared/data: a fresh clone without it skips them with the reason,
    and CI (REQUIRE_REALDATA=1) fails instead, so they can never silently stop running there.
    `replica` tests need PostgreSQL's server binaries, the same way (REQUIRE_REPLICA=1 in CI)."""
    if item.get_closest_marker("replica") is not None and postgres_bin_dir() is None:
        message = "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are missing"
        if os.environ.get("REQUIRE_REPLICA") == "1":
            pytest.fail(f"REQUIRE_REPLICA=1 but {message}", pytrace=False)
        pytest.skip(message)
    if item.get_closest_marker("realdata") is None or REALDATA_FILE.exists():
        return
    message = f"{REALDATA_FILE} is missing (set SHARED_DATA_DIR to the shared data sets)"
    if os.environ.get("REQUIRE_REALDATA") == "1":
        pytest.fail(f"REQUIRE_REALDATA=1 but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_ml_artifacts(settings, tmp_path):
    """Each test writes model artifacts to its own folder and starts with a cold model cache."""
    from ecommerce.ml import clear_model_cache

    settings.ML_ARTIFACT_ROOT = tmp_path / "models"
    clear_model_cache()
    yield
    clear_model_cache()


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from advertising.page_context import caches_clear
    from advertising.selectors import live_version_forget

    cache.clear()
    live_version_forget()  # the ads API remembers the snapshot version it last saw for a second
    caches_clear()  # per-process relevance caches are keyed by a counter that cache.clear() resets
    from ecommerce.counter_leases import leases
    from recommendations.api import local_answers

    leases.forget()  # blocks reserved in the cache just cleared
    from advertising.buffer import budget_leases
    from advertising.spool import spool

    budget_leases.forget()  # budget blocks reserved in the counters just cleared
    spool.forget()  # impressions an earlier test spooled and never flushed
    local_answers.forget()  # copies of answers the cleared cache held
    from ecommerce import partitions

    # Time ranges a committed test created are remembered per process; a later test may have dropped
    # them (the partition migration's round trip), so every test starts without that memory.
    partitions._known_ranges.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    """A superuser; tests about a capability use `staff_in_role` instead."""
    return StaffFactory()


@pytest.fixture
def staff_in_role(db):
    """staff_in_role("order_manager") -> a staff user in that role group; staff_in_role(None): no role."""
    return lambda role, **fields: RoleStaffFactory(role=role, **fields)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def consenting_client():
    """A browser-like API client that has accepted tracking (consent cookie set)."""
    client = APIClient()
    client.cookies["tracking_consent"] = "yes"
    return client


@pytest.fixture
def user_client(user):
    client = APIClient()
    client.force_login(user)
    client.cookies["tracking_consent"] = "yes"
    return client


@pytest.fixture
def staff_client(staff):
    client = APIClient()
    client.force_login(staff)
    return client


def _forget_result_backend(app) -> None:
    """Celery caches the result backend on first use (an eager task run earlier in the session
    caches the disabled one); drop it so the next use builds one from the current settings."""
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


def _share_result_backend(app) -> None:
    """One result backend for the test thread and the worker thread: a non-thread-safe backend is
    otherwise cached per thread, and `cache+memory://` would then hold two separate stores."""
    _forget_result_backend(app)
    app._backend_cache = app._get_backend()


@pytest.fixture
def celery_worker_real(transactional_db):
    """A real Celery worker thread consuming the real broker (Redis in CI, memory:// otherwise).

    Tasks go through the broker, get serialized to JSON and run in the worker, which shares this
    process's (test) database. Use with transactional tests so the worker sees committed rows.
    """
    from celery.contrib.testing.worker import start_worker

    from ecommerce.celery import app

    broker = settings.CELERY_BROKER_URL or "memory://"
    previous = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "result_backend")}
    app.conf.update(
        task_always_eager=False,
        broker_url=broker,
        result_backend="cache+memory://" if not settings.CELERY_RESULT_BACKEND else settings.CELERY_RESULT_BACKEND,
    )
    # Drop stale connections, producers and the cached result backend (an eager task run earlier
    # in the session creates them for the old settings) so the new broker and backend URLs are used.
    app._pool = None
    app.amqp._producer_pool = None
    _share_result_backend(app)
    with start_worker(
        app, pool="solo", perform_ping_check=False, queues=["default", "ml"], shutdown_timeout=30
    ) as worker:
        yield worker
    app.conf.update(previous)
    app._pool = None
    app.amqp._producer_pool = None
    _forget_result_backend(app)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright. Missing chromium is an error, never a skip."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does it as root).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class _RequestsInFlight:
    """Requests the live server's threads are answering. Requests on the main thread (the test
    client's, which may leave a streaming response unread) are not counted."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def started(self, **kwargs) -> None:
        if threading.current_thread() is not threading.main_thread():
            self.threads.add(threading.get_ident())

    def finished(self, **kwargs) -> None:
        self.threads.discard(threading.get_ident())

    def wait_until_quiet(self, quiet_seconds: float = 0.2, timeout: float = 10.0) -> None:
        """Return once no request has been in flight for `quiet_seconds` (or after `timeout`)."""
        deadline, quiet_since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.threads:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_seconds:
                return
            time.sleep(0.02)


requests_in_flight = _RequestsInFlight()
request_started.connect(requests_in_flight.started, weak=False)
request_finished.connect(requests_in_flight.finished, weak=False)


@pytest.fixture(autouse=True)
def _live_server_done_before_teardown(request):
    """A page's last events leave as a beacon when it is hidden or closed, and the live server
    answers them in its own threads: let it finish before the test's database is flushed. A
    late beacon once met the teardown (SQLite: "database table is locked", then "Database
    access not allowed" in the server thread). Set up after the database fixture, so torn down
    before it; after the `page` fixture's teardown, so its beacons count too."""
    yield
    if "live_server" in request.fixturenames:
        requests_in_flight.wait_until_quiet()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    with suppress(Exception):  # hidden first, so its last beacon leaves now; a dead page has none
        page.goto("about:blank", timeout=5_000)
    context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, "name") saves screenshots/<name>.png for a person to look at."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@contextmanager
def celery_eager():
    """Run queued tasks in-process, whatever the broker setting (CI sets a real Redis broker).

    For tests of what a queued task *does*; the path through a real broker and worker is tested
    with `celery_worker_real` and in tests/faults."""
    from ecommerce.celery import app

    previous = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def eager_tasks():
    with celery_eager():
        yield


@pytest.fixture
def tmp_dir():
    path = Path(tempfile.mkdtemp())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cached_logins(settings):
    """Turn on the login cache (ecommerce/auth_backends.py) whatever the configured cache is."""
    settings.AUTH_USER_CACHE_SECONDS = 300


@pytest.fixture
def connections_kept_open():
    """As Django's test client does: a WSGI handler called directly must not close the test's
    database connection at the end of its request."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
