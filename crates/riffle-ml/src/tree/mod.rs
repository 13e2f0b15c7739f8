//! Decision trees, random forests and gradient-boosted trees, all grown on binned features.
//!
//! Every estimator here first quantises each feature into at most 256 bins (quantile edges
//! from the training data, placed exactly as scikit-learn's `HistGradientBoosting*` places
//! them; LightGBM does the same), so that finding a node's best split is one pass over its rows
//! into a small histogram and a scan of the bins, rather than a sort. The fitted [`Tree`]s keep
//! the bin edges as raw-value thresholds, so prediction needs no binning.
//!
//! - [`DecisionTreeClassifier`] (Gini or entropy) and [`DecisionTreeRegressor`] (squared
//!   error): scikit-learn's CART rules and parameters.
//! - [`RandomForestClassifier`] and [`RandomForestRegressor`]: bootstrap samples and random
//!   feature subsets per node, trees grown in parallel, each from its own seed so that the
//!   result does not depend on thread scheduling.
//! - [`GradientBoostedTreesClassifier`] (log loss, softmax for several classes) and
//!   [`GradientBoostedTreesRegressor`] (squared error): scikit-learn's
//!   `HistGradientBoosting*`, leaf-wise trees on gradients and hessians.
//!
//! ```
//! use riffle_ml::{data, Estimator, Transformer};
//! use riffle_ml::tree::DecisionTreeClassifier;
//!
//! let x = riffle_ml::Matrix::new(4, 1, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
//! let table = data::float_table(vec![("label", vec![0.0, 0.0, 1.0, 1.0])]).unwrap();
//! let table = data::with_column(&table, "features", data::vector_array(&x).unwrap()).unwrap();
//! let model = DecisionTreeClassifier::default().fit(&table).unwrap();
//! let scored = model.transform(&table).unwrap();
//! assert_eq!(data::read_f64(&scored, "prediction").unwrap(), vec![0.0, 0.0, 1.0, 1.0]);
//! ```

mod binning;
mod boosting;
mod cart;
mod decision_tree;
mod forest;
mod leafwise;
mod nodes;
mod output;

pub use boosting::{
    EarlyStopping, GradientBoostedTreesClassifier, GradientBoostedTreesClassifierModel,
    GradientBoostedTreesRegressor, GradientBoostedTreesRegressorModel,
};
pub use decision_tree::{
    DecisionTreeClassifier, DecisionTreeClassifierModel, DecisionTreeRegressor,
    DecisionTreeRegressorModel,
};
pub use forest::{
    RandomForestClassifier, RandomForestClassifierModel, RandomForestRegressor,
    RandomForestRegressorModel,
};
pub use nodes::Tree;

use serde::{Deserialize, Serialize};

use crate::classes::Classes;
use crate::error::{MlError, Result};
use cart::GrowSettings;

/// How a classification tree measures a node's impurity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitCriterion {
    /// Gini impurity, `1 - Σ p²`.
    #[default]
    Gini,
    /// Entropy in bits, `-Σ p log₂ p` (scikit-learn's "entropy" and "log_loss").
    #[serde(alias = "log-loss", alias = "log_loss")]
    Entropy,
}

/// How many features a node tries when looking for its split (scikit-learn's
/// `max_features`). Written as text: `all`, `sqrt`, `log2`, a count such as `5`, or a fraction
/// of the features with a decimal point such as `0.5`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MaxFeaturesText", into = "MaxFeaturesText")]
pub enum MaxFeatures {
    /// Every feature.
    All,
    /// `max(1, floor(sqrt(features)))`.
    Sqrt,
    /// `max(1, floor(log2(features)))`.
    Log2,
    /// This many features (at most the feature count).
    Count(usize),
    /// `max(1, floor(fraction * features))`, the fraction in (0, 1].
    Fraction(f64),
}

/// The serialized form of [`MaxFeatures`]: text, or a bare JSON number.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum MaxFeaturesText {
    Whole(u64),
    Number(f64),
    Text(String),
}

impl From<MaxFeatures> for MaxFeaturesText {
    fn from(m: MaxFeatures) -> Self {
        MaxFeaturesText::Text(match m {
            MaxFeatures::All => "all".into(),
            MaxFeatures::Sqrt => "sqrt".into(),
            MaxFeatures::Log2 => "log2".into(),
            MaxFeatures::Count(n) => n.to_string(),
            // `{:?}` keeps the decimal point, so 1.0 does not read back as the count 1.
            MaxFeatures::Fraction(f) => format!("{f:?}"),
        })
    }
}

impl TryFrom<MaxFeaturesText> for MaxFeatures {
    type Error = String;

    fn try_from(text: MaxFeaturesText) -> std::result::Result<Self, String> {
        let fraction = |f: f64| {
            if f > 0.0 && f <= 1.0 {
                Ok(MaxFeatures::Fraction(f))
            } else {
                Err(format!(
                    "a fraction of the features must be in (0, 1], got {f}"
                ))
            }
        };
        let count = |n: u64| match usize::try_from(n) {
            Ok(n) if n > 0 => Ok(MaxFeatures::Count(n)),
            _ => Err(format!("a feature count must be at least 1, got {n}")),
        };
        match text {
            MaxFeaturesText::Whole(n) => count(n),
            MaxFeaturesText::Number(f) => fraction(f),
            MaxFeaturesText::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "all" | "none" => Ok(MaxFeatures::All),
                "sqrt" => Ok(MaxFeatures::Sqrt),
                "log2" => Ok(MaxFeatures::Log2),
                t if t.contains(['.', 'e']) => t.parse().map_err(|_| bad(&s)).and_then(fraction),
                t => t.parse().map_err(|_| bad(&s)).and_then(count),
            },
        }
    }
}

fn bad(text: &str) -> String {
    format!("'{text}' is not all, sqrt, log2, a count (5) or a fraction (0.5)")
}

impl MaxFeatures {
    /// The number of features to try out of `d`.
    pub fn resolve(self, d: usize) -> Result<usize> {
        let n = match self {
            MaxFeatures::All => d,
            MaxFeatures::Sqrt => (d as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => (d as f64).log2().floor() as usize,
            MaxFeatures::Count(n) if n > d => {
                return Err(MlError::param(
                    "max_features",
                    format!("is {n}, but the data have only {d} features"),
                ))
            }
            MaxFeatures::Count(0) => {
                return Err(MlError::param("max_features", "must be at least 1"))
            }
            MaxFeatures::Count(n) => n,
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(MlError::param(
                    "max_features",
                    format!("a fraction must be in (0, 1], got {f}"),
                ))
            }
            MaxFeatures::Fraction(f) => (f * d as f64).floor() as usize,
        };
        Ok(n.clamp(1, d.max(1)))
    }
}

/// The CART parameters shared by the trees and forests, as the estimators hold them.
pub(crate) struct CartParams {
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub min_impurity_decrease: f64,
    pub max_features: MaxFeatures,
    pub max_bins: usize,
}

impl CartParams {
    /// Checks the parameters that do not depend on the data.
    pub(crate) fn check(&self) -> Result<()> {
        if self.max_depth == Some(0) {
            return Err(MlError::param(
                "max_depth",
                "must be at least 1 (leave it unset for no limit)",
            ));
        }
        if self.min_samples_split < 2 {
            return Err(MlError::param(
                "min_samples_split",
                format!("must be at least 2, got {}", self.min_samples_split),
            ));
        }
        if self.min_samples_leaf == 0 {
            return Err(MlError::param("min_samples_leaf", "must be at least 1"));
        }
        if !(self.min_impurity_decrease >= 0.0 && self.min_impurity_decrease.is_finite()) {
            return Err(MlError::param(
                "min_impurity_decrease",
                format!(
                    "must be a finite number >= 0, got {}",
                    self.min_impurity_decrease
                ),
            ));
        }
        check_max_bins(self.max_bins)?;
        self.max_features.resolve(usize::MAX).map(|_| ())
    }

    /// The growing settings for data with `d` features.
    pub(crate) fn settings(&self, d: usize, parallel: bool) -> Result<GrowSettings> {
        self.check()?;
        Ok(GrowSettings {
            max_depth: self.max_depth.unwrap_or(usize::MAX),
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
            min_impurity_decrease: self.min_impurity_decrease,
            max_features: self.max_features.resolve(d)?,
            parallel,
        })
    }
}

/// Checks `max_bins`.
pub(crate) fn check_max_bins(max_bins: usize) -> Result<()> {
    if !(2..=binning::MAX_BINS).contains(&max_bins) {
        return Err(MlError::param(
            "max_bins",
            format!("must be between 2 and 256, got {max_bins}"),
        ));
    }
    Ok(())
}

/// The classes of `labels` (column `column`) and each row's class index.
pub(crate) fn class_targets(labels: &[f64], column: &str) -> Result<(Classes, Vec<u32>)> {
    let classes = Classes::from_labels(labels, column)?;
    // Fewer classes than rows, and `check_rows` keeps rows within u32.
    let y = classes
        .indices(labels)?
        .into_iter()
        .map(|c| c as u32)
        .collect();
    Ok((classes, y))
}

/// Rows refused by the trees: more than `u32::MAX` cannot be indexed while growing.
pub(crate) fn check_rows(rows: usize) -> Result<()> {
    if u32::try_from(rows).is_err() {
        return Err(MlError::data(format!(
            "{rows} training rows are more than the 4,294,967,295 a tree can index"
        )));
    }
    Ok(())
}

/// Helpers for the unit tests of the tree modules.
#[cfg(test)]
pub(crate) mod testing {
    use arrow_array::RecordBatch;
    use rand::{Rng, SeedableRng};

    use crate::data::{self, Matrix};
    use crate::persist::{self, Loadable};
    use crate::pipeline::Model;

    /// A table with `y` as `label` and the rows of `x` as `features`.
    pub(crate) fn table(x: &Matrix, y: &[f64]) -> RecordBatch {
        let t = data::float_table(vec![("label", y.to_vec())]).unwrap();
        data::with_column(&t, "features", data::vector_array(x).unwrap()).unwrap()
    }

    /// `n` rows of `d` uniform features and the class of each row: 1 in the corner
    /// `x0 > 0.3, x1 < 0.6`, else 0; the other features are noise.
    pub(crate) fn corner(n: usize, d: usize, seed: u64) -> (Matrix, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let x = Matrix::new(n, d, (0..n * d).map(|_| rng.random::<f64>()).collect()).unwrap();
        let y = x
            .row_iter()
            .map(|r| f64::from(u8::from(r[0] > 0.3 && r[1] < 0.6)))
            .collect();
        (x, y)
    }

    /// Saves `model`, loads it back and checks it scores `table` to the same bits.
    pub(crate) fn round_trips<M: Model + Loadable + PartialEq + std::fmt::Debug>(
        model: &M,
        table: &RecordBatch,
    ) {
        let dir = tempfile::tempdir().unwrap();
        persist::save(model, dir.path()).unwrap();
        let loaded: M = persist::load(dir.path()).unwrap();
        assert_eq!(&loaded, model);
        assert_eq!(
            model.transform(table).unwrap(),
            loaded.transform(table).unwrap()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_features_reads_names_counts_and_fractions() {
        let read = |s: &str| serde_json::from_value::<MaxFeatures>(serde_json::json!(s));
        assert_eq!(read("sqrt").unwrap(), MaxFeatures::Sqrt);
        assert_eq!(read("5").unwrap(), MaxFeatures::Count(5));
        assert_eq!(read("1.0").unwrap(), MaxFeatures::Fraction(1.0));
        assert!(read("1.5").is_err() && read("0").is_err() && read("half").is_err());
        let text = serde_json::to_value(MaxFeatures::Fraction(1.0)).unwrap();
        assert_eq!(text, serde_json::json!("1.0"));
        assert_eq!(MaxFeatures::Sqrt.resolve(20).unwrap(), 4);
        assert_eq!(MaxFeatures::Log2.resolve(20).unwrap(), 4);
        assert_eq!(MaxFeatures::Fraction(0.01).resolve(20).unwrap(), 1);
        assert!(MaxFeatures::Count(21).resolve(20).is_err());
    }

    #[test]
    fn parameters_are_configured_from_strings_as_on_the_cli() {
        let kv = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let forest: RandomForestClassifier = crate::algorithms::configure(
            "random-forest-classifier",
            &kv(&[
                ("max_depth", "10"),
                ("max_features", "0.5"),
                ("criterion", "entropy"),
                ("n_trees", "7"),
            ]),
        )
        .unwrap();
        assert_eq!(forest.max_depth, Some(10));
        assert_eq!(forest.max_features, MaxFeatures::Fraction(0.5));
        assert_eq!(
            (forest.criterion, forest.n_trees),
            (SplitCriterion::Entropy, 7)
        );
        let booster: GradientBoostedTreesRegressor = crate::algorithms::configure(
            "gradient-boosted-trees-regressor",
            &kv(&[("early_stopping", "off"), ("max_leaf_nodes", "0")]),
        )
        .unwrap();
        assert_eq!(booster.early_stopping, EarlyStopping::Off);
        assert_eq!(booster.max_leaf_nodes, 0);
        let err = crate::algorithms::configure::<DecisionTreeClassifier>(
            "decision-tree-classifier",
            &kv(&[("max_features", "most")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`max_features`") && err.contains("sqrt"),
            "{err}"
        );
    }
}
