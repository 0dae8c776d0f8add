"""Cut the demo slice of UCI Online Retail that ships in the repository.

    python -m ecommerce.demo.make_slice [SOURCE] [--customers 600] [--guest-invoices 120]

How the slice is cut (rerunning this gives a byte-identical file):

- Source: the full file, ../shared/data/uci-online-retail/online_retail.csv.gz (541,909 rows).
- Customers: 600 of the 4,372 CustomerIDs, drawn with random.Random(2011).sample from the
  sorted list, and EVERY row of every invoice of theirs over the whole year (purchases,
  cancellations, returns, postage and fee lines), so the demo has real repeat customers,
  seasonality and baskets for the recommenders.
- Guests: 120 invoices without a CustomerID, drawn the same way, so guest orders exist too.
- Rows keep the source's order and values; nothing is changed. Gzip with mtime 0.

Licence: UCI Online Retail (Daqing Chen, London South Bank University), published by the UCI
Machine Learning Repository under CC BY 4.0; see docs/data.md for the attribution.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "data" / "uci-online-retail" / "online_retail.csv.gz"
SLICE_PATH = HERE / "data" / "online_retail_slice.csv.gz"
SEED = 2011


def _read(source: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def make_slice(source: Path, target: Path, customers: int, guest_invoices: int) -> dict[str, int]:
    header, rows = _read(source)
    col = {name: i for i, name in enumerate(header)}
    customer_ids = sorted({r[col["CustomerID"]] for r in rows if r[col["CustomerID"]]})
    guest_ids = sorted({r[col["InvoiceNo"]] for r in rows if not r[col["CustomerID"]]})
    rng = random.Random(SEED)
    chosen_customers = set(rng.sample(customer_ids, customers))
    chosen_guests = set(rng.sample(guest_ids, guest_invoices))
    kept = [r for r in rows if r[col["CustomerID"]] in chosen_customers or r[col["InvoiceNo"]] in chosen_guests]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(kept)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
    return {
        "rows": len(kept),
        "customers": len(chosen_customers),
        "guest_invoices": len(chosen_guests),
        "invoices": len({r[col["InvoiceNo"]] for r in kept}),
        "bytes": target.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--guest-invoices", type=int, default=120)
    parser.add_argument("--out", type=Path, default=SLICE_PATH)
    args = parser.parse_args()
    print(make_slice(args.source, args.out, args.customers, args.guest_invoices))  # noqa: T201


if __name__ == "__main__":
    main()
