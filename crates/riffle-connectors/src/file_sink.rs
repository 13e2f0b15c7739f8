//! Rolling part files of text formats (CSV, JSON lines, lines) and of Parquet, published
//! atomically when the data they hold is final.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use riffle_core::{Result, RiffleError};
use riffle_runtime::{Data, Env, EventTime, Sink};
use serde::Serialize;
use serde_arrow::schema::{SchemaLike, TracingOptions};

use crate::format::{encode_line, Format};
use crate::part_files::PartFiles;

/// A sink that writes part files: the two-phase commit of [`PartFiles`] around a
/// format-specific [`PartWriter`]. Use it as [`FileSink`] (text formats) or [`ParquetSink`].
///
/// A part file is written under a hidden in-progress name (`.part-W-N.EXT.inprogress`), and
/// renamed to its visible name (`part-W-N.EXT`, per worker `W`) only when the data in it is
/// final: when the checkpoint epoch that covers it completes, or at the end of a bounded job.
/// Readers of the directory (and [`crate::FileSource`], which skips hidden files) thus never
/// see uncommitted data. Files roll at a size limit; a rolled file waits, closed, for its commit.
pub struct PartSink<W> {
    parts: PartFiles,
    writer: W,
}

/// The format-specific half of a [`PartSink`]: how records go into the open part file.
pub trait PartWriter<T>: 'static {
    /// Writes one record into the open part (opening one with `parts` if needed), rolling it
    /// when it is full.
    fn write(&mut self, parts: &mut PartFiles, record: T) -> Result<()>;
    /// Finishes the open part, durably, and hands it to `parts` (nothing if none is open).
    fn close(&mut self, parts: &mut PartFiles) -> Result<()>;
}

impl<T: 'static, W: PartWriter<T>> Sink<T> for PartSink<W> {
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()> {
        for (_, record) in records.drain(..) {
            self.writer.write(&mut self.parts, record)?;
        }
        Ok(())
    }

    fn epoch_complete(&mut self, epoch: u64) -> Result<()> {
        self.writer.close(&mut self.parts)?;
        self.parts.prepare(epoch);
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Vec<u8>> {
        self.parts.snapshot()
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.parts.commit(epoch)
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<()> {
        self.parts.restore(snapshot)
    }

    fn finish(&mut self) -> Result<()> {
        self.writer.close(&mut self.parts)?;
        self.parts.publish_closed()
    }
}

fn create(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| RiffleError::io(path, e))
}

/// Part files of a text format (CSV, JSON lines, lines), one record per line.
pub type FileSink = PartSink<TextParts>;

/// Writes records as lines of a text format, rolling parts by size.
pub struct TextParts {
    format: Format,
    max_part_bytes: u64,
    open: Option<OpenPart>,
}

struct OpenPart {
    temp: PathBuf,
    visible: PathBuf,
    writer: BufWriter<File>,
    bytes: u64,
}

impl PartSink<TextParts> {
    /// A sink writing `format` into `dir` (created if missing), rolling at 128 MiB.
    pub fn new(env: &Env<'_>, dir: impl Into<PathBuf>, format: Format) -> Result<Self> {
        if format == Format::Parquet {
            return Err(RiffleError::Config(
                "the text file sink does not write Parquet: use ParquetSink".into(),
            ));
        }
        let extension = format.extension();
        Self::with_extension(env, dir, format, extension)
    }

    /// A sink of lines already encoded by the caller (SQL renders rows itself), in part files
    /// named with `extension` (`csv`, `jsonl`, ...).
    pub fn encoded_lines(
        env: &Env<'_>,
        dir: impl Into<PathBuf>,
        extension: &'static str,
    ) -> Result<Self> {
        Self::with_extension(env, dir, Format::Lines, extension)
    }

    /// [`PartSink::encoded_lines`] for worker `worker`, made while the job runs (a
    /// partitioned sink opens one per partition as rows for it come).
    pub fn encoded_lines_for(
        worker: usize,
        dir: impl Into<PathBuf>,
        extension: &'static str,
    ) -> Result<Self> {
        Ok(PartSink {
            parts: PartFiles::for_worker(worker, dir.into(), extension)?,
            writer: TextParts {
                format: Format::Lines,
                max_part_bytes: 128 << 20,
                open: None,
            },
        })
    }

    fn with_extension(
        env: &Env<'_>,
        dir: impl Into<PathBuf>,
        format: Format,
        extension: &'static str,
    ) -> Result<Self> {
        Ok(PartSink {
            parts: PartFiles::new(env, dir.into(), extension)?,
            writer: TextParts {
                format,
                max_part_bytes: 128 << 20,
                open: None,
            },
        })
    }

    /// Rolls to a new part file once one reaches `bytes`.
    pub fn max_part_bytes(mut self, bytes: u64) -> Self {
        self.writer.max_part_bytes = bytes.max(1);
        self
    }
}

impl<T: Serialize> PartWriter<T> for TextParts {
    fn write(&mut self, parts: &mut PartFiles, record: T) -> Result<()> {
        let mut line = encode_line(&self.format, &record)
            .map_err(|e| RiffleError::Runtime(format!("cannot encode record: {e}")))?;
        line.push('\n');
        if self.open.is_none() {
            let (temp, visible) = parts.next_paths();
            let writer = BufWriter::new(create(&temp)?);
            self.open = Some(OpenPart {
                temp,
                visible,
                writer,
                bytes: 0,
            });
        }
        let Some(part) = self.open.as_mut() else {
            return Err(RiffleError::Runtime("file sink lost its open part".into()));
        };
        part.writer
            .write_all(line.as_bytes())
            .map_err(|e| RiffleError::io(&part.temp, e))?;
        part.bytes += line.len() as u64;
        if part.bytes >= self.max_part_bytes {
            PartWriter::<T>::close(self, parts)?;
        }
        Ok(())
    }

    fn close(&mut self, parts: &mut PartFiles) -> Result<()> {
        if let Some(mut part) = self.open.take() {
            part.writer
                .flush()
                .map_err(|e| RiffleError::io(&part.temp, e))?;
            part.writer
                .get_ref()
                .sync_all()
                .map_err(|e| RiffleError::io(&part.temp, e))?;
            parts.closed(part.temp, part.visible);
        }
        Ok(())
    }
}

/// Parquet part files (`part-W-N.parquet`). The Parquet schema is derived from the record
/// type's serde shape; a part rolls after `max_part_rows` rows and at every checkpoint.
pub type ParquetSink<T> = PartSink<ParquetParts<T>>;

/// Buffers a part's rows and writes them as one Parquet row group.
pub struct ParquetParts<T> {
    rows: Vec<T>,
    max_part_rows: usize,
}

impl<T: Data> PartSink<ParquetParts<T>> {
    /// A sink writing Parquet into `dir` (created if missing), rolling at a million rows.
    pub fn new(env: &Env<'_>, dir: impl Into<PathBuf>) -> Result<Self> {
        Ok(PartSink {
            parts: PartFiles::new(env, dir.into(), "parquet")?,
            writer: ParquetParts {
                rows: Vec::new(),
                max_part_rows: 1 << 20,
            },
        })
    }

    /// Rolls to a new part file every `rows` rows.
    pub fn max_part_rows(mut self, rows: usize) -> Self {
        self.writer.max_part_rows = rows.max(1);
        self
    }
}

impl<T: Data> PartWriter<T> for ParquetParts<T> {
    fn write(&mut self, parts: &mut PartFiles, record: T) -> Result<()> {
        self.rows.push(record);
        if self.rows.len() >= self.max_part_rows {
            self.close(parts)?;
        }
        Ok(())
    }

    fn close(&mut self, parts: &mut PartFiles) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let parquet_error =
            |e: &dyn std::fmt::Display| RiffleError::Runtime(format!("cannot write Parquet: {e}"));
        let options = TracingOptions::default().allow_null_fields(true);
        let fields = Vec::<arrow_schema::FieldRef>::from_type::<T>(options)
            .map_err(|e| parquet_error(&e))?;
        let batch =
            serde_arrow::to_record_batch(&fields, &self.rows).map_err(|e| parquet_error(&e))?;
        let (temp, visible) = parts.next_paths();
        let file = create(&temp)?;
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| parquet_error(&e))?;
        writer.write(&batch).map_err(|e| parquet_error(&e))?;
        let file = writer.into_inner().map_err(|e| parquet_error(&e))?;
        file.sync_all().map_err(|e| RiffleError::io(&temp, e))?;
        parts.closed(temp, visible);
        self.rows.clear();
        Ok(())
    }
}

/// Parquet part files of Arrow batches (SQL's filesystem sink with `'format' = 'parquet'`):
/// the batches of a part are written as they are, rolling after `max_part_rows` rows and at
/// every checkpoint.
pub type BatchParquetSink = PartSink<BatchParquetParts>;

/// Buffers a part's batches and writes them into one Parquet file.
pub struct BatchParquetParts {
    batches: Vec<riffle_core::Batch>,
    rows: usize,
    max_part_rows: usize,
}

impl PartSink<BatchParquetParts> {
    /// A sink writing batches as Parquet into `dir` (created if missing), rolling at a
    /// million rows.
    pub fn batches(env: &Env<'_>, dir: impl Into<PathBuf>) -> Result<Self> {
        Self::batches_for(env.worker_index(), dir)
    }

    /// [`PartSink::batches`] for worker `worker`, made while the job runs (a partitioned
    /// sink opens one per partition as rows for it come).
    pub fn batches_for(worker: usize, dir: impl Into<PathBuf>) -> Result<Self> {
        Ok(PartSink {
            parts: PartFiles::for_worker(worker, dir.into(), "parquet")?,
            writer: BatchParquetParts {
                batches: Vec::new(),
                rows: 0,
                max_part_rows: 1 << 20,
            },
        })
    }
}

impl PartWriter<riffle_core::Batch> for BatchParquetParts {
    fn write(&mut self, parts: &mut PartFiles, batch: riffle_core::Batch) -> Result<()> {
        self.rows += batch.num_rows();
        self.batches.push(batch);
        if self.rows >= self.max_part_rows {
            self.close(parts)?;
        }
        Ok(())
    }

    fn close(&mut self, parts: &mut PartFiles) -> Result<()> {
        let Some(first) = self.batches.first() else {
            return Ok(());
        };
        let parquet_error =
            |e: &dyn std::fmt::Display| RiffleError::Runtime(format!("cannot write Parquet: {e}"));
        let (temp, visible) = parts.next_paths();
        let file = create(&temp)?;
        let mut writer =
            ArrowWriter::try_new(file, first.schema(), None).map_err(|e| parquet_error(&e))?;
        for batch in &self.batches {
            writer.write(batch).map_err(|e| parquet_error(&e))?;
        }
        let file = writer.into_inner().map_err(|e| parquet_error(&e))?;
        file.sync_all().map_err(|e| RiffleError::io(&temp, e))?;
        parts.closed(temp, visible);
        self.batches.clear();
        self.rows = 0;
        Ok(())
    }
}
