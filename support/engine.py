"""Serving side of the NLU: the active registry model (or the keyword fallback), FAQ and catalog indexes."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db.models import Count, Max

from ecommerce.ml import model_load_active
from ecommerce.models import Product

from .models import FAQEntry, PolicyText
from .nlu.entities import ProductMatcher
from .nlu.faq import FaqIndex
from .nlu.intents import KeywordIntentModel
from .replies import DEFAULT_POLICIES

logger = logging.getLogger(__name__)

INTENT_MODEL_NAME = "support.intents"
_fallback = KeywordIntentModel()
_lock = threading.Lock()
_faq_cache: dict[str, Any] = {}
_product_cache: dict[str, Any] = {}


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


def intent_model() -> Any:
    """The active intent model (cached per process by the registry), else deterministic keyword rules."""
    loaded = _active_model()
    return loaded.artifact if loaded is not None else _fallback


def intent_model_version() -> str:
    loaded = model_load_active(INTENT_MODEL_NAME)
    return f"v{loaded.version.version}" if loaded is not None else "keyword-fallback"


def faq_index() -> tuple[FaqIndex, dict[int, FAQEntry]]:
    """Rebuilt only when the FAQ changes (count + last edit), so admin edits show up at once."""
    active = FAQEntry.objects.filter(is_active=True)
    stamp = active.aggregate(n=Count("id"), last=Max("updated_at"))
    key = f"{stamp['n']}:{stamp['last']}"
    with _lock:
        if _faq_cache.get("key") == key:
            return _faq_cache["index"], _faq_cache["entries"]
    entries = {e.pk: e for e in active}
    index = FaqIndex([(e.pk, f"{e.question} {e.question_zh}") for e in entries.values()])
    with _lock:
        _faq_cache.update(key=key, index=index, entries=entries)
    return index, entries


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


def policy_text(key: str, language: str) -> str:
    row = PolicyText.objects.filter(key=key).first()
    if row is not None:
        return (row.text_zh if language == "zh" and row.text_zh else row.text)
    default = DEFAULT_POLICIES.get(key, {})
    return default.get(language) or default.get("en", "")
