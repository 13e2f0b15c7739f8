//! Sources: readers polled by a timely source operator, with timestamps and watermarks.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use riffle_core::{Result, RiffleError};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::generic::OutputBuilderSession;
use timely::dataflow::operators::Capability;

use crate::checkpoint::CheckpointStore;
use crate::job::{Env, JobShared};
use crate::operator::FINAL_EPOCH;
use crate::stream::{DataStream, Records};
use crate::time::{EventTime, Time, MAX_WATERMARK, MIN_WATERMARK};
use crate::Data;

/// What a [`SourceReader`] says after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    /// More records may be read at once.
    Ready,
    /// Nothing to read now (a socket or a watched directory); poll again soon.
    Idle,
    /// The input is exhausted; the reader will not be polled again.
    Finished,
}

/// One worker's reader of a source: polled repeatedly by the source operator.
///
/// A reader is created on each worker by the job's build function and reads that worker's
/// share of the input (its files, partitions or generator slice).
pub trait SourceReader<T>: 'static {
    /// Appends the next records (a bounded batch, say up to a few thousand) to `out`.
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus>;

    /// A watermark the reader itself guarantees for the batch just polled, if it knows one.
    ///
    /// Readers that know their data's disorder (generators, scripted test input) return the
    /// watermark under which the batch is emitted; it then replaces the strategy's watermark,
    /// which makes lateness independent of how the input is split among workers.
    fn batch_watermark(&self) -> Option<EventTime> {
        None
    }

    /// The reader's position after the records it has returned so far, for checkpoints;
    /// `None` if it cannot be replayed (after a restore it then starts afresh).
    fn position(&self) -> Option<Vec<u8>> {
        None
    }

    /// Moves the reader to a position returned by [`SourceReader::position`].
    fn seek(&mut self, _position: &[u8]) -> Result<()> {
        Err(RiffleError::Checkpoint(
            "this source cannot be restored to a position".into(),
        ))
    }

    /// Moves the reader to `position`, knowing the positions that every reader of this
    /// source in this process restored (`peers`, this one's included). Readers that share
    /// their work among the workers of a process (file ranges taken from a pool) learn
    /// from them what is left; the others only [`seek`](SourceReader::seek).
    fn seek_among(&mut self, position: &[u8], _peers: &[Vec<u8>]) -> Result<()> {
        self.seek(position)
    }
}

/// A boxed reader reads as the reader in it, so that a job can choose its source at run time.
impl<T, R: SourceReader<T> + ?Sized> SourceReader<T> for Box<R> {
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus> {
        (**self).poll(out)
    }
    fn batch_watermark(&self) -> Option<EventTime> {
        (**self).batch_watermark()
    }
    fn position(&self) -> Option<Vec<u8>> {
        (**self).position()
    }
    fn seek(&mut self, position: &[u8]) -> Result<()> {
        (**self).seek(position)
    }
    fn seek_among(&mut self, position: &[u8], peers: &[Vec<u8>]) -> Result<()> {
        (**self).seek_among(position, peers)
    }
}

/// Current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> EventTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as EventTime)
        .unwrap_or(0)
}

type TimestampFn<T> = Box<dyn Fn(&T) -> EventTime>;

/// How a source stamps records with event time and derives its watermark (Flink's
/// `WatermarkStrategy`).
///
/// ```
/// use std::time::Duration;
/// use riffle_runtime::WatermarkStrategy;
/// #[derive(Clone)]
/// struct Click { at_ms: i64 }
/// let strategy = WatermarkStrategy::bounded_out_of_orderness(Duration::from_secs(5), |c: &Click| c.at_ms)
///     .with_idleness(Duration::from_secs(30));
/// # let _ = strategy;
/// ```
pub struct WatermarkStrategy<T> {
    timestamp: Option<TimestampFn<T>>,
    out_of_orderness: Option<EventTime>,
    idle_timeout: Option<Duration>,
}

impl<T> WatermarkStrategy<T> {
    /// Records are stamped with the time they were read (ingestion time), and the watermark
    /// makes no event-time progress until the source ends: for jobs without event-time
    /// operators or with processing-time windows only. (It moves up by one tick per batch
    /// from its minimum, far below any real time, so that keyed operators, which apply
    /// records in watermark order, apply each batch as it comes rather than at the end.
    /// With [`with_idleness`](Self::with_idleness)`(Duration::ZERO)` it also moves up to the
    /// highest watermark of the process's sources whenever it has nothing to read, so that
    /// an unbounded input that goes quiet holds no other input back; its next batch then
    /// moves it one tick past that.)
    pub fn none() -> Self {
        WatermarkStrategy {
            timestamp: None,
            out_of_orderness: None,
            idle_timeout: None,
        }
    }

    /// Event time from `timestamp`; the watermark trails the largest timestamp seen by
    /// `bound`, so records at most `bound` late are on time.
    pub fn bounded_out_of_orderness(
        bound: Duration,
        timestamp: impl Fn(&T) -> EventTime + 'static,
    ) -> Self {
        WatermarkStrategy {
            timestamp: Some(Box::new(timestamp)),
            out_of_orderness: Some(bound.as_millis() as EventTime),
            idle_timeout: None,
        }
    }

    /// Event time from `timestamp`, which never decreases: the watermark is the largest
    /// timestamp seen minus one millisecond.
    pub fn monotonous(timestamp: impl Fn(&T) -> EventTime + 'static) -> Self {
        Self::bounded_out_of_orderness(Duration::ZERO, timestamp)
    }

    /// Event time from `timestamp`; the watermark comes only from the reader (see
    /// [`SourceReader::batch_watermark`]) or the end of input.
    pub fn reader_defined(timestamp: impl Fn(&T) -> EventTime + 'static) -> Self {
        WatermarkStrategy {
            timestamp: Some(Box::new(timestamp)),
            out_of_orderness: None,
            idle_timeout: None,
        }
    }

    /// After `timeout` without records, this source stops holding the watermark back: it
    /// moves its watermark up to the largest watermark of the other sources of this process.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
}

/// Mutable watermark bookkeeping of one source instance.
struct WatermarkTracker<T> {
    strategy: WatermarkStrategy<T>,
    max_timestamp: EventTime,
}

impl<T> WatermarkTracker<T> {
    /// Moves `batch` into a container of stamped records: event times from the strategy's
    /// assigner, or the ingestion time of the whole batch (one clock read) without one.
    fn stamp_all(&mut self, batch: &mut Vec<T>) -> Records<T> {
        let mut records = Vec::with_capacity(batch.len());
        match &self.strategy.timestamp {
            Some(f) => {
                let mut max = self.max_timestamp;
                records.extend(batch.drain(..).map(|value| {
                    let ts = f(&value);
                    max = max.max(ts);
                    (ts, value)
                }));
                self.max_timestamp = max;
            }
            None => {
                let now = now_millis();
                self.max_timestamp = self.max_timestamp.max(now);
                records.extend(batch.drain(..).map(|value| (now, value)));
            }
        }
        records
    }

    /// The watermark after a batch, the source's being `current` before it.
    fn watermark(&self, current: EventTime) -> EventTime {
        match (self.strategy.out_of_orderness, &self.strategy.timestamp) {
            (Some(bound), _) if self.max_timestamp > MIN_WATERMARK => {
                self.max_timestamp.saturating_sub(bound).saturating_sub(1)
            }
            // Logical progress only: batches emitted before this one are complete.
            (_, None) => current.saturating_add(1),
            _ => MIN_WATERMARK,
        }
    }
}

/// How many polls a source makes per activation before yielding to other operators. Few:
/// what a source emits waits in memory until the operators after it run, and 16 polls of
/// 8,192-row CSV batches kept twice the memory alive (63 MiB against 29 MiB for q0 on one
/// worker), all of it touched fresh, for no gain (q0 and q5 ran 5-8% faster with 2).
const POLLS_PER_ACTIVATION: usize = 2;

/// What a source writes into a checkpoint: where its reader is, and its watermark.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SourceSnapshot {
    position: Option<Vec<u8>>,
    watermark: EventTime,
    max_timestamp: EventTime,
}

/// One source operator's reader, watermark tracking and checkpoint participation.
struct SourceDriver<T, R> {
    name: String,
    worker: usize,
    /// The workers of this process, this one among them.
    local_workers: std::ops::Range<usize>,
    reader: R,
    tracker: WatermarkTracker<T>,
    job: Arc<JobShared>,
    store: Option<Arc<CheckpointStore>>,
    epoch_started: Instant,
    idle_since: Option<Instant>,
    records: Arc<AtomicU64>,
    batch: Vec<T>,
}

/// What the driver wants after an activation.
enum Next {
    Again,
    Later,
    Done,
}

impl<T: Data, R: SourceReader<T>> SourceDriver<T, R> {
    fn snapshot(&self, watermark: EventTime) -> Result<Vec<u8>> {
        let snapshot = SourceSnapshot {
            position: self.reader.position(),
            watermark,
            max_timestamp: self.tracker.max_timestamp,
        };
        bincode::serialize(&snapshot)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot serialize source position: {e}")))
    }

    /// Restores the reader and watermark from the restored checkpoint; returns the time the
    /// source continues at.
    fn restore(&mut self) -> Result<Time> {
        let Some(store) = self.store.clone() else {
            return Ok(Time::new(0, MIN_WATERMARK));
        };
        let epoch = store.first_epoch();
        let Some(bytes) = store.read_restored(&self.name, self.worker)? else {
            return Ok(Time::new(epoch, MIN_WATERMARK));
        };
        let read = |bytes: &[u8]| {
            bincode::deserialize::<SourceSnapshot>(bytes)
                .map_err(|e| RiffleError::Checkpoint(format!("cannot read source position: {e}")))
        };
        let snapshot = read(&bytes)?;
        match &snapshot.position {
            Some(position) => {
                let mut peers = vec![position.clone()];
                for worker in self.local_workers.clone() {
                    if worker == self.worker {
                        continue;
                    }
                    if let Some(bytes) = store.read_restored(&self.name, worker)? {
                        peers.extend(read(&bytes)?.position);
                    }
                }
                self.reader.seek_among(position, &peers)?
            }
            None => tracing::warn!(
                source = %self.name,
                "source cannot be replayed: records read before the failure after the checkpoint are lost"
            ),
        }
        self.tracker.max_timestamp = snapshot.max_timestamp;
        Ok(Time::new(epoch, snapshot.watermark))
    }

    /// Closes the current epoch if the checkpoint interval has passed.
    fn maybe_checkpoint(&mut self, cap: &mut Capability<Time>) -> Result<()> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let time = *cap.time();
        // A job restored from its final checkpoint (it had ended) runs in the final
        // pseudo-epoch: there is no later epoch to close into.
        if self.epoch_started.elapsed() < store.interval() || time.epoch == FINAL_EPOCH {
            return Ok(());
        }
        store.write(
            time.epoch,
            &self.name,
            self.worker,
            &self.snapshot(time.watermark)?,
        )?;
        cap.downgrade(&Time::new(time.epoch + 1, time.watermark));
        self.epoch_started = Instant::now();
        Ok(())
    }

    /// On finishing, records the final position where any later checkpoint finds it.
    fn finish(&mut self, cap: &Capability<Time>) -> Result<()> {
        if let Some(store) = self.store.clone() {
            let time = *cap.time();
            store.write_finished(
                time.epoch,
                &self.name,
                self.worker,
                &self.snapshot(MAX_WATERMARK)?,
            )?;
        }
        Ok(())
    }

    fn run(
        &mut self,
        cap: &mut Capability<Time>,
        output: &mut OutputBuilderSession<'_, Time, CapacityContainerBuilder<Vec<(EventTime, T)>>>,
    ) -> Result<Next> {
        for _ in 0..POLLS_PER_ACTIVATION {
            self.maybe_checkpoint(cap)?;
            self.batch.clear();
            let status = self.reader.poll(&mut self.batch)?;
            let reader_watermark = self.reader.batch_watermark();
            if let Some(wm) = reader_watermark {
                advance(cap, wm);
            }
            if !self.batch.is_empty() {
                self.idle_since = None;
                self.records
                    .fetch_add(self.batch.len() as u64, Ordering::Relaxed);
                let mut records = self.tracker.stamp_all(&mut self.batch);
                output.session(&*cap).give_container(&mut records);
                if reader_watermark.is_none() {
                    advance(cap, self.tracker.watermark(cap.time().watermark));
                }
                match self.tracker.strategy.timestamp {
                    Some(_) => self.job.observe_watermark(cap.time().watermark),
                    None => self.job.observe_ticks(cap.time().watermark),
                }
            }
            match status {
                SourceStatus::Ready => {}
                SourceStatus::Finished => {
                    self.finish(cap)?;
                    return Ok(Next::Done);
                }
                SourceStatus::Idle => {
                    let since = *self.idle_since.get_or_insert_with(Instant::now);
                    if let Some(timeout) = self.tracker.strategy.idle_timeout {
                        if since.elapsed() >= timeout {
                            advance(
                                cap,
                                match self.tracker.strategy.timestamp {
                                    Some(_) => self.job.max_watermark(),
                                    None => self.job.max_ticks(),
                                },
                            );
                        }
                    }
                    return Ok(Next::Later);
                }
            }
        }
        Ok(Next::Again)
    }
}

impl<'s> Env<'s> {
    /// A stream read by `reader` on this worker, stamped and watermarked by `strategy`.
    ///
    /// When the job checkpoints, the source closes an epoch every checkpoint interval,
    /// writing the reader's position and its watermark; a restored job continues from there.
    pub fn source<T: Data>(
        &self,
        name: &str,
        reader: impl SourceReader<T>,
        strategy: WatermarkStrategy<T>,
    ) -> DataStream<'s, T> {
        let scope = self.scope;
        let job = Arc::clone(&self.job);
        let records = job.counter(&format!("source.{name}.records"));
        let store = job.checkpoints().cloned();
        let worker = self.worker_index();
        let per_process = self.workers() / job.processes().max(1);
        let first = worker - worker % per_process.max(1);
        let local_workers = first..first + per_process;
        let live_sources = Rc::clone(&self.live_sources);
        let stream = source::<_, CapacityContainerBuilder<Vec<(EventTime, T)>>, _, _>(
            scope,
            name,
            move |capability, info| {
                let activator = scope.activator_for(info.address);
                let mut driver = SourceDriver {
                    name: format!("src{}", info.local_id),
                    worker,
                    local_workers,
                    reader,
                    tracker: WatermarkTracker {
                        strategy,
                        max_timestamp: MIN_WATERMARK,
                    },
                    job: Arc::clone(&job),
                    store,
                    epoch_started: Instant::now(),
                    idle_since: None,
                    records,
                    batch: Vec::new(),
                };
                let mut capability = match driver.restore() {
                    Ok(time) => Some(capability.delayed(&time)),
                    Err(error) => {
                        job.fail(error);
                        None
                    }
                };
                let mut live = capability.as_ref().map(|_| Live::new(&live_sources));
                move |output| {
                    if let Some(cap) = capability.as_mut() {
                        if job.is_cancelled() {
                            capability = None;
                        } else {
                            match driver.run(cap, output) {
                                Ok(Next::Again) => activator.activate(),
                                Ok(Next::Later) => {
                                    activator.activate_after(Duration::from_millis(1))
                                }
                                Ok(Next::Done) => capability = None,
                                Err(error) => {
                                    job.fail(error);
                                    capability = None;
                                }
                            }
                        }
                    }
                    if capability.is_none() {
                        live.take();
                    }
                }
            },
        );
        DataStream::new(stream, self.clone())
    }

    /// A stream of the items of `iter`, emitted by worker 0 only (like Flink's
    /// `fromCollection`, whose parallelism is one).
    pub fn from_iter<T: Data, I>(
        &self,
        iter: I,
        strategy: WatermarkStrategy<T>,
    ) -> DataStream<'s, T>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        let items: Box<dyn Iterator<Item = T>> = if self.worker_index() == 0 {
            Box::new(iter.into_iter())
        } else {
            Box::new(std::iter::empty())
        };
        self.source("collection", IterReader { items, consumed: 0 }, strategy)
    }

    /// A stream of records and explicit watermarks, emitted by worker 0 only: the way tests
    /// pin down exactly which records are late.
    ///
    /// ```
    /// use riffle_runtime::{execute, Collector, ExecutionConfig, Scripted};
    /// let out = Collector::new();
    /// let sink = out.clone();
    /// execute(&ExecutionConfig::default(), move |env| {
    ///     env.scripted(vec![
    ///         Scripted::Record(1_000, 'a'),
    ///         Scripted::Watermark(5_000),
    ///         Scripted::Record(6_000, 'b'),
    ///     ])
    ///     .collect_into(&sink);
    ///     Ok(())
    /// })
    /// .unwrap();
    /// assert_eq!(out.sorted(), vec!['a', 'b']);
    /// ```
    pub fn scripted<T: Data>(&self, script: Vec<Scripted<T>>) -> DataStream<'s, T> {
        let script = if self.worker_index() == 0 {
            script
        } else {
            Vec::new()
        };
        let reader = ScriptedReader {
            script: script.into_iter(),
            watermark: MIN_WATERMARK,
            batch_watermark: MIN_WATERMARK,
        };
        let strategy = WatermarkStrategy::reader_defined(|(ts, _): &(EventTime, T)| *ts);
        self.source("scripted", reader, strategy).map(|(_, v)| v)
    }
}

/// Counts a source among its worker's running sources until dropped.
/// Counts itself among the live operators of a kind while it exists.
pub(crate) struct Live(Rc<Cell<usize>>);

impl Live {
    pub(crate) fn new(count: &Rc<Cell<usize>>) -> Self {
        count.set(count.get() + 1);
        Live(Rc::clone(count))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

fn advance(cap: &mut Capability<Time>, watermark: EventTime) {
    let time = *cap.time();
    if watermark > time.watermark {
        cap.downgrade(&Time::new(time.epoch, watermark));
    }
}

struct IterReader<T> {
    items: Box<dyn Iterator<Item = T>>,
    consumed: u64,
}

const ITER_BATCH: usize = 1024;

impl<T: 'static> SourceReader<T> for IterReader<T> {
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus> {
        let before = out.len();
        out.extend(self.items.by_ref().take(ITER_BATCH));
        self.consumed += (out.len() - before) as u64;
        Ok(if out.len() - before < ITER_BATCH {
            SourceStatus::Finished
        } else {
            SourceStatus::Ready
        })
    }

    fn position(&self) -> Option<Vec<u8>> {
        Some(self.consumed.to_le_bytes().to_vec())
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        let n = decode_u64(position)?;
        for _ in self.items.by_ref().take(n as usize) {}
        self.consumed = n;
        Ok(())
    }
}

/// Reads a position stored as a little-endian `u64`.
pub fn decode_u64(position: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = position.try_into().map_err(|_| {
        RiffleError::Checkpoint(format!("bad source position of {} bytes", position.len()))
    })?;
    Ok(u64::from_le_bytes(bytes))
}

/// One step of a scripted test input: a record with its event time, or a watermark.
#[derive(Debug, Clone, PartialEq)]
pub enum Scripted<T> {
    /// A record stamped with this event time.
    Record(EventTime, T),
    /// No record at or below this event time follows (records that do are late).
    Watermark(EventTime),
}

struct ScriptedReader<T> {
    script: std::vec::IntoIter<Scripted<T>>,
    watermark: EventTime,
    batch_watermark: EventTime,
}

impl<T: 'static> SourceReader<(EventTime, T)> for ScriptedReader<T> {
    fn poll(&mut self, out: &mut Vec<(EventTime, T)>) -> Result<SourceStatus> {
        self.batch_watermark = self.watermark;
        for step in self.script.by_ref() {
            match step {
                Scripted::Record(ts, v) => out.push((ts, v)),
                Scripted::Watermark(w) => {
                    self.watermark = self.watermark.max(w);
                    if !out.is_empty() {
                        return Ok(SourceStatus::Ready);
                    }
                    self.batch_watermark = self.watermark;
                }
            }
        }
        Ok(SourceStatus::Finished)
    }

    fn batch_watermark(&self) -> Option<EventTime> {
        Some(self.batch_watermark)
    }
}
