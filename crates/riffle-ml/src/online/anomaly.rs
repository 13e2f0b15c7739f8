//! Unsupervised anomaly detectors that learn the normal from the stream itself: high scores
//! mean unusual. [`HalfSpaceTrees`] follows River's `anomaly.HalfSpaceTrees`;
//! [`EwmaZScore`] is the streaming z-score of exponentially weighted statistics.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A detector that scores a record, then learns it.
pub trait AnomalyDetector {
    /// How unusual `x` is; higher is more anomalous.
    fn score_one(&self, x: &[f64]) -> f64;
    /// Updates the detector's idea of normal with `x`.
    fn learn_one(&mut self, x: &[f64]);
}

/// Half-space trees (Tan, Ting and Liu 2011): random axis-aligned trees over the feature
/// ranges; each node counts the records of the previous window that passed through it (the
/// reference mass) while counting the current window's; a record in a region that held few
/// records scores high. Scores are in [0, 1]; 0 during the first window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HalfSpaceTrees {
    /// Number of trees.
    pub n_trees: usize,
    /// Height of each tree (a tree has `2^(height+1) - 1` nodes).
    pub height: u32,
    /// Records per window.
    pub window_size: u64,
    /// The range `(low, high)` of each feature; features without one use [0, 1].
    pub limits: Vec<(f64, f64)>,
    /// Seed of the random splits.
    pub seed: u64,
    /// Per tree, per internal node (heap order): the split feature.
    features: Vec<Vec<u32>>,
    /// Per tree, per internal node: the split value.
    thresholds: Vec<Vec<f64>>,
    /// Per tree, per node: records of the current window.
    latest: Vec<Vec<u32>>,
    /// Per tree, per node: records of the previous window.
    reference: Vec<Vec<u32>>,
    counter: u64,
    first_window: bool,
}

impl Default for HalfSpaceTrees {
    fn default() -> Self {
        HalfSpaceTrees::new(10, 8, 250, 42)
    }
}

impl HalfSpaceTrees {
    /// A detector with `n_trees` trees of `height`, windows of `window_size` records, and
    /// features in [0, 1] unless [`limits`](Self::limits) says otherwise.
    pub fn new(n_trees: usize, height: u32, window_size: u64, seed: u64) -> Self {
        HalfSpaceTrees {
            n_trees,
            height,
            window_size: window_size.max(1),
            limits: Vec::new(),
            seed,
            features: Vec::new(),
            thresholds: Vec::new(),
            latest: Vec::new(),
            reference: Vec::new(),
            counter: 0,
            first_window: true,
        }
    }

    fn build(&mut self, dims: usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let internal = (1usize << self.height) - 1;
        let nodes = (1usize << (self.height + 1)) - 1;
        for _ in 0..self.n_trees {
            let mut limits: Vec<(f64, f64)> = (0..dims)
                .map(|j| self.limits.get(j).copied().unwrap_or((0.0, 1.0)))
                .collect();
            let mut features = vec![0u32; internal];
            let mut thresholds = vec![0.0; internal];
            split(
                0,
                internal,
                &mut limits,
                &mut features,
                &mut thresholds,
                &mut rng,
            );
            self.features.push(features);
            self.thresholds.push(thresholds);
            self.latest.push(vec![0; nodes]);
            self.reference.push(vec![0; nodes]);
        }
    }

    fn child(&self, tree: usize, node: usize, x: &[f64]) -> usize {
        let feature = self.features[tree][node] as usize;
        let value = x.get(feature).copied().unwrap_or(f64::NAN);
        if value < self.thresholds[tree][node] {
            2 * node + 1
        } else {
            2 * node + 2
        }
    }
}

/// Fills the subtree at `node`: a feature picked with probability proportional to its
/// range, split uniformly within the middle 70% of the range (River's padding of 0.15).
fn split(
    node: usize,
    internal: usize,
    limits: &mut [(f64, f64)],
    features: &mut [u32],
    thresholds: &mut [f64],
    rng: &mut ChaCha8Rng,
) {
    if node >= internal || limits.is_empty() {
        return;
    }
    let total: f64 = limits.iter().map(|(a, b)| b - a).sum();
    let mut pick = rng.random::<f64>() * total;
    let mut feature = limits.len() - 1;
    for (j, (a, b)) in limits.iter().enumerate() {
        if pick < b - a {
            feature = j;
            break;
        }
        pick -= b - a;
    }
    let (a, b) = limits[feature];
    let at = a + (0.15 + 0.7 * rng.random::<f64>()) * (b - a);
    features[node] = feature as u32;
    thresholds[node] = at;
    limits[feature] = (a, at);
    split(2 * node + 1, internal, limits, features, thresholds, rng);
    limits[feature] = (at, b);
    split(2 * node + 2, internal, limits, features, thresholds, rng);
    limits[feature] = (a, b);
}

impl AnomalyDetector for HalfSpaceTrees {
    fn score_one(&self, x: &[f64]) -> f64 {
        if self.first_window || self.features.is_empty() {
            return 0.0;
        }
        let size_limit = 0.1 * self.window_size as f64;
        let internal = (1usize << self.height) - 1;
        let mut score = 0.0;
        for tree in 0..self.n_trees {
            let mut node = 0;
            let mut depth_weight = 1.0;
            loop {
                let mass = f64::from(self.reference[tree][node]);
                score += mass * depth_weight;
                if node >= internal || mass < size_limit {
                    break;
                }
                node = self.child(tree, node, x);
                depth_weight *= 2.0;
            }
        }
        let max_score = self.n_trees as f64
            * self.window_size as f64
            * ((1u64 << (self.height + 1)) - 1) as f64;
        1.0 - score / max_score
    }

    fn learn_one(&mut self, x: &[f64]) {
        if self.features.is_empty() {
            self.build(x.len());
        }
        let internal = (1usize << self.height) - 1;
        for tree in 0..self.n_trees {
            let mut node = 0;
            loop {
                self.latest[tree][node] += 1;
                if node >= internal {
                    break;
                }
                node = self.child(tree, node, x);
            }
        }
        self.counter += 1;
        if self.counter == self.window_size {
            for (latest, reference) in self.latest.iter_mut().zip(&mut self.reference) {
                reference.copy_from_slice(latest);
                latest.fill(0);
            }
            self.first_window = false;
            self.counter = 0;
        }
    }
}

/// The streaming z-score: exponentially weighted mean and variance per feature (weight
/// `alpha` for the newest record), and a score that is the largest `|x - mean| / std` over
/// the features; 0 until `warm_up` records have been learned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EwmaZScore {
    /// Weight of the newest record in the mean and variance.
    pub alpha: f64,
    /// Records learned before scores are given.
    pub warm_up: u64,
    count: u64,
    means: Vec<f64>,
    variances: Vec<f64>,
}

impl Default for EwmaZScore {
    fn default() -> Self {
        EwmaZScore::new(0.01, 30)
    }
}

impl EwmaZScore {
    /// A detector with weight `alpha` and `warm_up` records.
    pub fn new(alpha: f64, warm_up: u64) -> Self {
        EwmaZScore {
            alpha,
            warm_up,
            count: 0,
            means: Vec::new(),
            variances: Vec::new(),
        }
    }
}

impl AnomalyDetector for EwmaZScore {
    fn score_one(&self, x: &[f64]) -> f64 {
        if self.count < self.warm_up {
            return 0.0;
        }
        x.iter()
            .zip(self.means.iter().zip(&self.variances))
            .map(|(v, (mean, var))| {
                if *var > 0.0 {
                    (v - mean).abs() / var.sqrt()
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }

    fn learn_one(&mut self, x: &[f64]) {
        if self.means.len() < x.len() {
            // The first record of a feature is its mean.
            self.means.extend_from_slice(&x[self.means.len()..]);
            self.variances.resize(x.len(), 0.0);
        }
        self.count += 1;
        let alpha = self.alpha;
        for ((v, mean), var) in x.iter().zip(&mut self.means).zip(&mut self.variances) {
            let diff = v - *mean;
            let step = alpha * diff;
            *mean += step;
            *var = (1.0 - alpha) * (*var + diff * step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(n: usize, dims: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| (0..dims).map(|_| 0.4 + 0.2 * rng.random::<f64>()).collect())
            .collect()
    }

    #[test]
    fn half_space_trees_score_a_far_point_above_every_normal_one() {
        let mut hst = HalfSpaceTrees::new(10, 6, 100, 7);
        for row in uniform(1000, 3, 1) {
            assert!(hst.score_one(&row).is_finite());
            hst.learn_one(&row);
        }
        let normal = uniform(200, 3, 2);
        let worst_normal = normal.iter().map(|r| hst.score_one(r)).fold(0.0, f64::max);
        let outlier = hst.score_one(&[0.02, 0.97, 0.05]);
        assert!(
            outlier > worst_normal,
            "outlier {outlier} vs normal {worst_normal}"
        );
        assert!((0.0..=1.0).contains(&outlier));
    }

    #[test]
    fn half_space_trees_give_zero_during_the_first_window() {
        let mut hst = HalfSpaceTrees::new(3, 4, 50, 1);
        for row in uniform(49, 2, 3) {
            hst.learn_one(&row);
        }
        assert_eq!(hst.score_one(&[0.0, 0.0]), 0.0);
        hst.learn_one(&[0.5, 0.5]);
        assert!(hst.score_one(&[0.0, 0.0]) > 0.0);
    }

    #[test]
    fn ewma_z_score_flags_a_jump_and_follows_a_level_shift() {
        let mut z = EwmaZScore::new(0.05, 10);
        for row in uniform(500, 1, 4) {
            z.learn_one(&row);
        }
        assert!(z.score_one(&[0.5]) < 2.0);
        assert!(z.score_one(&[2.0]) > 10.0);
        // After a long run at the new level, it is normal again.
        for _ in 0..500 {
            z.learn_one(&[2.0]);
        }
        assert!(z.score_one(&[2.0]) < 1.0);
    }
}
