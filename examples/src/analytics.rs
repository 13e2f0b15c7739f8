//! Real-time analytics with a model: sales per store per 10-second window (a windowed
//! aggregation) are the features of an online regression that forecasts each store's next
//! window; when the window closes, the forecast is scored against the actual total, beside a
//! no-change forecast (the last window again), and the model learns the actual. A live
//! summary per minute of event time gives both errors.
//!
//! Sales follow a daily-like cycle (a sine over ten minutes of event time) per store, so the
//! window totals rise and fall smoothly: a model that has learned the momentum of the last
//! windows beats the no-change forecast, which is always one step behind.

use std::collections::BTreeMap;
use std::time::Duration;

use riffle_connectors::RowRng;
use riffle_core::Result;
use riffle_ml::online::operators::{OnlineModel, Scaled};
use riffle_ml::online::preprocessing::OnlineStandardScaler;
use riffle_ml::online::{OnlineLinearRegression, Optimizer};
use riffle_runtime::{
    Context, DataStream, Env, KeyedProcessFunction, Timer, WindowAssigner, Windowed,
};
use serde::{Deserialize, Serialize};

use crate::Output;

/// A sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sale {
    /// The store.
    pub store: u8,
    /// Event time, ms.
    pub at: i64,
    /// Amount in cents (whole numbers, so that window sums are exact in any order).
    pub cents: u64,
}

/// A store's forecast for one window, scored when the window closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The store.
    pub store: u8,
    /// End of the window, ms.
    pub window_end: i64,
    /// The window's total, cents.
    pub actual: f64,
    /// The model's forecast, made when the previous window closed.
    pub forecast: f64,
    /// The no-change forecast: the previous window's total.
    pub no_change: f64,
}

/// One line of the live summary: the forecasts of the windows that ended in one minute.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastSummary {
    /// End of the minute, seconds of event time since the first sale.
    pub until_s: i64,
    /// Forecasts scored.
    pub forecasts: u64,
    /// Mean absolute error of the model's forecasts, currency units.
    pub model_mae: f64,
    /// Mean absolute error of the no-change forecasts.
    pub no_change_mae: f64,
}

impl std::fmt::Debug for ForecastSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t={:>5}s forecasts {:>3} | model MAE {:>9.2} | no-change MAE {:>9.2} | {:+.0}%",
            self.until_s,
            self.forecasts,
            self.model_mae,
            self.no_change_mae,
            100.0 * (self.model_mae / self.no_change_mae.max(f64::MIN_POSITIVE) - 1.0)
        )
    }
}

const START: i64 = 1_700_000_000_000;
/// Stores.
pub const STORES: u64 = 8;
/// Window length, ms.
pub const WINDOW_MS: i64 = 10_000;
/// Windows of history the model sees.
const LAGS: usize = 3;
/// Length of the sales cycle, ms of event time.
const CYCLE_MS: f64 = 600_000.0;

/// Sale `n`: one per millisecond, stores in turn; the amount's mean follows each store's
/// cycle (stores are out of phase), with uniform noise of ±50%.
pub fn sale(n: u64, rng: &mut RowRng) -> Sale {
    let store = (n % STORES) as u8;
    let at = START + n as i64;
    let phase = std::f64::consts::TAU * ((n as f64) / CYCLE_MS + f64::from(store) / 8.0);
    let mean = 2_000.0 * (1.0 + 0.1 * f64::from(store)) * (1.0 + 0.6 * phase.sin());
    let cents = (mean * rng.range_f64(0.5, 1.5)).round() as u64;
    Sale { store, at, cents }
}

/// The model: scaled online linear regression on the growth of the last windows, predicting
/// the next window's growth.
pub type Model = Scaled<OnlineStandardScaler, OnlineLinearRegression>;

/// A fresh model.
pub fn model() -> Model {
    Scaled {
        scaler: OnlineStandardScaler::default(),
        model: OnlineLinearRegression::with_optimizer(Optimizer::AdaGrad {
            lr: 0.05,
            eps: 1e-8,
        }),
    }
}

/// A store's recent totals (most recent first), its model, and the windows waiting for the
/// watermark.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ForecasterState {
    held: BTreeMap<i64, f64>,
    lags: Vec<f64>,
    model: Option<Model>,
}

/// The growth features of `lags` (most recent first): the last `LAGS - 1` window-over-window
/// growth rates.
fn growths(lags: &[f64]) -> Vec<f64> {
    lags.windows(2)
        .map(|w| w[0] / w[1].max(1.0) - 1.0)
        .collect()
}

/// Scores, forecasts and learns per store, one window total at a time in window order.
pub struct Forecaster;

impl Forecaster {
    /// Applies the window total `actual` ending at `end` to a store's state: the forecast
    /// made for it (once there is history), then learning, then the new history.
    pub fn step(state: &mut ForecasterState, store: u8, end: i64, actual: f64) -> Option<Forecast> {
        let model = state.model.get_or_insert_with(model);
        let mut out = None;
        if state.lags.len() == LAGS {
            let x = growths(&state.lags);
            let last = state.lags[0];
            let forecast = last * (1.0 + model.score(&x));
            out = Some(Forecast {
                store,
                window_end: end,
                actual,
                forecast,
                no_change: last,
            });
            model.learn(&x, actual / last.max(1.0) - 1.0);
        }
        state.lags.insert(0, actual);
        state.lags.truncate(LAGS);
        out
    }
}

impl KeyedProcessFunction<u8, Windowed<u8, (u8, u64)>> for Forecaster {
    type State = ForecasterState;
    type Out = Forecast;

    fn process_element(
        &mut self,
        w: Windowed<u8, (u8, u64)>,
        ctx: &mut Context<'_, u8, ForecasterState, Forecast>,
    ) {
        ctx.state().held.insert(w.window.end, w.value.1 as f64);
        ctx.register_event_time_timer(w.window.end - 1);
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, u8, ForecasterState, Forecast>) {
        let store = *ctx.key();
        let state = ctx.state();
        let due: Vec<i64> = state
            .held
            .range(..=timer.time + 1)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        for end in due {
            if let Some(actual) = state.held.remove(&end) {
                out.extend(Forecaster::step(state, store, end, actual));
            }
        }
        for f in out {
            ctx.collect_at(f.window_end - 1, f);
        }
    }
}

/// The job without its sink: the scored forecasts.
pub fn forecasts<'s>(
    env: &mut Env<'s>,
    events: u64,
    seed: u64,
    rate: Option<u64>,
) -> DataStream<'s, Forecast> {
    crate::generated(env, "sales", (events, seed, rate), sale, |s: &Sale| s.at)
        .map(|s| (s.store, s.cents))
        .key_by(|s: &(u8, u64)| s.0)
        .window(WindowAssigner::tumbling(Duration::from_millis(
            WINDOW_MS as u64,
        )))
        .reduce(|a, b| (a.0, a.1 + b.1))
        .key_by(|w: &Windowed<u8, (u8, u64)>| w.key)
        .process(Forecaster)
}

/// The live summary of `forecasts`: per minute of event time.
pub fn summaries<'s>(forecasts: DataStream<'s, Forecast>) -> DataStream<'s, ForecastSummary> {
    forecasts
        .key_by(|_: &Forecast| 0u8)
        .window(WindowAssigner::tumbling(Duration::from_secs(60)))
        .process(|_, window, all: Vec<Forecast>| {
            let n = all.len().max(1) as f64;
            let model: f64 = all.iter().map(|f| (f.forecast - f.actual).abs()).sum();
            let no_change: f64 = all.iter().map(|f| (f.no_change - f.actual).abs()).sum();
            Some(ForecastSummary {
                until_s: (window.end - START) / 1000,
                forecasts: all.len() as u64,
                model_mae: model / n / 100.0,
                no_change_mae: no_change / n / 100.0,
            })
        })
}

/// Builds the job: the live summary to `output`.
pub fn build(
    env: &mut Env<'_>,
    events: u64,
    seed: u64,
    rate: Option<u64>,
    output: &Output,
) -> Result<()> {
    let stream = summaries(forecasts(env, events, seed, rate));
    output.write(stream)
}
