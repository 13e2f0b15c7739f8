//! Evaluation metrics with scikit-learn 1.x's definitions, so a score computed here can be
//! compared with one recorded from scikit-learn on the same data.
//!
//! Classification metrics take labels as `f64` class codes ([`accuracy`], [`precision`],
//! [`recall`], [`f1`], [`ConfusionMatrix`]); ranking metrics take scores or probabilities
//! ([`roc_auc`], [`roc_auc_ovr`], [`average_precision`], [`log_loss`]); regression metrics
//! take predictions ([`mse`], [`rmse`], [`mae`], [`r2`]); [`silhouette`] scores a clustering.
//! Every function refuses empty input, inputs of different lengths and non-finite values
//! with an [`MlError::InvalidData`] naming the metric, instead of returning NaN.
//!
//! ```
//! use riffle_ml::metrics::{f1, Average};
//!
//! let y_true = [0.0, 1.0, 2.0, 0.0, 1.0, 2.0];
//! let y_pred = [0.0, 2.0, 1.0, 0.0, 0.0, 1.0];
//! let macro_f1 = f1(&y_true, &y_pred, Average::Macro).unwrap();
//! assert!((macro_f1 - 0.8 / 3.0).abs() < 1e-12);
//! ```

use rayon::prelude::*;

use crate::data::Matrix;
use crate::error::{MlError, Result};

/// How per-class precision, recall or F1 are combined into one number, as scikit-learn's
/// `average` parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Average {
    /// The score of one class, `positive`. The labels (union of `y_true` and `y_pred`) may
    /// hold at most two classes, and `positive` must be one of them unless only one class
    /// is present at all (then the score is 0, as scikit-learn's `zero_division=0`).
    Binary {
        /// The class whose score is reported.
        positive: f64,
    },
    /// Counts summed over all classes before dividing (for single-label multiclass data,
    /// micro precision = micro recall = micro F1 = accuracy).
    Micro,
    /// Unweighted mean of the per-class scores.
    Macro,
    /// Mean of the per-class scores weighted by each class's support (its count in `y_true`).
    Weighted,
}

/// A confusion matrix: `counts[i][j]` is the number of rows whose true label is `labels[i]`
/// and whose predicted label is `labels[j]`, as scikit-learn's `confusion_matrix`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    /// The sorted union of the labels in `y_true` and `y_pred`.
    pub labels: Vec<f64>,
    /// Rows are true labels, columns predicted labels, both in the order of `labels`.
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// Counts every `(y_true[i], y_pred[i])` pair.
    ///
    /// ```
    /// let cm = riffle_ml::metrics::ConfusionMatrix::new(&[2.0, 0.0, 2.0], &[0.0, 0.0, 2.0]).unwrap();
    /// assert_eq!(cm.labels, vec![0.0, 2.0]);
    /// assert_eq!(cm.counts, vec![vec![1, 0], vec![1, 1]]);
    /// ```
    pub fn new(y_true: &[f64], y_pred: &[f64]) -> Result<Self> {
        check_pair("confusion_matrix", "y_true", y_true, "y_pred", y_pred)?;
        let labels = sorted_labels(y_true, y_pred);
        let mut counts = vec![vec![0u64; labels.len()]; labels.len()];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            counts[position(&labels, t)][position(&labels, p)] += 1;
        }
        Ok(ConfusionMatrix { labels, counts })
    }
}

/// The fraction of rows where `y_pred` equals `y_true` (scikit-learn's `accuracy_score`).
pub fn accuracy(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check_pair("accuracy", "y_true", y_true, "y_pred", y_pred)?;
    let hits = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(hits as f64 / y_true.len() as f64)
}

/// Precision `tp / (tp + fp)` (scikit-learn's `precision_score` with `zero_division=0`: a
/// class never predicted scores 0). The classes are the sorted union of both inputs.
pub fn precision(y_true: &[f64], y_pred: &[f64], average: Average) -> Result<f64> {
    class_score("precision", y_true, y_pred, average, |c| {
        ratio(c.tp, c.predicted)
    })
}

/// Recall `tp / (tp + fn)` (scikit-learn's `recall_score` with `zero_division=0`: a class
/// absent from `y_true` scores 0). The classes are the sorted union of both inputs.
pub fn recall(y_true: &[f64], y_pred: &[f64], average: Average) -> Result<f64> {
    class_score("recall", y_true, y_pred, average, |c| ratio(c.tp, c.actual))
}

/// F1 `2 tp / (2 tp + fp + fn)`, the harmonic mean of precision and recall (scikit-learn's
/// `f1_score` with `zero_division=0`). The classes are the sorted union of both inputs.
pub fn f1(y_true: &[f64], y_pred: &[f64], average: Average) -> Result<f64> {
    // 2tp / (2tp + fp + fn) is what scikit-learn computes since 1.3; it equals the harmonic
    // mean whenever that is defined and gives 0 (not NaN) when precision and recall are 0.
    class_score("f1", y_true, y_pred, average, |c| {
        ratio(2 * c.tp, c.predicted + c.actual)
    })
}

/// Area under the ROC curve of a binary problem (scikit-learn's `roc_auc_score`).
///
/// `y_true` must hold exactly two distinct labels; the larger one is the positive class
/// (so 0/1 labels work as expected). Tied scores count one half, as scikit-learn's
/// trapezoidal area over distinct thresholds does; the value is computed exactly as the
/// Mann-Whitney statistic with midranks. Only one class in `y_true` is an error, as the
/// area is undefined.
pub fn roc_auc(y_true: &[f64], scores: &[f64]) -> Result<f64> {
    check_pair("roc_auc", "y_true", y_true, "scores", scores)?;
    let positive = binary_truth("roc_auc", y_true)?;
    pairwise_auc(&positive, scores)
        .ok_or_else(|| MlError::data("roc_auc: y_true needs rows of both classes"))
}

/// Multiclass one-vs-rest ROC AUC (scikit-learn's `roc_auc_score(multi_class="ovr")`, with
/// `labels=classes`): the binary AUC of each class against the others, averaged without
/// weights or, with `weighted`, weighted by each class's support in `y_true`.
///
/// Column `j` of `probabilities` scores `classes[j]`. As in scikit-learn, every row must sum
/// to 1 (within `1e-8 + 1e-5 * sum`), every `y_true` value must be one of `classes`, and
/// every class must occur in `y_true` (its AUC is undefined otherwise).
pub fn roc_auc_ovr(
    y_true: &[f64],
    probabilities: &Matrix,
    classes: &[f64],
    weighted: bool,
) -> Result<f64> {
    let columns = check_probabilities("roc_auc_ovr", y_true, probabilities, classes)?;
    for i in 0..probabilities.rows() {
        let sum: f64 = probabilities.row(i).iter().sum();
        // numpy.allclose(1, sum) with its default tolerances, as scikit-learn checks.
        if (1.0 - sum).abs() > 1e-8 + 1e-5 * sum.abs() {
            return Err(MlError::data(format!(
                "roc_auc_ovr: the probabilities of row {i} sum to {sum}, not 1; one-vs-rest AUC needs probabilities"
            )));
        }
    }
    let mut total = 0.0;
    let mut total_weight = 0.0;
    for (j, &class) in classes.iter().enumerate() {
        let positive: Vec<bool> = columns.iter().map(|&c| c == j).collect();
        let support = positive.iter().filter(|&&p| p).count();
        let auc = pairwise_auc(&positive, &probabilities.column(j)).ok_or_else(|| {
            MlError::data(format!(
                "roc_auc_ovr: class {class} {} in y_true, so its one-vs-rest AUC is undefined",
                if support == 0 {
                    "never occurs"
                } else {
                    "is the only class"
                }
            ))
        })?;
        let weight = if weighted { support as f64 } else { 1.0 };
        total += weight * auc;
        total_weight += weight;
    }
    Ok(total / total_weight)
}

/// Average precision, the step-wise area under the precision-recall curve (scikit-learn's
/// `average_precision_score`): `sum_k (R_k - R_{k-1}) P_k` over the distinct score
/// thresholds taken from the highest down, so tied scores enter together.
///
/// `y_true` must hold exactly two distinct labels; the larger one is the positive class.
/// Where scikit-learn warns and returns a degenerate value for a single class, this is an
/// error.
pub fn average_precision(y_true: &[f64], scores: &[f64]) -> Result<f64> {
    check_pair("average_precision", "y_true", y_true, "scores", scores)?;
    let positive = binary_truth("average_precision", y_true)?;
    let total_positive = positive.iter().filter(|&&p| p).count() as f64;
    let mut ap = 0.0;
    let (mut tp, mut fp) = (0u64, 0u64);
    for (pos, neg) in tie_groups_descending(&positive, scores) {
        tp += pos;
        fp += neg;
        if pos > 0 {
            let precision = tp as f64 / (tp + fp) as f64;
            ap += pos as f64 / total_positive * precision;
        }
    }
    Ok(ap)
}

/// Mean negative log-likelihood of the true classes (scikit-learn's `log_loss` with
/// `labels=classes`). Column `j` of `probabilities` is the probability of `classes[j]`;
/// each is clipped to `[eps, 1 - eps]` with `eps = f64::EPSILON` so a confident mistake
/// costs `-ln(eps)` ≈ 36.04 instead of infinity. Rows are not renormalised (scikit-learn
/// stopped doing so in 1.5). A `y_true` value outside `classes` is an error.
pub fn log_loss(y_true: &[f64], probabilities: &Matrix, classes: &[f64]) -> Result<f64> {
    let columns = check_probabilities("log_loss", y_true, probabilities, classes)?;
    let eps = f64::EPSILON;
    let total: f64 = columns
        .iter()
        .enumerate()
        .map(|(i, &j)| -probabilities.get(i, j).clamp(eps, 1.0 - eps).ln())
        .sum();
    Ok(total / y_true.len() as f64)
}

/// Mean squared error (scikit-learn's `mean_squared_error`).
pub fn mse(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check_pair("mse", "y_true", y_true, "y_pred", y_pred)?;
    Ok(mean_of(y_true, y_pred, |d| d * d))
}

/// Root mean squared error (scikit-learn's `root_mean_squared_error`).
pub fn rmse(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check_pair("rmse", "y_true", y_true, "y_pred", y_pred)?;
    Ok(mean_of(y_true, y_pred, |d| d * d).sqrt())
}

/// Mean absolute error (scikit-learn's `mean_absolute_error`).
pub fn mae(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check_pair("mae", "y_true", y_true, "y_pred", y_pred)?;
    Ok(mean_of(y_true, y_pred, f64::abs))
}

/// Coefficient of determination `1 - SS_res / SS_tot` (scikit-learn's `r2_score`). When
/// `y_true` is constant (`SS_tot = 0`) the score is 1.0 for a perfect prediction and 0.0
/// otherwise, as scikit-learn's `force_finite=True`. Fewer than two rows is an error, where
/// scikit-learn warns and returns NaN.
pub fn r2(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check_pair("r2", "y_true", y_true, "y_pred", y_pred)?;
    if y_true.len() < 2 {
        return Err(MlError::data(
            "r2: R² is not defined for fewer than two rows",
        ));
    }
    let ss_res: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(t, p)| (t - p) * (t - p))
        .sum();
    // Checked directly because the mean of equal values can be off by an ulp, which would
    // turn SS_tot = 0 into a tiny positive number and the score into a huge negative one.
    let constant = y_true.iter().all(|&t| t == y_true[0]);
    let mean = y_true.iter().sum::<f64>() / y_true.len() as f64;
    let ss_tot: f64 = y_true.iter().map(|t| (t - mean) * (t - mean)).sum();
    if constant || ss_tot == 0.0 {
        return Ok(if ss_res == 0.0 { 1.0 } else { 0.0 });
    }
    Ok(1.0 - ss_res / ss_tot)
}

/// Mean silhouette coefficient with Euclidean distance (scikit-learn's `silhouette_score`).
///
/// For sample `i`, `a` is its mean distance to the other members of its cluster and `b` the
/// smallest mean distance to the members of another cluster; its coefficient is
/// `(b - a) / max(a, b)`, or 0 when it is alone in its cluster (or `a = b = 0`). The number
/// of distinct labels must be between 2 and `n - 1`. Costs O(n² d); samples are scored in
/// parallel.
pub fn silhouette(x: &Matrix, labels: &[usize]) -> Result<f64> {
    let n = x.rows();
    if n == 0 {
        return Err(MlError::data("silhouette: x has no rows"));
    }
    if labels.len() != n {
        return Err(MlError::data(format!(
            "silhouette: x has {n} rows but labels has {} values",
            labels.len()
        )));
    }
    if x.cols() == 0 {
        return Err(MlError::data("silhouette: x has no columns"));
    }
    check_finite("silhouette", "x", x.as_slice())?;
    let mut clusters = labels.to_vec();
    clusters.sort_unstable();
    clusters.dedup();
    let k = clusters.len();
    if k < 2 || k > n - 1 {
        return Err(MlError::data(format!(
            "silhouette: {k} clusters among {n} samples; the silhouette needs between 2 and n - 1 clusters"
        )));
    }
    // `clusters` holds every label, so the search always succeeds; `|i| i` keeps it panic-free.
    let ids: Vec<usize> = labels
        .iter()
        .map(|l| clusters.binary_search(l).unwrap_or_else(|i| i))
        .collect();
    let mut sizes = vec![0usize; k];
    for &c in &ids {
        sizes[c] += 1;
    }
    let coefficients: Vec<f64> = (0..n)
        .into_par_iter()
        .map_init(
            || vec![0.0; k],
            |sums, i| {
                sums.iter_mut().for_each(|s| *s = 0.0);
                let xi = x.row(i);
                for (j, &c) in ids.iter().enumerate() {
                    if j != i {
                        sums[c] += euclidean(xi, x.row(j));
                    }
                }
                let own = ids[i];
                if sizes[own] == 1 {
                    return 0.0;
                }
                let a = sums[own] / (sizes[own] - 1) as f64;
                let b = (0..k)
                    .filter(|&c| c != own)
                    .map(|c| sums[c] / sizes[c] as f64)
                    .fold(f64::INFINITY, f64::min);
                let scale = a.max(b);
                if scale == 0.0 {
                    0.0
                } else {
                    (b - a) / scale
                }
            },
        )
        .collect();
    // Summed sequentially so the result does not depend on how rayon split the work.
    Ok(coefficients.iter().sum::<f64>() / n as f64)
}

/// Per-class counts behind precision, recall and F1.
#[derive(Clone, Copy, Default)]
struct ClassCounts {
    tp: u64,
    /// Rows predicted as the class (tp + fp).
    predicted: u64,
    /// Rows whose true label is the class (tp + fn), its support.
    actual: u64,
}

fn class_score(
    metric: &str,
    y_true: &[f64],
    y_pred: &[f64],
    average: Average,
    score: impl Fn(ClassCounts) -> f64,
) -> Result<f64> {
    check_pair(metric, "y_true", y_true, "y_pred", y_pred)?;
    let labels = sorted_labels(y_true, y_pred);
    let mut counts = vec![ClassCounts::default(); labels.len()];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        let (ti, pi) = (position(&labels, t), position(&labels, p));
        counts[ti].actual += 1;
        counts[pi].predicted += 1;
        if ti == pi {
            counts[ti].tp += 1;
        }
    }
    match average {
        Average::Binary { positive } => {
            if labels.len() > 2 {
                return Err(MlError::data(format!(
                    "{metric}: y_true and y_pred hold {} classes but Average::Binary needs at most two; use Micro, Macro or Weighted",
                    labels.len()
                )));
            }
            match labels.binary_search_by(|l| l.total_cmp(&canonical(positive))) {
                Ok(i) => Ok(score(counts[i])),
                // With a single class present the positive class may simply not occur.
                Err(_) if labels.len() < 2 => Ok(0.0),
                Err(_) => Err(MlError::data(format!(
                    "{metric}: the positive class {positive} is not one of the labels {labels:?}"
                ))),
            }
        }
        Average::Micro => {
            let total = counts
                .iter()
                .fold(ClassCounts::default(), |acc, c| ClassCounts {
                    tp: acc.tp + c.tp,
                    predicted: acc.predicted + c.predicted,
                    actual: acc.actual + c.actual,
                });
            Ok(score(total))
        }
        Average::Macro => Ok(counts.iter().map(|&c| score(c)).sum::<f64>() / counts.len() as f64),
        Average::Weighted => {
            let weighted: f64 = counts.iter().map(|&c| c.actual as f64 * score(c)).sum();
            Ok(weighted / y_true.len() as f64)
        }
    }
}

/// `a / b`, or 0 when `b` is 0: scikit-learn's `zero_division=0`.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Whether each row of a two-class `y_true` is positive (the larger label).
fn binary_truth(metric: &str, y_true: &[f64]) -> Result<Vec<bool>> {
    let labels = sorted_labels(y_true, &[]);
    match labels.as_slice() {
        [_, positive] => Ok(y_true.iter().map(|&t| canonical(t) == *positive).collect()),
        [only] => Err(MlError::data(format!(
            "{metric}: only one class ({only}) is present in y_true; the metric is not defined then"
        ))),
        _ => Err(MlError::data(format!(
            "{metric}: y_true holds {} classes but a binary metric needs exactly two{}",
            labels.len(),
            if metric == "roc_auc" {
                "; use roc_auc_ovr for multiclass"
            } else {
                ""
            }
        ))),
    }
}

/// Positive and negative counts of each group of equal scores, highest score first.
fn tie_groups_descending(positive: &[bool], scores: &[f64]) -> Vec<(u64, u64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| canonical(scores[b]).total_cmp(&canonical(scores[a])));
    let mut groups: Vec<(u64, u64)> = Vec::new();
    let mut previous: Option<f64> = None;
    for &i in &order {
        let s = canonical(scores[i]);
        if previous != Some(s) {
            groups.push((0, 0));
            previous = Some(s);
        }
        if let Some(last) = groups.last_mut() {
            if positive[i] {
                last.0 += 1;
            } else {
                last.1 += 1;
            }
        }
    }
    groups
}

/// The probability that a random positive outscores a random negative, ties counting one
/// half; `None` without both classes.
fn pairwise_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    // Twice the area, in integers, so that the result is exact up to the final division.
    let mut doubled: u128 = 0;
    let (mut tp_above, mut fp_total) = (0u128, 0u128);
    for (pos, neg) in tie_groups_descending(positive, scores) {
        let (pos, neg) = (u128::from(pos), u128::from(neg));
        doubled += neg * (2 * tp_above + pos);
        tp_above += pos;
        fp_total += neg;
    }
    if tp_above == 0 || fp_total == 0 {
        return None;
    }
    Some(doubled as f64 / (2 * tp_above * fp_total) as f64)
}

/// Validates the `(y_true, probabilities, classes)` triple and gives, for each row, the
/// column of its true class.
fn check_probabilities(
    metric: &str,
    y_true: &[f64],
    probabilities: &Matrix,
    classes: &[f64],
) -> Result<Vec<usize>> {
    if y_true.is_empty() {
        return Err(MlError::data(format!("{metric}: y_true is empty")));
    }
    if probabilities.rows() != y_true.len() {
        return Err(MlError::data(format!(
            "{metric}: y_true has {} values but probabilities has {} rows",
            y_true.len(),
            probabilities.rows()
        )));
    }
    if classes.len() != probabilities.cols() {
        return Err(MlError::data(format!(
            "{metric}: {} classes but probabilities has {} columns; column j must score classes[j]",
            classes.len(),
            probabilities.cols()
        )));
    }
    if classes.len() < 2 {
        return Err(MlError::data(format!(
            "{metric}: needs at least two classes, got {}",
            classes.len()
        )));
    }
    check_finite(metric, "y_true", y_true)?;
    check_finite(metric, "classes", classes)?;
    check_finite(metric, "probabilities", probabilities.as_slice())?;
    let mut sorted: Vec<(f64, usize)> = classes
        .iter()
        .enumerate()
        .map(|(j, &c)| (canonical(c), j))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(MlError::data(format!(
            "{metric}: class {} is listed twice in classes",
            w[0].0
        )));
    }
    y_true
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            sorted
                .binary_search_by(|(c, _)| c.total_cmp(&canonical(t)))
                .map(|at| sorted[at].1)
                .map_err(|_| {
                    MlError::data(format!(
                        "{metric}: y_true[{i}] = {t} is not one of the classes {classes:?}"
                    ))
                })
        })
        .collect()
}

/// Refuses empty inputs, inputs of different lengths and non-finite values.
fn check_pair(metric: &str, a_name: &str, a: &[f64], b_name: &str, b: &[f64]) -> Result<()> {
    if a.len() != b.len() {
        return Err(MlError::data(format!(
            "{metric}: {a_name} has {} values but {b_name} has {} (lengths must match)",
            a.len(),
            b.len()
        )));
    }
    if a.is_empty() {
        return Err(MlError::data(format!(
            "{metric}: {a_name} and {b_name} are empty"
        )));
    }
    check_finite(metric, a_name, a)?;
    check_finite(metric, b_name, b)
}

fn check_finite(metric: &str, name: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(MlError::data(format!(
            "{metric}: {name} has the non-finite value {} at position {i}",
            values[i]
        ))),
        None => Ok(()),
    }
}

/// `-0.0` as `0.0`, so that the two compare equal under `total_cmp` as they do under `==`.
fn canonical(v: f64) -> f64 {
    v + 0.0
}

/// The sorted distinct values of `a` and `b` (scikit-learn's `unique_labels`).
fn sorted_labels(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut labels: Vec<f64> = a.iter().chain(b).map(|&v| canonical(v)).collect();
    labels.sort_by(f64::total_cmp);
    labels.dedup();
    labels
}

/// Index of `v` in `labels`, which the caller built to contain it.
fn position(labels: &[f64], v: f64) -> usize {
    labels
        .binary_search_by(|l| l.total_cmp(&canonical(v)))
        .unwrap_or_else(|i| i)
}

fn mean_of(y_true: &[f64], y_pred: &[f64], loss: impl Fn(f64) -> f64) -> f64 {
    y_true
        .iter()
        .zip(y_pred)
        .map(|(t, p)| loss(t - p))
        .sum::<f64>()
        / y_true.len() as f64
}

fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    // scikit-learn's documentation example for precision/recall/f1:
    // y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1].
    // class 0: tp 2, predicted 3, actual 2 -> P 2/3, R 1, F1 4/5
    // class 1: tp 0, predicted 2, actual 2 -> 0, 0, 0
    // class 2: tp 0, predicted 1, actual 2 -> 0, 0, 0
    // macro P = 2/9, R = 1/3, F1 = 0.8/3; micro = 2/6 for all three; supports are equal so
    // weighted = macro.
    const MC_TRUE: [f64; 6] = [0.0, 1.0, 2.0, 0.0, 1.0, 2.0];
    const MC_PRED: [f64; 6] = [0.0, 2.0, 1.0, 0.0, 0.0, 1.0];

    #[test]
    fn multiclass_precision_recall_f1_match_sklearn_doc_example() {
        let (t, p) = (&MC_TRUE[..], &MC_PRED[..]);
        assert!(close(precision(t, p, Average::Macro).unwrap(), 2.0 / 9.0));
        assert!(close(recall(t, p, Average::Macro).unwrap(), 1.0 / 3.0));
        assert!(close(f1(t, p, Average::Macro).unwrap(), 0.8 / 3.0));
        assert!(close(precision(t, p, Average::Micro).unwrap(), 1.0 / 3.0));
        assert!(close(recall(t, p, Average::Micro).unwrap(), 1.0 / 3.0));
        assert!(close(f1(t, p, Average::Micro).unwrap(), 1.0 / 3.0));
        assert!(close(
            precision(t, p, Average::Weighted).unwrap(),
            2.0 / 9.0
        ));
        assert!(close(f1(t, p, Average::Weighted).unwrap(), 0.8 / 3.0));
        assert!(close(accuracy(t, p).unwrap(), 1.0 / 3.0));
    }

    #[test]
    fn binary_and_weighted_averages() {
        // y_true = [1,1,1,0,0], y_pred = [1,0,0,0,1].
        // positive 1: tp 1, fp 1, fn 2 -> P 1/2, R 1/3, F1 2/(2+1+2) = 2/5.
        // class 0: tp 1, predicted 3, actual 2 -> P 1/3, R 1/2.
        // weighted P = (2 * 1/3 + 3 * 1/2) / 5 = 13/30; weighted R = (1 + 1) / 5 = accuracy.
        let t = [1.0, 1.0, 1.0, 0.0, 0.0];
        let p = [1.0, 0.0, 0.0, 0.0, 1.0];
        let pos = Average::Binary { positive: 1.0 };
        assert!(close(precision(&t, &p, pos).unwrap(), 0.5));
        assert!(close(recall(&t, &p, pos).unwrap(), 1.0 / 3.0));
        assert!(close(f1(&t, &p, pos).unwrap(), 0.4));
        let neg = Average::Binary { positive: 0.0 };
        assert!(close(precision(&t, &p, neg).unwrap(), 1.0 / 3.0));
        assert!(close(recall(&t, &p, neg).unwrap(), 0.5));
        assert!(close(
            precision(&t, &p, Average::Weighted).unwrap(),
            13.0 / 30.0
        ));
        assert!(close(recall(&t, &p, Average::Weighted).unwrap(), 0.4));
    }

    #[test]
    fn zero_division_gives_zero_and_bad_binary_settings_are_errors() {
        // Positive class never predicted nor present: every ratio is 0/0 -> 0.
        let only_zero = [0.0, 0.0];
        assert_eq!(
            precision(&only_zero, &only_zero, Average::Binary { positive: 1.0 }).unwrap(),
            0.0
        );
        // Class 1 present in y_true but never predicted: precision 0/0 -> 0, recall 0/1.
        assert_eq!(
            precision(&[1.0, 0.0], &[0.0, 0.0], Average::Binary { positive: 1.0 }).unwrap(),
            0.0
        );
        let err =
            precision(&[0.0, 1.0], &[0.0, 1.0], Average::Binary { positive: 5.0 }).unwrap_err();
        assert!(err.to_string().contains("positive class 5"), "{err}");
        let err = f1(&MC_TRUE, &MC_PRED, Average::Binary { positive: 1.0 }).unwrap_err();
        assert!(err.to_string().contains("3 classes"), "{err}");
    }

    #[test]
    fn confusion_matrix_matches_sklearn_doc_example() {
        // sklearn: confusion_matrix([2,0,2,2,0,1], [0,0,2,2,0,2]) = [[2,0,0],[0,0,1],[1,0,2]].
        let cm = ConfusionMatrix::new(
            &[2.0, 0.0, 2.0, 2.0, 0.0, 1.0],
            &[0.0, 0.0, 2.0, 2.0, 0.0, 2.0],
        )
        .unwrap();
        assert_eq!(cm.labels, vec![0.0, 1.0, 2.0]);
        assert_eq!(cm.counts, vec![vec![2, 0, 0], vec![0, 0, 1], vec![1, 0, 2]]);
        // -0.0 and 0.0 are one label, as they are equal.
        let cm = ConfusionMatrix::new(&[-0.0, 1.0], &[0.0, 1.0]).unwrap();
        assert_eq!(cm.counts, vec![vec![1, 0], vec![0, 1]]);
    }

    #[test]
    fn roc_auc_counts_ties_as_half() {
        // sklearn's roc_curve example: y = [1,1,2,2], scores = [0.1,0.4,0.35,0.8], label 2
        // positive: pairs (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) -> 3/4.
        assert!(close(
            roc_auc(&[1.0, 1.0, 2.0, 2.0], &[0.1, 0.4, 0.35, 0.8]).unwrap(),
            0.75
        ));
        // y = [0,0,1,1], scores = [0.5,0.5,0.5,0.9]: the positive at 0.5 ties both negatives
        // (1/2 + 1/2), the one at 0.9 beats both (2) -> 3/4.
        assert!(close(
            roc_auc(&[0.0, 0.0, 1.0, 1.0], &[0.5, 0.5, 0.5, 0.9]).unwrap(),
            0.75
        ));
        assert!(close(roc_auc(&[0.0, 1.0], &[0.7, 0.7]).unwrap(), 0.5));
    }

    #[test]
    fn roc_auc_equals_brute_force_pair_count() {
        // A pseudo-random sample with many ties (scores on a coarse grid).
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        let n = 200;
        let y: Vec<f64> = (0..n)
            .map(|_| if next() < 0.4 { 1.0 } else { 0.0 })
            .collect();
        let s: Vec<f64> = y
            .iter()
            .map(|&t| ((next() + 0.3 * t) * 10.0).floor())
            .collect();
        let (mut wins, mut pairs) = (0.0, 0.0);
        for i in 0..n {
            for j in 0..n {
                if y[i] == 1.0 && y[j] == 0.0 {
                    pairs += 1.0;
                    wins += match s[i].partial_cmp(&s[j]) {
                        Some(std::cmp::Ordering::Greater) => 1.0,
                        Some(std::cmp::Ordering::Equal) => 0.5,
                        _ => 0.0,
                    };
                }
            }
        }
        assert!(close(roc_auc(&y, &s).unwrap(), wins / pairs));
    }

    #[test]
    fn roc_auc_refuses_one_class_and_multiclass() {
        let err = roc_auc(&[1.0, 1.0], &[0.2, 0.3]).unwrap_err();
        assert!(err.to_string().contains("only one class"), "{err}");
        let err = roc_auc(&[0.0, 1.0, 2.0], &[0.2, 0.3, 0.4]).unwrap_err();
        assert!(err.to_string().contains("roc_auc_ovr"), "{err}");
    }

    fn ovr_probabilities() -> Matrix {
        Matrix::from_rows(&[
            vec![0.7, 0.2, 0.1],
            vec![0.2, 0.5, 0.3],
            vec![0.1, 0.3, 0.6],
            vec![0.3, 0.4, 0.3],
            vec![0.4, 0.3, 0.3],
        ])
        .unwrap()
    }

    #[test]
    fn roc_auc_ovr_macro_and_weighted() {
        // y = [0,1,2,0,1].
        // class 0: positives {0.7, 0.3} vs negatives {0.2, 0.1, 0.4}: 3 + 2 = 5 of 6.
        // class 1: positives {0.5, 0.3} vs {0.2, 0.3, 0.4}: 3 + (1 + 0.5) = 4.5 of 6.
        // class 2: positive {0.6} vs {0.1, 0.3, 0.3, 0.3}: 4 of 4.
        // macro = (5/6 + 3/4 + 1) / 3 = 31/36; weighted (supports 2, 2, 1) =
        // (2 * 5/6 + 2 * 3/4 + 1) / 5 = 5/6.
        let y = [0.0, 1.0, 2.0, 0.0, 1.0];
        let p = ovr_probabilities();
        assert!(close(
            roc_auc_ovr(&y, &p, &[0.0, 1.0, 2.0], false).unwrap(),
            31.0 / 36.0
        ));
        assert!(close(
            roc_auc_ovr(&y, &p, &[0.0, 1.0, 2.0], true).unwrap(),
            5.0 / 6.0
        ));
    }

    #[test]
    fn roc_auc_ovr_refuses_bad_inputs() {
        let p = ovr_probabilities();
        let classes = [0.0, 1.0, 2.0];
        let err = roc_auc_ovr(&[0.0, 1.0, 0.0, 0.0, 1.0], &p, &classes, false).unwrap_err();
        assert!(err.to_string().contains("class 2 never occurs"), "{err}");
        let err = roc_auc_ovr(&[0.0, 1.0, 7.0, 0.0, 1.0], &p, &classes, false).unwrap_err();
        assert!(err.to_string().contains("y_true[2] = 7"), "{err}");
        let err = roc_auc_ovr(&[0.0, 1.0, 2.0], &p, &classes, false).unwrap_err();
        assert!(err.to_string().contains("5 rows"), "{err}");
        let unnormalised = Matrix::from_rows(&[vec![0.9, 0.9], vec![0.1, 0.2]]).unwrap();
        let err = roc_auc_ovr(&[0.0, 1.0], &unnormalised, &[0.0, 1.0], false).unwrap_err();
        assert!(err.to_string().contains("sum to"), "{err}");
    }

    #[test]
    fn average_precision_steps_over_distinct_thresholds() {
        // sklearn doc example: y = [0,0,1,1], scores = [0.1,0.4,0.35,0.8] -> 0.8333.
        // 0.8: tp 1 fp 0, P 1, ΔR 1/2; 0.4: ΔR 0; 0.35: tp 2 fp 1, P 2/3, ΔR 1/2.
        // AP = 1/2 + 1/3 = 5/6.
        let ap = average_precision(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!(close(ap, 5.0 / 6.0));
        // Tie at 0.9 between a positive and a negative enters as one threshold:
        // 0.9: tp 1 fp 1, P 1/2, ΔR 1/2; 0.5: tp 2 fp 1, P 2/3, ΔR 1/2 -> 1/4 + 1/3 = 7/12.
        let ap = average_precision(&[1.0, 0.0, 1.0, 0.0], &[0.9, 0.9, 0.5, 0.1]).unwrap();
        assert!(close(ap, 7.0 / 12.0));
        assert!(average_precision(&[1.0, 1.0], &[0.1, 0.2]).is_err());
    }

    #[test]
    fn log_loss_matches_sklearn_doc_example_and_clips() {
        // sklearn: log_loss(["spam","ham","ham","spam"], [[.1,.9],[.9,.1],[.8,.2],[.35,.65]])
        // = -(ln .9 + ln .9 + ln .8 + ln .65) / 4 = 0.21616187468057912 (ham = 0, spam = 1).
        let p = Matrix::from_rows(&[
            vec![0.1, 0.9],
            vec![0.9, 0.1],
            vec![0.8, 0.2],
            vec![0.35, 0.65],
        ])
        .unwrap();
        let loss = log_loss(&[1.0, 0.0, 0.0, 1.0], &p, &[0.0, 1.0]).unwrap();
        assert!((loss - 0.21616187468057912).abs() < 1e-12, "{loss}");
        // Columns may list the classes in any order.
        let swapped = Matrix::from_rows(&[
            vec![0.9, 0.1],
            vec![0.1, 0.9],
            vec![0.2, 0.8],
            vec![0.65, 0.35],
        ])
        .unwrap();
        assert!(close(
            log_loss(&[1.0, 0.0, 0.0, 1.0], &swapped, &[1.0, 0.0]).unwrap(),
            loss
        ));
        // A zero probability for the true class costs -ln(eps) = 36.04365338911715.
        let certain_wrong = Matrix::from_rows(&[vec![1.0, 0.0]]).unwrap();
        let loss = log_loss(&[1.0], &certain_wrong, &[0.0, 1.0]).unwrap();
        assert!((loss - 36.04365338911715).abs() < 1e-9, "{loss}");
        let err = log_loss(&[3.0], &certain_wrong, &[0.0, 1.0]).unwrap_err();
        assert!(err.to_string().contains("not one of the classes"), "{err}");
    }

    #[test]
    fn regression_metrics_match_sklearn_doc_example() {
        // y_true = [3, -0.5, 2, 7], y_pred = [2.5, 0, 2, 8]: errors 0.5, -0.5, 0, -1.
        // mse = 1.5/4 = 0.375, mae = 2/4 = 0.5; mean(y_true) = 2.875, SS_tot = 29.1875,
        // r2 = 1 - 1.5/29.1875 = 0.9486081370449679.
        let t = [3.0, -0.5, 2.0, 7.0];
        let p = [2.5, 0.0, 2.0, 8.0];
        assert!(close(mse(&t, &p).unwrap(), 0.375));
        assert!(close(rmse(&t, &p).unwrap(), 0.375f64.sqrt()));
        assert!(close(mae(&t, &p).unwrap(), 0.5));
        assert!(close(r2(&t, &p).unwrap(), 1.0 - 1.5 / 29.1875));
    }

    #[test]
    fn r2_of_constant_truth_is_one_or_zero() {
        assert_eq!(r2(&[0.1, 0.1, 0.1], &[0.1, 0.1, 0.1]).unwrap(), 1.0);
        assert_eq!(r2(&[0.1, 0.1, 0.1], &[0.1, 0.2, 0.1]).unwrap(), 0.0);
        assert!(r2(&[1.0], &[1.0]).is_err());
    }

    #[test]
    fn silhouette_by_hand() {
        // 1-D points 0, 1 | 4, 5. Every a = 1; b = 4.5, 3.5, 3.5, 4.5;
        // s = 7/9, 5/7, 5/7, 7/9 -> mean 47/63.
        let x = Matrix::new(4, 1, vec![0.0, 1.0, 4.0, 5.0]).unwrap();
        assert!(close(silhouette(&x, &[3, 3, 8, 8]).unwrap(), 47.0 / 63.0));
        // 2-D: (0,0), (0,2) in one cluster, (3,4) alone (coefficient 0).
        // (0,0): a = 2, b = 5 -> 3/5; (0,2): a = 2, b = √13 -> 1 - 2/√13.
        let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![0.0, 2.0], vec![3.0, 4.0]]).unwrap();
        let expected = (0.6 + 1.0 - 2.0 / 13f64.sqrt()) / 3.0;
        assert!(close(silhouette(&x, &[0, 0, 1]).unwrap(), expected));
    }

    #[test]
    fn silhouette_refuses_bad_cluster_counts() {
        let x = Matrix::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
        let err = silhouette(&x, &[0, 0, 0]).unwrap_err();
        assert!(err.to_string().contains("1 clusters among 3"), "{err}");
        assert!(silhouette(&x, &[0, 1, 2]).is_err());
        let err = silhouette(&x, &[0, 1]).unwrap_err();
        assert!(err.to_string().contains("labels has 2"), "{err}");
    }

    #[test]
    fn mismatched_empty_and_non_finite_inputs_are_errors() {
        let err = accuracy(&[1.0, 2.0], &[1.0]).unwrap_err();
        assert!(err.to_string().contains("lengths must match"), "{err}");
        let err = mae(&[], &[]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = mse(&[1.0, f64::NAN], &[1.0, 2.0]).unwrap_err();
        assert!(err.to_string().contains("non-finite"), "{err}");
        let err = log_loss(&[], &Matrix::zeros(0, 2), &[0.0, 1.0]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        assert!(precision(&[0.0], &[], Average::Micro).is_err());
        assert!(ConfusionMatrix::new(&[], &[]).is_err());
    }
}
