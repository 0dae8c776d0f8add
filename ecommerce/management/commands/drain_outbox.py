"""Publish Celery tasks that waited in the database while the broker was down."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from ecommerce.outbox import outbox_drain


class Command(BaseCommand):
    help = "Publish outbox rows (tasks enqueued while the broker was unreachable), oldest first."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=500)
        parser.add_argument(
            "--all", action="store_true", help="Also rows younger than OUTBOX_MIN_AGE (no request is publishing)."
        )

    def handle(self, *args, limit: int, all: bool, **options) -> None:
        result = outbox_drain(limit=limit, min_age=timedelta(0) if all else None)
        self.stdout.write(f"sent {result['sent']}, failed {result['failed']}, waiting {result['waiting']}")
