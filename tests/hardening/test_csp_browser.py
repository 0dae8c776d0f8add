"""Issue 10, item 5: every main page runs under the Content-Security-Policy without a violation."""

import re

import pytest
from django.contrib.auth import get_user_model

from tests.factories import CategoryFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"

# Recorded before any page script runs: every CSP violation the browser reports.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber);
});
"""


def _visit(page, url: str, problems: list[str]) -> None:
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    assert response is not None and response.status == 200, url
    headers = response.all_headers()
    assert "script-src 'self'" in headers.get("content-security-policy", ""), url
    assert "camera=()" in headers.get("permissions-policy", ""), url
    problems.extend(f"{url}: {v}" for v in page.evaluate("window.__cspViolations"))


def test_main_pages_have_no_csp_violations(live_server, browser, screenshot):
    # given a catalogue and a superuser (admin, agent console, dashboard)
    category = CategoryFactory(name="Kitchen", slug="kitchen")
    product = ProductFactory(title="regency cakestand", category=category, stock=5)
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if re.search("Content.Security.Policy|Refused to", m.text)
            else None
        ),
    )
    url = live_server.url
    try:
        # when a shopper browses: home, category (the sort select submits through static JS)
        for path in [
            "/",
            category.get_absolute_url(),
            product.get_absolute_url(),
            "/search/?q=cake",
            "/cart/",
            "/support/chat/",
            "/accounts/login/",
        ]:
            _visit(page, url + path, problems)
        _visit(page, url + category.get_absolute_url(), problems)
        page.select_option("#sort", "-price")
        page.wait_for_url(re.compile(r"sort=-price"))

        # and the staff pages after logging in through the admin form
        page.goto(url + "/admin/login/")
        page.fill("#id_username", "root")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(url + "/admin/")
        for path in [
            "/admin/",
            "/admin/ecommerce/product/",
            f"/admin/ecommerce/product/{product.pk}/change/",
            "/admin/axes/accessattempt/",
            "/support/console/",
            "/analytics/dashboard/",
            "/api/docs/",
        ]:
            _visit(page, url + path, problems)
        page.wait_for_selector(".swagger-ui .opblock", timeout=15000)  # Swagger UI really started
        screenshot(page, "csp-api-docs")
        _visit(page, url + "/analytics/dashboard/", problems)
        page.wait_for_selector("canvas", timeout=15000)
        screenshot(page, "csp-analytics-dashboard")
    finally:
        context.close()

    # then the browser reported no violation anywhere
    assert problems == []
