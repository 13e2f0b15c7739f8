#!/usr/bin/env python3
"""River's side of the online-learning throughput benchmark: replays the streams that
`cargo run --release -p riffle-ml --example bench_online -- DIR` wrote (DIR/sea.csv,
hyperplane.csv, friedman.csv) through River's same models, predict then learn per record,
as the Rust example does.

Usage: bench/ml/bench_river.py DIR [RECORDS]; MODELS=a,b runs only the models named.
"""
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd
from river import forest, linear_model, metrics, naive_bayes, optim, tree

CLASSIFIERS = {
    "logistic-sgd": lambda: linear_model.LogisticRegression(optimizer=optim.SGD(0.01)),
    "logistic-adagrad": lambda: linear_model.LogisticRegression(optimizer=optim.AdaGrad(lr=0.1, eps=1e-8)),
    "logistic-ftrl": lambda: linear_model.LogisticRegression(
        optimizer=optim.FTRLProximal(alpha=0.05, beta=1.0, l1=0.0, l2=1.0)),
    "gaussian-nb": naive_bayes.GaussianNB,
    "hoeffding-tree": tree.HoeffdingTreeClassifier,
    "adaptive-random-forest": lambda: forest.ARFClassifier(seed=42),
}


def wanted(name):
    models = os.environ.get("MODELS")
    return models is None or name in [m.strip() for m in models.split(",")]


def replay(data, stream, limit, name, model, classification):
    if not wanted(name):
        return
    frame = pd.read_csv(data / f"{stream}.csv", nrows=limit)
    features = [c for c in frame.columns if c != "label"]
    rows = frame[features].to_dict(orient="records")
    targets = [bool(v) if classification else float(v) for v in frame["label"]]
    metric = metrics.Accuracy() if classification else metrics.MAE()
    start = time.perf_counter()
    for x, y in zip(rows, targets):
        metric.update(y, model.predict_one(x))
        model.learn_one(x, y)
    seconds = time.perf_counter() - start
    print(json.dumps({"engine": "river", "stream": stream, "model": name, "records": len(targets),
                      "seconds": round(seconds, 4), "records_per_second": round(len(targets) / seconds),
                      "accuracy" if classification else "mae": round(metric.get(), 4)}), flush=True)


def replay_per_key(data, limit):
    """`bench_parallel`'s stream: one AdaGrad logistic regression per key, predict then
    learn each record, as its `test_then_train` job and loop do."""
    path = data / "parallel.csv"
    if not path.exists() or not wanted("logistic-adagrad-per-key"):
        return
    frame = pd.read_csv(path, nrows=limit)
    features = [c for c in frame.columns if c.startswith("x")]
    rows = frame[features].to_dict(orient="records")
    keys = list(frame["key"])
    targets = [bool(v) for v in frame["label"]]
    models = {}
    right = 0
    start = time.perf_counter()
    for key, x, y in zip(keys, rows, targets):
        model = models.get(key)
        if model is None:
            model = models[key] = linear_model.LogisticRegression(optimizer=optim.AdaGrad(lr=0.1, eps=1e-8))
        right += model.predict_one(x) == y
        model.learn_one(x, y)
    seconds = time.perf_counter() - start
    print(json.dumps({"engine": "river", "stream": "parallel", "model": "logistic-adagrad-per-key",
                      "records": len(targets), "seconds": round(seconds, 4),
                      "records_per_second": round(len(targets) / seconds),
                      "accuracy": round(right / len(targets), 4)}), flush=True)


def main():
    data = Path(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    replay_per_key(data, limit)
    for stream in ["sea", "hyperplane"]:
        for name, make in CLASSIFIERS.items():
            replay(data, stream, limit, name, make(), True)
    replay(data, "friedman", limit, "linear-sgd",
           linear_model.LinearRegression(optimizer=optim.SGD(0.01)), False)
    replay(data, "friedman", limit, "hoeffding-tree-regressor",
           tree.HoeffdingTreeRegressor(), False)


if __name__ == "__main__":
    main()
