#!/usr/bin/env python3
"""Times scikit-learn on the rows that `cargo run --release -p riffle-ml --example bench_classic`
wrote: KMeans(n_clusters=8, n_init=1) fitting on 200,000 x 20 rows, and
KNeighborsClassifier(n_neighbors=5) fitting plus predicting 10,000 query rows. Best of three,
like the Rust example, so the two can be compared as a ratio from one run.

Usage: bench/ml/bench_classic.py DIR
"""
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.neighbors import KNeighborsClassifier

REPEATS = 3


def load(path):
    frame = pd.read_csv(path)
    features = [c for c in frame.columns if c != "label"]
    return np.ascontiguousarray(frame[features].to_numpy()), frame["label"].to_numpy()


def fastest(run):
    best, out = float("inf"), None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out


def main():
    data_dir = Path(sys.argv[1])
    x, y = load(data_dir / "classification-train.csv")
    xq, yq = load(data_dir / "classification-query.csv")
    xb, _ = load(data_dir / "blobs-train.csv")
    print(f"scikit-learn {sklearn.__version__}, {x.shape[0]} x {x.shape[1]}, "
          f"{os.cpu_count()} cpus, best of {REPEATS}")
    for name, data in [("blobs", xb), ("classification", x)]:
        seconds, model = fastest(lambda: KMeans(n_clusters=8, n_init=1, random_state=0).fit(data))
        print(f"kmeans k=8 fit on {name:<15} {seconds:>8.3f} s   iterations {model.n_iter_:>3} "
              f"({1e3 * seconds / max(model.n_iter_, 1):.1f} ms each)  inertia {model.inertia_:.6e}")

    def knn():
        model = KNeighborsClassifier(n_neighbors=5).fit(x, y)
        return model.predict(xq)

    seconds, predictions = fastest(knn)
    print(f"knn k=5 fit + predict {len(yq)} rows {seconds:>8.3f} s   "
          f"accuracy {np.mean(predictions == yq):.4f}")


if __name__ == "__main__":
    main()
