"""Import the UCI Online Retail data set (invoice lines of a UK gift shop, 2010-12 to 2011-12).

All or nothing: the whole import is one transaction, and a bad file (truncated or corrupt
gzip, a NUL byte, invalid UTF-8, an oversized field or key, no rows, a wrong header) raises
ImportFileError naming the file and line before anything is written, because:

1. scan: validates every line of the file, counts skipped rows by reason, and aggregates per
   stock code (the most common description -> title, the latest positive price, units sold)
   and per customer (the most common country). Nothing is written while the file is read.
2. write (one transaction): categories, products and customers in bulk, then orders, order
   lines and purchase events in chunks of invoices (a chunk is one round of statements, not a
   commit). Any error, a second read of a file that changed meanwhile included, rolls back all.

Streaming keeps memory bounded by the number of distinct products and customers (a few
thousand), never by the number of rows. Every write is keyed by a natural key (Product.sku,
User.external_id, Order.number, (OrderItem.order, line_number), the deterministic Event id) and
inserted ignoring conflicts, so a rerun, or a full run after a `--limit-rows` run, adds only
what is missing. Existing products and customers are never overwritten (a merchant may have
edited them).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count
from tqdm import tqdm

from ..models import EVENT_ROW_COLUMNS, Category, Event, Order, OrderItem, Product, User
from ..services.events import event_id_for
from .common import (
    CATEGORY_NAMES,
    ImportFileError,
    ImportReport,
    bulk_load_session,
    category_for_description,
    csv_records,
    display_title,
    ensure_categories,
    insert_ignoring_conflicts,
    open_lines,
    require_length,
    table_counts,
)
from .uci_codes import FEE_STOCK_CODES

logger = logging.getLogger(__name__)

DATASET = "online_retail"
# FEE_STOCK_CODES (postage, bank charges, adjustments, fees, charity) are kept on the orders,
# never recommended, advertised or counted as products (Product.is_non_product).
COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
# ~1,000 invoices are ~21,000 lines: a few MB of rows per round of statements, few round trips.
INVOICES_PER_CHUNK = 1000
INSERT_BATCH = 5000
SOURCE = "uci"
ITEM_COLUMNS = ["order_id", "product_id", "title", "quantity", "unit_price", "line_number"]
# Keys cannot be cut short to fit: the column lengths of the rows they become.
KEY_LIMITS = {
    "InvoiceNo": Order._meta.get_field("number").max_length,
    "StockCode": Product._meta.get_field("sku").max_length,
    "CustomerID": User._meta.get_field("external_id").max_length,
}
MAX_QUANTITY = 2**31 - 1  # IntegerField on every database
MAX_PRICE = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
# Serialises imports on PostgreSQL (pg_advisory_xact_lock): a second run waits for the first
# to commit or roll back, then finds its rows and adds only what is missing.
ADVISORY_LOCK_KEY = 0x5543_4931  # "UCI1"


def is_fee_code(stock_code: str) -> bool:
    """Fee/adjustment codes; the data also spells the manual line 'm', hence the upper()."""
    return stock_code.upper() in FEE_STOCK_CODES


@dataclass(frozen=True, slots=True)
class RetailRow:
    invoice: str
    stock_code: str
    description: str
    quantity: int
    invoiced_at: datetime
    unit_price: Decimal
    customer_id: str  # "" for guests
    country: str

    @property
    def is_cancellation(self) -> bool:
        return self.invoice.startswith("C")


def _parse_date(value: str) -> datetime:
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)  # this copy: 2010-12-01 08:26:00
    except ValueError:
        # UCI's spreadsheet: 12/1/2010 8:26, naive on purpose: the zone is set just below.
        parsed = datetime.strptime(value, "%m/%d/%Y %H:%M")  # noqa: DTZ007
    # The retailer's local (UK) time, recorded as UTC as agreed for the whole project.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _customer_id(value: str) -> str:
    """'17850.0' -> '17850'; '' stays '' (a guest)."""
    value = value.strip()
    if value.endswith(".0"):
        value = value[:-2]
    return value


def parse_row(raw: list[str], index: dict[str, int]) -> tuple[RetailRow | None, str]:
    """A validated row, or (None, reason) for the skip report."""
    try:
        invoice = raw[index["InvoiceNo"]].strip()
        stock_code = raw[index["StockCode"]].strip()
        description = " ".join(raw[index["Description"]].split())
        quantity_raw = raw[index["Quantity"]]
        date_raw = raw[index["InvoiceDate"]]
        price_raw = raw[index["UnitPrice"]]
        customer = _customer_id(raw[index["CustomerID"]])
        country = raw[index["Country"]].strip()
    except IndexError:
        return None, "too few columns"
    if not invoice:
        return None, "missing invoice number"
    if not stock_code:
        return None, "missing stock code"
    try:
        quantity = int(quantity_raw)
    except ValueError:
        return None, "quantity is not an integer"
    if quantity == 0:
        return None, "zero quantity"
    if abs(quantity) > MAX_QUANTITY:
        return None, "quantity out of range"
    try:
        unit_price = Decimal(price_raw.strip())
    except InvalidOperation:
        return None, "unit price is not a number"
    if not unit_price.is_finite():
        return None, "unit price is not a number"
    if unit_price < 0:
        return None, "negative unit price (an accounting adjustment, not a sale)"
    if unit_price > MAX_PRICE:
        return None, "unit price out of range"
    if unit_price == 0 and is_fee_code(stock_code):
        return None, "zero price on a fee line"
    try:
        invoiced_at = _parse_date(date_raw)
    except ValueError:
        return None, "invoice date is not a date"
    if customer and not customer.isdigit():
        return None, "customer id is not a number"
    return RetailRow(
        invoice,
        stock_code,
        description[:255],
        quantity,
        invoiced_at,
        unit_price.quantize(Decimal("0.01")),
        customer,
        country[:64],
    ), ""


RowFilter = Callable[[RetailRow], bool]


def _rows(
    path: Path,
    *,
    limit_rows: int | None,
    report: ImportReport | None,
    keep: RowFilter | None,
    progress: bool,
    desc: str,
    total: int | None,
) -> Iterator[RetailRow]:
    """Stream validated rows; count reads and skips into `report` when given (the first pass).

    Raises ImportFileError for a file that cannot be trusted as a whole (see the module doc).
    """
    with open_lines(path) as lines:
        reader = csv_records(lines)
        header = next(reader, None)
        if header is None:
            raise ImportFileError(path, None, "the file is empty (no header line)")
        header = [h.strip().lstrip("\ufeff") for h in header]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ImportFileError(path, 1, f"not a UCI Online Retail file: missing columns {', '.join(missing)}")
        index = {name: header.index(name) for name in COLUMNS}
        keys = [(name, index[name], limit) for name, limit in KEY_LIMITS.items()]
        bar = tqdm(
            reader,
            total=total,
            desc=desc,
            unit=" rows",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            mininterval=0.5,
        )
        count = data_rows = 0
        for raw in bar:
            if limit_rows is not None and count >= limit_rows:
                break
            count += 1
            if not raw:
                continue
            data_rows += 1
            for name, column, limit in keys:
                if column < len(raw) and len(raw[column]) > limit:  # cheap test first: rare
                    value = _customer_id(raw[column]) if name == "CustomerID" else raw[column].strip()
                    require_length(path, lines.line, name, value, limit)
            row, reason = parse_row(raw, index)
            if row is not None and keep is not None and not keep(row):
                continue
            if report is not None:
                report.rows_read += 1
                if row is None:
                    report.skipped[reason] += 1
                else:
                    report.saw(row.invoiced_at)
            if row is not None:
                yield row
        bar.close()
        if data_rows == 0 and limit_rows != 0:
            raise ImportFileError(path, lines.line + 1, "no data rows after the header")


@dataclass
class _ProductStats:
    descriptions: Counter
    latest_price: Decimal
    latest_price_at: datetime | None
    any_price: Decimal
    units_sold: int = 0


def import_online_retail(
    *,
    path: str | Path,
    limit_rows: int | None = None,
    keep: RowFilter | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import (or complete) the UCI Online Retail file at `path`, all or nothing. Safe to rerun.

    Raises ImportFileError (a ValueError) for a bad file; nothing is written then.
    """
    path = Path(path)
    started = time.perf_counter()
    report = ImportReport(dataset=DATASET)
    counted = {
        "categories": Category,
        "products": Product,
        "customers": User,
        "orders": Order,
        "order_items": OrderItem,
        "events": Event,
    }
    with bulk_load_session(), transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        before = table_counts(counted)
        report = _import(path, report, limit_rows=limit_rows, keep=keep, progress=progress)
        after = table_counts(counted)
    report.created = {label: after[label] - before[label] for label in counted}
    report.totals = after
    report.seconds = time.perf_counter() - started
    logger.info("import.online_retail_done", extra={"rows": report.rows_read, "seconds": round(report.seconds, 1)})
    return report


def _import(
    path: Path, report: ImportReport, *, limit_rows: int | None, keep: RowFilter | None, progress: bool
) -> ImportReport:

    # Pass 1: aggregate what products and customers need.
    products: dict[str, _ProductStats] = {}
    countries: dict[str, Counter] = defaultdict(Counter)
    for row in _rows(path, limit_rows=limit_rows, report=report, keep=keep, progress=progress, desc="scan", total=None):
        stats = products.get(row.stock_code)
        if stats is None:
            stats = products[row.stock_code] = _ProductStats(Counter(), Decimal("0"), None, row.unit_price)
        if row.description:
            stats.descriptions[row.description] += 1
        if (
            not row.is_cancellation
            and row.unit_price > 0
            and (stats.latest_price_at is None or row.invoiced_at >= stats.latest_price_at)
        ):
            stats.latest_price, stats.latest_price_at = row.unit_price, row.invoiced_at
        if row.unit_price > 0:
            stats.any_price = row.unit_price
        if row.quantity > 0 and not row.is_cancellation:
            stats.units_sold += row.quantity
        if row.customer_id:
            countries[row.customer_id][row.country] += 1

    product_ids = _create_products(products)
    user_ids = _create_customers(countries)
    del products, countries

    # Pass 2: orders, lines and purchase events, a chunk of invoices at a time.
    next_line: dict[str, int] = defaultdict(int)  # an invoice split across the file keeps counting
    chunk: dict[str, list[RetailRow]] = {}
    for row in _rows(
        path, limit_rows=limit_rows, report=None, keep=keep, progress=progress, desc="load", total=report.rows_read
    ):
        if row.invoice not in chunk and len(chunk) >= INVOICES_PER_CHUNK:
            _write_invoices(chunk, product_ids, user_ids, next_line)
            chunk = {}
        chunk.setdefault(row.invoice, []).append(row)
    if chunk:
        _write_invoices(chunk, product_ids, user_ids, next_line)
    return report


def _create_products(products: dict[str, _ProductStats]) -> dict[str, int]:
    categories = ensure_categories(CATEGORY_NAMES)
    rows = []
    for code, stats in products.items():
        fee = is_fee_code(code)
        # Most common description; ties go to the first seen (Counter keeps insertion order).
        raw_title = stats.descriptions.most_common(1)[0][0] if stats.descriptions else ""
        price = stats.latest_price if stats.latest_price_at is not None else stats.any_price
        sellable = bool(raw_title) and price > 0 and not fee
        rows.append(
            Product(
                sku=code[:64],
                title=display_title(raw_title)[:255] if raw_title else f"Item {code}",
                description=raw_title,
                category=None if fee else categories[category_for_description(raw_title)],
                price=max(price, Decimal("0")),
                currency="GBP",
                # Positive stock makes the catalogue sellable: about a month of the year's sales.
                stock=0 if fee else max(10, min(1000, stats.units_sold // 12)),
                is_active=sellable,
                is_non_product=fee,
                attributes={"source": SOURCE, "uci_description": raw_title},
            )
        )
    Product.objects.bulk_create(rows, ignore_conflicts=True, batch_size=INSERT_BATCH)
    return dict(Product.objects.values_list("sku", "id"))


def _create_customers(countries: dict[str, Counter]) -> dict[str, int]:
    unusable = make_password(None)  # customers of the data set cannot log in
    rows = [
        User(
            username=f"customer-{cid}",
            external_id=cid,
            country=counter.most_common(1)[0][0],
            password=unusable,
            is_active=True,
        )
        for cid, counter in countries.items()
    ]
    User.objects.bulk_create(rows, ignore_conflicts=True, batch_size=INSERT_BATCH)
    ids: dict[str, int] = {}
    wanted = list(countries)
    for start in range(0, len(wanted), 2000):  # bounded IN lists for SQLite's parameter limit
        part = wanted[start : start + 2000]
        ids.update(User.objects.filter(external_id__in=part).values_list("external_id", "id"))
        missing = [f"customer-{cid}" for cid in part if cid not in ids]
        if missing:  # a username taken without an external id: reuse that account
            ids.update(
                (u.removeprefix("customer-"), pk)
                for u, pk in User.objects.filter(username__in=missing).values_list("username", "id")
            )
    return ids


def _write_invoices(
    chunk: dict[str, list[RetailRow]], product_ids: dict[str, int], user_ids: dict[str, int], next_line: dict[str, int]
) -> None:
    orders = []
    for invoice, lines in chunk.items():
        first = lines[0]
        orders.append(
            Order(
                number=invoice,
                user_id=user_ids.get(first.customer_id) if first.customer_id else None,
                status=Order.Status.CANCELLED if first.is_cancellation else Order.Status.DELIVERED,
                placed_at=first.invoiced_at,
                currency="GBP",
                country=first.country,
                source=SOURCE,
            )
        )
    Order.objects.bulk_create(orders, ignore_conflicts=True, batch_size=INSERT_BATCH)
    order_ids = dict(Order.objects.filter(number__in=list(chunk)).values_list("number", "id"))
    # Lines and events are written in the same transaction, so an invoice that already has
    # every line we are about to write also has its events: skip it (fast reruns).
    existing_lines = dict(
        OrderItem.objects.filter(order_id__in=list(order_ids.values()))
        .values("order_id")
        .annotate(n=Count("id"))
        .values_list("order_id", "n")
    )
    items: list[tuple] = []
    events: list[tuple] = []
    for invoice, lines in chunk.items():
        order_id = order_ids[invoice]
        if existing_lines.get(order_id, 0) >= next_line[invoice] + len(lines):
            next_line[invoice] += len(lines)
            continue
        for row in lines:
            next_line[invoice] += 1
            line_number = next_line[invoice]
            product_id = product_ids[row.stock_code]
            items.append(
                (order_id, product_id, row.description or row.stock_code, row.quantity, row.unit_price, line_number)
            )
            if row.quantity > 0 and row.unit_price > 0 and not row.is_cancellation and not is_fee_code(row.stock_code):
                events.append(
                    (
                        event_id_for(SOURCE, invoice, line_number),
                        Event.Type.PURCHASE.value,
                        row.invoiced_at,
                        row.invoiced_at,
                        user_ids.get(row.customer_id) if row.customer_id else None,
                        "",
                        "",
                        product_id,
                        "",
                        {"order": invoice, "quantity": row.quantity, "price": str(row.unit_price), "source": SOURCE},
                    )
                )
    insert_ignoring_conflicts(OrderItem, ITEM_COLUMNS, items)
    insert_ignoring_conflicts(Event, EVENT_ROW_COLUMNS, events)
