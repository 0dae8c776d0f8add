from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .storefront.context import storefront_nav


def storefront(request: HttpRequest) -> dict[str, Any]:
    """Shop name, consent state and the header's nav/cart data for every page that extends base.html.

    The nav values are lazy: admin and API pages that never show the storefront header run no
    queries for them; storefront views computed them already (memoized on the request).
    """
    return {
        "SHOP_NAME": settings.SHOP_NAME,
        "SHOP_CURRENCY": settings.SHOP_CURRENCY,
        "tracking_allowed": getattr(request, "tracking_allowed", False),
        "nav_categories": SimpleLazyObject(lambda: storefront_nav(request)["nav_categories"]),
        "cart_count": SimpleLazyObject(lambda: storefront_nav(request)["cart_count"]),
        "consent_state": SimpleLazyObject(lambda: storefront_nav(request)["consent_state"]),
    }
