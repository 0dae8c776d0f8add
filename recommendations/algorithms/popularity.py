"""Popularity baselines: global, per category, and time-decayed trending."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import FitContext, Recommender


class MostPopular(Recommender):
    """Items bought by the most distinct users. The floor every model must beat."""

    name = "most_popular"

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> MostPopular:
        super().fit(user_items, context)
        self.popularity = np.asarray((self.user_items > 0).sum(axis=0)).ravel().astype(np.float64)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity, (len(user_rows), 1))


class TrendingPopularity(Recommender):
    """Popularity where each interaction decays by 0.5 ** (age / half-life): what sells now."""

    name = "trending"

    def __init__(self, half_life_days: float = 30.0) -> None:
        super().__init__()
        self.half_life_days = half_life_days

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> TrendingPopularity:
        super().fit(user_items, context)
        if context is None or context.last_seen is None:
            self.popularity = np.asarray((self.user_items > 0).sum(axis=0)).ravel().astype(np.float64)
            return self
        seen = sp.csr_matrix(context.last_seen, dtype=np.float64)
        now = float(context.now if context.now is not None else (seen.data.max() if seen.nnz else 0.0))
        decayed = seen.copy()
        decayed.data = np.power(0.5, np.maximum(now - seen.data, 0.0) / 86400.0 / self.half_life_days)
        self.popularity = np.asarray(decayed.sum(axis=0)).ravel()
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity, (len(user_rows), 1))


class CategoryPopularity(Recommender):
    """Popular items inside the categories each user bought from, weighted by the user's share.

    Falls back to global popularity for users without history (a small additive term).
    """

    name = "category_popularity"

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> CategoryPopularity:
        super().fit(user_items, context)
        binary = (self.user_items > 0).astype(np.float64)
        self.popularity = np.asarray(binary.sum(axis=0)).ravel()
        categories = None if context is None else context.item_category
        if categories is None:
            categories = np.zeros(self.n_items, dtype=np.int64)
        categories = np.asarray(categories, dtype=np.int64)
        known = categories >= 0
        n_cats = int(categories.max()) + 1 if known.any() else 1
        # item x category one-hot (items without a category belong to none).
        self.item_cat = sp.csr_matrix(
            (np.ones(known.sum()), (np.flatnonzero(known), categories[known])), shape=(self.n_items, n_cats)
        )
        self.binary = binary.tocsr()
        top = self.popularity.max() if self.popularity.size and self.popularity.max() > 0 else 1.0
        self.norm_popularity = self.popularity / top
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        hist = self.binary[user_rows]
        share = np.asarray((hist @ self.item_cat).todense())
        totals = share.sum(axis=1, keepdims=True)
        totals[totals == 0] = 1.0
        share = share / totals
        affinity = share @ self.item_cat.T.toarray()
        return affinity * self.norm_popularity[None, :] + 1e-3 * self.norm_popularity[None, :]
