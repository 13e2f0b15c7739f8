//! Keeping the informative features of a vector column: by training variance
//! ([`VarianceThresholdSelector`]) or by a univariate test against the label
//! ([`UnivariateFeatureSelector`]). Both fit a [`FeatureSelectorModel`].

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use super::distributions::{chi2_survival, f_survival};
use super::vector_column;
use crate::classes::Classes;
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

fn training_vectors(table: &RecordBatch, name: &str) -> Result<Matrix> {
    let x = data::read_vectors(table, name)?;
    if x.rows() == 0 {
        return Err(MlError::data(
            "cannot fit a feature selector on a table with no rows",
        ));
    }
    if x.cols() == 0 {
        return Err(MlError::data(format!(
            "the vector column `{name}` has vectors of length 0"
        )));
    }
    Ok(x)
}

/// Drops the features whose variance in the training rows is at most `threshold`, as
/// scikit-learn's `VarianceThreshold`: the variance is the population one (divided by `n`;
/// Spark's `VarianceThresholdSelector` divides by `n - 1`), and with `threshold = 0` a
/// feature's score is `min(variance, max - min)`, so that a constant feature whose computed
/// variance rounds above zero is still dropped. Keeping no feature is an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VarianceThresholdSelector {
    /// Vector column read.
    pub input_col: String,
    /// Vector column of the kept features written.
    pub output_col: String,
    /// Features with a variance at or below this are dropped (>= 0).
    pub threshold: f64,
}

impl Default for VarianceThresholdSelector {
    fn default() -> Self {
        VarianceThresholdSelector {
            input_col: "features".into(),
            output_col: "selected".into(),
            threshold: 0.0,
        }
    }
}

impl Estimator for VarianceThresholdSelector {
    type Model = FeatureSelectorModel;

    fn fit(&self, table: &RecordBatch) -> Result<FeatureSelectorModel> {
        if !(self.threshold >= 0.0 && self.threshold.is_finite()) {
            return Err(MlError::param(
                "threshold",
                format!("must be a finite number >= 0, got {}", self.threshold),
            ));
        }
        let x = training_vectors(table, &self.input_col)?;
        let d = x.cols();
        let n = x.rows() as f64;
        let mut mean = vec![0.0; d];
        let (mut lo, mut hi) = (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d]);
        for row in x.row_iter() {
            for j in 0..d {
                mean[j] += row[j];
                lo[j] = lo[j].min(row[j]);
                hi[j] = hi[j].max(row[j]);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut variance = vec![0.0; d];
        for row in x.row_iter() {
            for ((s, v), m) in variance.iter_mut().zip(row).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let scores: Vec<f64> = variance
            .iter()
            .zip(lo.iter().zip(&hi))
            .map(|(s, (l, h))| {
                let v = s / n;
                if self.threshold == 0.0 {
                    v.min(h - l)
                } else {
                    v
                }
            })
            .collect();
        let selected: Vec<usize> = (0..d).filter(|&j| scores[j] > self.threshold).collect();
        if selected.is_empty() {
            return Err(MlError::data(format!(
                "no feature of `{}` has a training variance above {}; lower threshold",
                self.input_col, self.threshold
            )));
        }
        Ok(FeatureSelectorModel {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            n_features: d,
            selected,
            scores,
            p_values: Vec::new(),
        })
    }
}

/// The test [`UnivariateFeatureSelector`] scores each feature with, as in
/// `sklearn.feature_selection`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreFunction {
    /// Chi-squared statistic of the class-wise feature sums against their expectation under
    /// independence (`chi2`): non-negative features (counts, frequencies, min-max scaled
    /// values) and a class label.
    Chi2,
    /// One-way ANOVA F statistic across the classes (`f_classif`): numeric features and a
    /// class label.
    #[default]
    FClassif,
    /// F statistic of each feature's univariate linear regression on the target
    /// (`f_regression`): numeric features and a numeric label.
    FRegression,
}

/// Which features [`UnivariateFeatureSelector`] keeps, as scikit-learn's `SelectKBest`,
/// `SelectPercentile`, `SelectFpr`, `SelectFdr` and `SelectFwe`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionMode {
    /// The `k` highest scores (all features when `k` exceeds their number).
    #[default]
    KBest,
    /// The highest `percentile` percent of the scores.
    Percentile,
    /// p-value below `alpha` (false positive rate).
    Fpr,
    /// Benjamini–Hochberg at false discovery rate `alpha`.
    Fdr,
    /// p-value below `alpha / features` (family-wise error, Bonferroni).
    Fwe,
}

/// Keeps the features that score best in a univariate test against the label: scores and
/// p-values are those of scikit-learn's `chi2`, `f_classif` and `f_regression` (the latter
/// with `force_finite=True`: a constant feature scores 0 with p-value 1, a perfect fit scores
/// `f64::MAX` with p-value 0), and the modes select as scikit-learn's selectors do (ties in
/// `k-best` keep the later features; NaN scores rank lowest). Keeping no feature is an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnivariateFeatureSelector {
    /// Vector column read.
    pub features_col: String,
    /// Label column (class labels for chi2 and f-classif, a number for f-regression).
    pub label_col: String,
    /// Vector column of the kept features written.
    pub output_col: String,
    /// The test.
    pub score_function: ScoreFunction,
    /// How features are kept.
    pub mode: SelectionMode,
    /// Features kept in [`SelectionMode::KBest`] (>= 1).
    pub k: usize,
    /// Percent of the features kept in [`SelectionMode::Percentile`], in (0, 100].
    pub percentile: f64,
    /// Significance level of the p-value modes, in (0, 1].
    pub alpha: f64,
}

impl Default for UnivariateFeatureSelector {
    fn default() -> Self {
        UnivariateFeatureSelector {
            features_col: "features".into(),
            label_col: "label".into(),
            output_col: "selected".into(),
            score_function: ScoreFunction::FClassif,
            mode: SelectionMode::KBest,
            k: 10,
            percentile: 10.0,
            alpha: 0.05,
        }
    }
}

impl UnivariateFeatureSelector {
    fn validate(&self) -> Result<()> {
        match self.mode {
            SelectionMode::KBest if self.k == 0 => {
                Err(MlError::param("k", "must keep at least 1 feature"))
            }
            SelectionMode::Percentile if !(self.percentile > 0.0 && self.percentile <= 100.0) => {
                Err(MlError::param(
                    "percentile",
                    format!("must be in (0, 100], got {}", self.percentile),
                ))
            }
            SelectionMode::Fpr | SelectionMode::Fdr | SelectionMode::Fwe
                if !(self.alpha > 0.0 && self.alpha <= 1.0) =>
            {
                Err(MlError::param(
                    "alpha",
                    format!("must be in (0, 1], got {}", self.alpha),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The kept features' indices, ascending.
    fn select(&self, scores: &[f64], p_values: &[f64]) -> Vec<usize> {
        let d = scores.len();
        // scikit-learn ranks NaN scores lowest.
        let clean: Vec<f64> = scores
            .iter()
            .map(|s| if s.is_nan() { f64::MIN } else { *s })
            .collect();
        let mut keep = vec![false; d];
        match self.mode {
            SelectionMode::KBest => {
                let mut order: Vec<usize> = (0..d).collect();
                // Stable and ascending, as numpy's mergesort: ties keep the later features.
                order.sort_by(|&a, &b| {
                    clean[a]
                        .partial_cmp(&clean[b])
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                for &j in &order[d - self.k.min(d)..] {
                    keep[j] = true;
                }
            }
            SelectionMode::Percentile => {
                if self.percentile >= 100.0 {
                    keep.fill(true);
                } else {
                    let mut sorted = clean.clone();
                    sorted.sort_by(f64::total_cmp);
                    let threshold = numpy_percentile(&sorted, (100.0 - self.percentile) / 100.0);
                    let mut kept = 0usize;
                    for j in 0..d {
                        keep[j] = clean[j] > threshold;
                        kept += usize::from(keep[j]);
                    }
                    let ties: Vec<usize> = (0..d).filter(|&j| clean[j] == threshold).collect();
                    let max_features = (d as f64 * self.percentile / 100.0) as isize;
                    // Python's `ties[:stop]`, negative stops counting from the end.
                    let stop = max_features - kept as isize;
                    let take = if stop >= 0 {
                        (stop as usize).min(ties.len())
                    } else {
                        ties.len().saturating_sub(stop.unsigned_abs())
                    };
                    for &j in &ties[..take] {
                        keep[j] = true;
                    }
                }
            }
            SelectionMode::Fpr => {
                for j in 0..d {
                    keep[j] = p_values[j] < self.alpha;
                }
            }
            SelectionMode::Fwe => {
                for j in 0..d {
                    keep[j] = p_values[j] < self.alpha / d as f64;
                }
            }
            SelectionMode::Fdr => {
                let mut sorted = p_values.to_vec();
                sorted.sort_by(f64::total_cmp);
                let step = self.alpha / d as f64;
                let largest = sorted
                    .iter()
                    .enumerate()
                    .filter(|&(i, p)| *p <= step * (i + 1) as f64)
                    .map(|(_, p)| *p)
                    .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
                if let Some(largest) = largest {
                    for j in 0..d {
                        keep[j] = p_values[j] <= largest;
                    }
                }
            }
        }
        (0..d).filter(|&j| keep[j]).collect()
    }
}

/// numpy's default (`linear`) percentile of ascending `sorted` at `q` in [0, 1], with its
/// interpolation formula, so that ties with a score compare as they do in scikit-learn.
fn numpy_percentile(sorted: &[f64], q: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * q;
    let below = position.floor();
    let t = position - below;
    let below = below as usize;
    let (a, b) = (sorted[below], sorted[(below + 1).min(sorted.len() - 1)]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Chi-squared statistics and p-values of the features of `x` against the classes `y`.
fn chi2(x: &Matrix, y: &[usize], k: usize, features_col: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let d = x.cols();
    let mut observed = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for (i, (row, &c)) in x.row_iter().zip(y).enumerate() {
        if let Some(j) = row.iter().position(|v| *v < 0.0) {
            return Err(MlError::data(format!(
                "chi2 needs non-negative features, but `{features_col}` has {} at row {i}, element {j}; scale into [0, 1] first (MinMaxScaler) or use f-classif",
                row[j]
            )));
        }
        counts[c] += 1;
        observed[c * d..(c + 1) * d]
            .iter_mut()
            .zip(row)
            .for_each(|(o, v)| *o += v);
    }
    let n = x.rows() as f64;
    let mut scores = vec![0.0; d];
    for (j, score) in scores.iter_mut().enumerate() {
        let total: f64 = (0..k).map(|c| observed[c * d + j]).sum();
        for c in 0..k {
            let expected = counts[c] as f64 / n * total;
            let diff = observed[c * d + j] - expected;
            // 0 / 0 (a feature that is zero everywhere) is NaN, as in scikit-learn.
            *score += diff * diff / expected;
        }
    }
    let p = scores
        .iter()
        .map(|s| chi2_survival((k - 1) as f64, *s))
        .collect();
    Ok((scores, p))
}

/// One-way ANOVA F statistics and p-values of the features of `x` across the classes `y`.
fn f_classif(x: &Matrix, y: &[usize], k: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let (n, d) = (x.rows(), x.cols());
    if n <= k {
        return Err(MlError::data(format!(
            "f-classif needs more rows than classes, got {n} rows and {k} classes"
        )));
    }
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for (row, &c) in x.row_iter().zip(y) {
        counts[c] += 1;
        sums[c * d..(c + 1) * d]
            .iter_mut()
            .zip(row)
            .for_each(|(s, v)| *s += v);
    }
    let class_means: Vec<f64> = (0..k * d).map(|i| sums[i] / counts[i / d] as f64).collect();
    let means: Vec<f64> = (0..d)
        .map(|j| (0..k).map(|c| sums[c * d + j]).sum::<f64>() / n as f64)
        .collect();
    // Centered sums of squares: more accurate than scikit-learn's `sum x² - (sum x)² / n`,
    // and equal to it up to that formula's rounding.
    let mut within = vec![0.0; d];
    for (row, &c) in x.row_iter().zip(y) {
        let m = &class_means[c * d..(c + 1) * d];
        for ((w, v), m) in within.iter_mut().zip(row).zip(m) {
            *w += (v - m) * (v - m);
        }
    }
    let (df_between, df_within) = ((k - 1) as f64, (n - k) as f64);
    let mut scores = Vec::with_capacity(d);
    for j in 0..d {
        let between: f64 = (0..k)
            .map(|c| counts[c] as f64 * (class_means[c * d + j] - means[j]).powi(2))
            .sum();
        scores.push((between / df_between) / (within[j] / df_within));
    }
    let p = scores
        .iter()
        .map(|f| f_survival(df_between, df_within, *f))
        .collect();
    Ok((scores, p))
}

/// Univariate regression F statistics and p-values of the features of `x` against `y`.
fn f_regression(x: &Matrix, y: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    let (n, d) = (x.rows(), x.cols());
    if n < 3 {
        return Err(MlError::data(format!(
            "f-regression needs at least 3 rows, got {n}"
        )));
    }
    let nf = n as f64;
    let y_mean = y.iter().sum::<f64>() / nf;
    let mut means = vec![0.0; d];
    for row in x.row_iter() {
        means.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    means.iter_mut().for_each(|m| *m /= nf);
    let (mut sxy, mut sxx) = (vec![0.0; d], vec![0.0; d]);
    let mut syy = 0.0;
    for (row, yi) in x.row_iter().zip(y) {
        let dy = yi - y_mean;
        syy += dy * dy;
        for j in 0..d {
            let dx = row[j] - means[j];
            sxy[j] += dx * dy;
            sxx[j] += dx * dx;
        }
    }
    let degrees = (n - 2) as f64;
    let mut scores = Vec::with_capacity(d);
    let mut p_values = Vec::with_capacity(d);
    for j in 0..d {
        let mut r = sxy[j] / sxx[j].sqrt() / syy.sqrt();
        if r.is_nan() {
            r = 0.0;
        }
        // Rounding can take an exact fit a hair past 1, which would make F negative and
        // rank the best feature last.
        let r = r.clamp(-1.0, 1.0);
        let r2 = r * r;
        let f = r2 / (1.0 - r2) * degrees;
        if f.is_infinite() {
            scores.push(f64::MAX);
            p_values.push(0.0);
        } else {
            scores.push(f);
            p_values.push(f_survival(1.0, degrees, f));
        }
    }
    Ok((scores, p_values))
}

impl Estimator for UnivariateFeatureSelector {
    type Model = FeatureSelectorModel;

    fn fit(&self, table: &RecordBatch) -> Result<FeatureSelectorModel> {
        self.validate()?;
        let x = training_vectors(table, &self.features_col)?;
        let y = data::read_f64(table, &self.label_col)?;
        let (scores, p_values) = match self.score_function {
            ScoreFunction::FRegression => f_regression(&x, &y)?,
            classification => {
                let classes = Classes::from_labels(&y, &self.label_col)?;
                let indices = classes.indices(&y)?;
                if classification == ScoreFunction::Chi2 {
                    chi2(&x, &indices, classes.len(), &self.features_col)?
                } else {
                    f_classif(&x, &indices, classes.len())?
                }
            }
        };
        let selected = self.select(&scores, &p_values);
        if selected.is_empty() {
            return Err(MlError::data(format!(
                "no feature of `{}` passes the {:?} selection of the {:?} test; loosen k, percentile or alpha",
                self.features_col, self.mode, self.score_function
            )));
        }
        Ok(FeatureSelectorModel {
            input_col: self.features_col.clone(),
            output_col: self.output_col.clone(),
            n_features: x.cols(),
            selected,
            scores,
            p_values,
        })
    }
}

/// A fitted feature selector: writes the kept features of a vector column, in their order.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSelectorModel {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Features per input vector.
    pub n_features: usize,
    /// Indices of the kept features, ascending.
    pub selected: Vec<usize>,
    /// Each input feature's score: its variance, or its test statistic.
    pub scores: Vec<f64>,
    /// Each input feature's p-value (empty for [`VarianceThresholdSelector`]).
    pub p_values: Vec<f64>,
}

impl Transformer for FeatureSelectorModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = data::read_vectors(table, &self.input_col)?;
        if x.cols() != self.n_features && x.rows() > 0 {
            return Err(MlError::data(format!(
                "the model was fitted on {} features, but `{}` has {} per row",
                self.n_features,
                self.input_col,
                x.cols()
            )));
        }
        let mut out = Vec::with_capacity(x.rows() * self.selected.len());
        for row in x.row_iter() {
            out.extend(self.selected.iter().map(|&j| row[j]));
        }
        let out = Matrix::new(x.rows(), self.selected.len(), out)?;
        data::with_column(table, &self.output_col, vector_column(out)?)
    }
}

#[derive(Serialize, Deserialize)]
struct SelectorMeta {
    input_col: String,
    output_col: String,
    n_features: usize,
    selected: Vec<usize>,
    has_p_values: bool,
}

impl Model for FeatureSelectorModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = SelectorMeta {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            n_features: self.n_features,
            selected: self.selected.clone(),
            has_p_values: !self.p_values.is_empty(),
        };
        let parts = ModelParts::new(Self::KIND, &meta)?.with_f64("scores", &self.scores);
        // An empty array cannot be stored, so the p-values are left out when there are none.
        Ok(if self.p_values.is_empty() {
            parts
        } else {
            parts.with_f64("p_values", &self.p_values)
        })
    }
}

impl Loadable for FeatureSelectorModel {
    const KIND: &'static str = "FeatureSelectorModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: SelectorMeta = parts.meta()?;
        if let Some(j) = meta.selected.iter().find(|&&j| j >= meta.n_features) {
            return Err(parts.damaged(format!(
                "selected feature {j} is beyond the {} features",
                meta.n_features
            )));
        }
        Ok(FeatureSelectorModel {
            input_col: meta.input_col,
            output_col: meta.output_col,
            n_features: meta.n_features,
            selected: meta.selected,
            scores: parts.f64("scores")?,
            p_values: if meta.has_p_values {
                parts.f64("p_values")?
            } else {
                Vec::new()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[Vec<f64>], labels: Vec<f64>) -> RecordBatch {
        let m = Matrix::from_rows(rows).unwrap();
        let t = data::float_table(vec![("label", labels)]).unwrap();
        data::with_column(&t, "features", data::vector_array(&m).unwrap()).unwrap()
    }

    #[test]
    fn an_exact_linear_fit_scores_highest_in_f_regression() {
        // y = 3x + 2 on x = 1..100 (the correlation rounds past 1 without the clamp) beside
        // a feature that tells little about it.
        let rows: Vec<Vec<f64>> = (1..=100)
            .map(|x| vec![f64::from(x % 7), f64::from(x)])
            .collect();
        let y: Vec<f64> = (1..=100).map(|x| 3.0 * f64::from(x) + 2.0).collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let (scores, p_values) = f_regression(&x, &y).unwrap();
        assert_eq!(scores[1], f64::MAX);
        assert_eq!(p_values[1], 0.0);
        assert!(scores[0] >= 0.0 && scores[0] < 10.0, "{scores:?}");
    }

    #[test]
    fn low_variance_features_are_dropped_and_the_model_round_trips() {
        let t = table(
            &[
                vec![1.0, 5.0, 0.0],
                vec![2.0, 5.0, 0.1],
                vec![3.0, 5.0, 0.2],
            ],
            vec![0.0, 1.0, 0.0],
        );
        let model = VarianceThresholdSelector::default().fit(&t).unwrap();
        assert_eq!(model.selected, vec![0, 2]);
        assert!((model.scores[0] - 2.0 / 3.0).abs() < 1e-15);
        let out = data::read_vectors(&model.transform(&t).unwrap(), "selected").unwrap();
        assert_eq!(out.row(1), &[2.0, 0.1]);
        let strict = VarianceThresholdSelector {
            threshold: 0.01,
            ..Default::default()
        };
        assert_eq!(strict.fit(&t).unwrap().selected, vec![0]);
        let err = VarianceThresholdSelector {
            threshold: 5.0,
            ..Default::default()
        }
        .fit(&t)
        .unwrap_err()
        .to_string();
        assert!(err.contains("lower threshold"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&model, dir.path()).unwrap();
        assert_eq!(
            crate::persist::load::<FeatureSelectorModel>(dir.path()).unwrap(),
            model
        );
    }

    #[test]
    fn univariate_tests_rank_the_informative_feature_first() {
        // Feature 0 follows the class, feature 1 is noise, feature 2 has a negative value.
        let rows: Vec<Vec<f64>> = (0..40)
            .map(|i| {
                let c = f64::from(i % 2);
                vec![
                    c * 3.0 + f64::from(i % 5) * 0.1,
                    f64::from((i * 7) % 11),
                    -1.0,
                ]
            })
            .collect();
        let labels: Vec<f64> = (0..40).map(|i| f64::from(i % 2)).collect();
        let t = table(&rows, labels);
        let selector = UnivariateFeatureSelector {
            k: 1,
            ..Default::default()
        };
        let model = selector.fit(&t).unwrap();
        assert_eq!(model.selected, vec![0]);
        assert!(
            model.p_values[0] < 1e-10 && model.p_values[1] > 0.01,
            "{model:?}"
        );
        let chi2 = UnivariateFeatureSelector {
            score_function: ScoreFunction::Chi2,
            ..selector.clone()
        };
        let err = chi2.fit(&t).unwrap_err().to_string();
        assert!(
            err.contains("non-negative") && err.contains("row 0, element 2"),
            "{err}"
        );
        let regression = UnivariateFeatureSelector {
            score_function: ScoreFunction::FRegression,
            mode: SelectionMode::Fwe,
            ..selector.clone()
        };
        let model = regression.fit(&t).unwrap();
        // The constant feature 2 scores 0 with p-value 1 (force_finite).
        assert_eq!((model.scores[2], model.p_values[2]), (0.0, 1.0));
        assert_eq!(model.selected, vec![0]);
        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&model, dir.path()).unwrap();
        assert_eq!(
            crate::persist::load::<FeatureSelectorModel>(dir.path()).unwrap(),
            model
        );
        let err = UnivariateFeatureSelector { k: 0, ..selector }
            .fit(&t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`k`"), "{err}");
    }

    #[test]
    fn selection_modes_follow_scikit_learn() {
        let s = |mode, k, percentile, alpha| UnivariateFeatureSelector {
            mode,
            k,
            percentile,
            alpha,
            ..Default::default()
        };
        let scores = [3.0, 1.0, 3.0, f64::NAN, 2.0];
        let p = [0.001, 0.2, 0.011, f64::NAN, 0.04];
        // Ties keep the later feature; NaN ranks lowest.
        assert_eq!(
            s(SelectionMode::KBest, 1, 0.0, 0.0).select(&scores, &p),
            vec![2]
        );
        assert_eq!(
            s(SelectionMode::KBest, 9, 0.0, 0.0)
                .select(&scores, &p)
                .len(),
            5
        );
        // The 40th percentile of [MIN, 1, 2, 3, 3] is 1.6 (position 1.6): the three above stay.
        assert_eq!(
            s(SelectionMode::Percentile, 0, 60.0, 0.0).select(&scores, &p),
            vec![0, 2, 4]
        );
        // The 80th percentile is 3 (position 3.2 between two 3s): no score is above it, so
        // floor(5 * 20%) = 1 of the ties is kept, the first.
        assert_eq!(
            s(SelectionMode::Percentile, 0, 20.0, 0.0).select(&scores, &p),
            vec![0]
        );
        assert_eq!(
            s(SelectionMode::Fpr, 0, 0.0, 0.05).select(&scores, &p),
            vec![0, 2, 4]
        );
        assert_eq!(
            s(SelectionMode::Fwe, 0, 0.0, 0.05).select(&scores, &p),
            vec![0]
        );
        // Benjamini–Hochberg at 0.05 over 5: thresholds 0.01, 0.02, 0.03, 0.04, 0.05;
        // sorted p 0.001, 0.011, 0.04, 0.2: the largest under its threshold is 0.011.
        assert_eq!(
            s(SelectionMode::Fdr, 0, 0.0, 0.05).select(&scores, &p),
            vec![0, 2]
        );
    }
}
