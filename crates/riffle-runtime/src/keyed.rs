//! Keyed streams: rolling reductions and the entry to windows.

use std::hash::Hash;
use std::rc::Rc;

use rustc_hash::FxHashMap;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;

use crate::stream::{key_hash, Builder, DataStream};
use crate::time::EventTime;
use crate::window::{WindowAssigner, WindowedStream};
use crate::Data;

/// A stream partitioned by key: every keyed operator sees all records of a key on one worker.
pub struct KeyedStream<'s, K, T: Data> {
    pub(crate) stream: DataStream<'s, T>,
    pub(crate) key: Rc<dyn Fn(&T) -> K>,
}

impl<'s, K: Data + Hash + Eq, T: Data> KeyedStream<'s, K, T> {
    pub(crate) fn new(stream: DataStream<'s, T>, key: Rc<dyn Fn(&T) -> K>) -> Self {
        KeyedStream { stream, key }
    }

    /// The exchange that routes each record to the worker owning its key.
    pub(crate) fn exchange(&self) -> Exchange<(EventTime, T), impl FnMut(&(EventTime, T)) -> u64> {
        let key = Rc::clone(&self.key);
        Exchange::new(move |(_, v): &(EventTime, T)| key_hash(&key(v)))
    }

    /// Cuts the stream into windows per key.
    pub fn window(self, assigner: WindowAssigner) -> WindowedStream<'s, K, T> {
        WindowedStream::new(self, assigner)
    }

    /// A rolling reduction: for every record, emits the fold of all records of its key so far
    /// (Flink's `KeyedStream.reduce`).
    pub fn reduce(self, mut f: impl FnMut(&T, T) -> T + 'static) -> DataStream<'s, T> {
        let exchange = self.exchange();
        let key = Rc::clone(&self.key);
        let env = self.stream.env.clone();
        let mut state: FxHashMap<K, T> = FxHashMap::default();
        let stream =
            self.stream
                .stream
                .unary::<Builder<T>, _, _, _>(exchange, "reduce", move |_, _| {
                    move |input, output| {
                        input.for_each(|cap, data| {
                            let mut session = output.session(&cap);
                            for (ts, v) in data.drain(..) {
                                let k = key(&v);
                                let next = match state.remove(&k) {
                                    Some(acc) => f(&acc, v),
                                    None => v,
                                };
                                session.give((ts, next.clone()));
                                state.insert(k, next);
                            }
                        });
                    }
                });
        DataStream::new(stream, env)
    }
}
