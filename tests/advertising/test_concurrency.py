"""Money integrity under concurrency: 50 simultaneous serve+click requests, separate connections.

On PostgreSQL (CI) the requests really run at once and the conditional UPDATE is serialized by
row locks. SQLite's in-memory test database (shared cache) answers a second writer with "table
is locked" instead of waiting, so there each single request holds a lock: requests from the 50
shoppers still interleave between threads (serve of one, click of another...), as they would
against a SQLite file that serializes writers. Either way spend must never pass the budget and
the ledger (impression + click charges) must add up to the campaign's spend exactly.

Serving buffers impressions and reserves CPM spend atomically (Redis in CI, the in-process
buffer on SQLite); clicks write their impression if the flush has not yet; the flush at the end
settles the CPM charges.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import Sum
from django.test import Client

from advertising.models import Campaign, Click, Impression
from advertising.services import impressions_flush
from tests.factories.advertising import CampaignFactory

REQUESTS = 50
_sqlite_lock = threading.Lock()


def _get(client: Client, path: str, params=None):
    if connection.vendor == "sqlite":
        with _sqlite_lock:
            return client.get(path, params)
    return client.get(path, params)


def _serve_and_click(_: int) -> tuple[int, int]:
    try:
        client = Client()
        response = _get(client, "/api/ads/serve/", {"slot": "search", "n": 3})
        clicks = 0
        if response.status_code == 200:
            for ad in response.json()["ads"]:
                clicks += _get(client, ad["click_url"]).status_code == 302
                _get(client, ad["click_url"])  # a double click must not be charged twice
        return response.status_code, clicks
    finally:
        connections.close_all()  # each thread had its own connection


@pytest.mark.django_db(transaction=True)
def test_concurrent_serve_and_click_never_overspend(settings):
    # given CPC campaigns with tiny budgets relative to their bids, and a CPM one
    settings.ADS_PACING = False
    settings.ADS_PRIOR_CTR = 0.5
    high = CampaignFactory(bid=Decimal("1.00"), daily_budget=Decimal("3.00"), total_budget=Decimal("3.00"))
    mid = CampaignFactory(bid=Decimal("0.90"), daily_budget=Decimal("2.00"), total_budget=Decimal("2.00"))
    cpm = CampaignFactory(
        bid_type=Campaign.BidType.CPM, bid=Decimal("600"), daily_budget=Decimal("1.50"), total_budget=Decimal("1.50")
    )
    # when 50 shoppers serve and click at once (8 threads: the machine has 2 cores)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_serve_and_click, range(REQUESTS)))
    # then no request failed; the flush (beat task) settles the buffered CPM reservations, none
    # of which the budget refuses; spend stays within budget and equals the ledger
    assert all(status == 200 for status, _ in results), results
    settled = impressions_flush()
    assert settled["unfunded"] == 0 and not Impression.objects.filter(settled=False).exists()
    max_cpc = Decimal("1.00")
    for campaign in (high, mid, cpm):
        campaign.refresh_from_db()
        ledger = (Impression.objects.filter(campaign=campaign).aggregate(s=Sum("charged"))["s"] or 0) + (
            Click.objects.filter(campaign=campaign).aggregate(s=Sum("charged"))["s"] or 0
        )
        assert campaign.spend_total <= campaign.total_budget + max_cpc
        assert campaign.spend_total <= campaign.total_budget  # the conditional UPDATE is exact
        assert Decimal(ledger).quantize(Decimal("0.000001")) == campaign.spend_total.quantize(Decimal("0.000001"))
    assert high.spend_total > Decimal("2.00")  # the budget was really contended
    assert Click.objects.count() == sum(clicks for _, clicks in results)
    assert connection.vendor in {"postgresql", "sqlite"}
