//! Gradient-boosted trees on binned features, as scikit-learn's `HistGradientBoosting*`:
//! [`GradientBoostedTreesClassifier`] (binary log loss; softmax with one tree per class per
//! round for more classes) and [`GradientBoostedTreesRegressor`] (squared error).
//!
//! Each round computes every training row's gradient and hessian of the loss at the current
//! raw prediction, grows a tree on them leaf-wise (the largest-gain leaf is split next, up to
//! `max_leaf_nodes` leaves) and adds its leaves, scaled by the learning rate, to the raw
//! predictions. Optionally a share of the rows is held out and boosting stops once the
//! held-out loss has not improved by `tol` in `n_iter_no_change` rounds.

mod fitting;

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use super::nodes::{trees_from_parts, trees_into_parts, Tree};
use super::output;
use super::{check_rows, class_targets};
use crate::classes::Classes;
use crate::data::Matrix;
use crate::error::Result;
use crate::linear::{scoring_data, training_data};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};
use fitting::{boost, sigmoid, softmax, BoostParams, Loss};

/// Whether boosting holds out rows to stop early.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EarlyStopping {
    /// On when the training table has more than 10,000 rows (scikit-learn's "auto").
    #[default]
    Auto,
    /// Always on.
    #[serde(alias = "true")]
    On,
    /// Off: every round is run.
    #[serde(alias = "false")]
    Off,
}

/// The raw predictions (one per output) of `baseline` plus the trees, tree `t` adding to
/// output `t % outputs`.
fn raw_predictions(baseline: &[f64], trees: &[Tree], x: &Matrix) -> Matrix {
    let k = baseline.len();
    let mut raw = Matrix::zeros(x.rows(), k);
    raw.as_mut_slice()
        .chunks_exact_mut(k.max(1))
        .for_each(|row| row.copy_from_slice(baseline));
    output::add_leaf_values(trees, x, &mut raw, 1.0, |t| t % k.max(1));
    raw
}

/// Gradient-boosted classification trees (scikit-learn's `HistGradientBoostingClassifier`):
/// log loss for two classes, softmax cross-entropy with one tree per class per round for more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GradientBoostedTreesClassifier {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column written with the predicted label.
    pub prediction_col: String,
    /// Column written with the class probabilities (ascending labels).
    pub probability_col: String,
    /// Factor applied to every tree's leaves.
    pub learning_rate: f64,
    /// Boosting rounds (fewer when stopping early).
    pub max_iter: usize,
    /// Most leaves per tree; 0 for no limit (a number rather than an option so that the
    /// CLI can lift the limit).
    pub max_leaf_nodes: usize,
    /// Deepest level of splits; unset for no limit.
    pub max_depth: Option<usize>,
    /// Fewest rows per leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty on the leaf values.
    pub l2_regularization: f64,
    /// Bins per feature (2 to 256).
    pub max_bins: usize,
    /// Whether to hold out rows and stop when their loss stops improving.
    pub early_stopping: EarlyStopping,
    /// Share of the rows held out when stopping early.
    pub validation_fraction: f64,
    /// Rounds without improvement before stopping.
    pub n_iter_no_change: usize,
    /// Least improvement of the held-out loss that counts.
    pub tol: f64,
    /// Seed of the held-out rows.
    pub seed: u64,
}

impl Default for GradientBoostedTreesClassifier {
    fn default() -> Self {
        GradientBoostedTreesClassifier {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            learning_rate: 0.1,
            max_iter: 100,
            max_leaf_nodes: 31,
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: EarlyStopping::Auto,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: 0,
        }
    }
}

impl Estimator for GradientBoostedTreesClassifier {
    type Model = GradientBoostedTreesClassifierModel;

    fn fit(&self, table: &RecordBatch) -> Result<GradientBoostedTreesClassifierModel> {
        let params = BoostParams {
            learning_rate: self.learning_rate,
            max_iter: self.max_iter,
            max_leaf_nodes: self.max_leaf_nodes,
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            l2_regularization: self.l2_regularization,
            max_bins: self.max_bins,
            early_stopping: self.early_stopping,
            validation_fraction: self.validation_fraction,
            n_iter_no_change: self.n_iter_no_change,
            tol: self.tol,
            seed: self.seed,
        };
        params.check()?;
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        check_rows(x.rows())?;
        let (classes, y) = class_targets(&labels, &self.label_col)?;
        let loss = if classes.len() == 2 {
            Loss::Binary
        } else {
            Loss::Multinomial(classes.len())
        };
        let targets: Vec<f64> = y.iter().map(|&c| f64::from(c)).collect();
        let boosted = boost(&params, loss, &x, &targets, Some(&y))?;
        Ok(GradientBoostedTreesClassifierModel {
            classes,
            baseline: boosted.baseline,
            trees: boosted.trees,
            n_iter: boosted.n_iter,
            n_features: x.cols(),
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        })
    }
}

/// A fitted [`GradientBoostedTreesClassifier`].
#[derive(Clone, Debug, PartialEq)]
pub struct GradientBoostedTreesClassifierModel {
    /// The labels seen in training, ascending; probabilities come in this order.
    pub classes: Classes,
    /// The raw score before any tree: one (binary) or one per class.
    pub baseline: Vec<f64>,
    /// The trees, round by round (one per class per round when there are more than two
    /// classes); their leaves include the learning rate.
    pub trees: Vec<Tree>,
    /// Boosting rounds run.
    pub n_iter: usize,
    /// Length of the feature vectors it was fitted on.
    pub n_features: usize,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for class probabilities.
    pub probability_col: String,
}

impl GradientBoostedTreesClassifierModel {
    /// Class probabilities for the rows of `x` (one column per class, ascending labels).
    pub fn predict_probabilities(&self, x: &Matrix) -> Matrix {
        let raw = raw_predictions(&self.baseline, &self.trees, x);
        let k = self.classes.len();
        let mut p = Matrix::zeros(x.rows(), k);
        for (i, f) in raw.row_iter().enumerate() {
            let row = p.row_mut(i);
            if self.baseline.len() == 1 {
                row[1] = sigmoid(f[0]);
                row[0] = 1.0 - row[1];
            } else {
                row.copy_from_slice(f);
                softmax(row);
            }
        }
        p
    }
}

impl Transformer for GradientBoostedTreesClassifierModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.n_features)?;
        let probabilities = self.predict_probabilities(&x);
        crate::classes::with_predictions_and_scores(
            table,
            &self.prediction_col,
            &self.probability_col,
            &probabilities,
            &self.classes,
        )
    }
}

#[derive(Serialize, Deserialize)]
struct BoostedMeta {
    features_col: String,
    prediction_col: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probability_col: Option<String>,
    n_features: usize,
    n_iter: usize,
}

impl Model for GradientBoostedTreesClassifierModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = BoostedMeta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: Some(self.probability_col.clone()),
            n_features: self.n_features,
            n_iter: self.n_iter,
        };
        let parts = ModelParts::new(Self::KIND, &meta)?
            .with_f64("classes", self.classes.labels())
            .with_f64("baseline", &self.baseline);
        Ok(trees_into_parts(parts, &self.trees))
    }
}

/// The baseline and trees of saved boosted parts, checked against each other.
fn boosted_from_parts(
    parts: &ModelParts,
    outputs: usize,
    n_features: usize,
) -> Result<(Vec<f64>, Vec<Tree>)> {
    let baseline = parts.f64("baseline")?;
    let trees = trees_from_parts(parts, 1, n_features)?;
    if baseline.len() != outputs || trees.len() % outputs != 0 {
        return Err(parts.damaged(format!(
            "{} baseline values and {} trees for {outputs} outputs",
            baseline.len(),
            trees.len()
        )));
    }
    Ok((baseline, trees))
}

impl Loadable for GradientBoostedTreesClassifierModel {
    const KIND: &'static str = "GradientBoostedTreesClassifierModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: BoostedMeta = parts.meta()?;
        let classes = Classes::from_sorted(parts.f64("classes")?)
            .map_err(|e| parts.damaged(e.to_string()))?;
        let outputs = if classes.len() == 2 { 1 } else { classes.len() };
        let (baseline, trees) = boosted_from_parts(parts, outputs, meta.n_features)?;
        Ok(GradientBoostedTreesClassifierModel {
            classes,
            baseline,
            trees,
            n_iter: meta.n_iter,
            n_features: meta.n_features,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            probability_col: meta.probability_col.unwrap_or_else(|| "probability".into()),
        })
    }
}

/// Gradient-boosted regression trees (scikit-learn's `HistGradientBoostingRegressor` with
/// the squared error loss).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GradientBoostedTreesRegressor {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of the numeric target.
    pub label_col: String,
    /// Column written with the prediction.
    pub prediction_col: String,
    /// Factor applied to every tree's leaves.
    pub learning_rate: f64,
    /// Boosting rounds (fewer when stopping early).
    pub max_iter: usize,
    /// Most leaves per tree; 0 for no limit (a number rather than an option so that the
    /// CLI can lift the limit).
    pub max_leaf_nodes: usize,
    /// Deepest level of splits; unset for no limit.
    pub max_depth: Option<usize>,
    /// Fewest rows per leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty on the leaf values.
    pub l2_regularization: f64,
    /// Bins per feature (2 to 256).
    pub max_bins: usize,
    /// Whether to hold out rows and stop when their loss stops improving.
    pub early_stopping: EarlyStopping,
    /// Share of the rows held out when stopping early.
    pub validation_fraction: f64,
    /// Rounds without improvement before stopping.
    pub n_iter_no_change: usize,
    /// Least improvement of the held-out loss that counts.
    pub tol: f64,
    /// Seed of the held-out rows.
    pub seed: u64,
}

impl Default for GradientBoostedTreesRegressor {
    fn default() -> Self {
        GradientBoostedTreesRegressor {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            learning_rate: 0.1,
            max_iter: 100,
            max_leaf_nodes: 31,
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: EarlyStopping::Auto,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: 0,
        }
    }
}

impl Estimator for GradientBoostedTreesRegressor {
    type Model = GradientBoostedTreesRegressorModel;

    fn fit(&self, table: &RecordBatch) -> Result<GradientBoostedTreesRegressorModel> {
        let params = BoostParams {
            learning_rate: self.learning_rate,
            max_iter: self.max_iter,
            max_leaf_nodes: self.max_leaf_nodes,
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            l2_regularization: self.l2_regularization,
            max_bins: self.max_bins,
            early_stopping: self.early_stopping,
            validation_fraction: self.validation_fraction,
            n_iter_no_change: self.n_iter_no_change,
            tol: self.tol,
            seed: self.seed,
        };
        params.check()?;
        let (x, y) = training_data(table, &self.features_col, &self.label_col)?;
        check_rows(x.rows())?;
        let boosted = boost(&params, Loss::Squared, &x, &y, None)?;
        Ok(GradientBoostedTreesRegressorModel {
            baseline: boosted.baseline.first().copied().unwrap_or(0.0),
            trees: boosted.trees,
            n_iter: boosted.n_iter,
            n_features: x.cols(),
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
        })
    }
}

/// A fitted [`GradientBoostedTreesRegressor`].
#[derive(Clone, Debug, PartialEq)]
pub struct GradientBoostedTreesRegressorModel {
    /// The prediction before any tree (the training mean).
    pub baseline: f64,
    /// The trees, one per round; their leaves include the learning rate.
    pub trees: Vec<Tree>,
    /// Boosting rounds run.
    pub n_iter: usize,
    /// Length of the feature vectors it was fitted on.
    pub n_features: usize,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column written by `transform`.
    pub prediction_col: String,
}

impl GradientBoostedTreesRegressorModel {
    /// Predictions for the rows of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        raw_predictions(&[self.baseline], &self.trees, x).into_vec()
    }
}

impl Transformer for GradientBoostedTreesRegressorModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.n_features)?;
        output::with_predictions(table, self.predict(&x), &self.prediction_col)
    }
}

impl Model for GradientBoostedTreesRegressorModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = BoostedMeta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: None,
            n_features: self.n_features,
            n_iter: self.n_iter,
        };
        let parts = ModelParts::new(Self::KIND, &meta)?.with_f64("baseline", &[self.baseline]);
        Ok(trees_into_parts(parts, &self.trees))
    }
}

impl Loadable for GradientBoostedTreesRegressorModel {
    const KIND: &'static str = "GradientBoostedTreesRegressorModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: BoostedMeta = parts.meta()?;
        let (baseline, trees) = boosted_from_parts(parts, 1, meta.n_features)?;
        Ok(GradientBoostedTreesRegressorModel {
            baseline: baseline[0],
            trees,
            n_iter: meta.n_iter,
            n_features: meta.n_features,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::data;
    use crate::tree::testing::{corner, round_trips, table};

    #[test]
    fn a_binary_classifier_boosts_and_saves_and_loads_to_the_bit() {
        let (x, y) = corner(600, 3, 7);
        let model = GradientBoostedTreesClassifier {
            max_iter: 30,
            early_stopping: EarlyStopping::Off,
            ..Default::default()
        }
        .fit(&table(&x, &y))
        .unwrap();
        assert_eq!((model.n_iter, model.trees.len()), (30, 30));
        let (test_x, test_y) = corner(200, 3, 8);
        let test = table(&test_x, &test_y);
        let scored = model.transform(&test).unwrap();
        let predicted = data::read_f64(&scored, "prediction").unwrap();
        let correct = predicted
            .iter()
            .zip(&test_y)
            .filter(|(p, y)| p == y)
            .count();
        assert!(correct >= 185, "{correct} of 200");
        round_trips(&model, &test);
    }

    #[test]
    fn several_classes_get_one_tree_per_class_per_round() {
        let (x, corner_class) = corner(600, 3, 9);
        // Three classes: the corner, and the rest split at x2 = 0.5.
        let y: Vec<f64> = corner_class
            .iter()
            .zip(x.row_iter())
            .map(|(c, r)| {
                if *c == 1.0 {
                    2.0
                } else {
                    f64::from(u8::from(r[2] > 0.5))
                }
            })
            .collect();
        let train = table(&x, &y);
        let model = GradientBoostedTreesClassifier {
            max_iter: 20,
            early_stopping: EarlyStopping::Off,
            ..Default::default()
        }
        .fit(&train)
        .unwrap();
        assert_eq!((model.trees.len(), model.baseline.len()), (60, 3));
        let p = model.predict_probabilities(&x);
        assert!(p
            .row_iter()
            .all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12));
        let predicted = data::read_f64(&model.transform(&train).unwrap(), "prediction").unwrap();
        let correct = predicted.iter().zip(&y).filter(|(p, y)| p == y).count();
        assert!(correct >= 580, "{correct} of 600");
        round_trips(&model, &train);
    }

    #[test]
    fn early_stopping_ends_boosting_on_noise() {
        let (x, _) = corner(2000, 3, 10);
        // The target is unrelated to the features: held-out loss cannot improve for long.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let y: Vec<f64> = (0..2000)
            .map(|_| rand::Rng::random::<f64>(&mut rng))
            .collect();
        let model = GradientBoostedTreesRegressor {
            early_stopping: EarlyStopping::On,
            ..Default::default()
        }
        .fit(&table(&x, &y))
        .unwrap();
        assert!(model.n_iter < 50, "ran {} rounds", model.n_iter);
        assert_eq!(model.trees.len(), model.n_iter);
    }

    #[test]
    fn a_regressor_starts_from_the_mean_and_saves_and_loads() {
        let x = Matrix::new(100, 1, (0..100).map(f64::from).collect()).unwrap();
        let y: Vec<f64> = (0..100).map(|i| if i < 50 { 1.0 } else { 3.0 }).collect();
        let train = table(&x, &y);
        let model = GradientBoostedTreesRegressor {
            max_iter: 50,
            learning_rate: 0.5,
            early_stopping: EarlyStopping::Off,
            ..Default::default()
        }
        .fit(&train)
        .unwrap();
        assert_eq!(model.baseline, 2.0);
        let p = model.predict(&x);
        assert!(
            (p[0] - 1.0).abs() < 1e-6 && (p[99] - 3.0).abs() < 1e-6,
            "{p:?}"
        );
        round_trips(&model, &train);
        let err = GradientBoostedTreesRegressor {
            learning_rate: 0.0,
            ..Default::default()
        }
        .fit(&train)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`learning_rate`"), "{err}");
    }
}
