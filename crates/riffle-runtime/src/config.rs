//! How many workers and processes run a job, and where the processes are.

use std::net::SocketAddr;
use std::path::Path;

use riffle_core::{Result, RiffleError};
use timely::CommunicationConfig;

use crate::checkpoint::CheckpointConfig;

/// Parallelism of a job: worker threads per process, the processes, and this one's index.
///
/// The same job runs unchanged for every value: `workers = 1, processes = 1` is one thread;
/// `processes > 1` connects to the other processes over TCP at `addresses`.
///
/// ```
/// use riffle_runtime::ExecutionConfig;
/// let cfg = ExecutionConfig::threads(4);
/// assert_eq!(cfg.total_workers(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionConfig {
    /// Worker threads in each process (`-w`).
    pub workers: usize,
    /// Number of processes (`-n`).
    pub processes: usize,
    /// Index of this process, from 0 (`-p`).
    pub process: usize,
    /// `host:port` of every process, in index order (`--hostfile`, or loopback ports).
    pub addresses: Vec<String>,
    /// Periodic checkpoints and the checkpoint to restore, if any.
    pub checkpoint: Option<CheckpointConfig>,
    /// Where to serve Prometheus metrics (`GET /metrics`) while the job runs, if anywhere.
    pub metrics: Option<SocketAddr>,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self::threads(1)
    }
}

impl ExecutionConfig {
    /// One process with `workers` threads.
    pub fn threads(workers: usize) -> Self {
        ExecutionConfig {
            workers,
            processes: 1,
            process: 0,
            addresses: Vec::new(),
            checkpoint: None,
            metrics: None,
        }
    }

    /// Process `process` of a cluster whose processes listen at `addresses`.
    pub fn cluster(workers: usize, process: usize, addresses: Vec<String>) -> Self {
        ExecutionConfig {
            workers,
            processes: addresses.len(),
            process,
            addresses,
            checkpoint: None,
            metrics: None,
        }
    }

    /// Process `process` of `processes` on this machine, listening on consecutive loopback
    /// ports from `base_port`, as timely does without a host file.
    pub fn local_cluster(workers: usize, processes: usize, process: usize, base_port: u16) -> Self {
        let addresses = (0..processes)
            .map(|i| format!("127.0.0.1:{}", base_port as usize + i))
            .collect();
        Self::cluster(workers, process, addresses)
    }

    /// The same configuration, checkpointing as `checkpoint` says.
    pub fn with_checkpoints(mut self, checkpoint: CheckpointConfig) -> Self {
        self.checkpoint = Some(checkpoint);
        self
    }

    /// The same configuration, serving Prometheus metrics at `address` while the job runs.
    pub fn with_metrics(mut self, address: SocketAddr) -> Self {
        self.metrics = Some(address);
        self
    }

    /// Reads a host file: one `host:port` per line, blank lines and `#` comments ignored.
    pub fn read_hostfile(path: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path).map_err(|e| RiffleError::io(path, e))?;
        Ok(text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Workers in the whole job.
    pub fn total_workers(&self) -> usize {
        self.workers * self.processes
    }

    /// Checks the numbers fit together.
    pub fn validate(&self) -> Result<()> {
        if self.workers == 0 {
            return Err(RiffleError::Config(
                "workers (-w) must be at least 1".into(),
            ));
        }
        if self.processes == 0 {
            return Err(RiffleError::Config(
                "processes (-n) must be at least 1".into(),
            ));
        }
        if self.process >= self.processes {
            return Err(RiffleError::Config(format!(
                "process index (-p) {} is not below the number of processes {}",
                self.process, self.processes
            )));
        }
        if self.processes > 1 && self.addresses.len() != self.processes {
            return Err(RiffleError::Config(format!(
                "{} processes need {} addresses, the host file has {}",
                self.processes,
                self.processes,
                self.addresses.len()
            )));
        }
        Ok(())
    }

    pub(crate) fn to_timely(&self) -> Result<timely::Config> {
        self.validate()?;
        let communication = if self.processes > 1 {
            CommunicationConfig::Cluster {
                threads: self.workers,
                process: self.process,
                addresses: self.addresses.clone(),
                report: false,
                zerocopy: false,
            }
        } else if self.workers > 1 {
            CommunicationConfig::Process(self.workers)
        } else {
            CommunicationConfig::Thread
        };
        Ok(timely::Config {
            communication,
            worker: timely::WorkerConfig::default(),
        })
    }
}
