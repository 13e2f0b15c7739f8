//! Logistic regression, binary (sigmoid) and multinomial (softmax).

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use super::{check_common, dot, scoring_data, sgd, sum_rows, training_data, RowSums, SgdSettings};
use crate::classes::{self, Classes};
use crate::data::Matrix;
use crate::error::{MlError, Result};
use crate::optim::{self, Objective, Stopping};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// How [`LogisticRegression`] is fitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogisticSolver {
    /// L-BFGS without an L1 term, proximal gradient descent with one.
    #[default]
    Auto,
    /// L-BFGS (smooth objectives only: no L1 term).
    Lbfgs,
    /// Full-batch proximal gradient descent with backtracking.
    GradientDescent,
    /// Mini-batch SGD with `learning_rate / sqrt(epoch)` steps and an L1 proximal step.
    Sgd,
}

/// Logistic regression: binary with one coefficient vector for the larger label, multinomial
/// (softmax, one vector per class) for three or more classes. Minimises the mean log loss plus
/// the elastic-net penalty of [`crate::linear`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticRegression {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for the class probabilities (a vector, classes in ascending label order).
    pub probability_col: String,
    /// Fit (unpenalised) intercepts.
    pub fit_intercept: bool,
    /// Penalty weight λ.
    pub reg_param: f64,
    /// L1 share of the penalty, in [0, 1].
    pub elastic_net: f64,
    /// How to fit.
    pub solver: LogisticSolver,
    /// Iterations (epochs for SGD).
    pub max_iter: usize,
    /// Convergence tolerance: largest gradient component (L-BFGS), step (gradient descent),
    /// relative loss change per epoch (SGD).
    pub tol: f64,
    /// First SGD step size.
    pub learning_rate: f64,
    /// Rows per SGD step.
    pub batch_size: usize,
    /// Seed of SGD's row order.
    pub seed: u64,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            fit_intercept: true,
            reg_param: 0.0,
            elastic_net: 0.0,
            solver: LogisticSolver::Auto,
            max_iter: 100,
            tol: 1e-6,
            learning_rate: 0.1,
            batch_size: 32,
            seed: 0,
        }
    }
}

/// Mean log loss plus `l2 / 2 |W|²`. Parameters: per modelled class, `d` coefficients then an
/// intercept; one modelled class (the larger label) when binary.
pub(crate) struct LogLoss<'a> {
    pub(crate) x: &'a Matrix,
    pub(crate) y: &'a [usize],
    pub(crate) outputs: usize,
    pub(crate) l2: f64,
    pub(crate) fit_intercept: bool,
}

impl LogLoss<'_> {
    /// Loss of one row, adding its gradient into `g` (scaled by `weight`).
    fn row_loss(&self, w: &[f64], row: &[f64], y: usize, g: &mut [f64], weight: f64) -> f64 {
        let d = row.len();
        let stride = d + 1;
        let intercept = |k: usize| {
            if self.fit_intercept {
                w[k * stride + d]
            } else {
                0.0
            }
        };
        if self.outputs == 1 {
            let z = dot(&w[..d], row) + intercept(0);
            let target = if y == 1 { 1.0 } else { 0.0 };
            let p = sigmoid(z);
            let r = (p - target) * weight;
            g[..d]
                .iter_mut()
                .zip(row)
                .for_each(|(gj, xj)| *gj += r * xj);
            g[d] += r;
            // log(1 + e^z) - target * z, computed without overflow.
            softplus(z) - target * z
        } else {
            let mut logits = [0.0f64; 64];
            let mut heap;
            let z: &mut [f64] = if self.outputs <= 64 {
                &mut logits[..self.outputs]
            } else {
                heap = vec![0.0; self.outputs];
                &mut heap
            };
            for (k, zk) in z.iter_mut().enumerate() {
                *zk = dot(&w[k * stride..k * stride + d], row) + intercept(k);
            }
            let max = z.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
            let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
            let lse = max + sum.ln();
            let loss = lse - z[y];
            for k in 0..self.outputs {
                let p = (z[k] - lse).exp();
                let r = (p - if k == y { 1.0 } else { 0.0 }) * weight;
                let gk = &mut g[k * stride..(k + 1) * stride];
                gk[..d]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(gj, xj)| *gj += r * xj);
                gk[d] += r;
            }
            loss
        }
    }

    fn penalty(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.x.cols();
        let mut penalty = 0.0;
        for k in 0..self.outputs {
            for j in 0..d {
                let v = w[k * (d + 1) + j];
                penalty += 0.5 * self.l2 * v * v;
                grad[k * (d + 1) + j] += self.l2 * v;
            }
            if !self.fit_intercept {
                grad[k * (d + 1) + d] = 0.0;
            }
        }
        penalty
    }
}

impl RowSums for LogLoss<'_> {
    fn parameters(&self) -> usize {
        self.outputs * (self.x.cols() + 1)
    }

    fn rows(&self) -> usize {
        self.x.rows()
    }

    fn sums(&self, w: &[f64]) -> (f64, Vec<f64>) {
        sum_rows(self.x, RowSums::parameters(self), |row, i, g| {
            self.row_loss(w, row, self.y[i], g, 1.0)
        })
    }

    fn finish(&self, w: &[f64], loss: f64, sum: &[f64], n: f64, grad: &mut [f64]) -> f64 {
        grad.iter_mut().zip(sum).for_each(|(g, s)| *g = s / n);
        loss / n + self.penalty(w, grad)
    }
}

impl Objective for LogLoss<'_> {
    fn dimension(&self) -> usize {
        RowSums::parameters(self)
    }

    fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        let (loss, sum) = self.sums(w);
        self.finish(w, loss, &sum, self.x.rows() as f64, grad)
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

impl LogisticRegression {
    fn validated_solver(&self) -> Result<LogisticSolver> {
        check_common(self.reg_param, self.elastic_net, self.max_iter, self.tol)?;
        let l1 = self.reg_param * self.elastic_net > 0.0;
        let solver = match self.solver {
            LogisticSolver::Auto if l1 => LogisticSolver::GradientDescent,
            LogisticSolver::Auto => LogisticSolver::Lbfgs,
            s => s,
        };
        if l1 && solver == LogisticSolver::Lbfgs {
            return Err(MlError::param(
                "solver",
                "lbfgs cannot fit an L1 penalty (elastic_net > 0); use gradient-descent or sgd",
            ));
        }
        if solver == LogisticSolver::Sgd {
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

    fn sgd(&self, objective: &LogLoss<'_>, l1: f64) -> Result<(Vec<f64>, usize)> {
        let x = objective.x;
        let d = x.cols();
        let settings = SgdSettings {
            learning_rate: self.learning_rate,
            batch_size: self.batch_size,
            max_epochs: self.max_iter,
            tol: self.tol,
            seed: self.seed,
            l1,
            l2: objective.l2,
        };
        let fit_intercept = self.fit_intercept;
        let row_gradient = |w: &[f64], i: usize, g: &mut [f64], weight: f64| {
            objective.row_loss(w, x.row(i), objective.y[i], g, weight);
            if !fit_intercept {
                for k in 0..objective.outputs {
                    g[k * (d + 1) + d] = 0.0;
                }
            }
        };
        let full_loss = |w: &[f64]| objective.evaluate(w, &mut vec![0.0; w.len()]);
        sgd(
            x,
            objective.dimension(),
            |p| p % (d + 1) == d,
            row_gradient,
            full_loss,
            &settings,
        )
    }
}

impl Estimator for LogisticRegression {
    type Model = LogisticRegressionModel;

    fn fit(&self, table: &RecordBatch) -> Result<LogisticRegressionModel> {
        let solver = self.validated_solver()?;
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        let classes = Classes::from_labels(&labels, &self.label_col)?;
        let y = classes.indices(&labels)?;
        let d = x.cols();
        let outputs = if classes.len() == 2 { 1 } else { classes.len() };
        let (l1, l2) = (
            self.reg_param * self.elastic_net,
            self.reg_param * (1.0 - self.elastic_net),
        );
        let objective = LogLoss {
            x: &x,
            y: &y,
            outputs,
            l2,
            fit_intercept: self.fit_intercept,
        };
        let stop = Stopping {
            max_iter: self.max_iter,
            tol: self.tol,
        };
        let start = vec![0.0; objective.dimension()];
        let (w, iterations) = match solver {
            LogisticSolver::Lbfgs | LogisticSolver::Auto => {
                let m = optim::lbfgs(&objective, start, 10, stop);
                (m.w, m.iterations)
            }
            LogisticSolver::GradientDescent => {
                // The proximal step must spare the intercepts.
                let m = if outputs == 1 {
                    optim::proximal_gradient(&objective, start, l1, d, stop)
                } else {
                    proximal_multi(&objective, start, l1, d, stop)
                };
                (m.w, m.iterations)
            }
            LogisticSolver::Sgd => self.sgd(&objective, l1)?,
        };
        if w.iter().any(|v| !v.is_finite()) {
            return Err(MlError::data(
                "the fit diverged (non-finite coefficients); standardize the features",
            ));
        }
        let mut coefficients = Vec::with_capacity(outputs * d);
        let mut intercepts = Vec::with_capacity(outputs);
        for k in 0..outputs {
            coefficients.extend_from_slice(&w[k * (d + 1)..k * (d + 1) + d]);
            intercepts.push(if self.fit_intercept {
                w[k * (d + 1) + d]
            } else {
                0.0
            });
        }
        Ok(LogisticRegressionModel {
            classes,
            coefficients: Matrix::new(outputs, d, coefficients)?,
            intercepts,
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            iterations,
        })
    }
}

/// Proximal gradient over several classes' blocks: the L1 step applies to coefficients, not
/// to the intercept that ends each block. Done by permuting the intercepts to the end.
fn proximal_multi(
    objective: &LogLoss<'_>,
    start: Vec<f64>,
    l1: f64,
    d: usize,
    stop: Stopping,
) -> optim::Minimum {
    struct Permuted<'a, 'b>(&'a LogLoss<'b>, usize);
    impl Objective for Permuted<'_, '_> {
        fn dimension(&self) -> usize {
            self.0.dimension()
        }
        fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64 {
            let (k, d) = (self.0.outputs, self.1);
            let natural = to_blocks(w, k, d);
            let mut g = vec![0.0; w.len()];
            let v = self.0.evaluate(&natural, &mut g);
            grad.copy_from_slice(&from_blocks(&g, k, d));
            v
        }
    }
    let k = objective.outputs;
    let m = optim::proximal_gradient(
        &Permuted(objective, d),
        from_blocks(&start, k, d),
        l1,
        k * d,
        stop,
    );
    optim::Minimum {
        w: to_blocks(&m.w, k, d),
        ..m
    }
}

/// `[w_0, b_0, w_1, b_1, ...]` -> `[w_0, w_1, ..., b_0, b_1, ...]`.
fn from_blocks(w: &[f64], k: usize, d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(w.len());
    for c in 0..k {
        out.extend_from_slice(&w[c * (d + 1)..c * (d + 1) + d]);
    }
    for c in 0..k {
        out.push(w[c * (d + 1) + d]);
    }
    out
}

fn to_blocks(w: &[f64], k: usize, d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(w.len());
    for c in 0..k {
        out.extend_from_slice(&w[c * d..(c + 1) * d]);
        out.push(w[k * d + c]);
    }
    out
}

/// A fitted [`LogisticRegression`].
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticRegressionModel {
    /// The labels seen in training, ascending; probabilities come in this order.
    pub classes: Classes,
    /// One row per modelled class (one row when binary: the larger label's).
    pub coefficients: Matrix,
    /// One intercept per row of `coefficients`.
    pub intercepts: Vec<f64>,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for class probabilities.
    pub probability_col: String,
    /// Iterations the fit took.
    pub iterations: usize,
}

impl LogisticRegressionModel {
    /// Class probabilities for the rows of `x` (one column per class, ascending labels).
    pub fn predict_probabilities(&self, x: &Matrix) -> Matrix {
        let k = self.classes.len();
        let mut out = Matrix::zeros(x.rows(), k);
        for (i, row) in x.row_iter().enumerate() {
            let p = out.row_mut(i);
            if self.coefficients.rows() == 1 {
                let z = dot(self.coefficients.row(0), row) + self.intercepts[0];
                p[1] = sigmoid(z);
                p[0] = 1.0 - p[1];
            } else {
                for (c, pc) in p.iter_mut().enumerate() {
                    *pc = dot(self.coefficients.row(c), row) + self.intercepts[c];
                }
                let max = p.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
                p.iter_mut().for_each(|v| *v = (*v - max).exp());
                let sum: f64 = p.iter().sum();
                p.iter_mut().for_each(|v| *v /= sum);
            }
        }
        out
    }

    /// Predicted labels for the rows of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        let p = self.predict_probabilities(x);
        p.row_iter()
            .map(|row| self.classes.label(classes::argmax(row)))
            .collect()
    }
}

impl Transformer for LogisticRegressionModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.coefficients.cols())?;
        let probabilities = self.predict_probabilities(&x);
        classes::with_predictions_and_scores(
            table,
            &self.prediction_col,
            &self.probability_col,
            &probabilities,
            &self.classes,
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    features_col: String,
    prediction_col: String,
    probability_col: String,
    outputs: usize,
    iterations: usize,
}

impl Model for LogisticRegressionModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            outputs: self.coefficients.rows(),
            iterations: self.iterations,
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("classes", self.classes.labels())
            .with_f64("coefficients", self.coefficients.as_slice())
            .with_f64("intercepts", &self.intercepts))
    }
}

impl Loadable for LogisticRegressionModel {
    const KIND: &'static str = "LogisticRegressionModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let coefficients = parts.f64("coefficients")?;
        let d = coefficients.len() / meta.outputs.max(1);
        Ok(LogisticRegressionModel {
            classes: Classes::from_sorted(parts.f64("classes")?)
                .map_err(|e| parts.damaged(e.to_string()))?,
            coefficients: Matrix::new(meta.outputs, d, coefficients)
                .map_err(|e| parts.damaged(e.to_string()))?,
            intercepts: parts.f64("intercepts")?,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            probability_col: meta.probability_col,
            iterations: meta.iterations,
        })
    }
}
