"""Simulated ad traffic with KNOWN click probabilities (seeded), for the demo and for tests
that check the learned click model ranks contexts the way the truth does."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
GENDERS = ["f", "m", "o"]
COUNTRIES = ["United Kingdom", "France", "Germany", "EIRE", "Spain"]
SLOTS = ["listing", "search", "product"]


@dataclass(frozen=True)
class SimulatedAd:
    ad_id: int
    campaign_id: int
    category_id: int | None


@dataclass(frozen=True)
class SimulatedImpression:
    features: dict[str, str]
    true_ctr: float
    clicked: bool
    day_offset: int  # 0 = today, 1 = yesterday, ...


# How a shopper reacts to an ad that fits the page (advertising.relevance.Match.features):
# a product of the page's category, of the page product's recommender lists, or with the search
# words in its title draws more clicks; a misfit draws fewer.
CONTEXT_EFFECTS: dict[str, dict[str, float]] = {
    "same_category": {"1": 0.6, "0": -0.5, "": 0.0},
    "in_similar": {"similar": 0.5, "together": 0.7, "none": -0.3, "": 0.0},
    "query_overlap": {"all": 0.8, "high": 0.5, "low": 0.0, "0": -0.7, "": 0.0},
}


def _effects(rng: np.random.Generator, ads: Sequence[SimulatedAd]) -> dict[str, dict]:
    """The hidden truth: per-ad appeal and per-(ad, age band) / (ad, slot) affinities."""
    return {
        "ad": {ad.ad_id: rng.normal(0.0, 0.8) for ad in ads},
        "ad_age": {(ad.ad_id, band): rng.normal(0.0, 0.7) for ad in ads for band in AGE_BANDS},
        "slot": {"listing": 0.0, "search": 0.4, "product": -0.3},
        "gender": {(ad.ad_id, g): rng.normal(0.0, 0.4) for ad in ads for g in GENDERS},
        "context": CONTEXT_EFFECTS,
    }


def true_ctr(
    effects: dict[str, dict],
    ad: SimulatedAd,
    age_band: str,
    gender: str,
    slot: str,
    base: float = -2.5,
    context: dict[str, str] | None = None,
) -> float:
    z = (
        base
        + effects["ad"][ad.ad_id]
        + effects["ad_age"][(ad.ad_id, age_band)]
        + effects["slot"][slot]
        + effects["gender"][(ad.ad_id, gender)]
    )
    for name, value in (context or {}).items():
        z += effects["context"][name].get(value, 0.0)
    return 1.0 / (1.0 + math.exp(-z))


def _page_context(rng: np.random.Generator, slot: str) -> dict[str, str]:
    """The context-match features of one impression: relevance-gated serving mostly shows ads that
    fit (same category, similar list, search words), with some misfits from run-of-site ads."""
    context = {"same_category": "", "in_similar": "", "query_overlap": ""}
    if slot in ("listing", "product"):
        context["same_category"] = "1" if rng.random() < 0.65 else "0"
    if slot == "product":
        context["in_similar"] = str(rng.choice(["similar", "together", "none"], p=[0.3, 0.15, 0.55]))
    if slot == "search":
        context["query_overlap"] = str(rng.choice(["all", "high", "low", "0"], p=[0.35, 0.3, 0.2, 0.15]))
    return context


def simulate(
    ads: Sequence[SimulatedAd], *, n: int, seed: int, days: int = 14
) -> tuple[list[SimulatedImpression], dict]:
    """n impressions over the last `days` days, oldest first; returns them and the hidden truth."""
    rng = np.random.default_rng(seed)
    effects = _effects(rng, ads)
    out: list[SimulatedImpression] = []
    for i in range(n):
        ad = ads[int(rng.integers(len(ads)))]
        age_band = AGE_BANDS[int(rng.integers(len(AGE_BANDS)))]
        gender = GENDERS[int(rng.integers(len(GENDERS)))]
        slot = SLOTS[int(rng.integers(len(SLOTS)))]
        context = _page_context(rng, slot)
        p = true_ctr(effects, ad, age_band, gender, slot, context=context)
        hour = int(rng.integers(24))
        day_offset = days - 1 - (i * days) // n
        features = {
            "age_band": age_band,
            "gender": gender,
            "country": COUNTRIES[int(rng.integers(len(COUNTRIES)))],
            "segment": "",
            "ad": str(ad.ad_id),
            "campaign": str(ad.campaign_id),
            "category": "" if ad.category_id is None else str(ad.category_id),
            "slot": slot,
            "hour": str(hour),
            "weekday": str(int(rng.integers(7))),
            **context,
        }
        out.append(
            SimulatedImpression(features=features, true_ctr=p, clicked=bool(rng.random() < p), day_offset=day_offset)
        )
    return out, effects
