//! What the tree models share when scoring and saving: averaging trees over rows, writing
//! the prediction and probability columns, and the metadata of their saved form.

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::nodes::Tree;
use crate::data::{self, Matrix};
use crate::error::Result;

/// Rows scored per parallel task: enough to amortise the task, few enough that a chunk's
/// outputs stay in cache while every tree is walked over them.
const SCORE_CHUNK_ROWS: usize = 512;

/// Sums `scale * values` of the leaf each row of `x` reaches in each tree into `out` (one row
/// of `out` per row of `x`); tree `t` adds its values at column `column(t)` of the row.
pub(crate) fn add_leaf_values(
    trees: &[Tree],
    x: &Matrix,
    out: &mut Matrix,
    scale: f64,
    column: impl Fn(usize) -> usize + Sync,
) {
    let width = out.cols();
    if width == 0 {
        return;
    }
    out.as_mut_slice()
        .par_chunks_mut(SCORE_CHUNK_ROWS * width)
        .enumerate()
        .for_each(|(chunk, block)| {
            let first = chunk * SCORE_CHUNK_ROWS;
            for (t, tree) in trees.iter().enumerate() {
                let at = column(t);
                for (i, row_out) in block.chunks_exact_mut(width).enumerate() {
                    let values = tree.predict_row(x.row(first + i));
                    row_out[at..at + values.len()]
                        .iter_mut()
                        .zip(values)
                        .for_each(|(o, v)| *o += scale * v);
                }
            }
        });
}

/// The mean over `trees` of their leaf values for each row of `x`.
pub(crate) fn mean_of_trees(trees: &[Tree], x: &Matrix) -> Matrix {
    let width = trees.first().map_or(0, Tree::width);
    let mut out = Matrix::zeros(x.rows(), width);
    let scale = 1.0 / trees.len().max(1) as f64;
    add_leaf_values(trees, x, &mut out, scale, |_| 0);
    out
}

/// `table` with `predictions` as the column `prediction_col`.
pub(crate) fn with_predictions(
    table: &RecordBatch,
    predictions: Vec<f64>,
    prediction_col: &str,
) -> Result<RecordBatch> {
    data::with_column(
        table,
        prediction_col,
        Arc::new(Float64Array::from(predictions)),
    )
}

/// The saved metadata of a tree classifier.
#[derive(Serialize, Deserialize)]
pub(crate) struct ClassifierMeta {
    pub features_col: String,
    pub prediction_col: String,
    pub probability_col: String,
    pub n_features: usize,
}

/// The saved metadata of a tree regressor.
#[derive(Serialize, Deserialize)]
pub(crate) struct RegressorMeta {
    pub features_col: String,
    pub prediction_col: String,
    pub n_features: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_are_averaged_row_by_row() {
        let mut a = Tree::with_width(1);
        a.push_leaf(&[0.0]);
        let l = a.push_leaf(&[1.0]);
        let r = a.push_leaf(&[3.0]);
        a.set_split(0, 0, 0.5, l, r);
        let mut b = Tree::with_width(1);
        b.push_leaf(&[5.0]);
        let rows = 2 * SCORE_CHUNK_ROWS + 3;
        let x = Matrix::new(rows, 1, (0..rows).map(|i| (i % 2) as f64).collect()).unwrap();
        let mean = mean_of_trees(&[a, b], &x);
        assert_eq!(mean.get(0, 0), 3.0);
        assert_eq!(mean.get(rows - 2, 0), 4.0);
    }
}
