//! How results print: an aligned table for people, CSV or JSON lines for scripts.
//! Timestamps print as `YYYY-MM-DD HH:MM:SS.mmm`, as Flink prints them.

use datafusion::arrow::array::{Array, Int8Array};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches_with_options;
use riffle_core::{Result, RiffleError};

/// How `riffle sql` prints result rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// An aligned table with a row count.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Json,
}

fn options() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("NULL")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
}

/// `batches` (of `schema`) as text in `format`.
pub fn render(schema: &Schema, batches: &[RecordBatch], format: ResultFormat) -> Result<String> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let fail = |e: datafusion::arrow::error::ArrowError| RiffleError::Runtime(e.to_string());
    match format {
        ResultFormat::Table => {
            if rows == 0 {
                return Ok("Empty set\n".to_string());
            }
            let table = pretty_format_batches_with_options(batches, &options()).map_err(fail)?;
            let noun = if rows == 1 { "row" } else { "rows" };
            Ok(format!("{table}\n{rows} {noun} in set\n"))
        }
        ResultFormat::Csv => {
            let mut out = String::new();
            let header: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| csv_field(f.name()))
                .collect();
            out.push_str(&header.join(","));
            out.push('\n');
            for batch in batches {
                for line in csv_lines(batch)? {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            Ok(out)
        }
        ResultFormat::Json => {
            let mut out = String::new();
            for batch in batches {
                for line in json_lines(batch)? {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            Ok(out)
        }
    }
}

/// The rows of `batch` as CSV lines (no header; NULL is an empty field).
pub fn csv_lines(batch: &RecordBatch) -> Result<Vec<String>> {
    let cells = formatters(batch)?;
    Ok((0..batch.num_rows())
        .map(|row| {
            cells
                .iter()
                .zip(batch.columns())
                .map(|(f, column)| {
                    if column.is_null(row) {
                        String::new()
                    } else {
                        csv_field(&f.value(row).to_string())
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect())
}

/// The rows of `batch` as JSON objects, one per line.
pub fn json_lines(batch: &RecordBatch) -> Result<Vec<String>> {
    let cells = formatters(batch)?;
    let schema = batch.schema();
    Ok((0..batch.num_rows())
        .map(|row| {
            let mut object = serde_json::Map::new();
            for ((field, f), column) in schema.fields().iter().zip(&cells).zip(batch.columns()) {
                let value = if column.is_null(row) {
                    serde_json::Value::Null
                } else {
                    json_value(field.data_type(), f.value(row).to_string())
                };
                object.insert(field.name().clone(), value);
            }
            serde_json::Value::Object(object).to_string()
        })
        .collect())
}

/// The rows of `batch` as Flink's print sink writes them: `+I[1, abc, 2026-11-25 10:00:00.000]`,
/// with the row kind (`-U`, `+U`, `-D`) of an updating result, whose last column holds it.
pub fn changelog_lines(batch: &RecordBatch) -> Result<Vec<String>> {
    let cells = formatters(batch)?;
    let schema = batch.schema();
    let kinds = match schema.fields().last() {
        Some(f) if f.name() == crate::stream::ROW_KIND => batch
            .column(batch.num_columns() - 1)
            .as_any()
            .downcast_ref::<Int8Array>()
            .cloned(),
        _ => None,
    };
    let shown = cells.len() - usize::from(kinds.is_some());
    Ok((0..batch.num_rows())
        .map(|row| {
            let values: Vec<String> = cells[..shown]
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            let kind = kinds
                .as_ref()
                .and_then(|k| crate::stream::ROW_KINDS.get(k.value(row) as usize))
                .unwrap_or(&"+I");
            format!("{kind}[{}]", values.join(", "))
        })
        .collect())
}

fn formatters(batch: &RecordBatch) -> Result<Vec<ArrayFormatter<'_>>> {
    let options = options();
    batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| RiffleError::Runtime(e.to_string()))
}

/// Numbers and booleans stay JSON numbers and booleans; everything else is a string.
fn json_value(data_type: &DataType, text: String) -> serde_json::Value {
    let numeric = data_type.is_numeric() || matches!(data_type, DataType::Boolean);
    match numeric.then(|| serde_json::from_str::<serde_json::Value>(&text)) {
        Some(Ok(value)) => value,
        _ => serde_json::Value::String(text),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray, TimestampMillisecondArray};

    use super::*;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a,b"), None])) as _,
            ),
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from(vec![
                    1_700_000_000_123,
                    1_700_000_001_000,
                ])) as _,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn each_format_prints_timestamps_like_flink() {
        let b = batch();
        let table = render(&b.schema(), std::slice::from_ref(&b), ResultFormat::Table).unwrap();
        assert!(
            table.contains("| 1  | a,b  | 2023-11-14 22:13:20.123 |"),
            "{table}"
        );
        assert!(table.ends_with("2 rows in set\n"), "{table}");
        let csv = render(&b.schema(), std::slice::from_ref(&b), ResultFormat::Csv).unwrap();
        assert_eq!(
            csv,
            "id,name,ts\n1,\"a,b\",2023-11-14 22:13:20.123\n2,,2023-11-14 22:13:21.000\n"
        );
        let json = render(&b.schema(), std::slice::from_ref(&b), ResultFormat::Json).unwrap();
        assert_eq!(
            json.lines().next().unwrap(),
            r#"{"id":1,"name":"a,b","ts":"2023-11-14 22:13:20.123"}"#
        );
        assert!(json.contains(r#""name":null"#));
        let empty = render(&b.schema(), &[], ResultFormat::Table).unwrap();
        assert_eq!(empty, "Empty set\n");
    }
}
