//! Feature transformers against scikit-learn, value by value: each case fits a Riffle
//! transformer on a reference data set (regenerated here from its seed, see
//! `riffle_ml::suite`) or on the small corpus below, and compares its numbers with those
//! scikit-learn recorded on the same rows (`tests/reference/sklearn_features.json`, written by
//! `bench/ml/reference_features.py`, which says how the parameters correspond).
//!
//! Every value must agree within 1e-9 relative. The one exception is p-values both sides
//! put below 1e-300: SciPy flushes some of those to 0 where Riffle still has a subnormal, and
//! both mean "certainly significant".

use arrow_array::{RecordBatch, StringArray};
use riffle_ml::data;
use riffle_ml::feature::{
    Bucketizer, FeatureHasher, HandleInvalid, HashingTf, Idf, MinMaxScaler, Pca,
    PolynomialExpansion, QuantileDiscretizer, ScoreFunction, SelectionMode, TokenPattern,
    Tokenizer, UnivariateFeatureSelector, VarianceThresholdSelector, VectorAssembler,
};
use riffle_ml::suite::{self, ReferenceDataset};
use riffle_ml::{Estimator, Transformer};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

const REFERENCE: &str = include_str!("reference/sklearn_features.json");
const RELATIVE: f64 = 1e-9;

/// The corpus of `bench/ml/reference_features.py`.
const CORPUS: [&str; 8] = [
    "The quick brown fox jumps over the lazy dog.",
    "Never jump over the lazy dog quickly; the dog bites!",
    "A stream engine with ML built in: Riffle streams, fits and predicts.",
    "Foxes and dogs don't stream, but engines do -- 42 times a second.",
    "snake_case tokens stay whole, and so do numbers like 2024 and 3d",
    "the THE The tHe: case folds to one token",
    "Quick quick QUICK brown brown fox",
    "Predicts, fits, streams: the engine is the stream.",
];

fn reference(case: &str) -> Value {
    let all: Value = serde_json::from_str(REFERENCE).unwrap();
    let corpus: Vec<&str> = all["corpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(corpus, CORPUS, "the corpus differs from the script's");
    let results = all["results"][case].clone();
    assert!(results.is_object(), "no reference numbers for {case}");
    results
}

/// The numbers under `key`; null (scikit-learn's inf) reads as NaN.
fn floats(case: &Value, key: &str) -> Vec<f64> {
    case[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array `{key}`"))
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn indices(case: &Value) -> Vec<usize> {
    case["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

/// Asserts `ours` equals `theirs` within 1e-9 relative, printing the largest difference.
fn compare(case: &str, what: &str, ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{case} {what}: lengths differ");
    let mut worst = 0.0f64;
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        if a == b || (a.abs() < 1e-300 && b.abs() < 1e-300) {
            continue;
        }
        let rel = (a - b).abs() / a.abs().max(b.abs());
        worst = worst.max(rel);
        assert!(
            rel <= RELATIVE,
            "{case} {what}[{i}]: riffle {a:e} vs scikit-learn {b:e} (relative {rel:e})"
        );
    }
    println!(
        "{case:<38} {what:<26} {} values, largest relative difference {worst:.1e}",
        ours.len()
    );
}

fn dataset(name: &str) -> ReferenceDataset {
    suite::reference_datasets()
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap()
}

fn timed<T>(case: &str, theirs: &Value, fit: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = fit();
    println!(
        "{case:<38} fit {:.4}s (scikit-learn {:.4}s)",
        start.elapsed().as_secs_f64(),
        theirs["fit_seconds"].as_f64().unwrap_or(f64::NAN)
    );
    out
}

#[test]
fn pca_matches_scikit_learn_component_by_component() {
    let d = dataset("binary");
    let train = suite::with_features(&d, &d.train).unwrap();
    let case = "binary/pca-5";
    let theirs = reference(case);
    let model = timed(case, &theirs, || {
        Pca {
            k: 5,
            ..Default::default()
        }
        .fit(&train)
        .unwrap()
    });
    compare(
        case,
        "explained_variance_ratio",
        &model.explained_variance_ratio,
        &floats(&theirs, "explained_variance_ratio"),
    );
    compare(
        case,
        "explained_variance",
        &model.explained_variance,
        &floats(&theirs, "explained_variance"),
    );
    compare(case, "mean", &model.mean, &floats(&theirs, "mean"));
    // Both sides turn each component so its largest entry is positive: equal, not up to sign.
    compare(
        case,
        "components",
        model.components.as_slice(),
        &floats(&theirs, "components"),
    );
    let test = suite::with_features(&d, &d.test.slice(0, 5)).unwrap();
    let projected = data::read_vectors(&model.transform(&test).unwrap(), "pca").unwrap();
    compare(
        case,
        "test projections",
        projected.as_slice(),
        &floats(&theirs, "test_projections_first_5"),
    );
}

fn univariate(
    case: &str,
    table: &RecordBatch,
    features_col: &str,
    selector: UnivariateFeatureSelector,
) {
    let theirs = reference(case);
    let selector = UnivariateFeatureSelector {
        features_col: features_col.into(),
        ..selector
    };
    let model = timed(case, &theirs, || selector.fit(table).unwrap());
    compare(case, "scores", &model.scores, &floats(&theirs, "scores"));
    compare(
        case,
        "p-values",
        &model.p_values,
        &floats(&theirs, "p_values"),
    );
    assert_eq!(
        model.selected,
        indices(&theirs),
        "{case}: selected features"
    );
    println!("{case:<38} selected {:?} (as scikit-learn)", model.selected);
}

fn min_max_scaled(table: &RecordBatch) -> RecordBatch {
    let scaler = MinMaxScaler {
        input_col: "features".into(),
        output_col: "scaled".into(),
        ..Default::default()
    };
    scaler.fit(table).unwrap().transform(table).unwrap()
}

#[test]
fn univariate_scores_p_values_and_selections_match_scikit_learn() {
    let k_best = |score_function| UnivariateFeatureSelector {
        score_function,
        mode: SelectionMode::KBest,
        k: 5,
        ..Default::default()
    };
    for name in ["binary", "multiclass"] {
        let d = dataset(name);
        let train = min_max_scaled(&suite::with_features(&d, &d.train).unwrap());
        univariate(
            &format!("{name}/chi2-kbest-5"),
            &train,
            "scaled",
            k_best(ScoreFunction::Chi2),
        );
        univariate(
            &format!("{name}/f-classif-kbest-5"),
            &train,
            "features",
            k_best(ScoreFunction::FClassif),
        );
    }
    let d = dataset("binary");
    let train = suite::with_features(&d, &d.train).unwrap();
    univariate(
        "binary/f-classif-percentile-25",
        &train,
        "features",
        UnivariateFeatureSelector {
            mode: SelectionMode::Percentile,
            percentile: 25.0,
            ..Default::default()
        },
    );
    let d = dataset("regression");
    let train = suite::with_features(&d, &d.train).unwrap();
    univariate(
        "regression/f-regression-kbest-5",
        &train,
        "features",
        k_best(ScoreFunction::FRegression),
    );
    univariate(
        "regression/f-regression-fdr-0.01",
        &train,
        "features",
        UnivariateFeatureSelector {
            score_function: ScoreFunction::FRegression,
            mode: SelectionMode::Fdr,
            alpha: 0.01,
            ..Default::default()
        },
    );
}

#[test]
fn variance_threshold_and_polynomial_features_match_scikit_learn() {
    let d = dataset("regression");
    let train = suite::with_features(&d, &d.train).unwrap();
    let case = "regression/variance-threshold-1";
    let theirs = reference(case);
    let model = timed(case, &theirs, || {
        VarianceThresholdSelector {
            threshold: 1.0,
            ..Default::default()
        }
        .fit(&train)
        .unwrap()
    });
    compare(
        case,
        "variances",
        &model.scores,
        &floats(&theirs, "variances"),
    );
    assert_eq!(
        model.selected,
        indices(&theirs),
        "{case}: selected features"
    );

    let first = d.train.slice(0, 5);
    for (case, columns, expansion) in [
        (
            "regression/polynomial-2",
            vec!["f0", "f1", "f2"],
            PolynomialExpansion::default(),
        ),
        (
            "regression/polynomial-3-interaction",
            vec!["f0", "f1", "f2", "f3"],
            PolynomialExpansion {
                degree: 3,
                interaction_only: true,
                include_bias: false,
                ..Default::default()
            },
        ),
    ] {
        let theirs = reference(case);
        let t = VectorAssembler::new(&columns, "features")
            .transform(&first)
            .unwrap();
        let out = data::read_vectors(&expansion.transform(&t).unwrap(), "poly").unwrap();
        assert_eq!(
            out.cols() as u64,
            theirs["width"].as_u64().unwrap(),
            "{case}"
        );
        compare(case, "output", out.as_slice(), &floats(&theirs, "output"));
    }
}

#[test]
fn quantile_bins_match_kbins_discretizer() {
    let d = dataset("binary");
    let case = "binary/kbins-quantile-5";
    let theirs = reference(case);
    let outputs: Vec<String> = d.features.iter().map(|f| format!("{f}_bin")).collect();
    let discretizer = QuantileDiscretizer {
        input_cols: d.features.clone(),
        output_cols: outputs.clone(),
        n_buckets: 5,
        handle_invalid: HandleInvalid::Error,
    };
    let model: Bucketizer = timed(case, &theirs, || discretizer.fit(&d.train).unwrap());
    let expected = theirs["inner_edges"].as_array().unwrap();
    assert_eq!(expected.len(), model.splits.len());
    for (j, (splits, edges)) in model.splits.iter().zip(expected).enumerate() {
        // Riffle's outer splits are -inf and inf; scikit-learn keeps the training min and max
        // there but bins with the inner edges only, clipping beyond them, which is the same.
        let inner = &splits[1..splits.len() - 1];
        let edges: Vec<f64> = edges
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        compare(case, &format!("inner edges of f{j}"), inner, &edges);
    }
    let test = model.transform(&d.test.slice(0, 10)).unwrap();
    let columns: Vec<Vec<f64>> = outputs
        .iter()
        .map(|c| data::read_f64(&test, c).unwrap())
        .collect();
    let codes: Vec<f64> = (0..10)
        .flat_map(|i| columns.iter().map(move |c| c[i]))
        .collect();
    compare(
        case,
        "test codes",
        &codes,
        &floats(&theirs, "test_codes_first_10"),
    );
}

#[test]
fn hashed_term_counts_and_idf_match_scikit_learn() {
    let t = data::float_table(vec![("id", (0..CORPUS.len()).map(|i| i as f64).collect())]).unwrap();
    let t = data::with_column(&t, "text", Arc::new(StringArray::from(CORPUS.to_vec()))).unwrap();
    // scikit-learn's default token_pattern, (?u)\b\w\w+\b, lower-cased.
    let tokenizer = Tokenizer {
        pattern: TokenPattern::Word,
        min_token_length: 2,
        ..Default::default()
    };
    let t = tokenizer.transform(&t).unwrap();
    let case = "corpus/hashing-tf-idf-smooth";
    let theirs = reference(case);
    for (what, tf) in [
        (
            "counts",
            HashingTf {
                num_features: 32,
                ..Default::default()
            },
        ),
        (
            "signed_counts",
            HashingTf {
                num_features: 32,
                alternate_sign: true,
                ..Default::default()
            },
        ),
        (
            "binary_counts",
            HashingTf {
                num_features: 32,
                binary: true,
                ..Default::default()
            },
        ),
    ] {
        let out = data::read_vectors(&tf.transform(&t).unwrap(), "tf").unwrap();
        compare(case, what, out.as_slice(), &floats(&theirs, what));
    }
    let t = HashingTf {
        num_features: 32,
        ..Default::default()
    }
    .transform(&t)
    .unwrap();
    let model = timed(case, &theirs, || Idf::default().fit(&t).unwrap());
    compare(case, "idf", &model.idf, &floats(&theirs, "idf"));
    let out = data::read_vectors(&model.transform(&t).unwrap(), "tfidf").unwrap();
    compare(case, "tf-idf", out.as_slice(), &floats(&theirs, "tfidf"));

    let case = "corpus/hashing-tf-idf-raw";
    let theirs = reference(case);
    let raw = Idf {
        smooth: false,
        ..Default::default()
    }
    .fit(&t)
    .unwrap();
    let expected: Vec<f64> = floats(&theirs, "idf")
        .into_iter()
        // A slot in no document: inf in scikit-learn (recorded as null), 0 in Riffle.
        .map(|v| if v.is_nan() { 0.0 } else { v })
        .collect();
    assert!(
        expected.contains(&0.0),
        "the corpus should leave some slot empty"
    );
    compare(case, "idf", &raw.idf, &expected);
}

#[test]
fn feature_hashing_of_the_churn_table_matches_scikit_learn() {
    let d = dataset("customers");
    let case = "customers/feature-hasher-64";
    let theirs = reference(case);
    let hasher = FeatureHasher {
        input_cols: ["age", "income", "city", "plan", "visits", "tenure_months"]
            .map(String::from)
            .to_vec(),
        num_features: 64,
        handle_invalid: HandleInvalid::Keep,
        ..Default::default()
    };
    let out = hasher.transform(&d.train.slice(0, 20)).unwrap();
    let out = data::read_vectors(&out, "features").unwrap();
    compare(case, "output", out.as_slice(), &floats(&theirs, "output"));
}

/// Fit times on the benchmark shape, 200,000 × 20 (run with `--release --ignored
/// --nocapture`; `bench/ml/reference_features.py --timing` prints scikit-learn's on the
/// same shape).
#[test]
#[ignore]
fn fit_times_on_200k_rows() {
    use riffle_ml::datasets::Classification;
    use riffle_ml::feature::OutlierClipper;
    let problem = Classification {
        n_samples: 200_000,
        n_features: 20,
        n_informative: 6,
        n_redundant: 4,
        n_classes: 2,
        n_clusters_per_class: 2,
        class_sep: 1.0,
        flip_y: 0.01,
        seed: 7,
    };
    let table = problem.generate().unwrap().to_table().unwrap();
    let names: Vec<String> = (0..20).map(|j| format!("f{j}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let table = VectorAssembler::new(&refs, "features")
        .transform(&table)
        .unwrap();
    let scaled = min_max_scaled(&table);
    let time = |name: &str, fit: &dyn Fn()| {
        fit();
        let start = Instant::now();
        for _ in 0..3 {
            fit();
        }
        println!("{name:<34} {:.4}s", start.elapsed().as_secs_f64() / 3.0);
    };
    time("PCA(k=5)", &|| {
        Pca {
            k: 5,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
    });
    time("SelectKBest(f_classif)", &|| {
        UnivariateFeatureSelector::default().fit(&table).unwrap();
    });
    time("SelectKBest(chi2) on scaled", &|| {
        UnivariateFeatureSelector {
            features_col: "scaled".into(),
            score_function: ScoreFunction::Chi2,
            ..Default::default()
        }
        .fit(&scaled)
        .unwrap();
    });
    time("SelectKBest(f_regression)", &|| {
        UnivariateFeatureSelector {
            score_function: ScoreFunction::FRegression,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
    });
    time("VarianceThreshold", &|| {
        VarianceThresholdSelector::default().fit(&table).unwrap();
    });
    time("KBinsDiscretizer(quantile, 5)", &|| {
        QuantileDiscretizer {
            input_cols: names.clone(),
            output_cols: names.iter().map(|n| format!("{n}_bin")).collect(),
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
    });
    time("OutlierClipper(IQR) fit", &|| {
        OutlierClipper::default().fit(&table).unwrap();
    });
    time("PolynomialFeatures(2) transform", &|| {
        PolynomialExpansion::default().transform(&table).unwrap();
    });
}
