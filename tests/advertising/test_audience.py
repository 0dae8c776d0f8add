"""Lookalike audience scores from events/orders, used as targeting and in the estimate."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from advertising.models import AudienceScore
from advertising.selectors import audience_estimate
from advertising.training import audience_scores_refresh
from ecommerce.models import Event
from tests.factories import CategoryFactory, EventFactory, ProductFactory, UserFactory
from tests.factories.advertising import AdFactory, CampaignFactory

pytestmark = pytest.mark.django_db


def test_audience_scores_rank_lookalikes_and_drive_targeting_and_estimate(api_client, settings):
    settings.ADS_PACING = False
    garden, kitchen, toys = CategoryFactory(), CategoryFactory(), CategoryFactory()
    promoted = ProductFactory(category=garden)
    kitchen_item, toy_item = ProductFactory(category=kitchen), ProductFactory(category=toys)
    campaign = CampaignFactory(with_ad=False)
    AdFactory(campaign=campaign, product=promoted)
    when = timezone.now() - timedelta(days=1)
    # garden buyers also browse kitchen; toy browsers never touch garden
    fans = [UserFactory() for _ in range(6)]
    lookalikes = [UserFactory() for _ in range(3)]
    strangers = [UserFactory() for _ in range(8)]
    for user in fans:
        EventFactory(user=user, product=promoted, occurred_at=when)
        EventFactory(user=user, product=kitchen_item, occurred_at=when)
    for user in lookalikes:
        EventFactory(user=user, product=kitchen_item, occurred_at=when, type=Event.Type.ADD_TO_CART)
        EventFactory(user=user, product=kitchen_item, occurred_at=when)
    for user in strangers:
        EventFactory(user=user, product=toy_item, occurred_at=when)
    result = audience_scores_refresh(campaign_id=campaign.pk)
    assert result["status"] == "scored" and result["positives"] == 6
    scores = dict(AudienceScore.objects.filter(campaign=campaign).values_list("user_id", "score"))
    assert min(scores[u.pk] for u in lookalikes) > max(scores[u.pk] for u in strangers)
    # as a targeting rule
    threshold = (min(scores[u.pk] for u in lookalikes) + max(scores[u.pk] for u in strangers)) / 2
    campaign.lookalike_min_score = threshold
    campaign.save()
    estimate = audience_estimate(campaign=campaign)
    assert estimate["matching_users"] == len([s for s in scores.values() if s >= threshold])
    assert estimate["likely_interested"] is not None
    api_client.cookies["tracking_consent"] = "yes"  # lookalike targeting is personal: needs consent
    api_client.force_login(lookalikes[0])
    assert len(api_client.get("/api/ads/serve/", {"slot": "product"}).json()["ads"]) == 1
    api_client.force_login(strangers[0])
    assert api_client.get("/api/ads/serve/", {"slot": "product"}).json()["ads"] == []
    assert Decimal(campaign.bid) > 0


def test_refreshing_many_campaigns_reads_the_logs_once_and_scores_like_one_by_one():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from advertising.training import audience_scores_refresh_many

    garden, toys = CategoryFactory(), CategoryFactory()
    plant, toy = ProductFactory(category=garden), ProductFactory(category=toys)
    campaigns = []
    for product in (plant, toy):
        campaign = CampaignFactory(with_ad=False)
        AdFactory(campaign=campaign, product=product)
        campaigns.append(campaign)
    for i in range(12):
        EventFactory(user=UserFactory(), product=plant if i % 3 else toy)
    one_by_one = {}
    for campaign in campaigns:
        audience_scores_refresh(campaign_id=campaign.pk)
        one_by_one[campaign.pk] = dict(AudienceScore.objects.filter(campaign=campaign).values_list("user_id", "score"))
    with CaptureQueriesContext(connection) as queries:
        results = audience_scores_refresh_many([c.pk for c in campaigns])
    assert [r["status"] for r in results] == ["scored", "scored"]
    assert sum('FROM "ecommerce_event"' in q["sql"] for q in queries.captured_queries) == 1
    for campaign in campaigns:
        again = dict(AudienceScore.objects.filter(campaign=campaign).values_list("user_id", "score"))
        assert again == pytest.approx(one_by_one[campaign.pk])
