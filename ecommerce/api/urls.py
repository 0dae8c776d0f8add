from django.urls import path

from .catalog import (
    CategoryListApi,
    OrderCancelApi,
    OrderDetailApi,
    OrderListApi,
    ProductDetailApi,
    ProductListApi,
)
from .events import EventIngestApi
from .privacy import MyDataExportApi
from .returns import OrderReturnsApi, ReturnTransitionApi

app_name = "api"
urlpatterns = [
    path("events/", EventIngestApi.as_view(), name="events"),
    path("products/", ProductListApi.as_view(), name="product_list"),
    path("products/<int:product_id>/", ProductDetailApi.as_view(), name="product_detail"),
    path("categories/", CategoryListApi.as_view(), name="category_list"),
    path("orders/", OrderListApi.as_view(), name="order_list"),
    path("orders/<str:number>/", OrderDetailApi.as_view(), name="order_detail"),
    path("orders/<str:number>/cancel/", OrderCancelApi.as_view(), name="order_cancel"),
    path("orders/<str:number>/returns/", OrderReturnsApi.as_view(), name="order_returns"),
    path("returns/<int:return_id>/<slug:move>/", ReturnTransitionApi.as_view(), name="return_transition"),
    path("me/data/", MyDataExportApi.as_view(), name="my_data"),
]
