"""The model registry: every trained artifact is a ModelVersion row plus its joblib bytes.

How the apps use it:

    version = model_version_register(name="support.intents", artifact=pipeline,
                                     metrics={"accuracy": 0.98}, primary_metric="accuracy",
                                     params={...}, data_ref={...})
    # score the active model on the SAME held-out data the new one was scored on:
    active = model_version_get_active(name="support.intents")
    promoted = model_version_promote(version=version,
                                     active_score_on_same_data=score_of(active) if active else None)
    ...
    loaded = model_load_active("support.intents")   # None -> serve the deterministic fallback
    if loaded: loaded.artifact.predict(...)

Artifacts are dumped to a temporary file, hashed, and stored in the database next to their
registry row (ModelArtifact, bytea on PostgreSQL) in the transaction that inserts the row, so
every web and worker host can load every version without a shared filesystem. Each host keeps a
local copy at a deterministic path (<ML_ARTIFACT_ROOT>/<name>/<version>.joblib, written
atomically) and an in-memory cache. Bytes are loaded only after their sha256 and the recorded
scikit-learn version match the row: joblib loading runs code, so we load only bytes this app
wrote and nobody changed. A local copy that does not match is replaced from the database; bytes
in the database that do not match are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from .errors import DomainError
from .locks import LockHeld, exclusive_lock
from .models import ModelArtifact, ModelVersion

logger = logging.getLogger(__name__)


class ModelIntegrityError(DomainError):
    """An artifact on disk does not match its registry row (changed, truncated or missing)."""


class TrainingAlreadyRunning(DomainError):
    """Another process holds the training lock of this model: this run did nothing."""

    status_code = 409


@contextlib.contextmanager
def model_training_lock(lock_name: str) -> Iterator[None]:
    """Serialize retrains of one model across every worker and web process (ecommerce.locks).

    Raises TrainingAlreadyRunning instead of waiting: a second retrain of the same data would
    only redo the first one's work, and two at once raced on promotion and precomputed rows.
    """
    try:
        with exclusive_lock(f"ml.train:{lock_name}"):
            yield
    except LockHeld:
        raise TrainingAlreadyRunning(f"{lock_name} is already running") from None


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    artifact: Any


def library_versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "joblib": joblib.__version__,
    }


def _git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip()[:40]
    except (OSError, subprocess.SubprocessError):
        return ""


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".joblib")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def artifact_path_for(name: str, version: int) -> Path:
    return Path(settings.ML_ARTIFACT_ROOT) / name / f"{version}.joblib"


def _dump_to_temporary_file(artifact: Any, folder: Path) -> Path:
    """joblib.dump into a temporary file in `folder` (same filesystem as the final path, so the
    later os.replace is atomic). Nothing is left behind if the dump fails."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".joblib")
    os.close(fd)
    try:
        joblib.dump(artifact, tmp_name, compress=3)
    except BaseException:
        os.unlink(tmp_name)
        raise
    return Path(tmp_name)


def model_version_register(
    *,
    name: str,
    artifact: Any,
    metrics: dict[str, Any],
    primary_metric: str,
    higher_is_better: bool = True,
    params: dict[str, Any] | None = None,
    data_ref: dict[str, Any] | None = None,
    notes: str = "",
) -> ModelVersion:
    """Save a trained artifact and record it as a new `trained` version of `name`.

    The artifact is dumped and hashed first; its bytes are inserted (ModelArtifact) in the
    transaction that inserts the row, and this host's local copy is moved to
    <ML_ARTIFACT_ROOT>/<name>/<version>.joblib inside it, so only the trainer that won a version
    number ever writes that number's bytes: two trainers racing for the same number cannot
    overwrite each other's artifact.
    """
    if primary_metric not in metrics:
        raise DomainError(f"metrics must contain the primary metric {primary_metric!r}")
    tmp_path = _dump_to_temporary_file(artifact, Path(settings.ML_ARTIFACT_ROOT) / name)
    try:
        data = tmp_path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        for attempt in range(5):
            next_version = (ModelVersion.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1
            path = artifact_path_for(name, next_version)
            try:
                with transaction.atomic():
                    row = ModelVersion.objects.create(
                        name=name,
                        version=next_version,
                        status=ModelVersion.Status.TRAINED,
                        artifact_path=str(path.relative_to(settings.ML_ARTIFACT_ROOT)),
                        sha256=sha,
                        params=params or {},
                        metrics=metrics,
                        primary_metric=primary_metric,
                        higher_is_better=higher_is_better,
                        data_ref=data_ref or {},
                        library_versions=library_versions(),
                        git_sha=_git_sha(),
                        notes=notes,
                    )
                    ModelArtifact.objects.create(version=row, data=data, size=len(data))
                    os.replace(tmp_path, path)  # atomic: readers never see half a file
            except IntegrityError:
                # Another trainer took this version number between our read and insert: try the next.
                logger.info("ml.version_race", extra={"model_name": name, "attempt": attempt})
                continue
            logger.info("ml.version_registered", extra={"model_name": name, "version": next_version})
            return row
        raise DomainError(f"could not allocate a version number for {name}")
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def model_version_get_active(*, name: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(name=name, status=ModelVersion.Status.ACTIVE).first()


def is_better(new_score: float, old_score: float | None, *, higher_is_better: bool = True) -> bool:
    """Strictly better. Ties keep the serving model (no churn for nothing)."""
    if old_score is None:
        return True
    return new_score > old_score if higher_is_better else new_score < old_score


def model_version_would_promote(
    *,
    version: ModelVersion,
    active_score_on_same_data: float | None = None,
    force: bool = False,
) -> bool:
    """What model_version_promote would decide now, without writing: lets a caller build what the
    version serves from (precomputed rows) before the flip, so it never serves without them."""
    if version.status == ModelVersion.Status.ACTIVE:
        return True
    current = model_version_get_active(name=version.name)
    if current is None or force:
        return True
    new_score = version.primary_score
    if new_score is None or active_score_on_same_data is None:
        return False
    return is_better(new_score, active_score_on_same_data, higher_is_better=version.higher_is_better)


def model_version_promote(
    *,
    version: ModelVersion,
    active_score_on_same_data: float | None = None,
    force: bool = False,
) -> bool:
    """Make `version` the active one if it beats the active version on the same held-out data.

    The caller scores the currently active model on the split it just used for the new one and
    passes that score; with no active model the new one is promoted. Returns True if promoted.
    """
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status == ModelVersion.Status.ACTIVE:
            return True
        if locked.status != ModelVersion.Status.TRAINED:
            raise DomainError(f"{locked} cannot be promoted from status {locked.status}")
        current = (
            ModelVersion.objects.select_for_update().filter(name=locked.name, status=ModelVersion.Status.ACTIVE).first()
        )
        new_score = locked.primary_score
        if current is not None and not force:
            if new_score is None or active_score_on_same_data is None:
                # Without a comparison on the same data we cannot know it is better: keep serving.
                logger.info("ml.promotion_skipped_no_comparison", extra={"model_name": locked.name})
                return False
            if not is_better(new_score, active_score_on_same_data, higher_is_better=locked.higher_is_better):
                locked.notes = (
                    f"{locked.notes}\nNot promoted: {locked.primary_metric} {new_score:.6g} does not beat "
                    f"active v{current.version} at {active_score_on_same_data:.6g} on the same data."
                ).strip()
                locked.save(update_fields=["notes"])
                return False
        if current is not None:
            current.status = ModelVersion.Status.RETIRED
            current.save(update_fields=["status"])
        locked.status = ModelVersion.Status.ACTIVE
        locked.promoted_at = timezone.now()
        locked.save(update_fields=["status", "promoted_at"])
    logger.info("ml.version_promoted", extra={"model_name": locked.name, "version": locked.version})
    return True


def model_version_mark_failed(*, version: ModelVersion, reason: str) -> None:
    ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.TRAINED).update(
        status=ModelVersion.Status.FAILED, notes=reason[:2000]
    )


# Per-process cache keyed by (name, version): a promotion elsewhere changes the key we look up.
_cache: dict[tuple[str, int], Any] = {}
_cache_lock = threading.Lock()


def _local_copy(version: ModelVersion) -> Path:
    """This host's copy of the artifact, fetched from the database when missing or changed."""
    path = Path(settings.ML_ARTIFACT_ROOT) / (version.artifact_path or f"{version.name}/{version.version}.joblib")
    if path.is_file() and _sha256_of(path) == version.sha256:
        return path
    if path.is_file():
        logger.warning("ml.local_copy_mismatch", extra={"model_name": version.name, "version": version.version})
    data = ModelArtifact.objects.filter(version_id=version.pk).values_list("data", flat=True).first()
    if data is None:
        if path.is_file():
            raise ModelIntegrityError(f"artifact for {version} does not match its recorded sha256")
        raise ModelIntegrityError(f"artifact for {version} is missing (no stored bytes, nothing at {path})")
    data = bytes(data)  # memoryview on PostgreSQL
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise ModelIntegrityError(f"stored artifact for {version} does not match its recorded sha256")
    _write_atomically(path, data)
    logger.info("ml.artifact_fetched", extra={"model_name": version.name, "version": version.version})
    return path


def model_load(version: ModelVersion) -> Any:
    """The artifact of `version`: from memory, this host's verified copy, or the database."""
    key = (version.name, version.version)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    import sklearn

    recorded = version.library_versions.get("sklearn")
    if recorded and recorded != sklearn.__version__:
        raise ModelIntegrityError(
            f"{version} was trained with scikit-learn {recorded}, this process has {sklearn.__version__}: retrain it"
        )
    path = _local_copy(version)
    artifact = joblib.load(path)
    with _cache_lock:
        # Keep only the newest version per name in memory.
        for stale in [k for k in _cache if k[0] == version.name]:
            del _cache[stale]
        _cache[key] = artifact
    return artifact


def artifacts_store_local_files(*, version_model=ModelVersion, artifact_model=ModelArtifact) -> dict[str, int]:
    """Copy artifacts that exist only as files under ML_ARTIFACT_ROOT into the database.

    For versions registered before artifacts were stored with their row (run by migration
    ecommerce 0009 and by `manage.py ml_artifacts_store` on any host that still holds files).
    A file is stored only when its sha256 matches the row. Idempotent.
    """
    root = Path(settings.ML_ARTIFACT_ROOT)
    counts = {"stored": 0, "missing": 0, "mismatch": 0}
    stored = artifact_model.objects.values_list("version_id", flat=True)
    for row in version_model.objects.exclude(pk__in=stored).exclude(artifact_path="").iterator():
        path = root / row.artifact_path
        if not path.is_file():
            counts["missing"] += 1
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != row.sha256:
            counts["mismatch"] += 1
            logger.warning("ml.backfill_mismatch", extra={"model_name": row.name, "version": row.version})
            continue
        artifact_model.objects.get_or_create(version_id=row.pk, defaults={"data": data, "size": len(data)})
        counts["stored"] += 1
    return counts


def model_load_active(name: str) -> LoadedModel | None:
    """The serving model for `name`, or None so the caller serves its deterministic fallback."""
    version = model_version_get_active(name=name)
    if version is None:
        return None
    try:
        return LoadedModel(version=version, artifact=model_load(version))
    except ModelIntegrityError:
        logger.exception("ml.load_failed", extra={"model_name": name, "version": version.version})
        return None


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()
