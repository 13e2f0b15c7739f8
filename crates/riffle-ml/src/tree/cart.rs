//! Growing one CART tree depth-first on binned features: the decision trees and the random
//! forests share it.
//!
//! The rules are scikit-learn's `DepthFirstTreeBuilder` and `BestSplitter`, with histograms in
//! place of sorting: a node becomes a leaf at `max_depth`, below `min_samples_split` rows,
//! below `2 * min_samples_leaf` rows or when pure; otherwise features are drawn at random
//! without replacement until `max_features` non-constant ones have been tried (constant
//! features do not count, as in scikit-learn), each by one pass over the node's rows into a
//! per-bin histogram and one scan of the bins; the best split is kept unless its weighted
//! impurity decrease is below `min_impurity_decrease`. Rows carry weights, which is how
//! bootstrap samples are expressed (a row drawn twice weighs 2), while `min_samples_*` count
//! rows, as scikit-learn does.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::binning::{BinnedMatrix, MAX_BINS};
use super::nodes::Tree;

/// Nodes with at least this many rows evaluate their features in parallel when the grower
/// may (a single tree; a forest is parallel over its trees instead).
const PARALLEL_NODE_ROWS: usize = 20_000;

/// What a tree learns from.
pub(crate) enum Labels<'a> {
    /// Class indices `0..k`, split by Gini impurity or by entropy.
    Classes {
        /// One class index per row.
        y: &'a [u32],
        /// Number of classes.
        k: usize,
        /// Entropy (log loss) rather than Gini impurity.
        entropy: bool,
    },
    /// A numeric target, split by variance (squared error).
    Values(&'a [f64]),
}

impl Labels<'_> {
    /// Numbers of statistics per node and per histogram bin: the weight of each class, or
    /// the sums of `w`, `w y` and `w y²`.
    fn width(&self) -> usize {
        match self {
            Labels::Classes { k, .. } => *k,
            Labels::Values(_) => 3,
        }
    }

    /// Values stored per node of the tree: class probabilities, or the mean.
    pub(crate) fn output_width(&self) -> usize {
        match self {
            Labels::Classes { k, .. } => *k,
            Labels::Values(_) => 1,
        }
    }
}

/// Checked growing parameters.
#[derive(Clone, Debug)]
pub(crate) struct GrowSettings {
    /// Deepest level of splits (`usize::MAX` for none).
    pub max_depth: usize,
    /// Fewest rows a node must have to be split.
    pub min_samples_split: usize,
    /// Fewest rows in each child of a split.
    pub min_samples_leaf: usize,
    /// Least weighted impurity decrease a split must bring.
    pub min_impurity_decrease: f64,
    /// Non-constant features to try per node (at most the feature count).
    pub max_features: usize,
    /// Whether large nodes evaluate their features in parallel.
    pub parallel: bool,
}

/// A candidate split: rows with `bin <= bin` on `feature` go left.
struct Split {
    feature: usize,
    bin: u8,
    score: f64,
    left: Vec<f64>,
}

/// What trying one feature at a node found.
enum Outcome {
    /// Every row of the node is in one bin.
    Constant,
    /// No split leaves `min_samples_leaf` rows on both sides.
    NoSplit,
    Found(Split),
}

/// Per-feature working memory, reused from node to node.
struct Scratch {
    hist: Vec<f64>,
    counts: Vec<u32>,
    acc: Vec<f64>,
    right: Vec<f64>,
}

impl Scratch {
    fn new(width: usize) -> Self {
        Scratch {
            hist: vec![0.0; MAX_BINS * width],
            counts: vec![0; MAX_BINS],
            acc: vec![0.0; width],
            right: vec![0.0; width],
        }
    }
}

struct Grower<'a> {
    data: &'a BinnedMatrix,
    labels: &'a Labels<'a>,
    weights: &'a [f64],
    settings: &'a GrowSettings,
    width: usize,
    total_weight: f64,
}

/// A node waiting on the depth-first stack: its rows are `rows[start..end]`.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
}

/// Grows a tree on the rows `rows` (distinct, each with weight `weights[row] > 0`).
pub(crate) fn grow(
    data: &BinnedMatrix,
    labels: &Labels<'_>,
    weights: &[f64],
    mut rows: Vec<u32>,
    settings: &GrowSettings,
    rng: &mut ChaCha8Rng,
) -> Tree {
    let width = labels.width();
    let total_weight = rows.iter().map(|&r| weights[r as usize]).sum();
    let grower = Grower {
        data,
        labels,
        weights,
        settings,
        width,
        total_weight,
    };
    let zeros = vec![0.0; labels.output_width()];
    let mut tree = Tree::with_width(labels.output_width());
    tree.push_leaf(&zeros);
    let mut stack = vec![Pending {
        node: 0,
        start: 0,
        end: rows.len(),
        depth: 0,
    }];
    let mut order: Vec<usize> = (0..data.cols()).collect();
    let mut scratch = Scratch::new(width);
    let mut spill = Vec::new();
    let mut stats = vec![0.0; width];
    while let Some(p) = stack.pop() {
        let node_rows = &mut rows[p.start..p.end];
        grower.node_stats(node_rows, &mut stats);
        tree.set_values(p.node, &grower.output(&stats));
        let n = node_rows.len();
        let impurity = grower.impurity(&stats);
        if p.depth >= settings.max_depth
            || n < settings.min_samples_split
            || n < 2 * settings.min_samples_leaf
            || grower.is_pure(&stats, impurity)
        {
            continue;
        }
        let Some(split) = grower.best_split(node_rows, &stats, rng, &mut order, &mut scratch)
        else {
            continue;
        };
        let right: Vec<f64> = stats.iter().zip(&split.left).map(|(t, l)| t - l).collect();
        let (w, wl, wr) = (
            grower.weight(&stats),
            grower.weight(&split.left),
            grower.weight(&right),
        );
        let decrease = w / grower.total_weight
            * (impurity - wr / w * grower.impurity(&right) - wl / w * grower.impurity(&split.left));
        if decrease + f64::EPSILON < settings.min_impurity_decrease {
            continue;
        }
        let column = data.column(split.feature);
        let n_left = partition(node_rows, |r| column[r as usize] <= split.bin, &mut spill);
        let left = tree.push_leaf(&zeros);
        let right = tree.push_leaf(&zeros);
        let threshold = data.threshold(split.feature, usize::from(split.bin));
        tree.set_split(p.node, split.feature, threshold, left, right);
        // Right first, so that the left child is grown next, as in scikit-learn.
        stack.push(Pending {
            node: right,
            start: p.start + n_left,
            end: p.end,
            depth: p.depth + 1,
        });
        stack.push(Pending {
            node: left,
            start: p.start,
            end: p.start + n_left,
            depth: p.depth + 1,
        });
    }
    tree
}

/// Moves the rows for which `goes_left` holds to the front, keeping both sides in their
/// order (ascending rows read the bin columns in memory order); gives how many went left.
pub(crate) fn partition(
    rows: &mut [u32],
    goes_left: impl Fn(u32) -> bool,
    spill: &mut Vec<u32>,
) -> usize {
    // Branch-free: a split sends rows either way about as often, so a branch on the side
    // would be mispredicted half the time. Each row is written to both places and only the
    // counter of its side advances.
    spill.clear();
    spill.resize(rows.len(), 0);
    let (mut kept, mut spilled) = (0, 0);
    for i in 0..rows.len() {
        let r = rows[i];
        let left = goes_left(r);
        rows[kept] = r;
        spill[spilled] = r;
        kept += usize::from(left);
        spilled += usize::from(!left);
    }
    rows[kept..].copy_from_slice(&spill[..spilled]);
    kept
}

impl Grower<'_> {
    fn node_stats(&self, rows: &[u32], stats: &mut [f64]) {
        stats.fill(0.0);
        match self.labels {
            Labels::Classes { y, .. } => {
                for &r in rows {
                    stats[y[r as usize] as usize] += self.weights[r as usize];
                }
            }
            Labels::Values(y) => {
                for &r in rows {
                    let (w, v) = (self.weights[r as usize], y[r as usize]);
                    stats[0] += w;
                    stats[1] += w * v;
                    stats[2] += w * v * v;
                }
            }
        }
    }

    fn weight(&self, stats: &[f64]) -> f64 {
        match self.labels {
            Labels::Classes { .. } => stats.iter().sum(),
            Labels::Values(_) => stats[0],
        }
    }

    /// The impurity of a node with these statistics (scikit-learn's, entropy in bits).
    fn impurity(&self, stats: &[f64]) -> f64 {
        let w = self.weight(stats);
        if w <= 0.0 {
            return 0.0;
        }
        match self.labels {
            Labels::Classes { entropy: false, .. } => {
                1.0 - stats.iter().map(|c| (c / w) * (c / w)).sum::<f64>()
            }
            Labels::Classes { entropy: true, .. } => stats
                .iter()
                .filter(|&&c| c > 0.0)
                .map(|&c| -(c / w) * (c / w).log2())
                .sum(),
            Labels::Values(_) => {
                let mean = stats[1] / w;
                (stats[2] / w - mean * mean).max(0.0)
            }
        }
    }

    fn is_pure(&self, stats: &[f64], impurity: f64) -> bool {
        match self.labels {
            Labels::Classes { .. } => impurity <= f64::EPSILON,
            // The variance is a difference of two sums; relative to their size it is
            // rounding noise when every value is the same.
            Labels::Values(_) => {
                let w = stats[0];
                w <= 0.0 || impurity <= 8.0 * f64::EPSILON * (stats[2] / w)
            }
        }
    }

    /// What a split maximises: minus the children's summed weighted impurity, up to terms
    /// that do not depend on the split (scikit-learn's "proxy improvement").
    fn score(&self, left: &[f64], right: &[f64]) -> f64 {
        match self.labels {
            Labels::Classes { entropy: false, .. } => {
                let side = |s: &[f64]| {
                    let w: f64 = s.iter().sum();
                    s.iter().map(|c| c * c).sum::<f64>() / w
                };
                side(left) + side(right)
            }
            Labels::Classes { entropy: true, .. } => {
                // w·H = w log w − Σ c log c.
                let side = |s: &[f64]| {
                    let w: f64 = s.iter().sum();
                    s.iter()
                        .filter(|&&c| c > 0.0)
                        .map(|&c| c * c.log2())
                        .sum::<f64>()
                        - w * w.log2()
                };
                side(left) + side(right)
            }
            Labels::Values(_) => left[1] * left[1] / left[0] + right[1] * right[1] / right[0],
        }
    }

    /// What a leaf with these statistics predicts.
    fn output(&self, stats: &[f64]) -> Vec<f64> {
        let w = self.weight(stats);
        match self.labels {
            Labels::Classes { .. } => stats
                .iter()
                .map(|c| if w > 0.0 { c / w } else { 0.0 })
                .collect(),
            Labels::Values(_) => vec![if w > 0.0 { stats[1] / w } else { 0.0 }],
        }
    }

    /// The best split of a node, trying features in a random order until `max_features`
    /// non-constant ones have been tried.
    fn best_split(
        &self,
        rows: &[u32],
        stats: &[f64],
        rng: &mut ChaCha8Rng,
        order: &mut [usize],
        scratch: &mut Scratch,
    ) -> Option<Split> {
        let d = order.len();
        let mut best: Option<Split> = None;
        let mut keep = |outcome: Outcome| match outcome {
            Outcome::Found(s) if best.as_ref().is_none_or(|b| s.score > b.score) => {
                best = Some(s);
            }
            _ => {}
        };
        if self.settings.parallel
            && self.settings.max_features >= d
            && rows.len() >= PARALLEL_NODE_ROWS
        {
            // Every feature is tried anyway, so trying them at once gives the same split.
            for i in 0..d {
                order.swap(i, rng.random_range(i..d));
            }
            let outcomes: Vec<Outcome> = order
                .par_iter()
                .map_init(
                    || Scratch::new(self.width),
                    |s, &f| self.split_on(f, rows, stats, s),
                )
                .collect();
            outcomes.into_iter().for_each(&mut keep);
        } else {
            let mut tried = 0;
            let mut i = 0;
            while i < d && tried < self.settings.max_features {
                order.swap(i, rng.random_range(i..d));
                let outcome = self.split_on(order[i], rows, stats, scratch);
                i += 1;
                if !matches!(outcome, Outcome::Constant) {
                    tried += 1;
                }
                keep(outcome);
            }
        }
        best
    }

    /// The best split of `rows` on `feature`.
    fn split_on(&self, feature: usize, rows: &[u32], stats: &[f64], s: &mut Scratch) -> Outcome {
        let n_bins = self.data.n_bins(feature);
        let width = self.width;
        self.histogram(feature, rows, n_bins, s);
        let n = rows.len();
        let min_leaf = self.settings.min_samples_leaf;
        s.acc.fill(0.0);
        let mut n_left = 0usize;
        let mut best: Option<(usize, f64, Vec<f64>)> = None;
        let mut first_nonempty = true;
        for b in 0..n_bins {
            let c = s.counts[b] as usize;
            if c == 0 {
                continue;
            }
            if first_nonempty && c == n {
                return Outcome::Constant;
            }
            first_nonempty = false;
            n_left += c;
            if n_left >= n || n - n_left < min_leaf {
                break;
            }
            s.acc
                .iter_mut()
                .zip(&s.hist[b * width..(b + 1) * width])
                .for_each(|(a, h)| *a += h);
            if n_left < min_leaf {
                continue;
            }
            s.right
                .iter_mut()
                .zip(stats.iter().zip(&s.acc))
                .for_each(|(r, (t, l))| *r = t - l);
            if self.weight(&s.acc) <= 0.0 || self.weight(&s.right) <= 0.0 {
                continue;
            }
            let score = self.score(&s.acc, &s.right);
            if best
                .as_ref()
                .is_none_or(|(_, best_score, _)| score > *best_score)
            {
                best = Some((b, score, s.acc.clone()));
            }
        }
        let Some((b, score, left)) = best else {
            return Outcome::NoSplit;
        };
        // Any edge between the last bin on the left and the next non-empty bin splits the
        // training rows alike; the middle one, like scikit-learn's midpoint thresholds,
        // leaves unseen values in the gap to the nearer side (and equals what scikit-learn
        // does on bin indices, which the reference tests rely on).
        let next = (b + 1..n_bins).find(|&c| s.counts[c] > 0).unwrap_or(b + 1);
        let bin = (b + next) / 2;
        Outcome::Found(Split {
            feature,
            // Below MAX_BINS = 256.
            bin: bin as u8,
            score,
            left,
        })
    }

    fn histogram(&self, feature: usize, rows: &[u32], n_bins: usize, s: &mut Scratch) {
        let column = self.data.column(feature);
        let width = self.width;
        let hist = &mut s.hist[..n_bins * width];
        let counts = &mut s.counts[..n_bins];
        hist.fill(0.0);
        counts.fill(0);
        let w = self.weights;
        match self.labels {
            Labels::Classes { y, .. } => {
                for &r in rows {
                    let r = r as usize;
                    let b = usize::from(column[r]);
                    counts[b] += 1;
                    hist[b * width + y[r] as usize] += w[r];
                }
            }
            Labels::Values(y) => {
                for &r in rows {
                    let r = r as usize;
                    let b = usize::from(column[r]);
                    counts[b] += 1;
                    let wy = w[r] * y[r];
                    let h = &mut hist[b * 3..b * 3 + 3];
                    h[0] += w[r];
                    h[1] += wy;
                    h[2] += wy * y[r];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Matrix;
    use rand::SeedableRng;

    fn settings() -> GrowSettings {
        GrowSettings {
            max_depth: usize::MAX,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            max_features: usize::MAX,
            parallel: false,
        }
    }

    fn fit(x: &Matrix, labels: &Labels<'_>, settings: &GrowSettings) -> Tree {
        let data = BinnedMatrix::new(x, 256);
        let weights = vec![1.0; x.rows()];
        let rows = (0..x.rows() as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        grow(&data, labels, &weights, rows, settings, &mut rng)
    }

    #[test]
    fn a_separable_problem_is_split_at_the_midpoint_into_pure_leaves() {
        // Feature 1 separates the classes between 2 and 5; feature 0 is noise.
        let x = Matrix::new(4, 2, vec![0.0, 1.0, 1.0, 2.0, 0.0, 5.0, 1.0, 6.0]).unwrap();
        let y = [0u32, 0, 1, 1];
        for entropy in [false, true] {
            let labels = Labels::Classes {
                y: &y,
                k: 2,
                entropy,
            };
            let tree = fit(&x, &labels, &settings());
            assert_eq!(tree.node_count(), 3);
            assert_eq!(tree.predict_row(&[0.0, 3.4]), &[1.0, 0.0]);
            assert_eq!(tree.predict_row(&[0.0, 3.6]), &[0.0, 1.0]);
        }
    }

    #[test]
    fn regression_leaves_hold_means_and_limits_stop_growth() {
        let x = Matrix::new(6, 1, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let y = [1.0, 1.0, 1.0, 10.0, 10.0, 13.0];
        let labels = Labels::Values(&y);
        let stump = fit(
            &x,
            &labels,
            &GrowSettings {
                max_depth: 1,
                ..settings()
            },
        );
        assert_eq!(stump.predict_row(&[2.0]), &[1.0]);
        assert_eq!(stump.predict_row(&[5.5]), &[11.0]);
        // Fully grown, every distinct target gets its leaf; the pure left side is not split.
        let full = fit(&x, &labels, &settings());
        assert_eq!(full.predict_row(&[6.0]), &[13.0]);
        assert_eq!(full.leaf_count(), 3);
        // Three rows per leaf at least: only the middle split qualifies.
        let wide = fit(
            &x,
            &labels,
            &GrowSettings {
                min_samples_leaf: 3,
                ..settings()
            },
        );
        assert_eq!(wide.leaf_count(), 2);
        // A decrease below the minimum keeps the root a leaf.
        let none = fit(
            &x,
            &labels,
            &GrowSettings {
                min_impurity_decrease: 1e6,
                ..settings()
            },
        );
        assert_eq!(none.node_count(), 1);
        assert!((none.predict_row(&[1.0])[0] - 6.0).abs() < 1e-12);
    }

    #[test]
    fn partition_is_stable_on_both_sides() {
        let mut rows = vec![1, 2, 3, 4, 5, 6];
        let mut spill = Vec::new();
        let n = partition(&mut rows, |r| r % 2 == 0, &mut spill);
        assert_eq!((n, rows), (3, vec![2, 4, 6, 1, 3, 5]));
    }
}
