"""Return requests for API clients: the same service as the order page, the bot and the admin."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import ReturnLine, ReturnRequest
from ..services import orders as order_services


class ReturnLineOutputSerializer(serializers.ModelSerializer):
    item_id = serializers.IntegerField()
    title = serializers.CharField(source="item.title")

    class Meta:
        model = ReturnLine
        fields = ["item_id", "title", "quantity"]


class ReturnOutputSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    lines = ReturnLineOutputSerializer(many=True)

    class Meta:
        model = ReturnRequest
        fields = [
            "id",
            "order",
            "status",
            "reason",
            "created_at",
            "approved_at",
            "received_at",
            "refunded_at",
            "refund_amount",
            "lines",
        ]


class ReturnLineInputSerializer(serializers.Serializer):
    item_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class ReturnCreateInputSerializer(serializers.Serializer):
    lines = ReturnLineInputSerializer(many=True, allow_empty=False, max_length=200)
    reason = serializers.CharField(max_length=order_services.RETURN_REASON_MAX_CHARS)


class OrderReturnsApi(APIView):
    """GET the order's return requests; POST a new one (own orders only: the service checks)."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "orders"

    @extend_schema(responses=ReturnOutputSerializer(many=True), operation_id="order_returns_list")
    def get(self, request, number: str):
        order = order_services.order_get_for_actor(number=number, actor=request.user)
        rows = order.return_requests.prefetch_related("lines__item").select_related("order")
        return Response(ReturnOutputSerializer(rows, many=True).data)

    @extend_schema(
        request=ReturnCreateInputSerializer,
        responses={201: ReturnOutputSerializer},
        operation_id="order_returns_create",
    )
    def post(self, request, number: str):
        body = ReturnCreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        lines: dict[int, int] = {}
        for line in body.validated_data["lines"]:
            lines[line["item_id"]] = lines.get(line["item_id"], 0) + line["quantity"]
        created = order_services.return_request_create(
            number=number, actor=request.user, lines=lines, reason=body.validated_data["reason"]
        )
        return Response(ReturnOutputSerializer(created).data, status=status.HTTP_201_CREATED)


class ReturnTransitionApi(APIView):
    """Merchant moves: approve, receive, refund, reject (ecommerce.manage_returns, checked in the service)."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "orders"
    MOVES = {
        "approve": order_services.return_request_approve,
        "receive": order_services.return_request_receive,
        "refund": order_services.return_request_refund,
        "reject": order_services.return_request_reject,
    }

    @extend_schema(request=None, responses=ReturnOutputSerializer, operation_id="return_transition")
    def post(self, request, return_id: int, move: str):
        if move not in self.MOVES:
            return Response({"detail": f"Unknown move {move!r}."}, status=status.HTTP_404_NOT_FOUND)
        moved = self.MOVES[move](return_id=return_id, actor=request.user)
        return Response(ReturnOutputSerializer(moved).data)
