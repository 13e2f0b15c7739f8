//! Flink's `datagen` connector for tables: rows of a schema, each field random within a range
//! or a sequence, configured with Flink's option names, produced as Arrow batches.
//!
//! Options (as in Flink's `CREATE TABLE ... WITH ('connector' = 'datagen', ...)`):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `rows-per-second` | 10000 | rate of the whole source; `0` for as fast as possible (Riffle) |
//! | `number-of-rows` | unbounded | rows in all (the source is then bounded) |
//! | `seed` | 0 | seed of every random choice (Riffle; Flink's generator is not seeded) |
//! | `fields.F.kind` | `random` | `random` or `sequence` |
//! | `fields.F.min`, `fields.F.max` | the type's range | bounds of a random number |
//! | `fields.F.max-past` | 0 | random timestamps and dates lie up to this far before the start |
//! | `fields.F.length` | 100 | length of a random string |
//! | `fields.F.var-len` | false | random strings get a random length from 1 to `length` |
//! | `fields.F.start`, `fields.F.end` | (required) | bounds of a sequence, inclusive |
//! | `fields.F.null-rate` | 0 | share of rows where the field is null |
//!
//! Row `n` is a function of the seed and `n` alone (random timestamps also of the start time,
//! as in Flink), so the rows do not depend on how many workers generate them. A sequence
//! field holds `start + n`; the source ends after the shortest sequence.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, Int8Builder, StringBuilder, TimestampMicrosecondBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use riffle_core::{did_you_mean, Batch, Result, RiffleError};
use riffle_runtime::{DataStream, Env, SourceReader, SourceStatus, WatermarkStrategy};

use crate::datagen::RowRng;

/// Rows per generated batch.
const BATCH_ROWS: u64 = 4096;

const MS_PER_DAY: i64 = 86_400_000;

/// How one field is generated.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// A uniform number in `[min, max]` (integers, floats) or offset (times).
    Random { min: f64, max: f64 },
    /// A random string of `length` letters (`1..=length` when `var_len`).
    Text { length: usize, var_len: bool },
    /// A random boolean.
    Flag,
    /// A time up to `max_past_ms` before `base_ms`.
    Past { base_ms: i64, max_past_ms: i64 },
    /// `start + n`.
    Sequence { start: i64, end: i64 },
}

#[derive(Debug, Clone, PartialEq)]
struct FieldGen {
    kind: Kind,
    null_rate: f64,
}

/// A `datagen` table: its schema, how each field is generated, how many rows and how fast.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
/// use arrow_schema::{DataType, Field, Schema};
/// use riffle_connectors::DataGenTable;
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("id", DataType::Int64, false),
///     Field::new("price", DataType::Float64, true),
/// ]));
/// let options: BTreeMap<String, String> = [
///     ("number-of-rows", "10"),
///     ("fields.id.kind", "sequence"),
///     ("fields.id.start", "1"),
///     ("fields.id.end", "100"),
///     ("fields.price.min", "1"),
///     ("fields.price.max", "2"),
/// ]
/// .into_iter()
/// .map(|(k, v)| (k.to_string(), v.to_string()))
/// .collect();
/// let table = DataGenTable::from_options(schema, &options).unwrap();
/// let batch = table.rows(0, 10).unwrap();
/// assert_eq!(batch.num_rows(), 10);
/// ```
#[derive(Debug, Clone)]
pub struct DataGenTable {
    schema: SchemaRef,
    fields: Vec<FieldGen>,
    seed: u64,
    rows: Option<u64>,
    rows_per_second: Option<u64>,
}

/// Options of the whole source (the others are `fields.NAME.OPTION`).
const TABLE_OPTIONS: [&str; 4] = ["connector", "rows-per-second", "number-of-rows", "seed"];
const FIELD_OPTIONS: [&str; 9] = [
    "kind",
    "min",
    "max",
    "max-past",
    "length",
    "var-len",
    "start",
    "end",
    "null-rate",
];

fn parse<T: std::str::FromStr>(key: &str, value: &str, what: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| RiffleError::Config(format!("datagen: '{key}' = '{value}' is not {what}")))
}

/// A duration like Flink's: `500` (ms), `500 ms`, `5 s`, `1 min`, `2 h`, `1 d`.
fn parse_duration(key: &str, value: &str) -> Result<Duration> {
    let text = value.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = parse(key, number, "a duration such as '5 s' or '1 min'")?;
    let ms = match unit.trim().to_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => MS_PER_DAY as u64,
        other => {
            return Err(RiffleError::Config(format!(
                "datagen: '{key}' = '{value}': unknown time unit '{other}' (use ms, s, min, h or d)"
            )))
        }
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

/// The range of integer type `data_type`, if it is one.
fn integer_range(data_type: &DataType) -> Option<(f64, f64)> {
    Some(match data_type {
        DataType::Int8 => (i8::MIN as f64, i8::MAX as f64),
        DataType::Int16 => (i16::MIN as f64, i16::MAX as f64),
        DataType::Int32 => (i32::MIN as f64, i32::MAX as f64),
        DataType::Int64 => (i64::MIN as f64, i64::MAX as f64),
        _ => return None,
    })
}

impl DataGenTable {
    /// The table of `schema` configured by Flink-style `options`; an unknown option, a column
    /// the schema lacks, a value that does not parse or an option that does not fit the
    /// column's type is an error that names it.
    pub fn from_options(schema: SchemaRef, options: &BTreeMap<String, String>) -> Result<Self> {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for key in options.keys() {
            if TABLE_OPTIONS.contains(&key.as_str()) {
                continue;
            }
            let Some(rest) = key.strip_prefix("fields.") else {
                let hint = did_you_mean(key, TABLE_OPTIONS);
                return Err(RiffleError::Config(format!(
                    "datagen: unknown option '{key}'{hint} (options: {}, fields.<column>.<{}>)",
                    TABLE_OPTIONS.join(", "),
                    FIELD_OPTIONS.join("|")
                )));
            };
            let (column, option) = rest.rsplit_once('.').unwrap_or((rest, ""));
            if !names.contains(&column) {
                let hint = did_you_mean(column, names.iter().copied());
                return Err(RiffleError::Config(format!(
                    "datagen: option '{key}' names no column '{column}'{hint} (columns: {})",
                    names.join(", ")
                )));
            }
            if !FIELD_OPTIONS.contains(&option) {
                let hint = did_you_mean(option, FIELD_OPTIONS);
                return Err(RiffleError::Config(format!(
                    "datagen: unknown field option '{key}'{hint} (field options: {})",
                    FIELD_OPTIONS.join(", ")
                )));
            }
        }
        let started_ms = riffle_runtime::now_millis();
        let mut fields = Vec::with_capacity(names.len());
        let mut rows: Option<u64> = match options.get("number-of-rows") {
            Some(v) => Some(parse("number-of-rows", v, "a number of rows")?),
            None => None,
        };
        for field in schema.fields() {
            let generator = field_gen(field.name(), field.data_type(), options, started_ms)?;
            if let Kind::Sequence { start, end } = generator.kind {
                let length = (end as i128 - start as i128 + 1).max(0) as u64;
                rows = Some(rows.map_or(length, |r| r.min(length)));
            }
            fields.push(generator);
        }
        let rows_per_second = match options.get("rows-per-second") {
            Some(v) => match parse::<u64>("rows-per-second", v, "a number of rows")? {
                0 => None,
                rate => Some(rate),
            },
            None => Some(10_000),
        };
        let seed = match options.get("seed") {
            Some(v) => parse("seed", v, "an unsigned integer")?,
            None => 0,
        };
        Ok(DataGenTable {
            schema,
            fields,
            seed,
            rows,
            rows_per_second,
        })
    }

    /// The schema of the rows.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows in all, `None` when unbounded.
    pub fn number_of_rows(&self) -> Option<u64> {
        self.rows
    }

    /// Rows `start..end` as one batch.
    pub fn rows(&self, start: u64, end: u64) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = self
            .fields
            .iter()
            .zip(self.schema.fields())
            .enumerate()
            .map(|(i, (generator, field))| {
                // Each field draws from its own stream, so adding a column changes no other.
                let seed = self.seed ^ (i as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
                column(generator, field.data_type(), seed, start, end)
            })
            .collect();
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|e| RiffleError::Runtime(format!("datagen: {e}")))
    }

    /// This worker's share of the rows as a stream of batches, at the configured rate.
    pub fn stream<'s>(&self, env: &Env<'s>, name: &str) -> DataStream<'s, Batch> {
        let reader = self.reader(env.worker_index(), env.workers());
        env.source(name, reader, WatermarkStrategy::none())
    }

    /// The reader of worker `worker_index` of `workers`: blocks of rows round-robin over the
    /// workers, at the configured rate.
    pub fn reader(&self, worker_index: usize, workers: usize) -> DataGenTableReader {
        let workers = workers.max(1) as u64;
        DataGenTableReader {
            table: self.clone(),
            next_block: worker_index as u64,
            offset: 0,
            workers,
            rate: self.rows_per_second.map(|r| (r / workers).max(1)),
            started: Instant::now(),
            emitted: 0,
        }
    }
}

fn field_gen(
    name: &str,
    data_type: &DataType,
    options: &BTreeMap<String, String>,
    started_ms: i64,
) -> Result<FieldGen> {
    let key = |option: &str| format!("fields.{name}.{option}");
    let get = |option: &str| options.get(&key(option)).map(String::as_str);
    let null_rate = match get("null-rate") {
        Some(v) => {
            let rate: f64 = parse(&key("null-rate"), v, "a number from 0 to 1")?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(RiffleError::Config(format!(
                    "datagen: '{}' = '{v}' is not between 0 and 1",
                    key("null-rate")
                )));
            }
            rate
        }
        None => 0.0,
    };
    let is_time = matches!(
        data_type,
        DataType::Date32 | DataType::Timestamp(TimeUnit::Millisecond | TimeUnit::Microsecond, _)
    );
    let is_number = integer_range(data_type).is_some()
        || matches!(data_type, DataType::Float32 | DataType::Float64);
    if !(is_time || is_number || matches!(data_type, DataType::Utf8 | DataType::Boolean)) {
        return Err(RiffleError::Config(format!(
            "datagen: column '{name}' has type {data_type}, which datagen does not generate \
             (it generates BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, STRING, DATE \
             and TIMESTAMP(3) or TIMESTAMP(6))"
        )));
    }
    let only_for = |option: &str, types: &str, ok: bool| -> Result<()> {
        match get(option) {
            Some(_) if !ok => Err(RiffleError::Config(format!(
                "datagen: '{}' applies to {types} columns, and '{name}' is {data_type}",
                key(option)
            ))),
            _ => Ok(()),
        }
    };
    let kind_name = get("kind").unwrap_or("random");
    let kind = match kind_name {
        "sequence" => {
            if !(is_number || matches!(data_type, DataType::Utf8)) {
                return Err(RiffleError::Config(format!(
                    "datagen: '{}' = 'sequence' needs a number or string column; '{name}' is \
                     {data_type}",
                    key("kind")
                )));
            }
            for option in ["min", "max", "max-past", "length", "var-len"] {
                if get(option).is_some() {
                    return Err(RiffleError::Config(format!(
                        "datagen: '{}' applies to random fields, and '{name}' is a sequence \
                         (it takes 'start' and 'end')",
                        key(option)
                    )));
                }
            }
            let bound = |option: &str| -> Result<i64> {
                match get(option) {
                    Some(v) => parse(&key(option), v, "an integer"),
                    None => Err(RiffleError::Config(format!(
                        "datagen: sequence column '{name}' needs '{}'",
                        key(option)
                    ))),
                }
            };
            let (start, end) = (bound("start")?, bound("end")?);
            if end < start {
                return Err(RiffleError::Config(format!(
                    "datagen: '{}' = {end} is before '{}' = {start}",
                    key("end"),
                    key("start")
                )));
            }
            Kind::Sequence { start, end }
        }
        "random" => {
            only_for("start", "sequence", false)?;
            only_for("end", "sequence", false)?;
            only_for("min", "number", is_number)?;
            only_for("max", "number", is_number)?;
            only_for("length", "string", matches!(data_type, DataType::Utf8))?;
            only_for("var-len", "string", matches!(data_type, DataType::Utf8))?;
            only_for("max-past", "date and timestamp", is_time)?;
            match data_type {
                DataType::Boolean => Kind::Flag,
                DataType::Utf8 => Kind::Text {
                    length: match get("length") {
                        Some(v) => parse(&key("length"), v, "a length")?,
                        None => 100,
                    },
                    var_len: match get("var-len") {
                        Some(v) => parse(&key("var-len"), v, "'true' or 'false'")?,
                        None => false,
                    },
                },
                DataType::Timestamp(..) | DataType::Date32 => Kind::Past {
                    base_ms: started_ms,
                    max_past_ms: match get("max-past") {
                        Some(v) => parse_duration(&key("max-past"), v)?.as_millis() as i64,
                        None => 0,
                    },
                },
                _ => {
                    // Floats may take any value; by default they are drawn from Flink's
                    // range, [Double.MIN_VALUE (the least positive double), Double.MAX_VALUE].
                    let (type_min, type_max) =
                        integer_range(data_type).unwrap_or((f64::MIN, f64::MAX));
                    let (default_min, default_max) =
                        integer_range(data_type).unwrap_or((f64::MIN_POSITIVE, f64::MAX));
                    let bound = |option: &str, default: f64| -> Result<f64> {
                        let value = match get(option) {
                            Some(v) => parse(&key(option), v, "a number")?,
                            None => default,
                        };
                        if value < type_min || value > type_max {
                            return Err(RiffleError::Config(format!(
                                "datagen: '{}' = {value} does not fit {data_type}",
                                key(option)
                            )));
                        }
                        Ok(value)
                    };
                    let (min, max) = (bound("min", default_min)?, bound("max", default_max)?);
                    if max < min {
                        return Err(RiffleError::Config(format!(
                            "datagen: '{}' = {max} is below '{}' = {min}",
                            key("max"),
                            key("min")
                        )));
                    }
                    Kind::Random { min, max }
                }
            }
        }
        other => {
            return Err(RiffleError::Config(format!(
                "datagen: '{}' = '{other}': the kind is 'random' or 'sequence'",
                key("kind")
            )))
        }
    };
    Ok(FieldGen { kind, null_rate })
}

/// The values of one field for rows `start..end`.
fn column(generator: &FieldGen, data_type: &DataType, seed: u64, start: u64, end: u64) -> ArrayRef {
    // Per row: whether it is null, then its value, from the row's own generator.
    let values = (start..end).map(|n| {
        let mut rng = RowRng::new(seed, n);
        let null = generator.null_rate > 0.0 && rng.chance(generator.null_rate);
        (!null).then_some((n, rng))
    });
    let int = |n: u64, rng: &mut RowRng| -> i64 {
        match generator.kind {
            Kind::Random { min, max } => rng.range_i64(min as i64, max as i64),
            Kind::Sequence { start, .. } => start.saturating_add(n as i64),
            Kind::Past {
                base_ms,
                max_past_ms,
            } => base_ms - rng.range_i64(0, max_past_ms),
            Kind::Text { .. } | Kind::Flag => 0,
        }
    };
    let float = |n: u64, rng: &mut RowRng| -> f64 {
        match generator.kind {
            Kind::Random { min, max } => rng.range_f64(min, max),
            Kind::Sequence { start, .. } => start as f64 + n as f64,
            _ => 0.0,
        }
    };
    macro_rules! build {
        ($builder:ty, $value:expr) => {{
            let mut builder = <$builder>::with_capacity((end - start) as usize);
            for row in values {
                builder.append_option(row.map(|(n, mut rng)| $value(n, &mut rng)));
            }
            Arc::new(builder.finish()) as ArrayRef
        }};
    }
    match data_type {
        DataType::Boolean => build!(BooleanBuilder, |_, rng: &mut RowRng| rng.chance(0.5)),
        DataType::Int8 => build!(Int8Builder, |n, rng: &mut RowRng| int(n, rng) as i8),
        DataType::Int16 => build!(Int16Builder, |n, rng: &mut RowRng| int(n, rng) as i16),
        DataType::Int32 => build!(Int32Builder, |n, rng: &mut RowRng| int(n, rng) as i32),
        DataType::Int64 => build!(Int64Builder, |n, rng: &mut RowRng| int(n, rng)),
        DataType::Float32 => build!(Float32Builder, |n, rng: &mut RowRng| float(n, rng) as f32),
        DataType::Float64 => build!(Float64Builder, |n, rng: &mut RowRng| float(n, rng)),
        DataType::Date32 => build!(Date32Builder, |n, rng: &mut RowRng| {
            int(n, rng).div_euclid(MS_PER_DAY) as i32
        }),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let array = build!(TimestampMicrosecondBuilder, |n, rng: &mut RowRng| {
                int(n, rng).saturating_mul(1000)
            });
            with_timezone(array, tz.clone())
        }
        DataType::Timestamp(_, tz) => {
            let array = build!(TimestampMillisecondBuilder, |n, rng: &mut RowRng| int(
                n, rng
            ));
            with_timezone(array, tz.clone())
        }
        _ => {
            let mut builder = StringBuilder::new();
            for row in values {
                match row {
                    None => builder.append_null(),
                    Some((n, mut rng)) => match generator.kind {
                        Kind::Sequence { start, .. } => {
                            builder.append_value(start.saturating_add(n as i64).to_string())
                        }
                        Kind::Text { length, var_len } => {
                            let len = if var_len && length > 0 {
                                rng.range_i64(1, length as i64) as usize
                            } else {
                                length
                            };
                            builder.append_value(rng.string(len));
                        }
                        _ => builder.append_null(),
                    },
                }
            }
            Arc::new(builder.finish())
        }
    }
}

/// A timestamp column with the schema's time zone (the builders make zone-less ones).
fn with_timezone(array: ArrayRef, tz: Option<Arc<str>>) -> ArrayRef {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{TimestampMicrosecondType, TimestampMillisecondType};
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => Arc::new(
            array
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone_opt(tz),
        ),
        _ => Arc::new(
            array
                .as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone_opt(tz),
        ),
    }
}

/// One worker's share of a [`DataGenTable`] (see [`DataGenTable::reader`]): blocks of rows
/// round-robin over the workers, emitted in pieces when a rate limit allows fewer rows than a
/// block.
pub struct DataGenTableReader {
    table: DataGenTable,
    next_block: u64,
    /// Rows of the current block already emitted.
    offset: u64,
    workers: u64,
    /// Rows per second for this worker, `None` for as fast as possible.
    rate: Option<u64>,
    started: Instant,
    emitted: u64,
}

impl SourceReader<Batch> for DataGenTableReader {
    fn poll(&mut self, out: &mut Vec<Batch>) -> Result<SourceStatus> {
        let block_start = self.next_block.saturating_mul(BATCH_ROWS);
        let block_end = match self.table.rows {
            Some(rows) => rows.min(block_start.saturating_add(BATCH_ROWS)),
            None => block_start.saturating_add(BATCH_ROWS),
        };
        let start = block_start.saturating_add(self.offset);
        if start >= block_end {
            return Ok(SourceStatus::Finished);
        }
        let mut end = block_end;
        if let Some(rate) = self.rate {
            let allowed = (self.started.elapsed().as_secs_f64() * rate as f64) as u64;
            let budget = allowed.saturating_sub(self.emitted);
            if budget == 0 {
                return Ok(SourceStatus::Idle);
            }
            end = end.min(start.saturating_add(budget));
        }
        out.push(Batch(self.table.rows(start, end)?));
        self.emitted += end - start;
        if end == block_end {
            self.next_block += self.workers;
            self.offset = 0;
        } else {
            self.offset = end - block_start;
        }
        Ok(SourceStatus::Ready)
    }

    fn position(&self) -> Option<Vec<u8>> {
        let mut bytes = self.next_block.to_le_bytes().to_vec();
        bytes.extend(self.offset.to_le_bytes());
        Some(bytes)
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        if position.len() != 16 {
            return Err(RiffleError::Checkpoint(format!(
                "datagen: a position is 16 bytes, this one {}",
                position.len()
            )));
        }
        self.next_block = riffle_runtime::decode_u64(&position[..8])?;
        self.offset = riffle_runtime::decode_u64(&position[8..])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow_schema::{Field, Schema};

    use super::*;

    fn table(rate: Option<u64>) -> DataGenTable {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let options = [
            ("fields.id.kind", "sequence"),
            ("fields.id.start", "0"),
            ("fields.id.end", "9999"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut table = DataGenTable::from_options(schema, &options).unwrap();
        table.rows_per_second = rate;
        table
    }

    #[test]
    fn a_double_field_takes_a_negative_range() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
        let options = [
            ("fields.x.min", "-5"),
            ("fields.x.max", "-1"),
            ("number-of-rows", "100"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let table = DataGenTable::from_options(schema, &options).unwrap();
        let batch = table.rows(0, 100).unwrap();
        use arrow_array::cast::AsArray;
        use arrow_array::types::Float64Type;
        let values = batch.column(0).as_primitive::<Float64Type>().values();
        assert!(
            values.iter().all(|v| (-5.0..=-1.0).contains(v)),
            "{values:?}"
        );
    }

    fn ids(batches: &[Batch]) -> Vec<i64> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::Int64Type;
        batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect()
    }

    #[test]
    fn a_rate_limited_reader_emits_blocks_in_pieces_and_resumes_from_its_position() {
        let mut reader = DataGenTableReader {
            table: table(None),
            next_block: 1,
            offset: 0,
            workers: 2,
            rate: Some(1_000_000),
            started: Instant::now(),
            emitted: 0,
        };
        let mut out = Vec::new();
        // A budget of a few hundred rows per poll: blocks come in pieces.
        std::thread::sleep(Duration::from_millis(1));
        reader.poll(&mut out).unwrap();
        let position = reader.position().unwrap();
        let mut resumed = DataGenTableReader {
            rate: None,
            ..DataGenTableReader {
                table: table(None),
                next_block: 0,
                offset: 0,
                workers: 2,
                rate: None,
                started: Instant::now(),
                emitted: 0,
            }
        };
        resumed.seek(&position).unwrap();
        while resumed.poll(&mut out).unwrap() == SourceStatus::Ready {}
        // Worker 1 of 2 owns blocks 1 and 3 of 4096 rows (rows 4096..8192 and 12288..);
        // the sequence ends at 9999.
        let expected: Vec<i64> = (4096..8192).collect();
        assert_eq!(ids(&out), expected);
        assert!(reader.seek(&[1, 2, 3]).is_err());
    }
}
