"""The click model's feature set for our own ad logs (the evaluation command takes any columns)."""

from __future__ import annotations

from typing import Any

# One token per column: who (age band, gender, country, segment), what (ad, campaign, category),
# where and when (slot, hour, weekday).
FEATURES: list[str] = [
    "age_band",
    "gender",
    "country",
    "segment",
    "ad",
    "campaign",
    "category",
    "slot",
    "hour",
    "weekday",
    "page_match",  # the ad's product is in the page's category / matches the search words
    # Context match (advertising.relevance.Match.features; '' where the page has no such signal):
    "same_category",  # "1"/"0": the ad's product is in the page's category
    "in_similar",  # "similar"/"together"/"none": in the page product's recommender lists
    "query_overlap",  # "0"/"low"/"high"/"all": share of the search words in the ad's title
]
# Crosses let the linear model learn "this ad works for this audience / in this slot".
CROSSES: list[tuple[str, str]] = [
    ("ad", "age_band"),
    ("ad", "gender"),
    ("ad", "country"),
    ("ad", "segment"),
    ("ad", "slot"),
    ("campaign", "age_band"),
    ("category", "age_band"),
    ("category", "gender"),
    ("slot", "hour"),
    ("age_band", "gender"),
    ("slot", "page_match"),
    ("slot", "same_category"),
    ("slot", "in_similar"),
    ("category", "same_category"),
    ("ad", "query_overlap"),
]


def feature_row(values: dict[str, Any]) -> dict[str, str]:
    """Normalize one impression's features to strings (missing -> '')."""
    return {name: "" if values.get(name) is None else str(values.get(name)) for name in FEATURES}
