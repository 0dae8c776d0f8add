"""python manage.py ensure_event_partitions [--since YYYY-MM-DD] [--ahead N]

Create the event log's partitions now (PostgreSQL): one per month from --since (if given) to last
month, this month's at EVENT_PARTITION_INTERVAL, EVENT_PARTITIONS_AHEAD (or --ahead) periods after
the current one, and those of rows waiting in the default partition (they are moved); then merge
the day partitions of months over for EVENT_PARTITION_COMPACT_AFTER_DAYS into one per month
(--no-compact skips that). Beat does the same daily (`ecommerce.ensure_event_partitions`); run it
by hand before a bulk load of past months with COPY, which bypasses the importers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Create event-log partitions (PostgreSQL) and move default-partition rows into them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="YYYY-MM-DD: also create every month from this one to now.")
        parser.add_argument("--ahead", type=int, help="Periods after the current one (default EVENT_PARTITIONS_AHEAD).")
        parser.add_argument("--no-compact", action="store_true", help="Do not merge finished months' days.")

    def handle(self, *args, **options) -> None:
        from ecommerce.partitions import (
            event_partitions_compact,
            event_partitions_ensure,
            is_partitioned,
            month_of,
            next_month,
        )

        if not is_partitioned():
            raise CommandError("The event log is not partitioned (SQLite, or migrations not applied).")
        months = []
        if options["since"]:
            try:
                month = month_of(date.fromisoformat(options["since"]))
            except ValueError as exc:
                raise CommandError(f"--since must be a date as YYYY-MM-DD, got {options['since']!r}.") from exc
            now = month_of(datetime.now(UTC))
            if (now.year - month.year) * 12 + now.month - month.month > 12 * 50:
                raise CommandError("--since is more than 50 years ago: check the date.")
            while month <= now:
                months.append(month)
                month = next_month(month)
        if options["ahead"] is not None and not 0 <= options["ahead"] <= 120:
            raise CommandError("--ahead must be between 0 and 120 periods.")
        result = event_partitions_ensure(periods_ahead=options["ahead"], times=months)
        created = result["created"]
        self.stdout.write(
            f"Created {len(created)} partition(s){': ' + ', '.join(created) if created else ''} "
            f"(interval where ingestion writes: {result['interval']}); "
            f"moved {result['moved']} row(s) out of the default partition."
        )
        if not options["no_compact"]:
            merged = event_partitions_compact()
            self.stdout.write(
                f"Merged the days of {len(merged)} finished month(s){': ' + ', '.join(merged) if merged else ''}."
            )
