//! The pieces every event-time operator is built from: a stash that releases input in
//! watermark order once the frontier has passed it, and capabilities held for outputs due
//! at future watermarks (window ends, timers).

use std::collections::BTreeMap;

use timely::dataflow::operators::generic::OutputBuilderSession;
use timely::dataflow::operators::{Capability, CapabilitySet, InputCapability};
use timely::progress::frontier::MutableAntichain;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use riffle_core::Result;

use crate::checkpoint::CheckpointStore;
use crate::job::JobShared;
use crate::stream::{Builder, Records};
use crate::time::{frontier_epoch, EventTime, Time, MAX_WATERMARK};
use crate::Data;

/// Input held back until the frontier passes its time, so that an operator applies records
/// in watermark order whatever order they arrived in: its decisions (late or not, which
/// timers fire first) then depend only on the data, not on worker count or timing.
pub(crate) struct TimeStash<T> {
    groups: BTreeMap<Time, Group<T>>,
}

/// Records received under one time, with a capability for it.
type Group<T> = (Capability<Time>, Chunks<T>);

/// A group of records released by the stash: their time, a capability for it, the records.
pub(crate) type Released<T> = (Time, Capability<Time>, Chunks<T>);

/// Records in the containers they arrived in: kept as they came rather than appended into
/// one growing vector, which copied every record and faulted in fresh pages as it grew.
pub(crate) struct Chunks<T>(Vec<Vec<(EventTime, T)>>);

impl<T> Chunks<T> {
    /// All the records in one vector.
    pub(crate) fn into_vec(mut self) -> Vec<(EventTime, T)> {
        if self.0.len() == 1 {
            return self.0.pop().unwrap_or_default();
        }
        let mut all = Vec::with_capacity(self.0.iter().map(Vec::len).sum());
        for chunk in self.0 {
            all.extend(chunk);
        }
        all
    }
}

impl<T> IntoIterator for Chunks<T> {
    type Item = (EventTime, T);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<(EventTime, T)>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
}

impl<T> TimeStash<T> {
    pub(crate) fn new() -> Self {
        TimeStash {
            groups: BTreeMap::new(),
        }
    }

    /// Takes a received batch.
    pub(crate) fn insert(&mut self, cap: &InputCapability<Time>, data: &mut Vec<(EventTime, T)>) {
        for time in cap.stamp().iter() {
            let entry = self
                .groups
                .entry(*time)
                .or_insert_with(|| (cap.delayed(time, 0), Chunks(Vec::new())));
            if !data.is_empty() {
                entry.1 .0.push(std::mem::take(data));
            }
        }
    }

    /// The groups of epochs up to `max_epoch` whose time the frontier has passed (all of
    /// them if `everything`), epoch by epoch and in watermark order within an epoch: the
    /// order in which they are applied while the job runs, when each epoch is released
    /// alone. Only the end of input releases several epochs at once; were they taken in
    /// watermark order across epochs, an operator would emit a key's rows in another order
    /// than the operators after it apply them (which go epoch by epoch), and an upsert
    /// sink's last row for a key would not be the last one its aggregation emitted.
    pub(crate) fn release(
        &mut self,
        frontier: &MutableAntichain<Time>,
        everything: bool,
        max_epoch: u64,
    ) -> Vec<Released<T>> {
        let mut ready: Vec<Time> = self
            .groups
            .keys()
            .filter(|t| t.epoch <= max_epoch && (everything || !frontier.less_equal(t)))
            .copied()
            .collect();
        ready.sort_by_key(application_order);
        ready
            .into_iter()
            .filter_map(|t| {
                self.groups
                    .remove(&t)
                    .map(|(cap, records)| (t, cap, records))
            })
            .collect()
    }
}

/// How far event time may go before each of `groups` (as [`TimeStash::release`] orders
/// them) is applied: the least watermark of that group and of every group after it, and no
/// further than `held` (what may still arrive, and the records still held). A group of a
/// later epoch can carry a lower watermark than one before it.
pub(crate) fn fire_bounds<T>(groups: &[Released<T>], held: EventTime) -> Vec<EventTime> {
    least_from_each(groups.iter().map(|(time, ..)| time.watermark), held)
}

/// For each of `watermarks`, the least of it, those after it and `held`.
fn least_from_each(
    watermarks: impl DoubleEndedIterator<Item = EventTime>,
    held: EventTime,
) -> Vec<EventTime> {
    let mut least = held;
    let mut bounds: Vec<EventTime> = watermarks
        .rev()
        .map(|w| {
            least = least.min(w);
            least
        })
        .collect();
    bounds.reverse();
    bounds
}

/// The order in which an operator applies the groups it releases together: by epoch, then
/// by watermark.
fn application_order(time: &Time) -> (u64, EventTime) {
    (time.epoch, time.watermark)
}

/// The least watermark of records still held: together with the frontier's, a bound on
/// what may still arrive. `MAX_WATERMARK` when nothing is held.
impl<T> TimeStash<T> {
    pub(crate) fn min_watermark(&self) -> EventTime {
        self.groups
            .keys()
            .map(|t| t.watermark)
            .min()
            .unwrap_or(MAX_WATERMARK)
    }
}

/// The epoch an operator is in, and the checkpoints it owes: an operator applies input epoch
/// by epoch and snapshots its state at the end of each, so a checkpoint holds exactly the
/// effect of the records of its epochs.
pub(crate) struct Epochs {
    /// The epoch whose input is being applied.
    pub(crate) current: u64,
    /// Where snapshots go; `None` when the job does not checkpoint.
    pub(crate) store: Option<Arc<CheckpointStore>>,
    /// The operator's name in checkpoints.
    pub(crate) name: String,
    /// This worker.
    pub(crate) worker: usize,
    bytes: Arc<AtomicU64>,
    max_ms: Arc<AtomicU64>,
}

/// The pseudo-epoch of the snapshot taken when the input has ended: the last epoch a
/// checkpointing sink's `epoch_complete` sees.
pub const FINAL_EPOCH: u64 = u64::MAX;

impl Epochs {
    pub(crate) fn new(job: &JobShared, name: String, worker: usize) -> Self {
        let store = job.checkpoints().cloned();
        let current = store.as_ref().map(|s| s.first_epoch()).unwrap_or(0);
        Epochs {
            current,
            store,
            name,
            worker,
            bytes: job.counter("checkpoint.state_bytes"),
            max_ms: job.counter("checkpoint.snapshot_max_ms"),
        }
    }

    /// The highest epoch whose input may be applied now: the current one while the frontier
    /// still holds it (never beyond the frontier's least epoch), and all of them once the
    /// input has ended.
    pub(crate) fn limit(&self, frontier: &MutableAntichain<Time>) -> u64 {
        if self.store.is_none() {
            return FINAL_EPOCH;
        }
        match frontier_epoch(frontier) {
            // The input ended: every epoch is complete, so everything held may be applied
            // before the final snapshot.
            None => FINAL_EPOCH,
            Some(least) => self.current.min(least),
        }
    }

    /// If the frontier has moved past the current epoch, returns it (to be snapshotted) and
    /// moves on; call repeatedly, applying input up to [`Epochs::limit`] in between.
    pub(crate) fn close(&mut self, frontier: &MutableAntichain<Time>) -> Option<u64> {
        self.store.as_ref()?;
        let least = frontier_epoch(frontier).unwrap_or(FINAL_EPOCH);
        if self.current == FINAL_EPOCH || self.current >= least {
            return None;
        }
        if least == FINAL_EPOCH {
            // The input ended: one final snapshot stands for every epoch still open.
            self.current = FINAL_EPOCH;
            return Some(FINAL_EPOCH);
        }
        let closed = self.current;
        self.current += 1;
        Some(closed)
    }

    /// Writes a snapshot for `epoch`.
    pub(crate) fn write(&self, epoch: u64, bytes: &[u8]) -> Result<()> {
        match &self.store {
            Some(store) => store.write(epoch, &self.name, self.worker, bytes),
            None => Ok(()),
        }
    }

    /// Takes (`snapshot`) and writes the operator's snapshot for `epoch`, counting its size
    /// (`checkpoint.state_bytes`) and the longest time one took (`checkpoint.snapshot_max_ms`).
    pub(crate) fn checkpoint(
        &self,
        epoch: u64,
        snapshot: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let bytes = snapshot()?;
        self.write(epoch, &bytes)?;
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.max_ms
            .fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Hands the operator's snapshot in the restored checkpoint to `apply`; nothing happens
    /// when the job restored no checkpoint or the operator has no snapshot in it.
    pub(crate) fn restore(&self, apply: impl FnOnce(&[u8]) -> Result<()>) -> Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        match store.read_restored(&self.name, self.worker)? {
            Some(bytes) => apply(&bytes),
            None => Ok(()),
        }
    }
}

/// Capabilities held for outputs due when the watermark reaches a time (a window's end, a
/// timer), one per due time, at the watermark just below it so that downstream operators do
/// not see those outputs as late.
pub(crate) struct DueCaps {
    caps: BTreeMap<EventTime, Capability<Time>>,
}

impl DueCaps {
    pub(crate) fn new() -> Self {
        DueCaps {
            caps: BTreeMap::new(),
        }
    }

    /// Holds a capability for output due at `due`, derived from `cap` (the capability of the
    /// record that scheduled it); the earliest epoch wins.
    pub(crate) fn hold(&mut self, due: EventTime, cap: &Capability<Time>) {
        let epoch = cap.time().epoch;
        let wanted = Time::new(epoch, due.saturating_sub(1).max(cap.time().watermark));
        let replace = match self.caps.get(&due) {
            Some(existing) => existing.time().epoch > epoch,
            None => true,
        };
        if replace {
            self.caps.insert(due, cap.delayed(&wanted));
        }
    }

    /// The capability held for `due`, if any.
    pub(crate) fn get(&self, due: EventTime) -> Option<&Capability<Time>> {
        self.caps.get(&due)
    }

    /// A held capability for exactly `time`, if any: outputs of a timer whose event times
    /// are past the timer's own (a function handling several due records at once) are sent
    /// under the timer's capability.
    fn find(&self, time: &Time) -> Option<&Capability<Time>> {
        self.caps.values().find(|c| c.time() == time)
    }

    /// Moves every held capability to `epoch` at least: outputs due after an epoch closed
    /// belong to a later one.
    pub(crate) fn advance_epoch(&mut self, epoch: u64) {
        for cap in self.caps.values_mut() {
            let t = *cap.time();
            if t.epoch < epoch {
                cap.downgrade(&Time::new(epoch, t.watermark));
            }
        }
    }

    /// Drops the capabilities for everything due at or before `watermark`.
    pub(crate) fn release_until(&mut self, watermark: EventTime) {
        if watermark == MAX_WATERMARK {
            self.caps.clear();
        } else {
            self.caps = self.caps.split_off(&watermark.saturating_add(1));
        }
    }
}

/// Outputs waiting to be sent: the time to send each under, its event time, and itself.
pub(crate) type Pending<V> = Vec<(Time, EventTime, V)>;

/// Sends what an operator produced, each under the capability for its time: a due
/// capability where one is held for it, else one derived from `held` or `current`.
/// Consecutive outputs of one time leave together in one container.
pub(crate) fn flush<V: Data>(
    emitted: &mut Pending<V>,
    current: Option<&Capability<Time>>,
    held: &CapabilitySet<Time>,
    due: &DueCaps,
    output: &mut OutputBuilderSession<'_, Time, Builder<V>>,
) {
    let mut run: Records<V> = Vec::new();
    let mut run_cap: Option<Capability<Time>> = None;
    let mut run_time: Option<Time> = None;
    let mut drained = emitted.drain(..).peekable();
    while let Some((time, ts, value)) = drained.next() {
        if run_time != Some(time) {
            run_time = Some(time);
            // Capabilities for one time are interchangeable: resolve one per run.
            run_cap = due
                .get(ts)
                .filter(|c| c.time() == &time)
                .or_else(|| due.find(&time))
                .cloned()
                .or_else(|| held.try_delayed(&time))
                .or_else(|| current.and_then(|c| c.try_delayed(&time)))
                .or_else(|| current.cloned());
        }
        run.push((ts, value));
        let run_ends = drained.peek().is_none_or(|next| next.0 != time);
        if run_ends {
            match &run_cap {
                Some(cap) => output.session(cap).give_container(&mut run),
                // Every output is produced under a capability the operator holds; reaching
                // this would be a bug in the operator, so say so loudly rather than lose it
                // silently.
                None => tracing::error!(?time, ts, "operator output without a capability"),
            }
            run.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of a later epoch can carry a lower watermark (each source closes its epochs on
    /// its own clock): at the end of input, when several epochs are released at once, they
    /// are applied epoch by epoch, as while the job runs, and no event-time timer fires past
    /// a watermark still to come.
    #[test]
    fn epochs_released_together_are_applied_epoch_by_epoch_and_fire_no_further_than_what_follows() {
        let mut times = vec![
            Time::new(6, 50),
            Time::new(5, 100),
            Time::new(7, 300),
            Time::new(5, 20),
        ];
        times.sort_by_key(application_order);
        assert_eq!(
            times,
            vec![
                Time::new(5, 20),
                Time::new(5, 100),
                Time::new(6, 50),
                Time::new(7, 300)
            ]
        );
        let watermarks = times.iter().map(|t| t.watermark);
        assert_eq!(
            least_from_each(watermarks.clone(), MAX_WATERMARK),
            vec![20, 50, 50, 300]
        );
        assert_eq!(least_from_each(watermarks, 70), vec![20, 50, 50, 70]);
    }
}
