//! Outliers of a vector column: clipped to bounds fitted per feature, or their rows dropped.

use arrow_array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::discretize::order_statistics;
use super::{drop_rows, vector_column};
use crate::data;
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// How [`OutlierClipper`] finds each feature's bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutlierMethod {
    /// Tukey's fences: `[Q1 - k IQR, Q3 + k IQR]` with `k = iqr_factor` and the quartiles
    /// interpolated linearly (numpy's default).
    #[default]
    Iqr,
    /// `mean ± z std` with `z = z_score` and the population standard deviation.
    ZScore,
}

/// What an [`OutlierClipperModel`] does with a value outside its bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutlierAction {
    /// Replace it by the bound it crossed.
    #[default]
    Clip,
    /// Drop its row. Rows are dropped wherever the model runs, scoring too: use this to
    /// clean a training table, and clip in a pipeline that must score every row.
    RemoveRows,
}

/// Fits per-feature bounds on the training rows and clips values to them (or drops the rows
/// with a value outside them, `action = remove-rows`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutlierClipper {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written (the input unchanged when rows are removed).
    pub output_col: String,
    /// How the bounds are found.
    pub method: OutlierMethod,
    /// `k` of [`OutlierMethod::Iqr`] (> 0).
    pub iqr_factor: f64,
    /// `z` of [`OutlierMethod::ZScore`] (> 0).
    pub z_score: f64,
    /// Clip, or remove the rows.
    pub action: OutlierAction,
}

impl Default for OutlierClipper {
    fn default() -> Self {
        OutlierClipper {
            input_col: "features".into(),
            output_col: "clipped".into(),
            method: OutlierMethod::Iqr,
            iqr_factor: 1.5,
            z_score: 3.0,
            action: OutlierAction::Clip,
        }
    }
}

impl Estimator for OutlierClipper {
    type Model = OutlierClipperModel;

    fn fit(&self, table: &RecordBatch) -> Result<OutlierClipperModel> {
        let (name, factor) = match self.method {
            OutlierMethod::Iqr => ("iqr_factor", self.iqr_factor),
            OutlierMethod::ZScore => ("z_score", self.z_score),
        };
        if !(factor > 0.0 && factor.is_finite()) {
            return Err(MlError::param(
                name,
                format!("must be a finite number > 0, got {factor}"),
            ));
        }
        let x = data::read_vectors(table, &self.input_col)?;
        if x.rows() == 0 {
            return Err(MlError::data(
                "cannot fit outlier bounds on a table with no rows",
            ));
        }
        let bounds: Vec<(f64, f64)> = (0..x.cols())
            .into_par_iter()
            .map(|j| {
                let mut column = x.column(j);
                match self.method {
                    OutlierMethod::Iqr => {
                        let (q1, q3) = quartiles(&mut column);
                        let reach = factor * (q3 - q1);
                        (q1 - reach, q3 + reach)
                    }
                    OutlierMethod::ZScore => {
                        let n = column.len() as f64;
                        let mean = column.iter().sum::<f64>() / n;
                        let variance =
                            column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                        let reach = factor * variance.sqrt();
                        (mean - reach, mean + reach)
                    }
                }
            })
            .collect();
        Ok(OutlierClipperModel {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            lower: bounds.iter().map(|b| b.0).collect(),
            upper: bounds.iter().map(|b| b.1).collect(),
            action: self.action,
        })
    }
}

/// The first and third quartiles of `values` (reordered), interpolated linearly between
/// neighbours as numpy's default (and [`super::RobustScaler`]) does.
fn quartiles(values: &mut [f64]) -> (f64, f64) {
    let last = values.len() - 1;
    let position = |q: f64| {
        let p = q * last as f64;
        let below = p.floor() as usize;
        (below, (below + 1).min(last), p - below as f64)
    };
    let (b1, a1, t1) = position(0.25);
    let (b3, a3, t3) = position(0.75);
    let mut ranks = vec![b1, a1, b3, a3];
    ranks.sort_unstable();
    ranks.dedup();
    let stats = order_statistics(values, &ranks);
    let at = |rank: usize| stats[ranks.partition_point(|&r| r < rank)];
    let interpolate = |below: usize, above: usize, t: f64| at(below) + t * (at(above) - at(below));
    (interpolate(b1, a1, t1), interpolate(b3, a3, t3))
}

/// A fitted [`OutlierClipper`]: per-feature bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierClipperModel {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Each feature's lower bound.
    pub lower: Vec<f64>,
    /// Each feature's upper bound.
    pub upper: Vec<f64>,
    /// Clip, or remove the rows.
    pub action: OutlierAction,
}

impl Transformer for OutlierClipperModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let mut x = data::read_vectors(table, &self.input_col)?;
        let d = self.lower.len();
        if x.cols() != d && x.rows() > 0 {
            return Err(MlError::data(format!(
                "the model was fitted on {d} features, but `{}` has {} per row",
                self.input_col,
                x.cols()
            )));
        }
        let outside = |row: &[f64]| {
            row.iter()
                .zip(self.lower.iter().zip(&self.upper))
                .any(|(v, (l, u))| v < l || v > u)
        };
        let drop: Vec<bool> = match self.action {
            OutlierAction::Clip => {
                if d > 0 {
                    x.as_mut_slice().par_chunks_mut(d).for_each(|row| {
                        for (v, (l, u)) in row.iter_mut().zip(self.lower.iter().zip(&self.upper)) {
                            // max then min rather than `clamp`, which panics on bad bounds.
                            *v = v.max(*l).min(*u);
                        }
                    });
                }
                Vec::new()
            }
            OutlierAction::RemoveRows => x.row_iter().map(outside).collect(),
        };
        let out = data::with_column(table, &self.output_col, vector_column(x)?)?;
        drop_rows(&out, &drop)
    }
}

#[derive(Serialize, Deserialize)]
struct OutlierMeta {
    input_col: String,
    output_col: String,
    action: OutlierAction,
}

impl Model for OutlierClipperModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = OutlierMeta {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            action: self.action,
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("lower", &self.lower)
            .with_f64("upper", &self.upper))
    }
}

impl Loadable for OutlierClipperModel {
    const KIND: &'static str = "OutlierClipperModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: OutlierMeta = parts.meta()?;
        let (lower, upper) = (parts.f64("lower")?, parts.f64("upper")?);
        if lower.len() != upper.len() {
            return Err(parts.damaged(format!(
                "{} lower bounds but {} upper bounds",
                lower.len(),
                upper.len()
            )));
        }
        Ok(OutlierClipperModel {
            input_col: meta.input_col,
            output_col: meta.output_col,
            lower,
            upper,
            action: meta.action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Matrix;

    fn table(values: &[f64]) -> RecordBatch {
        let m = Matrix::new(values.len(), 1, values.to_vec()).unwrap();
        let t =
            data::float_table(vec![("id", (0..values.len()).map(|i| i as f64).collect())]).unwrap();
        data::with_column(&t, "features", data::vector_array(&m).unwrap()).unwrap()
    }

    #[test]
    fn iqr_fences_clip_and_remove() {
        // 1..=8 and 100: Q1 = 3, Q3 = 7 (linear), IQR 4, fences [-3, 13].
        let mut values: Vec<f64> = (1..=8).map(f64::from).collect();
        values.push(100.0);
        let t = table(&values);
        let model = OutlierClipper::default().fit(&t).unwrap();
        assert_eq!((model.lower[0], model.upper[0]), (-3.0, 13.0));
        let out = data::read_vectors(&model.transform(&t).unwrap(), "clipped").unwrap();
        assert_eq!(out.get(8, 0), 13.0);
        assert_eq!(out.get(0, 0), 1.0);
        let remove = OutlierClipperModel {
            action: OutlierAction::RemoveRows,
            ..model.clone()
        };
        let kept = remove.transform(&t).unwrap();
        assert_eq!(kept.num_rows(), 8);
        assert_eq!(data::read_f64(&kept, "id").unwrap()[7], 7.0);
        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&model, dir.path()).unwrap();
        assert_eq!(
            crate::persist::load::<OutlierClipperModel>(dir.path()).unwrap(),
            model
        );
        // Two values: both quartiles fall between them (1.5 and 2.5), fences [0, 4].
        let two = OutlierClipper::default().fit(&table(&[3.0, 1.0])).unwrap();
        assert_eq!((two.lower[0], two.upper[0]), (0.0, 4.0));
    }

    #[test]
    fn z_scores_use_the_population_deviation() {
        // Mean 2, population std sqrt(2/3) over 1, 2, 3.
        let t = table(&[1.0, 2.0, 3.0]);
        let clipper = OutlierClipper {
            method: OutlierMethod::ZScore,
            z_score: 1.0,
            ..Default::default()
        };
        let model = clipper.fit(&t).unwrap();
        let s = (2.0f64 / 3.0).sqrt();
        assert!((model.upper[0] - (2.0 + s)).abs() < 1e-15);
        let out = data::read_vectors(&model.transform(&t).unwrap(), "clipped").unwrap();
        assert!((out.get(0, 0) - (2.0 - s)).abs() < 1e-15);
        let err = OutlierClipper {
            z_score: -1.0,
            ..clipper
        }
        .fit(&t)
        .unwrap_err()
        .to_string();
        assert!(err.contains("`z_score`"), "{err}");
        let err = model.transform(&data::float_table(vec![("x", vec![1.0])]).unwrap());
        assert!(err.unwrap_err().to_string().contains("features"));
    }
}
