//! The filesystem connector on real files: formats, bad-record policies, directories,
//! watching, and the part-file sink.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use riffle_connectors::{FileSink, FileSource, Format};
use riffle_core::{BadRecordPolicy, RiffleError};
use riffle_runtime::{
    execute, execute_with, Collector, ExecutionConfig, JobShared, WatermarkStrategy,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Bid {
    auction: u64,
    price: u64,
    bidder: String,
}

const GOOD_CSV: &str = "auction,price,bidder\n1,100,ann\n2,250,bob\n1,75,cy\n";
const BAD_CSV: &str = "auction,price,bidder\n1,100,ann\n2,abc,bob\n3,5\n4,40,dee\n";
const BAD_JSON: &str = "{\"auction\":1,\"price\":100,\"bidder\":\"ann\"}\n{\"auction\":2,\"price\":\n{\"auction\":3,\"bidder\":\"x\"}\n{\"auction\":4,\"price\":40,\"bidder\":\"dee\"}\n";

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn read_bids(
    source: FileSource,
    workers: usize,
) -> (Result<riffle_runtime::JobReport, RiffleError>, Vec<Bid>) {
    let out = Collector::new();
    let sink = out.clone();
    let result = execute(&ExecutionConfig::threads(workers), move |env| {
        source
            .stream::<Bid>(env, "bids", WatermarkStrategy::none())?
            .collect_into(&sink);
        Ok(())
    });
    (result, out.sorted())
}

fn bid(auction: u64, price: u64, bidder: &str) -> Bid {
    Bid {
        auction,
        price,
        bidder: bidder.into(),
    }
}

#[test]
fn csv_with_header_maps_columns_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bids.csv");
    // Columns in another order than the struct's fields.
    write(&path, "bidder,auction,price\nann,1,100\nbob,2,250\n");
    let (result, bids) = read_bids(FileSource::new(&path, Format::csv()), 1);
    assert_eq!(result.unwrap().counter("source.bids.records"), 2);
    assert_eq!(bids, vec![bid(1, 100, "ann"), bid(2, 250, "bob")]);
}

#[test]
fn csv_without_header_maps_columns_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bids.csv");
    write(&path, "1,100,ann\n2,250,bob\n");
    let (result, bids) = read_bids(FileSource::new(&path, "csv-noheader".parse().unwrap()), 2);
    result.unwrap();
    assert_eq!(bids, vec![bid(1, 100, "ann"), bid(2, 250, "bob")]);
}

#[test]
fn bad_csv_fails_naming_file_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bids.csv");
    write(&path, BAD_CSV);
    let (result, _) = read_bids(FileSource::new(&path, Format::csv()), 1);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("bids.csv:3"), "{message}");
    assert!(message.contains("column 'price'"), "{message}");
    assert!(message.contains("value 'abc'"), "{message}");
}

#[test]
fn bad_csv_skip_counts_and_keeps_the_good_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bids.csv");
    write(&path, BAD_CSV);
    let source = FileSource::new(&path, Format::csv()).policy(BadRecordPolicy::Skip);
    let (result, bids) = read_bids(source, 1);
    let report = result.unwrap();
    assert_eq!(report.counter("source.bids.bad_records"), 2);
    assert_eq!(bids, vec![bid(1, 100, "ann"), bid(4, 40, "dee")]);
}

#[test]
fn bad_json_goes_to_the_dead_letter_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bids.jsonl");
    let dead = dir.path().join("dead.jsonl");
    write(&path, BAD_JSON);
    let source =
        FileSource::new(&path, Format::JsonLines).policy(BadRecordPolicy::DeadLetter(dead.clone()));
    let (result, bids) = read_bids(source, 1);
    assert_eq!(result.unwrap().counter("source.bids.bad_records"), 2);
    assert_eq!(bids, vec![bid(1, 100, "ann"), bid(4, 40, "dee")]);
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["line"], 2);
    assert_eq!(letters[0]["raw"], "{\"auction\":2,\"price\":");
    assert_eq!(letters[1]["line"], 3);
    assert_eq!(letters[1]["column"], "price");
}

#[test]
fn bad_json_fails_with_the_line_and_missing_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bids.jsonl");
    write(&path, "{\"auction\":3,\"bidder\":\"x\"}\n");
    let (result, _) = read_bids(FileSource::new(&path, Format::JsonLines), 1);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("bids.jsonl:1"), "{message}");
    assert!(message.contains("missing field `price`"), "{message}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let (result, _) = read_bids(FileSource::new("/nonexistent/bids.csv", Format::csv()), 2);
    let message = result.unwrap_err().to_string();
    assert!(message.starts_with("/nonexistent/bids.csv: "), "{message}");
    assert!(message.contains("No such file"), "{message}");
}

#[test]
fn a_directory_gives_the_same_records_for_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5u64 {
        let rows: String = (0..100).map(|j| format!("{i},{j},b{j}\n")).collect();
        write(
            &dir.path().join(format!("part-{i}.csv")),
            &format!("auction,price,bidder\n{rows}"),
        );
    }
    write(
        &dir.path().join(".hidden.csv"),
        "auction,price,bidder\n9,9,x\n",
    );
    let (r1, one) = read_bids(FileSource::new(dir.path(), Format::csv()), 1);
    r1.unwrap();
    assert_eq!(one.len(), 500);
    for workers in [2, 4] {
        let (r, many) = read_bids(FileSource::new(dir.path(), Format::csv()), workers);
        r.unwrap();
        assert_eq!(many, one, "workers = {workers}");
    }
}

#[test]
fn watching_a_directory_picks_up_new_files() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.csv"), GOOD_CSV);
    let out = Collector::new();
    let sink = out.clone();
    let job = Arc::new(JobShared::default());
    let path = dir.path().to_path_buf();
    let runner = {
        let job = Arc::clone(&job);
        std::thread::spawn(move || {
            execute_with(&ExecutionConfig::threads(2), job, move |env| {
                FileSource::new(&path, Format::csv())
                    .watch(Duration::from_millis(20))
                    .stream::<Bid>(env, "bids", WatermarkStrategy::none())?
                    .collect_into(&sink);
                Ok(())
            })
        })
    };
    let wait_for = |n: usize| {
        let start = Instant::now();
        while out.values().len() < n && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        out.values().len()
    };
    assert_eq!(wait_for(3), 3);
    // A new file appears whole: written under a hidden name, then renamed.
    let hidden = dir.path().join(".b.csv");
    write(&hidden, "auction,price,bidder\n7,700,gus\n");
    std::fs::rename(&hidden, dir.path().join("b.csv")).unwrap();
    assert_eq!(wait_for(4), 4);
    job.cancel();
    runner.join().unwrap().unwrap();
    assert!(out.sorted().contains(&bid(7, 700, "gus")));
}

#[test]
fn file_sink_publishes_parts_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    for (format, workers) in [(Format::csv(), 1), (Format::JsonLines, 2)] {
        let _ = std::fs::remove_dir_all(&out_dir);
        let target = out_dir.clone();
        let fmt = format.clone();
        execute(&ExecutionConfig::threads(workers), move |env| {
            let bids = (0..1000u64).map(|i| bid(i % 7, i, "z"));
            let sink = FileSink::new(env, &target, fmt.clone())?.max_part_bytes(1024);
            env.from_iter(bids, WatermarkStrategy::none())
                .rebalance()
                .sink("files", sink);
            Ok(())
        })
        .unwrap();
        let names: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n.starts_with("part-")), "{names:?}");
        assert!(names.len() > 2, "rolled into several parts: {names:?}");
        // Read the parts back with the file source (no header in written CSV parts).
        let read_format = match format {
            Format::Csv { .. } => "csv-noheader".parse().unwrap(),
            other => other,
        };
        let (result, back) = read_bids(FileSource::new(&out_dir, read_format), 2);
        result.unwrap();
        let mut expected: Vec<Bid> = (0..1000u64).map(|i| bid(i % 7, i, "z")).collect();
        expected.sort();
        assert_eq!(back, expected);
    }
}

#[test]
fn bad_csv_dead_letters_and_bad_json_skips() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("bids.csv");
    let dead = dir.path().join("dead.jsonl");
    write(&csv_path, BAD_CSV);
    let source =
        FileSource::new(&csv_path, Format::csv()).policy(BadRecordPolicy::DeadLetter(dead.clone()));
    let (result, bids) = read_bids(source, 1);
    assert_eq!(result.unwrap().counter("source.bids.bad_records"), 2);
    assert_eq!(bids, vec![bid(1, 100, "ann"), bid(4, 40, "dee")]);
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 2);
    assert_eq!(
        (letters[0]["line"].as_u64(), letters[0]["column"].as_str()),
        (Some(3), Some("price"))
    );
    assert_eq!(letters[0]["raw"], "2,abc,bob");
    assert_eq!(letters[1]["raw"], "3,5");

    let json_path = dir.path().join("bids.jsonl");
    write(&json_path, BAD_JSON);
    let source = FileSource::new(&json_path, Format::JsonLines).policy(BadRecordPolicy::Skip);
    let (result, bids) = read_bids(source, 2);
    assert_eq!(result.unwrap().counter("source.bids.bad_records"), 2);
    assert_eq!(bids, vec![bid(1, 100, "ann"), bid(4, 40, "dee")]);
}
