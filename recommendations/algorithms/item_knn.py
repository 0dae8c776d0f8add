"""Item-based collaborative filtering: cosine or BM25-weighted similarities, top-K neighbours,
shrinkage; and basket co-purchase similarity ("customers also bought", same invoice/session)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import FitContext, ItemSimilarityRecommender, keep_top_k_per_row


def bm25_weight(matrix: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weighting of a (documents x terms) matrix: saturates counts, down-weights long rows
    and very common terms. Here documents are users and terms are items' columns or vice versa."""
    matrix = sp.coo_matrix(matrix, dtype=np.float64)
    n_rows = float(matrix.shape[0])
    df = np.bincount(matrix.col, minlength=matrix.shape[1]).astype(np.float64)
    idf = np.log(n_rows) - np.log1p(df)
    row_sums = np.ravel(matrix.sum(axis=1))
    avg = row_sums.mean() if row_sums.size and row_sums.mean() > 0 else 1.0
    length_norm = (1.0 - b) + b * row_sums / avg
    data = matrix.data * (k1 + 1.0) / (k1 * length_norm[matrix.row] + matrix.data) * idf[matrix.col]
    return sp.csr_matrix((data, (matrix.row, matrix.col)), shape=matrix.shape)


def cosine_item_similarity(
    user_items: sp.csr_matrix, *, shrinkage: float = 0.0, neighbours: int = 100
) -> sp.csr_matrix:
    """Item x item cosine; the shrinkage term in the denominator damps pairs with little support."""
    matrix = sp.csr_matrix(user_items, dtype=np.float64)
    gram = (matrix.T @ matrix).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    gram = gram.tocoo()
    denom = norms[gram.row] * norms[gram.col] + shrinkage
    denom[denom == 0] = 1.0
    sim = sp.csr_matrix((gram.data / denom, (gram.row, gram.col)), shape=gram.shape)
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return keep_top_k_per_row(sim, neighbours)


class ItemKNN(ItemSimilarityRecommender):
    """score(u, j) = sum over the user's items i of w(u, i) * sim(i, j), sim pruned to top-K.

    similarity="cosine" uses the raw matrix; "bm25" weights it first (K1, B).
    """

    name = "item_knn"

    def __init__(
        self,
        similarity: str = "cosine",
        neighbours: int = 100,
        shrinkage: float = 10.0,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        super().__init__()
        if similarity not in {"cosine", "bm25"}:
            raise ValueError("similarity must be 'cosine' or 'bm25'")
        self.similarity_kind = similarity
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.k1 = k1
        self.b = b

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> ItemKNN:
        super().fit(user_items, context)
        matrix = self.user_items
        if self.similarity_kind == "bm25":
            # Items are the documents: long (popular) items are normalised, like implicit's BM25.
            matrix = bm25_weight(matrix.T, self.k1, self.b).T.tocsr()
        self.similarity = cosine_item_similarity(matrix, shrinkage=self.shrinkage, neighbours=self.neighbours)
        return self


class BasketCoPurchase(ItemSimilarityRecommender):
    """Co-occurrence within the same basket (invoice or session), cosine-normalised.

    "Customers also bought": items that land in the same basket complement each other.
    """

    name = "basket_copurchase"

    def __init__(self, neighbours: int = 100, shrinkage: float = 5.0) -> None:
        super().__init__()
        self.neighbours = neighbours
        self.shrinkage = shrinkage

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> BasketCoPurchase:
        super().fit(user_items, context)
        baskets = context.baskets if context is not None and context.baskets is not None else self.user_items
        baskets = (sp.csr_matrix(baskets) > 0).astype(np.float64)
        self.similarity = cosine_item_similarity(baskets, shrinkage=self.shrinkage, neighbours=self.neighbours)
        return self
