"""Item-item models that are strong on purchase data: EASE (Steck 2019) and RP3beta
(Paudel et al. 2017, random walks with popularity penalty)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import FitContext, Recommender, keep_top_k_per_row, weighted_history


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix through a float32 Cholesky factorisation.

    About 2x faster than np.linalg.inv in float64 on 3,600 items (measured: 6 s vs 10-14 s on
    the loaded 2-core box), and float32 is ample for ranking weights.
    """
    from scipy.linalg import lapack

    factor, info = lapack.spotrf(matrix.astype(np.float32), lower=True, overwrite_a=True)
    if info != 0:
        return np.linalg.inv(matrix)
    inverse, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        return np.linalg.inv(matrix)
    # dpotri fills one triangle only.
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    return inverse


class EASE(Recommender):
    """Closed-form shallow autoencoder: B = I - P / diag(P), P = (X^T X + lambda I)^-1, diag(B) = 0.

    With `half_life_days`, each (user, item) entry is decayed by its age before the Gram matrix
    is built, so recent co-purchases shape the item-item weights more than last year's.
    """

    name = "ease"

    def __init__(self, l2: float = 200.0, half_life_days: float | None = None) -> None:
        super().__init__()
        self.l2 = l2
        self.half_life_days = half_life_days

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> EASE:
        super().fit(user_items, context)
        x = self.user_items.astype(np.float64)
        if self.half_life_days:
            x = weighted_history(x, context, half_life_days=self.half_life_days)
        gram = np.asarray((x.T @ x).todense())
        gram[np.diag_indices_from(gram)] += self.l2
        p = _spd_inverse(gram)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        self.weights = b.astype(np.float32)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.user_items[user_rows] @ self.weights)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray(history @ self.weights)


class RP3Beta(Recommender):
    """Three-step random walk user -> item -> user -> item, entries ** alpha, divided by pop ** beta."""

    name = "rp3beta"

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, neighbours: int = 200) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.neighbours = neighbours

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> RP3Beta:
        super().fit(user_items, context)
        x = (self.user_items > 0).astype(np.float64).tocsr()
        user_deg = np.asarray(x.sum(axis=1)).ravel()
        item_deg = np.asarray(x.sum(axis=0)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(user_deg, 1)) @ x
        p_iu = sp.diags(1.0 / np.maximum(item_deg, 1)) @ x.T
        walk = (p_iu @ p_ui).tocsr()
        if self.alpha != 1.0:
            walk.data = np.power(walk.data, self.alpha)
        walk = walk @ sp.diags(1.0 / np.power(np.maximum(item_deg, 1), self.beta))
        walk = sp.csr_matrix(walk)
        walk.setdiag(0.0)
        walk.eliminate_zeros()
        self.similarity = keep_top_k_per_row(walk, self.neighbours)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.user_items[user_rows] @ self.similarity).todense())

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((history @ self.similarity).todense())
