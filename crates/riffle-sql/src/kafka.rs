//! The `kafka` connector of SQL tables, with Flink's option names: the source reads message
//! values as CSV, JSON or raw text with per-partition watermarks; the sink writes rows as
//! values at least once or exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicU64;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, Int32Array, Int64Array, Int8Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use riffle_connectors::kafka::{
    DeliveryGuarantee, KafkaMessage, KafkaReader, KafkaRecord, KafkaSinkConfig, KafkaSource,
    PartitionWatermarks, Partitioner, StartupMode, Topics,
};
use riffle_core::{BadRecordPolicy, RecordLocation};
use riffle_core::{Batch, Result, RiffleError};
use riffle_runtime::{EventTime, SourceReader, SourceStatus};

use crate::avro::AvroFormat;
use crate::files::{LineParser, Lines, TextFormat};
use crate::script::{ColumnKind, TableDef};
use crate::stream::Physical;

/// The options a `kafka` table takes besides `properties.*`.
pub const OPTIONS: [&str; 25] = [
    "connector",
    "avro.schema",
    "value.avro.schema",
    "key.avro.schema",
    "key.format",
    "key.fields",
    "scan.rate-limit",
    "topic",
    "topic-pattern",
    "format",
    "csv.field-delimiter",
    "csv.ignore-parse-errors",
    "json.ignore-parse-errors",
    "bad-records",
    "scan.startup.mode",
    "scan.startup.specific-offsets",
    "scan.startup.timestamp-millis",
    "scan.bounded.mode",
    "scan.watermark.idle-timeout",
    "scan.connect.timeout",
    "sink.delivery-guarantee",
    "sink.transactional-id-prefix",
    "sink.partitioner",
    "sink.transaction-report",
    "value.format",
];

/// How message values hold rows.
#[derive(Debug, Clone)]
pub enum ValueFormat {
    /// A line of CSV or a JSON object.
    Text(TextFormat),
    /// The whole value as the table's one STRING column.
    Raw,
    /// One Avro record (a bare datum) of the columns' schema.
    Avro(Arc<AvroFormat>),
}

fn option<'a>(def: &'a TableDef, key: &str) -> Option<&'a str> {
    def.options.get(key).map(String::as_str)
}

fn error(def: &TableDef, message: impl std::fmt::Display) -> RiffleError {
    RiffleError::Sql(format!("table '{}': {message}", def.name))
}

/// The brokers: `'properties.bootstrap.servers'`.
fn brokers(def: &TableDef) -> Result<String> {
    option(def, "properties.bootstrap.servers")
        .map(str::to_string)
        .ok_or_else(|| {
            error(
                def,
                "the kafka connector needs 'properties.bootstrap.servers'",
            )
        })
}

/// `'properties.*'` but the brokers, passed through to the client.
fn properties(def: &TableDef) -> Vec<(String, String)> {
    def.options
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("properties.")?, v)))
        .filter(|(k, _)| *k != "bootstrap.servers")
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The value format of table `def` with physical columns `physical`: `'format'` or
/// `'value.format'` = `json` | `csv` | `raw` | `avro` (with `'avro.schema'` or
/// `'value.avro.schema'` inline, else derived from the value's columns).
pub fn format_of(def: &TableDef, physical: &SchemaRef) -> Result<ValueFormat> {
    let format = option(def, "value.format").or(option(def, "format"));
    let inline = option(def, "value.avro.schema").or(option(def, "avro.schema"));
    named_format(def, format, &value_schema(def, physical), inline)
}

/// Format `format` (by name) of `columns`; `inline`: an Avro schema.
fn named_format(
    def: &TableDef,
    format: Option<&str>,
    columns: &SchemaRef,
    inline: Option<&str>,
) -> Result<ValueFormat> {
    match format {
        Some("avro") => AvroFormat::new(columns, inline)
            .map(|avro| ValueFormat::Avro(Arc::new(avro)))
            .map_err(|e| error(def, e)),
        Some("json") => Ok(ValueFormat::Text(TextFormat::Json)),
        Some("csv") => Ok(ValueFormat::Text(TextFormat::Csv {
            header: false,
            delimiter: option(def, "csv.field-delimiter")
                .and_then(|d| d.bytes().next())
                .unwrap_or(b','),
        })),
        Some("raw") => Ok(ValueFormat::Raw),
        other => Err(error(
            def,
            format!(
                "'format' = {other:?}: the kafka connector reads 'json', 'csv', 'raw' or 'avro'"
            ),
        )),
    }
}

/// [`format_of`], checked against the table's physical columns (`raw` takes one STRING
/// besides metadata columns).
pub fn value_format(def: &TableDef, physical: &SchemaRef) -> Result<ValueFormat> {
    let format = format_of(def, physical)?;
    let values = value_schema(def, physical);
    let fields = values.fields();
    if matches!(format, ValueFormat::Raw)
        && (fields.len() != 1 || fields[0].data_type() != &DataType::Utf8)
    {
        return Err(error(
            def,
            "'format' = 'raw' takes a table of one STRING column (the message value)",
        ));
    }
    Ok(format)
}

fn millis_option(def: &TableDef, key: &str) -> Result<Option<i64>> {
    option(def, key)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| error(def, format!("'{key}' = '{v}' is not a number")))
        })
        .transpose()
}

/// A duration such as `'5 s'`, `'500 ms'`, `'2 min'` or a number of milliseconds.
fn duration_option(def: &TableDef, key: &str) -> Result<Option<Duration>> {
    let Some(text) = option(def, key) else {
        return Ok(None);
    };
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| error(def, format!("'{key}' = '{text}' is not a duration")))?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" | "sec" | "second" | "seconds" => n * 1000,
        "min" | "minute" | "minutes" => n * 60_000,
        _ => return Err(error(def, format!("'{key}' = '{text}' is not a duration"))),
    };
    Ok(Some(Duration::from_millis(ms)))
}

fn upsert(def: &TableDef) -> bool {
    option(def, "connector") == Some("upsert-kafka")
}

/// The source a `kafka` table reads (also checks the options at `CREATE TABLE`). An
/// `upsert-kafka` table is read from the earliest offset by default (the whole changelog).
pub fn source(def: &TableDef) -> Result<KafkaSource> {
    let topics = match (option(def, "topic"), option(def, "topic-pattern")) {
        (Some(topic), None) => Topics::Names(
            topic
                .split(';')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        ),
        (None, Some(pattern)) => Topics::Pattern(pattern.to_string()),
        (Some(_), Some(_)) => return Err(error(def, "give 'topic' or 'topic-pattern', not both")),
        (None, None) => return Err(error(def, "the kafka connector needs 'topic'")),
    };
    let startup = match option(def, "scan.startup.mode").unwrap_or(default_startup(def)) {
        "earliest-offset" => StartupMode::Earliest,
        "latest-offset" => StartupMode::Latest,
        "group-offsets" => StartupMode::GroupOffsets,
        "timestamp" => StartupMode::Timestamp(
            millis_option(def, "scan.startup.timestamp-millis")?.ok_or_else(|| {
                error(
                    def,
                    "'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis'",
                )
            })?,
        ),
        "specific-offsets" => StartupMode::SpecificOffsets(specific_offsets(def)?),
        other => {
            return Err(error(
                def,
                format!(
                    "'scan.startup.mode' = '{other}': use 'earliest-offset', 'latest-offset', \
                     'group-offsets', 'timestamp' or 'specific-offsets'"
                ),
            ))
        }
    };
    let bounded = match option(def, "scan.bounded.mode").unwrap_or("unbounded") {
        "unbounded" => false,
        "latest-offset" => true,
        other => {
            return Err(error(
                def,
                format!("'scan.bounded.mode' = '{other}': use 'unbounded' or 'latest-offset'"),
            ))
        }
    };
    let mut source = KafkaSource::new(brokers(def)?, topics)
        .startup(startup)
        .bounded(bounded);
    if let Some(group) = option(def, "properties.group.id") {
        source = source.group_id(group);
    }
    for (key, value) in properties(def) {
        if key != "group.id" {
            source = source.property(key, value);
        }
    }
    if let Some(timeout) = duration_option(def, "scan.connect.timeout")? {
        source = source.connect_timeout(timeout);
    }
    if startup_needs_group(def) && option(def, "properties.group.id").is_none() {
        return Err(error(
            def,
            "'scan.startup.mode' = 'group-offsets' (the default) needs 'properties.group.id'",
        ));
    }
    duration_option(def, "scan.watermark.idle-timeout")?;
    rate_limit(def)?;
    Ok(source)
}

/// `'scan.rate-limit'`: messages per second for the whole table (Riffle's option, for tests
/// and steady-rate runs).
fn rate_limit(def: &TableDef) -> Result<Option<u64>> {
    match millis_option(def, "scan.rate-limit")? {
        Some(r) if r > 0 => Ok(Some(r as u64)),
        Some(_) => Err(error(def, "'scan.rate-limit' must be positive")),
        None => Ok(None),
    }
}

fn startup_needs_group(def: &TableDef) -> bool {
    option(def, "scan.startup.mode").unwrap_or(default_startup(def)) == "group-offsets"
}

/// Where a table starts without `'scan.startup.mode'`: its group's offsets, as Flink's Kafka
/// source; the whole changelog for `upsert-kafka`.
fn default_startup(def: &TableDef) -> &'static str {
    if upsert(def) {
        "earliest-offset"
    } else {
        "group-offsets"
    }
}

/// `'scan.startup.specific-offsets'` = `'partition:0,offset:42;partition:1,offset:300'`.
fn specific_offsets(def: &TableDef) -> Result<BTreeMap<i32, i64>> {
    let text = option(def, "scan.startup.specific-offsets").ok_or_else(|| {
        error(
            def,
            "'scan.startup.mode' = 'specific-offsets' needs 'scan.startup.specific-offsets'",
        )
    })?;
    let bad = || {
        error(
            def,
            format!(
                "'scan.startup.specific-offsets' = '{text}': write \
                 'partition:0,offset:42;partition:1,offset:300'"
            ),
        )
    };
    let mut offsets = BTreeMap::new();
    for part in text.split(';').filter(|p| !p.trim().is_empty()) {
        let mut partition = None;
        let mut offset = None;
        for field in part.split(',') {
            match field.trim().split_once(':') {
                Some(("partition", p)) => partition = p.trim().parse::<i32>().ok(),
                Some(("offset", o)) => offset = o.trim().parse::<i64>().ok(),
                _ => return Err(bad()),
            }
        }
        match (partition, offset) {
            (Some(p), Some(o)) => offsets.insert(p, o),
            _ => return Err(bad()),
        };
    }
    Ok(offsets)
}

/// The sink a `kafka` table writes to.
pub fn sink(def: &TableDef) -> Result<KafkaSinkConfig> {
    let topic = match option(def, "topic") {
        Some(topic) if !topic.contains(';') => topic.to_string(),
        _ => {
            return Err(error(
                def,
                "a kafka table written to needs one 'topic' (not a list or a pattern)",
            ))
        }
    };
    let guarantee = match option(def, "sink.delivery-guarantee").unwrap_or("at-least-once") {
        "none" => DeliveryGuarantee::None,
        "at-least-once" => DeliveryGuarantee::AtLeastOnce,
        "exactly-once" => DeliveryGuarantee::ExactlyOnce,
        other => {
            return Err(error(
                def,
                format!(
                    "'sink.delivery-guarantee' = '{other}': use 'none', 'at-least-once' or \
                     'exactly-once'"
                ),
            ))
        }
    };
    let partitioner = match option(def, "sink.partitioner").unwrap_or("default") {
        "default" => Partitioner::Default,
        "fixed" => Partitioner::Fixed,
        "round-robin" => Partitioner::RoundRobin,
        other => {
            return Err(error(
                def,
                format!("'sink.partitioner' = '{other}': use 'default', 'fixed' or 'round-robin'"),
            ))
        }
    };
    let mut config = KafkaSinkConfig::new(brokers(def)?, topic)
        .guarantee(guarantee)
        .partitioner(partitioner);
    if let Some(prefix) = option(def, "sink.transactional-id-prefix") {
        config = config.transactional_id_prefix(prefix);
    }
    if let Some(report) = option(def, "sink.transaction-report") {
        config = config.report(report);
    }
    if let Some(timeout) = duration_option(def, "scan.connect.timeout")? {
        config = config.connect_timeout(timeout);
    }
    for (key, value) in properties(def) {
        if key != "group.id" {
            config = config.property(key, value);
        }
    }
    config.validate().map_err(|e| {
        error(
            def,
            e.to_string().trim_start_matches("invalid configuration: "),
        )
    })?;
    Ok(config)
}

/// The metadata keys a kafka table can read, and what each holds.
pub const METADATA: [(&str, &str); 7] = [
    ("topic", "STRING"),
    ("partition", "INT"),
    ("offset", "BIGINT"),
    ("timestamp", "TIMESTAMP(3)"),
    ("key", "STRING or BYTES"),
    ("value", "STRING or BYTES, the whole message value"),
    ("headers", "STRING, a JSON object of the headers"),
];

/// The table's metadata columns: their place in the physical schema and their key.
fn metadata_columns(def: &TableDef, physical: &SchemaRef) -> Vec<(usize, String)> {
    def.columns
        .iter()
        .filter_map(|c| match &c.kind {
            ColumnKind::Metadata { key, .. } => {
                Some((physical.index_of(&c.name).ok()?, key.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The physical columns a message value fills (all but the metadata columns).
fn value_schema(def: &TableDef, physical: &SchemaRef) -> SchemaRef {
    let metadata: Vec<usize> = metadata_columns(def, physical)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    Arc::new(Schema::new(
        physical
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| !metadata.contains(i))
            .map(|(_, f)| f.as_ref().clone())
            .collect::<Vec<_>>(),
    ))
}

/// How rows become Kafka records: the value's format, the key's columns and format, and
/// whether the table takes a changelog (`upsert-kafka`: the key is the primary key, a delete
/// writes a tombstone, update-befores are dropped).
#[derive(Debug, Clone)]
pub struct RecordShape {
    /// How a row becomes the value.
    pub value: ValueFormat,
    /// The key's columns and format (`'key.fields'` and `'key.format'`, or the primary key
    /// of an `upsert-kafka` table).
    pub key: Option<(Vec<String>, ValueFormat)>,
    /// `upsert-kafka`.
    pub upsert: bool,
    /// The metadata columns an `INSERT INTO` writes (not `VIRTUAL`): name and key
    /// (`timestamp` or `headers`).
    pub metadata: Vec<(String, String)>,
}

/// The metadata keys a Kafka sink writes: the record's timestamp and headers.
const WRITABLE_METADATA: [&str; 2] = ["timestamp", "headers"];

/// The metadata columns of `def` that `INSERT INTO` writes (not `VIRTUAL`): name and key.
fn written_metadata(def: &TableDef) -> Vec<(String, String)> {
    def.columns
        .iter()
        .filter_map(|c| match &c.kind {
            ColumnKind::Metadata {
                key,
                is_virtual: false,
                ..
            } => Some((c.name.clone(), key.clone())),
            _ => None,
        })
        .collect()
}

/// Checks that table `def` can be written to: each metadata column it writes (not
/// `VIRTUAL`) has a writable key, as Flink asks.
pub fn check_writable(def: &TableDef) -> Result<()> {
    for (name, key) in written_metadata(def) {
        if !WRITABLE_METADATA.contains(&key.as_str()) {
            return Err(error(
                def,
                format!(
                    "metadata column '{name}' ('{key}') is read-only: declare it VIRTUAL to \
                     write to this table (writable metadata: {})",
                    WRITABLE_METADATA.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The record shape of table `def` with physical columns `physical` (checked at `CREATE
/// TABLE`).
pub fn shape(def: &TableDef, physical: &SchemaRef) -> Result<RecordShape> {
    let upsert = option(def, "connector") == Some("upsert-kafka");
    let key_format = |format: &str, columns: &[String]| -> Result<ValueFormat> {
        let fields: Vec<_> = columns
            .iter()
            .filter_map(|c| {
                physical
                    .fields()
                    .iter()
                    .find(|f| f.name().eq_ignore_ascii_case(c))
                    .map(|f| f.as_ref().clone())
            })
            .collect();
        let key_columns = Arc::new(Schema::new(fields));
        match format {
            "json" | "csv" | "raw" | "avro" => named_format(
                def,
                Some(format),
                &key_columns,
                option(def, "key.avro.schema"),
            ),
            _ => Err(error(
                def,
                format!("'key.format' = '{format}': use 'json', 'csv', 'raw' or 'avro'"),
            )),
        }
    };
    let key_columns: Option<Vec<String>> = if upsert {
        if def.primary_key.is_empty() {
            return Err(error(
                def,
                "an upsert-kafka table needs a PRIMARY KEY (...) NOT ENFORCED: it is the key",
            ));
        }
        if option(def, "key.fields").is_some() {
            return Err(error(
                def,
                "an upsert-kafka table's key is its primary key: drop 'key.fields'",
            ));
        }
        Some(def.primary_key.clone())
    } else {
        option(def, "key.fields").map(|fields| {
            fields
                .split(';')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect()
        })
    };
    let key = match key_columns {
        None => None,
        Some(columns) => {
            for column in &columns {
                if !def
                    .columns
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(column))
                {
                    let hint = riffle_core::did_you_mean(
                        column,
                        def.columns.iter().map(|c| c.name.as_str()),
                    );
                    return Err(error(
                        def,
                        format!("key column '{column}' is not a column{hint}"),
                    ));
                }
            }
            let format = option(def, "key.format").ok_or_else(|| {
                error(
                    def,
                    "a keyed kafka table needs 'key.format' ('json', 'csv', 'raw' or 'avro')",
                )
            })?;
            let format = key_format(format, &columns)?;
            Some((columns, format))
        }
    };
    Ok(RecordShape {
        value: format_of(def, physical)?,
        key,
        upsert,
        metadata: written_metadata(def),
    })
}

/// The rows of `batch` as message bytes in `format`.
fn render(format: &ValueFormat, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    let lines = match format {
        ValueFormat::Text(TextFormat::Csv { .. }) => crate::format::csv_lines(batch)?,
        ValueFormat::Text(TextFormat::Json) => crate::format::json_lines(batch)?,
        ValueFormat::Raw => raw_lines(batch)?,
        ValueFormat::Avro(avro) => return avro.encode(batch),
    };
    Ok(lines.into_iter().map(String::into_bytes).collect())
}

/// The values of a batch's one column as text (the `raw` format).
fn raw_lines(batch: &RecordBatch) -> Result<Vec<String>> {
    use datafusion::arrow::array::{Array, AsArray};
    if batch.num_columns() != 1 {
        return Err(RiffleError::Sql(format!(
            "the raw format writes one column, and the rows have {}",
            batch.num_columns()
        )));
    }
    let text = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)
        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
    let text = text.as_string::<i32>();
    Ok((0..text.len())
        .map(|i| {
            if text.is_null(i) {
                String::new()
            } else {
                text.value(i).to_string()
            }
        })
        .collect())
}

/// The Kafka records of `batch`'s rows under `shape`. A changelog's row kinds (its last
/// column) decide for `upsert-kafka`: inserts and update-afters write the row under its key,
/// deletes a tombstone, update-befores nothing.
pub fn records(shape: &RecordShape, batch: &RecordBatch) -> Result<Vec<KafkaRecord>> {
    use datafusion::arrow::array::Array;
    let schema = batch.schema();
    let changelog = schema
        .fields()
        .last()
        .is_some_and(|f| f.name() == crate::stream::ROW_KIND);
    let kinds = if changelog {
        batch
            .column(batch.num_columns() - 1)
            .as_any()
            .downcast_ref::<Int8Array>()
            .cloned()
    } else {
        None
    };
    // The value's columns: all but the row kind and the metadata columns.
    let is_metadata = |name: &str| shape.metadata.iter().any(|(n, _)| n == name);
    let data_columns: Vec<usize> = (0..batch.num_columns() - usize::from(changelog))
        .filter(|i| !is_metadata(schema.field(*i).name()))
        .collect();
    let data = batch
        .project(&data_columns)
        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
    let (timestamps, mut headers) = written_metadata_values(shape, batch)?;
    let values = render(&shape.value, &data)?;
    let keys = match &shape.key {
        None => None,
        Some((columns, format)) => {
            let data_schema = data.schema();
            let mut indices = Vec::with_capacity(columns.len());
            for column in columns {
                let index = data_schema
                    .fields()
                    .iter()
                    .position(|f| f.name().eq_ignore_ascii_case(column))
                    .ok_or_else(|| {
                        RiffleError::Sql(format!("the key column '{column}' is not written"))
                    })?;
                indices.push(index);
            }
            let key_batch = data
                .project(&indices)
                .map_err(|e| RiffleError::Runtime(e.to_string()))?;
            Some(render(format, &key_batch)?)
        }
    };
    let mut records = Vec::with_capacity(values.len());
    for (row, value) in values.into_iter().enumerate() {
        let kind = kinds.as_ref().map_or(0, |k| k.value(row));
        let value = match kind {
            // An update-before is followed by its update-after, which overwrites the key.
            1 if shape.upsert => continue,
            3 if shape.upsert => None,
            _ => Some(value),
        };
        records.push(KafkaRecord {
            key: keys.as_ref().map(|k| k[row].clone()),
            value,
            timestamp: timestamps.as_ref().and_then(|t| t[row]),
            headers: headers
                .as_mut()
                .map(|h| std::mem::take(&mut h[row]))
                .unwrap_or_default(),
        });
    }
    Ok(records)
}

/// A record's headers: key and value, in order.
type Headers = Vec<(String, Option<Vec<u8>>)>;

/// The timestamps (ms) and headers of a batch's rows.
type RowMetadata = (Option<Vec<Option<i64>>>, Option<Vec<Headers>>);

/// The timestamps (ms) and headers of `batch`'s rows, from the metadata columns `shape`
/// writes (none where there is no such column).
fn written_metadata_values(shape: &RecordShape, batch: &RecordBatch) -> Result<RowMetadata> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{TimeUnit, TimestampMillisecondType};
    let column = |key: &str| -> Result<Option<(&String, &ArrayRef)>> {
        let Some((name, _)) = shape.metadata.iter().find(|(_, k)| k == key) else {
            return Ok(None);
        };
        let column = batch.column_by_name(name).ok_or_else(|| {
            RiffleError::Runtime(format!("metadata column '{name}' is not written"))
        })?;
        Ok(Some((name, column)))
    };
    let cast = |name: &str, column: &ArrayRef, to: &DataType| {
        datafusion::arrow::compute::cast(column, to).map_err(|e| {
            RiffleError::Sql(format!("metadata column '{name}' cannot be written: {e}"))
        })
    };
    let timestamps = match column("timestamp")? {
        None => None,
        Some((name, column)) => {
            let ms = cast(
                name,
                column,
                &DataType::Timestamp(TimeUnit::Millisecond, None),
            )?;
            let ms = ms.as_primitive::<TimestampMillisecondType>();
            Some(ms.iter().collect())
        }
    };
    let headers = match column("headers")? {
        None => None,
        Some((name, column)) => {
            let text = cast(name, column, &DataType::Utf8)?;
            let text = text.as_string::<i32>();
            let mut rows = Vec::with_capacity(text.len());
            for row in 0..text.len() {
                if text.is_null(row) {
                    rows.push(Vec::new());
                    continue;
                }
                rows.push(headers_of(text.value(row)).map_err(|why| {
                    RiffleError::Sql(format!(
                        "metadata column '{name}' (headers) holds {:?}: {why}",
                        text.value(row)
                    ))
                })?);
            }
            Some(rows)
        }
    };
    Ok((timestamps, headers))
}

/// Headers from their JSON text (as the `headers` metadata column reads them): an object of
/// strings or nulls.
fn headers_of(text: &str) -> std::result::Result<Headers, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(object) = value else {
        return Err("not a JSON object".into());
    };
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::Null => Ok((key, None)),
            serde_json::Value::String(s) => Ok((key, Some(s.into_bytes()))),
            other => Err(format!("header '{key}' is {other}, not a string or null")),
        })
        .collect()
}

/// Checks a `kafka` table's options when it is created.
pub fn check(def: &TableDef, physical: &SchemaRef) -> Result<()> {
    for key in def.options.keys() {
        if !OPTIONS.contains(&key.as_str()) && !key.starts_with("properties.") {
            let hint = riffle_core::did_you_mean(key, OPTIONS.iter().copied());
            return Err(RiffleError::Sql(format!(
                "unknown kafka option '{key}'{hint} (options: {}, properties.*)",
                OPTIONS.join(", ")
            )));
        }
    }
    brokers(def)?;
    value_format(def, physical)?;
    for (_, key) in metadata_columns(def, physical) {
        if !METADATA.iter().any(|(k, _)| *k == key) {
            let hint = riffle_core::did_you_mean(&key, METADATA.iter().map(|(k, _)| *k));
            return Err(error(
                def,
                format!(
                    "unknown metadata key '{key}'{hint} (keys: {})",
                    METADATA
                        .iter()
                        .map(|(k, t)| format!("{k} {t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    // A table may be only written to: its source options are checked when it is read,
    // except those that are wrong either way.
    if option(def, "topic").is_none() && option(def, "topic-pattern").is_none() {
        return Err(error(
            def,
            "the kafka connector needs 'topic' or 'topic-pattern'",
        ));
    }
    if def.options.keys().any(|k| k.starts_with("sink.")) || upsert(def) {
        sink(def)?;
    }
    shape(def, physical)?;
    Ok(())
}

/// Event time of a Kafka table: the rowtime expression and the watermark's delay.
pub type Rowtime = (Physical, i64);

/// Reads a `kafka` table's messages on one worker: each partition's values parsed into a
/// batch of their own, the watermark the least of the partitions' (each trailing its
/// largest time by the declared delay), so that results do not depend on how partitions
/// interleave or are shared among workers. A partition without messages for
/// `'scan.watermark.idle-timeout'` stops holding the watermark back.
pub struct KafkaBatchReader {
    reader: KafkaReader,
    /// Decodes the values into the value columns.
    values: Decoder,
    /// `upsert-kafka`: decodes a tombstone's key into the key columns, whose places among
    /// the value columns are given; rows then carry their kind last.
    keys: Option<(Decoder, Vec<usize>)>,
    /// The reader's output: the table's physical columns, metadata columns included (and
    /// the row kind, for `upsert-kafka`).
    schema: SchemaRef,
    /// Metadata columns: their place in `schema` and their key.
    metadata: Vec<(usize, String)>,
    rowtime: Option<Rowtime>,
    /// Per-partition watermarks (tables with a WATERMARK).
    watermarks: Option<PartitionWatermarks>,
    messages: Vec<KafkaMessage>,
    /// `'scan.rate-limit'`: this worker's share of the messages per second, and how many
    /// it has read since it started.
    rate: Option<(f64, Instant, u64)>,
    /// Counts the messages read (the metric `sql.<table>.messages`).
    read: Option<Arc<AtomicU64>>,
}

/// Turns message values (or keys) of one format into rows of `schema`.
struct Decoder {
    format: ValueFormat,
    /// Text formats (and Avro, read as JSON objects).
    parser: Option<LineParser>,
    schema: SchemaRef,
}

impl Decoder {
    fn new(
        format: ValueFormat,
        schema: SchemaRef,
        policy: BadRecordPolicy,
        bad_count: Arc<AtomicU64>,
    ) -> Result<Decoder> {
        let text = match &format {
            ValueFormat::Text(text) => Some(*text),
            ValueFormat::Avro(_) => Some(TextFormat::Json),
            ValueFormat::Raw => None,
        };
        let parser = match text {
            Some(text) => {
                Some(LineParser::new(Arc::clone(&schema), text, policy, bad_count)?.with_offsets())
            }
            None => None,
        };
        Ok(Decoder {
            format,
            parser,
            schema,
        })
    }

    /// The rows of `items` (offset and bytes, in offset order) of partition `source`, and the
    /// offsets of the items that gave them (bad ones go through the policy; items without
    /// bytes give a NULL row in `raw` and none otherwise).
    fn decode(
        &mut self,
        source: &str,
        items: &[(i64, Option<&[u8]>)],
    ) -> Result<Option<(RecordBatch, Vec<i64>)>> {
        if items.is_empty() {
            return Ok(None);
        }
        if let ValueFormat::Raw = self.format {
            let values: StringArray = items
                .iter()
                .map(|(_, bytes)| bytes.map(String::from_utf8_lossy))
                .collect();
            let batch =
                RecordBatch::try_new(Arc::clone(&self.schema), vec![Arc::new(values) as ArrayRef])
                    .map_err(|e| RiffleError::Runtime(e.to_string()))?;
            return Ok(Some((batch, items.iter().map(|(o, _)| *o).collect())));
        }
        let Some(parser) = self.parser.as_mut() else {
            return Ok(None);
        };
        let mut lines = Lines::default();
        for &(offset, bytes) in items {
            let bytes = bytes.unwrap_or_default();
            if let ValueFormat::Avro(avro) = &self.format {
                if bytes.is_empty() {
                    continue;
                }
                match avro.decode_json(bytes) {
                    Ok(json) => lines.push(offset as u64, &json),
                    Err(why) => parser.reject(
                        RecordLocation::at_offset(source, offset as u64),
                        &format!("{} bytes: {}", bytes.len(), hex_prefix(bytes)),
                        why,
                    )?,
                }
                continue;
            }
            let text = String::from_utf8_lossy(bytes);
            // One record per message: line ends inside a value become spaces.
            let text = text.replace(['\n', '\r'], " ");
            lines.push(offset as u64, &text);
        }
        Ok(parser
            .parse_kept(source, &lines)?
            .map(|(batch, offsets)| (batch, offsets.into_iter().map(|o| o as i64).collect())))
    }
}

impl KafkaBatchReader {
    /// The reader of worker `worker` of `workers` of table `def`, whose physical columns
    /// are `schema`; bad values follow `policy` and are counted in `bad_count`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        def: &TableDef,
        schema: SchemaRef,
        policy: BadRecordPolicy,
        bad_count: Arc<AtomicU64>,
        rowtime: Option<Rowtime>,
        worker: usize,
        workers: usize,
    ) -> Result<Self> {
        let format = value_format(def, &schema)?;
        let value_columns = value_schema(def, &schema);
        // An upsert table's tombstones are read through its key format.
        let shape = upsert(def).then(|| shape(def, &schema)).transpose()?;
        let keys = match shape {
            Some(RecordShape {
                key: Some((columns, format)),
                ..
            }) => {
                let places = columns
                    .iter()
                    .map(|c| {
                        value_columns
                            .fields()
                            .iter()
                            .position(|f| f.name().eq_ignore_ascii_case(c))
                            .ok_or_else(|| error(def, format!("key column '{c}' is not a column")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let key_schema = Arc::new(
                    value_columns
                        .project(&places)
                        .map_err(|e| RiffleError::Runtime(e.to_string()))?,
                );
                let decoder =
                    Decoder::new(format, key_schema, policy.clone(), Arc::clone(&bad_count))?;
                Some((decoder, places))
            }
            _ => None,
        };
        let watermarks = match &rowtime {
            Some((_, delay)) => Some(PartitionWatermarks::new(
                *delay,
                duration_option(def, "scan.watermark.idle-timeout")?,
            )),
            None => None,
        };
        Ok(KafkaBatchReader {
            reader: source(def)?.reader(worker, workers),
            values: Decoder::new(format, value_columns, policy, bad_count)?,
            metadata: metadata_columns(def, &schema),
            schema: if keys.is_some() {
                crate::stream::with_row_kind(&schema)
            } else {
                schema
            },
            keys,
            rowtime,
            watermarks,
            messages: Vec::new(),
            rate: rate_limit(def)?.map(|r| (r as f64 / workers.max(1) as f64, Instant::now(), 0)),
            read: None,
        })
    }

    /// Counts the messages read in `counter`.
    pub fn counting(mut self, counter: Arc<AtomicU64>) -> Self {
        self.read = Some(counter);
        self
    }

    /// The rows of one partition's messages.
    fn parse(&mut self, messages: &[KafkaMessage]) -> Result<Option<RecordBatch>> {
        let Some(first) = messages.first() else {
            return Ok(None);
        };
        let source = format!(
            "Kafka topic '{}' partition {}",
            first.topic, first.partition
        );
        let (values, offsets, kinds) = if self.keys.is_some() {
            match self.changelog(&source, messages)? {
                Some((values, offsets, kinds)) => (values, offsets, Some(kinds)),
                None => return Ok(None),
            }
        } else {
            let items: Vec<(i64, Option<&[u8]>)> = messages
                .iter()
                .map(|m| (m.offset, m.payload.as_deref()))
                .collect();
            match self.values.decode(&source, &items)? {
                Some((values, offsets)) => (values, offsets, None),
                None => return Ok(None),
            }
        };
        // Messages are in offset order, and so are the rows.
        let mut rows: Vec<&KafkaMessage> = Vec::with_capacity(offsets.len());
        let mut at = 0;
        for offset in offsets {
            while messages[at].offset != offset {
                at += 1;
            }
            rows.push(&messages[at]);
        }
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        let mut value_columns = values.columns().iter();
        for (i, field) in self.schema.fields().iter().enumerate() {
            let column = match self.metadata.iter().find(|(at, _)| *at == i) {
                Some((_, key)) => metadata_array(key, &rows, field.data_type())?,
                None => match &kinds {
                    Some(kinds) if i + 1 == self.schema.fields().len() => {
                        Arc::new(kinds.clone()) as ArrayRef
                    }
                    _ => value_columns
                        .next()
                        .cloned()
                        .ok_or_else(|| RiffleError::Runtime("value columns out of step".into()))?,
                },
            };
            columns.push(column);
        }
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map(Some)
            .map_err(|e| RiffleError::Runtime(e.to_string()))
    }

    /// An `upsert-kafka` partition's messages as rows of the value columns, with their
    /// offsets and kinds: a value is an upsert (`+I`), a message without one a delete of its
    /// key (`-D`, the other columns NULL).
    fn changelog(
        &mut self,
        source: &str,
        messages: &[KafkaMessage],
    ) -> Result<Option<(RecordBatch, Vec<i64>, Int8Array)>> {
        let Some((keys, places)) = self.keys.as_mut() else {
            return Ok(None);
        };
        let (upserts, deletes): (Vec<&KafkaMessage>, Vec<&KafkaMessage>) =
            messages.iter().partition(|m| m.payload.is_some());
        let upserts: Vec<(i64, Option<&[u8]>)> = upserts
            .iter()
            .map(|m| (m.offset, m.payload.as_deref()))
            .collect();
        let deletes: Vec<(i64, Option<&[u8]>)> = deletes
            .iter()
            .map(|m| (m.offset, m.key.as_deref()))
            .collect();
        let values = self.values.decode(source, &upserts)?;
        let keys = keys.decode(source, &deletes)?;
        // A deleted key's row: its key columns, NULL elsewhere.
        let keys = match keys {
            None => None,
            Some((batch, offsets)) => {
                let schema = &self.values.schema;
                let columns = schema
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(i, f)| match places.iter().position(|p| *p == i) {
                        Some(k) => Arc::clone(batch.column(k)),
                        None => datafusion::arrow::array::new_null_array(
                            f.data_type(),
                            batch.num_rows(),
                        ),
                    })
                    .collect();
                let batch = RecordBatch::try_new(Arc::clone(schema), columns)
                    .map_err(|e| RiffleError::Runtime(e.to_string()))?;
                Some((batch, offsets))
            }
        };
        let (values, value_offsets) = values.unwrap_or_else(|| {
            (
                RecordBatch::new_empty(Arc::clone(&self.values.schema)),
                Vec::new(),
            )
        });
        let (keys, key_offsets) = keys.unwrap_or_else(|| {
            (
                RecordBatch::new_empty(Arc::clone(&self.values.schema)),
                Vec::new(),
            )
        });
        // Both in offset order: merge them.
        let (mut v, mut k) = (0, 0);
        let mut order = Vec::with_capacity(value_offsets.len() + key_offsets.len());
        let mut offsets = Vec::with_capacity(order.capacity());
        let mut kinds = Vec::with_capacity(order.capacity());
        while v < value_offsets.len() || k < key_offsets.len() {
            if k == key_offsets.len()
                || (v < value_offsets.len() && value_offsets[v] < key_offsets[k])
            {
                order.push((0, v));
                offsets.push(value_offsets[v]);
                kinds.push(0);
                v += 1;
            } else {
                order.push((1, k));
                offsets.push(key_offsets[k]);
                kinds.push(3);
                k += 1;
            }
        }
        if order.is_empty() {
            return Ok(None);
        }
        let columns = (0..values.num_columns())
            .map(|c| {
                datafusion::arrow::compute::interleave(
                    &[values.column(c).as_ref(), keys.column(c).as_ref()],
                    &order,
                )
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| RiffleError::Runtime(e.to_string()))?;
        let batch = RecordBatch::try_new(Arc::clone(&self.values.schema), columns)
            .map_err(|e| RiffleError::Runtime(e.to_string()))?;
        Ok(Some((batch, offsets, Int8Array::from(kinds))))
    }
}

impl SourceReader<Batch> for KafkaBatchReader {
    fn poll(&mut self, out: &mut Vec<Batch>) -> Result<SourceStatus> {
        // The batches of this poll go out under the watermark of what came before them.
        if let Some(watermarks) = self.watermarks.as_mut() {
            watermarks.update(&self.reader.offsets());
        }
        let mut max = 4096;
        if let Some((rate, started, read)) = self.rate {
            let allowed = (started.elapsed().as_secs_f64() * rate) as u64;
            if allowed <= read {
                return Ok(SourceStatus::Idle);
            }
            max = max.min((allowed - read) as usize);
        }
        let mut messages = std::mem::take(&mut self.messages);
        messages.clear();
        let status = self.reader.poll_messages(&mut messages, max)?;
        if let Some((_, _, read)) = self.rate.as_mut() {
            *read += messages.len() as u64;
        }
        if let Some(read) = &self.read {
            read.fetch_add(messages.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        // Messages come grouped by partition from the client; cut at each change.
        let mut start = 0;
        while start < messages.len() {
            let (topic, partition) = (&messages[start].topic, messages[start].partition);
            let end = messages[start..]
                .iter()
                .position(|m| m.partition != partition || &m.topic != topic)
                .map_or(messages.len(), |n| start + n);
            let batch = self.parse(&messages[start..end])?;
            if let (Some(watermarks), Some((rowtime, _))) =
                (self.watermarks.as_mut(), &self.rowtime)
            {
                let max = match &batch {
                    Some(batch) => Some(crate::stream::max_time(rowtime, batch)?),
                    None => None,
                };
                watermarks.observe(topic, partition, max);
            }
            if let Some(batch) = batch {
                out.push(Batch(batch));
            }
            start = end;
        }
        self.messages = messages;
        Ok(status)
    }

    fn batch_watermark(&self) -> Option<EventTime> {
        self.watermarks
            .as_ref()
            .and_then(PartitionWatermarks::watermark)
    }

    fn position(&self) -> Option<Vec<u8>> {
        self.reader.position()
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        self.reader.seek(position)
    }
}

/// The first bytes of a binary value in hex, for error messages.
fn hex_prefix(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 16 { " ..." } else { "" };
    format!("{}{more}", shown.join(" "))
}

/// Metadata `key` of `messages` as a column of type `to`.
fn metadata_array(key: &str, messages: &[&KafkaMessage], to: &DataType) -> Result<ArrayRef> {
    let text = |bytes: Option<&Vec<u8>>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
    let raw: ArrayRef = match key {
        "topic" => Arc::new(StringArray::from_iter_values(
            messages.iter().map(|m| m.topic.as_str()),
        )),
        "partition" => Arc::new(Int32Array::from_iter_values(
            messages.iter().map(|m| m.partition),
        )),
        "offset" => Arc::new(Int64Array::from_iter_values(
            messages.iter().map(|m| m.offset),
        )),
        "timestamp" => Arc::new(Int64Array::from_iter(messages.iter().map(|m| m.timestamp))),
        "key" | "value" => {
            let bytes = |m: &&KafkaMessage| {
                if key == "key" {
                    m.key.clone()
                } else {
                    m.payload.clone()
                }
            };
            if matches!(to, DataType::Binary | DataType::LargeBinary) {
                Arc::new(BinaryArray::from_iter(messages.iter().map(bytes)))
            } else {
                Arc::new(StringArray::from_iter(
                    messages.iter().map(|m| text(bytes(m).as_ref())),
                ))
            }
        }
        "headers" => Arc::new(StringArray::from_iter_values(messages.iter().map(|m| {
            let object: serde_json::Map<String, serde_json::Value> = m
                .headers
                .iter()
                .map(|(k, v)| {
                    let value = text(v.as_ref()).map_or(serde_json::Value::Null, Into::into);
                    (k.clone(), value)
                })
                .collect();
            serde_json::Value::Object(object).to_string()
        }))),
        other => {
            return Err(RiffleError::Sql(format!(
                "unknown Kafka metadata key '{other}'"
            )))
        }
    };
    if raw.data_type() == to {
        return Ok(raw);
    }
    datafusion::arrow::compute::cast(&raw, to).map_err(|e| {
        RiffleError::Sql(format!(
            "Kafka metadata '{key}' cannot be read as {to}: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int8Array;
    use datafusion::arrow::datatypes::Field;

    #[test]
    fn an_upsert_changelog_writes_rows_by_key_tombstones_deletes_and_drops_update_befores() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, true),
            Field::new(crate::stream::ROW_KIND, DataType::Int8, false),
        ]));
        // +I[1, 10], -U[1, 10], +U[1, 11], -D[2, 5]
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 1, 1, 2])),
                Arc::new(Int64Array::from(vec![10, 10, 11, 5])),
                Arc::new(Int8Array::from(vec![0, 1, 2, 3])),
            ],
        )
        .unwrap();
        let shape = RecordShape {
            value: ValueFormat::Text(TextFormat::Json),
            key: Some((vec!["k".into()], ValueFormat::Text(TextFormat::Json))),
            upsert: true,
            metadata: Vec::new(),
        };
        let records = records(&shape, &batch).unwrap();
        let text = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8(b.clone()).unwrap());
        let got: Vec<(Option<String>, Option<String>)> = records
            .iter()
            .map(|r| (text(&r.key), text(&r.value)))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(r#"{"k":1}"#.into()), Some(r#"{"k":1,"v":10}"#.into())),
                (Some(r#"{"k":1}"#.into()), Some(r#"{"k":1,"v":11}"#.into())),
                (Some(r#"{"k":2}"#.into()), None),
            ]
        );
    }
}
