"""FAQ retrieval: the merchant's FAQ questions and answers, English and Chinese, searched by
meaning (sentence-encoder cosine) and by spelling (character TF-IDF cosine).

Each entry is one or more texts (question, Chinese question, answer, Chinese answer); an entry's
score is the best, over its texts, of:

- TF-IDF cosine (character n-grams: typos and Chinese still match);
- sentence-encoder cosine minus SEMANTIC_OFFSET;

each minus ANSWER_PENALTY when the text is an answer (it shares topic words with many questions).

The offset puts both signals on one scale, so the dialogue's `min_score` (0.3 by default, 0.45
when an intent already has a policy answer) keeps its meaning. Checked on the demo FAQ with 10
paraphrased questions (5 English, 5 Chinese) and 6 unrelated shop questions: encoder cosine of the
right question 0.45-0.78 (the right entry ranked first for all 10), of the best unrelated one at
most 0.43; so 0.2 keeps every unrelated question under 0.3 and lets 7 of the 10 paraphrases
through on meaning alone (the others still match on TF-IDF when they share words).

Without the encoder (package missing) the index is TF-IDF only, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from .encoder import DEFAULT_ENCODER, load_encoder
from .serving import _transform_function
from .text import normalize

SEMANTIC_OFFSET = 0.2
ANSWER_PENALTY = 0.1


@dataclass(frozen=True)
class FaqHit:
    entry_id: int
    score: float


class FaqIndex:
    # Below this score a FAQ answer is more likely wrong than helpful (checked on the demo FAQ
    # with paraphrased questions: right hits score 0.35-0.9, unrelated ones under 0.2).
    MIN_SCORE = 0.3

    def __init__(
        self,
        entries: Sequence[tuple[int, str | Sequence[str]]],
        *,
        answers: Sequence[str | Sequence[str]] | None = None,
        encoder: str | None = DEFAULT_ENCODER,
    ):
        """entries: (id, question text or [question, question_zh, ...]); answers: the same order,
        each entry's answer text(s) (optional)."""
        self.ids = [entry_id for entry_id, _ in entries]
        if answers is not None and len(answers) != len(entries):
            raise ValueError("answers must match entries")
        questions = [[text] if isinstance(text, str) else [t for t in text if t] for _, text in entries]
        answer_texts = (
            [[] for _ in entries]
            if answers is None
            else [[a] if isinstance(a, str) else [t for t in a if t] for a in answers]
        )
        # One row per text: (entry position, penalty). An answer shares topic words with many
        # questions, so its match counts ANSWER_PENALTY less than a question's.
        self._rows: list[tuple[int, float]] = []
        flat: list[str] = []
        for position, (q, a) in enumerate(zip(questions, answer_texts, strict=True)):
            for texts, penalty in ((q, 0.0), (a, ANSWER_PENALTY)):
                for text in texts:
                    flat.append(text)
                    self._rows.append((position, penalty))
        self._positions = np.array([p for p, _ in self._rows], dtype=int)
        self._penalties = np.array([pen for _, pen in self._rows], dtype=float)
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), preprocessor=normalize, sublinear_tf=True
        )
        self.matrix = self.vectorizer.fit_transform(flat) if any(t.strip() for t in flat) else None
        # The query's TF-IDF row without scikit-learn's per-call input checks (nlu/serving.py),
        # which cost more than the arithmetic on one message; the same numbers.
        self._transform = _transform_function(self.vectorizer)
        self.encoder = load_encoder(encoder) if encoder else None
        self._vectors = self.encoder.encode(flat) if self.encoder is not None and self.matrix is not None else None

    @property
    def semantic(self) -> bool:
        return self._vectors is not None

    def scores(self, query: str) -> np.ndarray:
        """One score per entry (see the module docstring)."""
        # linear_kernel(query row, matrix) without its input checks: the same product
        per_text = (self._transform([query]) @ self.matrix.T).toarray().ravel() - self._penalties
        if self._vectors is not None and self.encoder is not None:
            semantic = self._vectors @ self.encoder.encode([query])[0] - SEMANTIC_OFFSET - self._penalties
            per_text = np.maximum(per_text, semantic)
        scores = np.full(len(self.ids), -np.inf)
        np.maximum.at(scores, self._positions, per_text)
        return scores

    def search(self, query: str, *, k: int = 3, min_score: float | None = None) -> list[FaqHit]:
        if self.matrix is None or not query.strip():
            return []
        threshold = self.MIN_SCORE if min_score is None else min_score
        k = min(k, len(self.ids))
        scores = self.scores(query)
        ranked = scores.argsort()[::-1][:k]
        return [FaqHit(entry_id=self.ids[i], score=float(scores[i])) for i in ranked if scores[i] >= threshold]
