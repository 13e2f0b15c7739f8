//! `riffle bench`: end-to-end throughput of built-in jobs over the in-memory Nexmark
//! generator, per number of workers, and the cost of snapshotting a large keyed state.

use std::time::{Duration, Instant};

use clap::Args;
use riffle_connectors::nexmark::{self, NexmarkConfig};
use riffle_connectors::{BlackholeSink, DataGen};
use riffle_core::{Result, RiffleError};
use riffle_runtime::{
    execute, CheckpointConfig, CheckpointStore, ExecutionConfig, SourceReader, SourceStatus,
    WatermarkStrategy, WindowAssigner,
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
    /// Run only the jobs whose name contains this text (the checkpoint benchmark is "checkpoint").
    #[arg(long)]
    only: Option<String>,
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
        let sink = BlackholeSink::new(env);
        nexmark::bids(env, &cfg, None)
            .filter(|b| b.price > 0)
            .map(|b| (b.auction, b.price * 908 / 1000))
            .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

/// The generator alone, without a dataflow: what building the events (and keeping the
/// bids) costs a worker.
fn generator_only(workers: usize, events: u64) -> Result<Duration> {
    let cfg = generator(events);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..workers {
            let cfg = cfg.clone();
            scope.spawn(move || {
                let mut reader = nexmark::NexmarkReader::bids(cfg, w, workers);
                let mut batch = Vec::new();
                let mut sum = 0u64;
                while reader.poll(&mut batch)? == SourceStatus::Ready {
                    sum = sum.wrapping_add(batch.len() as u64);
                    batch.clear();
                }
                std::hint::black_box(sum);
                Ok::<_, RiffleError>(())
            });
        }
    });
    Ok(start.elapsed())
}

/// The runtime alone: the same map/filter over trivially generated numbers.
fn runtime_only(workers: usize, events: u64) -> Result<Duration> {
    let start = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let sink = BlackholeSink::new(env);
        DataGen::new(0, |n, _| n)
            .rows(events)
            .stream(env, "numbers", WatermarkStrategy::none())
            .filter(|n| *n > 0)
            .map(|n| (n % 1000, n * 908 / 1000))
            .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

fn window_count(workers: usize, events: u64) -> Result<Duration> {
    let cfg = generator(events);
    let start = Instant::now();
    execute(&ExecutionConfig::threads(workers), move |env| {
        let sink = BlackholeSink::new(env);
        nexmark::bids(env, &cfg, None)
            .map(|b| b.auction)
            .key_by(|a| *a)
            .window(WindowAssigner::tumbling(Duration::from_secs(10)))
            .count()
            .sink("blackhole", sink);
        Ok(())
    })?;
    Ok(start.elapsed())
}

/// What checkpointing a job that holds `keys` keys costs: a rolling per-key sum over
/// `10 × keys` generated rows on `workers` workers, checkpointing every second. Returns the
/// longest single operator snapshot (serialize + write) and the newest complete checkpoint's
/// size on disk.
fn checkpointed_state(workers: usize, keys: u64) -> Result<(Duration, u64, u64)> {
    let dir = std::env::temp_dir().join(format!("riffle-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = ExecutionConfig::threads(workers).with_checkpoints(CheckpointConfig {
        dir: dir.clone(),
        interval: Duration::from_secs(1),
        restore: None,
    });
    let report = execute(&config, move |env| {
        let sink = BlackholeSink::new(env);
        DataGen::new(1, move |n, _| (n % keys, n))
            .rows(10 * keys)
            .stream(env, "rows", WatermarkStrategy::none())
            .key_by(|r| r.0)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .sink("blackhole", sink);
        Ok(())
    })?;
    let latest = CheckpointStore::latest_complete(&dir)?.ok_or_else(|| {
        RiffleError::Checkpoint("the benchmark job completed no checkpoint".into())
    })?;
    let chk = dir.join(format!("chk-{latest:08}"));
    let size = std::fs::read_dir(&chk)
        .map_err(|e| RiffleError::io(&chk, e))?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let _ = std::fs::remove_dir_all(&dir);
    let max = Duration::from_millis(report.counter("checkpoint.snapshot_max_ms"));
    Ok((max, size, latest))
}

/// Runs the benchmarks and prints a table.
pub fn run(_config: &ExecutionConfig, args: &BenchArgs) -> Result<()> {
    println!("| job | workers | events | seconds | M events/s | M events/s per worker |");
    println!("|---|---|---|---|---|---|");
    type Job = fn(usize, u64) -> Result<Duration>;
    let jobs: [(&str, Job); 4] = [
        ("nexmark generator alone (no dataflow)", generator_only),
        (
            "numbers map/filter -> blackhole (runtime alone)",
            runtime_only,
        ),
        ("nexmark map/filter -> blackhole", stateless),
        ("nexmark keyed tumbling count (10 s)", window_count),
    ];
    let selected = |name: &str| args.only.as_deref().is_none_or(|only| name.contains(only));
    for (name, job) in jobs.into_iter().filter(|(name, _)| selected(name)) {
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
    for &workers in args.workers.iter().filter(|_| selected("checkpoint")) {
        let (max, size, epoch) = checkpointed_state(workers, args.keys)?;
        println!(
            "\ncheckpoints of a job holding {} keys on {workers} worker(s): longest operator snapshot \
             {:.3} s; the {} checkpoint is {:.1} MB on disk",
            args.keys,
            max.as_secs_f64(),
            if epoch == u64::MAX { "final".to_string() } else { format!("newest ({epoch})") },
            size as f64 / 1e6
        );
    }
    Ok(())
}
