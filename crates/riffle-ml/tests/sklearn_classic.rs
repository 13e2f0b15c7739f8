//! Accuracy of the classic models against scikit-learn: naive Bayes, nearest neighbours,
//! k-means and the linear SVM are fitted on the reference data sets (regenerated here from
//! their seeds, see `riffle_ml::suite`) and their test-set metrics compared with the numbers
//! scikit-learn recorded on the same rows (`tests/reference/sklearn_classic.json`, written by
//! `bench/ml/reference_classic.py`). Accuracy, F1 and AUC must be within 0.01, R² within
//! 0.01; k-means' inertia within 1% and its agreement with the true blobs (adjusted Rand
//! index) and silhouette within 0.01.

use std::collections::{BTreeMap, HashMap};

use arrow_array::RecordBatch;
use riffle_ml::classes;
use riffle_ml::cluster::KMeans;
use riffle_ml::evaluation::{self, ScoredColumns};
use riffle_ml::feature::{MinMaxScaler, VectorAssembler};
use riffle_ml::naive_bayes::{GaussianNaiveBayes, MultinomialNaiveBayes};
use riffle_ml::neighbors::{
    KNearestNeighborsClassifier, KNearestNeighborsRegressor, NeighborWeights,
};
use riffle_ml::suite::{self, ReferenceDataset};
use riffle_ml::svm::LinearSVC;
use riffle_ml::{data, metrics, Estimator, Pipeline, Transformer};
use serde_json::Value;

const REFERENCE: &str = include_str!("reference/sklearn_classic.json");

fn reference(case: &str) -> BTreeMap<String, f64> {
    let all: Value = serde_json::from_str(REFERENCE).unwrap();
    let results = &all["results"][case];
    assert!(results.is_object(), "no reference numbers for {case}");
    results
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
        .collect()
}

fn dataset(name: &str) -> ReferenceDataset {
    suite::reference_datasets()
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap()
}

/// The test rows scored by `pipeline` fitted on the training rows.
fn scored(d: &ReferenceDataset, pipeline: &Pipeline) -> RecordBatch {
    let model = pipeline.fit(&d.train).unwrap();
    model.transform(&d.test).unwrap()
}

/// The feature columns assembled into `output`.
fn assembler(d: &ReferenceDataset, output: &str) -> VectorAssembler {
    let names: Vec<&str> = d.features.iter().map(String::as_str).collect();
    VectorAssembler::new(&names, output)
}

fn classification(d: &ReferenceDataset, pipeline: &Pipeline) -> BTreeMap<String, f64> {
    let columns = ScoredColumns {
        label: d.label.to_string(),
        ..Default::default()
    };
    evaluation::classification_report(&scored(d, pipeline), &columns).unwrap()
}

/// Asserts that every metric named in `metrics` is within `tolerance` of scikit-learn's.
fn compare(case: &str, ours: &BTreeMap<String, f64>, metrics: &[&str], tolerance: f64) {
    let theirs = reference(case);
    for metric in metrics {
        let (a, b) = (ours[*metric], theirs[*metric]);
        println!("{case:<30} {metric:<16} riffle {a:.4}  scikit-learn {b:.4}");
        assert!(
            (a - b).abs() <= tolerance,
            "{case}: {metric} {a} vs scikit-learn's {b} (tolerance {tolerance})"
        );
    }
}

const BINARY: &[&str] = &["accuracy", "f1", "f1_macro", "roc_auc"];
const MULTICLASS: &[&str] = &["accuracy", "f1_macro", "roc_auc"];

#[test]
fn gaussian_naive_bayes_matches_scikit_learn() {
    for (name, metrics) in [("binary", BINARY), ("multiclass", MULTICLASS)] {
        let d = dataset(name);
        let pipeline = Pipeline::new()
            .model(assembler(&d, "features"))
            .estimator(GaussianNaiveBayes::default());
        compare(
            &format!("{name}/gaussian-nb"),
            &classification(&d, &pipeline),
            metrics,
            0.01,
        );
    }
}

#[test]
fn multinomial_naive_bayes_on_min_max_scaled_features_matches_scikit_learn() {
    let d = dataset("binary");
    let pipeline = Pipeline::new()
        .model(assembler(&d, "raw"))
        .estimator(MinMaxScaler {
            input_col: "raw".into(),
            output_col: "features".into(),
            ..Default::default()
        })
        .estimator(MultinomialNaiveBayes::default());
    compare(
        "binary/multinomial-nb",
        &classification(&d, &pipeline),
        BINARY,
        0.01,
    );
}

#[test]
fn nearest_neighbours_match_scikit_learn() {
    let d = dataset("binary");
    let pipeline =
        Pipeline::new()
            .model(assembler(&d, "features"))
            .estimator(KNearestNeighborsClassifier {
                k: 15,
                ..Default::default()
            });
    compare(
        "binary/knn-15",
        &classification(&d, &pipeline),
        BINARY,
        0.01,
    );

    let d = dataset("regression");
    let pipeline =
        Pipeline::new()
            .model(assembler(&d, "features"))
            .estimator(KNearestNeighborsRegressor {
                k: 15,
                weights: NeighborWeights::Distance,
                ..Default::default()
            });
    let columns = ScoredColumns::default();
    let report = evaluation::regression_report(&scored(&d, &pipeline), &columns).unwrap();
    compare("regression/knn-15-distance", &report, &["r2"], 0.01);
}

/// Adjusted Rand index of two labellings (scikit-learn's `adjusted_rand_score`).
fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let choose2 = |n: f64| n * (n - 1.0) / 2.0;
    let mut pairs: HashMap<(usize, usize), f64> = HashMap::new();
    let mut rows: HashMap<usize, f64> = HashMap::new();
    let mut cols: HashMap<usize, f64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *pairs.entry((x, y)).or_default() += 1.0;
        *rows.entry(x).or_default() += 1.0;
        *cols.entry(y).or_default() += 1.0;
    }
    let index: f64 = pairs.values().map(|&n| choose2(n)).sum();
    let sum_rows: f64 = rows.values().map(|&n| choose2(n)).sum();
    let sum_cols: f64 = cols.values().map(|&n| choose2(n)).sum();
    let expected = sum_rows * sum_cols / choose2(a.len() as f64);
    let max = (sum_rows + sum_cols) / 2.0;
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[test]
fn adjusted_rand_index_is_one_for_renamed_clusters_and_low_for_unrelated_ones() {
    assert_eq!(adjusted_rand_index(&[0, 0, 1, 1, 2], &[5, 5, 3, 3, 4]), 1.0);
    // scikit-learn: adjusted_rand_score([0, 0, 1, 1], [0, 1, 0, 1]) == -0.5.
    assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]) + 0.5).abs() < 1e-12);
}

#[test]
fn k_means_matches_scikit_learn_on_the_blobs() {
    let d = dataset("blobs");
    let assemble = assembler(&d, "features");
    let train = assemble.transform(&d.train).unwrap();
    let test = assemble.transform(&d.test).unwrap();
    let model = KMeans {
        k: 5,
        n_init: 1,
        seed: 0,
        ..Default::default()
    }
    .fit(&train)
    .unwrap();
    let truth = |t: &RecordBatch| -> Vec<usize> {
        data::read_f64(t, "label")
            .unwrap()
            .iter()
            .map(|v| *v as usize)
            .collect()
    };
    let x_train = data::read_vectors(&train, "features").unwrap();
    let x_test = data::read_vectors(&test, "features").unwrap();
    let test_clusters = model.predict(&x_test);
    let ours = BTreeMap::from([
        (
            "ari_train".to_string(),
            adjusted_rand_index(&model.predict(&x_train), &truth(&train)),
        ),
        (
            "ari_test".to_string(),
            adjusted_rand_index(&test_clusters, &truth(&test)),
        ),
        (
            "silhouette_test".to_string(),
            metrics::silhouette(&x_test, &test_clusters).unwrap(),
        ),
    ]);
    compare(
        "blobs/kmeans-5",
        &ours,
        &["ari_train", "ari_test", "silhouette_test"],
        0.01,
    );
    let theirs = reference("blobs/kmeans-5")["inertia"];
    println!(
        "{:<30} {:<16} riffle {:.2}  scikit-learn {theirs:.2}",
        "blobs/kmeans-5", "inertia", model.inertia
    );
    assert!(
        (model.inertia - theirs).abs() <= 0.01 * theirs,
        "inertia {} vs scikit-learn's {theirs}",
        model.inertia
    );
}

/// Classification metrics of a `LinearSVC` from its decision values: AUC of the larger
/// label's score when binary, else the unweighted mean of the one-vs-rest AUCs.
fn svc_scores(d: &ReferenceDataset) -> BTreeMap<String, f64> {
    let pipeline = Pipeline::new()
        .model(assembler(d, "features"))
        .estimator(LinearSVC::default());
    let table = scored(d, &pipeline);
    let columns = ScoredColumns::default();
    let mut report = evaluation::classification_report(&table, &columns).unwrap();
    let y = data::read_f64(&table, "label").unwrap();
    let (raw, classes) = classes::read_probabilities(&table, "raw_prediction").unwrap();
    let auc = |j: usize| {
        let positive: Vec<f64> = y
            .iter()
            .map(|v| f64::from(*v == classes.label(j)))
            .collect();
        metrics::roc_auc(&positive, &raw.column(j)).unwrap()
    };
    let roc_auc = if classes.len() == 2 {
        auc(1)
    } else {
        (0..classes.len()).map(auc).sum::<f64>() / classes.len() as f64
    };
    report.insert("roc_auc".into(), roc_auc);
    report
}

#[test]
fn linear_svc_matches_scikit_learn() {
    for (name, metrics) in [("binary", BINARY), ("multiclass", MULTICLASS)] {
        let d = dataset(name);
        compare(
            &format!("{name}/linear-svc"),
            &svc_scores(&d),
            metrics,
            0.01,
        );
    }
}
