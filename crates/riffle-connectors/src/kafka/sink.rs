//! The Kafka sink: no guarantee, at least once (flushed at each checkpoint), or exactly once
//! (one Kafka transaction per completed checkpoint, with the checkpoint's epoch committed in
//! the same transaction so that a restart knows whether it happened).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use riffle_core::{Result, RiffleError};
use riffle_runtime::{EventTime, Sink};
use serde::{Deserialize, Serialize};

use super::{client_config, kafka_error, wait_for_metadata};

/// How long a flush or a transaction step may take before the job fails.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What a Kafka sink promises (Flink's `sink.delivery-guarantee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryGuarantee {
    /// Records are sent as they come; a failure may lose what was in flight.
    None,
    /// Every record of a checkpoint is acknowledged before the checkpoint completes; a
    /// restart may write records again.
    AtLeastOnce,
    /// Records are written in one Kafka transaction per completed checkpoint: readers with
    /// `isolation.level=read_committed` see each record once.
    ExactlyOnce,
}

/// How records find their partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// librdkafka's: by key hash, records without a key spread (Flink's `default`).
    Default,
    /// Each worker writes to one partition, its index modulo the partitions (`fixed`).
    Fixed,
    /// Records go to the partitions in turn (`round-robin`).
    RoundRobin,
}

/// One record to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaRecord {
    /// The key, if any.
    pub key: Option<Vec<u8>>,
    /// The value; `None` writes a tombstone (upsert deletes).
    pub value: Option<Vec<u8>>,
    /// The record's timestamp, ms since 1970 (none: the producer's clock).
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Headers, in order (a header may repeat, and may have no value).
    #[serde(default)]
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A Kafka sink's settings.
#[derive(Debug, Clone)]
pub struct KafkaSinkConfig {
    brokers: String,
    topic: String,
    guarantee: DeliveryGuarantee,
    transactional_id_prefix: Option<String>,
    partitioner: Partitioner,
    properties: Vec<(String, String)>,
    report: Option<PathBuf>,
    connect_timeout: Duration,
}

impl KafkaSinkConfig {
    /// A sink writing to `topic` at least once.
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>) -> Self {
        KafkaSinkConfig {
            brokers: brokers.into(),
            topic: topic.into(),
            guarantee: DeliveryGuarantee::AtLeastOnce,
            transactional_id_prefix: None,
            partitioner: Partitioner::Default,
            properties: Vec::new(),
            report: None,
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// What the sink promises. Exactly once needs a transactional id prefix.
    pub fn guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// The prefix of the transactional ids (`{prefix}-{worker}`), unique to this job among
    /// all jobs writing to the cluster (Flink's `sink.transactional-id-prefix`).
    pub fn transactional_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.transactional_id_prefix = Some(prefix.into());
        self
    }

    /// How records are spread over the partitions.
    pub fn partitioner(mut self, partitioner: Partitioner) -> Self {
        self.partitioner = partitioner;
        self
    }

    /// A client property passed through to librdkafka.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Exactly once: append a JSON line per transaction to this file, with the offsets each
    /// wrote per partition (`"state": "prepared"` before the commit, `"committed"` after it
    /// or when a restart finds it was). Readers that cannot skip aborted records can keep
    /// the committed ranges; a range holds only its transaction's records when no other
    /// producer writes the partition (the `Fixed` partitioner with no more workers than
    /// partitions).
    pub fn report(mut self, path: impl Into<PathBuf>) -> Self {
        self.report = Some(path.into());
        self
    }

    /// How long to keep trying to reach the brokers at start (30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks the settings that need no broker.
    pub fn validate(&self) -> Result<()> {
        if self.guarantee == DeliveryGuarantee::ExactlyOnce
            && self
                .transactional_id_prefix
                .as_deref()
                .unwrap_or("")
                .is_empty()
        {
            return Err(RiffleError::Config(
                "an exactly-once Kafka sink needs a transactional id prefix \
                 ('sink.transactional-id-prefix')"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Offsets a producer's records were written at, per partition, and the first failure.
#[derive(Default)]
struct Deliveries {
    state: Mutex<DeliveryState>,
}

#[derive(Default)]
struct DeliveryState {
    ranges: BTreeMap<i32, Range>,
    failure: Option<String>,
}

/// The offsets of a transaction's records in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The smallest offset written.
    pub first: i64,
    /// The largest offset written.
    pub last: i64,
    /// How many records.
    pub records: u64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(message) => {
                let offset = message.offset();
                let range = state.ranges.entry(message.partition()).or_insert(Range {
                    first: offset,
                    last: offset,
                    records: 0,
                });
                range.first = range.first.min(offset);
                range.last = range.last.max(offset);
                range.records += 1;
            }
            Err((error, message)) => {
                if state.failure.is_none() {
                    state.failure = Some(format!(
                        "a record for partition {} was not written: {error}",
                        message.partition()
                    ));
                }
            }
        }
    }
}

/// What an exactly-once sink keeps in a checkpoint: the records of epochs that are complete
/// but not yet committed to Kafka.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pending {
    epochs: Vec<(u64, Vec<KafkaRecord>)>,
}

/// A line of the transaction report.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReportLine {
    /// `prepared` (flushed, about to commit) or `committed`.
    pub state: String,
    /// The writing worker.
    pub worker: usize,
    /// The last checkpoint epoch the transaction covers.
    pub epoch: u64,
    /// The transactional id.
    pub transactional_id: String,
    /// Offsets written per partition (for `prepared`).
    #[serde(default)]
    pub ranges: BTreeMap<i32, Range>,
}

/// Writes [`KafkaRecord`]s to a topic (see [`DeliveryGuarantee`]).
pub struct KafkaSink {
    config: KafkaSinkConfig,
    worker: usize,
    producer: Option<BaseProducer<Deliveries>>,
    /// Exactly once: a consumer whose group holds the last committed epoch (the ledger).
    ledger: Option<BaseConsumer>,
    partitions: i32,
    next_partition: i32,
    /// Exactly once: records of the epoch being written.
    current: Vec<KafkaRecord>,
    pending: Pending,
    /// Exactly once: the state of a restored checkpoint, applied when connected.
    restored: Option<Pending>,
}

impl KafkaSink {
    /// The sink of worker `worker`; it connects when it first needs the brokers.
    pub fn new(config: KafkaSinkConfig, worker: usize) -> Result<KafkaSink> {
        config.validate()?;
        Ok(KafkaSink {
            config,
            worker,
            producer: None,
            ledger: None,
            partitions: 1,
            next_partition: 0,
            current: Vec::new(),
            pending: Pending::default(),
            restored: None,
        })
    }

    fn transactional_id(&self) -> String {
        format!(
            "{}-{}",
            self.config.transactional_id_prefix.as_deref().unwrap_or(""),
            self.worker
        )
    }

    fn exactly_once(&self) -> bool {
        self.config.guarantee == DeliveryGuarantee::ExactlyOnce
    }

    fn error(&self, what: &str, e: KafkaError) -> RiffleError {
        kafka_error(&self.config.brokers, what, e)
    }

    /// Connects on first use: checks the topic, and for exactly once fences earlier
    /// producers of this worker's transactional id and settles a restored checkpoint.
    fn connect(&mut self) -> Result<()> {
        if self.producer.is_some() {
            return Ok(());
        }
        let brokers = self.config.brokers.clone();
        let mut config = client_config(&brokers, &self.config.properties);
        if self.exactly_once() {
            config.set("transactional.id", self.transactional_id());
        } else if self.config.guarantee == DeliveryGuarantee::AtLeastOnce {
            config.set("enable.idempotence", "true");
        }
        let producer: BaseProducer<Deliveries> = config
            .create_with_context(Deliveries::default())
            .map_err(|e| self.error("cannot create a Kafka producer", e))?;
        let metadata = wait_for_metadata(producer.client(), &brokers, self.config.connect_timeout)?;
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.config.topic && t.error().is_none());
        let Some(topic) = topic else {
            return Err(RiffleError::Config(format!(
                "Kafka topic '{}' does not exist on {brokers}",
                self.config.topic
            )));
        };
        self.partitions = (topic.partitions().len() as i32).max(1);
        self.next_partition = self.worker as i32 % self.partitions;
        if self.exactly_once() {
            producer
                .init_transactions(TIMEOUT)
                .map_err(|e| self.error("cannot start Kafka transactions", e))?;
            let mut ledger_config = client_config(&brokers, &self.config.properties);
            ledger_config
                .set("group.id", self.transactional_id())
                .set("enable.auto.commit", "false");
            self.ledger = Some(
                ledger_config
                    .create()
                    .map_err(|e| self.error("cannot create a Kafka consumer", e))?,
            );
        }
        self.producer = Some(producer);
        if let Some(restored) = self.restored.take() {
            self.settle(restored)?;
        }
        Ok(())
    }

    /// After a restart: epochs of the restored checkpoint that a transaction committed
    /// before the failure are reported and dropped; the others are written now (their
    /// checkpoint is complete). A transaction left open was aborted by `init_transactions`.
    fn settle(&mut self, restored: Pending) -> Result<()> {
        let committed = self.committed_epoch()?;
        let mut left = Vec::new();
        for (epoch, records) in restored.epochs {
            if committed.is_some_and(|c| epoch <= c) {
                self.report(&ReportLine {
                    state: "committed".into(),
                    worker: self.worker,
                    epoch,
                    transactional_id: self.transactional_id(),
                    ranges: BTreeMap::new(),
                })?;
            } else {
                left.push((epoch, records));
            }
        }
        if let Some(&(last, _)) = left.last() {
            // Restored epochs come before any written since the restart.
            left.append(&mut self.pending.epochs);
            self.pending.epochs = left;
            self.commit_pending(last)?;
        }
        Ok(())
    }

    /// The last epoch whose transaction committed, from the ledger group's offset.
    fn committed_epoch(&self) -> Result<Option<u64>> {
        let Some(ledger) = &self.ledger else {
            return Ok(None);
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.config.topic, 0);
        let committed = ledger
            .committed_offsets(tpl, TIMEOUT)
            .map_err(|e| self.error("cannot read the sink's committed epoch", e))?;
        Ok(match committed.elements().first().map(|e| e.offset()) {
            Some(Offset::Offset(i64::MAX)) => Some(u64::MAX),
            Some(Offset::Offset(n)) if n > 0 => Some(n as u64 - 1),
            _ => None,
        })
    }

    /// Sends one record, waiting while librdkafka's queue is full.
    fn send(&mut self, record: &KafkaRecord) -> Result<()> {
        let partition = match self.config.partitioner {
            Partitioner::Default => None,
            Partitioner::Fixed => Some(self.worker as i32 % self.partitions),
            Partitioner::RoundRobin => {
                let p = self.next_partition;
                self.next_partition = (p + 1) % self.partitions;
                Some(p)
            }
        };
        let Some(producer) = self.producer.as_ref() else {
            return Err(RiffleError::Runtime(
                "the Kafka sink is not connected".into(),
            ));
        };
        let mut message = BaseRecord::<[u8], [u8]>::to(&self.config.topic);
        if let Some(key) = &record.key {
            message = message.key(key.as_slice());
        }
        if let Some(value) = &record.value {
            message = message.payload(value.as_slice());
        }
        if let Some(p) = partition {
            message = message.partition(p);
        }
        if let Some(ms) = record.timestamp {
            message = message.timestamp(ms);
        }
        if !record.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: value.as_deref(),
                });
            }
            message = message.headers(headers);
        }
        loop {
            match producer.send(message) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    message = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(self.error("cannot send a record", e)),
            }
        }
        producer.poll(Duration::ZERO);
        self.check_deliveries()
    }

    fn check_deliveries(&self) -> Result<()> {
        let Some(producer) = &self.producer else {
            return Ok(());
        };
        let state = producer
            .context()
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match &state.failure {
            Some(failure) => Err(RiffleError::Network {
                endpoint: self.config.brokers.clone(),
                message: format!("topic '{}': {failure}", self.config.topic),
            }),
            None => Ok(()),
        }
    }

    /// Logs the offsets this producer's records were written at, per partition.
    fn log_deliveries(&self) {
        if let Some(producer) = &self.producer {
            let state = producer
                .context()
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            tracing::info!(
                topic = %self.config.topic,
                worker = self.worker,
                ranges = ?state.ranges,
                "Kafka sink delivered its records"
            );
        }
    }

    fn flush(&self) -> Result<()> {
        if let Some(producer) = &self.producer {
            producer
                .flush(TIMEOUT)
                .map_err(|e| self.error("cannot flush records", e))?;
        }
        self.check_deliveries()
    }

    /// Writes every pending epoch up to `epoch` in one transaction, with `epoch` as the
    /// ledger's offset, and reports it.
    fn commit_pending(&mut self, epoch: u64) -> Result<()> {
        // Connecting first settles a restored checkpoint's epochs, which come before these.
        self.connect()?;
        let count = self
            .pending
            .epochs
            .iter()
            .take_while(|(e, _)| *e <= epoch)
            .count();
        if count == 0 {
            return Ok(());
        }
        let batch: Vec<(u64, Vec<KafkaRecord>)> = self.pending.epochs.drain(..count).collect();
        let last = batch.last().map(|(e, _)| *e).unwrap_or(epoch);
        if let Some(producer) = &self.producer {
            producer
                .context()
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .ranges
                .clear();
            producer
                .begin_transaction()
                .map_err(|e| self.error("cannot begin a Kafka transaction", e))?;
        }
        for (_, records) in &batch {
            for record in records {
                self.send(record)?;
            }
        }
        self.flush()?;
        let (Some(producer), Some(ledger)) = (&self.producer, &self.ledger) else {
            return Err(RiffleError::Runtime(
                "the Kafka sink is not connected".into(),
            ));
        };
        let mut marker = TopicPartitionList::new();
        // The epoch after `last`, so that 0 means "nothing committed yet"; FINAL_EPOCH
        // (u64::MAX) is stored as i64::MAX.
        let mark = i64::try_from(last).unwrap_or(i64::MAX - 1) + 1;
        marker
            .add_partition_offset(&self.config.topic, 0, Offset::Offset(mark))
            .map_err(|e| self.error("bad ledger offset", e))?;
        let group = ledger
            .group_metadata()
            .ok_or_else(|| RiffleError::Runtime("the ledger consumer has no group".into()))?;
        producer
            .send_offsets_to_transaction(&marker, &group, TIMEOUT)
            .map_err(|e| self.error("cannot add the epoch to the Kafka transaction", e))?;
        let ranges = producer
            .context()
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ranges
            .clone();
        let line = |state: &str, ranges: BTreeMap<i32, Range>| ReportLine {
            state: state.into(),
            worker: self.worker,
            epoch: last,
            transactional_id: self.transactional_id(),
            ranges,
        };
        self.report(&line("prepared", ranges))?;
        producer
            .commit_transaction(TIMEOUT)
            .map_err(|e| self.error("cannot commit the Kafka transaction", e))?;
        self.report(&line("committed", BTreeMap::new()))?;
        tracing::debug!(
            worker = self.worker,
            epoch = last,
            "Kafka transaction committed"
        );
        Ok(())
    }

    fn report(&self, line: &ReportLine) -> Result<()> {
        let Some(path) = &self.config.report else {
            return Ok(());
        };
        let mut text = serde_json::to_string(line)
            .map_err(|e| RiffleError::Runtime(format!("cannot write the report: {e}")))?;
        text.push('\n');
        // One write per line on a file opened for appending: lines of several workers do
        // not interleave.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_data()))
            .map_err(|e| RiffleError::io(path, e))
    }
}

impl Sink<KafkaRecord> for KafkaSink {
    fn write(&mut self, records: &mut Vec<(EventTime, KafkaRecord)>) -> Result<()> {
        if self.exactly_once() {
            self.current.extend(records.drain(..).map(|(_, r)| r));
            return Ok(());
        }
        self.connect()?;
        for (_, record) in records.drain(..) {
            self.send(&record)?;
        }
        Ok(())
    }

    fn epoch_complete(&mut self, epoch: u64) -> Result<()> {
        if self.exactly_once() {
            let records = std::mem::take(&mut self.current);
            self.pending.epochs.push((epoch, records));
            Ok(())
        } else if self.config.guarantee == DeliveryGuarantee::AtLeastOnce {
            self.flush()?;
            if epoch == riffle_runtime::FINAL_EPOCH {
                self.log_deliveries();
            }
            Ok(())
        } else {
            Ok(())
        }
    }

    fn snapshot(&mut self) -> Result<Vec<u8>> {
        if !self.exactly_once() {
            return Ok(Vec::new());
        }
        bincode::serialize(&self.pending)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot save the Kafka sink: {e}")))
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        if self.exactly_once() {
            self.commit_pending(epoch)
        } else {
            Ok(())
        }
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<()> {
        if !self.exactly_once() || snapshot.is_empty() {
            return Ok(());
        }
        let pending: Pending = bincode::deserialize(snapshot)
            .map_err(|e| RiffleError::Checkpoint(format!("bad Kafka sink snapshot: {e}")))?;
        self.restored = Some(pending);
        // Settle now: the restored checkpoint is complete, so what it holds is committed
        // even if the job has nothing left to do (a job restored from its final checkpoint
        // ends at once).
        self.connect()
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(50))
    }

    /// Connects as soon as the job runs (so that fencing and recovering a restored
    /// checkpoint's transactions do not wait for the first commit), then serves delivery
    /// reports while records are few.
    fn tick(&mut self) -> Result<()> {
        self.connect()?;
        if let Some(producer) = &self.producer {
            producer.poll(Duration::ZERO);
        }
        self.check_deliveries()
    }

    fn finish(&mut self) -> Result<()> {
        if self.exactly_once() {
            // No checkpoints: everything in one transaction at the end.
            let records = std::mem::take(&mut self.current);
            self.pending.epochs.push((0, records));
            return self.commit_pending(0);
        }
        self.connect()?;
        self.flush()
    }
}

/// Reads a transaction report: the offset ranges of committed transactions, per partition
/// (the last `prepared` line of each worker and epoch that has a `committed` line).
pub fn committed_ranges(path: &std::path::Path) -> Result<Vec<(i32, Range)>> {
    let text = std::fs::read_to_string(path).map_err(|e| RiffleError::io(path, e))?;
    let mut prepared: BTreeMap<(usize, u64), BTreeMap<i32, Range>> = BTreeMap::new();
    let mut committed: BTreeMap<(usize, u64), BTreeMap<i32, Range>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line: ReportLine = serde_json::from_str(line)
            .map_err(|e| RiffleError::Runtime(format!("{}:{}: {e}", path.display(), n + 1)))?;
        let key = (line.worker, line.epoch);
        match line.state.as_str() {
            "prepared" => {
                prepared.insert(key, line.ranges);
            }
            _ => {
                if let Some(ranges) = prepared.get(&key) {
                    committed.insert(key, ranges.clone());
                }
            }
        }
    }
    Ok(committed
        .into_values()
        .flat_map(|ranges| ranges.into_iter())
        .collect())
}
