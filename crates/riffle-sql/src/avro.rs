//! The `avro` format of Kafka tables: each message holds one record as a bare Avro datum (no
//! container header, no schema id), as Flink's `avro` format writes it. The writer's schema
//! is derived from the table's columns, or given inline with `'avro.schema'`; its fields are
//! matched to columns by name.

use apache_avro::schema::{RecordField, Schema as AvroSchema};
use apache_avro::types::Value as AvroValue;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Date32Array, Float32Array, Float64Array, Int32Array,
    Int64Array, StringArray,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use riffle_core::{Result, RiffleError};

/// An Avro field's type as Riffle reads and writes it.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    Bytes,
    /// Days since 1970-01-01.
    Date,
    /// `timestamp-millis` or `local-timestamp-millis`.
    Millis {
        local: bool,
    },
    /// `timestamp-micros` or `local-timestamp-micros`.
    Micros {
        local: bool,
    },
    /// An enum's symbols (written from a STRING column).
    Enum(Vec<String>),
}

impl Kind {
    /// The Arrow type a column is cast to before its cells are written as this kind.
    fn arrow(&self) -> DataType {
        match self {
            Kind::Boolean => DataType::Boolean,
            Kind::Int => DataType::Int32,
            Kind::Long => DataType::Int64,
            Kind::Float => DataType::Float32,
            Kind::Double => DataType::Float64,
            Kind::String | Kind::Enum(_) => DataType::Utf8,
            Kind::Bytes => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Millis { .. } => DataType::Timestamp(TimeUnit::Millisecond, None),
            Kind::Micros { .. } => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    /// The schema JSON of this kind (derived schemas).
    fn schema_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Kind::Boolean => json!("boolean"),
            Kind::Int => json!("int"),
            Kind::Long => json!("long"),
            Kind::Float => json!("float"),
            Kind::Double => json!("double"),
            Kind::String => json!("string"),
            Kind::Bytes => json!("bytes"),
            Kind::Date => json!({"type": "int", "logicalType": "date"}),
            Kind::Millis { .. } => json!({"type": "long", "logicalType": "timestamp-millis"}),
            Kind::Micros { .. } => json!({"type": "long", "logicalType": "timestamp-micros"}),
            Kind::Enum(_) => json!("string"),
        }
    }
}

/// One field of the record: its kind, whether it takes null (and the union branches of null
/// and of the value), and the column it comes from (none: always null).
#[derive(Debug, Clone)]
struct Field {
    name: String,
    kind: Kind,
    /// `Some((null_branch, value_branch))` for a `["null", T]` union.
    nullable: Option<(u32, u32)>,
    column: Option<usize>,
}

/// The Avro record of a table's value (or key) columns.
#[derive(Debug, Clone)]
pub struct AvroFormat {
    schema: AvroSchema,
    fields: Vec<Field>,
    /// The names of the columns, in order, as the decoded JSON objects name them.
    columns: Vec<String>,
}

impl AvroFormat {
    /// The format of `columns`: with the schema `inline` (Avro schema JSON, a record) when
    /// given, else one derived from the columns' types (a nullable column as `["null", T]`).
    pub fn new(columns: &SchemaRef, inline: Option<&str>) -> Result<AvroFormat> {
        let names: Vec<String> = columns.fields().iter().map(|f| f.name().clone()).collect();
        let fields = match inline {
            Some(text) => {
                let schema = AvroSchema::parse_str(text).map_err(|e| {
                    RiffleError::Sql(format!("'avro.schema' is not an Avro schema: {e}"))
                })?;
                let AvroSchema::Record(record) = &schema else {
                    return Err(RiffleError::Sql(
                        "'avro.schema' must be a record schema (\"type\": \"record\")".into(),
                    ));
                };
                let fields = record
                    .fields
                    .iter()
                    .map(|f| field_of(f, columns))
                    .collect::<Result<Vec<_>>>()?;
                for name in &names {
                    if !fields.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
                        return Err(RiffleError::Sql(format!(
                            "column '{name}' is not a field of 'avro.schema' (fields: {})",
                            fields
                                .iter()
                                .map(|f| f.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
                return Ok(AvroFormat {
                    schema,
                    fields,
                    columns: names,
                });
            }
            None => columns
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    Ok(Field {
                        name: f.name().clone(),
                        kind: kind_of_column(f.name(), f.data_type())?,
                        nullable: f.is_nullable().then_some((0, 1)),
                        column: Some(i),
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        };
        let json = serde_json::json!({
            "type": "record",
            "name": "record",
            "fields": fields.iter().map(|f| {
                let kind = f.kind.schema_json();
                let kind = if f.nullable.is_some() { serde_json::json!(["null", kind]) } else { kind };
                serde_json::json!({"name": f.name, "type": kind})
            }).collect::<Vec<_>>(),
        });
        let schema = AvroSchema::parse(&json)
            .map_err(|e| RiffleError::Sql(format!("cannot make an Avro schema: {e}")))?;
        Ok(AvroFormat {
            schema,
            fields,
            columns: names,
        })
    }

    /// The record in `bytes` as a JSON object keyed by column names (fields without a
    /// column left out), or why it is not one.
    pub fn decode_json(&self, bytes: &[u8]) -> std::result::Result<String, String> {
        let mut reader = bytes;
        let value = apache_avro::from_avro_datum(&self.schema, &mut reader, None)
            .map_err(|e| format!("not an Avro record of the table's schema: {e}"))?;
        if !reader.is_empty() {
            return Err(format!(
                "not an Avro record of the table's schema: {} bytes left after the record",
                reader.len()
            ));
        }
        let AvroValue::Record(cells) = value else {
            return Err("not an Avro record".into());
        };
        let mut object = serde_json::Map::with_capacity(cells.len());
        for ((_, cell), field) in cells.iter().zip(&self.fields) {
            if let Some(column) = field.column {
                object.insert(self.columns[column].clone(), json_of(cell)?);
            }
        }
        Ok(serde_json::Value::Object(object).to_string())
    }

    /// Each row of `batch` (the format's columns, by name) as an Avro datum.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        let schema = batch.schema();
        let mut columns: Vec<Option<ArrayRef>> = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let column = match field.column {
                None => None,
                Some(i) => {
                    let name = &self.columns[i];
                    let at = schema
                        .fields()
                        .iter()
                        .position(|f| f.name().eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            RiffleError::Sql(format!("the Avro column '{name}' is not written"))
                        })?;
                    let cast =
                        datafusion::arrow::compute::cast(batch.column(at), &field.kind.arrow())
                            .map_err(|e| {
                                RiffleError::Sql(format!(
                                    "column '{name}' cannot be written as Avro {:?}: {e}",
                                    field.kind
                                ))
                            })?;
                    Some(cast)
                }
            };
            columns.push(column);
        }
        let mut out = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut cells = Vec::with_capacity(self.fields.len());
            for (field, column) in self.fields.iter().zip(&columns) {
                let cell = match column {
                    Some(c) if !c.is_null(row) => Some(cell_of(&field.kind, c, row, &field.name)?),
                    _ => None,
                };
                let cell = match (cell, field.nullable) {
                    (Some(v), Some((_, branch))) => AvroValue::Union(branch, Box::new(v)),
                    (Some(v), None) => v,
                    (None, Some((null, _))) => AvroValue::Union(null, Box::new(AvroValue::Null)),
                    (None, None) if field.column.is_none() => {
                        return Err(RiffleError::Sql(format!(
                            "Avro field '{}' is not a column and not nullable: rows cannot \
                             be written under this schema",
                            field.name
                        )))
                    }
                    (None, None) => {
                        return Err(RiffleError::Sql(format!(
                            "column '{}' is NULL, and its Avro field is not nullable",
                            field.name
                        )))
                    }
                };
                cells.push((field.name.clone(), cell));
            }
            let bytes = apache_avro::to_avro_datum(&self.schema, AvroValue::Record(cells))
                .map_err(|e| RiffleError::Sql(format!("cannot write an Avro record: {e}")))?;
            out.push(bytes);
        }
        Ok(out)
    }
}

/// The kind a column of `data_type` is written as when the schema is derived.
fn kind_of_column(name: &str, data_type: &DataType) -> Result<Kind> {
    Ok(match data_type {
        DataType::Boolean => Kind::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 => Kind::Int,
        DataType::Int64 => Kind::Long,
        DataType::Float32 => Kind::Float,
        DataType::Float64 => Kind::Double,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::String,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Kind::Bytes,
        DataType::Date32 => Kind::Date,
        DataType::Timestamp(TimeUnit::Second | TimeUnit::Millisecond, _) => {
            Kind::Millis { local: false }
        }
        DataType::Timestamp(_, _) => Kind::Micros { local: false },
        other => {
            return Err(RiffleError::Sql(format!(
                "column '{name}' of type {} has no Avro type here (BOOLEAN, TINYINT to BIGINT, \
                 FLOAT, DOUBLE, STRING, BYTES, DATE, TIMESTAMP)",
                crate::types::flink_name(other)
            )))
        }
    })
}

/// A field of an inline schema, matched to its column by name.
fn field_of(field: &RecordField, columns: &SchemaRef) -> Result<Field> {
    let bad =
        |why: String| RiffleError::Sql(format!("'avro.schema' field '{}': {why}", field.name));
    let (schema, nullable) = match &field.schema {
        AvroSchema::Union(union) => {
            let variants = union.variants();
            let null = variants.iter().position(|v| *v == AvroSchema::Null);
            match (variants.len(), null) {
                (2, Some(n)) => (&variants[1 - n], Some((n as u32, (1 - n) as u32))),
                _ => return Err(bad("only [\"null\", T] unions are read and written".into())),
            }
        }
        other => (other, None),
    };
    let kind = match schema {
        AvroSchema::Boolean => Kind::Boolean,
        AvroSchema::Int => Kind::Int,
        AvroSchema::Long => Kind::Long,
        AvroSchema::Float => Kind::Float,
        AvroSchema::Double => Kind::Double,
        AvroSchema::String => Kind::String,
        AvroSchema::Bytes => Kind::Bytes,
        AvroSchema::Date => Kind::Date,
        AvroSchema::TimestampMillis => Kind::Millis { local: false },
        AvroSchema::LocalTimestampMillis => Kind::Millis { local: true },
        AvroSchema::TimestampMicros => Kind::Micros { local: false },
        AvroSchema::LocalTimestampMicros => Kind::Micros { local: true },
        AvroSchema::Enum(e) => Kind::Enum(e.symbols.clone()),
        other => return Err(bad(format!("type {other:?} is not read or written here"))),
    };
    let column = columns
        .fields()
        .iter()
        .position(|c| c.name().eq_ignore_ascii_case(&field.name));
    Ok(Field {
        name: field.name.clone(),
        kind,
        nullable,
        column,
    })
}

/// Row `row` of `column` (cast to `kind.arrow()`) as an Avro value.
fn cell_of(kind: &Kind, column: &ArrayRef, row: usize, name: &str) -> Result<AvroValue> {
    let wrong = || RiffleError::Runtime(format!("column '{name}' was not cast for Avro"));
    Ok(match kind {
        Kind::Boolean => AvroValue::Boolean(column.as_boolean_opt().ok_or_else(wrong)?.value(row)),
        Kind::Int => AvroValue::Int(downcast::<Int32Array>(column).ok_or_else(wrong)?.value(row)),
        Kind::Long => AvroValue::Long(downcast::<Int64Array>(column).ok_or_else(wrong)?.value(row)),
        Kind::Float => AvroValue::Float(
            downcast::<Float32Array>(column)
                .ok_or_else(wrong)?
                .value(row),
        ),
        Kind::Double => AvroValue::Double(
            downcast::<Float64Array>(column)
                .ok_or_else(wrong)?
                .value(row),
        ),
        Kind::String => AvroValue::String(
            downcast::<StringArray>(column)
                .ok_or_else(wrong)?
                .value(row)
                .to_string(),
        ),
        Kind::Enum(symbols) => {
            let text = downcast::<StringArray>(column)
                .ok_or_else(wrong)?
                .value(row);
            let at = symbols.iter().position(|s| s == text).ok_or_else(|| {
                RiffleError::Sql(format!(
                    "column '{name}' holds '{text}', not a symbol of its Avro enum ({})",
                    symbols.join(", ")
                ))
            })?;
            AvroValue::Enum(at as u32, text.to_string())
        }
        Kind::Bytes => AvroValue::Bytes(
            downcast::<BinaryArray>(column)
                .ok_or_else(wrong)?
                .value(row)
                .to_vec(),
        ),
        Kind::Date => AvroValue::Date(
            downcast::<Date32Array>(column)
                .ok_or_else(wrong)?
                .value(row),
        ),
        Kind::Millis { local } => {
            let ms = column
                .as_primitive_opt::<datafusion::arrow::datatypes::TimestampMillisecondType>()
                .ok_or_else(wrong)?
                .value(row);
            if *local {
                AvroValue::LocalTimestampMillis(ms)
            } else {
                AvroValue::TimestampMillis(ms)
            }
        }
        Kind::Micros { local } => {
            let us = column
                .as_primitive_opt::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
                .ok_or_else(wrong)?
                .value(row);
            if *local {
                AvroValue::LocalTimestampMicros(us)
            } else {
                AvroValue::TimestampMicros(us)
            }
        }
    })
}

fn downcast<T: 'static>(column: &ArrayRef) -> Option<&T> {
    column.as_any().downcast_ref::<T>()
}

/// An Avro value as the JSON the table's JSON reader takes (times as text).
fn json_of(value: &AvroValue) -> std::result::Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let time = |micros: i64, digits: usize| -> J {
        let at = chrono::DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc());
        match (at, digits) {
            (Some(t), 3) => J::String(t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
            (Some(t), _) => J::String(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
            (None, _) => J::Null,
        }
    };
    Ok(match value {
        AvroValue::Null => J::Null,
        AvroValue::Boolean(b) => J::Bool(*b),
        AvroValue::Int(i) => J::from(*i),
        AvroValue::Long(i) => J::from(*i),
        AvroValue::Float(f) => serde_json::Number::from_f64(*f as f64).map_or(J::Null, J::Number),
        AvroValue::Double(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        AvroValue::String(s) | AvroValue::Enum(_, s) => J::String(s.clone()),
        AvroValue::Bytes(b) | AvroValue::Fixed(_, b) => {
            J::String(String::from_utf8_lossy(b).into_owned())
        }
        AvroValue::Union(_, inner) => json_of(inner)?,
        AvroValue::Date(days) => {
            let day = chrono::NaiveDate::from_num_days_from_ce_opt(719_163 + days);
            day.map_or(J::Null, |d| J::String(d.format("%Y-%m-%d").to_string()))
        }
        AvroValue::TimestampMillis(ms) | AvroValue::LocalTimestampMillis(ms) => {
            time(ms.saturating_mul(1000), 3)
        }
        AvroValue::TimestampMicros(us) | AvroValue::LocalTimestampMicros(us) => time(*us, 6),
        AvroValue::Array(items) => J::Array(items.iter().map(json_of).collect::<Result<_, _>>()?),
        AvroValue::Map(map) => J::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), json_of(v)?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        AvroValue::Record(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), json_of(v)?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        other => return Err(format!("the Avro value {other:?} is not read here")),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use datafusion::arrow::datatypes::{Field as ArrowField, Schema};

    fn columns(fields: Vec<ArrowField>) -> SchemaRef {
        Arc::new(Schema::new(fields))
    }

    fn bids() -> SchemaRef {
        columns(vec![
            ArrowField::new("auction", DataType::Int64, true),
            ArrowField::new("price", DataType::Int32, false),
            ArrowField::new("bidder", DataType::Utf8, true),
            ArrowField::new(
                "bid_time",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
        ])
    }

    fn batch(schema: &SchemaRef) -> RecordBatch {
        RecordBatch::try_new(
            Arc::clone(schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(7), None])),
                Arc::new(Int32Array::from(vec![120, 95])),
                Arc::new(StringArray::from(vec![Some("ann"), None])),
                Arc::new(datafusion::arrow::array::TimestampMillisecondArray::from(
                    vec![Some(1_700_000_001_250), None],
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_derived_schema_writes_rows_that_read_back_as_json() {
        let schema = bids();
        let format = AvroFormat::new(&schema, None).unwrap();
        let encoded = format.encode(&batch(&schema)).unwrap();
        // Hand-computed: union branch 1 (zig-zag 2), long 7 (14), int 120 (240 = f0 01),
        // branch 1, string "ann" (length 3 as 6), branch 1, the time in zig-zag varint.
        assert_eq!(&encoded[0][..8], &[2, 14, 0xf0, 0x01, 2, 6, b'a', b'n']);
        assert_eq!(
            format.decode_json(&encoded[0]).unwrap(),
            r#"{"auction":7,"bid_time":"2023-11-14 22:13:21.250","bidder":"ann","price":120}"#
        );
        // NULLs as the union's null branch: one byte 0 each.
        assert_eq!(encoded[1], vec![0, 190, 1, 0, 0]);
        assert_eq!(
            format.decode_json(&encoded[1]).unwrap(),
            r#"{"auction":null,"bid_time":null,"bidder":null,"price":95}"#
        );
    }

    #[test]
    fn an_inline_schema_orders_fields_and_names_what_does_not_fit() {
        let schema = bids();
        let inline = r#"{"type": "record", "name": "Bid", "fields": [
            {"name": "price", "type": "long"},
            {"name": "bidder", "type": ["null", {"type": "enum", "name": "Who", "symbols": ["ann", "bob"]}]},
            {"name": "auction", "type": ["long", "null"]},
            {"name": "bid_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "note", "type": ["null", "string"]}
        ]}"#;
        let format = AvroFormat::new(&schema, Some(inline)).unwrap();
        // The second row's bid_time is NULL and its field is not nullable.
        let error = format.encode(&batch(&schema)).unwrap_err().to_string();
        assert!(error.contains("'bid_time' is NULL"), "{error}");
        let one = batch(&schema).slice(0, 1);
        let encoded = format.encode(&one).unwrap();
        // price first (long 120 = f0 01), enum branch 1 symbol 0, auction branch 0 (long 7).
        assert_eq!(&encoded[0][..6], &[0xf0, 0x01, 2, 0, 0, 14]);
        assert_eq!(
            format.decode_json(&encoded[0]).unwrap(),
            r#"{"auction":7,"bid_time":"2023-11-14 22:13:21.250","bidder":"ann","price":120}"#
        );
        // Truncated and trailing bytes are refused.
        assert!(format.decode_json(&encoded[0][..3]).is_err());
        let mut longer = encoded[0].clone();
        longer.push(0);
        let error = format.decode_json(&longer).unwrap_err();
        assert!(error.contains("1 bytes left"), "{error}");
        // A field that is no column is read past, but cannot be written.
        let extra = inline.replace(r#"["null", "string"]"#, r#""string""#);
        let format = AvroFormat::new(&schema, Some(&extra)).unwrap();
        let error = format.encode(&one).unwrap_err().to_string();
        assert!(error.contains("field 'note' is not a column"), "{error}");
        for (bad, says) in [
            (r#"{"type": "string"}"#, "must be a record"),
            (
                r#"{"type": "record", "name": "r", "fields": [{"name": "price", "type": "long"}]}"#,
                "column 'auction' is not a field",
            ),
            ("{not json", "is not an Avro schema"),
        ] {
            let error = AvroFormat::new(&schema, Some(bad)).unwrap_err().to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
