"""FAQ retrieval: TF-IDF cosine similarity over the merchant's FAQ questions (and answers).

Character n-grams again, so a Chinese question finds a Chinese FAQ and typos still match.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from .text import normalize


@dataclass(frozen=True)
class FaqHit:
    entry_id: int
    score: float


class FaqIndex:
    # Below this cosine similarity a FAQ answer is more likely wrong than helpful (checked on the
    # demo FAQ with paraphrased questions: right hits score 0.35-0.9, unrelated ones under 0.2).
    MIN_SCORE = 0.3

    def __init__(self, entries: list[tuple[int, str]]):
        """entries: (id, searchable text: question + answer)."""
        self.ids = [entry_id for entry_id, _ in entries]
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), preprocessor=normalize,
                                          sublinear_tf=True)
        texts = [text for _, text in entries]
        self.matrix = self.vectorizer.fit_transform(texts) if texts else None

    def search(self, query: str, *, k: int = 3, min_score: float | None = None) -> list[FaqHit]:
        if self.matrix is None or not query.strip():
            return []
        threshold = self.MIN_SCORE if min_score is None else min_score
        scores = linear_kernel(self.vectorizer.transform([query]), self.matrix).ravel()
        ranked = scores.argsort()[::-1][:k]
        return [FaqHit(entry_id=self.ids[i], score=float(scores[i])) for i in ranked if scores[i] >= threshold]
