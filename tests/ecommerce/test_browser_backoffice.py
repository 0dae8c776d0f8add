"""The merchant in a real browser: ship an order with a tracking number, read a campaign report,
upload a product picture and see it in the shop. Screenshots for a person to look at."""

import io
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw

from advertising.models import DailyReport
from ecommerce.models import Order, Product
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, RoleStaffFactory
from tests.factories.advertising import CampaignFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def csp_violations(page):
    """Console errors the Content-Security-Policy raised on the pages this test opened."""
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text) if msg.type == "error" and "Content Security Policy" in msg.text else None,
    )
    return found


def _loaded_width(page, selector: str) -> int:
    """The natural width of the first image matching `selector`, once the browser has loaded it.

    Polled from Python: page.wait_for_function would eval its predicate in the page, which the
    admin's CSP (no 'unsafe-eval') refuses whenever it has to poll."""
    image = page.locator(selector).first
    image.wait_for(state="attached", timeout=10_000)
    deadline = time.monotonic() + 10
    while True:
        width = image.evaluate("img => (img.complete ? img.naturalWidth : 0)")
        if width > 0 or time.monotonic() > deadline:
            return width
        page.wait_for_timeout(50)


def _login(page, base_url: str, user) -> None:
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_order_manager_ships_an_order_and_sees_the_total(live_server, page, screenshot, csp_violations):
    # given a paid order of two lines
    order = OrderFactory(
        status=Order.Status.PAID, shipping_name="Ada Lovelace", shipping_address="12 St James's Square\nLondon SW1Y 4JH"
    )
    OrderItemFactory(
        order=order,
        product=ProductFactory(title="Regency cakestand 3 tier"),
        quantity=2,
        unit_price=Decimal("12.75"),
        line_number=1,
    )
    OrderItemFactory(
        order=order,
        product=ProductFactory(title="Jumbo bag red retrospot"),
        quantity=10,
        unit_price=Decimal("2.08"),
        line_number=2,
    )
    _login(page, live_server.url, RoleStaffFactory(role="order_manager"))
    # when the manager picks "Mark shipped" for it and gives the tracking number
    page.goto(live_server.url + "/admin/ecommerce/order/")
    page.check(f"input[name=_selected_action][value='{order.pk}']")
    page.select_option("select[name=action]", "mark_shipped")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert "£46.30" in page.inner_text("#content-main")
    screenshot(page, "backoffice-order-mark-shipped")
    page.fill(f"input[name=tracking_{order.pk}]", "RM123456785GB")
    page.click("input[type=submit][value='Mark shipped']")
    page.wait_for_load_state()
    assert "Marked shipped: 1 order(s)." in page.inner_text(".messagelist")
    # then the change page shows the total, readable lines, the history, and nothing to edit
    page.goto(live_server.url + f"/admin/ecommerce/order/{order.pk}/change/")
    text = page.inner_text("#content-main")
    assert "£46.30" in text and "£25.50" in text and "£20.80" in text
    assert "Shipped, tracking RM123456785GB" in text and "OrderItem object" not in text
    assert page.locator("input[name='items-0-quantity']").count() == 0
    screenshot(page, "backoffice-order-change")
    assert csp_violations == []


def test_marketing_reads_a_campaign_report_in_money(live_server, page, screenshot, csp_violations):
    campaign = CampaignFactory(name="Spring cakestands", bid=Decimal("0.45"))
    today = timezone.localdate()
    for days_ago, (impressions, clicks, spend, revenue) in enumerate(
        [(1200, 31, "13.950000", "89.50"), (980, 22, "9.900000", "41.25"), (1500, 40, "18.000000", "120.00")]
    ):
        DailyReport.objects.create(
            campaign=campaign,
            day=today - timezone.timedelta(days=days_ago),
            impressions=impressions,
            clicks=clicks,
            spend=Decimal(spend),
            conversions=clicks // 10,
            revenue=Decimal(revenue),
        )
    _login(page, live_server.url, RoleStaffFactory(role="marketing"))
    page.goto(live_server.url + f"/admin/advertising/campaign/{campaign.pk}/report/")
    text = page.inner_text("#content-main")
    assert "Bid £0.45" in text and "£41.85" in text and "£250.75" in text and "0000" not in text
    screenshot(page, "backoffice-campaign-report")
    assert csp_violations == []


def _photo() -> bytes:
    image = Image.new("RGB", (1400, 1000), (246, 236, 222))
    draw = ImageDraw.Draw(image)
    for tier, width in enumerate((900, 650, 400)):  # a three-tier cake stand, roughly
        top = 760 - tier * 230
        draw.rectangle([700 - width // 2, top, 700 + width // 2, top + 40], fill=(120, 170, 140))
        draw.ellipse([700 - width // 3, top - 120, 700 + width // 3, top], fill=(230, 120, 150))
    draw.rectangle([690, 140, 710, 900], fill=(90, 90, 90))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def test_catalog_manager_uploads_a_picture_and_the_shop_shows_it(
    live_server, page, screenshot, settings, tmp_path, csp_violations
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_SERVE = True
    product = ProductFactory(title="Regency cakestand 3 tier", price=Decimal("12.75"))
    _login(page, live_server.url, RoleStaffFactory(role="catalog_manager"))
    # a non-image is refused with a message
    page.goto(live_server.url + f"/admin/ecommerce/product/{product.pk}/change/")
    page.set_input_files(
        "input[name=upload]", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a picture"}]
    )
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    assert "That file is not an image we can read" in page.inner_text(".errorlist")
    # a photo is accepted and its thumbnail shows in the admin
    page.set_input_files(
        "input[name=upload]", files=[{"name": "cakestand.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    product = Product.objects.get(pk=product.pk)
    assert product.image and product.image_thumbnail
    assert _loaded_width(page, "img.admin-thumb-large") == 480
    screenshot(page, "backoffice-product-upload")
    page.goto(live_server.url + "/admin/ecommerce/product/")
    assert _loaded_width(page, "img.admin-thumb") == 480
    # and the shop shows the picture on the product page
    page.context.add_cookies([{"name": "tracking_consent", "value": "no", "url": live_server.url}])
    page.goto(live_server.url + product.get_absolute_url())
    assert _loaded_width(page, ".product-media img.tile.uploaded") == 1400
    screenshot(page, "storefront-product-uploaded-picture")
    assert csp_violations == []
