//! Streaming SQL on the runtime against independently computed results: window aggregations
//! over the Nexmark generator checked against a plain loop over the same events, for 1 and 4
//! workers and in batch mode; INSERT INTO files and blackhole.

use std::collections::BTreeMap;

mod common;

use common::{rows, rows_in, timestamp};
use riffle_connectors::nexmark::{event, Event, NexmarkConfig};
use riffle_sql::{Output, Session};

const EVENTS: u64 = 200_000;

fn bid_table(extra_settings: &str) -> String {
    bid_table_of(EVENTS, extra_settings)
}

/// [`bid_table`] over the generator's first `events` events.
fn bid_table_of(events: u64, extra_settings: &str) -> String {
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
            'events.num' = '{events}',
            'first-event.rate' = '1000'
        );"
    )
}

/// `query`'s rows over the bid table of `events` events in streaming mode on `workers`
/// workers (sorted CSV lines).
fn streamed(events: u64, query: &str, workers: usize) -> Vec<String> {
    let settings = format!(
        "SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '{workers}';"
    );
    rows(&format!("{}{query}", bid_table_of(events, &settings)))
}

/// Asserts that `query` streamed on 1 and on 4 workers gives exactly `expected`.
fn assert_streamed(query: &str, expected: &[String]) {
    assert_streamed_of(EVENTS, query, expected);
}

/// [`assert_streamed`] over the generator's first `events` events.
fn assert_streamed_of(events: u64, query: &str, expected: &[String]) {
    for workers in [1, 4] {
        assert_eq!(
            streamed(events, query, workers),
            expected,
            "streaming on {workers} workers"
        );
    }
}

/// The lines of the committed part files under `dir`, sorted.
fn written_lines(dir: &std::path::Path) -> Vec<String> {
    let mut written: Vec<String> = std::fs::read_dir(dir)
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
    written
}

fn bids() -> Vec<(i64, u64, u64)> {
    bids_of(EVENTS)
}

/// The bids among the generator's first `events` events: (time, auction, price).
fn bids_of(events: u64) -> Vec<(i64, u64, u64)> {
    let config = NexmarkConfig {
        max_events: Some(events),
        events_per_second: 1000,
        ..NexmarkConfig::default()
    };
    (0..events)
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
    assert_streamed(TUMBLE_QUERY, &expected);
}

#[test]
fn a_csv_file_read_for_some_of_its_columns_gives_the_rows_of_a_loop_over_it() {
    // The bids with columns the query does not read around the ones it does (the reader
    // keeps only those; a bad value in the others would still be a bad record).
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut expected: BTreeMap<(i64, u64), (u64, u64, u64)> = BTreeMap::new();
    for (i, (ts, auction, price)) in bids().into_iter().enumerate() {
        let bidder = i;
        let time = chrono::DateTime::from_timestamp_millis(ts)
            .unwrap()
            .naive_utc();
        text.push_str(&format!(
            "{auction},{bidder},{price},Google,https://x.com/{i},{},extra {i}\n",
            time.format("%Y-%m-%d %H:%M:%S%.3f")
        ));
        let start = ts - ts.rem_euclid(10_000);
        let e = expected.entry((start, auction)).or_insert((0, 0, 0));
        e.0 += 1;
        e.1 = e.1.max(price);
        e.2 += price;
    }
    std::fs::write(dir.path().join("bids.csv"), text).unwrap();
    let mut expected: Vec<String> = expected
        .iter()
        .map(|((ws, a), (n, top, total))| format!("{ws},{a},{n},{top},{total}"))
        .collect();
    expected.sort();
    let table = format!(
        "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING,
            url STRING, dateTime TIMESTAMP(3), extra STRING,
            WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND)
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
        dir.path().display()
    );
    for workers in [1, 4] {
        let settings = format!(
            "SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '{workers}';"
        );
        let got = rows(&format!("{settings}{table}{TUMBLE_QUERY}"));
        assert_eq!(got, expected, "{workers} workers");
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
    let mut got = streamed(EVENTS, query, 2);
    // Sort numerically, as the expected rows are.
    got.sort_by_key(|r| r.split(',').next().unwrap().parse::<i64>().unwrap());
    assert_eq!(got, expected);
}

#[test]
fn hopping_window_aggregates_per_key_match_a_loop_whether_folded_by_slice_or_not() {
    // Windows of 10 s every 2 s are folded by 2 s slices (each bid folded once, each slice's
    // partial added to its five windows); every 3 s they cannot be (10 is not a multiple of
    // 3) and each bid is folded into each of its windows. Both against a loop, with the
    // window's start or only its end as a key, on 1 and 4 workers.
    for (slide, sliced) in [(2_000i64, true), (3_000, false)] {
        let size = 10_000i64;
        let mut by_start: BTreeMap<(i64, u64), (u64, u64, u64)> = BTreeMap::new();
        for (ts, auction, price) in bids() {
            let last = ts - ts.rem_euclid(slide);
            let mut start = last - (size - 1) / slide * slide;
            while start <= last {
                if start + size > ts {
                    let e = by_start.entry((start, auction)).or_insert((0, 0, 0));
                    e.0 += 1;
                    e.1 = e.1.max(price);
                    e.2 += price;
                }
                start += slide;
            }
        }
        let hop = format!(
            "TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '{}' SECOND, \
             INTERVAL '10' SECOND))",
            slide / 1_000
        );
        let mut expected: Vec<String> = by_start
            .iter()
            .map(|((ws, a), (n, top, total))| format!("{ws},{a},{n},{top},{total}"))
            .collect();
        expected.sort();
        let query = format!(
            "SELECT CAST(window_start AS BIGINT), auction, COUNT(*), MAX(price), SUM(price)
            FROM {hop} GROUP BY auction, window_start, window_end;"
        );
        let mut plan = String::new();
        Session::new()
            .unwrap()
            .run_script(
                &format!(
                    "{}EXPLAIN {query}",
                    bid_table("SET 'execution.runtime-mode' = 'streaming';")
                ),
                |_, output| {
                    if let Output::Text(text) = output {
                        plan = text;
                    }
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(
            plan.contains("folded by slices of 2000 ms"),
            sliced,
            "slide {slide}: {plan}"
        );
        assert_streamed(&query, &expected);
        // The window's end alone as a key.
        let mut expected: Vec<String> = by_start
            .iter()
            .map(|((ws, a), (n, _, _))| format!("{},{a},{n}", ws + size))
            .collect();
        expected.sort();
        let query = format!(
            "SELECT CAST(window_end AS BIGINT), auction, COUNT(*) FROM {hop}
            GROUP BY auction, window_end;"
        );
        assert_streamed(&query, &expected);
        // The window's time alone as the only key: each window's total.
        let mut totals: BTreeMap<i64, u64> = BTreeMap::new();
        for ((ws, _), (n, _, _)) in &by_start {
            *totals.entry(ws + size - 1).or_default() += n;
        }
        let mut expected: Vec<String> = totals.iter().map(|(t, n)| format!("{t},{n}")).collect();
        expected.sort();
        let query = format!(
            "SELECT CAST(window_time AS BIGINT), COUNT(*) FROM {hop} GROUP BY window_time;"
        );
        assert_streamed(&query, &expected);
    }
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
    let written = written_lines(&out);
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
    assert_streamed(query, &expected);
    // With mini-batches (an update per group per message, groups kept per part).
    let mini_batch = format!("SET 'table.exec.mini-batch.enabled' = 'true'; {query}");
    assert_streamed(&mini_batch, &expected);
    // Without aggregates a group is inserted once, however many rows or messages hold it.
    let keys: Vec<String> = expected
        .iter()
        .map(|line| line.split(',').next().unwrap_or_default().to_string())
        .collect();
    let query = "SELECT auction FROM bid GROUP BY auction;";
    assert_streamed(query, &keys);
    assert_streamed(
        "SELECT COUNT(*) FROM (SELECT DISTINCT auction FROM bid);",
        &[keys.len().to_string()],
    );
    assert_streamed(
        &format!("SET 'table.exec.mini-batch.enabled' = 'true'; {query}"),
        &keys,
    );
}

#[test]
fn a_statement_set_runs_its_inserts_as_one_job_and_explain_shows_the_operators() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let script = format!(
        "{}
        CREATE TABLE counts (ws BIGINT, auction BIGINT, bids BIGINT, top BIGINT, total BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
        CREATE TABLE picked (auction BIGINT, price BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
        EXECUTE STATEMENT SET BEGIN
            INSERT INTO counts {TUMBLE_QUERY}
            INSERT INTO picked SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
        END;
        EXPLAIN {TUMBLE_QUERY}",
        bid_table("SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '2';"),
        a.display(),
        b.display()
    );
    let mut messages = Vec::new();
    let mut explained = String::new();
    Session::new()
        .unwrap()
        .run_script(&script, |_, output| {
            match output {
                Output::Message(m) => messages.push(m),
                Output::Text(t) => explained = t,
                Output::Rows { .. } => {}
            }
            Ok(())
        })
        .unwrap();
    let lines = |dir: &std::path::Path| -> Vec<String> {
        let mut lines: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .flat_map(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap();
                text.lines().map(str::to_string).collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(lines(&a), rows(&format!("{}{TUMBLE_QUERY}", bid_table(""))));
    let picked = bids().iter().filter(|(_, a, _)| a % 123 == 0).count();
    assert_eq!(lines(&b).len(), picked);
    assert!(
        lines(&b)[0].starts_with("{\"auction\":"),
        "{}",
        lines(&b)[0]
    );
    let done = messages.last().unwrap();
    assert!(
        done.contains("rows written to 'counts'")
            && done.contains(&format!("{picked} rows written to 'picked'")),
        "{done}"
    );
    assert!(explained.contains("Optimized logical plan"), "{explained}");
    assert!(
        explained.contains("WindowAggregate (fires on the watermark)"),
        "{explained}"
    );
    assert!(explained.contains("Source bid"), "{explained}");
}

#[test]
fn a_function_registered_from_rust_runs_in_batch_and_streaming_mode() {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};

    // price_band(price) = price / 1000, as a function written in Rust.
    let band = create_udf(
        "price_band",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let prices = ColumnarValue::values_to_arrays(args)?;
            let prices = prices[0]
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| datafusion::error::DataFusionError::Internal("BIGINT".into()))?;
            let bands: Int64Array = prices.iter().map(|p| p.map(|p| p / 1000)).collect();
            Ok(ColumnarValue::Array(Arc::new(bands) as ArrayRef))
        }),
    );
    let mut expected: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, _, price) in bids() {
        *expected.entry(price / 1000).or_default() += 1;
    }
    let expected: Vec<String> = expected
        .iter()
        .filter(|(band, _)| **band < 5)
        .map(|(band, n)| format!("{band},{n}"))
        .collect();
    let query = "SELECT price_band(price) AS band, COUNT(*) FROM bid
                 WHERE price_band(price) < 5 GROUP BY price_band(price);";
    for mode in ["batch", "streaming"] {
        let mut session = Session::new().unwrap();
        session.register_udf(band.clone());
        let settings = format!("SET 'execution.runtime-mode' = '{mode}';");
        let mut out = rows_in(&mut session, &format!("{}{query}", bid_table(&settings)));
        out.sort_by_key(|l| l.split(',').next().unwrap().parse::<u64>().unwrap());
        assert_eq!(out, expected, "{mode} mode");
    }
}

/// Events of the OVER-over-updates test: each bid changes its auction's row, and every
/// change recomputes the rows after it in its partition.
const OVER_EVENTS: u64 = 30_000;

/// An auction's row in the OVER-over-updates test: its last bid's second, id and bids.
type Latest = (i64, u64, u64);

#[test]
fn over_windows_over_an_updating_result_end_with_the_loops_rows_on_any_worker_count() {
    // Each auction's bid count and the second of its last bid (auctions share seconds, so
    // RANGE frames have peers and ROWS frames ties), 20 auctions in a row to a partition.
    let mut latest: BTreeMap<u64, (i64, u64)> = BTreeMap::new();
    for (ts, auction, _) in bids_of(OVER_EVENTS) {
        let e = latest.entry(auction).or_default();
        e.0 = e.0.max(ts - ts.rem_euclid(1_000));
        e.1 += 1;
    }
    let mut partitions: BTreeMap<u64, Vec<Latest>> = BTreeMap::new();
    for (auction, (t, n)) in &latest {
        partitions
            .entry(auction / 20)
            .or_default()
            .push((*t, *auction, *n));
    }
    // Rows of one time are in the order of their values: the auction's id first.
    partitions.values_mut().for_each(|rows| rows.sort());
    let ties = partitions
        .values()
        .map(|rows| rows.windows(2).filter(|w| w[0].0 == w[1].0).count())
        .sum::<usize>();
    assert!(ties > 100, "{ties} ties");
    let expected = |row: &dyn Fn(&[Latest], usize) -> String| {
        let mut lines: Vec<String> = partitions
            .values()
            .flat_map(|rows| (0..rows.len()).map(|i| row(rows, i)).collect::<Vec<_>>())
            .collect();
        lines.sort();
        lines
    };
    let sum = |rows: &[Latest], keep: &dyn Fn(usize) -> bool| -> u64 {
        (0..rows.len())
            .filter(|j| keep(*j))
            .map(|j| rows[j].2)
            .sum()
    };
    let range = expected(&|rows, i| {
        let t = rows[i].0;
        let s = sum(rows, &|j| (t - 2_000..=t).contains(&rows[j].0));
        format!("{},{s}", rows[i].1)
    });
    let last_4 = expected(&|rows, i| {
        let s = sum(rows, &|j| (i.saturating_sub(3)..=i).contains(&j));
        let lag = i.checked_sub(2).map(|k| rows[k].1.to_string());
        format!("{},{s},{}", rows[i].1, lag.unwrap_or_default())
    });
    let running = expected(&|rows, i| {
        let s = sum(rows, &|j| rows[j].0 <= rows[i].0);
        format!("{},{s}", rows[i].1)
    });
    let view = "CREATE VIEW latest AS SELECT auction, auction / 20 AS p,
            DATE_TRUNC('second', MAX(dateTime)) AS t, COUNT(*) AS n
        FROM bid GROUP BY auction;";
    let over = |aggregates: &str, frame: &str| {
        format!(
            "{view} SELECT auction, {} FROM latest;",
            aggregates.replace("W", &format!("OVER (PARTITION BY p ORDER BY t {frame})"))
        )
    };
    assert_streamed_of(
        OVER_EVENTS,
        &over(
            "SUM(n) W",
            "RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW",
        ),
        &range,
    );
    assert_streamed_of(
        OVER_EVENTS,
        &over(
            "SUM(n) W, LAG(auction, 2) W",
            "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW",
        ),
        &last_4,
    );
    assert_streamed_of(OVER_EVENTS, &over("SUM(n) W", ""), &running);
}

#[test]
fn top_3_bids_per_auction_match_a_loop_on_any_worker_count() {
    let mut best: BTreeMap<u64, Vec<(u64, i64)>> = BTreeMap::new();
    for (ts, auction, price) in bids() {
        best.entry(auction).or_default().push((price, ts));
    }
    let mut expected = Vec::new();
    for (auction, mut bids) in best {
        // ORDER BY price DESC, dateTime ASC.
        bids.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (rank, (price, _)) in bids.iter().take(3).enumerate() {
            expected.push(format!("{auction},{price},{}", rank + 1));
        }
    }
    expected.sort();
    let query = "SELECT auction, price, rn FROM (
            SELECT auction, price, ROW_NUMBER() OVER (
                PARTITION BY auction ORDER BY price DESC, dateTime) AS rn
            FROM bid)
        WHERE rn <= 3;";
    assert_streamed(query, &expected);
    assert_eq!(
        rows(&format!("{}{query}", bid_table(""))),
        expected,
        "batch mode"
    );
}

#[test]
fn flinks_checkpoint_settings_checkpoint_a_streaming_job() {
    let dir = tempfile::tempdir().unwrap();
    let (out, chk) = (dir.path().join("out"), dir.path().join("chk"));
    let script = format!(
        "{}
        SET 'state.checkpoints.dir' = '{}';
        SET 'execution.checkpointing.interval' = '50 ms';
        CREATE TABLE counts (ws BIGINT, auction BIGINT, bids BIGINT, top BIGINT, total BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
        INSERT INTO counts {TUMBLE_QUERY}",
        bid_table("SET 'execution.runtime-mode' = 'streaming';").replace(
            "'first-event.rate' = '1000'",
            "'first-event.rate' = '1000', 'rate-limit' = '400000'"
        ),
        chk.display(),
        out.display()
    );
    Session::new()
        .unwrap()
        .run_script(&script, |_, _| Ok(()))
        .unwrap();
    let checkpoints = std::fs::read_dir(&chk)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("chk-"))
        .count();
    assert!(
        checkpoints > 0,
        "no checkpoint written under {}",
        chk.display()
    );
    let error = Session::new()
        .unwrap()
        .run_script(
            &format!(
                "{} SET 'execution.checkpointing.interval' = '1 s'; {TUMBLE_QUERY}",
                bid_table("SET 'execution.runtime-mode' = 'streaming';")
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("checkpointing needs a directory"), "{error}");
}

#[test]
fn parquet_tables_match_columns_by_name_in_batch_and_streaming_mode() {
    use datafusion::arrow::array::{Float64Array, Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    // Two files whose columns are in another order than the table's, one of them narrower.
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("amount", DataType::Int32, false),
        Field::new("unused", DataType::Float64, false),
    ]));
    for (i, names) in [["a", "b"], ["c", "d"]].iter().enumerate() {
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(names.to_vec())),
                Arc::new(Int32Array::from(vec![10 * i as i32 + 1, 10 * i as i32 + 2])),
                Arc::new(Float64Array::from(vec![0.5, 0.5])),
            ],
        )
        .unwrap();
        let file = std::fs::File::create(dir.path().join(format!("part-{i}.parquet"))).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
    let table = format!(
        "CREATE TABLE p (amount BIGINT, name STRING) WITH (
            'connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet');",
        dir.path().display()
    );
    let expected = ["1,a", "11,c", "12,d", "2,b"];
    for settings in [
        "",
        "SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '2';",
    ] {
        let got = rows(&format!("{settings}{table} SELECT amount, name FROM p;"));
        assert_eq!(got, expected, "{settings}");
    }
    // A column the files do not have is named in the error.
    let mut session = Session::new().unwrap();
    let error = session
        .run_script(
            &format!(
                "CREATE TABLE q (amount BIGINT, nme STRING) WITH ('connector' = 'filesystem', \
                 'path' = '{}', 'format' = 'parquet'); SELECT * FROM q;",
                dir.path().display()
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("the Parquet file has no column 'nme'; did you mean 'name'?"),
        "{error}"
    );
}

#[test]
fn a_socket_table_streams_lines_and_dead_letters_bad_and_cut_off_records() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        // A bad amount, then a last record cut off by the closing connection.
        peer.write_all(b"alice,10\nbob,oops\ncarol,30\ndave,4")
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let (dead, out) = (dir.path().join("dead.jsonl"), dir.path().join("out"));
    // A socket table is unbounded: a SELECT would print as it goes, so write to files.
    let script = format!(
        "CREATE TABLE s (name STRING, amount BIGINT) WITH ('connector' = 'socket',
            'hostname' = '127.0.0.1', 'port' = '{port}', 'format' = 'csv',
            'bad-records' = 'dead-letter={}');
        CREATE TABLE doubled (name STRING, amount BIGINT)
            WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
        INSERT INTO doubled SELECT name, amount * 2 FROM s;",
        dead.display(),
        out.display()
    );
    Session::new()
        .unwrap()
        .run_script(&script, |_, _| Ok(()))
        .unwrap();
    assert_eq!(written_lines(&out), ["alice,20", "carol,60"]);
    server.join().unwrap();
    let dead: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0]["line"], 2);
    assert_eq!(dead[0]["column"], "amount");
    assert_eq!(dead[0]["raw"], "bob,oops");
    assert_eq!(dead[1]["line"], 4);
    assert_eq!(dead[1]["raw"], "dave,4");
    assert!(dead[1]["error"].as_str().unwrap().contains("no line end"));
    // Nothing listens on the port any more: a clear error naming the address.
    let error = Session::new()
        .unwrap()
        .run_script(&script, |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("cannot connect"), "{error}");
}

#[test]
fn current_watermark_is_the_watermark_rows_travel_under_and_null_in_batch_mode() {
    // The nexmark reader emits each block of 1,024 events under the time of its first event
    // minus 1 ms (events 1 ms apart at this rate): every bid is above its watermark, by less
    // than the span of a block.
    let query = "SELECT COUNT(*),
            COUNT(CURRENT_WATERMARK(dateTime)),
            SUM(CASE WHEN dateTime > CURRENT_WATERMARK(dateTime)
                      AND dateTime <= CURRENT_WATERMARK(dateTime) + INTERVAL '1025' MILLISECOND
                THEN 1 ELSE 0 END)
        FROM bid;";
    let bids = bids().len();
    assert_eq!(
        streamed(EVENTS, query, 2),
        [format!("{bids},{bids},{bids}")]
    );
    assert_eq!(
        rows(&format!("{}{query}", bid_table(""))),
        [format!("{bids},0,0")]
    );
}

/// `SPREAD(x)`: the largest value minus the smallest, an aggregate function written in Rust.
#[derive(Debug, Default)]
struct Spread {
    range: Option<(f64, f64)>,
}

impl Spread {
    fn add(&mut self, lo: f64, hi: f64) {
        self.range = Some(match self.range {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
    }
}

impl datafusion::logical_expr::Accumulator for Spread {
    fn update_batch(
        &mut self,
        values: &[datafusion::arrow::array::ArrayRef],
    ) -> datafusion::error::Result<()> {
        let values = datafusion::arrow::compute::cast(
            &values[0],
            &datafusion::arrow::datatypes::DataType::Float64,
        )?;
        let values = values
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Float64Array>()
            .unwrap();
        for v in values.iter().flatten() {
            self.add(v, v);
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        states: &[datafusion::arrow::array::ArrayRef],
    ) -> datafusion::error::Result<()> {
        use datafusion::arrow::array::{Array, Float64Array};
        let lo = states[0].as_any().downcast_ref::<Float64Array>().unwrap();
        let hi = states[1].as_any().downcast_ref::<Float64Array>().unwrap();
        for i in 0..lo.len() {
            if lo.is_valid(i) && hi.is_valid(i) {
                self.add(lo.value(i), hi.value(i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> datafusion::error::Result<Vec<datafusion::scalar::ScalarValue>> {
        use datafusion::scalar::ScalarValue::Float64;
        Ok(vec![
            Float64(self.range.map(|r| r.0)),
            Float64(self.range.map(|r| r.1)),
        ])
    }

    fn evaluate(&mut self) -> datafusion::error::Result<datafusion::scalar::ScalarValue> {
        Ok(datafusion::scalar::ScalarValue::Float64(
            self.range.map(|(lo, hi)| hi - lo),
        ))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[test]
fn an_aggregate_function_registered_from_rust_runs_in_streaming_windows_and_changelogs() {
    use datafusion::arrow::datatypes::DataType::Float64;
    let spread = datafusion::logical_expr::create_udaf(
        "spread",
        vec![Float64],
        std::sync::Arc::new(Float64),
        datafusion::logical_expr::Volatility::Immutable,
        std::sync::Arc::new(|_| Ok(Box::new(Spread::default()))),
        std::sync::Arc::new(vec![Float64, Float64]),
    );
    // Per 10 s window, the spread of prices (exact) and DataFusion's STDDEV, which Riffle
    // runs through its accumulator as it would any registered function.
    let mut windows: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (ts, _, price) in bids() {
        windows
            .entry(ts - ts.rem_euclid(10_000))
            .or_default()
            .push(price as f64);
    }
    let query = "SELECT window_start, spread(price), STDDEV(price) FROM TABLE(
            TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
        GROUP BY window_start, window_end;";
    for workers in [1, 4] {
        let mut session = Session::new().unwrap();
        session.register_udaf(spread.clone());
        let settings = format!(
            "SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '{workers}';"
        );
        let out = rows_in(&mut session, &format!("{}{query}", bid_table(&settings)));
        assert_eq!(out.len(), windows.len(), "{workers} workers");
        for (line, prices) in out.iter().zip(windows.values()) {
            let cells: Vec<&str> = line.split(',').collect();
            let (lo, hi) = prices
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(*p), b.max(*p)));
            assert_eq!(cells[1].parse::<f64>().unwrap(), hi - lo, "{line}");
            let n = prices.len() as f64;
            let mean = prices.iter().sum::<f64>() / n;
            let var = prices.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let stddev: f64 = cells[2].parse().unwrap();
            assert!((stddev - var.sqrt()).abs() < 1e-6 * var.sqrt(), "{line}");
        }
    }
    // Over an updating input a function must take values back; SPREAD cannot, and says so.
    let mut session = Session::new().unwrap();
    session.register_udaf(spread);
    let error = session
        .run_script(
            &format!(
                "{}SELECT spread(n) FROM (SELECT auction, CAST(COUNT(*) AS DOUBLE) AS n
                 FROM bid GROUP BY auction);",
                bid_table("SET 'execution.runtime-mode' = 'streaming';")
            ),
            |_, _| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("etract"), "{error}");
}

#[test]
fn a_parquet_sink_writes_what_a_parquet_table_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bids");
    let script = format!(
        "{}
        CREATE TABLE pq (auction BIGINT, price BIGINT, dateTime TIMESTAMP(3))
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet');
        INSERT INTO pq SELECT auction, price, dateTime FROM bid;",
        bid_table("SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '2';"),
        out.display()
    );
    Session::new()
        .unwrap()
        .run_script(&script, |_, _| Ok(()))
        .unwrap();
    let files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| f.ends_with(".parquet") && !f.starts_with('.')),
        "{files:?}"
    );
    let back = rows(&format!(
        "CREATE TABLE pq (auction BIGINT, price BIGINT) WITH ('connector' = 'filesystem',
            'path' = '{}', 'format' = 'parquet');
        SELECT auction, price FROM pq;",
        out.display()
    ));
    let mut expected: Vec<String> = bids()
        .into_iter()
        .map(|(_, auction, price)| format!("{auction},{price}"))
        .collect();
    expected.sort();
    assert_eq!(back, expected);
}

#[test]
fn a_table_read_twice_by_one_query_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let (data, dead) = (dir.path().join("t.csv"), dir.path().join("dead.jsonl"));
    std::fs::write(&data, "1,10\n2,20\n3,oops\n1,30\n").unwrap();
    // Two scans of `t` keeping different columns: one reader feeds both (the bad line is
    // dead-lettered once).
    let script = format!(
        "CREATE TABLE t (k BIGINT, v BIGINT) WITH ('connector' = 'filesystem',
            'path' = '{}', 'format' = 'csv', 'bad-records' = 'dead-letter={}');
        SET 'execution.runtime-mode' = 'streaming';
        SET 'parallelism.default' = '2';
        SELECT k FROM t UNION ALL SELECT v FROM t;",
        data.display(),
        dead.display()
    );
    assert_eq!(rows(&script), ["1", "1", "10", "2", "20", "30"]);
    let dead = std::fs::read_to_string(&dead).unwrap();
    assert_eq!(dead.lines().count(), 1, "{dead}");
    assert!(dead.contains("3,oops"), "{dead}");
}

#[test]
fn a_partitioned_parquet_sink_writes_a_directory_per_value_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bids");
    let script = format!(
        "{}
        CREATE TABLE pq (auction BIGINT, price BIGINT, bucket BIGINT) PARTITIONED BY (bucket)
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet');
        INSERT INTO pq SELECT auction, price, MOD(auction, 3) FROM bid;",
        bid_table("SET 'execution.runtime-mode' = 'streaming'; SET 'parallelism.default' = '2';"),
        out.display()
    );
    Session::new()
        .unwrap()
        .run_script(&script, |_, _| Ok(()))
        .unwrap();
    let mut dirs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["bucket=0", "bucket=1", "bucket=2"]);
    for bucket in 0..3u64 {
        let back = rows(&format!(
            "CREATE TABLE pq (auction BIGINT, price BIGINT) WITH ('connector' = 'filesystem',
                'path' = '{}/bucket={bucket}', 'format' = 'parquet');
            SELECT auction, price FROM pq;",
            out.display()
        ));
        let mut expected: Vec<String> = bids()
            .into_iter()
            .filter(|(_, auction, _)| auction % 3 == bucket)
            .map(|(_, auction, price)| format!("{auction},{price}"))
            .collect();
        expected.sort();
        assert!(!expected.is_empty());
        assert_eq!(back, expected, "bucket {bucket}");
    }
}

/// An order or a shipment: id, customer, region (NULL for some), time (ms).
type Row = (i64, String, Option<i64>, i64);

/// Orders and shipments written under `dir` as CSV files of `per_file` rows each (a message
/// each, so that the watermark moves while rows still come), each row up to 3.99 s out of
/// order (no row is late under a 4 s watermark delay, some nearly); some regions are NULL.
fn orders_and_shipments(dir: &std::path::Path, per_file: usize) -> (Vec<Row>, Vec<Row>) {
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string()
    };
    let side = |n: i64, step: i64, seed: i64| -> Vec<Row> {
        (0..n)
            .map(|i| {
                let customer = format!("c{}", (i * seed) % 37);
                let region = ((i + seed) % 11 != 0).then_some((i * 3 + seed) % 4);
                let jitter = (i * 7_919 + seed * 104_729) % 3_990;
                (i, customer, region, 1_700_000_000_000 + i * step + jitter)
            })
            .collect()
    };
    let (orders, shipments) = (side(24_000, 20, 5), side(16_000, 30, 3));
    for (name, rows) in [("orders", &orders), ("shipments", &shipments)] {
        std::fs::create_dir(dir.join(name)).unwrap();
        for (n, part) in rows.chunks(per_file).enumerate() {
            let text: String = part
                .iter()
                .map(|(id, c, r, ts)| {
                    let r = r.map(|r| r.to_string()).unwrap_or_default();
                    format!("{id},{c},{r},{}\n", time(*ts))
                })
                .collect();
            let file = dir.join(name).join(format!("part-{n:03}.csv"));
            std::fs::write(file, text).unwrap();
        }
    }
    (orders, shipments)
}

/// The DDL of the table `name` of [`orders_and_shipments`] under `dir`.
fn order_table(dir: &std::path::Path, name: &str) -> String {
    format!(
        "CREATE TABLE {name} (id BIGINT, customer STRING, region BIGINT, ts TIMESTAMP(3),
            WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)
        WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
        dir.join(name).display()
    )
}

/// Asserts that `query` over the tables of [`orders_and_shipments`] under `dir`, streamed on
/// 1 and on 4 workers, gives exactly `expected` (sorted CSV lines).
fn assert_orders_query(dir: &std::path::Path, query: &str, expected: &[String]) {
    let tables = order_table(dir, "orders") + &order_table(dir, "shipments");
    for workers in [1, 4] {
        let settings = format!(
            "SET 'execution.runtime-mode' = 'streaming'; \
             SET 'parallelism.default' = '{workers}';"
        );
        let got = rows(&format!("{settings}{tables}{query}"));
        assert_eq!(got.len(), expected.len(), "{query}, {workers} workers");
        assert_eq!(got, expected, "{query}, {workers} workers");
    }
}

/// The start of the 5 s tumbling window that holds `ts` (ms).
fn window_of(ts: i64) -> i64 {
    ts - ts.rem_euclid(5_000)
}

/// Table `name` of [`orders_and_shipments`] in tumbling windows of 5 s, as a subquery.
fn tumbled(name: &str) -> String {
    format!("(SELECT * FROM TABLE(TUMBLE(TABLE {name}, DESCRIPTOR(ts), INTERVAL '5' SECOND)))")
}

#[test]
fn an_interval_join_gives_every_pair_of_a_loop_on_any_worker_count() {
    // Orders and shipments, each up to 3.99 s out of order under a 4 s watermark delay (no
    // row is late, some nearly), keyed by customer and region; some regions are NULL and join
    // nothing. The join keeps each row only until no partner can come, in buckets of a
    // second: a row dropped too early would lose pairs, one kept too long would not add any
    // (the condition holds). Each side is many small files, each a message of its own, so
    // that the watermark moves while rows still come.
    let dir = tempfile::tempdir().unwrap();
    let (orders, shipments) = orders_and_shipments(dir.path(), 500);
    // Every pair by a loop over the shipments in time order.
    let mut by_time: Vec<&Row> = shipments.iter().collect();
    by_time.sort_by_key(|s| s.3);
    let mut expected = Vec::new();
    for (o, oc, or, ot) in &orders {
        let from = by_time.partition_point(|s| s.3 < ot - 2_000);
        for (s, sc, sr, _) in by_time[from..].iter().take_while(|s| s.3 <= ot + 5_000) {
            if oc == sc && or.is_some() && or == sr {
                expected.push(format!("{o},{s}"));
            }
        }
    }
    expected.sort();
    assert!(expected.len() > 1_000, "{} pairs", expected.len());
    // Keys that compare as bytes are kept per part of the keys; a DOUBLE key per key.
    for region in ["s.region", "CAST(s.region AS DOUBLE)"] {
        let query = format!(
            "SELECT o.id, s.id FROM orders o JOIN shipments s
            ON o.customer = s.customer AND CAST(o.region AS DOUBLE) = {region}
            WHERE s.ts BETWEEN o.ts - INTERVAL '2' SECOND AND o.ts + INTERVAL '5' SECOND;"
        );
        let query = match region {
            "s.region" => query.replace("CAST(o.region AS DOUBLE)", "o.region"),
            _ => query,
        };
        assert_orders_query(dir.path(), &query, &expected);
    }
}

#[test]
fn a_window_join_gives_every_pair_of_a_loop_on_any_worker_count() {
    // Orders and shipments in tumbling windows of 5 s, joined by customer, region and window
    // (its start, its end, or both), and by a further condition on the ids; rows with a NULL
    // region join nothing. Each window's rows leave the join's state when the watermark
    // passes its end: a window dropped too early would lose pairs.
    let dir = tempfile::tempdir().unwrap();
    // Files of a second of orders or less, so that rows come after the watermark passed
    // their partners' times.
    let (orders, shipments) = orders_and_shipments(dir.path(), 30);
    let mut expected = Vec::new();
    for (o, oc, or, ot) in &orders {
        for (s, sc, sr, st) in &shipments {
            if oc == sc && or.is_some() && or == sr && window_of(*ot) == window_of(*st) && o >= s {
                expected.push(format!("{o},{s}"));
            }
        }
    }
    expected.sort();
    assert!(expected.len() > 1_000, "{} pairs", expected.len());
    // Keys that compare as bytes are kept per part of the keys; a DOUBLE key per key.
    for keys in [
        "o.region = s.region AND o.window_start = s.window_start",
        "o.region = s.region AND o.window_end = s.window_end",
        "CAST(o.region AS DOUBLE) = CAST(s.region AS DOUBLE) \
         AND o.window_start = s.window_start AND o.window_end = s.window_end",
    ] {
        let query = format!(
            "SELECT o.id, s.id FROM {} o JOIN {} s
            ON o.customer = s.customer AND {keys} AND o.id >= s.id;",
            tumbled("orders"),
            tumbled("shipments")
        );
        assert_orders_query(dir.path(), &query, &expected);
    }
}

#[test]
fn window_outer_semi_and_anti_joins_give_a_loops_rows_on_any_worker_count() {
    // Orders and shipments in tumbling windows of 5 s, by customer, region and window, as
    // Flink's window joins: LEFT, RIGHT and FULL add, when a window is over, each of its
    // rows that found no partner in it, with NULLs (rows with a NULL region among them);
    // EXISTS keeps the orders with a partner, NOT EXISTS those without; a condition beyond
    // the keys decides who is a partner. Rows arrive up to
    // 3.99 s out of order, so partners come after rows of the other side were kept; a
    // window's rows emitted before it is over, or marked as partnered wrongly, change the
    // rows.
    let dir = tempfile::tempdir().unwrap();
    let (orders, shipments) = orders_and_shipments(dir.path(), 30);
    let partners = |a: &Row, b: &Row| {
        a.1 == b.1 && a.2.is_some() && a.2 == b.2 && window_of(a.3) == window_of(b.3)
    };
    let mut pairs = Vec::new();
    for o in &orders {
        for s in &shipments {
            if partners(o, s) {
                pairs.push(format!("{},{}", o.0, s.0));
            }
        }
    }
    assert!(pairs.len() > 1_000, "{} pairs", pairs.len());
    let alone = |rows: &[Row], others: &[Row]| -> Vec<i64> {
        rows.iter()
            .filter(|r| !others.iter().any(|o| partners(r, o)))
            .map(|r| r.0)
            .collect()
    };
    let (lone_orders, lone_shipments) = (alone(&orders, &shipments), alone(&shipments, &orders));
    assert!(lone_orders.len() > 1_000 && lone_shipments.len() > 1_000);
    let sorted = |mut rows: Vec<String>| {
        rows.sort();
        rows
    };
    let padded_orders = lone_orders.iter().map(|o| format!("{o},"));
    let padded_shipments = lone_shipments.iter().map(|s| format!(",{s}"));
    let left = sorted(pairs.iter().cloned().chain(padded_orders.clone()).collect());
    let right = sorted(
        pairs
            .iter()
            .cloned()
            .chain(padded_shipments.clone())
            .collect(),
    );
    let full = sorted(
        pairs
            .iter()
            .cloned()
            .chain(padded_orders)
            .chain(padded_shipments)
            .collect(),
    );
    let partnered = lone_orders
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>();
    let semi = sorted(
        orders
            .iter()
            .filter(|o| !partnered.contains(&o.0))
            .map(|o| o.0.to_string())
            .collect(),
    );
    let anti = sorted(lone_orders.iter().map(|o| o.to_string()).collect());
    // With a condition beyond the keys, only the pairs that meet it are partners.
    let mut left_meeting = Vec::new();
    for o in &orders {
        let mut found = false;
        for s in shipments.iter().filter(|s| partners(o, s) && o.0 >= s.0) {
            left_meeting.push(format!("{},{}", o.0, s.0));
            found = true;
        }
        if !found {
            left_meeting.push(format!("{},", o.0));
        }
    }
    let left_meeting = sorted(left_meeting);

    let (o, s) = (tumbled("orders"), tumbled("shipments"));
    let on = "o.customer = s.customer AND o.region = s.region AND o.window_start = s.window_start";
    let queries = [
        (
            format!("SELECT o.id, s.id FROM {o} o LEFT JOIN {s} s ON {on};"),
            &left,
        ),
        (
            format!("SELECT o.id, s.id FROM {o} o RIGHT JOIN {s} s ON {on};"),
            &right,
        ),
        (
            format!("SELECT o.id, s.id FROM {o} o FULL JOIN {s} s ON {on};"),
            &full,
        ),
        (
            format!("SELECT o.id, s.id FROM {o} o LEFT JOIN {s} s ON {on} AND o.id >= s.id;"),
            &left_meeting,
        ),
        (
            format!("SELECT o.id FROM {o} o WHERE EXISTS (SELECT * FROM {s} s WHERE {on});"),
            &semi,
        ),
        (
            format!("SELECT o.id FROM {o} o WHERE NOT EXISTS (SELECT * FROM {s} s WHERE {on});"),
            &anti,
        ),
    ];
    for (query, expected) in &queries {
        assert_orders_query(dir.path(), query, expected);
    }
}

#[test]
fn not_in_over_a_subquery_gives_a_loops_rows_on_any_worker_count() {
    // `x NOT IN (SELECT y ...)` keeps the rows whose x is not NULL and differs from every y;
    // one NULL y keeps none, and only an empty subquery keeps a NULL x. The subqueries'
    // rows come mixed with the orders, so kept orders are taken back when a y (or a NULL)
    // comes after them.
    let dir = tempfile::tempdir().unwrap();
    let (orders, shipments) = orders_and_shipments(dir.path(), 500);
    let not_in = |x: &dyn Fn(&Row) -> Option<i64>, ys: Vec<Option<i64>>| -> Vec<String> {
        let mut kept: Vec<String> = orders
            .iter()
            .filter(|o| match x(o) {
                _ if ys.is_empty() => true,
                None => false,
                Some(x) => ys.iter().all(|y| y.is_some_and(|y| y != x)),
            })
            .map(|o| o.0.to_string())
            .collect();
        kept.sort();
        kept
    };
    let ys = |keep: &dyn Fn(&Row) -> bool, y: &dyn Fn(&Row) -> Option<i64>| {
        shipments
            .iter()
            .filter(|s| keep(s))
            .map(y)
            .collect::<Vec<_>>()
    };
    let cases = [
        (
            "o.id NOT IN (SELECT s.id * 2 FROM shipments s WHERE s.id < 400 AND s.region = 1)",
            not_in(
                &|o| Some(o.0),
                ys(&|s| s.0 < 400 && s.2 == Some(1), &|s| Some(s.0 * 2)),
            ),
        ),
        (
            "o.id NOT IN (SELECT s.region FROM shipments s WHERE s.id < 40)",
            not_in(&|o| Some(o.0), ys(&|s| s.0 < 40, &|s| s.2)),
        ),
        (
            "o.region NOT IN (SELECT s.id FROM shipments s \
             WHERE s.id BETWEEN 1 AND 300 AND s.region IS NOT NULL)",
            not_in(
                &|o| o.2,
                ys(&|s| (1..=300).contains(&s.0) && s.2.is_some(), &|s| {
                    Some(s.0)
                }),
            ),
        ),
        (
            "o.region NOT IN (SELECT s.id FROM shipments s WHERE s.id < 0)",
            not_in(&|o| o.2, Vec::new()),
        ),
    ];
    let sizes: Vec<usize> = cases.iter().map(|(_, rows)| rows.len()).collect();
    // Some orders kept and some not; none with a NULL among the ys; all with none.
    assert!(sizes[0] > 10_000 && sizes[0] < orders.len(), "{sizes:?}");
    assert_eq!(sizes[1], 0);
    assert!(sizes[2] > 1_000 && sizes[2] < orders.len(), "{sizes:?}");
    assert_eq!(sizes[3], orders.len());
    for (condition, expected) in &cases {
        let query = format!("SELECT o.id FROM orders o WHERE {condition};");
        assert_orders_query(dir.path(), &query, expected);
    }
}

#[test]
fn a_correlated_not_in_gives_a_loops_rows_on_any_worker_count() {
    // Each order against its own subquery's values: the shipments of its customer (a key),
    // or those a condition alone picks (no key: one worker). A NULL among an order's values
    // drops it alone; an order whose subquery is empty is kept, with a NULL x too.
    let dir = tempfile::tempdir().unwrap();
    let (orders, shipments) = orders_and_shipments(dir.path(), 500);
    let not_in = |member: &dyn Fn(&Row, &Row) -> bool| -> Vec<String> {
        let mut kept: Vec<String> = orders
            .iter()
            .filter(|o| {
                let ys: Vec<Option<i64>> = shipments
                    .iter()
                    .filter(|s| member(o, s))
                    .map(|s| s.2)
                    .collect();
                ys.is_empty()
                    || o.2
                        .is_some_and(|x| ys.iter().all(|y| y.is_some_and(|y| y != x)))
            })
            .map(|o| o.0.to_string())
            .collect();
        kept.sort();
        kept
    };
    let cases = [
        (
            "o.region NOT IN (SELECT s.region FROM shipments s \
             WHERE s.customer = o.customer AND s.id < 120)",
            not_in(&|o, s| s.1 == o.1 && s.0 < 120),
        ),
        (
            "o.region NOT IN (SELECT s.region FROM shipments s \
             WHERE s.id < 50 AND s.id * 480 > o.id)",
            not_in(&|o, s| s.0 < 50 && s.0 * 480 > o.0),
        ),
    ];
    for (condition, expected) in &cases {
        // Some orders kept and some dropped, by a NULL value and by an equal one.
        assert!(
            expected.len() > 500 && expected.len() < orders.len() - 500,
            "{condition}: {}",
            expected.len()
        );
        let query = format!("SELECT o.id FROM orders o WHERE {condition};");
        assert_orders_query(dir.path(), &query, expected);
    }
}

#[test]
fn an_interval_join_pairs_a_row_with_a_partner_that_expires_a_millisecond_later() {
    // An order at 10 s is kept for shipments up to 15 s. A shipment at 15 s arrives under a
    // watermark of 14.999 s, when the timer of an earlier order (expiring at 13 s) has
    // fired: the join must still hold the 10 s order and pair them. Dropping rows or buckets
    // a second early, or skipping buckets that hold live rows, loses the pair. One file per
    // message: the first shipment file moves the shipments' watermark to 14.999 s, the
    // second order file moves the orders' watermark past it.
    let dir = tempfile::tempdir().unwrap();
    // A multiple of every bucket width used here, so bucket ends fall on round seconds.
    let base: i64 = 1_699_999_000_000;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(base + ms)
            .unwrap()
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string()
    };
    // Each file's rows: id, key, time (ms after `base`).
    type Rows<'a> = &'a [(i64, &'a str, i64)];
    let files: [(&str, Rows); 4] = [
        ("orders/part-0.csv", &[(1, "k1", 8_000), (2, "k1", 10_000)]),
        ("orders/part-1.csv", &[(3, "k3", 30_000)]),
        ("shipments/part-0.csv", &[(11, "k2", 18_999)]),
        ("shipments/part-1.csv", &[(12, "k1", 15_000)]),
    ];
    for (name, rows) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text: String = rows
            .iter()
            .map(|(id, key, ms)| format!("{id},{key},{}\n", time(*ms)))
            .collect();
        std::fs::write(path, text).unwrap();
    }
    let table = |name: &str| {
        format!(
            "CREATE TABLE {name} (id BIGINT, k STRING, ts TIMESTAMP(3),
                WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)
            WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
            dir.path().join(name).display()
        )
    };
    // A string key goes through the per-part join; with a DOUBLE key too, the per-key one.
    for (path, condition) in [
        ("per part", "o.k = s.k"),
        (
            "per key",
            "o.k = s.k AND CAST(o.k = 'k1' AS DOUBLE) = CAST(s.k = 'k1' AS DOUBLE)",
        ),
    ] {
        let got = rows(&format!(
            "SET 'execution.runtime-mode' = 'streaming';{}{}
            SELECT o.id, s.id FROM orders o JOIN shipments s ON {condition}
            WHERE s.ts BETWEEN o.ts - INTERVAL '2' SECOND AND o.ts + INTERVAL '5' SECOND;",
            table("orders"),
            table("shipments")
        ));
        assert_eq!(got, vec!["2,12".to_string()], "{path}");
    }
}

/// A table `t (k, g, v, d, ts)` of 3,000 rows (NULL keys and values among them) and a table
/// `u (g, name, w)` of a few rows per `g`, from a fixed pseudo-random sequence, as CSV files
/// in `dir`; returns their DDL.
fn updating_tables(dir: &std::path::Path) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let mut t = String::from("k,g,v,d,ts\n");
    for i in 0..3_000u64 {
        let k = ["a", "b", "c", "d", "", "e"][next(6) as usize];
        let g = next(21);
        let v = match next(10) {
            0 => String::new(),
            _ => (next(101) as i64 - 50).to_string(),
        };
        let d = (next(2_001) as f64 - 1_000.0) / 100.0;
        let ms = 1_709_287_200_000 + i * 137 + next(3_000);
        t.push_str(&format!("{k},{g},{v},{d},{}\n", timestamp(ms as i64)));
    }
    let mut u = String::from("g,name,w\n");
    for g in 0..25 {
        for j in 0..next(3) {
            let w = match next(5) {
                0 => String::new(),
                _ => next(6).to_string(),
            };
            u.push_str(&format!("{g},n{g}_{j},{w}\n"));
        }
    }
    std::fs::write(dir.join("t.csv"), t).unwrap();
    std::fs::write(dir.join("u.csv"), u).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    format!(
        "CREATE TABLE t (k STRING, g BIGINT, v BIGINT, d DOUBLE, ts TIMESTAMP(3),
             WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'csv.header' = 'true');
         CREATE TABLE u (g BIGINT, name STRING, w BIGINT)
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'csv.header' = 'true');",
        path("t.csv"),
        path("u.csv")
    )
}

#[test]
fn joins_unions_top_n_and_scalar_subqueries_of_updating_results_end_with_batch_modes_rows() {
    let dir = tempfile::tempdir().unwrap();
    let tables = updating_tables(dir.path());
    // Each side's counts and maxima change as rows come, so every join takes pairs back;
    // batch mode (DataFusion over the files) computes the same queries independently.
    let queries = [
        "SELECT DISTINCT k, g % 3 FROM t",
        "SELECT c, COUNT(*) FROM (SELECT g, COUNT(*) AS c FROM t GROUP BY g) GROUP BY c",
        "SELECT a.g, a.c, b.c FROM (SELECT g, COUNT(*) AS c FROM t GROUP BY g) a
         JOIN (SELECT g, MAX(v) AS c FROM t GROUP BY g) b ON a.g = b.g",
        "SELECT a.k, a.c, u.name FROM (SELECT k, g % 5 AS g, COUNT(*) AS c FROM t GROUP BY k, g % 5) a
         JOIN u ON a.g = u.g",
        "SELECT u.name, a.c FROM u
         LEFT JOIN (SELECT g, COUNT(*) AS c FROM t WHERE v > 40 GROUP BY g) a ON a.g = u.g",
        "SELECT u.name, a.g, a.c FROM (SELECT g, COUNT(*) AS c FROM t WHERE v > 40 GROUP BY g) a
         FULL JOIN u ON a.g = u.g",
        "SELECT a.g, a.c FROM (SELECT g, COUNT(*) AS c FROM t GROUP BY g) a
         RIGHT JOIN (SELECT DISTINCT g FROM t WHERE v > 48) b ON a.g = b.g",
        "SELECT name FROM u WHERE g IN (SELECT g FROM t GROUP BY g HAVING COUNT(*) > 150)",
        "SELECT name FROM u WHERE g NOT IN (SELECT g FROM t GROUP BY g HAVING COUNT(*) > 150)",
        "SELECT name FROM u WHERE NOT EXISTS (
             SELECT 1 FROM (SELECT g, MAX(v) AS m FROM t GROUP BY g) x WHERE x.g = u.g AND x.m > 48)",
        "SELECT a.k, a.s, b.s FROM (SELECT k, SUM(v) AS s FROM t GROUP BY k) a
         JOIN (SELECT k, SUM(v) AS s FROM t WHERE g < 10 GROUP BY k) b ON a.k = b.k AND a.s > b.s",
        "SELECT a.k, b.k FROM (SELECT k, COUNT(*) AS c FROM t GROUP BY k) a
         LEFT JOIN (SELECT k, COUNT(*) AS c FROM t WHERE g < 3 GROUP BY k) b ON a.k = b.k AND a.c > b.c * 7",
        "SELECT c, COUNT(*) FROM (SELECT a.g, a.c FROM (SELECT g, COUNT(*) AS c FROM t GROUP BY g) a
         JOIN u ON a.g = u.g) GROUP BY c",
        // The side a semi or anti join emits is the updating one.
        "SELECT a.g, a.c FROM (SELECT g, COUNT(*) AS c FROM t GROUP BY g) a
         WHERE a.g IN (SELECT g FROM u WHERE w > 2)",
        "SELECT a.g, a.c FROM (SELECT g, COUNT(*) AS c FROM t GROUP BY g) a
         WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.g = a.g AND u.w > 2)",
        // Uncorrelated scalar subqueries: a LEFT join with their one (updating) row.
        "SELECT k, g FROM t WHERE v = (SELECT MAX(v) FROM t)",
        "SELECT k, COUNT(*) FROM t WHERE g > (SELECT AVG(g) FROM u) GROUP BY k",
        "SELECT k, v FROM t
         WHERE v > (SELECT MAX(w) FROM u) + 40 AND d < (SELECT AVG(d) FROM t)",
        "SELECT k, g, v - (SELECT MIN(v) FROM t WHERE k = 'a') FROM t WHERE g = 3",
        // UNION ALL of updating and appended results: the appended rows are inserts.
        "SELECT k, c FROM (SELECT k, COUNT(*) AS c FROM t GROUP BY k) WHERE c > 100
         UNION ALL SELECT name, w FROM u WHERE w > 4",
        "SELECT x, COUNT(*) FROM (SELECT g AS x FROM t WHERE v > 45
         UNION ALL SELECT COUNT(*) AS x FROM t GROUP BY k) GROUP BY x",
        // Top-N of updating results: a row taken back from the top lets the next one in.
        "SELECT k, g, c, rn FROM (SELECT k, g, c, ROW_NUMBER() OVER (PARTITION BY k ORDER BY c DESC, g) AS rn
         FROM (SELECT k, g, COUNT(*) AS c FROM t GROUP BY k, g)) WHERE rn <= 3",
        "SELECT g, s, rn FROM (SELECT g, s, ROW_NUMBER() OVER (ORDER BY s DESC, g) AS rn
         FROM (SELECT g, SUM(v) AS s FROM t GROUP BY g)) WHERE rn <= 5",
        "SELECT k, g, c, rk FROM (SELECT k, g, c, RANK() OVER (PARTITION BY k ORDER BY c DESC) AS rk
         FROM (SELECT k, g, COUNT(*) AS c FROM t GROUP BY k, g)) WHERE rk <= 3",
        "SELECT name, m FROM (SELECT name, m, ROW_NUMBER() OVER (ORDER BY m DESC, name) AS rn
         FROM (SELECT u.name, MAX(t.v) AS m FROM t JOIN u ON t.g = u.g GROUP BY u.name)) WHERE rn <= 4",
    ];
    for query in queries {
        let batch = rows(&format!(
            "{tables} SET 'execution.runtime-mode' = 'batch'; {query};"
        ));
        assert!(!batch.is_empty(), "{query}: no rows");
        for workers in [1, 4] {
            let streamed = rows(&format!(
                "{tables} SET 'execution.runtime-mode' = 'streaming';
                 SET 'parallelism.default' = '{workers}'; {query};"
            ));
            assert_eq!(streamed, batch, "{query} on {workers} workers");
        }
    }
}
