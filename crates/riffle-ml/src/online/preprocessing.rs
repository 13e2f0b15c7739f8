//! Scalers that learn their statistics from the stream (River's `preprocessing`): each
//! record updates them, and records are transformed with what has been seen so far.

use serde::{Deserialize, Serialize};

/// Standardises each feature with its running mean and (population) variance, as River's
/// `preprocessing.StandardScaler`: `(x - mean) / sqrt(var)`, and 0 while the variance is 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineStandardScaler {
    count: u64,
    means: Vec<f64>,
    variances: Vec<f64>,
}

impl OnlineStandardScaler {
    /// Updates the running statistics with `x` (Welford's update, River's order of
    /// operations).
    pub fn learn_one(&mut self, x: &[f64]) {
        if self.means.len() < x.len() {
            self.means.resize(x.len(), 0.0);
            self.variances.resize(x.len(), 0.0);
        }
        self.count += 1;
        let n = self.count as f64;
        for ((v, mean), var) in x.iter().zip(&mut self.means).zip(&mut self.variances) {
            let old = *mean;
            *mean += (v - old) / n;
            *var += ((v - old) * (v - *mean) - *var) / n;
        }
    }

    /// Writes the standardised `x` into `out` (resized to `x`'s length).
    pub fn transform_into(&self, x: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(x.iter().enumerate().map(|(i, v)| {
            let var = self.variances.get(i).copied().unwrap_or(0.0);
            if var > 0.0 {
                (v - self.means[i]) / var.sqrt()
            } else {
                0.0
            }
        }));
    }

    /// The standardised `x`.
    pub fn transform_one(&self, x: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.len());
        self.transform_into(x, &mut out);
        out
    }

    /// Records seen.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Scales each feature into [0, 1] with the least and greatest values seen so far, as
/// River's `preprocessing.MinMaxScaler` (0 while they are equal).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineMinMaxScaler {
    min: Vec<f64>,
    max: Vec<f64>,
}

impl OnlineMinMaxScaler {
    /// Updates the extremes with `x`.
    pub fn learn_one(&mut self, x: &[f64]) {
        if self.min.len() < x.len() {
            self.min.resize(x.len(), f64::INFINITY);
            self.max.resize(x.len(), f64::NEG_INFINITY);
        }
        for ((v, lo), hi) in x.iter().zip(&mut self.min).zip(&mut self.max) {
            *lo = lo.min(*v);
            *hi = hi.max(*v);
        }
    }

    /// Writes the scaled `x` into `out`.
    pub fn transform_into(&self, x: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(
            x.iter()
                .enumerate()
                .map(|(i, v)| match (self.min.get(i), self.max.get(i)) {
                    (Some(lo), Some(hi)) if hi > lo => (v - lo) / (hi - lo),
                    _ => 0.0,
                }),
        );
    }

    /// The scaled `x`.
    pub fn transform_one(&self, x: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.len());
        self.transform_into(x, &mut out);
        out
    }
}

/// One-hot encoding learned from the stream: each (feature, value) pair first seen gets the
/// next column, so the encoded vector grows as categories appear (the online linear models
/// start new columns at weight 0). Values not seen yet encode as all zeros.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineOneHotEncoder {
    /// Per categorical feature: value -> column.
    columns: Vec<std::collections::HashMap<String, usize>>,
    width: usize,
}

impl OnlineOneHotEncoder {
    /// Learns the categories of one record's categorical `values`.
    pub fn learn_one(&mut self, values: &[&str]) {
        if self.columns.len() < values.len() {
            self.columns.resize_with(values.len(), Default::default);
        }
        for (known, value) in self.columns.iter_mut().zip(values) {
            if !known.contains_key(*value) {
                known.insert((*value).to_string(), self.width);
                self.width += 1;
            }
        }
    }

    /// Columns so far.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Writes the encoding of `values` into `out` (resized to [`width`](Self::width)).
    pub fn transform_into(&self, values: &[&str], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.width, 0.0);
        for (known, value) in self.columns.iter().zip(values) {
            if let Some(column) = known.get(*value) {
                out[*column] = 1.0;
            }
        }
    }
}

/// The hashing trick for categorical values: feature `j` with value `v` adds ±1 to column
/// `hash(j, v) mod n_features` (the sign from another bit of the hash, so collisions cancel
/// on average). Nothing to learn: the width is fixed and every value has a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureHashing {
    /// Columns of the output.
    pub n_features: usize,
}

impl FeatureHashing {
    /// Writes the hashed `values` into `out` (resized to `n_features`).
    pub fn transform_into(&self, values: &[&str], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.n_features.max(1), 0.0);
        for (j, value) in values.iter().enumerate() {
            // FNV-1a over the feature index and the value: stable across runs and versions.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for byte in (j as u64).to_le_bytes().iter().chain(value.as_bytes()) {
                h ^= u64::from(*byte);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            let column = (h % out.len() as u64) as usize;
            out[column] += if h >> 63 == 1 { -1.0 } else { 1.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_scaler_matches_the_batch_mean_and_population_variance() {
        let rows = [[1.0, 10.0], [2.0, 10.0], [4.0, 10.0], [9.0, 10.0]];
        let mut scaler = OnlineStandardScaler::default();
        for r in &rows {
            scaler.learn_one(r);
        }
        // mean 4, population variance (9 + 4 + 0 + 25) / 4 = 9.5; a constant feature gives 0.
        let out = scaler.transform_one(&[4.0 + 9.5f64.sqrt(), 10.0]);
        assert!((out[0] - 1.0).abs() < 1e-12, "{out:?}");
        assert_eq!(out[1], 0.0);
        assert_eq!(scaler.count(), 4);
    }

    #[test]
    fn one_hot_grows_a_column_per_new_category_and_hashing_is_stable() {
        let mut enc = OnlineOneHotEncoder::default();
        enc.learn_one(&["red", "s"]);
        enc.learn_one(&["blue", "s"]);
        let mut out = Vec::new();
        enc.transform_into(&["blue", "s"], &mut out);
        assert_eq!(out, vec![0.0, 1.0, 1.0]);
        enc.transform_into(&["green", "xl"], &mut out);
        assert_eq!(out, vec![0.0; 3]);
        let hasher = FeatureHashing { n_features: 16 };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        hasher.transform_into(&["red", "s"], &mut a);
        hasher.transform_into(&["red", "s"], &mut b);
        assert_eq!(a, b);
        assert_eq!(a.iter().map(|v| v.abs()).sum::<f64>(), 2.0);
    }

    #[test]
    fn min_max_scaler_uses_the_extremes_seen_so_far() {
        let mut scaler = OnlineMinMaxScaler::default();
        scaler.learn_one(&[2.0, 5.0]);
        assert_eq!(scaler.transform_one(&[2.0, 5.0]), vec![0.0, 0.0]);
        scaler.learn_one(&[6.0, 5.0]);
        assert_eq!(scaler.transform_one(&[3.0, 5.0]), vec![0.25, 0.0]);
    }
}
