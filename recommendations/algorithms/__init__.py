"""Recommender algorithms on NumPy/SciPy arrays (no Django): fit(user_items, context) and
recommend(user_rows, k, exclude) -> (ids, scores).

`ALGORITHMS` names every algorithm the evaluation command and the pipeline know, with the
hyper-parameters chosen on a validation split cut from the training period (see
docs/benchmarks/recommendations.md); the library baselines use the settings the issue names.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import FitContext, Recommender, interaction_matrix, top_k, weighted_history
from .content import ContentTfidf
from .graph import EASE, RP3Beta
from .hybrid import Hybrid
from .item_knn import BasketCoPurchase, ItemKNN
from .mf import ImplicitALS, ImplicitBPR, ImplicitItemKNN
from .popularity import CategoryPopularity, MostPopular, TrendingPopularity
from .repeat import RepeatPurchase
from .user_knn import UserKNN, cosine, pearson, user_based_cf


def hybrid_default() -> Hybrid:
    """Our serving model: recency-weighted EASE plus a short-half-life trending prior.

    Chosen on the validation split inside the Q=0.8 training window (docs/benchmarks).
    """
    return Hybrid(
        components={
            "ease": (lambda: EASE(l2=100.0, half_life_days=60.0), 1.0),
            "trending": (lambda: TrendingPopularity(half_life_days=7.0), 0.1),
        },
        half_life_days=90.0,
    )


def hybrid_repeat() -> Hybrid:
    """The hybrid plus the customer's own repeat purchases, for the `repeat` protocol (buy it
    again). Weights chosen on the repeat-protocol validation split inside the training window
    (validation NDCG@10 0.256 -> 0.321)."""
    return Hybrid(
        components={
            "ease": (lambda: EASE(l2=100.0, half_life_days=60.0), 1.0),
            "trending": (lambda: TrendingPopularity(half_life_days=7.0), 0.1),
            "repeat": (lambda: RepeatPurchase(half_life_days=120.0, count_power=1.0), 2.0),
        },
        half_life_days=90.0,
    )


ALGORITHMS: dict[str, Callable[[], Recommender]] = {
    # library baselines (issue 3): implicit's item-kNN BM25 and ALS, a user-kNN, most popular
    "implicit_bm25": lambda: ImplicitItemKNN(kind="bm25"),
    # the same with textbook BM25 parameters (K1 1.2, B 0.75) and 100 neighbours: a stronger
    # baseline than implicit's defaults on this data (0.087 vs 0.052 NDCG@10 at Q=0.8)
    "implicit_bm25_k100": lambda: ImplicitItemKNN(kind="bm25", neighbours=100, k1=1.2, b=0.75),
    "implicit_als": lambda: ImplicitALS(factors=64, alpha=10.0),
    "user_knn": lambda: UserKNN(similarity="cosine", neighbours=50),
    "most_popular": MostPopular,
    # ours
    "trending": lambda: TrendingPopularity(half_life_days=7.0),
    "category_popularity": CategoryPopularity,
    "item_knn_cosine": lambda: ItemKNN(similarity="cosine", neighbours=100, shrinkage=10.0),
    "item_knn_bm25": lambda: ItemKNN(similarity="bm25", neighbours=100, shrinkage=10.0),
    "user_knn_pearson": lambda: UserKNN(similarity="pearson", neighbours=50),
    "basket_copurchase": BasketCoPurchase,
    "bpr": lambda: ImplicitBPR(factors=64),
    "content": ContentTfidf,
    "rp3beta": lambda: RP3Beta(alpha=1.0, beta=0.5),
    "ease": lambda: EASE(l2=200.0),
    "hybrid": hybrid_default,
    "repeat_purchase": lambda: RepeatPurchase(half_life_days=120.0, count_power=1.0),
    "hybrid_repeat": hybrid_repeat,
}

BASELINES = ("implicit_bm25", "implicit_bm25_k100", "implicit_als", "user_knn", "most_popular")

__all__ = [
    "ALGORITHMS",
    "BASELINES",
    "EASE",
    "BasketCoPurchase",
    "CategoryPopularity",
    "ContentTfidf",
    "FitContext",
    "Hybrid",
    "ImplicitALS",
    "ImplicitBPR",
    "ImplicitItemKNN",
    "ItemKNN",
    "MostPopular",
    "RP3Beta",
    "Recommender",
    "RepeatPurchase",
    "hybrid_repeat",
    "TrendingPopularity",
    "UserKNN",
    "cosine",
    "hybrid_default",
    "interaction_matrix",
    "pearson",
    "top_k",
    "user_based_cf",
    "weighted_history",
]
