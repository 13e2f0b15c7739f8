//! Training, scoring and evaluating on a plain table, as `riffle ml` and SQL's `CREATE
//! MODEL` / `ML_PREDICT` / `ML_EVALUATE` do: the label column and the feature columns are
//! named, text features are encoded, missing values imputed and features scaled on request,
//! and all of that preparation is part of the fitted pipeline, so scoring applies exactly
//! what training learned. A [`ModelCard`] beside the model records what it was trained on.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};

use crate::algorithms::{self, Task};
use crate::card::ModelCard;
use crate::error::{MlError, Result};
use crate::evaluation::{self, ScoredColumns};
use crate::feature::{
    HandleInvalid, Imputer, ImputerStrategy, OneHotEncoder, StandardScaler, StringIndexer,
    StringOrder, VectorAssembler,
};
use crate::{data, Estimator, Model, Pipeline, PipelineModel, Transformer};

/// How text feature columns become numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// One 0/1 column per category.
    OneHot,
    /// The category's index by frequency.
    Index,
}

/// How missing feature values are filled (text columns always take the most frequent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impute {
    /// The column's mean.
    Mean,
    /// The column's median.
    Median,
    /// The column's most frequent value.
    MostFrequent,
}

/// What to train: an algorithm by name with its parameters, and the data preparation.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSpec {
    /// Algorithm name (see [`algorithms`]).
    pub algorithm: String,
    /// The label column; empty for clustering.
    pub label: String,
    /// The feature columns; empty for every column but the label.
    pub features: Vec<String>,
    /// How text features are encoded; `None` refuses text features by name.
    pub encode: Option<Encoding>,
    /// How missing values are filled; `None` refuses them.
    pub impute: Option<Impute>,
    /// Standardise the assembled features.
    pub standardize: bool,
    /// Categories unseen in training, at scoring time.
    pub unseen: HandleInvalid,
    /// The algorithm's parameters, `name=value` as text.
    pub params: Vec<(String, String)>,
}

impl TrainSpec {
    /// `algorithm` predicting `label` from every other column, with no preparation.
    pub fn new(algorithm: &str, label: &str) -> Self {
        TrainSpec {
            algorithm: algorithm.to_string(),
            label: label.to_string(),
            features: Vec::new(),
            encode: None,
            impute: None,
            standardize: false,
            unseen: HandleInvalid::Error,
            params: Vec::new(),
        }
    }
}

/// A training table prepared for the pipeline: the label numeric (text labels indexed
/// alphabetically) and the names of the feature columns by kind.
pub struct Prepared {
    /// The table, label made numeric.
    pub table: RecordBatch,
    /// For a text label, the label of each class index.
    pub label_values: Option<Vec<String>>,
    /// Numeric feature columns.
    pub numeric: Vec<String>,
    /// Text feature columns.
    pub text: Vec<String>,
}

impl Prepared {
    /// The model card of a model fitted on `rows` of this table with `params`.
    pub fn card(
        &self,
        spec: &TrainSpec,
        task: Task,
        params: &[(String, String)],
        rows: usize,
    ) -> ModelCard {
        ModelCard {
            algorithm: spec.algorithm.clone(),
            task,
            label: spec.label.clone(),
            features: self.numeric.iter().chain(&self.text).cloned().collect(),
            label_values: self.label_values.clone(),
            params: params.iter().cloned().collect(),
            trained_rows: rows,
            holdout_metrics: BTreeMap::new(),
        }
    }
}

/// The feature columns `spec` names, or every column of `table` but the label.
pub fn feature_columns(spec: &TrainSpec, table: &RecordBatch) -> Vec<String> {
    if spec.features.is_empty() {
        table
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| *n != spec.label)
            .collect()
    } else {
        spec.features.clone()
    }
}

/// Checks the label and features of `table` for `spec` and makes a text label numeric.
pub fn prepare(spec: &TrainSpec, task: Task, table: RecordBatch) -> Result<Prepared> {
    let clicks = algorithms::find(&spec.algorithm).is_ok_and(|a| a.learns_clicks());
    let without_label = clicks || task.learns_without_label();
    if spec.label.is_empty() && !without_label {
        return Err(MlError::InvalidData(format!(
            "{} needs a label column",
            spec.algorithm
        )));
    }
    if clicks && !spec.label.is_empty() {
        return Err(MlError::InvalidData(format!(
            "{} learns from clicks: its features are the user and item columns, and it takes \
             no label (here `{}`); for ratings, train 'als' on a bounded table",
            spec.algorithm, spec.label
        )));
    }
    if !spec.label.is_empty() {
        data::column(&table, &spec.label)?;
    }
    let features = feature_columns(spec, &table);
    let (mut numeric, mut text) = (Vec::new(), Vec::new());
    for name in &features {
        if name == &spec.label {
            return Err(MlError::InvalidData(format!(
                "the label `{name}` cannot also be a feature"
            )));
        }
        if data::is_text(&table, name)? {
            text.push(name.clone());
        } else {
            numeric.push(name.clone());
        }
    }
    if let (Some(name), None) = (text.first(), spec.encode) {
        // Name the value that made the column text: in a numeric column with one typo, that
        // is the typo, not the column's first value.
        let values = data::read_strings(&table, name)?;
        let example = values
            .iter()
            .enumerate()
            .find_map(|(row, v)| {
                v.as_ref()
                    .filter(|v| v.parse::<f64>().is_err())
                    .map(|v| (row, v))
            })
            .map(|(row, v)| format!("'{v}' at row {row}"))
            .unwrap_or_default();
        return Err(MlError::InvalidData(format!(
            "feature column `{name}` is text ({example}); encode it (`--encode onehot|index` \
             in riffle ml, 'encode' = 'onehot' in SQL) or leave it out of the features"
        )));
    }
    let (table, label_values) =
        if task == Task::Classification && data::is_text(&table, &spec.label)? {
            let indexer = StringIndexer {
                input_cols: vec![spec.label.clone()],
                output_cols: vec![spec.label.clone()],
                order: StringOrder::AlphabetAsc,
                handle_invalid: HandleInvalid::Error,
            };
            let model = indexer.fit(&table)?;
            let labels = model.labels[0].clone();
            (model.transform(&table)?, Some(labels))
        } else {
            (table, None)
        };
    Ok(Prepared {
        table,
        label_values,
        numeric,
        text,
    })
}

/// The pipeline of data preparation and the estimator of `spec` with `params`.
pub fn pipeline(
    spec: &TrainSpec,
    prepared: &Prepared,
    params: &[(String, String)],
) -> Result<Pipeline> {
    let mut pipeline = Pipeline::new();
    if let Some(impute) = spec.impute {
        if !prepared.numeric.is_empty() {
            pipeline = pipeline.estimator(Imputer {
                input_cols: prepared.numeric.clone(),
                output_cols: prepared.numeric.clone(),
                strategy: match impute {
                    Impute::Mean => ImputerStrategy::Mean,
                    Impute::Median => ImputerStrategy::Median,
                    Impute::MostFrequent => ImputerStrategy::MostFrequent,
                },
                fill_value: None,
            });
        }
        if !prepared.text.is_empty() {
            pipeline = pipeline.estimator(Imputer {
                input_cols: prepared.text.clone(),
                output_cols: prepared.text.clone(),
                strategy: ImputerStrategy::MostFrequent,
                fill_value: None,
            });
        }
    }
    let mut assembled = prepared.numeric.clone();
    if !prepared.text.is_empty() {
        let encoded: Vec<String> = prepared
            .text
            .iter()
            .map(|c| format!("{c}__encoded"))
            .collect();
        pipeline = match spec.encode {
            Some(Encoding::Index) => pipeline.estimator(StringIndexer {
                input_cols: prepared.text.clone(),
                output_cols: encoded.clone(),
                order: StringOrder::FrequencyDesc,
                handle_invalid: spec.unseen,
            }),
            _ => pipeline.estimator(OneHotEncoder {
                input_cols: prepared.text.clone(),
                output_cols: encoded.clone(),
                drop_last: false,
                handle_invalid: spec.unseen,
            }),
        };
        assembled.extend(encoded);
    }
    let names: Vec<&str> = assembled.iter().map(String::as_str).collect();
    let features_col = if spec.standardize {
        "features__raw"
    } else {
        "features"
    };
    pipeline = pipeline.model(VectorAssembler::new(&names, features_col));
    if spec.standardize {
        pipeline = pipeline.estimator(StandardScaler {
            input_col: features_col.into(),
            output_col: "features".into(),
            ..Default::default()
        });
    }
    let mut all = params.to_vec();
    if algorithms::find(&spec.algorithm)?.task != Task::Clustering {
        all.push(("label_col".into(), spec.label.clone()));
    }
    all.push(("features_col".into(), "features".into()));
    Ok(pipeline.boxed_estimator(algorithms::estimator(&spec.algorithm, &all)?))
}

/// Fits `spec` on all of `table`: the fitted pipeline and its card. With `cv_folds`, a
/// k-fold cross-validation of the whole pipeline comes first (stratified for classifiers;
/// accuracy for classifiers, RMSE otherwise), and its mean and spread go into the card's
/// metrics (`cv_<metric>_mean`, `cv_<metric>_std`, `cv_folds`).
pub fn fit(
    spec: &TrainSpec,
    table: RecordBatch,
    cv_folds: Option<usize>,
) -> Result<(PipelineModel, ModelCard)> {
    let algorithm = algorithms::find(&spec.algorithm)?;
    let prepared = prepare(spec, algorithm.task, table)?;
    let estimator = pipeline(spec, &prepared, &spec.params)?;
    let mut card = prepared.card(
        spec,
        algorithm.task,
        &spec.params,
        prepared.table.num_rows(),
    );
    card.algorithm = algorithm.name.to_string();
    if let Some(folds) = cv_folds {
        let classification = algorithm.task == Task::Classification;
        let metric = if classification {
            evaluation::Metric::Accuracy
        } else {
            evaluation::Metric::Rmse
        };
        let validator = crate::tuning::CrossValidator {
            folds,
            kind: if classification {
                crate::tuning::FoldKind::Stratified
            } else {
                crate::tuning::FoldKind::Random
            },
            seed: 0,
            metric,
            columns: ScoredColumns {
                label: spec.label.clone(),
                ..Default::default()
            },
        };
        let result = validator.evaluate(&[&estimator], &prepared.table)?;
        let name = metric.name();
        let metrics = &mut card.holdout_metrics;
        metrics.insert(format!("cv_{name}_mean"), result.mean[0]);
        metrics.insert(format!("cv_{name}_std"), result.std[0]);
        metrics.insert("cv_folds".into(), folds as f64);
    }
    let model = estimator.fit(&prepared.table)?;
    card.holdout_metrics.extend(model.training_metrics());
    Ok((model, card))
}

/// Text labels mapped to the class indices the model was trained on.
pub fn index_labels(card: &ModelCard, table: RecordBatch) -> Result<RecordBatch> {
    let Some(values) = &card.label_values else {
        return Ok(table);
    };
    let text = data::read_strings(&table, &card.label)?;
    let mut indices = Vec::with_capacity(text.len());
    for (row, v) in text.iter().enumerate() {
        let v = v.as_deref().unwrap_or("");
        let i = values.iter().position(|l| l == v).ok_or_else(|| {
            MlError::InvalidData(format!(
                "label '{v}' at row {row} of `{}` is not one the model knows ({})",
                card.label,
                values.join(", ")
            ))
        })?;
        indices.push(i as f64);
    }
    data::with_column(&table, &card.label, Arc::new(Float64Array::from(indices)))
}

/// `table` with the model's outputs added: `prediction`, and for classifiers
/// `probability` (and `prediction_label` for text labels); the intermediate columns of the
/// pipeline are left out.
pub fn predict(
    model: &PipelineModel,
    card: &ModelCard,
    table: &RecordBatch,
) -> Result<RecordBatch> {
    let mut scored = model.transform(table)?;
    if let Some(values) = &card.label_values {
        let labels = crate::feature::IndexToString {
            input_col: "prediction".into(),
            output_col: "prediction_label".into(),
            labels: values.clone(),
        };
        scored = labels.transform(&scored)?;
    }
    let keep: Vec<usize> = scored
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            table.schema().index_of(f.name()).is_ok()
                || ["prediction", "prediction_label", "probability"].contains(&f.name().as_str())
        })
        .map(|(i, _)| i)
        .collect();
    scored
        .project(&keep)
        .map_err(|e| MlError::InvalidData(e.to_string()))
}

/// The metrics of a scored table (`prediction` beside the true `label`) for `task`.
pub fn report(task: Task, scored: &RecordBatch, label: &str) -> Result<BTreeMap<String, f64>> {
    let columns = ScoredColumns {
        label: label.to_string(),
        ..Default::default()
    };
    match task {
        Task::Classification => evaluation::classification_report(scored, &columns),
        Task::Transformation => Err(MlError::InvalidData(
            "a feature transformer has no metrics: it transforms, it does not predict".into(),
        )),
        Task::AnomalyDetection => {
            // How well the scores rank the labelled anomalies (1) above the rest (0).
            if label.is_empty() {
                return Err(MlError::InvalidData(
                    "an anomaly detector is evaluated against a label column (1 = anomaly): \
                     train it with 'label' naming one, which it does not learn from"
                        .into(),
                ));
            }
            let truth = data::read_f64(scored, label)?;
            let scores = data::read_f64(scored, "prediction")?;
            let mut out = BTreeMap::new();
            out.insert(
                "roc_auc".to_string(),
                crate::metrics::roc_auc(&truth, &scores)?,
            );
            out.insert("rows".to_string(), truth.len() as f64);
            Ok(out)
        }
        Task::Clustering => {
            // Silhouette is quadratic in the rows: scored on the first rows only.
            let x = data::read_vectors(scored, "features")?;
            let clusters = data::read_f64(scored, "prediction")?;
            let n = x.rows().min(SILHOUETTE_ROWS);
            let rows: Vec<usize> = (0..n).collect();
            let labels: Vec<usize> = clusters[..n].iter().map(|c| *c as usize).collect();
            let mut out = BTreeMap::new();
            out.insert(
                "silhouette".to_string(),
                crate::metrics::silhouette(&x.select_rows(&rows), &labels)?,
            );
            out.insert("silhouette_rows".to_string(), n as f64);
            out.insert("rows".to_string(), x.rows() as f64);
            Ok(out)
        }
        Task::Recommendation if label.is_empty() => Err(MlError::InvalidData(
            "a recommender learning from clicks has no label to be evaluated against: its \
             score is its progressive hit-rate (DESCRIBE MODEL), or compare ML_RECOMMEND's \
             lists with the items clicked next"
                .into(),
        )),
        Task::Recommendation => {
            // Users or items unseen in training get no prediction (NaN, Spark's cold-start
            // rule): the error is measured on the rows that have one, and the rest counted.
            let predictions = data::read_f64_nullable(scored, "prediction")?;
            let keep: Vec<usize> = (0..predictions.len())
                .filter(|&i| predictions[i].is_some())
                .collect();
            let scored_rows = data::take_rows(scored, &keep)?;
            let mut out = evaluation::regression_report(&scored_rows, &columns)?;
            out.insert(
                "rows_without_prediction".into(),
                (predictions.len() - keep.len()) as f64,
            );
            Ok(out)
        }
        _ => evaluation::regression_report(scored, &columns),
    }
}

/// Rows a clustering's silhouette is scored on.
pub const SILHOUETTE_ROWS: usize = 5_000;

/// Scores `table` (which has the label column) and returns the metrics of the card's task.
pub fn evaluate(
    model: &PipelineModel,
    card: &ModelCard,
    table: RecordBatch,
) -> Result<BTreeMap<String, f64>> {
    let table = index_labels(card, table)?;
    let scored = model.transform(&table)?;
    report(card.task, &scored, &card.label)
}
