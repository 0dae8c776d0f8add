"""Serving API: personal recommendations, a customer's list (staff), similar / bought-together.

Views are thin: validate `k`, check permission, call one selector, serialize. Every item says
why it is shown (reason), where it comes from (source) and which model version produced it.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecommerce.api.negotiation import JsonOnlyContentNegotiation
from ecommerce.api.plain_get import plain_get_dispatch, request_user
from ecommerce.auth_backends import user_cache_key
from ecommerce.cache_batch import MISSING as NOT_BATCHED
from ecommerce.cache_batch import batched_value, cache_batch
from ecommerce.cache_copies import track_prefix
from ecommerce.errors import NotFound
from ecommerce.models import Product
from ecommerce.sessions import SessionStore as HintedSessionStore
from ecommerce.sessions import session_user_hint

from .models import SimilarProduct
from .selectors import (
    GENERATION_KEY,
    MAX_K,
    Recommendation,
    customer_get_for_recommendations,
    recent_views_from,
    recommendations_for,
    recommendations_generation,
    session_viewed_product_ids,
    similar_products_for,
)

MISSING = json.dumps({"missing": True}, separators=(",", ":")).encode()
# A serializer as the parameter so the schema publishes the 1..MAX_K bounds _k_from enforces.
K_PARAMETER = inline_serializer(
    "RecommendationsQuery",
    {
        "k": serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_K, help_text=f"How many items, 1..{MAX_K} (default 10)."
        )
    },
)


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


def _list_schema(name: str, **extra: serializers.Field) -> serializers.Serializer:
    """The OpenAPI shape of _payload: {k, count, <ids>, items}."""
    return inline_serializer(
        name,
        {
            "k": serializers.IntegerField(),
            "count": serializers.IntegerField(),
            **extra,
            "items": RecommendationItemSerializer(many=True),
        },
    )


def _k_from(request: Request) -> int:
    """k from the query string; 400 with a clear message outside 1..MAX_K.

    Parsed by hand rather than through a serializer: this runs on every widget fetch and the
    serving benchmark is measured against a bare view.
    """
    raw = request.GET.get("k")
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


ANSWER_KEY_PREFIX = "recs:api:"
track_prefix(ANSWER_KEY_PREFIX)  # a signed-in shopper's answer: copies per process (ecommerce/cache_copies.py)


def _answer_key(key_parts: tuple) -> str:
    return ANSWER_KEY_PREFIX + hashlib.sha256(":".join(str(p) for p in key_parts).encode()).hexdigest()


class _LocalAnswers:
    """This process's copies of answers that are the same for every shopper who asks.

    Product neighbours and an anonymous shopper's list (keyed by the recent views it depends on)
    are identical for everyone; a customer's own list is not kept here. Serving one of these from
    the shared cache cost a Redis round trip per request: ~100-140 µs of CPU on the reference box
    plus Redis's own, a quarter of the request (docs/benchmarks/storefront.md "Round 4"). A copy is
    served only while
    - the process has read the generation counter in the last GENERATION_TRUST_SECONDS and the
      copy was made under that generation: a retrain or a rule change shows in every process
      within a second (at once in the process that made it: recommendations_generation_bump
      forgets the copies), as the ads API does with its live-campaign snapshot;
    - the copy is younger than RECOMMENDATIONS_LOCAL_CACHE_SECONDS (0: off), so an answer is at
      most that much older than the shared cache's RECOMMENDATIONS_RESPONSE_CACHE_SECONDS.
    Bounded: cleared when it holds MAX_ENTRIES answers.
    """

    GENERATION_TRUST_SECONDS = 1.0
    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        self.generation: int | None = None
        self.generation_read_at = -1e9
        self.entries: dict[str, tuple[int, bytes, float]] = {}  # key -> (generation, body, stored at)

    def get(self, key: str) -> bytes | None:
        seconds = settings.RECOMMENDATIONS_LOCAL_CACHE_SECONDS
        entry = self.entries.get(key) if seconds > 0 else None
        if entry is None:
            return None
        now = time.monotonic()
        if (
            now - self.generation_read_at < self.GENERATION_TRUST_SECONDS
            and entry[0] == self.generation
            and now - entry[2] < seconds
        ):
            return entry[1]
        return None

    def saw_generation(self, generation: int) -> None:
        if generation != self.generation:
            self.entries.clear()
        self.generation, self.generation_read_at = generation, time.monotonic()

    def put(self, key: str, generation: int, body: bytes) -> None:
        if settings.RECOMMENDATIONS_LOCAL_CACHE_SECONDS <= 0 or generation != self.generation:
            return
        if len(self.entries) >= self.MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (generation, body, time.monotonic())

    def forget(self) -> None:
        self.generation, self.generation_read_at = None, -1e9
        self.entries.clear()


local_answers = _LocalAnswers()


def _cached_json(key_parts: tuple, compute: Any, *, shared: bool = False) -> tuple[bytes, dict[str, Any] | None]:
    """A recent identical answer, already encoded, from the cache (one round trip).

    Each entry remembers the generation counter it was computed under (bumped by retrains and
    rule changes), so those show at once with a shared cache; otherwise entries live
    RECOMMENDATIONS_RESPONSE_CACHE_SECONDS. The serving benchmark (docs/benchmarks/recommendations.md) is why:
    computing an answer costs ~15 ms of queries, a cache hit well under 1 ms. An answer that is
    the same for everyone (`shared`) is also kept in this process (`_LocalAnswers`).
    Returns (JSON bytes, the payload when it was just computed else None).
    """
    key = _answer_key(key_parts)
    if shared:
        body = local_answers.get(key)
        if body is not None:
            return body, None
    generation, entry = batched_value(GENERATION_KEY), batched_value(key)
    if generation is NOT_BATCHED or entry is NOT_BATCHED:
        found = cache.get_many([GENERATION_KEY, key])
        generation, entry = found.get(GENERATION_KEY), found.get(key)
    generation = generation or recommendations_generation()
    local_answers.saw_generation(generation)
    if entry is not None and entry[0] == generation:
        if shared:
            local_answers.put(key, generation, entry[1])
        return entry[1], None
    payload = compute()
    body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    cache.set(key, (generation, body), settings.RECOMMENDATIONS_RESPONSE_CACHE_SECONDS)
    if shared:
        local_answers.put(key, generation, body)
    return body, payload


def _json_response(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


class _OneRoundTripApi(APIView):
    """Serving views: every cache read the request will make, fetched in one round trip.

    The keys of the session, the user row, the generation and the cached answer are known before
    anything is read (a signed-in session key carries the user id, ecommerce/sessions.py), so
    they go to the cache together (ecommerce/cache_batch.py) instead of one after another.
    Sessions without that hint are read first, then the rest in one batch. A key guessed wrong
    (an invalid k, a session whose user no longer authenticates) is just read normally. An answer
    that is the same for everyone and held in this process (`_LocalAnswers`) needs no read at
    all, and the rate-limit count comes from the process's reserved block
    (ecommerce/counter_leases.py): a first visit's request usually makes no round trip.
    """

    throttle_scope = "recommendations"
    # These views only speak JSON: skip parsing the Accept header (DRF's documented
    # IgnoreClientContentNegotiation pattern, ecommerce/api/negotiation.py).
    content_negotiation_class = JsonOnlyContentNegotiation
    # GET/HEAD take the serving middleware chain (ecommerce/handlers.py).
    serving_middleware = True

    def answer_key_parts(self, request: HttpRequest, user_id: int | None, **kwargs: Any) -> tuple | None:
        """The key parts of the cached answer this request will read; None: nothing to batch."""
        return None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        session = getattr(request, "session", None)
        keys = []
        user_id = session_user_hint(session.session_key) if isinstance(session, HintedSessionStore) else None
        if user_id is not None:
            keys.append(session.cache_key)  # the session itself comes with the batch
        elif session is not None:
            raw_user_id = session.get(SESSION_KEY)  # loads the session: a round trip of its own
            try:
                user_id = int(raw_user_id) if raw_user_id is not None else None
            except (TypeError, ValueError):
                user_id = None
        try:
            parts = self.answer_key_parts(request, user_id, **kwargs)
        except ValidationError:
            parts = None  # a bad k: the view answers 400 in its own time
        if user_id is None and parts is not None and local_answers.get(_answer_key(parts)) is not None:
            keys = []  # the same answer for everyone, held in this process: nothing to read
        else:
            keys.append(GENERATION_KEY)
            if user_id is not None:
                keys.append(user_cache_key(user_id))
            if parts is not None:
                keys.append(_answer_key(parts))
        # The rate-limit count is not batched: it comes from this process's reserved block
        # (ecommerce/counter_leases.py), a round trip per block rather than per request.
        if not keys:
            return self._dispatch_batched(request, *args, **kwargs)
        with cache_batch(keys=keys):
            return self._dispatch_batched(request, *args, **kwargs)

    def _dispatch_batched(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET" and all(p is AllowAny for p in self.permission_classes):
            return self._plain_get(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def answer(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse:
        """The JSON answer for `user` (None: anonymous) on the plain Django request."""
        raise NotImplementedError

    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        # DRF's path (HEAD; GET goes through `_plain_get`): the same answer. No docstring: the
        # OpenAPI description of each endpoint is its class docstring.
        return self.answer(request._request, request.user if request.user.is_authenticated else None, **kwargs)

    def _plain_get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """APIView.dispatch for a GET, without DRF's request wrapper and response finalizing.

        A cached answer is already JSON bytes: DRF's Request, authenticator list, permission and
        throttle loops and renderer cost more than the answer itself (~80 µs of a ~400 µs request,
        docs/benchmarks/storefront.md). The same checks run here, in DRF's order and with its
        classes: SessionAuthentication's rule (the session's user if active; CSRF is not enforced
        on GET), AllowAny (only views whose permissions are all AllowAny come here), the view's
        CounterScopedRateThrottle; the response carries the same Allow header. Anything raised (a
        bad k, a missing product, throttled, a dependency down) goes through DRF's own
        handle_exception and finalize_response, so every error answer is exactly DRF's
        (tests/recommendations/test_api_plain_get.py compares the two paths).
        """

        def respond() -> HttpResponse:
            user = request_user(request)
            user = user if user.is_active else None  # rest_framework.authentication.SessionAuthentication
            self._plain_throttle(request, user)
            return self.answer(request, user, **kwargs)

        return plain_get_dispatch(self, request, args, kwargs, respond)

    def _plain_throttle(self, request: HttpRequest, user: Any) -> None:
        """APIView.check_throttles with the request DRF would pass (its user, the same request otherwise)."""
        wrapped = _ThrottleRequest(user if user is not None else AnonymousUser(), request)
        durations = [throttle.wait() for throttle in self.get_throttles() if not throttle.allow_request(wrapped, self)]
        if durations:
            self.throttled(request, max((d for d in durations if d is not None), default=None))


class _ThrottleRequest:
    """The request as DRF's throttles see it: DRF's user, everything else the Django request's."""

    __slots__ = ("_request", "user")

    def __init__(self, user: Any, request: HttpRequest) -> None:
        self.user, self._request = user, request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def _my_answer_key_parts(k: int, user_id: int | None, viewed: list[int]) -> tuple:
    # Logged-in: per customer. Anonymous: shoppers with the same recent views share an answer.
    identity = ("user", user_id) if user_id is not None else ("views", tuple(viewed))
    return ("me", identity, k)


def _session_views(request: HttpRequest) -> list[int]:
    session = getattr(request, "session", None)
    return session_viewed_product_ids(user=None, session=session, recent=recent_views_from(request))


class MyRecommendationsApi(_OneRoundTripApi):
    """Recommendations for the current shopper: the logged-in user, else the session's views."""

    permission_classes = [AllowAny]

    def answer_key_parts(self, request: HttpRequest, user_id: int | None, **kwargs: Any) -> tuple | None:
        viewed = _session_views(request) if user_id is None else []  # a customer's key ignores views
        return _my_answer_key_parts(_k_from(request), user_id, viewed)

    @extend_schema(parameters=[K_PARAMETER], responses=_list_schema("MyRecommendations"))
    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        return super().get(request, **kwargs)

    def answer(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse:
        k = _k_from(request)
        session = getattr(request, "session", None)
        viewed = _session_views(request) if user is None else []
        body, _ = _cached_json(
            _my_answer_key_parts(k, user.pk if user is not None else None, viewed),
            lambda: _payload(
                recommendations_for(user=user, k=k, session=session, viewed=viewed if user is None else None), k
            ),
            shared=user is None,  # an anonymous list depends only on its views: the same for everyone
        )
        return _json_response(body)


class UserRecommendationsApi(APIView):
    """A customer's recommendations: a shopper's own, anyone's with view_customer_recommendations."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "recommendations"

    @extend_schema(
        parameters=[K_PARAMETER], responses=_list_schema("UserRecommendations", user_id=serializers.IntegerField())
    )
    def get(self, request: Request, user_id: int) -> Response:
        k = _k_from(request)
        customer = customer_get_for_recommendations(actor=request.user, customer_id=user_id)
        return Response(_payload(recommendations_for(user=customer, k=k), k, user_id=user_id))


class _ProductNeighboursApi(_OneRoundTripApi):
    permission_classes = [AllowAny]
    kind = SimilarProduct.Kind.SIMILAR

    def answer_key_parts(self, request: HttpRequest, user_id: int | None, **kwargs: Any) -> tuple | None:
        return (str(self.kind), kwargs["product_id"], _k_from(request))

    @extend_schema(
        parameters=[K_PARAMETER], responses=_list_schema("ProductNeighbours", product_id=serializers.IntegerField())
    )
    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        return super().get(request, **kwargs)

    def answer(self, request: HttpRequest, user: Any, *, product_id: int) -> HttpResponse:
        k = _k_from(request)

        def compute() -> dict[str, Any] | None:
            product = Product.objects.sellable().filter(pk=product_id).first()
            if product is None:
                return {"missing": True}  # cached too: a crawler probing ids costs one query each
            return _payload(similar_products_for(product=product, kind=self.kind, k=k), k, product_id=product_id)

        body, _ = _cached_json((str(self.kind), product_id, k), compute, shared=True)
        if body == MISSING:
            raise NotFound(f"Product {product_id} does not exist.")
        return _json_response(body)


class SimilarProductsApi(_ProductNeighboursApi):
    """Products like this one (purchase neighbours blended with text similarity)."""

    kind = SimilarProduct.Kind.SIMILAR


class BoughtTogetherApi(_ProductNeighboursApi):
    """Products bought in the same basket as this one."""

    kind = SimilarProduct.Kind.BOUGHT_TOGETHER
