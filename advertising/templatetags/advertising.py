"""{% ad_slot slot %}: the placeholder of a sponsored-ads slot on listing, search and product pages.

The page itself runs no auction and writes nothing: the tag renders an empty slot carrying the
page's context (slot, product, category, search words, cart) in data attributes, and
static/js/ads.js asks GET /api/ads/serve/ for the ads after the page has loaded. So the page is
the same for every visitor (cacheable), and a visitor without JavaScript, a crawler, is never
shown an ad nor billed to an advertiser.
"""

from __future__ import annotations

from typing import Any

from django import template

from .. import services

register = template.Library()


@register.inclusion_tag("advertising/_slot_ads.html", takes_context=True)
def ad_slot(context: template.Context, slot: str) -> dict[str, Any]:
    """Context for the placeholder; nothing when the slot is unknown."""
    if slot not in services.SLOTS:
        return {"slot": ""}
    product = context.get("product")
    category = context.get("category")
    category_id = getattr(category, "pk", None) or getattr(product, "category_id", None)
    cart_ids = context.get("cart_product_ids") or ()
    return {
        "slot": slot,
        "product_id": getattr(product, "pk", None) or "",
        "category_id": category_id or "",
        "query": str(context.get("query") or "")[:255],
        "cart": ",".join(str(int(pk)) for pk in list(cart_ids)[:50]),
    }
