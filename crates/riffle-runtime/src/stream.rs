//! The typed `DataStream` and its stateless operators, sinks and collection.

use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use riffle_core::Result;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Concat;
use timely::dataflow::StreamVec;

use crate::job::Env;
use crate::keyed::KeyedStream;
use crate::sink::Sink;
use crate::time::{EventTime, Time};
use crate::Data;

/// The container every stream carries: records with their event times.
pub(crate) type Records<T> = Vec<(EventTime, T)>;
pub(crate) type Builder<T> = CapacityContainerBuilder<Records<T>>;

/// A typed stream of records, each with an event time, on one worker.
///
/// Operators that need no state (`map`, `filter`, `flat_map`) run where the record is;
/// records cross workers only at [`DataStream::key_by`] and [`DataStream::rebalance`].
pub struct DataStream<'s, T: Data> {
    pub(crate) stream: StreamVec<'s, Time, (EventTime, T)>,
    pub(crate) env: Env<'s>,
}

impl<'s, T: Data> Clone for DataStream<'s, T> {
    fn clone(&self) -> Self {
        DataStream {
            stream: self.stream.clone(),
            env: self.env.clone(),
        }
    }
}

/// A stable hash of a key: the same in every process of a job, so records with equal keys
/// meet on the same worker.
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    key.hash(&mut hasher);
    hasher.finish()
}

impl<'s, T: Data> DataStream<'s, T> {
    pub(crate) fn new(stream: StreamVec<'s, Time, (EventTime, T)>, env: Env<'s>) -> Self {
        DataStream { stream, env }
    }

    /// The environment this stream belongs to.
    pub fn env(&self) -> &Env<'s> {
        &self.env
    }

    /// Applies `f` to every record, keeping its event time.
    pub fn map<U: Data>(self, mut f: impl FnMut(T) -> U + 'static) -> DataStream<'s, U> {
        self.flat_map_with_time("map", move |ts, v, out| out.push((ts, f(v))))
    }

    /// Keeps the records for which `predicate` is true.
    pub fn filter(self, mut predicate: impl FnMut(&T) -> bool + 'static) -> DataStream<'s, T> {
        // In place: the kept records leave in the container they arrived in.
        let stream = self
            .stream
            .unary::<Builder<T>, _, _, _>(Pipeline, "filter", move |_, _| {
                move |input, output| {
                    input.for_each(|cap, data| {
                        data.retain(|(_, v)| predicate(v));
                        output.session(&cap).give_container(data);
                    });
                }
            });
        DataStream::new(stream, self.env)
    }

    /// Replaces every record by the items `f` returns, each with the record's event time.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        self,
        mut f: impl FnMut(T) -> I + 'static,
    ) -> DataStream<'s, U> {
        self.flat_map_with_time("flat_map", move |ts, v, out| {
            out.extend(f(v).into_iter().map(|u| (ts, u)))
        })
    }

    /// The stateless operator over whole containers: `f` sees every record that arrived
    /// together (with their event times) and pushes outputs, so it can batch them (SQL turns
    /// rows back into columnar batches this way).
    pub fn map_chunks<U: Data>(
        self,
        name: &str,
        mut f: impl FnMut(&mut Vec<(EventTime, T)>, &mut Vec<(EventTime, U)>) + 'static,
    ) -> DataStream<'s, U> {
        self.map_chunks_with_watermark(name, move |_, data, out| f(data, out))
    }

    /// [`DataStream::map_chunks`], with the watermark under which the container travels (the
    /// watermark of its source when it was emitted): what SQL's `CURRENT_WATERMARK` reads.
    pub fn map_chunks_with_watermark<U: Data>(
        self,
        name: &str,
        mut f: impl FnMut(EventTime, &mut Vec<(EventTime, T)>, &mut Vec<(EventTime, U)>) + 'static,
    ) -> DataStream<'s, U> {
        let mut buffer = Vec::new();
        let stream = self
            .stream
            .unary::<Builder<U>, _, _, _>(Pipeline, name, move |_, _| {
                move |input, output| {
                    input.for_each(|cap, data| {
                        // A message's stamp holds its times; the least watermark among them.
                        let watermark = cap
                            .stamp()
                            .iter()
                            .map(|t| t.watermark)
                            .min()
                            .unwrap_or(crate::time::MIN_WATERMARK);
                        f(watermark, data, &mut buffer);
                        data.clear();
                        if !buffer.is_empty() {
                            output.session(&cap).give_container(&mut buffer);
                            buffer.clear();
                        }
                    });
                }
            });
        DataStream::new(stream, self.env)
    }

    /// Calls `f` on every record and passes the record on unchanged.
    pub fn inspect(self, mut f: impl FnMut(EventTime, &T) + 'static) -> DataStream<'s, T> {
        self.flat_map_with_time("inspect", move |ts, v, out| {
            f(ts, &v);
            out.push((ts, v))
        })
    }

    /// Re-stamps every record with the event time `f` computes from it.
    ///
    /// Watermarks are not changed: use this to expose a field as event time when the source's
    /// watermark already covers it.
    pub fn with_timestamps(
        self,
        mut f: impl FnMut(&T) -> EventTime + 'static,
    ) -> DataStream<'s, T> {
        self.flat_map_with_time("with_timestamps", move |_, v, out| out.push((f(&v), v)))
    }

    /// The records with their event times, as `(event_time, record)` pairs.
    pub fn with_event_time(self) -> DataStream<'s, (EventTime, T)> {
        self.flat_map_with_time("with_event_time", |ts, v, out| out.push((ts, (ts, v))))
    }

    /// The general stateless operator: `f` sees the event time and record and pushes outputs.
    pub fn flat_map_with_time<U: Data>(
        self,
        name: &str,
        mut f: impl FnMut(EventTime, T, &mut Records<U>) + 'static,
    ) -> DataStream<'s, U> {
        self.map_chunks(name, move |data, out| {
            // The last container left with the message: size the next one once.
            out.reserve(data.len());
            for (ts, v) in data.drain(..) {
                f(ts, v, out);
            }
        })
    }

    /// Merges this stream with `other` (same type), like Flink's `union`.
    pub fn union(self, other: DataStream<'s, T>) -> DataStream<'s, T> {
        DataStream::new(self.stream.concat(other.stream), self.env)
    }

    /// Partitions the stream by the key `key` computes: records with equal keys meet on the
    /// same worker in the keyed operator that follows.
    pub fn key_by<K, F>(self, key: F) -> KeyedStream<'s, K, T>
    where
        K: Data + Hash + Eq,
        F: Fn(&T) -> K + 'static,
    {
        KeyedStream::new(self, Rc::new(key))
    }

    /// Sends every record to the first worker (Flink's `global()`), for an operator that
    /// must see the whole stream, such as a single model learning from all of it. The other
    /// workers' instances of what follows receive nothing.
    pub fn global(self) -> DataStream<'s, T> {
        self.redistribute("global", |_| 0)
    }

    /// Spreads records round-robin over all workers.
    pub fn rebalance(self) -> DataStream<'s, T> {
        let mut next = self.env.worker_index() as u64;
        self.redistribute("rebalance", move |_| {
            next = next.wrapping_add(1);
            next
        })
    }

    /// Sends each record, unchanged, to the worker `route` names (modulo the workers).
    fn redistribute(
        self,
        name: &str,
        route: impl FnMut(&(EventTime, T)) -> u64 + 'static,
    ) -> DataStream<'s, T> {
        let stream =
            self.stream
                .unary::<Builder<T>, _, _, _>(Exchange::new(route), name, |_, _| {
                    |input, output| {
                        input.for_each(|cap, data| output.session(&cap).give_container(data));
                    }
                });
        DataStream::new(stream, self.env)
    }

    /// Collects the records into `collector`, shared by the workers of this process.
    pub fn collect_into(self, collector: &Collector<T>) {
        self.sink("collect", collector.clone());
    }
}

/// A sink that keeps every record in memory, shared by the workers of a process: for tests
/// and for jobs whose result is small.
pub struct Collector<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T> Clone for Collector<T> {
    fn clone(&self) -> Self {
        Collector {
            items: Arc::clone(&self.items),
        }
    }
}

impl<T> Default for Collector<T> {
    fn default() -> Self {
        Collector {
            items: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl<T: Clone> Collector<T> {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records collected so far, in arrival order.
    pub fn values(&self) -> Vec<T> {
        match self.items.lock() {
            Ok(items) => items.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The records collected so far, sorted: the order-free view to compare runs with.
    pub fn sorted(&self) -> Vec<T>
    where
        T: Ord,
    {
        let mut v = self.values();
        v.sort();
        v
    }
}

impl<T: Data> Sink<T> for Collector<T> {
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()> {
        let mut items = match self.items.lock() {
            Ok(items) => items,
            Err(poisoned) => poisoned.into_inner(),
        };
        items.extend(records.drain(..).map(|(_, v)| v));
        Ok(())
    }
}
