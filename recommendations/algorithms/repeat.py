"""Repeat purchases ("buy it again"): wholesale customers re-order what they bought, often and
recently. Scores only the user's own items: count ** count_power x 0.5 ** (age / half-life)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import FitContext, Recommender, weighted_history


class RepeatPurchase(Recommender):
    name = "repeat_purchase"

    def __init__(self, half_life_days: float = 60.0, count_power: float = 1.0) -> None:
        super().__init__()
        self.half_life_days = half_life_days
        self.count_power = count_power

    def fit(self, user_items: sp.csr_matrix, context: FitContext | None = None) -> RepeatPurchase:
        super().fit(user_items, context)
        self.scores = weighted_history(
            self.user_items, context, half_life_days=self.half_life_days, count_power=self.count_power
        ).tocsr()
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.scores[user_rows].todense())
