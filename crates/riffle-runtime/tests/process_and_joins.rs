//! Keyed process functions (state, timers) and the joins, against hand-computed results.

use std::time::Duration;

use riffle_runtime::{
    execute, Collector, Context, ExecutionConfig, KeyedCoProcessFunction, KeyedProcessFunction,
    ListState, MapState, Scripted, Timer, ValueState, WatermarkStrategy, WindowAssigner,
};
use Scripted::{Record as R, Watermark as W};

fn s(x: &str) -> String {
    x.to_string()
}

/// Alerts when an account makes 3 payments over 500 within 60 seconds.
struct LargePayments;

impl KeyedProcessFunction<String, (String, u64)> for LargePayments {
    type State = ListState<i64>;
    type Out = (String, i64);

    fn process_element(
        &mut self,
        payment: (String, u64),
        ctx: &mut Context<'_, String, ListState<i64>, (String, i64)>,
    ) {
        if payment.1 <= 500 {
            return;
        }
        let ts = ctx.timestamp();
        let recent = ctx.state();
        recent.retain(|t| ts - *t < 60_000);
        recent.add(ts);
        if recent.len() >= 3 {
            recent.clear();
            ctx.collect((payment.0, ts));
        }
        // Forget old payments once the watermark is a minute past this one.
        ctx.register_event_time_timer(ts + 60_000);
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut Context<'_, String, ListState<i64>, (String, i64)>,
    ) {
        ctx.state().retain(|t| timer.time - *t < 60_000);
        if ctx.state().is_empty() {
            ctx.clear_state();
        }
    }
}

#[test]
fn keyed_state_rule_with_timers() {
    for workers in [1, 2, 4] {
        let alerts = Collector::new();
        let sink = alerts.clone();
        execute(&ExecutionConfig::threads(workers), move |env| {
            env.scripted(vec![
                R(1_000, (s("acct1"), 900)),
                R(2_000, (s("acct2"), 900)),
                R(10_000, (s("acct1"), 100)), // small: ignored
                R(20_000, (s("acct1"), 700)),
                R(15_000, (s("acct1"), 600)), // out of order: third large within a minute
                R(30_000, (s("acct2"), 800)),
                W(100_000),
                R(110_000, (s("acct2"), 900)), // acct2's earlier payments are >60 s old
                R(120_000, (s("acct2"), 900)),
            ])
            .key_by(|p| p.0.clone())
            .process(LargePayments)
            .collect_into(&sink);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            alerts.sorted(),
            vec![(s("acct1"), 15_000)],
            "workers = {workers}"
        );
    }
}

/// Emits each key's count one second of event time after its last record.
struct CountAfterQuiet;

impl KeyedProcessFunction<String, String> for CountAfterQuiet {
    type State = (ValueState<u64>, ValueState<i64>);
    type Out = (String, u64, i64);

    fn process_element(
        &mut self,
        _v: String,
        ctx: &mut Context<'_, String, Self::State, Self::Out>,
    ) {
        let ts = ctx.timestamp();
        let (count, timer) = ctx.state();
        let previous = timer.value().copied();
        count.update(count.value().copied().unwrap_or(0) + 1);
        timer.update(ts + 1000);
        if let Some(t) = previous {
            ctx.delete_event_time_timer(t);
        }
        ctx.register_event_time_timer(ts + 1000);
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, String, Self::State, Self::Out>) {
        let n = ctx.state().0.value().copied().unwrap_or(0);
        let key = ctx.key().clone();
        ctx.collect((key, n, timer.time));
        ctx.clear_state();
    }
}

#[test]
fn event_time_timers_fire_on_the_watermark_and_can_be_deleted() {
    let out = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(2), move |env| {
        env.scripted(vec![
            R(100, s("a")),
            R(500, s("a")),
            R(200, s("b")),
            W(1_400), // b's timer (1200) fires; a's first timer (1100) was replaced by 1500
            R(1_450, s("a")),
            W(5_000),
            R(6_000, s("a")),
        ])
        .key_by(|k| k.clone())
        .process(CountAfterQuiet)
        .with_event_time()
        .collect_into(&sink);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        out.sorted(),
        vec![
            (1_200, (s("b"), 1, 1_200)),
            (2_450, (s("a"), 3, 2_450)),
            (7_000, (s("a"), 1, 7_000)),
        ]
    );
}

/// A control stream switches words on and off (Flink's connected-streams example).
struct Switch;

impl KeyedCoProcessFunction<String, String, (String, bool)> for Switch {
    type State = (ValueState<bool>, MapState<String, u64>);
    type Out = String;

    fn process_left(&mut self, word: String, ctx: &mut Context<'_, String, Self::State, String>) {
        let (enabled, seen) = ctx.state();
        let n = seen.get(&word).copied().unwrap_or(0) + 1;
        seen.put(word.clone(), n);
        if enabled.value().copied().unwrap_or(false) {
            ctx.collect(format!("{word}#{n}"));
        }
    }

    fn process_right(
        &mut self,
        control: (String, bool),
        ctx: &mut Context<'_, String, Self::State, String>,
    ) {
        ctx.state().0.update(control.1);
    }
}

#[test]
fn connected_streams_share_keyed_state() {
    let out = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(2), move |env| {
        // Watermarks order the two inputs: x@10 | on | y@30, x@40 | off | x@60.
        let words = env.scripted(vec![
            R(10, s("x")),
            W(25),
            R(30, s("y")),
            R(40, s("x")),
            W(55),
            R(60, s("x")),
        ]);
        let control = env.scripted(vec![
            W(15),
            R(20, (s("x"), true)),
            W(45),
            R(50, (s("x"), false)),
        ]);
        words
            .connect(control)
            .key_by(|w| w.clone(), |c| c.0.clone())
            .process(Switch)
            .collect_into(&sink);
        Ok(())
    })
    .unwrap();
    assert_eq!(out.sorted(), vec![s("x#2")]);
}

#[test]
fn window_join_pairs_records_of_the_same_key_and_window() {
    for workers in [1, 2, 4] {
        let out = Collector::new();
        let sink = out.clone();
        execute(&ExecutionConfig::threads(workers), move |env| {
            let orders = env.scripted(vec![
                R(1_000, (1u32, s("o1"))),
                R(3_000, (2, s("o2"))),
                R(6_000, (1, s("o3"))),
            ]);
            let payments = env.scripted(vec![
                R(4_000, (1u32, 10u64)),
                R(2_000, (1, 20)),
                R(5_500, (1, 30)),
                R(4_999, (2, 40)),
            ]);
            orders
                .window_join(
                    payments,
                    |o| o.0,
                    |p| p.0,
                    WindowAssigner::tumbling(Duration::from_secs(5)),
                )
                .apply(|k, o, p| (*k, o.1.clone(), p.1))
                .with_event_time()
                .collect_into(&sink);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            out.sorted(),
            vec![
                (4_999, (1, s("o1"), 10)),
                (4_999, (1, s("o1"), 20)),
                (4_999, (2, s("o2"), 40)),
                (9_999, (1, s("o3"), 30)),
            ],
            "workers = {workers}"
        );
    }
}

#[test]
fn interval_join_matches_within_bounds_and_drops_late_records() {
    for workers in [1, 2] {
        let out = Collector::new();
        let sink = out.clone();
        let report = execute(&ExecutionConfig::threads(workers), move |env| {
            let clicks = env.scripted(vec![
                R(1_000, (s("u1"), s("c1"))),
                R(5_000, (s("u1"), s("c2"))),
                W(8_000),
                R(7_000, (s("u1"), s("late"))), // below the watermark: dropped
            ]);
            let views = env.scripted(vec![
                R(2_500, (s("u1"), s("v1"))), // within [1000-1000, 1000+2000]? 2500 > 3000? no: 2500 <= 3000 yes
                R(4_500, (s("u1"), s("v2"))), // c2: [4000, 7000] yes; c1: no
                R(500, (s("u2"), s("v3"))),   // other key
            ]);
            clicks
                .key_by(|c| c.0.clone())
                .interval_join(views.key_by(|v| v.0.clone()), -1_000, 2_000)
                .process(|k, c, v| (k.clone(), c.1.clone(), v.1.clone()))
                .with_event_time()
                .collect_into(&sink);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            out.sorted(),
            vec![
                (2_500, (s("u1"), s("c1"), s("v1"))),
                (5_000, (s("u1"), s("c2"), s("v2"))),
            ],
            "workers = {workers}"
        );
        assert_eq!(report.counter("join.late_records_dropped"), 1);
    }
}

#[test]
fn regular_join_emits_every_pair_whatever_the_arrival_order() {
    let out = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(4), move |env| {
        let users = env.from_iter(
            vec![(1u32, s("ann")), (2, s("bob"))],
            riffle_runtime::WatermarkStrategy::none(),
        );
        let orders = env.from_iter(
            vec![(1u32, 10u64), (1, 11), (3, 12), (2, 13)],
            riffle_runtime::WatermarkStrategy::none(),
        );
        users
            .key_by(|u| u.0)
            .join(orders.key_by(|o| o.0))
            .apply(|k, u, o| (*k, u.1.clone(), o.1))
            .collect_into(&sink);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        out.sorted(),
        vec![(1, s("ann"), 10), (1, s("ann"), 11), (2, s("bob"), 13)]
    );
}

/// Emits one record, then stays idle until `seen` is set (or 10 s pass), then ends.
struct OneThenWait {
    sent: bool,
    seen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    started: std::time::Instant,
}

impl riffle_runtime::SourceReader<u64> for OneThenWait {
    fn poll(&mut self, out: &mut Vec<u64>) -> riffle_core::Result<riffle_runtime::SourceStatus> {
        use riffle_runtime::SourceStatus;
        if !self.sent {
            self.sent = true;
            out.push(7);
            return Ok(SourceStatus::Ready);
        }
        let seen = self.seen.load(std::sync::atomic::Ordering::SeqCst);
        if seen || self.started.elapsed() > Duration::from_secs(10) {
            Ok(SourceStatus::Finished)
        } else {
            Ok(SourceStatus::Idle)
        }
    }
}

#[test]
fn keyed_operators_apply_records_of_a_source_without_event_time_as_they_come() {
    // A keyed reduce behind a source without watermarks must not wait for the source to end:
    // the source only ends once the reduce's output has been seen.
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&seen);
    let started = std::time::Instant::now();
    let out = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(2), move |env| {
        let reader = OneThenWait {
            sent: env.worker_index() != 0,
            seen: std::sync::Arc::clone(&flag),
            started,
        };
        let flag = std::sync::Arc::clone(&flag);
        env.source("one", reader, WatermarkStrategy::none())
            .key_by(|x: &u64| *x)
            .reduce(|a, b| a + b)
            .map(move |x| {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                x
            })
            .collect_into(&sink);
        Ok(())
    })
    .unwrap();
    assert_eq!(out.values(), vec![7]);
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the reduce waited for the end of the source: {:?}",
        started.elapsed()
    );
}

#[test]
fn global_gathers_every_record_on_the_first_worker() {
    for workers in [1, 3] {
        let out = Collector::new();
        let sink = out.clone();
        execute(&ExecutionConfig::threads(workers), move |env| {
            let worker = env.worker_index();
            env.from_iter(0..300u32, WatermarkStrategy::none())
                .rebalance()
                .map(move |x| (x, worker))
                .global()
                .map(move |(x, before)| (x, before, worker))
                .collect_into(&sink);
            Ok(())
        })
        .unwrap();
        let rows: Vec<(u32, usize, usize)> = out.sorted();
        assert_eq!(rows.len(), 300);
        assert!(
            rows.iter().all(|r| r.2 == 0),
            "a record stayed off worker 0"
        );
        let spread = rows
            .iter()
            .map(|r| r.1)
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(
            spread.len(),
            workers,
            "rebalance should have spread the records"
        );
        assert_eq!(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            (0..300).collect::<Vec<_>>()
        );
    }
}
