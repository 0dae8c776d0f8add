"""The tracker keeps events through an outage: a real browser, a real server, a failing network.

`page.route` stands between the page and POST /api/events/ and fails or delays the requests;
the assertions read the Event table of the live server. One limit of the harness: requests a
page fires while it unloads (the `pagehide` beacon) bypass Playwright's routing and reach the
server. That suits the tracker's contract (a beacon's fate is unknown, so its events stay
queued and are resent), and the tests assert exactly that instead of pretending they failed.
"""

from __future__ import annotations

import json
import time

import pytest
from django.db import OperationalError

from ecommerce.models import Event
from tests.ecommerce.test_browser_storefront import _catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVENTS_ROUTE = "**/api/events/**"
# Short delays so a test does not wait minutes; the shipped defaults are 5 s, 2 s .. 5 min.
FAST = "window.shopTrackerConfig = {flushDelayMs: 300, resumeDelayMs: 200, backoffBaseMs: 300, backoffMaxMs: 900};"


def _queued_ids(page) -> list[str]:
    raw = page.evaluate("window.localStorage.getItem('shop_event_queue')")
    return [item["e"]["id"] for item in json.loads(raw)] if raw else []


def _holds(condition) -> bool:
    """condition(), where a read that meets the live server mid-write counts as "not yet": on SQLite
    (the embedded default) the test thread and the live server share one in-memory connection, and
    a read while the server's request holds the event table's lock fails instead of waiting."""
    try:
        return condition()
    except OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False


def _wait(page, condition, deadline_s: float = 20.0) -> bool:
    """Poll while letting Playwright run (route handlers only run inside Playwright calls)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if _holds(condition):
            return True
        page.wait_for_timeout(200)
    page.wait_for_load_state("networkidle")
    return condition()


@pytest.fixture
def fast_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(FAST)
    page = context.new_page()
    yield page
    context.clear_cookies()  # no consent: nothing is sent into the next test's database
    context.close()


def _body_ids(request) -> list[str]:
    try:
        return [e["id"] for e in json.loads(request.post_data or "{}").get("events", [])]
    except (ValueError, AttributeError):
        return []


def test_events_recorded_during_an_outage_arrive_exactly_once_afterwards(live_server, fast_page, screenshot):
    # given a consenting shopper and an event API that is down: 503 with Retry-After, then
    # connections that die, taking turns
    page = fast_page
    kitchen, stand = _catalogue()
    url = live_server.url
    page.goto(url + "/")
    failures: list[str] = []
    sent_during_outage: set[str] = set()

    def outage(route):
        sent_during_outage.update(_body_ids(route.request))
        if len(failures) % 2 == 0:
            failures.append("503")
            route.fulfill(
                status=503,
                headers={"Retry-After": "1"},
                content_type="application/json",
                body='{"detail": "Service unavailable."}',
            )
        else:
            failures.append("abort")
            route.abort("connectionreset")

    page.route(EVENTS_ROUTE, outage)
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()
    # when the shopper browses several pages, lingering long enough for sends to fail
    generated: set[str] = set()
    for path in ["/", f"/c/{kitchen.slug}/", stand.get_absolute_url(), "/search/?q=bag"]:
        page.goto(url + path)
        page.wait_for_timeout(1500)
        generated.update(_queued_ids(page))
    page.goto(url + stand.get_absolute_url())
    page.click("form.add-to-cart button[type=submit]")  # add_to_cart, then the cart page
    page.wait_for_url(url + "/cart/")
    page.wait_for_timeout(1500)
    generated.update(_queued_ids(page))
    screenshot(page, "tracker-outage-cart")
    # then sends were tried and failed both ways, and no event left the queue: neither those
    # whose fetch failed nor those a pagehide beacon carried (a beacon is never acknowledged)
    anonymous_id = page.evaluate("window.localStorage.getItem('shop_anonymous_id')")
    assert {"503", "abort"} <= set(failures)
    assert set(_queued_ids(page)) == generated
    assert sent_during_outage <= generated
    assert len(generated) >= 8  # five page views, a product view, a search, an add to cart
    beaconed = {str(pk) for pk in Event.objects.filter(pk__in=generated).values_list("pk", flat=True)}
    assert beaconed < generated  # what failed by fetch is not in the table yet

    # when the API is back
    answers: list[dict] = []
    resent: set[str] = set()
    page.on("response", lambda r: "/api/events/" in r.url and answers.append(r.json()))
    page.on(
        "request",
        lambda r: (
            "/api/events/" in r.url
            and r.post_data
            and resent.update(str(e.get("id")) for e in json.loads(r.post_data).get("events", []))
        ),
    )
    page.unroute(EVENTS_ROUTE)
    page.goto(url + "/")
    # then every event of the outage arrives, once, and the queue empties
    assert _wait(page, lambda: Event.objects.filter(pk__in=generated).count() == len(generated))
    assert _wait(page, lambda: _queued_ids(page) == [])
    # the beaconed events were sent again (a beacon is never acknowledged); the server stores each
    # id once (the count above), so the resend is harmless. (Whether the server counts the resend
    # as a duplicate depends on which of a late beacon and the resend lands first: not asserted.)
    assert beaconed <= resent
    assert all(a["rejected"] == [] for a in answers)
    stored = list(Event.objects.filter(pk__in=generated).values_list("pk", flat=True))
    assert sorted(str(pk) for pk in stored) == sorted(generated)
    mine = Event.objects.filter(anonymous_id=anonymous_id)
    assert set(mine.values_list("type", flat=True)) >= {"page_view", "product_view", "search", "add_to_cart"}
    assert mine.filter(type="add_to_cart", product=stand).count() == 1


def test_429_retry_after_is_honoured_across_a_page_load(live_server, fast_page):
    # given an API that answers the first request with 429 Retry-After: 3, then works
    page = fast_page
    _catalogue()
    url = live_server.url
    page.goto(url + "/")
    requests: list[tuple[float, str]] = []

    def throttled_once(route):
        if not requests:
            requests.append((time.monotonic(), "429"))
            route.fulfill(
                status=429,
                headers={"Retry-After": "3"},
                content_type="application/json",
                body='{"detail": "Request was throttled. Expected available in 3 seconds."}',
            )
        else:
            requests.append((time.monotonic(), "passed"))
            route.continue_()

    page.route(EVENTS_ROUTE, throttled_once)
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()
    assert _wait(page, lambda: len(requests) == 1, 10)
    first_ids = set(_queued_ids(page))
    assert first_ids
    # when the shopper goes on to another page within the 3 seconds (a new page, a new timer,
    # and a pagehide that would beacon)
    page.goto(url + "/search/?q=cake")
    page.wait_for_timeout(1000)
    # then nothing is sent before the Retry-After has passed: no fetch, and no beacon (a
    # beacon would bypass the route, so the table is the witness) ...
    assert len(requests) == 1
    assert not Event.objects.filter(pk__in=first_ids).exists()
    assert _wait(page, lambda: len(requests) >= 2, 10)
    assert requests[1][0] - requests[0][0] >= 2.9
    # ... and then everything arrives, the throttled batch included
    assert _wait(page, lambda: _queued_ids(page) == [])
    assert Event.objects.filter(pk__in=first_ids).count() == len(first_ids)
    assert Event.objects.filter(type="search", query="cake").count() == 1


def test_items_the_server_rejects_one_by_one_are_dropped_and_the_rest_stored(live_server, fast_page):
    # given a consenting shopper
    page = fast_page
    _catalogue()
    page.goto(live_server.url + "/")
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()
    assert _wait(page, lambda: _queued_ids(page) == [])
    # when one event names a product that does not exist (the server rejects that item only)
    page.evaluate(
        "window.shopTracker.track('product_view', {product_id: 987654});"
        "window.shopTracker.track('page_view', {marker: 'kept'});"
        "window.shopTracker.flush();"
    )
    # then the batch is answered: the good event is stored, the bad one is not retried forever
    assert _wait(page, lambda: Event.objects.filter(properties__marker="kept").exists())
    assert _wait(page, lambda: _queued_ids(page) == [])
    assert not Event.objects.filter(type="product_view").exists()


def test_full_queue_keeps_the_newest_and_withdrawn_consent_clears_it(live_server, fast_page):
    # given a consenting shopper while the API is unreachable
    page = fast_page
    _catalogue()
    page.goto(live_server.url + "/")
    page.route(EVENTS_ROUTE, lambda route: route.abort("connectionrefused"))
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()
    # when 600 events are recorded
    page.evaluate("for (let i = 0; i < 600; i++) window.shopTracker.track('page_view', {n: i});")
    # then the queue holds the newest 500
    raw = json.loads(page.evaluate("window.localStorage.getItem('shop_event_queue')"))
    assert len(raw) == 500
    assert [item["e"]["properties"]["n"] for item in raw] == list(range(100, 600))
    # when the shopper stops tracking on the privacy page
    page.goto(live_server.url + "/account/privacy/")
    page.click("text=Stop tracking")
    page.wait_for_load_state()
    # then the tracker leaves nothing behind
    assert page.evaluate("Object.keys(window.localStorage).filter(k => k.startsWith('shop_'))") == []


def test_a_batch_too_big_for_keepalive_is_still_delivered(live_server, fast_page):
    # given a consenting shopper whose queue is empty
    page = fast_page
    _catalogue()
    page.goto(live_server.url + "/")
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()
    assert _wait(page, lambda: _queued_ids(page) == [])
    # when an event carries 70 KB of properties (over the 64 KB a keepalive request may hold)
    page.evaluate(
        "window.shopTracker.track('page_view', {marker: 'big', notes: 'x'.repeat(70000)});window.shopTracker.flush();"
    )
    # then it is delivered anyway, not retried forever
    assert _wait(page, lambda: Event.objects.filter(properties__marker="big").exists())
    assert _wait(page, lambda: _queued_ids(page) == [])
