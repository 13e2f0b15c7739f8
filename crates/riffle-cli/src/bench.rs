//! `riffle bench`: end-to-end throughput of built-in jobs over the in-memory Nexmark
//! generator, per number of workers, and the cost of snapshotting a large keyed state.

use std::time::{Duration, Instant};

use clap::Args;
use riffle_connectors::nexmark::{Event, NexmarkConfig, NexmarkReader};
use riffle_connectors::BlackholeSink;
use riffle_core::{Result, RiffleError};
use riffle_runtime::{
    execute, ExecutionConfig, KeyedState, ValueState, WatermarkStrategy, WindowAssigner,
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
    /// Keys in the state-snapshot benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
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
        let reader = NexmarkReader::new(cfg.clone(), env.worker_index(), env.workers());
        let sink = BlackholeSink::new(env);
        env.source(
            "nexmark",
            reader,
            WatermarkStrategy::reader_defined(Event::timestamp),
        )
        .flat_map(|e| match e {
            Event::Bid(b) => Some(b),
            _ => None,
        })
        .filter(|b| b.price > 0)
        .map(|b| (b.auction, b.price * 908 / 1000))
        .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

fn window_count(workers: usize, events: u64) -> Result<Duration> {
    let cfg = generator(events);
    let start = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let reader = NexmarkReader::new(cfg.clone(), env.worker_index(), env.workers());
        let sink = BlackholeSink::new(env);
        env.source(
            "nexmark",
            reader,
            WatermarkStrategy::reader_defined(Event::timestamp),
        )
        .flat_map(|e| match e {
            Event::Bid(b) => Some(b.auction),
            _ => None,
        })
        .key_by(|a| *a)
        .window(WindowAssigner::tumbling(Duration::from_secs(10)))
        .count()
        .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

/// Snapshots `keys` keyed values and writes them to a file, as a checkpoint does.
fn snapshot(keys: u64) -> Result<(Duration, u64)> {
    let mut state: KeyedState<u64, ValueState<(u64, i64)>> = KeyedState::default();
    for k in 0..keys {
        state.get_mut(&k).update((k * 7, k as i64));
    }
    let dir = std::env::temp_dir().join(format!("riffle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| RiffleError::io(&dir, e))?;
    let path = dir.join("state.bin");
    let start = Instant::now();
    let bytes = state.snapshot()?;
    std::fs::write(&path, &bytes).map_err(|e| RiffleError::io(&path, e))?;
    let took = start.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    Ok((took, bytes.len() as u64))
}

/// Runs the benchmarks and prints a table.
pub fn run(_config: &ExecutionConfig, args: &BenchArgs) -> Result<()> {
    println!("| job | workers | events | seconds | M events/s | M events/s per worker |");
    println!("|---|---|---|---|---|---|");
    type Job = fn(usize, u64) -> Result<Duration>;
    let jobs: [(&str, Job); 2] = [
        ("nexmark map/filter -> blackhole", stateless),
        ("nexmark keyed tumbling count (10 s)", window_count),
    ];
    for (name, job) in jobs {
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
    let (took, size) = snapshot(args.keys)?;
    println!(
        "\nkeyed state snapshot of {} keys: {:.3} s, {:.1} MB written",
        args.keys,
        took.as_secs_f64(),
        size as f64 / 1e6
    );
    Ok(())
}
