//! Record formats, separate from the transports that carry them (as in Flink): CSV, JSON
//! lines and plain text lines, decoding into and encoding from typed records with serde.

use std::str::FromStr;

use riffle_core::{RecordLocation, RiffleError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A line-oriented record format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values; the first line is a header when `header` is true. Columns map
    /// to fields by name with a header, by position without.
    Csv {
        /// Whether the first line names the columns.
        header: bool,
        /// Field separator, `,` by default.
        delimiter: u8,
    },
    /// One JSON object per line.
    JsonLines,
    /// Each line is one `String` record.
    Lines,
    /// Apache Parquet files, columns mapped to fields by name (read by the file source,
    /// written by the Parquet sink).
    Parquet,
}

impl Format {
    /// CSV with a header line.
    pub fn csv() -> Self {
        Format::Csv {
            header: true,
            delimiter: b',',
        }
    }

    /// The usual file extension.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Csv { .. } => "csv",
            Format::JsonLines => "jsonl",
            Format::Lines => "txt",
            Format::Parquet => "parquet",
        }
    }
}

impl FromStr for Format {
    type Err = RiffleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::csv()),
            "csv-noheader" => Ok(Format::Csv {
                header: false,
                delimiter: b',',
            }),
            "json" | "jsonl" => Ok(Format::JsonLines),
            "lines" | "text" | "raw" => Ok(Format::Lines),
            "parquet" => Ok(Format::Parquet),
            other => Err(RiffleError::Config(format!(
                "unknown format '{other}': use csv, csv-noheader, json, lines or parquet"
            ))),
        }
    }
}

/// Decodes one line of a JSON-lines or text input into a record. On failure returns the
/// location narrowed to the failing column where known, and a message naming the value.
pub(crate) fn decode_line<T: DeserializeOwned>(
    format: &Format,
    line: &str,
    location: &RecordLocation,
) -> Result<T, (RecordLocation, String)> {
    match format {
        Format::JsonLines => serde_json::from_str(line).map_err(|e| {
            let mut loc = location.clone();
            if let Some(field) = json_field_of(&e) {
                loc = loc.with_column(field);
            }
            (
                loc,
                format!("invalid JSON at character {}: {e}", e.column()),
            )
        }),
        Format::Lines => serde_json::from_value(serde_json::Value::String(line.to_string()))
            .map_err(|e| {
                (
                    location.clone(),
                    format!("a text line can only be read as a string record: {e}"),
                )
            }),
        Format::Parquet => Err((
            location.clone(),
            "Parquet is not a line format: read it with the file source".to_string(),
        )),
        Format::Csv { delimiter, .. } => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .delimiter(*delimiter)
                .from_reader(line.as_bytes());
            let mut record = csv::StringRecord::new();
            match reader.read_record(&mut record) {
                Ok(true) => decode_csv(&record, None, location),
                Ok(false) => Err((location.clone(), "empty CSV line".to_string())),
                Err(e) => Err((location.clone(), format!("malformed CSV: {e}"))),
            }
        }
    }
}

/// Decodes a CSV record, by header names when `headers` is given.
pub(crate) fn decode_csv<T: DeserializeOwned>(
    record: &csv::StringRecord,
    headers: Option<&csv::StringRecord>,
    location: &RecordLocation,
) -> Result<T, (RecordLocation, String)> {
    record.deserialize(headers).map_err(|e| {
        let mut loc = location.clone();
        let (message, field) = match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => (err.kind().to_string(), err.field()),
            _ => (e.to_string(), None),
        };
        let mut message = message;
        if let Some(index) = field {
            let index = index as usize;
            let column = headers
                .and_then(|h| h.get(index))
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{}", index + 1));
            loc = loc.with_column(column);
            if let Some(value) = record.get(index) {
                message = format!("{message} (value '{value}')");
            }
        }
        (loc, message)
    })
}

/// serde_json names a missing field in its message; pull it out to name the column.
fn json_field_of(error: &serde_json::Error) -> Option<String> {
    let text = error.to_string();
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_string())
}

/// Encodes a record as one line (without the newline) in `format`.
pub(crate) fn encode_line<T: Serialize>(format: &Format, value: &T) -> Result<String, String> {
    match format {
        Format::Parquet => {
            Err("Parquet is not a line format: write it with the Parquet sink".into())
        }
        Format::JsonLines => serde_json::to_string(value).map_err(|e| e.to_string()),
        Format::Lines => match serde_json::to_value(value).map_err(|e| e.to_string())? {
            serde_json::Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        },
        Format::Csv { delimiter, .. } => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .delimiter(*delimiter)
                .from_writer(Vec::new());
            writer.serialize(value).map_err(|e| e.to_string())?;
            let bytes = writer.into_inner().map_err(|e| e.to_string())?;
            let mut line = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            while line.ends_with(['\n', '\r']) {
                line.pop();
            }
            Ok(line)
        }
    }
}
