//! Online learners on tables: the `online-*`, `hoeffding-tree*` and `adaptive-random-forest`
//! algorithms of [`crate::algorithms`], so that `riffle ml train` and SQL's `CREATE MODEL`
//! can name them like any batch algorithm.
//!
//! Fitting on a table is progressive validation over its rows in order (each row is scored,
//! then learned: River's `evaluate.progressive_val_score`), and the fitted
//! [`OnlineLearnerModel`] keeps learning: [`OnlineLearnerModel::learn_table`] continues where
//! the last table stopped, which is how a streaming `CREATE MODEL` trains batch after batch.
//! The model records its progressive metric beside a baseline (the majority class so far, or
//! the mean target so far), the honest score of a model that learns as it goes.
//!
//! Classifiers here are binary: labels 0 and 1 (a text label with two values is indexed
//! alphabetically by [`crate::tabular`] first). Recommenders (`online-mf`, `swing`,
//! `popularity`) learn from clicks without a label: their two features are the user and the
//! item, whole numbers; their progressive metric is the hit-rate of their top-k beside that
//! of the most clicked items so far.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use serde::{Deserialize, Serialize};

use super::anomaly::{AnomalyDetector, EwmaZScore};
use super::forest::AdaptiveRandomForest;
use super::hoeffding::HoeffdingTreeClassifier;
use super::hoeffding_regressor::HoeffdingTreeRegressor;
use super::naive_bayes::OnlineGaussianNb;
use super::preprocessing::OnlineStandardScaler;
use super::recommend::{ClickRecommender, Popularity};
use super::{
    OnlineClassifier, OnlineLinearRegression, OnlineLogisticRegression, OnlineRegressor, Optimizer,
};
use crate::classes::{self, Classes};
use crate::error::{MlError, Result};
use crate::feature::VectorAssembler;
use crate::persist::{Loadable, ModelParts};
use crate::{data, Estimator, Matrix, Model, PipelineModel, Transformer};

/// The learner inside an [`OnlineLearnerModel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Learner {
    /// Logistic regression.
    Logistic(OnlineLogisticRegression),
    /// Linear regression (squared loss).
    Linear(OnlineLinearRegression),
    /// Gaussian naive Bayes.
    GaussianNb(OnlineGaussianNb),
    /// Hoeffding tree classifier.
    HoeffdingTree(HoeffdingTreeClassifier),
    /// Adaptive random forest.
    Forest(AdaptiveRandomForest),
    /// Hoeffding tree regressor.
    HoeffdingTreeRegressor(HoeffdingTreeRegressor),
    /// Streaming z-score anomaly detector (no label).
    ZScore(EwmaZScore),
    /// A recommender learning from (user, item) clicks, and how many items its lists hold.
    Recommender {
        /// The recommender.
        model: ClickRecommender,
        /// Items per recommendation list (the `k` of the progressive hit-rate@k).
        k: usize,
    },
}

/// What a learner's score is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The probability of class 1.
    Classifier,
    /// The predicted value.
    Regressor,
    /// How unusual the record is (learns without labels).
    Detector,
    /// How strongly the item is recommended to the user (learns clicks, without labels).
    Recommender,
}

impl Learner {
    fn kind(&self) -> Kind {
        match self {
            Learner::Linear(_) | Learner::HoeffdingTreeRegressor(_) => Kind::Regressor,
            Learner::ZScore(_) => Kind::Detector,
            Learner::Recommender { .. } => Kind::Recommender,
            _ => Kind::Classifier,
        }
    }

    /// The probability of class 1 (classifiers) or the value (regressors).
    fn score(&self, x: &[f64]) -> f64 {
        match self {
            Learner::Logistic(m) => m.predict_proba_one(x),
            Learner::Linear(m) => m.predict_one(x),
            Learner::GaussianNb(m) => m.predict_proba_one(x),
            Learner::HoeffdingTree(m) => m.predict_proba_one(x),
            Learner::Forest(m) => m.predict_proba_one(x),
            Learner::HoeffdingTreeRegressor(m) => m.predict_one(x),
            Learner::ZScore(m) => m.score_one(x),
            Learner::Recommender { model, .. } => match user_item(x) {
                Some((user, item)) => model.score(user, item),
                None => f64::NAN,
            },
        }
    }

    /// Scores each row of `x`, hands the score and the row's label to `each`, then learns
    /// the row: the batch form of `score` and `learn_scored` row after row, for the
    /// learners that have a faster one (false for the others, which do nothing).
    fn score_then_learn_each(&mut self, x: &Matrix, y: &[f64], each: impl FnMut(f64, f64)) -> bool {
        match self {
            Learner::Logistic(m) => m.predict_then_learn_each(x, y, each),
            Learner::Linear(m) => m.predict_then_learn_each(x, y, each),
            _ => return false,
        }
        true
    }

    /// Learns `x`, just scored `score`, with label or target `y`.
    fn learn_scored(&mut self, x: &[f64], y: f64, score: f64) {
        match self {
            Learner::Logistic(m) => m.learn_predicted(x, y, score),
            Learner::Linear(m) => m.learn_predicted(x, y, score),
            Learner::GaussianNb(m) => m.learn_predicted(x, y, score),
            Learner::HoeffdingTree(m) => m.learn_predicted(x, y, score),
            Learner::Forest(m) => m.learn_predicted(x, y, score),
            Learner::HoeffdingTreeRegressor(m) => m.learn_one(x, y),
            Learner::ZScore(m) => AnomalyDetector::learn_one(m, x),
            Learner::Recommender { model, .. } => {
                if let Some((user, item)) = user_item(x) {
                    model.learn_click(user, item);
                }
            }
        }
    }
}

/// Running progressive-validation figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Progress {
    rows: u64,
    /// Classifiers: rows predicted right. Regressors: sum of absolute errors.
    model: f64,
    /// The same for the baseline.
    baseline: f64,
    /// Classifiers: rows of class 1 so far. Regressors: sum of targets so far.
    sum: f64,
    /// Recommenders: the clicks so far, whose most clicked items are the baseline's lists.
    #[serde(default)]
    popular: Popularity,
}

impl Progress {
    /// Counts a row scored `score` (before learning it) whose label or target is `target`.
    fn record(&mut self, kind: Kind, score: f64, target: f64) {
        match kind {
            Kind::Classifier => {
                let predicted = f64::from(score > 0.5);
                let majority = f64::from(self.sum * 2.0 > self.rows as f64);
                self.model += f64::from(predicted == target);
                self.baseline += f64::from(majority == target);
            }
            Kind::Regressor => {
                let mean = if self.rows == 0 {
                    0.0
                } else {
                    self.sum / self.rows as f64
                };
                self.model += (score - target).abs();
                self.baseline += (mean - target).abs();
            }
            Kind::Detector | Kind::Recommender => {}
        }
        self.sum += target;
        self.rows += 1;
    }
}

/// An online learner fitted on a table, which scores tables and keeps learning from them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineLearnerModel {
    /// The learner and its state.
    pub learner: Learner,
    /// An online standard scaler in front of the learner (River's `StandardScaler() |
    /// model`), when asked for.
    pub scaler: Option<OnlineStandardScaler>,
    /// The label column.
    pub label_col: String,
    /// The feature vector column.
    pub features_col: String,
    /// Where predictions go.
    pub prediction_col: String,
    /// Where class probabilities go (classifiers).
    pub probability_col: String,
    progress: Progress,
}

impl OnlineLearnerModel {
    /// An untrained model around `learner`.
    pub fn new(learner: Learner, standardize: bool, label_col: &str, features_col: &str) -> Self {
        OnlineLearnerModel {
            learner,
            scaler: standardize.then(OnlineStandardScaler::default),
            label_col: label_col.to_string(),
            features_col: features_col.to_string(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            progress: Progress::default(),
        }
    }

    /// Rows learned so far.
    pub fn rows(&self) -> u64 {
        self.progress.rows
    }

    /// Progressive validation so far, beside its baseline: `progressive_accuracy` and
    /// `baseline_accuracy` (majority class so far) for classifiers, `progressive_mae` and
    /// `baseline_mae` (mean target so far) for regressors.
    pub fn progressive_metrics(&self) -> BTreeMap<String, f64> {
        let p = &self.progress;
        let n = p.rows.max(1) as f64;
        let metric = match self.learner.kind() {
            Kind::Classifier => "accuracy",
            Kind::Regressor => "mae",
            Kind::Recommender => "hit_rate",
            Kind::Detector => "",
        };
        let (model, baseline) = (p.model / n, p.baseline / n);
        let mut metrics = BTreeMap::new();
        if p.rows > 0 && !metric.is_empty() {
            metrics.insert(format!("progressive_{metric}"), model);
            metrics.insert(format!("baseline_{metric}"), baseline);
        }
        metrics.insert("progressive_rows".into(), p.rows as f64);
        metrics
    }

    /// Scores each row of `table`, then learns it, in order: the state continues from the
    /// rows learned before. Classifier labels must be 0 or 1.
    pub fn learn_table(&mut self, table: &RecordBatch) -> Result<()> {
        let x = data::read_vectors(table, &self.features_col)?;
        let kind = self.learner.kind();
        if kind == Kind::Recommender {
            return self.learn_clicks(&x);
        }
        // A detector learns without labels (a label column, if any, is not read).
        let y = if kind == Kind::Detector {
            vec![0.0; x.rows()]
        } else {
            data::read_f64(table, &self.label_col)?
        };
        if kind == Kind::Classifier {
            if let Some((row, v)) = y.iter().enumerate().find(|(_, v)| **v != 0.0 && **v != 1.0) {
                return Err(MlError::data(format!(
                    "online classifiers are binary: label `{}` is {v} at row {row}; labels \
                     must be 0 and 1 (or two text values)",
                    self.label_col
                )));
            }
        }
        if self.scaler.is_none() {
            let progress = &mut self.progress;
            let each = |score, target| progress.record(kind, score, target);
            if self.learner.score_then_learn_each(&x, &y, each) {
                return Ok(());
            }
        }
        let mut scaled = Vec::new();
        for (row, &target) in x.row_iter().zip(&y) {
            // As River's pipeline: the row is scored with the scaler as it was, then the
            // scaler learns it and the model learns the row scaled anew.
            let score = match &self.scaler {
                Some(scaler) => {
                    scaler.transform_into(row, &mut scaled);
                    self.learner.score(&scaled)
                }
                None => self.learner.score(row),
            };
            self.progress.record(kind, score, target);
            match &mut self.scaler {
                Some(scaler) => {
                    scaler.learn_one(row);
                    scaler.transform_into(row, &mut scaled);
                    let rescored = self.learner.score(&scaled);
                    self.learner.learn_scored(&scaled, target, rescored);
                }
                None => self.learner.learn_scored(row, target, score),
            }
        }
        Ok(())
    }

    /// Each row's score (probability of class 1, or value), with what has been learned so
    /// far.
    fn scores(&self, x: &Matrix) -> Vec<f64> {
        let mut scaled = Vec::new();
        x.row_iter()
            .map(|row| match &self.scaler {
                Some(scaler) => {
                    scaler.transform_into(row, &mut scaled);
                    self.learner.score(&scaled)
                }
                None => self.learner.score(row),
            })
            .collect()
    }
}

impl Transformer for OnlineLearnerModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = data::read_vectors(table, &self.features_col)?;
        if self.learner.kind() == Kind::Recommender && x.cols() != 2 {
            clicks(&x)?;
        }
        let scores = self.scores(&x);
        if self.learner.kind() == Kind::Classifier {
            let mut probabilities = Matrix::zeros(scores.len(), 2);
            for (i, p) in scores.iter().enumerate() {
                probabilities.row_mut(i).copy_from_slice(&[1.0 - p, *p]);
            }
            let classes = Classes::from_sorted(vec![0.0, 1.0])?;
            classes::with_predictions_and_scores(
                table,
                &self.prediction_col,
                &self.probability_col,
                &probabilities,
                &classes,
            )
        } else {
            data::with_column(
                table,
                &self.prediction_col,
                Arc::new(Float64Array::from(scores)),
            )
        }
    }
}

impl Model for OnlineLearnerModel {
    fn parts(&self) -> Result<ModelParts> {
        ModelParts::new(Self::KIND, self)
    }

    fn training_metrics(&self) -> BTreeMap<String, f64> {
        self.progressive_metrics()
    }
}

impl Loadable for OnlineLearnerModel {
    const KIND: &'static str = "OnlineLearnerModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        parts.meta()
    }
}

/// The online algorithms' names, as [`crate::algorithms`] knows them.
pub const ONLINE_ALGORITHMS: [&str; 10] = [
    "online-logistic-regression",
    "online-linear-regression",
    "online-gaussian-naive-bayes",
    "hoeffding-tree",
    "hoeffding-tree-regressor",
    "adaptive-random-forest",
    "ewma-zscore",
    "online-mf",
    "swing",
    "popularity",
];

/// The online recommenders among [`ONLINE_ALGORITHMS`]: they learn from (user, item) clicks
/// and take no label.
pub const CLICK_RECOMMENDERS: [&str; 3] = ["online-mf", "swing", "popularity"];

/// The untrained model of online algorithm `name` with `params` (`key`, `value` strings;
/// unknown keys refused with the likely typo).
pub fn untrained(name: &str, params: &[(String, String)]) -> Result<OnlineLearnerModel> {
    use crate::algorithms::configure;
    match name {
        "online-logistic-regression" => {
            configure::<OnlineLogisticRegressionEstimator>(name, params)?.untrained()
        }
        "online-linear-regression" => {
            configure::<OnlineLinearRegressionEstimator>(name, params)?.untrained()
        }
        "online-gaussian-naive-bayes" => {
            configure::<OnlineGaussianNbEstimator>(name, params)?.untrained()
        }
        "hoeffding-tree" => configure::<HoeffdingTreeEstimator>(name, params)?.untrained(),
        "hoeffding-tree-regressor" => {
            configure::<HoeffdingTreeRegressorEstimator>(name, params)?.untrained()
        }
        "ewma-zscore" => configure::<EwmaZScoreEstimator>(name, params)?.untrained(),
        "adaptive-random-forest" => {
            configure::<AdaptiveRandomForestEstimator>(name, params)?.untrained()
        }
        "online-mf" => configure::<OnlineMfEstimator>(name, params)?.untrained(),
        "swing" => configure::<SwingEstimator>(name, params)?.untrained(),
        "popularity" => configure::<PopularityEstimator>(name, params)?.untrained(),
        other => Err(MlError::param(
            "algorithm",
            format!(
                "'{other}' does not learn online; online algorithms: {}",
                ONLINE_ALGORITHMS.join(", ")
            ),
        )),
    }
}

/// An online model learning from a stream of tables with named numeric feature columns:
/// what a streaming `CREATE MODEL` keeps in its checkpointed state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineTrainer {
    /// The feature columns, in the model's order.
    pub features: Vec<String>,
    /// The model.
    pub model: OnlineLearnerModel,
}

impl OnlineTrainer {
    /// A trainer for online algorithm `name` with `params`, learning `label` from `features`.
    pub fn new(
        name: &str,
        params: &[(String, String)],
        label: &str,
        features: &[String],
    ) -> Result<Self> {
        let mut all = params.to_vec();
        all.push(("label_col".into(), label.to_string()));
        all.push(("features_col".into(), FEATURES.into()));
        Ok(OnlineTrainer {
            features: features.to_vec(),
            model: untrained(name, &all)?,
        })
    }

    fn assembler(&self) -> VectorAssembler {
        let names: Vec<&str> = self.features.iter().map(String::as_str).collect();
        VectorAssembler::new(&names, FEATURES)
    }

    /// Whether `other` learns the same thing the same way: the same features, label,
    /// learner kind and scaling (its state may differ).
    pub fn same_setup(&self, other: &OnlineTrainer) -> bool {
        let (a, b) = (&self.model, &other.model);
        self.features == other.features
            && a.label_col == b.label_col
            && std::mem::discriminant(&a.learner) == std::mem::discriminant(&b.learner)
            && a.scaler.is_some() == b.scaler.is_some()
    }

    /// Scores, then learns, each row of `table` (which holds the feature and label columns).
    pub fn learn(&mut self, table: &RecordBatch) -> Result<()> {
        let assembled = self.assembler().transform(table)?;
        self.model.learn_table(&assembled)
    }

    /// The model as a pipeline that scores tables with the feature columns.
    pub fn pipeline(&self) -> PipelineModel {
        PipelineModel::from_stages(vec![
            Box::new(self.assembler()),
            Box::new(self.model.clone()),
        ])
    }
}

/// The assembled feature vector's column in a trainer's pipeline.
const FEATURES: &str = "features";

/// Declares an online estimator: its parameters (all with defaults, so `key=value` options
/// configure it), and how they make the learner.
macro_rules! online_estimator {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }
        |$p:ident| $learner:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// The label column.
            pub label_col: String,
            /// The feature vector column.
            pub features_col: String,
            /// Standardise features with running statistics before the learner.
            pub standardize: bool,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    label_col: "label".into(),
                    features_col: "features".into(),
                    standardize: false,
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            /// The untrained model these parameters describe.
            pub fn untrained(&self) -> Result<OnlineLearnerModel> {
                let $p = self;
                let learner = $learner;
                Ok(OnlineLearnerModel::new(
                    learner,
                    self.standardize,
                    &self.label_col,
                    &self.features_col,
                ))
            }
        }

        impl Estimator for $name {
            type Model = OnlineLearnerModel;

            /// Progressive validation over the rows in order; the model keeps the state.
            fn fit(&self, table: &RecordBatch) -> Result<OnlineLearnerModel> {
                let mut model = self.untrained()?;
                model.learn_table(table)?;
                Ok(model)
            }
        }
    };
}

// After the macro: the recommenders' estimators are declared with it.
mod recommenders;

use recommenders::{clicks, user_item};
pub use recommenders::{OnlineMfEstimator, PopularityEstimator, SwingEstimator};

/// The optimizer named `name` with step size `learning_rate` (FTRL: `alpha`) and penalties.
fn optimizer(name: &str, learning_rate: f64, l1: f64, l2: f64) -> Result<Optimizer> {
    if !(learning_rate > 0.0 && learning_rate.is_finite()) {
        return Err(MlError::param(
            "learning_rate",
            format!("{learning_rate}: must be a positive number"),
        ));
    }
    Ok(match name {
        "sgd" => Optimizer::Sgd { lr: learning_rate },
        "adagrad" => Optimizer::AdaGrad {
            lr: learning_rate,
            eps: 1e-8,
        },
        "ftrl" => Optimizer::Ftrl {
            alpha: learning_rate,
            beta: 1.0,
            l1,
            l2,
        },
        other => {
            return Err(MlError::param(
                "optimizer",
                format!("'{other}': use sgd, adagrad or ftrl"),
            ))
        }
    })
}

online_estimator! {
    /// Online logistic regression (River's `linear_model.LogisticRegression`).
    OnlineLogisticRegressionEstimator {
        /// `sgd`, `adagrad` or `ftrl` (FTRL-Proximal).
        optimizer: String = "sgd".into(),
        /// Step size (FTRL: alpha).
        learning_rate: f64 = 0.01,
        /// L2 penalty (FTRL: its own L2 term).
        l2: f64 = 0.0,
        /// L1 penalty (FTRL only).
        l1: f64 = 0.0,
    }
    |p| {
        let mut model = OnlineLogisticRegression::with_optimizer(optimizer(
            &p.optimizer, p.learning_rate, p.l1, p.l2,
        )?);
        if p.optimizer != "ftrl" {
            model.params.l2 = p.l2;
        }
        Learner::Logistic(model)
    }
}

online_estimator! {
    /// Online linear regression with squared loss (River's `linear_model.LinearRegression`).
    OnlineLinearRegressionEstimator {
        /// `sgd`, `adagrad` or `ftrl` (FTRL-Proximal).
        optimizer: String = "sgd".into(),
        /// Step size (FTRL: alpha).
        learning_rate: f64 = 0.01,
        /// L2 penalty (FTRL: its own L2 term).
        l2: f64 = 0.0,
        /// L1 penalty (FTRL only).
        l1: f64 = 0.0,
    }
    |p| {
        let mut model = OnlineLinearRegression::with_optimizer(optimizer(
            &p.optimizer, p.learning_rate, p.l1, p.l2,
        )?);
        if p.optimizer != "ftrl" {
            model.params.l2 = p.l2;
        }
        Learner::Linear(model)
    }
}

online_estimator! {
    /// Online Gaussian naive Bayes (River's `naive_bayes.GaussianNB`).
    OnlineGaussianNbEstimator {}
    |_p| Learner::GaussianNb(OnlineGaussianNb::default())
}

/// Copies the split settings both Hoeffding trees share from estimator `p` to `tree`
/// (`max_depth` 0 keeps the tree's unlimited depth).
macro_rules! split_settings {
    ($tree:ident, $p:ident) => {
        $tree.grace_period = $p.grace_period;
        $tree.delta = $p.delta;
        $tree.tau = $p.tau;
        if $p.max_depth > 0 {
            $tree.max_depth = $p.max_depth;
        }
    };
}

online_estimator! {
    /// The Hoeffding tree classifier (River's `tree.HoeffdingTreeClassifier` defaults).
    HoeffdingTreeEstimator {
        /// Records a leaf sees between split attempts.
        grace_period: f64 = 200.0,
        /// Allowed chance of a wrong split decision.
        delta: f64 = 1e-7,
        /// Tie threshold.
        tau: f64 = 0.05,
        /// Greatest depth (0: unlimited).
        max_depth: u32 = 0,
    }
    |p| {
        let mut tree = HoeffdingTreeClassifier::default();
        split_settings!(tree, p);
        Learner::HoeffdingTree(tree)
    }
}

online_estimator! {
    /// The Hoeffding tree regressor (River's `tree.HoeffdingTreeRegressor` defaults).
    HoeffdingTreeRegressorEstimator {
        /// Records a leaf sees between split attempts.
        grace_period: f64 = 200.0,
        /// Allowed chance of a wrong split decision.
        delta: f64 = 1e-7,
        /// Tie threshold.
        tau: f64 = 0.05,
        /// Decay of the leaves' squared errors when choosing mean or linear model.
        model_selector_decay: f64 = 0.95,
        /// Greatest depth (0: unlimited).
        max_depth: u32 = 0,
    }
    |p| {
        let mut tree = HoeffdingTreeRegressor::default();
        split_settings!(tree, p);
        tree.model_selector_decay = p.model_selector_decay;
        Learner::HoeffdingTreeRegressor(tree)
    }
}

online_estimator! {
    /// The streaming z-score anomaly detector: the largest `|x - mean| / std` over the
    /// features, with exponentially weighted statistics; learns without labels.
    EwmaZScoreEstimator {
        /// Weight of the newest record in the running mean and variance.
        alpha: f64 = 0.01,
        /// Records learned before scores are given (0 until then).
        warm_up: u64 = 30,
    }
    |p| {
        if !(p.alpha > 0.0 && p.alpha <= 1.0) {
            return Err(MlError::param("alpha", format!("{}: must be in (0, 1]", p.alpha)));
        }
        Learner::ZScore(EwmaZScore::new(p.alpha, p.warm_up))
    }
}

online_estimator! {
    /// The adaptive random forest (River's `forest.ARFClassifier` defaults).
    AdaptiveRandomForestEstimator {
        /// Trees.
        n_models: usize = 10,
        /// Mean of each record's Poisson weight per tree.
        lambda: f64 = 6.0,
        /// Seed of the weights and feature draws.
        seed: u64 = 42,
    }
    |p| {
        let mut forest = AdaptiveRandomForest::new(p.n_models, p.seed);
        forest.lambda = p.lambda;
        Learner::Forest(forest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::{progressive_accuracy, streams};

    pub(super) fn table(x: &Matrix, y: &[f64]) -> RecordBatch {
        let vectors = data::vector_array(x).unwrap();
        let t = data::float_table(vec![("label", y.to_vec())]).unwrap();
        data::with_column(&t, "features", vectors).unwrap()
    }

    #[test]
    fn fitting_is_progressive_validation_and_learning_continues_across_tables() {
        let s = streams::sea(3_000, 0.1, 5);
        let mut reference = OnlineLogisticRegression::default();
        let expected = progressive_accuracy(&mut reference, &s.x, &s.y);
        let whole = OnlineLogisticRegressionEstimator::default()
            .fit(&table(&s.x, &s.y))
            .unwrap();
        let metrics = whole.progressive_metrics();
        assert!((metrics["progressive_accuracy"] - expected.accuracy).abs() < 1e-12);
        assert!((metrics["baseline_accuracy"] - expected.baseline).abs() < 1e-12);
        // Two halves learned one after the other give the same model.
        let first: Vec<usize> = (0..1_000).collect();
        let rest: Vec<usize> = (1_000..3_000).collect();
        let mut halves = OnlineLogisticRegressionEstimator::default()
            .fit(&table(&s.x.select_rows(&first), &s.y[..1_000]))
            .unwrap();
        halves
            .learn_table(&table(&s.x.select_rows(&rest), &s.y[1_000..]))
            .unwrap();
        assert_eq!(halves, whole);
        assert_eq!(halves.rows(), 3_000);
    }

    #[test]
    fn a_trainer_learns_named_columns_batch_after_batch_like_one_fit() {
        let s = streams::sea(2_000, 0.1, 9);
        let columns = |rows: std::ops::Range<usize>| {
            let mut cols: Vec<(&str, Vec<f64>)> = ["a", "b", "c"]
                .iter()
                .enumerate()
                .map(|(j, name)| (*name, rows.clone().map(|i| s.x.get(i, j)).collect()))
                .collect();
            cols.push(("y", s.y[rows].to_vec()));
            data::float_table(cols).unwrap()
        };
        let names: Vec<String> = ["a", "b", "c"].iter().map(|c| c.to_string()).collect();
        let params = vec![("optimizer".to_string(), "adagrad".to_string())];
        let mut trainer =
            OnlineTrainer::new("online-logistic-regression", &params, "y", &names).unwrap();
        for start in (0..2_000).step_by(300) {
            trainer
                .learn(&columns(start..(start + 300).min(2_000)))
                .unwrap();
        }
        let mut reference = OnlineLogisticRegression::with_optimizer(Optimizer::AdaGrad {
            lr: 0.01,
            eps: 1e-8,
        });
        let expected = progressive_accuracy(&mut reference, &s.x, &s.y);
        let metrics = trainer.model.progressive_metrics();
        assert!((metrics["progressive_accuracy"] - expected.accuracy).abs() < 1e-12);
        let scored = trainer.pipeline().transform(&columns(0..10)).unwrap();
        assert_eq!(scored.column_by_name("prediction").unwrap().len(), 10);
        let error = OnlineTrainer::new("linear-regression", &[], "y", &names).unwrap_err();
        assert!(
            error.to_string().contains("does not learn online"),
            "{error}"
        );
    }

    #[test]
    fn a_detector_learns_without_labels_and_scores_outliers_high() {
        // Mostly values near 10, every 50th far out; no label column at all.
        let values: Vec<f64> = (0..3_000)
            .map(|i| {
                if i % 50 == 49 {
                    40.0
                } else {
                    10.0 + (i % 7) as f64 * 0.3
                }
            })
            .collect();
        let x = Matrix::new(values.len(), 1, values.clone()).unwrap();
        let t = data::with_column(
            &data::float_table(vec![("v", values)]).unwrap(),
            "features",
            data::vector_array(&x).unwrap(),
        )
        .unwrap();
        let model = EwmaZScoreEstimator::default().fit(&t).unwrap();
        assert_eq!(model.rows(), 3_000);
        assert!(!model
            .progressive_metrics()
            .contains_key("progressive_accuracy"));
        let scored = model.transform(&t).unwrap();
        let scores = data::read_f64(&scored, "prediction").unwrap();
        let truth: Vec<f64> = (0..3_000).map(|i| f64::from(i % 50 == 49)).collect();
        let auc = crate::metrics::roc_auc(&truth, &scores).unwrap();
        assert!(auc > 0.99, "{auc}");
    }

    #[test]
    fn classifiers_refuse_labels_other_than_zero_and_one() {
        let x = Matrix::from_rows(&[vec![1.0], vec![2.0]]).unwrap();
        let error = OnlineGaussianNbEstimator::default()
            .fit(&table(&x, &[0.0, 2.0]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is 2 at row 1"), "{error}");
    }

    #[test]
    fn regression_reports_mae_beside_the_running_mean() {
        let s = streams::friedman(2_000, 3);
        let model = OnlineLinearRegressionEstimator {
            standardize: true,
            ..Default::default()
        }
        .fit(&table(&s.x, &s.y))
        .unwrap();
        let m = model.progressive_metrics();
        assert!(m["progressive_mae"] < m["baseline_mae"], "{m:?}");
        let scored = model.transform(&table(&s.x, &s.y)).unwrap();
        assert!(scored.column_by_name("prediction").is_some());
    }

    #[test]
    fn saved_and_loaded_models_predict_the_same() {
        let s = streams::agrawal(1_500, 0, 0.0, 2);
        let model = HoeffdingTreeEstimator::default()
            .fit(&table(&s.x, &s.y))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        crate::save(&model, dir.path()).unwrap();
        let loaded: OnlineLearnerModel = crate::load(dir.path()).unwrap();
        assert_eq!(loaded, model);
    }
}
