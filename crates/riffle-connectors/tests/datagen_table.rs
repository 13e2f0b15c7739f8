//! The schema-driven `datagen` table with Flink's options: values in their ranges, sequences,
//! null rates, clear errors for bad options, and the same rows for any number of workers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use riffle_connectors::DataGenTable;
use riffle_runtime::{execute, now_millis, Collector, ExecutionConfig};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("bidder", DataType::Int32, true),
        Field::new("price", DataType::Float64, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("note", DataType::Utf8, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]))
}

fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn auction_options() -> BTreeMap<String, String> {
    options(&[
        ("connector", "datagen"),
        ("rows-per-second", "0"),
        ("seed", "7"),
        ("fields.id.kind", "sequence"),
        ("fields.id.start", "100"),
        ("fields.id.end", "20099"),
        ("fields.bidder.min", "10"),
        ("fields.bidder.max", "20"),
        ("fields.bidder.null-rate", "0.25"),
        ("fields.price.min", "1.5"),
        ("fields.price.max", "2.5"),
        ("fields.channel.length", "6"),
        ("fields.note.length", "10"),
        ("fields.note.var-len", "true"),
        ("fields.ts.max-past", "1 min"),
    ])
}

#[test]
fn every_field_follows_its_options() {
    let before = now_millis();
    let table = DataGenTable::from_options(schema(), &auction_options()).unwrap();
    let after = now_millis();
    // The sequence bounds the source: 20,000 rows.
    assert_eq!(table.number_of_rows(), Some(20_000));
    let batch = table.rows(0, 20_000).unwrap();
    let ids = batch.column(0).as_primitive::<Int64Type>();
    assert!(ids.values().iter().copied().eq(100..20_100));
    let bidders = batch.column(1).as_primitive::<Int32Type>();
    assert!(bidders.iter().flatten().all(|b| (10..=20).contains(&b)));
    // Every value of the range turns up.
    let distinct: std::collections::BTreeSet<i32> = bidders.iter().flatten().collect();
    assert_eq!(distinct.len(), 11);
    let nulls = bidders.null_count();
    assert!(
        (4_500..5_500).contains(&nulls),
        "{nulls} nulls of 20,000 at rate 0.25"
    );
    let prices = batch.column(2).as_primitive::<Float64Type>();
    assert_eq!(prices.null_count(), 0);
    assert!(prices.values().iter().all(|p| (1.5..2.5).contains(p)));
    let channels = batch.column(3).as_string::<i32>();
    assert!(channels
        .iter()
        .flatten()
        .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_lowercase())));
    let notes = batch.column(4).as_string::<i32>();
    let lengths: std::collections::BTreeSet<usize> = notes.iter().flatten().map(str::len).collect();
    assert_eq!(lengths, (1..=10).collect());
    let ok = batch.column(5).as_boolean();
    assert!((9_000..11_000).contains(&ok.true_count()));
    let ts = batch.column(6).as_primitive::<TimestampMillisecondType>();
    assert!(ts
        .values()
        .iter()
        .all(|t| *t >= before - 60_000 && *t <= after));
    assert!(ts.values().iter().any(|t| *t < before - 30_000));
}

#[test]
fn the_same_seed_gives_the_same_rows_and_columns_do_not_disturb_each_other() {
    let a = DataGenTable::from_options(schema(), &auction_options()).unwrap();
    let b = DataGenTable::from_options(schema(), &auction_options()).unwrap();
    let (x, y) = (a.rows(500, 900).unwrap(), b.rows(500, 900).unwrap());
    // Columns other than the start-time-relative timestamp are equal.
    for i in 0..6 {
        assert_eq!(x.column(i), y.column(i), "column {i}");
    }
    // Each column draws from its own stream (by position): removing later columns leaves
    // the earlier ones unchanged.
    let narrow = Arc::new(Schema::new(schema().fields()[..3].to_vec()));
    let mut narrow_options = auction_options();
    narrow_options.retain(|k, _| {
        !["channel", "note", "ok", "ts"]
            .iter()
            .any(|c| k.starts_with(&format!("fields.{c}.")))
    });
    let n = DataGenTable::from_options(narrow, &narrow_options).unwrap();
    let z = n.rows(500, 900).unwrap();
    for i in 0..3 {
        assert_eq!(x.column(i), z.column(i), "column {i}");
    }
}

/// `(id, bidder, price bits)` of every row, sorted: an order-free view of a run.
fn rows_of(batches: &[riffle_core::Batch]) -> Vec<(i64, Option<i32>, u64)> {
    let mut rows = Vec::new();
    for batch in batches {
        let batch: &RecordBatch = batch;
        let ids = batch.column(0).as_primitive::<Int64Type>();
        let bidders = batch.column(1).as_primitive::<Int32Type>();
        let prices = batch.column(2).as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            rows.push((
                ids.value(i),
                bidders.is_valid(i).then(|| bidders.value(i)),
                prices.value(i).to_bits(),
            ));
        }
    }
    rows.sort();
    rows
}

#[test]
fn rows_do_not_depend_on_the_number_of_workers() {
    let mut runs = Vec::new();
    for workers in [1, 3] {
        let out = Collector::new();
        let sink = out.clone();
        let table = DataGenTable::from_options(schema(), &auction_options()).unwrap();
        execute(&ExecutionConfig::threads(workers), move |env| {
            table.stream(env, "gen").collect_into(&sink);
            Ok(())
        })
        .unwrap();
        runs.push(rows_of(&out.values()));
    }
    assert_eq!(runs[0].len(), 20_000);
    assert!(runs[0] == runs[1]);
    let ids: Vec<i64> = runs[0].iter().map(|r| r.0).collect();
    assert!(ids.into_iter().eq(100..20_100));
}

#[test]
fn a_rate_limit_spreads_the_rows_over_time() {
    let mut opts = auction_options();
    opts.insert("rows-per-second".into(), "4000".into());
    opts.insert("number-of-rows".into(), "2000".into());
    let table = DataGenTable::from_options(schema(), &opts).unwrap();
    let out = Collector::new();
    let sink = out.clone();
    let started = Instant::now();
    execute(&ExecutionConfig::threads(2), move |env| {
        table.stream(env, "gen").collect_into(&sink);
        Ok(())
    })
    .unwrap();
    // 2,000 rows at 4,000 per second take half a second at least (a lower bound only).
    assert!(
        started.elapsed().as_millis() >= 400,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rows_of(&out.values()).len(), 2_000);
}

fn error(pairs: &[(&str, &str)]) -> String {
    let mut opts = auction_options();
    for (k, v) in pairs {
        opts.insert(k.to_string(), v.to_string());
    }
    DataGenTable::from_options(schema(), &opts)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_options_are_refused_by_name() {
    let e = error(&[("fields.prce.min", "1")]);
    assert!(
        e.contains("'fields.prce.min' names no column 'prce'; did you mean 'price'?"),
        "{e}"
    );
    let e = error(&[("rows-per-secnd", "5")]);
    assert!(
        e.contains("unknown option 'rows-per-secnd'; did you mean 'rows-per-second'?"),
        "{e}"
    );
    let e = error(&[("fields.price.mn", "1")]);
    assert!(e.contains("'fields.price.mn'; did you mean 'min'?"), "{e}");
    let e = error(&[("fields.bidder.min", "30")]);
    assert!(
        e.contains("'fields.bidder.max' = 20 is below 'fields.bidder.min' = 30"),
        "{e}"
    );
    let e = error(&[("fields.bidder.max", "3000000000")]);
    assert!(e.contains("does not fit Int32"), "{e}");
    let e = error(&[("fields.price.min", "cheap")]);
    assert!(
        e.contains("'fields.price.min' = 'cheap' is not a number"),
        "{e}"
    );
    let e = error(&[("fields.bidder.length", "5")]);
    assert!(
        e.contains("'fields.bidder.length' applies to string columns"),
        "{e}"
    );
    let e = error(&[("fields.bidder.kind", "sequence")]);
    assert!(
        e.contains("'fields.bidder.min' applies to random fields, and 'bidder' is a sequence"),
        "{e}"
    );
    let mut opts = auction_options();
    opts.retain(|k, _| !k.starts_with("fields.bidder."));
    opts.insert("fields.bidder.kind".into(), "sequence".into());
    let e = DataGenTable::from_options(schema(), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sequence column 'bidder' needs 'fields.bidder.start'"),
        "{e}"
    );
    let e = error(&[("fields.bidder.kind", "counter")]);
    assert!(e.contains("the kind is 'random' or 'sequence'"), "{e}");
    let e = error(&[("fields.ts.max-past", "5 fortnights")]);
    assert!(e.contains("unknown time unit 'fortnights'"), "{e}");
    let e = error(&[("fields.bidder.null-rate", "1.5")]);
    assert!(e.contains("is not between 0 and 1"), "{e}");
    let binary = Arc::new(Schema::new(vec![Field::new("b", DataType::Binary, true)]));
    let e = DataGenTable::from_options(binary, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("column 'b' has type Binary, which datagen does not generate"),
        "{e}"
    );
}
