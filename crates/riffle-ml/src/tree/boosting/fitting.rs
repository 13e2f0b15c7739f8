//! The boosting loop: the losses, the held-out split and the stopping rule.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::EarlyStopping;
use crate::data::Matrix;
use crate::error::{MlError, Result};
use crate::tree::binning::BinnedMatrix;
use crate::tree::check_max_bins;
use crate::tree::leafwise::{self, LeafwiseSettings};
use crate::tree::nodes::Tree;

/// Training rows above which [`EarlyStopping::Auto`] holds out a validation share.
const AUTO_EARLY_STOPPING_ROWS: usize = 10_000;

/// The parameters shared by the boosted classifier and regressor.
pub(super) struct BoostParams {
    pub(super) learning_rate: f64,
    pub(super) max_iter: usize,
    pub(super) max_leaf_nodes: usize,
    pub(super) max_depth: Option<usize>,
    pub(super) min_samples_leaf: usize,
    pub(super) l2_regularization: f64,
    pub(super) max_bins: usize,
    pub(super) early_stopping: EarlyStopping,
    pub(super) validation_fraction: f64,
    pub(super) n_iter_no_change: usize,
    pub(super) tol: f64,
    pub(super) seed: u64,
}

impl BoostParams {
    pub(super) fn check(&self) -> Result<()> {
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(MlError::param(
                "learning_rate",
                format!("must be > 0, got {}", self.learning_rate),
            ));
        }
        if self.max_iter == 0 {
            return Err(MlError::param("max_iter", "must be at least 1"));
        }
        if self.max_leaf_nodes == 1 {
            return Err(MlError::param(
                "max_leaf_nodes",
                "must be at least 2, or 0 for no limit",
            ));
        }
        if self.max_depth == Some(0) {
            return Err(MlError::param(
                "max_depth",
                "must be at least 1 (leave it unset for no limit)",
            ));
        }
        if self.min_samples_leaf == 0 {
            return Err(MlError::param("min_samples_leaf", "must be at least 1"));
        }
        if !(self.l2_regularization >= 0.0 && self.l2_regularization.is_finite()) {
            return Err(MlError::param(
                "l2_regularization",
                format!(
                    "must be a finite number >= 0, got {}",
                    self.l2_regularization
                ),
            ));
        }
        check_max_bins(self.max_bins)?;
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return Err(MlError::param(
                "validation_fraction",
                format!("must be in (0, 1), got {}", self.validation_fraction),
            ));
        }
        if self.n_iter_no_change == 0 {
            return Err(MlError::param("n_iter_no_change", "must be at least 1"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(MlError::param(
                "tol",
                format!("must be a finite number >= 0, got {}", self.tol),
            ));
        }
        Ok(())
    }

    fn settings(&self) -> LeafwiseSettings {
        LeafwiseSettings {
            max_leaf_nodes: match self.max_leaf_nodes {
                0 => usize::MAX,
                n => n,
            },
            max_depth: self.max_depth.unwrap_or(usize::MAX),
            min_samples_leaf: self.min_samples_leaf,
            l2_regularization: self.l2_regularization,
            learning_rate: self.learning_rate,
        }
    }

    fn stops_early(&self, rows: usize) -> bool {
        match self.early_stopping {
            EarlyStopping::Auto => rows > AUTO_EARLY_STOPPING_ROWS,
            EarlyStopping::On => true,
            EarlyStopping::Off => false,
        }
    }
}

/// The loss boosting descends, with scikit-learn's "half" conventions.
#[derive(Clone, Copy)]
pub(super) enum Loss {
    /// `(y - f)² / 2`.
    Squared,
    /// Log loss of the larger label, `log(1 + e^f) - y f`.
    Binary,
    /// Softmax cross-entropy over this many classes.
    Multinomial(usize),
}

impl Loss {
    fn outputs(self) -> usize {
        match self {
            Loss::Multinomial(k) => k,
            _ => 1,
        }
    }

    /// The best constant raw prediction (targets are class indices for classification).
    fn baseline(self, y: &[f64]) -> Vec<f64> {
        let n = y.len().max(1) as f64;
        let clip = |p: f64| p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
        match self {
            Loss::Squared => vec![y.iter().sum::<f64>() / n],
            Loss::Binary => {
                let p = clip(y.iter().sum::<f64>() / n);
                vec![(p / (1.0 - p)).ln()]
            }
            Loss::Multinomial(k) => {
                let mut logs = vec![0.0; k];
                for &c in y {
                    logs[c as usize] += 1.0;
                }
                logs.iter_mut().for_each(|v| *v = clip(*v / n).ln());
                let mean = logs.iter().sum::<f64>() / k as f64;
                logs.iter_mut().for_each(|v| *v -= mean);
                logs
            }
        }
    }

    /// Gradients and hessians of every row for output `k`, into `g[k]` and `h[k]`, at the
    /// raw predictions `raw` (row-major, one per output).
    fn gradients(self, raw: &[f64], y: &[f64], g: &mut [Vec<f64>], h: &mut [Vec<f64>]) {
        match self {
            Loss::Squared => {
                g[0].par_iter_mut()
                    .zip(raw.par_iter().zip(y))
                    .for_each(|(g, (f, y))| *g = f - y);
                h[0].fill(1.0);
            }
            Loss::Binary => {
                g[0].par_iter_mut()
                    .zip(h[0].par_iter_mut())
                    .zip(raw.par_iter().zip(y))
                    .for_each(|((g, h), (f, y))| {
                        let p = sigmoid(*f);
                        *g = p - y;
                        *h = p * (1.0 - p);
                    });
            }
            Loss::Multinomial(k) => {
                let mut p = raw.to_vec();
                p.par_chunks_mut(k).for_each(softmax);
                for c in 0..k {
                    g[c].par_iter_mut()
                        .zip(h[c].par_iter_mut())
                        .enumerate()
                        .for_each(|(i, (g, h))| {
                            let pc = p[i * k + c];
                            *g = pc - if y[i] as usize == c { 1.0 } else { 0.0 };
                            *h = pc * (1.0 - pc);
                        });
                }
            }
        }
    }

    /// The mean loss at the raw predictions `raw`.
    fn mean(self, raw: &[f64], y: &[f64]) -> f64 {
        let n = y.len().max(1) as f64;
        let total: f64 = match self {
            Loss::Squared => raw
                .iter()
                .zip(y)
                .map(|(f, y)| 0.5 * (y - f) * (y - f))
                .sum(),
            Loss::Binary => raw.iter().zip(y).map(|(f, y)| softplus(*f) - y * f).sum(),
            Loss::Multinomial(k) => raw
                .chunks_exact(k)
                .zip(y)
                .map(|(f, &y)| {
                    let max = f.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
                    let lse = max + f.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                    lse - f[y as usize]
                })
                .sum(),
        };
        total / n
    }
}

pub(super) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Turns raw scores into probabilities in place.
pub(super) fn softmax(row: &mut [f64]) {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
    row.iter_mut().for_each(|v| *v = (*v - max).exp());
    let sum: f64 = row.iter().sum();
    row.iter_mut().for_each(|v| *v /= sum);
}

/// What boosting fits.
pub(super) struct Boosted {
    pub(super) baseline: Vec<f64>,
    pub(super) trees: Vec<Tree>,
    pub(super) n_iter: usize,
}

/// Held-out rows (stratified by `strata` when given) and the rest, each ascending.
fn validation_split(
    n: usize,
    fraction: f64,
    seed: u64,
    strata: Option<&[u32]>,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut groups: Vec<Vec<usize>> = match strata {
        Some(s) => {
            let k = s.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
            let mut groups = vec![Vec::new(); k];
            for (i, &c) in s.iter().enumerate() {
                groups[c as usize].push(i);
            }
            groups
        }
        None => vec![(0..n).collect()],
    };
    let mut train = Vec::with_capacity(n);
    let mut held_out = Vec::new();
    for group in &mut groups {
        group.shuffle(&mut rng);
        let take = ((group.len() as f64 * fraction).round() as usize).min(group.len());
        held_out.extend_from_slice(&group[..take]);
        train.extend_from_slice(&group[take..]);
    }
    if held_out.is_empty() || train.is_empty() {
        return Err(MlError::param(
            "validation_fraction",
            format!(
                "{fraction} of {n} rows leaves no rows to train or to validate on; turn early_stopping off"
            ),
        ));
    }
    train.sort_unstable();
    held_out.sort_unstable();
    Ok((train, held_out))
}

/// Whether none of the last `n_iter_no_change` scores beats the one before them by `tol`
/// (scikit-learn's `_should_stop`; scores are negated losses).
fn should_stop(scores: &[f64], n_iter_no_change: usize, tol: f64) -> bool {
    if scores.len() < n_iter_no_change + 1 {
        return false;
    }
    let reference = scores[scores.len() - n_iter_no_change - 1] + tol;
    !scores[scores.len() - n_iter_no_change..]
        .iter()
        .any(|&s| s > reference)
}

/// Boosts `loss` on `x` and targets `y` (class indices as numbers for classification).
pub(super) fn boost(
    params: &BoostParams,
    loss: Loss,
    x: &Matrix,
    y: &[f64],
    strata: Option<&[u32]>,
) -> Result<Boosted> {
    let early = params.stops_early(x.rows());
    let (x_train, y_train, x_val, y_val) = if early {
        let (train, held_out) =
            validation_split(x.rows(), params.validation_fraction, params.seed, strata)?;
        let pick = |rows: &[usize]| rows.iter().map(|&i| y[i]).collect::<Vec<f64>>();
        (
            x.select_rows(&train),
            pick(&train),
            x.select_rows(&held_out),
            pick(&held_out),
        )
    } else {
        (
            x.clone(),
            y.to_vec(),
            Matrix::zeros(0, x.cols()),
            Vec::new(),
        )
    };
    let n = x_train.rows();
    let k = loss.outputs();
    let data = BinnedMatrix::new(&x_train, params.max_bins);
    drop(x_train);
    let settings = params.settings();
    let baseline = loss.baseline(&y_train);
    let mut raw: Vec<f64> = baseline.iter().copied().cycle().take(n * k).collect();
    let mut raw_val: Vec<f64> = baseline
        .iter()
        .copied()
        .cycle()
        .take(x_val.rows() * k)
        .collect();
    let mut g = vec![vec![0.0; n]; k];
    let mut h = vec![vec![0.0; n]; k];
    let mut scores = Vec::new();
    if early {
        scores.push(-loss.mean(&raw_val, &y_val));
    }
    let mut trees = Vec::with_capacity(params.max_iter * k);
    let mut n_iter = 0;
    for _ in 0..params.max_iter {
        loss.gradients(&raw, &y_train, &mut g, &mut h);
        for c in 0..k {
            let grown = leafwise::grow(&data, &g[c], &h[c], &settings);
            for leaf in &grown.leaves {
                for &r in &grown.rows[leaf.start..leaf.end] {
                    raw[r as usize * k + c] += leaf.value;
                }
            }
            raw_val
                .par_chunks_mut(k)
                .enumerate()
                .for_each(|(i, f)| f[c] += grown.tree.predict_row(x_val.row(i))[0]);
            trees.push(grown.tree);
        }
        n_iter += 1;
        if early {
            scores.push(-loss.mean(&raw_val, &y_val));
            if should_stop(&scores, params.n_iter_no_change, params.tol) {
                break;
            }
        }
    }
    Ok(Boosted {
        baseline,
        trees,
        n_iter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_waits_for_n_rounds_without_an_improvement_of_tol() {
        // Scores are negated losses: higher is better.
        assert!(!should_stop(&[-1.0, -0.9], 2, 0.0));
        assert!(!should_stop(&[-1.0, -0.9, -0.8], 2, 0.0));
        assert!(should_stop(&[-1.0, -0.9, -0.9, -0.9], 2, 0.0));
        assert!(should_stop(&[-1.0, -0.9, -0.89, -0.89], 2, 0.05));
    }

    #[test]
    fn the_validation_split_keeps_each_class_share() {
        let strata: Vec<u32> = (0..1000).map(|i| u32::from(i % 10 == 0)).collect();
        let (train, held_out) = validation_split(1000, 0.2, 0, Some(&strata)).unwrap();
        assert_eq!((train.len(), held_out.len()), (800, 200));
        assert_eq!(held_out.iter().filter(|&&i| strata[i] == 1).count(), 20);
        let err = validation_split(3, 0.1, 0, None).unwrap_err().to_string();
        assert!(err.contains("`validation_fraction`"), "{err}");
    }
}
