//! A fitted tree as parallel arrays, and a list of trees saved as concatenated arrays.

use crate::error::Result;
use crate::persist::ModelParts;

/// Marks a leaf in [`Tree`]'s feature array.
const LEAF: u32 = u32::MAX;

/// A fitted binary tree as parallel arrays, one entry per node, the root first: node `i`
/// sends a row to `left[i]` when `row[feature[i]] <= threshold[i]` and to `right[i]`
/// otherwise, or is a leaf. Every node carries `width` values (class probabilities, or one
/// prediction), those of a leaf being what the tree predicts.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    feature: Vec<u32>,
    threshold: Vec<f64>,
    left: Vec<u32>,
    right: Vec<u32>,
    values: Vec<f64>,
    width: usize,
}

impl Tree {
    /// An empty tree whose nodes will carry `width` values each.
    pub(crate) fn with_width(width: usize) -> Self {
        Tree {
            feature: Vec::new(),
            threshold: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            values: Vec::new(),
            width,
        }
    }

    /// Adds a leaf with `values`, giving its index.
    pub(crate) fn push_leaf(&mut self, values: &[f64]) -> usize {
        debug_assert_eq!(values.len(), self.width);
        self.feature.push(LEAF);
        self.threshold.push(0.0);
        self.left.push(0);
        self.right.push(0);
        self.values.extend_from_slice(values);
        self.feature.len() - 1
    }

    /// Turns leaf `node` into a split on `feature` at `threshold` with the given children.
    pub(crate) fn set_split(
        &mut self,
        node: usize,
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    ) {
        // Indices fit in u32: a tree has far fewer nodes than rows, and rows are indexed by
        // u32 while growing.
        self.feature[node] = feature as u32;
        self.threshold[node] = threshold;
        self.left[node] = left as u32;
        self.right[node] = right as u32;
    }

    /// Replaces the values of `node`.
    pub(crate) fn set_values(&mut self, node: usize, values: &[f64]) {
        self.values[node * self.width..(node + 1) * self.width].copy_from_slice(values);
    }

    /// Number of nodes (splits and leaves).
    pub fn node_count(&self) -> usize {
        self.feature.len()
    }

    /// Number of leaves.
    pub fn leaf_count(&self) -> usize {
        self.feature.iter().filter(|&&f| f == LEAF).count()
    }

    /// The depth: splits on the longest path from the root to a leaf.
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.node_count()];
        let mut deepest = 0;
        // Children always come after their parent, so one forward pass suffices.
        for i in 0..self.node_count() {
            deepest = deepest.max(depth[i]);
            if self.feature[i] != LEAF {
                depth[self.left[i] as usize] = depth[i] + 1;
                depth[self.right[i] as usize] = depth[i] + 1;
            }
        }
        deepest
    }

    /// Values per node.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The values of the leaf `row` falls into.
    pub fn predict_row(&self, row: &[f64]) -> &[f64] {
        let mut node = 0usize;
        loop {
            let f = self.feature[node];
            if f == LEAF {
                return &self.values[node * self.width..(node + 1) * self.width];
            }
            node = if row[f as usize] <= self.threshold[node] {
                self.left[node]
            } else {
                self.right[node]
            } as usize;
        }
    }
}

/// Adds `trees` to `parts` as concatenated arrays: `feature` (-1 at leaves), `threshold`,
/// `left`, `right` (child indices within the tree), `values` (`width` per node) and
/// `tree_offsets` (where each tree's nodes start, plus the total).
pub(crate) fn trees_into_parts(mut parts: ModelParts, trees: &[Tree]) -> ModelParts {
    let total: usize = trees.iter().map(Tree::node_count).sum();
    let mut feature = Vec::with_capacity(total);
    let mut threshold = Vec::with_capacity(total);
    let mut left = Vec::with_capacity(total);
    let mut right = Vec::with_capacity(total);
    let mut values = Vec::new();
    let mut offsets = Vec::with_capacity(trees.len() + 1);
    offsets.push(0.0);
    for tree in trees {
        for i in 0..tree.node_count() {
            let leaf = tree.feature[i] == LEAF;
            feature.push(if leaf {
                -1.0
            } else {
                f64::from(tree.feature[i])
            });
            threshold.push(tree.threshold[i]);
            left.push(if leaf { -1.0 } else { f64::from(tree.left[i]) });
            right.push(if leaf { -1.0 } else { f64::from(tree.right[i]) });
        }
        values.extend_from_slice(&tree.values);
        offsets.push(feature.len() as f64);
    }
    parts = parts
        .with_f64("feature", &feature)
        .with_f64("threshold", &threshold)
        .with_f64("left", &left)
        .with_f64("right", &right)
        .with_f64("tree_offsets", &offsets);
    // An empty Parquet file cannot be read back, and every tree has at least one node, so
    // `values` is never empty for a non-empty model.
    parts.with_f64("values", &values)
}

/// The trees saved by [`trees_into_parts`], checked so that a damaged file cannot make
/// prediction index out of bounds or loop: features below `n_features`, children after their
/// parent and inside the tree, `width` values per node.
pub(crate) fn trees_from_parts(
    parts: &ModelParts,
    width: usize,
    n_features: usize,
) -> Result<Vec<Tree>> {
    let feature = parts.f64("feature")?;
    let threshold = parts.f64("threshold")?;
    let left = parts.f64("left")?;
    let right = parts.f64("right")?;
    let values = parts.f64("values")?;
    let offsets = parts.f64("tree_offsets")?;
    let total = feature.len();
    if threshold.len() != total || left.len() != total || right.len() != total {
        return Err(parts.damaged("the node arrays differ in length".into()));
    }
    if width == 0 || values.len() != total * width {
        return Err(parts.damaged(format!(
            "{} node values for {total} nodes of {width} values",
            values.len()
        )));
    }
    let index = |v: f64, below: usize| -> Option<usize> {
        (v >= 0.0 && v.fract() == 0.0 && v < below as f64).then_some(v as usize)
    };
    let offsets: Vec<usize> = offsets
        .iter()
        .map(|&v| index(v, total + 1))
        .collect::<Option<Vec<usize>>>()
        .filter(|o| o.first() == Some(&0) && o.last() == Some(&total))
        .filter(|o| o.windows(2).all(|w| w[0] < w[1]))
        .ok_or_else(|| parts.damaged("the tree offsets are not ascending node counts".into()))?;
    let mut trees = Vec::with_capacity(offsets.len().saturating_sub(1));
    for (t, range) in offsets.windows(2).enumerate() {
        let (start, end) = (range[0], range[1]);
        let n = end - start;
        let mut tree = Tree::with_width(width);
        for i in start..end {
            let local = i - start;
            if feature[i] < 0.0 {
                tree.push_leaf(&values[i * width..(i + 1) * width]);
                continue;
            }
            let bad = || parts.damaged(format!("tree {t}, node {local}: a broken split"));
            let f = index(feature[i], n_features).ok_or_else(bad)?;
            let l = index(left[i], n).filter(|&c| c > local).ok_or_else(bad)?;
            let r = index(right[i], n).filter(|&c| c > local).ok_or_else(bad)?;
            if threshold[i].is_nan() {
                return Err(bad());
            }
            tree.push_leaf(&values[i * width..(i + 1) * width]);
            tree.set_split(local, f, threshold[i], l, r);
        }
        trees.push(tree);
    }
    if trees.is_empty() {
        return Err(parts.damaged("the model holds no trees".into()));
    }
    Ok(trees)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> Tree {
        let mut t = Tree::with_width(2);
        t.push_leaf(&[0.5, 0.5]);
        let l = t.push_leaf(&[1.0, 0.0]);
        let r = t.push_leaf(&[0.25, 0.75]);
        t.set_split(0, 1, 2.5, l, r);
        t
    }

    #[test]
    fn rows_go_left_at_or_below_the_threshold() {
        let t = stump();
        assert_eq!(t.predict_row(&[9.0, 2.5]), &[1.0, 0.0]);
        assert_eq!(t.predict_row(&[9.0, 2.6]), &[0.25, 0.75]);
        assert_eq!((t.node_count(), t.leaf_count(), t.depth()), (3, 2, 1));
    }

    #[test]
    fn trees_round_trip_and_broken_arrays_are_refused() {
        let mut single = Tree::with_width(2);
        single.push_leaf(&[0.1, 0.9]);
        let trees = vec![stump(), single];
        let parts = trees_into_parts(ModelParts::new("Test", &()).unwrap(), &trees);
        assert_eq!(trees_from_parts(&parts, 2, 2).unwrap(), trees);
        // The split's feature must exist in the data the model scores.
        assert!(trees_from_parts(&parts, 2, 1).is_err());
        // A child pointing back at its parent would loop forever.
        let mut cyclic = parts.clone();
        cyclic.arrays.retain(|(n, _)| n != "left");
        let cyclic = cyclic.with_f64("left", &[0.0, -1.0, -1.0, -1.0]);
        let err = trees_from_parts(&cyclic, 2, 2).unwrap_err().to_string();
        assert!(err.contains("tree 0, node 0"), "{err}");
    }
}
