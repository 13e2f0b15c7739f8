//! Saving and loading models: a versioned directory of JSON metadata and Parquet data.
//!
//! ```text
//! model/
//!   metadata.json          {"format": "riffle-ml-model", "format_version": 1, "riffle_version": "0.1.0",
//!                           "kind": "LogisticRegressionModel", "meta": {...params and scalars...},
//!                           "arrays": ["coefficients", ...], "children": 0}
//!   data/coefficients.parquet   one column, named like the file
//!   stages/0/ ...          a pipeline's stages, each a model directory of its own
//! ```
//!
//! Floats are stored as Parquet doubles, bit for bit, so a loaded model predicts exactly what
//! the saved one did. A directory written by another format version is refused with both
//! versions named rather than read wrongly.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::pipeline::Model;

/// The on-disk format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT: &str = "riffle-ml-model";

/// A model taken apart for saving: its kind, its parameters and scalars as JSON, its arrays,
/// and (for pipelines) its child models.
#[derive(Clone, Debug)]
pub struct ModelParts {
    /// The model type's name, e.g. `LinearRegressionModel`; [`load_model`] dispatches on it.
    pub kind: String,
    /// Parameters and small values.
    pub meta: serde_json::Value,
    /// Named arrays (coefficients, tree nodes, vocabularies).
    pub arrays: Vec<(String, ArrayRef)>,
    /// Nested models, in order (a pipeline's stages).
    pub children: Vec<ModelParts>,
}

impl ModelParts {
    /// Parts of kind `kind` with `meta` serialized to JSON.
    pub fn new(kind: &str, meta: &impl Serialize) -> Result<Self> {
        let meta = serde_json::to_value(meta)
            .map_err(|e| MlError::data(format!("cannot serialize {kind}: {e}")))?;
        Ok(ModelParts {
            kind: kind.to_string(),
            meta,
            arrays: Vec::new(),
            children: Vec::new(),
        })
    }

    /// Adds a float array.
    pub fn with_f64(mut self, name: &str, values: &[f64]) -> Self {
        self.arrays.push((
            name.to_string(),
            Arc::new(Float64Array::from(values.to_vec())),
        ));
        self
    }

    /// Adds a string array.
    pub fn with_strings(mut self, name: &str, values: &[String]) -> Self {
        self.arrays.push((
            name.to_string(),
            Arc::new(StringArray::from_iter_values(values.iter())),
        ));
        self
    }

    /// The metadata as `T`.
    pub fn meta<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.meta.clone())
            .map_err(|e| self.damaged(format!("metadata: {e}")))
    }

    /// The float array `name`.
    pub fn f64(&self, name: &str) -> Result<Vec<f64>> {
        let array = self.array(name)?;
        match array.data_type() {
            DataType::Float64 => Ok(array.as_primitive::<Float64Type>().values().to_vec()),
            other => Err(self.damaged(format!("array `{name}` is {other}, expected Float64"))),
        }
    }

    /// The one value of the float array `name`. Floats that predictions depend on are kept in
    /// arrays, not in the JSON metadata, so that they load back bit for bit.
    pub fn scalar(&self, name: &str) -> Result<f64> {
        match self.f64(name)?.as_slice() {
            [v] => Ok(*v),
            other => Err(self.damaged(format!(
                "array `{name}` has {} values, expected 1",
                other.len()
            ))),
        }
    }

    /// The string array `name`.
    pub fn strings(&self, name: &str) -> Result<Vec<String>> {
        let array = self.array(name)?;
        match array.data_type() {
            DataType::Utf8 => Ok(array
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_string())
                .collect()),
            other => Err(self.damaged(format!("array `{name}` is {other}, expected Utf8"))),
        }
    }

    fn array(&self, name: &str) -> Result<&ArrayRef> {
        self.arrays
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
            .ok_or_else(|| self.damaged(format!("array `{name}` is missing")))
    }

    /// An error about these parts, naming the model kind.
    pub fn damaged(&self, reason: String) -> MlError {
        MlError::Persistence {
            path: PathBuf::from(format!("<{}>", self.kind)),
            reason,
        }
    }
}

/// A model that can be rebuilt from its [`ModelParts`].
pub trait Loadable: Sized {
    /// The kind written by the model's [`Model::parts`].
    const KIND: &'static str;
    /// Rebuilds the model.
    fn from_parts(parts: &ModelParts) -> Result<Self>;
}

#[derive(Serialize, Deserialize)]
struct Metadata {
    format: String,
    format_version: u32,
    riffle_version: String,
    kind: String,
    meta: serde_json::Value,
    arrays: Vec<String>,
    children: usize,
}

/// Saves `model` into `dir` (created; an existing model there is replaced).
pub fn save(model: &dyn Model, dir: &Path) -> Result<()> {
    let parts = model.parts()?;
    if dir.exists() {
        if !dir.join("metadata.json").exists() && fs::read_dir(dir)?.next().is_some() {
            return Err(MlError::Persistence {
                path: dir.to_path_buf(),
                reason: "exists and is not a model directory; refusing to overwrite it".into(),
            });
        }
        fs::remove_dir_all(dir)?;
    }
    write_parts(&parts, dir)
}

fn write_parts(parts: &ModelParts, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir.join("data"))?;
    for (name, array) in &parts.arrays {
        let schema = Arc::new(Schema::new(vec![Field::new(
            name,
            array.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![array.clone()])?;
        let file = fs::File::create(dir.join("data").join(format!("{name}.parquet")))?;
        let mut writer = ArrowWriter::try_new(file, schema, None)?;
        writer.write(&batch)?;
        writer.close()?;
    }
    for (i, child) in parts.children.iter().enumerate() {
        write_parts(child, &dir.join("stages").join(i.to_string()))?;
    }
    let metadata = Metadata {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        riffle_version: env!("CARGO_PKG_VERSION").to_string(),
        kind: parts.kind.clone(),
        meta: parts.meta.clone(),
        arrays: parts.arrays.iter().map(|(n, _)| n.clone()).collect(),
        children: parts.children.len(),
    };
    let json = serde_json::to_string_pretty(&metadata)
        .map_err(|e| MlError::data(format!("cannot serialize metadata: {e}")))?;
    fs::write(dir.join("metadata.json"), json)?;
    Ok(())
}

/// Reads the parts saved in `dir`, checking the format and its version.
pub fn read_parts(dir: &Path) -> Result<ModelParts> {
    let damaged = |reason: String| MlError::Persistence {
        path: dir.to_path_buf(),
        reason,
    };
    let text = fs::read_to_string(dir.join("metadata.json")).map_err(|e| {
        damaged(format!(
            "cannot read metadata.json ({e}); is this a model saved by `riffle ml fit`?"
        ))
    })?;
    let metadata: Metadata =
        serde_json::from_str(&text).map_err(|e| damaged(format!("metadata.json: {e}")))?;
    if metadata.format != FORMAT {
        return Err(damaged(format!(
            "metadata.json says format `{}`, not `{FORMAT}`",
            metadata.format
        )));
    }
    if metadata.format_version != FORMAT_VERSION {
        return Err(damaged(format!(
            "written in model format version {} (by riffle {}); this riffle {} reads version {FORMAT_VERSION} only: refit the model or load it with the riffle that wrote it",
            metadata.format_version,
            metadata.riffle_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    let mut arrays = Vec::with_capacity(metadata.arrays.len());
    for name in &metadata.arrays {
        let path = dir.join("data").join(format!("{name}.parquet"));
        let file = fs::File::open(&path)
            .map_err(|e| damaged(format!("cannot open data/{name}.parquet: {e}")))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        let mut pieces = Vec::new();
        for batch in reader {
            pieces.push(batch?.column(0).clone());
        }
        let refs: Vec<&dyn arrow_array::Array> = pieces.iter().map(|a| a.as_ref()).collect();
        let array = if refs.is_empty() {
            return Err(damaged(format!("data/{name}.parquet holds no rows")));
        } else {
            arrow_select::concat::concat(&refs)?
        };
        arrays.push((name.clone(), array));
    }
    let mut children = Vec::with_capacity(metadata.children);
    for i in 0..metadata.children {
        children.push(read_parts(&dir.join("stages").join(i.to_string()))?);
    }
    Ok(ModelParts {
        kind: metadata.kind,
        meta: metadata.meta,
        arrays,
        children,
    })
}

/// Loads a model of type `M` from `dir`.
pub fn load<M: Loadable>(dir: &Path) -> Result<M> {
    let parts = read_parts(dir)?;
    if parts.kind != M::KIND {
        return Err(MlError::Persistence {
            path: dir.to_path_buf(),
            reason: format!("holds a {}, not a {}", parts.kind, M::KIND),
        });
    }
    M::from_parts(&parts).map_err(|e| with_path(e, dir))
}

/// Loads whatever model `dir` holds.
pub fn load_model(dir: &Path) -> Result<Box<dyn Model>> {
    let parts = read_parts(dir)?;
    crate::registry::model_from_parts(&parts).map_err(|e| with_path(e, dir))
}

fn with_path(error: MlError, dir: &Path) -> MlError {
    match error {
        MlError::Persistence { path, reason } if path.to_string_lossy().starts_with('<') => {
            MlError::Persistence {
                path: dir.to_path_buf(),
                reason: format!("{}: {reason}", path.display()),
            }
        }
        other => other,
    }
}
