"""JSON API (permission analytics.view_analytics) of the dashboard (the dashboard page fetches exactly these endpoints).

Every table is also CSV: add `?format=csv` (POST funnel too). Validation happens in input
serializers; domain rules (unknown metric/step) raise DomainError, mapped to 400.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ecommerce.api.permissions import HasPerm
from ecommerce.money import money_plain
from ecommerce.roles import VIEW_ANALYTICS

from . import queries
from .models import Segment
from .queries import DEFAULT_FUNNEL, Filters
from .selectors import segment_list

MAX_RANGE_DAYS = 3 * 366


class CSVRenderer(BaseRenderer):
    """Renders a list of flat dicts (the view picks the table) as CSV."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        if isinstance(data, dict):  # an error answer: {"detail": ...} or field errors
            data = [{"field": k, "error": v if isinstance(v, str) else "; ".join(map(str, v))} for k, v in data.items()]
        rows = list(data or [])
        buffer = io.StringIO()
        if rows:
            fields: list[str] = []
            for row in rows:
                fields.extend(k for k in row if k not in fields)
            writer = csv.DictWriter(buffer, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        # An empty table is one empty line: DRF drops the Content-Type of an empty body.
        return buffer.getvalue().encode("utf-8") or b"\r\n"


# Money in CSV exports: a plain decimal with 2 places (ecommerce.money.money_plain) and the currency in
# its own column, so a spreadsheet can sum the column; JSON keeps numbers for the charts.
MONEY_KPIS = ("gmv", "aov")


def _money_csv(
    rows: list[dict[str, Any]], fields: tuple[str, ...], *, when: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    currency = settings.SHOP_CURRENCY
    result = []
    for row in rows:
        row = dict(row)
        is_money = when is None or when(row)
        for name in fields:
            if is_money and name in row:
                row[name] = money_plain(row[name], currency)
        row["currency"] = currency if is_money else ""
        result.append(row)
    return result


class FilterSerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="ISO date, inclusive. Default: 30 days before end.")
    end = serializers.DateField(required=False, help_text="ISO date, inclusive. Default: the latest day with data.")
    segment = serializers.SlugField(required=False, allow_blank=True, default="")
    country = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    category = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start is None or end is None:
            default_start, default_end = queries.default_range()
            end = end or (start + timedelta(days=29) if start else default_end)
            start = start or end - timedelta(days=29)
        if end < start:
            raise serializers.ValidationError({"end": "end must not be before start."})
        if attrs.get("segment") and not Segment.objects.filter(key=attrs["segment"]).exists():
            raise serializers.ValidationError({"segment": f"Unknown segment {attrs['segment']!r}."})
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"end": f"The range may span at most {MAX_RANGE_DAYS} days."})
        attrs["start"], attrs["end"] = start, end
        return attrs

    def filters(self) -> Filters:
        d = self.validated_data
        return Filters(
            start=d["start"], end=d["end"], segment=d["segment"], country=d["country"], category_id=d["category"]
        )


class TrendQuerySerializer(FilterSerializer):
    metric = serializers.CharField(
        default="revenue", help_text="revenue | orders | customers | visitors | <event type>"
    )
    interval = serializers.ChoiceField(choices=queries.INTERVALS, default="day")


class RetentionQuerySerializer(FilterSerializer):
    period = serializers.ChoiceField(choices=["week", "month"], default="month")
    event = serializers.CharField(default="purchase", help_text="purchase | <event type>")


class TopQuerySerializer(FilterSerializer):
    dimension = serializers.ChoiceField(choices=queries.TOP_DIMENSIONS, default="products")
    limit = serializers.IntegerField(default=10, min_value=1, max_value=200)


class HeatmapQuerySerializer(FilterSerializer):
    event = serializers.CharField(default="any", help_text="any | orders | <event type>")


class DistributionQuerySerializer(FilterSerializer):
    field = serializers.ChoiceField(choices=queries.DISTRIBUTION_FIELDS, default="age")


class RfmQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False, help_text="Reference date (exclusive). Default: day after the last order."
    )


WINDOW_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@extend_schema_field(OpenApiTypes.STR)
class WindowField(serializers.Field):
    """A conversion window: seconds (int) or "30m", "24h", "7d"."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        match = WINDOW_RE.match(str(data))
        if not match:
            raise serializers.ValidationError('Use seconds or a duration like "30m", "24h", "7d".')
        return int(match.group(1)) * WINDOW_UNITS[match.group(2)]

    def to_representation(self, value: int) -> int:
        return value


class FunnelInputSerializer(FilterSerializer):
    steps = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=2, max_length=8, default=lambda: list(DEFAULT_FUNNEL)
    )
    # DRF does not run to_internal_value on a default: give it already converted (7 days in seconds).
    window = WindowField(default=7 * WINDOW_UNITS["d"], help_text='Seconds or "30m" / "24h" / "7d". Default 7 days.')
    breakdown = serializers.ChoiceField(choices=["", "country", "segment"], default="", allow_blank=True)


class AnalyticsApi(APIView):
    permission_classes = [HasPerm(VIEW_ANALYTICS, "Analytics is for staff with the analytics permission.")]
    throttle_scope = "analytics"
    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_name = "analytics"

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return data.get("items", [])

    def answer(self, request: Request, data: dict[str, Any]) -> Response:
        if getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv":
            return Response(
                self.csv_rows(data), headers={"Content-Disposition": f'attachment; filename="{self.csv_name}.csv"'}
            )
        return Response(data)

    def parse(self, serializer_class: type[serializers.Serializer], data: Any) -> serializers.Serializer:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer


FORMAT_PARAM = OpenApiParameter("format", str, enum=["json", "csv"], description="csv downloads the table")


class KpisApi(AnalyticsApi):
    csv_name = "kpis"

    @extend_schema(
        parameters=[FilterSerializer, FORMAT_PARAM],
        responses={200: OpenApiTypes.OBJECT},
        summary="KPIs of a range with the change versus the previous period of equal length",
    )
    def get(self, request: Request) -> Response:
        f = self.parse(FilterSerializer, request.query_params).filters()
        return self.answer(request, queries.kpis(f))

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return _money_csv(data["kpis"], ("value", "previous"), when=lambda row: row["key"] in MONEY_KPIS)


class TrendsApi(AnalyticsApi):
    csv_name = "trends"

    @extend_schema(
        parameters=[TrendQuerySerializer, FORMAT_PARAM],
        responses={
            200: inline_serializer(
                "TrendSeries",
                {
                    "metric": serializers.CharField(),
                    "interval": serializers.CharField(),
                    "series": inline_serializer(
                        "TrendPoint", {"period": serializers.CharField(), "value": serializers.FloatField()}, many=True
                    ),
                },
            )
        },
        summary="A metric (revenue, orders, customers, visitors or an event type) per hour/day/week/month",
    )
    def get(self, request: Request) -> Response:
        s = self.parse(TrendQuerySerializer, request.query_params)
        data = queries.trends(s.filters(), metric=s.validated_data["metric"], interval=s.validated_data["interval"])
        return self.answer(request, data)

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        if data.get("metric") == "revenue":
            return _money_csv(data["series"], ("value",))
        return data["series"]


class FunnelApi(AnalyticsApi):
    csv_name = "funnel"

    @extend_schema(
        request=FunnelInputSerializer,
        parameters=[FORMAT_PARAM],
        responses={200: OpenApiTypes.OBJECT},
        summary="Ordered funnel with a conversion window, per-step conversion and drop-off",
    )
    def post(self, request: Request) -> Response:
        payload = dict(request.data) if isinstance(request.data, dict) else {}
        if isinstance(payload.get("range"), dict):  # {"range": {"start":..., "end":...}} is accepted too
            payload.update({k: v for k, v in payload.pop("range").items() if k in ("start", "end")})
        s = self.parse(FunnelInputSerializer, payload)
        d = s.validated_data
        data = queries.funnel(s.filters(), steps=d["steps"], window_seconds=d["window"], breakdown=d["breakdown"])
        return self.answer(request, data)

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        rows = [{"group": "(all)", **step} for step in data["step_counts"]]
        for group in data.get("groups", []):
            rows.extend({"group": group["group"], **step} for step in group["step_counts"])
        return rows


class RetentionApi(AnalyticsApi):
    csv_name = "retention"

    @extend_schema(
        parameters=[RetentionQuerySerializer, FORMAT_PARAM],
        responses={
            200: inline_serializer(
                "RetentionTable",
                {
                    "period": serializers.CharField(),
                    "event": serializers.CharField(),
                    "cohorts": inline_serializer(
                        "Cohort",
                        {
                            "cohort": serializers.DateField(),
                            "size": serializers.IntegerField(),
                            "retained": serializers.ListField(child=serializers.IntegerField()),
                        },
                        many=True,
                    ),
                },
            )
        },
        summary="Cohorts by week/month of first purchase (or first event); retained[k] = active in period cohort+k",
    )
    def get(self, request: Request) -> Response:
        s = self.parse(RetentionQuerySerializer, request.query_params)
        data = queries.retention(s.filters(), period=s.validated_data["period"], event=s.validated_data["event"])
        return self.answer(request, data)

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for c in data["cohorts"]:
            row: dict[str, Any] = {"cohort": c["cohort"], "size": c["size"]}
            row.update({f"period_{k}": n for k, n in enumerate(c["retained"])})
            rows.append(row)
        return rows


class RfmApi(AnalyticsApi):
    csv_name = "rfm"

    @extend_schema(
        parameters=[RfmQuerySerializer, FORMAT_PARAM],
        responses={200: OpenApiTypes.OBJECT},
        summary="RFM segments (R, F, M scored 1-5 by quintile) with sizes and value",
    )
    def get(self, request: Request) -> Response:
        s = self.parse(RfmQuerySerializer, request.query_params)
        return self.answer(request, queries.rfm_summary(as_of=s.validated_data.get("as_of")))

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return _money_csv(data["segments"], ("monetary", "avg_monetary"))


class SegmentsApi(AnalyticsApi):
    csv_name = "segments"

    @extend_schema(
        parameters=[FORMAT_PARAM],
        responses={200: OpenApiTypes.OBJECT},
        summary="Saved segments (RFM, clusters, manual) with sizes, value and descriptions",
    )
    def get(self, request: Request) -> Response:
        items = [
            {
                "key": s.key,
                "name": s.name,
                "kind": s.kind,
                "description": s.description,
                "size": s.size,
                "monetary": (s.stats or {}).get("monetary"),
                "updated_at": s.updated_at.isoformat(),
                "stats": s.stats,
            }
            for s in segment_list()
        ]
        return self.answer(request, {"items": items})

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return _money_csv([{k: v for k, v in item.items() if k != "stats"} for item in data["items"]], ("monetary",))


class TopApi(AnalyticsApi):
    csv_name = "top"

    @extend_schema(
        parameters=[TopQuerySerializer, FORMAT_PARAM],
        responses={200: OpenApiTypes.OBJECT},
        summary="Top products, categories, countries, search terms, zero-result searches, abandoned carts",
    )
    def get(self, request: Request) -> Response:
        s = self.parse(TopQuerySerializer, request.query_params)
        d = s.validated_data
        return self.answer(request, queries.top(s.filters(), dimension=d["dimension"], limit=d["limit"]))

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        items = data.get("items", [])
        if any("revenue" in item for item in items):
            return _money_csv(items, ("revenue",))
        return items


class HeatmapApi(AnalyticsApi):
    csv_name = "heatmap"

    @extend_schema(
        parameters=[HeatmapQuerySerializer, FORMAT_PARAM],
        responses={200: OpenApiTypes.OBJECT},
        summary="Activity by weekday x hour",
    )
    def get(self, request: Request) -> Response:
        s = self.parse(HeatmapQuerySerializer, request.query_params)
        return self.answer(request, queries.heatmap(s.filters(), event=s.validated_data["event"]))

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"weekday": day, **{f"h{h:02d}": v for h, v in enumerate(row)}}
            for day, row in zip(data["weekdays"], data["matrix"], strict=True)
        ]


class DistributionsApi(AnalyticsApi):
    csv_name = "distribution"

    @extend_schema(
        parameters=[DistributionQuerySerializer, FORMAT_PARAM],
        responses={200: OpenApiTypes.OBJECT},
        summary="Distribution of active shoppers by age band, gender, country, or of product views per visitor",
    )
    def get(self, request: Request) -> Response:
        s = self.parse(DistributionQuerySerializer, request.query_params)
        return self.answer(request, queries.distributions(s.filters(), field=s.validated_data["field"]))

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return data["buckets"]
