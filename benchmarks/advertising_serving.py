"""Serving speed: GET /api/ads/serve/ with 200 live campaigns vs a bare Django JSON view.

    DATABASE_URL=sqlite:////tmp/advertising_bench.sqlite3 .venv/bin/python benchmarks/advertising_serving.py

Both go through the full middleware stack with django.test.Client (sessions, auth, CSRF...).
The ad request does everything it does in production: load live campaigns, shopper context,
caps, pCTR from an active click model, auction, CPM charge, impression insert.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/advertising_bench.sqlite3")
os.environ.setdefault("ML_ARTIFACT_ROOT", "/tmp/advertising_bench_models")

import django  # noqa: E402

django.setup()

from decimal import Decimal  # noqa: E402

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402

N_CAMPAIGNS = 200
ROUNDS = 300


def bare_view(request):
    return JsonResponse({"ads": []})


def session_insert_view(request):
    """A floor for any view that logs something: read the session, write one row, commit."""
    from ecommerce.privacy import Tracking
    from ecommerce.services.events import event_record

    request.session.get("x")
    event_record(type="ad_impression", tracking=Tracking.consented(session_key=request.session.session_key or ""))
    return JsonResponse({"ads": []})


def drf_view_factory():
    """The same DRF shell as the ad endpoint (AllowAny, throttle "ads", session) doing nothing."""
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class EmptyAdsApi(APIView):
        permission_classes = [AllowAny]
        throttle_scope = "ads"

        def get(self, request):
            return Response({"ads": []})

    return EmptyAdsApi.as_view()


def build() -> None:
    from advertising.demo import simulated_traffic_store
    from advertising.models import Ad, Advertiser, Campaign, Click, Impression
    from advertising.training import ctr_model_train
    from ecommerce.models import Category, Product

    call_command("migrate", verbosity=0)
    Click.objects.all().delete()
    Impression.objects.all().delete()
    Ad.objects.all().delete()
    Campaign.objects.all().delete()
    advertiser, _ = Advertiser.objects.get_or_create(name="Bench")
    category, _ = Category.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    campaigns = []
    for i in range(N_CAMPAIGNS):
        product, _ = Product.objects.get_or_create(
            sku=f"BENCH{i:04d}",
            defaults={"title": f"Bench product {i}", "price": Decimal("9.99"), "stock": 100, "category": category},
        )
        targeting = {}
        if i % 4 == 1:
            targeting = {"min_age": 18, "max_age": 65}
        elif i % 4 == 2:
            targeting = {"cap_per_session": 1000}
        elif i % 4 == 3:
            targeting = {"countries": ["United Kingdom", "France"]}
        campaign = Campaign.objects.create(
            advertiser=advertiser,
            name=f"Bench {i}",
            status=Campaign.Status.ACTIVE,
            starts_at=timezone.now() - timezone.timedelta(days=1),
            daily_budget=Decimal("1000000"),
            total_budget=Decimal("10000000"),
            bid_type="cpm" if i % 5 == 0 else "cpc",
            bid=Decimal("0.10") + Decimal(i) / 100,
            **targeting,
        )
        Ad.objects.create(campaign=campaign, headline=f"Ad {i}", product=product, landing_url="https://example.com/")
        campaigns.append(campaign)
    simulated_traffic_store(campaigns=campaigns[:20], n=3000, seed=1)
    print("ctr model:", ctr_model_train(c_grid=(0.1,)))


def timed(client: Client, url: str, rounds: int) -> list[float]:
    for _ in range(20):  # warm up: caches, model load, connections
        client.get(url)
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(url)
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, response.content[:200]
    return out


def main() -> None:
    settings.ADS_PACING = False  # every campaign eligible: the worst case for the auction
    build()
    urlconf = types.ModuleType("bench_urls")
    urlconf.urlpatterns = [
        path("bare/", bare_view),
        path("floor/", session_insert_view),
        path("drf/", drf_view_factory()),
        path("", include("ecommerce.urls")),
    ]
    settings.ROOT_URLCONF = urlconf
    from django.urls import clear_url_caches

    clear_url_caches()
    client = Client()
    bare = timed(client, "/bare/", ROUNDS)
    ads = timed(client, "/api/ads/serve/?slot=listing&n=2", ROUNDS)
    floor = timed(client, "/floor/", ROUNDS)
    drf = timed(client, "/drf/", ROUNDS)
    print(f"empty DRF view (AllowAny, throttle 'ads', session auth): median {statistics.median(drf) * 1000:.2f} ms")
    floor_med = statistics.median(floor)
    bare_med, ads_med = statistics.median(bare), statistics.median(ads)
    print(f"bare JSON view: median {bare_med * 1000:.2f} ms, p90 {sorted(bare)[int(ROUNDS * 0.9)] * 1000:.2f} ms")
    print(
        f"ad serve ({N_CAMPAIGNS} live campaigns, n=2): median {ads_med * 1000:.2f} ms, "
        f"p90 {sorted(ads)[int(ROUNDS * 0.9)] * 1000:.2f} ms"
    )
    print(f"session read + one INSERT view: median {floor_med * 1000:.2f} ms")
    print(
        f"ratio (median): {ads_med / bare_med:.2f}x  (goal <= 3x); vs the session+INSERT floor: "
        f"{ads_med / floor_med:.2f}x"
    )


if __name__ == "__main__":
    main()
