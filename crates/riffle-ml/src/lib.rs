//! Riffle's machine-learning library: Flink ML's ground, in Rust.
//!
//! Data are Arrow [`RecordBatch`](arrow_array::RecordBatch)es whose feature vectors are
//! `FixedSizeList<Float64>` columns ([`data`]). A [`Transformer`] maps a table to a table; an
//! [`Estimator`] fits a [`Model`] (itself a transformer) on a table; a [`Pipeline`] chains
//! stages and fits into a [`PipelineModel`]. Parameters are plain structs validated when a
//! fit starts. Every model saves to and loads from a versioned directory ([`persist`]).
//!
//! ```
//! use riffle_ml::{data, Estimator, Transformer};
//! use riffle_ml::linear::LinearRegression;
//!
//! let x = riffle_ml::Matrix::new(4, 1, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
//! let table = data::float_table(vec![("y", vec![1.0, 3.0, 5.0, 7.0])]).unwrap();
//! let table = data::with_column(&table, "features", data::vector_array(&x).unwrap()).unwrap();
//! let model = LinearRegression { label_col: "y".into(), ..Default::default() }.fit(&table).unwrap();
//! let scored = model.transform(&table).unwrap();
//! let predictions = data::read_f64(&scored, "prediction").unwrap();
//! assert!((predictions[3] - 7.0).abs() < 1e-9);
//! ```

pub mod algorithms;
pub mod card;
pub mod classes;
pub mod cluster;
pub mod data;
pub mod datasets;
pub mod distributed;
mod error;
pub mod evaluation;
pub mod feature;
pub mod io;
mod linalg;
pub mod linear;
pub mod metrics;
pub mod naive_bayes;
pub mod neighbors;
pub mod online;
pub mod optim;
pub mod persist;
mod pipeline;
pub mod recommendation;
mod registry;
pub mod split;
pub mod standalone;
pub mod suite;
pub mod svm;
pub mod tabular;
pub mod tree;
pub mod tuning;

pub use data::Matrix;
pub use error::{MlError, Result};
pub use persist::{load, load_model, save};
pub use pipeline::{DynEstimator, Estimator, Model, Pipeline, PipelineModel, Stage, Transformer};
