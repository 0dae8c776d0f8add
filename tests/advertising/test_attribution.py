"""Conversions (advertising.attribution): click window 7 days, view window 1 day, last click
beats any view, once per order, with the order's revenue; guests through their consented session
or anonymous id; reports show conversions, revenue, ROAS and CPA."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from advertising.attribution import conversions_attribute
from advertising.models import Click, Conversion, DailyReport, Impression
from advertising.selectors import report_totals
from advertising.services import report_rollups_refresh
from ecommerce.models import Event, UserAlias
from tests.factories import EventFactory, OrderFactory, OrderItemFactory, UserFactory
from tests.factories.advertising import CampaignFactory

pytestmark = pytest.mark.django_db


def _impression(campaign, *, at, user=None, session_key="", price="0.50"):
    return Impression.objects.create(
        campaign=campaign,
        ad=campaign.ads.first(),
        user=user,
        session_key=session_key,
        slot="listing",
        bid_type=campaign.bid_type,
        price=Decimal(price),
        pctr=0.02,
        created_at=at,
    )


def _click(campaign, *, at, user=None, session_key="", price="0.50"):
    impression = _impression(campaign, at=at - timedelta(seconds=5), user=user, session_key=session_key, price=price)
    return Click.objects.create(
        impression=impression, campaign=campaign, ad=impression.ad, user=user, charged=Decimal(price), created_at=at
    )


def _order(*, user, at, total="30.00", status="paid", number=None):
    kwargs = {"number": number} if number else {}
    order = OrderFactory(user=user, placed_at=at, status=status, **kwargs)
    OrderItemFactory(order=order, unit_price=Decimal(total), quantity=1)
    return order


def _attribute():
    return conversions_attribute(since=timezone.now() - timedelta(days=60))


def test_click_within_7_days_converts_once_with_the_order_revenue():
    # given a shopper who clicked 6 days before buying
    now = timezone.now()
    shopper = UserFactory()
    campaign = CampaignFactory()
    click = _click(campaign, at=now - timedelta(days=6), user=shopper)
    order = _order(user=shopper, at=now - timedelta(hours=1), total="42.50")
    # when attributed twice
    assert _attribute() == 1
    assert _attribute() == 0
    # then one click-through conversion with the order's total
    conversion = Conversion.objects.get()
    assert (conversion.kind, conversion.click_id, conversion.campaign_id) == ("click", click.pk, campaign.pk)
    assert (conversion.order_id, conversion.revenue) == (order.pk, Decimal("42.50"))


def test_click_older_than_the_window_does_not_convert():
    now = timezone.now()
    shopper = UserFactory()
    campaign = CampaignFactory(view_attribution_days=0)
    _click(campaign, at=now - timedelta(days=8), user=shopper)
    _order(user=shopper, at=now)
    assert _attribute() == 0


def test_the_campaign_sets_its_click_window():
    now = timezone.now()
    shopper = UserFactory()
    campaign = CampaignFactory(attribution_days=14)
    _click(campaign, at=now - timedelta(days=10), user=shopper)
    _order(user=shopper, at=now)
    assert _attribute() == 1


def test_view_within_1_day_converts_and_older_view_does_not():
    now = timezone.now()
    recent, stale = UserFactory(), UserFactory()
    campaign = CampaignFactory()
    impression = _impression(campaign, at=now - timedelta(hours=20), user=recent)
    _impression(campaign, at=now - timedelta(hours=30), user=stale)
    _order(user=recent, at=now)
    _order(user=stale, at=now)
    assert _attribute() == 1
    conversion = Conversion.objects.get()
    assert (conversion.kind, conversion.impression_id, conversion.click_id) == ("view", impression.pk, None)


def test_view_through_off_when_the_view_window_is_0():
    now = timezone.now()
    shopper = UserFactory()
    _impression(CampaignFactory(view_attribution_days=0), at=now - timedelta(hours=1), user=shopper)
    _order(user=shopper, at=now)
    assert _attribute() == 0


def test_last_click_wins_and_a_click_beats_a_later_view():
    # given clicks on A (3 days ago) and B (2 days ago), then a view of C an hour ago
    now = timezone.now()
    shopper = UserFactory()
    a, b, c = CampaignFactory(), CampaignFactory(), CampaignFactory()
    _click(a, at=now - timedelta(days=3), user=shopper)
    _click(b, at=now - timedelta(days=2), user=shopper)
    _impression(c, at=now - timedelta(hours=1), user=shopper)
    _order(user=shopper, at=now)
    # a click after the purchase never counts
    _click(a, at=now + timedelta(minutes=5), user=shopper)
    _attribute()
    assert Conversion.objects.get().campaign_id == b.pk


def test_someone_elses_click_and_unpaid_or_cancelled_orders_do_not_count():
    now = timezone.now()
    shopper, clicker = UserFactory(), UserFactory()
    campaign = CampaignFactory()
    _click(campaign, at=now - timedelta(days=1), user=clicker)
    _order(user=shopper, at=now)  # bought, but the click was someone else's
    _order(user=clicker, at=now, status="pending")
    _order(user=clicker, at=now, status="cancelled")
    assert _attribute() == 0


def test_guest_order_attributed_through_the_consented_session_of_the_purchase():
    # given an anonymous (consented) shopper who clicked in session S, then checked out as a guest
    now = timezone.now()
    campaign = CampaignFactory()
    _click(campaign, at=now - timedelta(hours=3), session_key="sess-guest")
    order = _order(user=None, at=now, total="19.99")
    EventFactory(
        type=Event.Type.PURCHASE, session_key="sess-guest", properties={"order": order.number}, occurred_at=now
    )
    # a guest order without consent has no purchase event: nothing can match it
    _order(user=None, at=now)
    assert _attribute() == 1
    assert Conversion.objects.get().revenue == Decimal("19.99")


def test_guest_order_attributed_through_the_anonymous_id_across_sessions():
    # the browser kept its anonymous id; the click was in an earlier session
    now = timezone.now()
    campaign = CampaignFactory()
    _click(campaign, at=now - timedelta(days=2), session_key="sess-monday")
    EventFactory(session_key="sess-monday", anonymous_id="anon-1", occurred_at=now - timedelta(days=2))
    order = _order(user=None, at=now)
    EventFactory(
        type=Event.Type.PURCHASE,
        session_key="sess-wednesday",
        anonymous_id="anon-1",
        properties={"order": order.number},
        occurred_at=now,
    )
    assert _attribute() == 1


def test_click_before_login_counts_for_the_account_through_its_session_alias():
    now = timezone.now()
    shopper = UserFactory()
    campaign = CampaignFactory()
    _click(campaign, at=now - timedelta(days=1), session_key="pre-login")
    UserAlias.objects.create(user=shopper, kind=UserAlias.Kind.SESSION, value="pre-login")
    _order(user=shopper, at=now)
    assert _attribute() == 1


def test_report_shows_conversions_revenue_roas_and_cpa():
    # given two paid clicks (0.50 + 1.50 = 2.00) by two buyers of 30 and 50
    # noon of yesterday (local): clicks and orders in the past whatever the time of day the test runs
    now = timezone.localtime(timezone.now() - timedelta(days=1)).replace(hour=12, minute=0)
    campaign = CampaignFactory()
    buyers = [UserFactory(), UserFactory()]
    _click(campaign, at=now - timedelta(hours=2), user=buyers[0], price="0.50")
    _click(campaign, at=now - timedelta(hours=2), user=buyers[1], price="1.50")
    _order(user=buyers[0], at=now - timedelta(hours=1), total="30.00")
    _order(user=buyers[1], at=now - timedelta(hours=1), total="50.00")
    # when the rollup runs (it attributes first)
    result = report_rollups_refresh(days=1, today=timezone.localdate(now))
    # then
    assert result["conversions_attributed"] == 2
    row = DailyReport.objects.get(campaign=campaign)
    assert (row.impressions, row.clicks, row.spend) == (2, 2, Decimal("2.00"))
    assert (row.conversions, row.revenue) == (2, Decimal("80.00"))
    assert row.roas == 40.0
    assert row.cpa == Decimal("1.0000")
    totals = report_totals([row])
    assert totals["roas"] == 40.0 and totals["cpa"] == Decimal("1.0000")


def test_demo_reports_show_conversions_and_revenue():
    """The demo's simulated clicks named no shopper, so every report row had 0 conversions."""
    from io import StringIO

    from advertising.demo import seed_demo_advertising
    from advertising.demo_shoppers import demo_ad_shoppers_link
    from tests.factories import ProductFactory

    # given the demo campaigns with their simulated traffic and demo customers' orders
    products = [ProductFactory(stock=50) for _ in range(12)]
    seed_demo_advertising(seed=3, stdout=StringIO())
    now = timezone.now()
    for i in range(40):
        order = OrderFactory(user=UserFactory(), placed_at=now - timedelta(days=i % 12, hours=1), status="delivered")
        OrderItemFactory(order=order, product=products[i % 12], unit_price=Decimal("12.50"), quantity=2)
    assert DailyReport.objects.filter(conversions__gt=0).count() == 0
    # when the demo links some clicks to buyers
    demo_ad_shoppers_link(seed=3, stdout=StringIO())
    # then the reports show conversions with their revenue, each credited to the buyer's own click
    conversions = list(Conversion.objects.select_related("click", "order"))
    assert conversions
    for conversion in conversions:
        assert conversion.click.user_id == conversion.order.user_id
        assert timedelta(0) <= conversion.order.placed_at - conversion.click.created_at <= timedelta(days=7)
    rows = DailyReport.objects.all()
    assert sum(r.conversions for r in rows) == len(conversions)
    assert sum(r.revenue for r in rows) == Decimal("25.00") * len(conversions)
