#!/usr/bin/env python3
"""Records scikit-learn's feature transformers on Riffle's reference data sets.

Exact values, not accuracies: the Rust test crates/riffle-ml/tests/sklearn_features.rs fits the
corresponding Riffle transformers on the same rows (regenerated from the seeds in
crates/riffle-ml/src/suite.rs; the CSV files here come from `riffle ml generate reference`) and
compares every number within 1e-9 relative. Each case records its `params` (how the two sides
correspond), `fit_seconds`, and the expected arrays.

Correspondence:
  PCA(n_components=k)                       <-> Pca { k }
  PolynomialFeatures(degree, interaction_only, include_bias) <-> PolynomialExpansion { same }
  SelectKBest(chi2 | f_classif | f_regression, k) <-> UnivariateFeatureSelector { score_function, mode: k-best, k }
  SelectPercentile / SelectFdr               <-> mode percentile / fdr
  VarianceThreshold(threshold)              <-> VarianceThresholdSelector { threshold }
  KBinsDiscretizer(quantile, ordinal, averaged_inverted_cdf) <-> QuantileDiscretizer { n_buckets }
      (Riffle's outer splits are -inf/inf where scikit-learn keeps the training min/max, so
       only the inner edges bin_edges_[1:-1] are compared; the ordinal codes are the same)
  HashingVectorizer(norm=None, ...)         <-> Tokenizer { pattern: word, min_token_length: 2 } + HashingTf
  TfidfTransformer(norm=None, smooth_idf)   <-> Idf { smooth }
  FeatureHasher(input_type="dict")          <-> FeatureHasher (missing values left out: handle_invalid=keep)

Usage: bench/ml/reference_features.py DATA_DIR [OUT_JSON]
       bench/ml/reference_features.py --timing   (fit times on 200,000 x 20, as the Rust test
                                                  `fit_times_on_200k_rows` prints Riffle's)
"""
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.decomposition import PCA
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.feature_selection import (SelectFdr, SelectKBest, SelectPercentile, VarianceThreshold,
                                       chi2, f_classif, f_regression)
from sklearn.preprocessing import KBinsDiscretizer, MinMaxScaler, PolynomialFeatures

sys.path.insert(0, str(Path(__file__).parent))
from sklearn_reference import load  # noqa: E402

# The corpus of the text cases; tests/sklearn_features.rs holds the same lines.
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Never jump over the lazy dog quickly; the dog bites!",
    "A stream engine with ML built in: Riffle streams, fits and predicts.",
    "Foxes and dogs don't stream, but engines do -- 42 times a second.",
    "snake_case tokens stay whole, and so do numbers like 2024 and 3d",
    "the THE The tHe: case folds to one token",
    "Quick quick QUICK brown brown fox",
    "Predicts, fits, streams: the engine is the stream.",
]


def rows(a):
    return np.asarray(a, dtype=float).tolist()


def timing():
    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=200_000, n_features=20, n_informative=6, n_redundant=4,
                               n_clusters_per_class=2, flip_y=0.01, random_state=7)
    scaled = MinMaxScaler().fit_transform(x)
    cases = [
        ("PCA(k=5)", lambda: PCA(n_components=5).fit(x)),
        ("SelectKBest(f_classif)", lambda: SelectKBest(f_classif).fit(x, y)),
        ("SelectKBest(chi2) on scaled", lambda: SelectKBest(chi2).fit(scaled, y)),
        ("SelectKBest(f_regression)", lambda: SelectKBest(f_regression).fit(x, y)),
        ("VarianceThreshold", lambda: VarianceThreshold().fit(x)),
        ("KBinsDiscretizer(quantile, 5)", lambda: KBinsDiscretizer(
            n_bins=5, encode="ordinal", strategy="quantile",
            quantile_method="averaged_inverted_cdf", subsample=None).fit(x)),
        ("PolynomialFeatures(2) transform", lambda: PolynomialFeatures(2).fit_transform(x)),
    ]
    for name, fit in cases:
        fit()
        start = time.perf_counter()
        for _ in range(3):
            fit()
        print(f"{name:<34} {(time.perf_counter() - start) / 3:.4f}s")


def main():
    if sys.argv[1:] == ["--timing"]:
        return timing()
    data_dir = Path(sys.argv[1])
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else \
        Path(__file__).resolve().parents[2] / "crates/riffle-ml/tests/reference/sklearn_features.json"
    results = {}

    def record(case, params, fit, arrays):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit()
        fit_seconds = time.perf_counter() - start
        results[case] = {"params": params, "fit_seconds": round(fit_seconds, 4), **arrays(model)}
        print(case, {k: (v if not isinstance(v, list) else f"[{len(v)} values]")
                     for k, v in results[case].items()}, file=sys.stderr)

    # PCA on the binary data set.
    xtr, ytr, xte, yte = load(data_dir, "binary")
    record("binary/pca-5", "PCA(n_components=5) <-> Pca { k: 5 }",
           lambda: PCA(n_components=5).fit(xtr.to_numpy()),
           lambda m: {"solver": m._fit_svd_solver,
                      "explained_variance_ratio": rows(m.explained_variance_ratio_),
                      "explained_variance": rows(m.explained_variance_),
                      "mean": rows(m.mean_),
                      "components": rows(m.components_.ravel()),
                      "test_projections_first_5": rows(m.transform(xte.to_numpy()[:5]).ravel())})

    # Univariate selection on binary (chi2 on min-max scaled features, f_classif).
    scaled = MinMaxScaler().fit_transform(xtr.to_numpy())

    def univariate(m):
        return {"scores": rows(m.scores_), "p_values": rows(m.pvalues_),
                "selected": [int(i) for i in m.get_support(indices=True)]}

    record("binary/chi2-kbest-5", "MinMaxScaler, SelectKBest(chi2, k=5) <-> MinMaxScaler, UnivariateFeatureSelector { chi2, k-best, k: 5 }",
           lambda: SelectKBest(chi2, k=5).fit(scaled, ytr), univariate)
    record("binary/f-classif-kbest-5", "SelectKBest(f_classif, k=5) <-> UnivariateFeatureSelector { f-classif, k-best, k: 5 }",
           lambda: SelectKBest(f_classif, k=5).fit(xtr.to_numpy(), ytr), univariate)
    record("binary/f-classif-percentile-25", "SelectPercentile(f_classif, percentile=25) <-> UnivariateFeatureSelector { f-classif, percentile, percentile: 25 }",
           lambda: SelectPercentile(f_classif, percentile=25).fit(xtr.to_numpy(), ytr), univariate)

    # Binning on binary.
    record("binary/kbins-quantile-5",
           "KBinsDiscretizer(n_bins=5, encode='ordinal', strategy='quantile', quantile_method='averaged_inverted_cdf') <-> QuantileDiscretizer { n_buckets: 5 } on f0..f19",
           lambda: KBinsDiscretizer(n_bins=5, encode="ordinal", strategy="quantile",
                                    quantile_method="averaged_inverted_cdf", subsample=None).fit(xtr.to_numpy()),
           lambda m: {"inner_edges": [rows(e[1:-1]) for e in m.bin_edges_],
                      "test_codes_first_10": rows(m.transform(xte.to_numpy()[:10]).ravel())})

    # Multiclass: chi2 and f_classif with four classes.
    xtr_m, ytr_m, _, _ = load(data_dir, "multiclass")
    scaled_m = MinMaxScaler().fit_transform(xtr_m.to_numpy())
    record("multiclass/chi2-kbest-5", "MinMaxScaler, SelectKBest(chi2, k=5) <-> MinMaxScaler, UnivariateFeatureSelector { chi2, k-best, k: 5 }",
           lambda: SelectKBest(chi2, k=5).fit(scaled_m, ytr_m), univariate)
    record("multiclass/f-classif-kbest-5", "SelectKBest(f_classif, k=5) <-> UnivariateFeatureSelector { f-classif, k-best, k: 5 }",
           lambda: SelectKBest(f_classif, k=5).fit(xtr_m.to_numpy(), ytr_m), univariate)

    # Regression: f_regression, variance threshold, polynomial features.
    xtr, ytr, xte, yte = load(data_dir, "regression")
    record("regression/f-regression-kbest-5", "SelectKBest(f_regression, k=5) <-> UnivariateFeatureSelector { f-regression, k-best, k: 5 }",
           lambda: SelectKBest(f_regression, k=5).fit(xtr.to_numpy(), ytr), univariate)
    record("regression/f-regression-fdr-0.01", "SelectFdr(f_regression, alpha=0.01) <-> UnivariateFeatureSelector { f-regression, fdr, alpha: 0.01 }",
           lambda: SelectFdr(f_regression, alpha=0.01).fit(xtr.to_numpy(), ytr), univariate)
    record("regression/variance-threshold-1", "VarianceThreshold(threshold=1.0) <-> VarianceThresholdSelector { threshold: 1.0 }",
           lambda: VarianceThreshold(threshold=1.0).fit(xtr.to_numpy()),
           lambda m: {"variances": rows(m.variances_),
                      "selected": [int(i) for i in m.get_support(indices=True)]})
    three = xtr[["f0", "f1", "f2"]].to_numpy()[:5]
    record("regression/polynomial-2", "PolynomialFeatures(degree=2) on f0, f1, f2 <-> PolynomialExpansion { degree: 2 } (first 5 training rows)",
           lambda: PolynomialFeatures(degree=2).fit(three),
           lambda m: {"output": rows(m.transform(three).ravel()), "width": int(m.n_output_features_)})
    four = xtr[["f0", "f1", "f2", "f3"]].to_numpy()[:5]
    record("regression/polynomial-3-interaction",
           "PolynomialFeatures(degree=3, interaction_only=True, include_bias=False) on f0..f3 <-> PolynomialExpansion { degree: 3, interaction_only, no bias } (first 5 training rows)",
           lambda: PolynomialFeatures(degree=3, interaction_only=True, include_bias=False).fit(four),
           lambda m: {"output": rows(m.transform(four).ravel()), "width": int(m.n_output_features_)})

    # Text: hashed term counts and IDF on the corpus above.
    n_features = 32
    counts = HashingVectorizer(n_features=n_features, alternate_sign=False, norm=None).transform(CORPUS).toarray()
    signed = HashingVectorizer(n_features=n_features, alternate_sign=True, norm=None).transform(CORPUS).toarray()
    binary = HashingVectorizer(n_features=n_features, alternate_sign=False, norm=None, binary=True).transform(CORPUS).toarray()

    def idf_arrays(m):
        idf = [float(v) if np.isfinite(v) else None for v in m.idf_]
        return {"idf": idf, "tfidf": rows(m.transform(counts).toarray().ravel()),
                "counts": rows(counts.ravel()), "signed_counts": rows(signed.ravel()),
                "binary_counts": rows(binary.ravel())}

    record("corpus/hashing-tf-idf-smooth",
           f"HashingVectorizer(n_features={n_features}, alternate_sign=False, norm=None), TfidfTransformer(norm=None, smooth_idf=True) <-> Tokenizer {{ word, min_token_length 2 }}, HashingTf {{ num_features: {n_features} }}, Idf {{ smooth: true }}",
           lambda: TfidfTransformer(norm=None, smooth_idf=True).fit(counts), idf_arrays)
    record("corpus/hashing-tf-idf-raw",
           "as corpus/hashing-tf-idf-smooth with smooth_idf=False <-> Idf { smooth: false } (slots in no document: inf in scikit-learn, null here, 0 in Riffle)",
           lambda: TfidfTransformer(norm=None, smooth_idf=False).fit(counts),
           lambda m: {"idf": [float(v) if np.isfinite(v) else None for v in m.idf_]})

    # Feature hashing of the mixed churn table (first 20 rows).
    train = pd.read_csv(data_dir / "customers-train.csv").head(20)
    numeric, text = ["age", "income", "visits", "tenure_months"], ["city", "plan"]
    dicts = []
    for _, r in train.iterrows():
        d = {c: float(r[c]) for c in numeric if not pd.isna(r[c])}
        d.update({c: str(r[c]) for c in text if not pd.isna(r[c])})
        dicts.append(d)
    record("customers/feature-hasher-64",
           "FeatureHasher(n_features=64, input_type='dict', alternate_sign=True), missing values left out <-> FeatureHasher { num_features: 64, handle_invalid: keep }",
           lambda: FeatureHasher(n_features=64, input_type="dict").fit(dicts),
           lambda m: {"output": rows(m.transform(dicts).toarray().ravel())})

    recipes = json.loads((data_dir / "recipes.json").read_text())
    out = {"generated_by": "bench/ml/reference_features.py on the files of `riffle ml generate reference`",
           "sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
           "python_version": sys.version.split()[0], "datasets": recipes, "corpus": CORPUS,
           "results": results}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
