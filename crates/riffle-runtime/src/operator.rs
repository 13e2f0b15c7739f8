//! The pieces every event-time operator is built from: a stash that releases input in
//! watermark order once the frontier has passed it, and capabilities held for outputs due
//! at future watermarks (window ends, timers).

use std::collections::BTreeMap;

use timely::dataflow::operators::generic::OutputBuilderSession;
use timely::dataflow::operators::{Capability, CapabilitySet, InputCapability};
use timely::progress::frontier::MutableAntichain;

use crate::stream::Builder;
use crate::time::{EventTime, Time, MAX_WATERMARK};
use crate::Data;

/// Input held back until the frontier passes its time, so that an operator applies records
/// in watermark order whatever order they arrived in: its decisions (late or not, which
/// timers fire first) then depend only on the data, not on worker count or timing.
pub(crate) struct TimeStash<T> {
    groups: BTreeMap<Time, Group<T>>,
}

/// Records received under one time, with a capability for it.
type Group<T> = (Capability<Time>, Vec<(EventTime, T)>);

/// A group of records released by the stash: their time, a capability for it, the records.
pub(crate) type Released<T> = (Time, Capability<Time>, Vec<(EventTime, T)>);

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
                .or_insert_with(|| (cap.delayed(time, 0), Vec::new()));
            entry.1.append(data);
        }
    }

    /// The groups whose time the frontier has passed (all of them if `everything`), in
    /// watermark order.
    pub(crate) fn release(
        &mut self,
        frontier: &MutableAntichain<Time>,
        everything: bool,
    ) -> Vec<Released<T>> {
        let mut ready: Vec<Time> = self
            .groups
            .keys()
            .filter(|t| everything || !frontier.less_equal(t))
            .copied()
            .collect();
        ready.sort_by_key(|t| (t.watermark, t.epoch));
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
pub(crate) fn flush<V: Data>(
    emitted: &mut Pending<V>,
    current: Option<&Capability<Time>>,
    held: &CapabilitySet<Time>,
    due: &DueCaps,
    output: &mut OutputBuilderSession<'_, Time, Builder<V>>,
) {
    for (time, ts, value) in emitted.drain(..) {
        let cap = due
            .get(ts)
            .filter(|c| c.time() == &time)
            .cloned()
            .or_else(|| held.try_delayed(&time))
            .or_else(|| current.and_then(|c| c.try_delayed(&time)))
            .or_else(|| current.cloned());
        match cap {
            Some(cap) => output.session(&cap).give((ts, value)),
            // Every output is produced under a capability the operator holds; reaching this
            // would be a bug in the operator, so say so loudly rather than lose it silently.
            None => tracing::error!(?time, ts, "operator output without a capability"),
        }
    }
}
