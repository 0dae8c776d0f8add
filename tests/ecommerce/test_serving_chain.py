"""Serving GETs take the shorter middleware chain and answer exactly as the full chain does.

ecommerce/handlers.py sends GET and HEAD of the views marked `serving_middleware = True` through
settings.MIDDLEWARE minus SERVING_MIDDLEWARE_SKIP. Each request below goes through the handler
gunicorn serves twice: once as configured (the serving chain) and once with nothing skipped (the
full chain), from the same starting state; status, every header and the body must be the same.
The test client cannot show this: it has its own handler, which always runs the full chain.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.cache import cache
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from advertising.selectors import live_version_forget
from ecommerce.api.throttling import CounterScopedRateThrottle
from ecommerce.counter_leases import leases
from ecommerce.handlers import ServingWSGIHandler, serving_middleware
from ecommerce.security_headers import SECURITY_HEADER_MIDDLEWARE
from recommendations.api import local_answers
from tests.factories import ProductFactory, UserFactory
from tests.factories.advertising import CampaignFactory
from tests.wsgi_helpers import wsgi_environ

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("connections_kept_open")]


def _call(handler: ServingWSGIHandler, method: str, path: str, cookie: str = "", **headers: str):
    path_info, _, query = path.partition("?")
    environ = wsgi_environ(method, path_info, query, cookie, **headers)
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = status
        answer["headers"] = sorted(response_headers)

    body = handler(environ, start_response)
    try:
        answer["body"] = b"".join(body)
    finally:
        body.close()
    return answer


def _fresh_state() -> None:
    cache.clear()
    leases.forget()
    local_answers.forget()
    live_version_forget()


def _without_click_tokens(answer: dict) -> dict:
    """Each served ad is a new impression: its id and the signed click link made for it differ
    between two serves of the same ad; everything else must not."""
    if answer["body"].startswith(b'{"ads"'):
        payload = json.loads(answer["body"])
        assert payload["ads"], "nothing served: the comparison would prove nothing"
        for ad in payload["ads"]:
            assert ad.pop("impression_id") and ad.pop("click_url")
        answer = {**answer, "body": payload, "headers": [h for h in answer["headers"] if h[0] != "Content-Length"]}
    return answer


@pytest.fixture
def handlers(settings):
    serving = ServingWSGIHandler()
    settings.SERVING_MIDDLEWARE_SKIP = []
    full = ServingWSGIHandler()
    assert serving._serving_chain is not None and full._serving_chain is None
    return serving, full


@pytest.fixture
def shop(db):
    settings_product = ProductFactory()
    ProductFactory(category=settings_product.category)
    CampaignFactory()
    client = Client()
    client.force_login(UserFactory())
    return {"product": settings_product.pk, "signed_in": f"sessionid={client.cookies['sessionid'].value}"}


def _requests(shop: dict) -> list[tuple[str, str, str, dict]]:
    product, signed_in = shop["product"], shop["signed_in"]
    return [
        ("GET", "/api/recommendations/me/?k=3", "", {}),
        ("GET", "/api/recommendations/me/?k=3", signed_in, {}),
        ("HEAD", "/api/recommendations/me/?k=3", signed_in, {}),
        ("GET", "/api/recommendations/me/?k=0", "", {"accept_language": "zh-hans"}),
        ("GET", f"/api/products/{product}/similar/?k=3", "", {}),
        ("GET", f"/api/products/{product}/bought-together/?k=3", signed_in, {}),
        ("GET", "/api/products/999999/similar/", "", {}),
        ("GET", "/api/ads/serve/?slot=listing&n=2", "", {}),
        ("GET", "/api/ads/serve/?slot=listing&n=2", signed_in, {}),
        ("GET", "/api/ads/serve/?slot=sidebar", "", {}),
        ("POST", "/api/recommendations/me/?k=3", signed_in, {}),  # not a serving GET: the full chain
    ]


def test_serving_requests_answer_the_same_through_both_chains(handlers, shop, cached_logins):
    serving, full = handlers
    for method, path, cookie, headers in _requests(shop):
        answers = []
        for handler in (serving, full):
            _fresh_state()
            answers.append(_without_click_tokens(_call(handler, method, path, cookie, **headers)))
        assert answers[0] == answers[1], (method, path, cookie)
        assert answers[0]["status"].split()[0] in {"200", "400", "403", "404", "405"}, answers[0]["status"]


def test_throttled_answers_are_the_same_through_both_chains(handlers, shop, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "recommendations", "1/min")
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "ads", "1/min")
    # Retry-After counts the seconds left in the window: with the wall clock, the two chains'
    # answers differed whenever a second ticked between them (it failed CI once). A fixed
    # clock, mid-window, makes the comparison about the chains alone.
    monkeypatch.setattr(CounterScopedRateThrottle, "timer", staticmethod(lambda: 60 * 30_000 + 30.0))
    serving, full = handlers
    for path in (
        "/api/recommendations/me/?k=3",
        f"/api/products/{shop['product']}/similar/",
        "/api/ads/serve/?slot=listing",
    ):
        runs = []
        for handler in (serving, full):
            _fresh_state()
            runs.append([_without_click_tokens(_call(handler, "GET", path)) for _ in range(2)])
        assert runs[0] == runs[1], path
        assert [answer["status"].split()[0] for answer in runs[0]] == ["200", "429"], path
        assert ("Retry-After", "30") in runs[0][1]["headers"], path


def test_only_serving_gets_skip_middleware(handlers, shop, monkeypatch):
    serving, _ = handlers
    csrf_seen: list[str] = []
    real = CsrfViewMiddleware.process_request

    def seen(self, request):
        csrf_seen.append(f"{request.method} {request.path}")
        return real(self, request)

    monkeypatch.setattr(CsrfViewMiddleware, "process_request", seen)
    _call(serving, "GET", "/api/recommendations/me/?k=3")
    _call(serving, "GET", "/api/ads/serve/?slot=listing")
    assert csrf_seen == []
    _call(serving, "POST", "/api/recommendations/me/?k=3")  # a write: every middleware
    _call(serving, "GET", "/api/products/")  # not a serving view
    _call(serving, "GET", "/no/such/page/")  # unresolvable: Django's own 404 path
    assert set(csrf_seen) == {"POST /api/recommendations/me/", "GET /api/products/", "GET /no/such/page/"}


def test_the_serving_chain_keeps_every_middleware_it_does_not_name(settings):
    chain = serving_middleware()
    combined = "ecommerce.security_headers.FixedSecurityHeadersMiddleware"
    # The four security-header middlewares run as one layer, at the place of the first.
    expected = [path for path in settings.MIDDLEWARE if path not in settings.SERVING_MIDDLEWARE_SKIP]
    first = expected.index(SECURITY_HEADER_MIDDLEWARE[0])
    expected = [path for path in expected if path not in SECURITY_HEADER_MIDDLEWARE]
    expected.insert(first, combined)
    assert chain == expected
    # Sessions, authentication, consent and JSON errors stay.
    for kept in (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "ecommerce.middleware.PrivacyConsentMiddleware",
        "ecommerce.health.JsonErrorMiddleware",
    ):
        assert kept in chain
    assert SessionMiddleware.__module__ + ".SessionMiddleware" in chain
    # Without all four in MIDDLEWARE nothing is combined.
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if path != SECURITY_HEADER_MIDDLEWARE[3]]
    assert combined not in serving_middleware()
    assert SECURITY_HEADER_MIDDLEWARE[0] in serving_middleware()


@pytest.mark.parametrize("redirect", [False, True])
def test_https_answers_are_the_same_through_both_chains(settings, shop, redirect):
    """HSTS on HTTPS, none on HTTP, and SECURE_SSL_REDIRECT's redirect, as the full chain answers."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = redirect
    serving = ServingWSGIHandler()
    settings.SERVING_MIDDLEWARE_SKIP = []
    full = ServingWSGIHandler()
    for proto in ("https", "http", "https"):
        for method, path, cookie, _ in _requests(shop):
            answers = []
            for handler in (serving, full):
                _fresh_state()
                answers.append(_without_click_tokens(_call(handler, method, path, cookie, x_forwarded_proto=proto)))
            assert answers[0] == answers[1], (proto, method, path, cookie)
            headers = dict(answers[0]["headers"])
            if proto == "https":
                assert headers["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
            else:
                assert "Strict-Transport-Security" not in headers
                assert answers[0]["status"].startswith("301") == redirect, (method, path)
            if not answers[0]["status"].startswith("301"):  # a redirect gets only SecurityMiddleware's headers
                assert headers["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in headers
