//! Online learning against River 0.26 on the same records: progressive-validation accuracy of
//! online logistic regression (SGD, AdaGrad, FTRL) and Gaussian naive Bayes on seeded SEA,
//! rotating-hyperplane and Agrawal streams, within 1 percentage point of River's, and the mean
//! absolute error of online linear regression on a Friedman stream, within 1% of River's
//! (`tests/reference/river.json`, written by `bench/ml/river_reference.py` from the CSV files
//! that the ignored test below writes).

use riffle_ml::online::forest::AdaptiveRandomForest;
use riffle_ml::online::hoeffding::HoeffdingTreeClassifier;
use riffle_ml::online::naive_bayes::{OnlineGaussianNb, OnlineMultinomialNb};
use riffle_ml::online::OnlineClassifier;
use riffle_ml::online::{
    progressive_accuracy, progressive_regression, streams, OnlineLinearRegression,
    OnlineLogisticRegression, Optimizer,
};
use serde_json::Value;

const REFERENCE: &str = include_str!("reference/river.json");

fn streams() -> Vec<(&'static str, riffle_ml::datasets::Dataset)> {
    vec![
        ("sea", streams::sea(20_000, 0.1, 17)),
        (
            "hyperplane",
            streams::hyperplane(20_000, 10, 0.001, 0.05, 18),
        ),
        ("agrawal", streams::agrawal(20_000, 1, 0.05, 19)),
        ("friedman", streams::friedman(20_000, 20)),
        ("bags", streams::bags(20_000, 20, 0.05, 21)),
    ]
}

fn optimizers() -> Vec<(&'static str, Optimizer)> {
    vec![
        ("sgd", Optimizer::Sgd { lr: 0.01 }),
        ("adagrad", Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 }),
        (
            "ftrl",
            Optimizer::Ftrl {
                alpha: 0.05,
                beta: 1.0,
                l1: 0.0,
                l2: 1.0,
            },
        ),
    ]
}

#[test]
#[ignore = "writes the stream CSV files for bench/ml/river_reference.py"]
fn write_stream_csvs() {
    let dir =
        std::env::var("RIFFLE_ML_REFERENCE_DIR").unwrap_or_else(|_| "/tmp/mlref-river".into());
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in streams() {
        riffle_ml::datasets::write_csv(
            &data.to_table().unwrap(),
            &std::path::Path::new(&dir).join(format!("{name}.csv")),
        )
        .unwrap();
    }
}

#[test]
fn progressive_accuracy_of_online_logistic_regression_matches_river() {
    for (stream, data) in streams()
        .into_iter()
        .filter(|(s, _)| ["sea", "hyperplane"].contains(s))
    {
        for (optimizer_name, optimizer) in optimizers() {
            let mut model = OnlineLogisticRegression::with_optimizer(optimizer);
            let score = progressive_accuracy(&mut model, &data.x, &data.y);
            let key = format!("{stream}/logistic-{optimizer_name}");
            let theirs = river(&key, "accuracy");
            println!(
                "{key:<28} riffle {:.4}  river {theirs:.4}  (majority baseline {:.4})",
                score.accuracy, score.baseline
            );
            assert!(
                (score.accuracy - theirs).abs() <= 0.01,
                "{key}: {} vs River's {theirs}",
                score.accuracy
            );
            assert!(
                score.accuracy > score.baseline + 0.05,
                "{key} must beat the majority baseline clearly"
            );
        }
    }
}

/// River's figure `metric` for `key` in tests/reference/river.json.
/// River's recorded result `key`.
fn river_entry(key: &str) -> Value {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    reference["results"][key].clone()
}

fn river(key: &str, metric: &str) -> f64 {
    river_entry(key)[metric]
        .as_f64()
        .unwrap_or_else(|| panic!("no reference {metric} for {key}"))
}

#[test]
fn progressive_accuracy_of_gaussian_naive_bayes_and_the_trees_matches_river() {
    for (stream, data) in streams()
        .into_iter()
        .filter(|(s, _)| !["friedman", "bags"].contains(s))
    {
        for (name, mut model) in [
            (
                "gaussian-nb",
                Box::new(OnlineGaussianNb::default()) as Box<dyn OnlineClassifier>,
            ),
            (
                "hoeffding-tree",
                Box::new(HoeffdingTreeClassifier::default()),
            ),
        ] {
            let score = progressive_accuracy(&mut model, &data.x, &data.y);
            let key = format!("{stream}/{name}");
            let theirs = river(&key, "accuracy");
            println!(
                "{key:<28} riffle {:.4}  river {theirs:.4}  (majority baseline {:.4})",
                score.accuracy, score.baseline
            );
            assert!(
                (score.accuracy - theirs).abs() <= 0.01,
                "{key}: {} vs River's {theirs}",
                score.accuracy
            );
            // Agrawal's function 1 (salary bands per age band) is hard for a Gaussian per class:
            // both River and Riffle beat the majority only slightly there.
            assert!(score.accuracy > score.baseline, "{key}");
        }
    }
}

#[test]
fn progressive_accuracy_of_the_adaptive_random_forest_is_near_rivers_over_the_same_seeds() {
    // A forest's accuracy moves with its seed, and the two libraries' random streams differ:
    // the means over the same seeds are compared. On Agrawal one seed's accuracy spreads over
    // 5 points (standard deviation 1.1 points in River, 1.5 in Riffle), so a mean over five
    // seeds is itself uncertain by about a point: twenty seeds there (River's five-seed mean
    // was 1.7 points above Riffle's; over twenty the means are 0.4 point apart).
    for (stream, data) in streams()
        .into_iter()
        .filter(|(s, _)| ["sea", "hyperplane", "agrawal"].contains(s))
    {
        let key = format!("{stream}/adaptive-random-forest");
        let seeds: Vec<u64> = river_entry(&key)["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap())
            .collect();
        let mut sum = 0.0;
        for &seed in &seeds {
            let mut forest = AdaptiveRandomForest::new(10, seed);
            sum += progressive_accuracy(&mut forest, &data.x, &data.y).accuracy;
        }
        let ours = sum / seeds.len() as f64;
        let theirs = river(&key, "accuracy");
        println!(
            "{key:<34} riffle {ours:.4}  river {theirs:.4} (means over {} seeds)",
            seeds.len()
        );
        assert!(
            (ours - theirs).abs() <= 0.01,
            "{key}: {ours} vs River's {theirs}"
        );
    }
}

#[test]
fn progressive_accuracy_of_multinomial_naive_bayes_matches_river_on_word_counts() {
    let (_, data) = streams().into_iter().find(|(s, _)| *s == "bags").unwrap();
    let mut model = OnlineMultinomialNb::default();
    let score = progressive_accuracy(&mut model, &data.x, &data.y);
    let theirs = river("bags/multinomial-nb", "accuracy");
    println!(
        "bags/multinomial-nb riffle {:.4} river {theirs:.4}",
        score.accuracy
    );
    assert!(
        (score.accuracy - theirs).abs() <= 0.01,
        "{} vs {theirs}",
        score.accuracy
    );
    assert!(score.accuracy > score.baseline + 0.2);
}

#[test]
fn progressive_error_of_online_linear_regression_matches_river() {
    let (_, data) = streams()
        .into_iter()
        .find(|(s, _)| *s == "friedman")
        .unwrap();
    for (optimizer_name, optimizer) in [
        ("sgd", Optimizer::Sgd { lr: 0.01 }),
        ("adagrad", Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 }),
    ] {
        let mut model = OnlineLinearRegression::with_optimizer(optimizer);
        let score = progressive_regression(&mut model, &data.x, &data.y);
        let key = format!("friedman/linear-{optimizer_name}");
        let theirs = river(&key, "mae");
        println!(
            "{key:<28} riffle MAE {:.4}  river {theirs:.4}  (running-mean baseline {:.4})",
            score.mae, score.baseline_mae
        );
        assert!(
            (score.mae - theirs).abs() <= 0.01 * theirs,
            "{key}: MAE {} vs River's {theirs}",
            score.mae
        );
        assert!(score.mae < 0.75 * score.baseline_mae, "{key}");
    }
}

#[test]
fn progressive_error_of_the_hoeffding_tree_regressor_matches_river() {
    let (_, data) = streams()
        .into_iter()
        .find(|(s, _)| *s == "friedman")
        .unwrap();
    let mut model = riffle_ml::online::hoeffding_regressor::HoeffdingTreeRegressor::default();
    let score = progressive_regression(&mut model, &data.x, &data.y);
    let theirs = river("friedman/hoeffding-tree-regressor", "mae");
    println!(
        "hoeffding-tree-regressor riffle MAE {:.6}  river {theirs:.6}  ({} leaves; running-mean \
         baseline {:.4})",
        score.mae,
        model.leaves(),
        score.baseline_mae
    );
    assert!(
        (score.mae - theirs).abs() < 1e-4,
        "MAE {} vs River's {theirs}",
        score.mae
    );
}

#[test]
fn a_table_learner_with_running_standardisation_matches_rivers_pipeline() {
    use riffle_ml::online::table::OnlineLogisticRegressionEstimator;
    use riffle_ml::Estimator;
    let (_, data) = streams().into_iter().find(|(s, _)| *s == "sea").unwrap();
    let table = riffle_ml::data::with_column(
        &riffle_ml::data::float_table(vec![("label", data.y.clone())]).unwrap(),
        "features",
        riffle_ml::data::vector_array(&data.x).unwrap(),
    )
    .unwrap();
    // River's pipeline scores a row with the scaler as it was, then learns it.
    let model = OnlineLogisticRegressionEstimator {
        standardize: true,
        ..Default::default()
    }
    .fit(&table)
    .unwrap();
    let ours = model.progressive_metrics()["progressive_accuracy"];
    let theirs = river("sea/scaled-logistic-sgd", "accuracy");
    assert!((ours - theirs).abs() < 1e-4, "{ours} vs River's {theirs}");
}
