//! Event-to-prediction latency of online serving while the model keeps learning (issue 6's
//! latency benchmark): records arrive on a fixed schedule (100,000 per second by default, in
//! all), a `learn` operator trains a logistic regression per key and emits a new version
//! every 1,000 of the key's records, and `predict` scores every record with the newest
//! version it has (hot swap). A record's latency is the wall-clock time from its scheduled
//! arrival to its scored output, so a stall delays every record scheduled during it
//! (no coordinated omission).
//!
//! `cargo run --release -p riffle-ml --example bench_latency -- [RATE] [SECONDS] [WORKERS]`

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use riffle_core::Result;
use riffle_ml::online::operators::{learn, predict, Extract};
use riffle_ml::online::{OnlineLogisticRegression, Optimizer};
use riffle_runtime::{
    execute, Collector, ExecutionConfig, SourceReader, SourceStatus, WatermarkStrategy,
};
use serde::{Deserialize, Serialize};

const FEATURES: usize = 10;
const KEYS: u64 = 16;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    key: u64,
    /// Scheduled arrival, ns since the Unix epoch.
    scheduled_ns: u64,
    x: [f64; FEATURES],
    y: f64,
}

/// Emits this worker's share of records as their scheduled times come.
struct Paced {
    /// Records per second on this worker.
    rate: f64,
    total: u64,
    emitted: u64,
    started: Instant,
    started_ns: u64,
    seed: u64,
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl SourceReader<Event> for Paced {
    fn poll(&mut self, out: &mut Vec<Event>) -> Result<SourceStatus> {
        if self.emitted >= self.total {
            return Ok(SourceStatus::Finished);
        }
        let due = ((self.started.elapsed().as_secs_f64() * self.rate) as u64).min(self.total);
        if due <= self.emitted {
            return Ok(SourceStatus::Idle);
        }
        for i in self.emitted..due {
            let mut state = (self.seed ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut x = [0.0; FEATURES];
            for v in &mut x {
                state ^= state >> 29;
                state = state.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                *v = (state >> 11) as f64 / (1u64 << 53) as f64;
            }
            let y = f64::from(x[0] + x[1] > x[2] + 0.5);
            out.push(Event {
                key: i % KEYS,
                scheduled_ns: self.started_ns + (i as f64 * 1e9 / self.rate) as u64,
                x,
                y,
            });
        }
        self.emitted = due;
        Ok(SourceStatus::Ready)
    }
}

fn main() -> Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rate = args.first().copied().unwrap_or(100_000);
    let seconds = args.get(1).copied().unwrap_or(10);
    let workers = args.get(2).copied().unwrap_or(1) as usize;
    let latencies: Collector<(u64, u64)> = Collector::new();
    let sink = latencies.clone();
    let started = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let share = rate as f64 / env.workers() as f64;
        let reader = Paced {
            rate: share,
            total: (share * seconds as f64) as u64,
            emitted: 0,
            started: Instant::now(),
            started_ns: unix_ns(),
            seed: env.worker_index() as u64,
        };
        let strategy = WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |e: &Event| {
            (e.scheduled_ns / 1_000_000) as i64
        });
        let events = env.source("paced", reader, strategy);
        let extract = || {
            Extract::new(
                |e: &Event, out: &mut Vec<f64>| {
                    out.clear();
                    out.extend_from_slice(&e.x);
                },
                |e: &Event| e.y,
            )
        };
        let model =
            OnlineLogisticRegression::with_optimizer(Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 });
        let versions = learn(
            events.clone().key_by(|e: &Event| e.key),
            model.clone(),
            extract(),
            1_000,
        );
        predict(events, |e: &Event| e.key, versions, model, extract())
            .map(|s| (unix_ns().saturating_sub(s.record.scheduled_ns), s.version))
            .collect_into(&sink);
        Ok(())
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let values = latencies.values();
    let swapped = values.iter().filter(|(_, v)| *v > 0).count();
    let mut ns: Vec<u64> = values.into_iter().map(|(l, _)| l).collect();
    ns.sort_unstable();
    let pct = |p: f64| ns[((ns.len() as f64 * p) as usize).min(ns.len() - 1)] as f64 / 1e6;
    println!(
        "{{\"rate\": {rate}, \"workers\": {workers}, \"records\": {}, \"seconds\": {elapsed:.2}, \
         \"scored_by_a_learned_version\": {swapped}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \
         \"p999_ms\": {:.3}, \"max_ms\": {:.3}}}",
        ns.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        ns.last().copied().unwrap_or(0) as f64 / 1e6,
    );
    Ok(())
}
