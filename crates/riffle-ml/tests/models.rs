//! Saving and loading, leakage-free model selection, and refusal of bad input, on the real
//! APIs and real files.

use std::sync::{Arc, Mutex};

use arrow_array::{Float64Array, RecordBatch};
use riffle_ml::datasets::{self, Classification, Regression};
use riffle_ml::evaluation::Metric;
use riffle_ml::feature::{
    HandleInvalid, Imputer, ImputerStrategy, MinMaxScaler, OneHotEncoder, StandardScaler,
    StringIndexer, VectorAssembler,
};
use riffle_ml::linear::{LinearRegression, LinearSolver, LogisticRegression};
use riffle_ml::tuning::{CrossValidator, FoldKind, ParamGrid};
use riffle_ml::{data, DynEstimator, Estimator, Model, Pipeline, PipelineModel, Transformer};

fn binary(n: usize, seed: u64) -> RecordBatch {
    Classification {
        n_samples: n,
        n_features: 6,
        n_informative: 4,
        n_redundant: 1,
        seed,
        ..Default::default()
    }
    .generate()
    .unwrap()
    .to_vector_table()
    .unwrap()
}

#[test]
fn every_saved_model_loads_and_predicts_bit_for_bit_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let churn = datasets::customers(800, 3).unwrap();
    let numeric: Vec<String> = ["age", "income", "visits", "tenure_months"]
        .map(String::from)
        .to_vec();
    let text: Vec<String> = ["city", "plan"].map(String::from).to_vec();
    let pipeline = Pipeline::new()
        .estimator(Imputer {
            input_cols: numeric.clone(),
            output_cols: numeric.clone(),
            strategy: ImputerStrategy::Mean,
            fill_value: None,
        })
        .estimator(Imputer {
            input_cols: vec!["city".into()],
            output_cols: vec!["city".into()],
            strategy: ImputerStrategy::MostFrequent,
            fill_value: None,
        })
        .estimator(StringIndexer {
            input_cols: vec!["plan".into()],
            output_cols: vec!["plan_index".into()],
            ..Default::default()
        })
        .estimator(OneHotEncoder {
            input_cols: text.clone(),
            output_cols: vec!["city_vec".into(), "plan_vec".into()],
            handle_invalid: HandleInvalid::Keep,
            ..Default::default()
        })
        .model(VectorAssembler::new(
            &[
                "age",
                "income",
                "visits",
                "tenure_months",
                "plan_index",
                "city_vec",
                "plan_vec",
            ],
            "raw",
        ))
        .estimator(MinMaxScaler {
            input_col: "raw".into(),
            output_col: "features".into(),
            ..Default::default()
        })
        .estimator(LogisticRegression {
            label_col: "churn".into(),
            reg_param: 1e-3,
            ..Default::default()
        });
    let model = pipeline.fit(&churn).unwrap();
    model.save(&dir.path().join("churn")).unwrap();
    let loaded: PipelineModel = riffle_ml::load(&dir.path().join("churn")).unwrap();
    let before = model.transform(&churn).unwrap();
    let after = loaded.transform(&churn).unwrap();
    assert_eq!(
        before, after,
        "a loaded pipeline must give identical output"
    );
    // Also through the untyped loader.
    let any = riffle_ml::load_model(&dir.path().join("churn")).unwrap();
    assert_eq!(any.transform(&churn).unwrap(), before);

    let reg = Regression {
        n_samples: 300,
        n_features: 5,
        n_informative: 3,
        noise: 1.0,
        seed: 9,
        ..Default::default()
    }
    .generate()
    .unwrap()
    .to_vector_table()
    .unwrap();
    for solver in [LinearSolver::ClosedForm, LinearSolver::Sgd] {
        let m = LinearRegression {
            solver,
            ..Default::default()
        }
        .fit(&reg)
        .unwrap();
        let path = dir.path().join(format!("{solver:?}"));
        m.save(&path).unwrap();
        let back: riffle_ml::linear::LinearRegressionModel = riffle_ml::load(&path).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.transform(&reg).unwrap(), m.transform(&reg).unwrap());
    }
    let scaler = StandardScaler::default().fit(&reg).unwrap();
    scaler.save(&dir.path().join("scaler")).unwrap();
    let back: riffle_ml::feature::ScalerModel =
        riffle_ml::load(&dir.path().join("scaler")).unwrap();
    assert_eq!(back, scaler);
}

#[test]
fn model_directories_from_another_format_or_kind_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let table = binary(200, 1);
    let model = LogisticRegression::default().fit(&table).unwrap();
    let path = dir.path().join("m");
    model.save(&path).unwrap();
    let err = riffle_ml::load::<riffle_ml::linear::LinearRegressionModel>(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds a LogisticRegressionModel, not a LinearRegressionModel"),
        "{err}"
    );
    let metadata = std::fs::read_to_string(path.join("metadata.json")).unwrap();
    std::fs::write(
        path.join("metadata.json"),
        metadata.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let err = riffle_ml::load_model(&path).err().unwrap().to_string();
    assert!(
        err.contains("format version 99") && err.contains("reads version 1"),
        "{err}"
    );
    let err = riffle_ml::load_model(&dir.path().join("nothing"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("nothing") && err.contains("metadata.json"),
        "{err}"
    );
    std::fs::remove_file(path.join("data/coefficients.parquet")).unwrap();
    std::fs::write(path.join("metadata.json"), metadata).unwrap();
    let err = riffle_ml::load_model(&path).err().unwrap().to_string();
    assert!(err.contains("coefficients.parquet"), "{err}");
}

/// A scaler that records the rows it was fitted on, to prove where its statistics came from.
struct Spy {
    seen: Arc<Mutex<Vec<Vec<f64>>>>,
}

impl Estimator for Spy {
    type Model = riffle_ml::feature::ScalerModel;

    fn fit(&self, table: &RecordBatch) -> riffle_ml::Result<Self::Model> {
        self.seen
            .lock()
            .unwrap()
            .push(data::read_f64(table, "row_id")?);
        StandardScaler {
            input_col: "raw".into(),
            output_col: "features".into(),
            ..Default::default()
        }
        .fit(table)
    }
}

#[test]
fn cross_validation_fits_the_whole_pipeline_inside_each_fold_so_no_validation_row_leaks() {
    let table = binary(500, 2);
    let ids: Vec<f64> = (0..table.num_rows()).map(|i| i as f64).collect();
    let table = data::with_column(&table, "row_id", Arc::new(Float64Array::from(ids))).unwrap();
    let table = data::with_column(
        &table,
        "raw",
        table.column_by_name("features").unwrap().clone(),
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let pipeline = Pipeline::new()
        .estimator(Spy {
            seen: Arc::clone(&seen),
        })
        .estimator(LogisticRegression {
            reg_param: 1e-3,
            ..Default::default()
        });
    let cv = CrossValidator::new(5, FoldKind::Stratified, Metric::Accuracy);
    let result = cv
        .evaluate(&[&pipeline as &dyn DynEstimator], &table)
        .unwrap();
    let fits = seen.lock().unwrap().clone();
    assert_eq!(fits.len(), 5, "one scaler fit per fold");
    let mut validated = vec![0usize; 500];
    for rows in &fits {
        assert!(
            rows.len() >= 398 && rows.len() <= 402,
            "a fold trains on 4/5 of the rows, got {}",
            rows.len()
        );
        let mut trained = vec![false; 500];
        for r in rows {
            trained[*r as usize] = true;
        }
        // The rows left out of this fit are exactly this fold's validation rows.
        for (i, t) in trained.iter().enumerate() {
            if !t {
                validated[i] += 1;
            }
        }
    }
    assert!(
        validated.iter().all(|v| *v == 1),
        "each row is validated exactly once, never seen by its fold's scaler"
    );
    assert!(result.mean[0] > 0.7, "{result:?}");
}

#[test]
fn a_param_grid_picks_the_better_candidate_by_cross_validation() {
    let table = binary(600, 5);
    let grid =
        ParamGrid::new(LogisticRegression::default()).axis(&[1e-4, 10.0], |m, v| m.reg_param = v);
    let candidates: Vec<&dyn DynEstimator> = grid
        .candidates()
        .iter()
        .map(|c| c as &dyn DynEstimator)
        .collect();
    let cv = CrossValidator::new(4, FoldKind::Stratified, Metric::RocAuc);
    let (result, model) = cv.fit(&candidates, &table).unwrap();
    // A penalty of 10 shrinks the coefficients to nearly nothing; its AUC can still be fine but
    // its log loss cannot: check the choice by log loss too.
    let by_loss = CrossValidator::new(4, FoldKind::Stratified, Metric::LogLoss)
        .evaluate(&candidates, &table)
        .unwrap();
    assert_eq!(by_loss.best, 0, "{by_loss:?}");
    assert!(by_loss.mean[0] < by_loss.mean[1]);
    assert!(result.scores.iter().all(|s| s.len() == 4));
    assert!(model.transform(&table).unwrap().num_rows() == 600);
}

#[test]
fn bad_input_is_refused_with_the_place_named_never_a_panic_or_a_nan_model() {
    let table = binary(100, 3);
    // Empty table.
    let empty = table.slice(0, 0);
    let err = LogisticRegression::default()
        .fit(&empty)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no rows"), "{err}");
    // A single class.
    let ones = data::with_column(
        &table,
        "label",
        Arc::new(Float64Array::from(vec![1.0; 100])),
    )
    .unwrap();
    let err = LogisticRegression::default()
        .fit(&ones)
        .unwrap_err()
        .to_string();
    assert!(err.contains("single class"), "{err}");
    // NaN and infinity in features and labels.
    let t = data::float_table(vec![
        ("a", vec![1.0, f64::NAN, 3.0]),
        ("label", vec![0.0, 1.0, 0.0]),
    ])
    .unwrap();
    let err = VectorAssembler::new(&["a"], "features")
        .transform(&t)
        .unwrap_err()
        .to_string();
    assert!(err.contains("column `a`") && err.contains("row 1"), "{err}");
    let t = data::float_table(vec![
        ("a", vec![1.0, 2.0, 3.0]),
        ("label", vec![0.0, f64::INFINITY, 1.0]),
    ])
    .unwrap();
    let t = VectorAssembler::new(&["a"], "features")
        .transform(&t)
        .unwrap();
    let err = LinearRegression::default().fit(&t).unwrap_err().to_string();
    assert!(
        err.contains("`label`") && err.contains("inf") && err.contains("row 1"),
        "{err}"
    );
    // Feature count differs at predict time.
    let model = LogisticRegression::default().fit(&table).unwrap();
    let narrow = VectorAssembler::new(&["a"], "features")
        .transform(&data::float_table(vec![("a", vec![1.0])]).unwrap())
        .unwrap();
    let err = model.transform(&narrow).unwrap_err().to_string();
    assert!(
        err.contains("fitted on 6 features") && err.contains("has 1"),
        "{err}"
    );
    // Parameters out of range name the parameter.
    let err = LogisticRegression {
        elastic_net: 2.0,
        ..Default::default()
    }
    .fit(&table)
    .unwrap_err()
    .to_string();
    assert!(err.contains("`elastic_net`"), "{err}");
    let err = LogisticRegression {
        elastic_net: 1.0,
        reg_param: 0.1,
        solver: riffle_ml::linear::LogisticSolver::Lbfgs,
        ..Default::default()
    }
    .fit(&table)
    .unwrap_err()
    .to_string();
    assert!(err.contains("`solver`") && err.contains("L1"), "{err}");
    // A diverging SGD is an error, not a model of NaN.
    let reg = Regression {
        n_samples: 200,
        n_features: 3,
        n_informative: 3,
        seed: 1,
        ..Default::default()
    }
    .generate()
    .unwrap()
    .to_vector_table()
    .unwrap();
    let err = LinearRegression {
        solver: LinearSolver::Sgd,
        learning_rate: 1e6,
        ..Default::default()
    }
    .fit(&reg)
    .unwrap_err()
    .to_string();
    assert!(err.contains("diverged"), "{err}");
}

#[test]
fn an_unfitted_estimator_saves_and_loads_with_its_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let table = binary(300, 7);
    let estimator = LogisticRegression {
        reg_param: 0.3,
        max_iter: 40,
        ..Default::default()
    };
    riffle_ml::algorithms::save_estimator(dir.path(), "logistic-regression", &estimator).unwrap();
    let (name, loaded) = riffle_ml::algorithms::load_estimator(dir.path()).unwrap();
    assert_eq!(name, "logistic-regression");
    let a = estimator.fit(&table).unwrap().transform(&table).unwrap();
    let b = loaded.fit_boxed(&table).unwrap().transform(&table).unwrap();
    assert_eq!(a, b, "the loaded estimator fits the same model");
    // A parameter struct of another algorithm is refused when saving.
    let err = riffle_ml::algorithms::save_estimator(dir.path(), "kmeans", &estimator)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no parameter"), "{err}");
}

#[test]
fn an_unfitted_pipeline_saves_and_loads_then_fits_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let churn = datasets::customers(600, 12).unwrap();
    let numeric: Vec<String> = ["age", "income", "visits", "tenure_months"]
        .map(String::from)
        .to_vec();
    let build = || {
        Pipeline::new()
            .algorithm(
                "imputer",
                &Imputer {
                    input_cols: numeric.clone(),
                    output_cols: numeric.clone(),
                    strategy: ImputerStrategy::Median,
                    fill_value: None,
                },
            )
            .unwrap()
            .algorithm(
                "one-hot-encoder",
                &OneHotEncoder {
                    input_cols: vec!["plan".into()],
                    output_cols: vec!["plan_vec".into()],
                    ..Default::default()
                },
            )
            .unwrap()
            .model(VectorAssembler::new(
                &["age", "income", "visits", "tenure_months", "plan_vec"],
                "raw",
            ))
            .algorithm(
                "standard-scaler",
                &StandardScaler {
                    input_col: "raw".into(),
                    output_col: "features".into(),
                    ..Default::default()
                },
            )
            .unwrap()
            .algorithm(
                "logistic-regression",
                &LogisticRegression {
                    label_col: "churn".into(),
                    reg_param: 0.01,
                    ..Default::default()
                },
            )
            .unwrap()
    };
    build().save(&dir.path().join("unfitted")).unwrap();
    let loaded = Pipeline::load(&dir.path().join("unfitted")).unwrap();
    assert_eq!(loaded.stages().len(), 5);
    let expected = build().fit(&churn).unwrap().transform(&churn).unwrap();
    assert_eq!(
        loaded.fit(&churn).unwrap().transform(&churn).unwrap(),
        expected
    );
    // A stage without an algorithm name cannot be saved.
    let unnamed = Pipeline::new().estimator(LogisticRegression::default());
    let err = unnamed
        .save(&dir.path().join("unnamed"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("stage 0") && err.contains("Pipeline::algorithm"),
        "{err}"
    );
}
