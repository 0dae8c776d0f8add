"""The WSGI handler gunicorn serves (ecommerce/handlers.py): Django's, with each path's URL
resolution remembered. Same answers and the same ResolverMatch as Django's own handler."""

from __future__ import annotations

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from django.urls import clear_url_caches, resolve

from ecommerce import handlers
from tests.factories import ProductFactory
from tests.wsgi_helpers import wsgi_environ

pytestmark = pytest.mark.django_db


def _call(app, path: str, query: str = "") -> tuple[str, dict, bytes]:
    environ = wsgi_environ("GET", path, query)
    seen: dict = {}

    def start_response(status, headers, exc_info=None):
        seen.update(status=status, headers=dict(headers))

    body = app(environ, start_response)
    content = b"".join(body)
    body.close()
    return seen["status"], seen["headers"], content


@pytest.fixture(autouse=True)
def _fresh_memo(connections_kept_open):
    handlers._memo.clear()
    handlers._memo_owner[0] = None
    yield
    handlers._memo.clear()
    handlers._memo_owner[0] = None


def test_same_answers_as_djangos_handler():
    product = ProductFactory()
    ours, django_own = handlers.ServingWSGIHandler(), WSGIHandler()
    paths = [
        ("/api/recommendations/me/", "k=3"),
        ("/api/recommendations/me/", "k=0"),
        (f"/api/products/{product.pk}/similar/", ""),
        ("/api/products/999999/bought-together/", ""),
        ("/api/ads/serve/", "slot=sidebar"),
        ("/no/such/page/", ""),
        ("/healthz", ""),
    ]
    for _ in range(2):  # the second time from the memo
        for path, query in paths:
            got, expected = _call(ours, path, query), _call(django_own, path, query)
            assert got[0] == expected[0], path
            assert got[2] == expected[2], path
            assert got[1].get("Content-Type") == expected[1].get("Content-Type"), path
    assert f"/api/products/{product.pk}/similar/" in handlers._memo
    assert "/no/such/page/" not in handlers._memo  # a 404 is not remembered


def test_each_request_gets_its_own_match():
    product = ProductFactory()
    handler = handlers.ServingWSGIHandler()
    seen = []

    class Probe:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            return self.get_response(request)

    # A serving GET is resolved by the serving chain's handler (ecommerce/handlers.py), any
    # other request by the outer one: spy on both.
    for resolving in (handler, handler._serving_chain):
        original = resolving.resolve_request

        def spy(request, original=original):
            match = original(request)
            seen.append(match)
            match.kwargs["product_id"] = -1  # a careless view or middleware changing what it got
            return match

        resolving.resolve_request = spy
    path = f"/api/products/{product.pk}/similar/"
    _call(handler, path)
    _call(handler, path)
    assert seen[0] is not seen[1]
    expected = resolve(path)
    assert handlers._memo[path].kwargs == expected.kwargs == {"product_id": product.pk}
    assert (seen[1].func, seen[1].url_name, seen[1].route) == (expected.func, expected.url_name, expected.route)


def test_a_new_urlconf_forgets_the_memo():
    handler = handlers.ServingWSGIHandler()
    assert _call(handler, "/api/recommendations/me/")[0].startswith("200")
    with override_settings(ROOT_URLCONF="tests.ecommerce.urls_empty"):
        clear_url_caches()
        assert _call(handler, "/api/recommendations/me/")[0].startswith("404")
    clear_url_caches()
    assert _call(handler, "/api/recommendations/me/")[0].startswith("200")
