//! A model's functions in SQL: `ML_PREDICT('m', ...)` scores rows with model `m`, and
//! `ML_RECOMMEND('m', user [, k])` serves an online recommender's top-k items. Each is a
//! scalar function per model, registered when a query names the model, which hot-swaps to
//! the newest version the catalog holds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, Int64Builder, ListBuilder, RecordBatch,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::common::{exec_err, Result as DfResult};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use riffle_core::{Result, RiffleError};
use riffle_ml::algorithms::Task;
use riffle_ml::card::ModelCard;
use riffle_ml::online::table::{OnlineLearnerModel, CLICK_RECOMMENDERS};
use riffle_ml::persist::Loadable;
use riffle_ml::standalone::{self, TransformOutput};
use riffle_ml::tabular;
use riffle_ml::{PipelineModel, Transformer};

/// What a model's function gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// `ML_PREDICT`: the prediction for each row's features.
    Score,
    /// `ML_RECOMMEND`: the top-k items for each row's user.
    Recommend,
}

/// Items `ML_RECOMMEND` lists when no `k` is given.
pub const DEFAULT_K: i64 = 10;

/// The name of model `model`'s function giving `output`.
pub fn function_name(model: &str, output: Output) -> String {
    let verb = match output {
        Output::Score => "predict",
        Output::Recommend => "recommend",
    };
    format!("__ml_{verb}_{}", model.to_lowercase())
}

/// A model's function: for [`Output::Score`] the arguments are its feature columns in the
/// card's order and the result is the prediction (the class label for text labels, a
/// number otherwise, an array of doubles for a transformer); for [`Output::Recommend`] the
/// arguments are the user id and optionally `k`, and the result is an array of item ids.
pub struct ModelFunction {
    name: String,
    model_name: String,
    output: Output,
    /// The model's directory, watched for new versions.
    dir: PathBuf,
    current: Mutex<Version>,
    signature: Signature,
}

/// The version of a model a function uses, and when it last looked for a newer one.
struct Version {
    model: Arc<PipelineModel>,
    card: Arc<ModelCard>,
    /// The recommender inside the pipeline (functions giving [`Output::Recommend`]).
    recommender: Option<Arc<OnlineLearnerModel>>,
    /// The card file's bytes when this version was loaded (each version's card differs: it
    /// holds the rows learned and the metrics; file times are too coarse to tell versions
    /// published within milliseconds apart).
    stamp: Option<Vec<u8>>,
    checked: Instant,
}

/// How often a model's function looks for a newer version of its model.
const RELOAD_CHECK: Duration = Duration::from_millis(200);

/// The card file in `dir`, which tells one version from another.
fn stamp(dir: &Path) -> Option<Vec<u8>> {
    std::fs::read(dir.join(riffle_ml::card::CARD_FILE)).ok()
}

/// The online recommender that is the last stage of `model` (named `name`).
fn recommender(name: &str, model: &PipelineModel, card: &ModelCard) -> Result<OnlineLearnerModel> {
    if !CLICK_RECOMMENDERS.contains(&card.algorithm.as_str()) {
        return Err(RiffleError::Sql(format!(
            "ML_RECOMMEND: model '{name}' is {} ({:?}); ML_RECOMMEND serves the online \
             recommenders ({}); score other models with ML_PREDICT",
            card.algorithm,
            card.task,
            CLICK_RECOMMENDERS.join(", ")
        )));
    }
    let last = model
        .stage_parts(model.len().saturating_sub(1))
        .and_then(|parts| OnlineLearnerModel::from_parts(&parts))
        .map_err(|e| RiffleError::Ml(format!("model '{name}': {e}")))?;
    Ok(last)
}

impl std::fmt::Debug for ModelFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelFunction")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for ModelFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ModelFunction {}

impl std::hash::Hash for ModelFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ModelFunction {
    /// The function giving `output` of `model` (with `card`), loaded from `dir`, named
    /// `model_name`. It hot-swaps: when a newer version is published in `dir` (a streaming
    /// `CREATE MODEL` publishes one per checkpoint), the next batch uses it; a version with
    /// other features or classes is not taken. [`Output::Recommend`] is refused for a model
    /// that is not an online recommender.
    pub fn new(
        model_name: &str,
        model: PipelineModel,
        card: ModelCard,
        dir: &Path,
        output: Output,
    ) -> Result<Self> {
        let recommender = match output {
            Output::Recommend => Some(Arc::new(recommender(model_name, &model, &card)?)),
            Output::Score => None,
        };
        Ok(ModelFunction {
            name: function_name(model_name, output),
            model_name: model_name.to_string(),
            output,
            dir: dir.to_path_buf(),
            current: Mutex::new(Version {
                model: Arc::new(model),
                card: Arc::new(card),
                recommender,
                stamp: stamp(dir),
                checked: Instant::now(),
            }),
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }

    /// The newest usable version of the model.
    fn version(
        &self,
    ) -> (
        Arc<PipelineModel>,
        Arc<ModelCard>,
        Option<Arc<OnlineLearnerModel>>,
    ) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.checked.elapsed() >= RELOAD_CHECK {
            current.checked = Instant::now();
            let now = stamp(&self.dir);
            if now.is_some() && now != current.stamp {
                if let Some(newer) = self.load(&current) {
                    *current = newer;
                }
                // A version that cannot be used is not loaded again until the next one.
                current.stamp = now;
            }
        }
        (
            Arc::clone(&current.model),
            Arc::clone(&current.card),
            current.recommender.clone(),
        )
    }

    /// The version in the model's directory, if it is of the same algorithm, takes the same
    /// inputs and gives the same kind of result as `current`.
    fn load(&self, current: &Version) -> Option<Version> {
        let model = riffle_ml::load::<PipelineModel>(&self.dir).ok()?;
        let card = ModelCard::load(&self.dir).ok()?;
        let same = card.algorithm == current.card.algorithm
            && card.features == current.card.features
            && card.label_values == current.card.label_values
            && card.task == current.card.task;
        if !same {
            return None;
        }
        let recommender = match self.output {
            Output::Recommend => Some(Arc::new(recommender(&self.model_name, &model, &card).ok()?)),
            Output::Score => None,
        };
        Some(Version {
            model: Arc::new(model),
            card: Arc::new(card),
            recommender,
            stamp: None,
            checked: current.checked,
        })
    }

    fn score(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let (model, card, _) = self.version();
        let features = &card.features;
        if args.args.len() != features.len() {
            return exec_err!(
                "ML_PREDICT: the model takes {} feature(s) ({}), got {}",
                features.len(),
                features.join(", "),
                args.args.len()
            );
        }
        let rows = args.number_rows;
        let mut fields = Vec::with_capacity(features.len());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(features.len());
        for (name, value) in features.iter().zip(&args.args) {
            let array = value.to_array(rows)?;
            fields.push(Field::new(name, array.data_type().clone(), true));
            columns.push(array);
        }
        let table = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        if card.task == Task::Transformation {
            return transformed(&model, &card, &table).map(ColumnarValue::Array);
        }
        let scored = tabular::predict(&model, &card, &table)
            .map_err(|e| DataFusionError::Execution(format!("ML_PREDICT: {e}")))?;
        let column = if card.label_values.is_some() {
            "prediction_label"
        } else {
            "prediction"
        };
        match scored.column_by_name(column) {
            Some(array) => Ok(ColumnarValue::Array(Arc::clone(array))),
            None => exec_err!("ML_PREDICT: the model gave no {column} column"),
        }
    }

    fn recommend(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let (_, _, recommender) = self.version();
        let Some(recommender) = recommender else {
            return exec_err!(
                "ML_RECOMMEND: model '{}' is not a recommender",
                self.model_name
            );
        };
        if !(1..=2).contains(&args.args.len()) {
            return exec_err!(
                "ML_RECOMMEND('{}', user [, k]) takes the user id and optionally how many \
                 items to list; got {} argument(s)",
                self.model_name,
                args.args.len()
            );
        }
        let rows = args.number_rows;
        let whole = |value: &ColumnarValue, what: &str| -> DfResult<Int64Array> {
            let array = value.to_array(rows)?;
            if !array.data_type().is_integer() {
                return exec_err!(
                    "ML_RECOMMEND: the {what} must be a whole number (BIGINT, INT...), not {}",
                    array.data_type()
                );
            }
            let cast = datafusion::arrow::compute::cast(&array, &DataType::Int64)?;
            Ok(cast
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .unwrap_or_else(|| Int64Array::new_null(rows)))
        };
        let users = whole(&args.args[0], "user")?;
        let ks = args.args.get(1).map(|k| whole(k, "k")).transpose()?;
        let mut lists = ListBuilder::new(Int64Builder::new());
        for row in 0..rows {
            let k = match &ks {
                Some(ks) if ks.is_null(row) => None,
                Some(ks) => Some(ks.value(row)),
                None => Some(DEFAULT_K),
            };
            let (Some(k), false) = (k, users.is_null(row)) else {
                lists.append_null();
                continue;
            };
            let user = users.value(row);
            if user < 0 || k < 0 {
                return exec_err!(
                    "ML_RECOMMEND: user ids and k are 0 or more; got user {user}, k {k}"
                );
            }
            let items = recommender
                .recommend(user as u64, k as usize)
                .map_err(|e| DataFusionError::Execution(format!("ML_RECOMMEND: {e}")))?;
            // Ids were whole numbers of at most 2^53 when learned: they fit an i64.
            lists
                .values()
                .extend(items.into_iter().map(|i| Some(i as i64)));
            lists.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(lists.finish())))
    }
}

/// What a standalone transformer makes of each row of `table` (its feature columns): a
/// number, an array of doubles, or an array of tokens.
fn transformed(model: &PipelineModel, card: &ModelCard, table: &RecordBatch) -> DfResult<ArrayRef> {
    let output =
        standalone::output(&card.algorithm, card.features.len()).unwrap_or(TransformOutput::Vector);
    let out = model.transform(table).map_err(|e| {
        // The library's advice names 'skip', which a function cannot do.
        let text = e.to_string().replace(
            "set handle_invalid to keep or skip",
            "create the model with 'handle_invalid' = 'keep', or filter such rows out",
        );
        DataFusionError::Execution(format!("ML_PREDICT: {text}"))
    })?;
    if out.num_rows() != table.num_rows() {
        return exec_err!(
            "ML_PREDICT: the transformer gave {} rows for {}",
            out.num_rows(),
            table.num_rows()
        );
    }
    let column = match output {
        TransformOutput::Tokens => standalone::TOKENS_COL,
        _ => standalone::VECTOR_COL,
    };
    let Some(values) = out.column_by_name(column) else {
        return exec_err!("ML_PREDICT: the transformer gave no {column} column");
    };
    match output {
        TransformOutput::Tokens => Ok(datafusion::arrow::compute::cast(values, &tokens())?),
        TransformOutput::Vector => Ok(datafusion::arrow::compute::cast(values, &doubles())?),
        TransformOutput::Number => {
            // A vector of one value per row: that value.
            let lists = datafusion::arrow::compute::cast(values, &doubles())?;
            let lists = lists.as_list::<i32>();
            let numbers: Float64Array = (0..lists.len())
                .map(|row| {
                    let value = lists.value(row);
                    let value = value.as_primitive::<Float64Type>();
                    (!lists.is_null(row) && value.len() == 1 && !value.is_null(0))
                        .then(|| value.value(0))
                })
                .collect();
            Ok(Arc::new(numbers))
        }
    }
}

/// `ARRAY<VARCHAR>`.
fn tokens() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// `ARRAY<DOUBLE>`.
fn doubles() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

impl ScalarUDFImpl for ModelFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        let (_, card, _) = self.version();
        Ok(match self.output {
            Output::Recommend => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
            }
            Output::Score if card.task == Task::Transformation => {
                match standalone::output(&card.algorithm, card.features.len()) {
                    Some(TransformOutput::Number) => DataType::Float64,
                    Some(TransformOutput::Tokens) => tokens(),
                    _ => doubles(),
                }
            }
            Output::Score if card.label_values.is_some() => DataType::Utf8,
            Output::Score => DataType::Float64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        match self.output {
            Output::Score => self.score(args),
            Output::Recommend => self.recommend(args),
        }
    }
}
