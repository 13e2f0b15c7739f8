//! The readers of SQL tables whose rows are records in files or on a socket: CSV and JSON
//! lines parsed into Arrow batches with the table's bad-record policy, and Parquet files.
//! Streaming jobs share the files among workers; batch queries read each file as a
//! partition of a DataFusion table, through the same parser, so both modes report a bad
//! record by file and line.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

use crate::csv_columns::CsvColumns;
use datafusion::arrow::array::{new_null_array, Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast_with_options, concat_batches, CastOptions};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use riffle_connectors::{read_lines, BadRecords, Line};
use riffle_core::{BadRecordPolicy, Batch, RecordLocation, Result, RiffleError};
use riffle_runtime::{decode_u64, SourceReader, SourceStatus};

use crate::script::TableDef;

/// Rows per batch.
const BATCH_ROWS: usize = 8192;

/// A text format the reader parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// CSV, with or without a header line, and its delimiter.
    Csv {
        /// The first line names the columns.
        header: bool,
        /// Field separator.
        delimiter: u8,
    },
    /// One JSON object per line.
    Json,
}

impl TextFormat {
    /// The line format a table's options give (a socket's): `'format'` (`csv` or `json`),
    /// `'csv.header'` and `'csv.field-delimiter'`.
    pub fn of(def: &TableDef) -> Result<TextFormat> {
        match FileFormat::of(def)? {
            FileFormat::Text(format) => Ok(format),
            FileFormat::Parquet => Err(RiffleError::Sql(format!(
                "table '{}': 'format' = 'parquet' is for files; records in lines are 'csv' \
                 or 'json'",
                def.name
            ))),
        }
    }
}

/// What a file table's files hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Records as lines of text.
    Text(TextFormat),
    /// Parquet files.
    Parquet,
}

impl FileFormat {
    /// The format a table's `'format'` option names.
    pub fn of(def: &TableDef) -> Result<FileFormat> {
        match def.options.get("format").map(String::as_str) {
            Some("csv") => Ok(FileFormat::Text(TextFormat::Csv {
                header: def.options.get("csv.header").is_some_and(|v| v == "true"),
                delimiter: def
                    .options
                    .get("csv.field-delimiter")
                    .and_then(|d| d.bytes().next())
                    .unwrap_or(b','),
            })),
            Some("json") => Ok(FileFormat::Text(TextFormat::Json)),
            Some("parquet") => Ok(FileFormat::Parquet),
            other => Err(RiffleError::Sql(format!(
                "table '{}': 'format' = {other:?}: use 'csv', 'json' or 'parquet'",
                def.name
            ))),
        }
    }
}

/// A table's policy for records it cannot parse: Flink's `'csv.ignore-parse-errors'` /
/// `'json.ignore-parse-errors'` = `'true'` skips them (counted, a few logged), and Riffle's
/// `'bad-records'` = `'fail'` | `'skip'` | `'dead-letter=PATH'` says it in full. The default
/// fails the job with the record's file, line, column and value.
pub fn bad_record_policy(def: &TableDef) -> Result<BadRecordPolicy> {
    let ignore = ["csv.ignore-parse-errors", "json.ignore-parse-errors"]
        .iter()
        .any(|k| def.options.get(*k).is_some_and(|v| v == "true"));
    match def.options.get("bad-records") {
        Some(policy) => policy
            .parse()
            .map_err(|e| RiffleError::Sql(format!("table '{}': {e}", def.name))),
        None if ignore => Ok(BadRecordPolicy::Skip),
        None => Ok(BadRecordPolicy::Fail),
    }
}

/// The files under `path` (the file itself, or a directory's visible files), sorted.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| RiffleError::io(path, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RiffleError::io(path, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') && !name.starts_with('_') && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// A chunk of text records: the lines, each ended by `\n`, in one buffer, with their line
/// numbers (from 1 within their source) and places in it.
///
/// A file's reader reads straight into the buffer and keeps whole lines where they were
/// read: the buffer holds the kept lines (`text[..kept]`), then the bytes read but not
/// taken yet (`text[pending]`), then spare bytes for the next read. A line dropped (blank, a
/// header) or cut (a `\r`) moves the lines after it down; only the bytes after a batch's
/// last line move, to the front, for the next batch. (Through a `BufReader`, every byte was
/// copied once more, 3-5% of a query that reads a file.)
#[derive(Default)]
pub struct Lines {
    text: Vec<u8>,
    kept: usize,
    pending: std::ops::Range<usize>,
    spans: Vec<(u64, usize, usize)>,
}

/// How many bytes a file's reader reads at least at a time.
const READ_BYTES: usize = 1 << 18;

impl Lines {
    /// Starts the next chunk: the bytes read but not taken move to the front.
    fn clear(&mut self) {
        self.text.copy_within(self.pending.clone(), 0);
        self.pending = 0..self.pending.len();
        self.kept = 0;
        self.spans.clear();
    }

    /// Forgets everything, the bytes read but not taken too (another file is opened).
    fn reset(&mut self) {
        self.pending = 0..0;
        self.clear();
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    /// The kept lines, each ended by `\n`.
    fn kept_text(&self) -> &[u8] {
        &self.text[..self.kept]
    }

    /// Bytes read but not taken yet.
    fn pending(&self) -> &[u8] {
        &self.text[self.pending.clone()]
    }

    /// Reads more of `file` after the pending bytes; returns how many (0 at its end).
    fn fill(&mut self, file: &mut dyn Read) -> std::io::Result<usize> {
        if self.text.len() - self.pending.end < READ_BYTES {
            let grown = (self.text.len() * 2).max(self.pending.end + READ_BYTES);
            self.text.resize(grown, 0);
        }
        loop {
            match file.read(&mut self.text[self.pending.end..]) {
                Ok(read) => {
                    self.pending.end += read;
                    return Ok(read);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads on in `file` (at `path`); false when nothing is left to take. The last line of
    /// a file that has no line end gets one.
    fn read_on(&mut self, file: &mut dyn Read, path: &Path) -> Result<bool> {
        if self.fill(file).map_err(|e| RiffleError::io(path, e))? > 0 {
            return Ok(true);
        }
        if self.pending.is_empty() {
            return Ok(false);
        }
        if self.pending.end == self.text.len() {
            self.text.push(b'\n');
        } else {
            self.text[self.pending.end] = b'\n';
        }
        self.pending.end += 1;
        Ok(true)
    }

    /// Drops the first `bytes` pending bytes (the line running into a byte range).
    fn skip(&mut self, bytes: usize) {
        self.pending.start += bytes;
    }

    /// Adds line `number`, received whole, unless it is blank: its line end is cut and one
    /// `\n` put back.
    pub(crate) fn push(&mut self, number: u64, line: &str) {
        self.text.truncate(self.kept);
        self.text.extend_from_slice(line.as_bytes());
        self.text.push(b'\n');
        let at = self.kept;
        self.keep(at..self.text.len(), number, false);
        self.text.truncate(self.kept);
        self.pending = self.kept..self.kept;
    }

    /// Keeps the line in `line` (a range of the buffer at or after the kept lines' end,
    /// followed by a `\n` in it or after it) as the next kept line `number`, cut of its line
    /// end and ended by one `\n`, unless it is blank or `skip` (a header).
    fn keep(&mut self, line: std::ops::Range<usize>, number: u64, skip: bool) {
        let start = line.start;
        let mut end = line.end;
        while end > start && matches!(self.text[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        if skip || self.text[start..end].iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.text.copy_within(start..end, self.kept);
        let at = self.kept;
        self.spans.push((number, at, at + end - start));
        self.kept += end - start;
        // The `\n` goes where this line's own one was, or before it.
        self.text[self.kept] = b'\n';
        self.kept += 1;
    }

    /// Takes the whole lines at the start of the pending bytes (at most `most` of them, and
    /// only those starting in their first `before` bytes), numbered on from `done`, the first
    /// one skipped if `skip_header`, as [`keep`](Self::keep) does one by one; runs of plain
    /// lines (not blank, no `\r`, no leading space) stay where they are, or move down
    /// together. Returns the bytes and lines taken.
    fn take_whole(
        &mut self,
        done: u64,
        most: usize,
        before: u64,
        skip_header: bool,
    ) -> (usize, u64) {
        let first = self.pending.start;
        let (mut at, mut taken) = (first, 0u64);
        // The plain lines from `run` on move down to the kept lines' end together.
        let mut run = first;
        while (taken as usize) < most && ((at - first) as u64) < before {
            let Some(length) = memchr::memchr(b'\n', &self.text[at..self.pending.end]) else {
                break;
            };
            let end = at + length;
            let number = done + taken + 1;
            let line = &self.text[at..end];
            let plain = !(skip_header && number == 1)
                && line.first().is_some_and(|b| !b.is_ascii_whitespace())
                && line.last() != Some(&b'\r');
            if plain {
                let start = self.kept + (at - run);
                self.spans.push((number, start, start + length));
            } else {
                self.move_run(run..at);
                self.keep(at..end, number, skip_header && number == 1);
                run = end + 1;
            }
            at = end + 1;
            taken += 1;
        }
        self.move_run(run..at);
        self.pending.start = at;
        (at - first, taken)
    }

    /// Moves the plain lines in `run` to the kept lines' end (their spans already say they
    /// are there).
    fn move_run(&mut self, run: std::ops::Range<usize>) {
        if run.start != self.kept {
            self.text.copy_within(run.clone(), self.kept);
        }
        self.kept += run.len();
    }
}

/// A piece of a file that one reader reads: the lines that start in bytes `start..end` of
/// it (`end` = `u64::MAX`: to its end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The file.
    pub path: PathBuf,
    /// First byte of the range.
    pub start: u64,
    /// End of the range (exclusive).
    pub end: u64,
}

/// Below this size a text file is not cut into ranges.
const MIN_SPLIT_BYTES: u64 = 1 << 20;

/// The size of the byte ranges a streaming job cuts a file into (about; see
/// [`streaming_splits`]).
const STREAM_SPLIT_BYTES: u64 = 32 << 20;

/// The pieces `files` are read in by `readers` readers: whole files when there are at least
/// as many files as readers (or they are Parquet), otherwise each text file cut into
/// `readers` equal byte ranges, a line belonging to the range it starts in.
pub fn splits(files: &[PathBuf], format: FileFormat, readers: usize) -> Result<Vec<Split>> {
    cut(files, format, readers, 1)
}

/// [`splits`] for a streaming job: a file cut for `readers` readers is cut into a multiple of
/// `readers` ranges of about [`STREAM_SPLIT_BYTES`], which the readers take in order from a
/// [`SplitPool`]. The readers then move through a file together, so a file written in time
/// order keeps their watermarks close: with one range each, the reader of the second half
/// would run ahead, and windows and joins would hold its rows until the reader of the first
/// half caught up.
pub fn streaming_splits(
    files: &[PathBuf],
    format: FileFormat,
    readers: usize,
) -> Result<Vec<Split>> {
    let largest = files
        .iter()
        .map(|path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let per_reader = largest.div_ceil(STREAM_SPLIT_BYTES * readers.max(1) as u64);
    cut(files, format, readers, per_reader.max(1) as usize)
}

/// Each file cut (as [`splits`] says) into `readers * per_reader` ranges.
fn cut(
    files: &[PathBuf],
    format: FileFormat,
    readers: usize,
    per_reader: usize,
) -> Result<Vec<Split>> {
    let whole = |path: &PathBuf| Split {
        path: path.clone(),
        start: 0,
        end: u64::MAX,
    };
    if files.len() >= readers || format == FileFormat::Parquet {
        return Ok(files.iter().map(whole).collect());
    }
    let mut out = Vec::new();
    for path in files {
        let size = std::fs::metadata(path)
            .map_err(|e| RiffleError::io(path, e))?
            .len();
        if size < MIN_SPLIT_BYTES {
            out.push(whole(path));
            continue;
        }
        let pieces = (readers * per_reader) as u64;
        let step = size.div_ceil(pieces);
        for k in 0..pieces {
            out.push(Split {
                path: path.clone(),
                start: k * step,
                end: if k + 1 == pieces {
                    u64::MAX
                } else {
                    (k + 1) * step
                },
            });
        }
    }
    Ok(out)
}

/// The number of the line that starts at byte `at` of `path` (counted on demand, when a
/// record of a range that starts mid-file has to be named).
fn line_at(path: &Path, at: u64) -> Result<u64> {
    let file = File::open(path).map_err(|e| RiffleError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, std::io::Read::take(file, at));
    let mut lines = 1;
    loop {
        let buffer = reader.fill_buf().map_err(|e| RiffleError::io(path, e))?;
        if buffer.is_empty() {
            return Ok(lines);
        }
        lines += buffer.iter().filter(|b| **b == b'\n').count() as u64;
        let n = buffer.len();
        reader.consume(n);
    }
}

/// Parses lines of CSV or JSON into batches of a table's schema. A batch of lines is parsed
/// at once; when that fails, line by line, so that each bad line goes through the policy
/// with its place, and the good ones are kept.
pub struct LineParser {
    schema: SchemaRef,
    format: TextFormat,
    bad: BadRecords,
    /// Line numbers are offsets in a log (Kafka), and errors say so.
    offsets: bool,
    /// CSV of the common shape straight into columns (Arrow's reader for the rest).
    columns: Option<CsvColumns>,
    /// The columns parsed (by index, sorted; `None`: all); the others come out NULL.
    read: Option<Vec<usize>>,
    /// The schema of the batches parsed: `schema` with the unread fields nullable.
    out_schema: SchemaRef,
}

impl LineParser {
    /// A parser whose skipped records are counted in `bad_count`.
    pub fn new(
        schema: SchemaRef,
        format: TextFormat,
        policy: BadRecordPolicy,
        bad_count: Arc<AtomicU64>,
    ) -> Result<Self> {
        let columns = match format {
            TextFormat::Csv { delimiter, .. } => CsvColumns::new(&schema, delimiter),
            TextFormat::Json => None,
        };
        Ok(LineParser {
            out_schema: Arc::clone(&schema),
            schema,
            format,
            bad: BadRecords::counted(policy, bad_count)?,
            offsets: false,
            columns,
            read: None,
        })
    }

    /// Keeps only `columns` (by index; `None`: all) of CSV lines, the others NULL (still
    /// checked: a bad value there is a bad record, as when they are kept), whichever way a
    /// chunk is parsed. JSON lines are kept whole.
    pub fn reading(mut self, columns: Option<&[usize]>) -> Self {
        let (TextFormat::Csv { .. }, Some(columns)) = (self.format, columns) else {
            return self;
        };
        let mut columns = columns.to_vec();
        columns.sort_unstable();
        columns.dedup();
        self.out_schema = crate::csv_columns::with_unread_nullable(&self.schema, &columns);
        if let Some(parser) = self.columns.as_mut() {
            parser.read_only(&columns, Arc::clone(&self.out_schema));
        }
        self.read = Some(columns);
        self
    }

    /// The schema of the batches parsed.
    pub fn out_schema(&self) -> &SchemaRef {
        &self.out_schema
    }

    /// Numbers name offsets in a log rather than lines of a file.
    pub fn with_offsets(mut self) -> Self {
        self.offsets = true;
        self
    }

    /// Hands a record that could not be made a line (`raw`, shown as it is) to the bad-record
    /// policy: an error under `fail`, counted under `skip`, written out under `dead-letter`.
    pub fn reject(&mut self, location: RecordLocation, raw: &str, why: String) -> Result<()> {
        self.bad.handle(location, raw, why)
    }

    /// The rows of `lines` (from `source`, a file or an address).
    pub fn parse(&mut self, source: &str, lines: &Lines) -> Result<Option<RecordBatch>> {
        self.parse_numbered(source, lines, &mut || Ok(0))
    }

    /// [`LineParser::parse`], with the numbers of the lines the rows came from (bad lines
    /// are left out, after the policy has seen them).
    pub fn parse_kept(
        &mut self,
        source: &str,
        lines: &Lines,
    ) -> Result<Option<(RecordBatch, Vec<u64>)>> {
        let mut kept = Vec::new();
        let batch = self.parse_lines(source, lines, &mut || Ok(0), Some(&mut kept))?;
        Ok(batch.map(|b| (b, kept)))
    }

    /// [`LineParser::parse`] for lines numbered within a range of a file: `base` gives the
    /// number of the range's first line minus one, asked only when a line is bad.
    pub fn parse_numbered(
        &mut self,
        source: &str,
        lines: &Lines,
        base: &mut dyn FnMut() -> Result<u64>,
    ) -> Result<Option<RecordBatch>> {
        self.parse_lines(source, lines, base, None)
    }

    /// The parse behind the others; `kept` collects the numbers of the lines kept.
    fn parse_lines(
        &mut self,
        source: &str,
        lines: &Lines,
        base: &mut dyn FnMut() -> Result<u64>,
        mut kept: Option<&mut Vec<u64>>,
    ) -> Result<Option<RecordBatch>> {
        if lines.len() == 0 {
            return Ok(None);
        }
        let fast = self.columns.as_mut();
        if let Some(batch) = fast.and_then(|c| c.parse(lines.kept_text(), lines.len())) {
            if let Some(kept) = kept {
                kept.extend(lines.spans.iter().map(|(n, _, _)| *n));
            }
            return Ok(Some(batch));
        }
        if let Ok(batch) = self.parse_text(lines.kept_text(), lines.len()) {
            if batch.num_rows() == lines.len() {
                if let Some(kept) = kept {
                    kept.extend(lines.spans.iter().map(|(n, _, _)| *n));
                }
                return Ok(Some(batch));
            }
        }
        let mut good = Vec::new();
        for &(number, start, end) in &lines.spans {
            let line = &lines.kept_text()[start..end];
            let parsed = self.parse_text(line, 1);
            let number = match parsed {
                Ok(ref b) if b.num_rows() == 1 => number,
                _ => base()? + number,
            };
            let location = if self.offsets {
                RecordLocation::at_offset(source, number)
            } else {
                RecordLocation::new(source, number)
            };
            let raw = String::from_utf8_lossy(line);
            match parsed {
                Ok(batch) if batch.num_rows() == 1 => {
                    if let Some(kept) = kept.as_deref_mut() {
                        kept.push(number);
                    }
                    good.push(batch)
                }
                Ok(_) => self
                    .bad
                    .handle(location, &raw, "not one record".to_string())?,
                Err(error) => {
                    let (column, message) = self.diagnose(&raw, error);
                    let location = match column {
                        Some(column) => location.with_column(column),
                        None => location,
                    };
                    self.bad.handle(location, &raw, message)?;
                }
            }
        }
        if good.is_empty() {
            return Ok(None);
        }
        concat_batches(&self.out_schema, &good)
            .map(Some)
            .map_err(|e| RiffleError::Runtime(e.to_string()))
    }

    fn parse_text(&self, text: &[u8], rows: usize) -> std::result::Result<RecordBatch, ArrowError> {
        let batch = parse_with(&self.schema, self.format, text, rows)?;
        let Some(read) = &self.read else {
            return Ok(batch);
        };
        // Every column parsed (a bad value anywhere is a bad record), the unread ones
        // dropped for NULLs as the straight path gives them.
        let columns = (0..self.schema.fields().len())
            .map(|i| match read.binary_search(&i) {
                Ok(_) => Arc::clone(batch.column(i)),
                Err(_) => new_null_array(self.schema.field(i).data_type(), batch.num_rows()),
            })
            .collect();
        RecordBatch::try_new(Arc::clone(&self.out_schema), columns)
    }

    /// Why `line` does not parse: the column and value at fault when one can be named.
    fn diagnose(&self, line: &str, error: ArrowError) -> (Option<String>, String) {
        let texts: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect();
        let texts = Arc::new(Schema::new(texts));
        match self.format {
            TextFormat::Csv { .. } => {
                let Ok(raw) = parse_with(&texts, self.format, line.as_bytes(), 1) else {
                    return (None, csv_shape(line, &self.schema, error));
                };
                first_bad_cell(&raw, &self.schema).unwrap_or((None, error.to_string()))
            }
            TextFormat::Json => {
                let value: serde_json::Value = match serde_json::from_str(line) {
                    Ok(value) => value,
                    Err(e) => return (None, format!("not valid JSON: {e}")),
                };
                let Some(object) = value.as_object() else {
                    return (None, "not a JSON object".to_string());
                };
                for field in self.schema.fields() {
                    let Some(cell) = object.get(field.name()) else {
                        continue;
                    };
                    let one = Arc::new(Schema::new(vec![field.as_ref().clone()]));
                    let alone = serde_json::json!({ field.name(): cell }).to_string();
                    if parse_with(&one, TextFormat::Json, alone.as_bytes(), 1).is_err() {
                        return (
                            Some(field.name().clone()),
                            format!(
                                "cannot read {cell} as {}",
                                crate::types::flink_name(field.data_type())
                            ),
                        );
                    }
                }
                (None, error.to_string())
            }
        }
    }
}

/// Arrow's reader of `format` over `text`, as one batch.
fn parse_with(
    schema: &SchemaRef,
    format: TextFormat,
    text: &[u8],
    rows: usize,
) -> std::result::Result<RecordBatch, ArrowError> {
    let input = Cursor::new(text);
    let batches: Vec<RecordBatch> = match format {
        TextFormat::Csv { delimiter, .. } => {
            datafusion::arrow::csv::ReaderBuilder::new(Arc::clone(schema))
                .with_header(false)
                .with_delimiter(delimiter)
                .with_batch_size(rows.max(1))
                .build(input)?
                .collect::<std::result::Result<_, _>>()?
        }
        TextFormat::Json => datafusion::arrow::json::ReaderBuilder::new(Arc::clone(schema))
            .with_batch_size(rows.max(1))
            .build(input)?
            .collect::<std::result::Result<_, _>>()?,
    };
    concat_batches(schema, &batches)
}

/// A CSV line with the wrong number of fields, said plainly.
fn csv_shape(line: &str, schema: &Schema, error: ArrowError) -> String {
    let message = error.to_string();
    if message.contains("incorrect number of fields") {
        format!(
            "expected {} fields ({}), found a different number",
            schema.fields().len(),
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if line.trim().is_empty() {
        "an empty record".to_string()
    } else {
        message
    }
}

/// The first cell of a one-row batch of texts that does not convert to its column's type.
fn first_bad_cell(raw: &RecordBatch, schema: &Schema) -> Option<(Option<String>, String)> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    for (column, field) in raw.columns().iter().zip(schema.fields()) {
        if cast_with_options(column, field.data_type(), &strict).is_err() {
            let value = column
                .as_any()
                .downcast_ref::<StringArray>()
                .filter(|c| c.is_valid(0))
                .map(|c| c.value(0).to_string())
                .unwrap_or_default();
            return Some((
                Some(field.name().clone()),
                format!(
                    "cannot read '{value}' as {}",
                    crate::types::flink_name(field.data_type())
                ),
            ));
        }
    }
    None
}

/// An open file: its lines (after a CSV header), or its Parquet batches.
enum Open {
    Lines(Box<dyn Read + Send>),
    Parquet(Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>),
}

/// The ranges ([`Split`]s) that the readers of one source in one process share. A reader
/// takes the first range no reader has taken yet whenever it finishes one, so a reader whose
/// core is busier reads fewer ranges and all readers finish together (dealt out in turns
/// beforehand, they ended up to a quarter of the run apart on this 2-core VM). Taken in
/// order, the ranges keep the readers close in a file, as dealing them in turns did: a
/// file written in time order keeps their watermarks close.
#[derive(Debug)]
pub struct SplitPool {
    splits: Vec<Split>,
    taken: Mutex<Vec<bool>>,
}

impl SplitPool {
    /// A pool of all of `splits`.
    pub fn new(splits: Vec<Split>) -> Self {
        let taken = Mutex::new(vec![false; splits.len()]);
        SplitPool { splits, taken }
    }

    /// The pool of process `process` of `processes`: range `i` goes to process
    /// `i % processes`, so the processes too move through a file together.
    pub fn of_process(splits: &[Split], process: usize, processes: usize) -> Self {
        let processes = processes.max(1);
        Self::new(
            splits
                .iter()
                .skip(process)
                .step_by(processes)
                .cloned()
                .collect(),
        )
    }

    fn taken(&self) -> std::sync::MutexGuard<'_, Vec<bool>> {
        match self.taken.lock() {
            Ok(taken) => taken,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The first range not taken yet, now taken.
    fn take(&self) -> Option<usize> {
        let mut taken = self.taken();
        let next = taken.iter().position(|t| !t)?;
        taken[next] = true;
        Some(next)
    }

    /// Marks `ranges` as taken: a restored checkpoint had them read or being read.
    fn mark(&self, ranges: &[usize]) {
        let mut taken = self.taken();
        for &range in ranges {
            taken[range] = true;
        }
    }
}

/// Reads files into batches, range by range from a [`SplitPool`]: text through a
/// [`LineParser`], Parquet through the Parquet reader with its columns matched to the
/// table's by name. Its position is the ranges it has read, the one it reads and the lines
/// (or Parquet batches) of that one read so far, so a restored job reads on where it
/// stopped and no range is read twice or left out.
pub struct FileBatchReader {
    pool: Arc<SplitPool>,
    schema: SchemaRef,
    format: FileFormat,
    parser: Option<LineParser>,
    /// The pool's ranges this reader has read, and the one it is reading.
    finished: Vec<usize>,
    current: Option<usize>,
    /// Lines (text) or batches (Parquet) of the current range consumed so far.
    done: u64,
    open: Option<Open>,
    /// Byte offset in the file of the next line of the open split, and where its first
    /// line started.
    offset: u64,
    first_line: u64,
    /// The chunk of lines being read (kept to reuse its buffer).
    lines: Lines,
}

/// A [`FileBatchReader`]'s position: `done`, then the current range (`u64::MAX`: none),
/// then the finished ranges, each a little-endian `u64`.
#[derive(Debug)]
struct FilePosition {
    done: u64,
    current: Option<usize>,
    finished: Vec<usize>,
}

impl FilePosition {
    fn encode(&self) -> Vec<u8> {
        let current = self.current.map_or(u64::MAX, |c| c as u64);
        let mut words = vec![self.done, current];
        words.extend(self.finished.iter().map(|&f| f as u64));
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// The position in `bytes`, its ranges checked against a pool of `ranges`.
    fn decode(bytes: &[u8], ranges: usize) -> Result<FilePosition> {
        let malformed = |why: &str| {
            RiffleError::Checkpoint(format!(
                "a file reader's position {why}; restore with the files and the number of \
                 workers the checkpoint was taken with"
            ))
        };
        if bytes.len() < 16 || !bytes.len().is_multiple_of(8) {
            return Err(malformed("is not a whole number of 8-byte words"));
        }
        let mut words = bytes.chunks_exact(8).map(decode_u64);
        let done = words.next().unwrap_or(Ok(0))?;
        let current = match words.next().unwrap_or(Ok(u64::MAX))? {
            u64::MAX => None,
            c => Some(c as usize),
        };
        let finished = words
            .map(|w| w.map(|w| w as usize))
            .collect::<Result<Vec<usize>>>()?;
        if let Some(range) = current.iter().chain(&finished).find(|&&r| r >= ranges) {
            return Err(malformed(&format!(
                "names range {range}, and the files now make {ranges}"
            )));
        }
        Ok(FilePosition {
            done,
            current,
            finished,
        })
    }

    /// The ranges this position has read or is reading.
    fn taken(&self) -> Vec<usize> {
        self.finished.iter().chain(&self.current).copied().collect()
    }
}

impl FileBatchReader {
    /// A reader that takes its ranges from `pool`.
    pub fn new(
        pool: Arc<SplitPool>,
        schema: SchemaRef,
        format: FileFormat,
        parser: Option<LineParser>,
    ) -> Self {
        FileBatchReader {
            pool,
            schema,
            format,
            parser,
            finished: Vec::new(),
            current: None,
            done: 0,
            open: None,
            offset: 0,
            first_line: 0,
            lines: Lines::default(),
        }
    }

    fn open(&mut self, split: &Split) -> Result<Open> {
        let path = &split.path;
        let mut file = File::open(path).map_err(|e| RiffleError::io(path, e))?;
        Ok(match self.format {
            FileFormat::Text(_) => {
                self.offset = 0;
                self.lines.reset();
                if split.start > 0 {
                    // The line running into the range belongs to the range before.
                    use std::io::Seek;
                    file.seek(std::io::SeekFrom::Start(split.start - 1))
                        .map_err(|e| RiffleError::io(path, e))?;
                    self.offset = split.start - 1;
                    loop {
                        if let Some(at) = memchr::memchr(b'\n', self.lines.pending()) {
                            self.lines.skip(at + 1);
                            self.offset += at as u64 + 1;
                            break;
                        }
                        let partial = self.lines.pending().len();
                        self.lines.skip(partial);
                        self.offset += partial as u64;
                        self.lines.clear();
                        if !self.lines.read_on(&mut file, path)? {
                            break;
                        }
                    }
                }
                self.first_line = self.offset;
                Open::Lines(Box::new(file))
            }
            FileFormat::Parquet => {
                let fail = |e: parquet::errors::ParquetError| {
                    RiffleError::Runtime(format!(
                        "{}: not a readable Parquet file: {e}",
                        path.display()
                    ))
                };
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .map_err(fail)?
                        .with_batch_size(BATCH_ROWS)
                        .build()
                        .map_err(fail)?;
                Open::Parquet(Box::new(reader))
            }
        })
    }

    /// The next batch of the open split, `None` at its end.
    fn read(&mut self, split: &Split) -> Result<Option<RecordBatch>> {
        let path = &split.path;
        let source = path.display().to_string();
        match self.open.as_mut() {
            Some(Open::Lines(file)) => {
                let header = matches!(
                    self.format,
                    FileFormat::Text(TextFormat::Csv { header: true, .. })
                ) && split.start == 0;
                self.lines.clear();
                let mut at_end = false;
                while self.lines.len() < BATCH_ROWS {
                    if self.offset >= split.end {
                        at_end = true;
                        break;
                    }
                    let skip_header = header && self.done == 0;
                    let (used, taken) = self.lines.take_whole(
                        self.done,
                        BATCH_ROWS - self.lines.len(),
                        split.end - self.offset,
                        skip_header,
                    );
                    self.offset += used as u64;
                    self.done += taken;
                    if taken > 0 {
                        continue;
                    }
                    // No whole line left in what was read: read on.
                    if !self.lines.read_on(file, path)? {
                        at_end = true;
                        break;
                    }
                }
                let parser = self.parser.as_mut().ok_or_else(|| {
                    RiffleError::Runtime("a text file reader without a parser".into())
                })?;
                // Lines are numbered within the range; its first line's number is counted
                // only if a line has to be named.
                let first = self.first_line;
                let mut base = || match first {
                    0 => Ok(0),
                    at => line_at(path, at).map(|n| n - 1),
                };
                match parser.parse_numbered(&source, &self.lines, &mut base)? {
                    Some(rows) => Ok(Some(rows)),
                    None if at_end => Ok(None),
                    // Every line of the chunk was skipped: an empty batch, not the end.
                    None => Ok(Some(RecordBatch::new_empty(Arc::clone(
                        parser.out_schema(),
                    )))),
                }
            }
            Some(Open::Parquet(batches)) => match batches.next() {
                None => Ok(None),
                Some(batch) => {
                    self.done += 1;
                    let batch = batch.map_err(|e| {
                        RiffleError::Runtime(format!("{source}: batch {}: {e}", self.done))
                    })?;
                    conform(&source, &batch, &self.schema).map(Some)
                }
            },
            None => Ok(None),
        }
    }
}

/// A Parquet batch with the table's columns, found by name and cast to the declared types.
fn conform(source: &str, batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let Some(column) = batch.column_by_name(field.name()) else {
                let hint = riffle_core::did_you_mean(
                    field.name(),
                    batch.schema().fields().iter().map(|f| f.name().as_str()),
                );
                return Err(RiffleError::Runtime(format!(
                    "{source}: the Parquet file has no column '{}'{hint}",
                    field.name()
                )));
            };
            let strict = CastOptions {
                safe: false,
                ..Default::default()
            };
            cast_with_options(column, field.data_type(), &strict).map_err(|e| {
                RiffleError::Runtime(format!(
                    "{source}: column '{}' ({}) cannot be read as {}: {e}",
                    field.name(),
                    column.data_type(),
                    crate::types::flink_name(field.data_type())
                ))
            })
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| RiffleError::Runtime(e.to_string()))
}

impl SourceReader<Batch> for FileBatchReader {
    fn poll(&mut self, out: &mut Vec<Batch>) -> Result<SourceStatus> {
        let index = match self.current {
            Some(index) => index,
            None => match self.pool.take() {
                Some(index) => {
                    self.current = Some(index);
                    self.done = 0;
                    index
                }
                None => return Ok(SourceStatus::Finished),
            },
        };
        let pool = Arc::clone(&self.pool);
        let split = &pool.splits[index];
        if self.open.is_none() {
            let mut open = self.open(split)?;
            // After a restore, skip what the checkpoint covered.
            match &mut open {
                Open::Lines(file) => {
                    let mut left = self.done;
                    while left > 0 {
                        self.lines.clear();
                        let most = usize::try_from(left).unwrap_or(usize::MAX);
                        let (used, taken) = self.lines.take_whole(0, most, u64::MAX, false);
                        self.offset += used as u64;
                        left -= taken;
                        if taken == 0 && !self.lines.read_on(file, &split.path)? {
                            break;
                        }
                    }
                }
                Open::Parquet(batches) => {
                    for _ in 0..self.done {
                        batches.next();
                    }
                }
            }
            self.open = Some(open);
        }
        match self.read(split)? {
            Some(batch) => {
                if batch.num_rows() > 0 {
                    out.push(Batch(batch));
                }
            }
            None => {
                self.open = None;
                self.finished.push(index);
                self.current = None;
                self.done = 0;
            }
        }
        Ok(SourceStatus::Ready)
    }

    fn position(&self) -> Option<Vec<u8>> {
        let position = FilePosition {
            done: self.done,
            current: self.current,
            finished: self.finished.clone(),
        };
        Some(position.encode())
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        self.seek_among(position, &[])
    }

    /// Goes on from `position`, with every range that this reader or a peer had read or
    /// was reading marked as taken in the pool: a range a peer took after the checkpoint
    /// is not marked, and is read again by whichever reader takes it first.
    fn seek_among(&mut self, position: &[u8], peers: &[Vec<u8>]) -> Result<()> {
        let ranges = self.pool.splits.len();
        let own = FilePosition::decode(position, ranges)?;
        self.pool.mark(&own.taken());
        for peer in peers {
            self.pool.mark(&FilePosition::decode(peer, ranges)?.taken());
        }
        self.done = own.done;
        self.current = own.current;
        self.finished = own.finished;
        self.open = None;
        Ok(())
    }
}

/// The `socket` connector: worker 0 connects to `hostname:port` and parses the lines it
/// reads; the table ends when the server closes the connection. A socket cannot be read
/// again, so a restored job goes on from what the server sends next (at most once).
pub struct SocketBatchReader {
    address: String,
    reads: bool,
    lines: Option<Receiver<Line>>,
    line: u64,
    parser: LineParser,
}

impl SocketBatchReader {
    /// The reader of worker `worker_index`: only worker 0 reads.
    pub fn new(address: String, parser: LineParser, worker_index: usize) -> Self {
        SocketBatchReader {
            address,
            reads: worker_index == 0,
            lines: None,
            line: 0,
            parser,
        }
    }
}

impl SourceReader<Batch> for SocketBatchReader {
    fn poll(&mut self, out: &mut Vec<Batch>) -> Result<SourceStatus> {
        if !self.reads {
            return Ok(SourceStatus::Finished);
        }
        if self.lines.is_none() {
            self.lines = Some(read_lines(&self.address)?);
        }
        let Some(lines) = self.lines.as_ref() else {
            return Ok(SourceStatus::Finished);
        };
        let mut batch = Lines::default();
        let mut cut_off = None;
        let mut status = SourceStatus::Ready;
        while batch.len() < BATCH_ROWS {
            match lines.try_recv() {
                Ok(Line::Complete(text)) => {
                    self.line += 1;
                    batch.push(self.line, &text);
                }
                Ok(Line::Truncated(text)) => {
                    self.line += 1;
                    cut_off = Some((self.line, text));
                }
                Ok(Line::Failed(message)) => {
                    return Err(RiffleError::Network {
                        endpoint: self.address.clone(),
                        message: format!("read failed after line {}: {message}", self.line),
                    })
                }
                Err(TryRecvError::Empty) => {
                    status = SourceStatus::Idle;
                    break;
                }
                Err(TryRecvError::Disconnected) => {
                    status = SourceStatus::Finished;
                    break;
                }
            }
        }
        if let Some(rows) = self.parser.parse(&self.address, &batch)? {
            out.push(Batch(rows));
        }
        // The last line, after the lines before it.
        if let Some((line, text)) = cut_off {
            let location = RecordLocation::new(self.address.as_str(), line);
            self.parser.bad.handle(
                location,
                &text,
                "the connection closed in the middle of a record (no line end)".into(),
            )?;
        }
        Ok(match status {
            SourceStatus::Idle if !out.is_empty() => SourceStatus::Ready,
            other => other,
        })
    }
}

/// One file of a batch-mode table as a DataFusion partition, read by [`FileBatchReader`]
/// (so bad records follow the table's policy, with their file and line).
#[derive(Debug)]
pub struct FilePartition {
    file: Split,
    schema: SchemaRef,
    format: FileFormat,
    policy: BadRecordPolicy,
    bad_count: Arc<AtomicU64>,
}

impl FilePartition {
    /// The partitions of a table over `splits`.
    pub fn all(
        files: &[Split],
        schema: &SchemaRef,
        format: FileFormat,
        policy: &BadRecordPolicy,
        bad_count: &Arc<AtomicU64>,
    ) -> Vec<Arc<dyn datafusion::physical_plan::streaming::PartitionStream>> {
        files
            .iter()
            .map(|file| {
                Arc::new(FilePartition {
                    file: file.clone(),
                    schema: Arc::clone(schema),
                    format,
                    policy: policy.clone(),
                    bad_count: Arc::clone(bad_count),
                }) as _
            })
            .collect()
    }

    fn reader(&self) -> Result<FileBatchReader> {
        let parser = match self.format {
            FileFormat::Text(text) => Some(LineParser::new(
                Arc::clone(&self.schema),
                text,
                self.policy.clone(),
                Arc::clone(&self.bad_count),
            )?),
            FileFormat::Parquet => None,
        };
        Ok(FileBatchReader::new(
            Arc::new(SplitPool::new(vec![self.file.clone()])),
            Arc::clone(&self.schema),
            self.format,
            parser,
        ))
    }
}

impl datafusion::physical_plan::streaming::PartitionStream for FilePartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(
        &self,
        _ctx: Arc<datafusion::execution::TaskContext>,
    ) -> datafusion::execution::SendableRecordBatchStream {
        use datafusion::error::DataFusionError;
        let mut reader = self.reader();
        let mut finished = false;
        let batches = std::iter::from_fn(move || loop {
            if finished {
                return None;
            }
            let reader = match reader.as_mut() {
                Ok(reader) => reader,
                Err(e) => {
                    finished = true;
                    return Some(Err(DataFusionError::External(e.to_string().into())));
                }
            };
            let mut out = Vec::new();
            match reader.poll(&mut out) {
                Ok(SourceStatus::Finished) => return None,
                Ok(_) => {
                    if let Some(Batch(batch)) = out.pop() {
                        return Some(Ok(batch));
                    }
                }
                Err(e) => {
                    finished = true;
                    return Some(Err(DataFusionError::External(e.to_string().into())));
                }
            }
        });
        Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                Arc::clone(&self.schema),
                futures::stream::iter(batches),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("text", DataType::Utf8, true),
        ]))
    }

    /// A parser of comma-separated lines (no header) of `a BIGINT NOT NULL`, `b` of
    /// `b_type` (NOT NULL unless text) and `c STRING`, reading `columns` and skipping bad
    /// records, with its count of them.
    fn skipping_parser(b_type: DataType, columns: &[usize]) -> (LineParser, Arc<AtomicU64>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", b_type.clone(), b_type == DataType::Utf8),
            Field::new("c", DataType::Utf8, true),
        ]));
        let format = TextFormat::Csv {
            header: false,
            delimiter: b',',
        };
        let bad = Arc::new(AtomicU64::new(0));
        let parser = LineParser::new(schema, format, BadRecordPolicy::Skip, Arc::clone(&bad))
            .unwrap()
            .reading(Some(columns));
        (parser, bad)
    }

    /// The whole lines of `text`, taken as a file's reader takes them.
    fn lines_of(text: &[u8]) -> Lines {
        let mut lines = Lines::default();
        lines.fill(&mut Cursor::new(text)).unwrap();
        lines.take_whole(0, usize::MAX, u64::MAX, false);
        lines
    }

    #[test]
    fn columns_not_read_are_null_and_checked_whichever_way_a_chunk_is_parsed() {
        let (mut parser, bad) = skipping_parser(DataType::Int64, &[2, 0]);
        // Without quotes (straight into columns) and with them (Arrow's reader): a word in
        // the read `a` and one in the unread BIGINT `b` make bad records either way.
        for quoted in [false, true] {
            let mut lines = Lines::default();
            let c = if quoted { "\"x, y\"" } else { "x" };
            let rows = [
                format!("1,1,{c}"),
                "2,2,z".into(),
                "three,3,w".into(),
                "4,four,v".into(),
            ];
            for (n, line) in rows.iter().enumerate() {
                lines.push(n as u64 + 1, line);
            }
            let batch = parser.parse("t.csv", &lines).unwrap().unwrap();
            let a = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(a.values(), &[1, 2], "{quoted}");
            assert_eq!(batch.column(1).null_count(), 2, "{quoted}");
            let c = batch
                .column(2)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let expected = if quoted { "x, y" } else { "x" };
            assert_eq!((c.value(0), c.value(1)), (expected, "z"), "{quoted}");
            assert!(batch.schema().field(1).is_nullable());
        }
        assert_eq!(bad.load(std::sync::atomic::Ordering::Relaxed), 4);
    }

    #[test]
    fn bytes_not_utf8_make_bad_records_in_read_and_unread_columns_and_characters_read() {
        // Read: `a` and `c`; `b` (text) is not read. The bad bytes are in `c`, then in `b`.
        let (mut parser, bad) = skipping_parser(DataType::Utf8, &[0, 2]);
        let text: &[u8] = b"1,x,caf\xc3\xa9\n2,y,\xff\n3,\xc3,z\n4,\xe2\x82\xac,w\n";
        let batch = parser.parse("t.csv", &lines_of(text)).unwrap().unwrap();
        let a = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(a.values(), &[1, 4]);
        let c = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!((c.value(0), c.value(1)), ("café", "w"));
        assert_eq!(bad.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Without the bad lines, the chunk reads straight into columns, to the same rows.
        let good = lines_of(b"1,x,caf\xc3\xa9\n4,\xe2\x82\xac,w\n");
        let mut fast = CsvColumns::new(&parser.schema, b',').unwrap();
        fast.read_only(&[0, 2], Arc::clone(parser.out_schema()));
        assert_eq!(fast.parse(good.kept_text(), 2), Some(batch));
    }

    #[test]
    fn whole_lines_taken_at_once_are_the_lines_kept_one_by_one() {
        let text: &[u8] = b"header\nplain,1\n\n  \t\n\r\nwith cr\r\n lead,2\nx\nlast,3\n";
        let lines = text.split_inclusive(|b| *b == b'\n').collect::<Vec<_>>();
        for header in [false, true] {
            let mut expected = Lines::default();
            for (i, line) in lines.iter().enumerate() {
                if !(header && i == 0) {
                    expected.push(i as u64 + 1, std::str::from_utf8(line).unwrap());
                }
            }
            // In pieces of at most `most` lines, as batches end.
            for most in [1, 2, 3, 100] {
                let mut got = Lines::default();
                got.fill(&mut Cursor::new(text)).unwrap();
                let mut done = 0;
                while !got.pending().is_empty() {
                    let (_, taken) = got.take_whole(done, most, u64::MAX, header);
                    done += taken;
                }
                assert_eq!(got.kept_text(), expected.kept_text(), "{header} {most}");
                assert_eq!(got.spans, expected.spans, "{header} {most}");
            }
        }
        // Only the lines starting before `before` bytes.
        let mut got = Lines::default();
        got.fill(&mut Cursor::new(text)).unwrap();
        assert_eq!(got.take_whole(0, 100, 8, false), (15, 2));
        assert_eq!(got.spans, [(1, 0, 6), (2, 7, 14)]);
        // What was not taken moves to the front for the next chunk.
        got.clear();
        assert_eq!(got.pending(), &text[15..]);
    }

    #[test]
    fn a_file_with_a_header_blank_lines_and_crlf_line_ends_reads_as_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crlf.csv");
        let mut text = String::from("n,text\r\n");
        // Over 1 MB, so that 3 readers read it in 3 byte ranges.
        let rows = 150_000;
        for n in 0..rows {
            // CRLF line ends throughout, a blank line every 7 rows, and no line end at the end.
            text.push_str(&format!("{n},{}", "z".repeat(n as usize % 11)));
            if n + 1 < rows {
                text.push_str("\r\n");
            }
            if n % 7 == 0 {
                text.push_str("\r\n");
            }
        }
        std::fs::write(&path, &text).unwrap();
        let format = FileFormat::Text(TextFormat::Csv {
            header: true,
            delimiter: b',',
        });
        for readers in [1, 3] {
            let splits = splits(std::slice::from_ref(&path), format, readers).unwrap();
            let mut got = read_all(&splits, readers, BadRecordPolicy::Fail).unwrap();
            got.sort();
            assert_eq!(got, (0..rows).collect::<Vec<_>>(), "{readers}");
        }
    }

    fn csv_reader(pool: &Arc<SplitPool>, policy: &BadRecordPolicy) -> Result<FileBatchReader> {
        let format = TextFormat::Csv {
            header: true,
            delimiter: b',',
        };
        let parser = LineParser::new(schema(), format, policy.clone(), Default::default())?;
        Ok(FileBatchReader::new(
            Arc::clone(pool),
            schema(),
            FileFormat::Text(format),
            Some(parser),
        ))
    }

    /// The `n` of `out`'s batches.
    fn numbers(out: &[Batch]) -> Vec<i64> {
        let mut all = Vec::new();
        for Batch(b) in out {
            let n = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            all.extend(n.values().iter().copied());
        }
        all
    }

    /// Polls `readers` in turn, each `polls[i]` times per turn (0: not at all), until every
    /// polled reader has finished or `turns` turns are over; every `n` read.
    fn poll_in_turns(
        readers: &mut [FileBatchReader],
        polls: &[usize],
        turns: usize,
    ) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        let mut finished = vec![false; readers.len()];
        for _ in 0..turns {
            for (i, reader) in readers.iter_mut().enumerate() {
                for _ in 0..polls[i] {
                    if !finished[i] {
                        finished[i] = reader.poll(&mut out)? == SourceStatus::Finished;
                    }
                }
            }
            if finished.iter().zip(polls).all(|(f, &p)| *f || p == 0) {
                break;
            }
        }
        Ok(numbers(&out))
    }

    /// Every `n` that `readers` readers sharing one pool of `splits` read, polled in turns.
    fn read_all(splits: &[Split], readers: usize, policy: BadRecordPolicy) -> Result<Vec<i64>> {
        let pool = Arc::new(SplitPool::new(splits.to_vec()));
        let mut all = (0..readers)
            .map(|_| csv_reader(&pool, &policy))
            .collect::<Result<Vec<_>>>()?;
        poll_in_turns(&mut all, &vec![1; readers], usize::MAX)
    }

    #[test]
    fn readers_sharing_a_pool_restore_every_range_once_whatever_each_took() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let mut text = String::from("n,text\n");
        let rows = 200_000;
        for n in 0..rows {
            text.push_str(&format!("{n},{}\n", "x".repeat(n as usize % 29)));
        }
        std::fs::write(&path, &text).unwrap();
        let format = FileFormat::Text(TextFormat::Csv {
            header: true,
            delimiter: b',',
        });
        // 12 ranges of about 0.4 MB, several batches each.
        let splits = cut(std::slice::from_ref(&path), format, 2, 6).unwrap();
        assert_eq!(splits.len(), 12);
        let policy = BadRecordPolicy::Fail;
        let pool = Arc::new(SplitPool::new(splits.clone()));
        let mut readers = vec![
            csv_reader(&pool, &policy).unwrap(),
            csv_reader(&pool, &policy).unwrap(),
        ];
        // Reader 0 polls three times as often as reader 1: it takes more ranges.
        let mut before = poll_in_turns(&mut readers, &[3, 1], 6).unwrap();
        let positions: Vec<Vec<u8>> = readers.iter().map(|r| r.position().unwrap()).collect();
        let taken = |p: &Vec<u8>| FilePosition::decode(p, 12).unwrap().taken().len();
        assert!(taken(&positions[0]) > taken(&positions[1]) + 1);
        // After the checkpoint, reader 0 reads on and takes more ranges; then the process
        // dies, and what it read after the checkpoint is lost with it.
        poll_in_turns(&mut readers, &[1, 0], 200).unwrap();
        // Restored: reader 1 seeks first and starts before reader 0 has seeked; the ranges
        // reader 0 had taken at the checkpoint are still not taken again.
        let pool = Arc::new(SplitPool::new(splits));
        let mut restored = vec![
            csv_reader(&pool, &policy).unwrap(),
            csv_reader(&pool, &policy).unwrap(),
        ];
        restored[1].seek_among(&positions[1], &positions).unwrap();
        let mut after = poll_in_turns(&mut restored, &[0, 1], 3).unwrap();
        restored[0].seek_among(&positions[0], &positions).unwrap();
        after.extend(poll_in_turns(&mut restored, &[1, 1], usize::MAX).unwrap());
        before.extend(after);
        before.sort();
        let read = before.len();
        before.dedup();
        assert!(
            read == before.len() && before == (0..rows).collect::<Vec<_>>(),
            "{read} rows read, {} of them distinct, of {rows}",
            before.len()
        );
        // A position naming a range the files no longer make is refused by name.
        let error = FilePosition::decode(&positions[0], 2)
            .unwrap_err()
            .to_string();
        assert!(error.contains("names range"), "{error}");
    }

    #[test]
    fn a_file_cut_into_ranges_is_read_once_whole_and_names_bad_lines_by_file_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let mut text = String::from("n,text\n");
        let rows = 60_000;
        for n in 0..rows {
            // Lines of varied length, so that range ends fall mid-line.
            text.push_str(&format!("{n},{}\n", "x".repeat(n as usize % 37)));
        }
        std::fs::write(&path, &text).unwrap();
        let files = vec![path.clone()];
        let format = FileFormat::Text(TextFormat::Csv {
            header: true,
            delimiter: b',',
        });
        let splits = splits(&files, format, 3).unwrap();
        assert_eq!(splits.len(), 3);
        let mut got = read_all(&splits, 3, BadRecordPolicy::Fail).unwrap();
        got.sort();
        assert_eq!(got, (0..rows).collect::<Vec<_>>());
        // Cut for streaming, in turns: 4 ranges per reader, each line still read once; a
        // file this small (under 32 MB per reader) is cut into one range per reader.
        let turns = cut(&files, format, 3, 4).unwrap();
        assert_eq!(turns.len(), 12);
        let mut got = read_all(&turns, 3, BadRecordPolicy::Fail).unwrap();
        got.sort();
        assert_eq!(got, (0..rows).collect::<Vec<_>>());
        assert_eq!(streaming_splits(&files, format, 3).unwrap(), splits);
        // A bad line in the last range is named by its line in the whole file.
        let bad = text.replacen("59000,", "oops,", 1);
        std::fs::write(&path, bad).unwrap();
        let error = read_all(&splits, 3, BadRecordPolicy::Fail)
            .unwrap_err()
            .to_string();
        // Line 1 is the header: row 59000 is on line 59002.
        assert!(error.contains("big.csv:59002, column 'n'"), "{error}");
        // A last line without a line end, and a line longer than the read buffer.
        let long = "y".repeat(300_000);
        std::fs::write(&path, format!("n,text\n0,a\n1,{long}\n2,b")).unwrap();
        let whole = super::splits(&files, format, 1).unwrap();
        assert_eq!(
            read_all(&whole, 1, BadRecordPolicy::Fail).unwrap(),
            [0, 1, 2]
        );
    }
}
