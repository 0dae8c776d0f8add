"""The personal parts of a storefront page, rendered alone: what fills the holes of a shared page.

A signed-in page is the same for every shopper but for these parts (ecommerce/storefront/pagecache.py):
- `user_nav`: the header's account links, the cart count and the logout form (its CSRF token);
- `cart_lines`: the cart page's lines and total, cached per shopper and cart (the cart summary's
  token, ecommerce/selectors/cart.py) and catalogue generation, so a cart change or a price change
  shows at once;
- `recs`: a personal recommendation widget (home, cart), from the widget's own per-shopper cache.

Each renders one small template without the request's context processors, with the CSRF token
given to it, so the same function serves a normal render (the template tag) and a cache hit.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.template.loader import get_template
from django.utils import translation

from ..cache_batch import MISSING, batched_value
from ..cache_copies import track_prefix
from ..models import CartItem, User
from ..selectors.cart import CartSummary

CART_LINES_SECONDS = 3600  # a cart change gives the summary a new token sooner


class _NavUser:
    """What the header shows of a user: enough to render the nav without the model instance."""

    def __init__(self, username: str, is_authenticated: bool, is_staff: bool) -> None:
        self.username, self.is_authenticated, self.is_staff = username, is_authenticated, is_staff

    def get_username(self) -> str:
        return self.username


@functools.lru_cache(maxsize=2048)
def _user_nav(username: str, is_authenticated: bool, is_staff: bool, cart_count: int, language: str) -> str:
    # The arguments are everything the fragment shows (language: its words), so a rendered nav
    # is reused for as long as the process lives; only the CSRF token differs per answer.
    return get_template("storefront/_user_nav.html").render(
        {
            "user": _NavUser(username, is_authenticated, is_staff),
            "cart_count": cart_count,
            "csrf_token": _TOKEN_SLOT,
        }
    )


_TOKEN_SLOT = "CSRFTOKENSLOT" + "y" * 51  # replaced by the answer's own token


def user_nav_html(*, user: Any, cart_count: int, csrf_token: Any) -> str:
    """The header's account links for `user` (or a visitor) with `csrf_token` in the logout form."""
    authenticated = bool(getattr(user, "is_authenticated", False))
    html = _user_nav(
        user.get_username() if authenticated else "",
        authenticated,
        bool(authenticated and user.is_staff),
        int(cart_count or 0),
        translation.get_language() or "",
    )
    # Anchored on the attribute, so a username that looks like the slot stays as it is.
    return html.replace(f'value="{_TOKEN_SLOT}"', f'value="{csrf_token or ""}"') if authenticated else html


def cart_lines_html(*, items: list[CartItem], total: Any, csrf_token: Any) -> str:
    return get_template("storefront/_cart_lines.html").render(
        {"items": items, "total": total, "csrf_token": csrf_token, "SHOP_CURRENCY": settings.SHOP_CURRENCY}
    )


CART_LINES_KEY_PREFIX = "sf:cartlines:"
track_prefix(CART_LINES_KEY_PREFIX)  # read on every signed-in page: copies per process (ecommerce/cache_copies.py)


def cart_lines_key(user_id: int, language: str) -> str:
    return f"{CART_LINES_KEY_PREFIX}{user_id}:{language}"


def cart_lines_cached(
    *, user: User, summary: CartSummary, generations: tuple[int, int], language: str, csrf_token: str
) -> str:
    """The shopper's cart lines, from the cache while neither the cart nor the catalogue changed.

    The cached HTML carries `csrf_token` (the page cache's placeholder) and is stored with the cart
    summary's token and the generations it was built under; a summary without a token (just
    forgotten, or no shared cache) is never stored against.
    """
    key = cart_lines_key(user.pk, language)
    cached = None
    if summary.token:
        cached = batched_value(key)  # fetched with the page's other reads?
        if cached is MISSING:
            cached = cache.get(key)
    if cached is not None and cached[0] == summary.token and cached[1] == generations:
        return cached[2]
    items = list(CartItem.objects.filter(cart__user=user).select_related("product__category").order_by("pk"))
    total = sum((item.line_total for item in items), Decimal("0")) if items else 0
    html = cart_lines_html(items=items, total=total, csrf_token=csrf_token)
    if summary.token:
        cache.set(key, (summary.token, generations, html), CART_LINES_SECONDS)
    return html
