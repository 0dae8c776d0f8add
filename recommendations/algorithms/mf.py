"""Implicit-feedback matrix factorization (ALS after Hu, Koren & Volinsky 2008; BPR) and the
implicit package's item-kNN baselines, wrapped in our common interface.

The `implicit` package (CPU build) does the optimisation; we never hand-write these loops.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from .base import FitContext, Recommender

# implicit warns (and slows down) when BLAS runs its own threads under its thread pool.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _threads() -> int:
    return int(os.environ.get("RECOMMENDATIONS_THREADS", "2"))


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """implicit parallelises itself; BLAS threads on top of it oversubscribe the cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        yield


class ImplicitALS(Recommender):
    """Confidence c_ui = 1 + alpha * r_ui; solves u_u = (V^T C_u V + lambda I)^-1 V^T C_u p_u."""

    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 10.0,
                 iterations: int = 15, random_state: int = 42) -> None:
        super().__init__()
        self.params = dict(factors=factors, regularization=regularization, alpha=alpha,
                           iterations=iterations, random_state=random_state)

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> ImplicitALS:
        from implicit.cpu.als import AlternatingLeastSquares

        super().fit(user_items, context)
        with _single_threaded_blas():
            self.model = AlternatingLeastSquares(**self.params, num_threads=_threads(),
                                                 calculate_training_loss=False)
            self.model.fit(self.user_items, show_progress=False)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.user_factors[user_rows] @ self.model.item_factors.T)


class ImplicitBPR(Recommender):
    """Bayesian Personalized Ranking (Rendle et al. 2009) with implicit's SGD sampler."""

    name = "bpr"

    def __init__(self, factors: int = 64, learning_rate: float = 0.01, regularization: float = 0.01,
                 iterations: int = 100, random_state: int = 42) -> None:
        super().__init__()
        self.params = dict(factors=factors, learning_rate=learning_rate, regularization=regularization,
                           iterations=iterations, random_state=random_state)

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> ImplicitBPR:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        super().fit(user_items, context)
        self.model = BayesianPersonalizedRanking(**self.params, num_threads=_threads())
        with _single_threaded_blas():
            self.model.fit((self.user_items > 0).astype(np.float32).tocsr(), show_progress=False)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.user_factors[user_rows] @ self.model.item_factors.T)


class ImplicitItemKNN(Recommender):
    """The library baseline: implicit's BM25Recommender / CosineRecommender as shipped."""

    name = "implicit_bm25"

    def __init__(self, kind: str = "bm25", neighbours: int = 20, k1: float = 100.0, b: float = 0.8) -> None:
        super().__init__()
        self.kind = kind
        self.neighbours = neighbours
        self.k1 = k1
        self.b = b

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> ImplicitItemKNN:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        super().fit(user_items, context)
        if self.kind == "bm25":
            self.model = BM25Recommender(K=self.neighbours, K1=self.k1, B=self.b, num_threads=_threads())
        else:
            self.model = CosineRecommender(K=self.neighbours, num_threads=_threads())
        with _single_threaded_blas():
            self.model.fit(self.user_items, show_progress=False)
        self.similarity = self.model.similarity.tocsr()
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.user_items[user_rows] @ self.similarity).todense())
