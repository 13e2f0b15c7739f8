//! Categories to numbers and back: label encoding ([`StringIndexer`], [`IndexToString`]) and
//! one-hot encoding ([`OneHotEncoder`]).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use serde::{Deserialize, Serialize};

use super::{drop_rows, HandleInvalid};
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

fn check_columns(inputs: &[String], outputs: &[String]) -> Result<()> {
    if inputs.is_empty() {
        return Err(MlError::param("input_cols", "name at least one column"));
    }
    if inputs.len() != outputs.len() {
        return Err(MlError::param(
            "output_cols",
            format!(
                "{} input columns need {} output columns, got {}",
                inputs.len(),
                inputs.len(),
                outputs.len()
            ),
        ));
    }
    Ok(())
}

/// How [`StringIndexer`] numbers the categories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StringOrder {
    /// Most frequent first (index 0), ties alphabetically — Spark's default.
    #[default]
    FrequencyDesc,
    /// Alphabetically — scikit-learn's `LabelEncoder`/`OrdinalEncoder`.
    AlphabetAsc,
}

/// Label encoding: each distinct value of a column (text, or numbers read as text) becomes an
/// index `0..k` in a Float64 column. Missing values and categories not seen in training
/// follow `handle_invalid` (keep: index `k`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StringIndexer {
    /// Columns to encode.
    pub input_cols: Vec<String>,
    /// Index columns written, one per input.
    pub output_cols: Vec<String>,
    /// Numbering order.
    pub order: StringOrder,
    /// Unseen categories and missing values.
    pub handle_invalid: HandleInvalid,
}

impl Default for StringIndexer {
    fn default() -> Self {
        StringIndexer {
            input_cols: Vec::new(),
            output_cols: Vec::new(),
            order: StringOrder::FrequencyDesc,
            handle_invalid: HandleInvalid::Error,
        }
    }
}

impl Estimator for StringIndexer {
    type Model = StringIndexerModel;

    fn fit(&self, table: &RecordBatch) -> Result<StringIndexerModel> {
        check_columns(&self.input_cols, &self.output_cols)?;
        let mut labels = Vec::with_capacity(self.input_cols.len());
        for name in &self.input_cols {
            let values = data::read_strings(table, name)?;
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for v in values.iter().flatten() {
                *counts.entry(v.as_str()).or_default() += 1;
            }
            let mut distinct: Vec<(&str, usize)> = counts.into_iter().collect();
            match self.order {
                StringOrder::FrequencyDesc => {
                    distinct.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)))
                }
                StringOrder::AlphabetAsc => distinct.sort_by(|a, b| a.0.cmp(b.0)),
            }
            if distinct.is_empty() {
                return Err(MlError::data(format!(
                    "column `{name}` has no values to index"
                )));
            }
            labels.push(distinct.into_iter().map(|(s, _)| s.to_string()).collect());
        }
        Ok(StringIndexerModel {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            handle_invalid: self.handle_invalid,
            labels,
        })
    }
}

/// A fitted [`StringIndexer`]: the categories of each column, index order.
#[derive(Clone, Debug, PartialEq)]
pub struct StringIndexerModel {
    /// Columns read.
    pub input_cols: Vec<String>,
    /// Columns written.
    pub output_cols: Vec<String>,
    /// Unseen categories and missing values.
    pub handle_invalid: HandleInvalid,
    /// Per column, the category of each index.
    pub labels: Vec<Vec<String>>,
}

impl Transformer for StringIndexerModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let mut drop = vec![false; table.num_rows()];
        let mut out = table.clone();
        for ((input, output), labels) in self
            .input_cols
            .iter()
            .zip(&self.output_cols)
            .zip(&self.labels)
        {
            let index: HashMap<&str, usize> = labels
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i))
                .collect();
            let values = data::read_strings(table, input)?;
            let mut indices = Vec::with_capacity(values.len());
            for (row, v) in values.iter().enumerate() {
                match v.as_deref().and_then(|s| index.get(s)) {
                    Some(i) => indices.push(*i as f64),
                    None => match self.handle_invalid {
                        HandleInvalid::Error => {
                            return Err(MlError::data(match v {
                                Some(s) => format!(
                                    "column `{input}` has the category '{s}' at row {row}, unseen in training; set handle_invalid to keep or skip"
                                ),
                                None => format!(
                                    "column `{input}` has a missing value at row {row}; impute it or set handle_invalid to keep or skip"
                                ),
                            }))
                        }
                        HandleInvalid::Skip => {
                            drop[row] = true;
                            indices.push(f64::NAN);
                        }
                        HandleInvalid::Keep => indices.push(labels.len() as f64),
                    },
                }
            }
            out = data::with_column(&out, output, Arc::new(Float64Array::from(indices)))?;
        }
        drop_rows(&out, &drop)
    }
}

#[derive(Serialize, Deserialize)]
struct IndexerMeta {
    input_cols: Vec<String>,
    output_cols: Vec<String>,
    handle_invalid: HandleInvalid,
}

impl Model for StringIndexerModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = IndexerMeta {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            handle_invalid: self.handle_invalid,
        };
        let mut parts = ModelParts::new(Self::KIND, &meta)?;
        for (i, labels) in self.labels.iter().enumerate() {
            parts = parts.with_strings(&format!("labels_{i}"), labels);
        }
        Ok(parts)
    }
}

impl Loadable for StringIndexerModel {
    const KIND: &'static str = "StringIndexerModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: IndexerMeta = parts.meta()?;
        let labels = (0..meta.input_cols.len())
            .map(|i| parts.strings(&format!("labels_{i}")))
            .collect::<Result<_>>()?;
        Ok(StringIndexerModel {
            input_cols: meta.input_cols,
            output_cols: meta.output_cols,
            handle_invalid: meta.handle_invalid,
            labels,
        })
    }
}

/// The inverse of [`StringIndexer`]: an index column back to its categories (for example to
/// turn predicted class indices into the original labels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexToString {
    /// Index column read.
    pub input_col: String,
    /// Text column written.
    pub output_col: String,
    /// Category of each index (a [`StringIndexerModel`]'s `labels[i]`).
    pub labels: Vec<String>,
}

impl Transformer for IndexToString {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let indices = data::read_f64(table, &self.input_col)?;
        let mut out = Vec::with_capacity(indices.len());
        for (row, v) in indices.iter().enumerate() {
            let label = (v.fract() == 0.0 && *v >= 0.0)
                .then(|| self.labels.get(*v as usize))
                .flatten()
                .ok_or_else(|| {
                    MlError::data(format!(
                        "column `{}` has the index {v} at row {row}, but there are {} labels",
                        self.input_col,
                        self.labels.len()
                    ))
                })?;
            out.push(label.as_str());
        }
        data::with_column(table, &self.output_col, Arc::new(StringArray::from(out)))
    }
}

impl Model for IndexToString {
    fn parts(&self) -> Result<ModelParts> {
        #[derive(Serialize)]
        struct Meta<'a> {
            input_col: &'a str,
            output_col: &'a str,
        }
        Ok(ModelParts::new(
            Self::KIND,
            &Meta {
                input_col: &self.input_col,
                output_col: &self.output_col,
            },
        )?
        .with_strings("labels", &self.labels))
    }
}

impl Loadable for IndexToString {
    const KIND: &'static str = "IndexToString";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        #[derive(Deserialize)]
        struct Meta {
            input_col: String,
            output_col: String,
        }
        let meta: Meta = parts.meta()?;
        Ok(IndexToString {
            input_col: meta.input_col,
            output_col: meta.output_col,
            labels: parts.strings("labels")?,
        })
    }
}

/// One-hot encoding, as scikit-learn's `OneHotEncoder`: each input column (text or numbers)
/// becomes a vector column with one slot per category seen in training (categories sorted:
/// numerically when every category is a number, else as text). A missing value or unseen
/// category follows `handle_invalid`; keep gives a vector of zeros (scikit-learn's
/// `handle_unknown='ignore'`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OneHotEncoder {
    /// Columns to encode.
    pub input_cols: Vec<String>,
    /// Vector columns written, one per input.
    pub output_cols: Vec<String>,
    /// Drop the last category's slot (it is implied by all zeros), as Spark's `dropLast`.
    pub drop_last: bool,
    /// Unseen categories and missing values.
    pub handle_invalid: HandleInvalid,
}

impl Estimator for OneHotEncoder {
    type Model = OneHotEncoderModel;

    fn fit(&self, table: &RecordBatch) -> Result<OneHotEncoderModel> {
        check_columns(&self.input_cols, &self.output_cols)?;
        let mut categories = Vec::new();
        for name in &self.input_cols {
            let mut distinct: Vec<String> = data::read_strings(table, name)?
                .into_iter()
                .flatten()
                .collect();
            distinct.sort();
            distinct.dedup();
            if distinct.is_empty() {
                return Err(MlError::data(format!(
                    "column `{name}` has no values to encode"
                )));
            }
            let numbers: Option<Vec<f64>> =
                distinct.iter().map(|s| s.parse::<f64>().ok()).collect();
            if let Some(numbers) = numbers {
                let mut pairs: Vec<(f64, String)> = numbers.into_iter().zip(distinct).collect();
                pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                distinct = pairs.into_iter().map(|(_, s)| s).collect();
            }
            categories.push(distinct);
        }
        Ok(OneHotEncoderModel {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            drop_last: self.drop_last,
            handle_invalid: self.handle_invalid,
            categories,
        })
    }
}

/// A fitted [`OneHotEncoder`].
#[derive(Clone, Debug, PartialEq)]
pub struct OneHotEncoderModel {
    /// Columns read.
    pub input_cols: Vec<String>,
    /// Vector columns written.
    pub output_cols: Vec<String>,
    /// Whether the last category has no slot.
    pub drop_last: bool,
    /// Unseen categories and missing values.
    pub handle_invalid: HandleInvalid,
    /// Per column, the category of each slot.
    pub categories: Vec<Vec<String>>,
}

impl Transformer for OneHotEncoderModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let n = table.num_rows();
        let mut drop = vec![false; n];
        let mut out = table.clone();
        for ((input, output), categories) in self
            .input_cols
            .iter()
            .zip(&self.output_cols)
            .zip(&self.categories)
        {
            let slot: HashMap<&str, usize> = categories
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i))
                .collect();
            let width = categories.len() - usize::from(self.drop_last);
            let mut m = Matrix::zeros(n, width);
            for (row, v) in data::read_strings(table, input)?.iter().enumerate() {
                match v.as_deref().and_then(|s| slot.get(s)) {
                    Some(&k) => {
                        if k < width {
                            m.row_mut(row)[k] = 1.0;
                        }
                    }
                    None => match self.handle_invalid {
                        HandleInvalid::Error => {
                            return Err(MlError::data(match v {
                                Some(s) => format!(
                                    "column `{input}` has the category '{s}' at row {row}, unseen in training; set handle_invalid to keep (all zeros) or skip"
                                ),
                                None => format!(
                                    "column `{input}` has a missing value at row {row}; impute it or set handle_invalid to keep or skip"
                                ),
                            }))
                        }
                        HandleInvalid::Skip => drop[row] = true,
                        HandleInvalid::Keep => {}
                    },
                }
            }
            out = data::with_column(&out, output, data::vector_array(&m)?)?;
        }
        drop_rows(&out, &drop)
    }
}

#[derive(Serialize, Deserialize)]
struct OneHotMeta {
    input_cols: Vec<String>,
    output_cols: Vec<String>,
    drop_last: bool,
    handle_invalid: HandleInvalid,
}

impl Model for OneHotEncoderModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = OneHotMeta {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            drop_last: self.drop_last,
            handle_invalid: self.handle_invalid,
        };
        let mut parts = ModelParts::new(Self::KIND, &meta)?;
        for (i, c) in self.categories.iter().enumerate() {
            parts = parts.with_strings(&format!("categories_{i}"), c);
        }
        Ok(parts)
    }
}

impl Loadable for OneHotEncoderModel {
    const KIND: &'static str = "OneHotEncoderModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: OneHotMeta = parts.meta()?;
        let categories = (0..meta.input_cols.len())
            .map(|i| parts.strings(&format!("categories_{i}")))
            .collect::<Result<_>>()?;
        Ok(OneHotEncoderModel {
            input_cols: meta.input_cols,
            output_cols: meta.output_cols,
            drop_last: meta.drop_last,
            handle_invalid: meta.handle_invalid,
            categories,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field, Schema};

    fn cities(values: Vec<Option<&str>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("city", DataType::Utf8, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(values))]).unwrap()
    }

    #[test]
    fn indices_follow_frequency_and_unseen_values_follow_the_policy() {
        let train = cities(vec![
            Some("b"),
            Some("a"),
            Some("b"),
            Some("c"),
            Some("a"),
            Some("b"),
        ]);
        let indexer = StringIndexer {
            input_cols: vec!["city".into()],
            output_cols: vec!["city_index".into()],
            ..Default::default()
        };
        let model = indexer.fit(&train).unwrap();
        assert_eq!(model.labels[0], vec!["b", "a", "c"]);
        let test = cities(vec![Some("c"), Some("z"), None]);
        let err = model.transform(&test).unwrap_err().to_string();
        assert!(err.contains("'z' at row 1"), "{err}");
        let keep = StringIndexerModel {
            handle_invalid: HandleInvalid::Keep,
            ..model.clone()
        };
        let out = data::read_f64(&keep.transform(&test).unwrap(), "city_index").unwrap();
        assert_eq!(out, vec![2.0, 3.0, 3.0]);
        let skip = StringIndexerModel {
            handle_invalid: HandleInvalid::Skip,
            ..model.clone()
        };
        assert_eq!(skip.transform(&test).unwrap().num_rows(), 1);
        let back = IndexToString {
            input_col: "city_index".into(),
            output_col: "again".into(),
            labels: model.labels[0].clone(),
        };
        let again = back.transform(&model.transform(&train).unwrap()).unwrap();
        assert_eq!(
            data::read_strings(&again, "again").unwrap(),
            data::read_strings(&train, "city").unwrap()
        );
    }

    #[test]
    fn one_hot_slots_are_sorted_and_unknowns_can_be_zeros() {
        let train = cities(vec![Some("paris"), Some("berlin"), Some("rome")]);
        let encoder = OneHotEncoder {
            input_cols: vec!["city".into()],
            output_cols: vec!["city_vec".into()],
            handle_invalid: HandleInvalid::Keep,
            ..Default::default()
        };
        let model = encoder.fit(&train).unwrap();
        let out = data::read_vectors(
            &model
                .transform(&cities(vec![Some("rome"), Some("oslo")]))
                .unwrap(),
            "city_vec",
        )
        .unwrap();
        assert_eq!(out.row(0), &[0.0, 0.0, 1.0]);
        assert_eq!(out.row(1), &[0.0, 0.0, 0.0]);
    }
}
