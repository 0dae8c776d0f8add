"""Template tags for the storefront widgets.

    {% load recommendations_tags %}
    {% recommendation_widget "home" k=8 %}            {# recommended for you #}
    {% recommendation_widget "product_similar" product=product %}
    {% recommendation_widget "product_together" product=product %}
    {% recommendation_widget "cart" cart=cart %}
    {% recommendation_widget "account" %}             {# buy it again #}

Each rendered item logs a recommendation_impression (slot, position, model version) and links
through the click redirect, which logs a recommendation_click then opens the product page; both
only with tracking consent (ecommerce.privacy.tracking_for).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from ecommerce.privacy import tracking_for

from ..models import SimilarProduct
from ..selectors import (
    Recommendation,
    buy_it_again_for,
    recommendations_for,
    session_view_remember,
    similar_products_for,
)
from ..services import recommendation_impressions_record

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
    if slot.startswith("product_") and product is not None and session is not None and tracking_for(request).allowed:
        # Remember the view in the session: the next page's "Recommended for you" follows it at
        # once, without waiting for the event log or a retrain. Only with consent (the banner
        # promises we store nothing about browsing otherwise).
        session_view_remember(session=session, product_id=product.pk)
    if slot == "product_similar" and product is not None:
        return similar_products_for(product=product, kind=SimilarProduct.Kind.SIMILAR, k=k)
    if slot == "product_together" and product is not None:
        return similar_products_for(product=product, kind=SimilarProduct.Kind.BOUGHT_TOGETHER, k=k)
    if slot == "account":
        return buy_it_again_for(user=shopper, k=k) if shopper is not None else []
    exclude = _cart_product_ids(cart) if slot == "cart" else []
    return recommendations_for(user=shopper, session_key=session_key, k=k, exclude_product_ids=exclude, session=session)


@register.inclusion_tag("recommendations/_widget.html", takes_context=True)
def recommendation_widget(
    context: template.Context, slot: str, k: int = 6, product: Any = None, cart: Any = None, title: str = ""
) -> dict[str, Any]:
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    items = _items_for(slot, request, user, int(k), product, cart)
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
    if cards and request is not None:
        recommendation_impressions_record(  # stores nothing without consent
            tracking=tracking_for(request),
            slot=slot,
            items=[(c["product"].pk, c["rec"].model_version) for c in cards],
        )
    return {"slot": slot, "title": title or TITLES.get(slot, "Recommended"), "cards": cards}
