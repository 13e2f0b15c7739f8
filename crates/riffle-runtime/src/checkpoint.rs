//! Checkpoints: where operator state and source positions are written, when a checkpoint is
//! complete, and which one a restarted job restores.
//!
//! Layout of the checkpoint directory:
//!
//! ```text
//! DIR/chk-00000007/op3-w1.bin      state of operator 3 on worker 1 after epoch 7
//! DIR/chk-00000007/sink5-w1.done   sink 5 on worker 1 has seen all of epoch 7
//! DIR/chk-00000007/_COMPLETE       every sink on every worker has: checkpoint 7 is usable
//! ```
//!
//! Files are written under a temporary name and renamed, so a reader never sees half a file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use riffle_core::{Result, RiffleError};

/// How a job checkpoints and what it restores at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// Directory holding the checkpoints (shared by all processes of the job).
    pub dir: PathBuf,
    /// Time between checkpoints.
    pub interval: Duration,
    /// Checkpoint to restore at start, if any.
    pub restore: Option<Restore>,
}

/// Which checkpoint a job restarts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// The newest complete checkpoint in the checkpoint directory (none: start afresh).
    Latest,
    /// A specific checkpoint directory (`.../chk-00000007`).
    Path(PathBuf),
}

/// How many complete checkpoints are kept; older ones are deleted.
const RETAINED: usize = 3;

/// The checkpoint storage of a running job, shared by the workers of a process.
#[derive(Debug)]
pub struct CheckpointStore {
    dir: PathBuf,
    interval: Duration,
    restored: Option<(u64, PathBuf)>,
    total_workers: usize,
    /// When this process wrote the first snapshot of each open checkpoint.
    opened: std::sync::Mutex<std::collections::BTreeMap<u64, std::time::Instant>>,
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RiffleError::io(path, e)),
    }
}

fn epoch_dir_name(epoch: u64) -> String {
    format!("chk-{epoch:08}")
}

fn epoch_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("chk-")?
        .parse()
        .ok()
}

impl CheckpointStore {
    /// Opens (creating) the checkpoint directory and resolves the checkpoint to restore.
    pub fn open(config: &CheckpointConfig, total_workers: usize, process: usize) -> Result<Self> {
        std::fs::create_dir_all(&config.dir).map_err(|e| RiffleError::io(&config.dir, e))?;
        let restored = match &config.restore {
            None => None,
            Some(Restore::Latest) => {
                Self::latest_complete(&config.dir)?.map(|e| (e, config.dir.join(epoch_dir_name(e))))
            }
            Some(Restore::Path(path)) => {
                let epoch = epoch_of(path).ok_or_else(|| {
                    RiffleError::Checkpoint(format!(
                        "{} is not a checkpoint directory (chk-NNNNNNNN)",
                        path.display()
                    ))
                })?;
                if !path.join("_COMPLETE").exists() {
                    return Err(RiffleError::Checkpoint(format!(
                        "{} is not a complete checkpoint",
                        path.display()
                    )));
                }
                Some((epoch, path.clone()))
            }
        };
        if process == 0 {
            // Checkpoints after the one restored (or all, when starting afresh) belong to a
            // run that failed: their markers must not count for this run. Process 0 clears
            // them before the cluster connects, so before any process writes.
            let keep = restored.as_ref().map(|(e, _)| *e);
            Self::discard_after(&config.dir, keep)?;
        }
        if let Some((epoch, path)) = &restored {
            let recorded = std::fs::read_to_string(path.join("_COMPLETE")).unwrap_or_default();
            if let Ok(workers) = recorded.trim().parse::<usize>() {
                if workers != total_workers {
                    return Err(RiffleError::Checkpoint(format!(
                        "checkpoint {epoch} was taken with {workers} workers; restore it with the \
                         same number (rescaling is not supported yet), not {total_workers}"
                    )));
                }
            }
            tracing::info!(epoch, path = %path.display(), "restoring checkpoint");
        }
        Ok(CheckpointStore {
            dir: config.dir.clone(),
            interval: config.interval,
            restored,
            total_workers,
            opened: Default::default(),
        })
    }

    /// Deletes the checkpoints after `keep` (all if `None`), and final snapshots of sources
    /// of a failed run.
    fn discard_after(dir: &Path, keep: Option<u64>) -> Result<()> {
        for entry in std::fs::read_dir(dir)
            .map_err(|e| RiffleError::io(dir, e))?
            .flatten()
        {
            let path = entry.path();
            let stale = match epoch_of(&path) {
                Some(epoch) => keep.is_none_or(|k| epoch > k),
                None => path.file_name().is_some_and(|n| n == "finished") && keep.is_none(),
            };
            if stale {
                std::fs::remove_dir_all(&path).map_err(|e| RiffleError::io(&path, e))?;
            }
        }
        Ok(())
    }

    /// The newest complete checkpoint under `dir`.
    pub fn latest_complete(dir: &Path) -> Result<Option<u64>> {
        let mut best = None;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RiffleError::io(dir, e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if let Some(epoch) = epoch_of(&path) {
                if path.join("_COMPLETE").exists() && best.is_none_or(|b| epoch > b) {
                    best = Some(epoch);
                }
            }
        }
        Ok(best)
    }

    /// Time between checkpoints.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The epoch the job starts in: one past the restored checkpoint, or 0.
    pub fn first_epoch(&self) -> u64 {
        self.restored
            .as_ref()
            .map(|(e, _)| e.saturating_add(1))
            .unwrap_or(0)
    }

    /// The restored checkpoint's epoch, if the job restored one.
    pub fn restored_epoch(&self) -> Option<u64> {
        self.restored.as_ref().map(|(e, _)| *e)
    }

    fn epoch_dir(&self, epoch: u64) -> PathBuf {
        self.dir.join(epoch_dir_name(epoch))
    }

    /// Writes `bytes` as the snapshot `name` of `worker` for checkpoint `epoch`.
    pub fn write(&self, epoch: u64, name: &str, worker: usize, bytes: &[u8]) -> Result<()> {
        if let Ok(mut opened) = self.opened.lock() {
            opened.entry(epoch).or_insert_with(std::time::Instant::now);
        }
        let dir = self.epoch_dir(epoch);
        std::fs::create_dir_all(&dir).map_err(|e| RiffleError::io(&dir, e))?;
        let path = dir.join(format!("{name}-w{worker}.bin"));
        let temp = dir.join(format!(".{name}-w{worker}.bin.tmp"));
        std::fs::write(&temp, bytes).map_err(|e| RiffleError::io(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| RiffleError::io(&path, e))
    }

    /// Writes the final snapshot of a participant that finished during `epoch` (a source
    /// that read all its input): every later checkpoint counts it as finished.
    pub fn write_finished(
        &self,
        epoch: u64,
        name: &str,
        worker: usize,
        bytes: &[u8],
    ) -> Result<()> {
        let dir = self.dir.join("finished");
        std::fs::create_dir_all(&dir).map_err(|e| RiffleError::io(&dir, e))?;
        let mut record = epoch.to_le_bytes().to_vec();
        record.extend_from_slice(bytes);
        let path = dir.join(format!("{name}-w{worker}.bin"));
        let temp = dir.join(format!(".{name}-w{worker}.bin.tmp"));
        std::fs::write(&temp, &record).map_err(|e| RiffleError::io(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| RiffleError::io(&path, e))
    }

    /// The snapshot `name` of `worker` in the restored checkpoint: the one written for it, or
    /// the final one of a participant that had finished by then.
    pub fn read_restored(&self, name: &str, worker: usize) -> Result<Option<Vec<u8>>> {
        let Some((epoch, dir)) = &self.restored else {
            return Ok(None);
        };
        if let Some(bytes) = read_optional(&dir.join(format!("{name}-w{worker}.bin")))? {
            return Ok(Some(bytes));
        }
        let finished = self
            .dir
            .join("finished")
            .join(format!("{name}-w{worker}.bin"));
        match read_optional(&finished)? {
            Some(record) if record.len() >= 8 => {
                let mut head = [0u8; 8];
                head.copy_from_slice(&record[..8]);
                let finished_in = u64::from_le_bytes(head);
                Ok((finished_in <= *epoch).then(|| record[8..].to_vec()))
            }
            _ => Ok(None),
        }
    }

    /// Records that sink `name` on `worker` has seen all of `epoch`; when every sink of
    /// every worker has (`sinks_per_worker` each), marks the checkpoint complete and prunes
    /// old ones. Returns true if the checkpoint is now complete.
    pub fn sink_done(
        &self,
        epoch: u64,
        name: &str,
        worker: usize,
        sinks_per_worker: usize,
    ) -> Result<bool> {
        let dir = self.epoch_dir(epoch);
        std::fs::create_dir_all(&dir).map_err(|e| RiffleError::io(&dir, e))?;
        let marker = dir.join(format!("{name}-w{worker}.done"));
        std::fs::write(&marker, b"").map_err(|e| RiffleError::io(&marker, e))?;
        let done = std::fs::read_dir(&dir)
            .map_err(|e| RiffleError::io(&dir, e))?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".done"))
            .count();
        if done < sinks_per_worker * self.total_workers {
            return Ok(self.is_complete(epoch));
        }
        let complete = dir.join("_COMPLETE");
        let temp = dir.join(format!("._COMPLETE.{worker}.tmp"));
        std::fs::write(&temp, self.total_workers.to_string())
            .map_err(|e| RiffleError::io(&temp, e))?;
        std::fs::rename(&temp, &complete).map_err(|e| RiffleError::io(&complete, e))?;
        self.prune(epoch);
        Ok(true)
    }

    /// How long checkpoint `epoch` took in this process, from its first snapshot to now (the
    /// caller saw it complete); forgets it and older ones.
    pub fn took(&self, epoch: u64) -> Option<Duration> {
        let mut opened = self.opened.lock().ok()?;
        let started = opened.get(&epoch).copied();
        opened.retain(|e, _| *e > epoch);
        started.map(|s| s.elapsed())
    }

    /// Forgets when the checkpoints before `epoch` were opened (`epoch` is complete): a
    /// process whose sinks see another process complete checkpoints never asks
    /// [`Self::took`]. `epoch` itself is kept for a sink of this process that may be about
    /// to ask.
    pub fn forget_before(&self, epoch: u64) {
        if let Ok(mut opened) = self.opened.lock() {
            opened.retain(|e, _| *e >= epoch);
        }
    }

    /// True once checkpoint `epoch` is complete.
    pub fn is_complete(&self, epoch: u64) -> bool {
        self.epoch_dir(epoch).join("_COMPLETE").exists()
    }

    /// Deletes complete checkpoints older than the newest few, and incomplete ones older than
    /// `newest`. Failures only leave files behind.
    fn prune(&self, newest: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut complete: Vec<u64> = Vec::new();
        let mut stale: Vec<u64> = Vec::new();
        for entry in entries.flatten() {
            if let Some(epoch) = epoch_of(&entry.path()) {
                if entry.path().join("_COMPLETE").exists() {
                    complete.push(epoch);
                } else if epoch < newest {
                    stale.push(epoch);
                }
            }
        }
        complete.sort_unstable();
        let keep_from = complete.len().saturating_sub(RETAINED);
        let restored = self.restored_epoch();
        for epoch in complete[..keep_from].iter().chain(stale.iter()) {
            if Some(*epoch) != restored {
                let _ = std::fs::remove_dir_all(self.epoch_dir(*epoch));
            }
        }
    }
}
