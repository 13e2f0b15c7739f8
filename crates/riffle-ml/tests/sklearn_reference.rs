//! Accuracy against scikit-learn: each case fits Riffle on a reference data set (regenerated
//! here from its seed, see `riffle_ml::suite`) and compares its test-set metrics with the
//! numbers scikit-learn recorded on the same rows (`tests/reference/sklearn.json`, written by
//! `bench/ml/sklearn_reference.py`). Accuracy, F1 and AUC must be within 1 percentage point,
//! R² within 0.01 — for every solver that fits the same objective.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use riffle_ml::evaluation::{self, ScoredColumns};
use riffle_ml::feature::{
    Imputer, ImputerStrategy, OneHotEncoder, StandardScaler, VectorAssembler,
};
use riffle_ml::linear::{LinearRegression, LinearSolver, LogisticRegression, LogisticSolver};
use riffle_ml::suite::{self, ReferenceDataset};
use riffle_ml::{DynEstimator, Pipeline};
use serde_json::Value;

const REFERENCE: &str = include_str!("reference/sklearn.json");

fn reference(case: &str) -> BTreeMap<String, f64> {
    let all: Value = serde_json::from_str(REFERENCE).unwrap();
    let results = &all["results"][case];
    assert!(results.is_object(), "no reference numbers for {case}");
    results
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
        .collect()
}

fn dataset(name: &str) -> ReferenceDataset {
    suite::reference_datasets()
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap()
}

/// Fits `estimator` on the training rows (features assembled) and reports on the test rows.
fn scores(
    d: &ReferenceDataset,
    estimator: impl DynEstimator + 'static,
    classification: bool,
) -> BTreeMap<String, f64> {
    let names: Vec<&str> = d.features.iter().map(String::as_str).collect();
    let pipeline = Pipeline::new()
        .model(VectorAssembler::new(&names, "features"))
        .estimator(estimator);
    scores_of(d, &pipeline, classification)
}

fn scores_of(
    d: &ReferenceDataset,
    pipeline: &Pipeline,
    classification: bool,
) -> BTreeMap<String, f64> {
    let model = riffle_ml::Estimator::fit(pipeline, &d.train).unwrap();
    let scored: RecordBatch = riffle_ml::Transformer::transform(&model, &d.test).unwrap();
    let columns = ScoredColumns {
        label: d.label.to_string(),
        ..Default::default()
    };
    if classification {
        evaluation::classification_report(&scored, &columns).unwrap()
    } else {
        evaluation::regression_report(&scored, &columns).unwrap()
    }
}

/// Asserts that every metric named in `metrics` is within `tolerance` of scikit-learn's.
fn compare(
    case: &str,
    label: &str,
    ours: &BTreeMap<String, f64>,
    metrics: &[&str],
    tolerance: f64,
) {
    let theirs = reference(case);
    for metric in metrics {
        let (a, b) = (ours[*metric], theirs[*metric]);
        println!("{case:<42} {label:<22} {metric:<9} riffle {a:.4}  scikit-learn {b:.4}");
        assert!(
            (a - b).abs() <= tolerance,
            "{case} ({label}): {metric} {a} vs scikit-learn's {b} (tolerance {tolerance})"
        );
    }
}

const CLASSIFICATION: &[&str] = &["accuracy", "f1", "f1_macro", "roc_auc"];

#[test]
fn binary_logistic_regression_matches_scikit_learn_with_every_solver() {
    let d = dataset("binary");
    let n = d.train.num_rows() as f64;
    for solver in [
        LogisticSolver::Lbfgs,
        LogisticSolver::GradientDescent,
        LogisticSolver::Sgd,
    ] {
        let lr = LogisticRegression {
            reg_param: 1.0 / n,
            solver,
            max_iter: if solver == LogisticSolver::Lbfgs {
                100
            } else {
                500
            },
            ..Default::default()
        };
        compare(
            "binary/logistic-l2",
            &format!("{solver:?}"),
            &scores(&d, lr, true),
            CLASSIFICATION,
            0.01,
        );
    }
    for solver in [LogisticSolver::GradientDescent, LogisticSolver::Sgd] {
        let lr = LogisticRegression {
            reg_param: 1.0 / (0.1 * n),
            elastic_net: 1.0,
            solver,
            max_iter: 500,
            ..Default::default()
        };
        compare(
            "binary/logistic-l1",
            &format!("L1 {solver:?}"),
            &scores(&d, lr, true),
            CLASSIFICATION,
            0.01,
        );
    }
}

#[test]
fn multinomial_logistic_regression_matches_scikit_learn() {
    let d = dataset("multiclass");
    let n = d.train.num_rows() as f64;
    for solver in [LogisticSolver::Lbfgs, LogisticSolver::Sgd] {
        let lr = LogisticRegression {
            reg_param: 1.0 / n,
            solver,
            max_iter: 200,
            ..Default::default()
        };
        compare(
            "multiclass/logistic-l2",
            &format!("{solver:?}"),
            &scores(&d, lr, true),
            &["accuracy", "f1_macro", "roc_auc"],
            0.01,
        );
    }
}

#[test]
fn linear_regression_matches_scikit_learn_with_every_solver() {
    let d = dataset("regression");
    let n = d.train.num_rows() as f64;
    let solvers = [
        LinearSolver::ClosedForm,
        LinearSolver::Lbfgs,
        LinearSolver::GradientDescent,
        LinearSolver::Sgd,
        LinearSolver::CoordinateDescent,
    ];
    for solver in solvers {
        let ols = LinearRegression {
            solver,
            max_iter: 1000,
            ..Default::default()
        };
        compare(
            "regression/ols",
            &format!("{solver:?}"),
            &scores(&d, ols, false),
            &["r2"],
            0.01,
        );
        let ridge = LinearRegression {
            reg_param: 100.0 / n,
            solver,
            max_iter: 1000,
            ..Default::default()
        };
        compare(
            "regression/ridge",
            &format!("{solver:?}"),
            &scores(&d, ridge, false),
            &["r2"],
            0.01,
        );
    }
    for solver in [
        LinearSolver::CoordinateDescent,
        LinearSolver::GradientDescent,
        LinearSolver::Sgd,
    ] {
        let lasso = LinearRegression {
            reg_param: 1.0,
            elastic_net: 1.0,
            solver,
            max_iter: 1000,
            ..Default::default()
        };
        compare(
            "regression/lasso",
            &format!("{solver:?}"),
            &scores(&d, lasso, false),
            &["r2"],
            0.01,
        );
        let enet = LinearRegression {
            reg_param: 1.0,
            elastic_net: 0.5,
            solver,
            max_iter: 1000,
            ..Default::default()
        };
        compare(
            "regression/elastic-net",
            &format!("{solver:?}"),
            &scores(&d, enet, false),
            &["r2"],
            0.01,
        );
    }
}

#[test]
fn a_pipeline_with_imputing_one_hot_and_scaling_matches_scikit_learn_on_the_churn_table() {
    let d = dataset("customers");
    let numeric: Vec<String> = ["age", "income", "visits", "tenure_months"]
        .map(String::from)
        .to_vec();
    let text: Vec<String> = ["city", "plan"].map(String::from).to_vec();
    let encoded: Vec<String> = text.iter().map(|c| format!("{c}_vec")).collect();
    let mut assembled: Vec<&str> = numeric.iter().map(String::as_str).collect();
    assembled.extend(encoded.iter().map(String::as_str));
    let n = d.train.num_rows() as f64;
    let pipeline = Pipeline::new()
        .estimator(Imputer {
            input_cols: numeric.clone(),
            output_cols: numeric.clone(),
            strategy: ImputerStrategy::Median,
            fill_value: None,
        })
        .estimator(Imputer {
            input_cols: text.clone(),
            output_cols: text.clone(),
            strategy: ImputerStrategy::MostFrequent,
            fill_value: None,
        })
        .estimator(OneHotEncoder {
            input_cols: text.clone(),
            output_cols: encoded.clone(),
            handle_invalid: riffle_ml::feature::HandleInvalid::Keep,
            ..Default::default()
        })
        .model(VectorAssembler::new(&assembled, "raw"))
        .estimator(StandardScaler {
            input_col: "raw".into(),
            output_col: "features".into(),
            ..Default::default()
        })
        .estimator(LogisticRegression {
            label_col: "churn".into(),
            reg_param: 1.0 / n,
            ..Default::default()
        });
    compare(
        "customers/impute-onehot-scale-logistic",
        "pipeline",
        &scores_of(&d, &pipeline, true),
        CLASSIFICATION,
        0.01,
    );
}
