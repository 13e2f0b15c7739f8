//! The estimators by name, configured from `key=value` strings: the edge where the CLI (and
//! SQL's `CREATE MODEL ... WITH (...)`) meet the typed parameter structs. Values are parsed
//! by the type of the parameter's default, unknown names are refused with the likely typo.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cluster::KMeans;
use crate::error::{MlError, Result};
use crate::linear::{LinearRegression, LogisticRegression};
use crate::naive_bayes::{GaussianNaiveBayes, MultinomialNaiveBayes};
use crate::neighbors::{KNearestNeighborsClassifier, KNearestNeighborsRegressor};
use crate::online::table::{
    AdaptiveRandomForestEstimator, EwmaZScoreEstimator, HoeffdingTreeEstimator,
    HoeffdingTreeRegressorEstimator, OnlineGaussianNbEstimator, OnlineLinearRegressionEstimator,
    OnlineLogisticRegressionEstimator, OnlineMfEstimator, PopularityEstimator, SwingEstimator,
};
use crate::pipeline::DynEstimator;
use crate::recommendation::Als;
use crate::svm::LinearSVC;
use crate::tree::{
    DecisionTreeClassifier, DecisionTreeRegressor, GradientBoostedTreesClassifier,
    GradientBoostedTreesRegressor, RandomForestClassifier, RandomForestRegressor,
};

/// What an algorithm learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Class labels.
    Classification,
    /// A numeric target.
    Regression,
    /// Groups without labels.
    Clustering,
    /// Scores of users for items, from user-item interactions.
    Recommendation,
    /// How unusual each record is, learned without labels.
    AnomalyDetection,
    /// A feature transformer fitted on its own (a scaler, PCA...): vectors in, vectors out.
    Transformation,
}

/// An algorithm users can name.
#[derive(Clone, Copy, Debug)]
pub struct Algorithm {
    /// Its name on the CLI and in SQL.
    pub name: &'static str,
    /// What it learns.
    pub task: Task,
    /// One line about it.
    pub summary: &'static str,
}

/// Every algorithm, by name.
pub const ALGORITHMS: &[Algorithm] = &[
    Algorithm {
        name: "linear-regression",
        task: Task::Regression,
        summary: "least squares with L2/L1/elastic-net penalty; solvers closed-form, coordinate-descent, gradient-descent, sgd, lbfgs",
    },
    Algorithm {
        name: "logistic-regression",
        task: Task::Classification,
        summary: "binary and multinomial logistic regression with L2/L1 penalty; solvers lbfgs, gradient-descent, sgd",
    },
    Algorithm {
        name: "als",
        task: Task::Recommendation,
        summary: "alternating least squares matrix factorisation (Spark ALS): explicit ratings (ALS-WR) or implicit feedback (Hu-Koren-Volinsky); columns user, item, rating",
    },
    Algorithm {
        name: "gaussian-naive-bayes",
        task: Task::Classification,
        summary: "Gaussian naive Bayes (scikit-learn GaussianNB): per-class normal features, var_smoothing, class priors from the data or given",
    },
    Algorithm {
        name: "multinomial-naive-bayes",
        task: Task::Classification,
        summary: "multinomial naive Bayes for non-negative counts or frequencies, additive smoothing alpha",
    },
    Algorithm {
        name: "knn-classifier",
        task: Task::Classification,
        summary: "k-nearest-neighbour vote (Euclidean, uniform or distance weights), parallel blocked brute-force search",
    },
    Algorithm {
        name: "knn-regressor",
        task: Task::Regression,
        summary: "k-nearest-neighbour mean target (Euclidean, uniform or distance weights)",
    },
    Algorithm {
        name: "kmeans",
        task: Task::Clustering,
        summary: "k-means (Lloyd) with greedy k-means++ or random initialisation, n_init runs, writes the cluster index",
    },
    Algorithm {
        name: "linear-svc",
        task: Task::Classification,
        summary: "linear SVM: squared hinge + L2 (C), binary or one-vs-rest, L-BFGS; writes raw_prediction decision values",
    },
    Algorithm {
        name: "decision-tree-classifier",
        task: Task::Classification,
        summary: "CART tree on histogram (<=256 bins) splits, gini or entropy; class-frequency probabilities",
    },
    Algorithm {
        name: "decision-tree-regressor",
        task: Task::Regression,
        summary: "CART tree on histogram (<=256 bins) splits, squared error",
    },
    Algorithm {
        name: "random-forest-classifier",
        task: Task::Classification,
        summary: "bootstrap forest of histogram trees (max_features sqrt), grown in parallel, seeded per tree",
    },
    Algorithm {
        name: "random-forest-regressor",
        task: Task::Regression,
        summary: "bootstrap forest of histogram trees (all features), grown in parallel, seeded per tree",
    },
    Algorithm {
        name: "gradient-boosted-trees-classifier",
        task: Task::Classification,
        summary: "histogram gradient boosting (as HistGradientBoostingClassifier): log loss / softmax, leaf-wise trees, early stopping",
    },
    Algorithm {
        name: "gradient-boosted-trees-regressor",
        task: Task::Regression,
        summary: "histogram gradient boosting (as HistGradientBoostingRegressor): squared error, leaf-wise trees, early stopping",
    },
    Algorithm {
        name: "online-logistic-regression",
        task: Task::Classification,
        summary: "online binary logistic regression (River's LogisticRegression): optimizer sgd, adagrad or ftrl; learns row by row and keeps learning in a streaming CREATE MODEL",
    },
    Algorithm {
        name: "online-linear-regression",
        task: Task::Regression,
        summary: "online linear regression, squared loss (River's LinearRegression): optimizer sgd, adagrad or ftrl; keeps learning in a streaming CREATE MODEL",
    },
    Algorithm {
        name: "online-gaussian-naive-bayes",
        task: Task::Classification,
        summary: "online binary Gaussian naive Bayes (River's GaussianNB), running per-class means and variances",
    },
    Algorithm {
        name: "hoeffding-tree",
        task: Task::Classification,
        summary: "Hoeffding tree classifier, binary (River's HoeffdingTreeClassifier defaults): splits when the Hoeffding bound allows, naive-Bayes-adaptive leaves",
    },
    Algorithm {
        name: "hoeffding-tree-regressor",
        task: Task::Regression,
        summary: "Hoeffding tree regressor (River's HoeffdingTreeRegressor defaults): variance-reduction splits over E-BST observers, leaves choosing their mean or an online linear model",
    },
    Algorithm {
        name: "ewma-zscore",
        task: Task::AnomalyDetection,
        summary: "streaming z-score anomaly detector: largest |x - mean| / std over the features, exponentially weighted (alpha), no label needed",
    },
    Algorithm {
        name: "adaptive-random-forest",
        task: Task::Classification,
        summary: "adaptive random forest, binary (River's ARFClassifier defaults): Hoeffding trees on Poisson-weighted rows, ADWIN drift detection with background trees",
    },
    Algorithm {
        name: "online-mf",
        task: Task::Recommendation,
        summary: "online biased matrix factorisation learned from clicks (features user, item; no label), sampled negatives; top-k by ML_RECOMMEND, progressive hit-rate@k",
    },
    Algorithm {
        name: "swing",
        task: Task::Recommendation,
        summary: "Swing-style item-item similarity learned from clicks (features user, item; no label): items clicked together by light users grow closer; top-k by ML_RECOMMEND",
    },
    Algorithm {
        name: "popularity",
        task: Task::Recommendation,
        summary: "the most clicked items so far (features user, item; no label): the baseline of recommenders",
    },
];

impl Task {
    /// Whether models of this task learn without a label column: clusterers, anomaly
    /// detectors and feature transformers.
    pub fn learns_without_label(self) -> bool {
        matches!(
            self,
            Task::Clustering | Task::AnomalyDetection | Task::Transformation
        )
    }
}

impl Algorithm {
    /// Whether it learns without a label column: its task does, or it is an online
    /// recommender (which learns clicks).
    pub fn learns_without_label(&self) -> bool {
        self.task.learns_without_label() || self.learns_clicks()
    }

    /// Whether it is an online recommender, learning from (user, item) clicks and refusing
    /// a label.
    pub fn learns_clicks(&self) -> bool {
        crate::online::table::CLICK_RECOMMENDERS.contains(&self.name)
    }
}

/// The algorithm called `name`.
pub fn find(name: &str) -> Result<&'static Algorithm> {
    ALGORITHMS.iter().find(|a| a.name == name).ok_or_else(|| {
        let names: Vec<&str> = ALGORITHMS.iter().map(|a| a.name).collect();
        MlError::param(
            "algo",
            format!(
                "unknown algorithm '{name}'{}; known: {}",
                riffle_core::did_you_mean(name, names.iter().copied()),
                names.join(", ")
            ),
        )
    })
}

/// The parameters of `name` with their defaults, as JSON.
pub fn defaults(name: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let value = match find(name)?.name {
        "linear-regression" => to_object(&LinearRegression::default()),
        "als" => to_object(&Als::default()),
        "gaussian-naive-bayes" => to_object(&GaussianNaiveBayes::default()),
        "multinomial-naive-bayes" => to_object(&MultinomialNaiveBayes::default()),
        "knn-classifier" => to_object(&KNearestNeighborsClassifier::default()),
        "knn-regressor" => to_object(&KNearestNeighborsRegressor::default()),
        "kmeans" => to_object(&KMeans::default()),
        "linear-svc" => to_object(&LinearSVC::default()),
        "decision-tree-classifier" => to_object(&DecisionTreeClassifier::default()),
        "decision-tree-regressor" => to_object(&DecisionTreeRegressor::default()),
        "random-forest-classifier" => to_object(&RandomForestClassifier::default()),
        "random-forest-regressor" => to_object(&RandomForestRegressor::default()),
        "gradient-boosted-trees-classifier" => {
            to_object(&GradientBoostedTreesClassifier::default())
        }
        "gradient-boosted-trees-regressor" => to_object(&GradientBoostedTreesRegressor::default()),
        "online-logistic-regression" => to_object(&OnlineLogisticRegressionEstimator::default()),
        "online-linear-regression" => to_object(&OnlineLinearRegressionEstimator::default()),
        "online-gaussian-naive-bayes" => to_object(&OnlineGaussianNbEstimator::default()),
        "hoeffding-tree" => to_object(&HoeffdingTreeEstimator::default()),
        "hoeffding-tree-regressor" => to_object(&HoeffdingTreeRegressorEstimator::default()),
        "ewma-zscore" => to_object(&EwmaZScoreEstimator::default()),
        "adaptive-random-forest" => to_object(&AdaptiveRandomForestEstimator::default()),
        "online-mf" => to_object(&OnlineMfEstimator::default()),
        "swing" => to_object(&SwingEstimator::default()),
        "popularity" => to_object(&PopularityEstimator::default()),
        _ => to_object(&LogisticRegression::default()),
    };
    Ok(value)
}

fn to_object(value: &impl Serialize) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The estimator `name` with `params` (`key`, `value` strings) over the default parameters.
pub fn estimator(name: &str, params: &[(String, String)]) -> Result<Box<dyn DynEstimator>> {
    build(name, &Params::Text(params))
}

/// The estimator `name` with `params`, a JSON object over the default parameters (as
/// [`save_estimator`] writes them).
pub fn estimator_from_json(
    name: &str,
    params: &serde_json::Value,
) -> Result<Box<dyn DynEstimator>> {
    build(name, &Params::Json(params))
}

/// Parameters as the CLI gives them or as a saved estimator holds them.
enum Params<'a> {
    Text(&'a [(String, String)]),
    Json(&'a serde_json::Value),
}

fn make<T>(name: &str, params: &Params<'_>) -> Result<Box<dyn DynEstimator>>
where
    T: Default + Serialize + DeserializeOwned + DynEstimator + 'static,
{
    let estimator: T = match params {
        Params::Text(pairs) => configure(name, pairs)?,
        Params::Json(value) => from_json(name, value)?,
    };
    Ok(Box::new(estimator))
}

/// Estimators that prepare features, by name, for saved pipelines (`Pipeline::algorithm`).
pub const FEATURE_ESTIMATORS: &[&str] = &[
    "standard-scaler",
    "min-max-scaler",
    "max-abs-scaler",
    "robust-scaler",
    "imputer",
    "string-indexer",
    "one-hot-encoder",
    "quantile-discretizer",
    "idf",
    "pca",
    "variance-threshold-selector",
    "univariate-feature-selector",
    "outlier-clipper",
];

fn build(name: &str, params: &Params<'_>) -> Result<Box<dyn DynEstimator>> {
    use crate::feature::{
        Idf, Imputer, MaxAbsScaler, MinMaxScaler, OneHotEncoder, OutlierClipper, Pca,
        QuantileDiscretizer, RobustScaler, StandardScaler, StringIndexer,
        UnivariateFeatureSelector, VarianceThresholdSelector,
    };
    match name {
        "standard-scaler" => return make::<StandardScaler>(name, params),
        "min-max-scaler" => return make::<MinMaxScaler>(name, params),
        "max-abs-scaler" => return make::<MaxAbsScaler>(name, params),
        "robust-scaler" => return make::<RobustScaler>(name, params),
        "imputer" => return make::<Imputer>(name, params),
        "string-indexer" => return make::<StringIndexer>(name, params),
        "one-hot-encoder" => return make::<OneHotEncoder>(name, params),
        "quantile-discretizer" => return make::<QuantileDiscretizer>(name, params),
        "idf" => return make::<Idf>(name, params),
        "pca" => return make::<Pca>(name, params),
        "variance-threshold-selector" => return make::<VarianceThresholdSelector>(name, params),
        "univariate-feature-selector" => return make::<UnivariateFeatureSelector>(name, params),
        "outlier-clipper" => return make::<OutlierClipper>(name, params),
        _ => {}
    }
    match find(name)?.name {
        "linear-regression" => make::<LinearRegression>(name, params),
        "als" => make::<Als>(name, params),
        "gaussian-naive-bayes" => make::<GaussianNaiveBayes>(name, params),
        "multinomial-naive-bayes" => make::<MultinomialNaiveBayes>(name, params),
        "knn-classifier" => make::<KNearestNeighborsClassifier>(name, params),
        "knn-regressor" => make::<KNearestNeighborsRegressor>(name, params),
        "kmeans" => make::<KMeans>(name, params),
        "linear-svc" => make::<LinearSVC>(name, params),
        "decision-tree-classifier" => make::<DecisionTreeClassifier>(name, params),
        "decision-tree-regressor" => make::<DecisionTreeRegressor>(name, params),
        "random-forest-classifier" => make::<RandomForestClassifier>(name, params),
        "random-forest-regressor" => make::<RandomForestRegressor>(name, params),
        "gradient-boosted-trees-classifier" => make::<GradientBoostedTreesClassifier>(name, params),
        "gradient-boosted-trees-regressor" => make::<GradientBoostedTreesRegressor>(name, params),
        "online-logistic-regression" => make::<OnlineLogisticRegressionEstimator>(name, params),
        "online-linear-regression" => make::<OnlineLinearRegressionEstimator>(name, params),
        "online-gaussian-naive-bayes" => make::<OnlineGaussianNbEstimator>(name, params),
        "hoeffding-tree" => make::<HoeffdingTreeEstimator>(name, params),
        "hoeffding-tree-regressor" => make::<HoeffdingTreeRegressorEstimator>(name, params),
        "ewma-zscore" => make::<EwmaZScoreEstimator>(name, params),
        "adaptive-random-forest" => make::<AdaptiveRandomForestEstimator>(name, params),
        "online-mf" => make::<OnlineMfEstimator>(name, params),
        "swing" => make::<SwingEstimator>(name, params),
        "popularity" => make::<PopularityEstimator>(name, params),
        _ => make::<LogisticRegression>(name, params),
    }
}

/// `T::default()` overlaid with the keys of the JSON object `params`; an unknown key is
/// refused with the likely one.
fn from_json<T: Default + Serialize + DeserializeOwned>(
    algorithm: &str,
    params: &serde_json::Value,
) -> Result<T> {
    let mut object = to_object(&T::default());
    let given = params
        .as_object()
        .ok_or_else(|| MlError::param(algorithm, "saved parameters must be a JSON object"))?;
    for (key, value) in given {
        if !object.contains_key(key) {
            let names: Vec<&str> = object.keys().map(String::as_str).collect();
            return Err(MlError::param(
                key,
                format!(
                    "{algorithm} has no parameter '{key}'{}",
                    riffle_core::did_you_mean(key, names.iter().copied())
                ),
            ));
        }
        object.insert(key.clone(), value.clone());
    }
    serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|e| MlError::param(algorithm, e.to_string()))
}

/// File an unfitted estimator is saved in.
pub const ESTIMATOR_FILE: &str = "estimator.json";
const ESTIMATOR_FORMAT: &str = "riffle-ml-estimator";

/// Saves an unfitted estimator — its algorithm name and parameters — into `dir`, so that it
/// can be loaded and fitted later (or elsewhere) with exactly these parameters.
pub fn save_estimator(
    dir: &std::path::Path,
    algorithm: &str,
    params: &impl Serialize,
) -> Result<()> {
    let algorithm = find(algorithm)?.name;
    let params = serde_json::to_value(params).map_err(|e| MlError::data(e.to_string()))?;
    // Refuse parameters that would not load back.
    estimator_from_json(algorithm, &params)?;
    let document = serde_json::json!({
        "format": ESTIMATOR_FORMAT,
        "format_version": crate::persist::FORMAT_VERSION,
        "riffle_version": env!("CARGO_PKG_VERSION"),
        "algorithm": algorithm,
        "params": params,
    });
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_string_pretty(&document).map_err(|e| MlError::data(e.to_string()))?;
    std::fs::write(dir.join(ESTIMATOR_FILE), text)?;
    Ok(())
}

/// Loads an estimator saved by [`save_estimator`]: its algorithm name and the estimator.
pub fn load_estimator(dir: &std::path::Path) -> Result<(String, Box<dyn DynEstimator>)> {
    let damaged = |reason: String| MlError::Persistence {
        path: dir.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(dir.join(ESTIMATOR_FILE))
        .map_err(|e| damaged(format!("cannot read {ESTIMATOR_FILE} ({e})")))?;
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| damaged(format!("{ESTIMATOR_FILE}: {e}")))?;
    if document["format"] != ESTIMATOR_FORMAT {
        return Err(damaged(format!(
            "{ESTIMATOR_FILE} is not a saved estimator"
        )));
    }
    let version = document["format_version"].as_u64().unwrap_or(0);
    if version != u64::from(crate::persist::FORMAT_VERSION) {
        return Err(damaged(format!(
            "written in format version {version}; this riffle reads version {}",
            crate::persist::FORMAT_VERSION
        )));
    }
    let algorithm = document["algorithm"]
        .as_str()
        .ok_or_else(|| damaged("no algorithm name".into()))?
        .to_string();
    let estimator =
        estimator_from_json(&algorithm, &document["params"]).map_err(|e| damaged(e.to_string()))?;
    Ok((algorithm, estimator))
}

/// `T::default()` with `params` applied, each parsed by the JSON type of its default.
pub fn configure<T: Default + Serialize + DeserializeOwned>(
    algorithm: &str,
    params: &[(String, String)],
) -> Result<T> {
    let mut object = to_object(&T::default());
    for (key, text) in params {
        let Some(default) = object.get(key) else {
            let names: Vec<&str> = object.keys().map(String::as_str).collect();
            return Err(MlError::param(
                key,
                format!(
                    "{algorithm} has no parameter '{key}'{}; its parameters: {}",
                    riffle_core::did_you_mean(key, names.iter().copied()),
                    names.join(", ")
                ),
            ));
        };
        let value = parse_like(default, text).ok_or_else(|| {
            MlError::param(
                key,
                format!("'{text}' is not a valid {}", json_kind(default)),
            )
        })?;
        object.insert(key.clone(), value);
        // Deserialise after each key so that an error (an unknown solver name, say) is
        // reported against the parameter that caused it.
        serde_json::from_value::<T>(serde_json::Value::Object(object.clone()))
            .map_err(|e| MlError::param(key, e.to_string()))?;
    }
    serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|e| MlError::param(algorithm, e.to_string()))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Bool(_) => "boolean (true or false)",
        serde_json::Value::Number(n) if n.is_u64() => "whole number >= 0",
        serde_json::Value::Number(_) => "number",
        _ => "value",
    }
}

fn parse_like(default: &serde_json::Value, text: &str) -> Option<serde_json::Value> {
    use serde_json::Value;
    match default {
        Value::Bool(_) => text.parse::<bool>().ok().map(Value::Bool),
        Value::Number(n) if n.is_u64() => text.parse::<u64>().ok().map(|v| Value::Number(v.into())),
        Value::Number(_) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Value::Null => {
            Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())))
        }
        _ => Some(Value::String(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn strings_become_typed_parameters() {
        let lr: LogisticRegression = configure(
            "logistic-regression",
            &kv(&[("reg_param", "0.5"), ("max_iter", "7"), ("solver", "sgd")]),
        )
        .unwrap();
        assert_eq!((lr.reg_param, lr.max_iter), (0.5, 7));
        assert_eq!(lr.solver, crate::linear::LogisticSolver::Sgd);
    }

    #[test]
    fn bad_names_and_values_are_refused_with_the_parameter_named() {
        let err = configure::<LogisticRegression>("logistic-regression", &kv(&[("reg_parm", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean 'reg_param'"), "{err}");
        let err =
            configure::<LogisticRegression>("logistic-regression", &kv(&[("max_iter", "-3")]))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("`max_iter`") && err.contains("whole number"),
            "{err}"
        );
        let err =
            configure::<LogisticRegression>("logistic-regression", &kv(&[("solver", "newton")]))
                .unwrap_err()
                .to_string();
        assert!(err.contains("`solver`") && err.contains("lbfgs"), "{err}");
        assert!(find("logistc-regression")
            .unwrap_err()
            .to_string()
            .contains("did you mean 'logistic-regression'"));
    }
}
