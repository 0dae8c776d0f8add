"""The UCI Online Retail importer, on a small CSV written here, and once on the full file."""

from __future__ import annotations

import gzip
import io
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from ecommerce.importers.common import category_for_description, display_title
from ecommerce.importers.online_retail import FEE_STOCK_CODES, import_online_retail
from ecommerce.models import Event, Order, OrderItem, Product, User
from ecommerce.services.events import event_id_for

pytestmark = pytest.mark.django_db

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROWS = [
    # a customer's invoice: two products and postage
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
    "536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850.0,United Kingdom",
    # a guest invoice, later price for 85123A, and a negative line (a return within the invoice)
    "536366,85123A,WHITE HANGING HEART T-LIGHT HOLDER,2,2011-01-05 10:00:00,2.95,,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,-1,2011-01-05 10:00:00,1.85,,United Kingdom",
    # a cancellation
    "C536379,71053,WHITE METAL LANTERN,-1,2010-12-02 09:41:00,3.39,17850.0,United Kingdom",
    # bad rows: date, stock code, zero-priced fee, price, negative price
    "536367,22633,HAND WARMER UNION JACK,3,not a date,1.85,12583.0,France",
    "536368,,MISSING CODE,1,2010-12-03 10:00:00,1.00,12583.0,France",
    "536369,DOT,DOTCOM POSTAGE,1,2010-12-03 10:00:00,0,12583.0,France",
    "536371,22633,HAND WARMER UNION JACK,1,2010-12-03 10:00:00,abc,12583.0,France",
    "A563186,B,Adjust bad debt,1,2011-08-12 14:51:00,-11062.06,,United Kingdom",
    # another customer, a rarer spelling of the lantern, a manual line spelled 'm'
    "536370,71053,white metal lantern,1,2010-12-04 10:00:00,3.50,12583.0,France",
    "536370,22633,HAND WARMER UNION JACK,4,2010-12-04 10:00:00,2.10,12583.0,France",
    "536370,m,Manual,1,2010-12-04 10:00:00,5.00,12583.0,France",
    # the first invoice again, further down the file: its line numbers continue
    "536365,22633,HAND WARMER UNION JACK,1,2010-12-01 08:26:00,1.85,17850.0,United Kingdom",
]


def _write_csv(folder: Path, rows: list[str] = ROWS, gz: bool = False) -> Path:
    text = HEADER + "\n".join(rows) + "\n"
    if gz:
        path = folder / "retail.csv.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = folder / "retail.csv"
        path.write_text(text)
    return path


def _counts() -> dict[str, int]:
    return {
        "products": Product.objects.count(),
        "users": User.objects.count(),
        "orders": Order.objects.count(),
        "items": OrderItem.objects.count(),
        "events": Event.objects.count(),
    }


def test_import_online_retail_creates_products_customers_orders_and_events(tmp_path):
    # when
    report = import_online_retail(path=_write_csv(tmp_path), progress=False)
    # then
    assert _counts() == {"products": 5, "users": 2, "orders": 4, "items": 10, "events": 6}
    assert report.rows_read == len(ROWS)
    assert report.skipped == {
        "invoice date is not a date": 1,
        "missing stock code": 1,
        "zero price on a fee line": 1,
        "unit price is not a number": 1,
        "negative unit price (an accounting adjustment, not a sale)": 1,
    }
    assert report.created["orders"] == 4 and report.created["events"] == 6


def test_import_online_retail_product_title_price_category_and_stock(tmp_path):
    import_online_retail(path=_write_csv(tmp_path), progress=False)
    heart = Product.objects.get(sku="85123A")
    lantern = Product.objects.get(sku="71053")
    warmer = Product.objects.get(sku="22633")
    # the most common description wins; the price is the latest one
    assert lantern.title == "White Metal Lantern"
    assert lantern.price == Decimal("3.50")
    assert heart.price == Decimal("2.95")
    assert warmer.price == Decimal("1.85")
    assert heart.category.name == "Candles & Lights"
    assert heart.stock > 0 and heart.is_active and not heart.is_non_product
    assert set(Product.objects.sellable().values_list("sku", flat=True)) == {"85123A", "71053", "22633"}


def test_import_online_retail_marks_fee_lines_as_non_products(tmp_path):
    import_online_retail(path=_write_csv(tmp_path), progress=False)
    fees = Product.objects.filter(is_non_product=True)
    assert set(fees.values_list("sku", flat=True)) == {"POST", "m"}
    assert all(p.category_id is None and p.stock == 0 for p in fees)
    # kept on the order, but no purchase event counts them
    assert OrderItem.objects.filter(product__sku="POST", order__number="536365").exists()
    assert not Event.objects.filter(product__is_non_product=True).exists()
    assert {"POST", "DOT", "M", "C2", "BANK CHARGES", "D", "AMAZONFEE", "B", "CRUK", "S"} == FEE_STOCK_CODES


def test_import_online_retail_customers_guests_and_cancellations(tmp_path):
    import_online_retail(path=_write_csv(tmp_path), progress=False)
    customer = User.objects.get(external_id="17850")
    assert customer.username == "customer-17850"
    assert customer.country == "United Kingdom"
    assert not customer.has_usable_password()
    assert User.objects.get(external_id="12583").country == "France"
    guest = Order.objects.get(number="536366")
    assert guest.user is None and guest.status == Order.Status.DELIVERED and guest.source == "uci"
    cancelled = Order.objects.get(number="C536379")
    assert cancelled.status == Order.Status.CANCELLED and cancelled.user == customer
    order = Order.objects.get(number="536365")
    assert order.placed_at.isoformat() == "2010-12-01T08:26:00+00:00"
    assert order.user == customer and order.status == Order.Status.DELIVERED


def test_import_online_retail_keeps_raw_quantities_and_line_numbers(tmp_path):
    import_online_retail(path=_write_csv(tmp_path), progress=False)
    lines = list(
        OrderItem.objects.filter(order__number="536365")
        .order_by("line_number")
        .values_list("line_number", "product__sku", "quantity", "unit_price")
    )
    assert lines == [
        (1, "85123A", 6, Decimal("2.55")),
        (2, "71053", 6, Decimal("3.39")),
        (3, "POST", 1, Decimal("18.00")),
        (4, "22633", 1, Decimal("1.85")),
    ]
    negative = OrderItem.objects.get(order__number="536366", line_number=2)
    assert negative.quantity == -1
    assert OrderItem.objects.get(order__number="C536379").quantity == -1


def test_import_online_retail_purchase_events_have_deterministic_ids(tmp_path):
    import_online_retail(path=_write_csv(tmp_path), progress=False)
    event = Event.objects.get(pk=event_id_for("uci", "536365", 1))
    assert event.type == Event.Type.PURCHASE
    assert event.user.external_id == "17850"
    assert event.product.sku == "85123A"
    assert event.occurred_at.isoformat() == "2010-12-01T08:26:00+00:00"
    assert event.properties == {"order": "536365", "quantity": 6, "price": "2.55", "source": "uci"}
    # the guest's purchase has no user; negative lines and cancellations have no purchase event
    assert Event.objects.get(pk=event_id_for("uci", "536366", 1)).user is None
    assert not Event.objects.filter(pk=event_id_for("uci", "536366", 2)).exists()
    assert not Event.objects.filter(properties__order="C536379").exists()


def test_import_online_retail_rerun_adds_nothing(tmp_path):
    path = _write_csv(tmp_path)
    import_online_retail(path=path, progress=False)
    before = _counts()
    # when
    report = import_online_retail(path=path, progress=False)
    # then
    assert _counts() == before
    assert all(count == 0 for count in report.created.values())


def test_import_online_retail_limited_run_is_completed_by_a_full_run(tmp_path):
    path = _write_csv(tmp_path)
    import_online_retail(path=path, limit_rows=2, progress=False)
    assert OrderItem.objects.filter(order__number="536365").count() == 2
    import_online_retail(path=path, progress=False)
    assert OrderItem.objects.filter(order__number="536365").count() == 4
    assert _counts() == {"products": 5, "users": 2, "orders": 4, "items": 10, "events": 6}


def test_import_online_retail_does_not_overwrite_an_edited_product(tmp_path):
    path = _write_csv(tmp_path)
    import_online_retail(path=path, progress=False)
    Product.objects.filter(sku="85123A").update(title="Merchant's own title", price=Decimal("4.00"))
    import_online_retail(path=path, progress=False)
    heart = Product.objects.get(sku="85123A")
    assert (heart.title, heart.price) == ("Merchant's own title", Decimal("4.00"))


def test_import_dataset_command_reads_gzip_and_reports_skips(tmp_path):
    out = StringIO()
    call_command("import_dataset", "online_retail", str(_write_csv(tmp_path, gz=True)), "--no-progress", stdout=out)
    text = out.getvalue()
    assert "orders: 4 created" in text
    assert "zero price on a fee line" in text and "invoice date is not a date" in text
    assert Order.objects.count() == 4


def test_import_dataset_command_refuses_a_missing_file_or_wrong_columns(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_dataset", "online_retail", str(tmp_path / "nope.csv"))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(CommandError, match="missing columns"):
        call_command("import_dataset", "online_retail", str(wrong), "--no-progress")


def test_category_for_description_uses_keywords():
    assert category_for_description("SET OF 3 CAKE TINS PANTRY DESIGN") == "Kitchen"
    assert category_for_description("PAPER CHAIN KIT 50'S CHRISTMAS") == "Christmas"
    assert category_for_description("JUMBO BAG RED RETROSPOT") == "Bags"
    assert category_for_description("SUNSET CHECK HAMMOCK") == "Other"
    assert display_title("PAPER CHAIN KIT 50'S CHRISTMAS ") == "Paper Chain Kit 50's Christmas"


@pytest.mark.realdata
def test_import_online_retail_full_uci_file_lands_whole_and_idempotently():
    path = Path(settings.SHARED_DATA_DIR) / "uci-online-retail" / "online_retail.csv.gz"
    # when
    report = import_online_retail(path=path, progress=False)
    # then
    assert report.rows_read == 541_909
    assert User.objects.filter(external_id__isnull=False).count() == 4_372
    assert Product.objects.count() == 4_070
    # 25,900 invoices; 9 consist only of skipped rows (zero-priced fees, bad-debt adjustments)
    assert Order.objects.count() == 25_891
    assert Order.objects.filter(status=Order.Status.CANCELLED).count() == 3_836
    assert OrderItem.objects.count() == 541_909 - report.rows_skipped
    assert set(Product.objects.filter(is_non_product=True).values_list("sku", flat=True)) == (FEE_STOCK_CODES | {"m"})
    # when it runs again
    before = _counts()
    again = import_online_retail(path=path, progress=False)
    # then nothing is added
    assert _counts() == before
    assert all(count == 0 for count in again.created.values())


def test_import_command_queues_the_analytics_refresh_of_the_imported_days(
    tmp_path, django_capture_on_commit_callbacks, eager_tasks
):
    from analytics.models import DailyMetric

    path = _write_csv(tmp_path)
    out = io.StringIO()
    # when the command imports (the refresh it queues runs once the import has committed)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_dataset", "online_retail", str(path), "--no-progress", stdout=out)
    # then the dated span of the imported rows (skipped rows do not count) is rolled up, nothing else run
    assert "Queued a refresh of analytics for 2010-12-01 to 2011-01-05." in out.getvalue()
    assert DailyMetric.objects.filter(metric="orders", day="2010-12-01").get().count == 1
    assert DailyMetric.objects.filter(metric="orders", day="2011-01-05").exists()
