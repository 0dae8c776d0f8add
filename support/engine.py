"""Serving side of the NLU: the active registry model (or the keyword fallback), FAQ and catalog indexes."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Sum

from ecommerce.ml import model_load_active
from ecommerce.models import Product

from .conf import warm_encoder_at_startup
from .models import FAQEntry, PolicyText
from .nlu.encoder import DEFAULT_ENCODER, load_encoder
from .nlu.entities import ProductMatcher
from .nlu.faq import FaqIndex
from .nlu.intents import KeywordIntentModel
from .nlu.products import ProductSearchIndex
from .replies import DEFAULT_POLICIES

logger = logging.getLogger(__name__)

INTENT_MODEL_NAME = "support.intents"
_fallback = KeywordIntentModel()
_lock = threading.Lock()
_faq_cache: dict[str, Any] = {}
_product_cache: dict[str, Any] = {}
_product_index_cache: dict[str, Any] = {}


# Which version is active is re-read from the registry at most every few seconds per process (the
# artifact itself is cached by the registry): a promotion reaches every worker within this delay.
ACTIVE_MODEL_TTL_SECONDS = 5.0
_active: dict[str, Any] = {}


def _active_model() -> Any:
    now = time.monotonic()
    with _lock:
        if _active and now - _active["at"] < ACTIVE_MODEL_TTL_SECONDS:
            return _active["model"]
    loaded = model_load_active(INTENT_MODEL_NAME)
    with _lock:
        _active.update(at=now, model=loaded)
    return loaded


def clear_caches() -> None:
    with _lock:
        _active.clear()
        _faq_cache.clear()
        _product_cache.clear()
        _product_index_cache.clear()


def warm_encoder_if_enabled() -> bool:
    """Called from AppConfig.ready: load the sentence encoder now (~3 s) when SUPPORT_WARM_ENCODER
    is on, so the first chat message does not pay for it. Off by default (tests, commands)."""
    if not warm_encoder_at_startup():
        return False
    return load_encoder(DEFAULT_ENCODER) is not None


def intent_model() -> Any:
    """The active intent model (cached per process by the registry), else deterministic keyword rules."""
    loaded = _active_model()
    return loaded.artifact if loaded is not None else _fallback


def intent_model_version() -> str:
    loaded = model_load_active(INTENT_MODEL_NAME)
    return f"v{loaded.version.version}" if loaded is not None else "keyword-fallback"


@dataclass(frozen=True)
class SupportTexts:
    """The merchant's FAQ (with its search index) and policy texts, as of one stamp."""

    index: FaqIndex
    entries: dict[int, FAQEntry]
    policies: dict[str, PolicyText]

    def policy(self, key: str, language: str) -> str:
        row = self.policies.get(key)
        if row is not None:
            return row.text_zh if language == "zh" and row.text_zh else row.text
        default = DEFAULT_POLICIES.get(key, {})
        return default.get(language) or default.get("en", "")


def texts_stamp_sql() -> tuple[str, list[Any]]:
    """The stamp of the FAQ and policy texts as one scalar subquery: count and last edit of the
    active FAQ and of the policy texts. The chat's conversation read carries it as a column
    (services.conversation_get_for_owner), so a turn needs no query of its own for it."""
    faq, policy = FAQEntry._meta.db_table, PolicyText._meta.db_table
    qn = connection.ops.quote_name
    updated = qn("updated_at")
    sql = (
        f"(SELECT CAST(COUNT(*) AS TEXT) || ':' || COALESCE(CAST(MAX({updated}) AS TEXT), '') || ':' || "
        f"(SELECT CAST(COUNT(*) AS TEXT) || ':' || COALESCE(CAST(MAX({updated}) AS TEXT), '') FROM {qn(policy)}) "
        f"FROM {qn(faq)} WHERE {qn('is_active')} = %s)"
    )
    return sql, [True]


def _texts_stamp() -> str:
    """Count and last edit of the active FAQ and of the policy texts, in one query."""
    sql, params = texts_stamp_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)  # noqa: S608 - table names from the models
        return cursor.fetchone()[0]


def support_texts(stamp: str | None = None) -> SupportTexts:
    """Rebuilt only when the FAQ or a policy text changes (counts + last edits: one query per
    call, none when the caller read `stamp` already), so admin edits show up at once. A bot turn
    reads it once (Dialogue.texts)."""
    key = stamp if stamp is not None else _texts_stamp()
    with _lock:
        if _faq_cache.get("key") == key:
            return _faq_cache["texts"]
    entries = {e.pk: e for e in FAQEntry.objects.filter(is_active=True)}
    # Questions and answers in both languages, searched by spelling and by meaning (the encoder,
    # when this process has it; a FAQ is tens of entries, so embedding it here costs ~0.1-0.3 s
    # once per FAQ edit).
    index = FaqIndex(
        [(e.pk, [e.question, e.question_zh]) for e in entries.values()],
        answers=[[e.answer, e.answer_zh] for e in entries.values()],
    )
    texts = SupportTexts(index=index, entries=entries, policies={p.key: p for p in PolicyText.objects.all()})
    with _lock:
        _faq_cache.update(key=key, texts=texts)
    return texts


def faq_index() -> tuple[FaqIndex, dict[int, FAQEntry]]:
    texts = support_texts()
    return texts.index, texts.entries


def product_matcher() -> ProductMatcher:
    with _lock:
        if _product_cache and time.monotonic() - _product_cache["at"] < ACTIVE_MODEL_TTL_SECONDS:
            return _product_cache["matcher"]
    stamp = Product.objects.sellable().aggregate(n=Count("id"), last=Max("id"))
    key = f"{stamp['n']}:{stamp['last']}"
    with _lock:
        if _product_cache.get("key") == key:
            _product_cache["at"] = time.monotonic()
            return _product_cache["matcher"]
    matcher = ProductMatcher(list(Product.objects.sellable().values_list("id", "title")))
    with _lock:
        _product_cache.update(key=key, matcher=matcher, at=time.monotonic())
    return matcher


# --- Product search by meaning ---------------------------------------------------------------
# Embedding ~4,000 catalog titles takes 4-15 s, so it never happens on a request: a worker (the
# Celery task support.build_product_index, or the support training job) writes the embeddings to
# <ML_ARTIFACT_ROOT>/support.product_index/<digest of encoder + catalog version>.npz and serving
# loads that file (NumPy arrays only, no pickle). Until it exists, chat uses keyword search.
PRODUCT_INDEX_DIR = "support.product_index"
PRODUCT_INDEX_BUILD_LOCK_SECONDS = 600


def catalog_version() -> str:
    """Changes when a sellable product is added, removed or repriced (one aggregate query)."""
    stamp = Product.objects.sellable().aggregate(n=Count("id"), last=Max("id"), total=Sum("price"))
    return f"{stamp['n']}:{stamp['last']}:{stamp['total']}"


def product_index_path(version: str, encoder: str = DEFAULT_ENCODER) -> Path:
    digest = hashlib.sha256(f"{encoder}|{version}".encode()).hexdigest()[:20]
    return Path(settings.ML_ARTIFACT_ROOT) / PRODUCT_INDEX_DIR / f"{digest}.npz"


def _load_product_index(path: Path, encoder: str) -> ProductSearchIndex | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, prices, vectors = data["ids"], data["prices"], data["vectors"]
    except (OSError, KeyError, ValueError) as error:
        logger.warning("support.product_index_unreadable", extra={"error": type(error).__name__})
        return None
    loaded = load_encoder(encoder)
    if loaded is None or vectors.ndim != 2 or vectors.shape[1] != loaded.dim:
        return None
    return ProductSearchIndex.from_vectors(ids, vectors, prices, encoder=encoder)


def _request_product_index_build(version: str) -> None:
    """Ask a worker to build the index, at most once per lock period per catalog version.

    With eager Celery (the embedded default, tests) the task would run inside this request, so
    nothing is enqueued: there the training job (train_models, the demo) builds the index."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    if not cache.add(
        f"support:product_index_build:{product_index_path(version).stem}", 1, PRODUCT_INDEX_BUILD_LOCK_SECONDS
    ):
        return
    from .tasks import build_product_index_task

    try:
        build_product_index_task.delay()
    except Exception as error:  # noqa: BLE001 - broker down: keyword search serves meanwhile
        logger.warning("support.product_index_enqueue_failed", extra={"error": type(error).__name__})


def product_search_index(encoder: str = DEFAULT_ENCODER) -> ProductSearchIndex | None:
    """The semantic index of the current catalog if a worker has built it, else None (and a
    build is requested). Re-checked at most every ACTIVE_MODEL_TTL_SECONDS per process."""
    now = time.monotonic()
    with _lock:
        if _product_index_cache and now - _product_index_cache["at"] < ACTIVE_MODEL_TTL_SECONDS:
            return _product_index_cache["index"]
    version: str | None = None
    index: ProductSearchIndex | None = None
    if load_encoder(encoder) is not None:
        version = catalog_version()
        with _lock:
            if _product_index_cache.get("version") == version and _product_index_cache["index"] is not None:
                _product_index_cache["at"] = now
                return _product_index_cache["index"]
        path = product_index_path(version, encoder)
        index = _load_product_index(path, encoder) if path.exists() else None
        if index is None:
            _request_product_index_build(version)
    with _lock:
        _product_index_cache.update(version=version if index is not None else None, index=index, at=now)
    return index


def policy_text(key: str, language: str) -> str:
    return support_texts().policy(key, language)
