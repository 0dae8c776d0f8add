"""Catalog reads used by the storefront, the API and the other apps."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ..models import Category, Product


def product_list(
    *, category: Category | None = None, query: str = "", in_stock_only: bool = False
) -> QuerySet[Product]:
    qs = Product.objects.sellable().select_related("category")
    if category is not None:
        qs = qs.filter(category_id__in=category.descendant_ids())
    if query:
        for word in query.split()[:8]:
            qs = qs.filter(Q(title__icontains=word) | Q(description__icontains=word) | Q(sku__iexact=word))
    if in_stock_only:
        qs = qs.in_stock()
    return qs.order_by("title")


def product_get(*, product_id: int) -> Product | None:
    return Product.objects.sellable().select_related("category").filter(pk=product_id).first()


def category_roots() -> QuerySet[Category]:
    return Category.objects.filter(parent__isnull=True).order_by("name")
