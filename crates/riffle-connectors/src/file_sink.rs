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

/// Writes records to part files in a directory: `part-W-N.EXT` per worker `W`.
///
/// A part file is written under a hidden in-progress name (`.part-W-N.EXT.inprogress`), and
/// renamed to its visible name only when the data in it is final: when the checkpoint epoch
/// that covers it completes, or at the end of a bounded job. Readers of the directory (and
/// [`crate::FileSource`], which skips hidden files) thus never see uncommitted data. Files
/// roll when they reach the size limit; a rolled file waits, closed, for its commit. For
/// Parquet use [`ParquetSink`].
pub struct FileSink {
    parts: PartFiles,
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

fn create(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| RiffleError::io(path, e))
}

impl FileSink {
    /// A sink writing `format` into `dir` (created if missing), rolling at 128 MiB.
    pub fn new(env: &Env<'_>, dir: impl Into<PathBuf>, format: Format) -> Result<Self> {
        if format == Format::Parquet {
            return Err(RiffleError::Config(
                "the text file sink does not write Parquet: use ParquetSink".into(),
            ));
        }
        Ok(FileSink {
            parts: PartFiles::new(env, dir.into(), format.extension())?,
            format,
            max_part_bytes: 128 << 20,
            open: None,
        })
    }

    /// Rolls to a new part file once one reaches `bytes`.
    pub fn max_part_bytes(mut self, bytes: u64) -> Self {
        self.max_part_bytes = bytes.max(1);
        self
    }

    fn open_part(&mut self) -> Result<&mut OpenPart> {
        if self.open.is_none() {
            let (temp, visible) = self.parts.next_paths();
            let writer = BufWriter::new(create(&temp)?);
            self.open = Some(OpenPart {
                temp,
                visible,
                writer,
                bytes: 0,
            });
        }
        match self.open.as_mut() {
            Some(part) => Ok(part),
            None => Err(RiffleError::Runtime("file sink lost its open part".into())),
        }
    }

    /// Closes the open part file, durably, and queues it for its commit.
    fn close_part(&mut self) -> Result<()> {
        if let Some(mut part) = self.open.take() {
            part.writer
                .flush()
                .map_err(|e| RiffleError::io(&part.temp, e))?;
            part.writer
                .get_ref()
                .sync_all()
                .map_err(|e| RiffleError::io(&part.temp, e))?;
            self.parts.closed(part.temp, part.visible);
        }
        Ok(())
    }
}

impl<T: Serialize + 'static> Sink<T> for FileSink {
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()> {
        let format = self.format.clone();
        for (_, record) in records.drain(..) {
            let mut line = encode_line(&format, &record)
                .map_err(|e| RiffleError::Runtime(format!("cannot encode record: {e}")))?;
            line.push('\n');
            let max = self.max_part_bytes;
            let part = self.open_part()?;
            part.writer
                .write_all(line.as_bytes())
                .map_err(|e| RiffleError::io(&part.temp, e))?;
            part.bytes += line.len() as u64;
            if part.bytes >= max {
                self.close_part()?;
            }
        }
        Ok(())
    }

    fn epoch_complete(&mut self, epoch: u64) -> Result<()> {
        self.close_part()?;
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
        self.close_part()?;
        self.parts.publish_closed()
    }
}

/// Writes records as Parquet part files (`part-W-N.parquet`), with the same in-progress names
/// and commit as [`FileSink`]. The Parquet schema is derived from the record type's serde
/// shape; a part rolls after `max_part_rows` rows and at every checkpoint.
pub struct ParquetSink<T> {
    parts: PartFiles,
    rows: Vec<T>,
    max_part_rows: usize,
}

impl<T: Data> ParquetSink<T> {
    /// A sink writing Parquet into `dir` (created if missing), rolling at a million rows.
    pub fn new(env: &Env<'_>, dir: impl Into<PathBuf>) -> Result<Self> {
        Ok(ParquetSink {
            parts: PartFiles::new(env, dir.into(), "parquet")?,
            rows: Vec::new(),
            max_part_rows: 1 << 20,
        })
    }

    /// Rolls to a new part file every `rows` rows.
    pub fn max_part_rows(mut self, rows: usize) -> Self {
        self.max_part_rows = rows.max(1);
        self
    }

    /// Writes the buffered rows as one part file.
    fn write_part(&mut self) -> Result<()> {
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
        let (temp, visible) = self.parts.next_paths();
        let file = create(&temp)?;
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| parquet_error(&e))?;
        writer.write(&batch).map_err(|e| parquet_error(&e))?;
        let file = writer.into_inner().map_err(|e| parquet_error(&e))?;
        file.sync_all().map_err(|e| RiffleError::io(&temp, e))?;
        self.parts.closed(temp, visible);
        self.rows.clear();
        Ok(())
    }
}

impl<T: Data> Sink<T> for ParquetSink<T> {
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()> {
        for (_, record) in records.drain(..) {
            self.rows.push(record);
            if self.rows.len() >= self.max_part_rows {
                self.write_part()?;
            }
        }
        Ok(())
    }

    fn epoch_complete(&mut self, epoch: u64) -> Result<()> {
        self.write_part()?;
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
        self.write_part()?;
        self.parts.publish_closed()
    }
}
