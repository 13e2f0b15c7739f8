//! Data-parallel fitting over runtime workers reproduces the fit in one place, and a worker
//! that fails stops all of them with its error instead of leaving them waiting.

use std::sync::Arc;

use riffle_ml::cluster::KMeans;
use riffle_ml::datasets::{self, Blobs, Classification, Regression};
use riffle_ml::distributed::{self, PartitionedSource};
use riffle_ml::linear::{LinearRegression, LinearSolver, LogisticRegression};
use riffle_runtime::ExecutionConfig;

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-7 * y.abs().max(1.0),
            "{what}: {a:?} vs {b:?}"
        );
    }
}

#[test]
fn logistic_regression_on_1_2_and_3_workers_equals_the_fit_in_one_place() {
    let dir = tempfile::tempdir().unwrap();
    let data = Classification {
        n_samples: 3000,
        n_features: 8,
        n_informative: 5,
        n_classes: 3,
        n_clusters_per_class: 1,
        seed: 11,
        ..Default::default()
    }
    .generate()
    .unwrap();
    let table = data.to_table().unwrap();
    let path = dir.path().join("train.csv");
    datasets::write_csv(&table, &path).unwrap();
    let features: Vec<String> = (0..8).map(|j| format!("f{j}")).collect();
    let estimator = LogisticRegression {
        reg_param: 1e-3,
        max_iter: 200,
        tol: 1e-10,
        ..Default::default()
    };
    let reference = distributed::fit_in_one_place(&table, &features, &estimator).unwrap();
    for workers in [1, 2, 3] {
        let model = distributed::fit_logistic_regression(
            &ExecutionConfig::threads(workers),
            PartitionedSource::CsvFile(path.clone()),
            features.clone(),
            estimator.clone(),
        )
        .unwrap();
        assert_eq!(model.rows, 3000);
        let model = model.model;
        assert_eq!(model.classes, reference.classes);
        close(
            model.coefficients.as_slice(),
            reference.coefficients.as_slice(),
            &format!("{workers} workers"),
        );
        close(
            &model.intercepts,
            &reference.intercepts,
            &format!("{workers} workers"),
        );
    }
}

#[test]
fn linear_regression_by_closed_form_and_lbfgs_on_workers_equals_the_fit_in_one_place() {
    let data = Regression {
        n_samples: 2000,
        n_features: 6,
        n_informative: 4,
        noise: 2.0,
        bias: 5.0,
        seed: 3,
    }
    .generate()
    .unwrap();
    let table = data.to_table().unwrap();
    // Partitions of uneven size, dealt round-robin to the workers.
    let tables = Arc::new(vec![
        table.slice(0, 700),
        table.slice(700, 100),
        table.slice(800, 1200),
    ]);
    let features: Vec<String> = (0..6).map(|j| format!("f{j}")).collect();
    for solver in [
        LinearSolver::ClosedForm,
        LinearSolver::Lbfgs,
        LinearSolver::GradientDescent,
    ] {
        let estimator = LinearRegression {
            solver,
            reg_param: 0.01,
            max_iter: 500,
            tol: 1e-10,
            ..Default::default()
        };
        let reference = distributed::fit_in_one_place(&table, &features, &estimator).unwrap();
        for workers in [2, 3] {
            let model = distributed::fit_linear_regression(
                &ExecutionConfig::threads(workers),
                PartitionedSource::Tables(Arc::clone(&tables)),
                features.clone(),
                estimator.clone(),
            )
            .unwrap();
            assert_eq!(model.rows, 2000);
            let model = model.model;
            let label = format!("{solver:?} on {workers} workers");
            close(&model.coefficients, &reference.coefficients, &label);
            close(&[model.intercept], &[reference.intercept], &label);
        }
    }
}

#[test]
fn a_failing_worker_fails_every_worker_with_its_error() {
    let good = riffle_ml::data::float_table(vec![
        ("f0", vec![1.0, 2.0, 3.0]),
        ("label", vec![0.0, 1.0, 0.0]),
    ])
    .unwrap();
    let bad =
        riffle_ml::data::float_table(vec![("f0", vec![1.0, f64::NAN]), ("label", vec![1.0, 0.0])])
            .unwrap();
    let err = distributed::fit_logistic_regression(
        &ExecutionConfig::threads(2),
        PartitionedSource::Tables(Arc::new(vec![good, bad])),
        vec!["f0".into()],
        LogisticRegression::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("worker 1") && err.contains("column `f0`") && err.contains("row 1"),
        "{err}"
    );
    let err = distributed::fit_linear_regression(
        &ExecutionConfig::threads(2),
        PartitionedSource::CsvFile("/nonexistent/train.csv".into()),
        vec!["f0".into()],
        LinearRegression::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/train.csv"), "{err}");
    let err = distributed::fit_linear_regression(
        &ExecutionConfig::threads(2),
        PartitionedSource::CsvFile("/nonexistent/train.csv".into()),
        vec!["f0".into()],
        LinearRegression {
            solver: LinearSolver::Sgd,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`solver`"), "{err}");
}

#[test]
fn kmeans_on_workers_finds_the_clusters_of_the_fit_in_one_place_whatever_the_split() {
    let data = Blobs {
        n_samples: 6000,
        n_features: 4,
        centers: 5,
        cluster_std: 1.0,
        center_box: (-10.0, 10.0),
        seed: 21,
    }
    .generate()
    .unwrap();
    let table = data.to_table().unwrap();
    let features: Vec<String> = (0..4).map(|j| format!("f{j}")).collect();
    // Several starts, so that neither side stops in a local optimum that the other escapes
    // (one k-means++ start with seed 3 does, on some row orders).
    let estimator = KMeans {
        k: 5,
        seed: 3,
        n_init: 4,
        ..Default::default()
    };
    let reference = distributed::fit_in_one_place(&table, &features, &estimator).unwrap();
    let mut fits = Vec::new();
    for (workers, pieces) in [(1, 1), (2, 3), (3, 5)] {
        let size = 6000 / pieces;
        let tables: Vec<_> = (0..pieces)
            .map(|i| {
                table.slice(
                    i * size,
                    if i + 1 == pieces {
                        6000 - i * size
                    } else {
                        size
                    },
                )
            })
            .collect();
        let trained = distributed::fit_kmeans(
            &ExecutionConfig::threads(workers),
            PartitionedSource::Tables(Arc::new(tables)),
            features.clone(),
            estimator.clone(),
        )
        .unwrap();
        assert_eq!(trained.rows, 6000);
        let relative = (trained.model.inertia - reference.inertia).abs() / reference.inertia;
        assert!(
            relative < 0.01,
            "{workers} workers: inertia {} vs {}",
            trained.model.inertia,
            reference.inertia
        );
        fits.push(trained.model);
    }
    // The sample, hence the start, does not depend on the split: the centres agree to rounding.
    for other in &fits[1..] {
        close(
            other.centers.as_slice(),
            fits[0].centers.as_slice(),
            "centres across splits",
        );
    }
}
