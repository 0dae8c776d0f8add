"""A retrain is one unit: rows before promotion, one retrain at a time (issue 11)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from ecommerce import ml
from ecommerce.models import ModelVersion
from recommendations.conf import ACTIVE_MODEL_NAME
from recommendations.models import UserRecommendation
from recommendations.services import RETRAIN_LOCK, recommenders_train
from tests.factories.recommendations import two_cluster_shop


class LockHolder:
    """Holds a training lock from another thread (its own database connection) until released."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.taken = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with ml.model_training_lock(self.name):
                self.taken.set()
                self.release.wait(timeout=60)
        finally:
            connections.close_all()

    def __enter__(self) -> LockHolder:
        self.thread.start()
        assert self.taken.wait(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_retrain_while_another_runs_says_already_running_and_changes_nothing():
    two_cluster_shop()
    with LockHolder(RETRAIN_LOCK):
        summary = recommenders_train()
    assert summary == {"status": "already_running"}
    assert not ModelVersion.objects.exists()
    # and once the other run is over, the next one trains
    assert recommenders_train()["status"] == "ok"


@pytest.mark.django_db
def test_a_new_version_is_promoted_only_with_its_rows_and_a_crash_before_promotion_keeps_the_old(monkeypatch):
    # given an active version with rows
    two_cluster_shop()
    recommenders_train()
    before = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
    assert UserRecommendation.objects.filter(model_version=before).exists()
    seen_at_promotion: list[bool] = []
    real_promote = ml.model_version_promote

    def promote_then_crash(*, version, **kwargs):
        seen_at_promotion.append(UserRecommendation.objects.filter(model_version=version).exists())
        if version.name == ACTIVE_MODEL_NAME:
            raise SystemExit("worker killed")  # what a SIGKILL between precompute and promotion leaves
        return real_promote(version=version, **kwargs)

    monkeypatch.setattr(ml, "model_version_promote", promote_then_crash)
    # when a retrain dies right before the flip
    with pytest.raises(SystemExit):
        recommenders_train()
    # then the new version already had its rows, and the old one still serves with its own
    assert seen_at_promotion == [True]
    active = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
    assert active.pk == before.pk
    assert UserRecommendation.objects.filter(model_version=active).exists()
    # and the next retrain promotes a complete version and drops the orphaned rows
    monkeypatch.setattr(ml, "model_version_promote", real_promote)
    summary = recommenders_train()
    active = ml.model_version_get_active(name=ACTIVE_MODEL_NAME)
    assert active.version == summary["versions"][ACTIVE_MODEL_NAME] == before.version + 2
    assert set(UserRecommendation.objects.values_list("model_version_id", flat=True).distinct()) == {active.pk}


@pytest.mark.django_db(transaction=True)
def test_support_and_advertising_retrains_say_already_running_while_one_runs():
    from advertising import conf as ad_conf
    from advertising.training import ctr_model_train
    from support.engine import INTENT_MODEL_NAME
    from support.training import intent_model_retrain

    with LockHolder(INTENT_MODEL_NAME):
        assert intent_model_retrain() == {"status": "already_running"}
    with LockHolder(ad_conf.CTR_MODEL_NAME):
        assert ctr_model_train() == {"status": "already_running"}
    assert not ModelVersion.objects.exists()
