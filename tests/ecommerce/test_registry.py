"""The model registry (ecommerce/ml.py): versions, atomic hashed artifacts, promotion, loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import sklearn
from django.conf import settings
from django.db import IntegrityError, transaction
from sklearn.linear_model import LogisticRegression

from ecommerce import ml
from ecommerce.errors import DomainError
from ecommerce.models import ModelArtifact, ModelVersion

pytestmark = pytest.mark.django_db


def _fitted() -> LogisticRegression:
    return LogisticRegression(random_state=0).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def _register(name: str = "tests.model", score: float = 0.5, artifact=None, higher_is_better: bool = True):
    return ml.model_version_register(
        name=name,
        artifact=artifact if artifact is not None else {"weights": [score]},
        metrics={"accuracy": score},
        primary_metric="accuracy",
        higher_is_better=higher_is_better,
        params={"c": 1.0},
        data_ref={"rows": 4},
    )


def test_register_numbers_versions_per_name():
    first, second = _register(), _register()
    other = _register(name="tests.other")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.status == ModelVersion.Status.TRAINED
    assert first.library_versions["sklearn"] == sklearn.__version__
    assert first.params == {"c": 1.0} and first.data_ref == {"rows": 4}


def test_register_writes_artifact_at_deterministic_path_with_sha256():
    version = _register()
    path = Path(settings.ML_ARTIFACT_ROOT) / version.artifact_path
    assert path == ml.artifact_path_for("tests.model", 1)
    assert version.sha256 == ml._sha256_of(path) and len(version.sha256) == 64
    # written atomically: no temporary file is left next to it
    assert [p.name for p in path.parent.iterdir()] == ["1.joblib"]


def test_register_leaves_no_partial_file_when_the_write_fails():
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    with pytest.raises(TypeError):
        _register(artifact=Unpicklable())
    folder = Path(settings.ML_ARTIFACT_ROOT) / "tests.model"
    assert list(folder.iterdir()) == []
    assert not ModelVersion.objects.exists()


def test_register_requires_the_primary_metric():
    with pytest.raises(DomainError, match="primary metric"):
        ml.model_version_register(name="tests.model", artifact={}, metrics={"f1": 1.0}, primary_metric="accuracy")


def test_load_active_returns_the_artifact_and_caches_by_name_and_version():
    version = _register(artifact=_fitted())
    assert ml.model_version_promote(version=version)
    loaded = ml.model_load_active("tests.model")
    assert loaded.version.pk == version.pk
    assert list(loaded.artifact.predict([[0.0], [3.0]])) == [0, 1]
    # cached: the same object comes back while (name, version) stays the same
    assert ml.model_load_active("tests.model").artifact is loaded.artifact
    newer = _register(artifact=_fitted(), score=0.9)
    assert ml.model_version_promote(version=newer, active_score_on_same_data=0.5)
    assert ml.model_load_active("tests.model").version.version == 2
    assert ml.model_load_active("tests.model").artifact is not loaded.artifact


def test_load_active_is_none_without_an_active_model():
    _register()
    assert ml.model_load_active("tests.model") is None
    assert ml.model_load_active("tests.nothing") is None


def test_a_model_saved_on_host_a_loads_on_host_b_with_an_empty_artifact_dir(settings, tmp_path):
    # Given a model trained and registered on host A (its own artifacts directory)
    settings.ML_ARTIFACT_ROOT = tmp_path / "host-a"
    version = _register(artifact=_fitted())
    ml.model_version_promote(version=version)
    assert (tmp_path / "host-a" / version.artifact_path).is_file()
    assert ModelArtifact.objects.get(version=version).size > 0
    # When host B, with an empty directory and a cold cache, loads the active model
    settings.ML_ARTIFACT_ROOT = tmp_path / "host-b"
    ml.clear_model_cache()
    loaded = ml.model_load_active("tests.model")
    # Then it is read from the database, checked, and kept as a verified local copy
    assert list(loaded.artifact.predict([[0.0], [3.0]])) == [0, 1]
    local = tmp_path / "host-b" / version.artifact_path
    assert ml._sha256_of(local) == version.sha256
    assert [p.name for p in local.parent.iterdir()] == [local.name]  # no temporary file left


def test_load_refuses_stored_bytes_whose_hash_does_not_match(settings, tmp_path):
    version = _register(artifact=_fitted())
    ml.model_version_promote(version=version)
    blob = ModelArtifact.objects.get(version=version)
    ModelArtifact.objects.filter(pk=blob.pk).update(data=bytes(blob.data) + b"tampered")
    settings.ML_ARTIFACT_ROOT = tmp_path / "other-host"
    ml.clear_model_cache()
    # serving falls back (None) instead of loading bytes nobody vouches for
    assert ml.model_load_active("tests.model") is None
    with pytest.raises(ml.ModelIntegrityError, match="sha256"):
        ml.model_load(version)
    assert not (tmp_path / "other-host" / version.artifact_path).exists()


def test_a_changed_local_copy_is_replaced_from_the_database():
    version = _register(artifact=_fitted())
    ml.model_version_promote(version=version)
    path = Path(settings.ML_ARTIFACT_ROOT) / version.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")
    ml.clear_model_cache()
    assert list(ml.model_load_active("tests.model").artifact.predict([[3.0]])) == [1]
    assert ml._sha256_of(path) == version.sha256


def test_load_refuses_a_changed_local_file_without_stored_bytes():
    version = _register(artifact=_fitted())
    ml.model_version_promote(version=version)
    ModelArtifact.objects.filter(version=version).delete()
    path = Path(settings.ML_ARTIFACT_ROOT) / version.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")
    ml.clear_model_cache()
    assert ml.model_load_active("tests.model") is None
    with pytest.raises(ml.ModelIntegrityError, match="sha256"):
        ml.model_load(version)


def test_load_refuses_a_missing_artifact():
    version = _register()
    ml.model_version_promote(version=version)
    ModelArtifact.objects.filter(version=version).delete()
    (Path(settings.ML_ARTIFACT_ROOT) / version.artifact_path).unlink()
    assert ml.model_load_active("tests.model") is None


def test_artifacts_on_disk_from_before_are_stored_once_and_only_when_their_hash_matches():
    # Given two versions registered when artifacts lived only on disk, one file since changed
    good, changed = _register(artifact=_fitted()), _register(artifact=_fitted())
    ModelArtifact.objects.all().delete()
    changed_path = Path(settings.ML_ARTIFACT_ROOT) / changed.artifact_path
    changed_path.write_bytes(changed_path.read_bytes() + b"x")
    # When the backfill runs (migration 0009 and `manage.py ml_artifacts_store`), twice
    assert ml.artifacts_store_local_files() == {"stored": 1, "missing": 0, "mismatch": 1}
    assert ml.artifacts_store_local_files() == {"stored": 0, "missing": 0, "mismatch": 1}
    # Then only the matching file is in the database, byte for byte
    stored = ModelArtifact.objects.get()
    assert stored.version_id == good.pk
    assert bytes(stored.data) == (Path(settings.ML_ARTIFACT_ROOT) / good.artifact_path).read_bytes()


def test_load_refuses_an_artifact_from_another_sklearn_version():
    version = _register(artifact=_fitted())
    ml.model_version_promote(version=version)
    ModelVersion.objects.filter(pk=version.pk).update(
        library_versions={**version.library_versions, "sklearn": "0.24.2"}
    )
    assert ml.model_load_active("tests.model") is None
    with pytest.raises(ml.ModelIntegrityError, match="scikit-learn 0.24.2"):
        ml.model_load(ModelVersion.objects.get(pk=version.pk))


def test_promote_first_version_without_an_active_one():
    version = _register(score=0.1)
    assert ml.model_version_promote(version=version) is True
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.ACTIVE and version.promoted_at is not None


def test_promote_only_when_strictly_better_on_the_same_data():
    active = _register(score=0.8)
    ml.model_version_promote(version=active)
    tie = _register(score=0.7)
    worse = _register(score=0.6)
    better = _register(score=0.75)
    # the active model scored 0.7 on the held-out data the new ones were scored on
    assert ml.model_version_promote(version=tie, active_score_on_same_data=0.7) is False
    assert ml.model_version_promote(version=worse, active_score_on_same_data=0.7) is False
    assert ml.model_version_promote(version=better, active_score_on_same_data=0.7) is True
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {1: "retired", 2: "trained", 3: "trained", 4: "active"}
    worse.refresh_from_db()
    assert "does not beat" in worse.notes


def test_promote_respects_lower_is_better_metrics():
    active = _register(score=0.30, higher_is_better=False)
    ml.model_version_promote(version=active)
    lower = _register(score=0.25, higher_is_better=False)
    higher = _register(score=0.35, higher_is_better=False)
    assert ml.model_version_promote(version=higher, active_score_on_same_data=0.30) is False
    assert ml.model_version_promote(version=lower, active_score_on_same_data=0.30) is True


def test_promote_refuses_without_a_comparison_on_the_same_data():
    ml.model_version_promote(version=_register(score=0.5))
    candidate = _register(score=0.99)
    assert ml.model_version_promote(version=candidate) is False
    candidate.refresh_from_db()
    assert candidate.status == ModelVersion.Status.TRAINED
    assert ml.model_version_get_active(name="tests.model").version == 1


def test_promote_force_and_failed_versions():
    ml.model_version_promote(version=_register(score=0.9))
    forced = _register(score=0.1)
    assert ml.model_version_promote(version=forced, force=True) is True
    failed = _register()
    ml.model_version_mark_failed(version=failed, reason="diverged")
    failed.refresh_from_db()
    assert failed.status == ModelVersion.Status.FAILED
    with pytest.raises(DomainError, match="cannot be promoted"):
        ml.model_version_promote(version=failed, force=True)


def test_at_most_one_active_version_per_name_is_a_database_constraint():
    first, second = _register(), _register()
    ModelVersion.objects.filter(pk=first.pk).update(status=ModelVersion.Status.ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(status=ModelVersion.Status.ACTIVE)
    # another name may have its own active version
    ModelVersion.objects.filter(pk=_register(name="tests.other").pk).update(status=ModelVersion.Status.ACTIVE)
    assert ModelVersion.objects.filter(status="active").count() == 2


def test_version_numbers_are_unique_per_name_in_the_database():
    version = _register()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(name=version.name, version=version.version, primary_metric="accuracy")


def test_is_better_is_strict():
    assert ml.is_better(0.6, None)
    assert ml.is_better(0.6, 0.5) and not ml.is_better(0.5, 0.5)
    assert ml.is_better(0.4, 0.5, higher_is_better=False) and not ml.is_better(0.5, 0.5, higher_is_better=False)
