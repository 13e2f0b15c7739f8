//! Sources: readers polled by a timely source operator, with timestamps and watermarks.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use riffle_core::Result;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;

use crate::job::Env;
use crate::stream::DataStream;
use crate::time::{EventTime, Time, MIN_WATERMARK};
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
    /// stays at its minimum until the source ends: for jobs without event-time operators or
    /// with processing-time windows only.
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
    fn stamp(&mut self, value: &T) -> EventTime {
        let ts = match &self.strategy.timestamp {
            Some(f) => f(value),
            None => now_millis(),
        };
        self.max_timestamp = self.max_timestamp.max(ts);
        ts
    }

    fn watermark(&self) -> EventTime {
        match self.strategy.out_of_orderness {
            Some(bound) if self.max_timestamp > MIN_WATERMARK => {
                self.max_timestamp.saturating_sub(bound).saturating_sub(1)
            }
            _ => MIN_WATERMARK,
        }
    }
}

/// How many polls a source makes per activation before yielding to other operators.
const POLLS_PER_ACTIVATION: usize = 16;

impl<'s> Env<'s> {
    /// A stream read by `reader` on this worker, stamped and watermarked by `strategy`.
    pub fn source<T: Data>(
        &self,
        name: &str,
        reader: impl SourceReader<T>,
        strategy: WatermarkStrategy<T>,
    ) -> DataStream<'s, T> {
        let scope = self.scope;
        let job = std::sync::Arc::clone(&self.job);
        let records = job.counter(&format!("source.{name}.records"));
        let mut reader = reader;
        let stream = source::<_, CapacityContainerBuilder<Vec<(EventTime, T)>>, _, _>(
            scope,
            name,
            move |capability, info| {
                let activator = scope.activator_for(info.address);
                let mut capability = Some(capability);
                let mut tracker = WatermarkTracker {
                    strategy,
                    max_timestamp: MIN_WATERMARK,
                };
                let mut batch = Vec::new();
                let mut idle_since: Option<Instant> = None;
                move |output| {
                    let Some(cap) = capability.as_mut() else {
                        return;
                    };
                    if job.is_cancelled() {
                        capability = None;
                        return;
                    }
                    for _ in 0..POLLS_PER_ACTIVATION {
                        batch.clear();
                        let status = match reader.poll(&mut batch) {
                            Ok(status) => status,
                            Err(error) => {
                                job.fail(error);
                                capability = None;
                                return;
                            }
                        };
                        let reader_watermark = reader.batch_watermark();
                        if let Some(wm) = reader_watermark {
                            advance(cap, wm);
                        }
                        if !batch.is_empty() {
                            idle_since = None;
                            records.fetch_add(batch.len() as u64, Ordering::Relaxed);
                            let mut session = output.session(&*cap);
                            for value in batch.drain(..) {
                                let ts = tracker.stamp(&value);
                                session.give((ts, value));
                            }
                            drop(session);
                            if reader_watermark.is_none() {
                                advance(cap, tracker.watermark());
                            }
                            job.observe_watermark(cap.time().watermark);
                        }
                        match status {
                            SourceStatus::Ready => {}
                            SourceStatus::Finished => {
                                capability = None;
                                return;
                            }
                            SourceStatus::Idle => {
                                let since = *idle_since.get_or_insert_with(Instant::now);
                                if let Some(timeout) = tracker.strategy.idle_timeout {
                                    if since.elapsed() >= timeout {
                                        advance(cap, job.max_watermark());
                                    }
                                }
                                activator.activate_after(Duration::from_millis(1));
                                return;
                            }
                        }
                    }
                    activator.activate();
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
        self.source("collection", IterReader { items }, strategy)
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

fn advance(cap: &mut timely::dataflow::operators::Capability<Time>, watermark: EventTime) {
    let time = *cap.time();
    if watermark > time.watermark {
        cap.downgrade(&Time::new(time.epoch, watermark));
    }
}

struct IterReader<T> {
    items: Box<dyn Iterator<Item = T>>,
}

const ITER_BATCH: usize = 1024;

impl<T: 'static> SourceReader<T> for IterReader<T> {
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus> {
        out.extend(self.items.by_ref().take(ITER_BATCH));
        Ok(if out.len() < ITER_BATCH {
            SourceStatus::Finished
        } else {
            SourceStatus::Ready
        })
    }
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
