//! Concatenating numeric and vector columns into one feature vector.

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use super::{drop_rows, HandleInvalid};
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Model, Transformer};

/// Concatenates numeric scalar columns and vector columns, in order, into the vector column
/// `output_col`. Needs no fitting.
///
/// ```
/// use riffle_ml::{data, feature::VectorAssembler, Transformer};
/// let t = data::float_table(vec![("a", vec![1.0, 2.0]), ("b", vec![3.0, 4.0])]).unwrap();
/// let t = VectorAssembler::new(&["a", "b"], "features").transform(&t).unwrap();
/// assert_eq!(data::read_vectors(&t, "features").unwrap().row(1), &[2.0, 4.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorAssembler {
    /// Columns to concatenate.
    pub input_cols: Vec<String>,
    /// The vector column written.
    pub output_col: String,
    /// Rows with a missing or non-finite value: error, skip, or keep (NaN in the vector).
    pub handle_invalid: HandleInvalid,
}

impl VectorAssembler {
    /// An assembler of `inputs` into `output`, refusing missing values.
    pub fn new(inputs: &[&str], output: &str) -> Self {
        VectorAssembler {
            input_cols: inputs.iter().map(|s| s.to_string()).collect(),
            output_col: output.to_string(),
            handle_invalid: HandleInvalid::Error,
        }
    }
}

impl Transformer for VectorAssembler {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        if self.input_cols.is_empty() {
            return Err(MlError::param("input_cols", "name at least one column"));
        }
        let n = table.num_rows();
        let mut parts: Vec<(Vec<Option<f64>>, usize)> = Vec::new();
        for name in &self.input_cols {
            match data::column(table, name)?.data_type() {
                DataType::FixedSizeList(_, _) | DataType::List(_) => {
                    let m = data::read_vectors(table, name)?;
                    parts.push((m.as_slice().iter().map(|v| Some(*v)).collect(), m.cols()));
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    return Err(MlError::data(format!(
                        "column `{name}` is text; encode it first (StringIndexer or OneHotEncoder)"
                    )))
                }
                _ => {
                    let values = data::read_f64_nullable(table, name)?;
                    parts.push((values, 1));
                }
            }
        }
        let width: usize = parts.iter().map(|(_, w)| w).sum();
        let mut out = Vec::with_capacity(n * width);
        let mut drop = vec![false; n];
        for row in 0..n {
            for ((values, w), name) in parts.iter().zip(&self.input_cols) {
                for k in 0..*w {
                    match values[row * w + k] {
                        Some(v) if v.is_finite() => out.push(v),
                        bad => match self.handle_invalid {
                            HandleInvalid::Error => {
                                return Err(MlError::data(format!(
                                    "column `{name}` has {} at row {row}; impute it or set handle_invalid to skip or keep",
                                    bad.map_or("a missing value".to_string(), |v| format!("the value {v}"))
                                )))
                            }
                            HandleInvalid::Skip => {
                                drop[row] = true;
                                out.push(f64::NAN);
                            }
                            HandleInvalid::Keep => out.push(f64::NAN),
                        },
                    }
                }
            }
        }
        let matrix = Matrix::new(n, width, out)?;
        let table = data::with_column(table, &self.output_col, data::vector_array(&matrix)?)?;
        drop_rows(&table, &drop)
    }
}

impl Model for VectorAssembler {
    fn parts(&self) -> Result<ModelParts> {
        ModelParts::new(Self::KIND, self)
    }
}

impl Loadable for VectorAssembler {
    const KIND: &'static str = "VectorAssembler";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        parts.meta()
    }
}
