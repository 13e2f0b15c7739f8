//! Growing one gradient-boosting tree leaf-wise on binned features: scikit-learn's
//! `TreeGrower` of `HistGradientBoosting*`.
//!
//! Each node sums its rows' gradients `g` and hessians `h` per feature and bin; the best
//! split maximises `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)` with at least `min_samples_leaf`
//! rows and a hessian of `1e-3` on each side, and the open leaf with the largest gain is split
//! next until `max_leaf_nodes` leaves exist. A leaf predicts `−G/(H+λ)` times the learning
//! rate. Of two sibling nodes only the smaller's histograms are built from its rows; the
//! larger's are the parent's minus the smaller's.

use rayon::prelude::*;

use super::binning::BinnedMatrix;
use super::cart::partition;
use super::nodes::Tree;

/// Least hessian each side of a split must keep (scikit-learn's `min_hessian_to_split`).
const MIN_HESSIAN: f64 = 1e-3;

/// Histogram work (rows times features) above which features are binned in parallel.
const PARALLEL_CELLS: usize = 50_000;

/// Checked growing parameters.
#[derive(Clone, Debug)]
pub(crate) struct LeafwiseSettings {
    /// Most leaves per tree (`usize::MAX` for no limit).
    pub max_leaf_nodes: usize,
    /// Deepest level of splits (`usize::MAX` for none).
    pub max_depth: usize,
    /// Fewest rows per leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty λ on the leaf values.
    pub l2_regularization: f64,
    /// Factor applied to every leaf value.
    pub learning_rate: f64,
}

/// A split of a node: rows with `bin <= bin` on `feature` go left.
#[derive(Clone, Copy)]
struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
    left_g: f64,
    left_h: f64,
}

/// A leaf that may still be split.
struct Open {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    sums: Sums,
    hist: Vec<f64>,
    split: Split,
}

/// Sums of a node's rows.
#[derive(Clone, Copy)]
struct Sums {
    g: f64,
    h: f64,
}

/// A fitted leaf: its value and its training rows, `Grown::rows[start..end]`.
pub(crate) struct LeafRows {
    pub value: f64,
    pub start: usize,
    pub end: usize,
}

/// A grown tree, the training rows in leaf order and each leaf's range of them.
pub(crate) struct Grown {
    pub tree: Tree,
    pub rows: Vec<u32>,
    pub leaves: Vec<LeafRows>,
}

struct Grower<'a> {
    data: &'a BinnedMatrix,
    gradients: &'a [f64],
    hessians: &'a [f64],
    settings: &'a LeafwiseSettings,
    /// Where each feature's bins start in a histogram (3 values per bin: g, h, count).
    offsets: Vec<usize>,
}

/// Grows a tree on all rows of `data` with the given per-row gradients and hessians.
pub(crate) fn grow(
    data: &BinnedMatrix,
    gradients: &[f64],
    hessians: &[f64],
    settings: &LeafwiseSettings,
) -> Grown {
    let mut offsets = Vec::with_capacity(data.cols() + 1);
    offsets.push(0);
    for j in 0..data.cols() {
        offsets.push(offsets[j] + 3 * data.n_bins(j));
    }
    let grower = Grower {
        data,
        gradients,
        hessians,
        settings,
        offsets,
    };
    grower.grow()
}

impl Grower<'_> {
    fn value(&self, sums: Sums) -> f64 {
        let denominator = sums.h + self.settings.l2_regularization;
        if denominator > 0.0 {
            -sums.g / denominator * self.settings.learning_rate
        } else {
            0.0
        }
    }

    fn grow(&self) -> Grown {
        let n = self.data.rows();
        // The caller has checked that row indices fit in u32.
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let root = Sums {
            g: self.gradients.iter().sum(),
            h: self.hessians.iter().sum(),
        };
        let mut tree = Tree::with_width(1);
        tree.push_leaf(&[self.value(root)]);
        let mut leaves = Vec::new();
        let mut open: Vec<Open> = Vec::new();
        let s = self.settings;
        let root_splittable = s.max_leaf_nodes > 1
            && s.max_depth > 0
            && n >= 2 * s.min_samples_leaf
            && root.h >= MIN_HESSIAN;
        let mut root_hist = vec![0.0; self.offsets[self.data.cols()]];
        let root_split = if root_splittable {
            self.histogram(&rows, &mut root_hist);
            self.best_split(&root_hist, root, n)
        } else {
            None
        };
        match root_split {
            Some(split) => open.push(Open {
                node: 0,
                start: 0,
                end: n,
                depth: 0,
                sums: root,
                hist: root_hist,
                split,
            }),
            None => leaves.push(LeafRows {
                value: self.value(root),
                start: 0,
                end: n,
            }),
        }
        let mut n_leaves = 1;
        let mut spill = Vec::new();
        while let Some(best) = (0..open.len()).max_by(|&a, &b| {
            open[a]
                .split
                .gain
                .total_cmp(&open[b].split.gain)
                // The earlier-opened leaf wins ties.
                .then(b.cmp(&a))
        }) {
            let parent = open.swap_remove(best);
            let split = parent.split;
            let column = self.data.column(split.feature);
            let bin = split.bin;
            let n_left = partition(
                &mut rows[parent.start..parent.end],
                |r| usize::from(column[r as usize]) <= bin,
                &mut spill,
            );
            let left_sums = Sums {
                g: split.left_g,
                h: split.left_h,
            };
            let right_sums = Sums {
                g: parent.sums.g - split.left_g,
                h: parent.sums.h - split.left_h,
            };
            let mid = parent.start + n_left;
            let left_id = tree.push_leaf(&[self.value(left_sums)]);
            let right_id = tree.push_leaf(&[self.value(right_sums)]);
            let threshold = self.data.threshold(split.feature, split.bin);
            tree.set_split(parent.node, split.feature, threshold, left_id, right_id);
            n_leaves += 1;
            let children = [
                (left_id, parent.start, mid, left_sums),
                (right_id, mid, parent.end, right_sums),
            ];
            if n_leaves >= s.max_leaf_nodes {
                for (_, start, end, sums) in children {
                    leaves.push(LeafRows {
                        value: self.value(sums),
                        start,
                        end,
                    });
                }
                break;
            }
            let depth = parent.depth + 1;
            let splittable = |start: usize, end: usize| {
                depth < s.max_depth && end - start >= 2 * s.min_samples_leaf
            };
            let wanted = children.map(|(_, start, end, _)| splittable(start, end));
            let mut hists: [Option<Vec<f64>>; 2] = [None, None];
            if wanted[0] || wanted[1] {
                // The smaller child's histograms from its rows, the larger's by subtraction.
                let small =
                    usize::from(end_minus_start(children[1]) < end_minus_start(children[0]));
                let (_, start, end, _) = children[small];
                let mut small_hist = vec![0.0; parent.hist.len()];
                self.histogram(&rows[start..end], &mut small_hist);
                let mut large_hist = parent.hist;
                large_hist
                    .iter_mut()
                    .zip(&small_hist)
                    .for_each(|(p, c)| *p -= c);
                hists[small] = Some(small_hist);
                hists[1 - small] = Some(large_hist);
            }
            for (c, (node, start, end, sums)) in children.into_iter().enumerate() {
                let split = match (&hists[c], wanted[c]) {
                    (Some(hist), true) => self.best_split(hist, sums, end - start),
                    _ => None,
                };
                match (split, hists[c].take()) {
                    (Some(split), Some(hist)) => open.push(Open {
                        node,
                        start,
                        end,
                        depth,
                        sums,
                        hist,
                        split,
                    }),
                    _ => leaves.push(LeafRows {
                        value: self.value(sums),
                        start,
                        end,
                    }),
                }
            }
        }
        for leaf in open {
            leaves.push(LeafRows {
                value: self.value(leaf.sums),
                start: leaf.start,
                end: leaf.end,
            });
        }
        Grown { tree, rows, leaves }
    }

    /// Sums the gradients, hessians and counts of `rows` per feature and bin into `hist`.
    fn histogram(&self, rows: &[u32], hist: &mut [f64]) {
        // The root holds every row in order: its gradients need no gathering and the bins
        // are read sequentially.
        let all = rows.len() == self.data.rows();
        let ordered: Vec<(f64, f64)> = if all {
            Vec::new()
        } else {
            rows.iter()
                .map(|&r| (self.gradients[r as usize], self.hessians[r as usize]))
                .collect()
        };
        let mut slices: Vec<(usize, &mut [f64])> = Vec::with_capacity(self.data.cols());
        let mut rest = hist;
        for j in 0..self.data.cols() {
            let (head, tail) = rest.split_at_mut(self.offsets[j + 1] - self.offsets[j]);
            slices.push((j, head));
            rest = tail;
        }
        let fill = |(j, h): &mut (usize, &mut [f64])| {
            let column = self.data.column(*j);
            // Accumulate in a fixed array indexed by the u8 bin: no bounds checks in the
            // hot loop, and the array stays in L1.
            let mut bins = [[0.0f64; 3]; 256];
            if all {
                for ((&b, &g), &hess) in column.iter().zip(self.gradients).zip(self.hessians) {
                    let bin = &mut bins[usize::from(b)];
                    bin[0] += g;
                    bin[1] += hess;
                    bin[2] += 1.0;
                }
            } else {
                for (&r, &(g, hess)) in rows.iter().zip(&ordered) {
                    let bin = &mut bins[usize::from(column[r as usize])];
                    bin[0] += g;
                    bin[1] += hess;
                    bin[2] += 1.0;
                }
            }
            for (out, bin) in h.chunks_exact_mut(3).zip(&bins) {
                out.copy_from_slice(bin);
            }
        };
        if rows.len() * self.data.cols() >= PARALLEL_CELLS {
            slices.par_iter_mut().for_each(fill);
        } else {
            slices.iter_mut().for_each(fill);
        }
    }

    /// The split with the largest positive gain over all features, the first feature winning
    /// ties (as scikit-learn).
    fn best_split(&self, hist: &[f64], sums: Sums, n: usize) -> Option<Split> {
        let mut best: Option<Split> = None;
        for j in 0..self.data.cols() {
            if let Some(split) =
                self.best_split_on(j, &hist[self.offsets[j]..self.offsets[j + 1]], sums, n)
            {
                if best.is_none_or(|b| split.gain > b.gain) {
                    best = Some(split);
                }
            }
        }
        best
    }

    fn best_split_on(&self, feature: usize, hist: &[f64], sums: Sums, n: usize) -> Option<Split> {
        let l2 = self.settings.l2_regularization;
        let min_leaf = self.settings.min_samples_leaf;
        let parent = sums.g * sums.g / (sums.h + l2);
        let n_bins = hist.len() / 3;
        let (mut g, mut h, mut count) = (0.0, 0.0, 0usize);
        let mut best: Option<Split> = None;
        for b in 0..n_bins.saturating_sub(1) {
            g += hist[3 * b];
            h += hist[3 * b + 1];
            // Counts are whole numbers, summed exactly in f64.
            count += hist[3 * b + 2] as usize;
            let (gr, hr, nr) = (sums.g - g, sums.h - h, n.saturating_sub(count));
            if count < min_leaf {
                continue;
            }
            if nr < min_leaf {
                break;
            }
            if h < MIN_HESSIAN {
                continue;
            }
            if hr < MIN_HESSIAN {
                break;
            }
            let gain = g * g / (h + l2) + gr * gr / (hr + l2) - parent;
            if gain > 0.0 && best.is_none_or(|s| gain > s.gain) {
                best = Some(Split {
                    feature,
                    bin: b,
                    gain,
                    left_g: g,
                    left_h: h,
                });
            }
        }
        best
    }
}

fn end_minus_start(child: (usize, usize, usize, Sums)) -> usize {
    child.2 - child.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Matrix;

    fn settings() -> LeafwiseSettings {
        LeafwiseSettings {
            max_leaf_nodes: 31,
            max_depth: usize::MAX,
            min_samples_leaf: 1,
            l2_regularization: 0.0,
            learning_rate: 1.0,
        }
    }

    #[test]
    fn a_step_is_learned_in_one_split_with_newton_leaf_values() {
        // Squared error from a zero start: g = -y, h = 1, so leaves predict the means.
        let x = Matrix::new(6, 1, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let y = [2.0, 2.0, 2.0, 8.0, 8.0, 8.0];
        let data = BinnedMatrix::new(&x, 255);
        let g: Vec<f64> = y.iter().map(|v| -v).collect();
        let grown = grow(&data, &g, &[1.0; 6], &settings());
        assert_eq!(grown.tree.node_count(), 3);
        assert_eq!(grown.tree.predict_row(&[3.0]), &[2.0]);
        assert_eq!(grown.tree.predict_row(&[4.0]), &[8.0]);
        let mut covered: Vec<u32> = grown
            .leaves
            .iter()
            .flat_map(|l| grown.rows[l.start..l.end].to_vec())
            .collect();
        covered.sort_unstable();
        assert_eq!(covered, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn every_training_row_is_in_the_leaf_the_tree_sends_it_to() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (n, d) = (3000, 5);
        let x = Matrix::new(n, d, (0..n * d).map(|_| rng.random::<f64>()).collect()).unwrap();
        let g: Vec<f64> = (0..n)
            .map(|i| x.get(i, 0) - x.get(i, 3) * x.get(i, 1) + rng.random::<f64>() * 0.1)
            .collect();
        let h: Vec<f64> = (0..n).map(|_| 0.1 + rng.random::<f64>()).collect();
        let data = BinnedMatrix::new(&x, 255);
        let grown = grow(
            &data,
            &g,
            &h,
            &LeafwiseSettings {
                min_samples_leaf: 20,
                ..settings()
            },
        );
        assert_eq!(grown.tree.leaf_count(), 31);
        for leaf in &grown.leaves {
            for &r in &grown.rows[leaf.start..leaf.end] {
                assert_eq!(grown.tree.predict_row(x.row(r as usize)), &[leaf.value]);
            }
        }
    }

    #[test]
    fn leaf_count_samples_per_leaf_and_l2_are_honoured() {
        let n = 200;
        let x = Matrix::new(n, 1, (0..n).map(|i| i as f64).collect()).unwrap();
        let data = BinnedMatrix::new(&x, 255);
        let g: Vec<f64> = (0..n).map(|i| -((i * 7 % 13) as f64)).collect();
        let h = vec![1.0; n];
        let grown = grow(
            &data,
            &g,
            &h,
            &LeafwiseSettings {
                max_leaf_nodes: 5,
                ..settings()
            },
        );
        assert_eq!(grown.tree.leaf_count(), 5);
        assert_eq!(grown.leaves.len(), 5);
        let wide = grow(
            &data,
            &g,
            &h,
            &LeafwiseSettings {
                min_samples_leaf: 30,
                ..settings()
            },
        );
        assert!(wide.leaves.iter().all(|l| l.end - l.start >= 30));
        // λ shrinks the root's value: -G / (H + λ).
        let shrunk = grow(
            &data,
            &g,
            &h,
            &LeafwiseSettings {
                max_leaf_nodes: 1,
                l2_regularization: 200.0,
                ..settings()
            },
        );
        let total: f64 = g.iter().sum();
        assert!((shrunk.tree.predict_row(&[0.0])[0] + total / 400.0).abs() < 1e-12);
    }
}
