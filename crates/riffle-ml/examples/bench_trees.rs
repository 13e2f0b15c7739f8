//! Times fitting a random forest (100 trees, depth 10) on 200,000 x 20 generated rows.
//!
//! `cargo run --release -p riffle-ml --example bench_trees [CSV]` also writes the data to CSV
//! (default `/tmp/riffle-trees-bench.csv`, unless it exists) so that scikit-learn can be timed
//! on the very same rows:
//!
//! ```text
//! RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1).fit(x, y)
//! ```
//!
//! For reference it also times a single tree (`DecisionTreeClassifier(max_depth=10)`) and
//! boosting with the defaults (`HistGradientBoostingClassifier()`, early stopping on at this
//! size).

use std::path::PathBuf;
use std::time::Instant;

use riffle_ml::datasets::{self, Classification};
use riffle_ml::tree::{
    DecisionTreeClassifier, GradientBoostedTreesClassifier, RandomForestClassifier,
};
use riffle_ml::{data, Estimator, Transformer};

fn main() -> riffle_ml::Result<()> {
    let csv = std::env::args().nth(1).map_or_else(
        || PathBuf::from("/tmp/riffle-trees-bench.csv"),
        PathBuf::from,
    );
    let generated = Classification {
        n_samples: 200_000,
        n_features: 20,
        n_informative: 10,
        n_redundant: 4,
        n_classes: 2,
        n_clusters_per_class: 2,
        class_sep: 1.0,
        flip_y: 0.01,
        seed: 7,
    }
    .generate()?;
    if !csv.exists() {
        datasets::write_csv(&generated.to_table()?, &csv)?;
        println!("wrote {}", csv.display());
    }
    let table = generated.to_vector_table()?;
    let forest = RandomForestClassifier {
        n_trees: 100,
        max_depth: Some(10),
        ..Default::default()
    };
    let tree = DecisionTreeClassifier {
        max_depth: Some(10),
        ..Default::default()
    };
    time(
        "RandomForestClassifier(100 trees, depth 10)",
        &forest,
        &table,
        &generated.y,
    )?;
    time(
        "DecisionTreeClassifier(depth 10)",
        &tree,
        &table,
        &generated.y,
    )?;
    time(
        "GradientBoostedTreesClassifier(defaults)",
        &GradientBoostedTreesClassifier::default(),
        &table,
        &generated.y,
    )?;
    Ok(())
}

/// Fits `estimator` on `table`, printing the fit time and the training accuracy.
fn time<E: Estimator>(
    name: &str,
    estimator: &E,
    table: &arrow_array::RecordBatch,
    labels: &[f64],
) -> riffle_ml::Result<()> {
    let start = Instant::now();
    let model = estimator.fit(table)?;
    let seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let scored = model.transform(table)?;
    let predict = start.elapsed().as_secs_f64();
    let predicted = data::read_f64(&scored, "prediction")?;
    let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    println!(
        "{name} on 200000 x 20: fit {seconds:.2} s, predict all rows {predict:.3} s, on {} threads, training accuracy {:.4}",
        rayon::current_num_threads(),
        correct as f64 / predicted.len() as f64
    );
    Ok(())
}
