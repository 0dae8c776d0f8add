"""Product search from chat by meaning: "a gift for my mum under £5" -> catalog titles.

Django-free: ids, titles and prices in, ranked (id, score) out. The caller (the dialogue's
product action) extracts the price cap with `entities.extract(...).max_price`, builds one
ProductSearchIndex per catalog version (embedding ~4,000 titles takes a few seconds, so it is
cached, never rebuilt per message) and falls back to its keyword search when `search` returns
nothing (encoder unavailable or nothing close enough).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from .encoder import DEFAULT_ENCODER, load_encoder

# Cosine below which a title is not offered. Checked with 7 shopping queries (EN and ZH) against
# the 3,938 UCI catalog titles: the top titles scored 0.44-0.76; "where is my order" (not a
# product request) found nothing better than 0.30.
MIN_SCORE = 0.35
# The price phrase says nothing about what the product is; removing it keeps "under £5" from
# pulling titles that mention numbers.
_PRICE = re.compile(
    r"(?:\b(?:under|below|less than|max(?:imum)?|up to|no more than|within|for|around|about)\s*)?"
    r"(?:[£$€¥]\s?\d+(?:[.,]\d{1,2})?|\d+(?:\.\d{1,2})?\s?(?:pounds?|quid|gbp|dollars?|usd|euros?|eur|镑|英镑|元|块|rmb))"
    r"(?:\s*(?:以内|以下|之内))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ProductHit:
    product_id: int
    score: float


def clean_query(query: str) -> str:
    return re.sub(r"\s+", " ", _PRICE.sub(" ", query or "")).strip(" ,.?!？，。")


def embed_titles(titles: Sequence[str], *, encoder: str = DEFAULT_ENCODER) -> np.ndarray | None:
    """Title embeddings (n, dim), None when the encoder is unavailable or there are no titles."""
    loaded = load_encoder(encoder)
    if loaded is None or not len(titles):
        return None
    # Catalog titles are often upper case (UCI): the encoder reads lower case like the shopper's text.
    return loaded.encode([t.lower() for t in titles])


class ProductSearchIndex:
    """Title embeddings of a catalog, built once; `search` ranks them against a chat message."""

    def __init__(
        self,
        ids: Sequence[int],
        titles: Sequence[str],
        prices: Sequence[Decimal | float] | None = None,
        *,
        encoder: str = DEFAULT_ENCODER,
    ):
        if prices is not None and len(prices) != len(ids):
            raise ValueError("prices must match ids")
        if len(titles) != len(ids):
            raise ValueError("titles must match ids")
        self.ids = np.asarray(list(ids))
        self.prices = None if prices is None else np.asarray([float(p) for p in prices], dtype=float)
        self.encoder = load_encoder(encoder)
        self.vectors = embed_titles(titles, encoder=encoder) if self.encoder is not None else None

    @classmethod
    def from_vectors(
        cls,
        ids: Sequence[int],
        vectors: np.ndarray,
        prices: Sequence[Decimal | float] | None = None,
        *,
        encoder: str = DEFAULT_ENCODER,
    ) -> ProductSearchIndex:
        """An index from title embeddings computed earlier (`embed_titles`, e.g. by a worker and
        stored on disk), so serving never embeds the catalog on a request."""
        if len(vectors) != len(ids):
            raise ValueError("vectors must match ids")
        index = cls.__new__(cls)
        index.ids = np.asarray(list(ids))
        index.prices = None if prices is None else np.asarray([float(p) for p in prices], dtype=float)
        index.encoder = load_encoder(encoder)
        index.vectors = np.asarray(vectors, dtype=np.float32) if index.encoder is not None and len(ids) else None
        return index

    @property
    def available(self) -> bool:
        return self.vectors is not None

    def search(
        self, query: str, *, max_price: Decimal | float | None = None, k: int = 5, min_score: float = MIN_SCORE
    ) -> list[ProductHit]:
        text = clean_query(query)
        if self.vectors is None or self.encoder is None or not text:
            return []
        scores = self.vectors @ self.encoder.encode([text.lower()])[0]
        if max_price is not None and self.prices is not None:
            scores = np.where(self.prices <= float(max_price), scores, -np.inf)
        top = np.argsort(scores)[::-1][:k]
        return [ProductHit(int(self.ids[i]), float(scores[i])) for i in top if scores[i] >= min_score]


def product_search_semantic(
    query: str,
    titles: Sequence[str],
    *,
    ids: Sequence[int] | None = None,
    prices: Sequence[Decimal | float] | None = None,
    max_price: Decimal | float | None = None,
    k: int = 5,
    min_score: float = MIN_SCORE,
    encoder: str = DEFAULT_ENCODER,
) -> list[tuple[int, float]]:
    """(id, cosine) of the `k` titles closest in meaning to `query`, best first, cheaper than
    `max_price` when given; ids default to positions. [] when the encoder is unavailable.

    One-off convenience: it embeds every title each call (the encoder memoises recent texts).
    A caller serving many messages keeps a ProductSearchIndex instead.
    """
    index = ProductSearchIndex(list(range(len(titles))) if ids is None else ids, titles, prices, encoder=encoder)
    return [(hit.product_id, hit.score) for hit in index.search(query, max_price=max_price, k=k, min_score=min_score)]
