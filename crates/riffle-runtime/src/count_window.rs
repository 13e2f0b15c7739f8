//! Count windows (Flink's `countWindow`): per key, a window of the last `size` records that
//! fires every `slide` records; and rolling aggregates over all of a key's records.

use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::keyed::KeyedStream;
use crate::process::{Context, KeyedProcessFunction};
use crate::state::{ListState, ValueState};
use crate::stream::DataStream;
use crate::window::{AggregateFunction, Window, Windowed};
use crate::Data;

/// A keyed stream cut into count windows: finish it with an aggregation.
pub struct CountWindowedStream<'s, K, T: Data> {
    keyed: KeyedStream<'s, K, T>,
    size: u64,
    slide: u64,
}

/// Per key: the last records (at most `size`) and how many records the key has had.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub struct CountWindowState<T> {
    recent: ListState<T>,
    seen: u64,
}

impl<T> Default for CountWindowState<T> {
    fn default() -> Self {
        CountWindowState {
            recent: ListState::default(),
            seen: 0,
        }
    }
}

struct CountWindowFunction<A> {
    agg: A,
    size: u64,
    slide: u64,
}

impl<K: Data, T: Data, A: AggregateFunction<T>> KeyedProcessFunction<K, T>
    for CountWindowFunction<A>
{
    type State = CountWindowState<T>;
    type Out = Windowed<K, A::Out>;

    fn process_element(&mut self, value: T, ctx: &mut Context<'_, K, Self::State, Self::Out>) {
        let (size, slide) = (self.size, self.slide);
        let state = ctx.state();
        state.recent.add(value);
        state.seen += 1;
        if state.recent.len() as u64 > size {
            let excess = state.recent.len() - size as usize;
            let kept = state.recent.get()[excess..].to_vec();
            state.recent.update(kept);
        }
        if !state.seen.is_multiple_of(slide) {
            return;
        }
        let mut acc = self.agg.create();
        for v in state.recent.get() {
            self.agg.add(&mut acc, v.clone());
        }
        let end = state.seen as i64;
        let start = end - state.recent.len() as i64;
        let result = self.agg.result(&acc);
        let key = ctx.key().clone();
        ctx.collect(Windowed {
            key,
            window: Window { start, end },
            value: result,
        });
    }
}

impl<'s, K: Data + Hash + Eq, T: Data> CountWindowedStream<'s, K, T> {
    /// Aggregates each count window with `agg`. A result's `window` holds record positions
    /// within its key: `[start, end)` counts the key's records from 0.
    pub fn aggregate<A: AggregateFunction<T>>(self, agg: A) -> DataStream<'s, Windowed<K, A::Out>> {
        self.keyed.process(CountWindowFunction {
            agg,
            size: self.size,
            slide: self.slide,
        })
    }

    /// Folds each count window with `f`.
    pub fn reduce(self, f: impl Fn(T, T) -> T + 'static) -> DataStream<'s, Windowed<K, T>> {
        self.aggregate(crate::window::Reduce(f))
    }
}

struct RollingAggregate<A>(A);

impl<K: Data, T: Data, A: AggregateFunction<T>> KeyedProcessFunction<K, T> for RollingAggregate<A> {
    type State = ValueState<A::Acc>;
    type Out = (K, A::Out);

    fn process_element(&mut self, value: T, ctx: &mut Context<'_, K, Self::State, Self::Out>) {
        let mut acc = match ctx.state().value() {
            Some(acc) => acc.clone(),
            None => self.0.create(),
        };
        self.0.add(&mut acc, value);
        let result = self.0.result(&acc);
        ctx.state().update(acc);
        let key = ctx.key().clone();
        ctx.collect((key, result));
    }
}

impl<'s, K: Data + Hash + Eq, T: Data> KeyedStream<'s, K, T> {
    /// Tumbling count windows: per key, every `size` records form a window.
    pub fn count_window(self, size: u64) -> CountWindowedStream<'s, K, T> {
        self.count_window_sliding(size, size)
    }

    /// Sliding count windows: per key, every `slide` records, a window of the last `size`.
    pub fn count_window_sliding(self, size: u64, slide: u64) -> CountWindowedStream<'s, K, T> {
        CountWindowedStream {
            keyed: self,
            size: size.max(1),
            slide: slide.max(1),
        }
    }

    /// A rolling aggregate (Flink's keyed `aggregate` without windows): after every record,
    /// emits its key and the aggregate of all the key's records so far.
    pub fn aggregate<A: AggregateFunction<T>>(self, agg: A) -> DataStream<'s, (K, A::Out)> {
        self.process(RollingAggregate(agg))
    }
}
