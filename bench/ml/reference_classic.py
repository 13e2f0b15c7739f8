#!/usr/bin/env python3
"""Records scikit-learn's numbers for the classic models on Riffle's reference data sets.

Naive Bayes, nearest neighbours, k-means and the linear SVM, fitted on the CSV files of
`riffle ml generate reference --out DIR` (see crates/riffle-ml/src/suite.rs) so that both
libraries see exactly the same rows. The metrics go to
crates/riffle-ml/tests/reference/sklearn_classic.json, which the Rust test
crates/riffle-ml/tests/sklearn_classic.rs compares Riffle against.

Parameter correspondence:
  GaussianNB(var_smoothing=1e-9)          <-> GaussianNaiveBayes { var_smoothing: 1e-9 }
  MinMaxScaler() + MultinomialNB(alpha=1) <-> MinMaxScaler (fitted on train) + MultinomialNaiveBayes { alpha: 1 }
  KNeighborsClassifier(n_neighbors=15)    <-> KNearestNeighborsClassifier { k: 15, weights: uniform }
  KNeighborsRegressor(15, 'distance')     <-> KNearestNeighborsRegressor { k: 15, weights: distance }
  KMeans(n_clusters=5, random_state=0, n_init=1) <-> KMeans { k: 5, n_init: 1, seed: 0 }
  LinearSVC(C=1.0)                        <-> LinearSVC { c: 1.0 } (Riffle leaves the intercept
                                              unpenalised, liblinear penalises it)

Usage: bench/ml/reference_classic.py DATA_DIR [OUT_JSON]
"""
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import (accuracy_score, adjusted_rand_score, f1_score, roc_auc_score,
                             silhouette_score)
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).parent))
from sklearn_reference import classification_metrics, load, regression_metrics  # noqa: E402


def decision_metrics(model, x, y):
    """Accuracy, F1 and AUC from a classifier without probabilities (its decision values);
    the multiclass AUC is the unweighted mean of the one-vs-rest AUCs of the columns."""
    pred = model.predict(x)
    scores = model.decision_function(x)
    classes = model.classes_
    out = {"accuracy": accuracy_score(y, pred), "f1_macro": f1_score(y, pred, average="macro")}
    if len(classes) == 2:
        out["f1"] = f1_score(y, pred, pos_label=classes[1])
        out["roc_auc"] = roc_auc_score(y, scores)
    else:
        out["roc_auc"] = float(np.mean([roc_auc_score(y == c, scores[:, j])
                                        for j, c in enumerate(classes)]))
    return out


def main():
    data_dir = Path(sys.argv[1])
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else \
        Path(__file__).resolve().parents[2] / "crates/riffle-ml/tests/reference/sklearn_classic.json"
    results = {}

    def record(case, params, fit, metrics):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit()
        fit_seconds = time.perf_counter() - start
        results[case] = {"params": params, "fit_seconds": round(fit_seconds, 4),
                         **{k: float(v) for k, v in metrics(model).items()}}
        print(case, results[case], file=sys.stderr)

    for name in ["binary", "multiclass"]:
        xtr, ytr, xte, yte = load(data_dir, name)
        record(f"{name}/gaussian-nb", "GaussianNB(var_smoothing=1e-9) <-> var_smoothing=1e-9",
               lambda: GaussianNB().fit(xtr, ytr),
               lambda m: classification_metrics(m, xte, yte))
        record(f"{name}/linear-svc",
               "LinearSVC(C=1.0, squared hinge, L2, liblinear penalises the intercept) <-> c=1.0 "
               "(mean squared hinge + 1/(2 C n) |w|^2 by L-BFGS, intercept not penalised)",
               lambda: LinearSVC(C=1.0, max_iter=10000).fit(xtr, ytr),
               lambda m: decision_metrics(m, xte, yte))

    xtr, ytr, xte, yte = load(data_dir, "binary")
    record("binary/multinomial-nb",
           "MinMaxScaler() fitted on train, then MultinomialNB(alpha=1.0) <-> MinMaxScaler + alpha=1.0",
           lambda: make_pipeline(MinMaxScaler(), MultinomialNB(alpha=1.0)).fit(xtr, ytr),
           lambda m: classification_metrics(m, xte, yte))
    record("binary/knn-15", "KNeighborsClassifier(n_neighbors=15) <-> k=15, weights=uniform",
           lambda: KNeighborsClassifier(n_neighbors=15).fit(xtr, ytr),
           lambda m: classification_metrics(m, xte, yte))

    xtr, ytr, xte, yte = load(data_dir, "regression")
    record("regression/knn-15-distance",
           "KNeighborsRegressor(n_neighbors=15, weights='distance') <-> k=15, weights=distance",
           lambda: KNeighborsRegressor(n_neighbors=15, weights="distance").fit(xtr, ytr),
           lambda m: regression_metrics(m, xte, yte))

    xtr, ytr, xte, yte = load(data_dir, "blobs")

    def kmeans_metrics(m):
        test_clusters = m.predict(xte)
        return {"inertia": m.inertia_, "n_iter": m.n_iter_,
                "ari_train": adjusted_rand_score(ytr, m.labels_),
                "ari_test": adjusted_rand_score(yte, test_clusters),
                "silhouette_test": silhouette_score(xte, test_clusters)}

    record("blobs/kmeans-5", "KMeans(n_clusters=5, random_state=0, n_init=1) <-> k=5, n_init=1, seed=0",
           lambda: KMeans(n_clusters=5, random_state=0, n_init=1).fit(xtr),
           kmeans_metrics)

    recipes = json.loads((data_dir / "recipes.json").read_text())
    out = {"generated_by": "bench/ml/reference_classic.py on the files of `riffle ml generate reference`",
           "sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
           "python_version": sys.version.split()[0], "datasets": recipes, "results": results}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
