"""Exactness of the rest of the dashboard on rollups (issue 16): top categories, countries, search
terms and zero-result searches from the per-day top table, the active-shopper distributions (age,
gender, country) from the actor-day table, and the RFM panel from its refresh-time snapshot, each
against the raw computation (`force_raw`) on random traffic; the sampled answers beyond the exact
limit; idempotent and incremental refreshes; and the erasure of a shopper's search terms."""

import math
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from analytics import queries
from analytics.models import DailySearcher, DailyTop, PanelSnapshot, SegmentMembership
from analytics.queries import Filters
from analytics.rollups import rollups_refresh_days, rollups_refresh_pending
from analytics.services import segment_memberships_erase
from ecommerce.bulk import bulk_insert
from ecommerce.models import EVENT_ROW_COLUMNS, Event, Order
from tests.analytics.conftest import order
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.factories.analytics import SegmentFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 5, 1, tzinfo=UTC)
TERMS = ["Mug", "mug", "LAMP", "lamp shade", "unicorn", "gnome", "Kettle", "teapot"]
MAY = Filters(date(2024, 5, 1), date(2024, 5, 31))


def _shop(seed: int, shoppers: int, days: int = 40) -> dict:
    """Random searches (mixed case, results recorded as 0, as > 0 or not at all), page views and
    orders over several categories, countries (order country different from the customer's
    sometimes), a segment, anonymous visitors and one staff user."""
    rng = random.Random(seed)
    categories = [CategoryFactory(name=f"Cat {i}") for i in range(4)]
    products = [ProductFactory(title=f"P{i}", category=rng.choice(categories)) for i in range(8)]
    products.append(ProductFactory(title="Loose item", category=None))
    fee = ProductFactory(title="POSTAGE", is_non_product=True, category=None)
    users = [
        UserFactory(
            country=rng.choice(["United Kingdom", "France", "Spain", ""]),
            birth_year=rng.choice([None, *range(1950, 2006)]),
            gender=rng.choice(["f", "m", "o", ""]),
        )
        for _ in range(max(6, shoppers // 3))
    ]
    UserFactory(is_staff=True)
    segment = SegmentFactory(key="vip")
    SegmentMembership.objects.bulk_create([SegmentMembership(segment=segment, user=u) for u in users[::2]])
    rows = []
    for a in range(shoppers):
        user = rng.choice(users) if rng.random() < 0.6 else None
        anon = "" if user and rng.random() < 0.5 else f"visitor-{a}"
        t = START + timedelta(days=rng.randrange(days), minutes=rng.randrange(1440))
        for _ in range(rng.randint(1, 6)):
            t += timedelta(minutes=rng.choice([1, 30, 600, 2000]))
            if rng.random() < 0.5:
                results = rng.choice([None, 0, 3])
                properties = "{}" if results is None else f'{{"results": {results}}}'
                rows.append(
                    (
                        uuid.uuid4(),
                        "search",
                        t,
                        t,
                        user.pk if user else None,
                        anon,
                        "",
                        None,
                        rng.choice(TERMS),
                        properties,
                    )
                )
            else:
                rows.append((uuid.uuid4(), "page_view", t, t, user.pk if user else None, anon, "", None, "", "{}"))
        if user and rng.random() < 0.5:
            status = Order.Status.CANCELLED if rng.random() < 0.2 else Order.Status.PAID
            lines = [(rng.choice(products), rng.randint(1, 3), f"{rng.uniform(1, 20):.2f}") for _ in range(3)]
            order(user, t, lines + [(fee, 1, "4.00")], status=status, country=rng.choice(["France", "Spain", ""]))
    bulk_insert(Event, EVENT_ROW_COLUMNS, rows, json_is_text=True)
    return {"segment": segment.key}


def _filters(segment: str) -> list[Filters]:
    return [
        MAY,
        Filters(date(2024, 5, 7), date(2024, 6, 20)),
        Filters(date(2024, 5, 1), date(2024, 6, 30), country="France"),
        Filters(date(2024, 5, 1), date(2024, 6, 30), country="Spain"),
        Filters(date(2024, 5, 1), date(2024, 6, 30), segment=segment),
    ]


def test_top_tables_equal_raw_for_ranges_and_countries():
    # given
    shop = _shop(seed=1, shoppers=160)
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 7, 31))
    seen = 0
    for f in _filters(shop["segment"]):
        for dimension in ("categories", "countries", "searches", "zero_result_searches"):
            for limit in (3, 50):
                # when
                rolled = queries.top(f, dimension=dimension, limit=limit)
                raw = queries.top(f, dimension=dimension, limit=limit, force_raw=True)
                # then
                assert rolled.pop("sampled_fraction", 1) == 1
                assert rolled == raw, (f, dimension, limit)
                seen += len(raw["items"])
    assert seen > 150  # real tables, not empty ones
    searches = queries.top(MAY, dimension="searches", limit=50)["items"]
    assert {i["term"] for i in searches} >= {"mug", "lamp"}  # lowercased, "Mug" and "mug" together


def test_top_categories_keep_uncategorised_products_and_skip_fees():
    # given: one order with a categorised product on two lines, an uncategorised product and postage
    mugs = CategoryFactory(name="Mugs")
    mug, loose = ProductFactory(category=mugs), ProductFactory(category=None)
    fee = ProductFactory(title="POSTAGE", is_non_product=True, category=None)
    order(UserFactory(), START, [(mug, 1, "3.00"), (mug, 2, "3.00"), (loose, 1, "2.00"), (fee, 1, "5.00")])
    rollups_refresh_days(start=date(2024, 5, 1), end=date(2024, 5, 31))
    # when
    items = queries.top(MAY, dimension="categories")["items"]
    # then
    assert [(i["name"], i["revenue"], i["units"], i["orders"]) for i in items] == [
        ("Mugs", 9.0, 3, 1),
        ("(none)", 2.0, 1, 1),
    ]
    assert items == queries.top(MAY, dimension="categories", force_raw=True)["items"]


def test_active_shopper_distributions_equal_exact_and_sample_beyond_the_limit(settings):
    # given
    shop = _shop(seed=2, shoppers=600, days=20)
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 6, 30))
    for f in _filters(shop["segment"]):
        for field in ("age", "gender", "country"):
            # when / then: under the limit the rollup answer is the exact one
            rolled = queries.distributions(f, field=field)
            assert rolled["sampled_fraction"] == 1
            assert rolled == queries.distributions(f, field=field, force_raw=True)
    exact = queries.distributions(MAY, field="gender")
    active = sum(b["count"] for b in exact["buckets"])
    assert active > 150
    # when: a limit that leaves about a quarter of the actor-days
    settings.ANALYTICS_EXACT_ACTOR_DAYS = 120
    sampled = queries.distributions(MAY, field="gender")
    # then: a uniform sample scaled up, within four standard errors of the sample read
    assert sampled["sampled_fraction"] < 1
    read = active * sampled["sampled_fraction"]
    assert sum(b["count"] for b in sampled["buckets"]) == pytest.approx(active, rel=4 / math.sqrt(read))
    assert queries.distributions(MAY, field="gender", force_raw=True) == exact
    # a segment is bounded by its members: never sampled
    assert queries.distributions(Filters(MAY.start, MAY.end, segment="vip"), field="age")["sampled_fraction"] == 1


def test_sampled_searchers_stay_close_to_exact(settings):
    # given
    _shop(seed=3, shoppers=900, days=20)
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 6, 30))
    exact = {i["term"]: i for i in queries.top(MAY, dimension="searches", limit=20, force_raw=True)["items"]}
    settings.ANALYTICS_EXACT_ACTOR_DAYS = 100
    # when
    sampled = queries.top(MAY, dimension="searches", limit=20)
    # then: searches are sums (exact), searchers a scaled sample
    assert sampled["sampled_fraction"] < 1
    total_exact = sum(i["searchers"] for i in exact.values())
    total_sampled = sum(i["searchers"] for i in sampled["items"])
    read = total_exact * sampled["sampled_fraction"]
    assert total_sampled == pytest.approx(total_exact, rel=4 / math.sqrt(read))
    assert [(i["term"], i["searches"]) for i in sampled["items"]] == [(t, i["searches"]) for t, i in exact.items()]


def _top_rows() -> list[tuple]:
    fields = ("day", "dimension", "country", "key", "revenue", "count", "actors", "zero", "unrecorded")
    return list(DailyTop.objects.order_by(*fields).values_list(*fields))


def test_top_tables_refresh_idempotently_and_pick_up_late_searches():
    # given
    _shop(seed=4, shoppers=60)
    rollups_refresh_pending()
    first = _top_rows()
    # when: refreshed again (pending: today only; then the whole range)
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 7, 31))
    # then
    assert _top_rows() == first
    # when: a late search for a new term arrives for 3 May
    late = START + timedelta(days=2)
    bulk_insert(
        Event,
        EVENT_ROW_COLUMNS,
        [(uuid.uuid4(), "search", late, timezone.now(), None, "late-visitor", "", None, "Xylophone", '{"results": 0}')],
        json_is_text=True,
    )
    rollups_refresh_pending()
    # then
    items = queries.top(MAY, dimension="zero_result_searches", limit=50)["items"]
    assert {"term": "xylophone", "searches": 1, "source": "recorded"} in items
    assert items == queries.top(MAY, dimension="zero_result_searches", limit=50, force_raw=True)["items"]


def test_rfm_panel_reads_the_refresh_snapshot_while_its_date_is_the_default():
    # given
    _shop(seed=5, shoppers=150)
    rollups_refresh_pending()
    # when / then: the snapshot is the raw answer
    assert PanelSnapshot.objects.filter(name="rfm").exists()
    assert queries.rfm_summary() == queries.rfm_summary(force_raw=True)
    assert queries.rfm_summary()["customers"] > 10
    # when: a new order on a later day changes the default reference date before the next refresh
    order(UserFactory(), datetime(2024, 9, 1, 10, tzinfo=UTC), [(ProductFactory(), 1, "9.00")])
    # then: the stale snapshot is not used
    fresh = queries.rfm_summary()
    assert fresh["as_of"] == "2024-09-02" and fresh == queries.rfm_summary(force_raw=True)


def test_erasure_takes_a_shoppers_searches_out_of_the_top_tables():
    # given: two shoppers searched "mug"; only Ada searched her unusual term
    ada, bob = UserFactory(), UserFactory()
    rows = [
        (uuid.uuid4(), "search", START, START, ada.pk, "", "", None, "Ada's Secret", "{}"),
        (uuid.uuid4(), "search", START, START, ada.pk, "", "", None, "mug", '{"results": 0}'),
        (uuid.uuid4(), "search", START, START, bob.pk, "", "", None, "mug", '{"results": 0}'),
    ]
    bulk_insert(Event, EVENT_ROW_COLUMNS, rows, json_is_text=True)
    rollups_refresh_days(start=date(2024, 5, 1), end=date(2024, 5, 31))
    assert {i["term"] for i in queries.top(MAY, dimension="searches")["items"]} == {"ada's secret", "mug"}
    # when
    counts = segment_memberships_erase(ada)
    # then: her term is gone, her "mug" search no longer counts, Bob's does
    assert counts["daily_searches"] == 2
    assert not DailySearcher.objects.filter(actor=f"u{ada.pk}").exists()
    assert not DailyTop.objects.filter(key__icontains="secret").exists()
    items = queries.top(MAY, dimension="searches")["items"]
    assert items == [{"term": "mug", "searches": 1, "searchers": 1}]
    zero = queries.top(MAY, dimension="zero_result_searches")["items"]
    assert zero == [{"term": "mug", "searches": 1, "source": "recorded"}]
    # and the same as a refresh after the core erasure blanks her events' terms
    Event.objects.filter(user=ada).update(user=None, query="")
    rollups_refresh_days(start=date(2024, 5, 1), end=date(2024, 5, 31))
    assert queries.top(MAY, dimension="searches")["items"] == items
