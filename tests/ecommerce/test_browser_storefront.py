"""A shopper in a real browser: consent, browsing, search, cart, checkout, tracker events."""

import time
from decimal import Decimal

import pytest

from ecommerce.models import Event, Order
from tests.factories import CategoryFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRACKED_TYPES = {"page_view", "product_view", "search", "add_to_cart", "checkout_start"}


def _catalogue():
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    bags = CategoryFactory(name="Bags and Accessories", slug="bags")
    stand = ProductFactory(
        title="regency cakestand 3 tier",
        category=kitchen,
        price=Decimal("12.75"),
        stock=20,
        description="A three-tier cake stand in pale green with pink roses.",
    )
    ProductFactory(title="set of 3 cake tins pantry design", category=kitchen, price=Decimal("4.95"), stock=30)
    ProductFactory(title="jumbo bag red retrospot", category=bags, price=Decimal("2.08"), stock=100)
    ProductFactory(title="lunch bag pink polkadot", category=bags, price=Decimal("1.65"), stock=0)
    return kitchen, stand


def _wait_for_event_types(events, types: set[str], deadline_s: float = 15.0) -> set[str]:
    """The tracker sends asynchronously (batch timer, beacons): poll until the types land."""
    end = time.monotonic() + deadline_s
    seen: set[str] = set()
    while time.monotonic() < end:
        seen = set(events.values_list("type", flat=True))
        if types <= seen:
            break
        time.sleep(0.2)
    return seen


def test_shopper_with_consent_browses_buys_and_is_tracked(live_server, page, screenshot):
    # given
    kitchen, stand = _catalogue()
    UserFactory(username="ada", email="ada@example.com")
    url = live_server.url
    # when: the shopper accepts tracking on the home page
    page.goto(url + "/")
    assert page.locator("#consent-banner").is_visible()
    screenshot(page, "storefront-home-banner")
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()
    assert page.locator("#consent-banner").count() == 0
    anonymous_id = page.evaluate("window.localStorage.getItem('shop_anonymous_id')")
    assert anonymous_id
    screenshot(page, "storefront-home")
    # logs in
    page.click("text=Log in")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("form.form button[type=submit]")
    page.wait_for_url(url + "/")
    # browses a category, then a product
    page.click(".category-nav >> text=Kitchen")
    page.wait_for_url(f"{url}/c/kitchen/")
    assert page.locator(".product-card").count() == 2
    page.click(f"text={stand.title.capitalize()}")
    page.wait_for_url(url + stand.get_absolute_url())
    assert "£12.75" in page.inner_text(".product-price")
    screenshot(page, "storefront-product")
    # searches
    page.fill("#site-search", "bag")
    page.press("#site-search", "Enter")
    page.wait_for_url("**/search/?q=bag")
    assert page.locator(".product-card").count() == 2
    # adds the cake stand to the cart
    page.goto(url + stand.get_absolute_url())
    page.fill("#qty", "2")
    page.click("form.add-to-cart button[type=submit]")
    page.wait_for_url(url + "/cart/")
    assert page.inner_text("[data-cart-count]") == "2"
    assert "£25.50" in page.inner_text(".cart-table tfoot")
    screenshot(page, "storefront-cart")
    # checks out
    page.click("text=Go to checkout")
    page.wait_for_url(url + "/checkout/")
    page.fill("input[name=shipping_name]", "Ada Lovelace")
    page.fill("textarea[name=shipping_address]", "12 St James's Square\nLondon SW1Y 4JH")
    page.fill("input[name=country]", "United Kingdom")
    screenshot(page, "storefront-checkout")
    page.click("#checkout-form button[type=submit]")
    page.wait_for_url("**/checkout/done/**")
    order = Order.objects.get()
    assert order.number in page.inner_text(".confirmation")
    screenshot(page, "storefront-confirmation")
    # sees the order in the history
    page.click("text=Your orders")
    assert order.number in page.inner_text("table.orders")
    page.click("text=Your account")
    assert order.number in page.inner_text("table.orders")
    screenshot(page, "storefront-account")
    page.goto(url + "/account/privacy/")
    screenshot(page, "storefront-privacy")
    # then: the tracker's events arrived, tied to the shopper and this browser's anonymous id
    # (the server's purchase event carries the same id: the checkout form passed it on)
    mine = Event.objects.filter(anonymous_id=anonymous_id)
    seen = _wait_for_event_types(mine, TRACKED_TYPES | {"purchase"})
    assert TRACKED_TYPES | {"purchase"} <= seen
    assert mine.filter(type="product_view", product=stand, user=order.user).exists()
    assert mine.filter(type="search", query="bag", user=order.user).exists()
    add = mine.get(type="add_to_cart")
    assert add.product_id == stand.pk
    assert add.properties["quantity"] == 2
    assert mine.get(type="purchase").product_id == stand.pk
    assert order.status == Order.Status.PAID
    # withdraw consent so that closing the page sends nothing into the next test's database
    page.context.clear_cookies()


def test_shopper_who_declines_is_not_tracked(live_server, page):
    # given
    _, stand = _catalogue()
    event_requests = []
    page.on(
        "request",
        lambda request: "/api/events/" in request.url and event_requests.append(request.url),
    )
    # when: the shopper declines and then browses, searches and adds to the cart
    page.goto(live_server.url + "/")
    page.click("button[data-consent=no]")
    page.wait_for_load_state()
    assert page.locator("#consent-banner").count() == 0
    page.goto(live_server.url + stand.get_absolute_url())
    assert page.evaluate("window.shopTracker.track('page_view', {})") is False
    page.click("form.add-to-cart button[type=submit]")
    page.wait_for_url(live_server.url + "/cart/")
    page.fill("#site-search", "cake")
    page.press("#site-search", "Enter")
    page.wait_for_url("**/search/?q=cake")
    page.goto(live_server.url + "/")  # a last navigation fires pagehide on the search page
    # then: nothing stored in the browser, nothing sent, none of the tracker's events logged
    assert page.evaluate("window.localStorage.length") == 0
    assert event_requests == []
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    assert not Event.objects.filter(session_key=session_key, type__in=TRACKED_TYPES | {"remove_from_cart"}).exists()


def test_withdrawing_consent_forgets_the_anonymous_id(live_server, page):
    # given a consenting shopper with an anonymous id
    _catalogue()
    page.goto(live_server.url + "/")
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()
    assert page.evaluate("window.localStorage.getItem('shop_anonymous_id')")
    # when they stop tracking on the privacy page
    page.click("text=Privacy & your data")
    page.click("text=Stop tracking")
    page.wait_for_load_state()
    # then
    assert "tracking declined" in page.inner_text("[data-consent-state]")
    assert page.evaluate("window.localStorage.getItem('shop_anonymous_id')") is None
    page.context.clear_cookies()


def test_staff_admin_renders(live_server, page, screenshot):
    # given
    _catalogue()
    staff = StaffFactory(username="boss")
    # when
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.goto(live_server.url + "/admin/ecommerce/product/")
    # then
    assert "regency cakestand" in page.content()
    screenshot(page, "admin-products")


def test_small_screen_layout_keeps_search_and_cart_usable(live_server, browser, screenshot):
    # given
    _, stand = _catalogue()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    mobile = context.new_page()
    # when
    mobile.goto(live_server.url + stand.get_absolute_url())
    # then
    assert mobile.locator("#site-search").is_visible()
    assert mobile.locator("form.add-to-cart button[type=submit]").is_visible()
    page_width = mobile.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390  # nothing overflows sideways
    screenshot(mobile, "storefront-product-mobile")
    context.close()


def test_tracker_respects_do_not_track_even_with_consent(live_server, browser):
    # given: a browser that says Do-Not-Track although the consent cookie says yes
    _, stand = _catalogue()
    context = browser.new_context()
    context.add_cookies([{"name": "tracking_consent", "value": "yes", "url": live_server.url}])
    context.add_init_script("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});")
    dnt_page = context.new_page()
    event_requests = []
    dnt_page.on(
        "request",
        lambda request: "/api/events/" in request.url and event_requests.append(request.url),
    )
    # when
    dnt_page.goto(live_server.url + stand.get_absolute_url())
    tracked = dnt_page.evaluate("window.shopTracker.track('page_view', {})")
    dnt_page.goto(live_server.url + "/")
    # then
    assert tracked is False
    assert dnt_page.evaluate("window.localStorage.length") == 0
    assert event_requests == []
    context.close()


def test_tracker_flushes_a_full_batch_at_once_with_csrf_header(live_server, page):
    # given a consenting shopper on the home page (its page_view is queued)
    _catalogue()
    page.goto(live_server.url + "/")
    page.click("button[data-consent=yes]")
    page.wait_for_load_state()

    # when: 20 events in one go (after sending what was queued, in the same JS turn so the
    # 5-second timer cannot interleave) make a full batch that goes out without waiting
    def full_batch(request):
        return "/api/events/" in request.url and len(request.post_data_json["events"]) == 20

    with page.expect_request(full_batch) as request_info:
        page.evaluate(
            "window.shopTracker.flush();for (let i = 0; i < 20; i++) window.shopTracker.track('page_view', {n: i});"
        )
    request = request_info.value
    # then
    body = request.post_data_json
    assert request.headers.get("x-csrftoken")
    assert len({e["id"] for e in body["events"]}) == 20
    assert [e["properties"]["n"] for e in body["events"]] == list(range(20))
    anonymous_id = page.evaluate("localStorage.getItem('shop_anonymous_id')")
    assert {e["anonymous_id"] for e in body["events"]} == {anonymous_id}
    # the home page's own page_view and one impression per recommended item shown, plus the 20
    expected = 21 + page.locator("[data-recommendation-slot] article").count()
    mine = Event.objects.filter(anonymous_id=anonymous_id)
    end = time.monotonic() + 15
    while mine.count() < expected and time.monotonic() < end:
        time.sleep(0.2)
    assert mine.count() == expected
    assert mine.filter(type="recommendation_impression").count() == expected - 21
    page.context.clear_cookies()
