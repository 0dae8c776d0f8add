"""On a 390 px phone the consent banner's text must be readable: nothing floats over it."""

import pytest

from tests.factories import ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every text element of the banner, sampled on an 8 px grid: is the element on top there the banner
# itself? Anything else (the chat bubble) covers the text. Also: is the element inside the viewport?
COVERED_POINTS = """() => {
  const banner = document.getElementById('consent-banner');
  const problems = [];
  for (const el of banner.querySelectorAll('h2, p, button')) {
    const r = el.getBoundingClientRect();
    if (r.left < 0 || r.right > window.innerWidth) problems.push(`${el.tagName} runs off the screen`);
    for (let x = r.left + 2; x < r.right - 1; x += 8) {
      for (let y = r.top + 2; y < r.bottom - 1; y += 8) {
        const top = document.elementFromPoint(x, y);
        if (!top || !banner.contains(top)) {
          problems.push(`${el.tagName} covered at ${Math.round(x)},${Math.round(y)} by ${top && top.className}`);
        }
      }
    }
  }
  return problems.slice(0, 5);
}"""


def _boxes_overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize(("width", "height", "name"), [(390, 844, "phone"), (1280, 900, "desktop")])
def test_chat_bubble_never_covers_the_consent_banner(live_server, browser, screenshot, width, height, name):
    ProductFactory(title="regency cakestand 3 tier")
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        banner = page.locator("#consent-banner")
        assert banner.is_visible()
        # what the shopper sees without scrolling (the full-page shot stretches fixed elements)
        page.screenshot(path=str(_viewport_path(name)))
        assert page.evaluate(COVERED_POINTS) == []
        bubble = page.locator(".support-bubble")
        if bubble.is_visible():
            assert not _boxes_overlap(bubble.bounding_box(), banner.bounding_box())
        if name == "desktop":
            assert bubble.is_visible()  # room enough: the bubble stays, above the banner
        # once the shopper has chosen, the banner goes and the chat bubble is there on every screen
        page.click("button[data-consent=no]")
        page.wait_for_load_state()
        assert page.locator("#consent-banner").count() == 0
        assert page.locator(".support-bubble").is_visible()
    finally:
        context.close()


def _viewport_path(name: str):
    from tests.conftest import SCREENSHOT_DIR

    SCREENSHOT_DIR.mkdir(exist_ok=True)
    return SCREENSHOT_DIR / f"consent-banner-{name}-viewport.png"
