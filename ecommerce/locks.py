"""Cross-process locks that die with their holder.

PostgreSQL: a session-level advisory lock, released by the server when the holder's connection
ends, so a worker killed with SIGKILL never leaves one behind. SQLite (one host by definition):
an flock on a file under ML_ARTIFACT_ROOT/.locks, released by the kernel when the process dies.
Both are non-blocking: the caller decides what "somebody else is doing it" means.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


class LockHeld(Exception):
    """Another process (or connection) holds this lock."""


def advisory_key(lock_name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock (hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(lock_name.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def exclusive_lock(lock_name: str) -> Iterator[None]:
    """Hold `lock_name` for the block, or raise LockHeld at once if someone else holds it."""
    if connection.vendor == "postgresql":
        key = advisory_key(lock_name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            acquired = cursor.fetchone()[0]
        if not acquired:
            raise LockHeld(lock_name)
        try:
            yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:
                # The connection is gone, and the server released the lock with it.
                logger.warning("locks.unlock_failed", extra={"lock_name": lock_name})
        return
    import fcntl

    folder = Path(settings.ML_ARTIFACT_ROOT) / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    safe = hashlib.sha256(lock_name.encode()).hexdigest()[:32]
    with (folder / f"{safe}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(lock_name) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
