//! The online-learning operators on the runtime: per-key learning in event-time order gives
//! the same models, scores and metrics as a plain loop over each key's records, for 1 and 4
//! workers (records are shuffled across workers before keying, so arrival order differs);
//! `predict` scores every record exactly once while model versions are swapped in.

use std::collections::BTreeMap;
use std::time::Duration;

use riffle_ml::online::operators::{
    learn, predict, progressive_evaluate, test_then_train, Evaluation, Extract, Metric,
    ModelVersion, OnlineModel, Scaled, Scored,
};
use riffle_ml::online::preprocessing::OnlineStandardScaler;
use riffle_ml::online::{streams, OnlineLogisticRegression, Optimizer};
use riffle_runtime::{execute, Collector, ExecutionConfig, WatermarkStrategy};
use serde::{Deserialize, Serialize};

/// A labelled event of one of four keys, one millisecond apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Event {
    id: u64,
    key: u8,
    at: i64,
    x: Vec<f64>,
    y: f64,
}

fn events(n: usize) -> Vec<Event> {
    let s = streams::sea(n, 0.1, 31);
    s.x.row_iter()
        .zip(&s.y)
        .enumerate()
        .map(|(i, (row, y))| Event {
            id: i as u64,
            key: (i % 4) as u8,
            at: 1_000_000 + i as i64,
            x: row.to_vec(),
            y: *y,
        })
        .collect()
}

type Model = Scaled<OnlineStandardScaler, OnlineLogisticRegression>;

fn model() -> Model {
    Scaled {
        scaler: OnlineStandardScaler::default(),
        model: OnlineLogisticRegression::with_optimizer(Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 }),
    }
}

fn extract() -> Extract<Event> {
    Extract::new(
        |e: &Event, out: &mut Vec<f64>| {
            out.clear();
            out.extend_from_slice(&e.x);
        },
        |e: &Event| e.y,
    )
}

/// Out of order by up to 50 ms; the watermark allows 100.
fn shuffled(n: usize) -> Vec<Event> {
    let mut all = events(n);
    for chunk in all.chunks_mut(50) {
        chunk.reverse();
    }
    all
}

fn strategy() -> WatermarkStrategy<Event> {
    WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(100), |e: &Event| e.at)
}

/// Per key, in event-time order: (score before learning, records learned before) and the
/// model after every 500 records — the loop the operators must equal.
#[allow(clippy::type_complexity)]
fn by_hand(all: &[Event]) -> (BTreeMap<u64, (f64, u64)>, Vec<(u8, u64, Model)>) {
    let mut scores = BTreeMap::new();
    let mut versions = Vec::new();
    for key in 0..4u8 {
        let mut m = model();
        let mut mine: Vec<&Event> = all.iter().filter(|e| e.key == key).collect();
        mine.sort_by_key(|e| e.at);
        for (i, e) in mine.iter().enumerate() {
            scores.insert(e.id, (m.score(&e.x), i as u64));
            m.learn(&e.x, e.y);
            if (i + 1) % 500 == 0 {
                versions.push((key, ((i + 1) / 500) as u64, m.clone()));
            }
        }
    }
    (scores, versions)
}

#[test]
fn learning_and_test_then_train_equal_the_loop_per_key_on_1_and_4_workers() {
    let n = 8_000;
    let (expected_scores, expected_versions) = by_hand(&events(n));
    for workers in [1, 4] {
        let scored: Collector<Scored<Event>> = Collector::new();
        let versions: Collector<ModelVersion<u8, Model>> = Collector::new();
        let (s, v) = (scored.clone(), versions.clone());
        execute(&ExecutionConfig::threads(workers), move |env| {
            let input = env.from_iter(shuffled(n), strategy()).rebalance();
            test_then_train(input.clone().key_by(|e: &Event| e.key), model(), extract())
                .collect_into(&s);
            learn(input.key_by(|e: &Event| e.key), model(), extract(), 500).collect_into(&v);
            Ok(())
        })
        .unwrap();
        let got: BTreeMap<u64, (f64, u64)> = scored
            .values()
            .into_iter()
            .map(|s| (s.record.id, (s.score, s.version)))
            .collect();
        assert_eq!(got.len(), n, "{workers} workers: every record scored once");
        assert_eq!(got, expected_scores, "{workers} workers");
        let mut got_versions: Vec<(u8, u64, Model)> = versions
            .values()
            .into_iter()
            .map(|v| (v.key, v.version, v.model))
            .collect();
        got_versions.sort_by_key(|(k, v, _)| (*k, *v));
        assert_eq!(got_versions.len(), 16);
        assert_eq!(got_versions, expected_versions, "{workers} workers");
    }
}

#[test]
fn progressive_evaluation_reports_window_accuracy_beside_the_majority_baseline() {
    let n = 8_000;
    let (expected_scores, _) = by_hand(&events(n));
    let all = events(n);
    // Independently: the last 1,000 records of key 0, scored before learning.
    let key0: Vec<&Event> = all.iter().filter(|e| e.key == 0).collect();
    let tail = &key0[key0.len() - 1000..];
    let accuracy = tail
        .iter()
        .filter(|e| f64::from(expected_scores[&e.id].0 > 0.5) == e.y)
        .count() as f64
        / 1000.0;
    for workers in [1, 4] {
        let out: Collector<Evaluation<u8>> = Collector::new();
        let o = out.clone();
        execute(&ExecutionConfig::threads(workers), move |env| {
            let input = env.from_iter(shuffled(n), strategy()).rebalance();
            progressive_evaluate(
                input.key_by(|e: &Event| e.key),
                model(),
                extract(),
                Metric::Accuracy,
                1000,
                500,
            )
            .collect_into(&o);
            Ok(())
        })
        .unwrap();
        let reports = out.values();
        assert_eq!(reports.len(), 16, "{workers} workers: 4 keys x 2000/500");
        let last = reports
            .iter()
            .find(|e| e.key == 0 && e.records == 2000)
            .unwrap();
        assert_eq!(last.window, 1000);
        assert!(
            (last.metric - accuracy).abs() < 1e-12,
            "{last:?} vs {accuracy}"
        );
        assert!(last.metric > last.baseline + 0.1, "{last:?}");
    }
}

#[test]
fn predict_scores_every_record_once_with_the_version_it_names_while_versions_swap_in() {
    let n = 20_000;
    for workers in [1, 3] {
        let scored: Collector<Scored<Event>> = Collector::new();
        let versions: Collector<ModelVersion<u8, Model>> = Collector::new();
        let (s, v) = (scored.clone(), versions.clone());
        execute(&ExecutionConfig::threads(workers), move |env| {
            let input = env.from_iter(events(n), strategy());
            let models = learn(
                input.clone().key_by(|e: &Event| e.key),
                model(),
                extract(),
                250,
            );
            models.clone().collect_into(&v);
            predict(
                input.rebalance(),
                |e: &Event| e.key,
                models,
                model(),
                extract(),
            )
            .collect_into(&s);
            Ok(())
        })
        .unwrap();
        let scored = scored.values();
        let mut ids: Vec<u64> = scored.iter().map(|s| s.record.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..n as u64).collect::<Vec<_>>(), "{workers} workers");
        let models: BTreeMap<(u8, u64), Model> = versions
            .values()
            .into_iter()
            .map(|v| ((v.key, v.version), v.model))
            .collect();
        assert_eq!(models.len(), 4 * (n / 4 / 250));
        let mut swapped = 0;
        for s in &scored {
            let expected = if s.version == 0 {
                model().score(&s.record.x)
            } else {
                models[&(s.record.key, s.version)].score(&s.record.x)
            };
            assert_eq!(s.score, expected, "{workers} workers: {s:?}");
            swapped += usize::from(s.version > 0);
        }
        assert!(
            swapped > n / 2,
            "{workers} workers: only {swapped} records saw a learned model"
        );
    }
}
