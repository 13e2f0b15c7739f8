//! Filling missing values (nulls and NaN) with a statistic of the training column.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use serde::{Deserialize, Serialize};

use super::scalers::quantile;
use crate::data;
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// The statistic an [`Imputer`] fills with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImputerStrategy {
    /// The mean of the present values (numeric columns).
    #[default]
    Mean,
    /// The median of the present values (numeric columns).
    Median,
    /// The most frequent value, the smallest of ties (numeric and text columns).
    MostFrequent,
    /// The `fill_value` given.
    Constant,
}

/// A value an [`ImputerModel`] writes into the gaps of one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FillValue {
    /// For a numeric column.
    Number(f64),
    /// For a text column.
    Text(String),
}

/// Fills missing values (null or NaN), as scikit-learn's `SimpleImputer`. Numeric columns
/// come out as Float64, text columns as text. A column with no value at all in training is an
/// error (there is nothing to compute a statistic from).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Imputer {
    /// Columns to fill.
    pub input_cols: Vec<String>,
    /// Columns written (may equal the inputs to replace them).
    pub output_cols: Vec<String>,
    /// What to fill with.
    pub strategy: ImputerStrategy,
    /// The value for [`ImputerStrategy::Constant`].
    pub fill_value: Option<FillValue>,
}

impl Estimator for Imputer {
    type Model = ImputerModel;

    fn fit(&self, table: &RecordBatch) -> Result<ImputerModel> {
        if self.input_cols.is_empty() || self.input_cols.len() != self.output_cols.len() {
            return Err(MlError::param(
                "output_cols",
                "name one output column per input column (at least one)",
            ));
        }
        let mut fills = Vec::with_capacity(self.input_cols.len());
        for name in &self.input_cols {
            let text = data::is_text(table, name)?;
            let fill = match (self.strategy, text) {
                (ImputerStrategy::Constant, _) => match (&self.fill_value, text) {
                    (Some(FillValue::Number(v)), false) => FillValue::Number(*v),
                    (Some(FillValue::Text(s)), true) => FillValue::Text(s.clone()),
                    (Some(FillValue::Number(v)), true) => FillValue::Text(v.to_string()),
                    (Some(FillValue::Text(s)), false) => FillValue::Number(s.parse().map_err(|_| {
                        MlError::param("fill_value", format!("'{s}' is not a number, and column `{name}` is numeric"))
                    })?),
                    (None, _) => return Err(MlError::param("fill_value", "the constant strategy needs a fill_value")),
                },
                (ImputerStrategy::Mean | ImputerStrategy::Median, true) => {
                    return Err(MlError::param(
                        "strategy",
                        format!("column `{name}` is text: impute it with most-frequent or constant, not {:?}", self.strategy),
                    ))
                }
                (ImputerStrategy::MostFrequent, true) => {
                    let values = data::read_strings(table, name)?;
                    let mut counts: HashMap<&str, usize> = HashMap::new();
                    for v in values.iter().flatten() {
                        *counts.entry(v.as_str()).or_default() += 1;
                    }
                    let best = counts
                        .into_iter()
                        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                        .ok_or_else(|| no_values(name))?;
                    FillValue::Text(best.0.to_string())
                }
                (strategy, false) => {
                    let mut present: Vec<f64> = data::read_f64_nullable(table, name)?.into_iter().flatten().collect();
                    if present.is_empty() {
                        return Err(no_values(name));
                    }
                    present.sort_by(f64::total_cmp);
                    FillValue::Number(match strategy {
                        ImputerStrategy::Median => quantile(&present, 0.5),
                        ImputerStrategy::MostFrequent => most_frequent(&present),
                        _ => present.iter().sum::<f64>() / present.len() as f64,
                    })
                }
            };
            fills.push(fill);
        }
        Ok(ImputerModel {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            fills,
        })
    }
}

fn no_values(name: &str) -> MlError {
    MlError::data(format!(
        "column `{name}` has no values in the training table, so nothing to impute from"
    ))
}

/// The most frequent of ascending `sorted`, the smallest of ties.
fn most_frequent(sorted: &[f64]) -> f64 {
    let (mut best, mut best_count) = (sorted[0], 0);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if j - i > best_count {
            best = sorted[i];
            best_count = j - i;
        }
        i = j;
    }
    best
}

/// A fitted [`Imputer`]: the value for each column's gaps.
#[derive(Clone, Debug, PartialEq)]
pub struct ImputerModel {
    /// Columns read.
    pub input_cols: Vec<String>,
    /// Columns written.
    pub output_cols: Vec<String>,
    /// The fill value of each column.
    pub fills: Vec<FillValue>,
}

impl Transformer for ImputerModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let mut out = table.clone();
        for ((input, output), fill) in self
            .input_cols
            .iter()
            .zip(&self.output_cols)
            .zip(&self.fills)
        {
            let array: ArrayRef = match fill {
                FillValue::Number(v) => {
                    let values = data::read_f64_nullable(table, input)?;
                    Arc::new(Float64Array::from_iter_values(
                        values.into_iter().map(|x| x.unwrap_or(*v)),
                    ))
                }
                FillValue::Text(s) => {
                    let values = data::read_strings(table, input)?;
                    Arc::new(StringArray::from_iter_values(
                        values.iter().map(|x| x.as_deref().unwrap_or(s)),
                    ))
                }
            };
            out = data::with_column(&out, output, array)?;
        }
        Ok(out)
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    input_cols: Vec<String>,
    output_cols: Vec<String>,
    /// Per column: true when the fill is text (then it is in `texts`, else in `numbers`).
    text: Vec<bool>,
}

impl Model for ImputerModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            text: self
                .fills
                .iter()
                .map(|f| matches!(f, FillValue::Text(_)))
                .collect(),
        };
        let numbers: Vec<f64> = self
            .fills
            .iter()
            .map(|f| {
                if let FillValue::Number(v) = f {
                    *v
                } else {
                    f64::NAN
                }
            })
            .collect();
        let texts: Vec<String> = self
            .fills
            .iter()
            .map(|f| {
                if let FillValue::Text(s) = f {
                    s.clone()
                } else {
                    String::new()
                }
            })
            .collect();
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("numbers", &numbers)
            .with_strings("texts", &texts))
    }
}

impl Loadable for ImputerModel {
    const KIND: &'static str = "ImputerModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let (numbers, texts) = (parts.f64("numbers")?, parts.strings("texts")?);
        let fills = meta
            .text
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if *t {
                    texts.get(i).cloned().map(FillValue::Text)
                } else {
                    numbers.get(i).copied().map(FillValue::Number)
                }
                .ok_or_else(|| parts.damaged(format!("no fill value for column {i}")))
            })
            .collect::<Result<_>>()?;
        Ok(ImputerModel {
            input_cols: meta.input_cols,
            output_cols: meta.output_cols,
            fills,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field, Schema};

    fn table() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("age", DataType::Float64, true),
            Field::new("city", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float64Array::from(vec![
                    Some(1.0),
                    None,
                    Some(3.0),
                    Some(f64::NAN),
                    Some(3.0),
                    Some(10.0),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("b"),
                    Some("a"),
                    None,
                    Some("a"),
                    Some("b"),
                    None,
                ])),
            ],
        )
        .unwrap()
    }

    fn fill(strategy: ImputerStrategy, column: &str) -> RecordBatch {
        let imputer = Imputer {
            input_cols: vec![column.into()],
            output_cols: vec![column.into()],
            strategy,
            fill_value: None,
        };
        imputer.fit(&table()).unwrap().transform(&table()).unwrap()
    }

    #[test]
    fn numeric_gaps_take_the_mean_median_or_mode_of_present_values() {
        // Present ages: 1, 3, 3, 10 -> mean 4.25, median 3, mode 3.
        assert_eq!(
            data::read_f64(&fill(ImputerStrategy::Mean, "age"), "age").unwrap()[1],
            4.25
        );
        assert_eq!(
            data::read_f64(&fill(ImputerStrategy::Median, "age"), "age").unwrap()[3],
            3.0
        );
        assert_eq!(
            data::read_f64(&fill(ImputerStrategy::MostFrequent, "age"), "age").unwrap()[1],
            3.0
        );
    }

    #[test]
    fn text_gaps_take_the_most_frequent_smallest_of_ties_and_mean_is_refused() {
        let out = data::read_strings(&fill(ImputerStrategy::MostFrequent, "city"), "city").unwrap();
        assert_eq!(out[2].as_deref(), Some("a"));
        let err = Imputer {
            input_cols: vec!["city".into()],
            output_cols: vec!["city".into()],
            ..Default::default()
        }
        .fit(&table())
        .unwrap_err()
        .to_string();
        assert!(err.contains("column `city` is text"), "{err}");
    }
}
