"""python manage.py import_dataset online_retail PATH | movielens DIR [--limit-rows N]

An import is all or nothing: any failure rolls the whole import back and ends in one
CommandError line (file, line, problem) with exit status 1.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from ecommerce import plugins

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Import a real data set. online_retail PATH: the UCI Online Retail CSV (.csv or .csv.gz) "
        "into products, customers, orders, order lines and purchase events. movielens DIR: the "
        "MovieLens 100K folder (u.user, u.item, u.data) into users, products and rating events, "
        "for benchmarks only. Both are all or nothing (a bad file writes no row) and safe to rerun: "
        "nothing is added twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", choices=["online_retail", "movielens"])
        parser.add_argument("path", help="The CSV file (online_retail) or the folder (movielens).")
        parser.add_argument(
            "--limit-rows", type=int, default=None, help="Read only the first N data rows (ratings for movielens)."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        limit = options["limit_rows"]
        if limit is not None and limit < 0:
            raise CommandError("--limit-rows must be zero or more.")
        progress = not options["no_progress"]
        if options["dataset"] == "online_retail":
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            from ecommerce.importers.online_retail import import_online_retail

            def run():
                return import_online_retail(path=path, limit_rows=limit, progress=progress)
        else:
            if not path.is_dir():
                raise CommandError(f"No such folder: {path}")
            from ecommerce.importers.movielens import import_movielens

            def run():
                return import_movielens(directory=path, limit_rows=limit, progress=progress)

        try:
            report = run()
        except (ValueError, FileNotFoundError) as exc:  # ImportFileError is a ValueError
            raise CommandError(f"{exc}. Nothing was imported.") from exc
        except OSError as exc:  # unreadable file: permissions, I/O error
            raise CommandError(f"{path}: cannot read ({exc.strerror or exc}). Nothing was imported.") from exc
        except DatabaseError as exc:  # a backstop: rows are validated before they are written
            logger.warning("import.database_error", extra={"dataset": options["dataset"]})
            problem = " ".join(str(exc).split())
            raise CommandError(f"{path}: the database refused the import ({problem}). Nothing was imported.") from exc
        for line in report.lines():
            self.stdout.write(line)
        if report.first_at is not None:
            # Imported history is dated before the rollups' watermark: name its days explicitly.
            start, end = timezone.localtime(report.first_at).date(), timezone.localtime(report.last_at).date()
            plugins.data_loaded(start=start, end=end)
            self.stdout.write(f"Queued a refresh of analytics for {start} to {end}.")
        self.stdout.write(self.style.SUCCESS("Import finished."))
