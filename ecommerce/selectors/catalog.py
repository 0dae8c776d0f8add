"""Catalog reads used by the storefront, the API and the other apps."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db.models import Q, QuerySet

from ..cache_copies import track_prefix
from ..models import Category, Product

# Bumped by every catalogue change a page shows (ecommerce.services.catalog.catalogue_generation_bump):
# part of every cached storefront page's key, so a bump retires them all at once.
CATALOGUE_GENERATION_KEY = "catalogue:generation"
track_prefix(CATALOGUE_GENERATION_KEY)  # read on every signed-in page: copies per process (ecommerce/cache_copies.py)


def catalogue_generation() -> int:
    value = cache.get(CATALOGUE_GENERATION_KEY)
    if value is None:
        # Starts from the clock, not 1: a generation lost with Redis (or deleted after a lost bump)
        # never comes back as a value pages were cached under before.
        cache.add(CATALOGUE_GENERATION_KEY, int(time.time()), None)
        value = cache.get(CATALOGUE_GENERATION_KEY) or 0
    return int(value)


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
