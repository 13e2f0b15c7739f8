//! Parquet files: written by the Parquet sink, read back by the file source, with rows that
//! do not fit the record type handled by the bad-record policy.

use riffle_connectors::{FileSource, Format, ParquetSink};
use riffle_core::BadRecordPolicy;
use riffle_runtime::{execute, Collector, ExecutionConfig, WatermarkStrategy};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Bid {
    auction: u64,
    price: u64,
    bidder: String,
}

/// The same columns, but `price` may be missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MaybePriced {
    auction: u64,
    price: Option<u64>,
    bidder: String,
}

fn write<T: riffle_runtime::Data + Sync>(dir: &std::path::Path, rows: Vec<T>, workers: usize) {
    let dir = dir.to_path_buf();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let sink = ParquetSink::new(env, &dir)?.max_part_rows(300);
        env.from_iter(rows.clone(), WatermarkStrategy::none())
            .rebalance()
            .sink("parquet", sink);
        Ok(())
    })
    .unwrap();
}

fn read(
    source: FileSource,
    workers: usize,
) -> (riffle_core::Result<riffle_runtime::JobReport>, Vec<Bid>) {
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

#[test]
fn parquet_round_trips_through_sink_and_source() {
    let dir = tempfile::tempdir().unwrap();
    let bids: Vec<Bid> = (0..2000u64)
        .map(|i| Bid {
            auction: i % 13,
            price: i * 3,
            bidder: format!("b{i}"),
        })
        .collect();
    write(dir.path(), bids.clone(), 2);
    let parts = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(parts >= 6, "rolled into parts of 300 rows: {parts}");
    let mut expected = bids;
    expected.sort();
    for workers in [1, 3] {
        let (result, back) = read(FileSource::new(dir.path(), Format::Parquet), workers);
        assert_eq!(result.unwrap().counter("source.bids.records"), 2000);
        assert!(back == expected, "workers = {workers}");
    }
}

#[test]
fn rows_that_do_not_fit_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<MaybePriced> = (0..10u64)
        .map(|i| MaybePriced {
            auction: i,
            price: (i % 4 != 1).then_some(i * 10),
            bidder: "x".into(),
        })
        .collect();
    write(dir.path(), rows, 1);
    let (result, back) = read(
        FileSource::new(dir.path(), Format::Parquet).policy(BadRecordPolicy::Skip),
        1,
    );
    assert_eq!(result.unwrap().counter("source.bids.bad_records"), 3); // rows 1, 5, 9
    assert_eq!(back.len(), 7);
    assert!(back.iter().all(|b| b.auction % 4 != 1));

    let (result, _) = read(FileSource::new(dir.path(), Format::Parquet), 1);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("part-0-00000.parquet:2"), "{message}");
}

#[test]
fn a_file_that_is_not_parquet_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bids.parquet"), "auction,price\n1,2\n").unwrap();
    let (result, _) = read(FileSource::new(dir.path(), Format::Parquet), 1);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("bids.parquet"), "{message}");
    assert!(message.contains("not a readable Parquet file"), "{message}");
}
