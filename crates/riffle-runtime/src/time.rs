//! The dataflow's logical time: a checkpoint epoch and an event-time watermark.
//!
//! Every record travels under a [`Time`]. Its `watermark` is the watermark of the source
//! that emitted it at the moment it did so: the promise that this source will emit no more
//! records under a smaller watermark. Its `epoch` counts checkpoints: a source moves to the
//! next epoch when it takes part in a checkpoint. Times are ordered componentwise (the
//! product order), so timely's frontier tracks both at once: an operator learns the global
//! watermark as the least `watermark` in its input frontier, and learns that an epoch is
//! complete when no time of that epoch is left in its frontier.

use serde::{Deserialize, Serialize};
use timely::order::PartialOrder;
use timely::progress::frontier::MutableAntichain;
use timely::progress::timestamp::{PathSummary, Refines, Timestamp};

/// Milliseconds since the Unix epoch, the unit of event time.
pub type EventTime = i64;

/// The watermark of a finished stream: every event-time window may fire.
pub const MAX_WATERMARK: EventTime = i64::MAX;

/// The watermark of a stream that has promised nothing yet.
pub const MIN_WATERMARK: EventTime = i64::MIN;

/// Logical time of the dataflow: `(epoch, watermark)`, ordered componentwise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Time {
    /// Checkpoint epoch: records of epoch `e` belong to checkpoint `e + 1`'s cut.
    pub epoch: u64,
    /// Watermark of the emitting source when the record was emitted.
    pub watermark: EventTime,
}

impl Time {
    /// A time at `epoch` with `watermark`.
    pub fn new(epoch: u64, watermark: EventTime) -> Self {
        Time { epoch, watermark }
    }
}

impl PartialOrder for Time {
    fn less_equal(&self, other: &Self) -> bool {
        self.epoch <= other.epoch && self.watermark <= other.watermark
    }
}

/// A path summary that leaves times unchanged: Riffle's dataflows have no loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TimeSummary;

impl PartialOrder for TimeSummary {
    fn less_equal(&self, _other: &Self) -> bool {
        true
    }
}

impl PathSummary<Time> for TimeSummary {
    fn results_in(&self, src: &Time) -> Option<Time> {
        Some(*src)
    }
    fn followed_by(&self, _other: &Self) -> Option<Self> {
        Some(TimeSummary)
    }
}

impl Timestamp for Time {
    type Summary = TimeSummary;
    fn minimum() -> Self {
        Time {
            epoch: 0,
            watermark: MIN_WATERMARK,
        }
    }
}

impl Refines<()> for Time {
    fn to_inner(_: ()) -> Self {
        Time::minimum()
    }
    fn to_outer(self) {}
    fn summarize(_: TimeSummary) {}
}

/// The watermark an operator may act on: the least watermark in its input frontier, or
/// [`MAX_WATERMARK`] when the input is finished.
pub fn frontier_watermark(frontier: &MutableAntichain<Time>) -> EventTime {
    frontier
        .frontier()
        .iter()
        .map(|t| t.watermark)
        .min()
        .unwrap_or(MAX_WATERMARK)
}

/// The least epoch in an input frontier, or `None` when the input is finished.
pub fn frontier_epoch(frontier: &MutableAntichain<Time>) -> Option<u64> {
    frontier.frontier().iter().map(|t| t.epoch).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_order_is_componentwise() {
        let a = Time::new(0, 10);
        let b = Time::new(1, 5);
        assert!(!a.less_equal(&b));
        assert!(!b.less_equal(&a));
        assert!(a.less_equal(&Time::new(1, 10)));
        assert!(Time::minimum().less_equal(&a));
    }
}
