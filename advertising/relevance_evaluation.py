"""The relevance goal measured on the shop's own catalogue and campaigns (issue 14):

- of the sponsored products served on product pages and search result pages, the share that is
  relevant: the ad's product shares the page product's category, is in its similar /
  bought-together list, or (search) shares a title word with the query — goal >= 80%;
- the share of product pages that show a sponsored product — goal >= 30%.

Every page is served through the real `ads_serve` (eligibility, relevance gate, click model,
auction) as an anonymous shopper without tracking consent (contextual ads only), each inside a
transaction that is rolled back: nothing is logged or charged and budgets stay as they were.
Pacing is off (it depends on the time of day the command runs) unless asked for.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlparse

from django.db import transaction
from django.test.utils import override_settings

from ecommerce.models import Event, Product
from ecommerce.privacy import NO_TRACKING

from . import conf, page_context, relevance
from .services import PageContext, ads_serve

GOAL_RELEVANT_SHARE = 0.80
GOAL_PRODUCT_PAGE_COVERAGE = 0.30
_WORDS = re.compile(r"[a-z0-9]+")


def searched_queries(limit: int = 60) -> list[str]:
    """The shoppers' most frequent searches (from search events' paths), most frequent first."""
    counts: Counter[str] = Counter()
    paths = (
        Event.objects.filter(type=Event.Type.SEARCH, properties__has_key="path")
        .values_list("properties__path", flat=True)
        .order_by()[:50_000]
    )
    for path in paths:
        query = " ".join(parse_qs(urlparse(str(path)).query).get("q", [""])[0].split()).lower()
        if query:
            counts[query] += 1
    return [q for q, _ in counts.most_common(limit)]


def title_phrase_queries(limit: int = 40) -> list[str]:
    """Shoppers' likely searches when no search was logged: the catalogue's most common two-word
    title phrases ("lunch bag", "t light") and single words."""
    pairs: Counter[str] = Counter()
    singles: Counter[str] = Counter()
    for title in Product.objects.sellable().values_list("title", flat=True):
        words = [w for w in _WORDS.findall(title.lower()) if len(w) >= 3 and w not in relevance.STOP_WORDS]
        singles.update(set(words))
        pairs.update({f"{a} {b}" for a, b in zip(words, words[1:], strict=False)})
    half = max(1, limit // 2)
    return [q for q, _ in pairs.most_common(half)] + [q for q, _ in singles.most_common(limit - half)]


def _serve_without_trace(page: PageContext, n: int) -> list[dict[str, Any]]:
    # "direct": the impressions and CPM charges are written in this transaction (and rolled back)
    # instead of going to the shared buffer, which a rollback could not undo.
    with override_settings(ADS_BUFFER="direct"), transaction.atomic():
        served = ads_serve(tracking=NO_TRACKING, page=page, n=n)
        transaction.set_rollback(True)
    return served


def ad_relevance_evaluate(
    *,
    product_ids: list[int] | None = None,
    queries: list[str] | None = None,
    pacing: bool = False,
) -> dict[str, Any]:
    """Serve every product page and every query once; count relevant sponsored products."""
    products = Product.objects.sellable().order_by("pk")
    if product_ids is not None:
        products = products.filter(pk__in=product_ids)
    category_of = dict(Product.objects.values_list("pk", "category_id"))
    title_of = dict(Product.objects.values_list("pk", "title"))
    if queries is None:
        queries = searched_queries() or title_phrase_queries()
    sizes = conf.slot_sizes()
    result: dict[str, Any] = {"product_pages": 0, "product_pages_with_ad": 0, "searches": 0, "searches_with_ad": 0}
    served_total = relevant_total = 0
    per_slot: dict[str, Counter] = {"product": Counter(), "search": Counter()}
    examples: list[dict[str, Any]] = []
    with override_settings(ADS_PACING=pacing):
        for pk, category_id in products.values_list("pk", "category_id"):
            ads = _serve_without_trace(PageContext(slot="product", product_id=pk), sizes.get("product", 1))
            result["product_pages"] += 1
            result["product_pages_with_ad"] += bool(ads)
            similar, together = page_context.neighbour_lists(pk)
            for ad in ads:
                ad_pid = ad["product"]["id"] if ad["product"] else None
                ok = ad_pid is not None and (
                    (category_id is not None and category_of.get(ad_pid) == category_id)
                    or ad_pid in similar
                    or ad_pid in together
                )
                per_slot["product"]["served"] += 1
                per_slot["product"]["relevant"] += ok
        for query in queries:
            ads = _serve_without_trace(PageContext(slot="search", query=query), sizes.get("search", 1))
            result["searches"] += 1
            result["searches_with_ad"] += bool(ads)
            words = relevance.tokens(query)
            for ad in ads:
                ad_pid = ad["product"]["id"] if ad["product"] else None
                ok = ad_pid is not None and bool(words & relevance.tokens(title_of.get(ad_pid, "")))
                per_slot["search"]["served"] += 1
                per_slot["search"]["relevant"] += ok
                if len(examples) < 12:
                    examples.append({"query": query, "ad": title_of.get(ad_pid, ""), "relevant": ok})
    for slot, counts in per_slot.items():
        served_total += counts["served"]
        relevant_total += counts["relevant"]
        result[f"{slot}_served"] = counts["served"]
        result[f"{slot}_relevant"] = counts["relevant"]
    result["served"] = served_total
    result["relevant"] = relevant_total
    result["relevant_share"] = relevant_total / served_total if served_total else 0.0
    result["product_page_coverage"] = (
        result["product_pages_with_ad"] / result["product_pages"] if result["product_pages"] else 0.0
    )
    result["goals"] = {
        "relevant_share": GOAL_RELEVANT_SHARE,
        "product_page_coverage": GOAL_PRODUCT_PAGE_COVERAGE,
        "met": result["relevant_share"] >= GOAL_RELEVANT_SHARE
        and result["product_page_coverage"] >= GOAL_PRODUCT_PAGE_COVERAGE,
    }
    result["queries"] = len(queries)
    result["search_examples"] = examples
    result["pacing"] = pacing
    result["relevance_floor"] = conf.relevance_floor()
    return result
