"""The click model (no Django) and its training from the logs (registry, promotion, truth)."""

from decimal import Decimal

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from advertising.ctr.audience import audience_scores
from advertising.ctr.model import CTRModel, evaluate_time_split, metrics_for
from advertising.ctr.simulation import AGE_BANDS, GENDERS, SLOTS, SimulatedAd, simulate, true_ctr


def _synthetic(n, seed=0):
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for _ in range(n):
        a, b = int(rng.integers(5)), int(rng.integers(4))
        p = 0.02 + 0.25 * (a == 3) + 0.1 * (b == 1 and a == 2)
        rows.append({"a": str(a), "b": str(b), "noise": str(int(rng.integers(50)))})
        labels.append(int(rng.random() < p))
    return rows, labels


def test_ctr_model_learns_signal_and_is_calibrated():
    rows, labels = _synthetic(6000)
    model = CTRModel(["a", "b", "noise"], [("a", "b")], ["noise"], C=1.0, n_features=2**14).fit(
        rows[:5000], labels[:5000]
    )
    scores = metrics_for(labels[5000:], model.predict_proba(rows[5000:]))
    assert scores["auc"] > 0.75
    assert 0.8 < scores["calibration"] < 1.25
    assert model.predict_proba([{"a": "3", "b": "0"}])[0] > model.predict_proba([{"a": "0", "b": "0"}])[0]


def test_ctr_model_needs_both_classes():
    with pytest.raises(ValueError, match="needs both clicks and non-clicks"):
        CTRModel(["a"]).fit([{"a": "1"}] * 10, [0] * 10)


def test_evaluate_time_split_reports_all_figures_and_baseline():
    rows, labels = _synthetic(4000, seed=1)
    result = evaluate_time_split(
        rows, labels, features=["a", "b", "noise"], test_fraction=0.25, c_grid=(0.3, 1.0), n_features=2**14
    )
    assert result["n_train"] == 3000 and result["n_test"] == 1000
    for key in ("auc", "logloss", "calibration", "fit_seconds"):
        assert key in result and key in result["baseline_hashed_lr"]
    assert result["params"]["C"] in (0.3, 1.0) and len(result["tuning"]) == 2


def test_audience_classifier_scores_lookalikes_higher():
    # positives browse category 7; the unlabelled who also browse 7 should score higher
    tokens, labels = [], []
    rng = np.random.default_rng(0)
    for i in range(300):
        likes = i % 3 == 0
        tokens.append([f"cat={7 if likes else int(rng.integers(20, 30))}", f"age={i % 4}"])
        labels.append(1 if likes and i % 2 == 0 else 0)
    scores = audience_scores(tokens, labels)
    lookalikes = [s for s, t, y in zip(scores, tokens, labels, strict=True) if t[0] == "cat=7" and y == 0]
    others = [s for s, t in zip(scores, tokens, strict=True) if t[0] != "cat=7"]
    assert min(lookalikes) > max(others)
    assert audience_scores([["a"], ["b"]], [1, 0]) is None


@pytest.mark.django_db
def test_retrained_model_ranks_simulated_traffic_like_the_truth(settings):
    # given demo-style campaigns with simulated traffic whose true CTRs are known
    from advertising.demo import simulated_traffic_store
    from advertising.models import Campaign
    from advertising.training import ctr_model_train
    from ecommerce.ml import model_load_active
    from tests.factories.advertising import AdFactory, CampaignFactory

    campaigns = []
    for _ in range(3):
        campaign = CampaignFactory(with_ad=False, total_budget=Decimal("100000"), daily_budget=Decimal("100000"))
        AdFactory(campaign=campaign)
        AdFactory(campaign=campaign)
        campaigns.append(campaign)
    stored = simulated_traffic_store(campaigns=campaigns, n=6000, seed=7)
    assert stored["clicks"] > 100
    # when
    result = ctr_model_train(c_grid=(0.1,))
    # then: registered, promoted, and its predictions order contexts like the true CTRs
    assert result["status"] == "trained" and result["promoted"] is True
    model = model_load_active("advertising.ctr").artifact
    ads = [SimulatedAd(a.pk, a.campaign_id, a.product.category_id) for c in campaigns for a in c.ads.all()]
    _, effects = simulate(ads, n=6000, seed=7)
    contexts, truth = [], []
    # The page context: an ad that fits the page (same category, similar list, search words in its
    # title) and one that does not, per slot (the context-match features of advertising.relevance).
    page_contexts = {
        "listing": [{"same_category": "1"}, {"same_category": "0"}],
        "product": [{"same_category": "1", "in_similar": "similar"}, {"same_category": "0", "in_similar": "none"}],
        "search": [{"query_overlap": "all"}, {"query_overlap": "0"}],
    }
    for ad in ads:
        for band in AGE_BANDS:
            for gender in GENDERS:
                for slot in SLOTS:
                    for page in page_contexts[slot]:
                        context = {"same_category": "", "in_similar": "", "query_overlap": "", **page}
                        contexts.append(
                            {
                                "age_band": band,
                                "gender": gender,
                                "country": "",
                                "segment": "",
                                "ad": str(ad.ad_id),
                                "campaign": str(ad.campaign_id),
                                "category": str(ad.category_id),
                                "slot": slot,
                                "hour": "12",
                                "weekday": "2",
                                **context,
                            }
                        )
                        truth.append(true_ctr(effects, ad, band, gender, slot, context=context))
    predicted = model.predict_proba(contexts)
    # the context-match features are in the model and learned: a fitting ad is predicted to draw
    # clearly more clicks than the same ad on a page it does not fit
    assert {"same_category", "in_similar", "query_overlap"} <= set(model.features)
    fits = np.arange(len(contexts)) % 2 == 0
    assert predicted[fits].mean() > 1.5 * predicted[~fits].mean()
    rho = spearmanr(predicted, truth).statistic
    assert rho > 0.7, rho
    # AUC of the predictions against clicks drawn from the true probabilities
    rng = np.random.default_rng(0)
    clicks = rng.random((50, len(truth))) < np.array(truth)
    assert roc_auc_score(clicks.ravel(), np.tile(predicted, 50)) > 0.6
    # a second run on the same data is not better on the same held-out part: not promoted
    again = ctr_model_train(c_grid=(0.1,))
    assert again["promoted"] is False
    assert Campaign.objects.count() == 3
