//! The Kafka source: the partitions of its topics shared out among all workers of the job,
//! read from a chosen start, their offsets kept in checkpoints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::DefaultConsumerContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use riffle_core::{Result, RiffleError};
use riffle_runtime::{DataStream, Env, SourceReader, SourceStatus, WatermarkStrategy};
use serde::{Deserialize, Serialize};

use super::{client_config, kafka_error, wait_for_metadata};

/// Messages a reader returns per poll at most.
const BATCH: usize = 4096;
/// How long a metadata or offset request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Which topics a source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topics {
    /// These topics (`'topic' = 'a;b'`).
    Names(Vec<String>),
    /// Every topic whose whole name matches this regular expression (`'topic-pattern'`),
    /// as the broker lists them when the job starts.
    Pattern(String),
}

/// Where a partition is read from when no checkpoint says (Flink's `scan.startup.mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupMode {
    /// The oldest offset the broker keeps.
    Earliest,
    /// The end of the partition when the job starts: only newer messages.
    Latest,
    /// The offsets committed by the consumer group; partitions without one follow
    /// `properties.auto.offset.reset` (`earliest` or `latest`), or fail.
    GroupOffsets,
    /// Given offsets per partition (partitions not named start at the earliest offset).
    SpecificOffsets(BTreeMap<i32, i64>),
    /// The first message at or after this time (ms since the epoch).
    Timestamp(i64),
}

/// One Kafka message, owned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaMessage {
    /// The topic it was read from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// Its timestamp (create or log-append time), ms since the epoch, if it has one.
    pub timestamp: Option<i64>,
    /// The key, if any.
    pub key: Option<Vec<u8>>,
    /// The value; `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    /// The headers in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl KafkaMessage {
    /// An owned copy of a message the client lent.
    pub(crate) fn of(message: &BorrowedMessage<'_>) -> KafkaMessage {
        KafkaMessage {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers: message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// A Kafka source's settings. Each worker reads the partitions whose place in the sorted
/// list of (topic, partition) is its index modulo the number of workers, so that the
/// partitions are shared out across all workers and processes of the job without a group
/// coordinator (as Flink's Kafka source assigns splits).
#[derive(Debug, Clone)]
pub struct KafkaSource {
    brokers: String,
    topics: Topics,
    group_id: Option<String>,
    startup: StartupMode,
    bounded: bool,
    properties: Vec<(String, String)>,
    connect_timeout: Duration,
}

impl KafkaSource {
    /// A source reading `topics` from the brokers `brokers` (`host:port,...`), from the
    /// earliest offsets.
    pub fn new(brokers: impl Into<String>, topics: Topics) -> Self {
        KafkaSource {
            brokers: brokers.into(),
            topics,
            group_id: None,
            startup: StartupMode::Earliest,
            bounded: false,
            properties: Vec::new(),
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// The consumer group: offsets are committed to it at each checkpoint (for monitoring and
    /// for [`StartupMode::GroupOffsets`]; a restored job reads its checkpoint's offsets).
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// Where partitions start when no checkpoint is restored.
    pub fn startup(mut self, mode: StartupMode) -> Self {
        self.startup = mode;
        self
    }

    /// Stop at the end offsets the partitions have when the job starts (Flink's
    /// `scan.bounded.mode` = `latest-offset`): the source is then bounded.
    pub fn bounded(mut self, bounded: bool) -> Self {
        self.bounded = bounded;
        self
    }

    /// A client property passed through to librdkafka (`fetch.min.bytes`, ...).
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// How long to keep trying to reach the brokers at start before failing (30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether the source ends (see [`KafkaSource::bounded`]).
    pub fn is_bounded(&self) -> bool {
        self.bounded
    }

    /// The reader of worker `worker` of `workers`. It connects at its first poll, so that a
    /// broker that cannot be reached fails the running job with a clear error.
    pub fn reader(&self, worker: usize, workers: usize) -> KafkaReader {
        KafkaReader {
            source: self.clone(),
            worker,
            workers: workers.max(1),
            consumer: None,
            queues: Vec::new(),
            partitions: Vec::new(),
            restored: None,
            finished: false,
        }
    }

    /// The messages of this worker's partitions, as a stream (map them to records).
    pub fn stream<'s>(
        &self,
        env: &Env<'s>,
        name: &str,
        strategy: WatermarkStrategy<KafkaMessage>,
    ) -> DataStream<'s, KafkaMessage> {
        env.source(
            name,
            self.reader(env.worker_index(), env.workers()),
            strategy,
        )
    }

    /// The messages of this worker's partitions with event time from `timestamp` (say the
    /// message's own time, or a field of its value) and per-partition watermarks `bound`
    /// behind each partition's largest time; a partition silent for `idle_timeout` stops
    /// holding the watermark back.
    pub fn stream_with_event_time<'s>(
        &self,
        env: &Env<'s>,
        name: &str,
        timestamp: impl Fn(&KafkaMessage) -> riffle_runtime::EventTime + Clone + 'static,
        bound: Duration,
        idle_timeout: Option<Duration>,
    ) -> DataStream<'s, KafkaMessage> {
        let reader = super::EventTimeReader {
            reader: self.reader(env.worker_index(), env.workers()),
            timestamp: timestamp.clone(),
            watermarks: super::PartitionWatermarks::new(bound.as_millis() as i64, idle_timeout),
        };
        env.source(name, reader, WatermarkStrategy::reader_defined(timestamp))
    }

    fn consumer(&self) -> Result<BaseConsumer> {
        // Short prefetch queues (overridable by properties): a partition whose queue is
        // full is not fetched, so the others get their turn and the partitions advance
        // together (librdkafka's default fills one partition's queue with up to 100,000
        // messages first, and the least of the partitions' watermarks then stalls).
        let mut config = client_config(
            &self.brokers,
            &[
                ("queued.min.messages".to_string(), "2000".to_string()),
                ("queued.max.messages.kbytes".to_string(), "4096".to_string()),
            ],
        );
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        // A consumer needs a group id even when it only reads assigned partitions.
        let group = self
            .group_id
            .clone()
            .unwrap_or_else(|| "riffle-unused-group".to_string());
        config.set("group.id", &group);
        create(&config, &self.brokers)
    }

    /// The partitions of the source's topics, sorted, as the brokers list them now.
    fn list_partitions(&self, consumer: &BaseConsumer) -> Result<Vec<(String, i32)>> {
        let metadata = wait_for_metadata(consumer, &self.brokers, self.connect_timeout)?;
        let known: BTreeMap<&str, Vec<i32>> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name(), t.partitions().iter().map(|p| p.id()).collect()))
            .collect();
        let names: Vec<String> = match &self.topics {
            Topics::Names(names) => {
                for name in names {
                    if !known.contains_key(name.as_str()) {
                        return Err(RiffleError::Config(format!(
                            "Kafka topic '{name}' does not exist on {} (topics: {})",
                            self.brokers,
                            list_or_none(known.keys())
                        )));
                    }
                }
                names.clone()
            }
            Topics::Pattern(pattern) => {
                let regex = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                    RiffleError::Config(format!("bad Kafka topic pattern '{pattern}': {e}"))
                })?;
                let names: Vec<String> = known
                    .keys()
                    .filter(|n| regex.is_match(n))
                    .map(|n| n.to_string())
                    .collect();
                if names.is_empty() {
                    return Err(RiffleError::Config(format!(
                        "no Kafka topic on {} matches the pattern '{pattern}' (topics: {})",
                        self.brokers,
                        list_or_none(known.keys())
                    )));
                }
                names
            }
        };
        let mut partitions = Vec::new();
        for name in names {
            for p in &known[name.as_str()] {
                partitions.push((name.clone(), *p));
            }
        }
        partitions.sort();
        Ok(partitions)
    }
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a &'a str>) -> String {
    let names: Vec<&str> = names.copied().filter(|n| !n.starts_with("__")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn create<C: rdkafka::config::FromClientConfig>(config: &ClientConfig, brokers: &str) -> Result<C> {
    config
        .create()
        .map_err(|e| kafka_error(brokers, "cannot create a Kafka client", e))
}

/// A partition a reader reads.
#[derive(Debug, Clone)]
struct Assigned {
    topic: Arc<str>,
    partition: i32,
    /// The offset of the next message to return.
    next: i64,
    /// Bounded sources: the end offset when the job started.
    end: Option<i64>,
    /// Timestamp starts: messages before the first one at or after this time are skipped
    /// (so that the start is right even where a broker answers a time lookup early).
    skip_before: Option<i64>,
}

/// A partition's place in a checkpoint: topic, partition, next offset, and the timestamp
/// still being looked for (see `Assigned::skip_before`).
type Position = (String, i32, i64, Option<i64>);

/// The reader of one worker: its share of the partitions (see [`KafkaSource`]).
pub struct KafkaReader {
    source: KafkaSource,
    worker: usize,
    workers: usize,
    consumer: Option<Arc<BaseConsumer>>,
    /// One queue per partition, in the order of `partitions`.
    queues: Vec<PartitionQueue<DefaultConsumerContext>>,
    partitions: Vec<Assigned>,
    restored: Option<Vec<Position>>,
    finished: bool,
}

impl KafkaReader {
    /// The partitions this reader reads and the next offset of each (after its first poll).
    pub fn offsets(&self) -> Vec<(String, i32, i64)> {
        self.partitions
            .iter()
            .map(|a| (a.topic.to_string(), a.partition, a.next))
            .collect()
    }

    fn positions(&self) -> Vec<Position> {
        self.partitions
            .iter()
            .map(|a| (a.topic.to_string(), a.partition, a.next, a.skip_before))
            .collect()
    }

    /// Connects, lists the partitions, takes this worker's share and resolves where each
    /// starts.
    fn connect(&mut self) -> Result<()> {
        let consumer = self.source.consumer()?;
        let all = self.source.list_partitions(&consumer)?;
        let mine: Vec<(String, i32)> = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.workers == self.worker)
            .map(|(_, p)| p)
            .collect();
        let restored: BTreeMap<(String, i32), (i64, Option<i64>)> = self
            .restored
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|(t, p, o, skip)| ((t, p), (o, skip)))
            .collect();
        let mut assignment = TopicPartitionList::new();
        let mut partitions = Vec::new();
        for (topic, partition) in mine {
            let brokers = &self.source.brokers;
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition, REQUEST_TIMEOUT)
                .map_err(|e| {
                    kafka_error(
                        brokers,
                        &format!("cannot read the offsets of {topic}[{partition}]"),
                        e,
                    )
                })?;
            let (next, skip_before) = match restored.get(&(topic.clone(), partition)) {
                Some(at) => *at,
                None => {
                    let skip = match self.source.startup {
                        StartupMode::Timestamp(at) => Some(at),
                        _ => None,
                    };
                    (
                        self.start_offset(&consumer, &topic, partition, low, high)?,
                        skip,
                    )
                }
            };
            assignment
                .add_partition_offset(&topic, partition, Offset::Offset(next))
                .map_err(|e| kafka_error(brokers, "cannot assign partitions", e))?;
            partitions.push(Assigned {
                topic: Arc::from(topic.as_str()),
                partition,
                next,
                end: self.source.bounded.then_some(high),
                skip_before,
            });
        }
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error(&self.source.brokers, "cannot assign partitions", e))?;
        tracing::info!(
            worker = self.worker,
            partitions = ?partitions.iter().map(describe).collect::<Vec<_>>(),
            "Kafka source assigned"
        );
        let consumer = Arc::new(consumer);
        self.queues = partitions
            .iter()
            .map(|a| {
                consumer
                    .split_partition_queue(&a.topic, a.partition)
                    .ok_or_else(|| {
                        RiffleError::Runtime(format!(
                            "cannot read {}[{}] on a queue of its own",
                            a.topic, a.partition
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        self.partitions = partitions;
        self.consumer = Some(consumer);
        Ok(())
    }

    /// Where `topic[partition]` starts under the source's startup mode.
    fn start_offset(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        partition: i32,
        low: i64,
        high: i64,
    ) -> Result<i64> {
        let brokers = &self.source.brokers;
        let one = |offset: Offset| -> Result<TopicPartitionList> {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic, partition, offset)
                .map_err(|e| kafka_error(brokers, "bad offset", e))?;
            Ok(tpl)
        };
        let first_offset = |tpl: TopicPartitionList| -> Option<Offset> {
            tpl.elements().first().map(|e| e.offset())
        };
        Ok(match &self.source.startup {
            StartupMode::Earliest => low,
            StartupMode::Latest => high,
            StartupMode::SpecificOffsets(offsets) => offsets
                .get(&partition)
                .copied()
                .unwrap_or(low)
                .clamp(low, high),
            StartupMode::Timestamp(at) => {
                let found = consumer
                    .offsets_for_times(one(Offset::Offset(*at))?, REQUEST_TIMEOUT)
                    .map_err(|e| kafka_error(brokers, "cannot look up offsets by time", e))?;
                match first_offset(found) {
                    Some(Offset::Offset(o)) => o,
                    // No message at or after the time.
                    _ => high,
                }
            }
            StartupMode::GroupOffsets => {
                let committed = consumer
                    .committed_offsets(one(Offset::Invalid)?, REQUEST_TIMEOUT)
                    .map_err(|e| kafka_error(brokers, "cannot read committed offsets", e))?;
                match first_offset(committed) {
                    Some(Offset::Offset(o)) => o,
                    _ => {
                        let reset = self
                            .source
                            .properties
                            .iter()
                            .rev()
                            .find(|(k, _)| k == "auto.offset.reset")
                            .map(|(_, v)| v.as_str());
                        match reset {
                            Some("earliest" | "smallest" | "beginning") => low,
                            Some("latest" | "largest" | "end") => high,
                            _ => {
                                return Err(RiffleError::Config(format!(
                                    "Kafka partition {topic}[{partition}] has no committed \
                                     offset for group '{}'; set 'properties.auto.offset.reset' \
                                     to 'earliest' or 'latest'",
                                    self.source.group_id.as_deref().unwrap_or("")
                                )))
                            }
                        }
                    }
                }
            }
        })
    }

    /// Appends up to `max` messages to `out`, taking the partitions in turns (each has a
    /// queue of its own), so that one partition does not run far ahead of the others and
    /// hold back the least of their watermarks.
    pub fn poll_messages(
        &mut self,
        out: &mut Vec<KafkaMessage>,
        max: usize,
    ) -> Result<SourceStatus> {
        if self.finished {
            return Ok(SourceStatus::Finished);
        }
        if self.consumer.is_none() {
            self.connect()?;
        }
        if self.partitions.is_empty() {
            // More workers than partitions: nothing to read on this one.
            self.finished = true;
            return Ok(SourceStatus::Finished);
        }
        let Some(consumer) = self.consumer.as_ref() else {
            return Ok(SourceStatus::Finished);
        };
        let brokers = &self.source.brokers;
        let quota = (max / self.partitions.len()).max(1);
        loop {
            if self.source.bounded && self.partitions.iter().all(done) {
                self.finished = true;
                tracing::info!(
                    worker = self.worker,
                    partitions = ?self.partitions.iter().map(describe).collect::<Vec<_>>(),
                    "Kafka source read to its end"
                );
                return Ok(SourceStatus::Finished);
            }
            let before = out.len();
            // The main queue: events, errors, and messages fetched before the split.
            while out.len() < max {
                match next(consumer.poll(Duration::ZERO), brokers)? {
                    Some(message) => accept(&mut self.partitions, &message, out),
                    None => break,
                }
            }
            for (i, queue) in self.queues.iter().enumerate() {
                let limit = (out.len() + quota).min(max);
                while out.len() < limit && !done(&self.partitions[i]) {
                    match next(queue.poll(Duration::ZERO), brokers)? {
                        Some(message) => accept(&mut self.partitions, &message, out),
                        None => break,
                    }
                }
            }
            if out.len() >= max {
                return Ok(SourceStatus::Ready);
            }
            if out.len() == before {
                return Ok(if out.is_empty() {
                    SourceStatus::Idle
                } else {
                    SourceStatus::Ready
                });
            }
        }
    }
}

/// The message `polled`, if any; transient errors are logged and end the turn (librdkafka
/// reconnects by itself, and the job waits for the broker).
fn next<'m>(
    polled: Option<rdkafka::error::KafkaResult<BorrowedMessage<'m>>>,
    brokers: &str,
) -> Result<Option<BorrowedMessage<'m>>> {
    match polled {
        None => Ok(None),
        Some(Ok(message)) => Ok(Some(message)),
        Some(Err(e)) if is_transient(&e) => {
            tracing::warn!(brokers, error = %e, "Kafka source");
            Ok(None)
        }
        Some(Err(e)) => Err(kafka_error(brokers, "reading failed", e)),
    }
}

/// Takes `message` into `out` unless its partition is not read here, it was read before,
/// it lies past a bounded end, or a timestamp start skips it.
fn accept(partitions: &mut [Assigned], message: &BorrowedMessage<'_>, out: &mut Vec<KafkaMessage>) {
    let Some(at) = partitions
        .iter_mut()
        .find(|a| a.partition == message.partition() && *a.topic == *message.topic())
    else {
        return;
    };
    if message.offset() < at.next || at.end.is_some_and(|end| message.offset() >= end) {
        return;
    }
    at.next = message.offset() + 1;
    if let Some(from) = at.skip_before {
        if message.timestamp().to_millis().is_some_and(|t| t < from) {
            return;
        }
        at.skip_before = None;
    }
    out.push(KafkaMessage::of(message));
}

/// `topic[partition]@next`, with `..end` for a bounded read: for logs.
fn describe(a: &Assigned) -> String {
    match a.end {
        Some(end) => format!("{}[{}]@{}..{end}", a.topic, a.partition, a.next),
        None => format!("{}[{}]@{}", a.topic, a.partition, a.next),
    }
}

fn done(a: &Assigned) -> bool {
    a.end.is_some_and(|end| a.next >= end)
}

/// Errors after which librdkafka goes on by itself (a broker restarting, a connection lost).
fn is_transient(error: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::BrokerTransportFailure
                | Code::AllBrokersDown
                | Code::NetworkException
                | Code::RequestTimedOut
                | Code::LeaderNotAvailable
                | Code::NotLeaderForPartition
                | Code::UnknownTopicOrPartition
                | Code::OperationTimedOut
        )
    )
}

impl SourceReader<KafkaMessage> for KafkaReader {
    fn poll(&mut self, out: &mut Vec<KafkaMessage>) -> Result<SourceStatus> {
        self.poll_messages(out, BATCH)
    }

    fn position(&self) -> Option<Vec<u8>> {
        let offsets = if self.consumer.is_some() {
            self.positions()
        } else {
            // Not connected yet: what a restore gave, if anything.
            self.restored.clone().unwrap_or_default()
        };
        if let (Some(consumer), Some(_)) = (&self.consumer, &self.source.group_id) {
            // For monitoring and 'group-offsets' starts; a restore reads the checkpoint.
            let mut tpl = TopicPartitionList::new();
            for (topic, partition, next, _) in &offsets {
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
            }
            if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                tracing::warn!(error = %e, "cannot commit Kafka offsets to the group");
            }
        }
        bincode::serialize(&offsets).ok()
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        let offsets: Vec<Position> = bincode::deserialize(position)
            .map_err(|e| RiffleError::Checkpoint(format!("bad Kafka source position: {e}")))?;
        self.restored = Some(offsets);
        self.queues.clear();
        self.consumer = None;
        self.partitions.clear();
        self.finished = false;
        Ok(())
    }
}
