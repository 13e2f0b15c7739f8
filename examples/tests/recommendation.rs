//! The recommendation scenario end to end: what is served for each click is the same on 1
//! and 3 workers and equals a loop over the generated clicks; both learned models beat
//! popularity clearly once they have seen some clicks.

use riffle_connectors::RowRng;
use riffle_examples::recommendation::{click, served, Models, Served};
use riffle_runtime::{execute, Collector, ExecutionConfig};

const EVENTS: u64 = 30_000;

fn run(workers: usize) -> Vec<Served> {
    let out: Collector<Served> = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(workers), move |env| {
        served(env, EVENTS, 2, None).collect_into(&sink);
        Ok(())
    })
    .unwrap();
    let mut all = out.values();
    all.sort_by_key(|s| s.click.at);
    all
}

#[test]
fn served_lists_are_the_same_on_1_and_3_workers_equal_a_loop_and_beat_popularity() {
    let one = run(1);
    assert_eq!(one, run(3));
    let mut models = Models::default();
    let expected: Vec<Served> = (0..EVENTS)
        .map(|n| models.serve_then_learn(click(n, &mut RowRng::new(2, n))))
        .collect();
    assert_eq!(one, expected);
    assert!(one.iter().all(|s| s.top10.len() <= 10));
    let later = &one[EVENTS as usize / 2..];
    let rate = |m: usize| later.iter().filter(|s| s.hits[m]).count() as f64 / later.len() as f64;
    let (mf, swing, popular) = (rate(0), rate(1), rate(2));
    assert!(mf > 2.0 * popular && mf > 0.25, "mf {mf} popular {popular}");
    assert!(
        swing > 2.0 * popular && swing > 0.3,
        "swing {swing} popular {popular}"
    );
}
