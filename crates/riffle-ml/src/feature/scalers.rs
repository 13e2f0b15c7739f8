//! Per-feature scaling of a vector column (standard, min-max, max-abs, robust) and per-row
//! normalisation.

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Estimator, Model, Transformer};

/// Which scaler fitted a [`ScalerModel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalerKind {
    /// [`StandardScaler`].
    Standard,
    /// [`MinMaxScaler`].
    MinMax,
    /// [`MaxAbsScaler`].
    MaxAbs,
    /// [`RobustScaler`].
    Robust,
}

/// A fitted scaler: `output[j] = input[j] * scale[j] + offset[j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalerModel {
    /// Which scaler this came from.
    pub kind: ScalerKind,
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Per-feature factor.
    pub scale: Vec<f64>,
    /// Per-feature offset, added after scaling.
    pub offset: Vec<f64>,
}

impl Transformer for ScalerModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let mut x = data::read_vectors(table, &self.input_col)?;
        if x.cols() != self.scale.len() && x.rows() > 0 {
            return Err(MlError::data(format!(
                "the scaler was fitted on {} features, but `{}` has {} per row",
                self.scale.len(),
                self.input_col,
                x.cols()
            )));
        }
        for i in 0..x.rows() {
            for ((v, s), o) in x.row_mut(i).iter_mut().zip(&self.scale).zip(&self.offset) {
                *v = *v * s + o;
            }
        }
        data::with_column(table, &self.output_col, data::vector_array(&x)?)
    }
}

#[derive(Serialize, Deserialize)]
struct ScalerMeta {
    kind: ScalerKind,
    input_col: String,
    output_col: String,
}

impl Model for ScalerModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = ScalerMeta {
            kind: self.kind,
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
        };
        Ok(ModelParts::new(Self::KIND, &meta)?
            .with_f64("scale", &self.scale)
            .with_f64("offset", &self.offset))
    }
}

impl Loadable for ScalerModel {
    const KIND: &'static str = "ScalerModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: ScalerMeta = parts.meta()?;
        Ok(ScalerModel {
            kind: meta.kind,
            input_col: meta.input_col,
            output_col: meta.output_col,
            scale: parts.f64("scale")?,
            offset: parts.f64("offset")?,
        })
    }
}

fn fit_input(table: &RecordBatch, input_col: &str) -> Result<Matrix> {
    let x = data::read_vectors(table, input_col)?;
    if x.rows() == 0 {
        return Err(MlError::data("cannot fit a scaler on a table with no rows"));
    }
    Ok(x)
}

fn column_means(x: &Matrix) -> Vec<f64> {
    let mut means = vec![0.0; x.cols()];
    for row in x.row_iter() {
        means.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    means.iter_mut().for_each(|m| *m /= x.rows() as f64);
    means
}

/// Centers each feature on its mean and divides by its (population) standard deviation, as
/// scikit-learn's `StandardScaler`; a constant feature is only centered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StandardScaler {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Subtract the mean.
    pub with_mean: bool,
    /// Divide by the standard deviation.
    pub with_std: bool,
}

impl Default for StandardScaler {
    fn default() -> Self {
        StandardScaler {
            input_col: "features".into(),
            output_col: "scaled".into(),
            with_mean: true,
            with_std: true,
        }
    }
}

impl Estimator for StandardScaler {
    type Model = ScalerModel;

    fn fit(&self, table: &RecordBatch) -> Result<ScalerModel> {
        let x = fit_input(table, &self.input_col)?;
        let means = column_means(&x);
        let mut variances = vec![0.0; x.cols()];
        for row in x.row_iter() {
            for ((s, v), m) in variances.iter_mut().zip(row).zip(&means) {
                *s += (v - m) * (v - m);
            }
        }
        let scale: Vec<f64> = variances
            .iter()
            .map(|s| {
                let std = (s / x.rows() as f64).sqrt();
                if self.with_std && std > 0.0 {
                    1.0 / std
                } else {
                    1.0
                }
            })
            .collect();
        let offset = means
            .iter()
            .zip(&scale)
            .map(|(m, s)| if self.with_mean { -m * s } else { 0.0 })
            .collect();
        Ok(ScalerModel {
            kind: ScalerKind::Standard,
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            scale,
            offset,
        })
    }
}

/// Maps each feature's training range onto `[min, max]`, as scikit-learn's `MinMaxScaler`;
/// a constant feature maps to `min`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MinMaxScaler {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Lower end of the output range.
    pub min: f64,
    /// Upper end of the output range.
    pub max: f64,
}

impl Default for MinMaxScaler {
    fn default() -> Self {
        MinMaxScaler {
            input_col: "features".into(),
            output_col: "scaled".into(),
            min: 0.0,
            max: 1.0,
        }
    }
}

impl Estimator for MinMaxScaler {
    type Model = ScalerModel;

    fn fit(&self, table: &RecordBatch) -> Result<ScalerModel> {
        if self.min >= self.max || self.min.is_nan() || self.max.is_nan() {
            return Err(MlError::param(
                "min",
                format!("must be below max ({} >= {})", self.min, self.max),
            ));
        }
        let x = fit_input(table, &self.input_col)?;
        let (mut lo, mut hi) = (
            vec![f64::INFINITY; x.cols()],
            vec![f64::NEG_INFINITY; x.cols()],
        );
        for row in x.row_iter() {
            for (j, v) in row.iter().enumerate() {
                lo[j] = lo[j].min(*v);
                hi[j] = hi[j].max(*v);
            }
        }
        let width = self.max - self.min;
        let scale: Vec<f64> = lo
            .iter()
            .zip(&hi)
            .map(|(l, h)| if h > l { width / (h - l) } else { 0.0 })
            .collect();
        let offset = lo
            .iter()
            .zip(&scale)
            .map(|(l, s)| self.min - l * s)
            .collect();
        Ok(ScalerModel {
            kind: ScalerKind::MinMax,
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            scale,
            offset,
        })
    }
}

/// Divides each feature by its largest absolute value (keeps zeros, so sparse data stays
/// sparse), as scikit-learn's `MaxAbsScaler`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MaxAbsScaler {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
}

impl Default for MaxAbsScaler {
    fn default() -> Self {
        MaxAbsScaler {
            input_col: "features".into(),
            output_col: "scaled".into(),
        }
    }
}

impl Estimator for MaxAbsScaler {
    type Model = ScalerModel;

    fn fit(&self, table: &RecordBatch) -> Result<ScalerModel> {
        let x = fit_input(table, &self.input_col)?;
        let mut max = vec![0.0f64; x.cols()];
        for row in x.row_iter() {
            max.iter_mut()
                .zip(row)
                .for_each(|(m, v)| *m = m.max(v.abs()));
        }
        Ok(ScalerModel {
            kind: ScalerKind::MaxAbs,
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            scale: max
                .iter()
                .map(|m| if *m > 0.0 { 1.0 / m } else { 1.0 })
                .collect(),
            offset: vec![0.0; x.cols()],
        })
    }
}

/// Centers on the median and divides by the inter-quantile range (25th to 75th percentile
/// by default, linear interpolation as numpy), as scikit-learn's `RobustScaler`: outliers
/// barely move the statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RobustScaler {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Subtract the median.
    pub with_centering: bool,
    /// Divide by the inter-quantile range.
    pub with_scaling: bool,
    /// Lower quantile of the range, in (0, 1).
    pub lower: f64,
    /// Upper quantile of the range, in (lower, 1).
    pub upper: f64,
}

impl Default for RobustScaler {
    fn default() -> Self {
        RobustScaler {
            input_col: "features".into(),
            output_col: "scaled".into(),
            with_centering: true,
            with_scaling: true,
            lower: 0.25,
            upper: 0.75,
        }
    }
}

/// The `q` quantile of ascending `sorted`, interpolating linearly between neighbours.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let t = position - below as f64;
    sorted[below] + t * (sorted[above] - sorted[below])
}

impl Estimator for RobustScaler {
    type Model = ScalerModel;

    fn fit(&self, table: &RecordBatch) -> Result<ScalerModel> {
        if !(0.0 < self.lower && self.lower < self.upper && self.upper < 1.0) {
            return Err(MlError::param(
                "lower",
                format!(
                    "quantiles must satisfy 0 < lower < upper < 1, got {} and {}",
                    self.lower, self.upper
                ),
            ));
        }
        let x = fit_input(table, &self.input_col)?;
        let mut scale = Vec::with_capacity(x.cols());
        let mut offset = Vec::with_capacity(x.cols());
        for j in 0..x.cols() {
            let mut column = x.column(j);
            column.sort_by(f64::total_cmp);
            let median = quantile(&column, 0.5);
            let range = quantile(&column, self.upper) - quantile(&column, self.lower);
            let s = if self.with_scaling && range > 0.0 {
                1.0 / range
            } else {
                1.0
            };
            scale.push(s);
            offset.push(if self.with_centering {
                -median * s
            } else {
                0.0
            });
        }
        Ok(ScalerModel {
            kind: ScalerKind::Robust,
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            scale,
            offset,
        })
    }
}

/// The norm [`Normalizer`] divides by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormalizerNorm {
    /// Sum of absolute values.
    L1,
    /// Euclidean length.
    #[default]
    L2,
    /// Largest absolute value.
    Max,
}

/// Scales each row to unit norm (rows of zeros stay zeros). Needs no fitting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Normalizer {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Which norm.
    pub norm: NormalizerNorm,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer {
            input_col: "features".into(),
            output_col: "normalized".into(),
            norm: NormalizerNorm::L2,
        }
    }
}

impl Transformer for Normalizer {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let mut x = data::read_vectors(table, &self.input_col)?;
        for i in 0..x.rows() {
            let row = x.row_mut(i);
            let norm = match self.norm {
                NormalizerNorm::L1 => row.iter().map(|v| v.abs()).sum(),
                NormalizerNorm::L2 => row.iter().map(|v| v * v).sum::<f64>().sqrt(),
                NormalizerNorm::Max => row.iter().fold(0.0f64, |m, v| m.max(v.abs())),
            };
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        data::with_column(table, &self.output_col, data::vector_array(&x)?)
    }
}

impl Model for Normalizer {
    fn parts(&self) -> Result<ModelParts> {
        ModelParts::new(Self::KIND, self)
    }
}

impl Loadable for Normalizer {
    const KIND: &'static str = "Normalizer";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        parts.meta()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[f64; 2]]) -> RecordBatch {
        let m = Matrix::from_rows(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>()).unwrap();
        let t =
            data::float_table(vec![("id", (0..rows.len()).map(|i| i as f64).collect())]).unwrap();
        data::with_column(&t, "features", data::vector_array(&m).unwrap()).unwrap()
    }

    fn scaled(model: &ScalerModel, t: &RecordBatch) -> Matrix {
        data::read_vectors(&model.transform(t).unwrap(), "scaled").unwrap()
    }

    #[test]
    fn standard_scaling_uses_the_population_deviation() {
        // Column 0: mean 2, population std sqrt(2/3); column 1 constant: centered only.
        let t = table(&[[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]);
        let out = scaled(&StandardScaler::default().fit(&t).unwrap(), &t);
        let s = (2.0f64 / 3.0).sqrt();
        assert!((out.get(0, 0) + 1.0 / s).abs() < 1e-12 && out.get(1, 0).abs() < 1e-12);
        assert_eq!(out.column(1), vec![0.0, 0.0, 0.0]);
    }

    #[test]
    fn min_max_robust_and_max_abs_match_hand_computed_values() {
        let t = table(&[[1.0, -4.0], [3.0, 2.0], [5.0, 0.0], [100.0, 1.0]]);
        let out = scaled(&MinMaxScaler::default().fit(&t).unwrap(), &t);
        let expected = [0.0, 2.0 / 99.0, 4.0 / 99.0, 1.0];
        assert!(
            out.column(0)
                .iter()
                .zip(expected)
                .all(|(a, b)| (a - b).abs() < 1e-15),
            "{out:?}"
        );
        let out = scaled(&MaxAbsScaler::default().fit(&t).unwrap(), &t);
        assert_eq!(out.column(1), vec![-1.0, 0.5, 0.0, 0.25]);
        // Column 0 sorted 1,3,5,100: median 4, q25 = 2.5, q75 = 28.75 (numpy's linear rule).
        let out = scaled(&RobustScaler::default().fit(&t).unwrap(), &t);
        assert!((out.get(1, 0) - (3.0 - 4.0) / 26.25).abs() < 1e-12);
    }

    #[test]
    fn rows_normalise_to_unit_norms() {
        let t = table(&[[3.0, 4.0], [0.0, 0.0]]);
        let n = Normalizer {
            output_col: "scaled".into(),
            ..Default::default()
        };
        let out = data::read_vectors(&n.transform(&t).unwrap(), "scaled").unwrap();
        assert_eq!(out.row(0), &[0.6, 0.8]);
        assert_eq!(out.row(1), &[0.0, 0.0]);
    }
}
