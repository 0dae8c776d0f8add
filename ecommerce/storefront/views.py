"""Shopper pages: server-rendered templates, thin views that call selectors and services."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..selectors.catalog import category_roots, product_list


def home(request: HttpRequest) -> HttpResponse:
    products = product_list(in_stock_only=True)[:12]
    return render(request, "storefront/home.html", {"products": products, "categories": category_roots()})


def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    from django.shortcuts import get_object_or_404

    from ..models import Product

    product = get_object_or_404(Product.objects.sellable(), pk=product_id)
    return render(request, "storefront/home.html", {"products": [product]})
