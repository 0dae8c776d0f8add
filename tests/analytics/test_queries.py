from datetime import date, timedelta
from decimal import Decimal

import pytest

from analytics import queries
from analytics.queries import Filters
from analytics.rollups import rollups_refresh_days
from ecommerce.models import Order
from tests.analytics.conftest import at, event, order
from tests.factories import ProductFactory, UserFactory

MARCH = Filters(start=date(2024, 3, 1), end=date(2024, 3, 31))


def test_gmv_definition_counts_positive_lines_of_non_cancelled_orders(gmv_shop):
    # given the March orders of gmv_shop: A = 20 + 5 (fee) ; B cancelled ; C = 4.50
    # then
    assert queries.gmv(MARCH) == Decimal("29.50")


def test_kpis_from_rollups_match_hand_computed(gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))

    result = {k["key"]: k for k in queries.kpis(MARCH)["kpis"]}

    assert result["gmv"]["value"] == 29.5
    assert result["orders"]["value"] == 2
    assert result["aov"]["value"] == 14.75
    assert result["customers"]["value"] == 2  # alice and bob bought (B is cancelled, C is bob's)
    # visitors: alice, bob (buyer), anon-1 = 3 ; conversion = 2 buyers / 3 visitors
    assert result["visitors"]["value"] == 3
    assert result["conversion_rate"]["value"] == round(2 / 3, 4)
    # previous period 2024-01-31..2024-02-29: one order of 10.00 -> change +195%
    assert result["gmv"]["previous"] == 10.0
    assert result["gmv"]["change"] == 1.95
    # DAU: 1 Mar alice+anon+bob(cancelled order is not activity) = 2, 2 Mar bob = 1, 3 Mar anon = 1 -> 4/31
    assert result["dau"]["value"] == round(4 / 31, 2)


def test_kpis_rollup_path_equals_raw_path(gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))

    rolled = {k["key"]: k["value"] for k in queries.kpis(MARCH)["kpis"]}
    raw = {k["key"]: k["value"] for k in queries.kpis(MARCH, force_raw=True)["kpis"]}

    for key in ("orders", "gmv", "aov", "customers"):
        assert rolled[key] == raw[key], key


def test_trends_revenue_by_day_rollup_equals_raw(gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))

    rolled = queries.trends(MARCH, metric="revenue", interval="day")
    raw = queries.trends(MARCH, metric="revenue", interval="day", force_raw=True)

    assert rolled == raw
    assert rolled["series"][0] == {"period": "2024-03-01", "value": 25.0}
    assert rolled["series"][1] == {"period": "2024-03-02", "value": 4.5}
    assert len(rolled["series"]) == 31


def test_trends_by_month_and_hour_and_event_type(gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    spring = Filters(start=date(2024, 2, 1), end=date(2024, 4, 30))

    months = queries.trends(spring, metric="revenue", interval="month")["series"]
    views = queries.trends(MARCH, metric="product_view", interval="week")["series"]
    hours = queries.trends(Filters(date(2024, 3, 1), date(2024, 3, 1)), metric="orders", interval="hour")["series"]

    assert months == [
        {"period": "2024-02-01", "value": 10.0},
        {"period": "2024-03-01", "value": 29.5},
        {"period": "2024-04-01", "value": 100.0},
    ]
    assert views[0] == {"period": "2024-02-26", "value": 3}  # 1 and 3 March fall in the week of Mon 26 Feb
    assert [h["value"] for h in hours].count(1) == 1 and hours[10] == {"period": "2024-03-01T10:00", "value": 1}


def test_trends_customers_by_month_is_distinct(gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))

    series = queries.trends(MARCH, metric="customers", interval="month")["series"]

    assert series == [{"period": "2024-03-01", "value": 2}]


def test_trends_reject_unknown_metric(db):
    with pytest.raises(Exception, match="Unknown metric"):
        queries.trends(MARCH, metric="happiness", interval="day")


def test_retention_by_month_counts_active_customers_per_offset(db):
    mug = ProductFactory()
    u1, u2, u3 = UserFactory(), UserFactory(), UserFactory()
    for when in (at(2024, 1, 5), at(2024, 2, 10), at(2024, 4, 1)):
        order(u1, when, [(mug, 1, "5.00")])
    order(u2, at(2024, 1, 20), [(mug, 1, "5.00")], status=Order.Status.CANCELLED)  # not a cohort start
    order(u2, at(2024, 2, 3), [(mug, 1, "5.00")])
    order(u2, at(2024, 3, 3), [(mug, 1, "5.00")])
    order(u3, at(2024, 1, 25), [(mug, 1, "5.00")])

    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    jan_apr = Filters(date(2024, 1, 1), date(2024, 4, 30))
    result = queries.retention(jan_apr, period="month")

    assert queries.retention(jan_apr, period="month", force_raw=True) == result
    uk = Filters(date(2024, 1, 1), date(2024, 4, 30), country="United Kingdom")  # live DailyActor path
    assert queries.retention(uk, period="month")["cohorts"] == result["cohorts"]
    assert result["cohorts"] == [
        {"cohort": "2024-01-01", "size": 2, "retained": [2, 1, 0, 1]},
        {"cohort": "2024-02-01", "size": 1, "retained": [1, 1, 0]},
    ]


def test_retention_by_week_on_events_reads_rollups(db):
    shopper = UserFactory()
    event("search", at(2024, 1, 1, 10), user=shopper, query="tea")  # Monday: week 2024-01-01
    event("search", at(2024, 1, 15, 10), user=shopper, query="tea")  # week +2
    event("search", at(2024, 1, 2, 10), anon="x")
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 1, 31))

    result = queries.retention(Filters(date(2024, 1, 1), date(2024, 1, 21)), period="week", event="search")

    assert result["cohorts"] == [{"cohort": "2024-01-01", "size": 2, "retained": [2, 0, 1]}]


def _funnel_events():
    u = UserFactory(country="France")
    p = ProductFactory()
    # a1 converts in 20 minutes
    event("product_view", at(2024, 5, 1, 10), anon="a1", product=p)
    event("add_to_cart", at(2024, 5, 1, 10, 5), anon="a1", product=p)
    event("checkout_start", at(2024, 5, 1, 10, 10), anon="a1")
    event("purchase", at(2024, 5, 1, 10, 20), anon="a1")
    # u: checkout two days later, outside a 1-day window
    event("product_view", at(2024, 5, 1, 10), user=u, product=p)
    event("add_to_cart", at(2024, 5, 1, 11), user=u, product=p)
    event("checkout_start", at(2024, 5, 3, 11), user=u)
    # a3: add to cart BEFORE viewing: only step 1 counts
    event("add_to_cart", at(2024, 5, 1, 9), anon="a3", product=p)
    event("product_view", at(2024, 5, 1, 10), anon="a3", product=p)
    # a4 converts in one hour
    event("product_view", at(2024, 5, 2, 8), anon="a4", product=p)
    event("add_to_cart", at(2024, 5, 2, 8, 10), anon="a4", product=p)
    event("checkout_start", at(2024, 5, 2, 8, 30), anon="a4")
    event("purchase", at(2024, 5, 2, 9), anon="a4")
    return u


@pytest.mark.parametrize("force_raw", [True, False], ids=["raw", "step-table"])
def test_funnel_counts_steps_in_order_within_window(db, force_raw):
    _funnel_events()
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 6, 30))

    result = queries.funnel(
        Filters(date(2024, 5, 1), date(2024, 5, 31)),
        steps=queries.DEFAULT_FUNNEL,
        window_seconds=86400,
        force_raw=force_raw,
    )

    assert [s["count"] for s in result["step_counts"]] == [4, 3, 2, 2]
    assert [s["drop_off"] for s in result["step_counts"]] == [0, 1, 1, 0]
    assert result["step_counts"][1]["conversion_from_previous"] == 0.75
    assert result["conversion_rate"] == 0.5
    assert result["median_seconds_to_convert"] == pytest.approx(2400, abs=1)


@pytest.mark.parametrize("force_raw", [True, False], ids=["raw", "step-table"])
def test_funnel_longer_window_and_country_breakdown(db, force_raw):
    _funnel_events()
    rollups_refresh_days(start=date(2024, 4, 1), end=date(2024, 6, 30))

    result = queries.funnel(
        Filters(date(2024, 5, 1), date(2024, 5, 31)),
        steps=queries.DEFAULT_FUNNEL,
        window_seconds=3 * 86400,
        breakdown="country",
        force_raw=force_raw,
    )

    assert [s["count"] for s in result["step_counts"]] == [4, 3, 3, 2]
    groups = {g["group"]: [s["count"] for s in g["step_counts"]] for g in result["groups"]}
    assert groups == {"": [3, 2, 2, 2], "France": [1, 1, 1, 0]}


def test_funnel_rejects_unknown_step(db):
    with pytest.raises(Exception, match="Unknown step"):
        queries.funnel(MARCH, steps=["product_view", "teleport"], window_seconds=3600)


@pytest.mark.parametrize("force_raw", [True, False], ids=["raw", "rollup"])
def test_top_products_exclude_fees_and_rank_by_gmv(gmv_shop, force_raw):
    rollups_refresh_days(start=date(2024, 3, 1), end=date(2024, 3, 31))

    result = queries.top(MARCH, dimension="products", force_raw=force_raw)

    assert [(i["title"], i["revenue"], i["units"]) for i in result["items"]] == [("Mug", 24.5, 3)]
    assert result["items"][0]["views"] == 3


@pytest.mark.parametrize("force_raw", [True, False], ids=["raw", "rollup"])
def test_top_zero_result_searches_recorded_and_catalog(gmv_shop, force_raw):
    event("search", at(2024, 3, 4, 10), anon="z", query="unicorn", properties={"results": 0})
    event("search", at(2024, 3, 4, 11), anon="z", query="mug", properties={"results": 3})
    rollups_refresh_days(start=date(2024, 3, 1), end=date(2024, 3, 31))

    result = queries.top(MARCH, dimension="zero_result_searches", force_raw=force_raw)

    # "unicorn" recorded 0 results; "teapot" has no count recorded and no product matches it.
    assert {(i["term"], i["searches"]) for i in result["items"]} == {("unicorn", 1), ("teapot", 1)}


def test_heatmap_and_distributions(gmv_shop):
    rollups_refresh_days(start=date(2024, 3, 1), end=date(2024, 3, 31))

    heat = queries.heatmap(MARCH, event="product_view")
    ages = queries.distributions(MARCH, field="age")
    browsing = queries.distributions(MARCH, field="browsing_count")

    # 2024-03-01 is a Friday (index 4): views at 09 and 12; 2024-03-03 Sunday 12.
    assert heat["matrix"][4][9] == 1 and heat["matrix"][4][12] == 1 and heat["matrix"][6][12] == 1
    assert sum(map(sum, heat["matrix"])) == 3
    # alice and bob were active, both born 1990 -> 34 in 2024
    assert {b["bucket"]: b["count"] for b in ages["buckets"]}["25-34"] == 2
    # alice viewed 1 product page, anon-1 viewed 2
    assert {b["bucket"]: b["count"] for b in browsing["buckets"]}["1"] == 1
    assert {b["bucket"]: b["count"] for b in browsing["buckets"]}["2-3"] == 1


def test_rfm_scores_quintiles_and_named_segments(db):
    mug = ProductFactory()
    customers = [UserFactory() for _ in range(5)]
    # customer i (1..5): i orders, the last one 60 - 10*i days before 2024-06-01, each order 10*i.
    for i, customer in enumerate(customers, start=1):
        for j in range(i):
            order(customer, at(2024, 6, 1) - timedelta(days=60 - 10 * i + j), [(mug, 1, f"{10 * i}.00")])

    as_of, rows = queries.rfm_scores(as_of=date(2024, 6, 1))
    by_user = {r["user_id"]: r for r in rows}

    for i, customer in enumerate(customers, start=1):
        row = by_user[customer.pk]
        assert (row["r"], row["f"], row["m"]) == (i, i, i)
        assert row["frequency"] == i and row["monetary"] == Decimal(10 * i * i)
    assert [by_user[c.pk]["segment"] for c in customers] == [
        "hibernating",
        "hibernating",
        "need-attention",
        "loyal",
        "champions",
    ]


@pytest.mark.parametrize(
    ("r", "f", "key"),
    [
        (5, 5, "champions"),
        (5, 1, "new-customers"),
        (4, 1, "promising"),
        (4, 2, "potential-loyalist"),
        (3, 4, "loyal"),
        (3, 1, "about-to-sleep"),
        (2, 5, "cant-lose-them"),
        (1, 3, "at-risk"),
        (1, 1, "hibernating"),
    ],
)
def test_rfm_segment_map(r, f, key):
    assert queries.rfm_segment_for(r, f)[0] == key


def test_rfm_segment_map_covers_every_cell():
    assert all(queries.rfm_segment_for(r, f) for r in range(1, 6) for f in range(1, 6))
