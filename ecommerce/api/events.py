"""POST /api/events/: batched, idempotent behaviour event ingestion."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import IngestionToken
from ..privacy import tracking_for
from ..services.events import events_ingest
from .authentication import IngestionTokenAuthentication
from .parsers import json_loads_bounded


class EventBeaconAuthentication(IngestionTokenAuthentication):
    """Token if present; otherwise the session user without a CSRF check.

    The tracker posts with navigator.sendBeacon, which cannot set a CSRF header. That is safe
    here: a forged beacon can only add events to the victim's own log, never read or change
    anything else, and the user is still taken from the session, never the body.
    """

    def authenticate(self, request):
        token_auth = super().authenticate(request)
        if token_auth is not None:
            return token_auth
        user = getattr(request._request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return (user, None)
        return None


class EventIngestApi(APIView):
    authentication_classes = [EventBeaconAuthentication]
    permission_classes = [AllowAny]
    throttle_scope = "events"

    def get_throttles(self):
        if isinstance(getattr(self.request, "auth", None), IngestionToken):
            self.throttle_scope = "events_token"
        return super().get_throttles()

    @extend_schema(
        request=inline_serializer("EventBatch", {"events": serializers.ListField(child=serializers.DictField())}),
        responses={
            200: inline_serializer(
                "EventBatchResult",
                {
                    "accepted": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "rejected": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
        examples=[
            OpenApiExample(
                "one view",
                value={
                    "events": [
                        {
                            "id": "2b1f6c1e-3f7e-4c4e-9d4a-0f5e8f0a1b2c",
                            "type": "product_view",
                            "occurred_at": "2026-11-28T12:00:00Z",
                            "product_id": 1,
                            "anonymous_id": "a-123",
                        }
                    ]
                },
            )
        ],
    )
    def post(self, request):
        trusted = isinstance(request.auth, IngestionToken)
        tracking = tracking_for(request._request)  # the one consent rule (ecommerce.privacy)
        if not trusted and not tracking.allowed:
            raise PermissionDenied("Tracking consent has not been given (or Do-Not-Track is on): no events are stored.")
        # Parse ourselves: sendBeacon posts text/plain, and we want a clear 400 for bad JSON.
        try:
            raw = request._request.body
        except RequestDataTooBig:
            return Response(
                {"detail": f"Request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        body = json_loads_bounded(raw or b"")
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise ValidationError({"events": "Send an object with an 'events' list."})
        events = body["events"]
        if len(events) > settings.EVENTS_MAX_BATCH:
            raise ValidationError({"events": f"At most {settings.EVENTS_MAX_BATCH} events per batch."})
        if trusted:  # a server-side integration: no browser session, users only by user_id
            result = events_ingest(raw_events=events, trusted=True)
        else:
            result = events_ingest(raw_events=events, user=tracking.user, session_key=tracking.session_key)
        return Response(result.as_dict(), status=status.HTTP_200_OK)
