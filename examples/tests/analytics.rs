//! The analytics scenario end to end: window totals per store feed an online regression
//! that forecasts the next window. The forecasts are the same on 1 and 4 workers, equal a
//! loop over window totals computed here from the generator, and beat the no-change forecast.

use std::collections::BTreeMap;

use riffle_connectors::RowRng;
use riffle_examples::analytics::{
    forecasts, sale, Forecast, Forecaster, ForecasterState, WINDOW_MS,
};
use riffle_runtime::{execute, Collector, ExecutionConfig};

const EVENTS: u64 = 1_200_000;

fn run(workers: usize) -> Vec<Forecast> {
    let out: Collector<Forecast> = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(workers), move |env| {
        forecasts(env, EVENTS, 4, None).collect_into(&sink);
        Ok(())
    })
    .unwrap();
    let mut all = out.values();
    all.sort_by_key(|f| (f.store, f.window_end));
    all
}

fn by_hand() -> Vec<Forecast> {
    let mut totals: BTreeMap<(u8, i64), u64> = BTreeMap::new();
    for n in 0..EVENTS {
        let s = sale(n, &mut RowRng::new(4, n));
        let end = (s.at / WINDOW_MS + 1) * WINDOW_MS;
        *totals.entry((s.store, end)).or_default() += s.cents;
    }
    let mut states: BTreeMap<u8, ForecasterState> = BTreeMap::new();
    let mut out = Vec::new();
    for ((store, end), total) in totals {
        let state = states.entry(store).or_default();
        out.extend(Forecaster::step(state, store, end, total as f64));
    }
    out
}

#[test]
fn forecasts_are_the_same_on_1_and_4_workers_equal_a_loop_and_beat_no_change() {
    let one = run(1);
    let four = run(4);
    assert_eq!(one, four);
    let expected = by_hand();
    assert_eq!(one.len(), expected.len());
    assert_eq!(one, expected);
    // 1,200 s of sales: 120 windows per store, the first 3 without a forecast.
    assert_eq!(one.len(), 8 * (120 - 3));
    let mae = |f: &dyn Fn(&Forecast) -> f64| one.iter().map(f).sum::<f64>() / one.len() as f64;
    let model = mae(&|f| (f.forecast - f.actual).abs());
    let no_change = mae(&|f| (f.no_change - f.actual).abs());
    assert!(
        model < 0.8 * no_change,
        "model {model} vs no-change {no_change}"
    );
}
