//! Models that learn from a stream, from SQL: a `CREATE MODEL` over an unbounded socket
//! table keeps learning and publishes versions to the catalog while it runs, and a scoring
//! job that is already running takes each new version (hot swap) without a restart.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use riffle_sql::Session;

/// Rows learned by the newest published version of `model`, 0 before the first.
fn published_rows(catalog: &Path, model: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string(catalog.join(model).join("card.json")) else {
        return 0;
    };
    let card: serde_json::Value = serde_json::from_str(&text).unwrap();
    card["trained_rows"].as_u64().unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Rows `a,label` with `a` spread over [0, 1) and the label 1 where `a > 0.5` (or, flipped,
/// where `a < 0.5`).
fn labelled(from: usize, n: usize, flipped: bool) -> String {
    (from..from + n)
        .map(|i| {
            let a = (i * 37 % 100) as f64 / 100.0;
            let label = u8::from((a > 0.5) != flipped);
            format!("{a},{label}\n")
        })
        .collect()
}

/// Runs `script` in a new session on another thread.
fn run_in_background(script: String) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        Session::new()
            .unwrap()
            .run_script(&script, |_, _| Ok(()))
            .unwrap()
    })
}

fn accept(listener: &TcpListener) -> TcpStream {
    listener.accept().unwrap().0
}

#[test]
fn a_model_learning_from_a_socket_publishes_versions_and_a_running_scoring_job_swaps_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let out = dir.path().join("scored");
    let training = TcpListener::bind("127.0.0.1:0").unwrap();
    let scoring = TcpListener::bind("127.0.0.1:0").unwrap();
    let settings = format!(
        "SET 'ml.model-catalog' = '{}'; SET 'execution.runtime-mode' = 'streaming';",
        catalog.display()
    );
    let learner = run_in_background(format!(
        "{settings}
         CREATE TABLE train (a DOUBLE, label INT) WITH ('connector' = 'socket',
             'hostname' = '127.0.0.1', 'port' = '{}', 'format' = 'csv');
         CREATE MODEL m WITH ('algorithm' = 'online-logistic-regression', 'label' = 'label',
             'optimizer' = 'adagrad', 'learning_rate' = '0.5',
             'model.publish-interval' = '50 ms')
         AS SELECT a, label FROM train;",
        training.local_addr().unwrap().port()
    ));
    let mut train = accept(&training);
    train
        .write_all(labelled(0, 2_000, false).as_bytes())
        .unwrap();
    train.flush().unwrap();
    // The job is still running (the socket is open) and has published what it learned.
    wait_for("the first 2000 rows published", || {
        published_rows(&catalog, "m") == 2_000
    });

    let scorer = run_in_background(format!(
        "{settings}
         CREATE TABLE queries (n INT, a DOUBLE) WITH ('connector' = 'socket',
             'hostname' = '127.0.0.1', 'port' = '{}', 'format' = 'csv');
         CREATE TABLE scored (n INT, prediction DOUBLE) WITH ('connector' = 'filesystem',
             'path' = '{}', 'format' = 'csv');
         INSERT INTO scored SELECT n, ML_PREDICT('m', a) FROM queries;",
        scoring.local_addr().unwrap().port(),
        out.display()
    ));
    let mut queries = accept(&scoring);
    queries.write_all(b"0,0.9\n1,0.1\n").unwrap();
    queries.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));

    // The concept flips; the learner keeps learning and publishes the flipped model.
    train
        .write_all(labelled(2_000, 4_000, true).as_bytes())
        .unwrap();
    train.flush().unwrap();
    wait_for("all 6000 rows published", || {
        published_rows(&catalog, "m") == 6_000
    });
    std::thread::sleep(Duration::from_millis(500));
    queries.write_all(b"2,0.9\n3,0.1\n").unwrap();
    queries.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(queries);
    scorer.join().unwrap();
    drop(train);
    learner.join().unwrap();

    let mut lines: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("part-"))
        .flat_map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            text.lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    // Before the flip the running job scored with the first version, after it with the
    // flipped one: the same job, no restart.
    assert_eq!(lines, ["0,1.0", "1,0.0", "2,0.0", "3,1.0"]);
    assert_eq!(published_rows(&catalog, "m"), 6_000);
}
