//! The reference data sets: generated with fixed seeds, exported as CSV for scikit-learn
//! (`riffle ml generate reference`, then `bench/ml/sklearn_reference.py`), and regenerated
//! in-process by the accuracy tests, which compare Riffle with the numbers recorded from
//! scikit-learn on exactly these rows.

use arrow_array::RecordBatch;

pub use crate::algorithms::Task;
use crate::data;
use crate::datasets::{self, Blobs, Classification, Regression};
use crate::error::Result;

/// One reference data set: a training and a test table.
#[derive(Clone, Debug)]
pub struct ReferenceDataset {
    /// File stem: `<name>-train.csv`, `<name>-test.csv`.
    pub name: &'static str,
    /// What it is for.
    pub task: Task,
    /// How it was generated (generator, parameters, seed).
    pub recipe: String,
    /// The label column.
    pub label: &'static str,
    /// The feature columns.
    pub features: Vec<String>,
    /// Training rows.
    pub train: RecordBatch,
    /// Test rows.
    pub test: RecordBatch,
}

fn split_dataset(
    name: &'static str,
    task: Task,
    recipe: String,
    d: datasets::Dataset,
    n_train: usize,
) -> Result<ReferenceDataset> {
    let (train, test) = d.split_at(n_train);
    let features = train
        .to_table()?
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| n != "label")
        .collect();
    Ok(ReferenceDataset {
        name,
        task,
        recipe,
        label: "label",
        features,
        train: train.to_table()?,
        test: test.to_table()?,
    })
}

/// The reference data sets, in a fixed order.
pub fn reference_datasets() -> Result<Vec<ReferenceDataset>> {
    let binary = Classification {
        n_samples: 5000,
        n_features: 20,
        n_informative: 6,
        n_redundant: 4,
        n_classes: 2,
        n_clusters_per_class: 2,
        class_sep: 1.0,
        flip_y: 0.01,
        seed: 42,
    };
    let multiclass = Classification {
        n_samples: 5000,
        n_features: 20,
        n_informative: 8,
        n_redundant: 4,
        n_classes: 4,
        n_clusters_per_class: 1,
        class_sep: 1.0,
        flip_y: 0.01,
        seed: 43,
    };
    let regression = Regression {
        n_samples: 5000,
        n_features: 20,
        n_informative: 8,
        noise: 15.0,
        bias: 3.0,
        seed: 44,
    };
    let blobs = Blobs {
        n_samples: 3000,
        n_features: 6,
        centers: 5,
        cluster_std: 1.5,
        center_box: (-10.0, 10.0),
        seed: 45,
    };
    let customers = datasets::customers(6000, 46)?;
    let mut out = vec![
        split_dataset(
            "binary",
            Task::Classification,
            format!("{binary:?}"),
            binary.generate()?,
            4000,
        )?,
        split_dataset(
            "multiclass",
            Task::Classification,
            format!("{multiclass:?}"),
            multiclass.generate()?,
            4000,
        )?,
        split_dataset(
            "regression",
            Task::Regression,
            format!("{regression:?}"),
            regression.generate()?,
            4000,
        )?,
        split_dataset(
            "blobs",
            Task::Clustering,
            format!("{blobs:?}"),
            blobs.generate()?,
            2400,
        )?,
    ];
    let features = ["age", "income", "city", "plan", "visits", "tenure_months"]
        .map(String::from)
        .to_vec();
    out.push(ReferenceDataset {
        name: "customers",
        task: Task::Classification,
        recipe: "customers(6000, seed 46)".into(),
        label: "churn",
        features,
        train: customers.slice(0, 4800),
        test: customers.slice(4800, 1200),
    });
    Ok(out)
}

/// Writes every reference data set as `<dir>/<name>-train.csv` and `<name>-test.csv`.
pub fn export(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let datasets = reference_datasets()?;
    let recipes: serde_json::Map<String, serde_json::Value> = datasets
        .iter()
        .map(|d| {
            (
                d.name.to_string(),
                serde_json::Value::String(d.recipe.clone()),
            )
        })
        .collect();
    let recipes_path = dir.join("recipes.json");
    std::fs::write(
        &recipes_path,
        serde_json::to_string_pretty(&recipes).unwrap_or_default(),
    )?;
    written.push(recipes_path);
    for d in datasets {
        for (part, table) in [("train", &d.train), ("test", &d.test)] {
            let path = dir.join(format!("{}-{part}.csv", d.name));
            datasets::write_csv(table, &path)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// `table` with the feature columns of `d` assembled into a `features` vector column
/// (numeric data sets only).
pub fn with_features(d: &ReferenceDataset, table: &RecordBatch) -> Result<RecordBatch> {
    use crate::pipeline::Transformer;
    let names: Vec<&str> = d.features.iter().map(String::as_str).collect();
    let _ = data::column(table, d.label)?;
    crate::feature::VectorAssembler::new(&names, "features").transform(table)
}
