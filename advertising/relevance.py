"""How well a sponsored product fits the page it would be shown on (plain Python, no Django).

The context of one ad request (`PageSignals`): the product on the page and its category (or the
category being browsed), the recommender's precomputed "similar" and "bought together" lists for
that product, the search words, and the categories of the shopper's cart. The ad side
(`AdProduct`) is its product's id, category and title words.

    relevance = max(
        1.0   if it is in the page's category (the page product's category, or the category page),
        0.8   if the ad's product is in the page product's similar / bought-together list,
        q     the search words' IDF-weighted share found in the ad's title (0..1),
        0.6   if it is in the category of something in the shopper's cart,
    )

A request with none of these signals (the home page, empty cart) has no context: relevance is
`None` and ads compete on value alone (weight 1, no floor).

Eligibility (`context_allows`): an ad whose relevance is below the floor (ADS_RELEVANCE_FLOOR,
default 0.35) is left out, unless its campaign opted in to run-of-site or targets the shopper's
interest (retargeting, interest categories, lookalike audience): an empty slot beats an
irrelevant ad.

Ranking (advertising.auction.Candidate.value): eCPM = bid x pCTR x weight(relevance) x 1000 for
CPC, bid x weight(relevance) for CPM, with weight(r) = 0.25 + 0.75 r (1 without context). A run-of-
site ad with no match at all still competes, at a quarter of its value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

# A recommender neighbour from another category (a kneeling pad "similar" to a candle holder by
# co-purchase) is good evidence, but less than the shopper's own category.
LIST_SCORE = 0.8
# What a cart category match is worth: the shopper wants something of the kind, not on this page.
CART_CATEGORY_SCORE = 0.6
# weight(r) = MIN_WEIGHT + (1 - MIN_WEIGHT) * r
MIN_WEIGHT = 0.25
DEFAULT_FLOOR = 0.35

# Words that say nothing about what a product is (plus sizes and packaging in retail titles).
STOP_WORDS = frozenset(
    """a an and the of for with in on to by from at or set pack box small large big mini
    new vintage design assorted colour color""".split()
)
_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    """Stemming-lite: plural endings only ("bags" -> "bag", "boxes" -> "box", "candies" -> "candy")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> frozenset[str]:
    """Lower-cased, stemmed words of three letters or more, without stop words."""
    return frozenset(
        stem(w) for w in _WORD.findall((text or "").lower()) if len(w) >= 3 and w not in STOP_WORDS and not w.isdigit()
    )


class Idf:
    """Inverse document frequency of title words over the catalogue: "bag" says more than "red"."""

    def __init__(self, titles: Iterable[str] = ()) -> None:
        df: dict[str, int] = {}
        n = 0
        for title in titles:
            n += 1
            for token in tokens(title):
                df[token] = df.get(token, 0) + 1
        self.n = n
        self.df = df

    def __call__(self, token: str) -> float:
        # Smoothed: an unknown word weighs most, a word in every title still weighs a little.
        return math.log((1 + self.n) / (1 + self.df.get(token, 0))) + 1.0


@dataclass(frozen=True)
class PageSignals:
    product_id: int | None = None
    category_id: int | None = None
    query_tokens: frozenset[str] = frozenset()
    similar_ids: frozenset[int] = frozenset()
    together_ids: frozenset[int] = frozenset()
    cart_category_ids: frozenset[int] = frozenset()

    @property
    def has_context(self) -> bool:
        return bool(self.product_id or self.category_id or self.query_tokens or self.cart_category_ids)


@dataclass(frozen=True)
class AdProduct:
    product_id: int | None
    category_id: int | None
    title_tokens: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Match:
    """The parts of one ad's fit to one page (also the click model's context features)."""

    same_category: bool | None  # None: the page has no category
    in_similar: str | None  # "similar", "together", "" (in neither), None: no page product
    query_overlap: float | None  # None: no search words
    cart_category: bool
    score: float | None  # None: no context at all

    def features(self) -> dict[str, str]:
        """Context-match features for the click model ('' where the page has no such signal)."""
        return {
            "same_category": "" if self.same_category is None else str(int(self.same_category)),
            "in_similar": "" if self.in_similar is None else (self.in_similar or "none"),
            "query_overlap": overlap_bucket(self.query_overlap),
        }


NO_CONTEXT = Match(same_category=None, in_similar=None, query_overlap=None, cart_category=False, score=None)


def overlap_bucket(overlap: float | None) -> str:
    if overlap is None:
        return ""
    if overlap <= 0:
        return "0"
    return "low" if overlap < 0.5 else ("high" if overlap < 1 else "all")


def query_overlap(query_tokens: frozenset[str], title_tokens: frozenset[str], idf: Idf | None = None) -> float:
    """The share of the search words (IDF-weighted) that appear in the title, 0..1."""
    if not query_tokens:
        return 0.0
    weight = idf or (lambda _token: 1.0)
    total = sum(weight(t) for t in query_tokens)
    found = sum(weight(t) for t in query_tokens & title_tokens)
    return found / total if total else 0.0


def match(ad: AdProduct, page: PageSignals, idf: Idf | None = None) -> Match:
    if not page.has_context:
        return NO_CONTEXT
    scores = [0.0]
    same_category = None
    if page.category_id is not None:
        same_category = ad.category_id is not None and ad.category_id == page.category_id
        if same_category:
            scores.append(1.0)
    in_similar = None
    if page.product_id is not None:
        if ad.product_id is not None and ad.product_id in page.similar_ids:
            in_similar = "similar"
        elif ad.product_id is not None and ad.product_id in page.together_ids:
            in_similar = "together"
        else:
            in_similar = ""
        if in_similar:
            scores.append(LIST_SCORE)
    overlap = None
    if page.query_tokens:
        overlap = query_overlap(page.query_tokens, ad.title_tokens, idf)
        scores.append(overlap)
    cart = ad.category_id is not None and ad.category_id in page.cart_category_ids
    if cart:
        scores.append(CART_CATEGORY_SCORE)
    return Match(
        same_category=same_category, in_similar=in_similar, query_overlap=overlap, cart_category=cart, score=max(scores)
    )


def weight(score: float | None) -> float:
    """The relevance factor in eCPM: 1 without context, else 0.25 + 0.75 x relevance."""
    if score is None:
        return 1.0
    return MIN_WEIGHT + (1.0 - MIN_WEIGHT) * max(0.0, min(1.0, score))


def context_allows(score: float | None, *, floor: float, run_of_site: bool, audience_targeted: bool) -> bool:
    """May an ad with this relevance take part? Below the floor only run-of-site campaigns and
    campaigns aimed at the shopper's own interest (retargeting, interests, lookalike) may."""
    if score is None or score >= floor:
        return True
    return run_of_site or audience_targeted
