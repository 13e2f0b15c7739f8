//! The three verbs of the library — transform, fit, save — and pipelines of stages.
//!
//! As in Flink ML and Spark ML: a [`Transformer`] adds columns to a table, an [`Estimator`]
//! fits a [`Model`] (a transformer that can be saved) on a table, and a [`Pipeline`] runs its
//! stages in order, fitting each estimator on the output of the stages before it. A fitted
//! [`PipelineModel`] applies the same stages to new data, so a scaler's statistics come from
//! the training table only.

use std::sync::Arc;

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::persist::{self, Loadable, ModelParts};

/// Maps a table to a table, usually by adding output columns.
pub trait Transformer: Send + Sync {
    /// The table with this stage's output.
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch>;
}

/// A fitted (or parameter-only) stage that can be saved and loaded.
pub trait Model: Transformer {
    /// The model taken apart for [`persist::save`].
    fn parts(&self) -> Result<ModelParts>;

    /// Metrics the model gathered while it was trained (an online learner's progressive
    /// validation); none for most models.
    fn training_metrics(&self) -> std::collections::BTreeMap<String, f64> {
        std::collections::BTreeMap::new()
    }

    /// Saves the model into `dir` (see [`persist`]).
    fn save(&self, dir: &std::path::Path) -> Result<()>
    where
        Self: Sized,
    {
        persist::save(self, dir)
    }
}

/// Learns a [`Model`] from a table.
pub trait Estimator {
    /// What fitting gives.
    type Model: Model + 'static;
    /// Fits on `table`. Parameters are validated first; bad ones are an
    /// [`MlError::InvalidParameter`] naming the parameter.
    fn fit(&self, table: &RecordBatch) -> Result<Self::Model>;
}

/// An [`Estimator`] behind a pointer, for pipelines and model selection over mixed stages.
pub trait DynEstimator: Send + Sync {
    /// Fits and boxes the model.
    fn fit_boxed(&self, table: &RecordBatch) -> Result<Box<dyn Model>>;
}

impl<E: Estimator + Send + Sync> DynEstimator for E {
    fn fit_boxed(&self, table: &RecordBatch) -> Result<Box<dyn Model>> {
        Ok(Box::new(self.fit(table)?))
    }
}

/// A stage of a [`Pipeline`].
pub enum Stage {
    /// Fitted when the pipeline is fitted.
    Estimator(Box<dyn DynEstimator>),
    /// Fitted when the pipeline is fitted, and saved with the pipeline by its algorithm name
    /// and parameters (see [`Pipeline::algorithm`]).
    Named {
        /// Registered name (`crate::algorithms`).
        algorithm: String,
        /// Its parameters as JSON.
        params: serde_json::Value,
        /// The estimator built from them.
        estimator: Box<dyn DynEstimator>,
    },
    /// Used as it is (a parameter-only transformer such as a vector assembler, or a model
    /// fitted earlier).
    Model(Arc<dyn Model>),
}

/// Stages run in order; [`Estimator::fit`] fits each estimator on the output of the stages
/// before it.
///
/// ```
/// use riffle_ml::{data, Estimator, Pipeline, Transformer};
/// use riffle_ml::feature::{StandardScaler, VectorAssembler};
/// use riffle_ml::linear::LinearRegression;
///
/// let table = data::float_table(vec![
///     ("x", vec![0.0, 1.0, 2.0, 3.0]),
///     ("y", vec![1.0, 3.0, 5.0, 7.0]),
/// ]).unwrap();
/// let pipeline = Pipeline::new()
///     .model(VectorAssembler::new(&["x"], "raw"))
///     .estimator(StandardScaler { input_col: "raw".into(), output_col: "features".into(), ..Default::default() })
///     .estimator(LinearRegression { label_col: "y".into(), ..Default::default() });
/// let model = pipeline.fit(&table).unwrap();
/// let scored = model.transform(&table).unwrap();
/// assert!((data::read_f64(&scored, "prediction").unwrap()[0] - 1.0).abs() < 1e-9);
/// ```
#[derive(Default)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an estimator.
    pub fn estimator(mut self, estimator: impl DynEstimator + 'static) -> Self {
        self.stages.push(Stage::Estimator(Box::new(estimator)));
        self
    }

    /// Appends the registered estimator `algorithm` (a learner of `riffle ml algorithms` or
    /// one of [`crate::algorithms::FEATURE_ESTIMATORS`]) with `params`; unlike
    /// [`Pipeline::estimator`], such a stage saves with the unfitted pipeline.
    pub fn algorithm(mut self, algorithm: &str, params: &impl Serialize) -> Result<Self> {
        let params = serde_json::to_value(params).map_err(|e| MlError::data(e.to_string()))?;
        let estimator = crate::algorithms::estimator_from_json(algorithm, &params)?;
        self.stages.push(Stage::Named {
            algorithm: algorithm.to_string(),
            params,
            estimator,
        });
        Ok(self)
    }

    /// Saves the unfitted pipeline into `dir`: `pipeline.json` lists the stages, estimators
    /// by algorithm name and parameters, fixed transformers as model directories
    /// `stages/<i>/`. A stage added with [`Pipeline::estimator`] has no name to save by and is
    /// refused.
    pub fn save(&self, dir: &std::path::Path) -> Result<()> {
        let mut stages = Vec::with_capacity(self.stages.len());
        for (i, stage) in self.stages.iter().enumerate() {
            stages.push(match stage {
                Stage::Named { algorithm, params, .. } => {
                    serde_json::json!({ "algorithm": algorithm, "params": params })
                }
                Stage::Model(model) => {
                    let path = format!("stages/{i}");
                    persist::save(model.as_ref(), &dir.join(&path))?;
                    serde_json::json!({ "model": path })
                }
                Stage::Estimator(_) => {
                    return Err(MlError::data(format!(
                        "stage {i} of the pipeline was added with Pipeline::estimator and has no algorithm name to save by; add it with Pipeline::algorithm"
                    )))
                }
            });
        }
        let document = serde_json::json!({
            "format": "riffle-ml-pipeline",
            "format_version": persist::FORMAT_VERSION,
            "riffle_version": env!("CARGO_PKG_VERSION"),
            "stages": stages,
        });
        std::fs::create_dir_all(dir)?;
        let text =
            serde_json::to_string_pretty(&document).map_err(|e| MlError::data(e.to_string()))?;
        std::fs::write(dir.join("pipeline.json"), text)?;
        Ok(())
    }

    /// Loads an unfitted pipeline saved by [`Pipeline::save`].
    pub fn load(dir: &std::path::Path) -> Result<Self> {
        let damaged = |reason: String| MlError::Persistence {
            path: dir.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(dir.join("pipeline.json"))
            .map_err(|e| damaged(format!("cannot read pipeline.json ({e})")))?;
        let document: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| damaged(format!("pipeline.json: {e}")))?;
        if document["format"] != "riffle-ml-pipeline" {
            return Err(damaged("pipeline.json is not a saved pipeline".into()));
        }
        let version = document["format_version"].as_u64().unwrap_or(0);
        if version != u64::from(persist::FORMAT_VERSION) {
            return Err(damaged(format!(
                "written in format version {version}; this riffle reads version {}",
                persist::FORMAT_VERSION
            )));
        }
        let mut pipeline = Pipeline::new();
        for (i, stage) in document["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(algorithm) = stage["algorithm"].as_str() {
                pipeline = pipeline
                    .algorithm(algorithm, &stage["params"])
                    .map_err(|e| damaged(format!("stage {i}: {e}")))?;
            } else if let Some(path) = stage["model"].as_str() {
                let model = persist::load_model(&dir.join(path))?;
                pipeline.stages.push(Stage::Model(Arc::from(model)));
            } else {
                return Err(damaged(format!(
                    "stage {i} names neither an algorithm nor a model"
                )));
            }
        }
        Ok(pipeline)
    }

    /// Appends a boxed estimator.
    pub fn boxed_estimator(mut self, estimator: Box<dyn DynEstimator>) -> Self {
        self.stages.push(Stage::Estimator(estimator));
        self
    }

    /// Appends a transformer that needs no fitting.
    pub fn model(mut self, model: impl Model + 'static) -> Self {
        self.stages.push(Stage::Model(Arc::new(model)));
        self
    }

    /// The stages.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }
}

impl Estimator for Pipeline {
    type Model = PipelineModel;

    fn fit(&self, table: &RecordBatch) -> Result<PipelineModel> {
        let mut fitted: Vec<Arc<dyn Model>> = Vec::new();
        let mut current = table.clone();
        let last = self.stages.len().saturating_sub(1);
        for (i, stage) in self.stages.iter().enumerate() {
            let model: Arc<dyn Model> = match stage {
                Stage::Estimator(e) | Stage::Named { estimator: e, .. } => {
                    Arc::from(e.fit_boxed(&current)?)
                }
                Stage::Model(m) => m.clone(),
            };
            // The last stage's output is not needed to fit anything.
            if i < last {
                current = model.transform(&current)?;
            }
            fitted.push(model);
        }
        Ok(PipelineModel { stages: fitted })
    }
}

/// A fitted [`Pipeline`]: its stages' models, applied in order.
#[derive(Clone)]
pub struct PipelineModel {
    stages: Vec<Arc<dyn Model>>,
}

impl PipelineModel {
    /// A pipeline model of already fitted stages.
    pub fn from_stages(stages: Vec<Box<dyn Model>>) -> Self {
        PipelineModel {
            stages: stages.into_iter().map(Arc::from).collect(),
        }
    }

    /// Number of stages.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// Whether there are no stages.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The parts of stage `i` (its kind and parameters), for `describe`-style output.
    pub fn stage_parts(&self, i: usize) -> Result<ModelParts> {
        self.stages
            .get(i)
            .ok_or_else(|| MlError::data(format!("the pipeline has no stage {i}")))?
            .parts()
    }
}

impl Transformer for PipelineModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let mut current = table.clone();
        for stage in &self.stages {
            current = stage.transform(&current)?;
        }
        Ok(current)
    }
}

#[derive(Serialize, Deserialize)]
struct PipelineMeta {
    stages: usize,
}

impl Model for PipelineModel {
    fn parts(&self) -> Result<ModelParts> {
        let mut parts = ModelParts::new(
            Self::KIND,
            &PipelineMeta {
                stages: self.stages.len(),
            },
        )?;
        for stage in &self.stages {
            parts.children.push(stage.parts()?);
        }
        Ok(parts)
    }

    /// The last stage's (the estimator's) training metrics.
    fn training_metrics(&self) -> std::collections::BTreeMap<String, f64> {
        self.stages
            .last()
            .map(|m| m.training_metrics())
            .unwrap_or_default()
    }
}

impl Loadable for PipelineModel {
    const KIND: &'static str = "PipelineModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let stages = parts
            .children
            .iter()
            .map(crate::registry::model_from_parts)
            .collect::<Result<Vec<_>>>()?;
        Ok(PipelineModel::from_stages(stages))
    }
}
