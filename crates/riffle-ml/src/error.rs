//! The error every riffle-ml function returns.

use std::path::PathBuf;

/// What went wrong while preparing data, fitting, predicting or loading a model. Every
/// message names the place: the parameter, the column, the row or the model directory.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A parameter is out of its range or contradicts another one.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name, as in the parameter struct and on the CLI.
        name: String,
        /// Why the value is refused and what would be accepted.
        reason: String,
    },
    /// A column named by the user does not exist.
    #[error("no column `{name}` in the table{hint} (columns: {columns})")]
    UnknownColumn {
        /// The requested column.
        name: String,
        /// A "did you mean" suffix, or empty.
        hint: String,
        /// The table's columns, comma-separated.
        columns: String,
    },
    /// The data cannot be used as it is: wrong type, a missing value, NaN, an empty table,
    /// a single class, a feature count that differs from the model's.
    #[error("{0}")]
    InvalidData(String),
    /// A model directory is missing, damaged or written by another format version.
    #[error("model directory {}: {reason}", path.display())]
    Persistence {
        /// The model directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An Arrow kernel failed.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading or writing Parquet failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `Result` with [`MlError`].
pub type Result<T, E = MlError> = std::result::Result<T, E>;

impl MlError {
    /// An [`MlError::InvalidParameter`].
    pub fn param(name: &str, reason: impl Into<String>) -> Self {
        MlError::InvalidParameter {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    /// An [`MlError::InvalidData`].
    pub fn data(message: impl Into<String>) -> Self {
        MlError::InvalidData(message.into())
    }
}
