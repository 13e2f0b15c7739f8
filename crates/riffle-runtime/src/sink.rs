//! Sinks, and the operator that drives them through epochs and two-phase commits.

use std::sync::Arc;
use std::time::Duration;

use riffle_core::Result;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use crate::job::JobShared;
use crate::operator::{Epochs, TimeStash, FINAL_EPOCH};
use crate::source::Live;
use crate::stream::DataStream;
use crate::time::EventTime;
use crate::Data;

/// Where a stream ends: writes batches of records, and takes part in checkpoints.
///
/// Without checkpoints a sink sees `write` calls and one `finish`. With checkpoints it runs a
/// two-phase commit per epoch, as Flink's exactly-once sinks do: `epoch_complete` makes what
/// was written durable but not yet visible (pre-commit), `snapshot` returns what a restart
/// needs to finish or discard that work, and `commit` makes it visible once the checkpoint
/// holding the snapshot is complete. A restarted job calls `restore` with the snapshot of the
/// checkpoint it restores: the sink commits what that checkpoint covered and discards the rest.
pub trait Sink<T>: 'static {
    /// Writes (and drains) a batch of records with their event times.
    fn write(&mut self, records: &mut Vec<(EventTime, T)>) -> Result<()>;

    /// Every record of `epoch` has been written: make it durable, pending commit. The epoch
    /// closed when the input has ended is [`FINAL_EPOCH`](crate::FINAL_EPOCH).
    fn epoch_complete(&mut self, _epoch: u64) -> Result<()> {
        Ok(())
    }

    /// What a restart needs to commit or discard the pending work (after `epoch_complete`).
    fn snapshot(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    /// The checkpoint of `epoch` is complete: publish everything pending up to it.
    fn commit(&mut self, _epoch: u64) -> Result<()> {
        Ok(())
    }

    /// Restarting from a checkpoint whose snapshot of this sink is `snapshot`.
    fn restore(&mut self, _snapshot: &[u8]) -> Result<()> {
        Ok(())
    }

    /// The input ended and the job does not checkpoint: flush, publish, close.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    /// How often [`tick`](Self::tick) is called while the job runs, records or not; `None`
    /// (the default) for sinks that act on records and checkpoints only.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Called about every [`tick_interval`](Self::tick_interval), for work due on the wall
    /// clock (a buffer flushed after a quiet period, a model version published).
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }
}

/// How often a sink that waits for a checkpoint to complete looks again.
const COMMIT_POLL: Duration = Duration::from_millis(5);

impl<'s, T: Data> DataStream<'s, T> {
    /// Writes the stream to `sink`. Errors the sink returns fail the job.
    pub fn sink(self, name: &str, mut sink: impl Sink<T>) {
        let env = self.env.clone();
        env.sinks.set(env.sinks.get() + 1);
        let job = Arc::clone(&env.job);
        let worker = env.worker_index();
        let scope = env.scope;
        let live_sinks = std::rc::Rc::clone(&env.live_sinks);
        self.stream
            .unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Pipeline,
                name,
                move |default_cap, info| {
                    let activator = scope.activator_for(info.address);
                    let mut epochs = Epochs::new(&job, format!("sink{}", info.local_id), worker);
                    if let Err(error) = epochs.restore(|b| sink.restore(b)) {
                        job.fail(error);
                    }
                    // Held until the last commit, so the dataflow stays alive while it waits.
                    let mut keep_alive = Some(default_cap);
                    let mut live = Some(Live::new(&live_sinks));
                    let mut stash = TimeStash::new();
                    let mut awaiting: Vec<u64> = Vec::new();
                    let mut failed = false;
                    let mut next_tick: Option<std::time::Instant> = None;
                    move |(input, frontier), _output| {
                        input.for_each(|cap, data| stash.insert(&cap, data));
                        if failed || job.is_cancelled() {
                            // Commit nothing more, as after a crash; drop every held capability.
                            keep_alive = None;
                            live.take();
                            stash = TimeStash::new();
                            return;
                        }
                        let result = (|| -> Result<()> {
                            loop {
                                // Records of later epochs wait until the earlier ones are closed.
                                for (_, _, records) in
                                    stash.release(frontier, true, epochs.limit(frontier))
                                {
                                    sink.write(&mut records.into_vec())?;
                                }
                                let Some(store) = epochs.store.clone() else {
                                    if frontier.is_empty() && keep_alive.take().is_some() {
                                        sink.finish()?;
                                    }
                                    return Ok(());
                                };
                                let Some(closed) = epochs.close(frontier) else {
                                    break;
                                };
                                sink.epoch_complete(closed)?;
                                epochs.write(closed, &sink.snapshot()?)?;
                                let completed = store.sink_done(
                                    closed,
                                    &epochs.name,
                                    worker,
                                    job.sinks_per_worker(),
                                )?;
                                if completed {
                                    note_completed(&job, store.took(closed));
                                }
                                awaiting.push(closed);
                            }
                            if let Some(store) = epochs.store.clone() {
                                if let Some(&ready) =
                                    awaiting.iter().rev().find(|e| store.is_complete(**e))
                                {
                                    sink.commit(ready)?;
                                    store.forget_before(ready);
                                    awaiting.retain(|e| *e > ready);
                                }
                                if !awaiting.is_empty() {
                                    activator.activate_after(COMMIT_POLL);
                                } else if epochs.current == FINAL_EPOCH {
                                    keep_alive = None;
                                }
                            }
                            Ok(())
                        })();
                        let result = result.and_then(|()| match sink.tick_interval() {
                            Some(every) if keep_alive.is_some() => {
                                // One wake-up pending at a time (timely does not merge
                                // timers), at least a millisecond apart.
                                let now = std::time::Instant::now();
                                if next_tick.is_none_or(|due| now >= due) {
                                    let every = every.max(Duration::from_millis(1));
                                    next_tick = Some(now + every);
                                    activator.activate_after(every);
                                }
                                sink.tick()
                            }
                            _ => Ok(()),
                        });
                        if let Err(error) = result {
                            job.fail(error);
                            failed = true;
                            keep_alive = None;
                        }
                        if keep_alive.is_none() {
                            live.take();
                        }
                    }
                },
            );
    }
}

/// Counts a completed checkpoint and keeps its duration (first snapshot to completion, in
/// this process) as the last and the longest: `checkpoint.completed`,
/// `checkpoint.last_duration_ms`, `checkpoint.max_duration_ms`.
fn note_completed(job: &JobShared, took: Option<Duration>) {
    use std::sync::atomic::Ordering;
    job.counter("checkpoint.completed")
        .fetch_add(1, Ordering::Relaxed);
    if let Some(took) = took {
        let ms = took.as_millis() as u64;
        job.counter("checkpoint.last_duration_ms")
            .store(ms, Ordering::Relaxed);
        job.counter("checkpoint.max_duration_ms")
            .fetch_max(ms, Ordering::Relaxed);
    }
}
