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
    fn min_max_scaler_uses_the_extremes_seen_so_far() {
        let mut scaler = OnlineMinMaxScaler::default();
        scaler.learn_one(&[2.0, 5.0]);
        assert_eq!(scaler.transform_one(&[2.0, 5.0]), vec![0.0, 0.0]);
        scaler.learn_one(&[6.0, 5.0]);
        assert_eq!(scaler.transform_one(&[3.0, 5.0]), vec![0.25, 0.0]);
    }
}
