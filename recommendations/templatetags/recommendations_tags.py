"""Template tags for the storefront widgets.

    {% load recommendations_tags %}
    {% recommendation_widget "home" k=8 %}            {# recommended for you #}
    {% recommendation_widget "product_similar" product=product %}
    {% recommendation_widget "product_together" product=product %}
    {% recommendation_widget "cart" cart=cart %}
    {% recommendation_widget "account" %}             {# buy it again #}

Rendering writes nothing. Each item carries its slot, position and model version as data
attributes; the tracker (static/js/tracker.js) sends one recommendation_impression per item in the
page's event batch, only with tracking consent, through the event ingestion API (bulk COPY).
Links go through the click redirect, which logs a recommendation_click then opens the product page.
Why the browser and not a server-side buffer: see docs/benchmarks/storefront.md (the widget
becomes cacheable HTML, bots without JS stop counting as impressions, and the tracker's batch
already goes out on every page: no extra request, no extra flush task).

The product-page widgets are the same for every shopper: their HTML is cached per product, slot,
k and the recommendations and catalogue generations (bumped on retrain, rule change and catalogue
change), so a retrain or a price change shows at once.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from ecommerce.selectors.catalog import catalogue_generation

from ..models import SimilarProduct
from ..selectors import (
    Recommendation,
    buy_it_again_for,
    recent_views_from,
    recommendations_for,
    recommendations_generation,
    session_viewed_product_ids,
    similar_products_for,
)

register = template.Library()
logger = logging.getLogger(__name__)

TITLES = {
    "home": "Recommended for you",
    "product_similar": "Similar products",
    "product_together": "Customers also bought",
    "cart": "You may also like",
    "account": "Buy it again",
}


def _cart_product_ids(cart: Any) -> list[int]:
    if cart is None or not hasattr(cart, "items"):
        return []
    try:
        return list(cart.items.values_list("product_id", flat=True))
    except (AttributeError, TypeError):
        return []


def _items_for(slot: str, request: Any, user: Any, k: int, product: Any, cart: Any) -> list[Recommendation]:
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None) or ""
    shopper = user if user is not None and getattr(user, "is_authenticated", False) else None
    if slot == "product_similar" and product is not None:
        return similar_products_for(product=product, kind=SimilarProduct.Kind.SIMILAR, k=k)
    if slot == "product_together" and product is not None:
        return similar_products_for(product=product, kind=SimilarProduct.Kind.BOUGHT_TOGETHER, k=k)
    if slot == "account":
        return buy_it_again_for(user=shopper, k=k) if shopper is not None else []
    exclude = _cart_product_ids(cart) if slot == "cart" else []
    viewed = session_viewed_product_ids(
        user=shopper, session_key=session_key, session=session, recent=recent_views_from(request)
    )
    return recommendations_for(
        user=shopper, session_key=session_key, k=k, exclude_product_ids=exclude, session=session, viewed=viewed
    )


def _shared_widget_key(slot: str, k: int, product: Any) -> str | None:
    """Cache key of a widget that is the same for every shopper (the product page's), else None."""
    if not slot.startswith("product_") or product is None or getattr(product, "pk", None) is None:
        return None
    generations = f"{recommendations_generation()}:{catalogue_generation()}"
    return f"recs:widget:{generations}:{slot}:{product.pk}:{k}"


@register.simple_tag(takes_context=True)
def recommendation_widget(
    context: template.Context, slot: str, k: int = 6, product: Any = None, cart: Any = None, title: str = ""
) -> SafeString:
    k = int(k)
    key = _shared_widget_key(slot, k, product)
    if key is not None:
        html = cache.get(key)
        if html is not None:
            return mark_safe(html)  # noqa: S308 - HTML this tag rendered (escaped) itself
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    html = render_to_string(
        "recommendations/_widget.html", _widget_context(slot, request, user, k, product, cart, title)
    )
    if key is not None:
        cache.set(key, html, settings.RECOMMENDATIONS_WIDGET_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by the template engine with autoescape


def _widget_context(slot: str, request: Any, user: Any, k: int, product: Any, cart: Any, title: str) -> dict[str, Any]:
    items = _items_for(slot, request, user, k, product, cart)
    cards = []
    for position, rec in enumerate(items):
        query = {"slot": slot, "pos": position}
        if rec.model_version is not None:
            query["v"] = rec.model_version
        cards.append(
            {
                "rec": rec,
                "product": rec.product,
                "href": reverse("recommendations:click", args=[rec.product.pk]) + "?" + urlencode(query),
            }
        )
    return {"slot": slot, "title": title or TITLES.get(slot, "Recommended"), "cards": cards}
