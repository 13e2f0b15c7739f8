//! Fit-time benchmark of the linear models on 200,000 x 20 generated rows, the shape of the
//! issue's comparison with scikit-learn (`bench/ml/run.sh` runs this and
//! `bench/ml/bench_sklearn.py` on the same CSV files).
//!
//! `cargo run --release -p riffle-ml --example bench_linear -- DIR` writes DIR/clf.csv and
//! DIR/reg.csv (if missing), then prints one JSON line per fit.

use std::path::PathBuf;
use std::time::Instant;

use riffle_ml::datasets::{self, Classification, Regression};
use riffle_ml::evaluation::{self, ScoredColumns};
use riffle_ml::linear::{LinearRegression, LinearSolver, LogisticRegression, LogisticSolver};
use riffle_ml::{Estimator, Transformer};

const ROWS: usize = 200_000;

fn main() -> riffle_ml::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/ml-bench".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let clf = Classification {
        n_samples: ROWS,
        n_features: 20,
        n_informative: 10,
        n_redundant: 4,
        seed: 1,
        ..Default::default()
    }
    .generate()?;
    let reg = Regression {
        n_samples: ROWS,
        n_features: 20,
        n_informative: 10,
        noise: 10.0,
        seed: 2,
        ..Default::default()
    }
    .generate()?;
    for (name, d) in [("clf", &clf), ("reg", &reg)] {
        let path = dir.join(format!("{name}.csv"));
        if !path.exists() {
            datasets::write_csv(&d.to_table()?, &path)?;
        }
    }
    let clf_table = clf.to_vector_table()?;
    let reg_table = reg.to_vector_table()?;
    let n = ROWS as f64;
    let report = |algorithm: &str, seconds: f64, predict: f64, metric: &str, value: f64| {
        println!(
            "{{\"engine\": \"riffle\", \"algorithm\": \"{algorithm}\", \"fit_seconds\": {seconds:.4}, \"predict_seconds\": {predict:.4}, \"{metric}\": {value:.4}}}"
        );
    };
    for solver in [LinearSolver::ClosedForm, LinearSolver::Lbfgs] {
        let start = Instant::now();
        let model = LinearRegression {
            solver,
            ..Default::default()
        }
        .fit(&reg_table)?;
        let seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let scored = model.transform(&reg_table)?;
        let predict = start.elapsed().as_secs_f64();
        let r2 = evaluation::regression_report(&scored, &ScoredColumns::default())?["r2"];
        report(
            &format!("linear-regression/{solver:?}"),
            seconds,
            predict,
            "train_r2",
            r2,
        );
    }
    for solver in [LogisticSolver::Lbfgs, LogisticSolver::Sgd] {
        let start = Instant::now();
        let model = LogisticRegression {
            reg_param: 1.0 / n,
            solver,
            ..Default::default()
        }
        .fit(&clf_table)?;
        let seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let scored = model.transform(&clf_table)?;
        let predict = start.elapsed().as_secs_f64();
        let accuracy =
            evaluation::classification_report(&scored, &ScoredColumns::default())?["accuracy"];
        report(
            &format!("logistic-regression/{solver:?}"),
            seconds,
            predict,
            "train_accuracy",
            accuracy,
        );
    }
    Ok(())
}
