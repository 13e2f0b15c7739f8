//! Linear models: [`LinearRegression`] and [`LogisticRegression`], trained by closed form,
//! coordinate descent, gradient descent, mini-batch SGD or L-BFGS.
//!
//! Both minimise a mean loss over the training rows plus an elastic-net penalty on the
//! coefficients (never on the intercept):
//!
//! ```text
//! loss(w, b) + reg_param * (elastic_net * |w|_1 + (1 - elastic_net) / 2 * |w|_2^2)
//! ```
//!
//! the parametrisation of scikit-learn's `ElasticNet` (`alpha` = `reg_param`, `l1_ratio` =
//! `elastic_net`) and Spark ML. scikit-learn's `LogisticRegression(C=c)` sums its loss instead
//! of averaging it, so it equals `reg_param = 1 / (c * n_rows)`; `Ridge(alpha=a)` equals
//! `reg_param = a / n_rows`.

mod logistic;
mod regression;

pub(crate) use logistic::LogLoss;
pub use logistic::{LogisticRegression, LogisticRegressionModel, LogisticSolver};
pub(crate) use regression::LeastSquares;
pub use regression::{LinearRegression, LinearRegressionModel, LinearSolver};

use rayon::prelude::*;

use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use arrow_array::RecordBatch;

/// Rows per parallel task when summing a loss and its gradient.
const CHUNK_ROWS: usize = 4096;

/// A mean-loss objective split in two halves, so that the sums over rows can be combined
/// across workers before the mean and the penalty are taken (see [`crate::distributed`]).
pub(crate) trait RowSums {
    /// Number of parameters.
    fn parameters(&self) -> usize;
    /// Rows held locally.
    fn rows(&self) -> usize;
    /// Sum over the local rows of the loss and of its gradient at `w`.
    fn sums(&self, w: &[f64]) -> (f64, Vec<f64>);
    /// The objective at `w` from sums over `n` rows in all, writing its gradient.
    fn finish(&self, w: &[f64], loss: f64, sum: &[f64], n: f64, grad: &mut [f64]) -> f64;
}

/// Reads the feature matrix and the label column of a training table, refusing an empty one.
pub(crate) fn training_data(
    table: &RecordBatch,
    features_col: &str,
    label_col: &str,
) -> Result<(Matrix, Vec<f64>)> {
    let x = data::read_vectors(table, features_col)?;
    let y = data::read_f64(table, label_col)?;
    if x.rows() == 0 {
        return Err(MlError::data("the training table has no rows"));
    }
    if x.cols() == 0 {
        return Err(MlError::data(format!(
            "the feature column `{features_col}` has vectors of length 0"
        )));
    }
    Ok((x, y))
}

/// Reads the features to score and checks their width against the model's.
pub(crate) fn scoring_data(
    table: &RecordBatch,
    features_col: &str,
    width: usize,
) -> Result<Matrix> {
    let x = data::read_vectors(table, features_col)?;
    if x.cols() != width && x.rows() > 0 {
        return Err(MlError::data(format!(
            "the model was fitted on {width} features, but `{features_col}` has {} per row",
            x.cols()
        )));
    }
    Ok(x)
}

/// Checks the shared parameters.
pub(crate) fn check_common(
    reg_param: f64,
    elastic_net: f64,
    max_iter: usize,
    tol: f64,
) -> Result<()> {
    if !(reg_param >= 0.0 && reg_param.is_finite()) {
        return Err(MlError::param(
            "reg_param",
            format!("must be a finite number >= 0, got {reg_param}"),
        ));
    }
    if !(0.0..=1.0).contains(&elastic_net) {
        return Err(MlError::param(
            "elastic_net",
            format!("must be in [0, 1] (0 = L2, 1 = L1), got {elastic_net}"),
        ));
    }
    if max_iter == 0 {
        return Err(MlError::param("max_iter", "must be at least 1"));
    }
    if !(tol > 0.0 && tol.is_finite()) {
        return Err(MlError::param("tol", format!("must be > 0, got {tol}")));
    }
    Ok(())
}

/// Sums `per_row(row, index, grad) -> loss` over the rows of `x` in parallel chunks,
/// returning the summed loss and gradient (length `dim`).
pub(crate) fn sum_rows<F>(x: &Matrix, dim: usize, per_row: F) -> (f64, Vec<f64>)
where
    F: Fn(&[f64], usize, &mut [f64]) -> f64 + Sync,
{
    let n = x.rows();
    let chunks: Vec<usize> = (0..n.div_ceil(CHUNK_ROWS)).collect();
    chunks
        .par_iter()
        .map(|&c| {
            let mut grad = vec![0.0; dim];
            let mut loss = 0.0;
            for i in c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n) {
                loss += per_row(x.row(i), i, &mut grad);
            }
            (loss, grad)
        })
        .reduce(
            || (0.0, vec![0.0; dim]),
            |(la, mut ga), (lb, gb)| {
                ga.iter_mut().zip(&gb).for_each(|(a, b)| *a += b);
                (la + lb, ga)
            },
        )
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Shuffles `0..n` with `rng` (one epoch's order for SGD).
pub(crate) fn epoch_order(n: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
}

/// Settings of [`sgd`].
pub(crate) struct SgdSettings {
    pub learning_rate: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub tol: f64,
    pub seed: u64,
    /// L1 weight (proximal step on the coefficients).
    pub l1: f64,
    /// L2 weight.
    pub l2: f64,
}

/// Epochs without an improvement larger than `tol` before SGD stops (scikit-learn's
/// `n_iter_no_change`).
const EPOCHS_WITHOUT_IMPROVEMENT: usize = 5;

/// Mini-batch SGD with averaging, shared by the linear models.
///
/// Steps are `learning_rate / sqrt(1 + t / batches_per_epoch)` on the mean gradient of a
/// shuffled batch plus the L2 term, followed by the L1 proximal step; intercepts
/// (`is_intercept`) are not penalised. From the second epoch on the iterates are averaged
/// (Polyak-Ruppert), which reaches the optimum at the rate of a decaying step without its
/// noise; the averaged parameters are returned. Stops when the full objective (`full_loss`)
/// of the average has not improved by `tol` (relative) for five epochs.
pub(crate) fn sgd(
    x: &Matrix,
    dim: usize,
    is_intercept: impl Fn(usize) -> bool,
    row_gradient: impl Fn(&[f64], usize, &mut [f64], f64),
    full_loss: impl Fn(&[f64]) -> f64,
    settings: &SgdSettings,
) -> Result<(Vec<f64>, usize)> {
    let (l1, l2) = (settings.l1, settings.l2);
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.seed);
    let batches_per_epoch = x.rows().div_ceil(settings.batch_size) as f64;
    let mut w = vec![0.0; dim];
    let mut average = vec![0.0; dim];
    let mut averaged = 0.0f64;
    let mut grad = vec![0.0; dim];
    let mut step = 0.0f64;
    let mut best = f64::INFINITY;
    let mut stale = 0;
    for epoch in 0..settings.max_epochs {
        for batch in epoch_order(x.rows(), &mut rng).chunks(settings.batch_size) {
            grad.iter_mut().for_each(|g| *g = 0.0);
            let weight = 1.0 / batch.len() as f64;
            for &i in batch {
                row_gradient(&w, i, &mut grad, weight);
            }
            let rate = settings.learning_rate / (1.0 + step / batches_per_epoch).sqrt();
            step += 1.0;
            for (p, (wp, gp)) in w.iter_mut().zip(&grad).enumerate() {
                if is_intercept(p) {
                    *wp -= rate * gp;
                } else {
                    let z = *wp - rate * (gp + l2 * *wp);
                    *wp = crate::optim::soft_threshold(z, rate * l1);
                }
            }
            if epoch > 0 {
                averaged += 1.0;
                average
                    .iter_mut()
                    .zip(&w)
                    .for_each(|(a, v)| *a += (v - *a) / averaged);
            }
        }
        let current = if epoch == 0 { &w } else { &average };
        let loss = full_loss(current)
            + l1 * current
                .iter()
                .enumerate()
                .filter(|(p, _)| !is_intercept(*p))
                .map(|(_, v)| v.abs())
                .sum::<f64>();
        if !loss.is_finite() {
            return Err(MlError::data(format!(
                "SGD diverged in epoch {} (learning_rate {}); lower learning_rate or standardize the features",
                epoch + 1,
                settings.learning_rate
            )));
        }
        if !best.is_finite() || loss < best - settings.tol * best.abs().max(1.0) {
            best = loss;
            stale = 0;
        } else {
            stale += 1;
            if stale >= EPOCHS_WITHOUT_IMPROVEMENT {
                return Ok((if epoch == 0 { w } else { average }, epoch + 1));
            }
        }
    }
    Ok((
        if settings.max_epochs <= 1 { w } else { average },
        settings.max_epochs,
    ))
}
