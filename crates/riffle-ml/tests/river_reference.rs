//! Online learning against River: progressive-validation accuracy of Riffle's online logistic
//! regression on seeded SEA and rotating-hyperplane streams, within 1 percentage point of
//! River 0.26's `linear_model.LogisticRegression` with the same optimiser on the same records
//! (`tests/reference/river.json`, written by `bench/ml/river_reference.py` from the CSV files
//! that the ignored test below writes).

use riffle_ml::online::{progressive_accuracy, streams, OnlineLogisticRegression, Optimizer};
use serde_json::Value;

const REFERENCE: &str = include_str!("reference/river.json");

fn streams() -> Vec<(&'static str, riffle_ml::datasets::Dataset)> {
    vec![
        ("sea", streams::sea(20_000, 0.1, 17)),
        (
            "hyperplane",
            streams::hyperplane(20_000, 10, 0.001, 0.05, 18),
        ),
    ]
}

fn optimizers() -> Vec<(&'static str, Optimizer)> {
    vec![
        ("sgd", Optimizer::Sgd { lr: 0.01 }),
        ("adagrad", Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 }),
        (
            "ftrl",
            Optimizer::Ftrl {
                alpha: 0.05,
                beta: 1.0,
                l1: 0.0,
                l2: 1.0,
            },
        ),
    ]
}

#[test]
#[ignore = "writes the stream CSV files for bench/ml/river_reference.py"]
fn write_stream_csvs() {
    let dir =
        std::env::var("RIFFLE_ML_REFERENCE_DIR").unwrap_or_else(|_| "/tmp/mlref-river".into());
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in streams() {
        riffle_ml::datasets::write_csv(
            &data.to_table().unwrap(),
            &std::path::Path::new(&dir).join(format!("{name}.csv")),
        )
        .unwrap();
    }
}

#[test]
fn progressive_accuracy_of_online_logistic_regression_matches_river() {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    for (stream, data) in streams() {
        for (optimizer_name, optimizer) in optimizers() {
            let mut model = OnlineLogisticRegression::with_optimizer(optimizer);
            let score = progressive_accuracy(&mut model, &data.x, &data.y);
            let key = format!("{stream}/logistic-{optimizer_name}");
            let theirs = reference["results"][&key]["accuracy"]
                .as_f64()
                .unwrap_or_else(|| panic!("no reference for {key}"));
            println!(
                "{key:<28} riffle {:.4}  river {theirs:.4}  (majority baseline {:.4})",
                score.accuracy, score.baseline
            );
            assert!(
                (score.accuracy - theirs).abs() <= 0.01,
                "{key}: {} vs River's {theirs}",
                score.accuracy
            );
            assert!(
                score.accuracy > score.baseline + 0.05,
                "{key} must beat the majority baseline clearly"
            );
        }
    }
}
