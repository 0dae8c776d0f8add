"""Exactness on real data: UCI Online Retail imported through the project's importer, compared
with an independent pandas computation straight from the raw CSV.

The import (~540k lines) runs once for this module, inside a transaction that is rolled back
afterwards, so the other tests of the session still start from an empty database.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase

from analytics import queries
from analytics.queries import Filters
from tests.conftest import celery_eager

# django_db also tells pytest-django to create the test database the module fixture writes to.
pytestmark = [pytest.mark.realdata, pytest.mark.django_db]

CSV = settings.SHARED_DATA_DIR / "uci-online-retail" / "online_retail.csv.gz"
FULL = Filters(start=date(2010, 12, 1), end=date(2011, 12, 31))


class _Rollback(Exception):
    pass


@pytest.fixture(scope="module")
def uci_results(django_db_setup, django_db_blocker):
    """Import once, compute what the tests compare, then roll the whole import back."""
    results = {}
    with django_db_blocker.unblock():
        try:
            with transaction.atomic():
                # Import, then query: no other step. The refresh the import queues runs when
                # its transaction commits; this one is rolled back, so run the callbacks here.
                with celery_eager(), TestCase.captureOnCommitCallbacks(execute=True) as queued:
                    call_command("import_dataset", "online_retail", str(CSV), "--no-progress")
                results["queued_callbacks"] = len(queued)
                results["revenue_rollup"] = queries.trends(FULL, metric="revenue", interval="month")["series"]
                results["revenue_raw"] = queries.trends(FULL, metric="revenue", interval="month", force_raw=True)[
                    "series"
                ]
                results["retention"] = queries.retention(FULL, period="month")["cohorts"]
                results["retention_raw"] = queries.retention(FULL, period="month", force_raw=True)["cohorts"]
                results["gmv"] = queries.gmv(FULL)
                raise _Rollback
        except _Rollback:
            pass
    return results


@pytest.fixture(scope="module")
def raw_csv():
    df = pd.read_csv(CSV, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    df["month"] = df["InvoiceDate"].dt.to_period("M").dt.to_timestamp().dt.strftime("%Y-%m-%d")
    return df[~df["InvoiceNo"].str.startswith("C")]  # cancellation invoices


def test_monthly_revenue_matches_pandas(uci_results, raw_csv):
    sold = raw_csv[(raw_csv["Quantity"] > 0) & (raw_csv["UnitPrice"] > 0)]
    expected = (sold["Quantity"] * sold["UnitPrice"]).groupby(sold["month"]).sum()

    for source in ("revenue_rollup", "revenue_raw"):
        got = {p["period"]: p["value"] for p in uci_results[source]}
        assert sorted(got) == sorted(expected.index)
        for month, value in expected.items():
            assert got[month] == pytest.approx(value, rel=0.005), (source, month)
            # In fact exact to the penny, but for lines priced 0.001 (4 lines) that the shop's
            # 2-decimal prices store as 0.00.
            assert abs(got[month] - value) < 0.01, (source, month, got[month], value)
    assert float(uci_results["gmv"]) == pytest.approx(expected.sum(), abs=0.01)


def test_monthly_purchase_retention_matches_pandas(uci_results, raw_csv):
    buyers = raw_csv[raw_csv["CustomerID"].notna()][["CustomerID", "month"]].drop_duplicates()
    cohort = buyers.groupby("CustomerID")["month"].min().rename("cohort")
    buyers = buyers.join(cohort, on="CustomerID")
    to_index = lambda m: int(m[:4]) * 12 + int(m[5:7])  # noqa: E731
    buyers["k"] = buyers["month"].map(to_index) - buyers["cohort"].map(to_index)
    counts = buyers.groupby(["cohort", "k"])["CustomerID"].nunique()
    last = to_index("2011-12-01")
    expected = []
    for c in sorted(buyers["cohort"].unique()):
        width = last - to_index(c) + 1
        retained = [int(counts.get((c, k), 0)) for k in range(width)]
        expected.append({"cohort": c, "size": retained[0], "retained": retained})

    assert uci_results["retention"] == expected
    assert uci_results["retention_raw"] == expected
    assert expected[0]["size"] > 800 and len(expected) == 13
