//! Two processes of one job (two timely clusters members in this test binary, talking over
//! loopback TCP): a failure in one stops the other with an error that names it, and an idle
//! source in one process catches up with the watermark of a busy source in the other.

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use riffle_core::{Result, RiffleError};
use riffle_runtime::{
    execute_with, Collector, EventTime, ExecutionConfig, JobReport, JobShared, SourceReader,
    SourceStatus, WatermarkStrategy, WindowAssigner,
};

/// Two consecutive free loopback ports (retrying until the second is free too).
fn two_free_ports() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// What a test source does on one worker.
#[derive(Clone, Copy)]
enum Script {
    /// Emits records `0..n` (time = 1 s each), then fails.
    FailAfter(i64),
    /// Emits records `0..n` (time = 1 s each), then stays idle for ever.
    IdleAfter(i64),
}

struct TestReader {
    script: Script,
    next: i64,
}

impl SourceReader<i64> for TestReader {
    fn poll(&mut self, out: &mut Vec<i64>) -> Result<SourceStatus> {
        let (Script::FailAfter(n) | Script::IdleAfter(n)) = self.script;
        if self.next < n {
            out.push(self.next);
            self.next += 1;
            return Ok(SourceStatus::Ready);
        }
        match self.script {
            Script::FailAfter(_) => Err(RiffleError::Runtime(
                "test source broke at record 5".to_string(),
            )),
            Script::IdleAfter(_) => {
                std::thread::sleep(Duration::from_millis(1));
                Ok(SourceStatus::Idle)
            }
        }
    }
}

/// Starts process `process` of a 2-process job whose worker `w` runs `scripts[w]` into a
/// keyed tumbling count (5 s) collected into `out`.
fn start(
    port: u16,
    process: usize,
    scripts: [Script; 2],
    out: &Collector<(i64, EventTime, u64)>,
) -> (Arc<JobShared>, JoinHandle<Result<JobReport>>) {
    let job = Arc::new(JobShared::default());
    let config = ExecutionConfig::local_cluster(1, 2, process, port);
    let sink = out.clone();
    let shared = Arc::clone(&job);
    let handle = std::thread::spawn(move || {
        execute_with(&config, shared, move |env| {
            let reader = TestReader {
                script: scripts[env.worker_index()],
                next: 0,
            };
            let strategy = WatermarkStrategy::monotonous(|t: &i64| t * 1000)
                .with_idleness(Duration::from_millis(100));
            env.source("test", reader, strategy)
                .key_by(|t| t % 2)
                .window(WindowAssigner::tumbling(Duration::from_secs(5)))
                .count()
                .map(|w| (w.key, w.window.start, w.value))
                .collect_into(&sink);
            Ok(())
        })
    });
    (job, handle)
}

/// Waits for a job thread, failing the test if it does not end within `limit`.
fn join_within(handle: JoinHandle<Result<JobReport>>, limit: Duration) -> Result<JobReport> {
    let started = Instant::now();
    while !handle.is_finished() {
        assert!(started.elapsed() < limit, "the process did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.join().unwrap()
}

#[test]
fn a_failure_in_one_process_stops_the_other_with_its_error() {
    let port = two_free_ports();
    let out = Collector::new();
    // Process 0 fails after 5 records; process 1 would run for ever on its own.
    let scripts = [Script::FailAfter(5), Script::IdleAfter(3)];
    let (_, p0) = start(port, 0, scripts, &out);
    let (_, p1) = start(port, 1, scripts, &out);
    let e0 = join_within(p0, Duration::from_secs(30)).unwrap_err();
    let e1 = join_within(p1, Duration::from_secs(30)).unwrap_err();
    assert!(e0.to_string().contains("test source broke"), "{e0}");
    let e1 = e1.to_string();
    assert!(
        e1.contains("process 0 of the job failed") && e1.contains("test source broke"),
        "{e1}"
    );
}

#[test]
fn an_idle_source_catches_up_with_a_busy_one_in_another_process() {
    let port = two_free_ports();
    let out = Collector::new();
    // Worker 0 (process 0) never emits; worker 1 (process 1) emits 20 s of records and then
    // idles. Windows can fire only if process 0's idle source adopts process 1's watermark.
    let scripts = [Script::IdleAfter(0), Script::IdleAfter(20)];
    let (j0, p0) = start(port, 0, scripts, &out);
    let (j1, p1) = start(port, 1, scripts, &out);
    let started = Instant::now();
    while out.values().len() < 6 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Counted before cancelling: at the end of input every window fires anyway.
    let fired_while_running = out.values().len();
    j0.cancel();
    j1.cancel();
    join_within(p0, Duration::from_secs(30)).unwrap();
    join_within(p1, Duration::from_secs(30)).unwrap();
    assert!(
        fired_while_running >= 6,
        "windows fired while running: {fired_while_running}"
    );
    // Records 0..20 at t = 0..19 s; the watermark reaches 19 s - 1 ms, so the windows
    // [0, 5), [5, 10), [10, 15) of both keys have fired, each with 5 records (odd and even
    // seconds alternate: 3 + 2 or 2 + 3).
    let fired: Vec<_> = out.sorted().into_iter().filter(|w| w.1 < 15_000).collect();
    assert_eq!(
        fired,
        vec![
            (0, 0, 3),
            (0, 5_000, 2),
            (0, 10_000, 3),
            (1, 0, 2),
            (1, 5_000, 3),
            (1, 10_000, 2),
        ]
    );
}

/// Takes every record and fails when its input ends, on the worker told to.
struct FailAtTheEnd {
    fail: bool,
}

impl riffle_runtime::Sink<u64> for FailAtTheEnd {
    fn write(&mut self, records: &mut Vec<(EventTime, u64)>) -> Result<()> {
        records.clear();
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.fail {
            true => Err(RiffleError::Runtime("the sink could not flush".to_string())),
            false => Ok(()),
        }
    }
}

#[test]
fn a_sink_failing_after_every_source_finished_stops_the_other_process_too() {
    let port = two_free_ports();
    let run = |process: usize| {
        let config = ExecutionConfig::local_cluster(1, 2, process, port);
        std::thread::spawn(move || {
            execute_with(&config, Arc::new(JobShared::default()), move |env| {
                let fail = env.worker_index() == 0;
                env.from_iter(0..1_000u64, WatermarkStrategy::none())
                    .key_by(|x| *x % 7)
                    .reduce(|a, b| a + b)
                    .sink("flush", FailAtTheEnd { fail });
                Ok(())
            })
        })
    };
    let (p0, p1) = (run(0), run(1));
    let e0 = join_within(p0, Duration::from_secs(30)).unwrap_err();
    let e1 = join_within(p1, Duration::from_secs(30))
        .unwrap_err()
        .to_string();
    assert!(e0.to_string().contains("the sink could not flush"), "{e0}");
    assert!(
        e1.contains("process 0 of the job failed") && e1.contains("the sink could not flush"),
        "{e1}"
    );
}

#[test]
fn a_panic_in_an_operator_ends_the_job_with_an_error_instead_of_hanging() {
    let out = Collector::new();
    let sink = out.clone();
    let handle = std::thread::spawn(move || {
        execute_with(
            &ExecutionConfig::threads(2),
            Arc::new(JobShared::default()),
            move |env| {
                // Worker 0 panics on its first record; worker 1's records cross to it by key.
                let worker = env.worker_index();
                env.from_iter(0..100_000u64, WatermarkStrategy::none())
                    .key_by(|x: &u64| x % 7)
                    .reduce(|a, b| a + b)
                    .map(move |x| {
                        assert!(worker != 0, "an operator bug");
                        x
                    })
                    .collect_into(&sink);
                Ok(())
            },
        )
    });
    let error = join_within(handle, Duration::from_secs(30)).unwrap_err();
    assert!(
        error.to_string().contains("panicked") && error.to_string().contains("an operator bug"),
        "{error}"
    );
}
