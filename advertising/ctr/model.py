"""A hashed-feature logistic click model (the FTRL paper's feature set-up, batch-trained).

Features are categorical columns; each becomes a token "column=value", plus pairwise crosses
"a*b=value_a|value_b" and a log-bucketed frequency token per column ("how common is this ip?"),
all hashed into 2**20 dimensions with FeatureHasher. Logistic regression (liblinear) learns the
weights; a Platt step fitted on a LATER slice of the training data corrects the scale so that the
mean prediction matches the observed rate (McMahan et al. 2013, section 7: calibration).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

# Clip predictions away from 0/1: log loss of one confident mistake would be infinite.
EPS = 1e-7


def _log_bucket(count: int) -> int:
    # log2 buckets: 1, 2-3, 4-7, ... enough resolution for "rare vs. common" at any data size.
    return int(math.log2(count)) if count > 0 else -1


def _count_key(row: dict[str, Any], name: str) -> str:
    """A count feature is one column ("ip") or a combination joined by "+" ("ip+app")."""
    return "|".join(str(row.get(part, "")) for part in name.split("+"))


@dataclass
class CTRModel:
    """Fit on rows (dicts column -> value) and 0/1 labels; predict click probabilities."""

    features: Sequence[str]
    crosses: Sequence[tuple[str, str]] = ()
    count_features: Sequence[str] = ()
    n_features: int = 2**20
    C: float = 1.0
    calibrate: bool = True
    calibration_fraction: float = 0.2
    random_state: int = 0
    # Learned state.
    counts_: dict[str, Counter] = field(default_factory=dict, repr=False)
    lr_: LogisticRegression | None = field(default=None, repr=False)
    platt_: tuple[float, float] = (1.0, 0.0)  # (a, b) in sigmoid(a * logit + b)
    fit_seconds_: float = 0.0
    # The hashed columns that occur in the training rows: the regression is fitted on these only.
    columns_: np.ndarray | None = field(default=None, repr=False)

    # --- features -------------------------------------------------------------------------
    def _tokens(self, rows: Sequence[dict[str, Any]], counted: bool) -> Iterable[list[str]]:
        # Rows that were counted themselves see count - 1 ("how often did OTHER rows have this
        # value"), so a value seen once in training looks like an unseen value at serving time.
        own = 1 if counted else 0
        for row in rows:
            tokens = [f"{name}={row.get(name, '')}" for name in self.features]
            tokens.extend(f"{a}*{b}={row.get(a, '')}|{row.get(b, '')}" for a, b in self.crosses)
            for name in self.count_features:
                seen = self.counts_.get(name, Counter()).get(_count_key(row, name), 0) - own
                tokens.append(f"n_{name}={_log_bucket(seen)}")
            yield tokens

    def transform(self, rows: Sequence[dict[str, Any]], counted: bool = False):
        hasher = FeatureHasher(n_features=self.n_features, input_type="string", alternate_sign=False)
        return hasher.transform(self._tokens(rows, counted))

    def _count(self, rows: Sequence[dict[str, Any]]) -> None:
        self.counts_ = {name: Counter(_count_key(row, name) for row in rows) for name in self.count_features}

    # --- training -------------------------------------------------------------------------
    def _fit_lr(self, rows: Sequence[dict[str, Any]], labels: np.ndarray) -> tuple[LogisticRegression, np.ndarray]:
        """Fit on the columns in use: the same model (an all-zero column gets weight 0 under the
        L2 penalty), but liblinear's cost grows with the hashed width (2**16-2**20), not the rows."""
        X = self.transform(rows, counted=True)
        columns = np.unique(X.indices)
        model = LogisticRegression(C=self.C, solver="liblinear", max_iter=500, random_state=self.random_state)
        model.fit(X[:, columns], labels)
        return model, columns

    def fit(self, rows: Sequence[dict[str, Any]], labels: Sequence[int]) -> CTRModel:
        """Rows must be in time order: the calibration slice is the latest part."""
        started = time.perf_counter()
        y = np.asarray(labels, dtype=np.int8)
        if len(set(y.tolist())) < 2:
            raise ValueError("training data needs both clicks and non-clicks")
        self.platt_ = (1.0, 0.0)
        cut = int(len(rows) * (1 - self.calibration_fraction))
        can_calibrate = (
            self.calibrate
            and 0 < cut < len(rows)
            and len(set(y[cut:].tolist())) == 2
            and len(set(y[:cut].tolist())) == 2
        )
        if can_calibrate:
            # Fit on the earlier part, learn the scale on the later part, then refit on all:
            # the refit keeps the weights fresh, the Platt scale corrects over/under-confidence.
            self._count(rows[:cut])
            early, early_columns = self._fit_lr(rows[:cut], y[:cut])
            logits = early.decision_function(self.transform(rows[cut:])[:, early_columns])
            platt = LogisticRegression(C=1e6, solver="lbfgs")
            platt.fit(logits.reshape(-1, 1), y[cut:])
            self.platt_ = (float(platt.coef_[0][0]), float(platt.intercept_[0]))
        self._count(rows)
        self.lr_, self.columns_ = self._fit_lr(rows, y)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    # --- serving --------------------------------------------------------------------------
    def decision(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        if self.lr_ is None:
            raise ValueError("model is not fitted")
        X = self.transform(rows)
        columns = getattr(self, "columns_", None)  # None: an artifact fitted at full width
        return self.lr_.decision_function(X if columns is None else X[:, columns])

    def predict_proba(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        a, b = self.platt_
        z = a * self.decision(rows) + b
        return np.clip(1.0 / (1.0 + np.exp(-z)), EPS, 1 - EPS)


def metrics_for(labels: Sequence[int], predictions: Sequence[float]) -> dict[str, float]:
    """AUC, log loss and calibration (mean prediction / observed rate) on one data set."""
    y = np.asarray(labels, dtype=float)
    p = np.clip(np.asarray(predictions, dtype=float), EPS, 1 - EPS)
    rate = float(y.mean()) if len(y) else 0.0
    both = len(set(y.tolist())) == 2
    return {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "logloss": float(log_loss(y, p, labels=[0, 1])) if len(y) else float("nan"),
        "calibration": float(p.mean() / rate) if rate > 0 else float("nan"),
        "observed_rate": rate,
        "mean_prediction": float(p.mean()) if len(p) else float("nan"),
    }


def time_split(n_rows: int, test_fraction: float) -> int:
    """Index where the test part starts: rows before it train, rows from it test."""
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be between 0 and 1")
    return int(round(n_rows * (1 - test_fraction)))


def entity_column(rows: Sequence[dict[str, Any]], features: Sequence[str]) -> str:
    """The column with the most distinct values (ip, user id...): the 'who' of a click log."""
    return max(features, key=lambda name: (len({str(r.get(name, "")) for r in rows}), -list(features).index(name)))


def default_design(rows: Sequence[dict[str, Any]], features: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Crosses among the 'what/where' columns; counts of the entity alone and with each column.

    Crossing the entity (ip) with everything mostly memorises noise; how often an entity shows up
    (alone, per app, per os...) is what carries its signal (TalkingData's well-known lesson).
    """
    entity = entity_column(rows, features)
    others = [f for f in features if f != entity]
    crosses = [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
    counts = [entity, *others[:1], *[f"{entity}+{o}" for o in others]]
    return crosses, counts


def choose_c(tuning: list[dict[str, Any]]) -> float:
    """Lowest validation log loss among the settings whose validation calibration is within
    0.9-1.1; if none is, the lowest log loss overall."""
    calibrated = [r for r in tuning if 0.9 <= r["calibration"] <= 1.1]
    return min(calibrated or tuning, key=lambda r: r["logloss"])["C"]


def evaluate_time_split(
    rows: Sequence[dict[str, Any]],
    labels: Sequence[int],
    *,
    features: Sequence[str],
    test_fraction: float = 0.2,
    tune: bool = True,
    c_grid: Sequence[float] = (0.3, 1.0, 3.0),
    crosses: Sequence[tuple[str, str]] | None = None,
    count_features: Sequence[str] | None = None,
    n_features: int = 2**20,
) -> dict[str, Any]:
    """Train on the earlier part (rows in time order), score the later part.

    With `tune`, C is chosen on a validation slice cut from the END of the training part only
    (the test part is never looked at while choosing). Also reports the plain hashed LR baseline
    (single features, no crosses, no counts, no calibration) on the same split.
    """
    y = np.asarray(labels, dtype=np.int8)
    cut = time_split(len(rows), test_fraction)
    train_rows, test_rows = rows[:cut], rows[cut:]
    y_train, y_test = y[:cut], y[cut:]
    design_crosses, design_counts = default_design(train_rows, features)
    crosses = list(crosses) if crosses is not None else design_crosses
    count_features = list(count_features) if count_features is not None else design_counts

    chosen_c, tuning = 1.0, []
    if tune:
        val_cut = time_split(len(train_rows), 0.2)
        for c in c_grid:
            candidate = CTRModel(features, crosses, count_features, C=c, n_features=n_features).fit(
                train_rows[:val_cut], y_train[:val_cut]
            )
            scores = metrics_for(y_train[val_cut:], candidate.predict_proba(train_rows[val_cut:]))
            tuning.append({"C": c, **scores})
        chosen_c = choose_c(tuning)

    model = CTRModel(features, crosses, count_features, C=chosen_c, n_features=n_features).fit(train_rows, y_train)
    result = {
        "n_train": len(train_rows),
        "n_test": len(test_rows),
        **metrics_for(y_test, model.predict_proba(test_rows)),
        "fit_seconds": round(model.fit_seconds_, 3),
        "params": {
            "C": chosen_c,
            "crosses": [list(c) for c in crosses],
            "count_features": count_features,
            "n_features": model.n_features,
        },
        "tuning": tuning,
    }
    baseline = CTRModel(features, (), (), C=1.0, calibrate=False, n_features=n_features).fit(train_rows, y_train)
    result["baseline_hashed_lr"] = {
        **metrics_for(y_test, baseline.predict_proba(test_rows)),
        "fit_seconds": round(baseline.fit_seconds_, 3),
    }
    return result
