"""{% ad_slot slot %}: sponsored ads for the storefront's listing, search and product pages."""

from __future__ import annotations

import logging
from typing import Any

from django import template

from ecommerce.privacy import tracking_with_session

from .. import conf, services

register = template.Library()
logger = logging.getLogger(__name__)


@register.inclusion_tag("advertising/_slot_ads.html", takes_context=True)
def ad_slot(context: template.Context, slot: str) -> dict[str, Any]:
    """Run the auction for this page and render at most the slot's configured number of ads.

    Never breaks the page: any failure renders an empty slot (and is logged).
    """
    request = context.get("request")
    if request is None or slot not in services.SLOTS:
        return {"ads": [], "slot": slot}
    product = context.get("product")
    category = context.get("category")
    page = services.PageContext(
        slot=slot,
        product_id=getattr(product, "pk", None),
        category_id=getattr(category, "pk", None),
        query=str(context.get("query") or "")[:255],
    )
    try:
        ads = services.ads_serve(tracking=tracking_with_session(request), page=page, n=conf.slot_sizes().get(slot, 1))
    except Exception:
        logger.exception("advertising.slot_failed", extra={"slot": slot})
        ads = []
    return {"ads": ads, "slot": slot}
