//! Principal component analysis of a vector column.

use arrow_array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::vector_column;
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::linalg;
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// Projects a vector column onto its `k` principal components, as scikit-learn's `PCA`:
/// the data are centered on the training mean, the components are the eigenvectors of the
/// sample covariance matrix (divided by `n - 1`) with the largest eigenvalues, and
/// [`PcaModel::explained_variance_ratio`] is each eigenvalue over the total variance.
///
/// An eigenvector's sign is arbitrary; as scikit-learn's `svd_flip(u_based_decision=False)`
/// does, each component is turned so that its entry of largest absolute value is positive,
/// so the components and projections equal scikit-learn's (not merely up to sign), unless two
/// entries of a component tie in absolute value. (Spark's `PCA` does not center the data.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pca {
    /// Vector column read.
    pub input_col: String,
    /// Vector column of projections written.
    pub output_col: String,
    /// Number of components, between 1 and the number of features.
    pub k: usize,
}

impl Default for Pca {
    fn default() -> Self {
        Pca {
            input_col: "features".into(),
            output_col: "pca".into(),
            k: 2,
        }
    }
}

/// Turns each row of `components` (`k × d`) so its largest-magnitude entry is positive (the
/// first such entry on ties, as `numpy.argmax`).
fn flip_signs(components: &mut Matrix) {
    for i in 0..components.rows() {
        let row = components.row_mut(i);
        let mut at = 0;
        for (j, v) in row.iter().enumerate() {
            if v.abs() > row[at].abs() {
                at = j;
            }
        }
        if row[at] < 0.0 {
            row.iter_mut().for_each(|v| *v = -*v);
        }
    }
}

impl Estimator for Pca {
    type Model = PcaModel;

    fn fit(&self, table: &RecordBatch) -> Result<PcaModel> {
        let mut x = data::read_vectors(table, &self.input_col)?;
        let (n, d) = (x.rows(), x.cols());
        if n < 2 {
            return Err(MlError::data(format!(
                "PCA needs at least 2 rows to estimate a covariance, got {n}"
            )));
        }
        if self.k == 0 || self.k > d.min(n) {
            return Err(MlError::param(
                "k",
                format!(
                    "must be between 1 and min(rows, features) = {}, got {}",
                    d.min(n),
                    self.k
                ),
            ));
        }
        let mean = column_means(&x);
        // Centering before the Gram matrix (rather than subtracting n·mean·meanᵀ after it)
        // keeps the small eigenvalues accurate when the means are large.
        x.as_mut_slice()
            .par_chunks_mut(d)
            .for_each(|row| row.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m));
        let mut covariance = linalg::gram(&x);
        covariance.iter_mut().for_each(|v| *v /= (n - 1) as f64);
        let total_variance: f64 = (0..d).map(|j| covariance[j * d + j]).sum();
        let (values, vectors) = linalg::symmetric_eigen(&covariance, d);
        let mut components = Matrix::zeros(self.k, d);
        let mut explained_variance = Vec::with_capacity(self.k);
        // Eigenvalues come ascending: the components are the last k, largest first.
        for (i, e) in (0..d).rev().take(self.k).enumerate() {
            // Rounding can leave a zero eigenvalue slightly negative.
            explained_variance.push(values[e].max(0.0));
            for (j, c) in components.row_mut(i).iter_mut().enumerate() {
                *c = vectors[j * d + e];
            }
        }
        flip_signs(&mut components);
        let explained_variance_ratio = explained_variance
            .iter()
            .map(|v| {
                if total_variance > 0.0 {
                    v / total_variance
                } else {
                    0.0
                }
            })
            .collect();
        Ok(PcaModel {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            mean,
            components,
            explained_variance,
            explained_variance_ratio,
        })
    }
}

fn column_means(x: &Matrix) -> Vec<f64> {
    let d = x.cols();
    let sums = x
        .as_slice()
        .par_chunks(d * 4096)
        .map(|chunk| {
            let mut s = vec![0.0; d];
            for row in chunk.chunks_exact(d) {
                s.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
            s
        })
        .reduce(
            || vec![0.0; d],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    sums.into_iter().map(|s| s / x.rows() as f64).collect()
}

/// A fitted [`Pca`].
#[derive(Clone, Debug, PartialEq)]
pub struct PcaModel {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// The training mean of each feature.
    pub mean: Vec<f64>,
    /// The components, one per row (`k × features`), largest variance first.
    pub components: Matrix,
    /// The variance along each component (its covariance eigenvalue).
    pub explained_variance: Vec<f64>,
    /// Each component's share of the total variance.
    pub explained_variance_ratio: Vec<f64>,
}

impl Transformer for PcaModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = data::read_vectors(table, &self.input_col)?;
        let (d, k) = (self.mean.len(), self.components.rows());
        if x.cols() != d && x.rows() > 0 {
            return Err(MlError::data(format!(
                "the model was fitted on {d} features, but `{}` has {} per row",
                self.input_col,
                x.cols()
            )));
        }
        let mut out = Matrix::zeros(x.rows(), k);
        if x.rows() > 0 && d > 0 {
            out.as_mut_slice()
                .par_chunks_mut(k)
                .zip(x.as_slice().par_chunks(d))
                .for_each(|(projected, row)| {
                    for (p, component) in projected.iter_mut().zip(self.components.row_iter()) {
                        *p = row
                            .iter()
                            .zip(&self.mean)
                            .zip(component)
                            .map(|((v, m), c)| (v - m) * c)
                            .sum();
                    }
                });
        }
        data::with_column(table, &self.output_col, vector_column(out)?)
    }
}

#[derive(Serialize, Deserialize)]
struct PcaMeta {
    input_col: String,
    output_col: String,
    k: usize,
}

impl Model for PcaModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = PcaMeta {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            k: self.components.rows(),
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("mean", &self.mean)
            .with_f64("components", self.components.as_slice())
            .with_f64("explained_variance", &self.explained_variance)
            .with_f64("explained_variance_ratio", &self.explained_variance_ratio))
    }
}

impl Loadable for PcaModel {
    const KIND: &'static str = "PcaModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: PcaMeta = parts.meta()?;
        let mean = parts.f64("mean")?;
        let components = Matrix::new(meta.k, mean.len(), parts.f64("components")?)
            .map_err(|e| parts.damaged(e.to_string()))?;
        Ok(PcaModel {
            input_col: meta.input_col,
            output_col: meta.output_col,
            mean,
            components,
            explained_variance: parts.f64("explained_variance")?,
            explained_variance_ratio: parts.f64("explained_variance_ratio")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[Vec<f64>]) -> RecordBatch {
        let m = Matrix::from_rows(rows).unwrap();
        let t =
            data::float_table(vec![("id", (0..rows.len()).map(|i| i as f64).collect())]).unwrap();
        data::with_column(&t, "features", data::vector_array(&m).unwrap()).unwrap()
    }

    #[test]
    fn points_on_a_line_have_one_component() {
        // Points on y = -2x: all the variance lies along (1, -2) / sqrt(5), turned so that
        // its largest entry (-2) becomes positive.
        let rows: Vec<Vec<f64>> = (0..5)
            .map(|i| vec![f64::from(i), -2.0 * f64::from(i)])
            .collect();
        let t = table(&rows);
        let model = Pca::default().fit(&t).unwrap();
        let s = 5f64.sqrt();
        let c = model.components.row(0);
        assert!(
            (c[0] + 1.0 / s).abs() < 1e-12 && (c[1] - 2.0 / s).abs() < 1e-12,
            "{c:?}"
        );
        assert!((model.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
        assert!(model.explained_variance_ratio[1].abs() < 1e-12);
        // Variance along the line: 5 * var(0..5, ddof 1) = 5 * 2.5.
        assert!((model.explained_variance[0] - 12.5).abs() < 1e-10);
        let out = data::read_vectors(&model.transform(&t).unwrap(), "pca").unwrap();
        // Row 0 is (0, 0), the mean (2, -4) minus (2, -4): projection (2 + 8) / sqrt(5).
        assert!((out.get(0, 0) - 2.0 * s).abs() < 1e-12, "{out:?}");

        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&model, dir.path()).unwrap();
        assert_eq!(crate::persist::load::<PcaModel>(dir.path()).unwrap(), model);
    }

    #[test]
    fn bad_k_and_feature_counts_are_refused() {
        let t = table(&[vec![1.0, 2.0], vec![3.0, 5.0], vec![0.0, 1.0]]);
        let err = Pca {
            k: 3,
            ..Default::default()
        }
        .fit(&t)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`k`"), "{err}");
        let model = Pca {
            k: 1,
            ..Default::default()
        }
        .fit(&t)
        .unwrap();
        let wide = table(&[vec![1.0, 2.0, 3.0]]);
        let err = model.transform(&wide).unwrap_err().to_string();
        assert!(err.contains("fitted on 2 features"), "{err}");
    }
}
