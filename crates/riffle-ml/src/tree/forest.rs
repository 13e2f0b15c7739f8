//! Random forests: [`RandomForestClassifier`] and [`RandomForestRegressor`].
//!
//! Each tree is grown on a bootstrap sample (rows drawn with replacement, a row drawn `k`
//! times weighing `k`, as in scikit-learn) and tries a random subset of the features at each
//! node. The trees are grown in parallel; tree `t` draws everything from its own generator,
//! seeded from the forest's seed before any tree starts, so a seed gives the same forest on
//! any number of threads.

use arrow_array::RecordBatch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::BinnedMatrix;
use super::cart::{self, GrowSettings, Labels};
use super::nodes::{trees_from_parts, trees_into_parts, Tree};
use super::output::{self, ClassifierMeta, RegressorMeta};
use super::{check_rows, class_targets, CartParams, MaxFeatures, SplitCriterion};
use crate::classes::Classes;
use crate::data::Matrix;
use crate::error::{MlError, Result};
use crate::linear::{scoring_data, training_data};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// A random forest of classification trees (scikit-learn's `RandomForestClassifier`): the
/// predicted probabilities are the mean of the trees' leaf class frequencies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RandomForestClassifier {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column written with the predicted label.
    pub prediction_col: String,
    /// Column written with the class probabilities (ascending labels).
    pub probability_col: String,
    /// Number of trees.
    pub n_trees: usize,
    /// Impurity measure.
    pub criterion: SplitCriterion,
    /// Deepest level of splits; unset grows until the leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Fewest rows a node must have to be split (at least 2).
    pub min_samples_split: usize,
    /// Fewest rows each side of a split must keep (at least 1).
    pub min_samples_leaf: usize,
    /// Least weighted impurity decrease a split must bring.
    pub min_impurity_decrease: f64,
    /// Features tried per node: `sqrt` of the feature count by default.
    pub max_features: MaxFeatures,
    /// Whether each tree sees a bootstrap sample (otherwise every row, once).
    pub bootstrap: bool,
    /// Bins per feature (2 to 256).
    pub max_bins: usize,
    /// Seed of the bootstrap samples and feature draws.
    pub seed: u64,
}

impl Default for RandomForestClassifier {
    fn default() -> Self {
        RandomForestClassifier {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            n_trees: 100,
            criterion: SplitCriterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            max_bins: 256,
            seed: 0,
        }
    }
}

impl Estimator for RandomForestClassifier {
    type Model = RandomForestClassifierModel;

    fn fit(&self, table: &RecordBatch) -> Result<RandomForestClassifierModel> {
        let params = CartParams {
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            min_impurity_decrease: self.min_impurity_decrease,
            max_features: self.max_features,
            max_bins: self.max_bins,
        };
        params.check()?;
        check_n_trees(self.n_trees)?;
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        check_rows(x.rows())?;
        let (classes, y) = class_targets(&labels, &self.label_col)?;
        let settings = params.settings(x.cols(), false)?;
        let data = BinnedMatrix::new(&x, self.max_bins);
        let labels = Labels::Classes {
            y: &y,
            k: classes.len(),
            entropy: self.criterion == SplitCriterion::Entropy,
        };
        let trees = grow_forest(
            &data,
            &labels,
            &settings,
            self.n_trees,
            self.bootstrap,
            self.seed,
        );
        Ok(RandomForestClassifierModel {
            classes,
            trees,
            n_features: x.cols(),
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        })
    }
}

fn check_n_trees(n_trees: usize) -> Result<()> {
    if n_trees == 0 {
        return Err(MlError::param("n_trees", "must be at least 1"));
    }
    Ok(())
}

/// Grows `n_trees` trees in parallel, tree `t` from the `t`-th seed drawn from `seed`.
fn grow_forest(
    data: &BinnedMatrix,
    labels: &Labels<'_>,
    settings: &GrowSettings,
    n_trees: usize,
    bootstrap: bool,
    seed: u64,
) -> Vec<Tree> {
    let mut master = ChaCha8Rng::seed_from_u64(seed);
    let seeds: Vec<u64> = (0..n_trees).map(|_| master.random()).collect();
    let n = data.rows();
    seeds
        .par_iter()
        .map(|&tree_seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(tree_seed);
            let (rows, weights) = if bootstrap {
                bootstrap_sample(n, &mut rng)
            } else {
                // `check_rows` has made sure the row indices fit in u32.
                ((0..n as u32).collect(), vec![1.0; n])
            };
            cart::grow(data, labels, &weights, rows, settings, &mut rng)
        })
        .collect()
}

/// `n` rows drawn with replacement: the distinct rows drawn, ascending, and each row's
/// weight (how often it was drawn).
fn bootstrap_sample(n: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<f64>) {
    let mut weights = vec![0.0; n];
    for _ in 0..n {
        weights[rng.random_range(0..n)] += 1.0;
    }
    let rows = (0..n)
        .filter(|&i| weights[i] > 0.0)
        .map(|i| i as u32)
        .collect();
    (rows, weights)
}

/// A fitted [`RandomForestClassifier`].
#[derive(Clone, Debug, PartialEq)]
pub struct RandomForestClassifierModel {
    /// The labels seen in training, ascending; probabilities come in this order.
    pub classes: Classes,
    /// The trees; their leaves hold class probabilities.
    pub trees: Vec<Tree>,
    /// Length of the feature vectors it was fitted on.
    pub n_features: usize,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for class probabilities.
    pub probability_col: String,
}

impl RandomForestClassifierModel {
    /// Class probabilities for the rows of `x`: the mean of the trees' (one column per class,
    /// ascending labels).
    pub fn predict_probabilities(&self, x: &Matrix) -> Matrix {
        output::mean_of_trees(&self.trees, x)
    }
}

impl Transformer for RandomForestClassifierModel {
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

impl Model for RandomForestClassifierModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = ClassifierMeta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            n_features: self.n_features,
        };
        let parts = ModelParts::new(Self::KIND, &meta)?.with_f64("classes", self.classes.labels());
        Ok(trees_into_parts(parts, &self.trees))
    }
}

impl Loadable for RandomForestClassifierModel {
    const KIND: &'static str = "RandomForestClassifierModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: ClassifierMeta = parts.meta()?;
        let classes = Classes::from_sorted(parts.f64("classes")?)
            .map_err(|e| parts.damaged(e.to_string()))?;
        Ok(RandomForestClassifierModel {
            trees: trees_from_parts(parts, classes.len(), meta.n_features)?,
            classes,
            n_features: meta.n_features,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            probability_col: meta.probability_col,
        })
    }
}

/// A random forest of regression trees (scikit-learn's `RandomForestRegressor`): the
/// prediction is the mean of the trees'.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RandomForestRegressor {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of the numeric target.
    pub label_col: String,
    /// Column written with the prediction.
    pub prediction_col: String,
    /// Number of trees.
    pub n_trees: usize,
    /// Deepest level of splits; unset grows until the leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Fewest rows a node must have to be split (at least 2).
    pub min_samples_split: usize,
    /// Fewest rows each side of a split must keep (at least 1).
    pub min_samples_leaf: usize,
    /// Least weighted impurity (variance) decrease a split must bring.
    pub min_impurity_decrease: f64,
    /// Features tried per node: all by default, as in scikit-learn (bagged trees).
    pub max_features: MaxFeatures,
    /// Whether each tree sees a bootstrap sample (otherwise every row, once).
    pub bootstrap: bool,
    /// Bins per feature (2 to 256).
    pub max_bins: usize,
    /// Seed of the bootstrap samples and feature draws.
    pub seed: u64,
}

impl Default for RandomForestRegressor {
    fn default() -> Self {
        RandomForestRegressor {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            n_trees: 100,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            max_features: MaxFeatures::All,
            bootstrap: true,
            max_bins: 256,
            seed: 0,
        }
    }
}

impl Estimator for RandomForestRegressor {
    type Model = RandomForestRegressorModel;

    fn fit(&self, table: &RecordBatch) -> Result<RandomForestRegressorModel> {
        let params = CartParams {
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            min_impurity_decrease: self.min_impurity_decrease,
            max_features: self.max_features,
            max_bins: self.max_bins,
        };
        params.check()?;
        check_n_trees(self.n_trees)?;
        let (x, y) = training_data(table, &self.features_col, &self.label_col)?;
        check_rows(x.rows())?;
        let settings = params.settings(x.cols(), false)?;
        let data = BinnedMatrix::new(&x, self.max_bins);
        let trees = grow_forest(
            &data,
            &Labels::Values(&y),
            &settings,
            self.n_trees,
            self.bootstrap,
            self.seed,
        );
        Ok(RandomForestRegressorModel {
            trees,
            n_features: x.cols(),
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
        })
    }
}

/// A fitted [`RandomForestRegressor`].
#[derive(Clone, Debug, PartialEq)]
pub struct RandomForestRegressorModel {
    /// The trees; their leaves hold predictions.
    pub trees: Vec<Tree>,
    /// Length of the feature vectors it was fitted on.
    pub n_features: usize,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column written by `transform`.
    pub prediction_col: String,
}

impl RandomForestRegressorModel {
    /// Predictions for the rows of `x`: the mean of the trees'.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        output::mean_of_trees(&self.trees, x).into_vec()
    }
}

impl Transformer for RandomForestRegressorModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.n_features)?;
        output::with_predictions(table, self.predict(&x), &self.prediction_col)
    }
}

impl Model for RandomForestRegressorModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = RegressorMeta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            n_features: self.n_features,
        };
        Ok(trees_into_parts(
            ModelParts::new(Self::KIND, &meta)?,
            &self.trees,
        ))
    }
}

impl Loadable for RandomForestRegressorModel {
    const KIND: &'static str = "RandomForestRegressorModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: RegressorMeta = parts.meta()?;
        Ok(RandomForestRegressorModel {
            trees: trees_from_parts(parts, 1, meta.n_features)?,
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

    fn fit_on_threads(
        threads: usize,
        params: &RandomForestClassifier,
        train: &RecordBatch,
    ) -> RandomForestClassifierModel {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| params.fit(train))
            .unwrap()
    }

    #[test]
    fn a_seed_gives_the_same_forest_on_any_number_of_threads() {
        let (x, y) = corner(300, 5, 4);
        let train = table(&x, &y);
        let params = RandomForestClassifier {
            n_trees: 12,
            seed: 9,
            ..Default::default()
        };
        let one = fit_on_threads(1, &params, &train);
        assert_eq!(one, fit_on_threads(2, &params, &train));
        assert_eq!(one, fit_on_threads(3, &params, &train));
        let other = params_with_seed(&params, 10).fit(&train).unwrap();
        assert_ne!(one.trees, other.trees);
    }

    fn params_with_seed(params: &RandomForestClassifier, seed: u64) -> RandomForestClassifier {
        RandomForestClassifier {
            seed,
            ..params.clone()
        }
    }

    #[test]
    fn a_classifier_averages_its_trees_and_saves_and_loads_to_the_bit() {
        let (x, y) = corner(500, 4, 5);
        let model = RandomForestClassifier {
            n_trees: 20,
            max_depth: Some(6),
            ..Default::default()
        }
        .fit(&table(&x, &y))
        .unwrap();
        assert_eq!(model.trees.len(), 20);
        let (test_x, test_y) = corner(200, 4, 6);
        let test = table(&test_x, &test_y);
        let scored = model.transform(&test).unwrap();
        let predicted = data::read_f64(&scored, "prediction").unwrap();
        let correct = predicted
            .iter()
            .zip(&test_y)
            .filter(|(p, y)| p == y)
            .count();
        assert!(correct >= 185, "{correct} of 200");
        // The probability is the mean over the trees of their leaf frequencies.
        let row = test_x.row(0);
        let mean: f64 = model
            .trees
            .iter()
            .map(|t| t.predict_row(row)[1])
            .sum::<f64>()
            / 20.0;
        assert!((model.predict_probabilities(&test_x).get(0, 1) - mean).abs() < 1e-12);
        round_trips(&model, &test);
    }

    #[test]
    fn a_regressor_fits_a_smooth_function_and_saves_and_loads() {
        let n = 400;
        let x = Matrix::new(
            n,
            2,
            (0..2 * n)
                .map(|i| ((i * 37) % 101) as f64 / 100.0)
                .collect(),
        )
        .unwrap();
        let y: Vec<f64> = x.row_iter().map(|r| 3.0 * r[0] - r[1]).collect();
        let train = table(&x, &y);
        let model = RandomForestRegressor {
            n_trees: 25,
            ..Default::default()
        }
        .fit(&train)
        .unwrap();
        let predicted = model.predict(&x);
        let worst = predicted
            .iter()
            .zip(&y)
            .map(|(p, y)| (p - y).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.3, "worst training error {worst}");
        round_trips(&model, &train);
    }

    #[test]
    fn bootstrap_samples_weigh_rows_by_how_often_they_were_drawn() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (rows, weights) = bootstrap_sample(1000, &mut rng);
        assert_eq!(weights.iter().sum::<f64>(), 1000.0);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        assert!(rows.iter().all(|&r| weights[r as usize] >= 1.0));
        // About 1 - 1/e of the rows are drawn at least once.
        assert!((590..=680).contains(&rows.len()), "{}", rows.len());
        let err = RandomForestRegressor {
            n_trees: 0,
            ..Default::default()
        }
        .fit(&table(&Matrix::zeros(2, 1), &[0.0, 1.0]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("`n_trees`"), "{err}");
    }
}
