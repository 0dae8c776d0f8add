"""Fault-injection fixtures: a redis-server of our own and real `celery -A ecommerce worker` processes.

The worker is a separate process pointed at this test's database (transactional tests commit, so
it sees the rows) and at a redis-server started here on a free port, so a test can stop Redis,
drop its connections or SIGKILL the worker without touching anything shared. The worker needs a
database another process can open: PostgreSQL (CI's configuration), not SQLite's in-memory test
database; on SQLite these tests are deselected at collection (see pytest_collection_modifyitems).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REDIS_SERVER = "/usr/bin/redis-server"
PS = shutil.which("ps") or "/usr/bin/ps"  # lists a worker's pool processes
REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == "postgresql":
        return
    here = Path(__file__).parent
    subprocess_tests = [
        i for i in items if Path(str(i.fspath)).parent == here and "worker_process" in getattr(i, "fixturenames", ())
    ]
    if subprocess_tests:
        config.hook.pytest_deselected(items=subprocess_tests)
        items[:] = [i for i in items if i not in subprocess_tests]
        note = (
            f"\ntests/faults: {len(subprocess_tests)} worker-process tests need PostgreSQL (DATABASE_URL); "
            "deselected on SQLite, whose test database lives in this process's memory."
        )
        print(note)  # noqa: T201 - tells a SQLite run why these tests did not run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class RedisServer:
    port: int
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        # AOF with fsync on every write: like a production Redis, queued messages survive a restart.
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for(self.ping, 10, "redis-server to answer")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        out = subprocess.run(
            ["/usr/bin/redis-cli", "-p", str(self.port), *args], capture_output=True, timeout=10, check=False
        )
        return out.stdout

    def stop(self) -> None:
        """A clean shutdown (SHUTDOWN writes nothing more: AOF is already fsynced)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.fail(f"{REDIS_SERVER} is missing: the fault tests need it (apt-get install redis-server).")
    server = RedisServer(port=free_port(), folder=tmp_path)
    server.start()
    yield server
    server.stop()


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    concurrency: int
    process: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self, **extra_env: str) -> None:
        env = {**self.env, **extra_env}
        handle = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ecommerce",
                "worker",
                "-l",
                "INFO",
                "-Q",
                "default,ml",
                "-c",
                str(self.concurrency),
                "--without-mingle",
                "--without-gossip",
                "-I",
                "tests.faults.probe_tasks",
                "-n",
                f"faults{time.monotonic_ns()}@%h",
            ],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: "ready." in self.log() or self.process.poll() is not None, 60, "the worker to start")
        assert self.alive(), f"worker exited at start:\n{self.log()[-3000:]}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pool_pids(self) -> list[int]:
        out = subprocess.run(
            [PS, "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(p) for p in out.stdout.split()]

    def kill_all(self) -> None:
        """SIGKILL the whole worker (main process and pool): nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGQUIT)  # cold shutdown: the test is over
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def worker_process(
    transactional_db, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory: worker_process(concurrency=1, **env) starts a real worker; all are stopped at the end."""
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        database_url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "CACHE_URL", "REDIS_URL"))},
        "DJANGO_SETTINGS_MODULE": "ecommerce.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": f"{redis_server.url}/0",
        "CELERY_RESULT_BACKEND": f"{redis_server.url}/1",
        "ML_ARTIFACT_ROOT": str(settings.ML_ARTIFACT_ROOT),
        "FAULTS_MARKER": str(tmp_path / "markers.txt"),
        "DJANGO_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    started: list[WorkerProcess] = []

    def start(concurrency: int = 1, **extra_env: str) -> WorkerProcess:
        worker = WorkerProcess(env=base_env, log_path=tmp_path / f"worker{len(started)}.log", concurrency=concurrency)
        started.append(worker)
        worker.start(**extra_env)
        return worker

    yield start
    for worker in started:
        worker.stop()
    # Close the test's connections so pytest-django can flush/drop the database after us.
    from django.db import connections

    connections.close_all()


@pytest.fixture
def client_app(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch):
    """A Celery client of the test's redis-server: sends by task name, reads results."""
    from celery import Celery

    # Celery prefers these environment variables to the broker given below (CI sets them).
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)

    app = Celery("faults-client", broker=f"{redis_server.url}/0", backend=f"{redis_server.url}/1")
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        broker_connection_retry_on_startup=True,
    )
    yield app
    app.close()


@pytest.fixture
def markers(tmp_path: Path) -> Callable[[], list[str]]:
    path = tmp_path / "markers.txt"

    def read() -> list[str]:
        return [line.rsplit(" ", 1)[0] for line in path.read_text().splitlines()] if path.exists() else []

    read.path = str(path)  # type: ignore[attr-defined]
    return read
