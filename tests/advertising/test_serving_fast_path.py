"""The ad endpoint's cheap paths (issue 12): its usual query read without the serializer, and the
merchant's settings remembered per live-snapshot version instead of two cache reads a request."""

from decimal import Decimal

import pytest
from django.http import QueryDict

from advertising import conf
from advertising.api import ServeInput, _serve_params
from advertising.selectors import live_ads_invalidate, live_version_seen
from tests.factories import RoleStaffFactory
from tests.factories.advertising import CampaignFactory

pytestmark = pytest.mark.django_db


def _by_serializer(query: str) -> dict:
    data = ServeInput(data=QueryDict(query))
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


@pytest.mark.parametrize(
    "query",
    [
        "slot=product&product_id=11",
        "slot=listing&category_id=3&n=2",
        "slot=search&n=10",
        "slot=product&product_id=007",
        "slot=product&product_id=2147483647",
        "slot=search&q=bag",  # not the fast path's: read by the serializer
        "slot=listing&cart=1,2,2",
    ],
)
def test_the_fast_read_gives_what_the_serializer_gives(query):
    assert _serve_params(QueryDict(query)) == _by_serializer(query)


@pytest.mark.parametrize(
    "query",
    [
        "slot=sidebar",
        "product_id=1",
        "slot=product&product_id=0",
        "slot=product&product_id=2147483648",
        "slot=product&product_id=-1",
        "slot=product&product_id=%EF%BC%91",  # a full-width digit
        "slot=product&n=11",
        "slot=product&n=abc",
        "slot=product&slot=listing&product_id=1",
        "slot=listing&cart=" + ",".join(str(i) for i in range(1, 60)),
    ],
)
def test_every_bad_query_answers_the_serializers_400(api_client, query):
    response = api_client.get("/api/ads/serve/?" + query)
    expected = ServeInput(data=QueryDict(query))
    if not expected.is_valid():
        assert response.status_code == 400
        assert set(response.json()) >= set(expected.errors)
    else:  # a repeated parameter: the serializer takes the last value, so does the view
        assert response.status_code == 200


def test_merchant_settings_are_read_once_per_snapshot_version():
    live_ads_invalidate()  # a known version, as the ads API's round trip would bring back
    conf.merchant_settings()
    from django.core.cache import cache

    cache.set(conf.SETTINGS_CACHE_KEY, {**_raw(), "allowed_slots": ["search"]}, timeout=None)
    # Same version: the process keeps what it read (no round trip per request)...
    assert conf.merchant_settings().allowed_slots != ("search",)
    # ...a new version (every settings save bumps it) makes it read again.
    live_ads_invalidate()
    assert conf.merchant_settings().allowed_slots == ("search",)


def _raw() -> dict:
    return {
        "reserve_cpc": "0.05",
        "reserve_cpm": "1.00",
        "allowed_slots": ["listing"],
        "allow_external_landing_urls": False,
    }


def test_a_settings_save_in_another_process_shows_within_a_second(client):
    from advertising import selectors

    CampaignFactory()
    assert client.get("/api/ads/serve/", {"slot": "listing"}).json()["ads"]
    stale_version = conf._memo[0]
    assert stale_version is not None
    from advertising.services import merchant_settings_save

    merchant_settings_save(user=RoleStaffFactory(role="marketing"), data={"allowed_slots": ["product"]})
    # Another process: it still holds the old settings and the version it saw last...
    conf._memo = (stale_version, _raw())
    live_version_seen(stale_version)
    # ...which it trusts for SEEN_FRESH_SECONDS (serving makes no round trip of its own); a
    # second later its next request reads the version again and sees the save.
    selectors._seen["at"] -= selectors.SEEN_FRESH_SECONDS
    assert client.get("/api/ads/serve/", {"slot": "listing", "n": 2}).json()["ads"] == []


def test_environment_defaults_follow_a_changed_setting(settings):
    # No AdsSettings row: the environment's values, which a settings change must reach at once.
    from django.core.cache import cache

    cache.delete(conf.SETTINGS_CACHE_KEY)
    conf._memo = (None, None)
    settings.ADS_RESERVE_CPC = "0.07"
    assert conf.reserve_cpc() == Decimal("0.07")
    assert conf.merchant_settings() is conf.merchant_settings()  # built once, not per call
    settings.ADS_RESERVE_CPC = "0.09"
    assert conf.reserve_cpc() == Decimal("0.09")
