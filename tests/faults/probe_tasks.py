"""Loaded only into the fault tests' worker: `celery -A ecommerce worker -I tests.faults.probe_tasks`.

- `faults.sleep` stands for any idempotent task in flight: it appends "start"/"done" lines with
  its tag to a marker file, so a test can count how often it ran and finished.
- `faults.kill_own_process` is a poison task: it SIGKILLs the pool process running it, every time.
- With FAULTS_PAUSE_AT=precompute|promote the retrain pipeline pauses FAULTS_PAUSE_SECONDS
  before that step, after writing "at <step>" to FAULTS_MARKER: the test kills the worker there.
  The pause only delays the real code (it calls straight through), never changes what it does.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from typing import Any

from celery import shared_task


def _mark(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{line} {os.getpid()}\n")
        handle.flush()


@shared_task(name="faults.sleep", acks_late=True, reject_on_worker_lost=True)
def sleep_task(seconds: float, tag: str, marker_path: str) -> str:
    _mark(marker_path, f"start {tag}")
    time.sleep(seconds)
    _mark(marker_path, f"done {tag}")
    return tag


@shared_task(name="faults.kill_own_process", acks_late=True, reject_on_worker_lost=True)
def kill_own_process_task(marker_path: str) -> None:
    _mark(marker_path, "start poison")
    os.kill(os.getpid(), signal.SIGKILL)


def _pause_before(step: str, func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _mark(os.environ["FAULTS_MARKER"], f"at {step}")
        time.sleep(float(os.environ.get("FAULTS_PAUSE_SECONDS", "3")))
        return func(*args, **kwargs)

    return wrapper


_pause_at = os.environ.get("FAULTS_PAUSE_AT", "")
if _pause_at == "precompute":
    from recommendations import services as _services

    # The retrain's per-customer precompute starts by recording its run of chunks.
    _services.precompute_run_create = _pause_before("precompute", _services.precompute_run_create)
elif _pause_at == "promote":
    from ecommerce import ml as _ml

    _ml.model_version_promote = _pause_before("promote", _ml.model_version_promote)
