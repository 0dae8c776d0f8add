"""The per-customer precompute fans out as chunks (a Celery group) with a chord that promotes:
chunks are idempotent, promotion happens once, and a failed chunk promotes nothing (issue 16)."""

from __future__ import annotations

import pytest
from celery.result import AsyncResult

from ecommerce import ml
from recommendations import services
from recommendations.conf import ACTIVE_MODEL_NAME
from recommendations.models import PrecomputeChunk, PrecomputeRun, UserRecommendation
from recommendations.services import (
    artifact_for,
    precompute_chunk_compute,
    precompute_run_create,
    precompute_run_finish,
    recommenders_train,
    user_recommendations_precompute,
)
from recommendations.tasks import retrain_models_task
from tests.conftest import celery_eager
from tests.factories.recommendations import two_cluster_shop


def _rows(version) -> set[tuple]:
    return set(
        UserRecommendation.objects.filter(model_version=version).values_list("user_id", "product_id", "rank", "reason")
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_retrain_on_a_worker_spreads_chunks_and_the_chord_promotes_once(celery_worker_real, settings):
    # Given a shop of 12 customers and chunks of 5 customers
    settings.RECOMMENDATIONS_PRECOMPUTE_CHUNK_USERS = 5
    customers, _, _ = two_cluster_shop()
    # When the nightly retrain runs on a real worker
    summary = retrain_models_task.apply_async(queue="ml").get(timeout=120)
    dispatched = summary["precompute"]
    assert dispatched["status"] == "dispatched" and dispatched["chunks"] == 3
    finished = AsyncResult(dispatched["result_id"]).get(timeout=120)
    # Then every chunk ran, the chord promoted the new version once, and its rows are exactly
    # what one process computing all customers at once writes
    run = PrecomputeRun.objects.get(pk=dispatched["run"])
    assert run.status == PrecomputeRun.Status.DONE
    assert PrecomputeChunk.objects.filter(run=run, done_at__isnull=False).count() == 3
    active = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
    assert finished["promoted"] is True and active.pk == run.target_id
    fanned_out = _rows(active)
    assert {user for user, *_ in fanned_out} == {c.pk for c in customers}
    user_recommendations_precompute(version=active, trained=artifact_for(active))
    assert _rows(active) == fanned_out
    # And a late duplicate of the callback changes nothing
    assert precompute_run_finish(run_id=run.pk)["promoted"] is True
    assert ml.model_version_get_active(name=ACTIVE_MODEL_NAME).pk == active.pk


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_failed_chunk_on_the_worker_leaves_the_old_version_serving(celery_worker_real, settings, monkeypatch):
    settings.RECOMMENDATIONS_PRECOMPUTE_CHUNK_USERS = 5
    two_cluster_shop()
    recommenders_train()  # version 1 serves, with its rows
    before = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
    rows_before = _rows(before)
    real_rows = services._recommendation_rows
    calls = {"n": 0}

    def second_chunk_dies(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost its database connection")
        return real_rows(**kwargs)

    monkeypatch.setattr(services, "_recommendation_rows", second_chunk_dies)
    # When a retrain fans out and one chunk fails
    summary = retrain_models_task.apply_async(queue="ml").get(timeout=120)
    with pytest.raises(Exception, match="database connection"):
        AsyncResult(summary["precompute"]["result_id"]).get(timeout=120)
    # Then the chord callback never promoted the half-done candidate
    run = PrecomputeRun.objects.get(pk=summary["precompute"]["run"])
    assert run.status == PrecomputeRun.Status.RUNNING
    assert ml.model_version_get_active(name=ACTIVE_MODEL_NAME).pk == before.pk
    assert _rows(before) == rows_before
    # And a stray finish of that run marks it failed instead of promoting
    assert precompute_run_finish(run_id=run.pk) == {"status": "failed", "missing_chunks": 1}
    assert ml.model_version_get_active(name=ACTIVE_MODEL_NAME).pk == before.pk


@pytest.mark.django_db
def test_eager_fan_out_runs_the_chord_in_process(settings):
    # `make demo` has no broker: the same chord runs eagerly and promotes before returning
    settings.RECOMMENDATIONS_PRECOMPUTE_CHUNK_USERS = 4
    two_cluster_shop()
    with celery_eager():
        summary = recommenders_train(fan_out=True)
    run = PrecomputeRun.objects.get(pk=summary["precompute"]["run"])
    assert run.status == PrecomputeRun.Status.DONE and run.chunk_count == 3
    assert ml.model_version_get_active(name=ACTIVE_MODEL_NAME).pk == run.target_id
    assert UserRecommendation.objects.filter(model_version_id=run.target_id).exists()


@pytest.mark.django_db
def test_chunks_are_idempotent_and_a_newer_run_supersedes_an_older_one(settings):
    two_cluster_shop()
    recommenders_train()
    active = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
    users = sorted({u for u, *_ in _rows(active)})
    run = precompute_run_create(target=active, user_pks=users, promote=False, chunk_size=5)
    written = [precompute_chunk_compute(run_id=run.pk, index=i) for i in range(run.chunk_count)]
    rows = _rows(active)
    # a redelivered chunk rewrites the same rows
    assert precompute_chunk_compute(run_id=run.pk, index=0) == written[0]
    assert _rows(active) == rows
    # a customer left out of the next run loses rows only when that run finishes
    newer = precompute_run_create(target=active, user_pks=users[1:], promote=False, chunk_size=5)
    assert PrecomputeRun.objects.get(pk=run.pk).status == PrecomputeRun.Status.SUPERSEDED
    assert precompute_chunk_compute(run_id=run.pk, index=1) == 0  # superseded: does nothing
    for i in range(newer.chunk_count):
        precompute_chunk_compute(run_id=newer.pk, index=i)
    assert UserRecommendation.objects.filter(model_version=active, user_id=users[0]).exists()
    assert precompute_run_finish(run_id=newer.pk)["status"] == "done"
    assert not UserRecommendation.objects.filter(model_version=active, user_id=users[0]).exists()
    assert _rows(active) == {r for r in rows if r[0] != users[0]}
