//! k-nearest-neighbour classification and regression: [`KNearestNeighborsClassifier`] and
//! [`KNearestNeighborsRegressor`], as scikit-learn's `KNeighborsClassifier` and
//! `KNeighborsRegressor` with the Euclidean distance.
//!
//! Fitting keeps the training rows; predicting searches them by brute force, which is what
//! scikit-learn's `algorithm='auto'` also picks for more than 15 features (where k-d trees
//! prune little). The search is blocked: a block of queries times a block of training rows
//! is one matrix product (`|q - p|² = |q|² - 2 q·p + |p|²`, computed around the training
//! mean), whose results feed a bounded max-heap of the `k` best per query; query blocks run
//! in parallel. The `k` winners'
//! distances are then recomputed exactly from the differences, so the weights do not carry
//! the product's rounding.
//!
//! Ties: among training rows at the same distance, the one earlier in the training table is
//! the nearer; among classes with the same (weighted) vote, the lowest label wins.

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classes::{self, Classes};
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::linear::{scoring_data, training_data};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// How the `k` neighbours of a row are weighted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeighborWeights {
    /// Every neighbour counts the same.
    #[default]
    Uniform,
    /// A neighbour counts `1 / distance`; neighbours at distance 0, if any, share all the
    /// weight (scikit-learn's rule).
    Distance,
}

/// Classifies a row by the labels of its `k` nearest training rows (Euclidean distance): the
/// probability of a class is its share of the (weighted) votes, and the prediction is the
/// class with the most.
///
/// ```
/// use riffle_ml::{data, Estimator, Matrix, Transformer};
/// use riffle_ml::neighbors::KNearestNeighborsClassifier;
///
/// let x = Matrix::new(4, 1, vec![0.0, 1.0, 10.0, 11.0]).unwrap();
/// let table = data::float_table(vec![("label", vec![0.0, 0.0, 1.0, 1.0])]).unwrap();
/// let table = data::with_column(&table, "features", data::vector_array(&x).unwrap()).unwrap();
/// let model = KNearestNeighborsClassifier { k: 1, ..Default::default() }.fit(&table).unwrap();
/// let scored = model.transform(&table).unwrap();
/// assert_eq!(data::read_f64(&scored, "prediction").unwrap(), vec![0.0, 0.0, 1.0, 1.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KNearestNeighborsClassifier {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of class labels (numbers; index strings first).
    pub label_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for the class probabilities (a vector, classes in ascending label order).
    pub probability_col: String,
    /// Number of neighbours (at least 1, at most the training rows).
    pub k: usize,
    /// How neighbours are weighted.
    pub weights: NeighborWeights,
}

impl Default for KNearestNeighborsClassifier {
    fn default() -> Self {
        KNearestNeighborsClassifier {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            probability_col: "probability".into(),
            k: 5,
            weights: NeighborWeights::Uniform,
        }
    }
}

/// Predicts the (weighted) mean target of a row's `k` nearest training rows (Euclidean
/// distance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KNearestNeighborsRegressor {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column of targets.
    pub label_col: String,
    /// Column for the prediction.
    pub prediction_col: String,
    /// Number of neighbours (at least 1, at most the training rows).
    pub k: usize,
    /// How neighbours are weighted.
    pub weights: NeighborWeights,
}

impl Default for KNearestNeighborsRegressor {
    fn default() -> Self {
        KNearestNeighborsRegressor {
            features_col: "features".into(),
            label_col: "label".into(),
            prediction_col: "prediction".into(),
            k: 5,
            weights: NeighborWeights::Uniform,
        }
    }
}

fn check_k(k: usize, rows: usize) -> Result<()> {
    if k == 0 {
        return Err(MlError::param("k", "must be at least 1"));
    }
    if k > rows {
        return Err(MlError::param(
            "k",
            format!("is {k}, but the training table has only {rows} rows"),
        ));
    }
    Ok(())
}

/// The `k` nearest training rows of each query row: row `i`'s are entries `i * k..(i + 1) * k`
/// of both vectors, nearest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbors {
    /// Neighbours per query.
    pub k: usize,
    /// Training row indices.
    pub indices: Vec<usize>,
    /// Euclidean distances.
    pub distances: Vec<f64>,
}

impl Neighbors {
    /// The neighbour weights of query `i` (see [`NeighborWeights`]).
    fn weights(&self, i: usize, weights: NeighborWeights, out: &mut [f64]) {
        let distances = &self.distances[i * self.k..(i + 1) * self.k];
        match weights {
            NeighborWeights::Uniform => out.iter_mut().for_each(|w| *w = 1.0),
            NeighborWeights::Distance if distances.contains(&0.0) => out
                .iter_mut()
                .zip(distances)
                .for_each(|(w, d)| *w = f64::from(*d == 0.0)),
            NeighborWeights::Distance => out
                .iter_mut()
                .zip(distances)
                .for_each(|(w, d)| *w = 1.0 / d),
        }
    }
}

/// The training rows, searched by brute force, with their mean `m` and the squared norms
/// `|p - m|²` of the centred rows.
///
/// Ranking by `|q - p|²` equals ranking by `|p - m|² - 2 (q - m)·p` (the terms left out are
/// the same for every `p`). Centring the queries and the norms, not the rows, keeps the
/// product accurate for data far from the origin (where `|p|²` would swamp the differences)
/// without a second copy of the training rows.
#[derive(Clone, Debug, PartialEq)]
struct BruteForce {
    points: Matrix,
    mean: Vec<f64>,
    norms: Vec<f64>,
}

/// Query rows per parallel task.
const QUERY_BLOCK: usize = 128;
/// Training rows per matrix product; with `QUERY_BLOCK` the products (1 MiB) stay in cache.
const POINT_BLOCK: usize = 1024;

impl BruteForce {
    fn new(points: Matrix) -> Self {
        let (n, d) = (points.rows(), points.cols());
        let mut mean = vec![0.0; d];
        for row in points.row_iter() {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let norms = (0..n)
            .into_par_iter()
            .map(|i| {
                let row = points.row(i);
                row.iter().zip(&mean).map(|(v, m)| (v - m) * (v - m)).sum()
            })
            .collect();
        BruteForce {
            points,
            mean,
            norms,
        }
    }

    fn search(&self, queries: &Matrix, k: usize) -> Neighbors {
        let d = self.points.cols();
        let nq = queries.rows();
        // Enough blocks to keep every thread busy when there are few queries.
        let block = QUERY_BLOCK
            .min(nq.div_ceil(rayon::current_num_threads().max(1)))
            .max(1);
        let mut indices = vec![0usize; nq * k];
        let mut distances = vec![0.0; nq * k];
        indices
            .par_chunks_mut(block * k)
            .zip(distances.par_chunks_mut(block * k))
            .enumerate()
            .for_each(|(b, (idx, dist))| {
                let first = b * block;
                let rows = idx.len() / k;
                let q = &queries.as_slice()[first * d..(first + rows) * d];
                self.search_block(q, k, idx, dist);
            });
        Neighbors {
            k,
            indices,
            distances,
        }
    }

    /// The neighbours of the query rows in `q` (row-major) into `idx` and `dist`.
    fn search_block(&self, q: &[f64], k: usize, idx: &mut [usize], dist: &mut [f64]) {
        let d = self.points.cols();
        let n = self.points.rows();
        let rows = q.len() / d.max(1);
        let centred: Vec<f64> = q
            .chunks_exact(d.max(1))
            .flat_map(|row| row.iter().zip(&self.mean).map(|(v, m)| v - m))
            .collect();
        let mut heaps: Vec<Heap> = (0..rows).map(|_| Heap::new(k)).collect();
        let mut products = vec![0.0; rows * POINT_BLOCK.min(n)];
        let lhs = MatRef::from_row_major_slice(&centred, rows, d);
        for start in (0..n).step_by(POINT_BLOCK) {
            let width = POINT_BLOCK.min(n - start);
            let block = &self.points.as_slice()[start * d..(start + width) * d];
            let rhs = MatRef::from_row_major_slice(block, width, d).transpose();
            let buf = &mut products[..rows * width];
            // The product gives -2 (q - m)·p; adding |p - m|² makes the ranking key.
            matmul(
                MatMut::from_row_major_slice_mut(buf, rows, width),
                Accum::Replace,
                lhs,
                rhs,
                -2.0,
                Par::Seq,
            );
            let norms = &self.norms[start..start + width];
            for (heap, products) in heaps.iter_mut().zip(buf.chunks_exact(width)) {
                heap.offer(products, norms, start);
            }
        }
        let mut exact: Vec<(f64, usize)> = Vec::with_capacity(k);
        for (r, heap) in heaps.iter().enumerate() {
            let query = &q[r * d..(r + 1) * d];
            exact.clear();
            exact.extend(heap.ids.iter().map(|&i| {
                let p = self.points.row(i);
                let squared: f64 = query.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
                (squared, i)
            }));
            exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (slot, (squared, i)) in exact.iter().enumerate() {
                idx[r * k + slot] = *i;
                dist[r * k + slot] = squared.sqrt();
            }
        }
    }
}

/// The `k` best candidates so far: a max-heap on `(key, id)`, so its root is the worst and a
/// later row with an equal key never displaces an earlier one.
struct Heap {
    keys: Vec<f64>,
    ids: Vec<usize>,
    capacity: usize,
}

impl Heap {
    fn new(capacity: usize) -> Self {
        Heap {
            keys: Vec::with_capacity(capacity),
            ids: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// The key a candidate must beat: infinite until the heap is full.
    fn worst(&self) -> f64 {
        if self.keys.len() < self.capacity {
            f64::INFINITY
        } else {
            self.keys[0]
        }
    }

    /// Offers row `first + j` with the key `products[j] + norms[j]`, for every `j`. Once
    /// the heap is full most keys lose against its worst, so the keys are tested a lane at
    /// a time with a branch-free comparison (which vectorises) before any is pushed.
    fn offer(&mut self, products: &[f64], norms: &[f64], first: usize) {
        const LANES: usize = 8;
        let mut worst = self.worst();
        let mut products_lanes = products.chunks_exact(LANES);
        let mut norms_lanes = norms.chunks_exact(LANES);
        for (c, (p, n)) in products_lanes
            .by_ref()
            .zip(norms_lanes.by_ref())
            .enumerate()
        {
            let keys: [f64; LANES] = std::array::from_fn(|t| p[t] + n[t]);
            if keys.iter().fold(false, |hit, &key| hit | (key < worst)) {
                for (t, &key) in keys.iter().enumerate() {
                    if key < worst {
                        self.push(key, first + c * LANES + t);
                        worst = self.worst();
                    }
                }
            }
        }
        let done = products.len() - products_lanes.remainder().len();
        let rest = products_lanes
            .remainder()
            .iter()
            .zip(norms_lanes.remainder());
        for (t, (p, n)) in rest.enumerate() {
            if p + n < worst {
                self.push(p + n, first + done + t);
                worst = self.worst();
            }
        }
    }

    fn worse(&self, a: usize, b: usize) -> bool {
        self.keys[a] > self.keys[b] || (self.keys[a] == self.keys[b] && self.ids[a] > self.ids[b])
    }

    fn push(&mut self, key: f64, id: usize) {
        if self.keys.len() < self.capacity {
            self.keys.push(key);
            self.ids.push(id);
            let mut i = self.keys.len() - 1;
            while i > 0 {
                let parent = (i - 1) / 2;
                if !self.worse(i, parent) {
                    break;
                }
                self.swap(i, parent);
                i = parent;
            }
        } else {
            self.keys[0] = key;
            self.ids[0] = id;
            let mut i = 0;
            loop {
                let (left, right) = (2 * i + 1, 2 * i + 2);
                let mut largest = i;
                if left < self.keys.len() && self.worse(left, largest) {
                    largest = left;
                }
                if right < self.keys.len() && self.worse(right, largest) {
                    largest = right;
                }
                if largest == i {
                    break;
                }
                self.swap(i, largest);
                i = largest;
            }
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.keys.swap(a, b);
        self.ids.swap(a, b);
    }
}

impl Estimator for KNearestNeighborsClassifier {
    type Model = KNearestNeighborsClassifierModel;

    fn fit(&self, table: &RecordBatch) -> Result<KNearestNeighborsClassifierModel> {
        let (x, labels) = training_data(table, &self.features_col, &self.label_col)?;
        check_k(self.k, x.rows())?;
        let classes = Classes::from_labels(&labels, &self.label_col)?;
        let y = classes.indices(&labels)?;
        Ok(KNearestNeighborsClassifierModel {
            classes,
            labels: y,
            index: BruteForce::new(x),
            k: self.k,
            weights: self.weights,
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
        })
    }
}

/// A fitted [`KNearestNeighborsClassifier`]: the training rows and their classes.
#[derive(Clone, Debug, PartialEq)]
pub struct KNearestNeighborsClassifierModel {
    /// The labels seen in training, ascending; probabilities come in this order.
    pub classes: Classes,
    /// The class index of each training row.
    labels: Vec<usize>,
    index: BruteForce,
    /// Number of neighbours.
    pub k: usize,
    /// How neighbours are weighted.
    pub weights: NeighborWeights,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the predicted label.
    pub prediction_col: String,
    /// Column for class probabilities.
    pub probability_col: String,
}

impl KNearestNeighborsClassifierModel {
    /// The training rows.
    pub fn points(&self) -> &Matrix {
        &self.index.points
    }

    /// The `k` nearest training rows of each row of `x`.
    pub fn kneighbors(&self, x: &Matrix) -> Neighbors {
        self.index.search(x, self.k)
    }

    /// Class probabilities (weighted vote shares) of the rows of `x`.
    pub fn predict_probabilities(&self, x: &Matrix) -> Matrix {
        let neighbors = self.kneighbors(x);
        let c = self.classes.len();
        let mut out = Matrix::zeros(x.rows(), c);
        out.as_mut_slice()
            .par_chunks_mut(c)
            .enumerate()
            .for_each_init(
                || vec![0.0; self.k],
                |w, (i, votes)| {
                    neighbors.weights(i, self.weights, w);
                    for (slot, weight) in w.iter().enumerate() {
                        votes[self.labels[neighbors.indices[i * self.k + slot]]] += weight;
                    }
                    let total: f64 = votes.iter().sum();
                    votes.iter_mut().for_each(|v| *v /= total);
                },
            );
        out
    }
}

impl Transformer for KNearestNeighborsClassifierModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.index.points.cols())?;
        let probabilities = self.predict_probabilities(&x);
        classes::with_predictions_and_scores(
            table,
            &self.prediction_col,
            &self.probability_col,
            &probabilities,
            &self.classes,
        )
    }
}

impl Estimator for KNearestNeighborsRegressor {
    type Model = KNearestNeighborsRegressorModel;

    fn fit(&self, table: &RecordBatch) -> Result<KNearestNeighborsRegressorModel> {
        let (x, targets) = training_data(table, &self.features_col, &self.label_col)?;
        check_k(self.k, x.rows())?;
        Ok(KNearestNeighborsRegressorModel {
            targets,
            index: BruteForce::new(x),
            k: self.k,
            weights: self.weights,
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
        })
    }
}

/// A fitted [`KNearestNeighborsRegressor`]: the training rows and their targets.
#[derive(Clone, Debug, PartialEq)]
pub struct KNearestNeighborsRegressorModel {
    /// The target of each training row.
    pub targets: Vec<f64>,
    index: BruteForce,
    /// Number of neighbours.
    pub k: usize,
    /// How neighbours are weighted.
    pub weights: NeighborWeights,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the prediction.
    pub prediction_col: String,
}

impl KNearestNeighborsRegressorModel {
    /// The training rows.
    pub fn points(&self) -> &Matrix {
        &self.index.points
    }

    /// The `k` nearest training rows of each row of `x`.
    pub fn kneighbors(&self, x: &Matrix) -> Neighbors {
        self.index.search(x, self.k)
    }

    /// The (weighted) mean target of each row's neighbours.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        let neighbors = self.kneighbors(x);
        (0..x.rows())
            .into_par_iter()
            .map_init(
                || vec![0.0; self.k],
                |w, i| {
                    neighbors.weights(i, self.weights, w);
                    let targets = neighbors.indices[i * self.k..(i + 1) * self.k]
                        .iter()
                        .map(|&j| self.targets[j]);
                    let total: f64 = w.iter().sum();
                    w.iter().zip(targets).map(|(w, t)| w * t).sum::<f64>() / total
                },
            )
            .collect()
    }
}

impl Transformer for KNearestNeighborsRegressorModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.index.points.cols())?;
        let predictions = self.predict(&x);
        data::with_column(
            table,
            &self.prediction_col,
            Arc::new(Float64Array::from(predictions)),
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    features_col: String,
    prediction_col: String,
    #[serde(default)]
    probability_col: String,
    k: usize,
    weights: NeighborWeights,
    features: usize,
}

/// The training rows saved as `points` (row-major), checked against `rows` and `k`.
fn load_points(parts: &ModelParts, meta: &Meta, rows: usize) -> Result<BruteForce> {
    let points = Matrix::new(rows, meta.features, parts.f64("points")?)
        .map_err(|e| parts.damaged(format!("points: {e}")))?;
    if meta.k == 0 || meta.k > rows {
        return Err(parts.damaged(format!("k = {} with {rows} training rows", meta.k)));
    }
    Ok(BruteForce::new(points))
}

impl Model for KNearestNeighborsClassifierModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            k: self.k,
            weights: self.weights,
            features: self.index.points.cols(),
        };
        let labels: Vec<f64> = self.labels.iter().map(|&c| self.classes.label(c)).collect();
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("classes", self.classes.labels())
            .with_f64("labels", &labels)
            .with_f64("points", self.index.points.as_slice()))
    }
}

impl Loadable for KNearestNeighborsClassifierModel {
    const KIND: &'static str = "KNearestNeighborsClassifierModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let classes = Classes::from_sorted(parts.f64("classes")?)
            .map_err(|e| parts.damaged(e.to_string()))?;
        let labels = classes
            .indices(&parts.f64("labels")?)
            .map_err(|e| parts.damaged(e.to_string()))?;
        let index = load_points(parts, &meta, labels.len())?;
        Ok(KNearestNeighborsClassifierModel {
            classes,
            labels,
            index,
            k: meta.k,
            weights: meta.weights,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
            probability_col: meta.probability_col,
        })
    }
}

impl Model for KNearestNeighborsRegressorModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            probability_col: String::new(),
            k: self.k,
            weights: self.weights,
            features: self.index.points.cols(),
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("targets", &self.targets)
            .with_f64("points", self.index.points.as_slice()))
    }
}

impl Loadable for KNearestNeighborsRegressorModel {
    const KIND: &'static str = "KNearestNeighborsRegressorModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let targets = parts.f64("targets")?;
        let index = load_points(parts, &meta, targets.len())?;
        Ok(KNearestNeighborsRegressorModel {
            targets,
            index,
            k: meta.k,
            weights: meta.weights,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn table(x: &Matrix, y: Vec<f64>) -> RecordBatch {
        let t = data::float_table(vec![("label", y)]).unwrap();
        data::with_column(&t, "features", data::vector_array(x).unwrap()).unwrap()
    }

    fn random_matrix(rows: usize, cols: usize, seed: u64) -> Matrix {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let data = (0..rows * cols)
            .map(|_| rng.random_range(-3.0..3.0))
            .collect();
        Matrix::new(rows, cols, data).unwrap()
    }

    fn shifted(m: &Matrix, offset: f64) -> Matrix {
        let values = m.as_slice().iter().map(|v| v + offset).collect();
        Matrix::new(m.rows(), m.cols(), values).unwrap()
    }

    #[test]
    fn blocked_search_finds_what_a_full_sort_finds() {
        // More training rows than one point block and more queries than one query block;
        // far from the origin too, where uncentred products would lose the differences.
        for offset in [0.0, 1e6] {
            check_against_full_sort(
                &shifted(&random_matrix(2500, 7, 1), offset),
                &shifted(&random_matrix(300, 7, 2), offset),
            );
        }
    }

    fn check_against_full_sort(points: &Matrix, queries: &Matrix) {
        let index = BruteForce::new(points.clone());
        let found = index.search(queries, 9);
        for (i, q) in queries.row_iter().enumerate() {
            let mut all: Vec<(f64, usize)> = points
                .row_iter()
                .enumerate()
                .map(|(j, p)| {
                    let s: f64 = q.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
                    (s.sqrt(), j)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let expected: Vec<usize> = all[..9].iter().map(|p| p.1).collect();
            assert_eq!(&found.indices[i * 9..(i + 1) * 9], expected.as_slice());
            assert!((found.distances[i * 9] - all[0].0).abs() < 1e-9);
        }
    }

    #[test]
    fn equally_distant_rows_go_to_the_earlier_one_and_tied_votes_to_the_lower_label() {
        // Rows 1 and 2 are both at distance 1 from the query 0; row 2 is a duplicate of 1.
        let x = Matrix::new(4, 1, vec![5.0, 1.0, 1.0, -1.0]).unwrap();
        let model = KNearestNeighborsClassifier {
            k: 2,
            ..Default::default()
        }
        .fit(&table(&x, vec![0.0, 1.0, 2.0, 0.0]))
        .unwrap();
        let q = Matrix::new(1, 1, vec![0.0]).unwrap();
        let found = model.kneighbors(&q);
        assert_eq!(found.indices, vec![1, 2]);
        assert_eq!(found.distances, vec![1.0, 1.0]);
        // One vote for label 1 and one for label 2: the lower label wins.
        let scored = model.transform(&table(&q, vec![0.0])).unwrap();
        assert_eq!(data::read_f64(&scored, "prediction").unwrap(), vec![1.0]);
    }

    #[test]
    fn distance_weights_follow_scikit_learn_including_exact_matches() {
        let x = Matrix::new(3, 1, vec![0.0, 1.0, 3.0]).unwrap();
        let model = KNearestNeighborsRegressor {
            k: 3,
            weights: NeighborWeights::Distance,
            ..Default::default()
        }
        .fit(&table(&x, vec![10.0, 20.0, 40.0]))
        .unwrap();
        // From 2: distances 2, 1, 1 -> weights 1/2, 1, 1.
        let p = model.predict(&Matrix::new(1, 1, vec![2.0]).unwrap());
        assert!((p[0] - (5.0 + 20.0 + 40.0) / 2.5).abs() < 1e-12, "{p:?}");
        // On a training row, that row alone counts.
        let p = model.predict(&Matrix::new(1, 1, vec![1.0]).unwrap());
        assert_eq!(p, vec![20.0]);
        let uniform = KNearestNeighborsRegressor {
            k: 2,
            ..Default::default()
        }
        .fit(&table(&x, vec![10.0, 20.0, 40.0]))
        .unwrap();
        assert_eq!(
            uniform.predict(&Matrix::new(1, 1, vec![0.4]).unwrap()),
            vec![15.0]
        );
    }

    #[test]
    fn probabilities_are_vote_shares() {
        let x = Matrix::new(5, 1, vec![0.0, 0.1, 0.2, 5.0, 5.1]).unwrap();
        let model = KNearestNeighborsClassifier {
            k: 4,
            ..Default::default()
        }
        .fit(&table(&x, vec![0.0, 0.0, 0.0, 1.0, 1.0]))
        .unwrap();
        let p = model.predict_probabilities(&Matrix::new(1, 1, vec![0.0]).unwrap());
        assert_eq!(p.row(0), &[0.75, 0.25]);
    }

    #[test]
    fn k_is_checked_and_models_round_trip() {
        let x = random_matrix(20, 3, 3);
        let y: Vec<f64> = (0..20).map(|i| f64::from(i % 3)).collect();
        let err = KNearestNeighborsClassifier {
            k: 21,
            ..Default::default()
        }
        .fit(&table(&x, y.clone()))
        .unwrap_err()
        .to_string();
        assert!(err.contains("`k`") && err.contains("only 20 rows"), "{err}");
        let model = KNearestNeighborsClassifier {
            k: 3,
            weights: NeighborWeights::Distance,
            ..Default::default()
        }
        .fit(&table(&x, y.clone()))
        .unwrap();
        let back = KNearestNeighborsClassifierModel::from_parts(&model.parts().unwrap()).unwrap();
        assert_eq!(back, model);
        let regressor = KNearestNeighborsRegressor::default()
            .fit(&table(&x, y))
            .unwrap();
        let back =
            KNearestNeighborsRegressorModel::from_parts(&regressor.parts().unwrap()).unwrap();
        assert_eq!(back, regressor);
        let err = model
            .transform(&table(&random_matrix(2, 2, 4), vec![0.0, 1.0]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fitted on 3 features"), "{err}");
    }
}
