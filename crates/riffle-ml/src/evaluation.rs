//! Scoring a model's output table: classification and regression reports and the single
//! metrics that model selection optimises.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::classes;
use crate::data;
use crate::error::{MlError, Result};
use crate::metrics::{self, Average};

/// A metric computed from a scored table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Share of correct predictions.
    Accuracy,
    /// F1, macro-averaged over classes.
    F1Macro,
    /// F1, weighted by class support.
    F1Weighted,
    /// ROC AUC (binary; one-vs-rest macro for more classes). Needs probabilities.
    RocAuc,
    /// Average precision of the larger label (binary). Needs probabilities.
    PrAuc,
    /// Mean negative log-likelihood. Needs probabilities.
    LogLoss,
    /// Root mean squared error.
    Rmse,
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    Mae,
    /// Coefficient of determination.
    R2,
}

impl Metric {
    /// Whether larger values are better (for choosing among candidates).
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Metric::LogLoss | Metric::Rmse | Metric::Mse | Metric::Mae
        )
    }

    /// The metric's name, as in reports and on the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::F1Macro => "f1_macro",
            Metric::F1Weighted => "f1_weighted",
            Metric::RocAuc => "roc_auc",
            Metric::PrAuc => "pr_auc",
            Metric::LogLoss => "log_loss",
            Metric::Rmse => "rmse",
            Metric::Mse => "mse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    /// Parses a [`Metric::name`].
    pub fn from_name(name: &str) -> Result<Self> {
        const ALL: [Metric; 10] = [
            Metric::Accuracy,
            Metric::F1Macro,
            Metric::F1Weighted,
            Metric::RocAuc,
            Metric::PrAuc,
            Metric::LogLoss,
            Metric::Rmse,
            Metric::Mse,
            Metric::Mae,
            Metric::R2,
        ];
        ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|m| m.name()).collect();
            MlError::param(
                "metric",
                format!(
                    "unknown metric '{name}'{}; one of {}",
                    riffle_core::did_you_mean(name, names.iter().copied()),
                    names.join(", ")
                ),
            )
        })
    }

    /// Computes the metric from `table`'s columns.
    pub fn compute(self, table: &RecordBatch, columns: &ScoredColumns) -> Result<f64> {
        let y = data::read_f64(table, &columns.label)?;
        let prediction = || data::read_f64(table, &columns.prediction);
        match self {
            Metric::Accuracy => metrics::accuracy(&y, &prediction()?),
            Metric::F1Macro => metrics::f1(&y, &prediction()?, Average::Macro),
            Metric::F1Weighted => metrics::f1(&y, &prediction()?, Average::Weighted),
            Metric::Rmse => metrics::rmse(&y, &prediction()?),
            Metric::Mse => metrics::mse(&y, &prediction()?),
            Metric::Mae => metrics::mae(&y, &prediction()?),
            Metric::R2 => metrics::r2(&y, &prediction()?),
            Metric::RocAuc | Metric::PrAuc | Metric::LogLoss => {
                let (p, classes) = classes::read_probabilities(table, &columns.probability)?;
                match self {
                    Metric::LogLoss => metrics::log_loss(&y, &p, classes.labels()),
                    _ if classes.len() == 2 => {
                        let scores = p.column(1);
                        let positive: Vec<f64> = y
                            .iter()
                            .map(|v| f64::from(*v == classes.label(1)))
                            .collect();
                        if self == Metric::RocAuc {
                            metrics::roc_auc(&positive, &scores)
                        } else {
                            metrics::average_precision(&positive, &scores)
                        }
                    }
                    Metric::RocAuc => metrics::roc_auc_ovr(&y, &p, classes.labels(), false),
                    _ => Err(MlError::data("pr_auc is defined for two classes only")),
                }
            }
        }
    }
}

/// The columns a scored table holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredColumns {
    /// True labels or targets.
    pub label: String,
    /// Predictions.
    pub prediction: String,
    /// Class probabilities (classifiers).
    pub probability: String,
}

impl Default for ScoredColumns {
    fn default() -> Self {
        ScoredColumns {
            label: "label".into(),
            prediction: "prediction".into(),
            probability: "probability".into(),
        }
    }
}

/// Every classification metric that the table supports: accuracy, precision/recall/F1
/// (macro and weighted; binary of the larger label too when there are two classes), and with
/// a probability column ROC AUC, PR AUC (binary) and log loss.
pub fn classification_report(
    table: &RecordBatch,
    columns: &ScoredColumns,
) -> Result<BTreeMap<String, f64>> {
    let y = data::read_f64(table, &columns.label)?;
    let p = data::read_f64(table, &columns.prediction)?;
    let mut report = BTreeMap::new();
    report.insert("accuracy".into(), metrics::accuracy(&y, &p)?);
    for (name, average) in [("macro", Average::Macro), ("weighted", Average::Weighted)] {
        report.insert(
            format!("precision_{name}"),
            metrics::precision(&y, &p, average)?,
        );
        report.insert(format!("recall_{name}"), metrics::recall(&y, &p, average)?);
        report.insert(format!("f1_{name}"), metrics::f1(&y, &p, average)?);
    }
    let has_probabilities = table.schema().index_of(&columns.probability).is_ok();
    let mut labels: Vec<f64> = y.iter().chain(&p).copied().collect();
    labels.sort_by(f64::total_cmp);
    labels.dedup();
    if labels.len() == 2 {
        let positive = Average::Binary {
            positive: labels[1],
        };
        report.insert("precision".into(), metrics::precision(&y, &p, positive)?);
        report.insert("recall".into(), metrics::recall(&y, &p, positive)?);
        report.insert("f1".into(), metrics::f1(&y, &p, positive)?);
    }
    if has_probabilities {
        let (_, classes) = classes::read_probabilities(table, &columns.probability)?;
        let present: usize = classes.labels().iter().filter(|c| y.contains(c)).count();
        if present >= 2 {
            report.insert("roc_auc".into(), Metric::RocAuc.compute(table, columns)?);
            if classes.len() == 2 {
                report.insert("pr_auc".into(), Metric::PrAuc.compute(table, columns)?);
            }
        }
        report.insert("log_loss".into(), Metric::LogLoss.compute(table, columns)?);
    }
    report.insert("rows".into(), y.len() as f64);
    Ok(report)
}

/// RMSE, MSE, MAE and R² of a regression's predictions.
pub fn regression_report(
    table: &RecordBatch,
    columns: &ScoredColumns,
) -> Result<BTreeMap<String, f64>> {
    let y = data::read_f64(table, &columns.label)?;
    let p = data::read_f64(table, &columns.prediction)?;
    let mut report = BTreeMap::new();
    report.insert("rmse".into(), metrics::rmse(&y, &p)?);
    report.insert("mse".into(), metrics::mse(&y, &p)?);
    report.insert("mae".into(), metrics::mae(&y, &p)?);
    report.insert("r2".into(), metrics::r2(&y, &p)?);
    report.insert("rows".into(), y.len() as f64);
    Ok(report)
}
