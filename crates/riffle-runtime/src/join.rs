//! Two-input operators: connected streams with a co-process function, and the three joins
//! (window, interval, regular), all built on the keyed process and window operators over
//! the union of both inputs.

use std::hash::Hash;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::keyed::KeyedStream;
use crate::process::{Context, KeyedProcessFunction, Timer};
use crate::state::ListState;
use crate::stream::DataStream;
use crate::time::EventTime;
use crate::window::WindowAssigner;
use crate::Data;

/// One of two things: a record of the left or of the right input, or a main and a side
/// output (split them with [`DataStream::split`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Either<L, R> {
    /// The first kind.
    Left(L),
    /// The second kind.
    Right(R),
}

impl<'s, L: Data, R: Data> DataStream<'s, Either<L, R>> {
    /// Splits into the left and right records: the way a function emits a side output.
    pub fn split(self) -> (DataStream<'s, L>, DataStream<'s, R>) {
        let left = self.clone().flat_map(|e| match e {
            Either::Left(l) => Some(l),
            Either::Right(_) => None,
        });
        let right = self.flat_map(|e| match e {
            Either::Right(r) => Some(r),
            Either::Left(_) => None,
        });
        (left, right)
    }
}

/// Two streams processed together, sharing keyed state (Flink's `ConnectedStreams`).
pub struct ConnectedStreams<'s, A: Data, B: Data> {
    left: DataStream<'s, A>,
    right: DataStream<'s, B>,
}

impl<'s, A: Data> DataStream<'s, A> {
    /// Connects this stream with `other` for a two-input function.
    pub fn connect<B: Data>(self, other: DataStream<'s, B>) -> ConnectedStreams<'s, A, B> {
        ConnectedStreams {
            left: self,
            right: other,
        }
    }

    /// Joins with `other` on equal keys within each window of `assigner`: every pair of a
    /// left and a right record with the same key in the same window (Flink's window join).
    pub fn window_join<B: Data, K: Data + Hash + Eq>(
        self,
        other: DataStream<'s, B>,
        left_key: impl Fn(&A) -> K + 'static,
        right_key: impl Fn(&B) -> K + 'static,
        assigner: WindowAssigner,
    ) -> WindowJoin<'s, K, A, B> {
        let keyed = self.connect(other).key_by(left_key, right_key);
        WindowJoin {
            keyed: keyed.keyed,
            assigner,
        }
    }
}

impl<'s, A: Data, B: Data> ConnectedStreams<'s, A, B> {
    /// Partitions both inputs by key, so that records with equal keys meet.
    pub fn key_by<K: Data + Hash + Eq>(
        self,
        left_key: impl Fn(&A) -> K + 'static,
        right_key: impl Fn(&B) -> K + 'static,
    ) -> KeyedConnectedStreams<'s, K, A, B> {
        let union = self
            .left
            .map(Either::Left)
            .union(self.right.map(Either::Right));
        let keyed = union.key_by(move |e: &Either<A, B>| match e {
            Either::Left(a) => left_key(a),
            Either::Right(b) => right_key(b),
        });
        KeyedConnectedStreams { keyed }
    }
}

/// Connected streams partitioned by key.
pub struct KeyedConnectedStreams<'s, K, A: Data, B: Data> {
    keyed: KeyedStream<'s, K, Either<A, B>>,
}

/// A two-input function with keyed state and timers (Flink's `KeyedCoProcessFunction`).
pub trait KeyedCoProcessFunction<K, A, B>: 'static {
    /// State per key.
    type State: Data + Default;
    /// Output records.
    type Out: Data;
    /// Called for every left record.
    fn process_left(&mut self, value: A, ctx: &mut Context<'_, K, Self::State, Self::Out>);
    /// Called for every right record.
    fn process_right(&mut self, value: B, ctx: &mut Context<'_, K, Self::State, Self::Out>);
    /// Called when a timer of the current key fires.
    fn on_timer(&mut self, _timer: Timer, _ctx: &mut Context<'_, K, Self::State, Self::Out>) {}
}

struct CoProcess<F>(F);

impl<K, A, B, F: KeyedCoProcessFunction<K, A, B>> KeyedProcessFunction<K, Either<A, B>>
    for CoProcess<F>
{
    type State = F::State;
    type Out = F::Out;
    fn process_element(&mut self, value: Either<A, B>, ctx: &mut Context<'_, K, F::State, F::Out>) {
        match value {
            Either::Left(a) => self.0.process_left(a, ctx),
            Either::Right(b) => self.0.process_right(b, ctx),
        }
    }
    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, K, F::State, F::Out>) {
        self.0.on_timer(timer, ctx)
    }
}

impl<'s, K: Data + Hash + Eq, A: Data, B: Data> KeyedConnectedStreams<'s, K, A, B> {
    /// Runs `function` over both inputs with shared keyed state.
    pub fn process<F: KeyedCoProcessFunction<K, A, B>>(
        self,
        function: F,
    ) -> DataStream<'s, F::Out> {
        self.keyed.process(CoProcess(function))
    }
}

/// A window join waiting for its join function.
pub struct WindowJoin<'s, K, A: Data, B: Data> {
    keyed: KeyedStream<'s, K, Either<A, B>>,
    assigner: WindowAssigner,
}

impl<'s, K: Data + Hash + Eq, A: Data, B: Data> WindowJoin<'s, K, A, B> {
    /// Emits `f(key, left, right)` for every matching pair in a window, stamped with the
    /// window's last timestamp.
    pub fn apply<O: Data>(self, f: impl Fn(&K, &A, &B) -> O + 'static) -> DataStream<'s, O> {
        self.keyed
            .window(self.assigner)
            .process(move |key, _window, items| {
                let (mut lefts, mut rights) = (Vec::new(), Vec::new());
                for item in items {
                    match item {
                        Either::Left(a) => lefts.push(a),
                        Either::Right(b) => rights.push(b),
                    }
                }
                let mut out = Vec::with_capacity(lefts.len() * rights.len());
                for a in &lefts {
                    for b in &rights {
                        out.push(f(key, a, b));
                    }
                }
                out
            })
    }
}

impl<'s, K: Data + Hash + Eq, A: Data> KeyedStream<'s, K, A> {
    /// Joins with `other` where the right record's time lies within
    /// `[left time + lower, left time + upper]` (milliseconds, either may be negative), as
    /// Flink's interval join. Records that arrive below the watermark are dropped and counted
    /// (`join.late_records_dropped`).
    pub fn interval_join<B: Data>(
        self,
        other: KeyedStream<'s, K, B>,
        lower: EventTime,
        upper: EventTime,
    ) -> IntervalJoin<'s, K, A, B> {
        IntervalJoin {
            connected: connect_keyed(self, other),
            lower,
            upper,
        }
    }

    /// A regular inner join with `other` on the key: every left record meets every right
    /// record of its key, whenever each arrives. Both sides are kept in state for the
    /// lifetime of the job, as Flink's regular join without state TTL.
    pub fn join<B: Data>(self, other: KeyedStream<'s, K, B>) -> RegularJoin<'s, K, A, B> {
        RegularJoin {
            connected: connect_keyed(self, other),
        }
    }
}

fn connect_keyed<'s, K: Data + Hash + Eq, A: Data, B: Data>(
    left: KeyedStream<'s, K, A>,
    right: KeyedStream<'s, K, B>,
) -> KeyedConnectedStreams<'s, K, A, B> {
    let (left_key, right_key) = (Rc::clone(&left.key), Rc::clone(&right.key));
    left.stream
        .connect(right.stream)
        .key_by(move |a| left_key(a), move |b| right_key(b))
}

/// An interval join waiting for its join function.
pub struct IntervalJoin<'s, K, A: Data, B: Data> {
    connected: KeyedConnectedStreams<'s, K, A, B>,
    lower: EventTime,
    upper: EventTime,
}

/// Both sides of a join, kept per key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "A: Serialize, B: Serialize",
    deserialize = "A: Deserialize<'de>, B: Deserialize<'de>"
))]
pub struct JoinSides<A, B> {
    left: ListState<(EventTime, A)>,
    right: ListState<(EventTime, B)>,
}

impl<A, B> Default for JoinSides<A, B> {
    fn default() -> Self {
        JoinSides {
            left: ListState::default(),
            right: ListState::default(),
        }
    }
}

struct IntervalJoinFunction<F> {
    lower: EventTime,
    upper: EventTime,
    f: F,
    late: Arc<AtomicU64>,
}

impl<K: Clone, A: Data, B: Data, O: Data, F: Fn(&K, &A, &B) -> O + 'static>
    KeyedCoProcessFunction<K, A, B> for IntervalJoinFunction<F>
{
    type State = JoinSides<A, B>;
    type Out = O;

    fn process_left(&mut self, a: A, ctx: &mut Context<'_, K, Self::State, O>) {
        let ts = ctx.timestamp();
        if ts < ctx.current_watermark() {
            self.late.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (lo, hi) = (ts.saturating_add(self.lower), ts.saturating_add(self.upper));
        let key = ctx.key().clone();
        let matches: Vec<(EventTime, O)> = ctx
            .state()
            .right
            .get()
            .iter()
            .filter(|(tb, _)| (lo..=hi).contains(tb))
            .map(|(tb, b)| (ts.max(*tb), (self.f)(&key, &a, b)))
            .collect();
        for (at, o) in matches {
            ctx.collect_at(at, o);
        }
        ctx.state().left.add((ts, a));
        ctx.register_event_time_timer(hi.saturating_add(1));
    }

    fn process_right(&mut self, b: B, ctx: &mut Context<'_, K, Self::State, O>) {
        let tb = ctx.timestamp();
        if tb < ctx.current_watermark() {
            self.late.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (lo, hi) = (tb.saturating_sub(self.upper), tb.saturating_sub(self.lower));
        let key = ctx.key().clone();
        let matches: Vec<(EventTime, O)> = ctx
            .state()
            .left
            .get()
            .iter()
            .filter(|(ta, _)| (lo..=hi).contains(ta))
            .map(|(ta, a)| (tb.max(*ta), (self.f)(&key, a, &b)))
            .collect();
        for (at, o) in matches {
            ctx.collect_at(at, o);
        }
        ctx.state().right.add((tb, b));
        ctx.register_event_time_timer(hi.saturating_add(1));
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, K, Self::State, O>) {
        let (lower, upper) = (self.lower, self.upper);
        // A left record can still match right records up to its time + upper; a right one
        // left records up to its time - lower.
        let now = timer.time;
        let sides = ctx.state();
        sides.left.retain(|(ta, _)| ta.saturating_add(upper) >= now);
        sides
            .right
            .retain(|(tb, _)| tb.saturating_sub(lower) >= now);
        if sides.left.is_empty() && sides.right.is_empty() {
            ctx.clear_state();
        }
    }
}

impl<'s, K: Data + Hash + Eq, A: Data, B: Data> IntervalJoin<'s, K, A, B> {
    /// Emits `f(key, left, right)` for every matching pair, stamped with the later time.
    pub fn process<O: Data>(self, f: impl Fn(&K, &A, &B) -> O + 'static) -> DataStream<'s, O> {
        let late = self
            .connected
            .keyed
            .stream
            .env
            .job
            .counter("join.late_records_dropped");
        self.connected.process(IntervalJoinFunction {
            lower: self.lower,
            upper: self.upper,
            f,
            late,
        })
    }
}

/// A regular join waiting for its join function.
pub struct RegularJoin<'s, K, A: Data, B: Data> {
    connected: KeyedConnectedStreams<'s, K, A, B>,
}

struct RegularJoinFunction<F>(F);

impl<K: Clone, A: Data, B: Data, O: Data, F: Fn(&K, &A, &B) -> O + 'static>
    KeyedCoProcessFunction<K, A, B> for RegularJoinFunction<F>
{
    type State = JoinSides<A, B>;
    type Out = O;

    fn process_left(&mut self, a: A, ctx: &mut Context<'_, K, Self::State, O>) {
        let key = ctx.key().clone();
        let out: Vec<O> = ctx
            .state()
            .right
            .get()
            .iter()
            .map(|(_, b)| (self.0)(&key, &a, b))
            .collect();
        for o in out {
            ctx.collect(o);
        }
        let ts = ctx.timestamp();
        ctx.state().left.add((ts, a));
    }

    fn process_right(&mut self, b: B, ctx: &mut Context<'_, K, Self::State, O>) {
        let key = ctx.key().clone();
        let out: Vec<O> = ctx
            .state()
            .left
            .get()
            .iter()
            .map(|(_, a)| (self.0)(&key, a, &b))
            .collect();
        for o in out {
            ctx.collect(o);
        }
        let ts = ctx.timestamp();
        ctx.state().right.add((ts, b));
    }
}

impl<'s, K: Data + Hash + Eq, A: Data, B: Data> RegularJoin<'s, K, A, B> {
    /// Emits `f(key, left, right)` for every pair with equal keys, as soon as the later of
    /// the two arrives.
    pub fn apply<O: Data>(self, f: impl Fn(&K, &A, &B) -> O + 'static) -> DataStream<'s, O> {
        self.connected.process(RegularJoinFunction(f))
    }
}
