//! Features quantised once into at most 256 bins, as LightGBM and scikit-learn's
//! `HistGradientBoosting*` do: split finding then sums small per-bin histograms instead of
//! sorting every node's rows.
//!
//! Bin edges come from the training data, exactly as scikit-learn's `_find_binning_thresholds`
//! places them: with at most `max_bins` distinct values, the midpoints between consecutive
//! values; otherwise the `max_bins`-quantiles (numpy's "averaged_inverted_cdf" percentiles). A value `v` falls in bin `b` when
//! `edges[b - 1] < v <= edges[b]`, so the split "bin <= b" is the split "v <= edges[b]" on raw
//! values, which is what a fitted tree stores and predicts with.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::data::Matrix;

/// The most bins a feature can have: bin indices are `u8`.
pub(crate) const MAX_BINS: usize = 256;

/// Rows beyond this many are subsampled to place the bin edges (scikit-learn does the same):
/// quantiles of 200,000 values are as good as those of all of them, and sorting is the
/// costliest part of binning.
const EDGE_SUBSAMPLE: usize = 200_000;

/// A feature matrix as bin indices, column-major (all rows of feature `j` are contiguous, the
/// layout histogram building reads), with each feature's bin edges.
#[derive(Clone, Debug)]
pub(crate) struct BinnedMatrix {
    rows: usize,
    cols: usize,
    bins: Vec<u8>,
    edges: Vec<Vec<f64>>,
}

impl BinnedMatrix {
    /// Bins the columns of `x` into at most `max_bins` (clamped to 2..=256) bins each.
    pub(crate) fn new(x: &Matrix, max_bins: usize) -> Self {
        let max_bins = max_bins.clamp(2, MAX_BINS);
        let (rows, cols) = (x.rows(), x.cols());
        let subsample: Option<Vec<usize>> = (rows > EDGE_SUBSAMPLE).then(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let mut picked = rand::seq::index::sample(&mut rng, rows, EDGE_SUBSAMPLE).into_vec();
            picked.sort_unstable();
            picked
        });
        let columns: Vec<(Vec<f64>, Vec<u8>)> = (0..cols)
            .into_par_iter()
            .map(|j| {
                let mut sample: Vec<f64> = match &subsample {
                    Some(picked) => picked.iter().map(|&i| x.get(i, j)).collect(),
                    None => x.row_iter().map(|r| r[j]).collect(),
                };
                let edges = bin_edges(&mut sample, max_bins);
                let bins = x.row_iter().map(|r| bin_of(&edges, r[j])).collect();
                (edges, bins)
            })
            .collect();
        let mut bins = Vec::with_capacity(rows * cols);
        let mut edges = Vec::with_capacity(cols);
        for (e, b) in columns {
            edges.push(e);
            bins.extend_from_slice(&b);
        }
        BinnedMatrix {
            rows,
            cols,
            bins,
            edges,
        }
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Number of features.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// The bins of feature `j`, one per row.
    pub(crate) fn column(&self, j: usize) -> &[u8] {
        &self.bins[j * self.rows..(j + 1) * self.rows]
    }

    /// Number of bins of feature `j`.
    pub(crate) fn n_bins(&self, j: usize) -> usize {
        self.edges[j].len() + 1
    }

    /// The raw-value threshold of the split "bin <= b" of feature `j`.
    pub(crate) fn threshold(&self, j: usize, b: usize) -> f64 {
        self.edges[j][b]
    }
}

/// The bin of `v` given ascending `edges`: the number of edges below `v`.
fn bin_of(edges: &[f64], v: f64) -> u8 {
    // At most 255 edges, so the count fits.
    edges.partition_point(|&e| e < v) as u8
}

/// Ascending, distinct edges (at most `max_bins - 1`) for the values in `sample` (sorted in
/// place).
fn bin_edges(sample: &mut [f64], max_bins: usize) -> Vec<f64> {
    sample.sort_unstable_by(f64::total_cmp);
    let mut distinct: Vec<f64> = Vec::new();
    for &v in sample.iter() {
        if distinct.last() != Some(&v) {
            distinct.push(v);
            if distinct.len() > max_bins {
                break;
            }
        }
    }
    let mut edges: Vec<f64> = if distinct.len() <= max_bins {
        distinct.windows(2).map(|w| midpoint(w[0], w[1])).collect()
    } else {
        // numpy's `percentile(sample, linspace(0, 100, max_bins + 1)[1:-1],
        // method="averaged_inverted_cdf")`, operation for operation, so that the edges are
        // scikit-learn's to the bit: the value at rank n·q, or the average of two values
        // when n·q falls exactly between them.
        let n = sample.len() as f64;
        let last = sample.len() - 1;
        let step = 100.0 / max_bins as f64;
        (1..max_bins)
            .map(|i| {
                let q = i as f64 * step / 100.0;
                let virtual_index = n * q - 1.0;
                let below = virtual_index.floor();
                let (lo, hi) = (
                    (below.max(0.0) as usize).min(last),
                    ((below + 1.0).max(0.0) as usize).min(last),
                );
                let (a, b) = (sample[lo], sample[hi]);
                if virtual_index - below == 0.0 {
                    b - (b - a) * 0.5
                } else {
                    b
                }
            })
            .collect()
    };
    edges.dedup();
    edges
}

/// The midpoint of `a <= b`, never rounded up to `b` itself (which would put `b` in the bin
/// below).
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a * 0.5 + b * 0.5;
    if m < b {
        m
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_midpoint_edges() {
        let x = Matrix::new(5, 1, vec![3.0, 1.0, 2.0, 1.0, 3.0]).unwrap();
        let binned = BinnedMatrix::new(&x, 256);
        assert_eq!(binned.edges[0], vec![1.5, 2.5]);
        assert_eq!(binned.column(0), &[2, 0, 1, 0, 2]);
        assert_eq!(binned.n_bins(0), 3);
    }

    #[test]
    fn many_values_get_quantile_edges_and_bin_consistently_with_thresholds() {
        let values: Vec<f64> = (0..1000).map(|i| f64::from(i) * 0.37 - 20.0).collect();
        let x = Matrix::new(1000, 1, values.clone()).unwrap();
        let binned = BinnedMatrix::new(&x, 10);
        assert_eq!(binned.n_bins(0), 10);
        // Quantile bins hold (nearly) equal numbers of rows.
        let mut counts = [0usize; 10];
        for &b in binned.column(0) {
            counts[b as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (99..=101).contains(&c)),
            "{counts:?}"
        );
        // "bin <= b" is exactly "value <= threshold(b)".
        for (i, v) in values.iter().enumerate() {
            for b in 0..9 {
                assert_eq!(
                    binned.column(0)[i] as usize <= b,
                    *v <= binned.threshold(0, b)
                );
            }
        }
    }

    #[test]
    fn a_constant_column_has_one_bin_and_256_distinct_values_have_256() {
        let x = Matrix::new(3, 1, vec![7.0; 3]).unwrap();
        assert_eq!(BinnedMatrix::new(&x, 256).n_bins(0), 1);
        let x = Matrix::new(256, 1, (0..256).map(f64::from).collect()).unwrap();
        let binned = BinnedMatrix::new(&x, 256);
        assert_eq!(binned.n_bins(0), 256);
        assert_eq!(binned.column(0)[255], 255);
    }
}
