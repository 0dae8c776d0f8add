"""Serving without writes: the impression buffer, CPM reservations and settlement, the ledger,
clicks that arrive before the flush, frequency caps without a session, query budgets."""

import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from advertising import buffer
from advertising.models import Campaign, Click, DailyReport, Impression
from advertising.services import impressions_flush, report_rollups_refresh
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.factories.advertising import CampaignFactory

pytestmark = pytest.mark.django_db

CPM = Campaign.BidType.CPM


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    settings.ADS_PACING = False  # pacing depends on the time of day; test_auction covers it


def _serve(client, **params):
    params.setdefault("slot", "listing")
    response = client.get("/api/ads/serve/", params)
    assert response.status_code == 200, response.content
    return response.json()["ads"]


# --- exact CPM money --------------------------------------------------------------------------


def test_cpm_daily_report_spend_is_impressions_times_price_per_mille(flush):
    # given a CPM campaign alone in the auction (pays the reserve 0.50 per mille)
    campaign = CampaignFactory(bid_type=CPM, bid=Decimal("4.00"))
    client = Client()
    # when 7 impressions are served, flushed and rolled up
    for _ in range(7):
        assert len(_serve(client)) == 1
    flush()
    report_rollups_refresh(days=1)
    # then the report shows the spend of every impression, exactly
    row = DailyReport.objects.get(campaign=campaign)
    assert row.impressions == 7
    assert row.spend == Decimal("7") * Decimal("0.50") / 1000 == Decimal("0.0035")
    campaign.refresh_from_db()
    assert campaign.spend_total == campaign.spend_today == row.spend


def test_demo_traffic_charges_cpm_impressions_so_reports_show_their_spend():
    # The daily report showed 0.000000 for the demo's CPM campaign: its simulated impressions
    # were stored without a charge and never added to spend.
    from advertising.demo import simulated_traffic_store

    cpm = CampaignFactory(bid_type=CPM, bid=Decimal("3.00"))
    simulated_traffic_store(campaigns=[cpm], n=200, seed=3)
    report_rollups_refresh(days=20)
    n = Impression.objects.filter(campaign=cpm).count()
    spend = DailyReport.objects.filter(campaign=cpm).aggregate(s=Sum("spend"))["s"]
    assert n > 0 and spend == n * Decimal("3.00") / 1000
    cpm.refresh_from_db()
    assert cpm.spend_total == spend


def test_cpm_price_is_whole_thousandths_so_each_charge_is_exact(flush):
    # given two CPM campaigns bidding the same 6-decimal price: the winner pays its own bid
    campaign = CampaignFactory(bid_type=CPM, bid=Decimal("2.345678"))
    CampaignFactory(bid_type=CPM, bid=Decimal("2.345678"))
    ads = _serve(Client(), n=1)
    assert [a["campaign_id"] for a in ads] == [campaign.pk]
    flush()
    impression = Impression.objects.get()
    assert impression.price == Decimal("2.345")  # rounded down, in the advertiser's favour
    assert impression.charged == Decimal("0.002345") == impression.price / 1000
    campaign.refresh_from_db()
    assert campaign.spend_total == impression.charged


def test_cpm_reservation_never_shows_more_than_the_budget_pays_before_any_flush():
    # given a daily budget for exactly 3 impressions at the 0.50 reserve
    CampaignFactory(bid_type=CPM, bid=Decimal("0.50"), daily_budget=Decimal("0.0015"), total_budget=Decimal("1"))
    client = Client()
    # when 5 pages ask, nothing flushed in between
    served = [len(_serve(client)) for _ in range(5)]
    # then the reservations stopped it at the budget
    assert served == [1, 1, 1, 0, 0]
    assert buffer.length() == 3


def test_ledger_per_campaign_and_day_equals_impressions_and_clicks_to_the_penny(flush):
    # given CPC and CPM campaigns competing, and a yesterday's charge already settled
    cpc_hi = CampaignFactory(bid=Decimal("0.80"))
    cpc_lo = CampaignFactory(bid=Decimal("0.37"))
    cpm_a = CampaignFactory(bid_type=CPM, bid=Decimal("7.50"))
    cpm_b = CampaignFactory(bid_type=CPM, bid=Decimal("1.234"))
    client = Client()
    # when shoppers see 40 pages of 3 ads and click every 3rd ad (twice: the repeat is free)
    for i in range(40):
        for j, ad in enumerate(_serve(client, n=3)):
            if (i + j) % 3 == 0:
                assert client.get(ad["click_url"]).status_code == 302
                assert client.get(ad["click_url"]).status_code == 302
    flush()
    report_rollups_refresh(days=2)
    # then for every campaign and day: report spend == sum of impressions x price / 1000 (CPM)
    # + sum of clicks x price paid (CPC), == the campaign's spend
    cent = Decimal("0.01")
    for campaign in (cpc_hi, cpc_lo, cpm_a, cpm_b):
        campaign.refresh_from_db()
        impressions = Impression.objects.filter(campaign=campaign)
        cpm_due = sum((i.price / 1000 for i in impressions if i.bid_type == CPM), Decimal("0"))
        cpc_due = sum(
            (c.impression.price for c in Click.objects.filter(campaign=campaign).select_related("impression")),
            Decimal("0"),
        )
        if campaign.bid_type == CPM:
            assert cpc_due == 0 or not Click.objects.filter(campaign=campaign, charged__gt=0).exists()
            cpc_due = Decimal("0")
        rows = DailyReport.objects.filter(campaign=campaign)
        charged = sum((r.spend for r in rows), Decimal("0"))
        assert charged.quantize(cent) == (cpm_due + cpc_due).quantize(cent), campaign.name
        assert charged == cpm_due + cpc_due  # exact, not only to the penny
        assert campaign.spend_total == charged
        assert impressions.filter(settled=False).count() == 0
    assert Click.objects.filter(charged__gt=0).count() > 0
    assert Impression.objects.filter(bid_type=CPM).count() > 0


# --- clicks before the flush ------------------------------------------------------------------


@pytest.mark.parametrize("bid_type", ["cpc", "cpm"])
def test_click_before_the_flush_writes_its_impression_once_and_charges_once(bid_type, flush):
    # given a served ad whose impression is still in the buffer
    campaign = CampaignFactory(bid_type=bid_type, bid=Decimal("2.00"))
    ad = _serve(Client())[0]
    assert not Impression.objects.exists()
    # when the shopper clicks at once, then the flush runs (twice)
    response = Client().get(ad["click_url"])
    flush()
    flush()
    # then one impression (the click found it), one click, the landing page, one charge
    assert response.status_code == 302 and response["Location"] == campaign.ads.get().landing_url
    impression = Impression.objects.get()
    assert impression.uid.hex == ad["impression_id"] and impression.settled
    click = Click.objects.get()
    assert click.impression == impression
    campaign.refresh_from_db()
    expected = impression.price / 1000 if bid_type == "cpm" else impression.price
    assert campaign.spend_total == expected == impression.charged + click.charged


def test_click_on_an_impression_lost_from_the_buffer_writes_it_from_the_signed_token(flush):
    # given the buffered record is gone (a process holding it died)
    campaign = CampaignFactory(bid_type=CPM, bid=Decimal("2.00"))
    ad = _serve(Client())[0]
    buffer.pop(100)
    # when the shopper clicks, and the flush settles
    assert Client().get(ad["click_url"]).status_code == 302
    flush()
    # then the impression exists (without features), its CPM charge settled once
    impression = Impression.objects.get()
    assert impression.uid.hex == ad["impression_id"] and impression.features == {}
    campaign.refresh_from_db()
    assert campaign.spend_total == impression.charged == impression.price / 1000


def test_old_click_links_naming_an_impression_id_still_work():
    from django.core import signing

    campaign = CampaignFactory()
    impression = Impression.objects.create(
        campaign=campaign, ad=campaign.ads.get(), slot="listing", bid_type="cpc", price=Decimal("0.05"), pctr=0.02
    )
    token = signing.dumps({"i": impression.pk}, salt="advertising.click", compress=False)
    assert Client().get(f"/ads/click/{token}/").status_code == 302
    assert Click.objects.get().charged == Decimal("0.05")


# --- failing soft -----------------------------------------------------------------------------


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: connects are refused


def test_redis_refusing_serves_and_writes_directly_nothing_lost(settings):
    # given the buffer's Redis refuses connections
    settings.CACHES = {
        "default": {
            "BACKEND": "ecommerce.cache_backend.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{_refused_port()}/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.5,
                "CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool",
            },
        }
    }
    settings.ADS_BUFFER = "redis"
    cpm = CampaignFactory(bid_type=CPM, bid=Decimal("4.00"))
    # when a shopper is served
    ads = _serve(Client())
    # then the ad shows, and its impression and charge are already stored (direct path)
    assert [a["campaign_id"] for a in ads] == [cpm.pk]
    impression = Impression.objects.get()
    assert impression.settled and impression.charged == Decimal("0.0005")
    cpm.refresh_from_db()
    assert cpm.spend_total == Decimal("0.0005")
    assert impressions_flush() == {"popped": 0, "inserted": 0, "settled": 0, "unfunded": 0}


def test_flush_puts_records_back_when_the_insert_fails(flush, monkeypatch):
    CampaignFactory()
    _serve(Client())
    from advertising import services

    def broken(records):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_insert_records", broken)
    with pytest.raises(RuntimeError):
        impressions_flush()
    assert buffer.length() == 1
    monkeypatch.undo()
    assert flush()["inserted"] == 1


def test_settlement_after_a_lost_counter_never_passes_the_budget(flush):
    # given more reserved than the budget allows (the counters were lost: simulate by serving
    # with a budget the database no longer has)
    campaign = CampaignFactory(bid_type=CPM, bid=Decimal("0.50"), daily_budget=Decimal("1"), total_budget=Decimal("1"))
    client = Client()
    for _ in range(4):
        _serve(client)
    Campaign.objects.filter(pk=campaign.pk).update(total_budget=Decimal("0.001"), daily_budget=Decimal("0.001"))
    # when the flush settles
    result = flush()
    # then two impressions are paid, the other two are stored free; spend is within budget
    assert result["settled"] == 4 and result["unfunded"] == 2
    campaign.refresh_from_db()
    assert campaign.spend_total == Decimal("0.001")
    assert Impression.objects.aggregate(s=Sum("charged"))["s"] == campaign.spend_total


# --- input, caps, sessions, query budgets -----------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"product_id": "abc"}, "product_id"),
        ({"product_id": "0"}, "product_id"),
        ({"category_id": "-3"}, "category_id"),
        ({"category_id": "99999999999"}, "category_id"),
        ({"cart": "1,x"}, "cart"),
        ({"cart": ",".join(str(i) for i in range(1, 60))}, "cart"),
        ({"q": "x" * 256}, "q"),
        ({"n": "11"}, "n"),
    ],
)
def test_serve_rejects_bad_context_with_400_json(params, field):
    response = Client().get("/api/ads/serve/", {"slot": "product", **params})
    assert response.status_code == 400
    assert field in response.json()
    assert buffer.length() == 0


def test_serve_accepts_the_page_context_params():
    category = CategoryFactory()
    advertised = CampaignFactory().ads.get().product
    advertised.category = category  # an untargeted ad shows only where it fits the page
    advertised.save()
    page_product = ProductFactory(category=category)
    ads = _serve(
        Client(), slot="search", product_id=page_product.pk, category_id=category.pk, q="lunch bag", cart="3,4"
    )
    assert len(ads) == 1


def test_anonymous_frequency_cap_counts_in_a_signed_cookie_without_a_session():
    # given a consenting anonymous visitor and a campaign capped at 2 a day
    capped = CampaignFactory(cap_per_user_day=2)
    client = Client()
    client.cookies["tracking_consent"] = "yes"
    # when the visitor loads 3 pages
    served = [len(_serve(client)) for _ in range(3)]
    # then the third is not shown the capped campaign, and no session was made for it
    assert served == [1, 1, 0]
    assert not Session.objects.exists()
    assert client.cookies["ads_caps"]["httponly"]
    # a forged or foreign cookie counts nothing (a fresh browser), it is not trusted to lower caps
    fresh = Client()
    fresh.cookies["tracking_consent"] = "yes"
    fresh.cookies["ads_caps"] = "forged"
    assert [a["campaign_id"] for a in _serve(fresh)] == [capped.pk]


def test_signed_in_cap_also_counts_stored_impressions_from_other_devices(flush):
    shopper = UserFactory()
    CampaignFactory(cap_per_user_day=2)
    phone, laptop = Client(), Client()
    for device in (phone, laptop):
        device.cookies["tracking_consent"] = "yes"
        device.force_login(shopper)
    assert [len(_serve(phone)) for _ in range(2)] == [1, 1]
    flush()
    assert _serve(laptop) == []


def test_serve_query_budget_in_steady_state(django_assert_max_num_queries, flush):
    # given 20 live campaigns and a warm snapshot
    for i in range(20):
        CampaignFactory(bid=Decimal("0.50") + Decimal(i) / 100, bid_type=CPM if i % 4 == 0 else "cpc", run_of_site=True)
    product = ProductFactory()
    anonymous, shopper = Client(), Client()
    shopper.cookies["tracking_consent"] = "yes"
    shopper.force_login(UserFactory())
    params = {"slot": "product", "product_id": product.pk, "category_id": product.category_id, "n": 2}
    _serve(anonymous, **params)
    _serve(shopper, **params)
    # then an anonymous serve reads and writes nothing in the database
    with django_assert_max_num_queries(0):
        assert len(_serve(anonymous, **params)) == 2
    # a signed-in serve: the session and the user (cached in production: 0 with a Redis cache)
    with django_assert_max_num_queries(2):
        assert len(_serve(shopper, **params)) == 2
    flush()


def test_click_query_budget(django_assert_max_num_queries, flush):
    CampaignFactory()
    client = Client()
    ads = _serve(client, n=2) + _serve(client, n=2)
    flush()
    # after the flush: find the impression, insert the click, charge, store the charge
    with django_assert_max_num_queries(8):
        assert client.get(ads[0]["click_url"]).status_code == 302
    # before the flush: the click flushes the buffer first (a few more)
    ads = _serve(client)
    with django_assert_max_num_queries(14):
        assert client.get(ads[0]["click_url"]).status_code == 302


def test_report_refresh_includes_buffered_impressions():
    campaign = CampaignFactory()
    for _ in range(3):
        _serve(Client())
    report_rollups_refresh(days=1)
    assert DailyReport.objects.get(campaign=campaign).impressions == 3


def test_settlement_of_yesterday_after_midnight_moves_only_the_total(flush):
    campaign = CampaignFactory(bid_type=CPM, bid=Decimal("4.00"))
    yesterday = timezone.now() - timedelta(days=1)
    from advertising.services import PageContext, ads_serve
    from ecommerce.privacy import NO_TRACKING

    assert ads_serve(tracking=NO_TRACKING, page=PageContext(slot="listing"), n=1, now=yesterday)
    Campaign.objects.filter(pk=campaign.pk).update(spend_today=Decimal("0.25"), spend_day=timezone.localdate())
    flush()
    campaign.refresh_from_db()
    assert campaign.spend_total == Decimal("0.0005") and campaign.spend_today == Decimal("0.25")


@pytest.mark.parametrize("with_campaign", [True, False], ids=["ads-served", "empty-slot"])
def test_rate_limit_is_counted_in_the_buffer_round_trip(monkeypatch, with_campaign):
    # given the ads scope limited to 2 a minute, the clock frozen inside one window
    from ecommerce.api.throttling import CounterScopedRateThrottle

    monkeypatch.setitem(CounterScopedRateThrottle.THROTTLE_RATES, "ads", "2/min")
    monkeypatch.setattr(CounterScopedRateThrottle, "timer", staticmethod(lambda: 60 * 30_000 + 30.0))
    if with_campaign:
        CampaignFactory()
    client = Client()
    # when the same visitor asks three times
    statuses = [client.get("/api/ads/serve/", {"slot": "listing"}) for _ in range(3)]
    # then the third is refused with a JSON 429, and buffers nothing
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert "detail" in statuses[2].json() and int(statuses[2]["Retry-After"]) > 0
    assert buffer.length() == (2 if with_campaign else 0)
