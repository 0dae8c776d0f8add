"""Reads of recommendations: what the storefront, the API and the other apps call.

Serving never trains. It reads precomputed rows (UserRecommendation, SimilarProduct) written
by the Celery pipeline and falls back, in order, so a widget is never empty:
precomputed for the user -> the session's viewed products' neighbours -> popular in the
categories the shopper looked at -> trending -> any sellable product.
Business rules (excluded categories, out of stock, max per category, pins, boosts) are applied
here, at serving time, so a rule change in the admin shows at once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet

from ecommerce.cache_copies import track_prefix
from ecommerce.errors import NotFound
from ecommerce.models import Event, ModelVersion, Order, OrderItem, Product, User
from ecommerce.resilience import CacheUnavailable
from ecommerce.roles import VIEW_CUSTOMER_RECOMMENDATIONS, perm_require

from .conf import ACTIVE_MODEL_NAME
from .models import BusinessRules, SimilarProduct, UserRecommendation

logger = logging.getLogger(__name__)

MAX_K = 100

# Sources, in fallback order; the API and the admin show them as the reason's kind.
SOURCE_MODEL = "model"
SOURCE_SESSION = "session"
SOURCE_CATEGORY = "category_popularity"
SOURCE_TRENDING = "trending"
SOURCE_CATALOG = "catalog"
SOURCE_BUY_AGAIN = "buy_again"


@dataclass(frozen=True)
class Recommendation:
    """One recommended product with the why, for the API, the widgets and the admin preview."""

    product: Product
    score: float
    reason: str
    source: str
    model_version: int | None = None


# ---------------------------------------------------------------------------------------------
# Building blocks

GENERATION_KEY = "recs:generation"
track_prefix(GENERATION_KEY)  # read by every serving request: copies per process (ecommerce/cache_copies.py)


def recommendations_generation() -> int:
    """A counter bumped by every retrain and rule change: part of every serving cache key."""
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, None)
        value = cache.get(GENERATION_KEY) or 1
    return int(value)


def recommendations_generation_bump() -> None:
    """Invalidate cached recommendation answers (all processes with a shared cache; others expire).

    Other processes' own copies of shared answers go within a second (recommendations/api.py
    `_LocalAnswers`); this process's at once."""
    from .api import local_answers  # the API module imports this one

    local_answers.forget()
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, None)
    except CacheUnavailable:
        # The key's write is remembered and dropped when Redis answers (ecommerce/cache_backend.py);
        # until then nothing is cached, so nothing stale is served.
        logger.warning("recommendations.generation_bump_lost")


def business_rules_get() -> BusinessRules | None:
    """The newest active rules row, or None (then only sellable/in-stock filtering applies)."""
    return (
        BusinessRules.objects.filter(is_active=True)
        .select_related("challenger_version")
        .prefetch_related("exclude_categories", "pinned_products", "boosted_products")
        .order_by("-updated_at", "-pk")
        .first()
    )


def servable_products(rules: BusinessRules | None) -> QuerySet[Product]:
    """Products a widget may show: sellable, in stock (unless the rules allow otherwise)."""
    qs = Product.objects.sellable()
    if rules is None or rules.exclude_out_of_stock:
        qs = qs.filter(stock__gt=0)
    if rules is not None:
        excluded = [c.pk for c in rules.exclude_categories.all()]
        if excluded:
            qs = qs.exclude(category_id__in=excluded)
    return qs


def purchased_product_ids(*, user: User) -> set[int]:
    """Products the customer bought in a non-cancelled order (excluded except for buy-it-again)."""
    if user is None or not user.is_authenticated:
        return set()
    return set(
        OrderItem.objects.filter(order__user=user, quantity__gt=0)
        .exclude(order__status=Order.Status.CANCELLED)
        .values_list("product_id", flat=True)
        .distinct()
    )


def popular_product_ids(*, category_ids: Sequence[int] = (), limit: int = 200) -> list[int]:
    """Best sellers (distinct buyers) in the recent window; all-time if the window is empty.

    Cached: the request path must not aggregate the order table on every page view.
    """
    cats = sorted(set(category_ids))
    key = (
        "recs:popular:"
        + hashlib.md5(",".join(map(str, cats)).encode(), usedforsecurity=False).hexdigest()
        + f":{limit}"
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    base = OrderItem.objects.filter(
        quantity__gt=0, unit_price__gt=0, product__is_active=True, product__is_non_product=False
    ).exclude(order__status=Order.Status.CANCELLED)
    if cats:
        base = base.filter(product__category_id__in=cats)
    ids: list[int] = []
    for window in (settings.RECOMMENDATIONS_POPULARITY_WINDOW_DAYS, None):
        qs = base
        if window is not None:
            newest = base.order_by("-order__placed_at").values_list("order__placed_at", flat=True).first()
            if newest is None:
                break
            qs = base.filter(order__placed_at__gte=newest - timedelta(days=window))
        ids = list(
            qs.values("product_id")
            .annotate(buyers=Count("order__user", distinct=True), lines=Count("pk"))
            .order_by("-buyers", "-lines", "product_id")
            .values_list("product_id", flat=True)[:limit]
        )
        if len(ids) >= min(limit, 20):
            break
    cache.set(key, ids, settings.RECOMMENDATIONS_POPULARITY_CACHE_SECONDS)
    return ids


SESSION_VIEWS_KEY = "recommendations_recent_views"
# The tracker (static/js/tracker.js) keeps the consenting shopper's last viewed product ids here,
# newest first, dot-separated: rendering a product page writes nothing (no session, no row), and
# the very next page's "Recommended for you" follows the view. Withdrawing consent deletes it.
RECENT_VIEWS_COOKIE = "recent_views"  # ecommerce.storefront.pagecache keeps such visitors uncached


def recent_views_from(request: Any) -> list[int]:
    """The product ids of the recent_views cookie (newest first), only with tracking consent."""
    from ecommerce.privacy import tracking_for

    raw = getattr(request, "COOKIES", {}).get(RECENT_VIEWS_COOKIE, "") if request is not None else ""
    if not raw or not tracking_for(request).allowed:
        return []
    ids: list[int] = []
    for part in raw.split(".")[: settings.RECOMMENDATIONS_SESSION_HISTORY_LIMIT]:
        if part.isdigit() and len(part) <= 12 and int(part) not in ids:
            ids.append(int(part))
    return ids


def session_viewed_product_ids(
    *, user: User | None, session_key: str = "", session=None, recent: Iterable[int] = ()
) -> list[int]:
    """The products this shopper looked at most recently (newest first, unique).

    From the browser's recent_views cookie (`recent`, see recent_views_from), the session's own
    list (older sessions kept one) and, for logged-in customers, their logged views and carts (the
    event log is indexed by user; it is not indexed by session key).
    """
    seen: list[int] = []
    for pid in recent:
        if pid not in seen:
            seen.append(pid)
    if session is not None:
        for pid in session.get(SESSION_VIEWS_KEY, []) or []:
            if isinstance(pid, int) and pid not in seen:
                seen.append(pid)
    if user is not None and user.is_authenticated and len(seen) < settings.RECOMMENDATIONS_SESSION_HISTORY_LIMIT:
        rows = (
            Event.objects.filter(user=user, product__isnull=False)
            .filter(type__in=[Event.Type.PRODUCT_VIEW, Event.Type.ADD_TO_CART, Event.Type.RECOMMENDATION_CLICK])
            .order_by("-occurred_at")
            .values_list("product_id", flat=True)[: settings.RECOMMENDATIONS_SESSION_HISTORY_LIMIT * 5]
        )
        for pid in rows:
            if pid not in seen:
                seen.append(pid)
            if len(seen) >= settings.RECOMMENDATIONS_SESSION_HISTORY_LIMIT:
                break
    return seen[: settings.RECOMMENDATIONS_SESSION_HISTORY_LIMIT]


def session_view_remember(*, session, product_id: int) -> None:
    """Put a viewed product at the front of the session's list (bounded). Callers check consent."""
    current = [p for p in (session.get(SESSION_VIEWS_KEY, []) or []) if isinstance(p, int) and p != product_id]
    session[SESSION_VIEWS_KEY] = [product_id, *current][: settings.RECOMMENDATIONS_SESSION_HISTORY_LIMIT]


def ab_bucket(*, user: User | None, session_key: str = "") -> int:
    """0 or 1, stable per shopper: a hash of the user id (or the session key when anonymous)."""
    identity = f"u{user.pk}" if user is not None and user.is_authenticated else f"s{session_key}"
    return int(hashlib.sha256(identity.encode()).hexdigest(), 16) % 2


def ab_bucket_version(
    *, user: User | None, session_key: str = "", rules: BusinessRules | None = None
) -> ModelVersion | None:
    """The model version whose precomputed rows this shopper sees.

    With a challenger set in the business rules (an A/B test), bucket 1 sees the challenger and
    bucket 0 the active version; the split is deterministic so a shopper always sees one variant.
    """
    active = ModelVersion.objects.filter(name=ACTIVE_MODEL_NAME, status=ModelVersion.Status.ACTIVE).first()
    challenger = rules.challenger_version if rules is not None else None
    if challenger is None or active is None or challenger.pk == active.pk:
        return active
    return challenger if ab_bucket(user=user, session_key=session_key) == 1 else active


# ---------------------------------------------------------------------------------------------
# Re-ranking with the merchant's rules


def _apply_rules(
    candidates: list[Recommendation], *, rules: BusinessRules | None, k: int, pinned: list[Product]
) -> list[Recommendation]:
    boosted: set[int] = set()
    factor = 1.0
    max_per_category = 0
    if rules is not None:
        boosted = {p.pk for p in rules.boosted_products.all()}
        factor = rules.boost_factor
        max_per_category = rules.max_per_category
    if boosted:
        candidates = sorted(
            candidates,
            key=lambda r: -(r.score * factor if r.product.pk in boosted else r.score),
        )
    out: list[Recommendation] = [
        Recommendation(product=p, score=1.0, reason="Featured by the shop", source="pinned") for p in pinned
    ]
    seen = {r.product.pk for r in out}
    per_category: dict[int | None, int] = {}
    for rec in candidates:
        if len(out) >= k:
            break
        if rec.product.pk in seen:
            continue
        cat = rec.product.category_id
        if max_per_category and per_category.get(cat, 0) >= max_per_category:
            continue
        per_category[cat] = per_category.get(cat, 0) + 1
        seen.add(rec.product.pk)
        out.append(rec)
    return out[:k]


class _Collector:
    """Accumulates candidates from successive fallback sources, filtering as it goes."""

    def __init__(self, *, allowed: QuerySet[Product], excluded: set[int], want: int) -> None:
        self.allowed = allowed
        self.excluded = set(excluded)
        self.want = want
        self.items: list[Recommendation] = []

    @property
    def full(self) -> bool:
        return len(self.items) >= self.want

    def add(self, ranked: Iterable[tuple[int, float, str, str, int | None]]) -> None:
        ranked = [r for r in ranked if r[0] not in self.excluded]
        if not ranked or self.full:
            return
        products = self.allowed.select_related("category").in_bulk([r[0] for r in ranked])
        for pid, score, reason, source, version in ranked:
            product = products.get(pid)
            if product is None or pid in self.excluded:
                continue
            self.excluded.add(pid)
            self.items.append(Recommendation(product, float(score), reason, source, version))
            if self.full:
                return


def _similar_rows(source_ids: Sequence[int], *, kind: str, limit: int) -> list[SimilarProduct]:
    return list(
        SimilarProduct.objects.filter(product_id__in=list(source_ids), kind=kind)
        .select_related("product", "model_version")
        .order_by("rank")[: limit * max(1, len(source_ids))]
    )


def _session_candidates(viewed: list[int], *, limit: int) -> list[tuple[int, float, str, str, int | None]]:
    """Neighbours of the recently viewed products, newer views weighing more."""
    if not viewed:
        return []
    weights = {pid: 1.0 / (1 + i) for i, pid in enumerate(viewed)}
    scores: dict[int, float] = {}
    because: dict[int, str] = {}
    versions: dict[int, int | None] = {}
    for row in _similar_rows(viewed, kind=SimilarProduct.Kind.SIMILAR, limit=limit) + _similar_rows(
        viewed, kind=SimilarProduct.Kind.BOUGHT_TOGETHER, limit=limit
    ):
        gain = weights.get(row.product_id, 0.0) * row.score
        if gain > scores.get(row.similar_id, 0.0) - 1e-12 and row.similar_id not in because:
            because[row.similar_id] = row.product.title
        scores[row.similar_id] = scores.get(row.similar_id, 0.0) + gain
        versions[row.similar_id] = row.model_version.version if row.model_version else None
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        (pid, s, f"Because you viewed {because.get(pid, 'a similar product')}", SOURCE_SESSION, versions.get(pid))
        for pid, s in ranked
    ]


def _popular_candidates(category_ids: Sequence[int], source: str) -> list[tuple[int, float, str, str, int | None]]:
    ids = popular_product_ids(category_ids=category_ids)
    reason = "Popular in categories you browsed" if category_ids else "Trending in the shop"
    n = max(1, len(ids))
    return [(pid, 1.0 - i / n, reason, source, None) for i, pid in enumerate(ids)]


# ---------------------------------------------------------------------------------------------
# Public API


def customer_get_for_recommendations(*, actor: User | None, customer_id: int) -> User:
    """The customer whose list `actor` may read: themself, or anyone with
    recommendations.view_customer_recommendations (a list reveals what someone bought)."""
    own = actor is not None and actor.is_authenticated and actor.pk == customer_id
    if not own:
        perm_require(actor, VIEW_CUSTOMER_RECOMMENDATIONS, "You may only see your own recommendations.")
    customer = User.objects.filter(pk=customer_id, is_active=True).first()
    if customer is None:
        raise NotFound(f"User {customer_id} does not exist.")
    return customer


def recommendations_for(
    *,
    user: User | None,
    session_key: str = "",
    k: int = 10,
    exclude_product_ids: Iterable[int] = (),
    session=None,
    viewed: list[int] | None = None,
) -> list[Recommendation]:
    """Personal recommendations with reasons; never empty while anything is sellable.

    `session` (the request's session) or `viewed` (product ids, newest first) feed the
    session-based fallback.
    """
    k = max(1, min(int(k), MAX_K))
    rules = business_rules_get()
    allowed = servable_products(rules)
    excluded = set(exclude_product_ids) | purchased_product_ids(user=user)
    pinned = [p for p in (rules.pinned_products.all() if rules else []) if p.pk not in excluded]
    pinned = list(allowed.filter(pk__in=[p.pk for p in pinned]).order_by("pk"))
    # Fetch more than k so the per-category cap still leaves k items.
    want = k * 3 if rules is not None and rules.max_per_category else k
    collector = _Collector(allowed=allowed, excluded=excluded | {p.pk for p in pinned}, want=want)

    if user is not None and user.is_authenticated:
        version = ab_bucket_version(user=user, session_key=session_key, rules=rules)
        rows = UserRecommendation.objects.filter(user=user)
        rows = rows.filter(model_version=version) if version is not None else rows
        collector.add(
            (r.product_id, r.score, r.reason or "Picked for you", SOURCE_MODEL, version.version if version else None)
            for r in rows.order_by("rank")[: want * 2]
        )
    if not collector.full:
        if viewed is None:
            viewed = session_viewed_product_ids(user=user, session_key=session_key, session=session)
        collector.add(_session_candidates(viewed, limit=want))
    if not collector.full and viewed:
        category_ids = list(
            Product.objects.filter(pk__in=viewed, category__isnull=False).values_list("category_id", flat=True)
        )
        if category_ids:
            collector.add(_popular_candidates(category_ids, SOURCE_CATEGORY))
    if not collector.full:
        collector.add(_popular_candidates((), SOURCE_TRENDING))
    if not collector.full:
        newest = allowed.exclude(pk__in=collector.excluded).order_by("-created_at", "-pk").values_list("pk", flat=True)
        collector.add((pid, 0.0, "New in the shop", SOURCE_CATALOG, None) for pid in newest[: want * 2])
    if not collector.items and not pinned:
        # Everything sellable was already bought: showing a best seller beats an empty widget.
        relaxed = _Collector(allowed=allowed, excluded=set(exclude_product_ids), want=want)
        relaxed.add(_popular_candidates((), SOURCE_TRENDING))
        relaxed.add(
            (pid, 0.0, "New in the shop", SOURCE_CATALOG, None)
            for pid in allowed.order_by("-created_at", "-pk").values_list("pk", flat=True)[: want * 2]
        )
        collector.items.extend(relaxed.items)
    return _apply_rules(collector.items, rules=rules, k=k, pinned=pinned)


def products_recommended_for(
    *,
    user: User | None,
    session_key: str = "",
    k: int = 10,
    exclude_product_ids: Iterable[int] = (),
) -> list[Product]:
    """Cross-app interface: the products to recommend to this shopper (never empty if any is sellable).

    With a `session_key`, the views remembered in that session count too.
    """
    session = None
    if session_key:
        from importlib import import_module

        from django.conf import settings

        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    return [
        r.product
        for r in recommendations_for(
            user=user, session_key=session_key, k=k, exclude_product_ids=exclude_product_ids, session=session
        )
    ]


def similar_products_for(
    *, product: Product, kind: str = SimilarProduct.Kind.SIMILAR, k: int = 10
) -> list[Recommendation]:
    """Item-to-item neighbours of `product` (precomputed), topped up with same-category best sellers."""
    k = max(1, min(int(k), MAX_K))
    rules = business_rules_get()
    allowed = servable_products(rules)
    want = k * 3 if rules is not None and rules.max_per_category else k
    collector = _Collector(allowed=allowed, excluded={product.pk}, want=want)
    reason = "Similar to " if kind == SimilarProduct.Kind.SIMILAR else "Often bought with "
    collector.add(
        (
            r.similar_id,
            r.score,
            reason + product.title,
            SOURCE_MODEL,
            r.model_version.version if r.model_version else None,
        )
        for r in SimilarProduct.objects.filter(product=product, kind=kind)
        .select_related("model_version")
        .order_by("rank")[: want * 2]
    )
    if not collector.full and product.category_id:
        collector.add(_popular_candidates([product.category_id], SOURCE_CATEGORY))
    if not collector.full:
        collector.add(_popular_candidates((), SOURCE_TRENDING))
    return _apply_rules(collector.items, rules=rules, k=k, pinned=[])


def buy_it_again_for(*, user: User, k: int = 10) -> list[Recommendation]:
    """Products the customer bought before: most often first, then most recently (the repeat
    protocol's figures show both matter for wholesale re-orders)."""
    k = max(1, min(int(k), MAX_K))
    if user is None or not user.is_authenticated:
        return []
    rules = business_rules_get()
    allowed = servable_products(rules)
    rows = (
        OrderItem.objects.filter(order__user=user, quantity__gt=0, unit_price__gt=0)
        .exclude(order__status=Order.Status.CANCELLED)
        .values("product_id")
        .annotate(times=Count("order", distinct=True), last=Max("order__placed_at"))
        .order_by("-times", "-last", "product_id")[: k * 5]
    )
    collector = _Collector(allowed=allowed, excluded=set(), want=k)
    collector.add(
        (
            r["product_id"],
            float(r["times"]),
            f"You bought this {r['times']} time{'s' if r['times'] != 1 else ''}",
            SOURCE_BUY_AGAIN,
            None,
        )
        for r in rows
    )
    return collector.items[:k]


# ---------------------------------------------------------------------------------------------
# Training data


def purchase_history_frame():  # -> pandas.DataFrame (pandas imported lazily: not on the request path)
    """Purchases as the evaluation protocol defines them, from the order tables.

    Order lines with quantity > 0 and price > 0, of non-cancelled orders of known customers,
    of real products (fee and adjustment lines excluded). Columns: user, item, ts, basket,
    quantity (user/item are database ids as strings, basket the order id).
    """
    import pandas as pd
    from django.db import connection

    queryset = (
        OrderItem.objects.filter(
            quantity__gt=0,
            unit_price__gt=0,
            order__user__isnull=False,
            product__is_non_product=False,
            order__user__date_erased__isnull=True,  # erased shoppers never feed a model
        )
        .exclude(order__status=Order.Status.CANCELLED)
        .values_list("order__user_id", "product_id", "order__placed_at", "order_id", "quantity")
    )
    # The ORM's per-row converters (datetime parsing on SQLite) cost ~10 s on UCI's 400k lines;
    # the same SQL through a plain cursor plus one vectorised to_datetime takes a fraction.
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["user", "item", "ts", "basket", "quantity"])
    if frame.empty:
        return frame
    frame["user"] = frame["user"].astype(str)
    frame["item"] = frame["item"].astype(str)
    frame["basket"] = frame["basket"].astype(str)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601").dt.tz_localize(None)
    return frame


def product_side_information(product_ids: Sequence[str]) -> tuple[dict[str, str], dict[str, int]]:
    """Text (title, description, category) and category index per product id, for content/category models."""
    ids = [int(p) for p in product_ids]
    text: dict[str, str] = {}
    category: dict[str, int] = {}
    for pid, title, description, cat_id, cat_name in (
        Product.objects.filter(pk__in=ids)
        .values_list("pk", "title", "description", "category_id", "category__name")
        .iterator(chunk_size=5000)
    ):
        text[str(pid)] = " ".join(x for x in (title, description or "", cat_name or "") if x)
        if cat_id is not None:
            category[str(pid)] = int(cat_id)
    return text, category


def online_ctr_by_version() -> dict[int | None, dict[str, float]]:
    """Impressions, clicks and CTR of the widgets per model version number (from the event log)."""
    out: dict[int | None, dict[str, float]] = {}
    for event_type, key in (
        (Event.Type.RECOMMENDATION_IMPRESSION, "impressions"),
        (Event.Type.RECOMMENDATION_CLICK, "clicks"),
    ):
        rows = Event.objects.filter(type=event_type).values("properties__model_version").annotate(n=Count("id"))
        for row in rows:
            version = row["properties__model_version"]
            version = int(version) if isinstance(version, int | float | str) and str(version).isdigit() else None
            bucket = out.setdefault(version, {"impressions": 0, "clicks": 0, "ctr": 0.0})
            bucket[key] += row["n"]
    for bucket in out.values():
        bucket["ctr"] = bucket["clicks"] / bucket["impressions"] if bucket["impressions"] else 0.0
    return out
