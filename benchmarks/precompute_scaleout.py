"""Precompute for all active customers with 1 and then 2 Celery worker processes (issue 16 goal:
2 workers <= 0.7x the time of 1, on 2 cores).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench ML_ARTIFACT_ROOT=/tmp/bench/models \
        .venv/bin/python manage.py import_dataset online_retail ../shared/data/uci-online-retail/online_retail.csv.gz
    DATABASE_URL=... ML_ARTIFACT_ROOT=... CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
    CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/9 \
        .venv/bin/python benchmarks/precompute_scaleout.py --workers 1 2 --repeat 3 --chunk-users 250

Trains once in this process if no version is active. Then, per worker count, starts
`celery worker --pool prefork --concurrency N -Q ml` (OPENBLAS_NUM_THREADS=1: one core per
worker process, the usual Celery sizing), runs one warm-up precompute (each process loads the
model from the database once), then times `--repeat` runs: create a run of every active
customer for the active version, dispatch its chord (a group of chunk tasks + the finishing
callback) and wait for the callback. Prints JSON with the median seconds per worker count and
the ratio to the first count. Runs alternate nothing else; note the load average it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

import django  # noqa: E402

django.setup()

from celery.result import AsyncResult  # noqa: E402
from django.conf import settings  # noqa: E402

from ecommerce import ml  # noqa: E402
from ecommerce.celery import app  # noqa: E402
from recommendations.conf import ACTIVE_MODEL_NAME  # noqa: E402
from recommendations.selectors import purchase_history_frame  # noqa: E402
from recommendations.services import (  # noqa: E402
    active_customer_ids,
    precompute_run_create,
    precompute_run_execute,
    recommenders_train,
)


def _load() -> list[str]:
    with open("/proc/loadavg") as handle:
        return handle.read().split()[:3]


def _start_worker(concurrency: int) -> subprocess.Popen:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    hostname = f"bench{concurrency}-{os.getpid()}@%h"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ecommerce",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "-Q",
            "ml",
            "-n",
            hostname,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=sys.stderr,  # the worker's banner; this script's stdout is the JSON result
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if any(hostname.split("@")[0] in name for reply in replies for name in reply):
            return process
    process.kill()
    raise SystemExit("the worker did not answer a ping within 120 s")


def _stop_worker(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _one_run(users: list[int], chunk_users: int) -> tuple[float, dict]:
    active = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
    started = time.perf_counter()
    run = precompute_run_create(target=active, user_pks=users, promote=False, chunk_size=chunk_users)
    dispatched = precompute_run_execute(run=run, fan_out=True)
    outcome = AsyncResult(dispatched["result_id"]).get(timeout=1800)
    return time.perf_counter() - started, {**outcome, "chunks": dispatched["chunks"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-users", type=int, default=250)
    args = parser.parse_args()
    if app.conf.task_always_eager or not settings.CELERY_RESULT_BACKEND:
        raise SystemExit("set CELERY_BROKER_URL and CELERY_RESULT_BACKEND (a chord needs a result backend)")
    if ml.model_version_get_active(name=ACTIVE_MODEL_NAME) is None:
        summary = recommenders_train()
        print(json.dumps({"trained": summary.get("versions"), "seconds": summary.get("seconds")}), file=sys.stderr)
    users = sorted(int(u) for u in active_customer_ids(purchase_history_frame()))
    app.control.purge()
    results: dict[str, dict] = {}
    for count in args.workers:
        worker = _start_worker(count)
        try:
            _one_run(users, args.chunk_users)  # warm-up: every process loads the model once
            times, outcomes = [], []
            for _ in range(args.repeat):
                seconds, outcome = _one_run(users, args.chunk_users)
                times.append(seconds)
                outcomes.append(outcome)
                print(json.dumps({"workers": count, "seconds": round(seconds, 2), "load": _load()}), file=sys.stderr)
        finally:
            _stop_worker(worker)
        results[str(count)] = {
            "median_seconds": round(statistics.median(times), 2),
            "runs": [round(t, 2) for t in times],
            "user_rows": outcomes[-1]["user_rows"],
            "chunks": outcomes[-1]["chunks"],
        }
    reference = results[str(args.workers[0])]["median_seconds"]
    for count in args.workers:
        results[str(count)]["ratio_to_first"] = round(results[str(count)]["median_seconds"] / reference, 3)
    print(
        json.dumps(
            {
                "customers": len(users),
                "chunk_users": args.chunk_users,
                "results": results,
                "load_average_at_end": _load(),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
