"""MovieLens-100k benchmark in the Microsoft Recommenders protocol, for comparison with their
published table: random 75/25 split per user (stratified), top-10, training items excluded,
every test rating counts as relevant.

    .venv/bin/python benchmarks/recommendations_movielens.py [--data ../shared/data/movielens-100k/u.data]

Reads the data in place (MovieLens may never be copied into the project). Prints a table and
JSON; the figures go to docs/benchmarks/recommendations.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommendations.algorithms import (  # noqa: E402
    EASE,
    ImplicitALS,
    ImplicitBPR,
    ItemKNN,
    MostPopular,
    RP3Beta,
    UserKNN,
)
from recommendations.algorithms.base import FitContext  # noqa: E402
from recommendations.evaluation import Split, evaluate_recommender, format_table  # noqa: E402


def stratified_split(ratings: pd.DataFrame, ratio: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ratings = ratings.assign(r=rng.random(len(ratings)))
    ratings["rank"] = ratings.groupby("user")["r"].rank(method="first", pct=True)
    train = ratings[ratings["rank"] <= ratio]
    test = ratings[ratings["rank"] > ratio]
    return train, test


def build_split(train: pd.DataFrame, test: pd.DataFrame) -> Split:
    users = sorted(train["user"].unique())
    items = sorted(train["item"].unique())
    upos, ipos = pd.Index(users), pd.Index(items)
    u = upos.get_indexer(train["user"])
    i = ipos.get_indexer(train["item"])
    matrix = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)), shape=(len(users), len(items)))
    test = test.assign(u=upos.get_indexer(test["user"]), i=ipos.get_indexer(test["item"]))
    test = test[(test["u"] >= 0) & (test["i"] >= 0)]
    rows, truth = [], []
    for user, group in test.groupby("u")["i"]:
        rows.append(int(user))
        truth.append(set(group.tolist()))
    return Split(
        cutoff=pd.Timestamp(0),
        protocol="new",
        users=users,
        items=items,
        train=matrix,
        context=FitContext(baskets=matrix),
        eval_rows=np.array(rows),
        truth=truth,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/movielens-100k/u.data")
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--validate", action="store_true", help="tune on a 75/25 split of the training part")
    args = parser.parse_args()
    ratings = pd.read_csv(args.data, sep="\t", names=["user", "item", "rating", "ts"])
    train, test = stratified_split(ratings, 0.75, args.seed)
    if args.validate:
        train, test = stratified_split(train.drop(columns=["r", "rank"]), 0.75, args.seed + 1)
    split = build_split(train, test)
    algorithms = {
        "most_popular": MostPopular,
        "item_knn_cosine": lambda: ItemKNN("cosine", neighbours=100, shrinkage=10.0),
        "user_knn": lambda: UserKNN("cosine", neighbours=50),
        "implicit_als": lambda: ImplicitALS(factors=64, alpha=10.0, regularization=0.1),
        "bpr": lambda: ImplicitBPR(factors=64, iterations=200, learning_rate=0.05),
        "rp3beta": lambda: RP3Beta(alpha=1.0, beta=0.5),
        "ease": lambda: EASE(l2=500.0),
    }
    results = {}
    for name, factory in algorithms.items():
        results[name] = {k: round(float(v), 4) for k, v in evaluate_recommender(factory(), split, 10).items()}
        print(name, results[name]["ndcg@10"], flush=True)
    report = {
        "k": 10,
        "cutoff": "random 75/25 per user",
        "protocol": "movielens",
        "users_evaluated": len(split.eval_rows),
        "results": results,
    }
    print(format_table(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
