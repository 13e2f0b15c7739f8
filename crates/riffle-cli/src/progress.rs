//! A progress bar for jobs run from a terminal: records read so far (of the total, for
//! bounded generated input), updated while the job runs, on standard error.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use riffle_core::Result;
use riffle_runtime::{execute_with, Env, ExecutionConfig, JobReport, JobShared};

/// Runs the job like `riffle_runtime::execute`, showing progress when standard error is a
/// terminal. `total` is the number of records the sources will read, if known.
pub fn execute<F>(config: &ExecutionConfig, total: Option<u64>, build: F) -> Result<JobReport>
where
    F: Fn(&mut Env<'_>) -> Result<()> + Send + Sync + 'static,
{
    let job = Arc::new(JobShared::default());
    if !std::io::stderr().is_terminal() {
        return execute_with(config, job, build);
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {human_pos}/{human_len} records, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {human_pos} records, {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (job, bar, done) = (Arc::clone(&job), bar.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                bar.set_position(records_read(&job));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let result = execute_with(config, Arc::clone(&job), build);
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    bar.set_position(records_read(&job));
    bar.finish_and_clear();
    result
}

fn records_read(job: &JobShared) -> u64 {
    job.counters()
        .iter()
        .filter(|(k, _)| k.starts_with("source.") && k.ends_with(".records"))
        .map(|(_, v)| v)
        .sum()
}
