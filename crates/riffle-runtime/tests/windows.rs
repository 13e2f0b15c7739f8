//! Window operators against hand-computed results, with out-of-order and late records.

use std::time::Duration;

use riffle_runtime::{
    execute, Collector, ExecutionConfig, Scripted, Window, WindowAssigner, Windowed,
};
use Scripted::{Record as R, Watermark as W};

type Out = (String, i64, i64, u64);

fn w(start: i64, end: i64) -> Window {
    Window { start, end }
}

fn out(key: &str, start: i64, end: i64, n: u64) -> Out {
    (key.to_string(), start, end, n)
}

/// Runs `script` keyed by its string through windows of `assigner`, counting; returns the
/// sorted results, the late records, and the late-drop counter.
fn run_counts(
    script: Vec<Scripted<&'static str>>,
    assigner: WindowAssigner,
    lateness: Duration,
    workers: usize,
) -> (Vec<Out>, Vec<(i64, String)>, u64) {
    let script: Vec<Scripted<String>> = script
        .into_iter()
        .map(|step| match step {
            R(ts, k) => R(ts, k.to_string()),
            W(wm) => W(wm),
        })
        .collect();
    let results = Collector::new();
    let late = Collector::new();
    let (r, l) = (results.clone(), late.clone());
    let report = execute(&ExecutionConfig::threads(workers), move |env| {
        let (counts, late_records) = env
            .scripted(script.clone())
            .with_event_time()
            .key_by(|(_, k)| k.clone())
            .window(assigner)
            .allowed_lateness(lateness)
            .aggregate_with_late(riffle_runtime::Count);
        counts
            .map(|c: Windowed<String, u64>| (c.key, c.window.start, c.window.end, c.value))
            .collect_into(&r);
        late_records.collect_into(&l);
        Ok(())
    })
    .unwrap();
    (
        results.sorted(),
        late.sorted(),
        report.counter("window.late_records_dropped"),
    )
}

#[test]
fn tumbling_counts_with_out_of_order_and_late_records() {
    let script = vec![
        R(1000, "a"),
        R(3000, "b"),
        R(2000, "a"), // out of order, on time
        W(4000),
        R(4500, "a"),
        R(6000, "a"),
        W(5500),      // fires [0, 5000)
        R(4999, "b"), // late: its window's last ms 4999 <= 5500
        R(7000, "b"),
        W(10_000),    // fires [5000, 10000)
        R(9000, "a"), // late
        R(12_000, "a"),
    ];
    for workers in [1, 2, 4] {
        let (results, late, dropped) = run_counts(
            script.clone(),
            WindowAssigner::tumbling(Duration::from_secs(5)),
            Duration::ZERO,
            workers,
        );
        assert_eq!(
            results,
            vec![
                out("a", 0, 5000, 3),
                out("a", 5000, 10_000, 1),
                out("a", 10_000, 15_000, 1),
                out("b", 0, 5000, 1),
                out("b", 5000, 10_000, 1),
            ],
            "workers = {workers}"
        );
        assert_eq!(late, vec![(4999, "b".to_string()), (9000, "a".to_string())]);
        assert_eq!(dropped, 2);
    }
}

#[test]
fn sliding_windows_count_each_record_in_every_window() {
    let script = vec![R(1000, "a"), R(7000, "a"), R(12_000, "a"), R(7500, "b")];
    let (results, late, _) = run_counts(
        script,
        WindowAssigner::sliding(Duration::from_secs(10), Duration::from_secs(5)),
        Duration::ZERO,
        2,
    );
    assert_eq!(
        results,
        vec![
            out("a", -5000, 5000, 1),
            out("a", 0, 10_000, 2),
            out("a", 5000, 15_000, 2),
            out("a", 10_000, 20_000, 1),
            out("b", 0, 10_000, 1),
            out("b", 5000, 15_000, 1),
        ]
    );
    assert!(late.is_empty());
}

#[test]
fn session_windows_merge_out_of_order_records() {
    let script = vec![
        R(1000, "a"),
        R(2000, "a"),
        R(4500, "a"), // [1000,4000) + [2000,5000) + [4500,7500) -> [1000,7500)
        R(1000, "b"),
        R(10_000, "a"), // new session [10000,13000)
        R(8000, "a"),   // [8000,11000) merges with it -> [8000,13000)
        W(7000),
        R(7400, "a"), // on time: 7400 > 7000; extends [1000,7500) to [1000,10400) which meets [8000,13000)
    ];
    let (results, late, _) = run_counts(
        script,
        WindowAssigner::session(Duration::from_secs(3)),
        Duration::ZERO,
        2,
    );
    assert_eq!(
        results,
        vec![out("a", 1000, 13_000, 6), out("b", 1000, 4000, 1)]
    );
    assert!(late.is_empty());
}

#[test]
fn sessions_close_when_the_watermark_passes_the_gap() {
    let script = vec![
        R(1000, "a"),
        R(2000, "a"),
        W(6000),      // [1000,5000) fires
        R(5500, "a"), // a new session, not merged: the first one has fired
        R(4000, "a"), // late: [4000,7000) ends at 6999 > 6000 -> on time, and merges with 5500's
    ];
    let (results, _, dropped) = run_counts(
        script,
        WindowAssigner::session(Duration::from_secs(3)),
        Duration::ZERO,
        1,
    );
    assert_eq!(
        results,
        vec![out("a", 1000, 5000, 2), out("a", 4000, 8500, 2)]
    );
    assert_eq!(dropped, 0);
}

#[test]
fn allowed_lateness_refires_and_then_drops() {
    let script = vec![
        R(1000, "a"),
        W(5000),      // fires [0,5000) with 1
        R(2000, "a"), // 4999 + 2000 > 5000: within lateness, fires again with 2
        W(7000),
        R(3000, "a"), // 4999 + 2000 <= 7000: dropped
    ];
    let (results, late, dropped) = run_counts(
        script,
        WindowAssigner::tumbling(Duration::from_secs(5)),
        Duration::from_secs(2),
        1,
    );
    assert_eq!(results, vec![out("a", 0, 5000, 1), out("a", 0, 5000, 2)]);
    assert_eq!(late, vec![(3000, "a".to_string())]);
    assert_eq!(dropped, 1);
}

#[test]
fn window_reduce_and_process_functions() {
    let sums = Collector::new();
    let lists = Collector::new();
    let (s, l) = (sums.clone(), lists.clone());
    execute(&ExecutionConfig::threads(2), move |env| {
        let x = || "x".to_string();
        let input = env.scripted(vec![
            R(100, (x(), 5)),
            R(200, (x(), 7)),
            R(1100, (x(), 1)),
            R(300, ("y".to_string(), 2)),
        ]);
        let windows = input
            .key_by(|(k, _)| k.clone())
            .window(WindowAssigner::tumbling(Duration::from_secs(1)));
        windows
            .reduce(|a, b| (a.0, a.1 + b.1))
            .map(|r| (r.key, r.window.start, r.value.1))
            .collect_into(&s);
        env.scripted(vec![R(100, (x(), 5)), R(200, (x(), 7))])
            .key_by(|(k, _)| k.clone())
            .window(WindowAssigner::tumbling(Duration::from_secs(1)))
            .process(|key, window, mut items| {
                items.sort();
                let values: Vec<i32> = items.iter().map(|(_, v)| *v).collect();
                Some(format!("{key}@{}:{values:?}", window.start))
            })
            .collect_into(&l);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        sums.sorted(),
        vec![
            ("x".to_string(), 0, 12),
            ("x".to_string(), 1000, 1),
            ("y".to_string(), 0, 2)
        ]
    );
    assert_eq!(lists.sorted(), vec!["x@0:[5, 7]".to_string()]);
}

#[test]
fn assigners_match_flink_alignment() {
    let tumbling = WindowAssigner::tumbling(Duration::from_secs(5));
    assert_eq!(tumbling.assign(-1), vec![w(-5000, 0)]);
    assert_eq!(tumbling.assign(5000), vec![w(5000, 10_000)]);
    let offset = tumbling.with_offset(Duration::from_secs(1));
    assert_eq!(offset.assign(500), vec![w(-4000, 1000)]);
    let sliding = WindowAssigner::sliding(Duration::from_secs(3), Duration::from_secs(1));
    assert_eq!(
        sliding.assign(2500),
        vec![w(2000, 5000), w(1000, 4000), w(0, 3000)]
    );
}

#[test]
fn count_windows_tumble_and_slide_per_key() {
    let tumbling = Collector::new();
    let sliding = Collector::new();
    let rolling = Collector::new();
    let (t, s, r) = (tumbling.clone(), sliding.clone(), rolling.clone());
    execute(&ExecutionConfig::threads(2), move |env| {
        let input = || {
            env.scripted(
                (1..=7)
                    .map(|i| R(i * 10, ("k".to_string(), i)))
                    .chain([R(5, ("j".to_string(), 100))])
                    .collect(),
            )
        };
        input()
            .key_by(|(k, _)| k.clone())
            .count_window(3)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .map(|w| (w.key, w.window.start, w.window.end, w.value.1))
            .collect_into(&t);
        input()
            .key_by(|(k, _)| k.clone())
            .count_window_sliding(3, 2)
            .aggregate(riffle_runtime::Count)
            .map(|w| (w.key, w.window.start, w.window.end, w.value))
            .collect_into(&s);
        input()
            .key_by(|(k, _)| k.clone())
            .aggregate(riffle_runtime::Count)
            .collect_into(&r);
        Ok(())
    })
    .unwrap();
    // k's values 1..=7: windows [0,3) = 1+2+3 and [3,6) = 4+5+6; the 7th waits; j has one.
    assert_eq!(
        tumbling.sorted(),
        vec![("k".to_string(), 0, 3, 6), ("k".to_string(), 3, 6, 15)]
    );
    // Every 2 records, the last (up to) 3: after 2, 4 and 6 records.
    assert_eq!(
        sliding.sorted(),
        vec![
            ("k".to_string(), 0, 2, 2),
            ("k".to_string(), 1, 4, 3),
            ("k".to_string(), 3, 6, 3)
        ]
    );
    // A rolling count emits each key's count after every record.
    let mut expected = vec![("j".to_string(), 1u64)];
    expected.extend((1..=7).map(|n| ("k".to_string(), n)));
    assert_eq!(rolling.sorted(), expected);
}
