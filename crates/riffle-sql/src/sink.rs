//! Where `INSERT INTO` writes: the print, blackhole and filesystem sinks for SQL rows.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use riffle_connectors::{BlackholeSink, FileSink};
use riffle_core::{Batch, Result, RiffleError};
use riffle_runtime::{DataStream, Env, EventTime, Sink};

use crate::files::TextFormat;
use crate::format::{changelog_lines, csv_lines, json_lines};
use crate::script::TableDef;

/// A sink table's connector.
#[derive(Debug, Clone)]
pub enum SinkSpec {
    /// Standard output, a changelog line per row (`+I[1, a]`).
    Print,
    /// Nowhere (counted).
    Blackhole,
    /// Part files in a directory, committed at the end of the job (or per checkpoint).
    Files {
        /// The directory.
        path: PathBuf,
        /// How rows are written.
        format: TextFormat,
    },
}

/// Renders a batch's rows as lines.
type Render = fn(&RecordBatch) -> Result<Vec<String>>;

impl SinkSpec {
    /// The sink of table `def`, or an error if its connector cannot be written to.
    pub fn of(def: &TableDef) -> Result<SinkSpec> {
        match def.options.get("connector").map(String::as_str) {
            Some("print") => Ok(SinkSpec::Print),
            Some("blackhole") => Ok(SinkSpec::Blackhole),
            Some("filesystem") => Ok(SinkSpec::Files {
                path: PathBuf::from(def.options.get("path").cloned().unwrap_or_default()),
                format: TextFormat::of(def)?,
            }),
            other => Err(RiffleError::Sql(format!(
                "table '{}' (connector {}) cannot be written to (sinks: print, blackhole, \
                 filesystem)",
                def.name,
                other.unwrap_or("none")
            ))),
        }
    }

    /// Writes `stream` to this sink on this worker.
    pub fn attach(&self, env: &Env<'_>, stream: DataStream<'_, Batch>) -> Result<()> {
        let job = Arc::clone(env.job());
        let lines = move |batch: Batch, render: Render| {
            render(&batch).unwrap_or_else(|error| {
                job.fail(error);
                Vec::new()
            })
        };
        match self {
            SinkSpec::Print => {
                let prefix = (env.workers() > 1).then(|| format!("{}> ", env.worker_index() + 1));
                stream
                    .flat_map(move |b| lines(b, changelog_lines))
                    .sink("print", LinePrinter { prefix });
            }
            SinkSpec::Blackhole => stream.sink("blackhole", BlackholeSink::new(env)),
            SinkSpec::Files { path, format } => {
                let (render, extension): (Render, _) = match format {
                    TextFormat::Csv { .. } => (csv_lines, "csv"),
                    TextFormat::Json => (json_lines, "json"),
                };
                let sink = FileSink::encoded_lines(env, path.clone(), extension)?;
                stream
                    .flat_map(move |b| lines(b, render))
                    .sink("filesystem", sink);
            }
        }
        Ok(())
    }
}

/// Prints lines to standard output (a closed pipe ends printing, not the job).
struct LinePrinter {
    prefix: Option<String>,
}

impl Sink<String> for LinePrinter {
    fn write(&mut self, records: &mut Vec<(EventTime, String)>) -> Result<()> {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for (_, line) in records.drain(..) {
            let written = match &self.prefix {
                Some(p) => writeln!(out, "{p}{line}"),
                None => writeln!(out, "{line}"),
            };
            match written {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(RiffleError::io("stdout", e)),
                Ok(()) => {}
            }
        }
        Ok(())
    }
}
