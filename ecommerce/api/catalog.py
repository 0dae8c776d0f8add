"""Catalog and order reads/writes for API clients."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Category, Order, OrderItem, Product
from ..selectors.catalog import product_get, product_list
from ..selectors.orders import order_list_for
from ..services.orders import order_cancel, order_get_for_actor


class ProductOutputSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.slug", default=None, allow_null=True)
    url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "title",
            "description",
            "category",
            "price",
            "currency",
            "stock",
            "image_url",
            "attributes",
            "url",
        ]


class CategoryOutputSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.slug", default=None, allow_null=True)

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent"]


class OrderItemOutputSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField()

    class Meta:
        model = OrderItem
        fields = ["product_id", "title", "quantity", "unit_price"]


class OrderOutputSerializer(serializers.ModelSerializer):
    items = OrderItemOutputSerializer(many=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "placed_at",
            "currency",
            "total",
            "tracking_number",
            "shipping_name",
            "shipping_address",
            "items",
        ]


class StandardPagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter("page_size", int, description=f"Items per page, at most {StandardPagination.max_page_size}."),
]


def paginated(name: str, item_serializer: type[serializers.Serializer]) -> serializers.Serializer:
    """The OpenAPI shape of StandardPagination's answer: count, next, previous, results."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item_serializer(many=True),
        },
    )


class ProductListApi(APIView):
    permission_classes = [AllowAny]
    throttle_scope = "catalog"

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=200)
        category = serializers.SlugField(required=False)
        in_stock = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="products_list",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses=paginated("PaginatedProductList", ProductOutputSerializer),
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        category = None
        if params.validated_data.get("category"):
            category = get_object_or_404(Category, slug=params.validated_data["category"])
        qs = product_list(
            category=category, query=params.validated_data.get("q", ""), in_stock_only=params.validated_data["in_stock"]
        )
        paginator = StandardPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ProductOutputSerializer(page, many=True).data)


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]
    throttle_scope = "catalog"

    @extend_schema(responses=ProductOutputSerializer)
    def get(self, request, product_id: int):
        product = product_get(product_id=product_id)
        if product is None:
            return Response({"detail": f"No product with id {product_id}."}, status=404)
        return Response(ProductOutputSerializer(product).data)


class CategoryListApi(APIView):
    permission_classes = [AllowAny]
    throttle_scope = "catalog"

    @extend_schema(responses=CategoryOutputSerializer(many=True))
    def get(self, request):
        return Response(CategoryOutputSerializer(Category.objects.select_related("parent"), many=True).data)


class OrderListApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "orders"

    @extend_schema(
        operation_id="orders_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated("PaginatedOrderList", OrderOutputSerializer),
    )
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(order_list_for(user=request.user), request, view=self)
        return paginator.get_paginated_response(OrderOutputSerializer(page, many=True).data)


class OrderDetailApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "orders"

    @extend_schema(responses=OrderOutputSerializer)
    def get(self, request, number: str):
        order = order_get_for_actor(number=number, actor=request.user)
        return Response(OrderOutputSerializer(order).data)


class OrderCancelApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "orders"

    @extend_schema(request=None, responses=OrderOutputSerializer)
    def post(self, request, number: str):
        order = order_cancel(number=number, actor=request.user)
        return Response(OrderOutputSerializer(order).data)
