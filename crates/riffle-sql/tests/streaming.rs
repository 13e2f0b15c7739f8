//! Streaming SQL on the runtime against independently computed results: window aggregations
//! over the Nexmark generator checked against a plain loop over the same events, for 1 and 4
//! workers and in batch mode; INSERT INTO files and blackhole.

use std::collections::BTreeMap;

use riffle_connectors::nexmark::{event, Event, NexmarkConfig};
use riffle_sql::{render, Output, ResultFormat, Session};

const EVENTS: u64 = 200_000;

fn bid_table(extra_settings: &str) -> String {
    format!(
        "{extra_settings}
        CREATE TABLE bid (
            auction BIGINT,
            bidder BIGINT,
            price BIGINT,
            dateTime TIMESTAMP(3),
            WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
        ) WITH (
            'connector' = 'nexmark',
            'table' = 'bid',
            'events.num' = '{EVENTS}',
            'first-event.rate' = '1000'
        );"
    )
}

/// Runs `script` and returns the rows of its last query as CSV lines (no header), sorted.
fn rows(script: &str) -> Vec<String> {
    let mut session = Session::new().unwrap();
    let mut out = Vec::new();
    session
        .run_script(script, |_, output| {
            if let Output::Rows { schema, batches } = output {
                let text = render(&schema, &batches, ResultFormat::Csv)?;
                out = text.lines().skip(1).map(str::to_string).collect();
            }
            Ok(())
        })
        .unwrap();
    out.sort();
    out
}

fn bids() -> Vec<(i64, u64, u64)> {
    let config = NexmarkConfig {
        max_events: Some(EVENTS),
        events_per_second: 1000,
        ..NexmarkConfig::default()
    };
    (0..EVENTS)
        .filter_map(|n| match event(&config, n) {
            Event::Bid(b) => Some((b.date_time, b.auction, b.price)),
            _ => None,
        })
        .collect()
}

const TUMBLE_QUERY: &str = "
    SELECT CAST(window_start AS BIGINT) AS ws, auction, COUNT(*) AS bids, MAX(price) AS top,
           SUM(price) AS total
    FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
    GROUP BY window_start, window_end, auction;";

#[test]
fn tumbling_window_aggregates_match_a_loop_over_the_generator_for_any_worker_count() {
    let mut expected: BTreeMap<(i64, u64), (u64, u64, u64)> = BTreeMap::new();
    for (ts, auction, price) in bids() {
        let start = ts - ts.rem_euclid(10_000);
        let e = expected.entry((start, auction)).or_insert((0, 0, 0));
        e.0 += 1;
        e.1 = e.1.max(price);
        e.2 += price;
    }
    let mut expected: Vec<String> = expected
        .iter()
        .map(|((ws, a), (n, top, total))| format!("{ws},{a},{n},{top},{total}"))
        .collect();
    expected.sort();
    assert!(expected.len() > 100, "{} groups", expected.len());

    let batch = rows(&format!("{}{TUMBLE_QUERY}", bid_table("")));
    assert_eq!(batch, expected, "batch mode");
    for workers in [1, 4] {
        let settings = format!(
            "SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '{workers}';"
        );
        let streamed = rows(&format!("{}{TUMBLE_QUERY}", bid_table(&settings)));
        assert_eq!(streamed, expected, "streaming on {workers} workers");
    }
}

#[test]
fn hopping_window_counts_match_a_loop_over_the_generator() {
    let mut expected: BTreeMap<i64, u64> = BTreeMap::new();
    for (ts, _, _) in bids() {
        // Windows of 10 s every 5 s: the two starting at or before ts within 10 s.
        let last = ts - ts.rem_euclid(5_000);
        for start in [last - 5_000, last] {
            *expected.entry(start).or_default() += 1;
        }
    }
    let expected: Vec<String> = expected.iter().map(|(ws, n)| format!("{ws},{n}")).collect();
    let query = "SELECT CAST(window_start AS BIGINT), COUNT(*) FROM TABLE(
            HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
        GROUP BY window_start, window_end;";
    let mut streamed = rows(&format!(
        "{}{query}",
        bid_table("SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '2';")
    ));
    // Sort numerically, as the expected rows are.
    streamed.sort_by_key(|r| r.split(',').next().unwrap().parse::<i64>().unwrap());
    assert_eq!(streamed, expected);
}

#[test]
fn insert_into_files_writes_exactly_the_rows_of_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let script = format!(
        "{}
        CREATE TABLE counts (ws BIGINT, auction BIGINT, bids BIGINT, top BIGINT, total BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
        INSERT INTO counts {TUMBLE_QUERY}",
        bid_table("SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '2';"),
        out.display()
    );
    let mut messages = Vec::new();
    Session::new()
        .unwrap()
        .run_script(&script, |_, output| {
            if let Output::Message(m) = output {
                messages.push(m);
            }
            Ok(())
        })
        .unwrap();
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .flat_map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    written.sort();
    let expected = rows(&format!("{}{TUMBLE_QUERY}", bid_table("")));
    assert_eq!(written, expected);
    let last = messages.last().unwrap();
    assert!(
        last.contains(&format!("{} rows written to 'counts'", expected.len())),
        "{last}"
    );
}

#[test]
fn insert_checks_the_target_and_blackhole_counts_rows() {
    let mut session = Session::new().unwrap();
    let mut messages = Vec::new();
    session
        .run_script(
            &format!(
                "{}
                CREATE TABLE sink (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');
                INSERT INTO sink SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;",
                bid_table("SET 'execution.runtime-mode' = 'streaming';")
            ),
            |_, output| {
                if let Output::Message(m) = output {
                    messages.push(m);
                }
                Ok(())
            },
        )
        .unwrap();
    let expected = bids().iter().filter(|(_, a, _)| a % 123 == 0).count();
    assert!(expected > 0);
    assert!(
        messages
            .last()
            .unwrap()
            .contains(&format!("{expected} rows written to 'sink'")),
        "{messages:?}"
    );
    let error = session
        .run_script("INSERT INTO sink SELECT auction FROM bid;", |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("the query gives 1 columns and 'sink' has 2 (auction, price)"),
        "{error}"
    );
    let error = session
        .run_script("INSERT INTO bid SELECT * FROM bid;", |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("cannot be written to"), "{error}");
}

#[test]
fn a_group_by_without_windows_ends_with_the_loops_counts_on_any_worker_count() {
    let mut expected: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (_, auction, price) in bids() {
        let e = expected.entry(auction).or_default();
        e.0 += 1;
        e.1 = e.1.max(price);
    }
    let mut expected: Vec<String> = expected
        .iter()
        .map(|(a, (n, top))| format!("{a},{n},{top}"))
        .collect();
    expected.sort();
    let query = "SELECT auction, COUNT(*), MAX(price) FROM bid GROUP BY auction;";
    for workers in [1, 4] {
        let settings = format!(
            "SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '{workers}';"
        );
        assert_eq!(
            rows(&format!("{}{query}", bid_table(&settings))),
            expected,
            "{workers} workers"
        );
    }
}
