//! Online learning as stream operators on the runtime: [`learn`] trains a model per key and
//! emits its versions, [`predict`] scores a stream with the newest version it has received
//! (hot swap: a new version replaces the old between two records, nothing waits),
//! [`test_then_train`] scores each record and then learns it, and [`progressive_evaluate`]
//! reports sliding-window metrics of that with a baseline beside them.
//!
//! Models live in keyed state, so they are checkpointed with the job and restored on restart
//! like any operator state. Learning is per key (a model per account, region, sensor...):
//! the keys spread over the workers, and each key's model sees its records in event-time
//! order (they are held until the watermark passes them), so models and scores are the same
//! for any number of workers. A single global model is the special case of one key.

use std::hash::Hash;
use std::rc::Rc;

use riffle_runtime::{
    Context, Data, DataStream, EventTimeBuffer, KeyedProcessFunction, KeyedStream, Timer,
};
use serde::{Deserialize, Serialize};

use super::anomaly::{AnomalyDetector, EwmaZScore, HalfSpaceTrees};
use super::drift::DriftDetector;
use super::naive_bayes::OnlineGaussianNb;
use super::preprocessing::{OnlineMinMaxScaler, OnlineStandardScaler};
use super::{OnlineClassifier, OnlineLinearRegression, OnlineLogisticRegression, OnlineRegressor};

/// A model the operators can train and serve: one score per record (the probability of
/// class 1 for a classifier, the value for a regressor, the anomaly score for a detector)
/// and one update per labelled record (detectors ignore the label).
pub trait OnlineModel: Data {
    /// The score of `x`.
    fn score(&self, x: &[f64]) -> f64;
    /// Learns `x` with label or target `y`.
    fn learn(&mut self, x: &[f64], y: f64);
    /// [`learn`](Self::learn) for a record the model has just scored (`score(x)`, no update
    /// in between), which some models need not compute again.
    fn learn_scored(&mut self, x: &[f64], y: f64, score: f64) {
        let _ = score;
        self.learn(x, y);
    }
}

macro_rules! classifier_model {
    ($($t:ty),*) => {$(
        impl OnlineModel for $t {
            fn score(&self, x: &[f64]) -> f64 {
                self.predict_proba_one(x)
            }
            fn learn(&mut self, x: &[f64], y: f64) {
                OnlineClassifier::learn_one(self, x, y)
            }
            fn learn_scored(&mut self, x: &[f64], y: f64, score: f64) {
                self.learn_predicted(x, y, score)
            }
        }
    )*};
}
classifier_model!(
    OnlineLogisticRegression,
    OnlineGaussianNb,
    super::hoeffding::HoeffdingTreeClassifier
);

macro_rules! regressor_model {
    ($($t:ty),*) => {$(
        impl OnlineModel for $t {
            fn score(&self, x: &[f64]) -> f64 {
                OnlineRegressor::predict_one(self, x)
            }
            fn learn(&mut self, x: &[f64], y: f64) {
                OnlineRegressor::learn_one(self, x, y)
            }
            fn learn_scored(&mut self, x: &[f64], y: f64, score: f64) {
                OnlineRegressor::learn_predicted(self, x, y, score)
            }
        }
    )*};
}
regressor_model!(
    OnlineLinearRegression,
    super::hoeffding_regressor::HoeffdingTreeRegressor
);

macro_rules! detector_model {
    ($($t:ty),*) => {$(
        impl OnlineModel for $t {
            fn score(&self, x: &[f64]) -> f64 {
                self.score_one(x)
            }
            fn learn(&mut self, x: &[f64], _y: f64) {
                AnomalyDetector::learn_one(self, x)
            }
        }
    )*};
}
detector_model!(HalfSpaceTrees, EwmaZScore);

/// A scaler learned from the stream, in front of a model.
pub trait OnlineScaler: Data {
    /// Updates the scaler's statistics.
    fn learn_one(&mut self, x: &[f64]);
    /// Writes the scaled `x` into `out`.
    fn transform_into(&self, x: &[f64], out: &mut Vec<f64>);
}

impl OnlineScaler for OnlineStandardScaler {
    fn learn_one(&mut self, x: &[f64]) {
        OnlineStandardScaler::learn_one(self, x)
    }
    fn transform_into(&self, x: &[f64], out: &mut Vec<f64>) {
        OnlineStandardScaler::transform_into(self, x, out)
    }
}

impl OnlineScaler for OnlineMinMaxScaler {
    fn learn_one(&mut self, x: &[f64]) {
        OnlineMinMaxScaler::learn_one(self, x)
    }
    fn transform_into(&self, x: &[f64], out: &mut Vec<f64>) {
        OnlineMinMaxScaler::transform_into(self, x, out)
    }
}

/// A scaler then a model, as River's `preprocessing.StandardScaler() | model`: learning
/// updates the scaler first and trains the model on the newly scaled record; scoring scales
/// with the statistics seen so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scaled<S, M> {
    /// The scaler.
    pub scaler: S,
    /// The model fed with scaled records.
    pub model: M,
}

impl<S: OnlineScaler, M: OnlineModel> OnlineModel for Scaled<S, M> {
    fn score(&self, x: &[f64]) -> f64 {
        let mut scaled = Vec::with_capacity(x.len());
        self.scaler.transform_into(x, &mut scaled);
        self.model.score(&scaled)
    }
    fn learn(&mut self, x: &[f64], y: f64) {
        self.scaler.learn_one(x);
        let mut scaled = Vec::with_capacity(x.len());
        self.scaler.transform_into(x, &mut scaled);
        self.model.learn(&scaled, y);
    }
}

/// A classifier watched by a drift detector fed with its 0/1 errors (a score on the wrong
/// side of one half): when the detector reports a drift and the recent error rate is above
/// the rate since the last reset (a drift for the worse: detectors also report a model
/// getting better), the model is replaced by a fresh copy of `initial`, which learns the new
/// concept without the old one's weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftReset<M, D> {
    /// What the model starts over from.
    pub initial: M,
    /// The serving model.
    pub model: M,
    /// The detector.
    pub detector: D,
    /// Resets so far.
    pub drifts: u64,
    /// Errors and records since the last reset.
    errors: (f64, f64),
    /// Exponentially weighted recent error rate (weight 1/100 for the newest record).
    recent: f64,
}

impl<M: Clone, D> DriftReset<M, D> {
    /// `model` watched by `detector`.
    pub fn new(model: M, detector: D) -> Self {
        DriftReset {
            initial: model.clone(),
            model,
            detector,
            drifts: 0,
            errors: (0.0, 0.0),
            recent: 0.0,
        }
    }
}

impl<M: OnlineModel, D: DriftDetector + Data> OnlineModel for DriftReset<M, D> {
    fn score(&self, x: &[f64]) -> f64 {
        self.model.score(x)
    }
    fn learn(&mut self, x: &[f64], y: f64) {
        let score = self.model.score(x);
        self.learn_scored(x, y, score);
    }
    fn learn_scored(&mut self, x: &[f64], y: f64, score: f64) {
        let wrong = f64::from((score > 0.5) != (y == 1.0));
        self.errors.0 += wrong;
        self.errors.1 += 1.0;
        self.recent += (wrong - self.recent) / 100f64.min(self.errors.1);
        if self.detector.update(wrong) && self.recent > self.errors.0 / self.errors.1 {
            self.model = self.initial.clone();
            self.drifts += 1;
            self.errors = (0.0, 0.0);
        }
        self.model.learn(x, y);
    }
}

/// Writes a record's features into a reused buffer.
type FeatureFn<T> = Rc<dyn Fn(&T, &mut Vec<f64>)>;

/// How the operators read a record: its features (written into a reused buffer) and its
/// label or target.
pub struct Extract<T> {
    features: FeatureFn<T>,
    label: Rc<dyn Fn(&T) -> f64>,
}

impl<T> Clone for Extract<T> {
    fn clone(&self) -> Self {
        Extract {
            features: Rc::clone(&self.features),
            label: Rc::clone(&self.label),
        }
    }
}

impl<T> Extract<T> {
    /// Reads features with `features` and the label with `label`.
    pub fn new(
        features: impl Fn(&T, &mut Vec<f64>) + 'static,
        label: impl Fn(&T) -> f64 + 'static,
    ) -> Self {
        Extract {
            features: Rc::new(features),
            label: Rc::new(label),
        }
    }

    /// For records without a label (anomaly detectors learn from every record).
    pub fn unlabelled(features: impl Fn(&T, &mut Vec<f64>) + 'static) -> Self {
        Extract::new(features, |_| 0.0)
    }
}

/// A version of a key's model, emitted by [`learn`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion<K, M> {
    /// The key whose records trained it.
    pub key: K,
    /// 1 for the first version of the key, then 2, 3...
    pub version: u64,
    /// Records learned so far.
    pub records: u64,
    /// The model.
    pub model: M,
}

/// A record with the score it got and the version of the model that gave it (0: the initial,
/// untrained model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored<T> {
    /// The record.
    pub record: T,
    /// Its score.
    pub score: f64,
    /// Version of the model that scored it.
    pub version: u64,
}

/// Held records of a key and its model, as kept in keyed state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LearnerState<M, T> {
    model: Option<M>,
    /// Records waiting for the watermark, in event-time order (arrival order among equals).
    held: EventTimeBuffer<T>,
    records: u64,
    version: u64,
    /// Progressive evaluation: the outcomes in the window and their sums.
    window: std::collections::VecDeque<(f64, f64)>,
    sums: (f64, f64),
    /// Progressive evaluation: class-1 labels seen (majority baseline) or the last target
    /// (no-change baseline).
    ones: u64,
    last: Option<f64>,
}

impl<M, T> Default for LearnerState<M, T> {
    fn default() -> Self {
        LearnerState {
            model: None,
            held: EventTimeBuffer::default(),
            records: 0,
            version: 0,
            window: Default::default(),
            sums: (0.0, 0.0),
            ones: 0,
            last: None,
        }
    }
}

/// What an ordered learner does with each record once the watermark has passed it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Learn; emit the model every so many records.
    Learn { every: u64 },
    /// Score, emit the scored record, learn.
    TestThenTrain,
    /// Score, learn, and emit window metrics every so many records.
    Evaluate {
        metric: Metric,
        window: usize,
        every: u64,
    },
}

/// The metric of [`progressive_evaluate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Share of records whose score was on the right side of one half; the baseline predicts
    /// the key's majority class so far.
    Accuracy,
    /// Mean absolute error of the score as a value; the baseline predicts the key's previous
    /// target (no change).
    Mae,
}

/// Sliding-window metrics of a key's model, emitted by [`progressive_evaluate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation<K> {
    /// The key.
    pub key: K,
    /// Records of the key learned so far.
    pub records: u64,
    /// Records the metric is over (the window, or fewer at the start).
    pub window: u64,
    /// The model's metric over the window.
    pub metric: f64,
    /// The baseline's metric over the same records.
    pub baseline: f64,
}

/// Output of the ordered learner: one of the three, by mode.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Emitted<K, M, T> {
    Version(ModelVersion<K, M>),
    Scored(Scored<T>),
    Evaluation(Evaluation<K>),
}

/// The process function behind [`learn`], [`test_then_train`] and [`progressive_evaluate`].
struct OrderedLearner<M, T> {
    initial: M,
    extract: Extract<T>,
    mode: Mode,
    buffer: Vec<f64>,
}

impl<K: Data, T: Data, M: OnlineModel> KeyedProcessFunction<K, T> for OrderedLearner<M, T> {
    type State = LearnerState<M, T>;
    type Out = Emitted<K, M, T>;

    fn process_element(&mut self, value: T, ctx: &mut Context<'_, K, Self::State, Self::Out>) {
        let ts = ctx.timestamp();
        if let Some(at) = ctx.state().held.hold(ts, value) {
            ctx.register_event_time_timer(at);
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, K, Self::State, Self::Out>) {
        let key = ctx.key().clone();
        let upto = ctx.input_watermark().max(timer.time);
        let (records, next) = ctx.state().held.take_due(upto);
        if let Some(next) = next {
            ctx.register_event_time_timer(next);
        }
        let mut out = Vec::new();
        for (ts, record) in records {
            let state = ctx.state();
            let model = state.model.get_or_insert_with(|| self.initial.clone());
            (self.extract.features)(&record, &mut self.buffer);
            let y = (self.extract.label)(&record);
            match self.mode {
                Mode::Learn { every } => {
                    model.learn(&self.buffer, y);
                    state.records += 1;
                    if state.records.is_multiple_of(every.max(1)) {
                        state.version += 1;
                        out.push((
                            ts,
                            Emitted::Version(ModelVersion {
                                key: key.clone(),
                                version: state.version,
                                records: state.records,
                                model: model.clone(),
                            }),
                        ));
                    }
                }
                Mode::TestThenTrain => {
                    let score = model.score(&self.buffer);
                    model.learn_scored(&self.buffer, y, score);
                    let version = state.records;
                    state.records += 1;
                    out.push((
                        ts,
                        Emitted::Scored(Scored {
                            record,
                            score,
                            version,
                        }),
                    ));
                }
                Mode::Evaluate {
                    metric,
                    window,
                    every,
                } => {
                    let score = model.score(&self.buffer);
                    model.learn_scored(&self.buffer, y, score);
                    let outcome = match metric {
                        Metric::Accuracy => {
                            let majority = f64::from(2 * state.ones > state.records);
                            state.ones += u64::from(y == 1.0);
                            (
                                f64::from(f64::from(score > 0.5) == y),
                                f64::from(majority == y),
                            )
                        }
                        Metric::Mae => {
                            let previous = state.last.unwrap_or(0.0);
                            state.last = Some(y);
                            ((score - y).abs(), (previous - y).abs())
                        }
                    };
                    state.records += 1;
                    state.window.push_back(outcome);
                    state.sums.0 += outcome.0;
                    state.sums.1 += outcome.1;
                    if state.window.len() > window.max(1) {
                        if let Some((a, b)) = state.window.pop_front() {
                            state.sums.0 -= a;
                            state.sums.1 -= b;
                        }
                    }
                    if state.records.is_multiple_of(every.max(1)) {
                        let n = state.window.len() as f64;
                        out.push((
                            ts,
                            Emitted::Evaluation(Evaluation {
                                key: key.clone(),
                                records: state.records,
                                window: state.window.len() as u64,
                                metric: state.sums.0 / n,
                                baseline: state.sums.1 / n,
                            }),
                        ));
                    }
                }
            }
        }
        for (ts, value) in out {
            ctx.collect_at(ts, value);
        }
    }
}

fn ordered<'s, K, T, M>(
    keyed: KeyedStream<'s, K, T>,
    initial: M,
    extract: Extract<T>,
    mode: Mode,
) -> DataStream<'s, Emitted<K, M, T>>
where
    K: Data + Hash + Eq,
    T: Data,
    M: OnlineModel,
{
    keyed.process(OrderedLearner {
        initial,
        extract,
        mode,
        buffer: Vec::new(),
    })
}

/// Trains a copy of `initial` per key on the key's records in event-time order, and emits
/// the key's model after every `every` records.
pub fn learn<'s, K, T, M>(
    keyed: KeyedStream<'s, K, T>,
    initial: M,
    extract: Extract<T>,
    every: u64,
) -> DataStream<'s, ModelVersion<K, M>>
where
    K: Data + Hash + Eq,
    T: Data,
    M: OnlineModel,
{
    ordered(keyed, initial, extract, Mode::Learn { every }).flat_map(|e| match e {
        Emitted::Version(v) => Some(v),
        _ => None,
    })
}

/// Progressive validation as a stream: each record, in event-time order per key, is scored
/// by its key's model and then learned. The score is the honest one: the model had not seen
/// the record. `version` counts the records the model had learned.
pub fn test_then_train<'s, K, T, M>(
    keyed: KeyedStream<'s, K, T>,
    initial: M,
    extract: Extract<T>,
) -> DataStream<'s, Scored<T>>
where
    K: Data + Hash + Eq,
    T: Data,
    M: OnlineModel,
{
    ordered(keyed, initial, extract, Mode::TestThenTrain).flat_map(|e| match e {
        Emitted::Scored(s) => Some(s),
        _ => None,
    })
}

/// Test-then-train metrics per key over the last `window` records, with a baseline beside
/// them (majority class for [`Metric::Accuracy`], no change for [`Metric::Mae`]), emitted
/// after every `every` records of the key.
pub fn progressive_evaluate<'s, K, T, M>(
    keyed: KeyedStream<'s, K, T>,
    initial: M,
    extract: Extract<T>,
    metric: Metric,
    window: usize,
    every: u64,
) -> DataStream<'s, Evaluation<K>>
where
    K: Data + Hash + Eq,
    T: Data,
    M: OnlineModel,
{
    let mode = Mode::Evaluate {
        metric,
        window,
        every,
    };
    ordered(keyed, initial, extract, mode).flat_map(|e| match e {
        Emitted::Evaluation(e) => Some(e),
        _ => None,
    })
}

/// The serving side of [`predict`]: the key's newest model and its version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServingState<M> {
    model: Option<M>,
    version: u64,
}

impl<M> Default for ServingState<M> {
    fn default() -> Self {
        ServingState {
            model: None,
            version: 0,
        }
    }
}

struct Serve<M, T> {
    initial: M,
    features: FeatureFn<T>,
    buffer: Vec<f64>,
}

impl<K: Data, T: Data, M: OnlineModel>
    riffle_runtime::KeyedCoProcessFunction<K, T, ModelVersion<K, M>> for Serve<M, T>
{
    type State = ServingState<M>;
    type Out = Scored<T>;

    fn process_left(&mut self, record: T, ctx: &mut Context<'_, K, Self::State, Self::Out>) {
        (self.features)(&record, &mut self.buffer);
        let state = ctx.state();
        let score = match &state.model {
            Some(model) => model.score(&self.buffer),
            None => self.initial.score(&self.buffer),
        };
        let version = state.version;
        ctx.collect(Scored {
            record,
            score,
            version,
        });
    }

    fn process_right(
        &mut self,
        update: ModelVersion<K, M>,
        ctx: &mut Context<'_, K, Self::State, Self::Out>,
    ) {
        let state = ctx.state();
        // Versions may meet reordered on the wire; an older one never replaces a newer one.
        if update.version > state.version {
            state.version = update.version;
            state.model = Some(update.model);
        }
    }
}

/// Scores every record of `records` with the newest version of its key's model that has
/// arrived on `models` (typically the output of [`learn`]); before the first version, with
/// `initial`. Records are scored as they arrive, never held: a new version replaces the old
/// between two records (hot swap), so no record waits or is lost while models change.
pub fn predict<'s, K, T, M>(
    records: DataStream<'s, T>,
    key: impl Fn(&T) -> K + 'static,
    models: DataStream<'s, ModelVersion<K, M>>,
    initial: M,
    extract: Extract<T>,
) -> DataStream<'s, Scored<T>>
where
    K: Data + Hash + Eq,
    T: Data,
    M: OnlineModel,
{
    records
        .connect(models)
        .key_by(key, |m: &ModelVersion<K, M>| m.key.clone())
        .process(Serve {
            initial,
            features: extract.features,
            buffer: Vec::new(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::drift::Adwin;

    #[test]
    fn drift_reset_starts_over_when_the_concept_flips() {
        let mut watched = DriftReset::new(OnlineLogisticRegression::default(), Adwin::default());
        let x = |i: usize| [(i % 10) as f64 / 10.0];
        // Label = x > 0.5 for 3,000 records, then the opposite.
        for i in 0..3000 {
            watched.learn(&x(i), f64::from(x(i)[0] > 0.5));
        }
        assert_eq!(watched.drifts, 0);
        for i in 0..3000 {
            watched.learn(&x(i), f64::from(x(i)[0] <= 0.5));
        }
        assert!(watched.drifts >= 1);
        assert!(watched.score(&[0.9]) < 0.5, "learned the new concept");
    }
}
