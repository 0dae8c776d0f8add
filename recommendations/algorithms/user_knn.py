"""User-based collaborative filtering (cosine or Pearson), including the seed's worked example,
corrected as in ERRATA.md: it scores items, skips the user's own items and returns item ids."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import FitContext, Recommender, normalize_rows


def pearson(u: np.ndarray | list[float], v: np.ndarray | list[float]) -> float:
    """Pearson correlation of two rating vectors (0.0 when either is constant)."""
    a = np.asarray(u, dtype=np.float64)
    b = np.asarray(v, dtype=np.float64)
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def cosine(u: np.ndarray | list[float], v: np.ndarray | list[float]) -> float:
    a = np.asarray(u, dtype=np.float64)
    b = np.asarray(v, dtype=np.float64)
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom > 0 else 0.0


def user_based_cf(
    ratings: np.ndarray, user: int, *, neighbours: int = 2, similarity: str = "pearson", n: int | None = None
) -> list[int]:
    """Item ids for `user`, best first: weighted sum of the k most similar users' ratings per item.

    Items the user already rated (non-zero) are skipped; the user is never its own neighbour.
    """
    ratings = np.asarray(ratings, dtype=np.float64)
    sim_fn = pearson if similarity == "pearson" else cosine
    sims = np.array([sim_fn(ratings[user], ratings[o]) if o != user else -np.inf for o in range(len(ratings))])
    order = [o for o in np.argsort(-sims, kind="stable") if o != user][:neighbours]
    scores = sims[order] @ ratings[order]
    candidates = [i for i in np.argsort(-scores, kind="stable") if ratings[user, i] == 0]
    return [int(i) for i in candidates[: n if n is not None else len(candidates)]]


class UserKNN(Recommender):
    """score(u, j) = sum over the top-K similar users v of sim(u, v) * r(v, j)."""

    name = "user_knn"

    def __init__(self, similarity: str = "cosine", neighbours: int = 50, shrinkage: float = 0.0) -> None:
        super().__init__()
        if similarity not in {"cosine", "pearson"}:
            raise ValueError("similarity must be 'cosine' or 'pearson'")
        self.similarity_kind = similarity
        self.neighbours = neighbours
        self.shrinkage = shrinkage

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> UserKNN:
        super().fit(user_items, context)
        self.normalized = normalize_rows(self.user_items.astype(np.float64)).tocsr()
        return self

    def _similarities(self, user_rows: np.ndarray) -> np.ndarray:
        if self.similarity_kind == "cosine":
            sims = np.asarray((self.normalized[user_rows] @ self.normalized.T).todense())
        else:
            matrix = self.user_items.astype(np.float64)
            n = matrix.shape[1]
            means = np.asarray(matrix.mean(axis=1)).ravel()
            sq = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
            std = np.sqrt(np.maximum(sq / n - means**2, 0.0)) * np.sqrt(n)
            std[std == 0] = 1.0
            cov = np.asarray((matrix[user_rows] @ matrix.T).todense()) - n * np.outer(means[user_rows], means)
            sims = cov / np.outer(std[user_rows], std)
        if self.shrinkage:
            counts = np.asarray(
                (
                    (self.user_items[user_rows] > 0).astype(np.float64) @ (self.user_items > 0).T.astype(np.float64)
                ).todense()
            )
            sims = sims * counts / (counts + self.shrinkage)
        sims[np.arange(len(user_rows)), user_rows] = 0.0  # never one's own neighbour
        if self.neighbours and self.neighbours < sims.shape[1]:
            cut = np.argpartition(-sims, self.neighbours - 1, axis=1)[:, self.neighbours - 1 : self.neighbours]
            threshold = np.take_along_axis(sims, cut, axis=1)
            sims = np.where(sims >= threshold, sims, 0.0)
        return np.maximum(sims, 0.0)

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        sims = self._similarities(np.asarray(user_rows))
        return np.asarray((sp.csr_matrix(sims) @ self.user_items).todense())
