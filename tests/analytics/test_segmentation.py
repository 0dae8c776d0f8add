import numpy as np
import pytest

from analytics.ml.clustering import choose_and_fit, describe
from analytics.models import Segment
from analytics.segmentation import FEATURES, cluster_segments_save, rfm_segments_save
from analytics.selectors import segment_member_ids, segments_for_user
from tests.factories.analytics import build_demo_shop


def test_choose_and_fit_finds_planted_clusters_by_silhouette():
    rng = np.random.default_rng(0)
    a = rng.normal([0, 0], 0.1, size=(30, 2))
    b = rng.normal([5, 5], 0.1, size=(30, 2))
    c = rng.normal([0, 5], 0.1, size=(30, 2))
    result = choose_and_fit(np.vstack([a, b, c]), k_range=range(2, 6))

    assert result.k == 3
    assert max(result.silhouette_by_k, key=result.silhouette_by_k.get) == 3
    assert len(set(result.labels[:30])) == 1 and len(set(result.labels)) == 3


def test_describe_names_weekend_bargain_hunters():
    z = np.array([0.1, -0.2, -1.5, 1.2, 0.0, 0.0, 0.0, 0.0])
    centroid = np.array([1, 20, 2.5, 0.9, 0.1, 3, 0, 0.2])
    means = np.array([1, 25, 12, 0.4, 0.1, 3, 0, 0.2])

    name, description = describe(z, centroid, means, FEATURES)

    assert name == "Weekend bargain hunters"
    assert "average item price less than average (2.50 vs 12.00)" in description.lower()


def test_describe_never_shows_negative_figures_and_shows_shares_as_percentages():
    z = np.array([-1.5, 0.0, 0.0, 1.2, 0.0, 0.0, 0.0, 0.0])
    centroid = np.array([-0.0004, 20, 2.5, 0.9, 0.1, 3, 0, 0.2])  # orders a hair below zero
    means = np.array([2.6, 25, 12, 0.4, 0.1, 3, 0, 0.2])

    _, description = describe(z, centroid, means, FEATURES)

    assert "-0" not in description
    assert "orders less than average (0.00 vs 2.60)" in description.lower()
    assert "(90% vs 40%)" in description


def test_choose_and_fit_rejects_identical_shoppers():
    with pytest.raises(ValueError, match="too alike"):
        choose_and_fit(np.ones((10, 3)))


@pytest.mark.django_db
def test_cluster_and_rfm_segments_are_saved_for_selectors():
    shop = build_demo_shop(shoppers=30)

    clusters = cluster_segments_save()
    rfm = rfm_segments_save()

    saved = Segment.objects.filter(kind="cluster")
    assert clusters["clusters"] == saved.count() >= 2
    assert sum(len(segment_member_ids(key=s.key)) for s in saved) == clusters["shoppers"]
    assert all(s.description and s.name for s in saved)
    assert (
        sum(rfm.values())
        == Segment.objects.get(key="rfm-champions").memberships.model.objects.filter(segment__kind="rfm").count()
    )
    buyer = shop["users"][0]
    assert any(k.startswith("cluster-") for k in segments_for_user(user_id=buyer.pk))


def test_describe_names_window_shoppers():
    z = np.array([-1.2, 0.0, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0])
    name, _ = describe(z, np.ones(8), np.ones(8), FEATURES)
    assert name == "Window shoppers"


def test_describe_time_word_alone_reads_naturally():
    z = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    name, _ = describe(z, np.ones(8), np.ones(8), FEATURES)
    assert name == "Weekend shoppers"
