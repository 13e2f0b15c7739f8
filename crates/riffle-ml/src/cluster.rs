//! Clustering: [`KMeans`], as scikit-learn's `KMeans` with Lloyd's algorithm.
//!
//! Initialisation is scikit-learn's greedy k-means++ (each new centre is the best of
//! `2 + ln k` candidates drawn with probability proportional to the squared distance to the
//! nearest centre so far) or `k` distinct random rows. Lloyd iterations assign every row to
//! its nearest centre and move each centre to the mean of its rows, in parallel over row
//! chunks, until no row changes cluster or the centres move (in total squared distance) by
//! at most `tol` times the mean feature variance. A cluster left empty takes the row farthest
//! from its own centre, as scikit-learn does. Like scikit-learn, the data are centred first and
//! rows are compared with the centres through `|c|² - 2 x·c`, eight centres at a time in
//! vector registers; the inertia uses exact differences. The random streams differ from numpy's, so
//! the chosen initial centres (and, on data without a clear structure, the local optimum)
//! differ from scikit-learn's for the same seed.

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::linear::scoring_data;
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// How [`KMeans`] picks its first centres.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KMeansInit {
    /// Greedy k-means++ (scikit-learn's default).
    #[default]
    #[serde(rename = "k-means++")]
    KMeansPlusPlus,
    /// `k` distinct training rows drawn uniformly.
    Random,
}

/// k-means clustering: `k` centres minimising the sum of squared distances of the rows to
/// their nearest centre (the inertia). The model writes each row's cluster index (0-based,
/// as a float) to `prediction_col`.
///
/// ```
/// use riffle_ml::{data, Estimator, Matrix, Transformer};
/// use riffle_ml::cluster::KMeans;
///
/// let x = Matrix::new(4, 1, vec![0.0, 0.5, 10.0, 10.5]).unwrap();
/// let table = data::float_table(vec![("id", vec![1.0, 2.0, 3.0, 4.0])]).unwrap();
/// let table = data::with_column(&table, "features", data::vector_array(&x).unwrap()).unwrap();
/// let model = KMeans { k: 2, ..Default::default() }.fit(&table).unwrap();
/// assert!((model.inertia - 0.25).abs() < 1e-12);
/// let clusters = data::read_f64(&model.transform(&table).unwrap(), "prediction").unwrap();
/// assert!(clusters[0] == clusters[1] && clusters[2] == clusters[3] && clusters[0] != clusters[2]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KMeans {
    /// Column of feature vectors.
    pub features_col: String,
    /// Column for the cluster index.
    pub prediction_col: String,
    /// Number of clusters (at least 1, at most the training rows).
    pub k: usize,
    /// How the first centres are picked.
    pub init: KMeansInit,
    /// Runs from different initial centres; the one with the smallest inertia is kept.
    /// scikit-learn's `n_init='auto'` is 1 for k-means++.
    pub n_init: usize,
    /// Lloyd iterations per run.
    pub max_iter: usize,
    /// Convergence tolerance, relative to the mean feature variance (scikit-learn's).
    pub tol: f64,
    /// Seed of the initialisation.
    pub seed: u64,
}

impl Default for KMeans {
    fn default() -> Self {
        KMeans {
            features_col: "features".into(),
            prediction_col: "prediction".into(),
            k: 8,
            init: KMeansInit::KMeansPlusPlus,
            n_init: 1,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

/// Rows per parallel task.
const CHUNK_ROWS: usize = 4096;

/// `|a - b|²`, summed in four interleaved lanes so that the compiler can use vector
/// instructions (a single running sum fixes the order and keeps it scalar).
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0; 4];
    let (mut ca, mut cb) = (a.chunks_exact(4), b.chunks_exact(4));
    for (x, y) in ca.by_ref().zip(cb.by_ref()) {
        for t in 0..4 {
            let d = x[t] - y[t];
            lanes[t] += d * d;
        }
    }
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest
}

/// What one pass over the rows gives: per-cluster sums and counts of the assigned rows, the
/// inertia, and how many rows changed cluster.
struct Assignment {
    sums: Vec<f64>,
    counts: Vec<usize>,
    inertia: f64,
    changed: usize,
}

impl Assignment {
    fn zeros(k: usize, d: usize) -> Self {
        Assignment {
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
        }
    }

    fn merge(mut self, other: Assignment) -> Self {
        self.sums
            .iter_mut()
            .zip(&other.sums)
            .for_each(|(a, b)| *a += b);
        self.counts
            .iter_mut()
            .zip(&other.counts)
            .for_each(|(a, b)| *a += b);
        self.inertia += other.inertia;
        self.changed += other.changed;
        self
    }
}

/// Centres per group of the assignment kernel: eight `f64` lanes, which the compiler
/// keeps in vector registers.
const LANES: usize = 8;

/// The centres laid out for [`assign`]: per group of [`LANES`] centres, a `d × LANES` block
/// (feature-major), with their squared norms; missing centres of the last group have an
/// infinite norm so that they are never the nearest.
struct CenterBlocks {
    blocks: Vec<[f64; LANES]>,
    norms: Vec<[f64; LANES]>,
}

impl CenterBlocks {
    fn new(centers: &Matrix) -> Self {
        let (k, d) = (centers.rows(), centers.cols());
        let groups = k.div_ceil(LANES);
        let mut blocks = vec![[0.0; LANES]; groups * d];
        let mut norms = vec![[f64::INFINITY; LANES]; groups];
        for (c, center) in centers.row_iter().enumerate() {
            let (g, t) = (c / LANES, c % LANES);
            for (j, v) in center.iter().enumerate() {
                blocks[g * d + j][t] = *v;
            }
            norms[g][t] = center.iter().map(|v| v * v).sum();
        }
        CenterBlocks { blocks, norms }
    }

    /// The nearest centre to `row`: the smallest `|c|² - 2 x·c` (the lowest index among
    /// equal values), computed for a group of centres at a time.
    fn nearest(&self, row: &[f64]) -> usize {
        let d = row.len();
        let mut best = (0, f64::INFINITY);
        for (g, norms) in self.norms.iter().enumerate() {
            let mut dots = [0.0; LANES];
            for (x, block) in row.iter().zip(&self.blocks[g * d..(g + 1) * d]) {
                for t in 0..LANES {
                    dots[t] += x * block[t];
                }
            }
            for t in 0..LANES {
                let key = norms[t] - 2.0 * dots[t];
                if key < best.1 {
                    best = (g * LANES + t, key);
                }
            }
        }
        best.0
    }
}

/// Assigns every row of `x` to its nearest centre (updating `labels`), in parallel.
///
/// Distances are compared as `|c|² - 2 x·c`, as scikit-learn does, which vectorises across
/// centres; it loses precision when the rows lie far from the origin compared with their
/// spread, so callers centre the data first ([`centred`]). With `inertia`, the inertia is
/// summed from the exact squared distances to the chosen centres (the Lloyd iterations do
/// not need it, only the final assignment).
fn assign(x: &Matrix, centers: &Matrix, labels: &mut [usize], inertia: bool) -> Assignment {
    let (k, d) = (centers.rows(), x.cols());
    let blocks = CenterBlocks::new(centers);
    labels
        .par_chunks_mut(CHUNK_ROWS)
        .enumerate()
        .map(|(chunk, labels)| {
            let mut part = Assignment::zeros(k, d);
            for (r, label) in labels.iter_mut().enumerate() {
                let row = x.row(chunk * CHUNK_ROWS + r);
                let c = blocks.nearest(row);
                if *label != c {
                    part.changed += 1;
                    *label = c;
                }
                part.counts[c] += 1;
                if inertia {
                    part.inertia += squared_distance(row, centers.row(c));
                }
                part.sums[c * d..(c + 1) * d]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(a, v)| *a += v);
            }
            part
        })
        .reduce(|| Assignment::zeros(k, d), Assignment::merge)
}

/// The column means of `x`.
fn column_means(x: &Matrix) -> Vec<f64> {
    let d = x.cols();
    let mut sums = x
        .as_slice()
        .par_chunks(CHUNK_ROWS * d.max(1))
        .map(|block| {
            let mut sums = vec![0.0; d];
            for row in block.chunks_exact(d.max(1)) {
                sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            sums
        })
        .reduce(
            || vec![0.0; d],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    sums.iter_mut().for_each(|s| *s /= x.rows().max(1) as f64);
    sums
}

/// `x` with `offset` subtracted from every row.
fn centred(mut x: Matrix, offset: &[f64]) -> Matrix {
    let d = offset.len().max(1);
    x.as_mut_slice().par_chunks_mut(d).for_each(|row| {
        row.iter_mut().zip(offset).for_each(|(v, o)| *v -= o);
    });
    x
}

/// The mean population variance of the columns of `x`, whose columns have mean zero.
fn mean_variance_of_centred(x: &Matrix) -> f64 {
    let total: f64 = x.as_slice().par_iter().map(|v| v * v).sum();
    total / x.rows() as f64 / x.cols() as f64
}

/// One k-means run's result.
struct Run {
    centers: Matrix,
    inertia: f64,
    iterations: usize,
}

impl KMeans {
    fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(MlError::param("k", "must be at least 1"));
        }
        if self.n_init == 0 {
            return Err(MlError::param("n_init", "must be at least 1"));
        }
        if self.max_iter == 0 {
            return Err(MlError::param("max_iter", "must be at least 1"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(MlError::param(
                "tol",
                format!("must be a finite number >= 0, got {}", self.tol),
            ));
        }
        Ok(())
    }

    /// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`).
    fn plus_plus(&self, x: &Matrix, rng: &mut ChaCha8Rng) -> Matrix {
        let (n, d, k) = (x.rows(), x.cols(), self.k);
        let trials = 2 + (k as f64).ln() as usize;
        let mut centers = Vec::with_capacity(k * d);
        let first = rng.random_range(0..n);
        centers.extend_from_slice(x.row(first));
        let mut closest: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|i| squared_distance(x.row(i), x.row(first)))
            .collect();
        let mut potential: f64 = closest.par_iter().sum();
        let mut cumulative = vec![0.0; n];
        for _ in 1..k {
            let mut running = 0.0;
            for (c, v) in cumulative.iter_mut().zip(&closest) {
                running += v;
                *c = running;
            }
            let mut best: Option<(f64, usize, Vec<f64>)> = None;
            for _ in 0..trials {
                let target = rng.random::<f64>() * potential;
                // numpy.searchsorted(side='left'): the first cumulative sum >= target.
                let candidate = cumulative.partition_point(|&c| c < target).min(n - 1);
                let distances: Vec<f64> = closest
                    .par_iter()
                    .enumerate()
                    .map(|(i, &old)| old.min(squared_distance(x.row(i), x.row(candidate))))
                    .collect();
                let total: f64 = distances.par_iter().sum();
                if best.as_ref().is_none_or(|(p, _, _)| total < *p) {
                    best = Some((total, candidate, distances));
                }
            }
            if let Some((total, candidate, distances)) = best {
                potential = total;
                closest = distances;
                centers.extend_from_slice(x.row(candidate));
            }
        }
        Matrix::new(k, d, centers).unwrap_or_else(|_| Matrix::zeros(k, d))
    }

    fn random_rows(&self, x: &Matrix, rng: &mut ChaCha8Rng) -> Matrix {
        let picked = rand::seq::index::sample(rng, x.rows(), self.k).into_vec();
        x.select_rows(&picked)
    }

    /// One run of Lloyd's algorithm from `centers`.
    fn lloyd(&self, x: &Matrix, mut centers: Matrix, tol: f64) -> Run {
        let (n, d, k) = (x.rows(), x.cols(), self.k);
        let mut labels = vec![usize::MAX; n];
        let mut iterations = 0;
        for _ in 0..self.max_iter {
            iterations += 1;
            let step = assign(x, &centers, &mut labels, false);
            let mut sums = step.sums;
            let mut counts = step.counts;
            if counts.contains(&0) {
                relocate_empty(x, &centers, &labels, &mut sums, &mut counts);
            }
            let mut shift = 0.0;
            for c in 0..k {
                if counts[c] == 0 {
                    continue;
                }
                let center = centers.row_mut(c);
                for (v, s) in center.iter_mut().zip(&sums[c * d..(c + 1) * d]) {
                    let new = s / counts[c] as f64;
                    shift += (new - *v) * (new - *v);
                    *v = new;
                }
            }
            if step.changed == 0 {
                break;
            }
            if shift <= tol {
                break;
            }
        }
        // The centres moved after the last assignment: assign once more so that the labels
        // and the inertia belong to the final centres.
        let last = assign(x, &centers, &mut labels, true);
        Run {
            centers,
            inertia: last.inertia,
            iterations,
        }
    }
}

/// Gives each empty cluster the row farthest from its assigned centre (scikit-learn's
/// `_relocate_empty_clusters`), moving the row's contribution out of its old cluster.
fn relocate_empty(
    x: &Matrix,
    centers: &Matrix,
    labels: &[usize],
    sums: &mut [f64],
    counts: &mut [usize],
) {
    let d = x.cols();
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0).collect();
    let mut far: Vec<(f64, usize)> = (0..x.rows())
        .into_par_iter()
        .map(|i| (squared_distance(x.row(i), centers.row(labels[i])), i))
        .collect();
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (&cluster, &(_, i)) in empty.iter().zip(&far) {
        let old = labels[i];
        if counts[old] <= 1 {
            continue;
        }
        let row = x.row(i);
        sums[old * d..(old + 1) * d]
            .iter_mut()
            .zip(row)
            .for_each(|(s, v)| *s -= v);
        counts[old] -= 1;
        sums[cluster * d..(cluster + 1) * d].copy_from_slice(row);
        counts[cluster] = 1;
    }
}

impl Estimator for KMeans {
    type Model = KMeansModel;

    fn fit(&self, table: &RecordBatch) -> Result<KMeansModel> {
        self.validate()?;
        let x = data::read_vectors(table, &self.features_col)?;
        if x.cols() == 0 {
            return Err(MlError::data(format!(
                "the feature column `{}` has vectors of length 0",
                self.features_col
            )));
        }
        if x.rows() < self.k {
            return Err(MlError::param(
                "k",
                format!(
                    "is {}, but the training table has only {} rows",
                    self.k,
                    x.rows()
                ),
            ));
        }
        // Centred data keep the matrix-product distances of `assign` accurate (as in
        // scikit-learn); the centres are moved back at the end, the inertia is unchanged.
        let mean = column_means(&x);
        let x = centred(x, &mean);
        let tol = self.tol * mean_variance_of_centred(&x);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut best: Option<Run> = None;
        for _ in 0..self.n_init {
            let start = match self.init {
                KMeansInit::KMeansPlusPlus => self.plus_plus(&x, &mut rng),
                KMeansInit::Random => self.random_rows(&x, &mut rng),
            };
            let run = self.lloyd(&x, start, tol);
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
        }
        let mut run = best.ok_or_else(|| MlError::param("n_init", "must be at least 1"))?;
        for c in 0..run.centers.rows() {
            run.centers
                .row_mut(c)
                .iter_mut()
                .zip(&mean)
                .for_each(|(v, m)| *v += m);
        }
        Ok(KMeansModel {
            centers: run.centers,
            inertia: run.inertia,
            iterations: run.iterations,
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
        })
    }
}

/// A fitted [`KMeans`]: its centres.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansModel {
    /// One row per cluster.
    pub centers: Matrix,
    /// Sum of squared distances of the training rows to their nearest centre.
    pub inertia: f64,
    /// Lloyd iterations of the kept run.
    pub iterations: usize,
    /// Column of feature vectors read by `transform`.
    pub features_col: String,
    /// Column for the cluster index.
    pub prediction_col: String,
}

impl KMeansModel {
    /// The nearest centre of each row of `x` (the lowest index among ties).
    pub fn predict(&self, x: &Matrix) -> Vec<usize> {
        self.assign_owned(x.clone()).0
    }

    /// Sum of squared distances of the rows of `x` to their nearest centre.
    pub fn inertia_of(&self, x: &Matrix) -> f64 {
        self.assign_owned(x.clone()).1
    }

    /// Cluster indices and inertia of the rows of `x`, computed around the centres' mean
    /// (for the accuracy of [`assign`]).
    fn assign_owned(&self, x: Matrix) -> (Vec<usize>, f64) {
        let offset = column_means(&self.centers);
        let x = centred(x, &offset);
        let centers = centred(self.centers.clone(), &offset);
        let mut labels = vec![usize::MAX; x.rows()];
        let inertia = assign(&x, &centers, &mut labels, true).inertia;
        (labels, inertia)
    }
}

impl Transformer for KMeansModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = scoring_data(table, &self.features_col, self.centers.cols())?;
        let (clusters, _) = self.assign_owned(x);
        let clusters: Vec<f64> = clusters.into_iter().map(|c| c as f64).collect();
        data::with_column(
            table,
            &self.prediction_col,
            Arc::new(Float64Array::from(clusters)),
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    features_col: String,
    prediction_col: String,
    k: usize,
    iterations: usize,
}

impl Model for KMeansModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            features_col: self.features_col.clone(),
            prediction_col: self.prediction_col.clone(),
            k: self.centers.rows(),
            iterations: self.iterations,
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("centers", self.centers.as_slice())
            .with_f64("inertia", &[self.inertia]))
    }
}

impl Loadable for KMeansModel {
    const KIND: &'static str = "KMeansModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let centers = parts.f64("centers")?;
        if meta.k == 0 {
            return Err(parts.damaged("k = 0".into()));
        }
        let d = centers.len() / meta.k;
        Ok(KMeansModel {
            centers: Matrix::new(meta.k, d, centers).map_err(|e| parts.damaged(e.to_string()))?,
            inertia: parts.scalar("inertia")?,
            iterations: meta.iterations,
            features_col: meta.features_col,
            prediction_col: meta.prediction_col,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::Blobs;
    use crate::metrics;

    fn blobs(n: usize, centers: usize, seed: u64) -> (RecordBatch, Matrix, Vec<f64>) {
        let d = Blobs {
            n_samples: n,
            n_features: 3,
            centers,
            cluster_std: 0.8,
            seed,
            ..Default::default()
        }
        .generate()
        .unwrap();
        (d.to_vector_table().unwrap(), d.x, d.y)
    }

    /// Whether two labellings are the same partition (up to renaming the clusters).
    fn same_partition(a: &[usize], b: &[f64]) -> bool {
        let mut map = std::collections::HashMap::new();
        let mut back = std::collections::HashMap::new();
        a.iter().zip(b).all(|(x, y)| {
            let y = *y as i64;
            *map.entry(*x).or_insert(y) == y && *back.entry(y).or_insert(*x) == *x
        })
    }

    #[test]
    fn well_separated_blobs_are_recovered_with_a_high_silhouette() {
        let (table, x, y) = blobs(600, 4, 7);
        let model = KMeans {
            k: 4,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
        let labels = model.predict(&x);
        assert!(same_partition(&labels, &y));
        let ours = metrics::silhouette(&x, &labels).unwrap();
        let truth: Vec<usize> = y.iter().map(|v| *v as usize).collect();
        assert!((ours - metrics::silhouette(&x, &truth).unwrap()).abs() < 1e-12);
        assert!(ours > 0.5, "silhouette {ours}");
        assert!((model.inertia - model.inertia_of(&x)).abs() < 1e-6 * model.inertia);
    }

    #[test]
    fn the_blocked_kernel_finds_the_nearest_of_many_centres() {
        // Eleven centres: a full group of eight and a padded group of three.
        let values = (0..33).map(|v| f64::from((v * 7) % 13)).collect();
        let centers = Matrix::new(11, 3, values).unwrap();
        let blocks = CenterBlocks::new(&centers);
        for i in 0..200 {
            let i = f64::from(i);
            let row = [i * 0.07 - 2.0, (i * 0.37) % 13.0, 12.0 - i * 0.05];
            let chosen = squared_distance(&row, centers.row(blocks.nearest(&row)));
            let best = centers
                .row_iter()
                .map(|c| squared_distance(&row, c))
                .fold(f64::INFINITY, f64::min);
            assert!(chosen <= best + 1e-9, "row {row:?}: {chosen} > {best}");
        }
    }

    #[test]
    fn data_far_from_the_origin_cluster_as_well() {
        let (_, x, y) = blobs(600, 4, 7);
        let shifted: Vec<f64> = x.as_slice().iter().map(|v| v + 1e9).collect();
        let shifted = Matrix::new(x.rows(), x.cols(), shifted).unwrap();
        let table = data::with_column(
            &data::float_table(vec![("label", y.clone())]).unwrap(),
            "features",
            data::vector_array(&shifted).unwrap(),
        )
        .unwrap();
        let model = KMeans {
            k: 4,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
        assert!(same_partition(&model.predict(&shifted), &y));
    }

    #[test]
    fn more_runs_never_give_a_larger_inertia_and_seeds_repeat() {
        let (table, _, _) = blobs(400, 6, 8);
        let fit = |n_init, seed, init| {
            KMeans {
                k: 5,
                n_init,
                seed,
                init,
                ..Default::default()
            }
            .fit(&table)
            .unwrap()
        };
        for init in [KMeansInit::KMeansPlusPlus, KMeansInit::Random] {
            let one = fit(1, 3, init);
            assert_eq!(one, fit(1, 3, init));
            assert!(fit(5, 3, init).inertia <= one.inertia);
        }
    }

    #[test]
    fn lloyd_reaches_a_fixed_point_where_centres_are_the_means_of_their_rows() {
        let (table, x, _) = blobs(300, 3, 9);
        let model = KMeans {
            k: 3,
            tol: 0.0,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
        let labels = model.predict(&x);
        for c in 0..3 {
            let rows: Vec<usize> = (0..x.rows()).filter(|&i| labels[i] == c).collect();
            for j in 0..3 {
                let mean = rows.iter().map(|&i| x.get(i, j)).sum::<f64>() / rows.len() as f64;
                assert!((mean - model.centers.get(c, j)).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn empty_clusters_are_refilled_and_duplicates_are_handled() {
        // Three distinct points, k = 3, many duplicates: every cluster must end up used.
        let mut values = vec![0.0; 10];
        values.extend([5.0; 10]);
        values.push(100.0);
        let x = Matrix::new(21, 1, values).unwrap();
        let table = data::with_column(
            &data::float_table(vec![("id", vec![0.0; 21])]).unwrap(),
            "features",
            data::vector_array(&x).unwrap(),
        )
        .unwrap();
        let model = KMeans {
            k: 3,
            init: KMeansInit::Random,
            n_init: 4,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
        assert!(model.inertia.abs() < 1e-12, "inertia {}", model.inertia);
    }

    #[test]
    fn the_initialisation_configures_from_its_scikit_learn_name() {
        let kv = |v: &str| [("init".to_string(), v.to_string())];
        let km: KMeans = crate::algorithms::configure("kmeans", &kv("random")).unwrap();
        assert_eq!(km.init, KMeansInit::Random);
        let km: KMeans = crate::algorithms::configure("kmeans", &kv("k-means++")).unwrap();
        assert_eq!(km.init, KMeansInit::KMeansPlusPlus);
    }

    #[test]
    fn parameters_are_checked_and_models_round_trip() {
        let (table, _, _) = blobs(50, 2, 10);
        let err = KMeans {
            k: 51,
            ..Default::default()
        }
        .fit(&table)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`k`") && err.contains("only 50 rows"), "{err}");
        let err = KMeans {
            tol: -1.0,
            ..Default::default()
        }
        .fit(&table)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`tol`"), "{err}");
        let model = KMeans {
            k: 2,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
        let back = KMeansModel::from_parts(&model.parts().unwrap()).unwrap();
        assert_eq!(back, model);
        let scored = back.transform(&table).unwrap();
        assert_eq!(data::read_f64(&scored, "prediction").unwrap().len(), 50);
    }
}
