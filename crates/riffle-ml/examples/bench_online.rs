//! Throughput of online learning (predict, then learn, one record at a time) on a seeded SEA
//! stream, the shape of issue 6's comparison with River: `bench/ml/bench_river.py` replays the
//! CSV file this writes through River's same model.
//!
//! `cargo run --release -p riffle-ml --example bench_online -- [DIR]`

use std::path::PathBuf;
use std::time::Instant;

use riffle_ml::online::{progressive_accuracy, streams, OnlineLogisticRegression, Optimizer};

const RECORDS: usize = 1_000_000;

fn main() -> riffle_ml::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/riffle-online-bench".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let data = streams::sea(RECORDS, 0.1, 17);
    let csv = dir.join("sea.csv");
    if !csv.exists() {
        riffle_ml::datasets::write_csv(&data.to_table()?, &csv)?;
    }
    for (name, optimizer) in [
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
    ] {
        let mut model = OnlineLogisticRegression::with_optimizer(optimizer);
        let start = Instant::now();
        let score = progressive_accuracy(&mut model, &data.x, &data.y);
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{{\"engine\": \"riffle\", \"model\": \"logistic-{name}\", \"records\": {RECORDS}, \"seconds\": {seconds:.4}, \"records_per_second\": {:.0}, \"accuracy\": {:.4}}}",
            RECORDS as f64 / seconds,
            score.accuracy
        );
    }
    Ok(())
}
