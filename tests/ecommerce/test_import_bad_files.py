"""Imports are all or nothing: every bad file ends in one clear CommandError and no new rows.

Each test writes a small file into its tmp dir (a bad copy of a good one) and runs
`import_dataset` the way an operator would; the counts of every table the importers write
must be what they were before the run.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ecommerce.importers.online_retail import import_online_retail
from ecommerce.models import Category, Event, Order, OrderItem, Product, User
from tests.ecommerce.test_import_movielens import _folder

pytestmark = pytest.mark.django_db(transaction=False)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def _good_rows(n: int) -> list[str]:
    """n lines of n // 2 invoices (two lines each), three customers and a guest."""
    rows = []
    for i in range(n):
        invoice = 540000 + i // 2
        customer = ["17850.0", "12583.0", "13047.0", ""][(i // 2) % 4]
        rows.append(
            f"{invoice},{22000 + i % 7},SET OF {i % 7} RED CANDLES,{1 + i % 3},"
            f"2011-01-{1 + i % 28:02d} 10:00:00,1.{i % 90:02d},{customer},United Kingdom"
        )
    return rows


def _text(rows: list[str]) -> str:
    return HEADER + "\n" + "\n".join(rows) + "\n"


def _counts() -> dict[str, int]:
    return {
        "categories": Category.objects.count(),
        "products": Product.objects.count(),
        "users": User.objects.count(),
        "orders": Order.objects.count(),
        "items": OrderItem.objects.count(),
        "events": Event.objects.count(),
    }


def _import_fails(path: Path, *extra: str) -> str:
    """Run the command on `path`; it must fail with one line and leave every table as it was."""
    before = _counts()
    with pytest.raises(CommandError) as raised:
        call_command("import_dataset", "online_retail", str(path), "--no-progress", *extra)
    message = str(raised.value)
    assert "\n" not in message
    assert str(path) in message
    assert "nothing was imported" in message.lower()
    assert _counts() == before
    return message


@pytest.fixture
def chunked(monkeypatch):
    """Two invoices per write chunk, so a 3,000-line file is written in many chunks (the
    reported bug: chunks before the bad line stayed committed)."""
    monkeypatch.setattr("ecommerce.importers.online_retail.INVOICES_PER_CHUNK", 2)


def test_import_nul_byte_deep_in_the_file_names_its_line_and_writes_nothing(tmp_path, chunked):
    # given a file whose line 2500 (the header is line 1) carries a NUL byte
    rows = _good_rows(3000)
    rows[2498] = rows[2498].replace("RED", "R\x00ED")
    path = tmp_path / "retail.csv"
    path.write_text(_text(rows))
    # when / then
    message = _import_fails(path)
    assert "line 2500" in message and "NUL" in message
    assert Order.objects.count() == 0


def test_import_truncated_gzip_writes_nothing(tmp_path, chunked):
    data = gzip.compress(_text(_good_rows(3000)).encode())
    path = tmp_path / "retail.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    message = _import_fails(path)
    assert "truncated" in message and "line " in message


def test_import_gzip_with_a_bad_checksum_writes_nothing(tmp_path, chunked):
    data = bytearray(gzip.compress(_text(_good_rows(300)).encode()))
    data[-8] ^= 0xFF  # the CRC-32 in the trailer: all rows decompress, then the check fails
    path = tmp_path / "retail.csv.gz"
    path.write_bytes(bytes(data))
    message = _import_fails(path)
    assert "corrupt" in message and "line 302" in message


def test_import_gzip_with_corrupt_compressed_data_writes_nothing(tmp_path):
    data = bytearray(gzip.compress(_text(_good_rows(10)).encode()))
    data[10] = 0x07  # first deflate block header: final block of the reserved type 3
    path = tmp_path / "retail.csv.gz"
    path.write_bytes(bytes(data))
    message = _import_fails(path)
    assert "corrupt" in message and "line 1" in message


def test_import_oversized_field_names_its_line_and_writes_nothing(tmp_path, chunked):
    rows = _good_rows(100)
    rows[49] = rows[49].replace("RED CANDLES", "X" * 200_000)
    path = tmp_path / "retail.csv"
    path.write_text(_text(rows))
    message = _import_fails(path)
    assert "line 51" in message and "longer than" in message


def test_import_key_longer_than_its_column_is_refused(tmp_path):
    # an invoice number cannot be cut short: two invoices would become one order
    rows = _good_rows(10)
    rows[6] = "9" * 40 + rows[6][6:]
    path = tmp_path / "retail.csv"
    path.write_text(_text(rows))
    message = _import_fails(path)
    assert "line 8" in message and "InvoiceNo" in message and "32" in message


def test_import_invalid_utf8_names_its_line(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_bytes(_text(_good_rows(10)).encode().replace(b"SET OF 3", b"SET OF \xff"))
    message = _import_fails(path)
    assert "line 5" in message and "UTF-8" in message


@pytest.mark.parametrize("content", [b"", gzip.compress(b"")], ids=["empty", "empty-gzip"])
def test_import_empty_file_is_an_error_not_a_success(tmp_path, content):
    path = tmp_path / "retail.csv.gz"
    path.write_bytes(content)
    message = _import_fails(path)
    assert "empty" in message


def test_import_header_without_rows_is_an_error(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text(HEADER + "\n")
    message = _import_fails(path)
    assert "no data rows" in message and "line 2" in message


def test_import_wrong_header_names_the_file_and_line_1(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order,sku,qty\n1,2,3\n")
    message = _import_fails(path)
    assert "line 1" in message and "missing columns" in message and "InvoiceNo" in message


def test_import_failure_while_writing_rolls_back_every_chunk(tmp_path, chunked):
    # given a file that is fine in the validating pass and fails in the writing pass, after
    # many chunks were written (the `keep` filter raises the second time it sees line 2500)
    rows = _good_rows(3000)
    path = tmp_path / "retail.csv"
    path.write_text(_text(rows))
    seen: dict[str, int] = {}

    def keep(row) -> bool:
        if row.invoice == "541249":
            seen[row.invoice] = seen.get(row.invoice, 0) + 1
            if seen[row.invoice] > 2:
                raise RuntimeError("the disk went away")
        return True

    before = _counts()
    # when
    with pytest.raises(RuntimeError):
        import_online_retail(path=path, keep=keep, progress=False)
    # then
    assert _counts() == before


def test_import_rerun_after_a_failed_import_imports_everything(tmp_path, chunked):
    rows = _good_rows(300)
    bad = tmp_path / "retail.csv"
    bad.write_text(_text(rows[:200] + ["541\x00"] + rows[200:]))
    _import_fails(bad)
    good = tmp_path / "fixed.csv"
    good.write_text(_text(rows))
    # when
    call_command("import_dataset", "online_retail", str(good), "--no-progress")
    # then
    assert (Order.objects.count(), OrderItem.objects.count()) == (150, 300)


# ---------------------------------------------------------------- MovieLens


def _ml_counts() -> dict[str, int]:
    return _counts()


def _movielens_fails(folder: Path) -> str:
    before = _ml_counts()
    with pytest.raises(CommandError) as raised:
        call_command("import_dataset", "movielens", str(folder), "--no-progress")
    message = str(raised.value)
    assert "\n" not in message and "nothing was imported" in message.lower()
    assert _ml_counts() == before
    return message


def test_movielens_nul_byte_in_ratings_rolls_back_users_and_movies(tmp_path):
    folder = _folder(tmp_path)
    with (folder / "u.data").open("ab") as handle:
        handle.write(b"1\t2\t\x005\t878542960\n")
    message = _movielens_fails(folder)
    assert str(folder / "u.data") in message and "line 6" in message and "NUL" in message
    assert not User.objects.filter(external_id__startswith="movielens:").exists()


@pytest.mark.parametrize("name", ["u.user", "u.item", "u.data"])
def test_movielens_empty_file_is_an_error(tmp_path, name):
    folder = _folder(tmp_path)
    (folder / name).write_bytes(b"")
    message = _movielens_fails(folder)
    assert str(folder / name) in message and "empty" in message


def test_movielens_oversized_field_is_an_error(tmp_path):
    folder = _folder(tmp_path)
    with (folder / "u.item").open("a", encoding="latin-1") as handle:
        handle.write("3|" + "T" * 200_000 + "|01-Jan-1995||http://x|0\n")
    message = _movielens_fails(folder)
    assert str(folder / "u.item") in message and "line 3" in message and "longer than" in message


def test_movielens_absurd_numbers_are_skipped_not_crashing(tmp_path):
    # given an age that would make a negative birth year and a timestamp past year 9999
    folder = _folder(tmp_path)
    with (folder / "u.user").open("a") as handle:
        handle.write("3|2500|M|other|00000\n")
    with (folder / "u.data").open("a") as handle:
        handle.write("1\t1\t5\t99999999999999999999\n")
    # when
    call_command("import_dataset", "movielens", str(folder), "--no-progress")
    # then
    assert not User.objects.filter(external_id="movielens:3").exists()
    assert Event.objects.filter(type="rating").count() == 3
