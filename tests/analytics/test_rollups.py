from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics import queries
from analytics.models import DailyActor, DailyMetric, HourlyMetric, RollupState
from analytics.queries import Filters
from analytics.rollups import rollups_refresh_days, rollups_refresh_pending
from ecommerce.models import Order
from tests.analytics.conftest import at, event, order
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        sorted(DailyMetric.objects.values_list("day", "country", "metric", "count", "actors", "amount")),
        sorted(HourlyMetric.objects.values_list("hour", "metric", "count", "actors", "amount")),
        sorted(DailyActor.objects.values_list("day", "metric", "actor", "country")),
    )


def test_refresh_days_is_idempotent(gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    first = _snapshot()
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    rollups_refresh_days(start=date(2024, 3, 1), end=date(2024, 3, 2))

    assert _snapshot() == first
    assert DailyMetric.objects.get(day=date(2024, 3, 1), metric="orders", country="United Kingdom").amount == Decimal(
        "25.00"
    )


def test_rollup_totals_equal_raw_aggregates(gmv_shop):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    year = Filters(date(2024, 1, 1), date(2024, 4, 30))

    rolled = sum((m.amount for m in DailyMetric.objects.filter(metric="orders")), Decimal("0"))
    hourly = sum((m.amount for m in HourlyMetric.objects.filter(metric="orders")), Decimal("0"))
    rolled_orders = sum(DailyMetric.objects.filter(metric="orders").values_list("count", flat=True))

    assert rolled == hourly == queries.gmv(year) == Decimal("139.50")
    assert rolled_orders == Order.objects.not_cancelled().count() == 4
    assert sum(DailyMetric.objects.filter(metric="event:product_view").values_list("count", flat=True)) == 3


def test_pending_refresh_recomputes_days_of_late_events_and_changed_orders(db):
    mug = ProductFactory()
    shopper = UserFactory()
    now = timezone.now()
    old_day = now - timedelta(days=5)
    placed = order(shopper, old_day, [(mug, 2, "3.00")])
    first = rollups_refresh_pending()
    assert first["days"] >= 6
    day = timezone.localtime(old_day).date()
    assert DailyMetric.objects.get(day=day, metric="orders").amount == Decimal("6.00")

    # when: an event about that day arrives late, and the order is cancelled
    event("product_view", old_day, user=shopper, product=mug)
    Order.objects.filter(pk=placed.pk).update(status=Order.Status.CANCELLED, updated_at=timezone.now())
    second = rollups_refresh_pending()

    # then: that day (and today) were recomputed
    assert [day.isoformat(), day.isoformat()] in [list(r) for r in second["ranges"]]
    assert not DailyMetric.objects.filter(day=day, metric="orders").exists()
    assert DailyMetric.objects.get(day=day, metric="event:product_view").count == 1
    assert RollupState.objects.get().last_received_at is not None


def test_pending_refresh_with_nothing_new_only_touches_today(db):
    rollups_refresh_pending()
    result = rollups_refresh_pending()
    today = timezone.localdate().isoformat()
    assert result["ranges"] == [(today, today)]


def test_hourly_rollup_feeds_hour_trends(db):
    shopper = UserFactory()
    event("add_to_cart", at(2024, 2, 1, 7, 15), user=shopper)
    event("add_to_cart", at(2024, 2, 1, 7, 45), user=shopper)
    rollups_refresh_days(start=date(2024, 2, 1), end=date(2024, 2, 1))

    series = queries.trends(Filters(date(2024, 2, 1), date(2024, 2, 1)), metric="add_to_cart", interval="hour")[
        "series"
    ]

    assert series[7] == {"period": "2024-02-01T07:00", "value": 2}
    assert sum(p["value"] for p in series) == 2


def test_sketch_estimates_match_exact_counts_on_small_data(gmv_shop, settings):
    rollups_refresh_days(start=date(2024, 1, 1), end=date(2024, 4, 30))
    exact = {k["key"]: k["value"] for k in queries.kpis(Filters(date(2024, 1, 1), date(2024, 4, 30)))["kpis"]}
    exact_weeks = queries.trends(Filters(date(2024, 2, 1), date(2024, 4, 30)), metric="visitors", interval="week")

    settings.ANALYTICS_EXACT_ACTOR_DAYS = 0  # force the HyperLogLog path
    sketched = {k["key"]: k["value"] for k in queries.kpis(Filters(date(2024, 1, 1), date(2024, 4, 30)))["kpis"]}
    sketched_weeks = queries.trends(Filters(date(2024, 2, 1), date(2024, 4, 30)), metric="visitors", interval="week")

    # a handful of actors: HyperLogLog's linear counting is exact at this size
    assert sketched == exact
    assert sketched_weeks == exact_weeks
    assert exact["visitors"] == 3  # alice, bob, anon-1 (alice in Feb and Apr is the same actor)


def test_sketch_estimate_is_within_five_percent_on_many_actors():
    from analytics.sketches import estimate, sketch_of

    first = sketch_of(f"u{i}" for i in range(20_000))
    second = sketch_of(f"u{i}" for i in range(10_000, 40_000))  # overlaps the first by 10,000

    assert abs(estimate([first, second]) - 40_000) / 40_000 < 0.05
