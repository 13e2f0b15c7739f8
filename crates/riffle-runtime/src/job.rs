//! Running a job: one dataflow per worker, errors and metrics shared by the workers of a process.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use riffle_core::{Result, RiffleError};
use timely::dataflow::Scope;

use crate::checkpoint::CheckpointStore;
use crate::config::ExecutionConfig;
use crate::control;
use crate::metrics::MetricsServer;
use crate::time::{EventTime, Time, MIN_WATERMARK};

/// State shared by every worker of one process while a job runs: the first error, a
/// cancellation flag the sources watch, and named counters.
pub struct JobShared {
    error: Mutex<Option<RiffleError>>,
    /// The error was this process's own (not another process's, reported to it).
    failed_here: AtomicBool,
    cancelled: AtomicBool,
    /// A worker of this process panicked: the others cannot make progress with it gone.
    panicked: AtomicBool,
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    max_watermark: AtomicI64,
    /// The largest watermark of the sources without event time (batch ticks), kept apart
    /// so that their counts never pass for event time.
    max_ticks: AtomicI64,
    checkpoints: OnceLock<Arc<CheckpointStore>>,
    sinks_per_worker: AtomicUsize,
    /// (processes, this process's index), once the job runs.
    cluster: OnceLock<(usize, usize)>,
    shared: Mutex<SharedObjects>,
}

/// The objects of [`JobShared::shared`]: per key, the objects made so far and how many of
/// them each worker has asked for.
#[derive(Default)]
struct SharedObjects {
    made: HashMap<String, Vec<Arc<dyn Any + Send + Sync>>>,
    asked: HashMap<(String, usize), usize>,
}

impl Default for JobShared {
    fn default() -> Self {
        JobShared {
            error: Mutex::new(None),
            failed_here: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            counters: Mutex::new(BTreeMap::new()),
            max_watermark: AtomicI64::new(MIN_WATERMARK),
            max_ticks: AtomicI64::new(MIN_WATERMARK),
            checkpoints: OnceLock::new(),
            sinks_per_worker: AtomicUsize::new(0),
            cluster: OnceLock::new(),
            shared: Mutex::new(SharedObjects::default()),
        }
    }
}

impl JobShared {
    /// Records `error` (the first one wins) and asks every source to stop.
    pub fn fail(&self, error: RiffleError) {
        tracing::error!(%error, "job failed");
        if let Ok(mut slot) = self.error.lock() {
            if slot.is_none() {
                *slot = Some(error);
                self.failed_here.store(true, Ordering::SeqCst);
            }
        }
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Records that another process of the job failed with `message`, and stops this one.
    pub(crate) fn fail_remote(&self, process: usize, message: &str) {
        tracing::error!(
            process,
            message,
            "another process of the job failed; stopping"
        );
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert_with(|| {
                RiffleError::Runtime(format!("process {process} of the job failed: {message}"))
            });
        }
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// This process's own error, if it failed (not because another process did).
    pub(crate) fn own_failure(&self) -> Option<String> {
        if !self.failed_here.load(Ordering::SeqCst) {
            return None;
        }
        let slot = self.error.lock().ok()?;
        slot.as_ref().map(|e| e.to_string())
    }

    /// Asks every source to stop at its next poll, without an error.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// True once a worker recorded an error.
    pub fn has_failed(&self) -> bool {
        self.error.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    /// True once the job failed or was cancelled: sources stop producing.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The counter `name`, created at zero on first use. Counters of the same name are shared
    /// by all workers of the process, so the report shows the process's total.
    pub fn counter(&self, name: &str) -> Arc<AtomicU64> {
        let mut counters = match self.counters.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(counters.entry(name.to_owned()).or_default())
    }

    /// An object the workers of this process share, such as the pool of file ranges that the
    /// readers of one source take from. Worker `worker`'s n-th call for `key` returns the
    /// n-th object of `key`, made by `make` of whichever worker asked for it first: the
    /// workers build the same dataflow in the same order, so the n-th reader of a table on
    /// each worker is the same source, and two readers of one table do not share.
    pub fn shared<T: Any + Send + Sync>(
        &self,
        key: &str,
        worker: usize,
        make: impl FnOnce() -> T,
    ) -> Result<Arc<T>> {
        let mut shared = match self.shared.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let asked = shared.asked.entry((key.to_owned(), worker)).or_default();
        let n = *asked;
        *asked += 1;
        let made = shared.made.entry(key.to_owned()).or_default();
        if made.len() == n {
            made.push(Arc::new(make()));
        }
        Arc::clone(&made[n]).downcast::<T>().map_err(|_| {
            RiffleError::Runtime(format!("the shared object '{key}' has another type"))
        })
    }

    /// Notes a source's watermark, so that idle sources can catch up to the busiest one.
    pub fn observe_watermark(&self, watermark: EventTime) {
        self.max_watermark.fetch_max(watermark, Ordering::Relaxed);
    }

    /// The largest watermark any source of this process has reached.
    pub fn max_watermark(&self) -> EventTime {
        self.max_watermark.load(Ordering::Relaxed)
    }

    /// Notes the watermark of a source without event time (see [`JobShared::max_ticks`]).
    pub(crate) fn observe_ticks(&self, watermark: EventTime) {
        self.max_ticks.fetch_max(watermark, Ordering::Relaxed);
    }

    /// The largest watermark any source of this process has reached, those without event
    /// time included: what an idle source without event time moves up to.
    pub(crate) fn max_ticks(&self) -> EventTime {
        self.max_ticks
            .load(Ordering::Relaxed)
            .max(self.max_watermark())
    }

    /// Processes in the job (1 before it runs).
    pub fn processes(&self) -> usize {
        self.cluster.get().map_or(1, |c| c.0)
    }

    /// This process's index in the job.
    pub fn process(&self) -> usize {
        self.cluster.get().map_or(0, |c| c.1)
    }

    /// The job's checkpoint storage, when it checkpoints.
    pub fn checkpoints(&self) -> Option<&Arc<CheckpointStore>> {
        self.checkpoints.get()
    }

    /// How many sinks each worker's dataflow has: every one must finish an epoch before its
    /// checkpoint is complete.
    pub(crate) fn sinks_per_worker(&self) -> usize {
        self.sinks_per_worker.load(Ordering::SeqCst)
    }

    fn take_error(&self) -> Option<RiffleError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Every counter's current value (summed over this process's workers).
    pub fn counters(&self) -> BTreeMap<String, u64> {
        match self.counters.lock() {
            Ok(c) => c
                .iter()
                .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                .collect(),
            Err(_) => BTreeMap::new(),
        }
    }
}

/// What a finished job reports: the counters of this process (records read, bad records
/// skipped, late records dropped, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Counter name to value, summed over this process's workers.
    pub counters: BTreeMap<String, u64>,
}

impl JobReport {
    /// The value of counter `name`, zero if it was never touched.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

/// The per-worker handle a job's build function receives: where streams are created.
///
/// The build function runs once on every worker and must build the same dataflow on each;
/// [`Env::worker_index`] and [`Env::workers`] let sources pick their share of the input.
#[derive(Clone)]
pub struct Env<'s> {
    pub(crate) scope: Scope<'s, Time>,
    pub(crate) job: Arc<JobShared>,
    pub(crate) sinks: std::rc::Rc<std::cell::Cell<usize>>,
    /// Sources of this worker still running: the control stream lives as long as they do.
    pub(crate) live_sources: std::rc::Rc<std::cell::Cell<usize>>,
    /// Sinks of this worker still writing or committing: the control stream outlives them
    /// too, so that a failure at the end of a job still reaches the other processes.
    pub(crate) live_sinks: std::rc::Rc<std::cell::Cell<usize>>,
}

impl<'s> Env<'s> {
    /// Index of this worker among all workers of all processes.
    pub fn worker_index(&self) -> usize {
        self.scope.index()
    }

    /// Number of workers in the whole job.
    pub fn workers(&self) -> usize {
        self.scope.peers()
    }

    /// The job's shared state: counters, failure, cancellation.
    pub fn job(&self) -> &Arc<JobShared> {
        &self.job
    }
}

/// Runs a job: `build` is called on every worker to build its dataflow, then the workers run
/// until every source is finished (or the job fails or is cancelled).
///
/// Returns this process's [`JobReport`], or the first error any worker of this process hit.
///
/// ```
/// use riffle_runtime::{execute, Collector, ExecutionConfig, WatermarkStrategy};
/// let out = Collector::new();
/// let sink = out.clone();
/// execute(&ExecutionConfig::threads(2), move |env| {
///     env.from_iter(0..10u64, WatermarkStrategy::none())
///         .map(|x| x * 2)
///         .collect_into(&sink);
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(out.sorted(), vec![0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
/// ```
pub fn execute<F>(config: &ExecutionConfig, build: F) -> Result<JobReport>
where
    F: Fn(&mut Env<'_>) -> Result<()> + Send + Sync + 'static,
{
    execute_with(config, Arc::new(JobShared::default()), build)
}

/// [`execute`] with job state the caller holds, for example to cancel the job from another
/// thread or to read counters while it runs.
pub fn execute_with<F>(config: &ExecutionConfig, job: Arc<JobShared>, build: F) -> Result<JobReport>
where
    F: Fn(&mut Env<'_>) -> Result<()> + Send + Sync + 'static,
{
    let timely_config = config.to_timely()?;
    if let Some(checkpoint) = &config.checkpoint {
        let store = CheckpointStore::open(checkpoint, config.total_workers(), config.process)?;
        let _ = job.checkpoints.set(Arc::new(store));
    }
    let _ = job.cluster.set((config.processes, config.process));
    let _metrics = match config.metrics {
        Some(address) => Some(MetricsServer::start(
            address,
            Arc::clone(&job),
            config.process,
        )?),
        None => None,
    };
    let shared = Arc::clone(&job);
    let guards = timely::execute(timely_config, move |worker| {
        let job = Arc::clone(&shared);
        let built = worker.dataflow::<Time, _, _>(|scope| {
            let mut env = Env {
                scope,
                job: Arc::clone(&job),
                sinks: Default::default(),
                live_sources: Default::default(),
                live_sinks: Default::default(),
            };
            let built = build(&mut env);
            control::install(&env);
            job.sinks_per_worker
                .store(env.sinks.get(), Ordering::SeqCst);
            built
        });
        if let Err(error) = built {
            job.fail(error);
        }
        // The workers step here rather than in timely's loop, so that a panic in an
        // operator (a bug: errors fail the job through `fail`) ends the job with an error:
        // the other workers would otherwise wait forever for the panicked one's progress.
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            while worker.has_dataflows() && !job.panicked.load(Ordering::SeqCst) {
                worker.step_or_park(Some(std::time::Duration::from_millis(100)));
            }
        }));
        if let Err(panic) = stepped {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            job.fail(RiffleError::Runtime(format!(
                "worker {} panicked (a bug in Riffle, please report it): {message}",
                worker.index()
            )));
            job.panicked.store(true, Ordering::SeqCst);
        }
        for dataflow in worker.installed_dataflows() {
            worker.drop_dataflow(dataflow);
        }
    })
    .map_err(RiffleError::Runtime)?;
    let mut panicked = Vec::new();
    for result in guards.join() {
        if let Err(message) = result {
            panicked.push(message);
        }
    }
    if let Some(error) = job.take_error() {
        return Err(error);
    }
    if !panicked.is_empty() {
        return Err(RiffleError::Runtime(format!(
            "worker failed: {}",
            panicked.join("; ")
        )));
    }
    Ok(JobReport {
        counters: job.counters(),
    })
}
