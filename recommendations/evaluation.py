"""Offline evaluation: the temporal purchase split and the ranking metrics (no Django here).

Protocol (issue 3), exactly:
- Interactions are purchases: order lines with quantity > 0 and price > 0 of non-cancelled
  orders of known customers; fee/adjustment codes are not products.
- Cut at the Q-quantile of purchase timestamps; train before the cut, test on and after it.
- Truth per user ("new" protocol) = items bought after the cut that exist in the training period
  and that the user did not buy before the cut; "repeat" protocol keeps re-purchases too.
- Users evaluated: training history and non-empty truth. Under "new", items the user bought in
  training are excluded from the top-K.
- Metrics: precision@K, recall@K, NDCG@K (binary gain), MAP@K (normalised by min(|truth|, K)),
  hit rate@K, catalog coverage (distinct recommended items / training items), fit seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

# UCI stock codes that are fees, not products: one list shared with the importer (a module
# without imports, so this file stays Django-free).
from ecommerce.importers.uci_codes import FEE_STOCK_CODES as UCI_FEE_CODES

from .algorithms.base import FitContext, Recommender


def uci_purchases_from_csv(path: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read the raw UCI Online Retail CSV and keep purchases as the protocol defines them.

    Returns (purchases with columns user, item, ts, basket, quantity; {item: description}).
    """
    raw = pd.read_csv(
        path,
        dtype={"InvoiceNo": str, "StockCode": str, "Description": str, "CustomerID": "float64"},
        parse_dates=["InvoiceDate"],
        encoding="latin-1",
    )
    return uci_purchases_from_frame(raw)


def uci_purchases_from_frame(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    code = raw["StockCode"].astype(str).str.strip().str.upper()
    invoice = raw["InvoiceNo"].astype(str).str.strip()
    keep = (
        (raw["Quantity"] > 0)
        & (raw["UnitPrice"] > 0)
        & raw["CustomerID"].notna()
        & ~invoice.str.upper().str.startswith("C")
        & ~code.isin(UCI_FEE_CODES)
    )
    rows = raw.loc[keep]
    purchases = pd.DataFrame(
        {
            "user": rows["CustomerID"].astype("int64").astype(str),
            "item": code[keep],
            "ts": pd.to_datetime(rows["InvoiceDate"]),
            "basket": invoice[keep],
            "quantity": rows["Quantity"].astype("int64"),
        }
    )
    descriptions = (
        rows.assign(item=code[keep]).dropna(subset=["Description"]).groupby("item")["Description"].first().to_dict()
    )
    return purchases.reset_index(drop=True), {str(k): str(v) for k, v in descriptions.items()}


@dataclass
class Split:
    """A temporal split, indexed for the algorithms (rows = users, columns = items)."""

    cutoff: pd.Timestamp
    protocol: str
    users: list[str]
    items: list[str]
    train: sp.csr_matrix  # binary: bought at least once before the cut
    context: FitContext
    eval_rows: np.ndarray  # user rows with history and non-empty truth
    truth: list[set[int]]  # aligned with eval_rows
    train_purchases: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


def epoch_seconds(series: pd.Series) -> np.ndarray:
    """Seconds since the epoch, whatever the datetime unit (ns/us) or time zone of the column."""
    values = pd.to_datetime(series)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return ((values - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)


def build_matrices(
    purchases: pd.DataFrame,
    users: list[str],
    items: list[str],
    *,
    item_text: dict[str, str] | None = None,
    item_category: dict[str, int] | None = None,
) -> tuple[sp.csr_matrix, FitContext]:
    """Binary user x item matrix plus the side information (counts, recency, baskets, text)."""
    uidx = pd.Index(users).get_indexer(purchases["user"])
    iidx = pd.Index(items).get_indexer(purchases["item"])
    ok = (uidx >= 0) & (iidx >= 0)
    uidx, iidx = uidx[ok], iidx[ok]
    frame = purchases.loc[ok]
    ts = epoch_seconds(frame["ts"])
    shape = (len(users), len(items))
    # Number of distinct baskets containing the item, per user (repeat strength).
    pairs = pd.DataFrame({"u": uidx, "i": iidx, "b": frame["basket"].to_numpy(), "t": ts})
    per_pair = pairs.groupby(["u", "i"]).agg(n=("b", "nunique"), last=("t", "max")).reset_index()
    counts = sp.csr_matrix((per_pair["n"].to_numpy(np.float32), (per_pair["u"], per_pair["i"])), shape=shape)
    last_seen = sp.csr_matrix((per_pair["last"].to_numpy(np.float64), (per_pair["u"], per_pair["i"])), shape=shape)
    binary = counts.copy()
    binary.data[:] = 1.0
    basket_codes, basket_idx = np.unique(pairs["b"].to_numpy(), return_inverse=True)
    baskets = sp.csr_matrix(
        (np.ones(len(basket_idx), dtype=np.float32), (basket_idx, pairs["i"].to_numpy())),
        shape=(len(basket_codes), len(items)),
    )
    baskets.data[:] = 1.0
    baskets.sum_duplicates()
    baskets.data[:] = 1.0
    context = FitContext(
        last_seen=last_seen,
        baskets=baskets,
        item_text=[(item_text or {}).get(i, "") for i in items],
        item_category=np.array([(item_category or {}).get(i, -1) for i in items], dtype=np.int64),
        now=float(ts.max()) if len(ts) else None,
        extra={"counts": counts},
    )
    return binary.astype(np.float32), context


def pseudo_categories(descriptions: dict[str, str]) -> dict[str, int]:
    """UCI has no categories: use the description's last word (BAG, HOLDER, MUG...) as one."""
    names: dict[str, int] = {}
    out: dict[str, int] = {}
    for item, text in descriptions.items():
        words = [w for w in str(text).upper().replace(",", " ").split() if w.isalpha()]
        if not words:
            continue
        out[item] = names.setdefault(words[-1], len(names))
    return out


def temporal_split(
    purchases: pd.DataFrame,
    quantile: float,
    *,
    protocol: str = "new",
    item_text: dict[str, str] | None = None,
    item_category: dict[str, int] | None = None,
) -> Split:
    """Cut at the `quantile` of purchase timestamps and build truth as the protocol says."""
    if protocol not in {"new", "repeat"}:
        raise ValueError("protocol must be 'new' or 'repeat'")
    if not 0.0 < quantile < 1.0:
        raise ValueError("quantile must be strictly between 0 and 1")
    if purchases.empty:
        raise ValueError("no purchases to split")
    cutoff = purchases["ts"].quantile(quantile)
    before = purchases[purchases["ts"] < cutoff]
    after = purchases[purchases["ts"] >= cutoff]
    users = sorted(before["user"].unique().tolist())
    items = sorted(before["item"].unique().tolist())
    train, context = build_matrices(before, users, items, item_text=item_text, item_category=item_category)
    user_pos = pd.Index(users)
    item_pos = pd.Index(items)
    after = after.assign(u=user_pos.get_indexer(after["user"]), i=item_pos.get_indexer(after["item"]))
    after = after[(after["u"] >= 0) & (after["i"] >= 0)]
    truth_by_user: dict[int, set[int]] = {}
    for u, group in after.groupby("u")["i"]:
        truth_by_user[int(u)] = {int(i) for i in group.unique()}
    rows, truth = [], []
    for u in sorted(truth_by_user):
        items_u = truth_by_user[u]
        if protocol == "new":
            owned = set(train.indices[train.indptr[u] : train.indptr[u + 1]].tolist())
            items_u = items_u - owned
        if items_u and train.indptr[u + 1] > train.indptr[u]:
            rows.append(u)
            truth.append(items_u)
    return Split(
        cutoff=cutoff,
        protocol=protocol,
        users=users,
        items=items,
        train=train,
        context=context,
        eval_rows=np.array(rows, dtype=np.int64),
        truth=truth,
        train_purchases=before,
    )


def ranking_metrics(recommended: np.ndarray, truth: list[set[int]], k: int, n_items: int) -> dict[str, float]:
    """The protocol's metrics for one algorithm; `recommended` is (users, >=k) ids, -1 = padding."""
    precision = recall = ndcg = ap = hits_any = 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    seen_items: set[int] = set()
    n = len(truth)
    for row, relevant in zip(recommended, truth, strict=True):
        top = [int(i) for i in row[:k] if i >= 0]
        seen_items.update(top)
        hits = np.array([1.0 if i in relevant else 0.0 for i in top] + [0.0] * (k - len(top)))
        n_hits = hits.sum()
        precision += n_hits / k
        recall += n_hits / len(relevant)
        ideal = discounts[: min(len(relevant), k)].sum()
        ndcg += float((hits * discounts).sum() / ideal)
        cumulative = np.cumsum(hits)
        ap += float((hits * cumulative / np.arange(1, k + 1)).sum() / min(len(relevant), k))
        hits_any += 1.0 if n_hits > 0 else 0.0
    denom = max(n, 1)
    return {
        f"precision@{k}": precision / denom,
        f"recall@{k}": recall / denom,
        f"ndcg@{k}": ndcg / denom,
        f"map@{k}": ap / denom,
        f"hit_rate@{k}": hits_any / denom,
        "coverage": len(seen_items) / max(n_items, 1),
    }


def evaluate_recommender(model: Recommender, split: Split, k: int, *, fit: bool = True) -> dict[str, float]:
    """Fit on the split's training matrix (timed) and score the evaluated users."""
    started = time.perf_counter()
    if fit:
        model.fit(split.train, split.context)
    fit_seconds = time.perf_counter() - started
    exclude = split.train[split.eval_rows] if split.protocol == "new" else None
    ids, _ = model.recommend(split.eval_rows, k=k, exclude=exclude)
    metrics = ranking_metrics(ids, split.truth, k, len(split.items))
    metrics["fit_seconds"] = round(fit_seconds, 3)
    return metrics


def evaluate_all(
    factories: dict[str, Callable[[], Recommender]],
    split: Split,
    k: int,
    progress: Callable[[str, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Run each algorithm on the same split; the JSON shape the issue asks for."""
    results: dict[str, dict[str, float]] = {}
    for name, factory in factories.items():
        metrics = evaluate_recommender(factory(), split, k)
        results[name] = {key: round(float(v), 6) for key, v in metrics.items()}
        if progress is not None:
            progress(name, results[name])
    return {
        "cutoff": str(split.cutoff),
        "protocol": split.protocol,
        "k": k,
        "users_evaluated": int(len(split.eval_rows)),
        "train_users": len(split.users),
        "train_items": len(split.items),
        "results": results,
    }


def format_table(report: dict[str, Any]) -> str:
    """A readable fixed-width table of the report, best NDCG first."""
    k = report["k"]
    columns = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}", f"hit_rate@{k}", "coverage", "fit_seconds"]
    width = max([len("algorithm")] + [len(n) for n in report["results"]]) + 2
    lines = [
        f"cutoff {report['cutoff']}  protocol {report['protocol']}  users evaluated {report['users_evaluated']}",
        "algorithm".ljust(width) + "".join(c.rjust(13) for c in columns),
    ]
    ordered = sorted(report["results"].items(), key=lambda kv: -kv[1].get(f"ndcg@{k}", 0.0))
    for name, metrics in ordered:
        lines.append(name.ljust(width) + "".join(f"{metrics.get(c, math.nan):13.4f}" for c in columns))
    return "\n".join(lines)
