//! The Hoeffding tree classifier (Domingos and Hulten's VFDT), as River's
//! `tree.HoeffdingTreeClassifier` builds it with its defaults: each leaf keeps class weights
//! and, per feature and class, a Gaussian of the values; every `grace_period` records a leaf
//! weighs ten candidate thresholds per feature by information gain and splits on the best one
//! when it beats the second best by the Hoeffding bound (or the bound falls under `tau`);
//! leaves predict with naive Bayes or the majority class, whichever has been right more
//! often there (River's "nba" leaves). Labels are 0 and 1.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::OnlineClassifier;

/// A weighted running mean and sum of squared deviations (River's `stats.Var`, ddof 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Gaussian {
    n: f64,
    mean: f64,
    s: f64,
}

impl Gaussian {
    fn update(&mut self, x: f64, w: f64) {
        let old = self.mean;
        self.n += w;
        self.mean += (w / self.n) * (x - old);
        self.s += w * (x - old) * (x - self.mean);
    }

    fn variance(&self) -> f64 {
        if self.n > 1.0 {
            self.s / (self.n - 1.0)
        } else {
            0.0
        }
    }

    fn cdf(&self, x: f64) -> f64 {
        let sigma = self.variance().sqrt();
        if sigma == 0.0 {
            return 0.0;
        }
        0.5 * (1.0 + erf((x - self.mean) / sigma / std::f64::consts::SQRT_2))
    }

    fn log_pdf(&self, x: f64) -> f64 {
        let variance = self.variance();
        if self.n > 1.0 && variance > 0.0 {
            (x - self.mean).powi(2) / (-2.0 * variance)
                - 0.5 * std::f64::consts::TAU.ln()
                - 0.5 * variance.ln()
        } else {
            f64::NEG_INFINITY
        }
    }
}

/// The error function: its Taylor series below 3 (to about 1e-12 there), and above it
/// `1 - erfc` with Numerical Recipes' `erfcc` (relative error below 1.2e-7 of an `erfc`
/// that is itself below 2.3e-5 there).
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let value = if z < 3.0 {
        erf_series(z)
    } else {
        1.0 - erfcc(z)
    };
    if x < 0.0 {
        -value
    } else {
        value
    }
}

/// `erf(z)` by its Taylor series, `2/sqrt(pi) * sum (-1)^n z^(2n+1) / (n! (2n+1))`, which
/// converges fast for `z` below 3.
fn erf_series(z: f64) -> f64 {
    let mut term = z;
    let mut sum = z;
    let mut n = 0.0;
    while term.abs() > 1e-17 * sum.abs() && n < 200.0 {
        n += 1.0;
        term *= -z * z / n;
        sum += term / (2.0 * n + 1.0);
    }
    2.0 / std::f64::consts::PI.sqrt() * sum
}

/// Numerical Recipes' `erfcc` for `z >= 0` (relative error below 1.2e-7).
fn erfcc(z: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    t * poly.exp()
}

/// Per class: the Gaussian of one feature's values and their least and greatest value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Splitter {
    classes: [Option<(Gaussian, f64, f64)>; 2],
}

impl Splitter {
    fn update(&mut self, x: f64, class: usize, w: f64) {
        match &mut self.classes[class] {
            Some((g, lo, hi)) => {
                *lo = lo.min(x);
                *hi = hi.max(x);
                g.update(x, w);
            }
            slot @ None => {
                let mut g = Gaussian::default();
                g.update(x, w);
                *slot = Some((g, x, x));
            }
        }
    }

    /// The best threshold by information gain: `(merit, threshold, [left, right] class
    /// weights)`, merit -inf when none is valid.
    fn best_split(&self, pre: &[f64; 2], min_branch_fraction: f64) -> (f64, f64, [[f64; 2]; 2]) {
        let mut best = (f64::NEG_INFINITY, 0.0, [[0.0; 2]; 2]);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (_, l, h) in self.classes.iter().flatten() {
            lo = lo.min(*l);
            hi = hi.max(*h);
        }
        if lo == f64::INFINITY {
            return best;
        }
        let bin = (hi - lo) / 11.0;
        for i in 0..10 {
            let at = lo + bin * (i + 1) as f64;
            if !(lo < at && at < hi) {
                continue;
            }
            let mut post = [[0.0; 2]; 2];
            for (c, slot) in self.classes.iter().enumerate() {
                let Some((g, l, h)) = slot else { continue };
                if at < *l {
                    post[1][c] = g.n;
                } else if at >= *h {
                    post[0][c] = g.n;
                } else {
                    post[0][c] = g.cdf(at) * g.n;
                    post[1][c] = g.n - post[0][c];
                }
            }
            let merit = info_gain(pre, &post, min_branch_fraction);
            if merit > best.0 {
                best = (merit, at, post);
            }
        }
        best
    }
}

/// Entropy (bits) of class weights.
fn entropy(dist: &[f64; 2]) -> f64 {
    let mut e = 0.0;
    let mut total = 0.0;
    for d in dist.iter().filter(|d| **d > 0.0) {
        e -= d * d.log2();
        total += d;
    }
    if total > 0.0 {
        (e + total * total.log2()) / total
    } else {
        0.0
    }
}

fn info_gain(pre: &[f64; 2], post: &[[f64; 2]; 2], min_branch_fraction: f64) -> f64 {
    let sums = [post[0][0] + post[0][1], post[1][0] + post[1][1]];
    let total = sums[0] + sums[1];
    let big = sums
        .iter()
        .filter(|s| total > 0.0 && **s / total > min_branch_fraction)
        .count();
    if big < 2 {
        return f64::NEG_INFINITY;
    }
    entropy(pre) - (sums[0] * entropy(&post[0]) + sums[1] * entropy(&post[1])) / total
}

/// A split: the feature, its threshold, and the class weights each side.
type Split = (usize, f64, [[f64; 2]; 2]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Leaf {
    stats: [f64; 2],
    /// The features this leaf watches, in order (all of them, or a random subset for a
    /// forest's trees, drawn at the leaf's first record), each with its splitter.
    splitters: Vec<(usize, Splitter)>,
    sampled: bool,
    depth: u32,
    active: bool,
    last_attempt: f64,
    mc_correct: f64,
    nb_correct: f64,
}

impl Leaf {
    fn new(stats: [f64; 2], depth: u32) -> Self {
        Leaf {
            stats,
            splitters: Vec::new(),
            sampled: false,
            depth,
            active: true,
            last_attempt: stats[0] + stats[1],
            mc_correct: 0.0,
            nb_correct: 0.0,
        }
    }

    fn total(&self) -> f64 {
        self.stats[0] + self.stats[1]
    }

    /// Naive Bayes' probability of class 1, or `None` with no weight yet.
    fn naive_bayes(&self, x: &[f64]) -> Option<f64> {
        let total = self.total();
        if total == 0.0 {
            return None;
        }
        let mut votes = [f64::NEG_INFINITY; 2];
        for (c, vote) in votes.iter_mut().enumerate() {
            if self.stats[c] <= 0.0 {
                continue;
            }
            *vote = (self.stats[c] / total).ln();
            for (feature, splitter) in &self.splitters {
                let Some(v) = x.get(*feature) else { continue };
                if let Some((g, _, _)) = &splitter.classes[c] {
                    let lp = g.log_pdf(*v);
                    if lp > f64::NEG_INFINITY {
                        *vote += lp;
                    }
                }
            }
        }
        Some(match votes {
            [a, b] if a == f64::NEG_INFINITY => f64::from(b > f64::NEG_INFINITY),
            [_, b] if b == f64::NEG_INFINITY => 0.0,
            [a, b] => 1.0 / (1.0 + (a - b).exp()),
        })
    }

    /// The majority's probability of class 1, or `None` with no weight yet.
    fn majority(&self) -> Option<f64> {
        let total = self.total();
        (total > 0.0).then(|| self.stats[1] / total)
    }

    /// The probability of class 1, or `None` while the leaf has no weight.
    fn predict(&self, x: &[f64]) -> Option<f64> {
        if self.active && self.nb_correct >= self.mc_correct {
            self.naive_bayes(x)
        } else {
            self.majority()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Node {
    Leaf(Leaf),
    /// Values `<= threshold` go to the first child.
    Branch {
        feature: usize,
        threshold: f64,
        children: [usize; 2],
    },
}

/// The Hoeffding tree classifier; see the module documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoeffdingTreeClassifier {
    /// Records a leaf sees between split attempts.
    pub grace_period: f64,
    /// Allowed chance of a wrong split decision.
    pub delta: f64,
    /// Ties are broken (a split is made) once the bound is below this.
    pub tau: f64,
    /// Least share of the records each branch of a split must get.
    pub min_branch_fraction: f64,
    /// Greatest depth of a leaf.
    pub max_depth: u32,
    /// Features each leaf watches, drawn at random per leaf (a forest's trees); all if `None`.
    pub max_features: Option<usize>,
    /// Seed of the feature draws.
    pub seed: u64,
    draws: u64,
    nodes: Vec<Node>,
}

impl Default for HoeffdingTreeClassifier {
    fn default() -> Self {
        HoeffdingTreeClassifier {
            grace_period: 200.0,
            delta: 1e-7,
            tau: 0.05,
            min_branch_fraction: 0.01,
            max_depth: u32::MAX,
            max_features: None,
            seed: 0,
            draws: 0,
            nodes: vec![Node::Leaf(Leaf::new([0.0; 2], 0))],
        }
    }
}

impl HoeffdingTreeClassifier {
    /// The index of `x`'s leaf.
    fn leaf_of(&self, x: &[f64]) -> usize {
        let mut at = 0;
        while let Node::Branch {
            feature,
            threshold,
            children,
        } = &self.nodes[at]
        {
            let value = x.get(*feature).copied().unwrap_or(f64::NAN);
            at = children
                [usize::from(value.partial_cmp(threshold) == Some(std::cmp::Ordering::Greater))];
        }
        at
    }

    /// The probability of class 1 for `x`, or `None` while its leaf has seen nothing (River
    /// then gives every class 0).
    pub fn predict_if_known(&self, x: &[f64]) -> Option<f64> {
        match &self.nodes[self.leaf_of(x)] {
            Node::Leaf(leaf) => leaf.predict(x),
            Node::Branch { .. } => None,
        }
    }

    /// Whether the tree has learned a record yet (before, River's tree knows no class and
    /// predicts none).
    pub fn has_learned(&self) -> bool {
        match self.nodes.as_slice() {
            [Node::Leaf(leaf)] => leaf.stats.iter().any(|w| *w > 0.0),
            _ => true,
        }
    }

    /// Leaves in the tree.
    pub fn leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf(_)))
            .count()
    }

    fn attempt_split(&mut self, at: usize) {
        let Node::Leaf(leaf) = &self.nodes[at] else {
            return;
        };
        if leaf.stats.iter().filter(|w| **w > 0.0).count() < 2 {
            return;
        }
        // Candidates: the null split (merit -inf, as River's) and each feature's best, in
        // order; a stable sort by merit, the best last.
        let mut candidates: Vec<(f64, Option<Split>)> = vec![(f64::NEG_INFINITY, None)];
        for (feature, splitter) in &leaf.splitters {
            let (merit, threshold, post) =
                splitter.best_split(&leaf.stats, self.min_branch_fraction);
            let split = (merit > f64::NEG_INFINITY).then_some((*feature, threshold, post));
            candidates.push((merit, split));
        }
        candidates.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let n = leaf.total();
        let range = 1.0f64; // log2 of two classes
        let bound = (range * range * (1.0 / self.delta).ln() / (2.0 * n)).sqrt();
        let (best, second) = (
            &candidates[candidates.len() - 1],
            &candidates[candidates.len() - 2],
        );
        if !(best.0 - second.0 > bound || bound < self.tau) {
            return;
        }
        let depth = leaf.depth;
        match best.1 {
            None => {
                if let Node::Leaf(leaf) = &mut self.nodes[at] {
                    leaf.active = false;
                }
            }
            Some((feature, threshold, post)) => {
                let left = self.nodes.len();
                self.nodes.push(Node::Leaf(Leaf::new(post[0], depth + 1)));
                self.nodes.push(Node::Leaf(Leaf::new(post[1], depth + 1)));
                self.nodes[at] = Node::Branch {
                    feature,
                    threshold,
                    children: [left, left + 1],
                };
            }
        }
    }
}

impl OnlineClassifier for HoeffdingTreeClassifier {
    fn predict_proba_one(&self, x: &[f64]) -> f64 {
        self.predict_if_known(x).unwrap_or(0.0)
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        self.learn_weighted(x, y, 1.0);
    }
}

impl HoeffdingTreeClassifier {
    /// The features a new leaf watches: all, or `max_features` of them drawn without
    /// replacement.
    fn draw_features(&mut self, dims: usize) -> Vec<usize> {
        let all: Vec<usize> = (0..dims).collect();
        match self.max_features {
            Some(k) if k < dims => {
                self.draws += 1;
                let mut rng = ChaCha8Rng::seed_from_u64(
                    self.seed ^ self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                rand::seq::index::sample(&mut rng, dims, k).into_vec()
            }
            _ => all,
        }
    }

    /// Learns a record with weight `w` (a forest's Poisson weight; 1 for a single tree).
    pub fn learn_weighted(&mut self, x: &[f64], y: f64, w: f64) {
        let class = usize::from(y == 1.0);
        let at = self.leaf_of(x);
        let needs_features = matches!(&self.nodes[at], Node::Leaf(l) if !l.sampled);
        let drawn = needs_features.then(|| self.draw_features(x.len()));
        let grace = self.grace_period;
        let max_depth = self.max_depth;
        let Node::Leaf(leaf) = &mut self.nodes[at] else {
            return;
        };
        if leaf.active {
            let right = |p: Option<f64>| match p {
                Some(p) => usize::from(p > 0.5) == class,
                None => false,
            };
            if leaf.total() == 0.0 || right(leaf.majority()) {
                leaf.mc_correct += w;
            }
            if right(leaf.naive_bayes(x)) {
                leaf.nb_correct += w;
            }
        }
        leaf.stats[class] += w;
        if !leaf.active {
            return;
        }
        if let Some(features) = drawn {
            leaf.splitters = features
                .into_iter()
                .map(|f| (f, Splitter::default()))
                .collect();
            leaf.sampled = true;
        }
        for (feature, splitter) in &mut leaf.splitters {
            if let Some(v) = x.get(*feature) {
                splitter.update(*v, class, w);
            }
        }
        if leaf.depth >= max_depth {
            leaf.active = false;
            return;
        }
        let seen = leaf.total();
        if seen - leaf.last_attempt >= grace {
            self.attempt_split(at);
            if let Node::Leaf(leaf) = &mut self.nodes[at] {
                leaf.last_attempt = seen;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::{progressive_accuracy, streams};

    #[test]
    fn erf_matches_known_values() {
        for (x, expected) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (-1.5, -0.966_105_146_475_310_7),
            (4.0, 0.999_999_984_582_742_1),
        ] {
            assert!((erf(x) - expected).abs() < 1e-12, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn grows_on_a_stream_with_structure_and_beats_the_majority() {
        let s = streams::agrawal(20_000, 0, 0.0, 5);
        let mut tree = HoeffdingTreeClassifier::default();
        let score = progressive_accuracy(&mut tree, &s.x, &s.y);
        assert!(tree.leaves() > 1);
        assert!(score.accuracy > score.baseline + 0.2, "{score:?}");
    }
}
