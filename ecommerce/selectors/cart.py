"""A signed-in shopper's cart at a glance (line products and item count), read through the shared cache.

Why: every storefront page shows the cart count in its header, so a signed-in page view paid a
SQL aggregate for it; with the page body served from the cache (ecommerce/storefront/pagecache.py)
that query was most of what was left. The summary is cached per user and dropped by every cart
write, the same way the login backend caches user rows (ecommerce/auth_backends.py):

- `cart_summary_forget(user_id)` writes a short-lived tombstone now and again when the current
  transaction commits; the cart services call it (cart_set_quantity, cart_merge_into_user, an
  order emptying the cart, an account's erasure). Code that writes cart lines elsewhere must call
  it too.
- A reader that missed stores its answer with `cache.add`, which never overwrites a tombstone, so a
  read taken just before a change cannot put the old summary back; the on-commit tombstone
  overwrites anything stored while the change was in flight.
- Only with a shared cache (settings.SHARED_CACHE): with per-process memory a cart change in one
  process could not reach the others, so every read goes to the database there.
- `token` changes whenever the summary is computed again: caches of things built from the cart
  (the cart page's lines) store the token they were built under and are stale when it differs.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from ..cache_batch import MISSING, batched_forget, batched_value
from ..cache_copies import track_prefix
from ..models import CartItem, User

logger = logging.getLogger(__name__)

KEY_PREFIX = "cart:summary:"
track_prefix(KEY_PREFIX)  # read on every signed-in page: copies per process (ecommerce/cache_copies.py)
TOMBSTONE = "forgotten"
TOMBSTONE_SECONDS = 10  # longer than a request takes from reading the lines to storing them
SUMMARY_SECONDS = 3600  # every cart write forgets it sooner


@dataclass(frozen=True)
class CartSummary:
    count: int  # items (sum of quantities)
    product_ids: tuple[int, ...]  # line products, in line order
    token: str  # new each time the summary is computed from the database ("" when not cached)


def cart_summary_key(user_id: int) -> str:
    return f"{KEY_PREFIX}{user_id}"


def _from_database(user_id: int, token: str) -> CartSummary:
    lines = list(CartItem.objects.filter(cart__user_id=user_id).order_by("pk").values_list("product_id", "quantity"))
    return CartSummary(
        count=sum(quantity for _, quantity in lines), product_ids=tuple(pid for pid, _ in lines), token=token
    )


def cart_summary_for(*, user: User) -> CartSummary:
    """The signed-in shopper's cart summary: from the cache (or the request's batch), else one query."""
    if not settings.SHARED_CACHE:
        return _from_database(user.pk, "")
    key = cart_summary_key(user.pk)
    cached = batched_value(key)
    try:
        if cached is MISSING:
            cached = cache.get(key)
    except Exception:  # the cache is down: the database answers
        logger.warning("cart.summary_cache_unavailable", exc_info=True)
        return _from_database(user.pk, "")
    if isinstance(cached, CartSummary):
        return cached
    if cached is not None:  # a tombstone: the cart just changed, read it without storing
        return _from_database(user.pk, "")
    summary = _from_database(user.pk, secrets.token_hex(8))
    try:
        if not cache.add(key, summary, SUMMARY_SECONDS):  # lost to a tombstone or another reader
            return CartSummary(summary.count, summary.product_ids, "")
    except Exception:
        logger.warning("cart.summary_cache_unavailable", exc_info=True)
        return CartSummary(summary.count, summary.product_ids, "")
    return summary


def _write_tombstone(key: str) -> None:
    try:
        cache.set(key, TOMBSTONE, TOMBSTONE_SECONDS)
    except Exception:  # the cache is down: the summary it holds expires within SUMMARY_SECONDS
        logger.exception("cart.summary_forget_failed")


def cart_summary_forget(user_id: int | None) -> None:
    """A cart line of this user changed: drop the summary now and once the transaction commits."""
    if user_id is None or not settings.SHARED_CACHE:
        return
    key = cart_summary_key(user_id)
    batched_forget(key)
    _write_tombstone(key)
    transaction.on_commit(lambda: _write_tombstone(key))
