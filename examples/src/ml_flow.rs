//! The classic Flink ML flow in Rust, the DataStream twin of `examples/sql/ml_flow.sql`: a
//! JSON event stream of house sales, a feature function (one-hot of the district, the UDF of
//! the SQL version), a linear regression trained with 5-fold cross-validation and L-BFGS with
//! L2 0.1, and its predictions written to a sink.
//!
//! Three jobs on the runtime: [`write_events`] generates the JSON lines (in production a
//! service or Kafka writes them), [`train`] reads them, computes the features and fits the
//! model through `riffle_ml::tabular` (the code `CREATE MODEL` and `riffle ml fit` use), and
//! [`predict`] streams the events again through the features and the model into CSV part
//! files. `riffle run ml-flow --dir DIR` runs all three.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use riffle_connectors::{FileSink, FileSource, Format, RowRng};
use riffle_core::{Result, RiffleError};
use riffle_ml::card::ModelCard;
use riffle_ml::tabular::{self, TrainSpec};
use riffle_ml::PipelineModel;
use riffle_runtime::{execute, Collector, ExecutionConfig, JobReport, WatermarkStrategy};
use serde::{Deserialize, Serialize};

/// A house sale, as a JSON event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sale {
    /// The sale's id.
    pub id: u64,
    /// Floor area, m².
    pub sqft: f64,
    /// Rooms.
    pub rooms: u32,
    /// `downtown`, `suburb` or `rural`.
    pub district: String,
    /// Price paid.
    pub price: f64,
}

/// A sale's model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// The sale's id.
    pub id: u64,
    /// Floor area.
    pub sqft: f64,
    /// Rooms.
    pub rooms: f64,
    /// 1 for a downtown sale.
    pub downtown: f64,
    /// 1 for a suburban sale.
    pub suburb: f64,
    /// The label.
    pub price: f64,
}

/// A prediction, as the sink writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The sale's id.
    pub id: u64,
    /// Price paid.
    pub price: f64,
    /// The model's price.
    pub prediction: f64,
}

const DISTRICTS: [&str; 3] = ["downtown", "suburb", "rural"];
const FEATURES: [&str; 4] = ["sqft", "rooms", "downtown", "suburb"];

/// The generated sale `n`: price = 3000 per m² + 10000 per room + 40000 downtown + noise
/// uniform in ±5000.
pub fn sale(n: u64, rng: &mut RowRng) -> Sale {
    let sqft = rng.range_f64(30.0, 250.0);
    let rooms = rng.range_i64(1, 6) as u32;
    let district = DISTRICTS[rng.below(3) as usize];
    let noise = rng.range_f64(-5000.0, 5000.0);
    let downtown = if district == "downtown" {
        40_000.0
    } else {
        0.0
    };
    Sale {
        id: n + 1,
        sqft,
        rooms,
        district: district.to_string(),
        price: 3000.0 * sqft + 10_000.0 * f64::from(rooms) + downtown + noise,
    }
}

/// The feature function (the SQL version's `ONE_HOT_ENCODE` UDF): numbers for the model,
/// the district one-hot with `rural` as the reference.
pub fn features(sale: &Sale) -> Features {
    let is = |d: &str| f64::from(sale.district == d);
    Features {
        id: sale.id,
        sqft: sale.sqft,
        rooms: f64::from(sale.rooms),
        downtown: is("downtown"),
        suburb: is("suburb"),
        price: sale.price,
    }
}

/// The model: linear regression, L-BFGS, L2 0.1 on the features, cross-validated 5-fold.
pub fn spec() -> TrainSpec {
    let mut spec = TrainSpec::new("linear-regression", "price");
    spec.features = FEATURES.iter().map(|f| f.to_string()).collect();
    spec.params = vec![
        ("solver".into(), "lbfgs".into()),
        ("reg_param".into(), "0.1".into()),
    ];
    spec
}

/// Writes `events` generated sales (seeded with `seed`) as JSON lines under `dir`.
pub fn write_events(config: &ExecutionConfig, dir: &Path, events: u64, seed: u64) -> Result<()> {
    let dir = dir.to_path_buf();
    execute(config, move |env| {
        let sales = riffle_connectors::DataGen::new(seed, sale)
            .rows(events)
            .stream(env, "sales", WatermarkStrategy::none());
        sales.sink("events", FileSink::new(env, &dir, Format::JsonLines)?);
        Ok(())
    })
    .map(|_| ())
}

/// The features of every sale under `events`, as a table, in id order.
fn feature_table(config: &ExecutionConfig, events: &Path) -> Result<RecordBatch> {
    let rows: Collector<Features> = Collector::new();
    let sink = rows.clone();
    let events = events.to_path_buf();
    execute(config, move |env| {
        FileSource::new(&events, Format::JsonLines)
            .stream::<Sale>(env, "events", WatermarkStrategy::none())?
            .map(|s| features(&s))
            .collect_into(&sink);
        Ok(())
    })?;
    let mut rows = rows.values();
    rows.sort_by_key(|f| f.id);
    table(&rows)
}

fn table(rows: &[Features]) -> Result<RecordBatch> {
    let column = |f: fn(&Features) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    riffle_ml::data::float_table(vec![
        ("id", column(|r| r.id as f64)),
        ("sqft", column(|r| r.sqft)),
        ("rooms", column(|r| r.rooms)),
        ("downtown", column(|r| r.downtown)),
        ("suburb", column(|r| r.suburb)),
        ("price", column(|r| r.price)),
    ])
    .map_err(ml)
}

fn ml(e: riffle_ml::MlError) -> RiffleError {
    RiffleError::Ml(e.to_string())
}

/// Reads the events under `events`, computes the features and fits `spec` (the flow's is
/// [`spec`]) with 5-fold cross-validation first (its mean and spread are in the card's
/// metrics).
pub fn train(
    config: &ExecutionConfig,
    events: &Path,
    spec: &TrainSpec,
) -> Result<(PipelineModel, ModelCard)> {
    let table = feature_table(config, events)?;
    tabular::fit(spec, table, Some(5)).map_err(ml)
}

/// Streams the events under `events` through the features and `model` into CSV part files
/// under `out` (`id,price,prediction`), scoring each message's records as one table.
pub fn predict(
    config: &ExecutionConfig,
    events: &Path,
    model: &PipelineModel,
    card: &ModelCard,
    out: &Path,
) -> Result<JobReport> {
    let (events, out) = (events.to_path_buf(), out.to_path_buf());
    let (model, card) = (model.clone(), card.clone());
    execute(config, move |env| {
        let job = std::sync::Arc::clone(env.job());
        let (model, card) = (model.clone(), card.clone());
        FileSource::new(&events, Format::JsonLines)
            .stream::<Sale>(env, "events", WatermarkStrategy::none())?
            .map(|s| features(&s))
            .map_chunks("predict", move |records, scored| {
                let rows: Vec<Features> = records.iter().map(|(_, f)| f.clone()).collect();
                let predictions = table(&rows)
                    .and_then(|t| tabular::predict(&model, &card, &t).map_err(ml))
                    .and_then(|t| riffle_ml::data::read_f64(&t, "prediction").map_err(ml));
                match predictions {
                    Ok(p) => scored.extend(records.iter().zip(p).map(|((time, f), p)| {
                        let line = Prediction {
                            id: f.id,
                            price: f.price,
                            prediction: p,
                        };
                        (*time, line)
                    })),
                    Err(error) => job.fail(error),
                }
            })
            .sink("predictions", FileSink::new(env, &out, Format::csv())?);
        Ok(())
    })
}

/// The whole flow under `dir` (`events/`, `predictions/`): returns the model's card and the
/// report of the prediction job.
pub fn run(
    config: &ExecutionConfig,
    dir: &Path,
    events: u64,
    seed: u64,
) -> Result<(ModelCard, JobReport)> {
    let (input, output): (PathBuf, PathBuf) = (dir.join("events"), dir.join("predictions"));
    for path in [&input, &output] {
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(|e| RiffleError::io(path, e))?;
        }
    }
    write_events(config, &input, events, seed)?;
    let (model, card) = train(config, &input, &spec())?;
    let report = predict(config, &input, &model, &card, &output)?;
    Ok((card, report))
}
