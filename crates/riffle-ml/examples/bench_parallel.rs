//! Throughput of online learning as a streaming job on 1 and 2 workers (issue 6's "scaling to
//! 2 workers"): a generated stream of labelled records (10 features, 64 keys, read as fast
//! as the job takes them) goes through `test_then_train` with a logistic regression
//! (AdaGrad) per key: every record is scored by its key's model, then learned, in event-time
//! order per key. Keys are spread over the workers, so each learns its keys' models alone.
//!
//! Beside it, the same records through a plain loop (one model per key, no runtime), the
//! ceiling a job's overheads are measured against. The first 200,000 records are written to
//! `DIR/parallel.csv` for `bench/ml/bench_river.py DIR`, which replays them through River's
//! same model per key.
//!
//! `cargo run --release -p riffle-ml --example bench_parallel -- [DIR] [RECORDS] [WORKERS...]`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use riffle_core::Result;
use riffle_ml::online::operators::{test_then_train, Extract};
use riffle_ml::online::{OnlineClassifier, OnlineLogisticRegression, Optimizer};
use riffle_runtime::{execute, ExecutionConfig, SourceReader, SourceStatus, WatermarkStrategy};
use serde::{Deserialize, Serialize};

const FEATURES: usize = 10;
const KEYS: u64 = 64;
/// Records a source emits per poll.
const CHUNK: u64 = 4_096;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    key: u64,
    /// Event time, ms: the record's number.
    at: i64,
    x: [f64; FEATURES],
    y: f64,
}

/// Record `i` of the stream: seeded features in [0, 1) and a label above a plane.
fn event(i: u64) -> Event {
    let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66;
    let mut x = [0.0; FEATURES];
    for v in &mut x {
        state ^= state >> 29;
        state = state.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        *v = (state >> 11) as f64 / (1u64 << 53) as f64;
    }
    let y = f64::from(x[0] + x[1] > x[2] + 0.5);
    Event {
        key: i % KEYS,
        at: i as i64,
        x,
        y,
    }
}

/// Emits records `worker, worker + workers, ...` below `total` as fast as they are taken.
struct Generated {
    next: u64,
    step: u64,
    total: u64,
}

impl SourceReader<Event> for Generated {
    fn poll(&mut self, out: &mut Vec<Event>) -> Result<SourceStatus> {
        if self.next >= self.total {
            return Ok(SourceStatus::Finished);
        }
        for _ in 0..CHUNK {
            if self.next >= self.total {
                break;
            }
            out.push(event(self.next));
            self.next += self.step;
        }
        Ok(SourceStatus::Ready)
    }
}

fn model() -> OnlineLogisticRegression {
    OnlineLogisticRegression::with_optimizer(Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 })
}

/// Runs the job on `workers` threads; returns seconds and the records scored right.
fn job(records: u64, workers: usize) -> Result<(f64, u64)> {
    let right = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&right);
    let started = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let reader = Generated {
            next: env.worker_index() as u64,
            step: env.workers() as u64,
            total: records,
        };
        let strategy =
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |e: &Event| e.at);
        let extract = Extract::new(
            |e: &Event, out: &mut Vec<f64>| {
                out.clear();
                out.extend_from_slice(&e.x);
            },
            |e: &Event| e.y,
        );
        let count = Arc::clone(&count);
        test_then_train(
            env.source("generated", reader, strategy)
                .key_by(|e: &Event| e.key),
            model(),
            extract,
        )
        .inspect(move |_, s| {
            if f64::from(s.score > 0.5) == s.record.y {
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(())
    })?;
    Ok((
        started.elapsed().as_secs_f64(),
        right.load(Ordering::Relaxed),
    ))
}

/// The same records through a loop: one model per key, score then learn.
fn plain_loop(records: u64) -> (f64, u64) {
    let events: Vec<Event> = (0..records).map(event).collect();
    let started = Instant::now();
    let mut models: HashMap<u64, OnlineLogisticRegression> = HashMap::new();
    let mut right = 0;
    for e in &events {
        let m = models.entry(e.key).or_insert_with(model);
        let p = m.predict_proba_one(&e.x);
        right += u64::from(f64::from(p > 0.5) == e.y);
        m.learn_predicted(&e.x, e.y, p);
    }
    (started.elapsed().as_secs_f64(), right)
}

/// Writes the first `n` records as CSV: key, x0..x9, label.
fn write_csv(path: &std::path::Path, n: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let names: Vec<String> = (0..FEATURES).map(|j| format!("x{j}")).collect();
    writeln!(out, "key,{},label", names.join(","))?;
    for i in 0..n {
        let e = event(i);
        let x: Vec<String> = e.x.iter().map(|v| format!("{v:?}")).collect();
        writeln!(out, "{},{},{}", e.key, x.join(","), e.y)?;
    }
    out.flush()
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .filter(|a| a.parse::<u64>().is_err())
        .unwrap_or_else(|| "/tmp/riffle-online-bench".into());
    let csv = std::path::Path::new(&dir).join("parallel.csv");
    std::fs::create_dir_all(&dir)
        .and_then(|()| write_csv(&csv, 200_000))
        .map_err(|e| riffle_core::RiffleError::io(&csv, e))?;
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let records = args.first().copied().unwrap_or(2_000_000);
    let workers: Vec<usize> = if args.len() > 1 {
        args[1..].iter().map(|w| *w as usize).collect()
    } else {
        vec![1, 2]
    };
    let (seconds, right) = plain_loop(records);
    println!(
        "{{\"engine\": \"loop\", \"records\": {records}, \"seconds\": {seconds:.3}, \
         \"records_per_second\": {:.0}, \"accuracy\": {:.4}}}",
        records as f64 / seconds,
        right as f64 / records as f64
    );
    for w in workers {
        let (seconds, right) = job(records, w)?;
        println!(
            "{{\"engine\": \"riffle test_then_train\", \"workers\": {w}, \"records\": {records}, \
             \"seconds\": {seconds:.3}, \"records_per_second\": {:.0}, \"accuracy\": {:.4}}}",
            records as f64 / seconds,
            right as f64 / records as f64
        );
    }
    Ok(())
}
