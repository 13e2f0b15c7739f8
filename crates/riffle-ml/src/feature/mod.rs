//! Feature preparation: assembling vectors, scaling, imputing missing values and encoding
//! categories.
//!
//! Every fitted transformer is a [`Model`](crate::Model) that saves and loads like any other.
//! Missing values and categories unseen in training follow a [`HandleInvalid`] parameter:
//! refuse with an error naming the column and row (the default), skip the row, or keep it
//! (an extra category, or NaN where a number is needed).

mod assembler;
mod encoders;
mod imputer;
mod scalers;

pub use assembler::VectorAssembler;
pub use encoders::{
    IndexToString, OneHotEncoder, OneHotEncoderModel, StringIndexer, StringIndexerModel,
    StringOrder,
};
pub use imputer::{FillValue, Imputer, ImputerModel, ImputerStrategy};
pub use scalers::{
    MaxAbsScaler, MinMaxScaler, Normalizer, NormalizerNorm, RobustScaler, ScalerKind, ScalerModel,
    StandardScaler,
};

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
