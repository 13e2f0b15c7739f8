//! A SQL session: the catalog of tables a script creates, its settings, and statements run
//! with DataFusion over bounded tables (Flink's batch mode) or on the runtime as streaming
//! jobs (see [`crate::stream`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::tokenizer::Location;
use riffle_connectors::{DataGenTable, NexmarkTable};
use riffle_core::{did_you_mean, Batch, Result, RiffleError};
use riffle_runtime::{
    execute, CheckpointConfig, Collector, ExecutionConfig, Restore, SourceReader, SourceStatus,
};

use crate::files::{
    bad_record_policy, list_files, splits, streaming_splits, FileBatchReader, FileFormat,
    FilePartition, LineParser, SocketBatchReader, SplitPool, TextFormat,
};
use crate::script::{
    parse_script, sql_error, ColumnKind, Located, Statement, TableDef, WatermarkDef,
};
use crate::sink::SinkSpec;
use crate::stream::{
    batch_of, sessions_unaggregated, with_row_kind, Node, Physical, ReaderFactory, SourceSpec,
    Tables, PROCTIME_NOW,
};
use crate::tvf::{interval_text_ms, rewrite, sessions, WindowKind, WindowTable, WindowTvf};
use crate::types::{arrow_type, flink_name};
use crate::value::Value;

/// Rows per batch when a generated table is read.
const READ_BATCH: u64 = 8192;

/// What a statement produced.
#[derive(Debug)]
pub enum Output {
    /// A result table.
    Rows {
        /// Its schema (also when there are no rows).
        schema: SchemaRef,
        /// Its rows.
        batches: Vec<RecordBatch>,
    },
    /// A message for the person (`[INFO] Execute statement succeeded.` in Flink's words).
    Message(String),
    /// Text that is the statement's result (`EXPLAIN`'s plans).
    Text(String),
}

/// What `Session::setup` registered for a query.
struct Setup {
    /// The query with its window TVFs replaced by generated tables.
    text: String,
    /// Whether it runs in streaming mode.
    streaming: bool,
    /// The TVFs and their schemas.
    windows: Vec<(WindowTvf, SchemaRef)>,
    /// The tables read `FOR SYSTEM_TIME AS OF` a time.
    temporals: Vec<crate::temporal::TemporalRead>,
    /// Whether a table it reads is unbounded.
    unbounded: bool,
}

/// A planned statement: what runs, and where its rows go (`None`: back to the caller).
struct Job {
    node: Node,
    schema: SchemaRef,
    sink: Option<(Table, SinkSpec)>,
}

/// The error for a `CREATE MODEL` of a name the catalog has.
fn model_exists(located: &Located, name: &str) -> RiffleError {
    in_statement(
        located,
        RiffleError::Sql(format!(
            "model '{name}' already exists; DROP MODEL {name} first"
        )),
    )
}

/// The counter of rows written by the `i`-th insert of a job.
fn written(i: usize) -> String {
    format!("sql.rows_written.{i}")
}

/// A table of the catalog: its declaration and the schema of its physical columns.
#[derive(Debug, Clone)]
struct Table {
    def: TableDef,
    physical: SchemaRef,
}

impl Table {
    /// The columns an `INSERT INTO` gives: the physical ones without `VIRTUAL` metadata
    /// columns (which the connector fills when it reads and does not write).
    fn written(&self) -> SchemaRef {
        let metadata: Vec<&str> = self
            .def
            .columns
            .iter()
            .filter(|c| {
                matches!(
                    c.kind,
                    ColumnKind::Metadata {
                        is_virtual: true,
                        ..
                    }
                )
            })
            .map(|c| c.name.as_str())
            .collect();
        if metadata.is_empty() {
            return Arc::clone(&self.physical);
        }
        let fields: Vec<_> = self
            .physical
            .fields()
            .iter()
            .filter(|f| !metadata.contains(&f.name().as_str()))
            .cloned()
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// A SQL session, as Flink's SQL client keeps one: tables, settings, and a DataFusion
/// context that plans and runs queries over bounded tables.
///
/// ```
/// use riffle_sql::{Output, Session};
/// let mut session = Session::new().unwrap();
/// let mut rows = 0;
/// session
///     .run_script(
///         "CREATE TABLE t (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
///              'fields.x.kind' = 'sequence', 'fields.x.start' = '1', 'fields.x.end' = '5');
///          SELECT SUM(x) AS total FROM t;",
///         |_, output| {
///             if let Output::Rows { batches, .. } = output {
///                 rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
///             }
///             Ok(())
///         },
///     )
///     .unwrap();
/// assert_eq!(rows, 1);
/// ```
pub struct Session {
    ctx: SessionContext,
    runtime: tokio::runtime::Runtime,
    tables: BTreeMap<String, Table>,
    settings: BTreeMap<String, String>,
    /// Views: name and query.
    views: BTreeMap<String, String>,
    execution: ExecutionConfig,
}

impl Session {
    /// A new session with no tables.
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| RiffleError::Runtime(format!("cannot start the SQL runtime: {e}")))?;
        let ctx = SessionContext::new();
        // It splits a DISTINCT aggregate into two aggregations, which a window aggregation
        // on a stream cannot run as one step.
        ctx.remove_optimizer_rule("single_distinct_aggregation_to_group_by");
        // It turns inner joins into semi joins (or drops them) where one side's rows are
        // unique; the streaming runtime runs inner joins.
        ctx.remove_optimizer_rule("eliminate_join");
        // A correlated NOT IN as NOT EXISTS, before DataFusion decorrelates it (see the
        // module).
        ctx.add_analyzer_rule(Arc::new(crate::not_in::CorrelatedNotIn));
        crate::functions::register(&ctx);
        Ok(Session {
            ctx,
            runtime,
            tables: BTreeMap::new(),
            settings: BTreeMap::new(),
            views: BTreeMap::new(),
            execution: ExecutionConfig::threads(1),
        })
    }

    /// Runs every statement of `script` in order, handing each one's output to `each`; stops
    /// at the first error.
    pub fn run_script(
        &mut self,
        script: &str,
        mut each: impl FnMut(&Located, Output) -> Result<()>,
    ) -> Result<()> {
        for located in parse_script(script)? {
            let output = self.execute(&located)?;
            each(&located, output)?;
        }
        Ok(())
    }

    /// Runs one parsed statement.
    pub fn execute(&mut self, located: &Located) -> Result<Output> {
        match &located.statement {
            Statement::CreateTable(def) => self.create_table(def, located),
            Statement::CreateTableAs { def, query } => self.create_table_as(def, query, located),
            Statement::Set(None) => Ok(Output::Message(
                self.settings
                    .iter()
                    .map(|(k, v)| format!("'{k}' = '{v}'"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            Statement::Set(Some((key, value))) => {
                self.settings.insert(key.clone(), value.clone());
                Ok(Output::Message(
                    "[INFO] Execute statement succeeded.".into(),
                ))
            }
            Statement::ShowTables => {
                let mut names: Vec<&str> = self
                    .tables
                    .keys()
                    .chain(self.views.keys())
                    .map(String::as_str)
                    .collect();
                names.sort();
                let column = Arc::new(datafusion::arrow::array::StringArray::from(names));
                let schema = Arc::new(Schema::new(vec![Field::new(
                    "table name",
                    datafusion::arrow::datatypes::DataType::Utf8,
                    false,
                )]));
                let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column])
                    .map_err(|e| RiffleError::Runtime(e.to_string()))?;
                Ok(Output::Rows {
                    schema,
                    batches: vec![batch],
                })
            }
            Statement::Describe(name) => self.describe(name),
            Statement::DropTable { name, if_exists } => {
                if self.tables.remove(name).is_none() && !if_exists {
                    return Err(self.unknown_table(name));
                }
                Ok(Output::Message(
                    "[INFO] Execute statement succeeded.".into(),
                ))
            }
            Statement::Insert { table, query } => self.insert(located, table, query),
            Statement::CreateView {
                name,
                query,
                if_not_exists,
            } => self.create_view(located, name, query, *if_not_exists),
            Statement::DropView { name, if_exists } => {
                if self.views.remove(name).is_none() && !if_exists {
                    let hint = did_you_mean(name, self.views.keys().map(String::as_str));
                    return Err(RiffleError::Sql(format!("unknown view '{name}'{hint}")));
                }
                let _ = self.ctx.deregister_table(name.as_str());
                Ok(Output::Message(
                    "[INFO] Execute statement succeeded.".into(),
                ))
            }
            Statement::CreateFunction { name, class } => self.create_function(name, class),
            Statement::Explain(inner) => self.explain(inner),
            Statement::StatementSet(inserts) => self.statement_set(inserts),
            Statement::End => Err(RiffleError::Sql(format!(
                "line {}: END without EXECUTE STATEMENT SET BEGIN",
                located.line
            ))),
            Statement::Query => self.query(located),
            Statement::CreateModel {
                name,
                options,
                query,
                if_not_exists,
            } => self.create_model(located, name, options, query, *if_not_exists),
            Statement::ShowModels => {
                let names = self.catalog().names();
                text_rows(
                    &["model name"],
                    names.into_iter().map(|n| vec![n]).collect(),
                )
            }
            Statement::DescribeModel(name) => self.describe_model(name),
            Statement::DropModel { name, if_exists } => {
                let catalog = self.catalog();
                if !catalog.drop_model(name)? && !if_exists {
                    return Err(catalog.unknown(name));
                }
                for output in [crate::ml::Output::Score, crate::ml::Output::Recommend] {
                    self.ctx
                        .deregister_udf(&crate::ml::function_name(name, output));
                }
                Ok(Output::Message(
                    "[INFO] Execute statement succeeded.".into(),
                ))
            }
        }
    }

    /// The model catalog: `SET 'ml.model-catalog' = 'DIR'`, by default `riffle-models` in the
    /// working directory.
    fn catalog(&self) -> crate::ml::Catalog {
        crate::ml::Catalog::new(
            self.setting(crate::ml::CATALOG_SETTING)
                .unwrap_or(crate::ml::DEFAULT_CATALOG),
        )
    }

    /// `CREATE MODEL m WITH (...) AS query`: the query's rows (a bounded query, run in batch
    /// mode) train the model, which is saved in the catalog.
    fn create_model(
        &mut self,
        located: &Located,
        name: &str,
        options: &BTreeMap<String, String>,
        query: &str,
        if_not_exists: bool,
    ) -> Result<Output> {
        let catalog = self.catalog();
        let options = crate::ml::model_options(options).map_err(|e| in_statement(located, e))?;
        let streaming = self.setup(located, query, false)?.streaming;
        // A streaming job restored from a checkpoint continues the model it published.
        let restoring = streaming && self.restoring()?;
        if catalog.contains(name) && !restoring && if_not_exists {
            return Ok(Output::Message(
                "[INFO] Execute statement succeeded.".into(),
            ));
        }
        let stateless = riffle_ml::standalone::STATELESS_TRANSFORMERS
            .contains(&options.spec.algorithm.as_str());
        if streaming && !stateless {
            self.refuse_existing_model(located, name)?;
            let job = self
                .plan_online_model(located, name, &options, query)
                .map_err(|e| in_statement(located, e))?;
            self.run_models(vec![job], &[name.to_string()])?;
            return Ok(Output::Message(self.learned(name)?));
        }
        if catalog.contains(name) {
            if stateless && restoring {
                // A restored job's script makes it again; it learned nothing to lose.
                return Ok(Output::Message(
                    "[INFO] Execute statement succeeded.".into(),
                ));
            }
            return Err(model_exists(located, name));
        }
        let table = if streaming {
            // A transformer that learns nothing takes only the query's columns, also from
            // an unbounded query.
            let schema = self.prepare(located, query, None)?.schema;
            RecordBatch::new_empty(schema)
        } else {
            self.rows_of(located, query)?
        };
        let dir = catalog.path(name);
        let card = crate::ml::train(&options, table, &catalog, name)
            .map_err(|e| in_statement(located, e))?;
        let metrics = card
            .holdout_metrics
            .iter()
            .map(|(k, v)| format!(", {k} = {v:.6}"))
            .collect::<String>();
        Ok(Output::Message(format!(
            "[INFO] Model '{name}' ({}) trained on {} rows{metrics}; saved to {}",
            card.algorithm,
            card.trained_rows,
            dir.display()
        )))
    }

    /// `CREATE MODEL` over an unbounded query (or in streaming mode): an online algorithm
    /// learns every row as it comes, in a streaming job whose sink is the model; versions
    /// are published to the catalog as checkpoints complete (without checkpoints, every
    /// `'model.publish-interval'`) and at the end of a bounded input.
    ///
    /// Plans the job and publishes the untrained model (unless a restored job continues a
    /// published one), so that statements planned after it can score with it.
    fn plan_online_model(
        &mut self,
        located: &Located,
        name: &str,
        options: &crate::ml::ModelOptions,
        query: &str,
    ) -> Result<Job> {
        let spec = &options.spec;
        let online = riffle_ml::online::table::ONLINE_ALGORITHMS;
        if !online.contains(&spec.algorithm.as_str()) {
            return Err(RiffleError::Sql(format!(
                "'{}' trains on a bounded query, and this query reads an unbounded table (or \
                 streaming mode is set); a model that keeps learning from a stream needs an \
                 online algorithm: {}",
                spec.algorithm,
                online.join(", ")
            )));
        }
        if spec.encode.is_some() || spec.impute.is_some() || spec.standardize {
            return Err(RiffleError::Sql(
                "a model learning from a stream takes the query's numeric columns as they \
                 are: 'encode', 'impute' and 'scale' prepare bounded tables; encode text in \
                 the query (ONE_HOT_ENCODE), fill gaps with COALESCE, and set \
                 'standardize' = 'true' for running standardisation"
                    .into(),
            ));
        }
        if options.folds.is_some() {
            return Err(RiffleError::Sql(
                "'cv.folds' cross-validates on a bounded query; a model learning from a \
                 stream is scored by progressive validation (each row predicted before it \
                 is learned), reported in DESCRIBE MODEL"
                    .into(),
            ));
        }
        let mut job = self.prepare(located, query, None)?;
        if job.node.updating() {
            return Err(RiffleError::Sql(
                "the query's result is updating (an aggregation without a window); a model \
                 learns from appended rows: aggregate per window"
                    .into(),
            ));
        }
        let schema = Arc::clone(&job.schema);
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let column = |wanted: &str, what: &str| -> Result<&datafusion::arrow::datatypes::Field> {
            schema.field_with_name(wanted).map_err(|_| {
                RiffleError::Sql(format!(
                    "the query has no {what} column '{wanted}'{}; its columns: {}",
                    did_you_mean(wanted, columns.iter().copied()),
                    columns.join(", ")
                ))
            })
        };
        let algorithm = riffle_ml::algorithms::find(&spec.algorithm)
            .map_err(|e| RiffleError::Ml(e.to_string()))?;
        if spec.label.is_empty() {
            if !algorithm.learns_without_label() {
                return Err(RiffleError::Sql(
                    "CREATE MODEL needs 'label' = '...'".into(),
                ));
            }
        } else if algorithm.learns_clicks() {
            return Err(RiffleError::Sql(format!(
                "'{}' learns from clicks: its features are the user and item columns, and it \
                 takes no 'label' (here '{}')",
                algorithm.name, spec.label
            )));
        } else {
            let label = column(&spec.label, "label")?;
            if algorithm.task != riffle_ml::algorithms::Task::AnomalyDetection
                && !label.data_type().is_numeric()
                && label.data_type() != &datafusion::arrow::datatypes::DataType::Boolean
            {
                return Err(RiffleError::Sql(format!(
                    "label column '{}' is {}; a model learning from a stream takes a numeric \
                     label (0 and 1 for a classifier): map text labels in the query (CASE WHEN)",
                    spec.label,
                    flink_name(label.data_type())
                )));
            }
        }
        let features: Vec<String> = if spec.features.is_empty() {
            columns
                .iter()
                .filter(|c| **c != spec.label)
                .map(|c| c.to_string())
                .collect()
        } else {
            spec.features.clone()
        };
        for feature in &features {
            let field = column(feature, "feature")?;
            if !field.data_type().is_numeric() {
                return Err(RiffleError::Sql(format!(
                    "feature column '{feature}' is {}; a model learning from a stream takes \
                     numeric features: encode text in the query (ONE_HOT_ENCODE) or leave the \
                     column out of 'features'",
                    flink_name(field.data_type())
                )));
            }
        }
        let trainer = riffle_ml::online::table::OnlineTrainer::new(
            &spec.algorithm,
            &spec.params,
            &spec.label,
            &features,
        )
        .map_err(|e| RiffleError::Ml(e.to_string()))?;
        let card = riffle_ml::card::ModelCard {
            algorithm: algorithm.name.to_string(),
            task: algorithm.task,
            label: spec.label.clone(),
            features,
            label_values: None,
            params: spec.params.iter().cloned().collect(),
            trained_rows: 0,
            holdout_metrics: BTreeMap::new(),
        };
        let publish_every = if self.job_config()?.checkpoint.is_some() {
            None
        } else {
            let text = options.publish_interval.as_deref().unwrap_or("1 s");
            let every = flink_duration("model.publish-interval", text)?;
            if every.is_zero() {
                return Err(RiffleError::Sql(
                    "'model.publish-interval' must be longer than 0 (e.g. '500 ms')".into(),
                ));
            }
            Some(every)
        };
        let catalog = self.catalog();
        let target = crate::ml::ModelTarget {
            name: name.to_string(),
            catalog: catalog.dir().to_path_buf(),
            trainer,
            card,
            publish_every,
        };
        if !(self.restoring()? && catalog.contains(name)) {
            target.publish(&target.trainer)?;
        }
        job.sink = Some((
            Table {
                def: TableDef {
                    name: format!("model {name}"),
                    ..Default::default()
                },
                physical: schema,
            },
            SinkSpec::Model(Arc::new(target)),
        ));
        Ok(job)
    }

    /// What a model that learned from a stream reports at the end of its job.
    fn learned(&self, name: &str) -> Result<String> {
        let catalog = self.catalog();
        let (_, card) = catalog.load(name)?;
        let metrics = card
            .holdout_metrics
            .iter()
            .filter(|(k, _)| k.as_str() != "progressive_rows")
            .map(|(k, v)| format!(", {k} = {v:.6}"))
            .collect::<String>();
        Ok(format!(
            "[INFO] Model '{name}' ({}) learned {} rows online{metrics}; saved to {}",
            card.algorithm,
            card.trained_rows,
            catalog.path(name).display()
        ))
    }

    /// The rows of `query`, run in batch mode, as one batch.
    fn rows_of(&mut self, located: &Located, query: &str) -> Result<RecordBatch> {
        let inner = Located {
            statement: Statement::Query,
            text: query.to_string(),
            line: located.line,
        };
        let Output::Rows { schema, batches } = self.query(&inner)? else {
            return Err(RiffleError::Sql("the query returned no rows".into()));
        };
        datafusion::arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| RiffleError::Runtime(e.to_string()))
    }

    fn describe_model(&self, name: &str) -> Result<Output> {
        let catalog = self.catalog();
        let (_, card) = catalog.load(name)?;
        let mut rows = vec![
            vec!["algorithm".to_string(), card.algorithm.clone()],
            vec![
                "task".to_string(),
                format!("{:?}", card.task).to_lowercase(),
            ],
            vec![
                "label".to_string(),
                if card.label.is_empty() {
                    "(none)".to_string()
                } else {
                    card.label.clone()
                },
            ],
            vec!["features".to_string(), card.features.join(", ")],
        ];
        if let Some(values) = &card.label_values {
            rows.push(vec!["classes".to_string(), values.join(", ")]);
        }
        for (k, v) in &card.params {
            rows.push(vec![format!("param {k}"), v.clone()]);
        }
        rows.push(vec![
            "trained rows".to_string(),
            card.trained_rows.to_string(),
        ]);
        for (k, v) in &card.holdout_metrics {
            rows.push(vec![k.clone(), format!("{v:.6}")]);
        }
        rows.push(vec![
            "path".to_string(),
            catalog.path(name).display().to_string(),
        ]);
        text_rows(&["property", "value"], rows)
    }

    /// Registers model `name`'s function giving `output`; returns its card.
    fn register_model(
        &self,
        name: &str,
        output: crate::ml::Output,
    ) -> Result<riffle_ml::card::ModelCard> {
        let catalog = self.catalog();
        let (model, card) = catalog.load(name)?;
        let function =
            crate::ml::ModelFunction::new(name, model, card.clone(), &catalog.path(name), output)?;
        self.ctx
            .register_udf(datafusion::logical_expr::ScalarUDF::from(function));
        Ok(card)
    }

    /// `text` with its `ML_PREDICT` and `ML_EVALUATE` calls replaced: the table form of
    /// `ML_PREDICT` by a projection with the model's scoring function, the scalar form by
    /// that function, and `ML_EVALUATE` by the table of its metrics (computed now, on the
    /// bounded table's rows).
    fn rewrite_ml(&mut self, located: &Located, text: &str) -> Result<String> {
        let found = crate::ml::find_calls(text).map_err(|e| in_statement(located, e))?;
        if found.is_empty() {
            return Ok(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for f in found {
            out.push_str(&text[last..f.range.start]);
            match f.call {
                crate::ml::Call::PredictTable {
                    table,
                    model,
                    columns,
                } => {
                    let card = self.register_model(&model, crate::ml::Output::Score)?;
                    let features = if columns.is_empty() {
                        card.features.clone()
                    } else if columns.len() == card.features.len() {
                        columns
                    } else {
                        return Err(RiffleError::Sql(format!(
                            "ML_PREDICT: DESCRIPTOR names {} column(s); model '{model}' takes \
                             {} ({})",
                            columns.len(),
                            card.features.len(),
                            card.features.join(", ")
                        )));
                    };
                    out.push_str(&crate::ml::predict_projection(&table, &model, &features));
                }
                crate::ml::Call::Scalar { model, output } => {
                    self.register_model(&model, output)?;
                    out.push_str(&format!("{}(", crate::ml::function_name(&model, output)));
                }
                crate::ml::Call::Evaluate { table, model } => {
                    let (fitted, card) = self.catalog().load(&model)?;
                    let rows = self.rows_of(located, &format!("SELECT * FROM \"{table}\""))?;
                    let metrics = riffle_ml::tabular::evaluate(&fitted, &card, rows)
                        .map_err(|e| RiffleError::Ml(format!("ML_EVALUATE: {e}")))?;
                    out.push_str(&crate::ml::metrics_table(&metrics));
                }
            }
            last = f.range.end;
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    /// Flink's `CREATE FUNCTION f AS 'class'` loads a Java or Python class; Riffle's functions
    /// are Rust, registered with [`Session::register_udf`] or built in. The statement is
    /// accepted for a function that exists (so Flink scripts run unchanged) and refused,
    /// saying how to register it, otherwise.
    fn create_function(&self, name: &str, class: &str) -> Result<Output> {
        let state = self.ctx.state();
        let lower = name.to_lowercase();
        if state.scalar_functions().contains_key(&lower)
            || state.aggregate_functions().contains_key(&lower)
        {
            return Ok(Output::Message(format!(
                "[INFO] Function '{name}' is a Riffle function; the class '{class}' is not loaded."
            )));
        }
        Err(RiffleError::Sql(format!(
            "CREATE FUNCTION {name}: Riffle cannot load the class '{class}'; functions are \
             written in Rust and registered with Session::register_udf or register_udaf"
        )))
    }

    fn unknown_table(&self, name: &str) -> RiffleError {
        let hint = did_you_mean(name, self.tables.keys().map(String::as_str));
        RiffleError::Sql(format!("unknown table '{name}'{hint}"))
    }

    fn create_table(&mut self, def: &TableDef, located: &Located) -> Result<Output> {
        let in_statement = |e: RiffleError| {
            RiffleError::Sql(format!(
                "CREATE TABLE {} (line {}): {e}",
                def.name, located.line
            ))
        };
        if self.tables.contains_key(&def.name) {
            if def.if_not_exists {
                return Ok(Output::Message(
                    "[INFO] Execute statement succeeded.".into(),
                ));
            }
            return Err(in_statement(RiffleError::Sql(format!(
                "table '{}' already exists",
                def.name
            ))));
        }
        let mut fields = Vec::new();
        for column in &def.columns {
            match &column.kind {
                ColumnKind::Physical {
                    data_type,
                    nullable,
                } => {
                    let arrow = arrow_type(data_type).map_err(in_statement)?;
                    fields.push(Field::new(&column.name, arrow, *nullable));
                }
                // Read by the connector beside the value's columns.
                ColumnKind::Metadata { data_type, .. } => {
                    let arrow = arrow_type(data_type).map_err(in_statement)?;
                    fields.push(Field::new(&column.name, arrow, true));
                }
                ColumnKind::Computed(_) => {}
            }
        }
        let physical = Arc::new(Schema::new(fields));
        let names: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
        for key in def
            .watermark
            .iter()
            .map(|w| &w.column)
            .chain(&def.primary_key)
        {
            if !names.contains(&key.as_str()) {
                let hint = did_you_mean(key, names.iter().copied());
                return Err(in_statement(RiffleError::Sql(format!(
                    "unknown column '{key}'{hint}"
                ))));
            }
        }
        check_connector(def, &physical).map_err(in_statement)?;
        self.tables.insert(
            def.name.clone(),
            Table {
                def: def.clone(),
                physical,
            },
        );
        Ok(Output::Message(
            "[INFO] Execute statement succeeded.".into(),
        ))
    }

    /// `CREATE TABLE t WITH (...) AS query`: the table gets the query's columns, then the
    /// query's rows, as an `INSERT INTO` would write them.
    fn create_table_as(
        &mut self,
        def: &TableDef,
        query: &str,
        located: &Located,
    ) -> Result<Output> {
        if self.tables.contains_key(&def.name) && def.if_not_exists {
            return Ok(Output::Message(
                "[INFO] Execute statement succeeded.".into(),
            ));
        }
        let setup = self.setup(located, query, false)?;
        let plan = self
            .plan(&setup.text)
            .map_err(|e| positioned(located, &e))?;
        let mut columns = Vec::new();
        for field in plan.schema().as_arrow().fields() {
            let name = flink_name(field.data_type());
            let data_type = datafusion::sql::sqlparser::parser::Parser::new(
                &datafusion::sql::sqlparser::dialect::GenericDialect {},
            )
            .try_with_sql(&name)
            .and_then(|mut p| p.parse_data_type())
            .map_err(|_| {
                in_statement(
                    located,
                    RiffleError::Sql(format!(
                        "column '{}' of the query is {name}, which a table cannot hold yet",
                        field.name()
                    )),
                )
            })?;
            columns.push(crate::script::ColumnDef {
                name: field.name().clone(),
                kind: ColumnKind::Physical {
                    data_type,
                    nullable: true,
                },
            });
        }
        let mut def = def.clone();
        def.columns = columns;
        self.create_table(&def, located)?;
        let result = self
            .sink_table(&def.name)
            .and_then(|sink| self.prepare(located, query, Some(sink)))
            .and_then(|job| self.run_jobs(vec![job]));
        if result.is_err() {
            // The statement failed: the table it created goes too.
            self.tables.remove(&def.name);
        }
        result
    }

    fn describe(&mut self, name: &str) -> Result<Output> {
        let table = self
            .tables
            .get(name)
            .cloned()
            .ok_or_else(|| self.unknown_table(name))?;
        // Register it so that computed columns get their types from the planner.
        self.register(&table, false)?;
        let schema = self
            .runtime
            .block_on(self.ctx.table(name))
            .map_err(|e| RiffleError::Sql(e.to_string()))?
            .schema()
            .as_arrow()
            .clone();
        let mut rows: Vec<[String; 4]> = Vec::new();
        for field in schema.fields() {
            let column = table.def.columns.iter().find(|c| &c.name == field.name());
            let extras = match column.map(|c| &c.kind) {
                Some(ColumnKind::Computed(expr)) => format!("AS {expr}"),
                Some(ColumnKind::Metadata {
                    key, is_virtual, ..
                }) => format!(
                    "METADATA FROM '{key}'{}",
                    if *is_virtual { " VIRTUAL" } else { "" }
                ),
                _ => String::new(),
            };
            let watermark = match &table.def.watermark {
                Some(w) if &w.column == field.name() => format!("{}", w.expr),
                _ => String::new(),
            };
            let key = if table.def.primary_key.contains(field.name()) {
                "PRI"
            } else {
                ""
            };
            rows.push([
                field.name().clone(),
                flink_name(field.data_type()),
                if field.is_nullable() { "TRUE" } else { "FALSE" }.to_string(),
                [key.to_string(), extras, watermark]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]);
        }
        let columns = ["name", "type", "null", "key, extras, watermark"];
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| Field::new(*c, datafusion::arrow::datatypes::DataType::Utf8, false))
                .collect::<Vec<_>>(),
        ));
        let arrays = (0..4)
            .map(|i| {
                Arc::new(datafusion::arrow::array::StringArray::from(
                    rows.iter().map(|r| r[i].clone()).collect::<Vec<_>>(),
                )) as _
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
            .map_err(|e| RiffleError::Runtime(e.to_string()))?;
        Ok(Output::Rows {
            schema,
            batches: vec![batch],
        })
    }

    fn query(&mut self, located: &Located) -> Result<Output> {
        let job = self.prepare(located, &located.text.clone(), None)?;
        self.run_jobs(vec![job])
    }

    fn insert(&mut self, located: &Located, table: &str, query: &str) -> Result<Output> {
        let target = self.sink_table(table)?;
        let job = self.prepare(located, query, Some(target))?;
        self.run_jobs(vec![job])
    }

    /// `EXECUTE STATEMENT SET`: every insert planned, then run as one job. A `CREATE MODEL`
    /// in the set learns from a stream while the inserts run, and inserts that score with
    /// the model (`ML_PREDICT`) take each version it publishes (models are planned first, so
    /// the inserts find them in the catalog).
    fn statement_set(&mut self, statements: &[Located]) -> Result<Output> {
        let (models, inserts): (Vec<&Located>, Vec<&Located>) = statements
            .iter()
            .partition(|l| matches!(l.statement, Statement::CreateModel { .. }));
        let mut jobs = Vec::new();
        let mut names: Vec<String> = Vec::new();
        // Models publish their untrained version as they are planned: if a later statement
        // of the set fails to plan, those are removed again.
        let restoring = self.restoring()?;
        let planned = self.plan_set(models, inserts, &mut jobs, &mut names);
        if let Err(error) = planned {
            if !restoring {
                let catalog = self.catalog();
                for name in &names {
                    let _ = catalog.drop_model(name);
                }
            }
            return Err(error);
        }
        let output = self.run_models(jobs, &names)?;
        let mut messages = vec![match output {
            Output::Message(m) => m,
            _ => String::new(),
        }];
        for name in names {
            messages.push(self.learned(&name)?);
        }
        Ok(Output::Message(messages.join("\n")))
    }

    /// Plans a statement set's models (into `names`) and inserts, each a job of `jobs`.
    fn plan_set(
        &mut self,
        models: Vec<&Located>,
        inserts: Vec<&Located>,
        jobs: &mut Vec<Job>,
        names: &mut Vec<String>,
    ) -> Result<()> {
        for located in models {
            let Statement::CreateModel {
                name,
                options,
                query,
                if_not_exists,
            } = &located.statement
            else {
                continue;
            };
            // IF NOT EXISTS: the model there is kept (and scored with), not trained again.
            if *if_not_exists && self.catalog().contains(name) && !self.restoring()? {
                continue;
            }
            let options =
                crate::ml::model_options(options).map_err(|e| in_statement(located, e))?;
            if !self.setup(located, query, false)?.streaming {
                return Err(in_statement(
                    located,
                    RiffleError::Sql(
                        "a CREATE MODEL in a statement set learns from a stream; this query is \
                         bounded (run it on its own, or SET 'execution.runtime-mode' = \
                         'streaming')"
                            .into(),
                    ),
                ));
            }
            if names.contains(name) {
                return Err(in_statement(
                    located,
                    RiffleError::Sql(format!("model '{name}' is made twice in the set")),
                ));
            }
            self.refuse_existing_model(located, name)?;
            let job = self
                .plan_online_model(located, name, &options, query)
                .map_err(|e| in_statement(located, e))?;
            names.push(name.clone());
            jobs.push(job);
        }
        for located in inserts {
            let Statement::Insert { table, query } = &located.statement else {
                return Err(in_statement(
                    located,
                    RiffleError::Sql(
                        "a statement set holds INSERT INTO and CREATE MODEL statements only".into(),
                    ),
                ));
            };
            let target = self.sink_table(table)?;
            jobs.push(self.prepare(located, query, Some(target))?);
        }
        Ok(())
    }

    /// Runs `jobs`, which train the models `names`; if they fail, the models they published
    /// are removed (a restored job keeps them: its checkpoint still holds their state).
    fn run_models(&mut self, jobs: Vec<Job>, names: &[String]) -> Result<Output> {
        let restoring = self.restoring()?;
        self.run_jobs(jobs).inspect_err(|_| {
            if !restoring {
                let catalog = self.catalog();
                for name in names {
                    let _ = catalog.drop_model(name);
                }
            }
        })
    }

    /// Whether a streaming job is being restored from a checkpoint (it then continues the
    /// models it published).
    fn restoring(&self) -> Result<bool> {
        Ok(self
            .job_config()?
            .checkpoint
            .is_some_and(|c| c.restore.is_some()))
    }

    /// Refuses to make model `name` again, unless a restored job continues it.
    fn refuse_existing_model(&self, located: &Located, name: &str) -> Result<()> {
        if self.catalog().contains(name) && !self.restoring()? {
            return Err(model_exists(located, name));
        }
        Ok(())
    }

    /// The sink of an `INSERT INTO table`.
    fn sink_table(&self, table: &str) -> Result<(Table, SinkSpec)> {
        let target = self
            .tables
            .get(table)
            .cloned()
            .ok_or_else(|| self.unknown_table(table))?;
        let sink = SinkSpec::of(&target.def, &target.physical)?;
        Ok((target, sink))
    }

    /// Registers what the query `text` reads (its tables, views and window TVFs): for a
    /// streaming plan empty, for batch mode with their rows when `rows`. Returns the text
    /// with its TVFs replaced, whether it runs in streaming mode, its TVFs with their schemas,
    /// and whether a table it reads is unbounded.
    fn setup(&mut self, located: &Located, text: &str, rows: bool) -> Result<Setup> {
        let text = self.rewrite_ml(located, text)?;
        let (text, tvfs) = rewrite(&text, 0).map_err(|e| in_script(located, e))?;
        let (text, temporals) =
            crate::temporal::rewrite(&text).map_err(|e| in_script(located, e))?;
        let mut names = self
            .references(&text)
            .map_err(|e| positioned(located, &e))?;
        names.retain(|n| !tvfs.iter().any(|t| &t.name == n));
        names.extend(tvfs.iter().map(|t| t.table.clone()));
        // Views bring the tables they read.
        let mut views = Vec::new();
        let mut k = 0;
        while k < names.len() {
            if let Some(query) = self.views.get(&names[k]).cloned() {
                views.push(names[k].clone());
                let inner = self.references(&query).map_err(RiffleError::Sql)?;
                names.extend(inner);
            }
            k += 1;
        }
        names.sort();
        names.dedup();
        let mut tables = Vec::new();
        for name in names.iter().filter(|n| !views.contains(n)) {
            match self.tables.get(name) {
                Some(table) => tables.push(table.clone()),
                None => return Err(self.unknown_table(name)),
            }
        }
        let mut streaming = self.streaming(&tables)?;
        if !temporals.is_empty() && !streaming {
            // Temporal joins are streaming joins (Flink runs them in streaming mode only).
            if self.setting("execution.runtime-mode") == Some("batch") {
                return Err(RiffleError::Sql(
                    "FOR SYSTEM_TIME AS OF (a temporal join) runs in streaming mode only: SET \
                     'execution.runtime-mode' = 'streaming'"
                        .into(),
                ));
            }
            streaming = true;
        }
        for table in &tables {
            self.register(table, rows && !streaming)?;
        }
        // Views read the tables just registered (a view holds its tables' providers).
        for view in views.iter().rev() {
            self.register_view(view)?;
        }
        let mut windows = Vec::new();
        for mut tvf in tvfs {
            tvf.processing_time = self.proctime_column(&tvf.table, &tvf.time_column);
            if tvf.processing_time {
                // Processing-time windows close on the wall clock (in streaming mode).
                if matches!(tvf.kind, WindowKind::Session { .. }) {
                    return Err(RiffleError::Sql(format!(
                        "DESCRIPTOR({}): SESSION windows over processing time are not \
                         supported yet; use an event-time column with a WATERMARK",
                        tvf.time_column
                    )));
                }
                if !streaming {
                    return Err(RiffleError::Sql(format!(
                        "DESCRIPTOR({}): windows over processing time (a PROCTIME() column) \
                         run in streaming mode only: SET 'execution.runtime-mode' = \
                         'streaming'",
                        tvf.time_column
                    )));
                }
            }
            let schema = self.window_schema(&tvf)?;
            let provider: Arc<dyn datafusion::catalog::TableProvider> = if rows && !streaming {
                let input = self.collect(&format!("SELECT * FROM \"{}\"", tvf.table))?;
                if matches!(tvf.kind, WindowKind::Session { .. }) {
                    // Sessions need all of a partition's rows at once.
                    let input_schema = input
                        .first()
                        .map(|b| b.schema())
                        .unwrap_or_else(|| Arc::new(Schema::empty()));
                    let all = datafusion::arrow::compute::concat_batches(&input_schema, &input)
                        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
                    let batches = match all.num_rows() {
                        0 => Vec::new(),
                        _ => vec![sessions(&tvf, &schema, &all)?],
                    };
                    memory_table(&schema, batches)?
                } else {
                    Arc::new(WindowTable::new(tvf.clone(), Arc::clone(&schema), input))
                }
            } else {
                memory_table(&schema, Vec::new())?
            };
            self.register_provider(&tvf.name, provider)?;
            windows.push((tvf, schema));
        }
        Ok(Setup {
            text,
            streaming,
            windows,
            temporals,
            unbounded: tables.iter().any(|t| !is_bounded(&t.def)),
        })
    }

    /// The tables and views a query names.
    fn references(&self, text: &str) -> std::result::Result<Vec<String>, String> {
        let state = self.ctx.state();
        let statement = state
            .sql_to_statement(text, &datafusion::config::Dialect::Generic)
            .map_err(|e| e.to_string())?;
        let references = state
            .resolve_table_references(&statement)
            .map_err(|e| e.to_string())?;
        Ok(references.iter().map(|r| r.table().to_string()).collect())
    }

    /// (Re)creates view `name` in DataFusion over the tables registered now.
    fn register_view(&self, name: &str) -> Result<()> {
        let Some(query) = self.views.get(name) else {
            return Ok(());
        };
        let _ = self.ctx.deregister_table(name);
        let sql = format!("CREATE VIEW \"{name}\" AS {}", query.trim());
        self.run_sql(&sql)
            .map(|_| ())
            .map_err(|e| RiffleError::Sql(format!("view '{name}': {e}")))
    }

    fn create_view(
        &mut self,
        located: &Located,
        name: &str,
        query: &str,
        if_not_exists: bool,
    ) -> Result<Output> {
        if self.tables.contains_key(name) || self.views.contains_key(name) {
            if if_not_exists {
                return Ok(Output::Message(
                    "[INFO] Execute statement succeeded.".into(),
                ));
            }
            return Err(in_statement(
                located,
                RiffleError::Sql(format!("a table or view '{name}' already exists")),
            ));
        }
        let (_, tvfs) = rewrite(query, 0).map_err(|e| in_script(located, e))?;
        if !tvfs.is_empty() {
            return Err(in_statement(
                located,
                RiffleError::Sql(
                    "a window table function in a view is not supported yet: use it in the \
                     query that reads the view"
                        .into(),
                ),
            ));
        }
        // Planned once now, so that a mistake shows where the view is made.
        self.views.insert(name.to_string(), query.to_string());
        let check = self.setup(located, &format!("SELECT * FROM \"{name}\""), false);
        if let Err(error) = check {
            self.views.remove(name);
            return Err(error);
        }
        Ok(Output::Message(
            "[INFO] Execute statement succeeded.".into(),
        ))
    }

    /// `EXPLAIN`: DataFusion's optimised plan of the query and, in streaming mode, the
    /// operators the runtime runs.
    fn explain(&mut self, inner: &Located) -> Result<Output> {
        let text = match &inner.statement {
            Statement::Query => inner.text.clone(),
            Statement::Insert { query, .. } => query.clone(),
            _ => {
                return Err(in_statement(
                    inner,
                    RiffleError::Sql("EXPLAIN takes a query or an INSERT INTO".into()),
                ))
            }
        };
        let setup = self.setup(inner, &text, false)?;
        let plan = self
            .plan_streaming(&setup)
            .map_err(|e| positioned(inner, &e))?;
        let mut out = format!(
            "== Optimized logical plan (DataFusion) ==\n{}\n",
            plan.display_indent()
        );
        if setup.streaming {
            let planner = Planner {
                session: self,
                windows: &setup.windows,
                temporals: &setup.temporals,
            };
            let node = Node::from_plan(&plan, &self.ctx.state(), &planner)
                .map_err(|e| in_statement(inner, e))?;
            let workers = self.parallelism()?;
            out.push_str(&format!(
                "\n== Streaming plan ({workers} worker{}) ==\n{}",
                if workers == 1 { "" } else { "s" },
                node.describe()
            ));
        } else {
            out.push_str("\n== Batch mode: DataFusion runs the plan above ==\n");
        }
        Ok(Output::Text(out))
    }

    /// Plans `text` (a query): a streaming job on the runtime, or a batch-mode result from
    /// DataFusion, for `target`'s sink or to be returned.
    fn prepare(
        &mut self,
        located: &Located,
        text: &str,
        target: Option<(Table, SinkSpec)>,
    ) -> Result<Job> {
        let setup = self.setup(located, text, true)?;
        if setup.streaming {
            let plan = self
                .plan_streaming(&setup)
                .map_err(|e| positioned(located, &e))?;
            let schema = Arc::new(plan.schema().as_arrow().clone());
            let planner = Planner {
                session: self,
                windows: &setup.windows,
                temporals: &setup.temporals,
            };
            let node = Node::from_plan(&plan, &self.ctx.state(), &planner)
                .map_err(|e| in_statement(located, e))?;
            if node.raw_sessions() {
                return Err(in_statement(located, sessions_unaggregated()));
            }
            let sink = match target {
                Some(target) => Some(target),
                // An unbounded SELECT never ends: print its changelog as it comes.
                None if setup.unbounded => Some((
                    Table {
                        def: TableDef::default(),
                        physical: Arc::clone(&schema),
                    },
                    SinkSpec::Print,
                )),
                None => None,
            };
            Ok(Job { node, schema, sink })
        } else {
            let (schema, batches) = self
                .run_sql(&setup.text)
                .map_err(|e| positioned(located, &e))?;
            Ok(Job {
                node: Node::Values(Arc::new(batches)),
                schema,
                sink: target,
            })
        }
    }

    /// Whether statements over `tables` run in streaming mode: as `execution.runtime-mode`
    /// says, or, when it is not set, when a table is unbounded.
    fn streaming(&self, tables: &[Table]) -> Result<bool> {
        let unbounded = tables.iter().find(|t| !is_bounded(&t.def));
        match self.setting("execution.runtime-mode") {
            Some("streaming") => Ok(true),
            Some("batch") => match unbounded {
                Some(t) => Err(RiffleError::Sql(format!(
                    "table '{}' is unbounded, and batch mode reads bounded tables only; SET \
                     'execution.runtime-mode' = 'streaming'",
                    t.def.name
                ))),
                None => Ok(false),
            },
            Some(other) => Err(RiffleError::Sql(format!(
                "'execution.runtime-mode' = '{other}': use 'streaming' or 'batch'"
            ))),
            None => Ok(unbounded.is_some()),
        }
    }

    /// Where streaming jobs run (workers, processes, checkpoints), as `riffle sql -w N ...`
    /// gives it; `SET 'parallelism.default'` overrides the workers.
    pub fn set_execution(&mut self, config: ExecutionConfig) {
        self.execution = config;
    }

    /// Where and how a job runs: the execution config (`riffle sql -w ... --checkpoint-dir`)
    /// with the session's settings over it: `parallelism.default`, Flink's
    /// `state.checkpoints.dir`, `execution.checkpointing.interval` and
    /// `execution.savepoint.path` (`latest` or a checkpoint directory to restore).
    fn job_config(&self) -> Result<ExecutionConfig> {
        let mut config = self.execution.clone();
        config.workers = self.parallelism()?;
        let dir = self.setting("state.checkpoints.dir");
        let interval = match self.setting("execution.checkpointing.interval") {
            Some(text) => Some(flink_duration("execution.checkpointing.interval", text)?),
            None => None,
        };
        let restore = self.setting("execution.savepoint.path").map(|p| match p {
            "latest" => Restore::Latest,
            path => Restore::Path(PathBuf::from(path)),
        });
        match (&mut config.checkpoint, dir) {
            (Some(checkpoint), dir) => {
                if let Some(dir) = dir {
                    checkpoint.dir = PathBuf::from(dir);
                }
                if let Some(interval) = interval {
                    checkpoint.interval = interval;
                }
                if restore.is_some() {
                    checkpoint.restore = restore;
                }
            }
            (None, Some(dir)) => {
                config.checkpoint = Some(CheckpointConfig {
                    dir: PathBuf::from(dir),
                    interval: interval.unwrap_or(std::time::Duration::from_secs(1)),
                    restore,
                });
            }
            (None, None) if interval.is_some() || restore.is_some() => {
                return Err(RiffleError::Sql(
                    "checkpointing needs a directory: SET 'state.checkpoints.dir' = '...' (or \
                     riffle sql --checkpoint-dir)"
                        .into(),
                ))
            }
            (None, None) => {}
        }
        Ok(config)
    }

    /// Worker threads of a streaming job per process (`parallelism.default`, else the
    /// execution config's).
    fn parallelism(&self) -> Result<usize> {
        match self.setting("parallelism.default") {
            None => Ok(self.execution.workers.max(1)),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(RiffleError::Sql(format!(
                    "'parallelism.default' = '{v}' is not a positive number of workers"
                ))),
            },
        }
    }

    /// Whether `column` of table `table` is computed by `PROCTIME()`.
    fn proctime_column(&self, table: &str, column: &str) -> bool {
        self.tables.get(table).is_some_and(|t| {
            t.def.columns.iter().any(|c| {
                c.name.eq_ignore_ascii_case(column)
                    && matches!(&c.kind, ColumnKind::Computed(e)
                        if e.to_string().to_uppercase().contains("PROCTIME("))
            })
        })
    }

    /// The schema of a window TVF's rows (its input table must be registered).
    fn window_schema(&self, tvf: &WindowTvf) -> Result<SchemaRef> {
        let input = self
            .runtime
            .block_on(self.ctx.table(tvf.table.as_str()))
            .map_err(|e| RiffleError::Sql(e.to_string()))?;
        tvf.schema(input.schema().as_arrow())
    }

    fn register_provider(
        &self,
        name: &str,
        provider: Arc<dyn datafusion::catalog::TableProvider>,
    ) -> Result<()> {
        let _ = self.ctx.deregister_table(name);
        self.ctx
            .register_table(name, provider)
            .map(|_| ())
            .map_err(|e| RiffleError::Runtime(e.to_string()))
    }

    /// Runs `sql` with DataFusion and returns its rows.
    fn collect(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        self.run_sql(sql)
            .map(|(_, batches)| batches)
            .map_err(RiffleError::Sql)
    }

    /// Runs `sql` with DataFusion: the result's schema and rows, or the error as text (for
    /// `positioned`).
    fn run_sql(&self, sql: &str) -> std::result::Result<(SchemaRef, Vec<RecordBatch>), String> {
        let ctx = self.ctx.clone();
        self.runtime
            .block_on(async move {
                let frame = ctx.sql(sql).await?;
                let schema = Arc::new(frame.schema().as_arrow().clone());
                Ok::<_, datafusion::error::DataFusionError>((schema, frame.collect().await?))
            })
            .map_err(|e| match e.find_root() {
                // A reader's own error (a bad record with its file and line), as it said it.
                datafusion::error::DataFusionError::External(inner) => inner.to_string(),
                _ => e.to_string(),
            })
    }

    /// The streaming plan of a set-up query: [`Session::plan`], except that a query with a
    /// temporal join keeps every column of its inputs, since the time a row is joined at
    /// (`FOR SYSTEM_TIME AS OF o.ts`, cut out of the text) is one DataFusion did not see used.
    fn plan_streaming(&self, setup: &Setup) -> std::result::Result<LogicalPlan, String> {
        if setup.temporals.is_empty() {
            return self.plan(&setup.text);
        }
        let state = self.ctx.state();
        let rules = state
            .optimizer()
            .rules
            .iter()
            .filter(|r| r.name() != "optimize_projections")
            .cloned()
            .collect();
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_optimizer_rules(rules)
            .build();
        self.plan_in(&state, &setup.text)
    }

    /// DataFusion's optimised logical plan of `sql`; the error as text for `positioned`.
    fn plan(&self, sql: &str) -> std::result::Result<LogicalPlan, String> {
        self.plan_in(&self.ctx.state(), sql)
    }

    /// [`Session::plan`] with the optimiser of `state`.
    fn plan_in(
        &self,
        state: &datafusion::execution::SessionState,
        sql: &str,
    ) -> std::result::Result<LogicalPlan, String> {
        self.runtime
            .block_on(async { state.create_logical_plan(sql).await })
            .and_then(|plan| state.optimize(&plan))
            .map_err(|e| e.to_string())
    }

    /// The streaming source of catalog table `table`.
    fn source(&self, table: &Table) -> Result<SourceSpec> {
        let def = &table.def;
        let physical = Arc::clone(&table.physical);
        let options = &def.options;
        let mut reader_watermarks = false;
        let rowtime = match &def.watermark {
            None => None,
            Some(watermark) => Some((
                self.rowtime(table, &watermark.column)?,
                watermark_delay(watermark)?,
            )),
        };
        let reader: ReaderFactory = match options.get("connector").map(String::as_str) {
            Some("datagen") => {
                let generator = DataGenTable::from_options(physical, options)?;
                Arc::new(move |_, w, n, _| Ok(Box::new(generator.reader(w, n)) as _))
            }
            Some("nexmark") => {
                reader_watermarks = true;
                let generator = NexmarkTable::from_options(physical, options)?;
                Arc::new(move |_, w, n, _| Ok(Box::new(generator.reader(w, n)) as _))
            }
            Some("filesystem") => {
                let path = PathBuf::from(options.get("path").cloned().unwrap_or_default());
                let files = list_files(&path)?;
                let format = FileFormat::of(def)?;
                let policy = bad_record_policy(def)?;
                let name = def.name.clone();
                Arc::new(move |job, w, n, columns| {
                    let parser = match format {
                        FileFormat::Text(text) => Some(
                            LineParser::new(
                                Arc::clone(&physical),
                                text,
                                policy.clone(),
                                job.counter(&format!("sql.{name}.bad_records")),
                            )?
                            .reading(columns),
                        ),
                        FileFormat::Parquet => None,
                    };
                    // With fewer files than workers, files are cut into byte ranges, which
                    // the workers of a process take from one pool.
                    let splits = streaming_splits(&files, format, n)?;
                    let pool = job.shared(&format!("files.{name}"), w, || {
                        SplitPool::of_process(&splits, job.process(), job.processes())
                    })?;
                    Ok(Box::new(FileBatchReader::new(
                        pool,
                        Arc::clone(&physical),
                        format,
                        parser,
                    )) as _)
                })
            }
            Some("socket") => {
                let address = socket_address(def)?;
                let format = TextFormat::of(def)?;
                let policy = bad_record_policy(def)?;
                let name = def.name.clone();
                Arc::new(move |job, w, _, _| {
                    let parser = LineParser::new(
                        Arc::clone(&physical),
                        format,
                        policy.clone(),
                        job.counter(&format!("sql.{name}.bad_records")),
                    )?;
                    Ok(Box::new(SocketBatchReader::new(address.clone(), parser, w)) as _)
                })
            }
            Some("kafka" | "upsert-kafka") => {
                // Per-partition watermarks, computed by the reader.
                reader_watermarks = rowtime.is_some();
                crate::kafka::value_format(def, &physical)?;
                crate::kafka::source(def)?;
                let policy = bad_record_policy(def)?;
                let (def, rowtime) = (def.clone(), rowtime.clone());
                Arc::new(move |job, w, n, _| {
                    let reader = crate::kafka::KafkaBatchReader::new(
                        &def,
                        Arc::clone(&physical),
                        policy.clone(),
                        job.counter(&format!("sql.{}.bad_records", def.name)),
                        rowtime.clone(),
                        w,
                        n,
                    )?
                    .counting(job.counter(&format!("sql.{}.messages", def.name)));
                    Ok(Box::new(reader) as _)
                })
            }
            other => {
                return Err(RiffleError::Sql(format!(
                    "table '{}': connector {other:?} cannot be read",
                    def.name
                )))
            }
        };
        // An upsert-kafka table is read as a changelog keyed by its primary key.
        let upserts = match options.get("connector").map(String::as_str) {
            Some("upsert-kafka") => Some(crate::stream::Upserts {
                keys: def
                    .primary_key
                    .iter()
                    .map(|k| {
                        table
                            .physical
                            .fields()
                            .iter()
                            .position(|f| f.name().eq_ignore_ascii_case(k))
                            .ok_or_else(|| {
                                RiffleError::Sql(format!(
                                    "table '{}': the primary key column '{k}' is not a \
                                     physical column",
                                    def.name
                                ))
                            })
                    })
                    .collect::<Result<_>>()?,
                schema: crate::stream::with_row_kind(&table.physical),
            }),
            _ => None,
        };
        Ok(SourceSpec {
            name: def.name.clone(),
            reader,
            schema: match &upserts {
                Some(upserts) => Arc::clone(&upserts.schema),
                None => Arc::clone(&table.physical),
            },
            rowtime,
            reader_watermarks,
            bounded: is_bounded(def),
            upserts,
        })
    }

    /// The expression of rowtime column `column` over the table's physical columns.
    fn rowtime(&self, table: &Table, column: &str) -> Result<Physical> {
        let def = &table.def;
        let expr = match def
            .columns
            .iter()
            .find(|c| c.name == column)
            .map(|c| &c.kind)
        {
            Some(ColumnKind::Computed(expr)) => expr.to_string(),
            _ => format!("\"{column}\""),
        };
        let sql = format!("SELECT {expr} FROM \"{}\"", raw_name(def));
        let state = self.ctx.state();
        let plan = self
            .runtime
            .block_on(async { state.create_logical_plan(&sql).await })
            .map_err(|e| RiffleError::Sql(format!("table '{}': WATERMARK: {e}", def.name)))?;
        let LogicalPlan::Projection(projection) = &plan else {
            return Err(RiffleError::Sql(format!(
                "table '{}': cannot plan the rowtime column",
                def.name
            )));
        };
        state
            .create_physical_expr(projection.expr[0].clone(), projection.input.schema())
            .map_err(|e| RiffleError::Sql(format!("table '{}': WATERMARK: {e}", def.name)))
    }

    /// Runs `jobs` as one job on the runtime with the session's parallelism: each into its
    /// sink, or (a single SELECT) collected and returned.
    fn run_jobs(&self, jobs: Vec<Job>) -> Result<Output> {
        // A batch-mode SELECT has its rows already.
        if let [Job {
            node: Node::Values(batches),
            schema,
            sink: None,
        }] = jobs.as_slice()
        {
            return Ok(Output::Rows {
                schema: Arc::clone(schema),
                batches: batches.as_ref().clone(),
            });
        }
        let config = self.job_config()?;
        let collector: Collector<Batch> = Collector::new();
        let mut parts = Vec::new();
        let updating: Vec<bool> = jobs.iter().map(|j| j.node.updating()).collect();
        for job in &jobs {
            let updating = job.node.updating();
            let target = match &job.sink {
                Some((table, SinkSpec::Files { .. })) | Some((table, SinkSpec::Kafka { .. }))
                    if updating && !sink_takes_updates(&job.sink) =>
                {
                    let connector = table.def.options.get("connector").cloned();
                    return Err(RiffleError::Sql(format!(
                        "table '{}' ({}) takes appended rows only, and the query's \
                         result is updating (an aggregation without a window); write it to a \
                         print or blackhole table, or aggregate per window",
                        table.def.name,
                        connector.unwrap_or_default()
                    )));
                }
                Some((table, _)) => {
                    let target = conform(&job.schema, &table.written(), &table.def.name)?;
                    Some(if updating {
                        with_row_kind(&target)
                    } else {
                        target
                    })
                }
                None => None,
            };
            parts.push((target, job.sink.as_ref().map(|(_, s)| s.clone())));
        }
        let mut nodes = Vec::new();
        let mut results = Vec::new();
        for job in jobs {
            nodes.push(job.node);
            results.push((job.schema, job.sink));
        }
        let nodes = Arc::new(nodes);
        let collect = collector.clone();
        let report = execute(&config, move |env| {
            let plan = crate::stream::Build::new(env, &nodes);
            for (i, (node, (target, spec))) in nodes.iter().zip(&parts).enumerate() {
                let stream = node.build(&plan)?;
                let counter = env.job().counter(&written(i));
                let stream = match target {
                    Some(target) => {
                        let target = Arc::clone(target);
                        let job = Arc::clone(env.job());
                        stream.flat_map(move |b| match cast_batch(&b, &target) {
                            Ok(b) => {
                                counter.fetch_add(b.num_rows() as u64, AtomicOrdering::Relaxed);
                                Some(Batch(b))
                            }
                            Err(error) => {
                                job.fail(error);
                                None
                            }
                        })
                    }
                    None => stream,
                };
                match spec {
                    None => stream.collect_into(&collect),
                    Some(spec) => spec.attach(env, stream)?,
                }
            }
            Ok(())
        })?;
        let mut messages = Vec::new();
        for (i, (schema, sink)) in results.into_iter().enumerate() {
            match sink {
                None => {
                    let batches: Vec<RecordBatch> =
                        collector.values().into_iter().map(|b| b.0).collect();
                    let batches = if updating[i] {
                        vec![materialise(&schema, &batches)?]
                    } else {
                        batches
                    };
                    return Ok(Output::Rows { schema, batches });
                }
                Some((table, _)) => messages.push(format!(
                    "[INFO] {} rows written to '{}'.",
                    report.counter(&written(i)),
                    table.def.name
                )),
            }
        }
        Ok(Output::Message(messages.join("\n")))
    }

    /// Makes `table` readable by DataFusion under its name, with its computed columns as a
    /// view over its physical ones: with its rows (bounded tables, batch mode) or, for
    /// planning a streaming job, empty.
    fn register(&mut self, table: &Table, rows: bool) -> Result<()> {
        let def = &table.def;
        let raw = raw_name(def);
        let _ = self.ctx.deregister_table(raw.as_str());
        let _ = self.ctx.deregister_table(def.name.as_str());
        let connector = def.options.get("connector").map(String::as_str);
        let physical = Arc::clone(&table.physical);
        let materialise = |batches: Vec<RecordBatch>| -> Result<Arc<MemTable>> {
            MemTable::try_new(Arc::clone(&physical), vec![batches])
                .map(Arc::new)
                .map_err(|e| RiffleError::Runtime(e.to_string()))
        };
        match connector {
            _ if !rows => self.register_provider(&raw, materialise(Vec::new())?)?,
            Some("datagen") => {
                let generator = DataGenTable::from_options(Arc::clone(&physical), &def.options)?;
                let Some(rows) = generator.number_of_rows() else {
                    return Err(unbounded(def));
                };
                let mut batches = Vec::new();
                let mut start = 0;
                while start < rows {
                    let end = rows.min(start + READ_BATCH);
                    batches.push(generator.rows(start, end)?);
                    start = end;
                }
                self.register_provider(&raw, materialise(batches)?)?;
            }
            Some("nexmark") => {
                let generator = NexmarkTable::from_options(Arc::clone(&physical), &def.options)?;
                if generator.max_events().is_none() {
                    return Err(unbounded(def));
                }
                let mut reader = generator.reader(0, 1);
                let mut batches = Vec::new();
                while reader.poll(&mut batches)? != SourceStatus::Finished {}
                self.register_provider(
                    &raw,
                    materialise(batches.into_iter().map(|b| b.0).collect())?,
                )?;
            }
            Some("kafka") => {
                if !is_bounded(def) {
                    return Err(unbounded(def));
                }
                let mut reader = crate::kafka::KafkaBatchReader::new(
                    def,
                    Arc::clone(&physical),
                    bad_record_policy(def)?,
                    Default::default(),
                    None,
                    0,
                    1,
                )?;
                let mut batches = Vec::new();
                while reader.poll(&mut batches)? != SourceStatus::Finished {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                self.register_provider(
                    &raw,
                    materialise(batches.into_iter().map(|b| b.0).collect())?,
                )?;
            }
            Some("filesystem") => {
                let path = def.options.get("path").cloned().unwrap_or_default();
                if !std::path::Path::new(&path).exists() {
                    return Err(RiffleError::Sql(format!(
                        "table '{}': 'path' = '{path}' does not exist",
                        def.name
                    )));
                }
                // One partition per file, read by the streaming reader, so that bad records
                // follow the table's policy and errors name the file and line.
                let files = list_files(std::path::Path::new(&path))?;
                let format = FileFormat::of(def)?;
                let readers = self.ctx.state().config().target_partitions();
                let partitions = FilePartition::all(
                    &splits(&files, format, readers)?,
                    &table.physical,
                    format,
                    &bad_record_policy(def)?,
                    &Arc::new(std::sync::atomic::AtomicU64::new(0)),
                );
                let provider = datafusion::catalog::streaming::StreamingTable::try_new(
                    Arc::clone(&table.physical),
                    partitions,
                )
                .map_err(|e| RiffleError::Sql(format!("table '{}': {e}", def.name)))?;
                self.register_provider(&raw, Arc::new(provider))?;
            }
            _ => {
                return Err(RiffleError::Sql(format!(
                    "table '{}' (connector {connector:?}) is a sink: it cannot be read",
                    def.name
                )))
            }
        }
        if raw != def.name {
            let select: Vec<String> = def
                .columns
                .iter()
                .map(|c| match &c.kind {
                    ColumnKind::Computed(expr) => format!("{expr} AS \"{}\"", c.name),
                    ColumnKind::Physical { .. } | ColumnKind::Metadata { .. } => {
                        format!("\"{}\"", c.name)
                    }
                })
                .collect();
            let sql = format!(
                "CREATE VIEW \"{}\" AS SELECT {} FROM \"{raw}\"",
                def.name,
                select.join(", ")
            );
            self.run_sql(&sql).map_err(|e| {
                RiffleError::Sql(format!("table '{}': computed column: {e}", def.name))
            })?;
        }
        Ok(())
    }

    /// Registers a scalar function written in Rust (a DataFusion `ScalarUDF`): usable in
    /// batch and streaming mode, under its name, from the next statement on.
    pub fn register_udf(&mut self, udf: datafusion::logical_expr::ScalarUDF) {
        self.ctx.register_udf(udf);
    }

    /// Registers an aggregate function written in Rust (a DataFusion `AggregateUDF`): batch
    /// mode runs it; streaming mode refuses it by name for now.
    pub fn register_udaf(&mut self, udaf: datafusion::logical_expr::AggregateUDF) {
        self.ctx.register_udaf(udaf);
    }

    /// The names of the tables and views, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tables
            .keys()
            .chain(self.views.keys())
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Sets `key` to `value`, as `SET 'key' = 'value'` does.
    pub fn set(&mut self, key: &str, value: &str) {
        self.settings.insert(key.to_string(), value.to_string());
    }

    /// The value of setting `key`, if set.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }
}

/// A result of text columns named `columns`.
fn text_rows(columns: &[&str], rows: Vec<Vec<String>>) -> Result<Output> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, datafusion::arrow::datatypes::DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays = (0..columns.len())
        .map(|i| {
            Arc::new(datafusion::arrow::array::StringArray::from(
                rows.iter()
                    .map(|r| r.get(i).cloned().unwrap_or_default())
                    .collect::<Vec<_>>(),
            )) as _
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
    Ok(Output::Rows {
        schema,
        batches: vec![batch],
    })
}

/// Whether `sink` writes a changelog (an `upsert-kafka` table).
fn sink_takes_updates(sink: &Option<(Table, SinkSpec)>) -> bool {
    matches!(sink, Some((_, SinkSpec::Kafka { shape, .. })) if shape.upsert)
}

/// Checked when the table is created: the connector and its options, so that a typo shows
/// at `CREATE TABLE` rather than at the first query.
fn check_connector(def: &TableDef, physical: &SchemaRef) -> Result<()> {
    const CONNECTORS: [&str; 8] = [
        "datagen",
        "kafka",
        "upsert-kafka",
        "nexmark",
        "filesystem",
        "socket",
        "print",
        "blackhole",
    ];
    let connector = def.options.get("connector").ok_or_else(|| {
        RiffleError::Sql(format!(
            "the WITH options need 'connector' ({})",
            CONNECTORS.join(", ")
        ))
    })?;
    let only = |allowed: &[&str]| -> Result<()> {
        for key in def.options.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = did_you_mean(key, allowed.iter().copied());
                return Err(RiffleError::Sql(format!(
                    "unknown {connector} option '{key}'{hint} (options: {})",
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    };
    if connector != "kafka" && connector != "upsert-kafka" {
        if let Some(c) = def
            .columns
            .iter()
            .find(|c| matches!(c.kind, ColumnKind::Metadata { .. }))
        {
            return Err(RiffleError::Sql(format!(
                "column '{}': the {connector} connector has no metadata (METADATA columns are \
                 for kafka tables)",
                c.name
            )));
        }
    }
    match connector.as_str() {
        "datagen" => DataGenTable::from_options(Arc::clone(physical), &def.options).map(|_| ()),
        "nexmark" => NexmarkTable::from_options(Arc::clone(physical), &def.options).map(|_| ()),
        "print" => only(&["connector", "print-identifier"]),
        "blackhole" => only(&["connector"]),
        "kafka" | "upsert-kafka" => crate::kafka::check(def, physical),
        "filesystem" => {
            only(&[
                "connector",
                "path",
                "format",
                "csv.header",
                "csv.field-delimiter",
                "csv.ignore-parse-errors",
                "json.ignore-parse-errors",
                "bad-records",
                "source.monitor-interval",
            ])?;
            if !def.options.contains_key("path") {
                return Err(RiffleError::Sql(
                    "the filesystem connector needs 'path'".into(),
                ));
            }
            FileFormat::of(def)?;
            for column in &def.partition_by {
                if !def
                    .columns
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(column))
                {
                    let hint = did_you_mean(column, def.columns.iter().map(|c| c.name.as_str()));
                    return Err(RiffleError::Sql(format!(
                        "PARTITIONED BY names no column '{column}'{hint}"
                    )));
                }
            }
            bad_record_policy(def).map(|_| ())
        }
        "socket" => {
            only(&[
                "connector",
                "hostname",
                "port",
                "format",
                "csv.field-delimiter",
                "csv.ignore-parse-errors",
                "json.ignore-parse-errors",
                "bad-records",
            ])?;
            socket_address(def)?;
            TextFormat::of(def)?;
            bad_record_policy(def).map(|_| ())
        }
        other => {
            let hint = did_you_mean(other, CONNECTORS);
            Err(RiffleError::Sql(format!(
                "'connector' = '{other}' is not available in SQL{hint} (connectors: {})",
                CONNECTORS.join(", ")
            )))
        }
    }
}

/// A planner or parser error of `located`, with the position when the message has one
/// (`... at Line: L, Column: C`), shown under the statement's text.
fn positioned(located: &Located, message: &str) -> RiffleError {
    // DataFusion wraps parser errors: `SQL error: ParserError("...")`.
    let message = match message.split_once("ParserError(\"") {
        Some((_, inner)) => inner.trim_end_matches("\")"),
        None => message,
    };
    let position = message.rsplit_once("Line: ").and_then(|(_, rest)| {
        let (line, rest) = rest.split_once(", Column: ")?;
        let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((line.parse::<u64>().ok()?, column.parse::<u64>().ok()?))
    });
    // The parser gives no position for the end of input: point just past the statement.
    let position = position.or_else(|| {
        message.contains("found: EOF").then(|| {
            let lines = located.text.lines().count().max(1) as u64;
            let last = located.text.lines().last().unwrap_or("");
            (lines, last.chars().count() as u64 + 1)
        })
    });
    match position {
        Some((line, column)) => {
            let error = sql_error(&located.text, Location::new(line, column), message);
            // Report the line in the script, not in the statement.
            let script_line = located.line + line - 1;
            RiffleError::Sql(error.to_string().replacen(
                &format!("line {line},"),
                &format!("line {script_line},"),
                1,
            ))
        }
        None => RiffleError::Sql(format!("line {}: {}", located.line, polish(message))),
    }
}

/// A duration as Flink writes one: `500 ms`, `10s`, `1 min`, `2 h` (a bare number is ms).
fn flink_duration(key: &str, text: &str) -> Result<std::time::Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        RiffleError::Sql(format!(
            "'{key}' = '{text}' is not a duration such as '10 s'"
        ))
    })?;
    let ms = match unit.trim().to_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "min" | "m" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        other => {
            return Err(RiffleError::Sql(format!(
                "'{key}' = '{text}': unknown time unit '{other}' (ms, s, min or h)"
            )))
        }
    };
    Ok(std::time::Duration::from_millis(n * ms))
}

/// The name DataFusion reads a table's physical columns under (the table's own name when it
/// has no computed columns; otherwise a view of that name adds them).
fn raw_name(def: &TableDef) -> String {
    if def
        .columns
        .iter()
        .any(|c| matches!(c.kind, ColumnKind::Computed(_)))
    {
        format!("__riffle_raw_{}", def.name)
    } else {
        def.name.clone()
    }
}

fn unbounded(def: &TableDef) -> RiffleError {
    RiffleError::Sql(format!(
        "table '{}' is unbounded; batch mode reads bounded tables only",
        def.name
    ))
}

/// Whether a table's source ends: datagen with a row count or a sequence, nexmark with
/// 'events.num', files that are not watched.
fn is_bounded(def: &TableDef) -> bool {
    match def.options.get("connector").map(String::as_str) {
        Some("datagen") => {
            def.options.contains_key("number-of-rows")
                || def
                    .options
                    .iter()
                    .any(|(k, v)| k.ends_with(".kind") && v == "sequence")
        }
        Some("nexmark") => def.options.contains_key("events.num"),
        Some("filesystem") => !def.options.contains_key("source.monitor-interval"),
        Some("kafka") => def
            .options
            .get("scan.bounded.mode")
            .is_some_and(|m| m == "latest-offset"),
        _ => false,
    }
}

/// A socket table's `'hostname'` and `'port'` as an address to connect to.
fn socket_address(def: &TableDef) -> Result<String> {
    let host = def.options.get("hostname");
    let port = def.options.get("port").map(|p| p.parse::<u16>());
    match (host, port) {
        (Some(host), Some(Ok(port))) => Ok(format!("{host}:{port}")),
        (_, Some(Err(_))) => Err(RiffleError::Sql(format!(
            "table '{}': 'port' = '{}' is not a port number",
            def.name,
            def.options.get("port").map(String::as_str).unwrap_or("")
        ))),
        _ => Err(RiffleError::Sql(format!(
            "table '{}': the socket connector needs 'hostname' and 'port'",
            def.name
        ))),
    }
}

/// The delay of `WATERMARK FOR ts AS ts - INTERVAL 'n' UNIT` (or `AS ts`: none), ms.
fn watermark_delay(watermark: &WatermarkDef) -> Result<i64> {
    use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr as SqlExpr};
    let column = |e: &SqlExpr| matches!(e, SqlExpr::Identifier(i) if i.value.eq_ignore_ascii_case(&watermark.column));
    match &watermark.expr {
        e if column(e) => Ok(0),
        SqlExpr::BinaryOp {
            left,
            op: BinaryOperator::Minus,
            right,
        } if column(left) => interval_text_ms(&right.to_string()),
        other => Err(RiffleError::Sql(format!(
            "WATERMARK FOR {0} AS {other}: Riffle takes `{0}` or `{0} - INTERVAL 'n' UNIT`",
            watermark.column
        ))),
    }
}

/// An error of a statement, with the statement's line in the script.
fn in_statement(located: &Located, error: RiffleError) -> RiffleError {
    let message = error.to_string();
    let message = message.trim_start_matches("SQL error: ");
    let prefix = format!("line {}: ", located.line);
    if message.starts_with(&prefix) {
        // Already placed (a step nested in another names the line once).
        return RiffleError::Sql(message.to_string());
    }
    RiffleError::Sql(format!("{prefix}{message}"))
}

/// An error positioned in the statement (`at line L, column C`), moved to the script's line.
fn in_script(located: &Located, error: RiffleError) -> RiffleError {
    let message = error.to_string();
    let Some((_, rest)) = message.split_once("at line ") else {
        return error;
    };
    let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match line.parse::<u64>() {
        Ok(l) => RiffleError::Sql(message.trim_start_matches("SQL error: ").replacen(
            &format!("at line {l},"),
            &format!("at line {},", located.line + l - 1),
            1,
        )),
        Err(_) => error,
    }
}

/// The schema the query's rows (`from`) are cast to for the sink table (`to`); an error
/// names the column whose type does not convert.
fn conform(from: &SchemaRef, to: &SchemaRef, table: &str) -> Result<SchemaRef> {
    if from.fields().len() != to.fields().len() {
        return Err(RiffleError::Sql(format!(
            "INSERT INTO {table}: the query gives {} columns and '{table}' has {} ({})",
            from.fields().len(),
            to.fields().len(),
            to.fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for (f, t) in from.fields().iter().zip(to.fields()) {
        if !datafusion::arrow::compute::can_cast_types(f.data_type(), t.data_type()) {
            return Err(RiffleError::Sql(format!(
                "INSERT INTO {table}: column '{}' is {} and cannot be written to '{}' {}",
                f.name(),
                flink_name(f.data_type()),
                t.name(),
                flink_name(t.data_type())
            )));
        }
    }
    Ok(Arc::new(Schema::new(
        to.fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    )))
}

/// DataFusion's planning error as a SQL user reads it: Arrow's type names as SQL's, without
/// its internal-error wrapping and its plea to report a bug, a function that takes no such
/// arguments said in one line, an optimiser's failed cast said as the cast.
fn polish(message: &str) -> String {
    let mut message = message.to_string();
    if message.contains("The subquery should only return one column") {
        message.push_str(
            " (an IN or NOT IN subquery takes one column, as in Flink: write EXISTS or NOT \
             EXISTS with an equality per column)",
        );
    }
    // `... No function matches the given name and argument types 'sum(Utf8)'. ...
    // Candidate functions: sum(Decimal) ...`: the call and what the function takes.
    const NO_MATCH: &str = "No function matches the given name and argument types '";
    if let Some(at) = message.find(NO_MATCH) {
        let rest = &message[at + NO_MATCH.len()..];
        let call = rest.split('\'').next().unwrap_or_default().to_string();
        let name = call.split('(').next().unwrap_or_default().to_string();
        let takes: Vec<String> = rest
            .lines()
            .skip_while(|l| !l.contains("Candidate functions:"))
            .skip(1)
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        // `sum(Utf8)` as `SUM(STRING)`.
        let sql = |call: &str| sql_type_names(call).to_uppercase();
        message = format!("no function {}", sql(&call));
        if !takes.is_empty() {
            let takes: Vec<String> = takes.iter().map(|t| sql(t)).collect();
            message.push_str(&format!(
                "; {} takes {}",
                name.to_uppercase(),
                takes.join(" or ")
            ));
        }
    }
    // `Optimizer rule 'simplify_expressions' failed\ncaused by\nArrow error: Cast error: ...`:
    // the cast that failed, as the query wrote it.
    if let Some(at) = message.find("Cannot cast string ") {
        message = message[at..].replacen("Cannot cast string", "cannot read", 1);
        message = message
            .replace(" to value of ", " as ")
            .replace(" type", "");
    }
    for noise in [
        "This issue was likely caused by a bug in DataFusion's code. Please help us to resolve \
         this by filing a bug report in our issue tracker: https://github.com/apache/datafusion/issues",
        "Internal error: ",
        "Error during planning: ",
        "type_coercion\ncaused by\n",
    ] {
        message = message.replace(noise, "");
    }
    sql_type_names(&message)
}

/// `text` with Arrow's names of types as SQL's (`Utf8` -> `STRING`, `Int64` -> `BIGINT`).
fn sql_type_names(text: &str) -> String {
    const NAMES: [(&str, &str); 16] = [
        ("Timestamp(Millisecond, None)", "TIMESTAMP(3)"),
        ("Timestamp(ms)", "TIMESTAMP(3)"),
        ("Timestamp(ns)", "TIMESTAMP(9)"),
        ("Timestamp(Nanosecond, None)", "TIMESTAMP(9)"),
        ("LargeUtf8", "STRING"),
        ("Utf8View", "STRING"),
        ("Utf8", "STRING"),
        ("Int64", "BIGINT"),
        ("Int32", "INT"),
        ("Int16", "SMALLINT"),
        ("Int8", "TINYINT"),
        ("UInt64", "BIGINT UNSIGNED"),
        ("Float64", "DOUBLE"),
        ("Float32", "FLOAT"),
        ("Boolean", "BOOLEAN"),
        ("Date32", "DATE"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        let starts_word = out
            .chars()
            .last()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if starts_word {
            for (arrow, sql) in NAMES {
                if let Some(after) = rest.strip_prefix(arrow) {
                    if !after.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                        out.push_str(sql);
                        rest = after;
                        continue 'scan;
                    }
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The final table of a changelog (`batches` of `schema` plus the row kind): inserts and
/// update-afters add their row, update-befores and deletes take one equal row away.
fn materialise(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    // A multiset of rows: row -> how many times it is in the table (sorted at the end: a
    // long changelog settles into a few rows).
    let mut table: HashMap<Vec<Value>, usize> = HashMap::new();
    for batch in batches {
        let columns = batch.columns();
        for row in 0..batch.num_rows() {
            let mut values = columns
                .iter()
                .map(|c| Value::from_array(c, row))
                .collect::<Result<Vec<_>>>()?;
            let kind = values.pop();
            if matches!(kind, Some(Value::Int(0 | 2))) {
                *table.entry(values).or_default() += 1;
            } else if let Some(n) = table.get_mut(&values) {
                *n -= 1;
                if *n == 0 {
                    table.remove(&values);
                }
            }
        }
    }
    let mut rows: Vec<Vec<Value>> = table
        .into_iter()
        .flat_map(|(row, n)| std::iter::repeat_n(row, n))
        .collect();
    rows.sort_unstable();
    batch_of(schema, &rows)
}

/// `batch` cast column by column to `schema`.
fn cast_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| RiffleError::Runtime(e.to_string()))
}

/// The catalog and window TVFs as the streaming planner sees them.
struct Planner<'a> {
    session: &'a Session,
    windows: &'a [(WindowTvf, SchemaRef)],
    temporals: &'a [crate::temporal::TemporalRead],
}

impl Planner<'_> {
    /// The catalog table DataFusion scans under `name` (its own, or its raw name when it
    /// has computed columns).
    fn table(&self, name: &str) -> Option<&Table> {
        self.session
            .tables
            .values()
            .find(|t| t.def.name == name || raw_name(&t.def) == name)
    }
}

impl Tables for Planner<'_> {
    fn source(&self, name: &str) -> Result<Option<SourceSpec>> {
        match self.table(name) {
            Some(table) => self.session.source(table).map(Some),
            None => Ok(None),
        }
    }

    fn temporal(&self, name: &str) -> Option<crate::stream::TemporalTable> {
        let table = self.table(name)?;
        let read = self.temporals.iter().find(|r| r.table == table.def.name)?;
        let proctime = read.time.to_uppercase().contains("PROCTIME");
        let time_column = read.time.rsplit('.').next().unwrap_or("").to_string();
        Some(
            match (
                &table.def.watermark,
                table.def.primary_key.is_empty(),
                proctime,
            ) {
                (Some(w), false, false) => crate::stream::TemporalTable::Versioned {
                    left_time: time_column,
                    right_time: w.column.clone(),
                },
                // A bounded table is read whole before the probe rows of a time are joined
                // (`AS OF PROCTIME()` too: the probe rows then wait for their stream time).
                _ => crate::stream::TemporalTable::Lookup {
                    wait: is_bounded(&table.def).then(|| match proctime {
                        true => PROCTIME_NOW.to_string(),
                        false => time_column,
                    }),
                },
            },
        )
    }

    fn state_ttl(&self) -> Result<Option<i64>> {
        let key = "table.exec.state.ttl";
        match self.session.setting(key) {
            None => Ok(None),
            Some(text) => {
                let ttl = flink_duration(key, text)?;
                // Flink: 0 keeps state for ever.
                Ok((!ttl.is_zero()).then_some(ttl.as_millis() as i64))
            }
        }
    }

    fn mini_batch(&self) -> Result<bool> {
        let key = "table.exec.mini-batch.enabled";
        match self.session.setting(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(RiffleError::Sql(format!(
                "'{key}' is 'true' or 'false', not '{v}'"
            ))),
        }
    }

    fn rowtime(&self, name: &str) -> Option<String> {
        let table = self.table(name)?;
        table.def.watermark.as_ref().map(|w| w.column.clone())
    }

    fn window(&self, name: &str) -> Option<(WindowTvf, SchemaRef)> {
        self.windows
            .iter()
            .find(|(t, _)| t.name == name)
            .map(|(tvf, schema)| (tvf.clone(), Arc::clone(schema)))
    }

    fn window_input(&self, tvf: &WindowTvf) -> Result<Node> {
        let plan = self
            .session
            .plan(&format!("SELECT * FROM \"{}\"", tvf.table))
            .map_err(RiffleError::Sql)?;
        Node::from_plan(&plan, &self.session.ctx.state(), self)
    }
}

/// A DataFusion table of `batches`, in one partition.
fn memory_table(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let table = MemTable::try_new(Arc::clone(schema), vec![batches])
        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
    Ok(Arc::new(table))
}
