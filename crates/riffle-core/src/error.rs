//! The error type shared by Riffle's library crates.

use std::path::PathBuf;

use crate::policy::RecordLocation;

/// Result with [`RiffleError`] as the error.
pub type Result<T, E = RiffleError> = std::result::Result<T, E>;

/// Everything that can go wrong in a Riffle job, each variant naming the place.
///
/// ```
/// use riffle_core::RiffleError;
/// let err = RiffleError::Config("'-w' must be at least 1".into());
/// assert_eq!(err.to_string(), "invalid configuration: '-w' must be at least 1");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum RiffleError {
    /// A file or directory could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A network endpoint could not be reached or failed mid-stream.
    #[error("{endpoint}: {message}")]
    Network {
        /// Address of the peer, for example `127.0.0.1:9000`.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// A record could not be decoded, under the `fail` bad-record policy.
    #[error("{location}: {message}")]
    BadRecord {
        /// Where the record is.
        location: RecordLocation,
        /// What is wrong with it, naming the column and value where known.
        message: String,
    },
    /// A job, connector or operator was configured wrongly.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Writing or reading a checkpoint failed.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A SQL statement is wrong: the message names the position and shows the statement
    /// with a caret under it.
    #[error("{0}")]
    Sql(String),
    /// The dataflow runtime failed (worker set-up, cluster connection).
    #[error("runtime: {0}")]
    Runtime(String),
    /// Machine learning refused the data, a parameter or a model directory (the message
    /// names the column, row, parameter or path).
    #[error("{0}")]
    Ml(String),
}

impl RiffleError {
    /// An [`RiffleError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RiffleError::Io {
            path: path.into(),
            source,
        }
    }
}
