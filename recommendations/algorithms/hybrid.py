"""Hybrid: a weighted blend of per-user-normalised scores of several recommenders, with the
user's history weighted by recency and repeat strength before it is fed to item-item models.

Why this works on wholesale purchase data: shops re-stock what they bought recently, so recent
baskets say more about the next order than old ones; EASE captures item-item substitution and
complement structure; co-purchase within one invoice adds "bought together" signal; user-kNN
adds neighbourhood taste; a little popularity breaks ties for thin histories.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from .base import FitContext, Recommender, weighted_history


def _normalise_rows(scores: np.ndarray) -> np.ndarray:
    top = np.max(np.abs(scores), axis=1, keepdims=True)
    top[top == 0] = 1.0
    return scores / top


class Hybrid(Recommender):
    """score(u) = sum_c weight_c * normalise(score_c(u)).

    Components that expose `score_history(history_rows)` (linear item-item models) are scored on
    the recency/count-weighted history; others on their own fitted input.
    """

    name = "hybrid"

    def __init__(
        self,
        components: dict[str, tuple[Callable[[], Recommender], float]],
        half_life_days: float | None = 60.0,
        count_power: float = 0.0,
    ) -> None:
        super().__init__()
        self.component_specs = components
        self.half_life_days = half_life_days
        self.count_power = count_power
        self.models: dict[str, Recommender] = {}
        self.weights: dict[str, float] = {}

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> Hybrid:
        super().fit(user_items, context)
        self.history = weighted_history(
            self.user_items, context, half_life_days=self.half_life_days, count_power=self.count_power
        ).astype(np.float32)
        for name, (factory, weight) in self.component_specs.items():
            if weight == 0:
                continue
            self.models[name] = factory().fit(self.user_items, context)
            self.weights[name] = weight
        return self

    def component_scores(self, user_rows: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        history = self.history[user_rows]
        for name, model in self.models.items():
            if hasattr(model, "score_history"):
                out[name] = model.score_history(history)
            else:
                out[name] = model.score(user_rows)
        return out

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        total = np.zeros((len(user_rows), self.n_items))
        for name, scores in self.component_scores(np.asarray(user_rows)).items():
            total += self.weights[name] * _normalise_rows(np.asarray(scores, dtype=np.float64))
        return total

    def __getstate__(self) -> dict:
        # Factories are lambdas (not picklable); a fitted hybrid only needs the fitted models.
        state = self.__dict__.copy()
        state["component_specs"] = {}
        return state
