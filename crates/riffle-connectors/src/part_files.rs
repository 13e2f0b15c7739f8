//! The part files of one sink on one worker, and their two-phase commit: written under a
//! hidden in-progress name, closed, prepared for an epoch's checkpoint, and published (renamed
//! to a visible name) when that checkpoint completes or a bounded job ends.

use std::path::PathBuf;

use riffle_core::{Result, RiffleError};
use riffle_runtime::Env;
use serde::{Deserialize, Serialize};

/// A closed part file waiting to be published when its epoch's checkpoint completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PreparedPart {
    epoch: u64,
    temp: PathBuf,
    visible: PathBuf,
}

/// What a checkpoint records of a sink's part files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartFilesSnapshot {
    prepared: Vec<PreparedPart>,
    next_part: u64,
}

/// Naming and committing of one worker's `part-W-N.EXT` files in a directory (see
/// [`crate::PartSink`]).
pub struct PartFiles {
    dir: PathBuf,
    worker: usize,
    extension: &'static str,
    next_part: u64,
    /// Closed parts not yet prepared for a checkpoint.
    pending: Vec<(PathBuf, PathBuf)>,
    /// Parts prepared for an epoch's checkpoint, waiting for it to complete.
    prepared: Vec<PreparedPart>,
}

impl PartFiles {
    /// Part files with `extension` in `dir` (created if missing) for this worker.
    pub(crate) fn new(env: &Env<'_>, dir: PathBuf, extension: &'static str) -> Result<Self> {
        Self::for_worker(env.worker_index(), dir, extension)
    }

    /// Part files of worker `worker` (for sinks made while the job runs).
    pub(crate) fn for_worker(worker: usize, dir: PathBuf, extension: &'static str) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| RiffleError::io(&dir, e))?;
        Ok(PartFiles {
            dir,
            worker,
            extension,
            next_part: 0,
            pending: Vec::new(),
            prepared: Vec::new(),
        })
    }

    /// The in-progress and visible paths of the next part, skipping names already published.
    pub fn next_paths(&mut self) -> (PathBuf, PathBuf) {
        loop {
            let name = format!(
                "part-{}-{:05}.{}",
                self.worker, self.next_part, self.extension
            );
            self.next_part += 1;
            let visible = self.dir.join(&name);
            if !visible.exists() {
                return (self.dir.join(format!(".{name}.inprogress")), visible);
            }
        }
    }

    /// A part was written completely and synced: it waits for its epoch.
    pub fn closed(&mut self, temp: PathBuf, visible: PathBuf) {
        self.pending.push((temp, visible));
    }

    /// Every closed part belongs to `epoch`'s checkpoint.
    pub(crate) fn prepare(&mut self, epoch: u64) {
        self.prepared
            .extend(self.pending.drain(..).map(|(temp, visible)| PreparedPart {
                epoch,
                temp,
                visible,
            }));
    }

    /// What a restart needs: the prepared parts and the next part number.
    pub(crate) fn snapshot(&self) -> Result<Vec<u8>> {
        let snapshot = PartFilesSnapshot {
            prepared: self.prepared.clone(),
            next_part: self.next_part,
        };
        serde_json::to_vec(&snapshot)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot serialize part files: {e}")))
    }

    /// Publishes the parts prepared for epochs up to `epoch`.
    pub(crate) fn commit(&mut self, epoch: u64) -> Result<()> {
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.prepared.drain(..).partition(|p| p.epoch <= epoch);
        self.prepared = waiting;
        for part in ready {
            std::fs::rename(&part.temp, &part.visible)
                .map_err(|e| RiffleError::io(&part.temp, e))?;
        }
        Ok(())
    }

    /// Publishes every closed part (the end of a job without checkpoints).
    pub(crate) fn publish_closed(&mut self) -> Result<()> {
        for (temp, visible) in self.pending.drain(..) {
            std::fs::rename(&temp, &visible).map_err(|e| RiffleError::io(&temp, e))?;
        }
        Ok(())
    }

    /// Restarting from a checkpoint: what it prepared is committed (even if the failure came
    /// before the rename); every other in-progress part of this worker is replayed, so goes.
    pub(crate) fn restore(&mut self, snapshot: &[u8]) -> Result<()> {
        let snapshot: PartFilesSnapshot = serde_json::from_slice(snapshot)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot read part files: {e}")))?;
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
        let prefix = format!(".part-{}-", self.worker);
        let entries = std::fs::read_dir(&self.dir).map_err(|e| RiffleError::io(&self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".inprogress") {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| RiffleError::io(&path, e))?;
            }
        }
        self.next_part = snapshot.next_part;
        Ok(())
    }
}
