//! Binning numeric columns: [`Bucketizer`] with split points given, [`QuantileDiscretizer`]
//! with split points fitted at the training quantiles.

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{drop_rows, HandleInvalid};
use crate::data;
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

/// Maps each numeric column onto bucket indices `0..splits.len() - 1` (as Float64, like
/// Spark): bucket `i` holds `splits[i] <= x < splits[i + 1]`, the last bucket includes its
/// upper bound. Splits of `-inf` and `inf` at the ends take every value.
///
/// A missing value (null or NaN) or a value outside the splits follows `handle_invalid`:
/// an error naming the column and row, the row dropped (skip), or the extra bucket index
/// `splits.len() - 1` (keep). Needs no fitting; [`QuantileDiscretizer`] fits one.
///
/// ```
/// use riffle_ml::{data, feature::Bucketizer, Transformer};
/// let t = data::float_table(vec![("x", vec![-3.0, 0.0, 0.5, 9.0])]).unwrap();
/// let b = Bucketizer::new("x", "bucket", vec![f64::NEG_INFINITY, 0.0, 1.0, f64::INFINITY]);
/// let out = b.transform(&t).unwrap();
/// assert_eq!(data::read_f64(&out, "bucket").unwrap(), vec![0.0, 1.0, 1.0, 2.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Bucketizer {
    /// Numeric columns read.
    pub input_cols: Vec<String>,
    /// Bucket-index columns written, one per input.
    pub output_cols: Vec<String>,
    /// Per input column, the strictly increasing split points (at least two).
    pub splits: Vec<Vec<f64>>,
    /// Missing values and values outside the splits.
    pub handle_invalid: HandleInvalid,
}

impl Bucketizer {
    /// A bucketizer of one column, refusing invalid values.
    pub fn new(input: &str, output: &str, splits: Vec<f64>) -> Self {
        Bucketizer {
            input_cols: vec![input.to_string()],
            output_cols: vec![output.to_string()],
            splits: vec![splits],
            handle_invalid: HandleInvalid::Error,
        }
    }

    fn validate(&self) -> Result<()> {
        check_columns(&self.input_cols, &self.output_cols)?;
        if self.splits.len() != self.input_cols.len() {
            return Err(MlError::param(
                "splits",
                format!(
                    "{} input columns need {} lists of splits, got {}",
                    self.input_cols.len(),
                    self.input_cols.len(),
                    self.splits.len()
                ),
            ));
        }
        for (splits, name) in self.splits.iter().zip(&self.input_cols) {
            if splits.len() < 2 {
                return Err(MlError::param(
                    "splits",
                    format!(
                        "column `{name}` needs at least two split points (one bucket), got {}",
                        splits.len()
                    ),
                ));
            }
            if splits.iter().any(|s| s.is_nan()) || splits.windows(2).any(|w| w[0] >= w[1]) {
                return Err(MlError::param(
                    "splits",
                    format!("the splits of column `{name}` must be strictly increasing numbers, got {splits:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// The bucket of `v` among `splits`, or `None` when it is missing or out of range.
fn bucket_of(splits: &[f64], v: Option<f64>) -> Option<usize> {
    let v = v?;
    let last = splits.len() - 1;
    if v < splits[0] || v > splits[last] {
        return None;
    }
    // The number of inner splits at or below `v`: the upper bound of each bucket is open,
    // except for the last bucket's.
    Some(splits[1..last].partition_point(|s| *s <= v))
}

impl Transformer for Bucketizer {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        self.validate()?;
        let mut drop = vec![false; table.num_rows()];
        let mut out = table.clone();
        for ((input, output), splits) in self
            .input_cols
            .iter()
            .zip(&self.output_cols)
            .zip(&self.splits)
        {
            let values = data::read_f64_nullable(table, input)?;
            let invalid_bucket = (splits.len() - 1) as f64;
            let mut buckets = Vec::with_capacity(values.len());
            for (row, v) in values.iter().enumerate() {
                let bucket = match bucket_of(splits, *v) {
                    Some(b) => b as f64,
                    None => match self.handle_invalid {
                        HandleInvalid::Error => {
                            return Err(MlError::data(match v {
                                Some(v) => format!(
                                    "column `{input}` has the value {v} at row {row}, outside the splits [{}, {}]; add -inf/inf splits or set handle_invalid to keep (bucket {invalid_bucket}) or skip",
                                    splits[0],
                                    splits[splits.len() - 1]
                                ),
                                None => format!(
                                    "column `{input}` has a missing value (null or NaN) at row {row}; impute it or set handle_invalid to keep (bucket {invalid_bucket}) or skip"
                                ),
                            }))
                        }
                        HandleInvalid::Skip => {
                            drop[row] = true;
                            invalid_bucket
                        }
                        HandleInvalid::Keep => invalid_bucket,
                    },
                };
                buckets.push(bucket);
            }
            out = data::with_column(&out, output, Arc::new(Float64Array::from(buckets)))?;
        }
        drop_rows(&out, &drop)
    }
}

#[derive(Serialize, Deserialize)]
struct BucketizerMeta {
    input_cols: Vec<String>,
    output_cols: Vec<String>,
    handle_invalid: HandleInvalid,
}

impl Model for Bucketizer {
    fn parts(&self) -> Result<ModelParts> {
        let meta = BucketizerMeta {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            handle_invalid: self.handle_invalid,
        };
        // Splits go into arrays: JSON has no infinities, and buckets depend on every bit.
        let mut parts = ModelParts::new(Self::KIND, &meta)?;
        for (i, splits) in self.splits.iter().enumerate() {
            parts = parts.with_f64(&format!("splits_{i}"), splits);
        }
        Ok(parts)
    }
}

impl Loadable for Bucketizer {
    const KIND: &'static str = "Bucketizer";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: BucketizerMeta = parts.meta()?;
        let splits = (0..meta.input_cols.len())
            .map(|i| parts.f64(&format!("splits_{i}")))
            .collect::<Result<_>>()?;
        let bucketizer = Bucketizer {
            input_cols: meta.input_cols,
            output_cols: meta.output_cols,
            splits,
            handle_invalid: meta.handle_invalid,
        };
        bucketizer
            .validate()
            .map_err(|e| parts.damaged(e.to_string()))?;
        Ok(bucketizer)
    }
}

/// Fits a [`Bucketizer`] whose buckets hold (about) equally many training values of each
/// column: the inner splits are the `i / n_buckets` quantiles, the outer ones `-inf` and
/// `inf`, so every later value falls into a bucket.
///
/// Quantiles follow scikit-learn's `KBinsDiscretizer(strategy="quantile")` (its default
/// `quantile_method="averaged_inverted_cdf"`): the `p` quantile of `n` sorted values is value
/// `ceil(n p)` (1-based), or the mean of values `n p` and `n p + 1` when `n p` is whole
/// (computed in integers here, so no rounding of `n p` can move it). As there, a split closer
/// than 1e-8 to the quantile before it is dropped, so tied values do not make empty buckets;
/// a constant column gets one bucket. Unlike scikit-learn, missing values (null or NaN) are
/// left out of the fit (as Spark does) and are then handled by `handle_invalid`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuantileDiscretizer {
    /// Numeric columns read.
    pub input_cols: Vec<String>,
    /// Bucket-index columns written, one per input.
    pub output_cols: Vec<String>,
    /// Buckets per column (at least 2; fewer when quantiles coincide).
    pub n_buckets: usize,
    /// Missing values when transforming (see [`Bucketizer`]).
    pub handle_invalid: HandleInvalid,
}

impl Default for QuantileDiscretizer {
    fn default() -> Self {
        QuantileDiscretizer {
            input_cols: Vec::new(),
            output_cols: Vec::new(),
            n_buckets: 5,
            handle_invalid: HandleInvalid::Error,
        }
    }
}

/// The order statistics of `values` at `ranks` (0-based, ascending, each below
/// `values.len()`); `values` is reordered. Selecting each rank in the part after the previous
/// one costs O(n) a rank on average, less than sorting when the ranks are few.
pub(crate) fn order_statistics(values: &mut [f64], ranks: &[usize]) -> Vec<f64> {
    if ranks.len() > 16 {
        values.sort_unstable_by(f64::total_cmp);
        return ranks.iter().map(|&r| values[r]).collect();
    }
    let mut out = Vec::with_capacity(ranks.len());
    let mut start = 0;
    let mut previous: Option<(usize, f64)> = None;
    for &rank in ranks {
        if let Some((_, v)) = previous.filter(|(r, _)| *r == rank) {
            out.push(v);
            continue;
        }
        // Every value before `start` is at most every value from `start` on.
        let (_, nth, _) = values[start..].select_nth_unstable_by(rank - start, f64::total_cmp);
        let v = *nth;
        out.push(v);
        start = rank + 1;
        previous = Some((rank, v));
    }
    out
}

/// The split points of `values` (all finite, at least one; reordered) into `n_buckets`
/// buckets.
fn quantile_splits(values: &mut [f64], n_buckets: usize) -> Vec<f64> {
    let n = values.len();
    // Each edge is one order statistic or the mean of two neighbours.
    let picks: Vec<(usize, Option<usize>)> = (0..=n_buckets)
        .map(|k| {
            // n * k / n_buckets = j + r / n_buckets, exactly.
            let (j, r) = ((n * k) / n_buckets, (n * k) % n_buckets);
            if r != 0 {
                (j, None)
            } else if j == 0 {
                (0, None)
            } else if j >= n {
                (n - 1, None)
            } else {
                (j - 1, Some(j))
            }
        })
        .collect();
    let mut ranks: Vec<usize> = picks
        .iter()
        .flat_map(|&(a, b)| std::iter::once(a).chain(b))
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    let stats = order_statistics(values, &ranks);
    let at = |rank: usize| stats[ranks.partition_point(|&r| r < rank)];
    let edges: Vec<f64> = picks
        .iter()
        .map(|&(a, b)| match b {
            None => at(a),
            Some(b) => {
                // numpy's interpolation at t = 1/2 (`b - (b - a) * 0.5`), for the same bits.
                let (a, b) = (at(a), at(b));
                b - (b - a) * 0.5
            }
        })
        .collect();
    let kept: Vec<f64> = edges
        .iter()
        .enumerate()
        .filter(|&(i, e)| i == 0 || e - edges[i - 1] > 1e-8)
        .map(|(_, e)| *e)
        .collect();
    let mut splits = vec![f64::NEG_INFINITY];
    if kept.len() > 2 {
        splits.extend_from_slice(&kept[1..kept.len() - 1]);
    }
    splits.push(f64::INFINITY);
    splits
}

impl Estimator for QuantileDiscretizer {
    type Model = Bucketizer;

    fn fit(&self, table: &RecordBatch) -> Result<Bucketizer> {
        check_columns(&self.input_cols, &self.output_cols)?;
        if self.n_buckets < 2 {
            return Err(MlError::param(
                "n_buckets",
                format!("must be at least 2, got {}", self.n_buckets),
            ));
        }
        let columns = self
            .input_cols
            .iter()
            .map(|name| Ok((name, data::read_f64_nullable(table, name)?)))
            .collect::<Result<Vec<_>>>()?;
        let splits = columns
            .into_par_iter()
            .map(|(name, values)| {
                let mut present = Vec::with_capacity(values.len());
                for (row, v) in values.into_iter().enumerate() {
                    match v {
                        Some(v) if v.is_infinite() => {
                            return Err(MlError::data(format!(
                                "column `{name}` has the value {v} at row {row}; quantiles need finite values"
                            )))
                        }
                        Some(v) => present.push(v),
                        None => {}
                    }
                }
                if present.is_empty() {
                    return Err(MlError::data(format!(
                        "column `{name}` has no values in the training table to compute quantiles from"
                    )));
                }
                Ok(quantile_splits(&mut present, self.n_buckets))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bucketizer {
            input_cols: self.input_cols.clone(),
            output_cols: self.output_cols.clone(),
            splits,
            handle_invalid: self.handle_invalid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_half_open_and_invalid_values_follow_the_policy() {
        let t = data::float_table(vec![("x", vec![0.0, 1.0, 2.0, 5.0, f64::NAN, 2.5])]).unwrap();
        let b = Bucketizer::new("x", "b", vec![0.0, 1.0, 2.0]);
        let err = b.transform(&t).unwrap_err().to_string();
        assert!(
            err.contains("column `x`") && err.contains("5 at row 3"),
            "{err}"
        );
        let keep = Bucketizer {
            handle_invalid: HandleInvalid::Keep,
            ..b.clone()
        };
        let out = data::read_f64(&keep.transform(&t).unwrap(), "b").unwrap();
        // 2.0 is the upper bound of the last bucket, so it is inside.
        assert_eq!(out, vec![0.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        let skip = Bucketizer {
            handle_invalid: HandleInvalid::Skip,
            ..b.clone()
        };
        let out = skip.transform(&t).unwrap();
        assert_eq!(data::read_f64(&out, "x").unwrap(), vec![0.0, 1.0, 2.0]);
        let bad = Bucketizer::new("x", "b", vec![0.0, 0.0, 1.0]);
        let err = bad.transform(&t).unwrap_err().to_string();
        assert!(
            err.contains("`splits`") && err.contains("strictly increasing"),
            "{err}"
        );
    }

    #[test]
    fn quantile_splits_follow_the_averaged_inverted_cdf() {
        // 10 values, 4 buckets: n p = 2.5, 5, 7.5 -> values 3, mean of 5 and 6, value 8.
        let mut values: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(
            quantile_splits(&mut values, 4),
            vec![f64::NEG_INFINITY, 3.0, 5.5, 8.0, f64::INFINITY]
        );
        // Ties collapse buckets; a constant column has one bucket.
        let mut tied = [3.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0];
        assert_eq!(
            quantile_splits(&mut tied, 4),
            vec![f64::NEG_INFINITY, 1.5, f64::INFINITY]
        );
        assert_eq!(
            quantile_splits(&mut [4.0; 5], 3),
            vec![f64::NEG_INFINITY, f64::INFINITY]
        );
    }

    #[test]
    fn order_statistics_equal_sorting() {
        let values: Vec<f64> = (0..1000)
            .map(|i| f64::from((i * 7919) % 1009) - 500.0)
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let ranks = [0, 1, 1, 250, 499, 500, 998, 999];
        let mut scratch = values.clone();
        let picked = order_statistics(&mut scratch, &ranks);
        let expected: Vec<f64> = ranks.iter().map(|&r| sorted[r]).collect();
        assert_eq!(picked, expected);
    }

    #[test]
    fn a_fitted_discretizer_ignores_missing_values_and_round_trips() {
        let values: Vec<f64> = (0..100)
            .map(|i| f64::from(i % 50))
            .chain([f64::NAN])
            .collect();
        let t = data::float_table(vec![("x", values)]).unwrap();
        let q = QuantileDiscretizer {
            input_cols: vec!["x".into()],
            output_cols: vec!["b".into()],
            n_buckets: 2,
            handle_invalid: HandleInvalid::Keep,
        };
        let model = q.fit(&t).unwrap();
        assert_eq!(
            model.splits[0],
            vec![f64::NEG_INFINITY, 24.5, f64::INFINITY]
        );
        let out = data::read_f64(&model.transform(&t).unwrap(), "b").unwrap();
        assert_eq!((out[0], out[30], out[100]), (0.0, 1.0, 2.0));
        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&model, dir.path()).unwrap();
        let loaded: Bucketizer = crate::persist::load(dir.path()).unwrap();
        assert_eq!(loaded, model);
        let err = QuantileDiscretizer { n_buckets: 1, ..q }
            .fit(&t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`n_buckets`"), "{err}");
    }
}
