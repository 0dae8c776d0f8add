"""Behavioural clustering: KMeans on standardized per-shopper features, k chosen by silhouette,
each cluster named in plain words from how its centroid differs from the average shopper.

Plain NumPy/scikit-learn: no Django import, tested on small arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

# A centroid this many standard deviations from the mean on a feature "has" that trait.
TRAIT_Z = 0.5
# Silhouette on more points costs O(n²): a fixed-size sample keeps choosing k cheap.
SILHOUETTE_SAMPLE = 3000


@dataclass
class Clustering:
    k: int
    labels: np.ndarray
    centroids: np.ndarray  # in original feature units
    centroid_z: np.ndarray  # standardized
    silhouette_by_k: dict[int, float]
    names: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)


def choose_and_fit(x: np.ndarray, *, k_range: range = range(2, 7), random_state: int = 0) -> Clustering:
    """Fit KMeans for every k in k_range (bounded by the number of distinct rows) and keep the one
    with the best silhouette score."""
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError("need at least 3 shoppers to cluster")
    scaler = StandardScaler()
    z = scaler.fit_transform(x)
    distinct = len(np.unique(np.round(z, 9), axis=0))
    scores: dict[int, float] = {}
    best: tuple[float, int, KMeans] | None = None
    for k in k_range:
        if k >= distinct or k >= x.shape[0]:
            break
        model = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(z)
        sample = min(SILHOUETTE_SAMPLE, x.shape[0])
        score = float(silhouette_score(z, model.labels_, sample_size=sample, random_state=random_state))
        scores[k] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, k, model)
    if best is None:
        raise ValueError("shoppers are too alike to form two clusters")
    _, k, model = best
    centroid_z = model.cluster_centers_
    return Clustering(
        k=k,
        labels=model.labels_,
        centroids=scaler.inverse_transform(centroid_z),
        centroid_z=centroid_z,
        silhouette_by_k=scores,
    )


# feature -> (word when high, word when low); "" means the trait has no word on that side.
TIME_WORDS = {"weekend_share": ("weekend", "weekday"), "night_share": ("late-night", "")}
PRICE_WORDS = {"avg_unit_price": ("premium buyers", "bargain hunters")}
ROLE_WORDS = {
    "orders": ("frequent buyers", ""),
    "avg_order_value": ("big-basket buyers", "small-basket buyers"),
    "product_views": ("keen browsers", ""),
    "searches": ("searchers", ""),
    "cart_rate": ("cart fillers", ""),
}
LABELS = {
    "orders": "orders",
    "avg_order_value": "average order value",
    "avg_unit_price": "average item price",
    "weekend_share": "share of activity at weekends",
    "night_share": "share of activity at night (20-06 h)",
    "product_views": "product views",
    "searches": "searches",
    "cart_rate": "add-to-cart per view",
}


def describe(centroid_z: np.ndarray, centroid: np.ndarray, means: np.ndarray, features: list[str]) -> tuple[str, str]:
    """A short name ("weekend bargain hunters") and a sentence with the numbers behind it."""
    z = dict(zip(features, centroid_z, strict=True))

    def pick(words: dict[str, tuple[str, str]]) -> str:
        best_word, best_strength = "", TRAIT_Z
        for feature, (high, low) in words.items():
            value = z.get(feature)
            if value is None:
                continue
            if value > best_strength and high:
                best_word, best_strength = high, value
            elif -value > best_strength and low:
                best_word, best_strength = low, -value
        return best_word

    time_word = pick(TIME_WORDS)
    if z.get("orders", 0) < -TRAIT_Z and z.get("product_views", 0) > 0:
        noun = "window shoppers"  # look around, rarely buy
    else:
        noun = pick(PRICE_WORDS) or pick(ROLE_WORDS)
    if not noun:
        low_activity = all(z.get(f, 0) < 0 for f in ("orders", "product_views", "searches") if f in z)
        noun = "occasional shoppers" if low_activity else "typical shoppers"
    if time_word and noun == "typical shoppers":
        noun = "shoppers"  # "Weekend shoppers", not "Weekend typical shoppers"
    name = f"{time_word} {noun}".strip()
    name = name[0].upper() + name[1:]
    ranked = sorted(range(len(features)), key=lambda i: -abs(centroid_z[i]))[:3]
    parts = []
    for i in ranked:
        direction = "more" if centroid_z[i] > 0 else "less"
        parts.append(
            f"{LABELS.get(features[i], features[i])} {direction} than average "
            f"({_figure(features[i], centroid[i])} vs {_figure(features[i], means[i])})"
        )
    return name, "; ".join(parts).capitalize() + "."


SHARE_FEATURES = {"weekend_share", "night_share"}


def _figure(feature: str, value: float) -> str:
    """Every feature is a count, an amount or a share, so never below zero: a centroid mapped back
    from log space can land a hair under it, which read as "-0.00". Shares read as percentages."""
    value = max(float(value), 0.0)
    if feature in SHARE_FEATURES:
        return f"{value * 100:.0f}%"
    return f"{value:.2f}"
