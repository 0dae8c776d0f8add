"""The hyper-parameter search: it reads the training period only and picks the best validation score."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from recommendations.algorithms import MostPopular, hybrid_default
from recommendations.evaluation import temporal_split
from recommendations.tuning import HYBRID_SERVING, Family, families, search, validation_split


def _purchases(n_users: int = 40, n_items: int = 12, days: int = 100, seed: int = 0) -> pd.DataFrame:
    """Synthetic shop: each user buys from a small taste group of items, spread over `days`."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        group = [(u % 3) * 4 + k for k in range(4)]
        for day in sorted(rng.choice(days, size=8, replace=False)):
            item = int(rng.choice(group))
            when = pd.Timestamp("2011-01-01") + pd.Timedelta(days=int(day))
            rows.append({"user": str(u), "item": f"I{item}", "ts": when, "basket": f"{u}-{day}", "quantity": 1})
    return pd.DataFrame(rows)


def test_validation_split_never_reads_the_test_period():
    # given an outer (test) split at the 80% quantile
    purchases = _purchases()
    outer = temporal_split(purchases, 0.8)
    # when the validation split is cut from it
    inner = validation_split(outer, 0.8)
    # then everything it fits on or validates against lies before the test cut
    assert inner.cutoff < outer.cutoff
    assert inner.train_purchases["ts"].max() < inner.cutoff
    assert outer.train_purchases["ts"].max() < outer.cutoff
    validated_items = {inner.items[i] for truth in inner.truth for i in truth}
    after_test_cut = set(purchases.loc[purchases["ts"] >= outer.cutoff, "item"])
    assert len(inner.eval_rows) > 0
    # the truth comes from the validation window, which the test window does not overlap
    window = purchases[(purchases["ts"] >= inner.cutoff) & (purchases["ts"] < outer.cutoff)]
    assert validated_items <= set(window["item"])
    assert after_test_cut  # the data has a test period that the search ignored


def test_validation_split_refuses_an_outer_split_without_training_purchases():
    outer = temporal_split(_purchases(), 0.8)
    outer.train_purchases = pd.DataFrame()
    with pytest.raises(ValueError, match="no training purchases"):
        validation_split(outer)


def test_search_picks_the_best_validation_score_per_family():
    split = validation_split(temporal_split(_purchases(), 0.8), 0.75)
    good = families("new", quick=True)
    ease = next(f for f in good if f.name == "ease")
    # a family whose one "parameter" switches between a real model and a constant popularity list
    toy = Family(
        "toy",
        lambda kind: ease.build(l2=10.0) if kind == "ease" else MostPopular(),
        [{"kind": "popular"}, {"kind": "ease"}],
    )
    result = search(split, 5, [toy])[0]
    scores = {p["kind"]: s for p, s in result.tried}
    assert result.best_score == max(scores.values())
    assert result.best_params == {"kind": max(scores, key=scores.get)}


def test_tune_command_prints_and_writes_the_chosen_parameters(tmp_path):
    purchases = _purchases()
    raw = pd.DataFrame(
        {
            "InvoiceNo": purchases["basket"],
            "StockCode": purchases["item"],
            "Description": "MUG",
            "Quantity": 1,
            "InvoiceDate": purchases["ts"].dt.strftime("%Y-%m-%d %H:%M"),
            "UnitPrice": 1.0,
            "CustomerID": purchases["user"].astype(float),
            "Country": "UK",
        }
    )
    csv = tmp_path / "uci.csv"
    raw.to_csv(csv, index=False)
    out = tmp_path / "tuned.json"
    call_command(
        "tune_recommenders",
        "--csv",
        str(csv),
        "--quick",
        "--families",
        "ease,implicit_bm25",
        "--k",
        "5",
        "--json",
        str(out),
    )
    report = json.loads(out.read_text())
    assert set(report["families"]) == {"ease", "implicit_bm25"}
    assert report["validation_cutoff"] < report["test_cutoff"]
    for family in report["families"].values():
        assert family["best_score"] == max(t["score"] for t in family["tried"])


def test_tune_command_rejects_bad_arguments():
    with pytest.raises(CommandError, match="validation-quantile"):
        call_command("tune_recommenders", "--validation-quantile", "1.2")
    with pytest.raises(CommandError, match="Unknown families"):
        call_command("tune_recommenders", "--families", "magic")


def test_repeat_protocol_searches_only_the_repeat_component_on_top_of_the_serving_hybrid():
    hybrid = next(f for f in families("repeat") if f.name == "hybrid")
    assert len(hybrid.grid) == 18
    assert all({k: p[k] for k in HYBRID_SERVING} == HYBRID_SERVING for p in hybrid.grid)
    assert {p["repeat_weight"] for p in hybrid.grid} == {1.0, 2.0, 4.0}


def test_hybrid_serving_constants_match_the_serving_hybrid():
    served = hybrid_default()
    ease_factory, ease_weight = served.component_specs["ease"]
    trending_factory, trending_weight = served.component_specs["trending"]
    ease, trending = ease_factory(), trending_factory()
    assert (ease.l2, ease.half_life_days, ease_weight) == (
        HYBRID_SERVING["ease_l2"],
        HYBRID_SERVING["ease_half_life"],
        1.0,
    )
    assert (trending.half_life_days, trending_weight) == (
        HYBRID_SERVING["trending_half_life"],
        HYBRID_SERVING["trending_weight"],
    )
    assert served.half_life_days == HYBRID_SERVING["history_half_life"]
