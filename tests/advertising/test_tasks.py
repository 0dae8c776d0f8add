"""Celery tasks on a real worker, report rollups, conversions and the audience scores."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from advertising.models import Click, Conversion, DailyReport, Impression
from advertising.services import report_rollups_refresh
from advertising.tasks import refresh_report_rollups_task, retrain_ctr_task
from ecommerce.models import ModelVersion
from tests.factories import OrderFactory, OrderItemFactory, UserFactory
from tests.factories.advertising import CampaignFactory


def _log(campaign, *, user=None, clicked=False, price="0.50", when=None, features=None):
    ad = campaign.ads.first()
    impression = Impression.objects.create(
        campaign=campaign,
        ad=ad,
        user=user,
        slot="listing",
        bid_type=campaign.bid_type,
        price=Decimal(price),
        pctr=0.02,
        created_at=when or timezone.now(),
        features=features or {},
    )
    if clicked:
        Click.objects.create(
            impression=impression,
            campaign=campaign,
            ad=ad,
            user=user,
            charged=Decimal(price),
            created_at=impression.created_at + timedelta(seconds=3),
        )
    return impression


@pytest.mark.django_db
def test_report_rollups_count_attribute_and_are_idempotent():
    # given 4 impressions, 2 clicks (0.50 each) and an order 1 day after a click
    shopper = UserFactory()
    campaign = CampaignFactory(attribution_days=7)
    now = timezone.now()
    yesterday = now - timedelta(days=1)
    _log(campaign, user=shopper, clicked=True, when=yesterday)
    _log(campaign, when=yesterday)
    _log(campaign, clicked=True, when=now)
    _log(campaign, when=now)
    order = OrderFactory(user=shopper, placed_at=now - timedelta(hours=2))
    OrderItemFactory(order=order, unit_price=Decimal("20.00"), quantity=2)
    late_order = OrderFactory(user=UserFactory(), placed_at=now)  # never clicked: not attributed
    OrderItemFactory(order=late_order)
    # when run twice
    report_rollups_refresh(days=2)
    report_rollups_refresh(days=2)
    # then
    rows = {r.day: r for r in DailyReport.objects.filter(campaign=campaign)}
    assert len(rows) == 2 and Conversion.objects.count() == 1
    today = rows[timezone.localdate(now)]
    assert (today.impressions, today.clicks, today.spend) == (2, 1, Decimal("0.50"))
    assert today.ctr == 0.5 and today.avg_cpc == Decimal("0.5000")
    total_revenue = sum(r.revenue for r in rows.values())
    assert total_revenue == Decimal("40.00")
    assert sum(r.conversions for r in rows.values()) == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_tasks_run_on_real_worker(celery_worker_real):
    # given logs with a learnable pattern: ad shown in "search" gets clicked far more
    campaign = CampaignFactory()
    start = timezone.now() - timedelta(hours=5)
    for i in range(400):
        slot = "search" if i % 2 else "listing"
        clicked = (i % 2 == 1 and i % 6 == 1) or i % 40 == 0
        _log(
            campaign,
            clicked=clicked,
            when=start + timedelta(seconds=20 * i),
            features={"slot": slot, "ad": str(campaign.ads.first().pk)},
        )
    # when
    rollup = refresh_report_rollups_task.delay(days=2).get(timeout=120)
    trained = retrain_ctr_task.delay(c_grid=[0.1]).get(timeout=300)
    # then
    assert rollup["rows"] >= 1
    reports = DailyReport.objects.filter(campaign=campaign)
    assert sum(r.impressions for r in reports) == 400
    assert sum(r.clicks for r in reports) == Click.objects.count()
    assert trained["status"] == "trained" and trained["promoted"] is True
    active = ModelVersion.objects.get(name="advertising.ctr", status="active")
    assert active.primary_metric == "logloss" and active.metrics["auc"] > 0.6


@pytest.mark.django_db
def test_refresh_all_audience_scores_fans_out_to_live_lookalike_campaigns(monkeypatch):
    from advertising.tasks import refresh_all_audience_scores_task, refresh_audience_scores_task
    from tests.factories.advertising import CampaignFactory

    lookalike = CampaignFactory(lookalike_min_score=0.5)
    CampaignFactory()  # no lookalike audience: nothing to score
    CampaignFactory(lookalike_min_score=0.5, status="paused")  # not live
    queued = []
    monkeypatch.setattr(refresh_audience_scores_task, "delay", queued.append)

    result = refresh_all_audience_scores_task()

    assert queued == [lookalike.pk]
    assert result == {"campaigns": 1}
