//! Real-time monitoring with online learning: a generated card-payment stream with injected
//! fraud (the truth is known) and a concept drift half-way, when normal spending rises by
//! half and the fraudsters switch from large night-time payments far from home to tiny
//! "card testing" payments. Per region, in event-time order:
//!
//! - an online classifier (standard scaler + logistic regression with AdaGrad, watched by
//!   ADWIN on its errors and started over when its error rises) scores each payment, then
//!   learns its label (test-then-train: labels arrive after the score is used);
//! - an unsupervised anomaly detector (min-max scaler + half-space trees) scores each
//!   payment, then learns it;
//!
//! and a live summary, every `summary_every` payments of event time, gives both flaggers'
//! precision and recall against the injected truth, over the last period and in all.
//! The same job runs on any number of workers with the same output.

use std::collections::BTreeMap;
use std::fmt;

use riffle_connectors::RowRng;
use riffle_core::Result;
use riffle_ml::online::anomaly::HalfSpaceTrees;
use riffle_ml::online::drift::Adwin;
use riffle_ml::online::operators::{test_then_train, DriftReset, Extract, Scaled};
use riffle_ml::online::preprocessing::{OnlineMinMaxScaler, OnlineStandardScaler};
use riffle_ml::online::{OnlineLogisticRegression, Optimizer};
use riffle_runtime::{Context, Env, KeyedProcessFunction, Timer};
use serde::{Deserialize, Serialize};

use crate::Output;

/// A card payment, with the generator's truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// Row number of the generator.
    pub id: u64,
    /// Region of the merchant (the models are per region).
    pub region: u8,
    /// Event time, ms.
    pub at: i64,
    /// Amount.
    pub amount: f64,
    /// Local hour of day, [0, 24).
    pub hour: f64,
    /// Distance from the card holder's home, km.
    pub distance: f64,
    /// The merchant's risk rating, [0, 1].
    pub risk: f64,
    /// Paid abroad.
    pub foreign: bool,
    /// Injected fraud: the truth the flags are scored against.
    pub fraud: bool,
}

/// A payment with what the two flaggers made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The payment.
    pub payment: Payment,
    /// The classifier's probability of fraud, before it learned this payment.
    pub fraud_probability: f64,
    /// The detector's anomaly score, before it learned this payment.
    pub anomaly: f64,
}

/// The scenario's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Monitoring {
    /// Payments to generate.
    pub events: u64,
    /// Payments per second in all; unlimited if `None`.
    pub rate: Option<u64>,
    /// Generator seed.
    pub seed: u64,
    /// Share of payments that are fraud.
    pub fraud_rate: f64,
    /// The payment from which the concept drifts.
    pub drift_at: u64,
    /// Payments (one per millisecond of event time) between two summaries.
    pub summary_every: u64,
    /// A payment is flagged by the classifier above this probability...
    pub probability_threshold: f64,
    /// ... and by the detector above this anomaly score.
    pub anomaly_threshold: f64,
}

impl Monitoring {
    /// `events` payments with the scenario's defaults: 1% fraud, drift half-way, ten
    /// summaries.
    pub fn new(events: u64, seed: u64) -> Self {
        Monitoring {
            events,
            rate: None,
            seed,
            fraud_rate: 0.01,
            drift_at: events / 2,
            summary_every: (events / 10).max(1),
            probability_threshold: 0.5,
            anomaly_threshold: 0.98,
        }
    }
}

const START: i64 = 1_700_000_000_000;
const REGIONS: u64 = 8;

/// Payment `n`: one per millisecond; fraud with probability `fraud_rate`, its pattern and
/// normal spending changing at `drift_at`.
pub fn payment(n: u64, rng: &mut RowRng, drift_at: u64, fraud_rate: f64) -> Payment {
    let region = rng.below(REGIONS) as u8;
    let drifted = n >= drift_at;
    let fraud = rng.chance(fraud_rate);
    let (amount, hour, distance, risk, foreign) = match (fraud, drifted) {
        (false, _) => {
            let scale = if drifted { 1.5 } else { 1.0 };
            (
                scale * rng.normal(3.5, 0.8).exp(),
                rng.normal(14.0, 4.0).rem_euclid(24.0),
                rng.normal(1.0, 1.0).exp(),
                rng.range_f64(0.0, 0.4),
                rng.chance(0.03),
            )
        }
        // Before the drift: large payments at night, far from home.
        (true, false) => (
            rng.normal(6.0, 0.6).exp(),
            rng.range_f64(0.0, 6.0),
            rng.normal(5.0, 1.0).exp(),
            rng.range_f64(0.3, 1.0),
            rng.chance(0.5),
        ),
        // After: card testing, tiny payments at any hour, near home, at risky merchants.
        (true, true) => (
            rng.normal(0.7, 0.3).exp(),
            rng.range_f64(0.0, 24.0),
            rng.normal(1.0, 1.0).exp(),
            rng.range_f64(0.5, 1.0),
            rng.chance(0.8),
        ),
    };
    Payment {
        id: n,
        region,
        at: START + n as i64,
        amount,
        hour,
        distance,
        risk,
        foreign,
        fraud,
    }
}

/// The model features of a payment: log amount, the hour on a circle, log distance, risk,
/// abroad.
pub fn features(p: &Payment, out: &mut Vec<f64>) {
    let angle = p.hour / 24.0 * std::f64::consts::TAU;
    out.clear();
    out.extend_from_slice(&[
        p.amount.ln_1p(),
        angle.sin(),
        angle.cos(),
        p.distance.ln_1p(),
        p.risk,
        f64::from(u8::from(p.foreign)),
    ]);
}

/// The classifier: scaled logistic regression, started over on a drift for the worse.
pub type Classifier = DriftReset<Scaled<OnlineStandardScaler, OnlineLogisticRegression>, Adwin>;

/// A fresh classifier.
pub fn classifier() -> Classifier {
    let model = Scaled {
        scaler: OnlineStandardScaler::default(),
        model: OnlineLogisticRegression::with_optimizer(Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 }),
    };
    DriftReset::new(model, Adwin::default())
}

/// The detector: half-space trees over min-max scaled features.
pub type Detector = Scaled<OnlineMinMaxScaler, HalfSpaceTrees>;

/// A fresh detector.
pub fn detector() -> Detector {
    Scaled {
        scaler: OnlineMinMaxScaler::default(),
        model: HalfSpaceTrees::new(25, 8, 1000, 7),
    }
}

/// Flags against the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Flagged fraud.
    pub true_positives: u64,
    /// Flagged, not fraud.
    pub false_positives: u64,
    /// Fraud not flagged.
    pub false_negatives: u64,
}

impl Confusion {
    fn add(&mut self, flagged: bool, fraud: bool) {
        match (flagged, fraud) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

    fn merge(&mut self, other: &Confusion) {
        self.true_positives += other.true_positives;
        self.false_positives += other.false_positives;
        self.false_negatives += other.false_negatives;
    }

    /// Share of flags that were fraud (1 when nothing was flagged).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Share of fraud that was flagged (1 when there was none).
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Counts over some payments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Payments.
    pub payments: u64,
    /// Of which fraud.
    pub fraud: u64,
    /// The classifier's flags.
    pub classifier: Confusion,
    /// The detector's flags.
    pub detector: Confusion,
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.payments += other.payments;
        self.fraud += other.fraud;
        self.classifier.merge(&other.classifier);
        self.detector.merge(&other.detector);
    }
}

/// One line of the live summary: the last period and everything up to its end.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// End of the period, ms of event time since the first payment.
    pub until_ms: i64,
    /// The period's counts.
    pub period: Counts,
    /// All counts so far.
    pub total: Counts,
}

impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, t) = (&self.period, &self.total);
        write!(
            f,
            "t={:>6.0}s payments {:>9} fraud {:>6} | classifier P {:.2} R {:.2} (all P {:.2} R {:.2}) \
             | detector P {:.2} R {:.2} (all P {:.2} R {:.2})",
            self.until_ms as f64 / 1000.0,
            t.payments,
            t.fraud,
            p.classifier.precision(),
            p.classifier.recall(),
            t.classifier.precision(),
            t.classifier.recall(),
            p.detector.precision(),
            p.detector.recall(),
            t.detector.precision(),
            t.detector.recall(),
        )
    }
}

/// Counts per period of event time, folded into the totals when the watermark passes the
/// period's end: the same lines whatever the number of workers.
struct LiveSummary {
    every_ms: i64,
    thresholds: (f64, f64),
}

/// Periods still open (by end time) and the totals of the closed ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SummaryState {
    open: BTreeMap<i64, Counts>,
    total: Counts,
}

impl KeyedProcessFunction<u8, Verdict> for LiveSummary {
    type State = SummaryState;
    type Out = Summary;

    fn process_element(&mut self, v: Verdict, ctx: &mut Context<'_, u8, SummaryState, Summary>) {
        let end = START + ((v.payment.at - START) / self.every_ms + 1) * self.every_ms;
        let counts = ctx.state().open.entry(end).or_default();
        counts.payments += 1;
        counts.fraud += u64::from(v.payment.fraud);
        let fraud = v.payment.fraud;
        counts
            .classifier
            .add(v.fraud_probability > self.thresholds.0, fraud);
        counts.detector.add(v.anomaly > self.thresholds.1, fraud);
        ctx.register_event_time_timer(end - 1);
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, u8, SummaryState, Summary>) {
        let end = timer.time + 1;
        let state = ctx.state();
        if let Some(period) = state.open.remove(&end) {
            state.total.merge(&period);
            let summary = Summary {
                until_ms: end - START,
                period,
                total: state.total,
            };
            ctx.collect(summary);
        }
    }
}

/// The job without its sink: the live summaries.
pub fn summaries<'s>(
    env: &mut Env<'s>,
    config: &Monitoring,
) -> riffle_runtime::DataStream<'s, Summary> {
    let Monitoring {
        drift_at,
        fraud_rate,
        ..
    } = *config;
    let payments = crate::generated(
        env,
        "payments",
        (config.events, config.seed, config.rate),
        move |n, rng| payment(n, rng, drift_at, fraud_rate),
        |p: &Payment| p.at,
    );
    let labelled = Extract::new(features, |p: &Payment| f64::from(u8::from(p.fraud)));
    let classified = test_then_train(
        payments.key_by(|p: &Payment| p.region),
        classifier(),
        labelled,
    );
    let unlabelled =
        Extract::unlabelled(|s: &riffle_ml::online::operators::Scored<Payment>, out| {
            features(&s.record, out)
        });
    let verdicts = test_then_train(
        classified.key_by(|s| s.record.region),
        detector(),
        unlabelled,
    )
    .map(|s| Verdict {
        fraud_probability: s.record.score,
        payment: s.record.record,
        anomaly: s.score,
    });
    verdicts.key_by(|_| 0u8).process(LiveSummary {
        every_ms: config.summary_every.max(1) as i64,
        thresholds: (config.probability_threshold, config.anomaly_threshold),
    })
}

/// Builds the job: live summaries to `output`.
pub fn build(env: &mut Env<'_>, config: &Monitoring, output: &Output) -> Result<()> {
    let stream = summaries(env, config);
    output.write(stream)
}
