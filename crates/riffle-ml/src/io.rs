//! Reading training and scoring tables from files and writing scored tables back: CSV with a
//! header (types inferred from every row; empty fields are missing values) and Parquet.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use crate::classes::CLASSES_METADATA;
use crate::data;
use crate::error::{MlError, Result};

fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Reads a whole CSV (with header) or Parquet file into one table.
pub fn read_table(path: &Path) -> Result<RecordBatch> {
    let mut file =
        File::open(path).map_err(|e| MlError::data(format!("{}: {e}", path.display())))?;
    let batches: Vec<RecordBatch> = if is_parquet(path) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        reader.collect::<std::result::Result<_, _>>()?
    } else {
        let format = arrow_csv::reader::Format::default().with_header(true);
        let (schema, _) = format
            .infer_schema(&mut file, None)
            .map_err(|e| MlError::data(format!("{}: {e}", path.display())))?;
        file.seek(SeekFrom::Start(0))?;
        let reader = arrow_csv::ReaderBuilder::new(Arc::new(schema))
            .with_format(format)
            .with_batch_size(65_536)
            .build(file)?;
        reader
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| MlError::data(format!("{}: {e}", path.display())))?
    };
    let Some(first) = batches.first() else {
        return Err(MlError::data(format!(
            "{}: the file holds no rows",
            path.display()
        )));
    };
    let schema = first.schema();
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

/// Rows read to infer a CSV file's column types when each worker reads only its part: every
/// worker reads the same prefix, so all agree on the schema.
const SCHEMA_SAMPLE_ROWS: usize = 100_000;

/// The columns of a CSV file (with header) and their types, inferred from its first rows.
pub fn csv_schema(path: &Path) -> Result<Schema> {
    let mut file =
        File::open(path).map_err(|e| MlError::data(format!("{}: {e}", path.display())))?;
    let (schema, _) = arrow_csv::reader::Format::default()
        .with_header(true)
        .infer_schema(&mut file, Some(SCHEMA_SAMPLE_ROWS))
        .map_err(|e| MlError::data(format!("{}: {e}", path.display())))?;
    Ok(schema)
}

/// Part `part` of `parts` of a CSV file (with header): the lines that start in its share of
/// the bytes, so the parts together hold every row once. Column types are inferred from the
/// file's first rows, the same for every part.
pub fn read_csv_part(path: &Path, part: usize, parts: usize) -> Result<RecordBatch> {
    use std::io::{BufRead, BufReader};
    let named = |e: std::io::Error| MlError::data(format!("{}: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(named)?.len();
    let schema = csv_schema(path)?;
    let parts = parts.max(1) as u64;
    let (start, end) = (size * part as u64 / parts, size * (part as u64 + 1) / parts);
    // Each part starts at the first line that begins at or after `start`; the first part
    // skips the header.
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(named)?);
    let mut position = 0u64;
    let mut line = Vec::new();
    if start == 0 {
        position += reader.read_until(b'\n', &mut line).map_err(named)? as u64;
    } else {
        reader.seek(SeekFrom::Start(start - 1)).map_err(named)?;
        position = start - 1 + reader.read_until(b'\n', &mut line).map_err(named)? as u64;
    }
    let mut bytes = Vec::new();
    while position < end {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(named)?;
        if n == 0 {
            break;
        }
        position += n as u64;
        bytes.extend_from_slice(&line);
    }
    let schema = Arc::new(schema);
    let csv = arrow_csv::ReaderBuilder::new(Arc::clone(&schema))
        .with_header(false)
        .with_batch_size(65_536)
        .build(std::io::Cursor::new(bytes))?;
    let batches: Vec<RecordBatch> = csv
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| MlError::data(format!("{} (part {part} of {parts}): {e}", path.display())))?;
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

/// Writes `table` as Parquet (vectors kept) or CSV by the file's extension. CSV has no
/// vectors, so each vector column becomes one column per entry: `probability_<label>` for
/// class probabilities, `<name>_<i>` otherwise.
pub fn write_table(table: &RecordBatch, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let file = File::create(path).map_err(|e| MlError::data(format!("{}: {e}", path.display())))?;
    if is_parquet(path) {
        let mut writer = ArrowWriter::try_new(file, table.schema(), None)?;
        writer.write(table)?;
        writer.close()?;
        return Ok(());
    }
    let flat = flatten_vectors(table)?;
    let mut writer = csv_writer(file);
    writer.write(&flat)?;
    Ok(())
}

/// A CSV writer with a header, for scored tables (flatten vectors first).
pub type CsvWriter<W> = arrow_csv::Writer<W>;

/// A [`CsvWriter`] over `w`.
pub fn csv_writer<W: std::io::Write>(w: W) -> CsvWriter<W> {
    arrow_csv::WriterBuilder::new().with_header(true).build(w)
}

/// `table` with every vector column spread into scalar columns.
pub fn flatten_vectors(table: &RecordBatch) -> Result<RecordBatch> {
    let schema = table.schema();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in schema.fields().iter().zip(table.columns()) {
        if !matches!(
            field.data_type(),
            DataType::FixedSizeList(_, _) | DataType::List(_)
        ) {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        let m = data::read_vectors(table, field.name())?;
        let labels: Option<Vec<f64>> = field
            .metadata()
            .get(CLASSES_METADATA)
            .and_then(|s| serde_json::from_str(s).ok());
        for j in 0..m.cols() {
            let name = match &labels {
                Some(l) if l.len() == m.cols() => format!("{}_{}", field.name(), l[j]),
                _ => format!("{}_{j}", field.name()),
            };
            fields.push(Field::new(name, DataType::Float64, false));
            columns.push(Arc::new(Float64Array::from(m.column(j))));
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_files_read_with_inferred_types_and_missing_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "age,city,score\n31,Lisbon,1.5\n,Porto,2\n40,,3.25\n").unwrap();
        let t = read_table(&path).unwrap();
        assert_eq!(t.num_rows(), 3);
        assert_eq!(t.schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(
            data::read_f64_nullable(&t, "age").unwrap(),
            vec![Some(31.0), None, Some(40.0)]
        );
        assert_eq!(data::read_strings(&t, "city").unwrap()[2], None);
        let err = read_table(&dir.path().join("missing.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.csv"), "{err}");
    }
}
