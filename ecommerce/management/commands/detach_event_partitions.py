"""python manage.py detach_event_partitions --before YYYY-MM-DD [--drop]

Detach the event log's partitions that end on or before the date (PostgreSQL). Without
--drop they stay as plain tables `ecommerce_event_pYYYY_MM[_DD]`: archive them (pg_dump -t) and drop
them yourself. Detached events leave the app: raw-event dashboard filters, exports and erasure no
longer see them; the rollups already computed for those days stay (do not run
`refresh_analytics` over detached months, it would recompute them from nothing).
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Detach (or drop) event-log partitions that end on or before --before (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, help="YYYY-MM-DD: months ending on or before it go.")
        parser.add_argument("--drop", action="store_true", help="Drop the detached tables too.")

    def handle(self, *args, **options) -> None:
        from ecommerce.partitions import event_partitions_detach, is_partitioned

        try:
            before = date.fromisoformat(options["before"])
        except ValueError as exc:
            raise CommandError(f"--before must be a date as YYYY-MM-DD, got {options['before']!r}.") from exc
        if not is_partitioned():
            raise CommandError("The event log is not partitioned (SQLite, or migrations not applied).")
        names = event_partitions_detach(before=before, drop=options["drop"])
        verb = "Dropped" if options["drop"] else "Detached"
        self.stdout.write(f"{verb} {len(names)} partition(s){': ' + ', '.join(names) if names else ''}.")
