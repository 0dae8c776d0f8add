"""What every storefront page's header needs: top categories, the cart count, the consent state.

`storefront_nav` has the shape of a context processor, so it can also be listed in
TEMPLATES["OPTIONS"]["context_processors"] and then reach pages of the other apps that extend
base.html. Storefront views add it themselves; the result is memoized on the request, so doing
both costs nothing twice.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Sum
from django.http import HttpRequest

from ..models import CartItem, Category
from ..privacy import CONSENT_COOKIE
from ..selectors.cart import cart_summary_for
from ..selectors.catalog import catalogue_generation

NAV_CATEGORY_LIMIT = 12
_MEMO_ATTR = "_storefront_nav"


def cart_count_for(request: HttpRequest) -> int:
    """Items in the shopper's cart, without creating a cart or a session just to say 0."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return cart_summary_for(user=user).count  # cached, dropped by every cart write
    session = getattr(request, "session", None)
    session_key = session.session_key if session is not None else None
    if not session_key:
        return 0
    lines = CartItem.objects.filter(cart__session_key=session_key)
    return lines.aggregate(total=Sum("quantity"))["total"] or 0


def consent_state(request: HttpRequest) -> str:
    """'yes' / 'no' once chosen, 'dnt' when the browser says Do-Not-Track or GPC, '' otherwise."""
    if request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1":
        return "dnt"
    choice = request.COOKIES.get(CONSENT_COOKIE, "")
    return choice if choice in ("yes", "no") else ""


NAV_CACHE_SECONDS = 3600  # a catalogue change bumps the generation in the key sooner


def nav_categories() -> list[Category]:
    """The header's top categories: the same on every page for everyone, cached per catalogue generation."""
    key = f"sf:nav:{catalogue_generation()}"
    categories = cache.get(key)
    if categories is None:
        categories = list(Category.objects.filter(parent__isnull=True).order_by("name")[:NAV_CATEGORY_LIMIT])
        cache.set(key, categories, NAV_CACHE_SECONDS)
    return categories


def storefront_nav(request: HttpRequest) -> dict[str, Any]:
    memo = getattr(request, _MEMO_ATTR, None)
    if memo is None:
        memo = {
            "nav_categories": nav_categories(),
            "cart_count": cart_count_for(request),
            "consent_state": consent_state(request),
        }
        setattr(request, _MEMO_ATTR, memo)
    return memo
