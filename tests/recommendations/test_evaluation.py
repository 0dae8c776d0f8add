"""The evaluation protocol and metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recommendations.algorithms import MostPopular
from recommendations.evaluation import (
    evaluate_recommender,
    format_table,
    ranking_metrics,
    temporal_split,
    uci_purchases_from_frame,
)


def test_ranking_metrics_hand_computed():
    # truth {1, 3}; recommended [1, 2, 3]; k = 3
    m = ranking_metrics(np.array([[1, 2, 3]]), [{1, 3}], 3, n_items=10)
    assert m["precision@3"] == pytest.approx(2 / 3)
    assert m["recall@3"] == pytest.approx(1.0)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert m["ndcg@3"] == pytest.approx(dcg / idcg)
    assert m["map@3"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert m["hit_rate@3"] == 1.0
    assert m["coverage"] == pytest.approx(0.3)


def test_ranking_metrics_map_normalised_by_min_truth_and_k():
    # 5 relevant items, k = 2, both hits: AP = (1 + 1) / min(5, 2) = 1
    m = ranking_metrics(np.array([[0, 1]]), [{0, 1, 2, 3, 4}], 2, n_items=5)
    assert m["map@2"] == pytest.approx(1.0)
    assert m["ndcg@2"] == pytest.approx(1.0)
    assert m["recall@2"] == pytest.approx(2 / 5)


def test_ranking_metrics_misses_and_padding():
    m = ranking_metrics(np.array([[7, -1], [1, 2]]), [{1}, {5}], 2, n_items=8)
    assert m["ndcg@2"] == 0.0
    assert m["hit_rate@2"] == 0.0
    assert m["coverage"] == pytest.approx(3 / 8)


def _raw(rows):
    return pd.DataFrame(
        rows,
        columns=[
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ],
    )


def test_uci_rules_drop_fees_cancellations_returns_and_unknown_customers():
    raw = _raw(
        [
            ["1", "A", "MUG", 2, "2011-01-01", 1.0, 1.0, "UK"],
            ["1", "POST", "POSTAGE", 1, "2011-01-01", 18.0, 1.0, "UK"],
            ["C2", "A", "MUG", 2, "2011-01-02", 1.0, 1.0, "UK"],
            ["3", "B", "BAG", -1, "2011-01-02", 1.0, 1.0, "UK"],
            ["4", "B", "BAG", 1, "2011-01-02", 0.0, 1.0, "UK"],
            ["5", "B", "BAG", 1, "2011-01-02", 1.0, None, "UK"],
            ["6", "bank charges", "FEE", 1, "2011-01-02", 1.0, 2.0, "UK"],
        ]
    )
    purchases, descriptions = uci_purchases_from_frame(raw)
    assert purchases[["user", "item", "basket"]].values.tolist() == [["1", "A", "1"]]
    assert descriptions == {"A": "MUG"}


def _purchases():
    t = pd.Timestamp
    return pd.DataFrame(
        [
            # user, item, ts, basket
            ("u1", "a", t("2011-01-01"), "1"),
            ("u1", "b", t("2011-01-02"), "2"),
            ("u2", "a", t("2011-01-03"), "3"),
            ("u2", "c", t("2011-01-04"), "4"),
            ("u3", "b", t("2011-01-05"), "5"),
            # after the cut
            ("u1", "a", t("2011-02-01"), "6"),  # repeat: only in the repeat protocol
            ("u1", "c", t("2011-02-02"), "7"),  # new and known
            ("u1", "z", t("2011-02-02"), "7"),  # unknown in training: never truth
            ("u4", "a", t("2011-02-03"), "8"),  # no training history: not evaluated
            ("u2", "a", t("2011-02-04"), "9"),  # only a repeat: u2 not evaluated under "new"
        ],
        columns=["user", "item", "ts", "basket"],
    ).assign(quantity=1)


def test_temporal_split_new_protocol_truth():
    split = temporal_split(_purchases(), 0.5)
    assert split.items == ["a", "b", "c"]
    evaluated = {split.users[r]: {split.items[i] for i in t} for r, t in zip(split.eval_rows, split.truth, strict=True)}
    assert evaluated == {"u1": {"c"}}


def test_temporal_split_repeat_protocol_keeps_repurchases():
    split = temporal_split(_purchases(), 0.5, protocol="repeat")
    evaluated = {split.users[r]: {split.items[i] for i in t} for r, t in zip(split.eval_rows, split.truth, strict=True)}
    assert evaluated == {"u1": {"a", "c"}, "u2": {"a"}}


def test_temporal_split_rejects_bad_quantile_and_protocol():
    with pytest.raises(ValueError, match="quantile"):
        temporal_split(_purchases(), 1.0)
    with pytest.raises(ValueError, match="protocol"):
        temporal_split(_purchases(), 0.5, protocol="other")


def test_evaluate_recommender_excludes_training_items_and_reports_all_metrics():
    split = temporal_split(_purchases(), 0.5)
    metrics = evaluate_recommender(MostPopular(), split, k=2)
    # u1 owns a and b: only c can be recommended, and it is the truth
    assert metrics["ndcg@2"] == pytest.approx(1.0)
    assert set(metrics) == {"precision@2", "recall@2", "ndcg@2", "map@2", "hit_rate@2", "coverage", "fit_seconds"}
    table = format_table(
        {"k": 2, "cutoff": split.cutoff, "protocol": "new", "users_evaluated": 1, "results": {"most_popular": metrics}}
    )
    assert "most_popular" in table and "ndcg@2" in table
