"""Shared pieces of the data set importers: opening files, reports, the category keyword map."""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils.text import slugify

from ..bulk import bulk_insert
from ..models import Category, Event
from ..partitions import event_partitions_ensure_for
from ..services.catalog import catalogue_generation_bump


@contextmanager
def open_text(path: str | Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Open a .csv or .csv.gz (any text file, gzipped or not) for streaming reads."""
    path = Path(path)
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        # Closing the wrapper closes the gzip stream under it.
        with io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="") as handle:
            yield handle
    else:
        with path.open("r", encoding=encoding, newline="") as handle:
            yield handle


class ImportFileError(ValueError):
    """A file the importer cannot trust. The import stops and writes nothing.

    The message is one line, "<path>, line <n>: <problem>", for the command's CommandError.
    """

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path, self.line, self.problem = Path(path), line, problem
        where = f", line {line}" if line else ""
        super().__init__(f"{path}{where}: {problem}")


class CheckedLines:
    """The text lines of a plain or gzipped file, each checked before a parser sees it.

    Lines are read as bytes and decoded one at a time, so an error names its exact line (a
    text wrapper decodes 8 KB blocks and would blame a line before the bad one). A NUL byte
    is refused here: PostgreSQL cannot store it in text and no CSV of ours contains one, so
    it means a binary or damaged file. `line` is the number of the last line handed out.
    """

    def __init__(self, path: Path, binary: io.BufferedIOBase, encoding: str) -> None:
        self.path, self.line = path, 0
        self._binary, self._encoding = binary, encoding

    def __iter__(self) -> Iterator[str]:
        try:
            for raw in self._binary:
                self.line += 1
                if b"\x00" in raw:
                    raise ImportFileError(self.path, self.line, "contains a NUL byte (a binary or damaged file)")
                try:
                    text = raw.decode(self._encoding)
                except UnicodeDecodeError as exc:
                    raise ImportFileError(
                        self.path,
                        self.line,
                        f"is not valid {self._encoding.upper()} text (byte {exc.start + 1} of the line)",
                    ) from None
                yield text
        except EOFError as exc:
            raise ImportFileError(self.path, self.line + 1, f"the gzip data is truncated ({exc})") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise ImportFileError(self.path, self.line + 1, f"the gzip data is corrupt ({exc})") from None


@contextmanager
def open_lines(path: str | Path, encoding: str = "utf-8") -> Iterator[CheckedLines]:
    """Open a plain or gzipped text file (sniffed, whatever its name) as CheckedLines."""
    path = Path(path)
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if gzipped:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield CheckedLines(path, unzipped, encoding)  # type: ignore[arg-type]
        else:
            yield CheckedLines(path, raw, encoding)


def csv_records(lines: CheckedLines, **fmtparams: Any) -> Iterator[list[str]]:
    """csv.reader over checked lines; a CSV error becomes an ImportFileError naming the line.

    The field size cap is csv's default (131,072 characters): no field of a real data set
    comes near it, and a longer one means a lost closing quote swallowed the rest of the file.
    """
    reader = csv.reader(lines, **fmtparams)
    try:
        yield from reader
    except csv.Error as exc:
        problem = str(exc)
        if "field larger than field limit" in problem:
            problem = f"a field is longer than {csv.field_size_limit():,} characters"
        raise ImportFileError(lines.path, lines.line, f"is not valid CSV: {problem}") from None


def require_length(path: Path, line: int, column: str, value: str, limit: int) -> None:
    """A key longer than its column cannot be cut short (two keys could become one row)."""
    if len(value) > limit:
        raise ImportFileError(path, line, f"{column} is {len(value):,} characters long, at most {limit} fit")


@dataclass
class ImportReport:
    """What an import did: rows read, rows skipped (by reason), rows created per table."""

    dataset: str
    rows_read: int = 0
    skipped: Counter = field(default_factory=Counter)
    created: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # The span of the dates the file's rows carry: rollups and other derived tables of those days
    # must be recomputed after the import (ecommerce.plugins.data_loaded).
    first_at: datetime | None = None
    last_at: datetime | None = None

    def saw(self, when: datetime) -> None:
        """Widen the dated span to include `when`."""
        if self.first_at is None or when < self.first_at:
            self.first_at = when
        if self.last_at is None or when > self.last_at:
            self.last_at = when

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    def lines(self) -> list[str]:
        out = [f"{self.dataset}: read {self.rows_read:,} rows in {self.seconds:.1f}s, skipped {self.rows_skipped:,}."]
        for table, count in self.created.items():
            total = self.totals.get(table)
            suffix = f" (now {total:,} in the table)" if total is not None else ""
            out.append(f"  {table}: {count:,} created{suffix}")
        if self.skipped:
            out.append("  skipped rows by reason:")
            for reason, count in self.skipped.most_common():
                out.append(f"    {count:>8,}  {reason}")
        return out


def table_counts(models: dict[str, type[Model]]) -> dict[str, int]:
    return {label: model.objects.count() for label, model in models.items()}


@contextmanager
def bulk_load_session() -> Iterator[None]:
    """Settings for one bulk import on this connection, restored afterwards.

    - DEBUG off: with DEBUG on (the embedded default) Django keeps the SQL of the last 9,000
      queries; bulk inserts of thousands of rows would hold hundreds of MB and spend a tenth
      of the import quoting parameters for that log.
    - SQLite: a 256 MB page cache. The event table's random UUID keys and its five indexes
      touch pages all over the file; with the default 2 MB cache the full UCI import spent
      more time waiting on I/O than computing.
    """
    debug = settings.DEBUG
    settings.DEBUG = False
    cache_size = None
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cache_size = cursor.execute("PRAGMA cache_size").fetchone()[0]
            cursor.execute("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        settings.DEBUG = debug
        catalogue_generation_bump()  # imported products and prices: cached pages are stale
        if cache_size is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")


# Keyword -> category for the UCI gift shop. First match wins, so the seasonal and the most
# specific groups come first ("CHRISTMAS CANDLE" is Christmas, "CANDLE PLATE" a candle).
# The words were chosen by reading the most frequent description tokens of the full data set.
CATEGORY_KEYWORDS: list[tuple[str, list[str]]] = [
    (
        "Christmas",
        [
            "CHRISTMAS",
            "XMAS",
            "SANTA",
            "REINDEER",
            "ADVENT",
            "SNOWFLAKE",
            "SNOWMAN",
            "NOEL",
            "BAUBLE",
            "NATIVITY",
            "ELF",
            "STOCKING",
            "TREE",
            "TINSEL",
        ],
    ),
    (
        "Candles & Lights",
        [
            "CANDLE",
            "T-LIGHT",
            "TLIGHT",
            "TEALIGHT",
            "LANTERN",
            "LIGHT",
            "LIGHTS",
            "LAMP",
            "LAMPSHADE",
            "LED",
            "NIGHTLIGHT",
            "CANDLEHOLDER",
            "INCENSE",
            "OIL BURNER",
        ],
    ),
    (
        "Jewellery",
        [
            "NECKLACE",
            "NECKL",
            "BRACELET",
            "EARRINGS",
            "EARRING",
            "BROOCH",
            "CHARM",
            "CHARMS",
            "DIAMANTE",
            "BEAD",
            "BEADS",
            "JEWEL",
            "JEWELLERY",
            "TIARA",
            "HAIR",
            "HAIRCLIP",
            "HAIRSLIDE",
            "RING",
            "RINGS",
            "BANGLE",
            "PENDANT",
            "KEY-RING",
            "KEYRING",
            "HAIRCLIP",
            "KEY-CHAIN",
            "HAIRBAND",
            "SCARF",
        ],
    ),
    (
        "Bags",
        [
            "BAG",
            "BAGS",
            "PURSE",
            "TOTE",
            "SHOPPER",
            "BACKPACK",
            "RUCKSACK",
            "HANDBAG",
            "SATCHEL",
            "WASHBAG",
            "JUMBO",
            "PASSPORT COVER",
            "LUGGAGE TAG",
            "UMBRELLA",
            "WALLET",
        ],
    ),
    (
        "Cards & Wrap",
        [
            "CARD",
            "CARDS",
            "WRAP",
            "GIFT TAG",
            "TAGS",
            "TISSUE",
            "TISSUES",
            "RIBBON",
            "RIBBONS",
            "ENVELOPE",
            "ENVELOPES",
            "PAPER CHAIN",
            "GIFTWRAP",
            "CONFETTI",
        ],
    ),
    (
        "Stationery",
        [
            "NOTEBOOK",
            "NOTEBOOKS",
            "PEN",
            "PENS",
            "PENCIL",
            "PENCILS",
            "ERASER",
            "RUBBER",
            "STICKER",
            "STICKERS",
            "DIARY",
            "JOURNAL",
            "MEMO",
            "CALENDAR",
            "STAMP",
            "BOOKMARK",
            "RULER",
            "SKETCHBOOK",
            "CHALK",
            "NOTEPAD",
            "NOTE",
            "NOTES",
            "CRAYONS",
            "PAPER",
            "BOOK",
            "BOOKCOVER",
            "STATIONERY",
            "TAPE",
            "STENCIL",
            "PAD",
            "PAPERWEIGHT",
            "ALBUM",
        ],
    ),
    (
        "Toys & Games",
        [
            "TOY",
            "TOYS",
            "GAME",
            "GAMES",
            "DOLL",
            "DOLLY",
            "PUZZLE",
            "JIGSAW",
            "SPACEBOY",
            "SKITTLES",
            "DOMINOES",
            "BALLOON",
            "BALLOONS",
            "TEDDY",
            "SOLDIER",
            "SPINNING",
            "BINGO",
            "DICE",
            "MARBLES",
            "CHILDRENS",
            "CHILDREN'S",
            "KIDS",
            "PLAYHOUSE",
            "BLOCKS",
            "SKIPPING",
            "FELTCRAFT",
            "PARTY",
            "MAGIC",
            "KITE",
            "WORLD WAR",
            "KIT",
            "CRAFT",
            "SEWING",
            "KNITTING",
            "BABY",
            "BIB",
            "HELICOPTER",
            "FELT",
            "BALL",
            "RADIO",
            "ANIMAL",
            "DUCK",
            "BUNNY",
        ],
    ),
    (
        "Garden",
        [
            "GARDEN",
            "PLANT",
            "PLANTER",
            "PLANTERS",
            "FLOWER POT",
            "BIRD",
            "BIRDHOUSE",
            "WATERING",
            "SEED",
            "SEEDS",
            "HERB",
            "HERBS",
            "TROWEL",
            "PARASOL",
            "DOORMAT",
            "PICNIC",
            "GNOME",
            "FEEDER",
            "GLOVES",
            "WINDMILL",
            "FLOWER",
            "ARTIFICIAL",
            "TOADSTOOL",
            "PEGS",
            "HEN",
            "EASTER",
        ],
    ),
    (
        "Kitchen",
        [
            "MUG",
            "MUGS",
            "CUP",
            "CUPS",
            "SAUCER",
            "PLATE",
            "PLATES",
            "BOWL",
            "BOWLS",
            "TEAPOT",
            "TEA",
            "COFFEE",
            "CAKE",
            "CAKES",
            "CAKESTAND",
            "CUPCAKE",
            "BAKING",
            "APRON",
            "JAR",
            "JARS",
            "SPOON",
            "SPOONS",
            "CUTLERY",
            "NAPKIN",
            "NAPKINS",
            "KITCHEN",
            "LUNCH",
            "TRAY",
            "COASTER",
            "COASTERS",
            "EGG",
            "JUG",
            "GLASS",
            "TOAST",
            "CHOPSTICKS",
            "RECIPE",
            "OVEN",
            "PANTRY",
            "BREAD",
            "BISCUIT",
            "DOILY",
            "DOILIES",
            "TUMBLER",
            "BEAKER",
            "BOTTLE",
            "STRAWS",
            "CHOPPING",
            "MOULD",
            "SUGAR",
            "MILK",
            "TIN",
            "PLACEMAT",
            "DISH",
            "FRIDGE",
            "FOOD",
            "CAKECASES",
            "PANCAKE",
        ],
    ),
    (
        "Home Decor",
        [
            "FRAME",
            "CUSHION",
            "CLOCK",
            "SIGN",
            "HOOK",
            "HOOKS",
            "HANGER",
            "HANGERS",
            "MIRROR",
            "VASE",
            "DOORSTOP",
            "HEART",
            "HEARTS",
            "WALL",
            "DECORATION",
            "ORNAMENT",
            "BOX",
            "BOXES",
            "STORAGE",
            "DRAWER",
            "CABINET",
            "THROW",
            "QUILT",
            "BLANKET",
            "DOOR",
            "PLAQUE",
            "HOLDER",
            "BUNTING",
            "GARLAND",
            "WREATH",
            "CHALKBOARD",
            "BLACKBOARD",
            "SHELF",
            "BASKET",
            "HANGING",
            "CURTAIN",
            "MAT",
            "TOWEL",
            "WICKER",
            "MAGNET",
            "PICTURE",
            "ART",
            "PHOTO",
            "TILE",
            "LETTERS",
            "RACK",
            "STOOL",
            "CHEST",
            "MOBILE",
            "SOAP",
            "BATH",
            "SPONGE",
            "WARMER",
            "DOORSIGN",
            "WHITE",
        ],
    ),
]
OTHER_CATEGORY = "Other"
CATEGORY_NAMES = [name for name, _ in CATEGORY_KEYWORDS] + [OTHER_CATEGORY]

_CATEGORY_PATTERNS = [
    (name, re.compile(r"(?<![A-Z0-9])(" + "|".join(re.escape(w) for w in words) + r")S?(?![A-Z0-9])"))
    for name, words in CATEGORY_KEYWORDS
]


def category_for_description(description: str) -> str:
    """The shop category a UCI product belongs to, from keywords in its description."""
    text = description.upper()
    for name, pattern in _CATEGORY_PATTERNS:
        if pattern.search(text):
            return name
    return OTHER_CATEGORY


def ensure_categories(names: list[str], parent: Category | None = None, slug_prefix: str = "") -> dict[str, Category]:
    """get-or-create categories by slug (a rerun adds nothing); returns name -> Category."""
    out: dict[str, Category] = {}
    for name in names:
        slug = slugify(f"{slug_prefix}{name.replace('&', 'and')}")[:140]
        category, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name, "parent": parent})
        out[name] = category
    return out


_WORD_START = re.compile(r"(?<![\w'])[a-z]")


def display_title(description: str) -> str:
    """'WHITE HANGING HEART T-LIGHT HOLDER' -> 'White Hanging Heart T-Light Holder' for the shop pages."""
    return _WORD_START.sub(lambda m: m.group(0).upper(), " ".join(description.split()).lower())


def insert_ignoring_conflicts(model: type[Model], columns: list[str], rows: list[tuple]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for the big import tables (ecommerce.bulk.bulk_insert).

    Building a model instance per row and letting bulk_create compile the SQL cost about half
    of the import's CPU time (py-spy, docs/data.md); rows here are plain tuples in `columns`
    order, already valid. A row whose unique key exists is skipped, so reruns add nothing.
    Events of past months get their monthly partitions first (PostgreSQL, ecommerce/partitions.py),
    so imported history does not pile up in the default partition.
    """
    if model is Event and rows:
        at = columns.index("occurred_at")
        event_partitions_ensure_for(row[at] for row in rows)
    bulk_insert(model, columns, rows, ignore_conflicts=True)
