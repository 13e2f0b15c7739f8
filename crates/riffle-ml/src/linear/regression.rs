//! Least-squares linear regression with an elastic-net penalty.

use arrow_array::{Float64Array, RecordBatch};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::{check_common, dot, scoring_data, sgd, sum_rows, training_data, RowSums, SgdSettings};
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::linalg;
use crate::optim::{self, Objective, Stopping};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// How [`LinearRegression`] finds its coefficients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinearSolver {
    /// Closed form without an L1 term, coordinate descent with one.
    #[default]
    Auto,
    /// The normal equations (`XᵀX/n + λI`), solved by Cholesky; minimum-norm for collinear
    /// features. No L1 term.
    ClosedForm,
    /// Cyclic coordinate descent, as scikit-learn's `ElasticNet`/`Lasso`.
    CoordinateDescent,
    /// Full-batch (proximal) gradient descent with backtracking.
    GradientDescent,
    /// Mini-batch stochastic gradient descent, `learning_rate / sqrt(epoch)` steps.
    Sgd,
    /// L-BFGS. No L1 term (the objective must be smooth).
    Lbfgs,
}

/// Linear regression: `prediction = w · features + b`, minimising half the mean squared error
/// plus the elastic-net penalty of [`crate::linear`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinearRegression {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of the numeric target.
    pub label_col: String,
    /// Column the model writes.
    pub prediction_col: String,
    /// Fit an (unpenalised) intercept.
    pub fit_intercept: bool,
    /// Penalty weight λ (0: none).
    pub reg_param: f64,
    /// L1 share of the penalty, in [0, 1].
    pub elastic_net: f64,
    /// How to fit.
    pub solver: LinearSolver,
    /// Iterations (epochs for SGD).
    pub max_iter: usize,
    /// Convergence tolerance (gradient or coefficient change).
    pub tol: f64,
    /// First step size of SGD.
    pub learning_rate: f64,
    /// Rows per SGD step.
    pub batch_size: usize,
    /// Seed of SGD's row order.
    pub seed: u64,
}

impl Default for LinearRegression {
    fn default() -> Self {
        LinearRegression {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            fit_intercept: true,
            reg_param: 0.0,
            elastic_net: 0.0,
            solver: LinearSolver::Auto,
            max_iter: 100,
            tol: 1e-6,
            learning_rate: 0.01,
            batch_size: 32,
            seed: 0,
        }
    }
}

impl LinearRegression {
    fn validated_solver(&self) -> Result<LinearSolver> {
        check_common(self.reg_param, self.elastic_net, self.max_iter, self.tol)?;
        let l1 = self.reg_param * self.elastic_net > 0.0;
        let solver = match self.solver {
            LinearSolver::Auto if l1 => LinearSolver::CoordinateDescent,
            LinearSolver::Auto => LinearSolver::ClosedForm,
            s => s,
        };
        if l1 && matches!(solver, LinearSolver::ClosedForm | LinearSolver::Lbfgs) {
            return Err(MlError::param(
                "solver",
                format!("{solver:?} cannot fit an L1 penalty (elastic_net > 0); use coordinate-descent, gradient-descent or sgd"),
            ));
        }
        if solver == LinearSolver::Sgd {
            if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
                return Err(MlError::param(
                    "learning_rate",
                    format!("must be > 0, got {}", self.learning_rate),
                ));
            }
            if self.batch_size == 0 {
                return Err(MlError::param("batch_size", "must be at least 1"));
            }
        }
        Ok(solver)
    }
}

/// Half the mean squared error plus `l2 / 2 |w|²`; parameters are `w` then `b`.
pub(crate) struct LeastSquares<'a> {
    pub(crate) x: &'a Matrix,
    pub(crate) y: &'a [f64],
    pub(crate) l2: f64,
    pub(crate) fit_intercept: bool,
}

impl RowSums for LeastSquares<'_> {
    fn parameters(&self) -> usize {
        self.x.cols() + 1
    }

    fn rows(&self) -> usize {
        self.x.rows()
    }

    fn sums(&self, w: &[f64]) -> (f64, Vec<f64>) {
        let d = self.x.cols();
        let (coef, b) = (&w[..d], if self.fit_intercept { w[d] } else { 0.0 });
        sum_rows(self.x, d + 1, |row, i, g| {
            let r = dot(coef, row) + b - self.y[i];
            for (gj, xj) in g[..d].iter_mut().zip(row) {
                *gj += r * xj;
            }
            g[d] += r;
            0.5 * r * r
        })
    }

    fn finish(&self, w: &[f64], loss: f64, sum: &[f64], n: f64, grad: &mut [f64]) -> f64 {
        let d = self.x.cols();
        let coef = &w[..d];
        for j in 0..d {
            grad[j] = sum[j] / n + self.l2 * coef[j];
        }
        grad[d] = if self.fit_intercept { sum[d] / n } else { 0.0 };
        loss / n + 0.5 * self.l2 * dot(coef, coef)
    }
}

impl Objective for LeastSquares<'_> {
    fn dimension(&self) -> usize {
        RowSums::parameters(self)
    }

    fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        let (loss, sum) = self.sums(w);
        self.finish(w, loss, &sum, self.x.rows() as f64, grad)
    }
}

impl Estimator for LinearRegression {
    type Model = LinearRegressionModel;

    fn fit(&self, table: &RecordBatch) -> Result<LinearRegressionModel> {
        let solver = self.validated_solver()?;
        let (x, y) = training_data(table, &self.features_col, &self.label_col)?;
        let (l1, l2) = (
            self.reg_param * self.elastic_net,
            self.reg_param * (1.0 - self.elastic_net),
        );
        let d = x.cols();
        let stop = Stopping {
            max_iter: self.max_iter,
            tol: self.tol,
        };
        let objective = LeastSquares {
            x: &x,
            y: &y,
            l2,
            fit_intercept: self.fit_intercept,
        };
        let (coefficients, intercept, iterations) = match solver {
            LinearSolver::ClosedForm | LinearSolver::Auto => {
                let (w, b) = closed_form(&x, &y, l2, self.fit_intercept);
                (w, b, 1)
            }
            LinearSolver::CoordinateDescent => {
                coordinate_descent(&x, &y, l1, l2, self.fit_intercept, stop)
            }
            LinearSolver::GradientDescent => {
                let m = optim::proximal_gradient(&objective, vec![0.0; d + 1], l1, d, stop);
                let b = m.w[d];
                (m.w[..d].to_vec(), b, m.iterations)
            }
            LinearSolver::Lbfgs => {
                let m = optim::lbfgs(&objective, vec![0.0; d + 1], 10, stop);
                let b = m.w[d];
                (m.w[..d].to_vec(), b, m.iterations)
            }
            LinearSolver::Sgd => self.sgd(&x, &y, l1, l2)?,
        };
        if coefficients
            .iter()
            .chain([&intercept])
            .any(|v| !v.is_finite())
        {
            return Err(MlError::data(format!(
                "the {solver:?} fit diverged (non-finite coefficients); standardize the features or lower learning_rate"
            )));
        }
        Ok(LinearRegressionModel {
            coefficients,
            intercept: if self.fit_intercept { intercept } else { 0.0 },
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            iterations,
        })
    }
}

impl LinearRegression {
    fn sgd(&self, x: &Matrix, y: &[f64], l1: f64, l2: f64) -> Result<(Vec<f64>, f64, usize)> {
        let d = x.cols();
        let objective = LeastSquares {
            x,
            y,
            l2,
            fit_intercept: self.fit_intercept,
        };
        let fit_intercept = self.fit_intercept;
        let row_gradient = |w: &[f64], i: usize, g: &mut [f64], weight: f64| {
            let row = x.row(i);
            let r = (dot(&w[..d], row) + w[d] - y[i]) * weight;
            g[..d]
                .iter_mut()
                .zip(row)
                .for_each(|(gj, xj)| *gj += r * xj);
            if fit_intercept {
                g[d] += r;
            }
        };
        let settings = SgdSettings {
            learning_rate: self.learning_rate,
            batch_size: self.batch_size,
            max_epochs: self.max_iter,
            tol: self.tol,
            seed: self.seed,
            l1,
            l2,
        };
        let full_loss = |w: &[f64]| objective.evaluate(w, &mut vec![0.0; d + 1]);
        let (w, epochs) = sgd(x, d + 1, |p| p == d, row_gradient, full_loss, &settings)?;
        Ok((w[..d].to_vec(), w[d], epochs))
    }
}

/// Centers the columns of `x` (when fitting an intercept), returning the centered copy and the
/// column means.
fn centered(x: &Matrix, fit_intercept: bool) -> (Matrix, Vec<f64>) {
    let d = x.cols();
    let n = x.rows() as f64;
    let mut means = vec![0.0; d];
    if fit_intercept {
        for row in x.row_iter() {
            means.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        means.iter_mut().for_each(|m| *m /= n);
    }
    let mut xc = x.clone();
    if fit_intercept {
        for i in 0..xc.rows() {
            xc.row_mut(i)
                .iter_mut()
                .zip(&means)
                .for_each(|(v, m)| *v -= m);
        }
    }
    (xc, means)
}

fn closed_form(x: &Matrix, y: &[f64], l2: f64, fit_intercept: bool) -> (Vec<f64>, f64) {
    let d = x.cols();
    let n = x.rows() as f64;
    let (xc, means) = centered(x, fit_intercept);
    let y_mean = if fit_intercept {
        y.iter().sum::<f64>() / n
    } else {
        0.0
    };
    let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
    let mut g = linalg::gram(&xc);
    g.iter_mut().for_each(|v| *v /= n);
    for j in 0..d {
        g[j * d + j] += l2;
    }
    let rhs: Vec<f64> = linalg::transpose_times(&xc, &yc)
        .into_iter()
        .map(|v| v / n)
        .collect();
    let w = linalg::solve_symmetric(&g, d, &rhs);
    let b = y_mean - dot(&w, &means);
    (w, b)
}

/// Cyclic coordinate descent on centered data (Friedman, Hastie & Tibshirani 2010), stopping
/// when no coefficient moves by more than `tol` times the largest coefficient.
fn coordinate_descent(
    x: &Matrix,
    y: &[f64],
    l1: f64,
    l2: f64,
    fit_intercept: bool,
    stop: Stopping,
) -> (Vec<f64>, f64, usize) {
    let (n, d) = (x.rows(), x.cols());
    let nf = n as f64;
    let (xc, means) = centered(x, fit_intercept);
    let y_mean = if fit_intercept {
        y.iter().sum::<f64>() / nf
    } else {
        0.0
    };
    // Column-major copy: each update walks one column.
    let columns: Vec<Vec<f64>> = (0..d).map(|j| xc.column(j)).collect();
    let norms: Vec<f64> = columns.iter().map(|c| dot(c, c) / nf).collect();
    let mut residual: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
    let mut w = vec![0.0; d];
    let mut iterations = stop.max_iter;
    for iteration in 0..stop.max_iter {
        let mut max_change = 0.0f64;
        let mut max_w = 0.0f64;
        for j in 0..d {
            if norms[j] == 0.0 {
                continue;
            }
            let old = w[j];
            let rho = dot(&columns[j], &residual) / nf + norms[j] * old;
            let new = optim::soft_threshold(rho, l1) / (norms[j] + l2);
            if new != old {
                let delta = new - old;
                residual
                    .iter_mut()
                    .zip(&columns[j])
                    .for_each(|(r, xj)| *r -= delta * xj);
                w[j] = new;
            }
            max_change = max_change.max((new - old).abs());
            max_w = max_w.max(new.abs());
        }
        if max_change <= stop.tol * max_w.max(f64::MIN_POSITIVE) || max_w == 0.0 {
            iterations = iteration + 1;
            break;
        }
    }
    let b = y_mean - dot(&w, &means);
    (w, b, iterations)
}

/// A fitted [`LinearRegression`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearRegressionModel {
    /// One coefficient per feature.
    pub coefficients: Vec<f64>,
    /// The intercept (0 when not fitted).
    pub intercept: f64,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column written by `transform`.
    pub prediction_col: String,
    /// Iterations (epochs) the fit took.
    pub iterations: usize,
}

impl LinearRegressionModel {
    /// Predictions for the rows of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        x.row_iter()
            .map(|row| dot(&self.coefficients, row) + self.intercept)
            .collect()
    }
}

impl Transformer for LinearRegressionModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.coefficients.len())?;
        let predictions = Arc::new(Float64Array::from(self.predict(&x)));
        data::with_column(table, &self.prediction_col, predictions)
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    features_col: String,
    prediction_col: String,
    iterations: usize,
}

impl Model for LinearRegressionModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            iterations: self.iterations,
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("coefficients", &self.coefficients)
            .with_f64("intercept", &[self.intercept]))
    }
}

impl Loadable for LinearRegressionModel {
    const KIND: &'static str = "LinearRegressionModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        Ok(LinearRegressionModel {
            coefficients: parts.f64("coefficients")?,
            intercept: parts.scalar("intercept")?,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            iterations: meta.iterations,
        })
    }
}
