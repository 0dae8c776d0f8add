"""The common shape of every recommender: fit on a user x item matrix, recommend top-K rows.

Plain NumPy/SciPy; no Django. Ids are matrix row/column indices; the service maps them to
database ids and back.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

# Event weights: a view says little, a cart more, a purchase most (configurable per call).
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "product_view": 1.0,
    "recommendation_click": 1.0,
    "add_to_cart": 3.0,
    "checkout_start": 3.0,
    "purchase": 5.0,
}


@dataclass
class FitContext:
    """Optional side information some algorithms use; all indexed like the matrix columns/rows.

    - `last_seen`: user x item matrix of the latest interaction time (seconds), for recency.
    - `baskets`: basket (invoice/session) x item matrix, for co-purchase similarity.
    - `item_text`: one document per item (title, description, category) for content-based.
    - `item_category`: category index per item (-1 when none).
    - `now`: the reference time (seconds) for time decay.
    - `num_threads`: threads a library fit may use (the implicit models); the caller decides
      (the service passes settings.RECOMMENDATIONS_THREADS), so this code never reads settings.
    """

    last_seen: sp.csr_matrix | None = None
    baskets: sp.csr_matrix | None = None
    item_text: list[str] | None = None
    item_category: np.ndarray | None = None
    now: float | None = None
    num_threads: int = 2
    extra: dict[str, Any] = field(default_factory=dict)


def as_csr(matrix: Any) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32)
    out.sum_duplicates()
    return out


def interaction_matrix(
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    event_types: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
    *,
    shape: tuple[int, int],
    weights: dict[str, float] | None = None,
    half_life_days: float | None = None,
    now: float | None = None,
) -> sp.csr_matrix:
    """Sum of event weights per (user, item), each decayed by 0.5 ** (age / half-life).

    Unknown event types weigh 0 (ignored); without event types every row weighs 1.
    """
    user_idx = np.asarray(user_idx, dtype=np.int64)
    item_idx = np.asarray(item_idx, dtype=np.int64)
    values = np.ones(len(user_idx), dtype=np.float64)
    if event_types is not None:
        table = {**DEFAULT_EVENT_WEIGHTS, **(weights or {})}
        values = np.array([table.get(str(t), 0.0) for t in event_types], dtype=np.float64)
    if half_life_days and timestamps is not None and len(values):
        ts = np.asarray(timestamps, dtype=np.float64)
        reference = float(now if now is not None else ts.max())
        age_days = np.maximum(reference - ts, 0.0) / 86400.0
        values = values * np.power(0.5, age_days / float(half_life_days))
    matrix = sp.coo_matrix((values, (user_idx, item_idx)), shape=shape).tocsr()
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix.astype(np.float32)


def weighted_history(
    binary: sp.csr_matrix,
    context: FitContext | None,
    *,
    half_life_days: float | None,
    count_power: float = 0.0,
) -> sp.csr_matrix:
    """Binary history re-weighted by 0.5 ** (age / half-life) and (repeat count) ** count_power."""
    history = sp.csr_matrix(binary, dtype=np.float64, copy=True)
    if context is None:
        return history
    if count_power and context.extra.get("counts") is not None:
        counts = sp.csr_matrix(context.extra["counts"], dtype=np.float64)
        history = history.multiply(counts.power(count_power)).tocsr()
    if half_life_days and context.last_seen is not None:
        seen = sp.csr_matrix(context.last_seen, dtype=np.float64)
        now = float(context.now if context.now is not None else seen.data.max())
        decay = seen.copy()
        decay.data = np.power(0.5, np.maximum(now - seen.data, 0.0) / 86400.0 / half_life_days)
        history = history.multiply(decay).tocsr()
    return history


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best columns per row, best first; excluded columns never appear.

    Rows with fewer than k admissible columns are padded with -1 ids and -inf scores.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None and exclude.nnz:
        rows, cols = exclude.nonzero()
        scores[rows, cols] = -np.inf
    n_items = scores.shape[1]
    k = int(min(k, n_items))
    if k <= 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64), np.empty((scores.shape[0], 0))
    # Tiny random-free tie-break: lower column index wins among equal scores (deterministic).
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    ids = np.take_along_axis(part, order, axis=1)
    best = np.take_along_axis(part_scores, order, axis=1)
    ids = np.where(np.isneginf(best), -1, ids)
    return ids.astype(np.int64), best


class Recommender(abc.ABC):
    """Base class. Subclasses implement `fit` and `score`; `recommend` is shared."""

    name = "base"

    def __init__(self) -> None:
        self.n_users = 0
        self.n_items = 0
        self.user_items: sp.csr_matrix | None = None

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> Recommender:
        self.user_items = as_csr(user_items)
        self.n_users, self.n_items = self.user_items.shape
        return self

    @abc.abstractmethod
    def score(self, user_rows: np.ndarray) -> np.ndarray:
        """Dense (len(user_rows), n_items) preference scores; higher is better."""

    def recommend(
        self,
        user_rows: np.ndarray | list[int],
        k: int = 10,
        exclude: sp.csr_matrix | None = None,
        batch_size: int = 2048,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and scores for each user row; `exclude` rows align with `user_rows`."""
        rows = np.asarray(user_rows, dtype=np.int64)
        all_ids, all_scores = [], []
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            scores = self.score(chunk)
            excl = exclude[start : start + batch_size] if exclude is not None else None
            ids, best = top_k(scores, k, excl)
            all_ids.append(ids)
            all_scores.append(best)
        if not all_ids:
            return np.empty((0, k), dtype=np.int64), np.empty((0, k))
        return np.vstack(all_ids), np.vstack(all_scores)


class ItemSimilarityRecommender(Recommender):
    """A recommender whose model is an item x item similarity matrix (row i = neighbours of i).

    Scores are the user's weighted history times the similarity: score_j = sum_i w_ui * sim(i, j).
    Subclasses only build `self.similarity` in `fit`.
    """

    similarity: sp.csr_matrix

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.user_items[user_rows] @ self.similarity).todense())

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((history @ self.similarity).todense())

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        row = self.similarity.getrow(item)
        order = np.argsort(-row.data, kind="stable")[:k]
        return row.indices[order], row.data[order]


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.diags(1.0 / norms) @ matrix


def keep_top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row (neighbour pruning)."""
    matrix = sp.csr_matrix(matrix)
    if k <= 0:
        return matrix
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    new_rows, new_cols, new_data = [], [], []
    for row in range(matrix.shape[0]):
        start, end = indptr[row], indptr[row + 1]
        if end == start:
            continue
        row_data = data[start:end]
        row_cols = indices[start:end]
        if end - start > k:
            keep = np.argpartition(-row_data, k - 1)[:k]
            row_data, row_cols = row_data[keep], row_cols[keep]
        new_rows.append(np.full(len(row_cols), row))
        new_cols.append(row_cols)
        new_data.append(row_data)
    if not new_rows:
        return sp.csr_matrix(matrix.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(new_data), (np.concatenate(new_rows), np.concatenate(new_cols))),
        shape=matrix.shape,
        dtype=np.float32,
    )
