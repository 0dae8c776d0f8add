"""Import MovieLens 100K (users, movies, ratings) for recommender benchmarks only.

MovieLens is licensed for research use without redistribution: it is read in place from the
shared data folder and never copied into the repository. Users get external ids
"movielens:<id>", movies SKUs "ML-<id>" with their genres as categories under "Movies", and
each rating becomes a `rating` event with a deterministic id, so a rerun adds nothing.

All or nothing: the import is one transaction, and a bad file (NUL byte, oversized field, an
empty file) raises ImportFileError naming the file and line, which rolls back the users and
movies already written. Malformed lines are skipped and counted, as in the UCI importer.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction
from tqdm import tqdm

from ..models import Category, Event, Product, User
from ..partitions import event_partitions_ensure_for
from ..services.events import event_id_for
from .common import ImportFileError, ImportReport, csv_records, ensure_categories, open_lines, table_counts

logger = logging.getLogger(__name__)

DATASET = "movielens"
SOURCE = "movielens"
# The data set's ratings were collected up to April 1998: ages are relative to that year.
REFERENCE_YEAR = 1998
NOMINAL_PRICE = Decimal("3.99")
RATINGS_PER_CHUNK = 10_000
ENCODING = "latin-1"  # u.item has accented titles in ISO-8859-1
# Ids up to 9 digits (ML-100K has 943 users, 1,682 movies); a timestamp up to 10 digits (year
# 2286): anything longer is a malformed line, not a value to overflow a column with.
_ID = re.compile(r"[0-9]{1,9}")
_STAMP = re.compile(r"[0-9]{1,10}")
MAX_AGE = 120


def _required(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a MovieLens 100K folder: {name} is missing.")
    return path


def import_movielens(*, directory: str | Path, limit_rows: int | None = None, progress: bool = True) -> ImportReport:
    """Import u.user, u.item and u.data from `directory`. Safe to run again."""
    directory = Path(directory)
    started = time.perf_counter()
    report = ImportReport(dataset=DATASET)
    counted = {"categories": Category, "products": Product, "users": User, "events": Event}
    user_path, item_path, data_path = (_required(directory, n) for n in ("u.user", "u.item", "u.data"))
    with transaction.atomic():
        before = table_counts(counted)
        genres = _read_genres(directory / "u.genre")
        user_ids = _import_users(user_path, report)
        product_ids = _import_items(item_path, genres, report)
        _import_ratings(data_path, user_ids, product_ids, report, limit_rows=limit_rows, progress=progress)
        after = table_counts(counted)
    report.created = {label: after[label] - before[label] for label in counted}
    report.totals = after
    report.seconds = time.perf_counter() - started
    logger.info("import.movielens_done", extra={"rows": report.rows_read, "seconds": round(report.seconds, 1)})
    return report


def _read_genres(path: Path) -> list[str]:
    if not path.is_file():  # the 19 genres of ML-100K, in u.item's flag order
        return [
            "unknown",
            "Action",
            "Adventure",
            "Animation",
            "Children's",
            "Comedy",
            "Crime",
            "Documentary",
            "Drama",
            "Fantasy",
            "Film-Noir",
            "Horror",
            "Musical",
            "Mystery",
            "Romance",
            "Sci-Fi",
            "Thriller",
            "War",
            "Western",
        ]
    genres: list[tuple[int, str]] = []
    with open_lines(path, ENCODING) as lines:
        for line in lines:
            name, _, index = line.strip().partition("|")
            if name and _ID.fullmatch(index):
                genres.append((int(index), name[:120]))
            elif line.strip():
                raise ImportFileError(path, lines.line, "not a genre line (name|index)")
    if not genres:
        raise ImportFileError(path, None, "the file is empty (no genres)")
    return [name for _, name in sorted(genres)]


def _require_lines(path: Path, lines_read: int) -> None:
    if lines_read == 0:
        raise ImportFileError(path, None, "the file is empty")


def _import_users(path: Path, report: ImportReport) -> dict[str, int]:
    unusable = make_password(None)
    rows = []
    with open_lines(path, ENCODING) as lines:
        for parts in csv_records(lines, delimiter="|"):
            report.rows_read += 1
            if (
                len(parts) < 5
                or not _ID.fullmatch(parts[0])
                or not _ID.fullmatch(parts[1])
                or not 0 < int(parts[1]) <= MAX_AGE
            ):
                report.skipped["u.user: malformed line"] += 1
                continue
            gender = {"M": "m", "F": "f"}.get(parts[2].strip().upper(), "")
            rows.append(
                User(
                    username=f"ml-user-{parts[0]}",
                    external_id=f"movielens:{parts[0]}",
                    birth_year=REFERENCE_YEAR - int(parts[1]),
                    gender=gender,
                    password=unusable,
                )
            )
        _require_lines(path, lines.line)
    User.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return {
        ext.split(":", 1)[1]: pk
        for ext, pk in User.objects.filter(external_id__startswith="movielens:").values_list("external_id", "id")
    }


def _import_items(path: Path, genres: list[str], report: ImportReport) -> dict[str, int]:
    movies = ensure_categories(["Movies"])["Movies"]
    categories = ensure_categories(genres, parent=movies, slug_prefix="movies-")
    rows = []
    with open_lines(path, ENCODING) as lines:
        for parts in csv_records(lines, delimiter="|"):
            report.rows_read += 1
            flags = parts[5:]
            if len(parts) < 6 or not _ID.fullmatch(parts[0]):
                report.skipped["u.item: malformed line"] += 1
                continue
            movie_genres = [genres[i] for i, flag in enumerate(flags[: len(genres)]) if flag.strip() == "1"]
            rows.append(
                Product(
                    sku=f"ML-{parts[0]}",
                    title=parts[1][:255] or f"Movie {parts[0]}",
                    category=categories[movie_genres[0]] if movie_genres else None,
                    price=NOMINAL_PRICE,
                    stock=1000,
                    attributes={"source": SOURCE, "genres": movie_genres, "release_date": parts[2][:32]},
                )
            )
        _require_lines(path, lines.line)
    Product.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return {sku[3:]: pk for sku, pk in Product.objects.filter(sku__startswith="ML-").values_list("sku", "id")}


def _import_ratings(
    path: Path,
    user_ids: dict[str, int],
    product_ids: dict[str, int],
    report: ImportReport,
    *,
    limit_rows: int | None,
    progress: bool,
) -> None:
    batch: list[Event] = []

    def flush() -> None:
        event_partitions_ensure_for(e.occurred_at for e in batch)
        Event.objects.bulk_create(batch, ignore_conflicts=True, batch_size=5000)
        batch.clear()

    with open_lines(path, ENCODING) as lines:
        bar = tqdm(
            lines,
            total=limit_rows or 100_000,
            desc="ratings",
            unit=" rows",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            mininterval=0.5,
        )
        for count, line in enumerate(bar, start=1):
            if limit_rows is not None and count > limit_rows:
                break
            report.rows_read += 1
            parts = line.split()
            if len(parts) != 4 or not all(_ID.fullmatch(p) for p in parts[:3]) or not _STAMP.fullmatch(parts[3]):
                report.skipped["u.data: malformed line"] += 1
                continue
            user, item, rating, stamp = parts
            if user not in user_ids or item not in product_ids:
                report.skipped["u.data: unknown user or item"] += 1
                continue
            occurred_at = datetime.fromtimestamp(int(stamp), tz=UTC)
            report.saw(occurred_at)
            batch.append(
                Event(
                    id=event_id_for(SOURCE, user, item, stamp),
                    type=Event.Type.RATING,
                    occurred_at=occurred_at,
                    received_at=occurred_at,
                    user_id=user_ids[user],
                    product_id=product_ids[item],
                    properties={"rating": int(rating), "source": SOURCE},
                )
            )
            if len(batch) >= RATINGS_PER_CHUNK:
                flush()
        bar.close()
        if limit_rows != 0:
            _require_lines(path, lines.line)
    if batch:
        flush()
