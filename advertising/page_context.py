"""Reads for the page context of an ad request: what the relevance score (advertising.relevance)
compares each sponsored product with.

Everything heavy is read once per process and model generation, never per request:
- the recommender's precomputed "similar" / "bought together" lists (recommendations.SimilarProduct),
  one small indexed query the first time a product page is seen, then kept until the recommender's
  generation counter (bumped by every retrain) moves;
- the catalogue's title-word document frequencies (IDF), rebuilt when that generation moves or
  after an hour.
The cart is read (one query) only when the page itself says nothing (no product, category or
search), and only with tracking consent.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ecommerce.models import CartItem, Product
from ecommerce.privacy import Tracking

from . import relevance

logger = logging.getLogger(__name__)

_IDF_MAX_AGE_SECONDS = 3600.0
# Lists are also dropped after this long: a flushed shared cache restarts the generation counter.
_LISTS_MAX_AGE_SECONDS = 600.0
_LISTS_MAX = 20_000  # products whose lists we keep per generation

# generation -> {product id: (similar ids, bought-together ids)}
_lists: dict[str, Any] = {"generation": None, "at": -1e9, "by_product": {}}
_idf: dict[str, Any] = {"generation": None, "at": -1e9, "idf": None}
# (ad id, product title, category id) -> AdProduct
_ad_products: dict[tuple[int, str, int | None], relevance.AdProduct] = {}


def _generation() -> int | None:
    try:
        from recommendations.selectors import recommendations_generation
    except ImportError:
        return None
    try:
        return recommendations_generation()
    except Exception:  # the cache being down must not take the ad slot with it
        logger.exception("advertising.recs_generation_failed")
        return None


def caches_clear() -> None:
    """Forget every per-process list, IDF and ad title (tests; after a bulk catalogue change)."""
    _lists.update(generation=None, at=-1e9, by_product={})
    _idf.update(generation=None, at=-1e9, idf=None)
    _ad_products.clear()


def neighbour_lists(product_id: int, generation: int | None = None) -> tuple[frozenset[int], frozenset[int]]:
    """The page product's precomputed similar and bought-together product ids."""
    generation = _generation() if generation is None else generation
    now = time.monotonic()
    if (
        _lists["generation"] != generation
        or len(_lists["by_product"]) >= _LISTS_MAX
        or now - _lists["at"] > _LISTS_MAX_AGE_SECONDS
    ):
        _lists.update(generation=generation, at=now, by_product={})
    cached = _lists["by_product"].get(product_id)
    if cached is not None:
        return cached
    try:
        from recommendations.models import SimilarProduct
    except ImportError:
        return frozenset(), frozenset()
    similar: set[int] = set()
    together: set[int] = set()
    for other, kind in SimilarProduct.objects.filter(product_id=product_id).values_list("similar_id", "kind"):
        (together if kind == SimilarProduct.Kind.BOUGHT_TOGETHER else similar).add(other)
    found = (frozenset(similar), frozenset(together))
    _lists["by_product"][product_id] = found
    return found


def catalogue_idf(generation: int | None = None) -> relevance.Idf:
    generation = _generation() if generation is None else generation
    now = time.monotonic()
    if _idf["idf"] is None or _idf["generation"] != generation or now - _idf["at"] > _IDF_MAX_AGE_SECONDS:
        titles = Product.objects.filter(is_active=True).values_list("title", flat=True)
        _idf.update(generation=generation, at=now, idf=relevance.Idf(titles))
    return _idf["idf"]


def cart_category_ids(tracking: Tracking) -> frozenset[int]:
    if not tracking.allowed or not (tracking.user or tracking.session_key):
        return frozenset()
    items = CartItem.objects.filter(product__category__isnull=False)
    if tracking.user is not None:
        items = items.filter(cart__user=tracking.user)
    else:
        items = items.filter(cart__session_key=tracking.session_key)
    return frozenset(items.values_list("product__category_id", flat=True)[:50])


def page_signals(
    *, product_id: int | None, category_id: int | None, query: str, tracking: Tracking
) -> tuple[relevance.PageSignals, relevance.Idf | None]:
    """The request's context, and the IDF to weigh search words with (None without a search)."""
    generation = _generation()
    query_tokens = relevance.tokens(query)
    similar: frozenset[int] = frozenset()
    together: frozenset[int] = frozenset()
    if product_id:
        similar, together = neighbour_lists(product_id, generation)
    cart: frozenset[int] = frozenset()
    if not (product_id or category_id or query_tokens):
        cart = cart_category_ids(tracking)
    signals = relevance.PageSignals(
        product_id=product_id or None,
        category_id=category_id,
        query_tokens=query_tokens,
        similar_ids=similar,
        together_ids=together,
        cart_category_ids=cart,
    )
    return signals, (catalogue_idf(generation) if query_tokens else None)


def ad_product_of(ad) -> relevance.AdProduct:
    """The ad's product as the relevance score sees it (title words kept per ad and title)."""
    product = ad.product if ad.product_id else None
    if product is None:
        return relevance.AdProduct(product_id=None, category_id=None)
    key = (ad.pk, product.title, product.category_id)
    found = _ad_products.get(key)
    if found is None:
        if len(_ad_products) > 20_000:
            _ad_products.clear()
        found = relevance.AdProduct(
            product_id=product.pk, category_id=product.category_id, title_tokens=relevance.tokens(product.title)
        )
        _ad_products[key] = found
    return found
