//! The `filesystem` connector's streaming reader for SQL: CSV and JSON-lines files read
//! straight into Arrow batches, files shared among the workers.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use riffle_core::{Batch, Result, RiffleError};
use riffle_runtime::{decode_u64, SourceReader, SourceStatus};

use crate::script::TableDef;

/// Rows per batch.
const BATCH_ROWS: usize = 8192;

/// A text format the reader parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// CSV, with or without a header line, and its delimiter.
    Csv {
        /// The first line names the columns.
        header: bool,
        /// Field separator.
        delimiter: u8,
    },
    /// One JSON object per line.
    Json,
}

impl TextFormat {
    /// The format a filesystem table's options give: `'format'` (`csv` or `json`),
    /// `'csv.header'` and `'csv.field-delimiter'`.
    pub fn of(def: &TableDef) -> Result<TextFormat> {
        match def.options.get("format").map(String::as_str) {
            Some("csv") => Ok(TextFormat::Csv {
                header: def.options.get("csv.header").is_some_and(|v| v == "true"),
                delimiter: def
                    .options
                    .get("csv.field-delimiter")
                    .and_then(|d| d.bytes().next())
                    .unwrap_or(b','),
            }),
            Some("json") => Ok(TextFormat::Json),
            other => Err(RiffleError::Sql(format!(
                "table '{}': 'format' = {other:?}: use 'csv' or 'json'",
                def.name
            ))),
        }
    }
}

/// The files under `path` (the file itself, or a directory's visible files), sorted.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| RiffleError::io(path, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RiffleError::io(path, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') && !name.starts_with('_') && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, String>>>;

/// One worker's share of the files (file `i` goes to worker `i % workers`), read in order.
/// Its position is (file, batches read), so a restored job reads on where it stopped.
pub struct FileBatchReader {
    files: Vec<PathBuf>,
    schema: SchemaRef,
    format: TextFormat,
    /// Index into `files` of the file being read.
    file: usize,
    batches_read: u64,
    open: Option<Batches>,
}

impl FileBatchReader {
    /// The reader of worker `worker_index` of `workers` over `files`.
    pub fn new(
        files: &[PathBuf],
        schema: SchemaRef,
        format: TextFormat,
        worker_index: usize,
        workers: usize,
    ) -> Self {
        let files = files
            .iter()
            .enumerate()
            .filter(|(i, _)| i % workers.max(1) == worker_index)
            .map(|(_, f)| f.clone())
            .collect();
        FileBatchReader {
            files,
            schema,
            format,
            file: 0,
            batches_read: 0,
            open: None,
        }
    }

    fn open(&self, path: &Path) -> Result<Batches> {
        let file = BufReader::new(File::open(path).map_err(|e| RiffleError::io(path, e))?);
        let schema = self.schema.clone();
        let fail = |e: datafusion::arrow::error::ArrowError| {
            RiffleError::Runtime(format!("{}: {e}", path.display()))
        };
        Ok(match self.format {
            TextFormat::Csv { header, delimiter } => Box::new(
                datafusion::arrow::csv::ReaderBuilder::new(schema)
                    .with_header(header)
                    .with_delimiter(delimiter)
                    .with_batch_size(BATCH_ROWS)
                    .build(file)
                    .map_err(fail)?
                    .map(|b| b.map_err(|e| e.to_string())),
            ),
            TextFormat::Json => Box::new(
                datafusion::arrow::json::ReaderBuilder::new(schema)
                    .with_batch_size(BATCH_ROWS)
                    .build(file)
                    .map_err(fail)?
                    .map(|b| b.map_err(|e| e.to_string())),
            ),
        })
    }
}

impl SourceReader<Batch> for FileBatchReader {
    fn poll(&mut self, out: &mut Vec<Batch>) -> Result<SourceStatus> {
        let Some(path) = self.files.get(self.file).cloned() else {
            return Ok(SourceStatus::Finished);
        };
        if self.open.is_none() {
            let mut batches = self.open(&path)?;
            // After a restore, skip what the checkpoint covered.
            for _ in 0..self.batches_read {
                batches.next();
            }
            self.open = Some(batches);
        }
        match self.open.as_mut().and_then(Iterator::next) {
            Some(Ok(batch)) => {
                self.batches_read += 1;
                out.push(Batch(batch));
            }
            Some(Err(message)) => {
                return Err(RiffleError::Runtime(format!(
                    "{}: {message} (a batch holds {BATCH_ROWS} rows; this one starts after row {})",
                    path.display(),
                    self.batches_read * BATCH_ROWS as u64
                )))
            }
            None => {
                self.open = None;
                self.file += 1;
                self.batches_read = 0;
            }
        }
        Ok(SourceStatus::Ready)
    }

    fn position(&self) -> Option<Vec<u8>> {
        let mut bytes = (self.file as u64).to_le_bytes().to_vec();
        bytes.extend(self.batches_read.to_le_bytes());
        Some(bytes)
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        if position.len() != 16 {
            return Err(RiffleError::Checkpoint(
                "a file position is 16 bytes".into(),
            ));
        }
        self.file = decode_u64(&position[..8])? as usize;
        self.batches_read = decode_u64(&position[8..])?;
        self.open = None;
        Ok(())
    }
}
