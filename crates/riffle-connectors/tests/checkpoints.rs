//! Checkpoints and exactly-once file output, in process: a job is stopped midway (its sinks
//! commit nothing more, as after a crash), restarted from its latest complete checkpoint, and
//! its committed output compared with an uninterrupted run's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use riffle_connectors::{DataGen, FileSink, FileSource, Format, RowRng, Throttle};
use riffle_runtime::{
    execute_with, CheckpointConfig, CheckpointStore, ExecutionConfig, JobShared, Restore,
    WatermarkStrategy, WindowAssigner,
};

const EVENTS: u64 = 200_000;

fn click(n: u64, rng: &mut RowRng) -> (u32, i64) {
    let late = if rng.chance(0.01) { 5_000 } else { 500 };
    (
        rng.range_i64(0, 19) as u32,
        n as i64 - rng.range_i64(0, late),
    )
}

/// Where the clicks come from.
#[derive(Clone)]
enum Input {
    Generated,
    Files(PathBuf),
}

/// Counts per key per 100 ms window, and a rolling per-key sum of the click times (its
/// largest value per key is the key's total: lost state or replayed clicks would change it).
fn run(config: ExecutionConfig, out: &Path, rate: Option<u64>, job: Arc<JobShared>, input: Input) {
    let out = out.to_path_buf();
    execute_with(&config, job, move |env| {
        let strategy = WatermarkStrategy::bounded_out_of_orderness(
            Duration::from_millis(500),
            |c: &(u32, i64)| c.1,
        );
        let clicks = match &input {
            Input::Generated => {
                let mut gen = DataGen::new(7, click).rows(EVENTS);
                if let Some(rate) = rate {
                    gen = gen.rows_per_second(rate);
                }
                gen.stream(env, "clicks", strategy)
            }
            Input::Files(dir) => {
                let reader = FileSource::new(dir, "csv-noheader".parse()?)
                    .reader::<(u32, i64)>(env, "clicks")?;
                let per_worker = rate.map(|r| r / env.workers() as u64);
                env.source("clicks", Throttle::new(reader, per_worker), strategy)
            }
        };
        let counts = clicks
            .clone()
            .key_by(|c| c.0)
            .window(WindowAssigner::tumbling(Duration::from_millis(100)))
            .count()
            .map(|w| format!("count {} {} {}", w.key, w.window.start, w.value));
        let maxima = clicks
            .map(|c| (c.0, c.1.unsigned_abs()))
            .key_by(|c| c.0)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .map(|m| format!("sum {} {}", m.0, m.1));
        counts.sink(
            "counts",
            FileSink::new(env, out.join("counts"), Format::Lines)?,
        );
        maxima.sink(
            "maxima",
            FileSink::new(env, out.join("maxima"), Format::Lines)?,
        );
        Ok(())
    })
    .unwrap();
}

/// The window counts and, per key, the largest rolling sum: what must not depend on timing.
fn outcome(dir: &Path) -> (Vec<String>, std::collections::BTreeMap<u32, u64>) {
    let mut counts = Vec::new();
    let mut sums = std::collections::BTreeMap::new();
    for line in committed(dir) {
        let parts: Vec<&str> = line.split(' ').collect();
        if parts[0] == "sum" {
            let (key, sum): (u32, u64) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
            let entry = sums.entry(key).or_insert(0);
            *entry = sum.max(*entry);
        } else {
            counts.push(line);
        }
    }
    (counts, sums)
}

/// The first lines in which two sorted lists differ, for a readable failure.
fn first_differences(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while (i < a.len() || j < b.len()) && out.len() < 10 {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                out.push(format!("only in got: {x}"));
                i += 1;
            }
            (Some(_), Some(y)) | (None, Some(y)) => {
                out.push(format!("only in expected: {y}"));
                j += 1;
            }
            (Some(x), None) => {
                out.push(format!("only in got: {x}"));
                i += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// The committed (visible) lines under `dir`, sorted.
fn committed(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for sub in ["counts", "maxima"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("part-") {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                lines.extend(text.lines().map(str::to_string));
            }
        }
    }
    lines.sort();
    lines
}

/// Runs the job to the end as a reference, then three times stopped midway (each restoring
/// the one before), then to the end: the committed output must equal the reference's.
fn stop_and_restore(input: Input) {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    run(
        ExecutionConfig::threads(2),
        &reference,
        None,
        Arc::new(JobShared::default()),
        input.clone(),
    );
    let (expected, expected_sums) = outcome(&reference);
    assert!(expected.len() > 1000, "{}", expected.len());
    assert_eq!(expected_sums.len(), 20);

    let out = dir.path().join("out");
    let chk = dir.path().join("chk");
    let checkpointed = |restore| {
        ExecutionConfig::threads(2).with_checkpoints(CheckpointConfig {
            dir: chk.clone(),
            interval: Duration::from_millis(30),
            restore,
        })
    };
    for (i, stop_after) in [250u64, 400, 300].into_iter().enumerate() {
        let job = Arc::new(JobShared::default());
        let before = CheckpointStore::latest_complete(&chk).unwrap();
        let stopper = {
            let (job, chk) = (Arc::clone(&job), chk.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(stop_after));
                // Stop only once this run has completed a checkpoint of its own (bounded wait,
                // for a loaded machine).
                let start = std::time::Instant::now();
                while CheckpointStore::latest_complete(&chk).unwrap() == before
                    && start.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                job.cancel();
            })
        };
        let restore = (i > 0).then_some(Restore::Latest);
        run(
            checkpointed(restore),
            &out,
            Some(100_000),
            Arc::clone(&job),
            input.clone(),
        );
        stopper.join().unwrap();
        // The run counted the checkpoints it completed and kept their durations.
        let counters = job.counters();
        let counter = |name: &str| counters.get(name).copied().unwrap_or(0);
        assert!(counter("checkpoint.completed") >= 1, "{counters:?}");
        assert!(
            counter("checkpoint.max_duration_ms") >= counter("checkpoint.last_duration_ms"),
            "{counters:?}"
        );
        let (partial, _) = outcome(&out);
        assert!(
            partial.len() < expected.len(),
            "run {i} was meant to be stopped before the end"
        );
        assert!(
            CheckpointStore::latest_complete(&chk).unwrap().is_some(),
            "run {i} completed no checkpoint"
        );
    }
    run(
        checkpointed(Some(Restore::Latest)),
        &out,
        None,
        Arc::new(JobShared::default()),
        input,
    );
    let (got, sums) = outcome(&out);
    assert!(got == expected, "{:#?}", first_differences(&got, &expected));
    assert_eq!(sums, expected_sums);
    for sub in ["counts", "maxima"] {
        for entry in std::fs::read_dir(out.join(sub)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(name.starts_with("part-"), "left behind: {name}");
        }
    }
}

#[test]
fn a_generator_job_restored_from_its_checkpoints_commits_exactly_the_uninterrupted_output() {
    stop_and_restore(Input::Generated);
}

#[test]
fn a_file_job_restored_from_its_checkpoints_commits_exactly_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    // Four CSV files of 50,000 clicks each, in event-time order per file.
    for f in 0..4u64 {
        let mut text = String::new();
        for n in 0..EVENTS / 4 {
            let (key, at) = click(f * EVENTS / 4 + n, &mut RowRng::new(7, f * EVENTS + n));
            text.push_str(&format!("{key},{at}\n"));
        }
        std::fs::write(dir.path().join(format!("clicks-{f}.csv")), text).unwrap();
    }
    stop_and_restore(Input::Files(dir.path().to_path_buf()));
}
