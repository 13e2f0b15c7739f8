//! A SQL session: the catalog of tables a script creates, its settings, and statements run
//! against bounded tables with DataFusion (Flink's batch mode).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, SessionContext};
use datafusion::sql::sqlparser::tokenizer::Location;
use riffle_connectors::DataGenTable;
use riffle_core::{did_you_mean, Result, RiffleError};

use crate::script::{parse_script, sql_error, ColumnKind, Located, Statement, TableDef};
use crate::types::{arrow_type, flink_name};

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
}

/// A table of the catalog: its declaration and the schema of its physical columns.
#[derive(Debug, Clone)]
struct Table {
    def: TableDef,
    physical: SchemaRef,
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
}

impl Session {
    /// A new session with no tables.
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| RiffleError::Runtime(format!("cannot start the SQL runtime: {e}")))?;
        Ok(Session {
            ctx: SessionContext::new(),
            runtime,
            tables: BTreeMap::new(),
            settings: BTreeMap::new(),
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
                let names: Vec<&str> = self.tables.keys().map(String::as_str).collect();
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
            Statement::Query => self.query(located),
        }
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
            if let ColumnKind::Physical {
                data_type,
                nullable,
            } = &column.kind
            {
                let arrow = arrow_type(data_type).map_err(in_statement)?;
                fields.push(Field::new(&column.name, arrow, *nullable));
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

    fn describe(&mut self, name: &str) -> Result<Output> {
        let table = self
            .tables
            .get(name)
            .cloned()
            .ok_or_else(|| self.unknown_table(name))?;
        // Register it so that computed columns get their types from the planner.
        self.register(&table)?;
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
        let state = self.ctx.state();
        let statement = state
            .sql_to_statement(&located.text, &datafusion::config::Dialect::Generic)
            .map_err(|e| positioned(located, &e.to_string()))?;
        let references = state
            .resolve_table_references(&statement)
            .map_err(|e| positioned(located, &e.to_string()))?;
        for reference in references {
            let name = reference.table().to_string();
            match self.tables.get(&name).cloned() {
                Some(table) => self.register(&table)?,
                None if self.ctx.table_exist(name.as_str()).unwrap_or(false) => {}
                None => return Err(self.unknown_table(&name)),
            }
        }
        let ctx = self.ctx.clone();
        let text = located.text.clone();
        let (schema, batches) = self
            .runtime
            .block_on(async move {
                let frame = ctx.sql(&text).await?;
                let schema = Arc::new(frame.schema().as_arrow().clone());
                let batches = frame.collect().await?;
                Ok::<_, datafusion::error::DataFusionError>((schema, batches))
            })
            .map_err(|e| positioned(located, &e.to_string()))?;
        Ok(Output::Rows { schema, batches })
    }

    /// Makes `table` readable by DataFusion under its name: its rows (bounded sources only),
    /// with its computed columns as a view over them.
    fn register(&mut self, table: &Table) -> Result<()> {
        let def = &table.def;
        let has_computed = def
            .columns
            .iter()
            .any(|c| matches!(c.kind, ColumnKind::Computed(_)));
        let raw = if has_computed {
            format!("__riffle_raw_{}", def.name)
        } else {
            def.name.clone()
        };
        let _ = self.ctx.deregister_table(raw.as_str());
        let _ = self.ctx.deregister_table(def.name.as_str());
        let connector = def.options.get("connector").map(String::as_str);
        match connector {
            Some("datagen") => {
                let generator =
                    DataGenTable::from_options(Arc::clone(&table.physical), &def.options)?;
                let Some(rows) = generator.number_of_rows() else {
                    return Err(RiffleError::Sql(format!(
                        "table '{}' is unbounded (datagen without 'number-of-rows' or a \
                         sequence); `riffle sql` runs bounded (batch) queries only so far",
                        def.name
                    )));
                };
                let mut batches = Vec::new();
                let mut start = 0;
                while start < rows {
                    let end = rows.min(start + READ_BATCH);
                    batches.push(generator.rows(start, end)?);
                    start = end;
                }
                let mem = MemTable::try_new(Arc::clone(&table.physical), vec![batches])
                    .map_err(|e| RiffleError::Runtime(e.to_string()))?;
                self.ctx
                    .register_table(raw.as_str(), Arc::new(mem))
                    .map_err(|e| RiffleError::Runtime(e.to_string()))?;
            }
            Some("filesystem") => {
                let path = def.options.get("path").cloned().unwrap_or_default();
                if !std::path::Path::new(&path).exists() {
                    return Err(RiffleError::Sql(format!(
                        "table '{}': 'path' = '{path}' does not exist",
                        def.name
                    )));
                }
                let format = def.options.get("format").map(String::as_str);
                let ctx = self.ctx.clone();
                let schema = Arc::clone(&table.physical);
                let result = match format {
                    Some("csv") => {
                        let header = def.options.get("csv.header").is_some_and(|v| v == "true");
                        let delimiter = def
                            .options
                            .get("csv.field-delimiter")
                            .and_then(|d| d.bytes().next())
                            .unwrap_or(b',');
                        self.runtime.block_on(async {
                            let options = CsvReadOptions::new()
                                .schema(&schema)
                                .has_header(header)
                                .delimiter(delimiter)
                                .file_extension("");
                            ctx.register_csv(raw.as_str(), &path, options).await
                        })
                    }
                    Some("json") => self.runtime.block_on(async {
                        let options = JsonReadOptions::default()
                            .schema(&schema)
                            .file_extension("");
                        ctx.register_json(raw.as_str(), &path, options).await
                    }),
                    _ => unreachable_format(),
                };
                result.map_err(|e| RiffleError::Sql(format!("table '{}': {e}", def.name)))?;
            }
            _ => {
                return Err(RiffleError::Sql(format!(
                    "table '{}': connector {connector:?} cannot be read by `riffle sql` yet",
                    def.name
                )))
            }
        }
        if has_computed {
            let select: Vec<String> = def
                .columns
                .iter()
                .map(|c| match &c.kind {
                    ColumnKind::Computed(expr) => format!("{expr} AS \"{}\"", c.name),
                    ColumnKind::Physical { .. } => format!("\"{}\"", c.name),
                })
                .collect();
            let sql = format!(
                "CREATE VIEW \"{}\" AS SELECT {} FROM \"{raw}\"",
                def.name,
                select.join(", ")
            );
            let ctx = self.ctx.clone();
            self.runtime
                .block_on(async move { ctx.sql(&sql).await.map(|_| ()) })
                .map_err(|e| {
                    RiffleError::Sql(format!("table '{}': computed column: {e}", def.name))
                })?;
        }
        Ok(())
    }

    /// The value of setting `key`, if set.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }
}

/// Checked when the table is created: the connector and its options, so that a typo shows
/// at `CREATE TABLE` rather than at the first query.
fn check_connector(def: &TableDef, physical: &SchemaRef) -> Result<()> {
    const CONNECTORS: [&str; 2] = ["datagen", "filesystem"];
    let connector = def.options.get("connector").ok_or_else(|| {
        RiffleError::Sql("the WITH options need 'connector' (datagen, filesystem)".into())
    })?;
    match connector.as_str() {
        "datagen" => DataGenTable::from_options(Arc::clone(physical), &def.options).map(|_| ()),
        "filesystem" => {
            const OPTIONS: [&str; 6] = [
                "connector",
                "path",
                "format",
                "csv.header",
                "csv.field-delimiter",
                "source.monitor-interval",
            ];
            for key in def.options.keys() {
                if !OPTIONS.contains(&key.as_str()) {
                    let hint = did_you_mean(key, OPTIONS);
                    return Err(RiffleError::Sql(format!(
                        "unknown filesystem option '{key}'{hint} (options: {})",
                        OPTIONS.join(", ")
                    )));
                }
            }
            if !def.options.contains_key("path") {
                return Err(RiffleError::Sql(
                    "the filesystem connector needs 'path'".into(),
                ));
            }
            match def.options.get("format").map(String::as_str) {
                Some("csv" | "json") => Ok(()),
                Some(other) => Err(RiffleError::Sql(format!(
                    "'format' = '{other}': `riffle sql` reads 'csv' and 'json' so far"
                ))),
                None => Err(RiffleError::Sql(
                    "the filesystem connector needs 'format' ('csv' or 'json')".into(),
                )),
            }
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

#[cold]
fn unreachable_format() -> std::result::Result<(), datafusion::error::DataFusionError> {
    Err(datafusion::error::DataFusionError::Plan(
        "the table's format was checked at CREATE TABLE".into(),
    ))
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
        None => RiffleError::Sql(format!("line {}: {message}", located.line)),
    }
}
