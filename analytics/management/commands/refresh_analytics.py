"""python manage.py refresh_analytics [--start DATE --end DATE]

Recompute the dashboard's rollups now, in this process (no broker needed): a day range, or all
history when no range is given. Safe to run at any time: each day is deleted and re-inserted.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{flag} must be a date as YYYY-MM-DD, got {value!r}.") from exc


class Command(BaseCommand):
    help = "Recompute analytics rollups for --start..--end (inclusive), or for all history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", help="First day (YYYY-MM-DD); needs --end.")
        parser.add_argument("--end", help="Last day (YYYY-MM-DD); needs --start.")

    def handle(self, *args, **options) -> None:
        from analytics.rollups import rollups_refresh_all, rollups_refresh_days

        if bool(options["start"]) != bool(options["end"]):
            raise CommandError("Give both --start and --end, or neither (all history).")
        if options["start"]:
            start = _parse_day(options["start"], "--start")
            end = _parse_day(options["end"], "--end")
            if end < start:
                raise CommandError(f"--end ({end}) is before --start ({start}).")
            if (end - start).days > 366 * 20:
                raise CommandError("The range is longer than 20 years: check the dates.")
            result = {**rollups_refresh_days(start=start, end=end), "start": start.isoformat(), "end": end.isoformat()}
        else:
            result = rollups_refresh_all()
        self.stdout.write(
            f"Refreshed {result['days']} days ({result['start']} to {result['end']}): {result['daily']} daily rows, "
            f"{result['hourly']} hourly rows, {result['actors']} actor-days, {result['cohort_cells']} cohort cells."
        )
