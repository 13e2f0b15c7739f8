//! Class labels of classifiers, and the probability columns they write.
//!
//! Labels are numbers (strings are indexed first, see [`crate::feature::StringIndexer`]); a
//! classifier knows the labels it saw in training, ascending, and writes its probabilities in
//! that order into a vector column whose Arrow field carries the labels as metadata
//! (`riffle.classes`), so that evaluation knows which column belongs to which label.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema};

use crate::data::{self, Matrix};
use crate::error::{MlError, Result};

/// Field-metadata key naming the labels of a probability column's entries.
pub const CLASSES_METADATA: &str = "riffle.classes";

/// The distinct labels of a classification problem, ascending.
#[derive(Clone, Debug, PartialEq)]
pub struct Classes {
    labels: Vec<f64>,
}

impl Classes {
    /// The distinct values of `labels` (column `column`), refusing fewer than two and labels
    /// that are not whole numbers.
    pub fn from_labels(labels: &[f64], column: &str) -> Result<Self> {
        let mut distinct: Vec<f64> = labels.to_vec();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if distinct.len() < 2 {
            return Err(MlError::data(format!(
                "`{column}` holds a single class ({}) in the training table: a classifier needs at least two",
                distinct.first().map_or("none".to_string(), |v| v.to_string())
            )));
        }
        if let Some(v) = distinct.iter().find(|v| v.fract() != 0.0) {
            return Err(MlError::data(format!(
                "`{column}` holds the label {v}, which is not a whole number: is it a regression target?"
            )));
        }
        Ok(Classes { labels: distinct })
    }

    /// Classes with these labels (ascending, distinct).
    pub fn from_sorted(labels: Vec<f64>) -> Result<Self> {
        if labels.windows(2).any(|w| w[0] >= w[1]) || labels.len() < 2 {
            return Err(MlError::data(
                "class labels must be at least two, ascending and distinct",
            ));
        }
        Ok(Classes { labels })
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always false: there are at least two classes.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels, ascending.
    pub fn labels(&self) -> &[f64] {
        &self.labels
    }

    /// The label of class `i`.
    pub fn label(&self, i: usize) -> f64 {
        self.labels[i]
    }

    /// The class index of each label; a label not seen in training is an error naming it.
    pub fn indices(&self, labels: &[f64]) -> Result<Vec<usize>> {
        let index: HashMap<u64, usize> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, v)| (v.to_bits(), i))
            .collect();
        labels
            .iter()
            .enumerate()
            .map(|(row, v)| {
                index.get(&v.to_bits()).copied().ok_or_else(|| {
                    MlError::data(format!(
                        "label {v} at row {row} is not one of the classes {:?}",
                        self.labels
                    ))
                })
            })
            .collect()
    }
}

/// Index of the largest value (the first of ties).
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// `table` with the label of each row's largest score (the first of ties) as the column
/// `prediction_col`.
pub fn with_predicted_labels(
    table: &RecordBatch,
    prediction_col: &str,
    scores: &Matrix,
    classes: &Classes,
) -> Result<RecordBatch> {
    let predictions: Vec<f64> = scores
        .row_iter()
        .map(|row| classes.label(argmax(row)))
        .collect();
    data::with_column(
        table,
        prediction_col,
        Arc::new(arrow_array::Float64Array::from(predictions)),
    )
}

/// What a classifier writes: the predicted label (the largest score's) as `prediction_col` and
/// the scores, labelled with `classes`, as the vector column `scores_col`.
pub fn with_predictions_and_scores(
    table: &RecordBatch,
    prediction_col: &str,
    scores_col: &str,
    scores: &Matrix,
    classes: &Classes,
) -> Result<RecordBatch> {
    let table = with_predicted_labels(table, prediction_col, scores, classes)?;
    with_probabilities(&table, scores_col, scores, classes)
}

/// `table` with `probabilities` as the vector column `name`, labelled with `classes`.
pub fn with_probabilities(
    table: &RecordBatch,
    name: &str,
    probabilities: &Matrix,
    classes: &Classes,
) -> Result<RecordBatch> {
    let array = data::vector_array(probabilities)?;
    let table = data::with_column(table, name, array)?;
    let schema = table.schema();
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == name {
                let labels = serde_json::to_string(classes.labels()).unwrap_or_default();
                Arc::new(
                    f.as_ref()
                        .clone()
                        .with_metadata([(CLASSES_METADATA.to_string(), labels)].into()),
                )
            } else {
                f.clone()
            }
        })
        .collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        table.columns().to_vec(),
    )?)
}

/// The probability column `name` and the labels of its entries (from the field metadata).
pub fn read_probabilities(table: &RecordBatch, name: &str) -> Result<(Matrix, Classes)> {
    let matrix = data::read_vectors(table, name)?;
    let schema = table.schema();
    let field = schema.field_with_name(name)?;
    let labels: Vec<f64> = field
        .metadata()
        .get(CLASSES_METADATA)
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            MlError::data(format!(
                "column `{name}` does not say which classes its probabilities belong to"
            ))
        })?;
    let classes = Classes::from_sorted(labels)?;
    if classes.len() != matrix.cols() {
        return Err(MlError::data(format!(
            "column `{name}` has {} probabilities per row for {} classes",
            matrix.cols(),
            classes.len()
        )));
    }
    Ok((matrix, classes))
}
