"""Run every app's registered training job (ecommerce.plugins.register_training_job)."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError

from ecommerce import plugins


class Command(BaseCommand):
    help = "Train, evaluate and (if better) promote every app's models."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--only", default="", help="Comma-separated app names to train (default: all).")

    def handle(self, *args, **options) -> None:
        only = {a.strip() for a in options["only"].split(",") if a.strip()}
        jobs = [j for j in plugins.training_jobs() if not only or j.app in only]
        if only and not jobs:
            raise CommandError(f"No training job registered for {', '.join(sorted(only))}.")
        for job in jobs:
            started = time.perf_counter()
            self.stdout.write(f"Training {job.app}...")
            summary = job.func()
            seconds = time.perf_counter() - started
            self.stdout.write(
                self.style.SUCCESS(f"  {job.app} done in {seconds:.1f}s: {json.dumps(summary, default=str)[:500]}")
            )
