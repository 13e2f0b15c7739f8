//! Fit-time baselines of the two Rust machine-learning libraries, linfa and smartcore, on the
//! rows that Riffle's `bench_linear` example writes (`DIR/clf.csv` and `DIR/reg.csv`: a header
//! `f0..f19,label`, 200,000 rows). The issue asks Riffle to be faster than these where they have
//! the algorithm; this program is the other side of that comparison.
//!
//! It is deliberately not a member of Riffle's workspace (its `Cargo.toml` has an empty
//! `[workspace]` table) and CI does not build it: linfa and smartcore are heavy to compile.
//!
//! ```text
//! cargo run --release --manifest-path bench/ml/rust-baselines/Cargo.toml -- DIR [ALGORITHM ...]
//! ```
//!
//! Prints one JSON line per fit: `{"engine", "algorithm", "fit_seconds", "train_accuracy" |
//! "train_r2" | "inertia"}`, or `{"engine", "algorithm", "skipped"}` for a fit projected to take
//! longer than ten minutes, or `{"engine", "algorithm", "error"}`. ALGORITHM filters by the part
//! of the name before `/` (linear-regression, logistic-regression, decision-tree, kmeans, knn,
//! random-forest). Only the fit is timed (for knn: building the index plus predicting 10,000
//! rows), never CSV reading or the conversion into each library's matrix type. Each fit runs
//! once; the libraries use threads only where they do so by themselves (linfa's k-means through
//! ndarray's rayon feature; everything else here is single-threaded).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use linfa::prelude::{Fit, Predict};
use linfa::{Dataset, DatasetBase};
use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::{Array1, Array2, Ix1};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde_json::{json, Value};
use smartcore::linalg::basic::matrix::DenseMatrix;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// A fit projected to take longer than this is skipped (the issue's limit).
const TIME_LIMIT_SECONDS: f64 = 600.0;
const TREE_DEPTH: usize = 10;
const FOREST_TREES: usize = 100;
/// Both libraries grow a forest's trees one after another, so the time of a small forest with
/// the same parameters, scaled up, predicts the full fit well enough to decide whether to run it.
const FOREST_PILOT_TREES: usize = 5;
const KMEANS_CLUSTERS: usize = 8;
const KMEANS_MAX_ITERATIONS: usize = 300;
const KNN_NEIGHBOURS: usize = 15;
const KNN_QUERIES: usize = 10_000;
/// Queries are answered in chunks of this many rows; after the first chunk the whole run is
/// projected and skipped if it would pass the time limit.
const KNN_CHUNK: usize = 500;
/// scikit-learn's `LogisticRegression(C=1)` minimises `sum(log-loss) + ||w||^2 / 2`. linfa and
/// smartcore minimise `sum(log-loss) + alpha * ||w||^2 / 2`, so alpha = 1/C = 1 is the same
/// objective (the intercept is unpenalised in all three).
const LOGISTIC_ALPHA: f64 = 1.0;
const LOGISTIC_MAX_ITERATIONS: u64 = 100;
const SEED: u64 = 0;

/// A CSV file of the benchmark: features row-major, `label` as the last column.
struct Table {
    rows: usize,
    cols: usize,
    features: Vec<f64>,
    labels: Vec<f64>,
}

impl Table {
    fn read(path: &Path) -> Result<Self> {
        let context = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let mut reader = csv::Reader::from_path(path).map_err(|e| context(&e))?;
        let header = reader.headers().map_err(|e| context(&e))?.clone();
        if header.iter().last() != Some("label") || header.len() < 2 {
            return Err(context(&"expected a header of feature names ending in `label`").into());
        }
        let cols = header.len() - 1;
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| context(&e))?;
            let mut fields = record.iter().map(|field| {
                field
                    .trim()
                    .parse::<f64>()
                    .map_err(|e| context(&format!("data row {}: {field:?}: {e}", line + 1)))
            });
            for _ in 0..cols {
                features.push(fields.next().ok_or_else(|| context(&"short row"))??);
            }
            labels.push(fields.next().ok_or_else(|| context(&"short row"))??);
        }
        if labels.is_empty() {
            return Err(context(&"no data rows").into());
        }
        Ok(Self {
            rows: labels.len(),
            cols,
            features,
            labels,
        })
    }

    /// The labels as class indices; a classification label must be a non-negative integer.
    fn classes(&self) -> Result<Vec<usize>> {
        self.labels
            .iter()
            .map(|&label| {
                if label >= 0.0 && label.fract() == 0.0 && label < 1e9 {
                    Ok(label as usize)
                } else {
                    Err(format!("class label {label} is not a non-negative integer").into())
                }
            })
            .collect()
    }

    fn ndarray(&self) -> Result<Array2<f64>> {
        Ok(Array2::from_shape_vec(
            (self.rows, self.cols),
            self.features.clone(),
        )?)
    }

    fn dense_matrix(&self, first_row: usize, rows: usize) -> Result<DenseMatrix<f64>> {
        let values = self.features[first_row * self.cols..(first_row + rows) * self.cols].to_vec();
        Ok(DenseMatrix::new(rows, self.cols, values, false)?)
    }
}

/// Everything the fits read, built before any timing starts.
struct Inputs {
    reg: Table,
    clf: Table,
    clf_classes: Vec<usize>,
    reg_dataset: Dataset<f64, f64, Ix1>,
    clf_dataset: Dataset<f64, usize, Ix1>,
    reg_matrix: DenseMatrix<f64>,
    clf_matrix: DenseMatrix<f64>,
    clf_labels_i32: Vec<i32>,
    /// The first `KNN_QUERIES` rows of clf.csv, in `KNN_CHUNK`-row matrices for smartcore.
    knn_query_chunks: Vec<DenseMatrix<f64>>,
}

impl Inputs {
    fn load(dir: &Path) -> Result<Self> {
        let reg = Table::read(&dir.join("reg.csv"))?;
        let clf = Table::read(&dir.join("clf.csv"))?;
        let clf_classes = clf.classes()?;
        if clf.rows < KNN_QUERIES {
            return Err(format!("clf.csv has {} rows, knn needs {KNN_QUERIES}", clf.rows).into());
        }
        let reg_dataset = Dataset::new(reg.ndarray()?, Array1::from(reg.labels.clone()));
        let clf_dataset = Dataset::new(clf.ndarray()?, Array1::from(clf_classes.clone()));
        let reg_matrix = reg.dense_matrix(0, reg.rows)?;
        let clf_matrix = clf.dense_matrix(0, clf.rows)?;
        let clf_labels_i32 = clf_classes
            .iter()
            .map(|&c| i32::try_from(c))
            .collect::<std::result::Result<_, _>>()?;
        let knn_query_chunks = (0..KNN_QUERIES)
            .step_by(KNN_CHUNK)
            .map(|first| clf.dense_matrix(first, KNN_CHUNK.min(KNN_QUERIES - first)))
            .collect::<Result<_>>()?;
        Ok(Self {
            reg,
            clf,
            clf_classes,
            reg_dataset,
            clf_dataset,
            reg_matrix,
            clf_matrix,
            clf_labels_i32,
            knn_query_chunks,
        })
    }
}

/// What one fit produced: its time and one quality number, or a reason it was not run.
enum Outcome {
    Fitted {
        seconds: f64,
        metric: &'static str,
        value: f64,
    },
    Skipped(String),
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn print_line(engine: &str, algorithm: &str, outcome: Result<Outcome>) {
    let mut line = json!({"engine": engine, "algorithm": algorithm});
    let Value::Object(fields) = &mut line else {
        return;
    };
    match outcome {
        Ok(Outcome::Fitted {
            seconds,
            metric,
            value,
        }) => {
            fields.insert("fit_seconds".into(), json!(round4(seconds)));
            fields.insert(metric.into(), json!(round4(value)));
        }
        Ok(Outcome::Skipped(reason)) => {
            fields.insert("skipped".into(), json!(reason));
        }
        Err(e) => {
            fields.insert("error".into(), json!(e.to_string()));
        }
    }
    println!("{line}");
}

fn accuracy(predicted: impl IntoIterator<Item = usize>, truth: &[usize]) -> f64 {
    let correct = predicted
        .into_iter()
        .zip(truth)
        .filter(|(p, t)| p == *t)
        .count();
    correct as f64 / truth.len() as f64
}

fn r2(predicted: impl IntoIterator<Item = f64>, truth: &[f64]) -> f64 {
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let total: f64 = truth.iter().map(|y| (y - mean).powi(2)).sum();
    let residual: f64 = predicted
        .into_iter()
        .zip(truth)
        .map(|(p, y)| (y - p).powi(2))
        .sum();
    1.0 - residual / total
}

/// Sum of squared distances to the mean of each point's cluster. Computed the same way for both
/// libraries from their cluster assignments (smartcore does not expose its inertia); for a
/// converged k-means this equals the inertia of the fitted centroids.
fn inertia(table: &Table, assignment: &[usize]) -> f64 {
    let k = assignment.iter().max().map_or(0, |m| m + 1);
    let mut sums = vec![0.0; k * table.cols];
    let mut counts = vec![0usize; k];
    for (row, &c) in table.features.chunks(table.cols).zip(assignment) {
        counts[c] += 1;
        for (s, x) in sums[c * table.cols..].iter_mut().zip(row) {
            *s += x;
        }
    }
    for (c, &count) in counts.iter().enumerate() {
        for s in &mut sums[c * table.cols..(c + 1) * table.cols] {
            *s /= count.max(1) as f64;
        }
    }
    table
        .features
        .chunks(table.cols)
        .zip(assignment)
        .map(|(row, &c)| {
            row.iter()
                .zip(&sums[c * table.cols..])
                .map(|(x, m)| (x - m).powi(2))
                .sum::<f64>()
        })
        .sum()
}

fn majority(labels: impl IntoIterator<Item = usize>) -> usize {
    let mut counts = [0usize; 16];
    let mut extra: Vec<usize> = Vec::new();
    for label in labels {
        match counts.get_mut(label) {
            Some(count) => *count += 1,
            None => extra.push(label),
        }
    }
    // Ties go to the smallest label, as in scikit-learn (k = 15 is odd, so binary has none).
    let (best, best_count) =
        counts
            .iter()
            .enumerate()
            .fold((0, 0), |acc, (l, &n)| if n > acc.1 { (l, n) } else { acc });
    if extra.is_empty() {
        return best;
    }
    extra.sort_unstable();
    let mut result = (best, best_count);
    for run in extra.chunk_by(|a, b| a == b) {
        if run.len() > result.1 {
            result = (run[0], run.len());
        }
    }
    result.0
}

fn too_slow(projected: f64, what: &str) -> Option<Outcome> {
    (projected > TIME_LIMIT_SECONDS).then(|| {
        Outcome::Skipped(format!(
            "projected {projected:.0} s ({what}), over the {TIME_LIMIT_SECONDS:.0} s limit"
        ))
    })
}

mod linfa_runs {
    use super::*;
    use linfa_clustering::KMeans;
    use linfa_ensemble::RandomForestParams;
    use linfa_trees::DecisionTree;

    pub fn linear_regression(inputs: &Inputs) -> Result<Outcome> {
        let start = Instant::now();
        let model = linfa_linear::LinearRegression::new().fit(&inputs.reg_dataset)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted = model.predict(inputs.reg_dataset.records());
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_r2",
            value: r2(predicted.iter().copied(), &inputs.reg.labels),
        })
    }

    pub fn logistic_regression(inputs: &Inputs) -> Result<Outcome> {
        let start = Instant::now();
        let model = linfa_logistic::LogisticRegression::<f64>::default()
            .alpha(LOGISTIC_ALPHA)
            .max_iterations(LOGISTIC_MAX_ITERATIONS)
            .fit(&inputs.clf_dataset)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted = model.predict(inputs.clf_dataset.records());
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: accuracy(predicted.iter().copied(), &inputs.clf_classes),
        })
    }

    pub fn decision_tree(inputs: &Inputs) -> Result<Outcome> {
        let start = Instant::now();
        let model = DecisionTree::params()
            .max_depth(Some(TREE_DEPTH))
            .fit(&inputs.clf_dataset)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted = model.predict(inputs.clf_dataset.records());
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: accuracy(predicted.iter().copied(), &inputs.clf_classes),
        })
    }

    /// linfa's random forest draws one feature subset per tree (not per split, as scikit-learn
    /// and smartcore do); the subset size is the same, floor(sqrt(features)).
    pub fn random_forest(inputs: &Inputs) -> Result<Outcome> {
        let cols = inputs.clf.cols;
        let max_features = ((cols as f64).sqrt().floor() as usize).max(1);
        // linfa takes ceil(cols * proportion) features; aim between two integers so that
        // rounding error cannot change the count.
        let proportion = (max_features as f64 - 0.5) / cols as f64;
        let fit = |trees: usize| {
            RandomForestParams::new_fixed_rng(
                DecisionTree::params().max_depth(Some(TREE_DEPTH)),
                Xoshiro256Plus::seed_from_u64(SEED),
            )
            .ensemble_size(trees)
            .bootstrap_proportion(1.0)
            .feature_proportion(proportion)
            .fit(&inputs.clf_dataset)
        };
        let start = Instant::now();
        fit(FOREST_PILOT_TREES)?;
        let pilot = start.elapsed().as_secs_f64();
        let projected = pilot * FOREST_TREES as f64 / FOREST_PILOT_TREES as f64;
        if let Some(skip) = too_slow(projected, "from a 5-tree pilot") {
            return Ok(skip);
        }
        let start = Instant::now();
        let model = fit(FOREST_TREES)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted: Array1<usize> = model.predict(inputs.clf_dataset.records());
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: accuracy(predicted.iter().copied(), &inputs.clf_classes),
        })
    }

    pub fn kmeans(inputs: &Inputs) -> Result<Outcome> {
        let dataset = DatasetBase::from(inputs.clf_dataset.records().clone());
        let start = Instant::now();
        // One k-means++ start, like scikit-learn's n_init=1 that Riffle is compared with
        // (linfa's default is 10 runs).
        let model = KMeans::params_with_rng(KMEANS_CLUSTERS, Xoshiro256Plus::seed_from_u64(SEED))
            .n_runs(1)
            .max_n_iterations(KMEANS_MAX_ITERATIONS as u64)
            .tolerance(1e-4)
            .fit(&dataset)?;
        let seconds = start.elapsed().as_secs_f64();
        let assignment = model.predict(dataset.records());
        Ok(Outcome::Fitted {
            seconds,
            metric: "inertia",
            value: inertia(&inputs.clf, assignment.as_slice().unwrap_or_default()),
        })
    }

    pub fn knn(inputs: &Inputs, algorithm: CommonNearestNeighbour) -> Result<Outcome> {
        let records = inputs.clf_dataset.records();
        let start = Instant::now();
        let index = algorithm.from_batch(records, L2Dist)?;
        let fit_seconds = start.elapsed().as_secs_f64();
        let mut predicted = Vec::with_capacity(KNN_QUERIES);
        for query in records.rows().into_iter().take(KNN_QUERIES) {
            let neighbours = index.k_nearest(query, KNN_NEIGHBOURS)?;
            predicted.push(majority(
                neighbours.iter().map(|(_, i)| inputs.clf_classes[*i]),
            ));
            if predicted.len() == KNN_CHUNK {
                let chunk = start.elapsed().as_secs_f64() - fit_seconds;
                let projected = fit_seconds + chunk * (KNN_QUERIES / KNN_CHUNK) as f64;
                if let Some(skip) = too_slow(projected, "from the first 500 queries") {
                    return Ok(skip);
                }
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: accuracy(predicted, &inputs.clf_classes[..KNN_QUERIES]),
        })
    }
}

mod smartcore_runs {
    use super::*;
    use smartcore::algorithm::neighbour::KNNAlgorithmName;
    use smartcore::cluster::kmeans::{KMeans, KMeansParameters};
    use smartcore::ensemble::random_forest_classifier::{
        RandomForestClassifier, RandomForestClassifierParameters,
    };
    use smartcore::linear::linear_regression::{
        LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
    };
    use smartcore::linear::logistic_regression::{
        LogisticRegression, LogisticRegressionParameters,
    };
    use smartcore::metrics::distance::euclidian::Euclidian;
    use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
    use smartcore::tree::decision_tree_classifier::{
        DecisionTreeClassifier, DecisionTreeClassifierParameters,
    };

    type Matrix = DenseMatrix<f64>;

    fn class_accuracy(predicted: &[i32], truth: &[usize]) -> f64 {
        accuracy(predicted.iter().map(|&p| p.max(0) as usize), truth)
    }

    pub fn linear_regression(
        inputs: &Inputs,
        solver: LinearRegressionSolverName,
    ) -> Result<Outcome> {
        let parameters = LinearRegressionParameters::default().with_solver(solver);
        let start = Instant::now();
        let model: LinearRegression<f64, f64, Matrix, Vec<f64>> =
            LinearRegression::fit(&inputs.reg_matrix, &inputs.reg.labels, parameters)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted = model.predict(&inputs.reg_matrix)?;
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_r2",
            value: r2(predicted, &inputs.reg.labels),
        })
    }

    /// smartcore's L-BFGS stops after its own fixed 1,000 iterations at most; the limit is not
    /// a parameter, so this cannot be held to 100 like the others.
    pub fn logistic_regression(inputs: &Inputs) -> Result<Outcome> {
        let parameters = LogisticRegressionParameters::default().with_alpha(LOGISTIC_ALPHA);
        let start = Instant::now();
        let model: LogisticRegression<f64, i32, Matrix, Vec<i32>> =
            LogisticRegression::fit(&inputs.clf_matrix, &inputs.clf_labels_i32, parameters)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted = model.predict(&inputs.clf_matrix)?;
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: class_accuracy(&predicted, &inputs.clf_classes),
        })
    }

    pub fn decision_tree(inputs: &Inputs) -> Result<Outcome> {
        let parameters =
            DecisionTreeClassifierParameters::default().with_max_depth(u16::try_from(TREE_DEPTH)?);
        let start = Instant::now();
        let model: DecisionTreeClassifier<f64, i32, Matrix, Vec<i32>> =
            DecisionTreeClassifier::fit(&inputs.clf_matrix, &inputs.clf_labels_i32, parameters)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted = model.predict(&inputs.clf_matrix)?;
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: class_accuracy(&predicted, &inputs.clf_classes),
        })
    }

    pub fn random_forest(inputs: &Inputs) -> Result<Outcome> {
        let max_features = ((inputs.clf.cols as f64).sqrt().floor() as usize).max(1);
        let fit = |trees: usize| -> Result<RandomForestClassifier<f64, i32, Matrix, Vec<i32>>> {
            let parameters = RandomForestClassifierParameters::default()
                .with_n_trees(u16::try_from(trees)?)
                .with_max_depth(u16::try_from(TREE_DEPTH)?)
                .with_m(max_features)
                .with_seed(SEED);
            Ok(RandomForestClassifier::fit(
                &inputs.clf_matrix,
                &inputs.clf_labels_i32,
                parameters,
            )?)
        };
        let start = Instant::now();
        fit(FOREST_PILOT_TREES)?;
        let pilot = start.elapsed().as_secs_f64();
        let projected = pilot * FOREST_TREES as f64 / FOREST_PILOT_TREES as f64;
        if let Some(skip) = too_slow(projected, "from a 5-tree pilot") {
            return Ok(skip);
        }
        let start = Instant::now();
        let model = fit(FOREST_TREES)?;
        let seconds = start.elapsed().as_secs_f64();
        let predicted = model.predict(&inputs.clf_matrix)?;
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: class_accuracy(&predicted, &inputs.clf_classes),
        })
    }

    pub fn kmeans(inputs: &Inputs) -> Result<Outcome> {
        let mut parameters = KMeansParameters::default()
            .with_k(KMEANS_CLUSTERS)
            .with_max_iter(KMEANS_MAX_ITERATIONS);
        parameters.seed = Some(SEED);
        let start = Instant::now();
        let model: KMeans<f64, i32, Matrix, Vec<i32>> =
            KMeans::fit(&inputs.clf_matrix, parameters)?;
        let seconds = start.elapsed().as_secs_f64();
        let assignment: Vec<usize> = model
            .predict(&inputs.clf_matrix)?
            .iter()
            .map(|&c| c.max(0) as usize)
            .collect();
        Ok(Outcome::Fitted {
            seconds,
            metric: "inertia",
            value: inertia(&inputs.clf, &assignment),
        })
    }

    pub fn knn(inputs: &Inputs, algorithm: KNNAlgorithmName) -> Result<Outcome> {
        let parameters = KNNClassifierParameters::default()
            .with_k(KNN_NEIGHBOURS)
            .with_algorithm(algorithm);
        let start = Instant::now();
        let model: KNNClassifier<f64, i32, Matrix, Vec<i32>, Euclidian<f64>> =
            KNNClassifier::fit(&inputs.clf_matrix, &inputs.clf_labels_i32, parameters)?;
        let fit_seconds = start.elapsed().as_secs_f64();
        let mut predicted = Vec::with_capacity(KNN_QUERIES);
        for (i, chunk) in inputs.knn_query_chunks.iter().enumerate() {
            predicted.extend(model.predict(chunk)?);
            if i == 0 {
                let chunk_seconds = start.elapsed().as_secs_f64() - fit_seconds;
                let projected = fit_seconds + chunk_seconds * inputs.knn_query_chunks.len() as f64;
                if let Some(skip) = too_slow(projected, "from the first 500 queries") {
                    return Ok(skip);
                }
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Outcome::Fitted {
            seconds,
            metric: "train_accuracy",
            value: class_accuracy(&predicted, &inputs.clf_classes[..KNN_QUERIES]),
        })
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        return Err("usage: rust-baselines DIR [ALGORITHM ...]  (DIR holds clf.csv and reg.csv, \
                    as written by `cargo run --release -p riffle-ml --example bench_linear -- DIR`)"
            .into());
    };
    let wanted: Vec<String> = args.collect();
    let inputs = Inputs::load(&dir)?;
    eprintln!(
        "rust baselines: reg {} x {}, clf {} x {}, {} cpus",
        inputs.reg.rows,
        inputs.reg.cols,
        inputs.clf.rows,
        inputs.clf.cols,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );

    use smartcore::algorithm::neighbour::KNNAlgorithmName;
    use smartcore::linear::linear_regression::LinearRegressionSolverName;
    // (engine, family that ALGORITHM arguments select, full algorithm name, the fit)
    type Run<'a> = (
        &'a str,
        &'a str,
        String,
        Box<dyn Fn() -> Result<Outcome> + 'a>,
    );
    let inputs = &inputs;
    let knn = format!("knn-k{KNN_NEIGHBOURS}/fit+predict-{KNN_QUERIES}");
    let runs: Vec<Run> = vec![
        (
            "linfa",
            "linear-regression",
            "linear-regression".into(),
            Box::new(|| linfa_runs::linear_regression(inputs)),
        ),
        (
            "smartcore",
            "linear-regression",
            "linear-regression/QR".into(),
            Box::new(|| smartcore_runs::linear_regression(inputs, LinearRegressionSolverName::QR)),
        ),
        (
            "smartcore",
            "linear-regression",
            "linear-regression/SVD".into(),
            Box::new(|| smartcore_runs::linear_regression(inputs, LinearRegressionSolverName::SVD)),
        ),
        (
            "linfa",
            "logistic-regression",
            "logistic-regression".into(),
            Box::new(|| linfa_runs::logistic_regression(inputs)),
        ),
        (
            "smartcore",
            "logistic-regression",
            "logistic-regression/max-iter-1000".into(),
            Box::new(|| smartcore_runs::logistic_regression(inputs)),
        ),
        (
            "linfa",
            "decision-tree",
            "decision-tree".into(),
            Box::new(|| linfa_runs::decision_tree(inputs)),
        ),
        (
            "smartcore",
            "decision-tree",
            "decision-tree".into(),
            Box::new(|| smartcore_runs::decision_tree(inputs)),
        ),
        (
            "linfa",
            "kmeans",
            "kmeans".into(),
            Box::new(|| linfa_runs::kmeans(inputs)),
        ),
        (
            "smartcore",
            "kmeans",
            "kmeans".into(),
            Box::new(|| smartcore_runs::kmeans(inputs)),
        ),
        (
            "linfa",
            "knn",
            format!("{knn}/KdTree"),
            Box::new(|| linfa_runs::knn(inputs, CommonNearestNeighbour::KdTree)),
        ),
        (
            "linfa",
            "knn",
            format!("{knn}/BallTree"),
            Box::new(|| linfa_runs::knn(inputs, CommonNearestNeighbour::BallTree)),
        ),
        (
            "smartcore",
            "knn",
            format!("{knn}/CoverTree"),
            Box::new(|| smartcore_runs::knn(inputs, KNNAlgorithmName::CoverTree)),
        ),
        (
            "smartcore",
            "knn",
            format!("{knn}/LinearSearch"),
            Box::new(|| smartcore_runs::knn(inputs, KNNAlgorithmName::LinearSearch)),
        ),
        (
            "linfa",
            "random-forest",
            "random-forest/per-tree-features".into(),
            Box::new(|| linfa_runs::random_forest(inputs)),
        ),
        (
            "smartcore",
            "random-forest",
            "random-forest".into(),
            Box::new(|| smartcore_runs::random_forest(inputs)),
        ),
    ];
    for (engine, family, algorithm, run) in runs {
        if wanted.is_empty() || wanted.iter().any(|w| w == family) {
            print_line(engine, &algorithm, run());
        }
    }
    Ok(())
}
