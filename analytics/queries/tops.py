"""Top tables (products, categories, searches, countries) and abandoned carts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from ecommerce.errors import DomainError
from ecommerce.models import CartItem, Category, Event, Product

from ..expressions import LINE_VALUE, actor_expr, day_bounds, order_country_expr
from ..models import DailyProduct, DailySearcher, DailyTop
from ..sampling import level_for, levels_from
from ..sketches import exact_limit
from .common import Filters, _category_ids, _events, _lines, _num, _segment_user_ids

TOP_DIMENSIONS = ("products", "categories", "searches", "zero_result_searches", "abandoned_carts", "countries")


def top(f: Filters, *, dimension: str, limit: int = 10, force_raw: bool = False) -> dict[str, Any]:
    """Top rows of a dimension. Products and categories rank by GMV (fee lines such as postage,
    Product.is_non_product, are not products and are left out here, though they count in GMV).
    Top products read the per-day product rollup (DailyProduct), categories, countries, search
    terms and zero-result searches the per-day top table (DailyTop, searchers DailySearcher)
    unless a segment or category filter applies (or `force_raw`); abandoned carts read the carts."""
    if dimension not in TOP_DIMENSIONS:
        raise DomainError(f"Unknown dimension {dimension!r}: use one of {', '.join(TOP_DIMENSIONS)}.")
    limit = max(1, min(int(limit), 200))
    rolled = not f.needs_raw and not force_raw
    extra: dict[str, Any] = {}
    if dimension == "products" and rolled:
        items = _top_products_rolled(f, limit)
    elif dimension == "categories" and rolled:
        items = _top_categories_rolled(f, limit)
    elif dimension == "countries" and rolled:
        items = _top_countries_rolled(f, limit)
    elif dimension == "searches" and rolled:
        items, extra["sampled_fraction"] = _top_searches_rolled(f, limit)
    elif dimension == "zero_result_searches" and rolled:
        items = _zero_result_searches(f, limit, rolled=True)
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
    return {"dimension": dimension, "start": f.start.isoformat(), "end": f.end.isoformat(), "items": items, **extra}


def _tops(f: Filters, dimension: str) -> QuerySet:
    qs = DailyTop.objects.filter(dimension=dimension, day__gte=f.start, day__lte=f.end)
    if dimension == DailyTop.Dimension.COUNTRY:  # one all-countries row per order country
        qs = qs.filter(country__isnull=True)
        return qs.filter(key=f.country) if f.country else qs
    return qs.filter(country=f.country) if f.country else qs.filter(country__isnull=True)


def _top_categories_rolled(f: Filters, limit: int) -> list[dict[str, Any]]:
    ranked = list(
        _tops(f, DailyTop.Dimension.CATEGORY)
        .values("key")
        .annotate(revenue=Sum("revenue"), units=Sum("units"), orders=Sum("orders"))
        .order_by("-revenue", "key")
    )
    # The raw table orders ties by category id (NULL last): keys are text, so rank in Python
    # (one row per category).
    ranked.sort(key=lambda r: (-r["revenue"], r["key"] == "", int(r["key"]) if r["key"] else 0))
    ranked = ranked[:limit]
    ids = [int(r["key"]) for r in ranked if r["key"]]
    names = dict(Category.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [
        {
            "category_id": int(r["key"]) if r["key"] else None,
            "name": (names.get(int(r["key"])) if r["key"] else None) or "(none)",
            "revenue": _num(r["revenue"]),
            "units": r["units"],
            "orders": r["orders"],
        }
        for r in ranked
    ]


def _top_countries_rolled(f: Filters, limit: int) -> list[dict[str, Any]]:
    rows = (
        _tops(f, DailyTop.Dimension.COUNTRY)
        .values("key")
        .annotate(revenue=Sum("revenue"), orders=Sum("orders"))
        .order_by("-revenue", "key")[:limit]
    )
    return [{"country": r["key"] or "(unknown)", "revenue": _num(r["revenue"]), "orders": r["orders"]} for r in rows]


def _top_searches_rolled(f: Filters, limit: int) -> tuple[list[dict[str, Any]], float]:
    """Terms ranked by searches summed over days; distinct searchers of those terms from the
    per-actor search table, exact up to the actor-day limit, else from a uniform sample of
    actors scaled up (analytics.sampling), like the browsing distribution."""
    ranked = list(
        _tops(f, DailyTop.Dimension.SEARCH)
        .values("key")
        .annotate(searches=Sum("count"), actor_days=Sum("actors"))
        .order_by("-searches", "key")[:limit]
    )
    terms = [r["key"] for r in ranked]
    level = level_for(sum(r["actor_days"] for r in ranked), exact_limit())
    qs = DailySearcher.objects.filter(day__gte=f.start, day__lte=f.end, term__in=terms)
    if f.country:
        qs = qs.filter(country=f.country)
    if level:
        qs = qs.filter(sample__in=levels_from(level))
    searchers = dict(qs.values("term").annotate(n=Count("actor", distinct=True)).values_list("term", "n"))
    scale = 1 << level
    items = [
        {"term": r["key"], "searches": r["searches"], "searchers": searchers.get(r["key"], 0) * scale} for r in ranked
    ]
    return items, 1 / scale


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


def _zero_result_searches(f: Filters, limit: int, *, rolled: bool = False) -> list[dict[str, Any]]:
    """Searches that found nothing. Events that recorded `properties.results` are taken at their
    word; for terms logged without it, the term is checked against today's sellable catalog
    (title, description or category name contains it). `rolled`: the per-term counts come from
    the per-day top table instead of the events."""
    if rolled:
        terms = _tops(f, DailyTop.Dimension.SEARCH).values("key")
        recorded = [
            {"term": r["key"], "searches": r["n"]}
            for r in terms.annotate(n=Sum("zero")).filter(n__gt=0).order_by("-n", "key")[:limit]
        ]
        unrecorded = [
            {"term": r["key"], "searches": r["n"]}
            for r in terms.annotate(n=Sum("unrecorded")).filter(n__gt=0).order_by("-n", "key")[:200]
        ]
    else:
        searches = _events(f).filter(type=Event.Type.SEARCH).exclude(query="").annotate(term=Lower("query"))
        recorded = (
            searches.filter(properties__results=0)
            .values("term")
            .annotate(searches=Count("id"))
            .order_by("-searches", "term")[:limit]
        )
        unrecorded = (
            searches.filter(~Q(properties__has_key="results"))
            .values("term")
            .annotate(searches=Count("id"))
            .order_by("-searches", "term")[:200]
        )
    found = {r["term"]: {"term": r["term"], "searches": r["searches"], "source": "recorded"} for r in recorded}
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
