"""Hyper-parameter search on a validation split cut from the training period only (no Django here).

The test split of `evaluate_recommenders` cuts the purchases at the Q-quantile: train before,
test after. Tuning must never look after that cut, so `validation_split` takes the outer split
and cuts again inside its training purchases (`Split.train_purchases`): fit before the inner
cut, validate between the inner and the outer cut. Every grid below is scored on that inner
split; the chosen parameters are the best validation NDCG@k per family.

`manage.py tune_recommenders` runs it (docs/benchmarks/recommendations.md has the command and
the figures of a full run on UCI Online Retail).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .algorithms import EASE, Hybrid, ImplicitALS, ImplicitItemKNN, RepeatPurchase, TrendingPopularity
from .algorithms.base import Recommender
from .evaluation import Split, evaluate_recommender, temporal_split

# The inner cut: the same 80% rule as the outer one, applied to the training period.
VALIDATION_QUANTILE = 0.8
# The serving hybrid's settings (recommendations.algorithms.hybrid_default), the base of hybrid_repeat.
HYBRID_SERVING = {
    "ease_l2": 100.0,
    "ease_half_life": 60.0,
    "trending_half_life": 7.0,
    "trending_weight": 0.1,
    "history_half_life": 90.0,
}


def validation_split(outer: Split, quantile: float = VALIDATION_QUANTILE, **kwargs: Any) -> Split:
    """A temporal split of `outer`'s training purchases only (the test period is never read)."""
    if outer.train_purchases.empty:
        raise ValueError("the outer split carries no training purchases to cut a validation split from")
    inner = temporal_split(outer.train_purchases, quantile, protocol=outer.protocol, **kwargs)
    inner.context.num_threads = outer.context.num_threads
    return inner


def _grid(**axes: list[Any]) -> Iterator[dict[str, Any]]:
    names = list(axes)
    for values in itertools.product(*(axes[n] for n in names)):
        yield dict(zip(names, values, strict=True))


def _hybrid(
    *,
    ease_l2: float,
    ease_half_life: float,
    trending_half_life: float,
    trending_weight: float,
    history_half_life: float,
    repeat_weight: float = 0.0,
    repeat_half_life: float = 120.0,
    repeat_count_power: float = 1.0,
) -> Hybrid:
    components: dict[str, tuple[Callable[[], Recommender], float]] = {
        "ease": (lambda: EASE(l2=ease_l2, half_life_days=ease_half_life), 1.0),
        "trending": (lambda: TrendingPopularity(half_life_days=trending_half_life), trending_weight),
    }
    if repeat_weight:
        components["repeat"] = (
            lambda: RepeatPurchase(half_life_days=repeat_half_life, count_power=repeat_count_power),
            repeat_weight,
        )
    return Hybrid(components=components, half_life_days=history_half_life)


@dataclass(frozen=True)
class Family:
    """One algorithm and the grid of its parameters that the search tries."""

    name: str
    build: Callable[..., Recommender]
    grid: list[dict[str, Any]]


def families(protocol: str = "new", *, quick: bool = False) -> list[Family]:
    """What was tuned for docs/benchmarks/recommendations.md: the implicit BM25 item-kNN baseline
    (neighbours, K1, B), implicit ALS (factors, alpha, regularization), EASE's L2 and the serving
    hybrid's weights and half-lives (plus the repeat component under the repeat protocol).
    `quick` keeps two values per axis (for tests and a first look)."""

    def axis(full: list[Any], short: list[Any]) -> list[Any]:
        return short if quick else full

    hybrid_axes: dict[str, list[Any]] = {
        "ease_l2": [100.0],
        "ease_half_life": axis([30.0, 60.0, 120.0], [60.0]),
        "trending_half_life": [7.0],
        "trending_weight": axis([0.0, 0.05, 0.1, 0.2], [0.0, 0.1]),
        "history_half_life": axis([45.0, 90.0, 180.0], [90.0]),
    }
    if protocol == "repeat":
        # hybrid_repeat = the serving hybrid (its own settings, tuned under "new") + the customer's
        # own purchases: only the repeat component's weight, half-life and count power are searched.
        hybrid_axes = {
            **{name: [HYBRID_SERVING[name]] for name in HYBRID_SERVING},
            "repeat_weight": axis([1.0, 2.0, 4.0], [2.0]),
            "repeat_half_life": axis([60.0, 120.0, 240.0], [120.0]),
            "repeat_count_power": axis([0.5, 1.0], [1.0]),
        }
    return [
        Family(
            "implicit_bm25",
            lambda **p: ImplicitItemKNN(kind="bm25", **p),
            list(
                _grid(
                    neighbours=axis([20, 50, 100, 200], [20, 100]),
                    k1=axis([1.2, 100.0], [1.2, 100.0]),
                    b=axis([0.75, 0.8], [0.75]),
                )
            ),
        ),
        Family(
            "implicit_als",
            lambda **p: ImplicitALS(**p),
            list(
                _grid(
                    factors=axis([32, 64, 128], [32]),
                    alpha=axis([1.0, 10.0, 40.0], [1.0, 10.0]),
                    regularization=axis([0.01, 0.1], [0.01]),
                )
            ),
        ),
        Family("ease", lambda **p: EASE(**p), list(_grid(l2=axis([50.0, 100.0, 200.0, 500.0], [100.0, 200.0])))),
        Family("hybrid", _hybrid, list(_grid(**hybrid_axes))),
    ]


@dataclass
class FamilyResult:
    name: str
    best_params: dict[str, Any]
    best_score: float
    tried: list[tuple[dict[str, Any], float]] = field(default_factory=list)


def search(
    split: Split,
    k: int,
    candidates: list[Family],
    progress: Callable[[str, dict[str, Any], float], None] | None = None,
) -> list[FamilyResult]:
    """Score every candidate of every family on `split` (a validation split) by NDCG@k."""
    metric = f"ndcg@{k}"
    results = []
    for family in candidates:
        tried = []
        for params in family.grid:
            score = float(evaluate_recommender(family.build(**params), split, k)[metric])
            tried.append((params, score))
            if progress is not None:
                progress(family.name, params, score)
        # Ties go to the earlier (simpler, smaller) setting of the grid.
        best_params, best_score = max(tried, key=lambda pair: pair[1])
        results.append(FamilyResult(family.name, best_params, best_score, tried))
    return results
