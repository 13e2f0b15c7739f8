//! Hashing strings into vector slots: [`murmur3_32`] and [`FeatureHasher`] (several columns
//! hashed into one vector); [`super::HashingTf`] hashes tokens the same way.
//!
//! Hashing uses MurmurHash3 (x86, 32-bit, seed 0) of the UTF-8 bytes, read as a signed 32-bit
//! number `h`, slot `|h| mod n` and sign `+1` when `h >= 0` else `-1` — exactly
//! scikit-learn's `FeatureHasher`/`HashingVectorizer`, so the same strings land in the same
//! slots. (Spark uses the same hash with seed 42 and `h mod n` made non-negative, so its slots
//! differ.) The hash is written out in [`murmur3_32`] so slots never change with a
//! dependency's version: a saved model keeps meaning the same thing.
//!
//! Vectors are dense (`FixedSizeList<Float64>`), so the defaults keep `num_features` modest
//! (1024) rather than Spark's 2^18 or scikit-learn's 2^20.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use super::{drop_rows, vector_column, HandleInvalid};
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Model, Transformer};

/// MurmurHash3, x86 32-bit variant (Austin Appleby's `MurmurHash3_x86_32`), of `bytes`.
///
/// ```
/// // scikit-learn: sklearn.utils.murmurhash3_32("hello", seed=0) == 613153351
/// assert_eq!(riffle_ml::feature::murmur3_32(b"hello", 0), 613_153_351);
/// ```
pub fn murmur3_32(bytes: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut blocks = bytes.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    // The length is mixed in modulo 2^32, as the reference implementation does.
    h ^= bytes.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The slot and sign scikit-learn gives `bytes` among `n` slots.
pub(crate) fn hashed_slot(bytes: &[u8], n: usize) -> (usize, f64) {
    let h = murmur3_32(bytes, 0) as i32;
    let slot = h.unsigned_abs() as usize % n;
    (slot, if h >= 0 { 1.0 } else { -1.0 })
}

pub(crate) fn check_num_features(num_features: usize) -> Result<()> {
    // The vectors are dense: a million slots per row is already 8 MB a row.
    if num_features == 0 || num_features > 1 << 20 {
        return Err(MlError::param(
            "num_features",
            format!("must be between 1 and 2^20 (vectors are dense), got {num_features}"),
        ));
    }
    Ok(())
}

/// Hashes several columns into one vector of `num_features` slots, as scikit-learn's
/// `FeatureHasher` on dicts (and Spark's `FeatureHasher`): a numeric column `c` with value
/// `v` adds `v` to the slot of the string `c`; a categorical column (text, boolean, or named
/// in `categorical_cols`) with value `s` adds 1 to the slot of `c=s`. With `alternate_sign`
/// (the default, as in scikit-learn) the hash's sign multiplies the value, so collisions
/// cancel on average. Numbers read as categories are written as Arrow casts them to text
/// (`3` for integers, `3.0` for floats).
///
/// A missing value (null, or a non-finite number) follows `handle_invalid`: an error naming
/// the column and row, the row dropped (skip), or the value left out (keep: it adds nothing,
/// as a missing key does in scikit-learn). Needs no fitting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureHasher {
    /// Columns hashed.
    pub input_cols: Vec<String>,
    /// Vector column written.
    pub output_col: String,
    /// Numeric input columns to treat as categories.
    pub categorical_cols: Vec<String>,
    /// Vector length.
    pub num_features: usize,
    /// Multiply by the hash's sign.
    pub alternate_sign: bool,
    /// Missing values.
    pub handle_invalid: HandleInvalid,
}

impl Default for FeatureHasher {
    fn default() -> Self {
        FeatureHasher {
            input_cols: Vec::new(),
            output_col: "features".into(),
            categorical_cols: Vec::new(),
            num_features: 1024,
            alternate_sign: true,
            handle_invalid: HandleInvalid::Error,
        }
    }
}

/// One input column of a [`FeatureHasher`], read.
enum HashedColumn {
    /// The slot and sign of the column name, and the values (NaN read as missing).
    Numeric(usize, f64, Vec<Option<f64>>),
    /// The values as text.
    Categorical(StringArray),
}

impl Transformer for FeatureHasher {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        check_num_features(self.num_features)?;
        if self.input_cols.is_empty() {
            return Err(MlError::param("input_cols", "name at least one column"));
        }
        if let Some(c) = self
            .categorical_cols
            .iter()
            .find(|c| !self.input_cols.contains(c))
        {
            return Err(MlError::param(
                "categorical_cols",
                format!("`{c}` is not one of input_cols"),
            ));
        }
        let n = self.num_features;
        let mut columns = Vec::with_capacity(self.input_cols.len());
        for name in &self.input_cols {
            let array = data::column(table, name)?;
            let categorical = self.categorical_cols.contains(name)
                || data::is_text(table, name)?
                || *array.data_type() == DataType::Boolean;
            columns.push(if categorical {
                let text = arrow_cast::cast(array, &DataType::Utf8).map_err(|_| {
                    MlError::data(format!(
                        "column `{name}` is {}, which cannot be read as categories",
                        array.data_type()
                    ))
                })?;
                HashedColumn::Categorical(text.as_string::<i32>().clone())
            } else {
                let (slot, sign) = hashed_slot(name.as_bytes(), n);
                HashedColumn::Numeric(slot, sign, data::read_f64_nullable(table, name)?)
            });
        }
        let rows = table.num_rows();
        let mut m = Matrix::zeros(rows, n);
        let mut drop = vec![false; rows];
        let mut key: Vec<u8> = Vec::new();
        for (column, name) in columns.iter().zip(&self.input_cols) {
            for row in 0..rows {
                let out = &mut m.as_mut_slice()[row * n..(row + 1) * n];
                let (slot, sign, value) = match column {
                    HashedColumn::Numeric(slot, sign, values) => match values[row] {
                        Some(v) if v.is_finite() => (*slot, *sign, v),
                        bad => {
                            self.invalid(name, row, bad, &mut drop)?;
                            continue;
                        }
                    },
                    HashedColumn::Categorical(text) => {
                        if text.is_null(row) {
                            self.invalid(name, row, None, &mut drop)?;
                            continue;
                        }
                        key.clear();
                        key.extend_from_slice(name.as_bytes());
                        key.push(b'=');
                        key.extend_from_slice(text.value(row).as_bytes());
                        let (slot, sign) = hashed_slot(&key, n);
                        (slot, sign, 1.0)
                    }
                };
                out[slot] += if self.alternate_sign {
                    sign * value
                } else {
                    value
                };
            }
        }
        let out = data::with_column(table, &self.output_col, vector_column(m)?)?;
        drop_rows(&out, &drop)
    }
}

impl FeatureHasher {
    fn invalid(&self, name: &str, row: usize, value: Option<f64>, drop: &mut [bool]) -> Result<()> {
        match self.handle_invalid {
            HandleInvalid::Error => Err(MlError::data(format!(
                "column `{name}` has {} at row {row}; impute it or set handle_invalid to keep (left out) or skip",
                value.map_or("a missing value".to_string(), |v| format!("the value {v}"))
            ))),
            HandleInvalid::Skip => {
                drop[row] = true;
                Ok(())
            }
            HandleInvalid::Keep => Ok(()),
        }
    }
}

impl Model for FeatureHasher {
    fn parts(&self) -> Result<ModelParts> {
        ModelParts::new(Self::KIND, self)
    }
}

impl Loadable for FeatureHasher {
    const KIND: &'static str = "FeatureHasher";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        parts.meta()
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn murmur3_matches_scikit_learn() {
        // sklearn.utils.murmurhash3_32(s, seed=0) (signed) for each string.
        let cases: [(&str, i32); 7] = [
            ("", 0),
            ("hello", 613_153_351),
            ("a", 1_009_084_850),
            ("ab", -1_681_926_305),
            ("abc", -1_277_324_294),
            ("abcd", 1_139_631_978),
            ("héllo", -1_130_389_400),
        ];
        for (s, expected) in cases {
            assert_eq!(murmur3_32(s.as_bytes(), 0) as i32, expected, "{s}");
        }
        // Seed 42 is Spark's: murmurhash3_32("hello", seed=42, positive=True).
        assert_eq!(murmur3_32(b"hello", 42), 3_806_057_185);
        assert_eq!(hashed_slot(b"city=paris", 16), (1_605_665_722 % 16, -1.0));
    }

    #[test]
    fn feature_hashing_signs_numbers_and_categories() {
        let t = data::float_table(vec![("age", vec![30.0, f64::NAN])]).unwrap();
        let t = data::with_column(
            &t,
            "city",
            Arc::new(StringArray::from(vec![Some("paris"), Some("rome")])),
        )
        .unwrap();
        let hasher = FeatureHasher {
            input_cols: vec!["age".into(), "city".into()],
            num_features: 16,
            ..Default::default()
        };
        let err = hasher.transform(&t).unwrap_err().to_string();
        assert!(
            err.contains("column `age`") && err.contains("row 1"),
            "{err}"
        );
        let keep = FeatureHasher {
            handle_invalid: HandleInvalid::Keep,
            ..hasher
        };
        let out = data::read_vectors(&keep.transform(&t).unwrap(), "features").unwrap();
        let (age_slot, age_sign) = hashed_slot(b"age", 16);
        let (paris_slot, paris_sign) = hashed_slot(b"city=paris", 16);
        let mut expected = vec![0.0; 16];
        expected[age_slot] += 30.0 * age_sign;
        expected[paris_slot] += paris_sign;
        assert_eq!(out.row(0), expected.as_slice());
        // Row 1: the missing age is left out; only the city counts.
        assert_eq!(out.row(1).iter().map(|v| v.abs()).sum::<f64>(), 1.0);
        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&keep, dir.path()).unwrap();
        assert_eq!(
            crate::persist::load::<FeatureHasher>(dir.path()).unwrap(),
            keep
        );
    }
}
