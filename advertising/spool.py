"""Served impressions kept in an append-only file per process until they reach the shared buffer.

Why: handing each ad request's impression records to Redis cost a round trip per request, the
largest single cost of serving an ad (docs/benchmarks/storefront.md "Round 6"). Appending them to
a local file is one write() system call, and the file outlives the process: a worker that is
killed (OOM, SIGKILL, a crash) leaves its records on disk, where another process adopts them.
So nothing is lost unless the machine itself dies, the same promise the Redis list gives (it
keeps nothing on disk either).

How:
- Each process appends to its own file, `<host>-<pid>-<random>.jsonl` in ADS_SPOOL_DIR, one JSON
  record a line, and holds an exclusive flock on it for as long as it lives.
- `ship(push)` renames the file aside (appends go on into a fresh file), hands its lines to
  `push` and deletes it only once `push` returned. A failed push keeps the file for the next try.
  A process that dies between push and delete pushes those records twice when its file is
  adopted; the flush's insert skips uids already written, so that is harmless.
- A flusher thread ships every ADS_SPOOL_SHIP_SECONDS, and adopts orphans (files no living
  process holds a lock on) on its first tick and every ORPHAN_SECONDS after. At exit the process ships
  what is left. With ADS_SPOOL_SHIP_SECONDS = 0 there is no thread: `pop` ships before it reads
  (tests, and the click path, which flushes in the same process).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from ecommerce.resilience import rate_limited_log

logger = logging.getLogger(__name__)

ORPHAN_SECONDS = 30.0
SUFFIX = ".jsonl"

Push = Callable[[list[str]], None]


def spool_dir() -> Path:
    return Path(settings.ADS_SPOOL_DIR)


def ship_interval() -> float:
    return float(settings.ADS_SPOOL_SHIP_SECONDS)


class _Held:
    """A spool file this process owns: its path, its open (locked) descriptor, records in it."""

    __slots__ = ("fd", "path", "records")

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd, self.records = path, fd, 0


class ImpressionSpool:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # appends and the live file's rotation
        self._ship_lock = threading.Lock()  # one shipment at a time
        self._live: _Held | None = None
        self._aside: list[_Held] = []  # renamed aside, not yet shipped (a push failed)
        self._pid = 0
        self._flusher: threading.Thread | None = None
        self._push: Push | None = None
        self._stop = threading.Event()

    # --- appending (the request path) ------------------------------------------------------------

    def append(self, lines: list[str]) -> None:
        """Add records (JSON text, one per item) with one write()."""
        data = "".join(line + "\n" for line in lines).encode()
        with self._lock:
            live = self._live_file()
            os.write(live.fd, data)
            live.records += len(lines)

    def pending(self) -> int:
        """Records this process holds that no push has taken yet."""
        with self._lock:
            live = self._live if self._pid == os.getpid() else None
            return (live.records if live else 0) + sum(held.records for held in self._aside)

    def _own_process(self) -> None:
        """A forked child starts afresh: the parent's files and thread are not ours (under _lock)."""
        if self._pid != os.getpid():
            self._live, self._aside, self._pid, self._flusher = None, [], os.getpid(), None

    def _after_fork_in_child(self) -> None:
        # Another thread may have held a lock at the fork: the child gets fresh ones.
        self._lock, self._ship_lock = threading.Lock(), threading.Lock()
        self._stop = threading.Event()
        self._own_process()

    def _live_file(self) -> _Held:
        self._own_process()
        if self._live is None:
            directory = spool_dir()
            directory.mkdir(parents=True, exist_ok=True)
            name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            # Created and locked under a name adopters skip, then renamed: a file under a spool
            # name is never unlocked while its owner lives (adopters would take an empty file).
            hidden = directory / f".{name}.new"
            fd = os.open(hidden, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours: no adopter touches it while we live
                path = directory / f"{name}{SUFFIX}"
                os.rename(hidden, path)  # the lock stays with the descriptor
            except BaseException:
                os.close(fd)
                hidden.unlink(missing_ok=True)
                raise
            self._live = _Held(path, fd)
        return self._live

    # --- shipping ---------------------------------------------------------------------------------

    def ship(self, push: Push) -> int:
        """Hand every record this process spooled to `push`; returns how many were shipped.
        Raises what `push` raised (the records stay in the spool).

        The live file is set aside only when nothing older waits: while the push keeps failing
        (Redis down) appends go on into the one live file, so an outage holds one descriptor and
        at most two files, not one per tick."""
        with self._ship_lock:
            shipped = self._ship_aside(push)
            with self._lock:
                self._own_process()
                if self._live is not None and self._live.records:
                    live = self._live
                    aside = live.path.with_name(f"{live.path.stem}.{uuid.uuid4().hex[:6]}.ship")
                    os.rename(live.path, aside)  # the lock stays with the descriptor
                    live.path = aside
                    self._aside.append(live)
                    self._live = None
            return shipped + self._ship_aside(push)

    def _ship_aside(self, push: Push) -> int:
        with self._lock:
            self._own_process()
            held = list(self._aside)
        shipped = 0
        for item in held:
            try:
                lines = _read_lines(item.path)
            except FileNotFoundError:  # not ours any more (cannot happen while we hold the lock)
                lines = []
                logger.warning("advertising.spool_file_vanished", extra={"file": item.path.name})
            if lines:
                push(lines)
            _discard(item.path, item.fd)
            with self._lock:
                if item in self._aside:
                    self._aside.remove(item)
            shipped += len(lines)
        return shipped

    def adopt_orphans(self, push: Push) -> int:
        """Ship the files of processes that died (nobody holds their lock); returns records shipped."""
        directory = spool_dir()
        if not directory.is_dir():
            return 0
        shipped = 0
        for path in sorted(directory.iterdir()):
            if not (path.name.endswith(SUFFIX) or path.name.endswith(".ship")):
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # its owner or another adopter got there first
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # alive: its owner holds it (this process's own files included)
                continue
            try:
                # Another adopter may have shipped and deleted it between our open and our lock.
                if os.fstat(fd).st_ino != path.stat().st_ino:
                    os.close(fd)
                    continue
            except FileNotFoundError:
                os.close(fd)
                continue
            try:
                lines = _read_lines(path)
                if lines:
                    push(lines)
            except BaseException:
                os.close(fd)  # kept for the next adopter
                raise
            _discard(path, fd)
            shipped += len(lines)
            logger.info("advertising.spool_adopted", extra={"file": path.name, "records": len(lines)})
        return shipped

    # --- the flusher thread -----------------------------------------------------------------------

    def start_flusher(self, push: Push) -> None:
        """Ship in the background every ADS_SPOOL_SHIP_SECONDS (no thread when 0). Idempotent."""
        if self._flusher is not None and self._pid == os.getpid():
            return  # the request path's check: started in this process already
        interval = ship_interval()
        if interval <= 0:
            return
        with self._lock:
            self._own_process()
            if self._flusher is not None and self._flusher.is_alive():
                return
            self._push = push
            self._stop.clear()
            self._flusher = threading.Thread(
                target=self._run, args=(interval,), name="ad-impression-spool", daemon=True
            )
            self._flusher.start()

    def _run(self, interval: float) -> None:
        next_orphans = 0.0
        while not self._stop.wait(interval):  # a tick's worth of records per shipment
            push = self._push
            try:
                if time.monotonic() >= next_orphans:
                    next_orphans = time.monotonic() + ORPHAN_SECONDS
                    self.adopt_orphans(push)
                self.ship(push)
            except Exception as error:  # the records stay on disk; try again next tick
                rate_limited_log.warning("advertising.spool_ship_failed", error=type(error).__name__)

    def stop_flusher(self) -> None:
        """Stop the thread (tests); appends go on, and `pop` or the next start ship them."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        self._flusher = None

    def ship_at_exit(self) -> None:
        if self._push is not None and self._pid == os.getpid():
            try:
                self.ship(self._push)
            except Exception:  # noqa: BLE001 - left on disk: the next process adopts it
                logger.warning("advertising.spool_left_for_adoption", exc_info=True)

    def forget(self) -> None:
        """Delete this process's spool files unshipped (tests: each starts with an empty buffer)."""
        with self._ship_lock, self._lock:
            if self._pid == os.getpid():
                for held in [*self._aside, *([self._live] if self._live else [])]:
                    _discard(held.path, held.fd)
            self._live, self._aside = None, []


def _read_lines(path: Path) -> list[str]:
    # A process killed in the middle of a write() may leave a torn last line: it is dropped.
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]
    if tail:
        logger.warning("advertising.spool_torn_line", extra={"file": path.name})
    return [line for line in complete if line]


def _discard(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(fd)


spool = ImpressionSpool()
atexit.register(spool.ship_at_exit)
os.register_at_fork(after_in_child=spool._after_fork_in_child)
