"""Serving API: personal recommendations, a customer's list (staff), similar / bought-together.

Views are thin: validate `k`, check permission, call one selector, serialize. Every item says
why it is shown (reason), where it comes from (source) and which model version produced it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecommerce.errors import NotFound, PermissionDenied
from ecommerce.models import Product, User

from .conf import RESPONSE_CACHE_SECONDS
from .models import SimilarProduct
from .selectors import (
    GENERATION_KEY,
    MAX_K,
    Recommendation,
    recommendations_for,
    recommendations_generation,
    session_viewed_product_ids,
    similar_products_for,
)

MISSING = json.dumps({"missing": True}, separators=(",", ":")).encode()
K_PARAMETER = OpenApiParameter("k", int, description=f"How many items, 1..{MAX_K} (default 10).")


class RecommendationItemSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="product.pk")
    title = serializers.CharField(source="product.title")
    price = serializers.DecimalField(source="product.price", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="product.currency")
    url = serializers.CharField(source="product.get_absolute_url")
    image_url = serializers.CharField(source="product.image_url")
    score = serializers.FloatField()
    reason = serializers.CharField()
    source = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)


def _k_from(request: Request) -> int:
    """k from the query string; 400 with a clear message outside 1..MAX_K.

    Parsed by hand rather than through a serializer: this runs on every widget fetch and the
    serving benchmark is measured against a bare view.
    """
    raw = request.query_params.get("k")
    if raw is None or raw == "":
        return 10
    try:
        k = int(raw)
    except ValueError:
        raise ValidationError({"k": ["k must be an integer."]}) from None
    if not 1 <= k <= MAX_K:
        raise ValidationError({"k": [f"k must be between 1 and {MAX_K}."]})
    return k


def _payload(items: list[Recommendation], k: int, **extra: Any) -> dict[str, Any]:
    data = RecommendationItemSerializer(items, many=True).data
    return {"k": k, "count": len(items), **extra, "items": [dict(item) for item in data]}


def _cached_json(key_parts: tuple, compute: Any) -> tuple[bytes, dict[str, Any] | None]:
    """A recent identical answer, already encoded, from the cache (one round trip).

    Each entry remembers the generation counter it was computed under (bumped by retrains and
    rule changes), so those show at once with a shared cache; otherwise entries live
    RESPONSE_CACHE_SECONDS. The serving benchmark (docs/benchmarks/recommendations.md) is why:
    computing an answer costs ~15 ms of queries, a cache hit well under 1 ms.
    Returns (JSON bytes, the payload when it was just computed else None).
    """
    key = "recs:api:" + hashlib.sha256(":".join(str(p) for p in key_parts).encode()).hexdigest()
    found = cache.get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY) or recommendations_generation()
    entry = found.get(key)
    if entry is not None and entry[0] == generation:
        return entry[1], None
    payload = compute()
    body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    cache.set(key, (generation, body), RESPONSE_CACHE_SECONDS)
    return body, payload


def _json_response(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


class MyRecommendationsApi(APIView):
    """Recommendations for the current shopper: the logged-in user, else the session's views."""

    permission_classes = [AllowAny]
    throttle_scope = "recommendations"

    @extend_schema(parameters=[K_PARAMETER], responses=RecommendationItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        k = _k_from(request)
        session = getattr(request._request, "session", None)
        user = request.user if request.user.is_authenticated else None
        viewed = session_viewed_product_ids(user=None, session=session) if session is not None else []
        # Logged-in: per customer. Anonymous: shoppers with the same recent views share an answer.
        identity = ("user", user.pk) if user is not None else ("views", tuple(viewed))
        body, _ = _cached_json(
            ("me", identity, k),
            lambda: _payload(recommendations_for(user=user, k=k, session=session,
                                                 viewed=None if user is not None else viewed), k),
        )
        return _json_response(body)


class UserRecommendationsApi(APIView):
    """A customer's recommendations: staff for anyone, a shopper only for themself."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "recommendations"

    @extend_schema(parameters=[K_PARAMETER], responses=RecommendationItemSerializer(many=True))
    def get(self, request: Request, user_id: int) -> Response:
        k = _k_from(request)
        if not request.user.is_staff and request.user.pk != user_id:
            raise PermissionDenied("You may only see your own recommendations.")
        customer = User.objects.filter(pk=user_id, is_active=True).first()
        if customer is None:
            raise NotFound(f"User {user_id} does not exist.")
        return Response(_payload(recommendations_for(user=customer, k=k), k, user_id=user_id))


class _ProductNeighboursApi(APIView):
    permission_classes = [AllowAny]
    throttle_scope = "recommendations"
    kind = SimilarProduct.Kind.SIMILAR

    @extend_schema(parameters=[K_PARAMETER], responses=RecommendationItemSerializer(many=True))
    def get(self, request: Request, product_id: int) -> Response:
        k = _k_from(request)

        def compute() -> dict[str, Any] | None:
            product = Product.objects.sellable().filter(pk=product_id).first()
            if product is None:
                return {"missing": True}  # cached too: a crawler probing ids costs one query each
            return _payload(similar_products_for(product=product, kind=self.kind, k=k), k, product_id=product_id)

        body, _ = _cached_json((str(self.kind), product_id, k), compute)
        if body == MISSING:
            raise NotFound(f"Product {product_id} does not exist.")
        return _json_response(body)


class SimilarProductsApi(_ProductNeighboursApi):
    """Products like this one (purchase neighbours blended with text similarity)."""

    kind = SimilarProduct.Kind.SIMILAR


class BoughtTogetherApi(_ProductNeighboursApi):
    """Products bought in the same basket as this one."""

    kind = SimilarProduct.Kind.BOUGHT_TOGETHER
