//! Tables in, matrices inside: reading feature vectors and labels out of Arrow record
//! batches and writing predictions back as columns.
//!
//! A feature vector column is a `FixedSizeList<Float64>` (what [`vector_array`] writes);
//! numeric scalar columns and `List<Float64>` columns are read too. Algorithms work on a
//! dense row-major [`Matrix`].

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use crate::error::{MlError, Result};

/// A dense matrix of `f64`, row-major: row `i` is `data[i * cols..(i + 1) * cols]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A matrix over `data` (row-major, `rows * cols` values).
    ///
    /// ```
    /// let m = riffle_ml::Matrix::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// assert_eq!(m.row(1), &[3.0, 4.0]);
    /// ```
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(MlError::data(format!(
                "a {rows}x{cols} matrix needs {} values, got {}",
                rows * cols,
                data.len()
            )));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A matrix whose rows are `rows` (all of one length).
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, row) in rows.iter().enumerate() {
            if row.len() != cols {
                return Err(MlError::data(format!(
                    "row {i} has {} values, the first row has {cols}",
                    row.len()
                )));
            }
            data.extend_from_slice(row);
        }
        Ok(Matrix {
            rows: rows.len(),
            cols,
            data,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over the rows.
    pub fn row_iter(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        // `chunks_exact(0)` panics, and a matrix may have no columns.
        (0..self.rows).map(move |i| self.row(i))
    }

    /// The values, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The values, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Element `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Column `j`, copied.
    pub fn column(&self, j: usize) -> Vec<f64> {
        self.row_iter().map(|r| r[j]).collect()
    }

    /// The rows at `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: indices.len(),
            cols: self.cols,
            data,
        }
    }

    /// Consumes the matrix, giving its row-major values.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }
}

/// The column `name` of `batch`, or an error that lists the columns and the likely typo.
pub fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    let schema = batch.schema_ref();
    match schema.index_of(name) {
        Ok(i) => Ok(batch.column(i)),
        Err(_) => {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            Err(MlError::UnknownColumn {
                name: name.to_string(),
                hint: riffle_core::did_you_mean(name, names.iter().copied()),
                columns: names.join(", "),
            })
        }
    }
}

/// The numeric column `name` as `f64`s. Integers, floats and booleans are accepted; a null
/// or a non-finite value is an error naming its row (0-based), since models must not
/// silently learn from NaN.
pub fn read_f64(batch: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let array = column(batch, name)?;
    let values = scalar_values(array, name)?;
    for (row, v) in values.iter().enumerate() {
        match v {
            None => {
                return Err(MlError::data(format!(
                    "column `{name}` has a missing value at row {row}; impute it (Imputer, or --impute on the CLI) or drop the row"
                )))
            }
            Some(v) if !v.is_finite() => {
                return Err(MlError::data(format!(
                    "column `{name}` has the non-finite value {v} at row {row}"
                )))
            }
            Some(_) => {}
        }
    }
    Ok(values.into_iter().flatten().collect())
}

/// The numeric column `name` as optional `f64`s (nulls as `None`; NaN as `None` too, as
/// missing-value handling treats them alike).
pub fn read_f64_nullable(batch: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>> {
    let array = column(batch, name)?;
    Ok(scalar_values(array, name)?
        .into_iter()
        .map(|v| v.filter(|v| !v.is_nan()))
        .collect())
}

fn scalar_values(array: &ArrayRef, name: &str) -> Result<Vec<Option<f64>>> {
    let dt = array.data_type();
    if dt.is_numeric() || *dt == DataType::Boolean {
        let cast = arrow_cast_f64(array)?;
        return Ok(cast.iter().collect());
    }
    Err(MlError::data(format!(
        "column `{name}` is {dt}, not numeric; index strings with StringIndexer/OneHotEncoder (--categorical on the CLI)"
    )))
}

fn arrow_cast_f64(array: &ArrayRef) -> Result<Float64Array> {
    let cast = arrow_cast::cast(array, &DataType::Float64)?;
    Ok(cast.as_primitive::<Float64Type>().clone())
}

/// The column `name` as optional strings: strings as they are, numbers and booleans in
/// their text form (so numeric category codes can be encoded too), nulls as `None`.
pub fn read_strings(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let array = column(batch, name)?;
    let cast = arrow_cast::cast(array, &DataType::Utf8).map_err(|_| {
        MlError::data(format!(
            "column `{name}` is {}, which cannot be read as categories",
            array.data_type()
        ))
    })?;
    Ok(cast
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

/// Whether column `name` holds text (so it is categorical unless told otherwise).
pub fn is_text(batch: &RecordBatch, name: &str) -> Result<bool> {
    Ok(matches!(
        column(batch, name)?.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
    ))
}

/// The feature vectors in column `name` as a matrix: a `FixedSizeList` or `List` of floats
/// (every row of one length), or a numeric scalar column (one feature). Nulls and
/// non-finite values are errors naming the row.
pub fn read_vectors(batch: &RecordBatch, name: &str) -> Result<Matrix> {
    let array = column(batch, name)?;
    let rows = array.len();
    let (values, width): (ArrayRef, usize) = match array.data_type() {
        DataType::FixedSizeList(_, width) => {
            let list = array.as_fixed_size_list();
            if list.null_count() > 0 {
                let row = (0..rows).find(|&i| list.is_null(i)).unwrap_or(0);
                return Err(MlError::data(format!(
                    "vector column `{name}` has a missing vector at row {row}"
                )));
            }
            let width = usize::try_from(*width).unwrap_or(0);
            let start = list.value_offset(0).max(0) as usize;
            (list.values().slice(start, rows * width), width)
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let width = if rows == 0 {
                0
            } else {
                list.value_length(0) as usize
            };
            for i in 0..rows {
                if list.is_null(i) || list.value_length(i) as usize != width {
                    return Err(MlError::data(format!(
                        "vector column `{name}` has a vector of length {} at row {i}, the first has {width}",
                        if list.is_null(i) { 0 } else { list.value_length(i) }
                    )));
                }
            }
            let start = list.value_offsets()[0] as usize;
            (list.values().slice(start, rows * width), width)
        }
        _ => {
            let values = read_f64(batch, name)?;
            return Matrix::new(rows, 1, values);
        }
    };
    let data: Vec<f64> = match values.data_type() {
        DataType::Float64 => values.as_primitive::<Float64Type>().values().to_vec(),
        DataType::Float32 => values
            .as_primitive::<Float32Type>()
            .values()
            .iter()
            .map(|&v| f64::from(v))
            .collect(),
        _ => arrow_cast_f64(&values)?.values().to_vec(),
    };
    if values.null_count() > 0 {
        return Err(MlError::data(format!(
            "vector column `{name}` has a missing element"
        )));
    }
    if let Some(at) = data.iter().position(|v| !v.is_finite()) {
        return Err(MlError::data(format!(
            "vector column `{name}` has the non-finite value {} at row {}, element {}",
            data[at],
            at / width.max(1),
            at % width.max(1)
        )));
    }
    Matrix::new(rows, width, data)
}

/// A `FixedSizeList<Float64>` column holding the rows of `m`.
pub fn vector_array(m: &Matrix) -> Result<ArrayRef> {
    let width = i32::try_from(m.cols()).map_err(|_| {
        MlError::data(format!(
            "{} features are too many for a vector column",
            m.cols()
        ))
    })?;
    let item = Arc::new(Field::new("item", DataType::Float64, false));
    let values = Arc::new(Float64Array::from(m.as_slice().to_vec()));
    Ok(Arc::new(FixedSizeListArray::try_new(
        item, width, values, None,
    )?))
}

/// `batch` with `array` as column `name`: replacing a column of that name, or appended.
pub fn with_column(batch: &RecordBatch, name: &str, array: ArrayRef) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    let mut columns = batch.columns().to_vec();
    let field = Arc::new(Field::new(
        name,
        array.data_type().clone(),
        array.null_count() > 0,
    ));
    match schema.index_of(name) {
        Ok(i) => {
            fields[i] = field;
            columns[i] = array;
        }
        Err(_) => {
            fields.push(field);
            columns.push(array);
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// The rows of `batch` at `indices`, in that order.
pub fn take_rows(batch: &RecordBatch, indices: &[usize]) -> Result<RecordBatch> {
    let idx = arrow_array::UInt32Array::from(
        indices
            .iter()
            .map(|&i| u32::try_from(i).map_err(|_| MlError::data("too many rows to index")))
            .collect::<Result<Vec<u32>>>()?,
    );
    Ok(arrow_select::take::take_record_batch(batch, &idx)?)
}

/// `RecordBatch` of float columns (for tests and generators): `(name, values)` pairs.
pub fn float_table(columns: Vec<(&str, Vec<f64>)>) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, _)| Field::new(*n, DataType::Float64, false))
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|(_, v)| Arc::new(Float64Array::from(v)) as ArrayRef)
        .collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_a_fixed_size_list_column() {
        let m = Matrix::new(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let batch = float_table(vec![("y", vec![0.0, 1.0, 0.0])]).unwrap();
        let batch = with_column(&batch, "features", vector_array(&m).unwrap()).unwrap();
        assert_eq!(read_vectors(&batch, "features").unwrap(), m);
        let sliced = batch.slice(1, 2);
        assert_eq!(
            read_vectors(&sliced, "features").unwrap().row(0),
            &[3.0, 4.0]
        );
    }

    #[test]
    fn unknown_columns_and_missing_values_are_named() {
        let batch = float_table(vec![("price", vec![1.0, f64::NAN])]).unwrap();
        let err = read_f64(&batch, "prce").unwrap_err().to_string();
        assert!(err.contains("did you mean 'price'"), "{err}");
        let err = read_f64(&batch, "price").unwrap_err().to_string();
        assert!(err.contains("non-finite value NaN at row 1"), "{err}");
    }
}
