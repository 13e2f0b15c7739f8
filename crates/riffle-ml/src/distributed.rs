//! Data-parallel training over the runtime's workers (threads and processes) from a bounded
//! source: each worker reads its share of the rows, computes sums over them, and the sums are
//! combined with [`riffle_runtime::Collective`] before every step, so all workers take the
//! same steps and end with the same model — the model that fitting all rows in one place
//! gives, up to the order of floating-point additions.
//!
//! Supported: [`LinearRegression`] (closed form, gradient descent, L-BFGS),
//! [`LogisticRegression`] (L-BFGS, gradient descent) and [`KMeans`] (Lloyd iterations after
//! a k-means++ start on a sample). SGD's many small steps are not
//! data-parallel and are refused by name.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use riffle_runtime::{execute_collective, Collective, ExecutionConfig};

use crate::classes::Classes;
use crate::cluster::{KMeans, KMeansModel};
use crate::error::{MlError, Result};
use crate::feature::VectorAssembler;
use crate::linear::{
    LeastSquares, LinearRegression, LinearRegressionModel, LinearSolver, LogLoss,
    LogisticRegression, LogisticRegressionModel, LogisticSolver, RowSums,
};
use crate::optim::{self, Objective, Stopping};
use crate::pipeline::{Estimator, Transformer};
use crate::{data, Matrix};

/// A model trained on the workers, and the number of rows it saw in all.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained<M> {
    /// The model (the same on every worker).
    pub model: M,
    /// Training rows over all workers.
    pub rows: usize,
}

/// Where each worker's rows come from.
#[derive(Clone, Debug)]
pub enum PartitionedSource {
    /// A CSV file with a header, cut into one byte range per worker (a line belongs to the
    /// range it starts in).
    CsvFile(PathBuf),
    /// Tables already in memory, dealt out round-robin (table `i` to worker `i % workers`);
    /// for tests and callers that read their own partitions.
    Tables(Arc<Vec<RecordBatch>>),
}

impl PartitionedSource {
    fn read(&self, worker: usize, workers: usize) -> Result<Vec<RecordBatch>> {
        match self {
            PartitionedSource::CsvFile(path) => {
                Ok(vec![crate::io::read_csv_part(path, worker, workers)?])
            }
            PartitionedSource::Tables(tables) => Ok(tables
                .iter()
                .enumerate()
                .filter(|(i, _)| i % workers == worker)
                .map(|(_, t)| t.clone())
                .collect()),
        }
    }
}

fn runtime(e: riffle_core::RiffleError) -> MlError {
    MlError::data(e.to_string())
}

/// This worker's rows as a feature matrix (assembled from `features`) and labels, with the
/// number of rows over all workers (every worker must take part, so this is where a
/// worker's failure to read becomes everyone's).
fn local_rows(
    source: &PartitionedSource,
    collective: &mut Collective<'_>,
    features: &[String],
    label: &str,
) -> Result<(Matrix, Vec<f64>, usize)> {
    let local = agree(collective, read_rows(source, collective, features, label))?;
    let mut rows = [local.0.rows() as f64];
    collective.all_reduce_sum(&mut rows).map_err(runtime)?;
    Ok((local.0, local.1, rows[0] as usize))
}

fn read_rows(
    source: &PartitionedSource,
    collective: &Collective<'_>,
    features: &[String],
    label: &str,
) -> Result<(Matrix, Vec<f64>)> {
    let names: Vec<&str> = features.iter().map(String::as_str).collect();
    let assembler = VectorAssembler::new(&names, "__features");
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut width = features.len();
    for table in source.read(collective.index(), collective.peers())? {
        if table.num_rows() == 0 {
            continue;
        }
        let table = assembler.transform(&table)?;
        let m = data::read_vectors(&table, "__features")?;
        width = m.cols();
        x.extend_from_slice(m.as_slice());
        y.extend(data::read_f64(&table, label)?);
    }
    Matrix::new(y.len(), width, x).map(|m| (m, y))
}

/// Every worker's outcome of a local step: fails everywhere if it failed anywhere.
fn agree<T>(collective: &mut Collective<'_>, local: Result<T>) -> Result<T> {
    let (value, status) = match local {
        Ok(v) => (Some(v), Ok(Vec::new())),
        Err(e) => (None, Err(e.to_string())),
    };
    collective.all_gather_result(status).map_err(runtime)?;
    value.ok_or_else(|| MlError::data("unreachable: a failed worker's error is everyone's"))
}

/// Runs `fit` on every worker of `config` over that worker's rows (features assembled from
/// `features`, labels from `label`) and returns worker 0's model with the total row count.
fn train_on_workers<M, F>(
    config: &ExecutionConfig,
    source: PartitionedSource,
    features: Vec<String>,
    label: String,
    fit: F,
) -> Result<Trained<M>>
where
    M: Send + 'static,
    F: Fn(&mut Collective<'_>, &Matrix, &[f64], usize) -> Result<M> + Send + Sync + 'static,
{
    let models = execute_collective(config, move |collective| {
        local_rows(&source, collective, &features, &label)
            .and_then(|(x, y, rows)| {
                fit(collective, &x, &y, rows).map(|model| Trained { model, rows })
            })
            .map_err(|e| riffle_core::RiffleError::Config(e.to_string()))
    })
    .map_err(runtime)?;
    models
        .into_iter()
        .next()
        .ok_or_else(|| MlError::data("no worker ran"))
}

/// A [`RowSums`] objective whose sums are combined across workers at every evaluation.
struct AcrossWorkers<'c, 'w, S> {
    local: S,
    collective: RefCell<&'c mut Collective<'w>>,
    error: RefCell<Option<MlError>>,
}

impl<S: RowSums> Objective for AcrossWorkers<'_, '_, S> {
    fn dimension(&self) -> usize {
        self.local.parameters()
    }

    fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        if self.error.borrow().is_some() {
            return f64::NAN;
        }
        let (loss, sums) = self.local.sums(w);
        let mut combined = Vec::with_capacity(sums.len() + 2);
        combined.push(loss);
        combined.push(self.local.rows() as f64);
        combined.extend(sums);
        if let Err(e) = self.collective.borrow_mut().all_reduce_sum(&mut combined) {
            *self.error.borrow_mut() = Some(runtime(e));
            return f64::NAN;
        }
        self.local
            .finish(w, combined[0], &combined[2..], combined[1], grad)
    }
}

/// Fits `estimator` data-parallel on the workers of `config`, reading `source`; the features
/// are the numeric columns `features` (assembled in order). Returns the model (identical on
/// every worker).
pub fn fit_linear_regression(
    config: &ExecutionConfig,
    source: PartitionedSource,
    features: Vec<String>,
    estimator: LinearRegression,
) -> Result<Trained<LinearRegressionModel>> {
    if estimator.reg_param * estimator.elastic_net > 0.0 || estimator.solver == LinearSolver::Sgd {
        return Err(MlError::param(
            "solver",
            "data-parallel fitting runs closed-form, gradient-descent or lbfgs without an L1 term; fit SGD or L1 on one worker",
        ));
    }
    let label = estimator.label_col.clone();
    train_on_workers(
        config,
        source,
        features,
        label,
        move |collective, x, y, _| linear_on_workers(collective, x, y, &estimator),
    )
}

fn linear_on_workers(
    collective: &mut Collective<'_>,
    x: &Matrix,
    y: &[f64],
    estimator: &LinearRegression,
) -> Result<LinearRegressionModel> {
    let d = x.cols();
    let l2 = estimator.reg_param;
    let stop = Stopping {
        max_iter: estimator.max_iter,
        tol: estimator.tol,
    };
    let (coefficients, intercept, iterations) = match estimator.solver {
        LinearSolver::Auto | LinearSolver::ClosedForm | LinearSolver::CoordinateDescent => {
            // One round: XᵀX, Xᵀy, Σx, Σy and n from every worker, then the centred normal
            // equations exactly as on one worker.
            let gram = crate::linalg::gram(x);
            let xty = crate::linalg::transpose_times(x, y);
            let mut sums: Vec<f64> = gram;
            sums.extend(xty);
            let mut column_sums = vec![0.0; d];
            for row in x.row_iter() {
                column_sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            sums.extend(column_sums);
            sums.push(y.iter().sum());
            sums.push(x.rows() as f64);
            collective.all_reduce_sum(&mut sums).map_err(runtime)?;
            let n = sums[d * d + 2 * d + 1];
            if n == 0.0 {
                return Err(MlError::data("the training source has no rows"));
            }
            let mean: Vec<f64> = sums[d * d + d..d * d + 2 * d]
                .iter()
                .map(|s| s / n)
                .collect();
            let y_mean = sums[d * d + 2 * d] / n;
            let (mean, y_mean) = if estimator.fit_intercept {
                (mean, y_mean)
            } else {
                (vec![0.0; d], 0.0)
            };
            let mut g = vec![0.0; d * d];
            let mut rhs = vec![0.0; d];
            for i in 0..d {
                for j in 0..d {
                    g[i * d + j] = (sums[i * d + j] - n * mean[i] * mean[j]) / n;
                }
                g[i * d + i] += l2;
                rhs[i] = (sums[d * d + i] - n * mean[i] * y_mean) / n;
            }
            let w = crate::linalg::solve_symmetric(&g, d, &rhs);
            let b = y_mean - w.iter().zip(&mean).map(|(a, m)| a * m).sum::<f64>();
            (w, b, 1)
        }
        solver => {
            let objective = AcrossWorkers {
                local: LeastSquares {
                    x,
                    y,
                    l2,
                    fit_intercept: estimator.fit_intercept,
                },
                collective: RefCell::new(collective),
                error: RefCell::new(None),
            };
            let m = if solver == LinearSolver::Lbfgs {
                optim::lbfgs(&objective, vec![0.0; d + 1], 10, stop)
            } else {
                optim::proximal_gradient(&objective, vec![0.0; d + 1], 0.0, d, stop)
            };
            if let Some(e) = objective.error.into_inner() {
                return Err(e);
            }
            (m.w[..d].to_vec(), m.w[d], m.iterations)
        }
    };
    Ok(LinearRegressionModel {
        coefficients,
        intercept: if estimator.fit_intercept {
            intercept
        } else {
            0.0
        },
        features_col: estimator.features_col.clone(),
        prediction_col: estimator.prediction_col.clone(),
        iterations,
    })
}

/// Fits `estimator` data-parallel (see [`fit_linear_regression`]). The classes are the union
/// of the labels every worker saw.
pub fn fit_logistic_regression(
    config: &ExecutionConfig,
    source: PartitionedSource,
    features: Vec<String>,
    estimator: LogisticRegression,
) -> Result<Trained<LogisticRegressionModel>> {
    if estimator.reg_param * estimator.elastic_net > 0.0 || estimator.solver == LogisticSolver::Sgd
    {
        return Err(MlError::param(
            "solver",
            "data-parallel fitting runs lbfgs or gradient-descent without an L1 term; fit SGD or L1 on one worker",
        ));
    }
    let label = estimator.label_col.clone();
    train_on_workers(
        config,
        source,
        features,
        label,
        move |collective, x, y, _| logistic_on_workers(collective, x, y, &estimator),
    )
}

fn logistic_on_workers(
    collective: &mut Collective<'_>,
    x: &Matrix,
    labels: &[f64],
    estimator: &LogisticRegression,
) -> Result<LogisticRegressionModel> {
    let mut distinct: Vec<f64> = labels.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let all: Vec<f64> = collective.all_gather(distinct).map_err(runtime)?.concat();
    let classes = Classes::from_labels(&all, &estimator.label_col)?;
    let y = classes.indices(labels)?;
    let d = x.cols();
    let outputs = if classes.len() == 2 { 1 } else { classes.len() };
    let objective = AcrossWorkers {
        local: LogLoss {
            x,
            y: &y,
            outputs,
            l2: estimator.reg_param,
            fit_intercept: estimator.fit_intercept,
        },
        collective: RefCell::new(collective),
        error: RefCell::new(None),
    };
    let stop = Stopping {
        max_iter: estimator.max_iter,
        tol: estimator.tol,
    };
    let start = vec![0.0; outputs * (d + 1)];
    let m = if estimator.solver == LogisticSolver::GradientDescent {
        optim::proximal_gradient(&objective, start, 0.0, outputs * (d + 1), stop)
    } else {
        optim::lbfgs(&objective, start, 10, stop)
    };
    if let Some(e) = objective.error.into_inner() {
        return Err(e);
    }
    let mut coefficients = Vec::with_capacity(outputs * d);
    let mut intercepts = Vec::with_capacity(outputs);
    for k in 0..outputs {
        coefficients.extend_from_slice(&m.w[k * (d + 1)..k * (d + 1) + d]);
        intercepts.push(if estimator.fit_intercept {
            m.w[k * (d + 1) + d]
        } else {
            0.0
        });
    }
    Ok(LogisticRegressionModel {
        classes,
        coefficients: Matrix::new(outputs, d, coefficients)?,
        intercepts,
        features_col: estimator.features_col.clone(),
        prediction_col: estimator.prediction_col.clone(),
        probability_col: estimator.probability_col.clone(),
        iterations: m.iterations,
    })
}

/// Rows drawn (in expectation) for the k-means initialisation, besides `100 k`.
const KMEANS_SAMPLE_ROWS: f64 = 10_000.0;

/// A hash of a row's values and the seed: a row is in the initialisation sample when its hash
/// falls below a threshold, so the sample depends on the data, not on how it is split.
fn row_hash(row: &[f64], seed: u64) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for v in row {
        h ^= v.to_bits();
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
    }
    h
}

/// Fits [`KMeans`] data-parallel: the initial centres are `estimator`'s own fit (k-means++)
/// on a sample of the rows chosen by a hash of their values — the same sample however the
/// rows are split — and Lloyd iterations then run over all rows, each worker summing its
/// rows per cluster. A cluster that loses all its rows keeps its centre. Stops when the
/// centres move less than `tol` times the mean feature variance (scikit-learn's rule).
pub fn fit_kmeans(
    config: &ExecutionConfig,
    source: PartitionedSource,
    features: Vec<String>,
    estimator: KMeans,
) -> Result<Trained<KMeansModel>> {
    if estimator.k == 0 {
        return Err(MlError::param("k", "must be at least 1"));
    }
    // KMeans has no label: the first feature stands in where a label column is read.
    let label = features.first().cloned().unwrap_or_default();
    train_on_workers(
        config,
        source,
        features,
        label,
        move |collective, x, _, rows| kmeans_on_workers(collective, x, rows, &estimator),
    )
}

fn kmeans_on_workers(
    collective: &mut Collective<'_>,
    x: &Matrix,
    rows: usize,
    estimator: &KMeans,
) -> Result<KMeansModel> {
    let (k, d) = (estimator.k, x.cols());
    if rows < k {
        return Err(MlError::param(
            "k",
            format!("{k} clusters need at least {k} rows, the source has {rows}"),
        ));
    }
    // The mean feature variance, for the stopping rule.
    let mut moments = vec![0.0; 2 * d];
    for row in x.row_iter() {
        for (j, v) in row.iter().enumerate() {
            moments[j] += v;
            moments[d + j] += v * v;
        }
    }
    collective.all_reduce_sum(&mut moments).map_err(runtime)?;
    let n = rows as f64;
    let variance = (0..d)
        .map(|j| moments[d + j] / n - (moments[j] / n).powi(2))
        .sum::<f64>()
        / d as f64;
    // The initialisation sample, gathered in hash order.
    let share = ((KMEANS_SAMPLE_ROWS + 100.0 * k as f64) / n).min(1.0);
    let threshold = if share >= 1.0 {
        u64::MAX
    } else {
        (share * u64::MAX as f64) as u64
    };
    let mut picked = Vec::new();
    for row in x.row_iter() {
        let h = row_hash(row, estimator.seed);
        if h <= threshold {
            picked.push(f64::from_bits(h));
            picked.extend_from_slice(row);
        }
    }
    let mut sample: Vec<(u64, &[f64])> = Vec::new();
    let gathered = collective.all_gather(picked).map_err(runtime)?;
    for part in &gathered {
        for chunk in part.chunks_exact(d + 1) {
            sample.push((chunk[0].to_bits(), &chunk[1..]));
        }
    }
    sample.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            a.1.iter()
                .zip(b.1)
                .map(|(p, q)| p.total_cmp(q))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let sample_rows: Vec<f64> = sample.iter().flat_map(|(_, r)| r.iter().copied()).collect();
    let sample = Matrix::new(sample.len(), d, sample_rows)?;
    if sample.rows() < k {
        return Err(MlError::data(format!(
            "the initialisation sample has {} rows for {k} clusters",
            sample.rows()
        )));
    }
    let table = data::with_column(
        &data::float_table(vec![("__row", vec![0.0; sample.rows()])])?,
        "features",
        data::vector_array(&sample)?,
    )?;
    let init = KMeans {
        features_col: "features".into(),
        ..estimator.clone()
    }
    .fit(&table)?;
    let mut centers = init.centers;
    let mut inertia = 0.0;
    let mut iterations = 0;
    for iteration in 0..estimator.max_iter {
        // Per cluster: d sums and a count, then the inertia.
        let mut sums = vec![0.0; k * (d + 1) + 1];
        for row in x.row_iter() {
            let (mut best, mut best_distance) = (0, f64::INFINITY);
            for (c, center) in centers.row_iter().enumerate() {
                let s: f64 = row.iter().zip(center).map(|(a, b)| (a - b) * (a - b)).sum();
                if s < best_distance {
                    (best, best_distance) = (c, s);
                }
            }
            let slot = &mut sums[best * (d + 1)..(best + 1) * (d + 1)];
            slot[..d].iter_mut().zip(row).for_each(|(a, v)| *a += v);
            slot[d] += 1.0;
            sums[k * (d + 1)] += best_distance;
        }
        collective.all_reduce_sum(&mut sums).map_err(runtime)?;
        inertia = sums[k * (d + 1)];
        let mut shift = 0.0;
        for c in 0..k {
            let count = sums[c * (d + 1) + d];
            if count == 0.0 {
                continue;
            }
            for j in 0..d {
                let new = sums[c * (d + 1) + j] / count;
                shift += (new - centers.get(c, j)).powi(2);
                centers.row_mut(c)[j] = new;
            }
        }
        iterations = iteration + 1;
        if shift <= estimator.tol * variance {
            break;
        }
    }
    Ok(KMeansModel {
        centers,
        inertia,
        iterations,
        features_col: estimator.features_col.clone(),
        prediction_col: estimator.prediction_col.clone(),
    })
}

/// The in-memory fit that a data-parallel one must reproduce, for tests: the whole table,
/// assembled the same way.
pub fn fit_in_one_place<E: Estimator>(
    table: &RecordBatch,
    features: &[String],
    estimator: &E,
) -> Result<E::Model> {
    let names: Vec<&str> = features.iter().map(String::as_str).collect();
    let assembled = VectorAssembler::new(&names, "features").transform(table)?;
    estimator.fit(&assembled)
}
