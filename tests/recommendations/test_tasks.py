"""The retrain pipeline through a real Celery worker and broker."""

from __future__ import annotations

import pytest
from celery.result import AsyncResult

from ecommerce import ml
from recommendations.models import SimilarProduct, UserRecommendation
from recommendations.tasks import retrain_models_task
from tests.factories.recommendations import two_cluster_shop


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_retrain_models_task_runs_end_to_end_on_the_worker(celery_worker_real):
    customers, _, _ = two_cluster_shop()
    result = retrain_models_task.apply_async(queue="ml")
    summary = result.get(timeout=120)
    assert summary["status"] == "ok"
    # the per-customer rows went out as a chord; its callback promotes
    assert summary["precompute"]["status"] == "dispatched"
    finished = AsyncResult(summary["precompute"]["result_id"]).get(timeout=120)
    assert finished["status"] == "done" and finished["promoted"] is True
    active = ml.model_version_get_active(name="recommendations.personalized")
    assert active is not None and summary["versions"]["recommendations.personalized"] == active.version
    assert UserRecommendation.objects.filter(user=customers[0], model_version=active).exists()
    assert SimilarProduct.objects.exists()
    # safe to run twice: one active version, the rows replaced rather than duplicated
    rows = UserRecommendation.objects.count()
    again = retrain_models_task.apply_async(queue="ml").get(timeout=120)
    AsyncResult(again["precompute"]["result_id"]).get(timeout=120)
    assert UserRecommendation.objects.count() == rows


def test_retrain_models_task_is_registered_under_the_beat_name():
    from django.conf import settings

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert retrain_models_task.name == "recommendations.retrain_models"
    assert retrain_models_task.name in names
