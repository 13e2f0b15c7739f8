//! Windows over keyed streams: assigners, aggregate functions and the window operator.
//!
//! Event-time semantics, chosen so that results do not depend on the number of workers:
//! a record is *late* for a window when the window's last timestamp plus the allowed
//! lateness is at or below the watermark the record was emitted under (its time's
//! `watermark`). Lateness is thus decided by the source, not by when the record happens to
//! reach the operator. On-time records are buffered until the input frontier has passed
//! their time and applied in watermark order; a window fires once the frontier's watermark
//! reaches its last timestamp. A late record within the allowed lateness updates the window
//! and fires it again at once; a later one goes to the late output (or is dropped and
//! counted).

use std::collections::BTreeMap;
use std::hash::Hash;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, CapabilitySet};

use std::sync::Arc;

use riffle_core::{Result, RiffleError};

use crate::operator::{fire_bounds, flush, DueCaps, Epochs, Pending, TimeStash};

use crate::keyed::KeyedStream;
use crate::source::now_millis;
use crate::stream::{key_hash, Builder, DataStream};
use crate::time::{frontier_watermark, EventTime, Time, MAX_WATERMARK, MIN_WATERMARK};
use crate::Data;

/// A time interval `[start, end)` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond in the window.
    pub start: EventTime,
    /// First millisecond after the window.
    pub end: EventTime,
}

impl Window {
    /// The window's last timestamp, `end - 1`: the time its results carry.
    pub fn max_timestamp(&self) -> EventTime {
        self.end - 1
    }

    fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Which clock drives a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeDomain {
    /// Records' event times and the watermark.
    EventTime,
    /// The wall clock of the worker.
    ProcessingTime,
}

/// Which windows a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `size`, aligned to `offset`.
    Tumbling {
        /// Window length in ms.
        size: EventTime,
        /// Alignment in ms.
        offset: EventTime,
    },
    /// Windows of `size` starting every `slide`, aligned to `offset`.
    Sliding {
        /// Window length in ms.
        size: EventTime,
        /// Distance between window starts in ms.
        slide: EventTime,
        /// Alignment in ms.
        offset: EventTime,
    },
    /// Windows of activity separated by at least `gap` of silence, per key.
    Session {
        /// Inactivity gap in ms.
        gap: EventTime,
    },
    /// One window over all time, firing when the input ends.
    Global,
}

/// Assigns records to windows (Flink's `WindowAssigner`).
///
/// ```
/// use std::time::Duration;
/// use riffle_runtime::{Window, WindowAssigner};
/// let w = WindowAssigner::sliding(Duration::from_secs(10), Duration::from_secs(5));
/// assert_eq!(
///     w.assign(12_000),
///     vec![Window { start: 10_000, end: 20_000 }, Window { start: 5_000, end: 15_000 }]
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowAssigner {
    /// The shape of the windows.
    pub kind: WindowKind,
    /// The clock that fires them.
    pub domain: TimeDomain,
}

fn millis(d: Duration) -> EventTime {
    d.as_millis() as EventTime
}

impl WindowAssigner {
    /// Event-time tumbling windows of `size`.
    pub fn tumbling(size: Duration) -> Self {
        WindowAssigner {
            kind: WindowKind::Tumbling {
                size: millis(size).max(1),
                offset: 0,
            },
            domain: TimeDomain::EventTime,
        }
    }

    /// Event-time sliding windows of `size`, one starting every `slide`.
    pub fn sliding(size: Duration, slide: Duration) -> Self {
        WindowAssigner {
            kind: WindowKind::Sliding {
                size: millis(size).max(1),
                slide: millis(slide).max(1),
                offset: 0,
            },
            domain: TimeDomain::EventTime,
        }
    }

    /// Event-time session windows closed by `gap` of inactivity.
    pub fn session(gap: Duration) -> Self {
        WindowAssigner {
            kind: WindowKind::Session {
                gap: millis(gap).max(1),
            },
            domain: TimeDomain::EventTime,
        }
    }

    /// One window per key over the whole stream; it fires when the input ends (Flink's
    /// `GlobalWindows` with an end-of-input trigger).
    pub fn global() -> Self {
        WindowAssigner {
            kind: WindowKind::Global,
            domain: TimeDomain::EventTime,
        }
    }

    /// The same windows, fired by the wall clock instead of the watermark.
    pub fn processing_time(mut self) -> Self {
        self.domain = TimeDomain::ProcessingTime;
        self
    }

    /// Shifts tumbling and sliding windows' alignment by `offset` (for example to a time zone).
    pub fn with_offset(mut self, offset: Duration) -> Self {
        match &mut self.kind {
            WindowKind::Tumbling { offset: o, .. } | WindowKind::Sliding { offset: o, .. } => {
                *o = millis(offset)
            }
            WindowKind::Session { .. } | WindowKind::Global => {}
        }
        self
    }

    /// The windows a record at `ts` belongs to, latest first.
    pub fn assign(&self, ts: EventTime) -> Vec<Window> {
        let mut out = Vec::new();
        self.assign_into(ts, &mut out);
        out
    }

    fn assign_into(&self, ts: EventTime, out: &mut Vec<Window>) {
        out.clear();
        match self.kind {
            WindowKind::Tumbling { size, offset } => {
                let start = ts - (ts - offset).rem_euclid(size);
                out.push(Window {
                    start,
                    end: start.saturating_add(size),
                });
            }
            WindowKind::Sliding {
                size,
                slide,
                offset,
            } => {
                let mut start = ts - (ts - offset).rem_euclid(slide);
                while start > ts - size {
                    out.push(Window {
                        start,
                        end: start.saturating_add(size),
                    });
                    start -= slide;
                }
            }
            WindowKind::Session { gap } => out.push(Window {
                start: ts,
                end: ts.saturating_add(gap),
            }),
            WindowKind::Global => out.push(Window {
                start: EventTime::MIN,
                end: EventTime::MAX,
            }),
        }
    }
}

/// An incremental aggregation (Flink's `AggregateFunction`): an accumulator per window and
/// key, updated per record, merged when session windows merge.
pub trait AggregateFunction<T>: 'static {
    /// The running state.
    type Acc: Data;
    /// The result.
    type Out: Data;
    /// A fresh accumulator.
    fn create(&self) -> Self::Acc;
    /// Adds one record.
    fn add(&self, acc: &mut Self::Acc, value: T);
    /// Folds `other` into `acc` (both for the same key).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
    /// The result of an accumulator.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
}

/// Counts records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<T> AggregateFunction<T> for Count {
    type Acc = u64;
    type Out = u64;
    fn create(&self) -> u64 {
        0
    }
    fn add(&self, acc: &mut u64, _value: T) {
        *acc += 1;
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// Folds records with a reduce function (Flink's `ReduceFunction`).
pub struct Reduce<F>(pub F);

impl<T: Data, F: Fn(T, T) -> T + 'static> AggregateFunction<T> for Reduce<F> {
    type Acc = Option<T>;
    type Out = T;
    fn create(&self) -> Option<T> {
        None
    }
    fn add(&self, acc: &mut Option<T>, value: T) {
        *acc = Some(match acc.take() {
            Some(a) => (self.0)(a, value),
            None => value,
        });
    }
    fn merge(&self, acc: &mut Option<T>, other: Option<T>) {
        if let Some(o) = other {
            self.add(acc, o);
        }
    }
    fn result(&self, acc: &Option<T>) -> T {
        match acc {
            Some(a) => a.clone(),
            // A window exists only once a record reached it, so its accumulator is Some.
            None => unreachable_empty_window(),
        }
    }
}

#[cold]
fn unreachable_empty_window() -> ! {
    unreachable!("a window accumulator is created with its first record")
}

/// Keeps every record of the window, for window process functions.
#[derive(Debug, Clone, Copy, Default)]
pub struct CollectAll;

impl<T: Data> AggregateFunction<T> for CollectAll {
    type Acc = Vec<T>;
    type Out = Vec<T>;
    fn create(&self) -> Vec<T> {
        Vec::new()
    }
    fn add(&self, acc: &mut Vec<T>, value: T) {
        acc.push(value);
    }
    fn merge(&self, acc: &mut Vec<T>, other: Vec<T>) {
        acc.extend(other);
    }
    fn result(&self, acc: &Vec<T>) -> Vec<T> {
        acc.clone()
    }
}

/// A window's result for one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Windowed<K, V> {
    /// The key.
    pub key: K,
    /// The window.
    pub window: Window,
    /// The aggregate.
    pub value: V,
}

/// What the window operator emits: results, and late records when asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum WindowEvent<K, V, T> {
    Fired(Windowed<K, V>),
    Late(T),
}

/// A keyed stream cut into windows: finish it with an aggregation.
pub struct WindowedStream<'s, K: Data, T: Data> {
    keyed: KeyedStream<'s, K, T>,
    assigner: WindowAssigner,
    allowed_lateness: EventTime,
}

impl<'s, K: Data + Hash + Eq, T: Data> WindowedStream<'s, K, T> {
    pub(crate) fn new(keyed: KeyedStream<'s, K, T>, assigner: WindowAssigner) -> Self {
        WindowedStream {
            keyed,
            assigner,
            allowed_lateness: 0,
        }
    }

    /// Keeps windows open for `lateness` after they fire: late records within it update the
    /// window and fire it again.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.allowed_lateness = millis(lateness);
        self
    }

    /// Aggregates each window incrementally with `agg`; late records are dropped and counted
    /// (counter `window.late_records_dropped`).
    pub fn aggregate<A: AggregateFunction<T>>(self, agg: A) -> DataStream<'s, Windowed<K, A::Out>> {
        self.aggregate_with_late(agg).0
    }

    /// Like [`WindowedStream::aggregate`], and also returns the late records as a side stream.
    #[allow(clippy::type_complexity)]
    pub fn aggregate_with_late<A: AggregateFunction<T>>(
        self,
        agg: A,
    ) -> (DataStream<'s, Windowed<K, A::Out>>, DataStream<'s, T>) {
        let events = self.build(agg);
        let fired = events.clone().flat_map(|e| match e {
            WindowEvent::Fired(w) => Some(w),
            WindowEvent::Late(_) => None,
        });
        let late = events.flat_map(|e| match e {
            WindowEvent::Late(t) => Some(t),
            WindowEvent::Fired(_) => None,
        });
        (fired, late)
    }

    /// Counts the records of each window.
    pub fn count(self) -> DataStream<'s, Windowed<K, u64>> {
        self.aggregate(Count)
    }

    /// Folds the records of each window with `f`.
    pub fn reduce(self, f: impl Fn(T, T) -> T + 'static) -> DataStream<'s, Windowed<K, T>> {
        self.aggregate(Reduce(f))
    }

    /// Calls `f` with all records of each window when it fires (Flink's
    /// `ProcessWindowFunction`); `f`'s outputs form the result stream.
    pub fn process<O: Data, I: IntoIterator<Item = O>>(
        self,
        mut f: impl FnMut(&K, &Window, Vec<T>) -> I + 'static,
    ) -> DataStream<'s, O> {
        self.aggregate(CollectAll)
            .flat_map(move |w| f(&w.key, &w.window, w.value))
    }

    fn build<A: AggregateFunction<T>>(self, agg: A) -> DataStream<'s, WindowEvent<K, A::Out, T>> {
        let WindowedStream {
            keyed,
            assigner,
            allowed_lateness,
        } = self;
        let env = keyed.stream.env.clone();
        let late_dropped = env.job.counter("window.late_records_dropped");
        let key_fn = Rc::clone(&keyed.key);
        let exchange_key = Rc::clone(&keyed.key);
        let exchange = Exchange::new(move |(_, v): &(EventTime, T)| key_hash(&exchange_key(v)));
        let scope = env.scope;
        let job = Arc::clone(&env.job);
        let worker = env.worker_index();
        let stream = keyed
            .stream
            .stream
            .unary_frontier::<Builder<WindowEvent<K, A::Out, T>>, _, _, _>(
                exchange,
                "window",
                move |default_cap, info| {
                    let activator = scope.activator_for(info.address);
                    let mut epochs = Epochs::new(&job, format!("op{}", info.local_id), worker);
                    let mut state = WindowState::<K, T, A>::new(agg, assigner, allowed_lateness);
                    let restart = default_cap.delayed(&Time::new(epochs.current, MIN_WATERMARK));
                    if let Err(error) = epochs.restore(|b| state.restore(b, &restart)) {
                        job.fail(error);
                    }
                    let mut held = CapabilitySet::from_elem(default_cap);
                    let mut stash = TimeStash::new();
                    let mut emitted: Pending<WindowEvent<K, A::Out, T>> = Vec::new();
                    move |(input, frontier), output| {
                        let processing = assigner.domain == TimeDomain::ProcessingTime;
                        input.for_each(|cap, data| stash.insert(&cap, data));
                        let watermark = frontier_watermark(frontier);
                        loop {
                            let groups =
                                stash.release(frontier, processing, epochs.limit(frontier));
                            // Records still held (of later epochs) bound what may fire.
                            let bound = watermark.min(stash.min_watermark());
                            let fire_to = fire_bounds(&groups, bound);
                            for ((time, cap, records), fire_to) in groups.into_iter().zip(fire_to) {
                                // Windows this group's records would be late for fire first:
                                // every on-time record of theirs came under an earlier time.
                                if !processing {
                                    state.fire_until(fire_to, &mut emitted);
                                }
                                let now = now_millis();
                                for (ts, value) in records {
                                    let key = key_fn(&value);
                                    let at = if processing { now } else { ts };
                                    if let Some(late) =
                                        state.add(key, at, value, &cap, &mut emitted)
                                    {
                                        late_dropped.fetch_add(1, Ordering::Relaxed);
                                        emitted.push((time, at, WindowEvent::Late(late)));
                                    }
                                }
                                flush(&mut emitted, Some(&cap), &held, &state.due, output);
                            }
                            let Some(closed) = epochs.close(frontier) else {
                                break;
                            };
                            if !processing {
                                state.fire_until(bound, &mut emitted);
                                flush(&mut emitted, None, &held, &state.due, output);
                            }
                            if let Err(error) = epochs.checkpoint(closed, || state.snapshot()) {
                                job.fail(error);
                            }
                            state.due.advance_epoch(epochs.current);
                        }
                        let fire_to = if processing {
                            if frontier.is_empty() {
                                MAX_WATERMARK
                            } else {
                                now_millis()
                            }
                        } else {
                            watermark.min(stash.min_watermark())
                        };
                        state.fire_until(fire_to, &mut emitted);
                        flush(&mut emitted, None, &held, &state.due, output);
                        state.cleanup_until(fire_to);
                        state.due.release_until(fire_to);
                        held.downgrade(frontier.frontier().iter());
                        if processing {
                            if let Some(next) = state.next_fire_time() {
                                let wait = (next - now_millis()).max(0) as u64;
                                activator.activate_after(Duration::from_millis(wait + 1));
                            }
                        }
                    }
                },
            );
        DataStream::new(stream, env)
    }
}

/// One key's open windows with their accumulators.
type KeyWindows<Acc> = Vec<(Window, Acc)>;

/// Windows due at a time, by that time.
type Queue<K> = BTreeMap<EventTime, Vec<(K, Window)>>;

/// The keyed window contents of one worker, with its timers.
struct WindowState<K, T, A: AggregateFunction<T>> {
    agg: A,
    assigner: WindowAssigner,
    lateness: EventTime,
    windows: FxHashMap<K, KeyWindows<A::Acc>>,
    /// Windows to fire, by their last timestamp (stale entries of merged sessions skipped).
    fire_queue: Queue<K>,
    /// Windows to drop after their allowed lateness, by their cleanup time.
    cleanup_queue: Queue<K>,
    /// Capabilities held for the outputs of pending windows, by last timestamp.
    due: DueCaps,
    assigned: Vec<Window>,
    /// The tumbling window the last record fell in: the next one usually falls there too,
    /// which saves assigning it.
    last_tumbling: Option<Window>,
    _records: std::marker::PhantomData<T>,
}

impl<K: Data + Hash + Eq, T: Data, A: AggregateFunction<T>> WindowState<K, T, A> {
    fn new(agg: A, assigner: WindowAssigner, lateness: EventTime) -> Self {
        WindowState {
            agg,
            assigner,
            lateness,
            windows: FxHashMap::default(),
            fire_queue: BTreeMap::new(),
            cleanup_queue: BTreeMap::new(),
            due: DueCaps::new(),
            assigned: Vec::new(),
            last_tumbling: None,
            _records: std::marker::PhantomData,
        }
    }

    /// Adds a record at `ts` that arrived under `cap`. Returns it back if it is late for every
    /// window it belongs to; pushes immediate re-firings (late within lateness) to `out`.
    fn add(
        &mut self,
        key: K,
        ts: EventTime,
        value: T,
        cap: &Capability<Time>,
        out: &mut Pending<WindowEvent<K, A::Out, T>>,
    ) -> Option<T> {
        let event_time = self.assigner.domain == TimeDomain::EventTime;
        let emitted_under = cap.time().watermark;
        let mut assigned = std::mem::take(&mut self.assigned);
        match self.last_tumbling {
            Some(w) if w.start <= ts && ts < w.end => {
                assigned.clear();
                assigned.push(w);
            }
            _ => {
                self.assigner.assign_into(ts, &mut assigned);
                if matches!(self.assigner.kind, WindowKind::Tumbling { .. }) {
                    self.last_tumbling = assigned.first().copied();
                }
            }
        }
        if event_time {
            assigned.retain(|w| w.max_timestamp().saturating_add(self.lateness) > emitted_under);
        }
        if assigned.is_empty() {
            self.assigned = assigned;
            return Some(value);
        }
        let is_session = matches!(self.assigner.kind, WindowKind::Session { .. });
        let last = assigned.len() - 1;
        let mut value = Some(value);
        for (i, window) in assigned.iter().enumerate() {
            let v = if i == last {
                value.take()
            } else {
                value.clone()
            };
            let Some(v) = v else { break };
            let (window, new) = if is_session {
                self.add_to_session(&key, *window, v)
            } else {
                self.add_to_window(&key, *window, v)
            };
            let max_ts = window.max_timestamp();
            if event_time && max_ts <= emitted_under {
                // Late, but within the allowed lateness: fire the updated window now.
                if let Some(result) = self.result(&key, &window) {
                    out.push((
                        *cap.time(),
                        max_ts,
                        WindowEvent::Fired(Windowed {
                            key: key.clone(),
                            window,
                            value: result,
                        }),
                    ));
                }
            } else if new {
                self.register(&key, window, cap);
            }
        }
        self.assigned = assigned;
        None
    }

    /// Adds to `window` of `key`; returns the window and whether it was created.
    fn add_to_window(&mut self, key: &K, window: Window, value: T) -> (Window, bool) {
        let windows = self.windows.entry(key.clone()).or_default();
        match windows.iter_mut().find(|(w, _)| *w == window) {
            Some((_, acc)) => {
                self.agg.add(acc, value);
                (window, false)
            }
            None => {
                let mut acc = self.agg.create();
                self.agg.add(&mut acc, value);
                windows.push((window, acc));
                (window, true)
            }
        }
    }

    /// Adds a session `window` of `key`, merging the sessions it overlaps; returns the merged
    /// window and whether it is new (not an existing session unchanged).
    fn add_to_session(&mut self, key: &K, window: Window, value: T) -> (Window, bool) {
        let windows = self.windows.entry(key.clone()).or_default();
        if let Some((w, acc)) = windows
            .iter_mut()
            .find(|(w, _)| w.start <= window.start && window.end <= w.end)
        {
            self.agg.add(acc, value);
            return (*w, false);
        }
        let mut merged = window;
        let mut acc = self.agg.create();
        self.agg.add(&mut acc, value);
        let mut i = 0;
        while i < windows.len() {
            if windows[i].0.overlaps(&merged) {
                let (w, other) = windows.swap_remove(i);
                merged = Window {
                    start: merged.start.min(w.start),
                    end: merged.end.max(w.end),
                };
                self.agg.merge(&mut acc, other);
                // The merged window may now reach windows it did not before: rescan.
                i = 0;
            } else {
                i += 1;
            }
        }
        windows.push((merged, acc));
        (merged, true)
    }

    fn result(&self, key: &K, window: &Window) -> Option<A::Out> {
        self.windows
            .get(key)?
            .iter()
            .find(|(w, _)| w == window)
            .map(|(_, acc)| self.agg.result(acc))
    }

    /// Schedules `window` to fire and holds a capability for its result.
    fn register(&mut self, key: &K, window: Window, cap: &Capability<Time>) {
        let max_ts = window.max_timestamp();
        // Called once per new window (sessions only ever grow, so an extent never returns).
        self.fire_queue
            .entry(max_ts)
            .or_default()
            .push((key.clone(), window));
        self.due.hold(max_ts, cap);
    }

    /// Fires every window whose last timestamp is at most `watermark`; their results are sent
    /// under the fire capabilities, which stay held until released.
    fn fire_until(&mut self, watermark: EventTime, out: &mut Pending<WindowEvent<K, A::Out, T>>) {
        while let Some(entry) = self.fire_queue.first_entry() {
            let max_ts = *entry.key();
            if max_ts > watermark {
                break;
            }
            let due = entry.remove();
            let Some(time) = self.due.get(max_ts).map(|c| *c.time()) else {
                continue;
            };
            for (key, window) in due {
                let Some(result) = self.result(&key, &window) else {
                    continue; // merged into a larger session since it was scheduled
                };
                out.push((
                    time,
                    max_ts,
                    WindowEvent::Fired(Windowed {
                        key: key.clone(),
                        window,
                        value: result,
                    }),
                ));
                let cleanup = max_ts.saturating_add(self.lateness);
                if self.lateness == 0 {
                    self.remove(&key, &window);
                } else {
                    self.cleanup_queue
                        .entry(cleanup)
                        .or_default()
                        .push((key, window));
                }
            }
        }
    }

    fn remove(&mut self, key: &K, window: &Window) {
        if let Some(windows) = self.windows.get_mut(key) {
            windows.retain(|(w, _)| w != window);
            if windows.is_empty() {
                self.windows.remove(key);
            }
        }
    }

    /// Drops windows whose allowed lateness has passed.
    fn cleanup_until(&mut self, watermark: EventTime) {
        while let Some(entry) = self.cleanup_queue.first_entry() {
            if *entry.key() >= watermark && watermark != MAX_WATERMARK {
                break;
            }
            for (key, window) in entry.remove() {
                self.remove(&key, &window);
            }
        }
    }

    /// Serializes the window contents and timers.
    fn snapshot(&self) -> Result<Vec<u8>> {
        let windows: Vec<(&K, &KeyWindows<A::Acc>)> = self.windows.iter().collect();
        bincode::serialize(&(windows, &self.fire_queue, &self.cleanup_queue))
            .map_err(|e| RiffleError::Checkpoint(format!("cannot serialize window state: {e}")))
    }

    /// Restores a snapshot, holding capabilities (derived from `cap`) for pending windows.
    fn restore(&mut self, bytes: &[u8], cap: &Capability<Time>) -> Result<()> {
        type Snapshot<K, Acc> = (Vec<(K, KeyWindows<Acc>)>, Queue<K>, Queue<K>);
        let (windows, fire_queue, cleanup_queue): Snapshot<K, A::Acc> = bincode::deserialize(bytes)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot read window state: {e}")))?;
        self.windows = windows.into_iter().collect();
        self.fire_queue = fire_queue;
        self.cleanup_queue = cleanup_queue;
        for due in self.fire_queue.keys() {
            self.due.hold(*due, cap);
        }
        Ok(())
    }

    fn next_fire_time(&self) -> Option<EventTime> {
        self.fire_queue.keys().next().copied()
    }
}
