#!/usr/bin/env python3
"""Records scikit-learn's numbers for Riffle's tree models on the reference data sets.

Reads the CSV files of `riffle ml generate reference --out DIR` (the same rows Riffle's test
regenerates in-process), fits scikit-learn's trees, forests and histogram gradient boosting
and writes crates/riffle-ml/tests/reference/sklearn_trees.json, which
crates/riffle-ml/tests/sklearn_trees.rs compares Riffle against.

Parameter correspondence (Riffle name <-> scikit-learn name, same values):
  DecisionTree*(max_depth=8)                 <-> max_depth=8, everything else default
  RandomForest*(n_estimators=100, max_depth=10) <-> n_trees=100, max_depth=10
      (max_features: classifier "sqrt", regressor 1.0 = all, bootstrap=True, both defaults)
  HistGradientBoosting*(early_stopping=False) <-> early_stopping=off; learning_rate=0.1,
      max_iter=100, max_leaf_nodes=31, min_samples_leaf=20, l2_regularization=0, max_bins=255
Riffle's trees split on at most 256 quantile bins per feature, scikit-learn's single trees and
forests on the exact sorted values; forests are random on both sides, so their reference is the
mean over random_state 0..4 (the per-seed spread is recorded too).

The "-binned" cases fit scikit-learn's DecisionTree* on the bin indices of its own
HistGradientBoosting binning (_BinMapper(n_bins=256): 255 quantile bins, the edges Riffle
computes too) and score the test rows binned alike: the same candidate splits as Riffle's
max_bins=255, so those trees must agree with Riffle's up to ties, isolating the tree-growing
logic from the binning.

Usage: bench/ml/reference_trees.py DATA_DIR [OUT_JSON]
"""
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
import sklearn
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from sklearn_reference import classification_metrics, load, regression_metrics

SEEDS = range(5)


class binned_scorer:
    """Fits and scores models on the bin indices of scikit-learn's histogram binning."""

    def __init__(self, xtr, xte, yte, metrics):
        mapper = _BinMapper(n_bins=256).fit(xtr.to_numpy())
        self.xtr, self.xte = mapper.transform(xtr.to_numpy()), mapper.transform(xte.to_numpy())
        self.yte, self.metrics = yte, metrics

    def fit(self, model, ytr):
        return model.fit(self.xtr, ytr)

    def score(self, model):
        return self.metrics(model, self.xte, self.yte)


def main():
    data_dir = Path(sys.argv[1])
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else \
        Path(__file__).resolve().parents[2] / "crates/riffle-ml/tests/reference/sklearn_trees.json"
    results = {}

    def record(case, params, fit, metrics, seeds=None):
        """Fits once (or once per seed, averaging the metrics) and records the numbers."""
        runs, seconds = [], []
        for seed in (seeds if seeds is not None else [0]):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fit(seed)
            seconds.append(time.perf_counter() - start)
            runs.append({k: float(v) for k, v in metrics(model).items()})
        out = {"params": params, "fit_seconds": round(float(np.mean(seconds)), 4)}
        for key in runs[0]:
            values = [r[key] for r in runs]
            out[key] = float(np.mean(values))
            if len(runs) > 1:
                out[f"{key}_min"] = float(np.min(values))
                out[f"{key}_max"] = float(np.max(values))
        results[case] = out
        print(case, out, file=sys.stderr)

    for name in ["binary", "multiclass"]:
        xtr, ytr, xte, yte = load(data_dir, name)
        score = lambda m, xte=xte, yte=yte: classification_metrics(m, xte, yte)
        binned = binned_scorer(xtr, xte, yte, classification_metrics)
        for depth in [8, 4]:
            record(f"{name}/decision-tree-depth{depth}-binned",
                   f"DecisionTreeClassifier(max_depth={depth}, random_state=0) on _BinMapper(n_bins=256) "
                   f"bins <-> max_depth={depth}, max_bins=255",
                   lambda s, depth=depth, xtr=xtr, ytr=ytr: binned.fit(
                       DecisionTreeClassifier(max_depth=depth, random_state=s), ytr), binned.score)
        for depth in [8, 4]:
            record(f"{name}/decision-tree-depth{depth}",
                   f"DecisionTreeClassifier(max_depth={depth}, random_state=0) <-> max_depth={depth}",
                   lambda s, depth=depth, xtr=xtr, ytr=ytr:
                   DecisionTreeClassifier(max_depth=depth, random_state=s).fit(xtr, ytr), score)
        record(f"{name}/random-forest",
               "RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1), mean over "
               "random_state 0..4 <-> n_trees=100, max_depth=10",
               lambda s, xtr=xtr, ytr=ytr: RandomForestClassifier(
                   n_estimators=100, max_depth=10, n_jobs=-1, random_state=s).fit(xtr, ytr),
               score, seeds=SEEDS)
        record(f"{name}/hist-gradient-boosting",
               "HistGradientBoostingClassifier(early_stopping=False, random_state=0) <-> early_stopping=off",
               lambda s, xtr=xtr, ytr=ytr: HistGradientBoostingClassifier(
                   early_stopping=False, random_state=s).fit(xtr, ytr), score)

    xtr, ytr, xte, yte = load(data_dir, "regression")
    score = lambda m: regression_metrics(m, xte, yte)
    binned = binned_scorer(xtr, xte, yte, regression_metrics)
    for depth in [8, 4]:
        record(f"regression/decision-tree-depth{depth}-binned",
               f"DecisionTreeRegressor(max_depth={depth}, random_state=0) on _BinMapper(n_bins=256) "
               f"bins <-> max_depth={depth}, max_bins=255",
               lambda s, depth=depth: binned.fit(DecisionTreeRegressor(max_depth=depth, random_state=s), ytr),
               binned.score)
    for depth in [8, 4]:
        record(f"regression/decision-tree-depth{depth}",
               f"DecisionTreeRegressor(max_depth={depth}, random_state=0) <-> max_depth={depth}",
               lambda s, depth=depth: DecisionTreeRegressor(max_depth=depth, random_state=s).fit(xtr, ytr),
               score)
    record("regression/random-forest",
           "RandomForestRegressor(n_estimators=100, max_depth=10, n_jobs=-1), mean over "
           "random_state 0..4 <-> n_trees=100, max_depth=10",
           lambda s: RandomForestRegressor(n_estimators=100, max_depth=10, n_jobs=-1,
                                           random_state=s).fit(xtr, ytr),
           score, seeds=SEEDS)
    record("regression/hist-gradient-boosting",
           "HistGradientBoostingRegressor(early_stopping=False, random_state=0) <-> early_stopping=off",
           lambda s: HistGradientBoostingRegressor(early_stopping=False, random_state=s).fit(xtr, ytr),
           score)

    recipes = json.loads((data_dir / "recipes.json").read_text())
    out = {"generated_by": "bench/ml/reference_trees.py on the files of `riffle ml generate reference`",
           "sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
           "python_version": sys.version.split()[0], "datasets": recipes, "results": results}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
