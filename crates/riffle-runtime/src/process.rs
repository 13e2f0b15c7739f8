//! Keyed process functions: per-record logic with keyed state and event-time and
//! processing-time timers (Flink's `KeyedProcessFunction`).

use std::collections::BTreeMap;
use std::hash::Hash;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use riffle_core::{Result, RiffleError};

use rustc_hash::FxHashSet;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, CapabilitySet};

use crate::keyed::KeyedStream;
use crate::operator::{fire_bounds, flush, DueCaps, Epochs, Pending, TimeStash};
use crate::source::now_millis;
use crate::state::KeyedState;
use crate::stream::{Builder, DataStream};
use crate::time::{frontier_watermark, EventTime, Time, MAX_WATERMARK, MIN_WATERMARK};
use crate::window::TimeDomain;
use crate::Data;

/// A timer that fired: its time and clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// The time it was set for.
    pub time: EventTime,
    /// Event time (fires on the watermark) or processing time (the wall clock).
    pub domain: TimeDomain,
}

/// Per-record logic over a keyed stream, with state of type `State` per key and timers.
///
/// ```
/// use riffle_runtime::{Context, KeyedProcessFunction, ValueState};
/// /// Emits a key's running count, and its final count one second after its last record.
/// struct CountThenReport;
/// impl KeyedProcessFunction<String, String> for CountThenReport {
///     type State = ValueState<u64>;
///     type Out = (String, u64);
///     fn process_element(&mut self, _value: String, ctx: &mut Context<'_, String, Self::State, Self::Out>) {
///         let n = ctx.state().value().copied().unwrap_or(0) + 1;
///         ctx.state().update(n);
///         ctx.register_event_time_timer(ctx.timestamp() + 1000);
///     }
///     fn on_timer(&mut self, _timer: riffle_runtime::Timer, ctx: &mut Context<'_, String, Self::State, Self::Out>) {
///         let n = ctx.state().value().copied().unwrap_or(0);
///         let key = ctx.key().clone();
///         ctx.collect((key, n));
///     }
/// }
/// ```
pub trait KeyedProcessFunction<K, T>: 'static {
    /// The state kept per key (compose it from `ValueState`, `ListState`, `MapState`).
    type State: Data + Default;
    /// The output records.
    type Out: Data;
    /// Called for every record.
    fn process_element(&mut self, value: T, ctx: &mut Context<'_, K, Self::State, Self::Out>);
    /// Called when a timer of the current key fires.
    fn on_timer(&mut self, _timer: Timer, _ctx: &mut Context<'_, K, Self::State, Self::Out>) {}
}

enum TimerOp {
    Register(EventTime, TimeDomain),
    Delete(EventTime, TimeDomain),
}

/// What a process function sees of the current record or timer: its key, state, time, and
/// where to send output and set timers.
pub struct Context<'a, K, S, O> {
    key: &'a K,
    state: &'a mut S,
    timestamp: EventTime,
    watermark: EventTime,
    input_watermark: EventTime,
    out: &'a mut Vec<(EventTime, O)>,
    timers: &'a mut Vec<TimerOp>,
    clear: bool,
}

impl<K, S, O> Context<'_, K, S, O> {
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }
    /// The current key's state.
    pub fn state(&mut self) -> &mut S {
        self.state
    }
    /// Drops the current key's state after this call.
    pub fn clear_state(&mut self) {
        self.clear = true;
    }
    /// Event time of the current record, or the time of the firing timer.
    pub fn timestamp(&self) -> EventTime {
        self.timestamp
    }
    /// The watermark under which the current record arrived (for a timer, its time).
    pub fn current_watermark(&self) -> EventTime {
        self.watermark
    }
    /// The input's watermark: for a record, the one it arrived under; for an event-time
    /// timer, the one that fired it, which may be past the timer's time (a function holding
    /// records can then handle all those due with one timer instead of one timer each); for a
    /// processing-time timer, the watermark the operator's output has reached.
    pub fn input_watermark(&self) -> EventTime {
        self.input_watermark
    }
    /// Wall-clock time in milliseconds.
    pub fn current_processing_time(&self) -> EventTime {
        now_millis()
    }
    /// Emits `value` with the current timestamp.
    pub fn collect(&mut self, value: O) {
        self.out.push((self.timestamp, value));
    }
    /// Emits `value` with event time `ts`.
    pub fn collect_at(&mut self, ts: EventTime, value: O) {
        self.out.push((ts, value));
    }
    /// Calls `on_timer` for this key once the watermark reaches `time`.
    pub fn register_event_time_timer(&mut self, time: EventTime) {
        self.timers
            .push(TimerOp::Register(time, TimeDomain::EventTime));
    }
    /// Calls `on_timer` for this key once the wall clock reaches `time`.
    pub fn register_processing_time_timer(&mut self, time: EventTime) {
        self.timers
            .push(TimerOp::Register(time, TimeDomain::ProcessingTime));
    }
    /// Cancels an event-time timer of this key.
    pub fn delete_event_time_timer(&mut self, time: EventTime) {
        self.timers
            .push(TimerOp::Delete(time, TimeDomain::EventTime));
    }
    /// Cancels a processing-time timer of this key.
    pub fn delete_processing_time_timer(&mut self, time: EventTime) {
        self.timers
            .push(TimerOp::Delete(time, TimeDomain::ProcessingTime));
    }
    /// Runs `call` with a context over the part of this key's state that `part` picks, so
    /// that a function wrapping another (a state time-to-live) can keep state of its own.
    /// Clearing the inner context's state clears all of the key's state.
    pub fn with_state<S2, R>(
        &mut self,
        part: impl FnOnce(&mut S) -> &mut S2,
        call: impl FnOnce(&mut Context<'_, K, S2, O>) -> R,
    ) -> R {
        let mut inner = Context {
            key: self.key,
            state: part(self.state),
            timestamp: self.timestamp,
            watermark: self.watermark,
            input_watermark: self.input_watermark,
            out: self.out,
            timers: self.timers,
            clear: false,
        };
        let result = call(&mut inner);
        self.clear |= inner.clear;
        result
    }
}

/// Records a keyed process function holds until the watermark passes them, to apply them in
/// event-time order (arrival order among equal times) with a timer per key rather than one
/// per record: [`hold`](Self::hold) asks for a timer only for a record earlier than all held
/// ones, and [`take_due`](Self::take_due), called when it fires with the input's watermark
/// ([`Context::input_watermark`]), takes every record that watermark has passed and names
/// the time of the next timer. Kept in keyed state, it is checkpointed with it.
///
/// ```
/// use riffle_runtime::EventTimeBuffer;
/// let mut held = EventTimeBuffer::default();
/// assert_eq!(held.hold(20, "b"), Some(20));
/// assert_eq!(held.hold(30, "c"), None);
/// assert_eq!(held.hold(10, "a"), Some(10));
/// let (due, next) = held.take_due(25);
/// assert_eq!(due, vec![(10, "a"), (20, "b")]);
/// assert_eq!(next, Some(30));
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EventTimeBuffer<T> {
    held: Vec<(EventTime, T)>,
}

impl<T> Default for EventTimeBuffer<T> {
    fn default() -> Self {
        EventTimeBuffer { held: Vec::new() }
    }
}

impl<T> EventTimeBuffer<T> {
    /// Holds `value` at event time `ts`; returns `Some(ts)` when a timer is wanted there (no
    /// record held is as early).
    pub fn hold(&mut self, ts: EventTime, value: T) -> Option<EventTime> {
        let earliest = self.held.first().map(|(t, _)| *t);
        let at = self.held.partition_point(|(t, _)| *t <= ts);
        self.held.insert(at, (ts, value));
        earliest.is_none_or(|e| ts < e).then_some(ts)
    }

    /// Takes the records at or before `upto`, in order, and returns them with the time of
    /// the earliest record still held (where the next timer goes).
    pub fn take_due(&mut self, upto: EventTime) -> (Vec<(EventTime, T)>, Option<EventTime>) {
        let due = self.held.partition_point(|(t, _)| *t <= upto);
        let records = self.held.drain(..due).collect();
        (records, self.held.first().map(|(t, _)| *t))
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// Timers of one clock: due times with their keys, deduplicated, deletable.
struct TimerQueue<K> {
    queue: BTreeMap<EventTime, Vec<K>>,
    live: FxHashSet<(K, EventTime)>,
}

impl<K: Data + Hash + Eq> TimerQueue<K> {
    fn new() -> Self {
        TimerQueue {
            queue: BTreeMap::new(),
            live: FxHashSet::default(),
        }
    }

    /// Registers; returns true if the timer is new.
    fn register(&mut self, key: &K, time: EventTime) -> bool {
        if self.live.insert((key.clone(), time)) {
            self.queue.entry(time).or_default().push(key.clone());
            true
        } else {
            false
        }
    }

    fn delete(&mut self, key: &K, time: EventTime) {
        self.live.remove(&(key.clone(), time));
    }

    /// The earliest live timer due at or before `until`.
    fn pop(&mut self, until: EventTime) -> Option<(EventTime, K)> {
        loop {
            let mut entry = self.queue.first_entry()?;
            let time = *entry.key();
            if time > until {
                return None;
            }
            let key = entry.get_mut().pop();
            if entry.get().is_empty() {
                entry.remove();
            }
            if let Some(key) = key {
                if self.live.remove(&(key.clone(), time)) {
                    return Some((time, key));
                }
            }
        }
    }

    fn next(&self) -> Option<EventTime> {
        self.queue.keys().next().copied()
    }

    fn live(&self) -> Vec<(K, EventTime)> {
        self.live.iter().cloned().collect()
    }
}

/// The process operator's per-worker state: keyed state, timers, and their capabilities.
struct ProcessState<K, T, F: KeyedProcessFunction<K, T>> {
    function: F,
    state: KeyedState<K, F::State>,
    event_timers: TimerQueue<K>,
    processing_timers: TimerQueue<K>,
    due: DueCaps,
    out: Vec<(EventTime, F::Out)>,
    ops: Vec<TimerOp>,
    _records: std::marker::PhantomData<T>,
}

impl<K: Data + Hash + Eq, T: Data, F: KeyedProcessFunction<K, T>> ProcessState<K, T, F> {
    /// Runs `call` for `key` with a context, then applies its timer operations. `cap` is the
    /// capability event-time timers it sets are held from.
    fn with_context(
        &mut self,
        key: &K,
        timestamp: EventTime,
        (watermark, input_watermark): (EventTime, EventTime),
        cap: Option<&timely::dataflow::operators::Capability<Time>>,
        call: impl FnOnce(&mut F, &mut Context<'_, K, F::State, F::Out>),
    ) {
        let mut ctx = Context {
            key,
            state: self.state.get_mut(key),
            timestamp,
            watermark,
            input_watermark,
            out: &mut self.out,
            timers: &mut self.ops,
            clear: false,
        };
        call(&mut self.function, &mut ctx);
        if ctx.clear {
            self.state.remove(key);
        }
        for op in self.ops.drain(..) {
            match op {
                TimerOp::Register(t, TimeDomain::EventTime) => {
                    if self.event_timers.register(key, t) {
                        if let Some(cap) = cap {
                            self.due.hold(t, cap);
                        }
                    }
                }
                TimerOp::Register(t, TimeDomain::ProcessingTime) => {
                    self.processing_timers.register(key, t);
                }
                TimerOp::Delete(t, TimeDomain::EventTime) => self.event_timers.delete(key, t),
                TimerOp::Delete(t, TimeDomain::ProcessingTime) => {
                    self.processing_timers.delete(key, t)
                }
            }
        }
    }

    /// Fires event-time timers due at or before `watermark`, queuing their output.
    fn fire_event_timers(
        &mut self,
        watermark: EventTime,
        pending: &mut Pending<F::Out>,
        fallback: Time,
    ) {
        while let Some((time, key)) = self.event_timers.pop(watermark) {
            let due_time = self.due.get(time).map(|c| *c.time()).unwrap_or(fallback);
            let cap = self.due.get(time).cloned();
            self.with_context(&key, time, (time, watermark), cap.as_ref(), |f, ctx| {
                f.on_timer(
                    Timer {
                        time,
                        domain: TimeDomain::EventTime,
                    },
                    ctx,
                )
            });
            pending.extend(self.out.drain(..).map(|(ts, v)| (due_time, ts, v)));
        }
    }

    /// Serializes keyed state and live timers.
    fn snapshot(&self) -> Result<Vec<u8>> {
        let state = self.state.snapshot()?;
        let timers = (self.event_timers.live(), self.processing_timers.live());
        bincode::serialize(&(state, timers))
            .map_err(|e| RiffleError::Checkpoint(format!("cannot serialize process state: {e}")))
    }

    /// Restores a snapshot, holding capabilities (derived from `cap`) for event-time timers.
    fn restore(&mut self, bytes: &[u8], cap: &Capability<Time>) -> Result<()> {
        type Timers<K> = (Vec<(K, EventTime)>, Vec<(K, EventTime)>);
        let (state, (event, processing)): (Vec<u8>, Timers<K>) = bincode::deserialize(bytes)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot read process state: {e}")))?;
        self.state.restore(&state)?;
        for (key, time) in event {
            self.event_timers.register(&key, time);
            self.due.hold(time, cap);
        }
        for (key, time) in processing {
            self.processing_timers.register(&key, time);
        }
        Ok(())
    }

    fn fire_processing_timers(&mut self, now: EventTime, pending: &mut Pending<F::Out>, at: Time) {
        while let Some((time, key)) = self.processing_timers.pop(now) {
            self.with_context(&key, time, (time, at.watermark), None, |f, ctx| {
                f.on_timer(
                    Timer {
                        time,
                        domain: TimeDomain::ProcessingTime,
                    },
                    ctx,
                )
            });
            pending.extend(self.out.drain(..).map(|(ts, v)| (at, ts, v)));
        }
    }
}

impl<'s, K: Data + Hash + Eq, T: Data> KeyedStream<'s, K, T> {
    /// Runs `function` on every record with its key's state and timers.
    pub fn process<F: KeyedProcessFunction<K, T>>(self, function: F) -> DataStream<'s, F::Out> {
        let exchange = self.exchange();
        let key_fn = Rc::clone(&self.key);
        let env = self.stream.env.clone();
        let scope = env.scope;
        let job = Arc::clone(&env.job);
        let worker = env.worker_index();
        let stream = self
            .stream
            .stream
            .unary_frontier::<Builder<F::Out>, _, _, _>(
                exchange,
                "process",
                move |default_cap, info| {
                    let activator = scope.activator_for(info.address);
                    let mut epochs = Epochs::new(&job, format!("op{}", info.local_id), worker);
                    let mut st = ProcessState::<K, T, F> {
                        function,
                        state: KeyedState::default(),
                        event_timers: TimerQueue::new(),
                        processing_timers: TimerQueue::new(),
                        due: DueCaps::new(),
                        out: Vec::new(),
                        ops: Vec::new(),
                        _records: std::marker::PhantomData,
                    };
                    let restart = default_cap.delayed(&Time::new(epochs.current, MIN_WATERMARK));
                    if let Err(error) = epochs.restore(|b| st.restore(b, &restart)) {
                        job.fail(error);
                    }
                    let mut held = CapabilitySet::from_elem(default_cap);
                    let mut stash = TimeStash::new();
                    let mut pending: Pending<F::Out> = Vec::new();
                    move |(input, frontier), output| {
                        input.for_each(|cap, data| stash.insert(&cap, data));
                        let watermark = frontier_watermark(frontier);
                        loop {
                            let groups = stash.release(frontier, false, epochs.limit(frontier));
                            let bound = watermark.min(stash.min_watermark());
                            let fire_to = fire_bounds(&groups, bound);
                            for ((time, cap, records), fire_to) in groups.into_iter().zip(fire_to) {
                                st.fire_event_timers(fire_to, &mut pending, time);
                                flush(&mut pending, Some(&cap), &held, &st.due, output);
                                for (ts, value) in records {
                                    let key = key_fn(&value);
                                    st.with_context(
                                        &key,
                                        ts,
                                        (time.watermark, time.watermark),
                                        Some(&cap),
                                        |f, ctx| f.process_element(value, ctx),
                                    );
                                    pending.extend(st.out.drain(..).map(|(ts, v)| (time, ts, v)));
                                }
                                flush(&mut pending, Some(&cap), &held, &st.due, output);
                            }
                            let Some(closed) = epochs.close(frontier) else {
                                break;
                            };
                            if let Some(at) = held.first().map(|c| *c.time()) {
                                st.fire_event_timers(bound, &mut pending, at);
                                flush(&mut pending, None, &held, &st.due, output);
                            }
                            if let Err(error) = epochs.checkpoint(closed, || st.snapshot()) {
                                job.fail(error);
                            }
                            st.due.advance_epoch(epochs.current);
                        }
                        if let Some(at) = held.first().map(|c| *c.time()) {
                            st.fire_event_timers(
                                watermark.min(stash.min_watermark()),
                                &mut pending,
                                at,
                            );
                            let now = if frontier.is_empty() {
                                MAX_WATERMARK
                            } else {
                                now_millis()
                            };
                            st.fire_processing_timers(now, &mut pending, at);
                            flush(&mut pending, None, &held, &st.due, output);
                        }
                        st.due.release_until(watermark.min(stash.min_watermark()));
                        held.downgrade(frontier.frontier().iter());
                        if let Some(next) = st.processing_timers.next() {
                            let wait = (next - now_millis()).max(0) as u64;
                            activator.activate_after(Duration::from_millis(wait + 1));
                        }
                    }
                },
            );
        DataStream::new(stream, env)
    }
}
