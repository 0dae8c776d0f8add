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

Widget HTML is cached (see _widget_key): the product-page widgets once per product for everyone,
the personal ones per customer / recent views / cart for as long as the API reuses an answer; the
recommendations and catalogue generations in every key (bumped on retrain, rule change, order and
catalogue change) make a retrain or a price change show at once.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from ecommerce.cache_batch import MISSING, batched_value
from ecommerce.cache_copies import track_prefix
from ecommerce.selectors.catalog import catalogue_generation
from ecommerce.storefront.pagecache import hole_marker, shell_render_active

from ..models import SimilarProduct
from ..selectors import (
    SESSION_VIEWS_KEY,
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


def _cart_ids(cart: Any, cart_product_ids: Any) -> list[int]:
    return list(cart_product_ids) if cart_product_ids is not None else _cart_product_ids(cart)


def _items_for(
    slot: str, request: Any, user: Any, k: int, product: Any, cart: Any, cart_product_ids: Any = None
) -> list[Recommendation]:
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None) or ""
    shopper = user if user is not None and getattr(user, "is_authenticated", False) else None
    if slot == "product_similar" and product is not None:
        return similar_products_for(product=product, kind=SimilarProduct.Kind.SIMILAR, k=k)
    if slot == "product_together" and product is not None:
        return similar_products_for(product=product, kind=SimilarProduct.Kind.BOUGHT_TOGETHER, k=k)
    if slot == "account":
        return buy_it_again_for(user=shopper, k=k) if shopper is not None else []
    exclude = _cart_ids(cart, cart_product_ids) if slot == "cart" else []
    viewed = session_viewed_product_ids(
        user=shopper, session_key=session_key, session=session, recent=recent_views_from(request)
    )
    return recommendations_for(
        user=shopper, session_key=session_key, k=k, exclude_product_ids=exclude, session=session, viewed=viewed
    )


def _widget_key(
    slot: str,
    k: int,
    request: Any,
    user: Any,
    product: Any,
    cart: Any,
    generations: tuple[int, int] | None = None,
    cart_product_ids: Any = None,
) -> tuple[str, int]:
    """(cache key, seconds) of a widget's HTML.

    Product-page widgets are the same for every shopper: one entry per product. The others are
    keyed by what they depend on (the customer, the consented recent views, the cart's products),
    reused as long as an identical API answer is (RECOMMENDATIONS_RESPONSE_CACHE_SECONDS); every
    key carries the recommendations and catalogue generations, so retrains, rule changes, orders
    and catalogue edits show at once.
    """
    catalogue, recs = generations if generations is not None else (catalogue_generation(), recommendations_generation())
    generations = f"{recs}:{catalogue}"
    if slot.startswith("product_"):
        product_id = getattr(product, "pk", None)
        return f"recs:widget:{generations}:{slot}:{product_id}:{k}", settings.RECOMMENDATIONS_WIDGET_CACHE_SECONDS
    shopper = user if user is not None and getattr(user, "is_authenticated", False) else None
    session = getattr(request, "session", None)
    views = recent_views_from(request)
    if shopper is None and session is not None and session.session_key:
        views += [p for p in session.get(SESSION_VIEWS_KEY, []) or [] if isinstance(p, int)]
    cart_ids = _cart_ids(cart, cart_product_ids) if slot == "cart" else ()
    return _personal_key(slot, k, generations, shopper.pk if shopper is not None else None, views, cart_ids)


WIDGET_KEY_PREFIX = "recs:widget:"
track_prefix(WIDGET_KEY_PREFIX)  # read on every signed-in page: copies per process (ecommerce/cache_copies.py)


def _personal_key(
    slot: str, k: int, generations: str, user_id: Any, views: list[int], cart_ids: Any
) -> tuple[str, int]:
    parts = [
        f"u{user_id}" if user_id is not None else "anon",
        ".".join(map(str, views)),
        ".".join(map(str, sorted(cart_ids))) if slot == "cart" else "",
    ]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]
    return f"{WIDGET_KEY_PREFIX}{generations}:{slot}:{k}:{digest}", settings.RECOMMENDATIONS_RESPONSE_CACHE_SECONDS


def signed_in_widget_key(slot: str, k: int, request: Any, user_id: int, generations: tuple[int, int]) -> str:
    """The cache key of a signed-in shopper's home-style widget (not the cart's: that one also
    depends on the cart), for a page cache that fetches it with its other reads in one round trip."""
    catalogue, recs = generations
    return _personal_key(slot, k, f"{recs}:{catalogue}", user_id, recent_views_from(request), ())[0]


@register.simple_tag(takes_context=True)
def recommendation_widget(
    context: template.Context, slot: str, k: int = 6, product: Any = None, cart: Any = None, title: str = ""
) -> SafeString:
    k = int(k)
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    if slot.startswith("product_") and product is None:
        return mark_safe("")  # noqa: S308 - nothing to show
    if not slot.startswith("product_") and not title and shell_render_active(request):
        # A signed-in page rendered for the shared cache: each answer fills this with its shopper's own.
        return mark_safe(hole_marker("recs", slot, k))  # noqa: S308 - our own marker
    return personal_widget_html(slot, k, request, user, product=product, cart=cart, title=title)


def personal_widget_html(
    slot: str,
    k: int,
    request: Any,
    user: Any,
    *,
    product: Any = None,
    cart: Any = None,
    title: str = "",
    generations: tuple[int, int] | None = None,
    cart_product_ids: Any = None,
) -> SafeString:
    """A widget's HTML from its cache, else rendered; what also fills a page cache's `recs` hole
    (then with the generations and the cart's products the page cache already read)."""
    key, seconds = _widget_key(slot, k, request, user, product, cart, generations, cart_product_ids)
    html = batched_value(key)  # fetched with the page's other reads (ecommerce/cache_batch.py)?
    if html is MISSING:
        html = cache.get(key)
    if html is None:
        context = _widget_context(slot, request, user, k, product, cart, title, cart_product_ids)
        html = render_to_string("recommendations/_widget.html", context)
        cache.set(key, html, seconds)
    return mark_safe(html)  # noqa: S308 - rendered by the template engine with autoescape


def _widget_context(
    slot: str, request: Any, user: Any, k: int, product: Any, cart: Any, title: str, cart_product_ids: Any = None
) -> dict[str, Any]:
    items = _items_for(slot, request, user, k, product, cart, cart_product_ids)
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
