//! The monitoring scenario end to end on the runtime: its live summaries are the same on 1
//! and 4 workers, equal counts computed by a plain loop over the generated payments (the
//! per-region models trained in payment order), and show what the scenario promises: both
//! flaggers find most injected fraud, the classifier's recall drops at the drift and
//! recovers after it starts over.

use riffle_connectors::RowRng;
use riffle_examples::monitoring::{
    classifier, detector, features, payment, Counts, Monitoring, Summary,
};
use riffle_ml::online::operators::OnlineModel;
use riffle_runtime::{execute, Collector, ExecutionConfig};

fn run(config: Monitoring, workers: usize) -> Vec<Summary> {
    let out: Collector<Summary> = Collector::new();
    let sink = out.clone();
    execute(&ExecutionConfig::threads(workers), move |env| {
        riffle_examples::monitoring::summaries(env, &config).collect_into(&sink);
        Ok(())
    })
    .unwrap();
    let mut lines = out.values();
    lines.sort_by_key(|s| s.until_ms);
    lines
}

/// The totals by a loop: per region, in payment order, score then learn.
fn by_hand(config: &Monitoring) -> (u64, u64, [u64; 3], [u64; 3]) {
    let mut classifiers: Vec<_> = (0..8).map(|_| classifier()).collect();
    let mut detectors: Vec<_> = (0..8).map(|_| detector()).collect();
    let (mut payments, mut fraud) = (0, 0);
    let (mut c, mut d) = ([0u64; 3], [0u64; 3]);
    let mut x = Vec::new();
    for n in 0..config.events {
        let p = payment(
            n,
            &mut RowRng::new(config.seed, n),
            config.drift_at,
            config.fraud_rate,
        );
        features(&p, &mut x);
        let r = p.region as usize;
        let y = f64::from(u8::from(p.fraud));
        let probability = classifiers[r].score(&x);
        classifiers[r].learn(&x, y);
        let anomaly = detectors[r].score(&x);
        detectors[r].learn(&x, y);
        payments += 1;
        fraud += u64::from(p.fraud);
        for (counts, flagged) in [
            (&mut c, probability > config.probability_threshold),
            (&mut d, anomaly > config.anomaly_threshold),
        ] {
            match (flagged, p.fraud) {
                (true, true) => counts[0] += 1,
                (true, false) => counts[1] += 1,
                (false, true) => counts[2] += 1,
                _ => {}
            }
        }
    }
    (payments, fraud, c, d)
}

fn confusion(c: &riffle_examples::monitoring::Confusion) -> [u64; 3] {
    [c.true_positives, c.false_positives, c.false_negatives]
}

#[test]
fn summaries_are_the_same_on_1_and_4_workers_and_equal_a_plain_loop() {
    let config = Monitoring::new(200_000, 3);
    let one = run(config, 1);
    let four = run(config, 4);
    assert_eq!(one, four);
    assert_eq!(one.len(), 10);
    let last: &Counts = &one[9].total;
    let (payments, fraud, c, d) = by_hand(&config);
    assert_eq!(last.payments, payments);
    assert_eq!(last.fraud, fraud);
    assert_eq!(confusion(&last.classifier), c);
    assert_eq!(confusion(&last.detector), d);
    let period_sum: u64 = one.iter().map(|s| s.period.payments).sum();
    assert_eq!(period_sum, 200_000);
}

#[test]
fn both_flaggers_find_the_fraud_and_the_classifier_recovers_from_the_drift() {
    let config = Monitoring::new(400_000, 1);
    let lines = run(config, 2);
    let total = &lines[9].total;
    assert!(total.fraud > 3_500 && total.fraud < 4_500, "{total:?}");
    for (name, c) in [
        ("classifier", &total.classifier),
        ("detector", &total.detector),
    ] {
        assert!(c.precision() > 0.7, "{name}: {:?}", lines[9]);
        assert!(c.recall() > 0.75, "{name}: {:?}", lines[9]);
    }
    // Before the drift (periods 2-5), right after it (period 6), at the end (period 10).
    let before = lines[4].period.classifier.recall();
    let after = lines[5].period.classifier.recall();
    let end = lines[9].period.classifier.recall();
    assert!(before > 0.9, "{:?}", lines[4]);
    assert!(after < before - 0.2, "the drift must show: {:?}", lines[5]);
    assert!(end > 0.85, "recovered: {:?}", lines[9]);
}
