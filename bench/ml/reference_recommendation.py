#!/usr/bin/env python3
"""Records reference numbers for Riffle's ALS from an independent numpy implementation.

scikit-learn has no ALS, so this script fits the same objectives with an obviously correct
loop: one `np.linalg.solve` of the regularised normal equations per item, then per user,
`max_iter` times, starting from unit-length Gaussian user factors (Riffle and Spark do the
same, but from other random numbers, so factors are not comparable; converged held-out
metrics are). The data are Riffle's seeded synthetic sets, written as CSV by

  cargo test -p riffle-ml --test sklearn_recommendation -- --ignored write_reference_csvs

(to /tmp/mlref-recommendation, or $RIFFLE_ML_REFERENCE_DIR). The numbers go to
crates/riffle-ml/tests/reference/sklearn_recommendation.json (named like the scikit-learn
reference files, though the reference here is numpy), which
crates/riffle-ml/tests/sklearn_recommendation.rs compares Riffle against.

Objectives and parameter correspondence (Riffle's `Als`, Spark's `ALS`):
  explicit (ALS-WR):  sum (r - x_u.y_i)^2 + reg * (sum_u n_u |x_u|^2 + sum_i n_i |y_i|^2)
                      <-> Als { rank, reg_param: reg, max_iter }
  implicit (Hu, Koren & Volinsky 2008): confidence c = 1 + alpha r, preference p = [r > 0],
                      penalty reg * (number of r > 0) per user / item
                      <-> Als { implicit_prefs: true, alpha, rank, reg_param: reg, max_iter }
Held-out RMSE is over the test rows whose user and item were both in training (Riffle's
cold_start_strategy = drop). Hit rate at 10: one click per user held out (leave-one-out);
the user's training clicks are never recommended (Riffle's exclude_rated = true).
The popularity baseline ranks items by training rows, ties to the smaller item id.

Usage: bench/ml/reference_recommendation.py DATA_DIR [OUT_JSON]
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def load(data_dir, name):
    # pandas 3 parses floats exactly (Riffle writes shortest round-trip floats).
    train = pd.read_csv(data_dir / f"{name}-train.csv")
    test = pd.read_csv(data_dir / f"{name}-test.csv")
    return train, test


class Indexed:
    """Training interactions with ids mapped to 0..n, grouped both ways."""

    def __init__(self, train):
        self.user_ids, self.users = np.unique(train["user"].to_numpy(), return_inverse=True)
        self.item_ids, self.items = np.unique(train["item"].to_numpy(), return_inverse=True)
        self.ratings = train["rating"].to_numpy(dtype=float)
        self.by_user = groups(self.users, len(self.user_ids))
        self.by_item = groups(self.items, len(self.item_ids))


def groups(index, n):
    order = np.argsort(index, kind="stable")
    return np.split(order, np.cumsum(np.bincount(index, minlength=n))[:-1])


def initial_user_factors(n_users, rank, seed):
    x = np.random.default_rng(seed).standard_normal((n_users, rank))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def explicit_als(d, rank, reg, max_iter, seed=0):
    x = initial_user_factors(len(d.user_ids), rank, seed)
    y = np.zeros((len(d.item_ids), rank))
    eye = np.eye(rank)

    def solve(fixed, by_group, others, out):
        for g, rows in enumerate(by_group):
            f = fixed[others[rows]]
            a = f.T @ f + reg * len(rows) * eye
            out[g] = np.linalg.solve(a, f.T @ d.ratings[rows])

    for _ in range(max_iter):
        solve(x, d.by_item, d.users, y)
        solve(y, d.by_user, d.items, x)
    return x, y


def implicit_als(d, rank, reg, alpha, max_iter, seed=0):
    x = initial_user_factors(len(d.user_ids), rank, seed)
    y = np.zeros((len(d.item_ids), rank))
    eye = np.eye(rank)

    def solve(fixed, by_group, others, out):
        base = fixed.T @ fixed
        for g, rows in enumerate(by_group):
            f = fixed[others[rows]]
            r = d.ratings[rows]
            positive = r > 0
            a = base + (f.T * (alpha * r)) @ f + reg * positive.sum() * eye
            b = f.T @ ((1.0 + alpha * r) * positive)
            out[g] = np.linalg.solve(a, b)

    for _ in range(max_iter):
        solve(x, d.by_item, d.users, y)
        solve(y, d.by_user, d.items, x)
    return x, y


def held_out_rmse(d, x, y, test):
    user_pos = {u: k for k, u in enumerate(d.user_ids)}
    item_pos = {i: k for k, i in enumerate(d.item_ids)}
    errors = [x[user_pos[u]] @ y[item_pos[i]] - r
              for u, i, r in zip(test["user"], test["item"], test["rating"])
              if u in user_pos and i in item_pos]
    return float(np.sqrt(np.mean(np.square(errors)))), len(errors)


def hit_rate(d, test, top_items):
    """top_items(user position) -> the 10 recommended item ids."""
    user_pos = {u: k for k, u in enumerate(d.user_ids)}
    hits = 0
    for u, i in zip(test["user"], test["item"]):
        if u in user_pos and i in top_items(user_pos[u]):
            hits += 1
    return hits / len(test)


def seen_positions(d, u):
    return d.items[d.by_user[u]]


def model_top(d, x, y, k=10):
    def top(u):
        scores = y @ x[u]
        scores[seen_positions(d, u)] = -np.inf
        # Best score first, ties to the smaller item id (positions follow ascending ids).
        order = np.lexsort((np.arange(len(scores)), -scores))[:k]
        return set(d.item_ids[order].tolist())
    return top


def popularity_top(d, k=10):
    counts = np.bincount(d.items, minlength=len(d.item_ids))
    ranked = np.lexsort((d.item_ids, -counts))

    def top(u):
        seen = set(seen_positions(d, u).tolist())
        return set(d.item_ids[[p for p in ranked if p not in seen][:k]].tolist())
    return top


def main():
    data_dir = Path(sys.argv[1])
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else \
        Path(__file__).resolve().parents[2] / "crates/riffle-ml/tests/reference/sklearn_recommendation.json"
    results = {}

    train, test = load(data_dir, "ratings")
    d = Indexed(train)
    for case, rank, reg, max_iter in [("ratings/als-wr-rank5", 5, 0.05, 15),
                                      ("ratings/als-wr-spark-defaults", 10, 0.1, 10)]:
        start = time.perf_counter()
        x, y = explicit_als(d, rank, reg, max_iter)
        seconds = time.perf_counter() - start
        rmse, scored = held_out_rmse(d, x, y, test)
        results[case] = {
            "params": f"numpy ALS-WR rank={rank}, reg={reg}, max_iter={max_iter} <-> "
                      f"Als {{ rank: {rank}, reg_param: {reg}, max_iter: {max_iter}, cold_start_strategy: drop }}",
            "fit_seconds": round(seconds, 4), "rmse": rmse, "scored_rows": scored}
        print(case, results[case], file=sys.stderr)

    train, test = load(data_dir, "clicks")
    d = Indexed(train)
    rank, reg, alpha, max_iter = 10, 0.1, 1.0, 10
    start = time.perf_counter()
    x, y = implicit_als(d, rank, reg, alpha, max_iter)
    seconds = time.perf_counter() - start
    results["clicks/implicit-als"] = {
        "params": f"numpy implicit ALS rank={rank}, reg={reg}, alpha={alpha}, max_iter={max_iter} <-> "
                  f"Als {{ implicit_prefs: true, rank: {rank}, reg_param: {reg}, alpha: {alpha}, "
                  f"max_iter: {max_iter}, exclude_rated: true }}",
        "fit_seconds": round(seconds, 4), "hit_rate_at_10": hit_rate(d, test, model_top(d, x, y))}
    results["clicks/popularity"] = {
        "params": "the 10 items with the most training rows the user has not clicked, ties to the smaller id "
                  "<-> popularity_recommendations(exclude_rated = true)",
        "fit_seconds": 0.0, "hit_rate_at_10": hit_rate(d, test, popularity_top(d))}
    for case in ["clicks/implicit-als", "clicks/popularity"]:
        print(case, results[case], file=sys.stderr)

    recipes = json.loads((data_dir / "recipes.json").read_text())
    out = {"generated_by": "bench/ml/reference_recommendation.py on the CSV files of "
                           "`cargo test -p riffle-ml --test sklearn_recommendation -- --ignored write_reference_csvs`",
           "numpy_version": np.__version__, "pandas_version": pd.__version__,
           "python_version": sys.version.split()[0], "datasets": recipes, "results": results}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
