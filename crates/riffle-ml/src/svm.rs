//! Linear support vector classification: [`LinearSVC`], as scikit-learn's `LinearSVC` with
//! its defaults (squared hinge loss, L2 penalty, `C = 1`).
//!
//! Each binary problem (the larger label against the other; one per class against the rest
//! for three or more classes) minimises
//!
//! ```text
//! mean_i max(0, 1 - y_i (w·x_i + b))² + 1 / (2 C n) |w|²,   y_i in {-1, +1}
//! ```
//!
//! which is scikit-learn's `|w|² / 2 + C sum_i max(0, 1 - y_i (w·x_i + b))²` divided by
//! `C n`. The squared hinge is differentiable, so it is minimised with
//! [`crate::optim::lbfgs`]. One difference: liblinear (behind scikit-learn) fits the
//! intercept as the weight of a constant feature and so penalises it too; here the
//! intercept is not penalised, as in every other Riffle linear model. With many rows the
//! two agree closely.

use arrow_array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classes::{self, Classes};
use crate::data::Matrix;
use crate::error::{MlError, Result};
use crate::linear::{dot, scoring_data, sum_rows, training_data};
use crate::optim::{self, Objective, Stopping};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// A linear SVM: squared hinge loss with an L2 penalty, binary or one-vs-rest.
///
/// The model writes the predicted label and, as it has no probabilities, the decision
/// values in `raw_prediction_col`: a vector with one score per class (ascending labels;
/// `[-s, s]` for two classes, where `s` is the larger label's margin). The prediction is the
/// class of the largest score (the lowest label among ties).
///
/// ```
/// use riffle_ml::{data, Estimator, Matrix, Transformer};
/// use riffle_ml::svm::LinearSVC;
///
/// let x = Matrix::new(4, 1, vec![-2.0, -1.0, 1.0, 2.0]).unwrap();
/// let table = data::float_table(vec![("label", vec![0.0, 0.0, 1.0, 1.0])]).unwrap();
/// let table = data::with_column(&table, "features", data::vector_array(&x).unwrap()).unwrap();
/// let model = LinearSVC::default().fit(&table).unwrap();
/// let scored = model.transform(&table).unwrap();
/// assert_eq!(data::read_f64(&scored, "prediction").unwrap(), vec![0.0, 0.0, 1.0, 1.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinearSVC {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for the decision values (a vector, classes in ascending label order).
    pub raw_prediction_col: String,
    /// Inverse penalty strength (scikit-learn's `C`; > 0).
    pub c: f64,
    /// Fit (unpenalised) intercepts.
    pub fit_intercept: bool,
    /// L-BFGS iterations per binary problem.
    pub max_iter: usize,
    /// Stop when the largest gradient component is at most this.
    pub tol: f64,
}

impl Default for LinearSVC {
    fn default() -> Self {
        LinearSVC {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            raw_prediction_col: "raw_prediction".into(),
            c: 1.0,
            fit_intercept: true,
            max_iter: 1000,
            tol: 1e-6,
        }
    }
}

/// Mean squared hinge plus `l2 / 2 |w|²`; parameters `d` coefficients then the intercept.
struct SquaredHinge<'a> {
    x: &'a Matrix,
    /// `+1` for the modelled class, `-1` for the rest.
    y: Vec<f64>,
    l2: f64,
    fit_intercept: bool,
}

impl Objective for SquaredHinge<'_> {
    fn dimension(&self) -> usize {
        self.x.cols() + 1
    }

    fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.x.cols();
        let n = self.x.rows() as f64;
        let (coefficients, intercept) = (&w[..d], w[d]);
        let (loss, sum) = sum_rows(self.x, d + 1, |row, i, g| {
            let y = self.y[i];
            let margin = 1.0 - y * (dot(coefficients, row) + intercept);
            if margin <= 0.0 {
                return 0.0;
            }
            let r = -2.0 * margin * y;
            g[..d]
                .iter_mut()
                .zip(row)
                .for_each(|(gj, xj)| *gj += r * xj);
            g[d] += r;
            margin * margin
        });
        grad.iter_mut().zip(&sum).for_each(|(g, s)| *g = s / n);
        let mut penalty = 0.0;
        for (g, v) in grad[..d].iter_mut().zip(coefficients) {
            penalty += 0.5 * self.l2 * v * v;
            *g += self.l2 * v;
        }
        if !self.fit_intercept {
            grad[d] = 0.0;
        }
        loss / n + penalty
    }
}

impl Estimator for LinearSVC {
    type Model = LinearSVCModel;

    fn fit(&self, table: &RecordBatch) -> Result<LinearSVCModel> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(MlError::param(
                "c",
                format!("must be a finite number > 0, got {}", self.c),
            ));
        }
        if self.max_iter == 0 {
            return Err(MlError::param("max_iter", "must be at least 1"));
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return Err(MlError::param(
                "tol",
                format!("must be > 0, got {}", self.tol),
            ));
        }
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        let classes = Classes::from_labels(&labels, &self.label_col)?;
        let y = classes.indices(&labels)?;
        let d = x.cols();
        let l2 = 1.0 / (self.c * x.rows() as f64);
        // Two classes need one problem (the larger label's); more need one per class.
        let modelled: Vec<usize> = if classes.len() == 2 {
            vec![1]
        } else {
            (0..classes.len()).collect()
        };
        let stop = Stopping {
            max_iter: self.max_iter,
            tol: self.tol,
        };
        let mut coefficients = Vec::with_capacity(modelled.len() * d);
        let mut intercepts = Vec::with_capacity(modelled.len());
        let mut iterations = 0;
        for &class in &modelled {
            let objective = SquaredHinge {
                x: &x,
                y: y.iter()
                    .map(|&c| if c == class { 1.0 } else { -1.0 })
                    .collect(),
                l2,
                fit_intercept: self.fit_intercept,
            };
            let m = optim::lbfgs(&objective, vec![0.0; d + 1], 10, stop);
            if m.w.iter().any(|v| !v.is_finite()) {
                return Err(MlError::data(
                    "the fit diverged (non-finite coefficients); standardize the features",
                ));
            }
            coefficients.extend_from_slice(&m.w[..d]);
            intercepts.push(if self.fit_intercept { m.w[d] } else { 0.0 });
            iterations = iterations.max(m.iterations);
        }
        Ok(LinearSVCModel {
            classes,
            coefficients: Matrix::new(modelled.len(), d, coefficients)?,
            intercepts,
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            raw_prediction_col: self.raw_prediction_col.clone(),
            iterations,
        })
    }
}

/// A fitted [`LinearSVC`].
#[derive(Clone, Debug, PartialEq)]
pub struct LinearSVCModel {
    /// The labels seen in training, ascending; decision values come in this order.
    pub classes: Classes,
    /// One row per binary problem (one row when binary: the larger label's).
    pub coefficients: Matrix,
    /// One intercept per row of `coefficients`.
    pub intercepts: Vec<f64>,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for the decision values.
    pub raw_prediction_col: String,
    /// The most L-BFGS iterations any binary problem took.
    pub iterations: usize,
}

impl LinearSVCModel {
    /// Decision values of the rows of `x`: one column per class (`[-s, s]` when binary).
    pub fn decision_values(&self, x: &Matrix) -> Matrix {
        let k = self.classes.len();
        let mut out = Matrix::zeros(x.rows(), k);
        out.as_mut_slice()
            .par_chunks_mut(k)
            .enumerate()
            .for_each(|(i, scores)| {
                let row = x.row(i);
                if self.coefficients.rows() == 1 {
                    let s = dot(self.coefficients.row(0), row) + self.intercepts[0];
                    scores[0] = -s;
                    scores[1] = s;
                } else {
                    for (c, score) in scores.iter_mut().enumerate() {
                        *score = dot(self.coefficients.row(c), row) + self.intercepts[c];
                    }
                }
            });
        out
    }

    /// Predicted labels for the rows of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        self.decision_values(x)
            .row_iter()
            .map(|row| self.classes.label(classes::argmax(row)))
            .collect()
    }
}

impl Transformer for LinearSVCModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.coefficients.cols())?;
        let scores = self.decision_values(&x);
        // Labelled like a probability column so readers know which score is whose.
        classes::with_predictions_and_scores(
            table,
            &self.prediction_col,
            &self.raw_prediction_col,
            &scores,
            &self.classes,
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    features_col: String,
    prediction_col: String,
    raw_prediction_col: String,
    outputs: usize,
    iterations: usize,
}

impl Model for LinearSVCModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            raw_prediction_col: self.raw_prediction_col.clone(),
            outputs: self.coefficients.rows(),
            iterations: self.iterations,
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("classes", self.classes.labels())
            .with_f64("coefficients", self.coefficients.as_slice())
            .with_f64("intercepts", &self.intercepts))
    }
}

impl Loadable for LinearSVCModel {
    const KIND: &'static str = "LinearSVCModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let classes = Classes::from_sorted(parts.f64("classes")?)
            .map_err(|e| parts.damaged(e.to_string()))?;
        let expected = if classes.len() == 2 { 1 } else { classes.len() };
        let intercepts = parts.f64("intercepts")?;
        if meta.outputs != expected || intercepts.len() != expected {
            return Err(parts.damaged(format!(
                "{} coefficient rows and {} intercepts for {} classes",
                meta.outputs,
                intercepts.len(),
                classes.len()
            )));
        }
        let coefficients = parts.f64("coefficients")?;
        let d = coefficients.len() / expected;
        Ok(LinearSVCModel {
            classes,
            coefficients: Matrix::new(expected, d, coefficients)
                .map_err(|e| parts.damaged(e.to_string()))?,
            intercepts,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            raw_prediction_col: meta.raw_prediction_col,
            iterations: meta.iterations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data;
    use crate::datasets::Classification;

    fn table(x: &Matrix, y: Vec<f64>) -> RecordBatch {
        let t = data::float_table(vec![("label", y)]).unwrap();
        data::with_column(&t, "features", data::vector_array(x).unwrap()).unwrap()
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let x = Matrix::new(4, 2, vec![1.0, 2.0, -1.0, 0.5, 0.3, -2.0, 2.0, 1.0]).unwrap();
        let objective = SquaredHinge {
            x: &x,
            y: vec![1.0, -1.0, -1.0, 1.0],
            l2: 0.3,
            fit_intercept: true,
        };
        let w = [0.2, -0.1, 0.05];
        let mut grad = vec![0.0; 3];
        objective.evaluate(&w, &mut grad);
        for p in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (w.to_vec(), w.to_vec());
            up[p] += h;
            down[p] -= h;
            let mut scratch = vec![0.0; 3];
            let numeric = (objective.evaluate(&up, &mut scratch)
                - objective.evaluate(&down, &mut scratch))
                / (2.0 * h);
            assert!(
                (numeric - grad[p]).abs() < 1e-6,
                "{p}: {numeric} vs {}",
                grad[p]
            );
        }
    }

    #[test]
    fn separable_data_gets_margins_of_at_least_about_one() {
        let x = Matrix::new(6, 1, vec![-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]).unwrap();
        let model = LinearSVC {
            c: 1000.0,
            ..Default::default()
        }
        .fit(&table(&x, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]))
        .unwrap();
        // The optimum of the hard-margin problem is w = 1, b = 0.
        assert!(
            (model.coefficients.get(0, 0) - 1.0).abs() < 1e-2,
            "{model:?}"
        );
        assert!(model.intercepts[0].abs() < 1e-2);
        let scores = model.decision_values(&x);
        assert_eq!(scores.row(5)[0], -scores.row(5)[1]);
    }

    #[test]
    fn one_vs_rest_separates_three_classes() {
        let d = Classification {
            n_samples: 900,
            n_features: 4,
            n_informative: 2,
            n_redundant: 0,
            n_classes: 3,
            n_clusters_per_class: 1,
            class_sep: 3.0,
            flip_y: 0.0,
            seed: 5,
        }
        .generate()
        .unwrap();
        let model = LinearSVC::default().fit(&table(&d.x, d.y.clone())).unwrap();
        assert_eq!(model.coefficients.rows(), 3);
        let predictions = model.predict(&d.x);
        let accuracy = crate::metrics::accuracy(&d.y, &predictions).unwrap();
        assert!(accuracy > 0.9, "accuracy {accuracy}");
        let scored = model.transform(&table(&d.x, d.y)).unwrap();
        let (raw, classes) = classes::read_probabilities(&scored, "raw_prediction").unwrap();
        assert_eq!((raw.cols(), classes.labels()), (3, &[0.0, 1.0, 2.0][..]));
    }

    #[test]
    fn parameters_are_checked_and_models_round_trip() {
        let x = Matrix::new(4, 2, vec![0.0, 1.0, 1.0, 0.0, 2.0, 2.0, 3.0, 1.0]).unwrap();
        let t = table(&x, vec![0.0, 0.0, 1.0, 1.0]);
        let err = LinearSVC {
            c: 0.0,
            ..Default::default()
        }
        .fit(&t)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`c`"), "{err}");
        let model = LinearSVC::default().fit(&t).unwrap();
        let back = LinearSVCModel::from_parts(&model.parts().unwrap()).unwrap();
        assert_eq!(back, model);
        let err = model
            .transform(&table(&Matrix::new(1, 1, vec![0.0]).unwrap(), vec![0.0]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fitted on 2 features"), "{err}");
    }
}
