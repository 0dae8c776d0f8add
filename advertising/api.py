"""HTTP endpoints: ad serving (public), click redirect (public), and the advertiser API.

The advertiser API (campaigns, ads, reports) takes a session (the portal, the browsable docs) or
an advertiser API token (`Authorization: Token adv_...`, advertising/tokens.py); either way it is
scoped to the caller's advertiser by Campaign.objects.visible_to and the services' checks. A
missing or bad token answers 401, someone else's campaign 404, bad input 400 with a JSON body
naming the field."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecommerce.api.negotiation import JsonOnlyContentNegotiation
from ecommerce.api.plain_get import plain_get_dispatch, request_user
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
from .reports import report_csv, report_data
from .selectors import audience_estimate
from .tokens import AdvertiserTokenAuthentication

# Token first: a request without credentials answers 401 with `WWW-Authenticate: Token`.
ADVERTISER_AUTH = [AdvertiserTokenAuthentication, SessionAuthentication]


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


_FAST_INT_PARAMS = {"product_id": 2**31 - 1, "category_id": 2**31 - 1, "n": 10}


def _serve_params(query: Any) -> dict[str, Any]:
    """ServeInput's validated data. The ad slot script's usual query (slot plus ids) is read
    directly, as ServeInput would read it; anything else (a search query, a cart, a value out of
    range, a parameter given twice) goes through ServeInput, so every error is still its error.
    Validating with the serializer costs as much as the rest of an anonymous ad request."""
    params: dict[str, Any] = {}
    for name, values in query.lists():
        value = values[-1] if len(values) == 1 else None
        if value is None:
            break
        if name == "slot" and value in services.SLOTS:
            params[name] = value
        elif name in _FAST_INT_PARAMS and value.isascii() and value.isdigit() and len(value) <= 10:
            number = int(value)
            if not 1 <= number <= _FAST_INT_PARAMS[name]:
                break
            params[name] = number
        else:
            break
    else:
        if "slot" in params:
            return params
    data = ServeInput(data=query)
    data.is_valid(raise_exception=True)
    return data.validated_data


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
    serving_middleware = True  # GET/HEAD take the serving middleware chain (ecommerce/handlers.py)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Usually no round trip to Redis for an anonymous request: the rate-limit count and the
        CPM budget come from blocks this process reserved, impressions go to its spool file
        (advertising/buffer.py, advertising/spool.py). A signed-in shopper's session and user come
        in one batched read (ecommerce/cache_batch.py)."""
        session = getattr(request, "session", None)
        self.user_hint = None
        if isinstance(session, HintedSessionStore) and session.session_key:
            self.user_hint = session_user_hint(session.session_key)
        if self.user_hint is None:
            return self._dispatch(request, *args, **kwargs)
        with cache_batch(keys=[session.cache_key, user_cache_key(self.user_hint)]):
            return self._dispatch(request, *args, **kwargs)

    def _dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET":
            return self._plain_get(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def _plain_get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """APIView.dispatch for a GET without DRF's request wrapper, Response and renderer pass
        (as the recommendation APIs do, recommendations/api.py `_plain_get`).

        The same steps in DRF's order with its rules: SessionAuthentication's (the session's user
        if active, else anonymous; no CSRF check on a GET), AllowAny, no throttle classes (the
        count is in the buffer's call); the answer is JSONRenderer's bytes with the same
        Content-Type and Allow headers. Anything raised (a bad query: ServeInput's 400, throttled:
        429 with Retry-After, Redis or PostgreSQL down: 503) goes through DRF's own
        handle_exception and finalize_response, so every error answer is DRF's
        (tests/advertising/test_serving_plain_get.py compares GET with DRF's HEAD).
        """

        def answer() -> HttpResponse:
            user = request_user(request)
            shopper = _PlainServeRequest(user if user.is_active else AnonymousUser(), request)
            payload, caps_cookie = self._serve(shopper)
            response = HttpResponse(JSONRenderer().render(payload), content_type="application/json")
            self._finish(response, caps_cookie, shopper)
            return response

        return plain_get_dispatch(self, request, args, kwargs, answer)

    def get_throttles(self) -> list:
        # Counted by the buffer instead, before anything is reserved (same key, window and rate
        # as the CounterScopedRateThrottle of every other API): see `_rate_counter`.
        return []

    def _rate_counter(self, request: Request) -> buffer.RateCounter | None:
        user_id = request.user.pk if request.user.is_authenticated else None
        throttle = CounterScopedRateThrottle.expected_throttle(
            request._request, self.throttle_scope, str(user_id) if user_id is not None else None
        )
        if throttle is None:
            return None
        return buffer.RateCounter(
            key=throttle.key, expiry=throttle.expiry, limit=throttle.num_requests, retry_after=throttle.wait()
        )

    @extend_schema(
        parameters=[ServeInput], responses=OpenApiTypes.OBJECT, summary="Ads for a slot, for the current shopper"
    )
    def get(self, request: Request) -> Response:
        # DRF's path (HEAD; a GET goes through `_plain_get`): the same answer.
        payload, caps_cookie = self._serve(request)
        response = Response(payload)
        self._finish(response, caps_cookie, request)
        return response

    def _serve(self, request: Request | _PlainServeRequest) -> tuple[dict[str, Any], str | None]:
        """The answer's JSON payload and the caps cookie's new value (None: leave it)."""
        params = _serve_params(request.query_params)
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
        if not conf.slot_allowed(params["slot"]):
            n = 0  # the merchant switched this slot off (AdsSettings)
        tracking = tracking_for(request._request)
        caps = services.caps_from_cookie(request.COOKIES.get(services.CAPS_COOKIE), today=timezone.localdate())
        try:
            ads = services.ads_serve(tracking=tracking, page=page, n=n, caps=caps, counter=self._rate_counter(request))
        except services.RateLimited as exc:
            raise Throttled(wait=exc.wait) from exc
        caps_cookie = services.caps_cookie_value(caps) if caps.changed and tracking.allowed else None
        return {"ads": ads}, caps_cookie

    def _finish(self, response: HttpResponse, caps_cookie: str | None, request: Any) -> None:
        if caps_cookie is not None:
            # A browser-session cookie: caps count per browser session and day, not per account.
            response.set_cookie(
                services.CAPS_COOKIE,
                caps_cookie,
                secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        response["Cache-Control"] = "private, no-store"


class _PlainServeRequest:
    """What AdServeApi reads of DRF's Request, on the plain GET path: DRF's user (authenticated
    as SessionAuthentication does), the query as `query_params`, the rest the Django request's."""

    __slots__ = ("_request", "user")

    def __init__(self, user: Any, request: HttpRequest) -> None:
        self.user, self._request = user, request

    @property
    def query_params(self) -> Any:
        return self._request.GET

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


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
    """A creative. Give a `product_id` and its page, title and picture become the landing URL,
    headline and image (each may be overridden); an external http(s) `landing_url` only where the
    merchant allows it."""

    product_id = serializers.IntegerField(required=False, allow_null=True)
    headline = serializers.CharField(required=False, allow_blank=True, max_length=90)
    landing_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    image_url = serializers.URLField(required=False, allow_blank=True, max_length=200)

    class Meta:
        model = Ad
        fields = ["id", "headline", "image_url", "product_id", "landing_url", "is_active"]
        read_only_fields = ["id", "is_active"]


class CampaignSerializer(serializers.ModelSerializer):
    """Money fields are decimal strings in `currency` (the shop's). `review_status` is the
    merchant's approval: only approved, active campaigns serve."""

    ads = AdSerializer(many=True, required=False)
    currency = serializers.SerializerMethodField()
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
            "view_attribution_days",
            "review_status",
            "review_reason",
            "currency",
            "ads",
        ]
        read_only_fields = [
            "id",
            "advertiser",
            "status",
            "spend_total",
            "spend_today",
            "review_status",
            "review_reason",
        ]

    def get_currency(self, obj) -> str:
        return settings.SHOP_CURRENCY

    def to_service_data(self) -> dict:
        data = dict(self.validated_data)
        for name in ("interest_categories", "retarget_categories"):
            if name in data:
                data[name] = [c.pk for c in data[name]]
        if "ads" in data:
            data["ads"] = [dict(ad) for ad in data["ads"]]
        return data


class CampaignListApi(APIView):
    """GET: my campaigns. POST: create a draft campaign for my advertiser account (it waits
    for the merchant's approval before it serves)."""

    authentication_classes = ADVERTISER_AUTH
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
    """GET, PATCH (partial update), DELETE (= finish: billing records keep the campaign)."""

    authentication_classes = ADVERTISER_AUTH
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

    @extend_schema(responses=CampaignSerializer, summary="Finish the campaign (it stops for good)")
    def delete(self, request: Request, pk: int) -> Response:
        campaign = services.campaign_transition(
            campaign=_campaign_or_404(request, pk), to_status=Campaign.Status.FINISHED, user=request.user
        )
        return Response(CampaignSerializer(campaign).data)


class TransitionInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Campaign.Status.choices)


class CampaignTransitionApi(APIView):
    """POST {"status": "active"|"paused"|"finished"}: start, pause, resume or finish."""

    authentication_classes = ADVERTISER_AUTH
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

    authentication_classes = ADVERTISER_AUTH
    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        return Response(audience_estimate(campaign=_campaign_or_404(request, pk)))


# --- ads ------------------------------------------------------------------------------------


class AdListApi(APIView):
    """GET the campaign's ads; POST one more (from an advertiser, the campaign is reviewed again)."""

    authentication_classes = ADVERTISER_AUTH
    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(responses=AdSerializer(many=True), operation_id="ads_campaign_ads_list")
    def get(self, request: Request, pk: int) -> Response:
        return Response(AdSerializer(_campaign_or_404(request, pk).ads.order_by("pk"), many=True).data)

    @extend_schema(request=AdSerializer, responses={201: AdSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = _campaign_or_404(request, pk)
        data = AdSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ad = services.ad_add(campaign=campaign, user=request.user, raw=dict(data.validated_data))
        return Response(AdSerializer(ad).data, status=status.HTTP_201_CREATED)


class AdActiveInput(serializers.Serializer):
    is_active = serializers.BooleanField()


class AdDetailApi(APIView):
    """PATCH {"is_active": false} switches a creative off (ads are never deleted: billing)."""

    authentication_classes = ADVERTISER_AUTH
    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(request=AdActiveInput, responses=AdSerializer)
    def patch(self, request: Request, pk: int, ad_id: int) -> Response:
        campaign = _campaign_or_404(request, pk)
        ad = campaign.ads.filter(pk=ad_id).first()
        if ad is None:
            raise NotFound("No such ad in this campaign.")
        data = AdActiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        ad = services.ad_set_active(ad=ad, user=request.user, active=data.validated_data["is_active"])
        return Response(AdSerializer(ad).data)


# --- reports --------------------------------------------------------------------------------


class ReportInput(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD); default: all days.")


class ReportRowSerializer(serializers.Serializer):
    day = serializers.DateField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = serializers.FloatField()
    spend = serializers.DecimalField(max_digits=14, decimal_places=2)
    avg_cpc = serializers.DecimalField(max_digits=14, decimal_places=2)
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    roas = serializers.FloatField(help_text="Revenue / spend.")
    cpa = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True, help_text="Spend / conversions.")


class ReportSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    currency = serializers.CharField()
    rows = ReportRowSerializer(many=True)
    totals = serializers.DictField()
    updated_at = serializers.DateTimeField(allow_null=True)


def _since(request: Request) -> date | None:
    data = ReportInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data.get("since")


class CampaignReportApi(APIView):
    """GET the daily report: impressions, clicks, spend, conversions, revenue, ROAS, CPA.

    Rows are recomputed from the logs every 10 minutes (Celery beat)."""

    authentication_classes = ADVERTISER_AUTH
    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(parameters=[ReportInput], responses=ReportSerializer)
    def get(self, request: Request, pk: int) -> Response:
        campaign = _campaign_or_404(request, pk)
        return Response(report_data(campaign=campaign, since=_since(request)))


class CsvRenderer(BaseRenderer):
    """Lets a client ask for `Accept: text/csv`; the view itself writes the CSV body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (str, bytes)) else json.dumps(data)


class CampaignReportCsvApi(APIView):
    """GET the daily report as CSV (money as plain decimals, a currency column)."""

    renderer_classes = [JSONRenderer, CsvRenderer]
    authentication_classes = ADVERTISER_AUTH
    permission_classes = [IsAuthenticated]
    throttle_scope = "ads"

    @extend_schema(
        parameters=[ReportInput],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The daily report as CSV.")},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        campaign = _campaign_or_404(request, pk)
        body = report_csv(campaign=campaign, since=_since(request))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-report.csv"'
        return response
