//! Seeded synthetic data for tests and benchmarks.
//!
//! [`Classification`], [`Regression`] and [`Blobs`] follow the constructions of
//! scikit-learn's `make_classification`, `make_regression` and `make_blobs`; [`customers`]
//! is a small churn table with missing values and categories. Every generator draws from
//! one `ChaCha8Rng` seeded with the `seed` it is given, so a seed gives the same numbers
//! on every platform. The random stream is not NumPy's: the data are reproducible from
//! the seed here, and [`write_csv`] writes them so that scikit-learn can be fitted on
//! exactly the same values.
//!
//! ```
//! use riffle_ml::datasets::Classification;
//!
//! let data = Classification { n_samples: 200, seed: 7, ..Classification::default() }
//!     .generate()
//!     .unwrap();
//! let (train, test) = data.split_at(150);
//! assert_eq!((train.x.rows(), test.x.rows(), train.x.cols()), (150, 50, 20));
//! let table = train.to_table().unwrap();
//! assert_eq!(table.schema().field(20).name(), "label");
//! ```

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson, StandardNormal};

use crate::data::{self, Matrix};
use crate::error::{MlError, Result};

/// Name of the label column that [`Dataset::to_table`] and [`Dataset::to_vector_table`] write.
pub const LABEL_COLUMN: &str = "label";

/// Name of the feature-vector column that [`Dataset::to_vector_table`] writes.
pub const FEATURES_COLUMN: &str = "features";

/// A generated data set: a feature matrix, one label per row and the feature names.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The features, one row per sample.
    pub x: Matrix,
    /// The label of each row: a class index (`0.0`, `1.0`, ...) or a regression target.
    pub y: Vec<f64>,
    /// One name per column of `x`; empty means `f0`, `f1`, ...
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// A data set over `x` and `y` with the default feature names `f0`, `f1`, ...
    fn with_default_names(x: Matrix, y: Vec<f64>) -> Self {
        let feature_names = (0..x.cols()).map(|j| format!("f{j}")).collect();
        Dataset {
            x,
            y,
            feature_names,
        }
    }

    /// The feature names, checked against the matrix (the fields are public, so they may
    /// have been edited out of step).
    fn checked_names(&self) -> Result<Vec<String>> {
        if self.y.len() != self.x.rows() {
            return Err(MlError::data(format!(
                "the dataset has {} rows of features but {} labels",
                self.x.rows(),
                self.y.len()
            )));
        }
        let names: Vec<String> = if self.feature_names.is_empty() {
            (0..self.x.cols()).map(|j| format!("f{j}")).collect()
        } else if self.feature_names.len() == self.x.cols() {
            self.feature_names.clone()
        } else {
            return Err(MlError::data(format!(
                "the dataset has {} feature names for {} features",
                self.feature_names.len(),
                self.x.cols()
            )));
        };
        if names.iter().any(|n| n == LABEL_COLUMN) {
            return Err(MlError::data(format!(
                "a feature is named `{LABEL_COLUMN}`, the name of the label column; rename it"
            )));
        }
        Ok(names)
    }

    /// The data as a table: one non-null `Float64` column per feature, then `label`.
    pub fn to_table(&self) -> Result<RecordBatch> {
        let names = self.checked_names()?;
        let mut columns: Vec<(&str, Vec<f64>)> = names
            .iter()
            .enumerate()
            .map(|(j, name)| (name.as_str(), self.x.column(j)))
            .collect();
        columns.push((LABEL_COLUMN, self.y.clone()));
        data::float_table(columns)
    }

    /// The data as the estimators read it: a `label` column and a `features` column of
    /// `FixedSizeList<Float64>` vectors.
    pub fn to_vector_table(&self) -> Result<RecordBatch> {
        self.checked_names()?;
        let table = data::float_table(vec![(LABEL_COLUMN, self.y.clone())])?;
        data::with_column(&table, FEATURES_COLUMN, data::vector_array(&self.x)?)
    }

    /// The first `n_train` rows and the rest. The generators shuffle their rows, so this
    /// is a random split. `n_train` beyond the row count gives every row to the first part.
    pub fn split_at(&self, n_train: usize) -> (Dataset, Dataset) {
        let n_train = n_train.min(self.x.rows()).min(self.y.len());
        let rows = self.x.rows().min(self.y.len());
        let part = |range: std::ops::Range<usize>| Dataset {
            x: self.x.select_rows(&range.clone().collect::<Vec<_>>()),
            y: self.y[range].to_vec(),
            feature_names: self.feature_names.clone(),
        };
        (part(0..n_train), part(n_train..rows))
    }
}

/// Parameters of a classification problem built like scikit-learn's
/// `make_classification`: Gaussian clusters on the vertices of a hypercube.
///
/// The columns come in the order informative, redundant, noise. (scikit-learn also
/// permutes the columns; that changes nothing a model can learn, and the fixed order lets
/// tests know which features carry the signal.)
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    /// Number of rows.
    pub n_samples: usize,
    /// Total number of features: informative, redundant and noise.
    pub n_features: usize,
    /// Features that place the clusters.
    pub n_informative: usize,
    /// Features that are random linear combinations of the informative ones.
    pub n_redundant: usize,
    /// Number of classes; labels are `0.0 ..= (n_classes - 1) as f64`.
    pub n_classes: usize,
    /// Gaussian clusters per class.
    pub n_clusters_per_class: usize,
    /// Half the side of the hypercube whose vertices the clusters sit on; larger is easier.
    pub class_sep: f64,
    /// Share of rows whose label is replaced by a random class (which may be the same one).
    pub flip_y: f64,
    /// Seed of the random stream.
    pub seed: u64,
}

impl Default for Classification {
    /// scikit-learn's defaults, seed 0.
    fn default() -> Self {
        Classification {
            n_samples: 100,
            n_features: 20,
            n_informative: 2,
            n_redundant: 2,
            n_classes: 2,
            n_clusters_per_class: 2,
            class_sep: 1.0,
            flip_y: 0.01,
            seed: 0,
        }
    }
}

/// Beyond this many informative dimensions only the low ones are drawn without replacement,
/// as in scikit-learn, so at most 2^30 clusters can be placed.
const MAX_DISTINCT_VERTEX_BITS: usize = 30;

impl Classification {
    /// Checks the parameters; gives the number of clusters.
    fn validate(&self) -> Result<usize> {
        if self.n_samples == 0 {
            return Err(MlError::param("n_samples", "must be at least 1"));
        }
        if self.n_informative == 0 {
            return Err(MlError::param("n_informative", "must be at least 1"));
        }
        let used = self.n_informative.saturating_add(self.n_redundant);
        if used > self.n_features {
            return Err(MlError::param(
                "n_features",
                format!(
                    "is {}, must be at least n_informative + n_redundant = {used}",
                    self.n_features
                ),
            ));
        }
        if self.n_classes == 0 {
            return Err(MlError::param("n_classes", "must be at least 1"));
        }
        if self.n_clusters_per_class == 0 {
            return Err(MlError::param("n_clusters_per_class", "must be at least 1"));
        }
        let vertices = 1usize << self.n_informative.min(MAX_DISTINCT_VERTEX_BITS);
        let n_clusters = self
            .n_classes
            .checked_mul(self.n_clusters_per_class)
            .filter(|&c| c <= vertices)
            .ok_or_else(|| {
                MlError::param(
                    "n_informative",
                    format!(
                        "2^n_informative = {vertices} hypercube vertices cannot hold n_classes * n_clusters_per_class = {} * {} clusters; raise n_informative",
                        self.n_classes, self.n_clusters_per_class
                    ),
                )
            })?;
        check_cells(self.n_samples, self.n_features)?;
        check_cells(self.n_informative, self.n_informative)?;
        if !self.class_sep.is_finite() {
            return Err(MlError::param("class_sep", "must be a finite number"));
        }
        if !(0.0..=1.0).contains(&self.flip_y) {
            return Err(MlError::param("flip_y", "must be between 0 and 1"));
        }
        Ok(n_clusters)
    }

    /// Generates the data set.
    pub fn generate(&self) -> Result<Dataset> {
        let n_clusters = self.validate()?;
        let (n, d, r) = (self.n_samples, self.n_informative, self.n_redundant);
        let n_noise = self.n_features - d - r;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);

        let vertices = hypercube_vertices(n_clusters, d, &mut rng);
        let mut informative = standard_normals(&mut rng, n * d);
        let mut y = vec![0.0; n];
        let mut start = 0;
        let mut transformed = vec![0.0; d];
        for (k, vertex) in vertices.chunks_exact(d).enumerate() {
            let size = n / n_clusters + usize::from(k < n % n_clusters);
            // Rows become z A + centroid, so the cluster's covariance is A^T A. A is drawn
            // even for an empty cluster, as in scikit-learn.
            let a = signed_uniforms(&mut rng, d * d);
            for row in informative[start * d..(start + size) * d].chunks_exact_mut(d) {
                for (j, t) in transformed.iter_mut().enumerate() {
                    *t = dot_strided(row, &a[j..], d);
                }
                for ((v, t), c) in row.iter_mut().zip(&transformed).zip(vertex) {
                    *v = t + (c * (2.0 * self.class_sep) - self.class_sep);
                }
            }
            y[start..start + size].fill((k % self.n_classes) as f64);
            start += size;
        }

        let b = signed_uniforms(&mut rng, d * r);
        let noise = standard_normals(&mut rng, n * n_noise);
        let mut x = Vec::with_capacity(n * self.n_features);
        for (i, row) in informative.chunks_exact(d).enumerate() {
            x.extend_from_slice(row);
            x.extend((0..r).map(|j| dot_strided(row, &b[j..], r)));
            x.extend_from_slice(&noise[i * n_noise..(i + 1) * n_noise]);
        }

        let flipped: Vec<bool> = (0..n).map(|_| rng.random::<f64>() < self.flip_y).collect();
        for (label, _) in y.iter_mut().zip(&flipped).filter(|(_, f)| **f) {
            *label = rng.random_range(0..self.n_classes) as f64;
        }

        let x = Matrix::new(n, self.n_features, x)?;
        let (x, y) = shuffle_rows(x, y, &mut rng);
        Ok(Dataset::with_default_names(x, y))
    }
}

/// Parameters of a linear regression problem built like scikit-learn's `make_regression`:
/// standard normal features, `y = X w + bias + N(0, noise²)`.
///
/// The informative features are the first `n_informative` columns (scikit-learn permutes
/// them; see [`Classification`] for why this does not).
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    /// Number of rows.
    pub n_samples: usize,
    /// Number of features.
    pub n_features: usize,
    /// Features with a non-zero coefficient; more than `n_features` means all of them,
    /// as in scikit-learn.
    pub n_informative: usize,
    /// Standard deviation of the Gaussian noise added to the target.
    pub noise: f64,
    /// The intercept.
    pub bias: f64,
    /// Seed of the random stream.
    pub seed: u64,
}

impl Default for Regression {
    /// scikit-learn's defaults, seed 0.
    fn default() -> Self {
        Regression {
            n_samples: 100,
            n_features: 100,
            n_informative: 10,
            noise: 0.0,
            bias: 0.0,
            seed: 0,
        }
    }
}

impl Regression {
    /// Generates the data set.
    pub fn generate(&self) -> Result<Dataset> {
        Ok(self.generate_with_coef()?.0)
    }

    /// Generates the data set and gives the true coefficients too (one per feature, zero
    /// for the uninformative ones).
    pub fn generate_with_coef(&self) -> Result<(Dataset, Vec<f64>)> {
        if self.n_samples == 0 {
            return Err(MlError::param("n_samples", "must be at least 1"));
        }
        if self.n_features == 0 {
            return Err(MlError::param("n_features", "must be at least 1"));
        }
        check_cells(self.n_samples, self.n_features)?;
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(MlError::param(
                "noise",
                "must be a finite number, at least 0",
            ));
        }
        if !self.bias.is_finite() {
            return Err(MlError::param("bias", "must be a finite number"));
        }
        let (n, f) = (self.n_samples, self.n_features);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let x = standard_normals(&mut rng, n * f);
        let mut coef = vec![0.0; f];
        for w in coef.iter_mut().take(self.n_informative) {
            *w = 100.0 * rng.random::<f64>();
        }
        let mut y: Vec<f64> = x
            .chunks_exact(f)
            .map(|row| dot_strided(row, &coef, 1) + self.bias)
            .collect();
        // Skipped at zero, as in scikit-learn, so that y is X w + bias exactly.
        if self.noise > 0.0 {
            let normal =
                Normal::new(0.0, self.noise).map_err(|e| MlError::param("noise", e.to_string()))?;
            for v in &mut y {
                *v += normal.sample(&mut rng);
            }
        }
        let x = Matrix::new(n, f, x)?;
        let (x, y) = shuffle_rows(x, y, &mut rng);
        Ok((Dataset::with_default_names(x, y), coef))
    }
}

/// Parameters of isotropic Gaussian blobs, built like scikit-learn's `make_blobs`: centres
/// uniform in a box, each blob `N(centre, cluster_std² I)`; the label is the blob index.
#[derive(Clone, Debug, PartialEq)]
pub struct Blobs {
    /// Number of rows, shared out evenly (the first blobs get one more when it does not
    /// divide).
    pub n_samples: usize,
    /// Number of features.
    pub n_features: usize,
    /// Number of blobs.
    pub centers: usize,
    /// Standard deviation of every blob along every axis.
    pub cluster_std: f64,
    /// The range, in every dimension, the centres are drawn from.
    pub center_box: (f64, f64),
    /// Seed of the random stream.
    pub seed: u64,
}

impl Default for Blobs {
    /// scikit-learn's defaults, seed 0.
    fn default() -> Self {
        Blobs {
            n_samples: 100,
            n_features: 2,
            centers: 3,
            cluster_std: 1.0,
            center_box: (-10.0, 10.0),
            seed: 0,
        }
    }
}

impl Blobs {
    /// Generates the data set.
    pub fn generate(&self) -> Result<Dataset> {
        Ok(self.generate_with_centers()?.0)
    }

    /// Generates the data set and gives the blob centres too (row `k` is blob `k`'s).
    pub fn generate_with_centers(&self) -> Result<(Dataset, Matrix)> {
        if self.n_samples == 0 {
            return Err(MlError::param("n_samples", "must be at least 1"));
        }
        if self.n_features == 0 {
            return Err(MlError::param("n_features", "must be at least 1"));
        }
        if self.centers == 0 {
            return Err(MlError::param("centers", "must be at least 1"));
        }
        if !(self.cluster_std.is_finite() && self.cluster_std >= 0.0) {
            return Err(MlError::param(
                "cluster_std",
                "must be a finite number, at least 0",
            ));
        }
        check_cells(self.n_samples, self.n_features)?;
        check_cells(self.centers, self.n_features)?;
        let (low, high) = self.center_box;
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(MlError::param(
                "center_box",
                format!(
                    "must be two finite numbers, the first below the second; got ({low}, {high})"
                ),
            ));
        }
        let (n, f, k) = (self.n_samples, self.n_features, self.centers);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let centers: Vec<f64> = (0..k * f)
            .map(|_| low + (high - low) * rng.random::<f64>())
            .collect();
        let mut x = Vec::with_capacity(n * f);
        let mut y = Vec::with_capacity(n);
        for (blob, center) in centers.chunks_exact(f).enumerate() {
            let size = n / k + usize::from(blob < n % k);
            for _ in 0..size {
                for c in center {
                    let z: f64 = rng.sample(StandardNormal);
                    x.push(c + self.cluster_std * z);
                }
            }
            y.extend(std::iter::repeat_n(blob as f64, size));
        }
        let x = Matrix::new(n, f, x)?;
        let (x, y) = shuffle_rows(x, y, &mut rng);
        Ok((
            Dataset::with_default_names(x, y),
            Matrix::new(k, f, centers)?,
        ))
    }
}

/// Cities of [`customers`] and how often each occurs.
const CITIES: [(&str, f64); 6] = [
    ("Lisbon", 0.34),
    ("Porto", 0.24),
    ("Braga", 0.15),
    ("Coimbra", 0.12),
    ("Faro", 0.09),
    ("Aveiro", 0.06),
];

/// Each city's push on the churn log-odds, in the order of [`CITIES`].
const CITY_CHURN_EFFECT: [f64; 6] = [0.0, 0.1, -0.3, 0.0, 0.6, -0.4];

/// A customer churn table of `n` independent rows, for tests and examples that need
/// missing values, categories and a learnable label.
///
/// Columns: `age` (Float64, whole years, about 5% null), `income` (Float64, log-normal,
/// about 8% null), `city` (Utf8, 6 cities of skewed frequency, about 3% null), `plan`
/// (Utf8: `basic`, `standard`, `premium`), `visits` (Int64, Poisson), `tenure_months`
/// (Float64) and `churn` (Int64, 0 or 1, about 30% ones). Churn is drawn from a logistic
/// model of the true values of the other columns (values are hidden at random after the
/// label is drawn), so a decent classifier reaches roughly 75–85% accuracy.
pub fn customers(n: usize, seed: u64) -> Result<RecordBatch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut age = Vec::with_capacity(n);
    let mut income = Vec::with_capacity(n);
    let mut city = Vec::with_capacity(n);
    let mut plan = Vec::with_capacity(n);
    let mut visits = Vec::with_capacity(n);
    let mut tenure = Vec::with_capacity(n);
    let mut churn = Vec::with_capacity(n);
    for _ in 0..n {
        let row = CustomerRow::draw(&mut rng)?;
        // Drawn for every row, whichever values end up hidden, so row i depends only on
        // the stream position, never on earlier rows' missingness.
        let hide_age = rng.random::<f64>() < 0.05;
        let hide_income = rng.random::<f64>() < 0.08;
        let hide_city = rng.random::<f64>() < 0.03;
        age.push((!hide_age).then_some(row.age));
        income.push((!hide_income).then_some(row.income));
        city.push((!hide_city).then_some(CITIES[row.city].0));
        plan.push(PLANS[row.plan]);
        visits.push(row.visits);
        tenure.push(row.tenure_months);
        churn.push(row.churn);
    }
    let schema = Schema::new(vec![
        Field::new("age", DataType::Float64, true),
        Field::new("income", DataType::Float64, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("plan", DataType::Utf8, false),
        Field::new("visits", DataType::Int64, false),
        Field::new("tenure_months", DataType::Float64, false),
        Field::new("churn", DataType::Int64, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(age)),
        Arc::new(Float64Array::from(income)),
        Arc::new(StringArray::from(city)),
        Arc::new(StringArray::from(plan)),
        Arc::new(Int64Array::from(visits)),
        Arc::new(Float64Array::from(tenure)),
        Arc::new(Int64Array::from(churn)),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// Plans of [`customers`], cheapest first.
const PLANS: [&str; 3] = ["basic", "standard", "premium"];

/// One customer's true values, before any is hidden.
struct CustomerRow {
    age: f64,
    income: f64,
    /// Index into [`CITIES`].
    city: usize,
    /// Index into [`PLANS`].
    plan: usize,
    visits: i64,
    tenure_months: f64,
    churn: i64,
}

impl CustomerRow {
    /// Median income, the centre of the income's log-normal.
    const MEDIAN_INCOME: f64 = 42_000.0;

    fn draw(rng: &mut ChaCha8Rng) -> Result<Self> {
        let age_z: f64 = rng.sample(StandardNormal);
        let age = (42.0 + 13.0 * age_z).round().clamp(18.0, 85.0);
        let income_z: f64 = rng.sample(StandardNormal);
        let log_income_ratio = 0.012 * (age - 42.0) + 0.55 * income_z;
        let income = (Self::MEDIAN_INCOME * log_income_ratio.exp()).round();
        let city = pick(rng.random::<f64>(), CITIES.iter().map(|c| c.1));
        // Richer customers buy the dearer plans more often.
        let premium = 0.2 + 0.1 * log_income_ratio.clamp(-1.0, 1.0);
        let plan = pick(rng.random::<f64>(), [0.7 - premium, 0.3, premium]);
        let rate = [2.5, 4.0, 6.0][plan];
        let visits = Poisson::new(rate)
            .map_err(|e| MlError::data(format!("visit rate {rate}: {e}")))?
            .sample(rng);
        let tenure_u: f64 = rng.random();
        // Exponential with a two-year mean, in tenths of a month and at most ten years.
        let tenure_months =
            ((-26.0 * (1.0 - tenure_u).ln()).clamp(0.1, 120.0) * 10.0).round() / 10.0;
        let mut row = CustomerRow {
            age,
            income,
            city,
            plan,
            visits: visits as i64,
            tenure_months,
            churn: 0,
        };
        let churn_probability = 1.0 / (1.0 + (-row.churn_log_odds()).exp());
        row.churn = i64::from(rng.random::<f64>() < churn_probability);
        Ok(row)
    }

    /// The log-odds of churn: short tenure, the basic plan, few visits, youth and low
    /// income raise it.
    fn churn_log_odds(&self) -> f64 {
        2.0 - 0.09 * self.tenure_months + [0.9, 0.0, -1.1][self.plan]
            - 0.45 * self.visits as f64
            - 0.035 * (self.age - 42.0)
            - 1.0 * (self.income / Self::MEDIAN_INCOME).ln()
            + CITY_CHURN_EFFECT[self.city]
    }
}

/// The index of the category a uniform draw `u` falls in, given the categories' weights
/// (summing to 1; a draw past the last cumulative weight picks the last category).
fn pick(u: f64, weights: impl IntoIterator<Item = f64>) -> usize {
    let mut cumulative = 0.0;
    let mut last = 0;
    for (i, w) in weights.into_iter().enumerate() {
        cumulative += w;
        if u < cumulative {
            return i;
        }
        last = i;
    }
    last
}

/// Writes `batch` as CSV with a header row to `path`, nulls as empty fields.
///
/// Floats are written in their shortest round-trip form (the `ryu` formatting arrow-csv
/// uses), so a correctly rounding reader gets back the very same `f64`s: Python's
/// `float`, `csv`, `numpy.loadtxt`, and pandas with `float_precision="round_trip"` (pandas'
/// default parser may be off by one unit in the last place).
pub fn write_csv(batch: &RecordBatch, path: &Path) -> Result<()> {
    let file = File::create(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    // No BufWriter: the csv writer buffers itself and flushes at the end of `write`, and
    // `Writer::into_inner` would unwrap a second flush's result.
    let mut writer = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    writer.write(batch)?;
    Ok(())
}

/// Refuses a `rows` by `cols` matrix whose size does not even fit in a `usize`, which
/// would otherwise overflow the index arithmetic.
fn check_cells(rows: usize, cols: usize) -> Result<()> {
    match rows.checked_mul(cols) {
        Some(_) => Ok(()),
        None => Err(MlError::param(
            "n_samples",
            format!("{rows} x {cols} values are too many to generate"),
        )),
    }
}

/// `count` standard normal draws.
fn standard_normals(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    (0..count).map(|_| rng.sample(StandardNormal)).collect()
}

/// `count` draws uniform in [-1, 1).
fn signed_uniforms(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    (0..count)
        .map(|_| 2.0 * rng.random::<f64>() - 1.0)
        .collect()
}

/// `sum_m row[m] * column[m * stride]`, summed left to right: the fixed order keeps
/// results bit-identical across platforms (no FMA, no reassociation).
fn dot_strided(row: &[f64], column: &[f64], stride: usize) -> f64 {
    row.iter()
        .zip(column.iter().step_by(stride))
        .fold(0.0, |acc, (a, b)| acc + a * b)
}

/// `count` distinct vertices of the unit hypercube in `dims` dimensions, row-major as 0/1.
/// Like scikit-learn, only the last 30 coordinates are drawn as a distinct code; any higher
/// ones are random bits.
fn hypercube_vertices(count: usize, dims: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let low = dims.min(MAX_DISTINCT_VERTEX_BITS);
    let high = dims - low;
    let high_bits: Vec<f64> = (0..count * high)
        .map(|_| f64::from(u8::from(rng.random::<bool>())))
        .collect();
    // `validate` made sure count <= 2^low, the one way `sample` could panic.
    let codes = rand::seq::index::sample(rng, 1usize << low, count);
    let mut vertices = Vec::with_capacity(count * dims);
    for (c, code) in codes.iter().enumerate() {
        vertices.extend_from_slice(&high_bits[c * high..(c + 1) * high]);
        vertices.extend(
            (0..low)
                .rev()
                .map(|bit| f64::from(u8::from((code >> bit) & 1 == 1))),
        );
    }
    vertices
}

/// `x` and `y` with their rows in one random order.
fn shuffle_rows(x: Matrix, y: Vec<f64>, rng: &mut ChaCha8Rng) -> (Matrix, Vec<f64>) {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.shuffle(rng);
    let y = order.iter().map(|&i| y[i]).collect();
    (x.select_rows(&order), y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::Array;

    fn class_counts(y: &[f64], n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes];
        for &label in y {
            counts[label as usize] += 1;
        }
        counts
    }

    #[test]
    fn classification_is_reproducible_from_the_seed() {
        let params = Classification {
            seed: 3,
            ..Classification::default()
        };
        let a = params.generate().unwrap();
        assert_eq!(a, params.generate().unwrap());
        let b = Classification { seed: 4, ..params }.generate().unwrap();
        assert_ne!(a.x, b.x);
        assert_eq!((a.x.rows(), a.x.cols(), a.y.len()), (100, 20, 100));
        assert_eq!(a.feature_names[19], "f19");
    }

    #[test]
    fn classification_classes_are_balanced_and_separable() {
        let data = Classification {
            n_samples: 3000,
            n_features: 6,
            n_informative: 3,
            n_redundant: 1,
            n_classes: 3,
            n_clusters_per_class: 1,
            class_sep: 3.0,
            flip_y: 0.0,
            seed: 11,
        }
        .generate()
        .unwrap();
        assert!(data.y.iter().all(|&l| l == 0.0 || l == 1.0 || l == 2.0));
        assert_eq!(class_counts(&data.y, 3), vec![1000, 1000, 1000]);
        // With class_sep 3 the clusters are far apart: each class mean sits at a distinct
        // hypercube vertex (coordinates near ±3), while the noise columns average near 0.
        for class in 0..3 {
            let rows: Vec<&[f64]> = data
                .x
                .row_iter()
                .zip(&data.y)
                .filter(|(_, &l)| l == class as f64)
                .map(|(r, _)| r)
                .collect();
            for j in 0..3 {
                let mean = rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64;
                assert!(
                    (mean.abs() - 3.0).abs() < 0.3,
                    "class {class} feature {j}: {mean}"
                );
            }
            let noise = rows.iter().map(|r| r[5]).sum::<f64>() / rows.len() as f64;
            assert!(noise.abs() < 0.15, "class {class} noise mean {noise}");
        }
        // Rows are shuffled: the labels of the first rows are not one run of one class.
        assert!(data.y[..30].iter().any(|&l| l != data.y[0]));
    }

    #[test]
    fn classification_redundant_features_are_combinations_of_informative_ones() {
        let data = Classification {
            n_samples: 50,
            n_informative: 2,
            n_redundant: 1,
            ..Classification::default()
        }
        .generate()
        .unwrap();
        // Three rows pin down the two weights; a fourth row must fit them.
        let (r0, r1, r2) = (data.x.row(0), data.x.row(1), data.x.row(2));
        let det = r0[0] * r1[1] - r0[1] * r1[0];
        let w0 = (r0[2] * r1[1] - r0[1] * r1[2]) / det;
        let w1 = (r0[0] * r1[2] - r0[2] * r1[0]) / det;
        assert!((w0 * r2[0] + w1 * r2[1] - r2[2]).abs() < 1e-9);
    }

    #[test]
    fn classification_flips_about_flip_y_of_the_labels() {
        let base = Classification {
            n_samples: 4000,
            flip_y: 0.0,
            seed: 5,
            ..Classification::default()
        };
        let clean = base.generate().unwrap();
        assert_eq!(class_counts(&clean.y, 2), vec![2000, 2000]);
        let noisy = Classification {
            flip_y: 0.4,
            ..base
        }
        .generate()
        .unwrap();
        // The features are drawn before the flips, so both hold the same rows, in another order.
        let clean_labels: std::collections::HashMap<u64, f64> = clean
            .x
            .row_iter()
            .zip(&clean.y)
            .map(|(r, &l)| (r[0].to_bits(), l))
            .collect();
        let changed = noisy
            .x
            .row_iter()
            .zip(&noisy.y)
            .filter(|(r, &l)| clean_labels[&r[0].to_bits()] != l)
            .count();
        // A flipped label is redrawn among 2 classes, so about 0.4 / 2 of the labels change.
        let share = changed as f64 / 4000.0;
        assert!((share - 0.2).abs() < 0.03, "{share}");
    }

    #[test]
    fn classification_rejects_impossible_parameters() {
        let too_many_clusters = Classification {
            n_classes: 3,
            ..Classification::default()
        };
        let err = too_many_clusters.generate().unwrap_err().to_string();
        assert!(err.contains("n_informative"), "{err}");
        let too_few_features = Classification {
            n_features: 3,
            ..Classification::default()
        };
        assert!(too_few_features
            .generate()
            .unwrap_err()
            .to_string()
            .contains("n_features"));
        let bad_flip = Classification {
            flip_y: 1.5,
            ..Classification::default()
        };
        assert!(bad_flip.generate().is_err());
        let nan_sep = Classification {
            class_sep: f64::NAN,
            ..Classification::default()
        };
        assert!(nan_sep.generate().is_err());
    }

    #[test]
    fn hypercube_vertices_are_distinct_even_beyond_thirty_dimensions() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let v = hypercube_vertices(8, 3, &mut rng);
        let mut rows: Vec<&[f64]> = v.chunks_exact(3).collect();
        rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows.dedup();
        assert_eq!(rows.len(), 8);
        let wide = hypercube_vertices(4, 33, &mut rng);
        assert_eq!(wide.len(), 4 * 33);
        assert!(wide.iter().all(|&b| b == 0.0 || b == 1.0));
    }

    #[test]
    fn regression_target_is_exactly_x_times_coef_plus_bias_without_noise() {
        let params = Regression {
            n_samples: 40,
            n_features: 8,
            n_informative: 3,
            bias: 2.5,
            seed: 9,
            ..Regression::default()
        };
        let (data, coef) = params.generate_with_coef().unwrap();
        assert_eq!((data.x.rows(), data.x.cols()), (40, 8));
        assert!(coef[..3].iter().all(|&w| w > 0.0 && w < 100.0));
        assert!(coef[3..].iter().all(|&w| w == 0.0));
        for (row, &y) in data.x.row_iter().zip(&data.y) {
            let mut sum = 0.0;
            for (x, w) in row.iter().zip(&coef) {
                sum += x * w;
            }
            assert_eq!(y, sum + 2.5);
        }
        assert_eq!(params.generate().unwrap(), data);
        assert_ne!(
            Regression { seed: 10, ..params }.generate().unwrap().x,
            data.x
        );
    }

    #[test]
    fn regression_noise_has_the_requested_spread() {
        let params = Regression {
            n_samples: 5000,
            n_features: 3,
            noise: 2.0,
            ..Regression::default()
        };
        let (data, coef) = params.generate_with_coef().unwrap();
        let residuals: Vec<f64> = data
            .x
            .row_iter()
            .zip(&data.y)
            .map(|(row, y)| y - row.iter().zip(&coef).map(|(x, w)| x * w).sum::<f64>())
            .collect();
        let sd = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
        assert!((sd - 2.0).abs() < 0.1, "{sd}");
        assert!(Regression {
            noise: -1.0,
            ..params
        }
        .generate()
        .is_err());
    }

    #[test]
    fn blob_rows_lie_near_their_centre() {
        let params = Blobs {
            n_samples: 301,
            n_features: 3,
            centers: 4,
            cluster_std: 0.5,
            seed: 2,
            ..Blobs::default()
        };
        let (data, centers) = params.generate_with_centers().unwrap();
        assert_eq!((data.x.rows(), data.x.cols(), centers.rows()), (301, 3, 4));
        assert!(centers.as_slice().iter().all(|c| (-10.0..10.0).contains(c)));
        assert_eq!(class_counts(&data.y, 4), vec![76, 75, 75, 75]);
        for (row, &label) in data.x.row_iter().zip(&data.y) {
            let centre = centers.row(label as usize);
            let dist = row
                .iter()
                .zip(centre)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            // 0.5 * sqrt(chi2_3) exceeds 3 with probability ~1e-14.
            assert!(dist < 3.0, "row at {dist} from its centre");
        }
        assert_eq!(params.generate().unwrap(), data);
        assert_ne!(Blobs { seed: 3, ..params }.generate().unwrap(), data);
        assert!(Blobs {
            center_box: (1.0, 1.0),
            ..Blobs::default()
        }
        .generate()
        .is_err());
    }

    #[test]
    fn dataset_tables_and_splits() {
        let data = Blobs {
            n_samples: 10,
            ..Blobs::default()
        }
        .generate()
        .unwrap();
        let table = data.to_table().unwrap();
        let names: Vec<&str> = table
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, vec!["f0", "f1", "label"]);
        assert_eq!(data::read_f64(&table, "f1").unwrap(), data.x.column(1));
        assert_eq!(data::read_f64(&table, "label").unwrap(), data.y);
        let vectors = data.to_vector_table().unwrap();
        assert_eq!(
            data::read_vectors(&vectors, FEATURES_COLUMN).unwrap(),
            data.x
        );

        let (train, test) = data.split_at(7);
        assert_eq!((train.x.rows(), test.x.rows(), test.y.len()), (7, 3, 3));
        assert_eq!(test.x.row(0), data.x.row(7));
        assert_eq!(test.y[2], data.y[9]);
        let (all, none) = data.split_at(50);
        assert_eq!((all.x.rows(), none.x.rows()), (10, 0));

        let mut renamed = data.clone();
        renamed.feature_names = vec!["a".into()];
        assert!(renamed.to_table().is_err());
        renamed.feature_names = vec!["width".into(), "height".into()];
        assert_eq!(
            renamed.to_table().unwrap().schema().field(1).name(),
            "height"
        );
    }

    #[test]
    fn customers_have_missing_values_both_classes_and_a_learnable_label() {
        let table = customers(4000, 1).unwrap();
        assert_eq!(table.num_rows(), 4000);
        let nulls = |name: &str| data::column(&table, name).unwrap().null_count();
        let (age, income, city) = (nulls("age"), nulls("income"), nulls("city"));
        assert!((120..300).contains(&age), "age nulls {age}");
        assert!((220..420).contains(&income), "income nulls {income}");
        assert!((50..200).contains(&city), "city nulls {city}");
        assert_eq!(nulls("plan") + nulls("visits") + nulls("tenure_months"), 0);

        let churn = data::column(&table, "churn")
            .unwrap()
            .as_primitive::<Int64Type>();
        let churned = churn.values().iter().filter(|&&c| c == 1).count();
        assert!((800..1600).contains(&churned), "{churned} of 4000 churned");
        // Short tenure churns far more than long tenure: the label carries signal.
        let tenure = data::read_f64(&table, "tenure_months").unwrap();
        let rate = |keep: &dyn Fn(f64) -> bool| {
            let rows: Vec<i64> = tenure
                .iter()
                .zip(churn.values())
                .filter(|(t, _)| keep(**t))
                .map(|(_, &c)| c)
                .collect();
            rows.iter().sum::<i64>() as f64 / rows.len() as f64
        };
        let (early, late) = (rate(&|t| t < 6.0), rate(&|t| t > 36.0));
        assert!(
            early > late + 0.3,
            "churn rate {early} early vs {late} late"
        );

        let plans = data::column(&table, "plan").unwrap().as_string::<i32>();
        assert!(plans
            .iter()
            .all(|p| matches!(p, Some("basic" | "standard" | "premium"))));
        let cities = data::column(&table, "city").unwrap().as_string::<i32>();
        let lisbon = cities.iter().filter(|c| *c == Some("Lisbon")).count();
        let aveiro = cities.iter().filter(|c| *c == Some("Aveiro")).count();
        assert!(lisbon > 3 * aveiro, "Lisbon {lisbon}, Aveiro {aveiro}");

        assert_eq!(customers(50, 1).unwrap(), table.slice(0, 50));
        assert_ne!(customers(50, 2).unwrap(), table.slice(0, 50));
    }

    fn read_csv(path: &Path, schema: Arc<Schema>) -> RecordBatch {
        let file = File::open(path).unwrap();
        let reader = arrow_csv::ReaderBuilder::new(schema.clone())
            .with_header(true)
            .build(file)
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        arrow_select::concat::concat_batches(&schema, &batches).unwrap()
    }

    fn float_bits(batch: &RecordBatch, column: usize) -> Vec<Option<u64>> {
        batch
            .column(column)
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(f64::to_bits))
            .collect()
    }

    #[test]
    fn csv_round_trips_values_bit_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customers.csv");
        let table = customers(300, 4).unwrap();
        write_csv(&table, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("age,income,city,plan,visits,tenure_months,churn\n"));
        let back = read_csv(&path, table.schema());
        assert_eq!(back.num_rows(), 300);
        for column in [0, 1, 5] {
            assert_eq!(float_bits(&back, column), float_bits(&table, column));
        }
        assert_eq!(back.column(2).null_count(), table.column(2).null_count());
        assert_eq!(back, table);

        let awkward = vec![
            0.1 + 0.2,
            1.0 / 3.0,
            -0.0,
            5e-324,
            f64::MAX,
            1e16,
            123_456_789.123_456_79,
            -2.5e-8,
        ];
        let data = Dataset::with_default_names(
            Matrix::new(awkward.len(), 1, awkward.clone()).unwrap(),
            awkward.iter().map(|v| -v).collect(),
        );
        let table = data.to_table().unwrap();
        let path = dir.path().join("awkward.csv");
        write_csv(&table, &path).unwrap();
        let back = read_csv(&path, table.schema());
        assert_eq!(float_bits(&back, 0), float_bits(&table, 0));
        assert_eq!(float_bits(&back, 1), float_bits(&table, 1));

        let missing = dir.path().join("no/such/dir/x.csv");
        let err = write_csv(&table, &missing).unwrap_err().to_string();
        assert!(err.contains("no/such/dir"), "{err}");
    }
}
