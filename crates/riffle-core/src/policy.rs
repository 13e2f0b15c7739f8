//! What a source does with records it cannot decode, and how it names where they were.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::RiffleError;

/// The per-source policy for malformed records.
///
/// ```
/// use riffle_core::BadRecordPolicy;
/// let p: BadRecordPolicy = "dead-letter=/tmp/bad.txt".parse().unwrap();
/// assert_eq!(p, BadRecordPolicy::DeadLetter("/tmp/bad.txt".into()));
/// assert_eq!("skip".parse::<BadRecordPolicy>().unwrap(), BadRecordPolicy::Skip);
/// assert!("ignore".parse::<BadRecordPolicy>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BadRecordPolicy {
    /// Stop the job with an error naming the record's place, column and value (the default).
    #[default]
    Fail,
    /// Drop the record, count it, and log the first few as samples.
    Skip,
    /// Append the raw record, with its place, to this file and go on.
    DeadLetter(PathBuf),
}

impl FromStr for BadRecordPolicy {
    type Err = RiffleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(BadRecordPolicy::Fail),
            "skip" => Ok(BadRecordPolicy::Skip),
            _ => match s.strip_prefix("dead-letter=") {
                Some(path) if !path.is_empty() => Ok(BadRecordPolicy::DeadLetter(path.into())),
                _ => Err(RiffleError::Config(format!(
                    "unknown bad-record policy '{s}': use 'fail', 'skip' or 'dead-letter=PATH'"
                ))),
            },
        }
    }
}

/// Where a record came from: a file and line, or a socket and line, and the column if known.
///
/// ```
/// use riffle_core::RecordLocation;
/// let loc = RecordLocation::new("bids.csv", 12).with_column("price");
/// assert_eq!(loc.to_string(), "bids.csv:12, column 'price'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLocation {
    /// File path or socket address.
    pub source: String,
    /// 1-based line (or message number for sources without lines).
    pub line: u64,
    /// Column name, when the failure is in one column.
    pub column: Option<String>,
    /// `line` is an offset in a log (a Kafka partition), not a line of a file.
    #[serde(default)]
    pub offset: bool,
}

impl RecordLocation {
    /// A location without a column.
    pub fn new(source: impl Into<String>, line: u64) -> Self {
        RecordLocation {
            source: source.into(),
            line,
            column: None,
            offset: false,
        }
    }

    /// A record at `offset` of a log such as a Kafka partition (`source` names the partition).
    pub fn at_offset(source: impl Into<String>, offset: u64) -> Self {
        RecordLocation {
            offset: true,
            ..RecordLocation::new(source, offset)
        }
    }

    /// The same location, narrowed to one column.
    pub fn with_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offset {
            write!(f, "{}, offset {}", self.source, self.line)?;
        } else {
            write!(f, "{}:{}", self.source, self.line)?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        Ok(())
    }
}
