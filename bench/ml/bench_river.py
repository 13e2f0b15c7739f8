#!/usr/bin/env python3
"""River's side of the online-learning throughput benchmark: replays the SEA stream that
`cargo run --release -p riffle-ml --example bench_online -- DIR` wrote (DIR/sea.csv) through
River's LogisticRegression, predict then learn per record, as the Rust example does.

Usage: bench/ml/bench_river.py DIR [RECORDS]
"""
import json
import sys
import time
from pathlib import Path

import pandas as pd
from river import linear_model, metrics, optim

OPTIMIZERS = {
    "sgd": lambda: optim.SGD(0.01),
    "adagrad": lambda: optim.AdaGrad(lr=0.1, eps=1e-8),
    "ftrl": lambda: optim.FTRLProximal(alpha=0.05, beta=1.0, l1=0.0, l2=1.0),
}


def main():
    data = Path(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    frame = pd.read_csv(data / "sea.csv", nrows=limit)
    features = [c for c in frame.columns if c != "label"]
    rows = frame[features].to_dict(orient="records")
    labels = [bool(v) for v in frame["label"]]
    for name, make in OPTIMIZERS.items():
        model = linear_model.LogisticRegression(optimizer=make())
        accuracy = metrics.Accuracy()
        start = time.perf_counter()
        for x, y in zip(rows, labels):
            accuracy.update(y, model.predict_one(x))
            model.learn_one(x, y)
        seconds = time.perf_counter() - start
        print(json.dumps({"engine": "river", "model": f"logistic-{name}", "records": len(labels),
                          "seconds": round(seconds, 4), "records_per_second": round(len(labels) / seconds),
                          "accuracy": round(accuracy.get(), 4)}))


if __name__ == "__main__":
    main()
