"""Content-based: TF-IDF over product titles, descriptions and categories (scikit-learn).

Works for cold items that nobody bought yet: their neighbours come from text alone.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from .base import FitContext, ItemSimilarityRecommender, keep_top_k_per_row


def content_similarity(texts: list[str], *, neighbours: int = 50) -> sp.csr_matrix:
    """Item x item cosine of TF-IDF vectors (word 1-2 grams), top-K per row, no self-similarity."""
    if not texts or not any(t.strip() for t in texts):
        return sp.csr_matrix((len(texts), len(texts)), dtype=np.float32)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True)
    tfidf = vectorizer.fit_transform(texts)  # rows are L2-normalised: dot product = cosine
    sim = (tfidf @ tfidf.T).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return keep_top_k_per_row(sim, neighbours)


class ContentTfidf(ItemSimilarityRecommender):
    """score(u, j) = sum over the user's items i of w(u, i) * text_sim(i, j)."""

    name = "content"

    def __init__(self, neighbours: int = 50) -> None:
        super().__init__()
        self.neighbours = neighbours

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> ContentTfidf:
        super().fit(user_items, context)
        texts = context.item_text if context is not None and context.item_text is not None else None
        if texts is None:
            texts = [""] * self.n_items
        if len(texts) != self.n_items:
            raise ValueError("item_text must have one document per item column")
        self.similarity = content_similarity(list(texts), neighbours=self.neighbours)
        return self
