"""Registration with ecommerce.plugins, privacy steps, A/B buckets."""

from __future__ import annotations

import io

import pytest

from ecommerce import plugins
from ecommerce.models import ModelVersion
from recommendations.models import BusinessRules, UserRecommendation
from recommendations.privacy import erase_recommendations_of, export_recommendations_of
from recommendations.selectors import ab_bucket, ab_bucket_version
from tests.factories import UserFactory
from tests.factories.recommendations import UserRecommendationFactory, two_cluster_shop

pytestmark = pytest.mark.django_db


def test_app_registers_training_demo_erasure_and_export_steps():
    assert "recommendations" in {s.app for s in plugins.training_jobs()}
    assert "recommendations" in {s.app for s in plugins.demo_steps()}
    assert "recommendations" in {s.app for s in plugins.erasure_steps()}
    assert "recommendations" in {s.app for s in plugins.export_steps()}


def test_demo_step_creates_rules_and_trains():
    two_cluster_shop()
    step = next(s for s in plugins.demo_steps() if s.app == "recommendations")
    out = io.StringIO()
    step.func(seed=1, stdout=out)
    assert BusinessRules.objects.filter(name="Default rules").exists()
    assert "recommendations: ok" in out.getvalue()
    assert ModelVersion.objects.filter(name="recommendations.personalized", status="active").exists()


def test_privacy_export_and_erase_of_a_customer(user, other_user):
    UserRecommendationFactory(user=user, reason="Because you bought X")
    UserRecommendationFactory(user=other_user)
    exported = export_recommendations_of(user)
    assert [row["reason"] for row in exported] == ["Because you bought X"]
    assert erase_recommendations_of(user) == {"recommendations.UserRecommendation": 1, "retrain_queued": 0}
    assert not UserRecommendation.objects.filter(user=user).exists()
    assert UserRecommendation.objects.filter(user=other_user).exists()


def test_ab_bucket_is_deterministic_and_splits_users():
    users = UserFactory.create_batch(40)
    buckets = [ab_bucket(user=u) for u in users]
    assert buckets == [ab_bucket(user=u) for u in users]
    assert 5 < sum(buckets) < 35


def test_ab_bucket_version_serves_challenger_to_bucket_one():
    def version(n, status):
        return ModelVersion.objects.create(
            name="recommendations.personalized",
            version=n,
            status=status,
            metrics={"ndcg@10": 0.1},
            primary_metric="ndcg@10",
        )

    active, challenger = version(1, "active"), version(2, "trained")
    rules = BusinessRules.objects.create(challenger_version=challenger)
    users = UserFactory.create_batch(20)
    for u in users:
        expected = challenger if ab_bucket(user=u) == 1 else active
        assert ab_bucket_version(user=u, rules=rules) == expected
    assert ab_bucket_version(user=users[0], rules=None) == active
