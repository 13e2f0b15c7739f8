#!/usr/bin/env python3
"""scikit-learn's side of the fit-time benchmark (bench/ml/run.sh): the same CSV files that
Riffle's bench examples wrote, one JSON line per fit, n_jobs=-1 where scikit-learn has it.

Usage: bench/ml/bench_sklearn.py DIR [algorithm ...]
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.metrics import accuracy_score, r2_score


def load(path):
    frame = pd.read_csv(path)
    return frame.drop(columns=["label"]).to_numpy(), frame["label"].to_numpy()


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def main():
    data = Path(sys.argv[1])
    wanted = set(sys.argv[2:])
    x_reg, y_reg = load(data / "reg.csv")
    x_clf, y_clf = load(data / "clf.csv")

    def emit(algorithm, seconds, model, x, y, metric, score):
        if wanted and algorithm.split("/")[0] not in wanted:
            return
        predicted, predict_seconds = timed(lambda: model.predict(x))
        print(json.dumps({"engine": "scikit-learn", "algorithm": algorithm,
                          "fit_seconds": round(seconds, 4), "predict_seconds": round(predict_seconds, 4),
                          metric: round(float(score(y, predicted)), 4)}))

    model, s = timed(lambda: LinearRegression(n_jobs=-1).fit(x_reg, y_reg))
    emit("linear-regression", s, model, x_reg, y_reg, "train_r2", r2_score)
    model, s = timed(lambda: LogisticRegression(C=1.0, max_iter=100).fit(x_clf, y_clf))
    emit("logistic-regression", s, model, x_clf, y_clf, "train_accuracy", accuracy_score)

    # The rows `bench_trees` wrote (its own seed), when present.
    trees = data / "trees.csv"
    if trees.exists():
        x, y = load(trees)
        for name, make in [
            ("random-forest", lambda: RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1)),
            ("decision-tree", lambda: DecisionTreeClassifier(max_depth=10)),
            ("hist-gradient-boosting", lambda: HistGradientBoostingClassifier()),
        ]:
            model, s = timed(lambda: make().fit(x, y))
            emit(name, s, model, x, y, "train_accuracy", accuracy_score)


if __name__ == "__main__":
    main()
