//! Feature transformers fitted as models of their own, which SQL's `CREATE MODEL` names like
//! any algorithm and `ML_PREDICT` applies to rows:
//!
//! - [`VECTOR_TRANSFORMERS`] (scalers, the normalizer, the polynomial expansion, PCA,
//!   selectors, the outlier clipper, IDF) read the feature columns assembled into one vector
//!   and give a vector;
//! - [`COLUMN_TRANSFORMERS`] read the columns themselves: the string indexer, one-hot
//!   encoder, imputer and quantile discretizer (fitted), and the tokenizer, hashing TF and
//!   feature hasher (which, like the normalizer and the polynomial expansion, learn nothing:
//!   [`STATELESS_TRANSFORMERS`]).
//!
//! What a row becomes is [`output`]: a number (an index, a filled value or a bucket of one
//! column), a vector (one-hot, hashed, or several columns' numbers side by side), or the
//! tokens of a text.

use arrow_array::RecordBatch;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::algorithms::{self, configure, Task};
use crate::card::ModelCard;
use crate::error::{MlError, Result};
use crate::feature::{
    FeatureHasher, HashingTf, Imputer, Normalizer, OneHotEncoder, PolynomialExpansion,
    QuantileDiscretizer, StringIndexer, Tokenizer, VectorAssembler,
};
use crate::tabular::{feature_columns, prepare, TrainSpec};
use crate::{data, Estimator, Pipeline, PipelineModel};

/// The feature transformers that read one vector column and write one.
pub const VECTOR_TRANSFORMERS: [&str; 11] = [
    "standard-scaler",
    "min-max-scaler",
    "max-abs-scaler",
    "robust-scaler",
    "normalizer",
    "polynomial-expansion",
    "pca",
    "variance-threshold-selector",
    "univariate-feature-selector",
    "outlier-clipper",
    "idf",
];

/// The transformers that read columns (text or numbers) rather than one vector.
pub const COLUMN_TRANSFORMERS: [&str; 7] = [
    "string-indexer",
    "one-hot-encoder",
    "imputer",
    "quantile-discretizer",
    "tokenizer",
    "hashing-tf",
    "feature-hasher",
];

/// The transformers that learn nothing from the rows: only the columns are taken from the
/// query, so they can be made from an unbounded one.
pub const STATELESS_TRANSFORMERS: [&str; 5] = [
    "tokenizer",
    "hashing-tf",
    "feature-hasher",
    "normalizer",
    "polynomial-expansion",
];

/// The column a transformer's pipeline writes its vector or number into.
pub const VECTOR_COL: &str = "features";

/// The column a tokenizer's pipeline writes its tokens into.
pub const TOKENS_COL: &str = "tokens";

/// What a standalone transformer makes of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransformOutput {
    /// One number (the vector column holds exactly one value per row).
    Number,
    /// A vector of numbers.
    Vector,
    /// A list of tokens.
    Tokens,
}

/// Whether `algorithm` is a standalone transformer.
pub fn is_transformer(algorithm: &str) -> bool {
    VECTOR_TRANSFORMERS.contains(&algorithm) || COLUMN_TRANSFORMERS.contains(&algorithm)
}

/// What transformer `algorithm` fitted on `inputs` columns makes of a row (`None` for an
/// algorithm that is not a transformer).
pub fn output(algorithm: &str, inputs: usize) -> Option<TransformOutput> {
    Some(match algorithm {
        "tokenizer" => TransformOutput::Tokens,
        "string-indexer" | "imputer" | "quantile-discretizer" if inputs == 1 => {
            TransformOutput::Number
        }
        a if is_transformer(a) => TransformOutput::Vector,
        _ => return None,
    })
}

/// Fits transformer `spec.algorithm` on the feature columns of `table` (a label, if named,
/// is left out): a pipeline whose output is the column [`VECTOR_COL`] (or [`TOKENS_COL`] for
/// the tokenizer), and its card (task [`Task::Transformation`]).
pub fn fit_transformer(spec: &TrainSpec, table: RecordBatch) -> Result<(PipelineModel, ModelCard)> {
    let algorithm = spec.algorithm.as_str();
    if !is_transformer(algorithm) {
        let all: Vec<&str> = VECTOR_TRANSFORMERS
            .iter()
            .chain(&COLUMN_TRANSFORMERS)
            .copied()
            .collect();
        return Err(MlError::param(
            "algorithm",
            format!(
                "'{algorithm}' is not a feature transformer; transformers: {}",
                all.join(", ")
            ),
        ));
    }
    if VECTOR_TRANSFORMERS.contains(&algorithm) {
        let prepared = prepare(spec, Task::Transformation, table)?;
        if let Some(text) = prepared.text.first() {
            return Err(MlError::InvalidData(format!(
                "feature column `{text}` is text: {algorithm} takes numeric columns"
            )));
        }
        let names: Vec<&str> = prepared.numeric.iter().map(String::as_str).collect();
        let assembled = Pipeline::new().model(VectorAssembler::new(&names, "features__in"));
        let pipeline = match algorithm {
            "normalizer" => {
                let mut t: Normalizer = configured(spec)?;
                t.input_col = "features__in".into();
                t.output_col = VECTOR_COL.into();
                assembled.model(t)
            }
            "polynomial-expansion" => {
                let mut t: PolynomialExpansion = configured(spec)?;
                t.input_col = "features__in".into();
                t.output_col = VECTOR_COL.into();
                assembled.model(t)
            }
            _ => {
                let mut params = spec.params.clone();
                if algorithm == "univariate-feature-selector" {
                    // It scores each feature against the label.
                    if spec.label.is_empty() {
                        return Err(MlError::param(
                            "label",
                            "univariate-feature-selector scores features against a label: \
                             name it ('label' = '...')",
                        ));
                    }
                    params.push(("features_col".into(), "features__in".into()));
                    params.push(("label_col".into(), spec.label.clone()));
                } else {
                    params.push(("input_col".into(), "features__in".into()));
                }
                params.push(("output_col".into(), VECTOR_COL.into()));
                assembled.boxed_estimator(algorithms::estimator(algorithm, &params)?)
            }
        };
        let model = pipeline.fit(&prepared.table)?;
        let mut card = prepared.card(
            spec,
            Task::Transformation,
            &spec.params,
            prepared.table.num_rows(),
        );
        if algorithm != "univariate-feature-selector" {
            // A label named for the others is only left out of the features.
            card.label = String::new();
        }
        return Ok((model, card));
    }
    // Column transformers read text as it is (the vector ones' preparation refuses it).
    let features = feature_columns(spec, &table);
    let mut text = Vec::new();
    for name in &features {
        if data::is_text(&table, name)? {
            text.push(name.clone());
        }
    }
    let model = column_pipeline(spec, &features, &text)?.fit(&table)?;
    let card = ModelCard {
        algorithm: algorithm.to_string(),
        task: Task::Transformation,
        label: String::new(),
        features,
        label_values: None,
        params: spec.params.iter().cloned().collect(),
        trained_rows: table.num_rows(),
        holdout_metrics: Default::default(),
    };
    Ok((model, card))
}

/// The parameters of column transformer `T` from `spec`, refusing the column settings (the
/// columns are the query's) and `handle_invalid = skip` (a row cannot be dropped from a
/// function's result).
fn configured<T: Default + Serialize + DeserializeOwned>(spec: &TrainSpec) -> Result<T> {
    for (key, value) in &spec.params {
        if ["input_col", "input_cols", "output_col", "output_cols"].contains(&key.as_str()) {
            return Err(MlError::param(
                key,
                "the transformer reads the query's columns (or 'features') and its result is \
                 ML_PREDICT's; leave the column parameters out",
            ));
        }
        if key == "handle_invalid" && value.trim() == "skip" {
            return Err(MlError::param(
                key,
                "'skip' would drop rows, which a function's result cannot do: use 'keep' or \
                 filter the rows in the query",
            ));
        }
    }
    configure(&spec.algorithm, &spec.params)
}

/// The pipeline of column transformer `spec.algorithm` over `features` (of which `text` are
/// text columns).
fn column_pipeline(spec: &TrainSpec, features: &[String], text: &[String]) -> Result<Pipeline> {
    let algorithm = spec.algorithm.as_str();
    let one = || match features {
        [only] => Ok(only.clone()),
        _ => Err(MlError::InvalidData(format!(
            "{algorithm} reads one column; the query gives {} ({})",
            features.len(),
            features.join(", ")
        ))),
    };
    let outputs: Vec<String> = features.iter().map(|f| format!("{f}__out")).collect();
    let assembled = |pipeline: Pipeline| {
        let names: Vec<&str> = outputs.iter().map(String::as_str).collect();
        pipeline.model(VectorAssembler::new(&names, VECTOR_COL))
    };
    Ok(match algorithm {
        "tokenizer" => {
            let mut t: Tokenizer = configured(spec)?;
            t.input_col = one()?;
            t.output_col = TOKENS_COL.into();
            Pipeline::new().model(t)
        }
        "hashing-tf" => {
            let mut t: HashingTf = configured(spec)?;
            t.input_col = one()?;
            t.output_col = VECTOR_COL.into();
            Pipeline::new().model(t)
        }
        "feature-hasher" => {
            let mut t: FeatureHasher = configured(spec)?;
            t.input_cols = features.to_vec();
            t.output_col = VECTOR_COL.into();
            Pipeline::new().model(t)
        }
        "string-indexer" => {
            let mut t: StringIndexer = configured(spec)?;
            t.input_cols = features.to_vec();
            t.output_cols = outputs.clone();
            assembled(Pipeline::new().estimator(t))
        }
        "one-hot-encoder" => {
            let mut t: OneHotEncoder = configured(spec)?;
            t.input_cols = features.to_vec();
            t.output_cols = outputs.clone();
            assembled(Pipeline::new().estimator(t))
        }
        "imputer" => {
            if let Some(column) = text.first() {
                return Err(MlError::InvalidData(format!(
                    "imputer fills numeric columns; `{column}` is text (fill text in the \
                     query with COALESCE)"
                )));
            }
            let mut t: Imputer = configured(spec)?;
            t.input_cols = features.to_vec();
            t.output_cols = outputs.clone();
            assembled(Pipeline::new().estimator(t))
        }
        "quantile-discretizer" => {
            let mut t: QuantileDiscretizer = configured(spec)?;
            t.input_cols = features.to_vec();
            t.output_cols = outputs.clone();
            assembled(Pipeline::new().estimator(t))
        }
        other => {
            return Err(MlError::param(
                "algorithm",
                format!("'{other}' is not a column transformer"),
            ))
        }
    })
}
