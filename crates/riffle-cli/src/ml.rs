//! `riffle ml`: fit, predict, evaluate and cross-validate models on CSV or Parquet files
//! without writing Rust. The data preparation (imputing, encoding, scaling, assembling) is
//! part of the saved pipeline, so `predict` applies exactly what `fit` learned, and `cv`
//! refits all of it inside every fold.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use clap::{Args, Subcommand, ValueEnum};
use riffle_core::{Result, RiffleError};
use riffle_ml::algorithms::{self, Task};
use riffle_ml::card::ModelCard;
use riffle_ml::evaluation::{Metric, ScoredColumns};
use riffle_ml::feature::{HandleInvalid, VectorAssembler};
use riffle_ml::tabular::{self, TrainSpec};
use riffle_ml::tuning::{CrossValidator, FoldKind};
use riffle_ml::{data, split, DynEstimator, Estimator, Model, Pipeline, PipelineModel};
use riffle_runtime::ExecutionConfig;

/// Examples printed by `riffle ml --help`.
pub const ML_EXAMPLES: &str = "Examples:
  riffle ml generate reference --out data/        the reference data sets as CSV
  riffle ml fit --algo logistic-regression --data data/binary-train.csv --label label --out model/
  riffle ml evaluate --model model/ --data data/binary-test.csv
  riffle ml predict --model model/ --data data/binary-test.csv --out scored.csv
  riffle ml fit --algo logistic-regression --data data/customers-train.csv --label churn \\
      --impute median --encode onehot --scale standard --param reg_param=0.001 --out churn/
  riffle ml cv --algo logistic-regression --data data/binary-train.csv --label label \\
      --folds 5 --grid reg_param=0,0.001,0.01 --metric roc_auc
  riffle ml algorithms                            every algorithm and its parameters";

/// `riffle ml` subcommands.
#[derive(Subcommand, Debug)]
pub enum MlCommand {
    /// List the algorithms and their parameters with defaults.
    Algorithms,
    /// Write generated data sets as CSV (the reference suite, or one generator).
    Generate(GenerateArgs),
    /// Fit a model on a table and save it (a directory) with its data preparation.
    Fit(FitArgs),
    /// Score a table with a saved model; writes CSV or Parquet (by extension) or CSV to stdout.
    Predict {
        /// Model directory written by `riffle ml fit`.
        #[arg(long)]
        model: PathBuf,
        /// CSV (with header) or Parquet file to score.
        #[arg(long)]
        data: PathBuf,
        /// Output file (.csv or .parquet); standard output (CSV) if not given.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Score a labelled table with a saved model and print the metrics as JSON.
    Evaluate {
        /// Model directory written by `riffle ml fit`.
        #[arg(long)]
        model: PathBuf,
        /// CSV (with header) or Parquet file with the label column.
        #[arg(long)]
        data: PathBuf,
    },
    /// Cross-validate an algorithm over a parameter grid; prints each candidate's scores as
    /// JSON and, with --out, saves the best refitted on all rows.
    Cv(CvArgs),
}

/// What `riffle ml generate` writes.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerateKind {
    /// The reference suite (binary, multiclass, regression, blobs, customers; train and test
    /// files) that scikit-learn's numbers were recorded on.
    Reference,
    /// make_classification-style data.
    Classification,
    /// make_regression-style data.
    Regression,
    /// make_blobs-style clusters.
    Blobs,
    /// A churn table with missing values and categories.
    Customers,
    /// Explicit ratings (user, item, rating) from true low-rank tastes plus noise; --rows
    /// users, --features items.
    Ratings,
}

/// Options of `riffle ml generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// What to generate.
    #[arg(value_enum)]
    kind: GenerateKind,
    /// Output: a directory for `reference`, else a CSV file.
    #[arg(long)]
    out: PathBuf,
    /// Rows.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Features (classification, regression, blobs).
    #[arg(long, default_value_t = 20)]
    features: usize,
    /// Classes (classification) or blobs.
    #[arg(long, default_value_t = 2)]
    classes: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// How text feature columns are encoded.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One slot per category (scikit-learn's OneHotEncoder).
    Onehot,
    /// One index per category, most frequent first (label encoding).
    Index,
}

/// How missing values are filled.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impute {
    /// Mean of the column (text columns: most frequent).
    Mean,
    /// Median of the column (text columns: most frequent).
    Median,
    /// Most frequent value.
    MostFrequent,
}

/// Feature scaling after assembly.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// No scaling.
    None,
    /// Zero mean, unit variance.
    Standard,
}

/// Data preparation and algorithm options shared by `fit` and `cv`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Algorithm (see `riffle ml algorithms`).
    #[arg(long)]
    algo: String,
    /// CSV (with header) or Parquet training file.
    #[arg(long)]
    data: PathBuf,
    /// Label column (required but for kmeans, where a label column, if given, is only left
    /// out of the features).
    #[arg(long, default_value = "")]
    label: String,
    /// Feature columns, comma-separated (default: every column but the label).
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Encode text feature columns (refused without this).
    #[arg(long, value_enum)]
    encode: Option<Encoding>,
    /// Fill missing values (refused without this, naming the column and row).
    #[arg(long, value_enum)]
    impute: Option<Impute>,
    /// Scale the assembled features.
    #[arg(long, value_enum, default_value = "none")]
    scale: Scale,
    /// Categories unseen in training, at predict time: error, keep (all zeros / an extra
    /// index) or skip the row.
    #[arg(long, value_enum, default_value = "error")]
    unseen: Unseen,
    /// An algorithm parameter, `name=value` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
}

/// Policy for categories unseen in training.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unseen {
    /// Refuse the row with an error naming it.
    Error,
    /// Keep the row.
    Keep,
    /// Drop the row.
    Skip,
}

/// Options of `riffle ml fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Model directory to write.
    #[arg(long)]
    out: PathBuf,
    /// Hold out this share of rows (stratified for classifiers), fit on the rest and report
    /// metrics on the held-out rows.
    #[arg(long, default_value_t = 0.0)]
    holdout: f64,
    /// Seed of the hold-out split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Options of `riffle ml cv`.
#[derive(Args, Debug)]
pub struct CvArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Number of folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// A grid axis, `name=v1,v2,...` (repeatable; candidates are every combination).
    #[arg(long = "grid", value_name = "NAME=V1,V2")]
    grid: Vec<String>,
    /// Metric to choose by (default: accuracy for classifiers, rmse for regression).
    #[arg(long)]
    metric: Option<String>,
    /// Seed of the fold shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Refit the best candidate on all rows and save it here.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn ml_error(e: riffle_ml::MlError) -> RiffleError {
    RiffleError::Ml(e.to_string())
}

trait OrMl<T> {
    fn ml(self) -> Result<T>;
}

impl<T> OrMl<T> for riffle_ml::Result<T> {
    fn ml(self) -> Result<T> {
        self.map_err(ml_error)
    }
}

/// Runs a `riffle ml` subcommand. `fit` with more than one worker (`-w`, `-n`) trains
/// data-parallel over the runtime's workers.
pub fn run(command: MlCommand, config: &ExecutionConfig) -> Result<()> {
    match command {
        MlCommand::Algorithms => list_algorithms(),
        MlCommand::Generate(args) => generate(&args),
        MlCommand::Fit(args) if config.total_workers() > 1 => fit_on_workers(&args, config),
        MlCommand::Fit(args)
            if algorithms::find(&args.model.algo).is_ok_and(|a| a.task == Task::Recommendation) =>
        {
            fit_recommender(&args)
        }
        MlCommand::Fit(args) => fit(&args),
        MlCommand::Predict { model, data, out } => predict(&model, &data, out.as_deref()),
        MlCommand::Evaluate { model, data } => evaluate(&model, &data),
        MlCommand::Cv(args) => cv(&args),
    }
}

fn list_algorithms() -> Result<()> {
    for a in algorithms::ALGORITHMS {
        println!("{} ({:?}): {}", a.name, a.task, a.summary);
        for (name, value) in algorithms::defaults(a.name).ml()? {
            println!("    {name} = {value}");
        }
    }
    Ok(())
}

fn generate(args: &GenerateArgs) -> Result<()> {
    use riffle_ml::datasets::{self, Blobs, Classification, Regression};
    if args.kind == GenerateKind::Reference {
        for path in riffle_ml::suite::export(&args.out).ml()? {
            eprintln!("wrote {}", path.display());
        }
        return Ok(());
    }
    let table = match args.kind {
        GenerateKind::Classification => Classification {
            n_samples: args.rows,
            n_features: args.features,
            n_informative: (args.features / 2).max(2),
            n_redundant: args.features / 4,
            n_classes: args.classes,
            seed: args.seed,
            ..Default::default()
        }
        .generate()
        .and_then(|d| d.to_table()),
        GenerateKind::Regression => Regression {
            n_samples: args.rows,
            n_features: args.features,
            n_informative: (args.features / 2).max(1),
            noise: 10.0,
            seed: args.seed,
            ..Default::default()
        }
        .generate()
        .and_then(|d| d.to_table()),
        GenerateKind::Blobs => Blobs {
            n_samples: args.rows,
            n_features: args.features,
            centers: args.classes,
            seed: args.seed,
            ..Default::default()
        }
        .generate()
        .and_then(|d| d.to_table()),
        GenerateKind::Ratings => riffle_ml::recommendation::synthetic_ratings(
            args.rows,
            args.features,
            5,
            0.05,
            0.5,
            args.seed,
        ),
        GenerateKind::Customers | GenerateKind::Reference => {
            datasets::customers(args.rows, args.seed)
        }
    }
    .ml()?;
    datasets::write_csv(&table, &args.out).ml()?;
    eprintln!("wrote {} rows to {}", table.num_rows(), args.out.display());
    Ok(())
}

/// `name=value` pairs from the command line.
fn key_values(items: &[String], flag: &str) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    RiffleError::Config(format!("{flag} '{item}' must look like name=value"))
                })
        })
        .collect()
}

/// The training spec of the command line's model arguments with `params`.
fn spec(args: &ModelArgs, params: &[(String, String)]) -> Result<TrainSpec> {
    if args.label.is_empty() && !algorithms::find(&args.algo).ml()?.learns_without_label() {
        return Err(RiffleError::Config(format!(
            "{} needs --label COLUMN",
            args.algo
        )));
    }
    Ok(TrainSpec {
        algorithm: args.algo.clone(),
        label: args.label.clone(),
        features: args.features.clone(),
        encode: args.encode.map(|e| match e {
            Encoding::Onehot => tabular::Encoding::OneHot,
            Encoding::Index => tabular::Encoding::Index,
        }),
        impute: args.impute.map(|i| match i {
            Impute::Mean => tabular::Impute::Mean,
            Impute::Median => tabular::Impute::Median,
            Impute::MostFrequent => tabular::Impute::MostFrequent,
        }),
        standardize: args.scale == Scale::Standard,
        unseen: match args.unseen {
            Unseen::Error => HandleInvalid::Error,
            Unseen::Keep => HandleInvalid::Keep,
            Unseen::Skip => HandleInvalid::Skip,
        },
        params: params.to_vec(),
    })
}

fn prepare(args: &ModelArgs, task: Task, table: RecordBatch) -> Result<tabular::Prepared> {
    tabular::prepare(&spec(args, &[])?, task, table).ml()
}

fn pipeline(
    args: &ModelArgs,
    prepared: &tabular::Prepared,
    params: &[(String, String)],
) -> Result<Pipeline> {
    tabular::pipeline(&spec(args, params)?, prepared, params).ml()
}

/// Runs `work` with a spinner on a terminal (fits can take a while).
fn with_spinner<T>(message: &str, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_string());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let out = work();
    bar.finish_and_clear();
    out
}

fn report(task: Task, scored: &RecordBatch, label: &str) -> Result<BTreeMap<String, f64>> {
    tabular::report(task, scored, label).ml()
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| RiffleError::Ml(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn fit(args: &FitArgs) -> Result<()> {
    let algorithm = algorithms::find(&args.model.algo).ml()?;
    let params = key_values(&args.model.params, "--param")?;
    let table = riffle_ml::io::read_table(&args.model.data).ml()?;
    let prepared = prepare(&args.model, algorithm.task, table)?;
    let estimator = pipeline(&args.model, &prepared, &params)?;
    let (train, holdout) = if args.holdout > 0.0 {
        let s = if algorithm.task == Task::Classification {
            split::stratified_split(
                &data::read_f64(&prepared.table, &args.model.label).ml()?,
                args.holdout,
                args.seed,
            )
        } else {
            split::random_split(prepared.table.num_rows(), args.holdout, args.seed)
        }
        .ml()?;
        (
            data::take_rows(&prepared.table, &s.train).ml()?,
            Some(data::take_rows(&prepared.table, &s.test).ml()?),
        )
    } else {
        (prepared.table.clone(), None)
    };
    let started = Instant::now();
    let model = with_spinner(
        &format!("fitting {} on {} rows", algorithm.name, train.num_rows()),
        || estimator.fit(&train),
    )
    .ml()?;
    let fit_time = started.elapsed();
    let holdout_metrics = match &holdout {
        Some(h) => report(
            algorithm.task,
            &riffle_ml::Transformer::transform(&model, h).ml()?,
            &args.model.label,
        )?,
        None => BTreeMap::new(),
    };
    riffle_ml::save(&model, &args.out).ml()?;
    let card = ModelCard {
        algorithm: algorithm.name.to_string(),
        task: algorithm.task,
        label: args.model.label.clone(),
        features: prepared
            .numeric
            .iter()
            .chain(&prepared.text)
            .cloned()
            .collect(),
        label_values: prepared.label_values.clone(),
        params: params.into_iter().collect(),
        trained_rows: train.num_rows(),
        holdout_metrics: holdout_metrics.clone(),
    };
    card.save(&args.out).ml()?;
    eprintln!(
        "fitted {} on {} rows in {:.3} s; saved to {}",
        algorithm.name,
        train.num_rows(),
        fit_time.as_secs_f64(),
        args.out.display()
    );
    if holdout.is_some() {
        print_json(&holdout_metrics)?;
    }
    Ok(())
}

/// `riffle ml fit --algo als`: the label is the rating; `--features USER,ITEM` name the id
/// columns (default `user,item`).
fn fit_recommender(args: &FitArgs) -> Result<()> {
    let m = &args.model;
    let algorithm = algorithms::find(&m.algo).ml()?;
    let mut params = key_values(&m.params, "--param")?;
    params.push(("rating_col".into(), m.label.clone()));
    let ids = match m.features.as_slice() {
        [] => vec!["user".to_string(), "item".to_string()],
        [user, item] => vec![user.clone(), item.clone()],
        other => {
            return Err(RiffleError::Config(format!(
                "{} takes two id columns in --features (user,item), got {}",
                algorithm.name,
                other.join(",")
            )))
        }
    };
    params.push(("user_col".into(), ids[0].clone()));
    params.push(("item_col".into(), ids[1].clone()));
    let table = riffle_ml::io::read_table(&m.data).ml()?;
    let (train, holdout) = if args.holdout > 0.0 {
        let s = split::random_split(table.num_rows(), args.holdout, args.seed).ml()?;
        (
            data::take_rows(&table, &s.train).ml()?,
            Some(data::take_rows(&table, &s.test).ml()?),
        )
    } else {
        (table, None)
    };
    let estimator = algorithms::estimator(algorithm.name, &params).ml()?;
    let started = Instant::now();
    let model = with_spinner(
        &format!("fitting {} on {} rows", algorithm.name, train.num_rows()),
        || estimator.fit_boxed(&train),
    )
    .ml()?;
    let fit_time = started.elapsed();
    let pipeline = PipelineModel::from_stages(vec![model]);
    let holdout_metrics = match &holdout {
        Some(h) => report(
            algorithm.task,
            &riffle_ml::Transformer::transform(&pipeline, h).ml()?,
            &m.label,
        )?,
        None => BTreeMap::new(),
    };
    riffle_ml::save(&pipeline, &args.out).ml()?;
    ModelCard {
        algorithm: algorithm.name.to_string(),
        task: algorithm.task,
        label: m.label.clone(),
        features: ids,
        label_values: None,
        params: params.into_iter().collect(),
        trained_rows: train.num_rows(),
        holdout_metrics: holdout_metrics.clone(),
    }
    .save(&args.out)
    .ml()?;
    eprintln!(
        "fitted {} on {} rows in {:.3} s; saved to {}",
        algorithm.name,
        train.num_rows(),
        fit_time.as_secs_f64(),
        args.out.display()
    );
    if holdout.is_some() {
        print_json(&holdout_metrics)?;
    }
    Ok(())
}

/// `riffle ml fit -w N` / `-n N`: each worker reads its byte range of the CSV file and the
/// model is trained data-parallel (see `riffle_ml::distributed`); process 0 saves it.
fn fit_on_workers(args: &FitArgs, config: &ExecutionConfig) -> Result<()> {
    use riffle_ml::distributed::{self, PartitionedSource};
    let m = &args.model;
    let algorithm = algorithms::find(&m.algo).ml()?;
    if m.encode.is_some() || m.impute.is_some() || m.scale != Scale::None || args.holdout > 0.0 {
        return Err(RiffleError::Config(
            "data-parallel fitting (-w/-n above 1) takes numeric feature columns as they are: drop --encode, --impute, --scale and --holdout, or fit on one worker".into(),
        ));
    }
    let schema = riffle_ml::io::csv_schema(&m.data).ml()?;
    let features: Vec<String> = if m.features.is_empty() {
        schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| *n != m.label)
            .collect()
    } else {
        m.features.clone()
    };
    let mut params = key_values(&m.params, "--param")?;
    params.push(("label_col".into(), m.label.clone()));
    let source = PartitionedSource::CsvFile(m.data.clone());
    let started = Instant::now();
    let (model, rows): (Box<dyn Model>, usize) = match algorithm.name {
        "linear-regression" => {
            let t = distributed::fit_linear_regression(
                config,
                source,
                features.clone(),
                algorithms::configure(algorithm.name, &params).ml()?,
            )
            .ml()?;
            (Box::new(t.model), t.rows)
        }
        "logistic-regression" => {
            let t = distributed::fit_logistic_regression(
                config,
                source,
                features.clone(),
                algorithms::configure(algorithm.name, &params).ml()?,
            )
            .ml()?;
            (Box::new(t.model), t.rows)
        }
        other => {
            return Err(RiffleError::Config(format!(
                "{other} does not train data-parallel yet; fit it on one worker (without -w/-n)"
            )))
        }
    };
    eprintln!(
        "fitted {} on {rows} rows over {} workers in {:.3} s",
        algorithm.name,
        config.total_workers(),
        started.elapsed().as_secs_f64()
    );
    if config.process != 0 {
        return Ok(());
    }
    let names: Vec<&str> = features.iter().map(String::as_str).collect();
    let pipeline = PipelineModel::from_stages(vec![
        Box::new(VectorAssembler::new(&names, "features")),
        model,
    ]);
    riffle_ml::save(&pipeline, &args.out).ml()?;
    ModelCard {
        algorithm: algorithm.name.to_string(),
        task: algorithm.task,
        label: m.label.clone(),
        features,
        label_values: None,
        params: params
            .into_iter()
            .filter(|(k, _)| k != "label_col")
            .collect(),
        trained_rows: rows,
        holdout_metrics: BTreeMap::new(),
    }
    .save(&args.out)
    .ml()?;
    eprintln!("saved to {}", args.out.display());
    Ok(())
}

/// A saved model and its card.
fn load(dir: &Path) -> Result<(PipelineModel, ModelCard)> {
    let model: PipelineModel = riffle_ml::load(dir).ml()?;
    let card = ModelCard::load(dir).ml()?;
    Ok((model, card))
}

/// Text labels mapped to the class indices the model was trained on.
fn index_labels(card: &ModelCard, table: RecordBatch) -> Result<RecordBatch> {
    tabular::index_labels(card, table).ml()
}

fn predict(model_dir: &Path, data_path: &Path, out: Option<&Path>) -> Result<()> {
    let (model, card) = load(model_dir)?;
    let table = riffle_ml::io::read_table(data_path).ml()?;
    let scored = tabular::predict(&model, &card, &table).ml()?;
    match out {
        Some(path) => {
            riffle_ml::io::write_table(&scored, path).ml()?;
            eprintln!(
                "wrote {} scored rows to {}",
                scored.num_rows(),
                path.display()
            );
        }
        None => {
            let flat = riffle_ml::io::flatten_vectors(&scored).ml()?;
            let mut writer = riffle_ml::io::csv_writer(std::io::stdout());
            writer
                .write(&flat)
                .map_err(|e| RiffleError::Ml(e.to_string()))?;
        }
    }
    Ok(())
}

fn evaluate(model_dir: &Path, data_path: &Path) -> Result<()> {
    let (model, card) = load(model_dir)?;
    let table = riffle_ml::io::read_table(data_path).ml()?;
    let table = index_labels(&card, table)?;
    let scored = riffle_ml::Transformer::transform(&model, &table).ml()?;
    let metrics = report(card.task, &scored, &card.label)?;
    let mut out = serde_json::to_value(&metrics).map_err(|e| RiffleError::Ml(e.to_string()))?;
    if card.task == Task::Classification {
        // Rows are true labels, columns predicted ones, both in `labels` order.
        let y = data::read_f64(&scored, &card.label).ml()?;
        let predicted = data::read_f64(&scored, "prediction").ml()?;
        let matrix = riffle_ml::metrics::ConfusionMatrix::new(&y, &predicted).ml()?;
        let labels: Vec<serde_json::Value> = matrix
            .labels
            .iter()
            .map(|l| match &card.label_values {
                Some(text) => {
                    serde_json::Value::from(text.get(*l as usize).cloned().unwrap_or_default())
                }
                None => serde_json::Value::from(*l),
            })
            .collect();
        if let serde_json::Value::Object(map) = &mut out {
            map.insert(
                "confusion_matrix".into(),
                serde_json::json!({ "labels": labels, "counts": matrix.counts }),
            );
        }
    }
    print_json(&out)
}

/// The cartesian product of `--grid` axes over the fixed `--param`s.
fn grid_candidates(
    fixed: &[(String, String)],
    grid: &[String],
) -> Result<Vec<Vec<(String, String)>>> {
    let mut candidates = vec![fixed.to_vec()];
    for (name, list) in key_values(grid, "--grid")? {
        let values: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(RiffleError::Config(format!(
                "--grid {name}= lists no values"
            )));
        }
        candidates = candidates
            .into_iter()
            .flat_map(|c| {
                let name = name.clone();
                values.iter().map(move |v| {
                    let mut next = c.clone();
                    next.retain(|(k, _)| *k != name);
                    next.push((name.clone(), v.to_string()));
                    next
                })
            })
            .collect();
    }
    Ok(candidates)
}

#[derive(serde::Serialize)]
struct CvCandidate {
    params: BTreeMap<String, String>,
    mean: f64,
    std: f64,
    folds: Vec<f64>,
}

#[derive(serde::Serialize)]
struct CvReport {
    metric: &'static str,
    folds: usize,
    best: usize,
    candidates: Vec<CvCandidate>,
}

fn cv(args: &CvArgs) -> Result<()> {
    let algorithm = algorithms::find(&args.model.algo).ml()?;
    let fixed = key_values(&args.model.params, "--param")?;
    let table = riffle_ml::io::read_table(&args.model.data).ml()?;
    let prepared = prepare(&args.model, algorithm.task, table)?;
    let metric = match (&args.metric, algorithm.task) {
        (Some(name), _) => Metric::from_name(name).ml()?,
        (None, Task::Classification) => Metric::Accuracy,
        (None, _) => Metric::Rmse,
    };
    let candidates = grid_candidates(&fixed, &args.grid)?;
    let pipelines = candidates
        .iter()
        .map(|params| pipeline(&args.model, &prepared, params))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&dyn DynEstimator> = pipelines.iter().map(|p| p as &dyn DynEstimator).collect();
    let validator = CrossValidator {
        folds: args.folds,
        kind: if algorithm.task == Task::Classification {
            FoldKind::Stratified
        } else {
            FoldKind::Random
        },
        seed: args.seed,
        metric,
        columns: ScoredColumns {
            label: args.model.label.clone(),
            ..Default::default()
        },
    };
    let result = with_spinner(
        &format!("{} folds x {} candidates", args.folds, candidates.len()),
        || validator.evaluate(&refs, &prepared.table),
    )
    .ml()?;
    let report = CvReport {
        metric: metric.name(),
        folds: args.folds,
        best: result.best,
        candidates: candidates
            .iter()
            .enumerate()
            .map(|(c, params)| CvCandidate {
                params: params.iter().cloned().collect(),
                mean: result.mean[c],
                std: result.std[c],
                folds: result.scores[c].clone(),
            })
            .collect(),
    };
    print_json(&report)?;
    if let Some(out) = &args.out {
        let model = pipelines[result.best].fit(&prepared.table).ml()?;
        model.save(out).ml()?;
        ModelCard {
            algorithm: algorithm.name.to_string(),
            task: algorithm.task,
            label: args.model.label.clone(),
            features: prepared
                .numeric
                .iter()
                .chain(&prepared.text)
                .cloned()
                .collect(),
            label_values: prepared.label_values.clone(),
            params: candidates[result.best].iter().cloned().collect(),
            trained_rows: prepared.table.num_rows(),
            holdout_metrics: BTreeMap::new(),
        }
        .save(out)
        .ml()?;
        eprintln!(
            "saved the best candidate, refitted on all {} rows, to {}",
            prepared.table.num_rows(),
            out.display()
        );
    }
    Ok(())
}
