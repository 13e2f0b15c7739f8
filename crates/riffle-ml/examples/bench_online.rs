//! Throughput of online learning (predict, then learn, one record at a time) on seeded
//! streams, the shape of issue 6's comparison with River: `bench/ml/bench_river.py` replays
//! the CSV files this writes through River's same models.
//!
//! `cargo run --release -p riffle-ml --example bench_online -- [DIR]`; `MODELS=a,b` runs only
//! the models named (as in the output's `model` field). `bench/ml/online.sh` runs both sides.
//! Each model's time is the median of passes over the whole stream, each from a fresh model
//! (see `median_pass`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use riffle_ml::datasets::Dataset;
use riffle_ml::online::forest::AdaptiveRandomForest;
use riffle_ml::online::hoeffding::HoeffdingTreeClassifier;
use riffle_ml::online::hoeffding_regressor::HoeffdingTreeRegressor;
use riffle_ml::online::naive_bayes::OnlineGaussianNb;
use riffle_ml::online::{
    progressive_accuracy, progressive_regression, streams, OnlineClassifier,
    OnlineLinearRegression, OnlineLogisticRegression, OnlineRegressor, Optimizer,
};

const RECORDS: usize = 1_000_000;

fn csv(dir: &Path, name: &str, data: &Dataset) -> riffle_ml::Result<()> {
    let path = dir.join(format!("{name}.csv"));
    if !path.exists() {
        riffle_ml::datasets::write_csv(&data.to_table()?, &path)?;
    }
    Ok(())
}

fn report(stream: &str, model: &str, seconds: f64, passes: usize, metric: &str, value: f64) {
    println!(
        "{{\"engine\": \"riffle\", \"stream\": \"{stream}\", \"model\": \"{model}\", \"records\": {RECORDS}, \"seconds\": {seconds:.4}, \"passes\": {passes}, \"records_per_second\": {:.0}, \"{metric}\": {value:.4}}}",
        RECORDS as f64 / seconds
    );
}

/// Whether `MODELS` (a comma-separated list, all models when unset) names `model`.
fn wanted(model: &str) -> bool {
    std::env::var("MODELS").map_or(true, |list| list.split(',').any(|m| m.trim() == model))
}

/// The median time of passes of `pass` (each a whole run from a fresh model), and the
/// last pass's score: passes repeat until they have taken a second or made 21. A fast
/// model's pass takes 20-50 ms, short enough for one slow moment of a shared machine to
/// move it by a third; a slow model's one pass takes seconds.
fn median_pass(mut pass: impl FnMut() -> f64) -> (f64, f64, usize) {
    let (mut seconds, mut score) = (Vec::new(), 0.0);
    while seconds.len() < 21 && seconds.iter().sum::<f64>() < 1.0 {
        let start = Instant::now();
        score = pass();
        seconds.push(start.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    (seconds[seconds.len() / 2], score, seconds.len())
}

/// Predict-then-learn over `data` with `model`, reported as `stream` / `model_name`.
fn run<M: OnlineClassifier + Clone>(stream: &str, model_name: &str, data: &Dataset, model: M) {
    if !wanted(model_name) {
        return;
    }
    let (seconds, accuracy, passes) =
        median_pass(|| progressive_accuracy(&mut model.clone(), &data.x, &data.y).accuracy);
    report(stream, model_name, seconds, passes, "accuracy", accuracy);
}

/// Predict-then-learn over the Friedman stream `data` with `model`, reported as `model_name`.
fn run_regression<M: OnlineRegressor + Clone>(model_name: &str, data: &Dataset, model: M) {
    if !wanted(model_name) {
        return;
    }
    let (seconds, mae, passes) =
        median_pass(|| progressive_regression(&mut model.clone(), &data.x, &data.y).mae);
    report("friedman", model_name, seconds, passes, "mae", mae);
}

fn main() -> riffle_ml::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/riffle-online-bench".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let classification = [
        ("sea", streams::sea(RECORDS, 0.1, 17)),
        (
            "hyperplane",
            streams::hyperplane(RECORDS, 10, 0.001, 0.05, 18),
        ),
    ];
    for (name, data) in &classification {
        csv(&dir, name, data)?;
        // Each model is run through its own copy of the loop (no dynamic dispatch per
        // record), as a program using one model is compiled.
        run(
            name,
            "logistic-sgd",
            data,
            OnlineLogisticRegression::with_optimizer(Optimizer::Sgd { lr: 0.01 }),
        );
        run(
            name,
            "logistic-adagrad",
            data,
            OnlineLogisticRegression::with_optimizer(Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 }),
        );
        run(
            name,
            "logistic-ftrl",
            data,
            OnlineLogisticRegression::with_optimizer(Optimizer::Ftrl {
                alpha: 0.05,
                beta: 1.0,
                l1: 0.0,
                l2: 1.0,
            }),
        );
        run(name, "gaussian-nb", data, OnlineGaussianNb::default());
        run(
            name,
            "hoeffding-tree",
            data,
            HoeffdingTreeClassifier::default(),
        );
        run(
            name,
            "adaptive-random-forest",
            data,
            AdaptiveRandomForest::new(10, 42),
        );
    }
    let friedman = streams::friedman(RECORDS, 20);
    csv(&dir, "friedman", &friedman)?;
    run_regression(
        "linear-sgd",
        &friedman,
        OnlineLinearRegression::with_optimizer(Optimizer::Sgd { lr: 0.01 }),
    );
    run_regression(
        "hoeffding-tree-regressor",
        &friedman,
        HoeffdingTreeRegressor::default(),
    );
    Ok(())
}
