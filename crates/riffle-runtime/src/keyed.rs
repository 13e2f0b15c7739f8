//! Keyed streams: rolling reductions and the entry to windows.

use std::hash::Hash;
use std::rc::Rc;

use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::CapabilitySet;

use crate::operator::{Epochs, TimeStash};
use crate::state::{KeyedState, ValueState};
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
        let job = Arc::clone(&env.job);
        let worker = env.worker_index();
        let stream = self.stream.stream.unary_frontier::<Builder<T>, _, _, _>(
            exchange,
            "reduce",
            move |default_cap, info| {
                let mut epochs = Epochs::new(&job, format!("op{}", info.local_id), worker);
                let mut state: KeyedState<K, ValueState<T>> = KeyedState::default();
                if let Err(error) = epochs.restore(|b| state.restore(b)) {
                    job.fail(error);
                }
                // Holds the output back to the input frontier until each epoch's snapshot is
                // written.
                let mut held = CapabilitySet::from_elem(default_cap);
                let mut stash = TimeStash::new();
                move |(input, frontier), output| {
                    input.for_each(|cap, data| stash.insert(&cap, data));
                    loop {
                        for (_, cap, records) in
                            stash.release(frontier, true, epochs.limit(frontier))
                        {
                            let mut session = output.session(&cap);
                            for (ts, v) in records {
                                let slot = state.get_mut(&key(&v));
                                let next = match slot.value() {
                                    Some(acc) => f(acc, v),
                                    None => v,
                                };
                                session.give((ts, next.clone()));
                                slot.update(next);
                            }
                        }
                        let Some(closed) = epochs.close(frontier) else {
                            break;
                        };
                        if let Err(error) = epochs.checkpoint(closed, || state.snapshot()) {
                            job.fail(error);
                        }
                    }
                    held.downgrade(frontier.frontier().iter());
                }
            },
        );
        DataStream::new(stream, env)
    }
}
