//! The Hoeffding tree regressor, as River's `tree.HoeffdingTreeRegressor` with its defaults
//! (the FIMT-DD family of incremental model trees):
//!
//! - each leaf keeps the target's running mean and variance, an online linear regression
//!   (started from its parent's when the leaf is made) and, per feature, an extended binary
//!   search tree (E-BST) of the feature's values rounded to one decimal (River's
//!   `TEBSTSplitter`) with the target's statistics at each value;
//! - every `grace_period` records a leaf looks for the split of greatest variance reduction
//!   (both sides need `min_samples_split` records) and splits when the second best is worse
//!   by more than the Hoeffding bound, or the bound is under `tau`; when it does not split,
//!   thresholds much worse than the best are pruned from the E-BSTs (FIMT-DD's memory
//!   management);
//! - a leaf predicts its mean or its linear model, whichever has the smaller exponentially
//!   decayed squared error so far (River's adaptive leaves).
//!
//! The order of operations follows River's, so predictions agree with River's to rounding.

use serde::{Deserialize, Serialize};

use super::{OnlineLinearRegression, OnlineRegressor};

/// Weighted running mean and sum of squared deviations (River's `stats.Var`, `ddof` 1), with
/// River's merge and removal of a part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Var {
    n: f64,
    mean: f64,
    s: f64,
}

impl Var {
    fn update(&mut self, x: f64, w: f64) {
        let old = self.mean;
        self.n += w;
        self.mean += (w / self.n) * (x - self.mean);
        self.s += w * (x - old) * (x - self.mean);
    }

    fn variance(&self) -> f64 {
        if self.n > 1.0 {
            self.s / (self.n - 1.0)
        } else {
            0.0
        }
    }

    fn plus(mut self, other: &Var) -> Var {
        let total = self.n + other.n;
        if total == 0.0 {
            return Var::default();
        }
        let d = self.mean - other.mean;
        self.s += other.s + d * d * self.n * other.n / total;
        self.mean = (self.n * self.mean + other.n * other.mean) / total;
        self.n = total;
        self
    }

    fn minus(mut self, other: &Var) -> Var {
        let old = self.n;
        self.n -= other.n;
        if self.n > 0.0 {
            self.mean = (old * self.mean - other.n * other.mean) / self.n;
        } else {
            self.n = 0.0;
            self.mean = 0.0;
        }
        let d = self.mean - other.mean;
        self.s -= other.s + d * d * self.n * other.n / (self.n + other.n);
        self
    }
}

/// Variance reduction of splitting `pre` into `left` and `right`, 0 unless both sides have
/// `min_samples` records.
fn variance_reduction(pre: &Var, left: &Var, right: &Var, min_samples: f64) -> f64 {
    if left.n < min_samples || right.n < min_samples {
        return 0.0;
    }
    pre.variance() - left.n / pre.n * left.variance() - right.n / pre.n * right.variance()
}

/// A node of an E-BST: a value, the target's statistics of the records with values up to it
/// in its subtree, and its children (indices into the arena).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct EbstNode {
    value: f64,
    stats: Var,
    left: Option<u32>,
    right: Option<u32>,
}

/// The extended binary search tree of one feature at one leaf.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Ebst {
    nodes: Vec<EbstNode>,
    root: Option<u32>,
}

/// A split found by [`Ebst::best_split`].
struct Candidate {
    merit: f64,
    threshold: f64,
    left: Var,
    right: Var,
}

impl Ebst {
    fn push(&mut self, value: f64, y: f64, w: f64) -> u32 {
        let mut stats = Var::default();
        stats.update(y, w);
        self.nodes.push(EbstNode {
            value,
            stats,
            left: None,
            right: None,
        });
        (self.nodes.len() - 1) as u32
    }

    fn insert(&mut self, value: f64, y: f64, w: f64) {
        let Some(mut at) = self.root else {
            self.root = Some(self.push(value, y, w));
            return;
        };
        loop {
            let node = &mut self.nodes[at as usize];
            if value == node.value {
                node.stats.update(y, w);
                return;
            }
            let next = if value < node.value {
                node.stats.update(y, w);
                node.left
            } else {
                node.right
            };
            match next {
                Some(next) => at = next,
                None => {
                    let new = self.push(value, y, w);
                    let node = &mut self.nodes[at as usize];
                    if value < node.value {
                        node.left = Some(new);
                    } else {
                        node.right = Some(new);
                    }
                    return;
                }
            }
        }
    }

    /// The threshold of greatest variance reduction (the first of equals, in value order).
    fn best_split(&self, pre: &Var, min_samples: f64) -> Option<Candidate> {
        enum Op {
            Descend(u32),
            Process(u32),
            Add(u32),
            Sub(u32),
        }
        let mut best: Option<Candidate> = None;
        let mut aux = Var::default();
        let mut ops = vec![Op::Descend(self.root?)];
        while let Some(op) = ops.pop() {
            match op {
                Op::Descend(i) => {
                    let node = &self.nodes[i as usize];
                    if let Some(right) = node.right {
                        ops.push(Op::Sub(i));
                        ops.push(Op::Descend(right));
                        ops.push(Op::Add(i));
                    }
                    ops.push(Op::Process(i));
                    if let Some(left) = node.left {
                        ops.push(Op::Descend(left));
                    }
                }
                Op::Add(i) => aux = aux.plus(&self.nodes[i as usize].stats),
                Op::Sub(i) => aux = aux.minus(&self.nodes[i as usize].stats),
                Op::Process(i) => {
                    let node = &self.nodes[i as usize];
                    let left = node.stats.plus(&aux);
                    let right = pre.minus(&left);
                    let merit = variance_reduction(pre, &left, &right, min_samples);
                    if best.as_ref().is_none_or(|b| merit > b.merit) {
                        best = Some(Candidate {
                            merit,
                            threshold: node.value,
                            left,
                            right,
                        });
                    }
                }
            }
        }
        best
    }

    /// FIMT-DD's pruning after a failed split attempt: removes the nodes (bottom up) whose
    /// whole subtrees are thresholds with a merit ratio to the best under `ratio - 2 bound`.
    fn remove_bad_splits(
        &mut self,
        pre: &Var,
        min_samples: f64,
        (ratio, best, bound): (f64, f64, f64),
    ) {
        const LEFT: u8 = 0;
        const RIGHT: u8 = 1;
        const EVAL: u8 = 2;
        struct Frame {
            node: u32,
            parent: Option<u32>,
            is_left: bool,
            phase: u8,
            added: bool,
        }
        let Some(root) = self.root else { return };
        let mut aux = Var::default();
        let mut child_is_bad = false;
        let mut stack = vec![Frame {
            node: root,
            parent: None,
            is_left: true,
            phase: LEFT,
            added: false,
        }];
        while let Some(frame) = stack.last_mut() {
            let node = frame.node;
            let (left, right) = (
                self.nodes[node as usize].left,
                self.nodes[node as usize].right,
            );
            if frame.phase == LEFT {
                frame.phase = RIGHT;
                match left {
                    Some(left) => stack.push(Frame {
                        node: left,
                        parent: Some(node),
                        is_left: true,
                        phase: LEFT,
                        added: false,
                    }),
                    None => child_is_bad = true,
                }
                continue;
            }
            if frame.phase == RIGHT {
                if !child_is_bad {
                    stack.pop();
                    continue;
                }
                frame.phase = EVAL;
                match right {
                    Some(right) => {
                        aux = aux.plus(&self.nodes[node as usize].stats);
                        frame.added = true;
                        stack.push(Frame {
                            node: right,
                            parent: Some(node),
                            is_left: false,
                            phase: LEFT,
                            added: false,
                        });
                    }
                    None => child_is_bad = true,
                }
                continue;
            }
            let Some(frame) = stack.pop() else { break };
            if frame.added {
                aux = aux.minus(&self.nodes[node as usize].stats);
            }
            if child_is_bad {
                let left_stats = self.nodes[node as usize].stats.plus(&aux);
                let right_stats = pre.minus(&left_stats);
                let merit = variance_reduction(pre, &left_stats, &right_stats, min_samples);
                if merit / best < ratio - 2.0 * bound {
                    let n = &mut self.nodes[node as usize];
                    n.left = None;
                    n.right = None;
                    match frame.parent {
                        None => self.root = None,
                        Some(p) if frame.is_left => self.nodes[p as usize].left = None,
                        Some(p) => self.nodes[p as usize].right = None,
                    }
                    child_is_bad = true;
                    continue;
                }
            }
            child_is_bad = false;
        }
        self.compact();
    }

    /// Drops the arena's unreachable nodes.
    fn compact(&mut self) {
        let Some(root) = self.root else {
            self.nodes.clear();
            return;
        };
        let mut kept = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![(root, None::<(usize, bool)>)];
        while let Some((old, parent)) = stack.pop() {
            let node = self.nodes[old as usize].clone();
            let new = kept.len();
            if let Some((p, is_left)) = parent {
                let slot: &mut EbstNode = &mut kept[p];
                if is_left {
                    slot.left = Some(new as u32);
                } else {
                    slot.right = Some(new as u32);
                }
            }
            if let Some(l) = node.left {
                stack.push((l, Some((new, true))));
            }
            if let Some(r) = node.right {
                stack.push((r, Some((new, false))));
            }
            kept.push(node);
        }
        self.root = Some(0);
        self.nodes = kept;
    }
}

/// A leaf: the target's statistics, a linear model, the split observers (none once
/// deactivated) and the decayed errors of its two ways of predicting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Leaf {
    stats: Var,
    depth: u32,
    model: OnlineLinearRegression,
    splitters: Option<Vec<Ebst>>,
    error_mean: f64,
    error_model: f64,
    last_attempt: f64,
}

impl Leaf {
    fn new(stats: Var, depth: u32, model: OnlineLinearRegression) -> Self {
        Leaf {
            stats,
            depth,
            model,
            splitters: Some(Vec::new()),
            error_mean: 0.0,
            error_model: 0.0,
            last_attempt: stats.n,
        }
    }

    fn predict(&self, x: &[f64]) -> f64 {
        if self.error_mean < self.error_model {
            self.stats.mean
        } else {
            self.model.predict_one(x)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Node {
    Leaf(Box<Leaf>),
    /// Values `<= threshold` go to the first child.
    Branch {
        feature: usize,
        threshold: f64,
        children: [usize; 2],
    },
}

/// The Hoeffding tree regressor; see the module documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoeffdingTreeRegressor {
    /// Records a leaf sees between split attempts.
    pub grace_period: f64,
    /// Allowed chance of a wrong split decision.
    pub delta: f64,
    /// Ties are broken (a split is made) once the bound is below this.
    pub tau: f64,
    /// Least records on each side of a split.
    pub min_samples_split: f64,
    /// Decay of the leaves' squared errors when choosing mean or model.
    pub model_selector_decay: f64,
    /// Greatest depth of a leaf.
    pub max_depth: u32,
    nodes: Vec<Node>,
}

impl Default for HoeffdingTreeRegressor {
    fn default() -> Self {
        HoeffdingTreeRegressor {
            grace_period: 200.0,
            delta: 1e-7,
            tau: 0.05,
            min_samples_split: 5.0,
            model_selector_decay: 0.95,
            max_depth: u32::MAX,
            nodes: vec![Node::Leaf(Box::new(Leaf::new(
                Var::default(),
                0,
                OnlineLinearRegression::default(),
            )))],
        }
    }
}

/// `x` rounded to one decimal as Python's `round(x, 1)` (half to even on the exact value).
/// Away from a tie, rounding `10 x` to a whole `k` picks the same decimal, and `k / 10` (a
/// correctly rounded division) is the double nearest to it, as Python's result is; within a
/// hair of a tie the exact decimal expansion decides.
fn round_one_decimal(x: f64) -> f64 {
    let scaled = x * 10.0;
    if ((scaled - scaled.floor()) - 0.5).abs() > 1e-6 || !scaled.is_finite() {
        return scaled.round() / 10.0;
    }
    format!("{x:.1}").parse().unwrap_or(x)
}

impl HoeffdingTreeRegressor {
    fn leaf_of(&self, x: &[f64]) -> usize {
        let mut at = 0;
        while let Node::Branch {
            feature,
            threshold,
            children,
        } = &self.nodes[at]
        {
            let v = x.get(*feature).copied().unwrap_or(f64::NAN);
            at = children[usize::from(v.is_nan() || v > *threshold)];
        }
        at
    }

    /// Leaves in the tree.
    pub fn leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf(_)))
            .count()
    }

    fn attempt_split(&mut self, at: usize) {
        let Node::Leaf(leaf) = &mut self.nodes[at] else {
            return;
        };
        let Some(splitters) = &mut leaf.splitters else {
            return;
        };
        let min = self.min_samples_split;
        // River's list: the null split first, then each feature's best, sorted stably by
        // merit; the last is the best (so the later feature wins a tie).
        let mut suggestions: Vec<(f64, Option<(usize, Candidate)>)> =
            vec![(f64::NEG_INFINITY, None)];
        for (feature, ebst) in splitters.iter().enumerate() {
            match ebst.best_split(&leaf.stats, min) {
                Some(c) => suggestions.push((c.merit, Some((feature, c)))),
                None => suggestions.push((f64::NEG_INFINITY, None)),
            }
        }
        suggestions.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = suggestions.len();
        if n < 2 {
            leaf.splitters = None;
            return;
        }
        let bound = (1.0f64 * (1.0 / self.delta).ln() / (2.0 * leaf.stats.n)).sqrt();
        let (best, second) = (suggestions[n - 1].0, suggestions[n - 2].0);
        let split = best > 0.0 && (second / best < 1.0 - bound || bound < self.tau);
        if !split {
            if best > 0.0 && second > 0.0 {
                let pre = leaf.stats;
                for ebst in splitters.iter_mut() {
                    ebst.remove_bad_splits(&pre, min, (second / best, best, bound));
                }
            }
            return;
        }
        let Some((_, Some((feature, candidate)))) = suggestions.pop() else {
            // The null split is best: the leaf stops growing.
            leaf.splitters = None;
            return;
        };
        let child = |stats: Var| {
            let mut new = Leaf::new(stats, leaf.depth + 1, leaf.model.clone());
            new.error_mean = leaf.error_mean;
            new.error_model = leaf.error_model;
            Node::Leaf(Box::new(new))
        };
        let (left, right) = (child(candidate.left), child(candidate.right));
        let first = self.nodes.len();
        self.nodes.push(left);
        self.nodes.push(right);
        self.nodes[at] = Node::Branch {
            feature,
            threshold: candidate.threshold,
            children: [first, first + 1],
        };
    }
}

impl OnlineRegressor for HoeffdingTreeRegressor {
    fn predict_one(&self, x: &[f64]) -> f64 {
        match &self.nodes[self.leaf_of(x)] {
            Node::Leaf(leaf) => leaf.predict(x),
            Node::Branch { .. } => 0.0,
        }
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        let at = self.leaf_of(x);
        let decay = self.model_selector_decay;
        let Node::Leaf(leaf) = &mut self.nodes[at] else {
            return;
        };
        let by_mean = leaf.stats.mean;
        let by_model = leaf.model.predict_one(x);
        leaf.error_mean = decay * leaf.error_mean + (y - by_mean).powi(2);
        leaf.error_model = decay * leaf.error_model + (y - by_model).powi(2);
        leaf.stats.update(y, 1.0);
        if let Some(splitters) = &mut leaf.splitters {
            if splitters.len() < x.len() {
                splitters.resize_with(x.len(), Ebst::default);
            }
            for (ebst, v) in splitters.iter_mut().zip(x) {
                if !v.is_nan() {
                    ebst.insert(round_one_decimal(*v), y, 1.0);
                }
            }
        }
        leaf.model.learn_one(x, y);
        if leaf.splitters.is_none() {
            return;
        }
        if leaf.depth >= self.max_depth {
            leaf.splitters = None;
            return;
        }
        let seen = leaf.stats.n;
        if seen - leaf.last_attempt >= self.grace_period {
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
    use crate::online::streams;

    #[test]
    fn var_merges_and_removes_parts_like_one_pass() {
        let values = [3.0, 1.5, 4.0, 9.5, 2.0, 6.0];
        let (mut all, mut a, mut b) = (Var::default(), Var::default(), Var::default());
        for (i, v) in values.iter().enumerate() {
            all.update(*v, 1.0);
            if i < 2 { &mut a } else { &mut b }.update(*v, 1.0);
        }
        let merged = a.plus(&b);
        assert!((merged.variance() - all.variance()).abs() < 1e-12);
        let back = all.minus(&a);
        assert!((back.variance() - b.variance()).abs() < 1e-12);
        assert!((back.mean - b.mean).abs() < 1e-12);
    }

    #[test]
    fn rounding_is_pythons() {
        assert_eq!(round_one_decimal(0.25), 0.2);
        assert_eq!(round_one_decimal(0.35), 0.3); // 0.35 is just under in binary
        assert_eq!(round_one_decimal(0.96), 1.0);
        assert_eq!(round_one_decimal(-0.25), -0.2);
        assert_eq!(round_one_decimal(2.449_999), 2.4);
        for i in 0..10_000 {
            let x = i as f64 * 0.000_731 - 3.0;
            assert_eq!(
                round_one_decimal(x),
                format!("{x:.1}").parse::<f64>().unwrap(),
                "{x}"
            );
        }
    }

    #[test]
    fn the_tree_splits_and_beats_the_mean_on_friedman() {
        let s = streams::friedman(4_000, 1);
        let mut tree = HoeffdingTreeRegressor::default();
        let (mut err, mut err_mean, mut sum) = (0.0, 0.0, 0.0);
        for (i, (row, y)) in s.x.row_iter().zip(&s.y).enumerate() {
            err += (tree.predict_one(row) - y).abs();
            let mean = if i == 0 { 0.0 } else { sum / i as f64 };
            err_mean += (mean - y).abs();
            sum += y;
            tree.learn_one(row, *y);
        }
        assert!(tree.leaves() > 1, "no split");
        assert!(err < 0.8 * err_mean, "tree {err}, mean {err_mean}");
    }
}
