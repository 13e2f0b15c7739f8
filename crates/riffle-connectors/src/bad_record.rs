//! Applies a source's [`BadRecordPolicy`] to records it cannot decode.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use riffle_core::{BadRecordPolicy, RecordLocation, Result, RiffleError};
use riffle_runtime::JobShared;

/// How many skipped records are logged as samples before the rest are only counted.
const SAMPLES_LOGGED: u64 = 5;

/// Longest raw record quoted in an error message.
const QUOTE_LIMIT: usize = 200;

/// One source instance's handling of malformed records: fail, skip and count, or write to
/// a dead-letter file (JSON lines with the place, the error and the raw record).
pub struct BadRecords {
    policy: BadRecordPolicy,
    counter: Arc<AtomicU64>,
    dead_letter: Option<File>,
}

impl BadRecords {
    /// Handling for source `name` of a job: counts go to `source.NAME.bad_records`.
    pub fn new(policy: BadRecordPolicy, name: &str, job: &JobShared) -> Result<Self> {
        BadRecords::counted(policy, job.counter(&format!("source.{name}.bad_records")))
    }

    /// Handling that counts skipped and dead-lettered records in `counter`.
    pub fn counted(policy: BadRecordPolicy, counter: Arc<AtomicU64>) -> Result<Self> {
        let dead_letter = match &policy {
            BadRecordPolicy::DeadLetter(path) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| RiffleError::io(path, e))?,
            ),
            _ => None,
        };
        Ok(BadRecords {
            policy,
            counter,
            dead_letter,
        })
    }

    /// Handles one bad record: an error under `fail`, `Ok` (after counting) otherwise.
    pub fn handle(&mut self, location: RecordLocation, raw: &str, message: String) -> Result<()> {
        match self.policy {
            BadRecordPolicy::Fail => Err(RiffleError::BadRecord {
                location,
                message: format!("{message} in record '{}'", quote(raw)),
            }),
            BadRecordPolicy::Skip => {
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                if n < SAMPLES_LOGGED {
                    tracing::warn!(%location, %message, record = quote(raw), "skipping bad record");
                }
                Ok(())
            }
            BadRecordPolicy::DeadLetter(ref path) => {
                self.counter.fetch_add(1, Ordering::Relaxed);
                let entry = serde_json::json!({
                    "source": location.source,
                    "line": location.line,
                    "column": location.column,
                    "error": message,
                    "raw": raw,
                });
                if let Some(file) = self.dead_letter.as_mut() {
                    writeln!(file, "{entry}").map_err(|e| RiffleError::io(path, e))?;
                }
                Ok(())
            }
        }
    }
}

fn quote(raw: &str) -> String {
    let trimmed = raw.trim_end_matches(['\r', '\n']);
    if trimmed.chars().count() <= QUOTE_LIMIT {
        trimmed.to_string()
    } else {
        let head: String = trimmed.chars().take(QUOTE_LIMIT).collect();
        format!("{head}...")
    }
}
