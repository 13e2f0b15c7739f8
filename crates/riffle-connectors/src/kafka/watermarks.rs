//! Per-partition watermarks: each partition's watermark trails the largest event time read
//! from it by a delay, and the source's is the least of them, so that lateness does not
//! depend on how partitions interleave or are shared among workers (Flink's per-split
//! watermarks).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use riffle_runtime::{EventTime, SourceReader, SourceStatus};

use super::{KafkaMessage, KafkaReader};

/// The watermark of a reader's partitions.
#[derive(Debug, Clone)]
pub struct PartitionWatermarks {
    delay: EventTime,
    idle_timeout: Option<Duration>,
    /// Per partition: the largest event time read, and when a message last came.
    seen: BTreeMap<(String, i32), (EventTime, Instant)>,
    watermark: Option<EventTime>,
}

impl PartitionWatermarks {
    /// Watermarks `delay` ms behind each partition's largest time; a partition without
    /// messages for `idle_timeout` stops holding the others back.
    pub fn new(delay: EventTime, idle_timeout: Option<Duration>) -> Self {
        PartitionWatermarks {
            delay,
            idle_timeout,
            seen: BTreeMap::new(),
            watermark: None,
        }
    }

    /// Records that messages of `topic[partition]` came, the latest at `max` (if they carry
    /// a time).
    pub fn observe(&mut self, topic: &str, partition: i32, max: Option<EventTime>) {
        let now = Instant::now();
        let seen = self
            .seen
            .entry((topic.to_string(), partition))
            .or_insert((EventTime::MIN, now));
        if let Some(max) = max {
            seen.0 = seen.0.max(max);
        }
        seen.1 = now;
    }

    /// Moves the watermark up to the least of the watermarks of `assigned` (topic,
    /// partition, offset), idle ones aside (all of them when every one is idle).
    pub fn update(&mut self, assigned: &[(String, i32, i64)]) {
        if assigned.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut least: Option<EventTime> = None;
        let mut greatest = EventTime::MIN;
        for (topic, partition, _) in assigned {
            let (max, last) = self
                .seen
                .get(&(topic.clone(), *partition))
                .copied()
                .unwrap_or((EventTime::MIN, now));
            let mark = if max == EventTime::MIN {
                EventTime::MIN
            } else {
                max.saturating_sub(self.delay).saturating_sub(1)
            };
            greatest = greatest.max(mark);
            let idle = self
                .idle_timeout
                .is_some_and(|t| now.duration_since(last) >= t);
            if !idle {
                least = Some(least.map_or(mark, |l| l.min(mark)));
            }
        }
        let mark = least.unwrap_or(greatest);
        if mark > EventTime::MIN {
            self.watermark = Some(self.watermark.map_or(mark, |w| w.max(mark)));
        }
    }

    /// The watermark so far, once every partition has given one.
    pub fn watermark(&self) -> Option<EventTime> {
        self.watermark
    }
}

/// A [`KafkaReader`] that stamps messages by `timestamp` and keeps per-partition
/// watermarks (see [`super::KafkaSource::stream_with_event_time`]).
pub struct EventTimeReader<F> {
    pub(crate) reader: KafkaReader,
    pub(crate) timestamp: F,
    pub(crate) watermarks: PartitionWatermarks,
}

impl<F: Fn(&KafkaMessage) -> EventTime + 'static> SourceReader<KafkaMessage>
    for EventTimeReader<F>
{
    fn poll(&mut self, out: &mut Vec<KafkaMessage>) -> riffle_core::Result<SourceStatus> {
        // What this poll returns goes out under the watermark of what came before it.
        self.watermarks.update(&self.reader.offsets());
        let from = out.len();
        let status = self.reader.poll(out)?;
        for message in &out[from..] {
            let time = (self.timestamp)(message);
            self.watermarks
                .observe(&message.topic, message.partition, Some(time));
        }
        Ok(status)
    }

    fn batch_watermark(&self) -> Option<EventTime> {
        self.watermarks.watermark()
    }

    fn position(&self) -> Option<Vec<u8>> {
        self.reader.position()
    }

    fn seek(&mut self, position: &[u8]) -> riffle_core::Result<()> {
        self.reader.seek(position)
    }
}
