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
    /// Closed parts not yet prepared for a checkpoint.
    pending: Vec<(PathBuf, PathBuf)>,
    /// Parts prepared for an epoch's checkpoint, waiting for it to complete.
    prepared: Vec<PreparedPart>,
}

/// A closed part file waiting to be published when its epoch's checkpoint completes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PreparedPart {
    epoch: u64,
    temp: PathBuf,
    visible: PathBuf,
}

/// What a checkpoint records of a file sink.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FileSinkSnapshot {
    prepared: Vec<PreparedPart>,
    next_part: u64,
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
            prepared: Vec::new(),
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

    /// Deletes this worker's in-progress files that no checkpoint covers.
    fn discard_uncommitted(&self, keep: &[PreparedPart]) -> Result<()> {
        let prefix = format!(".part-{}-", self.worker);
        let entries = std::fs::read_dir(&self.dir).map_err(|e| RiffleError::io(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(&prefix)
                && name.ends_with(".inprogress")
                && !keep.iter().any(|p| p.temp == path)
            {
                std::fs::remove_file(&path).map_err(|e| RiffleError::io(&path, e))?;
            }
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
        self.prepared
            .extend(self.pending.drain(..).map(|(temp, visible)| PreparedPart {
                epoch,
                temp,
                visible,
            }));
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Vec<u8>> {
        let snapshot = FileSinkSnapshot {
            prepared: self.prepared.clone(),
            next_part: self.next_part,
        };
        serde_json::to_vec(&snapshot)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot serialize file sink state: {e}")))
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.prepared.drain(..).partition(|p| p.epoch <= epoch);
        self.prepared = waiting;
        for part in ready {
            std::fs::rename(&part.temp, &part.visible)
                .map_err(|e| RiffleError::io(&part.temp, e))?;
        }
        Ok(())
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<()> {
        let snapshot: FileSinkSnapshot = serde_json::from_slice(snapshot)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot read file sink state: {e}")))?;
        // The restored checkpoint is complete: what it prepared is committed, even if the
        // failure came before the rename. Everything written after it is replayed, so goes.
        for part in &snapshot.prepared {
            if part.temp.exists() {
                std::fs::rename(&part.temp, &part.visible)
                    .map_err(|e| RiffleError::io(&part.temp, e))?;
            } else if !part.visible.exists() {
                return Err(RiffleError::Checkpoint(format!(
                    "part file {} of the restored checkpoint is missing",
                    part.temp.display()
                )));
            }
        }
        self.discard_uncommitted(&[])?;
        self.next_part = snapshot.next_part;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.close_part()?;
        self.publish()
    }
}
