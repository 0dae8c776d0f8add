"""The issue's goal on the full UCI Online Retail file (read in place)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.management import call_command

UCI = settings.SHARED_DATA_DIR / "uci-online-retail" / "online_retail.csv.gz"


@pytest.mark.realdata
def test_evaluate_recommenders_on_uci_beats_the_library_baselines(tmp_path):
    out = tmp_path / "report.json"
    call_command(
        "evaluate_recommenders",
        "--cutoff-quantile",
        "0.8",
        "--k",
        "10",
        "--json",
        str(out),
        "--csv",
        str(UCI),
        "--algorithms",
        "implicit_als,user_knn,most_popular,hybrid",
    )
    report = json.loads(out.read_text())
    results = report["results"]
    assert report["users_evaluated"] > 1000
    best_baseline = max(results[n]["ndcg@10"] for n in ("implicit_als", "user_knn", "most_popular"))
    assert results["hybrid"]["ndcg@10"] >= 1.15 * best_baseline
    assert set(results["hybrid"]) == {
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
        "hit_rate@10",
        "coverage",
        "fit_seconds",
    }


def test_evaluate_recommenders_rejects_bad_arguments():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("evaluate_recommenders", "--cutoff-quantile", "1.5", "--csv", str(UCI))
    with pytest.raises(CommandError, match="Unknown algorithms"):
        call_command("evaluate_recommenders", "--algorithms", "magic", "--csv", str(UCI))


@pytest.mark.django_db
def test_evaluate_recommenders_without_purchases_in_db_says_so():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No purchases in the database"):
        call_command("evaluate_recommenders")
