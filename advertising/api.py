"""HTTP endpoints: ad serving (public), click redirect (public), campaign CRUD for advertisers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecommerce.api.negotiation import JsonOnlyContentNegotiation
from ecommerce.api.throttling import CounterScopedRateThrottle
from ecommerce.auth_backends import user_cache_key
from ecommerce.cache_batch import cache_batch
from ecommerce.errors import NotFound
from ecommerce.models import Category
from ecommerce.privacy import tracking_for
from ecommerce.sessions import SessionStore as HintedSessionStore
from ecommerce.sessions import session_user_hint

from . import buffer, conf, services
from .models import Ad, Campaign
from .selectors import audience_estimate


class CartIdsField(serializers.CharField):
    """Comma-separated product ids of the cart ("12,40,7"), at most 50."""

    def to_internal_value(self, data: object) -> tuple[int, ...]:
        text = super().to_internal_value(data)
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if len(parts) > 50:
            raise serializers.ValidationError("At most 50 cart product ids.")
        if not all(p.isdigit() and 0 < int(p) < 2**31 for p in parts):
            raise serializers.ValidationError("Cart must be comma-separated product ids, e.g. 12,40,7.")
        return tuple(dict.fromkeys(int(p) for p in parts))


class ServeInput(serializers.Serializer):
    slot = serializers.ChoiceField(
        choices=services.SLOTS,
        error_messages={"invalid_choice": "Unknown slot {input}: use listing, search or product."},
    )
    product_id = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    category_id = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    category = serializers.CharField(required=False, max_length=140, allow_blank=True, help_text="category slug")
    q = serializers.CharField(required=False, max_length=255, allow_blank=True, help_text="the search query")
    query = serializers.CharField(required=False, max_length=255, allow_blank=True, help_text="same as q")
    cart = CartIdsField(required=False, max_length=600, allow_blank=True)
    n = serializers.IntegerField(required=False, min_value=1, max_value=10)


class AdServeApi(APIView):
    """GET api/ads/serve/?slot=listing|search|product&product_id=&category_id=&q=&cart=&n=

    Called by the storefront's ad slot script (static/js/ads.js) after the page loaded: pages
    render no auction and write nothing, and visitors without JavaScript (crawlers) are never
    billed. Impressions are buffered (advertising/buffer.py); frequency caps of this browser
    travel in a signed cookie, so no session is created.
    """

    permission_classes = [AllowAny]
    throttle_scope = "ads"
    content_negotiation_class = JsonOnlyContentNegotiation

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """One round trip to Redis for an anonymous request: the rate-limit count, the live-snapshot
        version and the impression buffer go in one script (advertising/buffer.py). A signed-in
        shopper's session and user come before it in one batched read (ecommerce/cache_batch.py)."""
        session = getattr(request, "session", None)
        self.user_hint = None
        if isinstance(session, HintedSessionStore) and session.session_key:
            self.user_hint = session_user_hint(session.session_key)
        if self.user_hint is None:
            return super().dispatch(request, *args, **kwargs)
        with cache_batch(keys=[session.cache_key, user_cache_key(self.user_hint)]):
            return super().dispatch(request, *args, **kwargs)

    def get_throttles(self) -> list:
        # Counted in the buffer's round trip instead (same key, window and rate as the
        # CounterScopedRateThrottle of every other API): see `_rate_counter`.
        return []

    def _rate_counter(self, request: Request) -> buffer.RateCounter | None:
        user_id = request.user.pk if request.user.is_authenticated else None
        expected = CounterScopedRateThrottle.expected_counter(
            request._request, self.throttle_scope, str(user_id) if user_id is not None else None
        )
        if expected is None:
            return None
        limit, _ = CounterScopedRateThrottle().parse_rate(CounterScopedRateThrottle.THROTTLE_RATES[self.throttle_scope])
        return buffer.RateCounter(key=expected[0], expiry=expected[1], limit=limit)

    @extend_schema(
        parameters=[ServeInput], responses=OpenApiTypes.OBJECT, summary="Ads for a slot, for the current shopper"
    )
    def get(self, request: Request) -> Response:
        data = ServeInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        category_id = params.get("category_id")
        if category_id is None and params.get("category"):
            category_id = Category.objects.filter(slug=params["category"]).values_list("pk", flat=True).first()
        page = services.PageContext(
            slot=params["slot"],
            product_id=params.get("product_id"),
            category_id=category_id,
            query=params.get("q") or params.get("query") or "",
            cart_product_ids=params.get("cart") or (),
        )
        n = params.get("n") or conf.slot_sizes().get(params["slot"], 1)
        tracking = tracking_for(request._request)
        caps = services.caps_from_cookie(request.COOKIES.get(services.CAPS_COOKIE), today=timezone.localdate())
        try:
            ads = services.ads_serve(tracking=tracking, page=page, n=n, caps=caps, counter=self._rate_counter(request))
        except services.RateLimited as exc:
            raise Throttled(wait=exc.wait) from exc
        response = Response({"ads": ads})
        if caps.changed and tracking.allowed:
            # A browser-session cookie: caps count per browser session and day, not per account.
            response.set_cookie(
                services.CAPS_COOKIE,
                services.caps_cookie_value(caps),
                secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        response["Cache-Control"] = "private, no-store"
        return response


@never_cache
@require_GET
def ad_click_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET ads/click/<token>/ -> 302 to the ad's own landing URL, or 400 for a bad token."""
    try:
        landing_url = services.ad_click(token=token, tracking=tracking_for(request))
    except services.InvalidClickToken as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    return HttpResponseRedirect(landing_url)


# --- campaigns ------------------------------------------------------------------------------


class AdSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(required=False, allow_null=True)

    class Meta:
        model = Ad
        fields = ["id", "headline", "image_url", "product_id", "landing_url", "is_active"]
        read_only_fields = ["id", "is_active"]


class CampaignSerializer(serializers.ModelSerializer):
    ads = AdSerializer(many=True, required=False)
    interest_categories = serializers.PrimaryKeyRelatedField(many=True, queryset=Category.objects.all(), required=False)
    retarget_categories = serializers.PrimaryKeyRelatedField(many=True, queryset=Category.objects.all(), required=False)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "advertiser",
            "name",
            "objective",
            "status",
            "starts_at",
            "ends_at",
            "daily_budget",
            "total_budget",
            "bid_type",
            "bid",
            "spend_total",
            "spend_today",
            "min_age",
            "max_age",
            "genders",
            "countries",
            "interest_categories",
            "segments",
            "retarget",
            "retarget_days",
            "retarget_categories",
            "lookalike_min_score",
            "cap_per_user_day",
            "cap_per_session",
            "attribution_days",
            "run_of_site",
            "ads",
        ]
        read_only_fields = ["id", "advertiser", "status", "spend_total", "spend_today"]

    def to_service_data(self) -> dict:
        data = dict(self.validated_data)
        for name in ("interest_categories", "retarget_categories"):
            if name in data:
                data[name] = [c.pk for c in data[name]]
        if "ads" in data:
            data["ads"] = [dict(ad) for ad in data["ads"]]
        return data


class CampaignListApi(APIView):
    """GET: my campaigns. POST: create a draft campaign for my advertiser account."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(responses=CampaignSerializer(many=True), operation_id="ads_campaigns_list")
    def get(self, request: Request) -> Response:
        campaigns = Campaign.objects.visible_to(request.user).prefetch_related(
            "ads", "interest_categories", "retarget_categories"
        )
        return Response(CampaignSerializer(campaigns, many=True).data)

    @extend_schema(request=CampaignSerializer, responses={201: CampaignSerializer})
    def post(self, request: Request) -> Response:
        serializer = CampaignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_save(user=request.user, data=serializer.to_service_data())
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


def _campaign_or_404(request: Request, pk: int) -> Campaign:
    campaign = Campaign.objects.visible_to(request.user).filter(pk=pk).first()
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


class CampaignDetailApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(responses=CampaignSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(CampaignSerializer(_campaign_or_404(request, pk)).data)

    @extend_schema(request=CampaignSerializer, responses=CampaignSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        campaign = _campaign_or_404(request, pk)
        serializer = CampaignSerializer(campaign, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_save(user=request.user, campaign=campaign, data=serializer.to_service_data())
        return Response(CampaignSerializer(campaign).data)


class TransitionInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Campaign.Status.choices)


class CampaignTransitionApi(APIView):
    """POST {"status": "active"|"paused"|"finished"}."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(request=TransitionInput, responses=CampaignSerializer)
    def post(self, request: Request, pk: int) -> Response:
        campaign = _campaign_or_404(request, pk)
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_transition(
            campaign=campaign, to_status=data.validated_data["status"], user=request.user
        )
        return Response(CampaignSerializer(campaign).data)


class CampaignAudienceApi(APIView):
    """GET the audience-size estimate of a campaign's targeting."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        return Response(audience_estimate(campaign=_campaign_or_404(request, pk)))
