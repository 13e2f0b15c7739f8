//! Single decision trees: [`DecisionTreeClassifier`] and [`DecisionTreeRegressor`].

use std::slice;

use arrow_array::RecordBatch;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::binning::BinnedMatrix;
use super::cart::{self, Labels};
use super::nodes::{trees_from_parts, trees_into_parts, Tree};
use super::output::{self, ClassifierMeta, RegressorMeta};
use super::{check_rows, class_targets, CartParams, MaxFeatures, SplitCriterion};
use crate::classes::Classes;
use crate::data::Matrix;
use crate::error::Result;
use crate::linear::{scoring_data, training_data};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// A classification tree (CART, as scikit-learn's `DecisionTreeClassifier`): splits chosen
/// by Gini impurity or entropy on binned features; a leaf predicts the class frequencies of
/// its training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecisionTreeClassifier {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column written with the predicted label.
    pub prediction_col: String,
    /// Column written with the class probabilities (ascending labels).
    pub probability_col: String,
    /// Impurity measure.
    pub criterion: SplitCriterion,
    /// Deepest level of splits; unset grows until the leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Fewest rows a node must have to be split (at least 2).
    pub min_samples_split: usize,
    /// Fewest rows each side of a split must keep (at least 1).
    pub min_samples_leaf: usize,
    /// Least weighted impurity decrease (scikit-learn's definition) a split must bring.
    pub min_impurity_decrease: f64,
    /// Features tried per node (all by default; fewer randomises the tree).
    pub max_features: MaxFeatures,
    /// Bins per feature (2 to 256).
    pub max_bins: usize,
    /// Seed of the order in which features are tried (it breaks ties between equal splits).
    pub seed: u64,
}

impl Default for DecisionTreeClassifier {
    fn default() -> Self {
        DecisionTreeClassifier {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            criterion: SplitCriterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            max_features: MaxFeatures::All,
            max_bins: 256,
            seed: 0,
        }
    }
}

impl DecisionTreeClassifier {
    fn cart(&self) -> CartParams {
        CartParams {
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            min_impurity_decrease: self.min_impurity_decrease,
            max_features: self.max_features,
            max_bins: self.max_bins,
        }
    }
}

impl Estimator for DecisionTreeClassifier {
    type Model = DecisionTreeClassifierModel;

    fn fit(&self, table: &RecordBatch) -> Result<DecisionTreeClassifierModel> {
        let params = self.cart();
        params.check()?;
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        check_rows(x.rows())?;
        let (classes, y) = class_targets(&labels, &self.label_col)?;
        let settings = params.settings(x.cols(), true)?;
        let data = BinnedMatrix::new(&x, self.max_bins);
        let labels = Labels::Classes {
            y: &y,
            k: classes.len(),
            entropy: self.criterion == SplitCriterion::Entropy,
        };
        let tree = grow_all_rows(&data, &labels, &settings, self.seed);
        Ok(DecisionTreeClassifierModel {
            classes,
            tree,
            n_features: x.cols(),
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        })
    }
}

/// One tree on every row, each of weight 1.
fn grow_all_rows(
    data: &BinnedMatrix,
    labels: &Labels<'_>,
    settings: &cart::GrowSettings,
    seed: u64,
) -> Tree {
    let n = data.rows();
    let weights = vec![1.0; n];
    // `check_rows` has made sure the row indices fit in u32.
    let rows: Vec<u32> = (0..n as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cart::grow(data, labels, &weights, rows, settings, &mut rng)
}

/// A fitted [`DecisionTreeClassifier`].
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionTreeClassifierModel {
    /// The labels seen in training, ascending; probabilities come in this order.
    pub classes: Classes,
    /// The tree; its leaves hold class probabilities.
    pub tree: Tree,
    /// Length of the feature vectors it was fitted on.
    pub n_features: usize,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for class probabilities.
    pub probability_col: String,
}

impl DecisionTreeClassifierModel {
    /// Class probabilities for the rows of `x` (one column per class, ascending labels).
    pub fn predict_probabilities(&self, x: &Matrix) -> Matrix {
        output::mean_of_trees(slice::from_ref(&self.tree), x)
    }
}

impl Transformer for DecisionTreeClassifierModel {
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

impl Model for DecisionTreeClassifierModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = ClassifierMeta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            n_features: self.n_features,
        };
        let parts = ModelParts::new(Self::KIND, &meta)?.with_f64("classes", self.classes.labels());
        Ok(trees_into_parts(parts, slice::from_ref(&self.tree)))
    }
}

impl Loadable for DecisionTreeClassifierModel {
    const KIND: &'static str = "DecisionTreeClassifierModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: ClassifierMeta = parts.meta()?;
        let classes = Classes::from_sorted(parts.f64("classes")?)
            .map_err(|e| parts.damaged(e.to_string()))?;
        Ok(DecisionTreeClassifierModel {
            tree: single_tree(parts, classes.len(), meta.n_features)?,
            classes,
            n_features: meta.n_features,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            probability_col: meta.probability_col,
        })
    }
}

fn single_tree(parts: &ModelParts, width: usize, n_features: usize) -> Result<Tree> {
    let mut trees = trees_from_parts(parts, width, n_features)?;
    match (trees.pop(), trees.is_empty()) {
        (Some(tree), true) => Ok(tree),
        _ => Err(parts.damaged("a decision tree model holds exactly one tree".into())),
    }
}

/// A regression tree (CART, as scikit-learn's `DecisionTreeRegressor` with the squared
/// error criterion): splits chosen by variance reduction on binned features; a leaf predicts
/// the mean of its training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecisionTreeRegressor {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of the numeric target.
    pub label_col: String,
    /// Column written with the prediction.
    pub prediction_col: String,
    /// Deepest level of splits; unset grows until the leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Fewest rows a node must have to be split (at least 2).
    pub min_samples_split: usize,
    /// Fewest rows each side of a split must keep (at least 1).
    pub min_samples_leaf: usize,
    /// Least weighted impurity (variance) decrease a split must bring.
    pub min_impurity_decrease: f64,
    /// Features tried per node (all by default; fewer randomises the tree).
    pub max_features: MaxFeatures,
    /// Bins per feature (2 to 256).
    pub max_bins: usize,
    /// Seed of the order in which features are tried (it breaks ties between equal splits).
    pub seed: u64,
}

impl Default for DecisionTreeRegressor {
    fn default() -> Self {
        DecisionTreeRegressor {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            max_features: MaxFeatures::All,
            max_bins: 256,
            seed: 0,
        }
    }
}

impl Estimator for DecisionTreeRegressor {
    type Model = DecisionTreeRegressorModel;

    fn fit(&self, table: &RecordBatch) -> Result<DecisionTreeRegressorModel> {
        let params = CartParams {
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            min_impurity_decrease: self.min_impurity_decrease,
            max_features: self.max_features,
            max_bins: self.max_bins,
        };
        params.check()?;
        let (x, y) = training_data(table, &self.features_col, &self.label_col)?;
        check_rows(x.rows())?;
        let settings = params.settings(x.cols(), true)?;
        let data = BinnedMatrix::new(&x, self.max_bins);
        let tree = grow_all_rows(&data, &Labels::Values(&y), &settings, self.seed);
        Ok(DecisionTreeRegressorModel {
            tree,
            n_features: x.cols(),
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
        })
    }
}

/// A fitted [`DecisionTreeRegressor`].
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionTreeRegressorModel {
    /// The tree; its leaves hold the predictions.
    pub tree: Tree,
    /// Length of the feature vectors it was fitted on.
    pub n_features: usize,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column written by `transform`.
    pub prediction_col: String,
}

impl DecisionTreeRegressorModel {
    /// Predictions for the rows of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        output::mean_of_trees(slice::from_ref(&self.tree), x).into_vec()
    }
}

impl Transformer for DecisionTreeRegressorModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.n_features)?;
        output::with_predictions(table, self.predict(&x), &self.prediction_col)
    }
}

impl Model for DecisionTreeRegressorModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = RegressorMeta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            n_features: self.n_features,
        };
        let parts = ModelParts::new(Self::KIND, &meta)?;
        Ok(trees_into_parts(parts, slice::from_ref(&self.tree)))
    }
}

impl Loadable for DecisionTreeRegressorModel {
    const KIND: &'static str = "DecisionTreeRegressorModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: RegressorMeta = parts.meta()?;
        Ok(DecisionTreeRegressorModel {
            tree: single_tree(parts, 1, meta.n_features)?,
            n_features: meta.n_features,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data;
    use crate::tree::testing::{corner, round_trips, table};

    #[test]
    fn a_classifier_learns_a_corner_and_saves_and_loads_to_the_bit() {
        let (x, y) = corner(400, 3, 1);
        let train = table(&x, &y);
        for criterion in [SplitCriterion::Gini, SplitCriterion::Entropy] {
            let model = DecisionTreeClassifier {
                criterion,
                max_depth: Some(3),
                ..Default::default()
            }
            .fit(&train)
            .unwrap();
            let (test_x, test_y) = corner(200, 3, 2);
            let test = table(&test_x, &test_y);
            let scored = model.transform(&test).unwrap();
            let predicted = data::read_f64(&scored, "prediction").unwrap();
            let correct = predicted
                .iter()
                .zip(&test_y)
                .filter(|(p, y)| p == y)
                .count();
            assert!(correct >= 190, "{criterion:?}: {correct} of 200");
            let p = model.predict_probabilities(&test_x);
            assert!(p
                .row_iter()
                .all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12));
            round_trips(&model, &test);
        }
    }

    #[test]
    fn a_regressor_fits_a_step_within_its_depth() {
        let x = Matrix::new(8, 1, (0..8).map(f64::from).collect()).unwrap();
        let y = [1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 9.0, 9.0];
        let train = table(&x, &y);
        let stump = DecisionTreeRegressor {
            max_depth: Some(1),
            ..Default::default()
        }
        .fit(&train)
        .unwrap();
        assert_eq!(stump.tree.depth(), 1);
        assert_eq!(
            stump.predict(&x),
            vec![1.0, 1.0, 1.0, 1.0, 7.0, 7.0, 7.0, 7.0]
        );
        let full = DecisionTreeRegressor::default().fit(&train).unwrap();
        assert_eq!(full.predict(&x), y.to_vec());
        round_trips(&full, &train);
    }

    #[test]
    fn bad_parameters_and_feature_counts_are_refused_by_name() {
        let (x, y) = corner(50, 2, 3);
        let train = table(&x, &y);
        let cases = [
            (
                DecisionTreeClassifier {
                    min_samples_split: 1,
                    ..Default::default()
                },
                "min_samples_split",
            ),
            (
                DecisionTreeClassifier {
                    max_depth: Some(0),
                    ..Default::default()
                },
                "max_depth",
            ),
            (
                DecisionTreeClassifier {
                    max_features: MaxFeatures::Count(3),
                    ..Default::default()
                },
                "max_features",
            ),
            (
                DecisionTreeClassifier {
                    max_bins: 300,
                    ..Default::default()
                },
                "max_bins",
            ),
        ];
        for (params, name) in cases {
            let message = params.fit(&train).unwrap_err().to_string();
            assert!(message.contains(&format!("`{name}`")), "{message}");
        }
        let model = DecisionTreeClassifier::default().fit(&train).unwrap();
        let wide = table(&Matrix::zeros(2, 3), &[0.0, 1.0]);
        let message = model.transform(&wide).unwrap_err().to_string();
        assert!(message.contains("fitted on 2 features"), "{message}");
    }
}
