"""The training pipeline on a real (test) database: registry, promotion, precompute, fallback."""

from __future__ import annotations

import pytest

from ecommerce import ml
from ecommerce.models import Event, ModelVersion
from ecommerce.privacy import Tracking
from recommendations.models import SimilarProduct, UserRecommendation
from recommendations.selectors import recommendations_for, similar_products_for
from recommendations.services import recommendation_impressions_record, recommenders_train
from tests.factories import ProductFactory
from tests.factories.recommendations import two_cluster_shop

pytestmark = pytest.mark.django_db


def test_recommenders_train_empty_log_serves_fallback_and_says_so():
    ProductFactory.create_batch(3)
    summary = recommenders_train()
    assert summary["status"] == "fallback"
    assert "too little purchase history" in summary["reason"]
    assert not ModelVersion.objects.filter(name__startswith="recommendations.").exists()
    # content-based neighbours still exist for the product pages
    assert summary["similar_rows"] > 0


def test_recommenders_train_registers_promotes_and_precomputes():
    customers, cluster_a, cluster_b = two_cluster_shop()
    summary = recommenders_train()
    assert summary["status"] == "ok"
    version = ml.model_version_get_active(name="recommendations.personalized")
    assert version is not None
    assert "ndcg@10" in version.metrics and version.data_ref["users_evaluated"] >= 1
    rows = UserRecommendation.objects.filter(user=customers[0], model_version=version).order_by("rank")
    assert rows.exists()
    bought = set(customers[0].orders.values_list("items__product_id", flat=True))
    assert not bought & set(rows.values_list("product_id", flat=True))
    # a candle buyer is recommended the candle they have not bought yet, first, with a reason
    first = rows.first()
    assert first.product_id in {p.pk for p in cluster_a}
    assert first.reason.startswith("Because you bought Scented candle")
    assert SimilarProduct.objects.filter(product=cluster_a[0], kind=SimilarProduct.Kind.BOUGHT_TOGETHER).exists()
    similar = similar_products_for(product=cluster_a[0], k=3)
    assert all(r.product.category_id == cluster_a[0].category_id for r in similar)
    recs = recommendations_for(user=customers[0], k=3)
    assert recs[0].model_version == version.version


def test_recommenders_train_twice_is_idempotent_and_keeps_one_active():
    customers, _, _ = two_cluster_shop()
    recommenders_train()
    first_count = UserRecommendation.objects.count()
    recommenders_train()
    assert ModelVersion.objects.filter(name="recommendations.personalized", status="active").count() == 1
    active = ml.model_version_get_active(name="recommendations.personalized")
    assert active.version == 2  # same configuration on newer data replaces the old one
    assert UserRecommendation.objects.count() == first_count
    assert set(UserRecommendation.objects.values_list("model_version", flat=True)) == {active.pk}


def test_recommenders_train_never_promotes_a_worse_configuration():
    two_cluster_shop()
    recommenders_train()
    active = ml.model_version_get_active(name="recommendations.personalized")
    # the merchant tries plain popularity as the serving model: worse on the same split
    summary = recommenders_train(serving_algorithm="most_popular", comparison_algorithms=())
    assert summary["promoted"]["recommendations.personalized"] is False
    assert ml.model_version_get_active(name="recommendations.personalized").pk == active.pk
    rejected = ModelVersion.objects.get(name="recommendations.personalized", version=2)
    assert rejected.params["algorithm"] == "most_popular"
    assert rejected.status == "trained"
    assert "Not promoted" in rejected.notes


def test_recommenders_train_registers_comparison_models():
    two_cluster_shop()
    summary = recommenders_train()
    assert set(summary["versions"]) == {
        "recommendations.personalized",
        "recommendations.most_popular",
        "recommendations.item_knn_bm25",
    }


def test_recommendation_impressions_record_logs_slot_and_version(user):
    products = ProductFactory.create_batch(2)
    recommendation_impressions_record(
        tracking=Tracking.consented(user=user, session_key="s1"),
        slot="home",
        items=[(products[0].pk, 3), (products[1].pk, None)],
    )
    events = Event.objects.filter(type=Event.Type.RECOMMENDATION_IMPRESSION).order_by("properties__position")
    assert [e.properties["slot"] for e in events] == ["home", "home"]
    assert events[0].properties["model_version"] == 3
    assert events[0].user == user


def test_active_customer_ids_keeps_recent_buyers_only():
    import pandas as pd

    from recommendations.services import active_customer_ids

    frame = pd.DataFrame({"user": ["old", "new"], "ts": pd.to_datetime(["2010-01-01", "2011-12-01"])})
    assert active_customer_ids(frame, days=365) == {"new"}
    assert active_customer_ids(frame.iloc[:0]) == set()
