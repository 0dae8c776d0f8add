"""Exactness of the panels moved onto rollups (issue 16): funnels from the per-actor step table,
the browsing distribution from per-actor-day counts, top products from the per-day product table
and monthly customers/visitors from month rows, each against the raw computation (`force_raw`)
on random traffic; and the sampled answers over ranges beyond the exact limit."""

import math
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics import queries
from analytics.models import FunnelEntry, SegmentMembership
from analytics.queries import Filters
from analytics.rollups import rollups_refresh_days, rollups_refresh_pending
from analytics.sampling import MAX_LEVEL, level_for, sample_level
from ecommerce.bulk import bulk_insert
from ecommerce.models import EVENT_ROW_COLUMNS, Event, Order
from tests.analytics.conftest import order
from tests.factories import ProductFactory, UserFactory
from tests.factories.analytics import SegmentFactory

pytestmark = pytest.mark.django_db

STEPS = ["product_view", "add_to_cart", "checkout_start", "purchase"]
START = datetime(2024, 5, 1, tzinfo=UTC)


def _traffic(seed: int, actors: int, days: int = 40) -> dict:
    """Random sessions of random users (three countries, one segment) and anonymous visitors:
    steps out of order, repeated, spread over days so windows and first-entry days matter."""
    rng = random.Random(seed)
    products = [ProductFactory(title=f"P{i}") for i in range(6)]
    fee = ProductFactory(title="POSTAGE", is_non_product=True)
    users = [UserFactory(country=rng.choice(["United Kingdom", "France", ""])) for _ in range(max(4, actors // 3))]
    segment = SegmentFactory(key="vip")
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, user=u) for u in users[: len(users) // 2]]
    )
    rows = []
    for a in range(actors):
        user = rng.choice(users) if rng.random() < 0.5 else None
        anon = "" if user else f"visitor-{a}"
        t = START + timedelta(days=rng.randrange(days), minutes=rng.randrange(1440))
        for _ in range(rng.randint(1, 9)):
            # Odd seconds: no step lands exactly on a window's edge, where SQLite's julianday
            # arithmetic (the raw query) rounds either way.
            t += timedelta(minutes=rng.choice([1, 5, 30, 240, 1500, 4000]), seconds=rng.randint(1, 59))
            kind = rng.choice(STEPS + ["product_view", "product_view", "page_view"])
            product = rng.choice(products) if kind in ("product_view", "add_to_cart") else None
            rows.append(
                (
                    uuid.uuid4(),
                    kind,
                    t,
                    t,
                    user.pk if user else None,
                    anon,
                    "",
                    product.pk if product else None,
                    "",
                    "{}",
                )
            )
        if user and rng.random() < 0.4:
            status = Order.Status.CANCELLED if rng.random() < 0.2 else Order.Status.PAID
            lines = [(rng.choice(products), rng.randint(1, 3), f"{rng.uniform(1, 20):.2f}") for _ in range(2)]
            order(user, t, lines + [(fee, 1, "4.00")], status=status, country=rng.choice(["France", ""]))
    bulk_insert(Event, EVENT_ROW_COLUMNS, rows, json_is_text=True)
    return {"segment": segment.key}


def _norm(result: dict) -> dict:
    """Without the source notes; medians to the millisecond (SQLite's raw query computes them in
    julian days); groups in name order (the raw query orders ties by chance)."""
    out = {k: v for k, v in result.items() if k not in ("source", "sampled_fraction", "groups")}
    if out.get("median_seconds_to_convert") is not None:
        out["median_seconds_to_convert"] = round(out["median_seconds_to_convert"], 3)
    if "groups" in result:
        out["groups"] = sorted((_norm(g) for g in result["groups"]), key=lambda g: g["group"])
    return out


def test_stored_funnel_equals_raw_for_prefixes_windows_filters_and_breakdowns():
    # given
    shop = _traffic(seed=1, actors=120)
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 7, 31))
    ranges = [Filters(date(2024, 5, 1), date(2024, 5, 31)), Filters(date(2024, 5, 10), date(2024, 5, 20))]
    ranges += [Filters(date(2024, 5, 1), date(2024, 6, 30), country="France")]
    ranges += [Filters(date(2024, 5, 1), date(2024, 6, 30), segment=shop["segment"])]
    checked = 0
    for f in ranges:
        for steps in (STEPS[:2], STEPS[:3], STEPS):
            for window in (3600, 86400, 7 * 86400, 30 * 86400):
                for breakdown in ("", "country", "segment"):
                    # when
                    stored = queries.funnel(f, steps=steps, window_seconds=window, breakdown=breakdown)
                    raw = queries.funnel(f, steps=steps, window_seconds=window, breakdown=breakdown, force_raw=True)
                    # then
                    assert stored["source"] == "funnel step table" and stored["sampled_fraction"] == 1
                    assert _norm(stored) == _norm(raw), (f, steps, window, breakdown)
                    checked += raw["entered"]
    assert checked > 500  # the data exercised real funnels, not empty ones


def test_funnel_outside_the_step_table_reads_raw_events():
    _traffic(seed=2, actors=30)
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 7, 31))
    f = Filters(date(2024, 5, 1), date(2024, 5, 31))
    # not a prefix of the stored funnel, and a window longer than the stored 30 days
    other = queries.funnel(f, steps=["add_to_cart", "purchase"], window_seconds=86400)
    longer = queries.funnel(f, steps=STEPS, window_seconds=60 * 86400)
    assert "source" not in other and "source" not in longer
    assert longer["entered"] == queries.funnel(f, steps=STEPS, window_seconds=30 * 86400)["entered"]


def test_late_events_update_the_step_table_of_earlier_entries():
    # given: an entry on 1 May converted by a late add_to_cart on 3 May, received after a refresh
    shopper = UserFactory()
    bulk_insert(
        Event,
        EVENT_ROW_COLUMNS,
        [(uuid.uuid4(), "product_view", START, START, shopper.pk, "", "", None, "", "{}")],
        json_is_text=True,
    )
    rollups_refresh_pending()
    f = Filters(date(2024, 5, 1), date(2024, 5, 31))
    assert [s["count"] for s in queries.funnel(f, steps=STEPS[:2], window_seconds=7 * 86400)["step_counts"]] == [1, 0]
    late = START + timedelta(days=2)
    bulk_insert(
        Event,
        EVENT_ROW_COLUMNS,
        [(uuid.uuid4(), "add_to_cart", late, timezone.now(), shopper.pk, "", "", None, "", "{}")],
        json_is_text=True,
    )
    # when
    rollups_refresh_pending()
    # then
    counts = [s["count"] for s in queries.funnel(f, steps=STEPS[:2], window_seconds=7 * 86400)["step_counts"]]
    assert counts == [1, 1]
    assert FunnelEntry.objects.get(actor=f"u{shopper.pk}").d2 == 2 * 86400


def test_browsing_top_products_and_monthly_trends_equal_raw():
    # given
    shop = _traffic(seed=3, actors=150, days=60)
    rollups_refresh_days(start=date(2024, 5, 1), end=date(2024, 7, 31))
    for f in (
        Filters(date(2024, 5, 1), date(2024, 5, 31)),
        Filters(date(2024, 5, 7), date(2024, 6, 20), country="France"),
        Filters(date(2024, 5, 1), date(2024, 6, 30), segment=shop["segment"]),
    ):
        # when / then
        rolled = queries.browsing_distribution(f)
        raw = queries.browsing_distribution(f, force_raw=True)
        assert rolled["sampled_fraction"] == 1 and raw["visitors"] > 0
        assert {k: v for k, v in rolled.items() if k != "sampled_fraction"} == {
            k: v for k, v in raw.items() if k != "sampled_fraction"
        }
        if not f.segment:
            top = queries.top(f, dimension="products", limit=4)
            assert top["items"] and top == queries.top(f, dimension="products", limit=4, force_raw=True)
    months = Filters(date(2024, 5, 1), date(2024, 7, 31))
    for metric in ("customers", "visitors"):
        rolled = queries.trends(months, metric=metric, interval="month")
        assert rolled == queries.trends(months, metric=metric, interval="month", force_raw=True)
        assert sum(p["value"] for p in rolled["series"]) > 0


def test_sample_levels_are_uniform_and_the_level_fits_the_limit():
    levels = [sample_level(f"a{i}") for i in range(40_000)]
    share = [sum(1 for x in levels if x >= k) / len(levels) for k in range(4)]
    assert share[0] == 1
    for k in (1, 2, 3):
        assert share[k] == pytest.approx(0.5**k, rel=0.05)
    assert max(levels) <= MAX_LEVEL
    assert level_for(5_000, 5_000) == 0 and level_for(5_001, 5_000) == 1 and level_for(40_000, 5_000) == 3


def test_sampled_browsing_and_funnel_stay_close_to_exact(settings):
    # given: ~1,200 visitors, limit 150 actor-days: the panels read about 1/8 of the visitors
    _traffic(seed=4, actors=1200, days=20)
    rollups_refresh_days(start=date(2024, 5, 1), end=date(2024, 6, 30))
    f = Filters(date(2024, 5, 1), date(2024, 5, 31))
    exact_browse = queries.browsing_distribution(f)
    exact_funnel = queries.funnel(f, steps=STEPS, window_seconds=7 * 86400)
    settings.ANALYTICS_EXACT_ACTOR_DAYS = 150
    # when
    browse = queries.browsing_distribution(f)
    funnel = queries.funnel(f, steps=STEPS, window_seconds=7 * 86400)
    # then
    assert browse["sampled_fraction"] < 1 and funnel["sampled_fraction"] < 1
    # Tolerances of four standard errors of the sample actually read (~1/8 of the visitors, which
    # ones depends on the actors' keys, so on the database's ids): a biased sampler fails, luck not.
    sampled_visitors = exact_browse["visitors"] * browse["sampled_fraction"]
    assert browse["visitors"] == pytest.approx(exact_browse["visitors"], rel=4 / math.sqrt(sampled_visitors))
    assert browse["mean"] == pytest.approx(exact_browse["mean"], rel=0.2)
    sampled_entered = exact_funnel["entered"] * funnel["sampled_fraction"]
    assert funnel["entered"] == pytest.approx(exact_funnel["entered"], rel=4 / math.sqrt(sampled_entered))
    for sampled, exact in zip(funnel["step_counts"], exact_funnel["step_counts"], strict=True):
        p = exact["conversion_from_start"]
        standard_error = math.sqrt(max(p * (1 - p), 0.01) / sampled_entered)
        assert sampled["conversion_from_start"] == pytest.approx(p, abs=4 * standard_error)


def test_top_products_rollup_counts_orders_once_per_order_and_skips_fees():
    # given: one order with the same product on two lines, one cancelled order
    mug, fee = ProductFactory(title="Mug"), ProductFactory(title="POSTAGE", is_non_product=True)
    buyer = UserFactory()
    when = datetime(2024, 5, 2, 10, tzinfo=UTC)
    order(buyer, when, [(mug, 1, "3.00"), (mug, 2, "3.00"), (fee, 1, "5.00")])
    order(buyer, when, [(mug, 5, "3.00")], status=Order.Status.CANCELLED)
    rollups_refresh_days(start=date(2024, 5, 1), end=date(2024, 5, 31))
    f = Filters(date(2024, 5, 1), date(2024, 5, 31))
    # when
    items = queries.top(f, dimension="products")["items"]
    # then
    assert [(i["title"], i["revenue"], i["units"], i["orders"]) for i in items] == [("Mug", 9.0, 3, 1)]
    assert Decimal(str(items[0]["revenue"])) == Decimal("9.00")
