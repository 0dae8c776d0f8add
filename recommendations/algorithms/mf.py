"""Implicit-feedback matrix factorization (ALS after Hu, Koren & Volinsky 2008; BPR) and the
implicit package's item-kNN baselines, wrapped in our common interface.

The `implicit` package (CPU build) does the optimisation; we never hand-write these loops.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from .base import FitContext, Recommender


def _threads(context: FitContext | None) -> int:
    """The thread count the caller allows (FitContext.num_threads; 2 when no context is given)."""
    return (context or FitContext()).num_threads


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """implicit parallelises itself; BLAS threads on top of it oversubscribe the cores (and implicit
    warns about them), so BLAS gets one thread while implicit fits."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        yield


class ImplicitALS(Recommender):
    """Confidence c_ui = 1 + alpha * r_ui; solves u_u = (V^T C_u V + lambda I)^-1 V^T C_u p_u."""

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 10.0,
        iterations: int = 15,
        random_state: int = 42,
    ) -> None:
        super().__init__()
        self.params = {
            "factors": factors,
            "regularization": regularization,
            "alpha": alpha,
            "iterations": iterations,
            "random_state": random_state,
        }

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> ImplicitALS:
        from implicit.cpu.als import AlternatingLeastSquares

        super().fit(user_items, context)
        with _single_threaded_blas():
            self.model = AlternatingLeastSquares(
                **self.params, num_threads=_threads(context), calculate_training_loss=False
            )
            self.model.fit(self.user_items, show_progress=False)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.user_factors[user_rows] @ self.model.item_factors.T)


class ImplicitBPR(Recommender):
    """Bayesian Personalized Ranking (Rendle et al. 2009) with implicit's SGD sampler."""

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        random_state: int = 42,
    ) -> None:
        super().__init__()
        self.params = {
            "factors": factors,
            "learning_rate": learning_rate,
            "regularization": regularization,
            "iterations": iterations,
            "random_state": random_state,
        }

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> ImplicitBPR:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        super().fit(user_items, context)
        self.model = BayesianPersonalizedRanking(**self.params, num_threads=_threads(context))
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
            self.model = BM25Recommender(K=self.neighbours, K1=self.k1, B=self.b, num_threads=_threads(context))
        else:
            self.model = CosineRecommender(K=self.neighbours, num_threads=_threads(context))
        with _single_threaded_blas():
            self.model.fit(self.user_items, show_progress=False)
        self.similarity = self.model.similarity.tocsr()
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.user_items[user_rows] @ self.similarity).todense())
