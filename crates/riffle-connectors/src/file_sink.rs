//! Rolling part files, published atomically when the data they hold is final.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use riffle_core::{Result, RiffleError};
use riffle_runtime::{Env, EventTime, Sink};
use serde::Serialize;

use crate::format::{encode_line, Format};

/// Writes records to part files in a directory: `part-W-N.EXT` per worker `W`.
///
/// A part file is written under a hidden in-progress name (`.part-W-N.EXT.inprogress`), and
/// renamed to its visible name only when the data in it is final: when the checkpoint epoch
/// that covers it completes, or at the end of a bounded job. Readers of the directory (and
/// [`crate::FileSource`], which skips hidden files) thus never see uncommitted data. Files
/// roll when they reach the size limit; a rolled file waits, closed, for its commit.
pub struct FileSink {
    dir: PathBuf,
    format: Format,
    worker: usize,
    max_part_bytes: u64,
    next_part: u64,
    open: Option<OpenPart>,
    /// Closed parts waiting for the epoch that covers them to complete.
    pending: Vec<(PathBuf, PathBuf)>,
}

struct OpenPart {
    temp: PathBuf,
    visible: PathBuf,
    writer: BufWriter<File>,
    bytes: u64,
}

impl FileSink {
    /// A sink writing `format` into `dir` (created if missing), rolling at 128 MiB.
    pub fn new(env: &Env<'_>, dir: impl Into<PathBuf>, format: Format) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| RiffleError::io(&dir, e))?;
        Ok(FileSink {
            dir,
            format,
            worker: env.worker_index(),
            max_part_bytes: 128 << 20,
            next_part: 0,
            open: None,
            pending: Vec::new(),
        })
    }

    /// Rolls to a new part file once one reaches `bytes`.
    pub fn max_part_bytes(mut self, bytes: u64) -> Self {
        self.max_part_bytes = bytes.max(1);
        self
    }

    fn open_part(&mut self) -> Result<&mut OpenPart> {
        if self.open.is_none() {
            let ext = self.format.extension();
            // Skip names a previous run already published.
            loop {
                let name = format!("part-{}-{:05}.{ext}", self.worker, self.next_part);
                let visible = self.dir.join(&name);
                if !visible.exists() {
                    break;
                }
                self.next_part += 1;
            }
            let name = format!("part-{}-{:05}.{ext}", self.worker, self.next_part);
            self.next_part += 1;
            let temp = self.dir.join(format!(".{name}.inprogress"));
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&temp)
                .map_err(|e| RiffleError::io(&temp, e))?;
            self.open = Some(OpenPart {
                temp,
                visible: self.dir.join(name),
                writer: BufWriter::new(file),
                bytes: 0,
            });
        }
        match self.open.as_mut() {
            Some(part) => Ok(part),
            None => Err(RiffleError::Runtime("file sink lost its open part".into())),
        }
    }

    /// Closes the open part file and queues it for publishing.
    fn close_part(&mut self) -> Result<()> {
        if let Some(mut part) = self.open.take() {
            part.writer
                .flush()
                .map_err(|e| RiffleError::io(&part.temp, e))?;
            part.writer
                .get_ref()
                .sync_all()
                .map_err(|e| RiffleError::io(&part.temp, e))?;
            self.pending.push((part.temp, part.visible));
        }
        Ok(())
    }

    /// Publishes every closed part file by renaming it to its visible name.
    fn publish(&mut self) -> Result<()> {
        for (temp, visible) in self.pending.drain(..) {
            std::fs::rename(&temp, &visible).map_err(|e| RiffleError::io(&temp, e))?;
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

    fn epoch_complete(&mut self, _epoch: u64) -> Result<()> {
        self.close_part()?;
        self.publish()
    }

    fn finish(&mut self) -> Result<()> {
        self.close_part()?;
        self.publish()
    }
}
