//! Naive Bayes classifiers: [`GaussianNaiveBayes`] for continuous features and
//! [`MultinomialNaiveBayes`] for counts or frequencies, as scikit-learn's `GaussianNB` and
//! `MultinomialNB`.
//!
//! Both score a row by its joint log-likelihood per class, `log P(c) + log P(x | c)`, and turn
//! the scores into probabilities with a log-sum-exp, so that rows far from every class (whose
//! likelihoods underflow to zero) still get finite probabilities. The predicted label is the
//! class of the largest score (the lowest label among exact ties).

use arrow_array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classes::{self, Classes};
use crate::data::Matrix;
use crate::error::{MlError, Result};
use crate::linear::{scoring_data, training_data};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// Gaussian naive Bayes: each feature is normal within each class, independently of the
/// others.
///
/// Variances are the per-class population variances plus `var_smoothing` times the largest
/// variance of any feature over all training rows (scikit-learn's `epsilon_`), which keeps a
/// feature that is constant within a class from making every other value impossible.
///
/// ```
/// use riffle_ml::{data, Estimator, Matrix, Transformer};
/// use riffle_ml::naive_bayes::GaussianNaiveBayes;
///
/// let x = Matrix::new(4, 1, vec![0.0, 0.2, 5.0, 5.2]).unwrap();
/// let table = data::float_table(vec![("label", vec![0.0, 0.0, 1.0, 1.0])]).unwrap();
/// let table = data::with_column(&table, "features", data::vector_array(&x).unwrap()).unwrap();
/// let model = GaussianNaiveBayes::default().fit(&table).unwrap();
/// let scored = model.transform(&table).unwrap();
/// assert_eq!(data::read_f64(&scored, "prediction").unwrap(), vec![0.0, 0.0, 1.0, 1.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GaussianNaiveBayes {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for the class probabilities (a vector, classes in ascending label order).
    pub probability_col: String,
    /// Share of the largest feature variance added to every variance (>= 0).
    pub var_smoothing: f64,
    /// Class prior probabilities in ascending label order; `None` takes the class shares of
    /// the training rows.
    pub priors: Option<Vec<f64>>,
}

impl Default for GaussianNaiveBayes {
    fn default() -> Self {
        GaussianNaiveBayes {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            var_smoothing: 1e-9,
            priors: None,
        }
    }
}

/// Multinomial naive Bayes for non-negative features (counts, term frequencies, or values
/// scaled into `[0, 1]`): each class has a distribution over the features, estimated with
/// additive (Laplace/Lidstone) smoothing `alpha`.
///
/// Fitting refuses a negative feature value, naming its row and element. Scoring does not
/// (scikit-learn neither): a scaler fitted on the training rows may put a test row slightly
/// below zero, and the linear score is still defined there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MultinomialNaiveBayes {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for the class probabilities (a vector, classes in ascending label order).
    pub probability_col: String,
    /// Additive smoothing (> 0; 1 is Laplace smoothing).
    pub alpha: f64,
    /// Learn the class priors from the training rows; otherwise they are uniform. Ignored
    /// when `priors` is given.
    pub fit_prior: bool,
    /// Class prior probabilities in ascending label order.
    pub priors: Option<Vec<f64>>,
}

impl Default for MultinomialNaiveBayes {
    fn default() -> Self {
        MultinomialNaiveBayes {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            alpha: 1.0,
            fit_prior: true,
            priors: None,
        }
    }
}

/// Checks user-given priors: one per class, non-negative, summing to 1.
fn check_priors(priors: &[f64], classes: &Classes) -> Result<()> {
    if priors.len() != classes.len() {
        return Err(MlError::param(
            "priors",
            format!(
                "has {} values, but the training labels hold {} classes {:?}",
                priors.len(),
                classes.len(),
                classes.labels()
            ),
        ));
    }
    if priors.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
        return Err(MlError::param(
            "priors",
            format!("must be finite and >= 0, got {priors:?}"),
        ));
    }
    let sum: f64 = priors.iter().sum();
    // numpy.isclose(sum, 1), as scikit-learn checks.
    if (sum - 1.0).abs() > 1e-8 + 1e-5 {
        return Err(MlError::param(
            "priors",
            format!("must sum to 1, they sum to {sum}"),
        ));
    }
    Ok(())
}

/// Row count of each class.
fn class_counts(y: &[usize], k: usize) -> Vec<f64> {
    let mut counts = vec![0.0; k];
    for &c in y {
        counts[c] += 1.0;
    }
    counts
}

impl Estimator for GaussianNaiveBayes {
    type Model = GaussianNaiveBayesModel;

    fn fit(&self, table: &RecordBatch) -> Result<GaussianNaiveBayesModel> {
        if !(self.var_smoothing >= 0.0 && self.var_smoothing.is_finite()) {
            return Err(MlError::param(
                "var_smoothing",
                format!("must be a finite number >= 0, got {}", self.var_smoothing),
            ));
        }
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        let classes = Classes::from_labels(&labels, &self.label_col)?;
        let y = classes.indices(&labels)?;
        let (k, d) = (classes.len(), x.cols());
        let counts = class_counts(&y, k);
        let mut means = vec![0.0; k * d];
        for (row, &c) in x.row_iter().zip(&y) {
            means[c * d..(c + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(m, v)| *m += v);
        }
        for c in 0..k {
            means[c * d..(c + 1) * d]
                .iter_mut()
                .for_each(|m| *m /= counts[c]);
        }
        // Two passes (mean, then squared deviations) rather than sums of squares, which
        // cancel badly for features far from zero.
        let mut variances = vec![0.0; k * d];
        for (row, &c) in x.row_iter().zip(&y) {
            let mean = &means[c * d..(c + 1) * d];
            variances[c * d..(c + 1) * d]
                .iter_mut()
                .zip(row.iter().zip(mean))
                .for_each(|(s, (v, m))| *s += (v - m) * (v - m));
        }
        for c in 0..k {
            variances[c * d..(c + 1) * d]
                .iter_mut()
                .for_each(|s| *s /= counts[c]);
        }
        let epsilon = self.var_smoothing * largest_variance(&x);
        variances.iter_mut().for_each(|v| *v += epsilon);
        if let Some(at) = variances.iter().position(|v| *v <= 0.0) {
            return Err(MlError::data(format!(
                "feature {} of `{}` does not vary within class {} and var_smoothing adds nothing (every feature is constant, or var_smoothing is 0); a Gaussian needs a variance",
                at % d,
                self.features_col,
                classes.label(at / d)
            )));
        }
        let n = x.rows() as f64;
        let priors = match &self.priors {
            Some(p) => {
                check_priors(p, &classes)?;
                p.clone()
            }
            None => counts.iter().map(|c| c / n).collect(),
        };
        Ok(GaussianNaiveBayesModel {
            classes,
            log_priors: priors.iter().map(|p| p.ln()).collect(),
            means: Matrix::new(k, d, means)?,
            variances: Matrix::new(k, d, variances)?,
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        })
    }
}

/// The largest population variance of a column of `x`.
fn largest_variance(x: &Matrix) -> f64 {
    let n = x.rows() as f64;
    (0..x.cols())
        .map(|j| {
            let mean = x.row_iter().map(|r| r[j]).sum::<f64>() / n;
            x.row_iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n
        })
        .fold(0.0, f64::max)
}

/// A fitted [`GaussianNaiveBayes`].
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianNaiveBayesModel {
    /// The labels seen in training, ascending; probabilities come in this order.
    pub classes: Classes,
    /// Natural log of each class's prior probability.
    pub log_priors: Vec<f64>,
    /// Per-class feature means (one row per class).
    pub means: Matrix,
    /// Per-class feature variances, smoothing included (one row per class).
    pub variances: Matrix,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for class probabilities.
    pub probability_col: String,
}

impl GaussianNaiveBayesModel {
    /// Joint log-likelihood `log P(c) + log P(x | c)` of each row of `x` (one column per
    /// class).
    pub fn joint_log_likelihood(&self, x: &Matrix) -> Matrix {
        let k = self.classes.len();
        // The normalising constant of each class's Gaussian, computed once.
        let constants: Vec<f64> = (0..k)
            .map(|c| {
                self.log_priors[c]
                    - 0.5
                        * self
                            .variances
                            .row(c)
                            .iter()
                            .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                            .sum::<f64>()
            })
            .collect();
        per_row_scores(x, k, |row, out| {
            for (c, o) in out.iter_mut().enumerate() {
                let quadratic: f64 = row
                    .iter()
                    .zip(self.means.row(c))
                    .zip(self.variances.row(c))
                    .map(|((v, m), s)| (v - m) * (v - m) / s)
                    .sum();
                *o = constants[c] - 0.5 * quadratic;
            }
        })
    }
}

impl Transformer for GaussianNaiveBayesModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.means.cols())?;
        let scores = self.joint_log_likelihood(&x);
        write_outputs(
            table,
            scores,
            &self.classes,
            &self.prediction_col,
            &self.probability_col,
        )
    }
}

impl Estimator for MultinomialNaiveBayes {
    type Model = MultinomialNaiveBayesModel;

    fn fit(&self, table: &RecordBatch) -> Result<MultinomialNaiveBayesModel> {
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(MlError::param(
                "alpha",
                format!(
                    "must be a finite number > 0 (a feature never seen in a class would get log 0), got {}",
                    self.alpha
                ),
            ));
        }
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        let d = x.cols();
        if let Some(at) = x.as_slice().iter().position(|v| *v < 0.0) {
            return Err(MlError::data(format!(
                "multinomial naive Bayes needs non-negative features (counts or frequencies), but `{}` has {} at row {}, element {}; scale the features into [0, 1] (MinMaxScaler) first",
                self.features_col,
                x.as_slice()[at],
                at / d,
                at % d
            )));
        }
        let classes = Classes::from_labels(&labels, &self.label_col)?;
        let y = classes.indices(&labels)?;
        let k = classes.len();
        let mut feature_counts = vec![0.0; k * d];
        for (row, &c) in x.row_iter().zip(&y) {
            feature_counts[c * d..(c + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(s, v)| *s += v);
        }
        let mut log_probabilities = Vec::with_capacity(k * d);
        for c in 0..k {
            let smoothed = feature_counts[c * d..(c + 1) * d]
                .iter()
                .map(|f| f + self.alpha);
            let total: f64 = smoothed.clone().sum();
            log_probabilities.extend(smoothed.map(|s| s.ln() - total.ln()));
        }
        let log_priors = match &self.priors {
            Some(p) => {
                check_priors(p, &classes)?;
                p.iter().map(|v| v.ln()).collect()
            }
            None if self.fit_prior => {
                let n = x.rows() as f64;
                class_counts(&y, k).iter().map(|c| (c / n).ln()).collect()
            }
            None => vec![-(k as f64).ln(); k],
        };
        Ok(MultinomialNaiveBayesModel {
            classes,
            log_priors,
            feature_log_probabilities: Matrix::new(k, d, log_probabilities)?,
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        })
    }
}

/// A fitted [`MultinomialNaiveBayes`].
#[derive(Clone, Debug, PartialEq)]
pub struct MultinomialNaiveBayesModel {
    /// The labels seen in training, ascending; probabilities come in this order.
    pub classes: Classes,
    /// Natural log of each class's prior probability.
    pub log_priors: Vec<f64>,
    /// `log P(feature j | class c)`, one row per class.
    pub feature_log_probabilities: Matrix,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for class probabilities.
    pub probability_col: String,
}

impl MultinomialNaiveBayesModel {
    /// Joint log-likelihood `log P(c) + sum_j x_j log P(j | c)` of each row of `x` (one
    /// column per class).
    pub fn joint_log_likelihood(&self, x: &Matrix) -> Matrix {
        let k = self.classes.len();
        per_row_scores(x, k, |row, out| {
            for (c, o) in out.iter_mut().enumerate() {
                *o = self.log_priors[c]
                    + row
                        .iter()
                        .zip(self.feature_log_probabilities.row(c))
                        .map(|(v, l)| v * l)
                        .sum::<f64>();
            }
        })
    }
}

impl Transformer for MultinomialNaiveBayesModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(
            table,
            &self.features_col,
            self.feature_log_probabilities.cols(),
        )?;
        let scores = self.joint_log_likelihood(&x);
        write_outputs(
            table,
            scores,
            &self.classes,
            &self.prediction_col,
            &self.probability_col,
        )
    }
}

/// Rows scored per parallel task.
const CHUNK_ROWS: usize = 1024;

/// A `rows × k` matrix whose row `i` is filled by `score(x.row(i), out_row)`, in parallel.
fn per_row_scores<F>(x: &Matrix, k: usize, score: F) -> Matrix
where
    F: Fn(&[f64], &mut [f64]) + Sync,
{
    let mut out = Matrix::zeros(x.rows(), k);
    if k == 0 {
        return out;
    }
    out.as_mut_slice()
        .par_chunks_mut(CHUNK_ROWS * k)
        .enumerate()
        .for_each(|(chunk, block)| {
            for (r, out_row) in block.chunks_exact_mut(k).enumerate() {
                score(x.row(chunk * CHUNK_ROWS + r), out_row);
            }
        });
    out
}

/// Turns each row of joint log-likelihoods into probabilities in place:
/// `exp(s_c - logsumexp(s))`.
fn normalise_log_scores(scores: &mut Matrix) {
    let k = scores.cols();
    if k == 0 {
        return;
    }
    scores.as_mut_slice().par_chunks_mut(k).for_each(|row| {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        let log_sum = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        row.iter_mut().for_each(|v| *v = (*v - log_sum).exp());
    });
}

/// Adds the predicted labels (argmax of the scores) and the probabilities to `table`.
fn write_outputs(
    table: &RecordBatch,
    mut scores: Matrix,
    classes: &Classes,
    prediction_col: &str,
    probability_col: &str,
) -> Result<RecordBatch> {
    // The label comes from the log scores, before normalising can round near-ties together.
    let table = classes::with_predicted_labels(table, prediction_col, &scores, classes)?;
    normalise_log_scores(&mut scores);
    classes::with_probabilities(&table, probability_col, &scores, classes)
}

#[derive(Serialize, Deserialize)]
struct Meta {
    features_col: String,
    prediction_col: String,
    probability_col: String,
}

impl Model for GaussianNaiveBayesModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("classes", self.classes.labels())
            .with_f64("log_priors", &self.log_priors)
            .with_f64("means", self.means.as_slice())
            .with_f64("variances", self.variances.as_slice()))
    }
}

/// The classes and log priors of saved naive Bayes parts, and the `k × d` matrix `name`.
fn load_common(parts: &ModelParts, name: &str) -> Result<(Classes, Vec<f64>, Matrix)> {
    let classes =
        Classes::from_sorted(parts.f64("classes")?).map_err(|e| parts.damaged(e.to_string()))?;
    let log_priors = parts.f64("log_priors")?;
    if log_priors.len() != classes.len() {
        return Err(parts.damaged(format!(
            "{} log priors for {} classes",
            log_priors.len(),
            classes.len()
        )));
    }
    let values = parts.f64(name)?;
    let d = values.len() / classes.len();
    let matrix = Matrix::new(classes.len(), d, values).map_err(|e| parts.damaged(e.to_string()))?;
    Ok((classes, log_priors, matrix))
}

impl Loadable for GaussianNaiveBayesModel {
    const KIND: &'static str = "GaussianNaiveBayesModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let (classes, log_priors, means) = load_common(parts, "means")?;
        let variances = parts.f64("variances")?;
        let variances = Matrix::new(means.rows(), means.cols(), variances)
            .map_err(|e| parts.damaged(format!("variances: {e}")))?;
        Ok(GaussianNaiveBayesModel {
            classes,
            log_priors,
            means,
            variances,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            probability_col: meta.probability_col,
        })
    }
}

impl Model for MultinomialNaiveBayesModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("classes", self.classes.labels())
            .with_f64("log_priors", &self.log_priors)
            .with_f64(
                "feature_log_probabilities",
                self.feature_log_probabilities.as_slice(),
            ))
    }
}

impl Loadable for MultinomialNaiveBayesModel {
    const KIND: &'static str = "MultinomialNaiveBayesModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let (classes, log_priors, feature_log_probabilities) =
            load_common(parts, "feature_log_probabilities")?;
        Ok(MultinomialNaiveBayesModel {
            classes,
            log_priors,
            feature_log_probabilities,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            probability_col: meta.probability_col,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data;

    fn table(x: Vec<Vec<f64>>, y: Vec<f64>) -> RecordBatch {
        let x = Matrix::from_rows(&x).unwrap();
        let t = data::float_table(vec![("label", y)]).unwrap();
        data::with_column(&t, "features", data::vector_array(&x).unwrap()).unwrap()
    }

    #[test]
    fn gaussian_statistics_and_probabilities_match_the_closed_form() {
        let t = table(
            vec![vec![1.0], vec![3.0], vec![10.0], vec![12.0], vec![14.0]],
            vec![0.0, 0.0, 1.0, 1.0, 1.0],
        );
        let model = GaussianNaiveBayes {
            var_smoothing: 0.0,
            ..Default::default()
        }
        .fit(&t)
        .unwrap();
        assert_eq!(model.means.as_slice(), &[2.0, 12.0]);
        assert!((model.variances.get(0, 0) - 1.0).abs() < 1e-12);
        assert!((model.variances.get(1, 0) - 8.0 / 3.0).abs() < 1e-12);
        let x = Matrix::new(1, 1, vec![2.0]).unwrap();
        let jll = model.joint_log_likelihood(&x);
        let normal = |v: f64, m: f64, s: f64| {
            (-(v - m) * (v - m) / (2.0 * s)).exp() / (2.0 * std::f64::consts::PI * s).sqrt()
        };
        let (a, b) = (
            0.4 * normal(2.0, 2.0, 1.0),
            0.6 * normal(2.0, 12.0, 8.0 / 3.0),
        );
        assert!((jll.get(0, 0) - a.ln()).abs() < 1e-9);
        assert!((jll.get(0, 1) - b.ln()).abs() < 1e-9);
        let scored = model.transform(&table(vec![vec![2.0]], vec![0.0])).unwrap();
        let (p, _) = classes::read_probabilities(&scored, "probability").unwrap();
        assert!((p.get(0, 1) - b / (a + b)).abs() < 1e-12);
    }

    #[test]
    fn var_smoothing_is_a_share_of_the_largest_feature_variance() {
        // Feature 0 is constant within each class; feature 1 varies with variance 100 overall.
        let t = table(
            vec![
                vec![0.0, -10.0],
                vec![0.0, 10.0],
                vec![1.0, -10.0],
                vec![1.0, 10.0],
            ],
            vec![0.0, 0.0, 1.0, 1.0],
        );
        let model = GaussianNaiveBayes {
            var_smoothing: 0.01,
            ..Default::default()
        }
        .fit(&t)
        .unwrap();
        assert!((model.variances.get(0, 0) - 1.0).abs() < 1e-12);
        assert!((model.variances.get(1, 1) - 101.0).abs() < 1e-12);
        let err = GaussianNaiveBayes {
            var_smoothing: 0.0,
            ..Default::default()
        }
        .fit(&t)
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("feature 0") && err.contains("var_smoothing"),
            "{err}"
        );
    }

    #[test]
    fn probabilities_stay_finite_far_from_every_class() {
        let t = table(
            vec![vec![0.0], vec![0.1], vec![1.0], vec![1.1]],
            vec![0.0, 0.0, 1.0, 1.0],
        );
        let model = GaussianNaiveBayes::default().fit(&t).unwrap();
        let scored = model.transform(&table(vec![vec![1e4]], vec![0.0])).unwrap();
        let (p, _) = classes::read_probabilities(&scored, "probability").unwrap();
        assert!(p.row(0).iter().all(|v| v.is_finite()));
        assert!((p.get(0, 1) - 1.0).abs() < 1e-12);
        assert_eq!(data::read_f64(&scored, "prediction").unwrap(), vec![1.0]);
    }

    #[test]
    fn priors_are_checked_and_used() {
        let t = table(
            vec![vec![0.0], vec![0.1], vec![1.0], vec![1.1]],
            vec![0.0, 0.0, 1.0, 1.0],
        );
        let err = GaussianNaiveBayes {
            priors: Some(vec![0.5, 0.6]),
            ..Default::default()
        }
        .fit(&t)
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`priors`") && err.contains("sum to 1"),
            "{err}"
        );
        let model = MultinomialNaiveBayes {
            priors: Some(vec![0.9, 0.1]),
            ..Default::default()
        }
        .fit(&t)
        .unwrap();
        assert!((model.log_priors[0] - 0.9f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn multinomial_smoothing_matches_the_closed_form() {
        let t = table(
            vec![vec![2.0, 0.0], vec![1.0, 1.0], vec![0.0, 3.0]],
            vec![0.0, 0.0, 1.0],
        );
        let model = MultinomialNaiveBayes::default().fit(&t).unwrap();
        // Class 0 counts (3, 1) + alpha 1 -> (4, 2) / 6; class 1 (0, 3) -> (1, 4) / 5.
        let f = &model.feature_log_probabilities;
        assert!((f.get(0, 0) - (4.0f64 / 6.0).ln()).abs() < 1e-12);
        assert!((f.get(1, 1) - (4.0f64 / 5.0).ln()).abs() < 1e-12);
        assert!((model.log_priors[1] - (1.0f64 / 3.0).ln()).abs() < 1e-12);
        let uniform = MultinomialNaiveBayes {
            fit_prior: false,
            ..Default::default()
        }
        .fit(&t)
        .unwrap();
        assert!((uniform.log_priors[0] - 0.5f64.ln()).abs() < 1e-15);
        let scored = model
            .transform(&table(vec![vec![0.0, 5.0]], vec![1.0]))
            .unwrap();
        assert_eq!(data::read_f64(&scored, "prediction").unwrap(), vec![1.0]);
    }

    #[test]
    fn multinomial_refuses_negative_features_naming_row_and_element() {
        let t = table(vec![vec![1.0, 0.0], vec![0.5, -0.25]], vec![0.0, 1.0]);
        let err = MultinomialNaiveBayes::default()
            .fit(&t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("-0.25 at row 1, element 1"), "{err}");
        let err = MultinomialNaiveBayes {
            alpha: 0.0,
            ..Default::default()
        }
        .fit(&t)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`alpha`"), "{err}");
    }

    #[test]
    fn priors_configure_from_a_json_string() {
        let nb: MultinomialNaiveBayes = crate::algorithms::configure(
            "multinomial-naive-bayes",
            &[("priors".to_string(), "[0.25, 0.75]".to_string())],
        )
        .unwrap();
        assert_eq!(nb.priors, Some(vec![0.25, 0.75]));
    }

    #[test]
    fn models_round_trip_bit_for_bit() {
        let t = table(
            vec![
                vec![0.3, 1.7],
                vec![0.1, 2.2],
                vec![1.9, 0.4],
                vec![2.3, 0.2],
            ],
            vec![3.0, 3.0, 7.0, 7.0],
        );
        let gaussian = GaussianNaiveBayes::default().fit(&t).unwrap();
        let back = GaussianNaiveBayesModel::from_parts(&gaussian.parts().unwrap()).unwrap();
        assert_eq!(back, gaussian);
        let multinomial = MultinomialNaiveBayes::default().fit(&t).unwrap();
        let back = MultinomialNaiveBayesModel::from_parts(&multinomial.parts().unwrap()).unwrap();
        assert_eq!(back, multinomial);
        let err = gaussian
            .transform(&table(vec![vec![1.0]], vec![3.0]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fitted on 2 features"), "{err}");
    }
}
