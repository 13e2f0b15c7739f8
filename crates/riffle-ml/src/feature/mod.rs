//! Feature preparation: assembling vectors, scaling, imputing missing values, encoding
//! categories, binning ([`Bucketizer`], [`QuantileDiscretizer`]), text and hashing
//! ([`Tokenizer`], [`HashingTf`], [`Idf`], [`FeatureHasher`]), polynomial expansion, PCA,
//! feature selection ([`VarianceThresholdSelector`], [`UnivariateFeatureSelector`]) and
//! outlier clipping ([`OutlierClipper`]).
//!
//! Every fitted transformer is a [`Model`](crate::Model) that saves and loads like any other.
//! Missing values and categories unseen in training follow a [`HandleInvalid`] parameter:
//! refuse with an error naming the column and row (the default), skip the row, or keep it
//! (an extra category, or NaN where a number is needed).

mod assembler;
mod discretize;
mod distributions;
mod encoders;
mod hashing;
mod imputer;
mod outliers;
mod pca;
mod polynomial;
mod scalers;
mod selection;
mod text;

pub use assembler::VectorAssembler;
pub use discretize::{Bucketizer, QuantileDiscretizer};
pub use encoders::{
    IndexToString, OneHotEncoder, OneHotEncoderModel, StringIndexer, StringIndexerModel,
    StringOrder,
};
pub use hashing::{murmur3_32, FeatureHasher};
pub use imputer::{FillValue, Imputer, ImputerModel, ImputerStrategy};
pub use outliers::{OutlierAction, OutlierClipper, OutlierClipperModel, OutlierMethod};
pub use pca::{Pca, PcaModel};
pub use polynomial::PolynomialExpansion;
pub use scalers::{
    MaxAbsScaler, MinMaxScaler, Normalizer, NormalizerNorm, RobustScaler, ScalerKind, ScalerModel,
    StandardScaler,
};
pub use selection::{
    FeatureSelectorModel, ScoreFunction, SelectionMode, UnivariateFeatureSelector,
    VarianceThresholdSelector,
};
pub use text::{read_tokens, HashingTf, Idf, IdfModel, TokenPattern, Tokenizer};

use serde::{Deserialize, Serialize};

/// What a transformer does with a missing value or a category it did not see in training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HandleInvalid {
    /// Refuse, naming the column and row.
    #[default]
    Error,
    /// Drop the row.
    Skip,
    /// Keep the row: an extra category index (encoders) or NaN (assembler).
    Keep,
}

/// Keeps the rows of `table` whose flag is false in `drop`.
pub(crate) fn drop_rows(
    table: &arrow_array::RecordBatch,
    drop: &[bool],
) -> crate::Result<arrow_array::RecordBatch> {
    if !drop.iter().any(|d| *d) {
        return Ok(table.clone());
    }
    let keep: Vec<usize> = (0..drop.len()).filter(|&i| !drop[i]).collect();
    crate::data::take_rows(table, &keep)
}

/// A `FixedSizeList<Float64>` column of the rows of `m`, taking its buffer rather than
/// copying it as [`crate::data::vector_array`] must: the wide outputs (polynomial features,
/// hashed terms) are hundreds of megabytes on large tables.
pub(crate) fn vector_column(m: crate::Matrix) -> crate::Result<arrow_array::ArrayRef> {
    let width = i32::try_from(m.cols()).map_err(|_| {
        crate::MlError::data(format!(
            "{} features are too many for a vector column",
            m.cols()
        ))
    })?;
    let item = std::sync::Arc::new(arrow_schema::Field::new(
        "item",
        arrow_schema::DataType::Float64,
        false,
    ));
    let values = std::sync::Arc::new(arrow_array::Float64Array::from(m.into_vec()));
    Ok(std::sync::Arc::new(
        arrow_array::FixedSizeListArray::try_new(item, width, values, None)?,
    ))
}
