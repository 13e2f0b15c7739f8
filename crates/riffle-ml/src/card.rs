//! The model card: what a saved model was trained for and how well it did, written beside
//! the model (`card.json`) by `riffle ml fit` and read by `predict` and `evaluate`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::algorithms::Task;
use crate::error::{MlError, Result};

/// File name of the card inside a model directory.
pub const CARD_FILE: &str = "card.json";

/// What a model was trained on and for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Algorithm name (see [`crate::algorithms`]).
    pub algorithm: String,
    /// What it predicts.
    pub task: Task,
    /// The label column of the training table.
    pub label: String,
    /// The input columns, before encoding.
    pub features: Vec<String>,
    /// For a text label: the label of each class index. Predictions map back to these.
    pub label_values: Option<Vec<String>>,
    /// The parameters given (the rest are defaults).
    pub params: BTreeMap<String, String>,
    /// Rows the final model was fitted on.
    pub trained_rows: usize,
    /// Metrics on the held-out rows, when some were held out.
    pub holdout_metrics: BTreeMap<String, f64>,
}

impl ModelCard {
    /// Writes the card into the model directory `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| MlError::data(e.to_string()))?;
        std::fs::write(dir.join(CARD_FILE), json)?;
        Ok(())
    }

    /// Reads the card of the model directory `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(dir.join(CARD_FILE)).map_err(|e| MlError::Persistence {
                path: dir.to_path_buf(),
                reason: format!("cannot read {CARD_FILE} ({e}); was it saved by `riffle ml fit`?"),
            })?;
        serde_json::from_str(&text).map_err(|e| MlError::Persistence {
            path: dir.to_path_buf(),
            reason: format!("{CARD_FILE}: {e}"),
        })
    }
}
