"""The serving APIs' plain GET path (recommendations/api.py `_plain_get`) answers as DRF's dispatch does.

GET skips DRF's request wrapper; HEAD and the other methods still go through APIView.dispatch, so
each GET is compared with the HEAD of the same URL (status and headers) and with DRF's own error
bodies: 400 for a bad k, 404 for a missing product, 429 with Retry-After when throttled.
"""

from __future__ import annotations

import pytest
from rest_framework.throttling import ScopedRateThrottle

from ecommerce.api.throttling import CounterScopedRateThrottle
from recommendations.models import SimilarProduct
from tests.factories import ProductFactory, UserFactory
from tests.factories.recommendations import SimilarProductFactory

pytestmark = pytest.mark.django_db

HEADERS = ("Content-Type", "Allow", "Vary", "X-Frame-Options", "Content-Security-Policy", "Cache-Control")


def _urls(product_id: int) -> list[str]:
    return [
        "/api/recommendations/me/?k=5",
        f"/api/products/{product_id}/similar/?k=5",
        f"/api/products/{product_id}/bought-together/?k=5",
        "/api/recommendations/me/?k=0",
        f"/api/products/{product_id}/similar/?k=abc",
        "/api/products/999999/similar/",
        "/api/products/999999/bought-together/?k=3",
    ]


@pytest.mark.parametrize("signed_in", [False, True])
def test_get_answers_with_drf_status_and_headers(api_client, signed_in):
    product, other = ProductFactory(), ProductFactory()
    SimilarProductFactory(product=product, similar=other, kind=SimilarProduct.Kind.SIMILAR)
    SimilarProductFactory(product=product, similar=other, kind=SimilarProduct.Kind.BOUGHT_TOGETHER)
    if signed_in:
        api_client.force_login(UserFactory())
    for url in _urls(product.pk):
        got, drf = api_client.get(url), api_client.head(url)
        assert got.status_code == drf.status_code, url
        for header in HEADERS:
            assert got.headers.get(header) == drf.headers.get(header), (url, header)
        assert got["Allow"] == "GET, HEAD, OPTIONS"
        assert got["Content-Type"] == "application/json"


def test_get_errors_have_drf_bodies(api_client):
    product = ProductFactory()
    assert api_client.get("/api/recommendations/me/?k=0").json() == {"k": ["k must be between 1 and 100."]}
    assert api_client.get(f"/api/products/{product.pk}/similar/?k=x").json() == {"k": ["k must be an integer."]}
    missing = api_client.get("/api/products/999999/bought-together/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Product 999999 does not exist."}


@pytest.mark.parametrize("signed_in", [False, True])
def test_get_is_throttled_like_drf(api_client, monkeypatch, signed_in):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "recommendations", "2/min")
    # 30 s into a window, so the requests cannot straddle two windows.
    monkeypatch.setattr(CounterScopedRateThrottle, "timer", staticmethod(lambda: 60 * 30_000 + 30.0))
    product = ProductFactory()
    if signed_in:
        api_client.force_login(UserFactory())
    urls = ["/api/recommendations/me/", f"/api/products/{product.pk}/similar/", "/api/recommendations/me/"]
    assert [api_client.get(url).status_code for url in urls] == [200, 200, 429]
    throttled = api_client.get(f"/api/products/{product.pk}/bought-together/")
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "30"
    assert throttled["Content-Type"] == "application/json"
    assert throttled.json() == {"detail": "Request was throttled. Expected available in 30 seconds."}
    # A bad k is still counted (DRF throttles before the view reads k): throttled, not 400.
    assert api_client.get("/api/recommendations/me/?k=0").status_code == 429
    if signed_in:  # counted per account: another shopper has their own window
        api_client.force_login(UserFactory())
        assert api_client.get("/api/recommendations/me/").status_code == 200


def test_openapi_documents_the_endpoints_as_before():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    expected = {
        "/api/recommendations/me/": "Recommendations for the current shopper",
        "/api/products/{product_id}/similar/": "Products like this one",
        "/api/products/{product_id}/bought-together/": "Products bought in the same basket",
    }
    for path, description in expected.items():
        operation = paths[path]["get"]
        assert operation["description"].startswith(description), path
        k = next(p for p in operation["parameters"] if p["name"] == "k")
        assert (k["schema"]["minimum"], k["schema"]["maximum"]) == (1, 100)
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].startswith(
            "#/components/schemas/"
        )
        assert set(paths[path]) == {"get"}
