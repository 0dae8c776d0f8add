"""Analytics are fresh after a bulk load: the data-loaded hook, refresh_analytics, the schedule."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from analytics import queries
from analytics.models import DailyMetric
from analytics.rollups import rollups_refresh_pending
from analytics.selectors import rollups_refreshed_at
from ecommerce import plugins
from ecommerce.celery import app as celery_app
from tests.analytics.conftest import at, order
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def _orders_rolled_up(day: date) -> Decimal:
    row = DailyMetric.objects.filter(metric="orders", day=day).first()
    return row.amount if row else Decimal("0")


def _historic_order_behind_the_watermark():
    """An order dated 2011 written after a pending refresh has run: as an import writes history,
    its rows are older than the watermark, so the 10-minute pending refresh never looks at 2011."""
    rollups_refresh_pending()
    placed = order(UserFactory(), at(2011, 3, 4, 10), [(ProductFactory(), 2, "5.00")])
    # An importer keeps the order's own timestamps (updated_at in the past, as the UCI import does).
    type(placed).objects.filter(pk=placed.pk).update(updated_at=at(2011, 3, 4, 10))
    return placed


def test_pending_refresh_alone_misses_bulk_loaded_history():
    # given history loaded behind the watermark
    _historic_order_behind_the_watermark()
    # when only the periodic refresh runs
    rollups_refresh_pending()
    # then 2011 stays empty: this is why bulk loads must say which days they wrote
    assert _orders_rolled_up(date(2011, 3, 4)) == Decimal("0")


def test_data_loaded_hook_refreshes_the_loaded_days(django_capture_on_commit_callbacks, eager_tasks):
    _historic_order_behind_the_watermark()
    # when an importer announces the days it wrote: queued after commit (eager Celery runs it then)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        plugins.data_loaded(start=date(2011, 3, 1), end=date(2011, 3, 31))
        assert _orders_rolled_up(date(2011, 3, 4)) == Decimal("0")  # not before the commit
    assert len(callbacks) == 1
    # then the dashboard's rollups have them
    assert _orders_rolled_up(date(2011, 3, 4)) == Decimal("10.00")


def test_refresh_analytics_command_all_history_and_range():
    _historic_order_behind_the_watermark()
    before = timezone.now()

    out = io.StringIO()
    call_command("refresh_analytics", stdout=out)

    assert _orders_rolled_up(date(2011, 3, 4)) == Decimal("10.00")
    assert "2011-03-04 to" in out.getvalue()
    assert rollups_refreshed_at() >= before
    # a range recomputes just those days
    DailyMetric.objects.all().delete()
    call_command("refresh_analytics", "--start", "2011-03-04", "--end", "2011-03-04", stdout=out)
    assert _orders_rolled_up(date(2011, 3, 4)) == Decimal("10.00")
    assert DailyMetric.objects.filter(day__gt=date(2011, 3, 4)).count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2011-03-04"], "both --start and --end"),
        (["--start", "2011-13-01", "--end", "2011-12-01"], "--start must be a date"),
        (["--start", "2011-03-04", "--end", "2011-03-01"], "is before --start"),
    ],
)
def test_refresh_analytics_command_rejects_bad_ranges(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("refresh_analytics", *args)


def test_refreshed_at_is_none_before_any_refresh_and_set_after():
    assert rollups_refreshed_at() is None
    call_command(
        "refresh_analytics",
        "--start",
        str(date.today() - timedelta(days=1)),
        "--end",
        str(date.today()),
        stdout=io.StringIO(),
    )
    assert rollups_refreshed_at() is not None


def test_beat_schedule_names_only_registered_tasks():
    celery_app.loader.import_default_modules()  # autodiscovery of every app's tasks.py
    registered = set(celery_app.tasks)
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - registered == set()
    # the two jobs that feed ad targeting are on the schedule
    assert {"analytics.cluster_segments", "advertising.refresh_all_audience_scores"} <= scheduled


def _daily_row(day: date) -> None:
    DailyMetric.objects.create(day=day, metric="orders", count=1, amount=Decimal("1.00"))


def test_default_range_ends_today_when_there_is_recent_data():
    today = timezone.localdate()
    _daily_row(today - timedelta(days=1))  # the last rollup was yesterday; today's orders count too

    start, end = queries.default_range()

    assert (start, end) == (today - timedelta(days=29), today)


def test_default_range_ends_on_the_last_day_of_historic_data():
    _daily_row(date(2011, 12, 9))

    assert queries.default_range() == (date(2011, 11, 10), date(2011, 12, 9))


def test_rfm_summary_names_the_last_day_it_counts():
    order(UserFactory(), at(2024, 5, 31, 12), [(ProductFactory(), 1, "3.00")])

    summary = queries.rfm_summary()

    assert summary["as_of"] == "2024-06-01"  # exclusive cut-off, as the API documents
    assert summary["orders_through"] == "2024-05-31"


def test_dashboard_page_carries_the_shop_name_in_the_admin_header(client, settings):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())

    html = client.get("/analytics/dashboard/").content.decode()

    assert f"{settings.SHOP_NAME} administration" in html


def _analyst_client(client):
    from tests.factories import RoleStaffFactory

    client.force_login(RoleStaffFactory(role="analyst"))
    return client


def test_merchant_refresh_button_queues_the_range_and_reports_it(
    client, django_capture_on_commit_callbacks, eager_tasks
):
    _historic_order_behind_the_watermark()
    client = _analyst_client(client)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/analytics/refresh/", {"start": "2011-03-01", "end": "2011-03-31"}, follow=True)

    assert "Refresh of 2011-03-01 to 2011-03-31 queued" in response.content.decode()
    assert _orders_rolled_up(date(2011, 3, 4)) == Decimal("10.00")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "2011-03-01"}, "two dates"),
        ({"start": "2011-03-31", "end": "2011-03-01"}, "before its start"),
        ({"start": "2010-01-01", "end": "2011-03-01"}, "at most 366 days"),
    ],
)
def test_merchant_refresh_button_rejects_bad_ranges(client, data, message):
    response = _analyst_client(client).post("/analytics/refresh/", data, follow=True)

    assert message in response.content.decode()
    assert not DailyMetric.objects.exists()
