"""Top tables (products, categories, searches, countries) and abandoned carts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from ecommerce.errors import DomainError
from ecommerce.models import CartItem, Event, Product

from ..expressions import LINE_VALUE, actor_expr, day_bounds, order_country_expr
from ..models import DailyProduct
from .common import Filters, _category_ids, _events, _lines, _num, _segment_user_ids

TOP_DIMENSIONS = ("products", "categories", "searches", "zero_result_searches", "abandoned_carts", "countries")


def top(f: Filters, *, dimension: str, limit: int = 10, force_raw: bool = False) -> dict[str, Any]:
    """Top rows of a dimension. Products and categories rank by GMV (fee lines such as postage,
    Product.is_non_product, are not products and are left out here, though they count in GMV).
    Top products read the per-day product rollup (DailyProduct) unless a segment or category
    filter applies (or `force_raw`)."""
    if dimension not in TOP_DIMENSIONS:
        raise DomainError(f"Unknown dimension {dimension!r}: use one of {', '.join(TOP_DIMENSIONS)}.")
    limit = max(1, min(int(limit), 200))
    if dimension == "products" and not f.needs_raw and not force_raw:
        items = _top_products_rolled(f, limit)
    elif dimension == "products":
        rows = (
            _lines(f)
            .filter(product__is_non_product=False)
            .values("product_id", "product__sku", "product__title")
            .annotate(revenue=Sum(LINE_VALUE), units=Sum("quantity"), orders=Count("order_id", distinct=True))
            .order_by("-revenue", "product_id")[:limit]
        )
        items = [
            {
                "product_id": r["product_id"],
                "sku": r["product__sku"],
                "title": r["product__title"],
                "revenue": _num(r["revenue"]),
                "units": r["units"],
                "orders": r["orders"],
            }
            for r in rows
        ]
        views = dict(
            _events(f)
            .filter(type=Event.Type.PRODUCT_VIEW, product_id__in=[i["product_id"] for i in items])
            .values("product_id")
            .annotate(n=Count("id"))
            .values_list("product_id", "n")
        )
        for item in items:
            item["views"] = views.get(item["product_id"], 0)
    elif dimension == "categories":
        rows = (
            _lines(f)
            .filter(product__is_non_product=False)
            .values("product__category_id", "product__category__name")
            .annotate(revenue=Sum(LINE_VALUE), units=Sum("quantity"), orders=Count("order_id", distinct=True))
            .order_by("-revenue", "product__category_id")[:limit]
        )
        items = [
            {
                "category_id": r["product__category_id"],
                "name": r["product__category__name"] or "(none)",
                "revenue": _num(r["revenue"]),
                "units": r["units"],
                "orders": r["orders"],
            }
            for r in rows
        ]
    elif dimension == "countries":
        rows = (
            _lines(f)
            .annotate(ctry=order_country_expr("order__"))
            .values("ctry")
            .annotate(revenue=Sum(LINE_VALUE), orders=Count("order_id", distinct=True))
            .order_by("-revenue", "ctry")[:limit]
        )
        items = [
            {"country": r["ctry"] or "(unknown)", "revenue": _num(r["revenue"]), "orders": r["orders"]} for r in rows
        ]
    elif dimension == "searches":
        rows = (
            _events(f)
            .filter(type=Event.Type.SEARCH)
            .exclude(query="")
            .annotate(term=Lower("query"))
            .values("term")
            .annotate(searches=Count("id"), searchers=Count(actor_expr(), distinct=True))
            .order_by("-searches", "term")[:limit]
        )
        items = [{"term": r["term"], "searches": r["searches"], "searchers": r["searchers"]} for r in rows]
    elif dimension == "zero_result_searches":
        items = _zero_result_searches(f, limit)
    else:
        return abandoned_carts(f, limit=limit)
    return {"dimension": dimension, "start": f.start.isoformat(), "end": f.end.isoformat(), "items": items}


def _top_products_rolled(f: Filters, limit: int) -> list[dict[str, Any]]:
    qs = DailyProduct.objects.filter(day__gte=f.start, day__lte=f.end)
    qs = qs.filter(country=f.country) if f.country else qs.filter(country__isnull=True)
    ranked = list(
        qs.filter(product_id__in=Product.objects.filter(is_non_product=False).values("pk"))
        .values("product_id")
        .annotate(revenue=Sum("revenue"), units=Sum("units"), orders=Sum("orders"))
        .filter(orders__gt=0)
        .order_by("-revenue", "product_id")[:limit]
    )
    ids = [r["product_id"] for r in ranked]
    names = {p: (sku, title) for p, sku, title in Product.objects.filter(pk__in=ids).values_list("pk", "sku", "title")}
    views = dict(
        qs.filter(product_id__in=ids).values("product_id").annotate(n=Sum("views")).values_list("product_id", "n")
    )
    return [
        {
            "product_id": r["product_id"],
            "sku": names.get(r["product_id"], ("", ""))[0],
            "title": names.get(r["product_id"], ("", ""))[1],
            "revenue": _num(r["revenue"]),
            "units": r["units"],
            "orders": r["orders"],
            "views": views.get(r["product_id"], 0),
        }
        for r in ranked
    ]


def _zero_result_searches(f: Filters, limit: int) -> list[dict[str, Any]]:
    """Searches that found nothing. Events that recorded `properties.results` are taken at their
    word; for terms logged without it, the term is checked against today's sellable catalog
    (title, description or category name contains it)."""
    searches = _events(f).filter(type=Event.Type.SEARCH).exclude(query="").annotate(term=Lower("query"))
    recorded = (
        searches.filter(properties__results=0)
        .values("term")
        .annotate(searches=Count("id"))
        .order_by("-searches", "term")[:limit]
    )
    found = {r["term"]: {"term": r["term"], "searches": r["searches"], "source": "recorded"} for r in recorded}
    unrecorded = (
        searches.filter(~Q(properties__has_key="results"))
        .values("term")
        .annotate(searches=Count("id"))
        .order_by("-searches", "term")[:200]
    )
    sellable = Product.objects.sellable()
    for row in unrecorded:
        term = row["term"]
        hit = sellable.filter(
            Q(title__icontains=term) | Q(description__icontains=term) | Q(category__name__icontains=term)
        ).exists()
        if not hit:
            entry = found.setdefault(term, {"term": term, "searches": 0, "source": "catalog"})
            entry["searches"] += row["searches"]
    return sorted(found.values(), key=lambda r: (-r["searches"], r["term"]))[:limit]


def abandoned_carts(f: Filters, *, limit: int = 20, idle_hours: int = 24) -> dict[str, Any]:
    """Carts with items, untouched for `idle_hours`, last changed within the range: the value left
    in them (current prices) and the total over all such carts."""
    t0, t1 = day_bounds(f.start, f.end)
    cutoff = min(t1, timezone.now() - timedelta(hours=idle_hours))
    items = CartItem.objects.filter(cart__updated_at__gte=t0, cart__updated_at__lt=cutoff)
    if f.segment:
        items = items.filter(cart__user_id__in=_segment_user_ids(f.segment))
    if f.country:
        items = items.filter(cart__user__country=f.country)
    if f.category_id is not None:
        items = items.filter(product__category_id__in=_category_ids(f.category_id))
    value = F("quantity") * F("product__price")
    per_cart = (
        items.values("cart_id", "cart__user_id", "cart__updated_at")
        .annotate(value=Sum(value), units=Sum("quantity"), lines=Count("id"))
        .order_by("-value", "cart_id")
    )
    totals = items.aggregate(value=Sum(value), carts=Count("cart_id", distinct=True))
    rows = [
        {
            "cart_id": r["cart_id"],
            "user_id": r["cart__user_id"],
            "updated_at": r["cart__updated_at"].isoformat(),
            "lines": r["lines"],
            "units": r["units"],
            "value": _num(r["value"]),
        }
        for r in per_cart[:limit]
    ]
    return {
        "dimension": "abandoned_carts",
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "idle_hours": idle_hours,
        "carts": totals["carts"],
        "value_left": _num(totals["value"] or Decimal("0")),
        "items": rows,
    }
