//! The filesystem connector: read a file or a directory of files (bounded, or continuously
//! by watching the directory for new files), and write rolling part files.

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use riffle_core::{BadRecordPolicy, RecordLocation, Result, RiffleError};
use riffle_runtime::{
    key_hash, Data, DataStream, Env, SourceReader, SourceStatus, WatermarkStrategy,
};
use serde::de::DeserializeOwned;

use crate::bad_record::BadRecords;
use crate::format::{decode_csv, decode_line, Format};

/// Records read per poll.
const BATCH: usize = 1024;

/// A file source: a file, or every visible file of a directory (names starting with `.` or
/// `_` are skipped, so writers can use them for files in progress).
///
/// Files are spread over workers, one reader per file, so each file's records keep their
/// order. With [`FileSource::watch`] the directory is rescanned for new files and the source
/// never ends; files must appear whole (write under a hidden name, then rename).
///
/// ```no_run
/// use riffle_connectors::{FileSource, Format};
/// use riffle_runtime::{execute, ExecutionConfig, WatermarkStrategy};
/// #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
/// struct Bid { auction: u64, price: u64 }
/// execute(&ExecutionConfig::threads(2), |env| {
///     let bids = FileSource::new("bids.csv", Format::csv())
///         .stream::<Bid>(env, "bids", WatermarkStrategy::none())?;
///     bids.filter(|b| b.price > 100).sink("out", riffle_connectors::PrintSink::new(env));
///     Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    format: Format,
    policy: BadRecordPolicy,
    watch: Option<Duration>,
}

impl FileSource {
    /// Reads `path` (a file or a directory) in `format`, failing on the first bad record.
    pub fn new(path: impl Into<PathBuf>, format: Format) -> Self {
        FileSource {
            path: path.into(),
            format,
            policy: BadRecordPolicy::Fail,
            watch: None,
        }
    }

    /// What to do with malformed records.
    pub fn policy(mut self, policy: BadRecordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Keeps watching the directory for new files, rescanning every `interval`.
    pub fn watch(mut self, interval: Duration) -> Self {
        self.watch = Some(interval);
        self
    }

    /// This worker's reader.
    pub fn reader<T: DeserializeOwned + 'static>(
        &self,
        env: &Env<'_>,
        name: &str,
    ) -> Result<FileReader<T>> {
        let (worker, workers) = (env.worker_index(), env.workers());
        let mut reader = FileReader {
            source: self.clone(),
            worker,
            workers,
            seen: BTreeSet::new(),
            queue: VecDeque::new(),
            current: None,
            done: Vec::new(),
            current_path: None,
            consumed: 0,
            bad: BadRecords::new(self.policy.clone(), name, env.job())?,
            last_scan: Instant::now(),
            _records: std::marker::PhantomData,
        };
        let files = list_files(&self.path)?;
        for (i, file) in files.into_iter().enumerate() {
            reader.seen.insert(file.clone());
            let mine = if self.watch.is_some() {
                reader.owns(&file)
            } else {
                i % workers == worker
            };
            if mine {
                reader.queue.push_back(file);
            }
        }
        Ok(reader)
    }

    /// A stream of this worker's share of the files, decoded into `T`.
    pub fn stream<'s, T: Data>(
        &self,
        env: &Env<'s>,
        name: &str,
        strategy: WatermarkStrategy<T>,
    ) -> Result<DataStream<'s, T>> {
        let reader = self.reader::<T>(env, name)?;
        Ok(env.source(name, reader, strategy))
    }
}

/// The files under `path`, sorted by name: `path` itself if it is a file.
fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| RiffleError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| RiffleError::io(path, e))? {
        let entry = entry.map_err(|e| RiffleError::io(path, e))?;
        let name = entry.file_name();
        let hidden = name
            .to_str()
            .is_none_or(|n| n.starts_with('.') || n.starts_with('_'));
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if !hidden && is_file {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

enum OpenFile {
    Csv {
        path: String,
        reader: csv::Reader<File>,
        headers: Option<csv::StringRecord>,
        record: csv::StringRecord,
    },
    Lines {
        path: String,
        reader: BufReader<File>,
        line_no: u64,
        line: String,
    },
    Parquet {
        path: String,
        reader: ParquetRecordBatchReader,
        batch: Option<RecordBatch>,
        offset: usize,
        row_no: u64,
    },
}

/// One worker's reader of a [`FileSource`].
pub struct FileReader<T> {
    source: FileSource,
    worker: usize,
    workers: usize,
    seen: BTreeSet<PathBuf>,
    queue: VecDeque<PathBuf>,
    current: Option<OpenFile>,
    /// Files this reader has finished, and the one it reads with its raw records consumed.
    done: Vec<PathBuf>,
    current_path: Option<PathBuf>,
    consumed: u64,
    bad: BadRecords,
    last_scan: Instant,
    _records: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + 'static> FileReader<T> {
    /// In watch mode files are owned by the hash of their name, stable as files are added.
    fn owns(&self, file: &Path) -> bool {
        key_hash(&file.to_string_lossy().as_ref()) % self.workers as u64 == self.worker as u64
    }

    fn open(&self, path: &Path) -> Result<OpenFile> {
        let file = File::open(path).map_err(|e| RiffleError::io(path, e))?;
        let display = path.display().to_string();
        Ok(match &self.source.format {
            Format::Csv { header, delimiter } => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(*header)
                    .delimiter(*delimiter)
                    .flexible(true)
                    .from_reader(file);
                let headers = if *header {
                    Some(
                        reader
                            .headers()
                            .map_err(|e| csv_error(&display, e))?
                            .clone(),
                    )
                } else {
                    None
                };
                OpenFile::Csv {
                    path: display,
                    reader,
                    headers,
                    record: csv::StringRecord::new(),
                }
            }
            Format::Parquet => {
                let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.with_batch_size(BATCH).build())
                    .map_err(|e| RiffleError::BadRecord {
                        location: RecordLocation::new(display.as_str(), 0),
                        message: format!("not a readable Parquet file: {e}"),
                    })?;
                OpenFile::Parquet {
                    path: display,
                    reader,
                    batch: None,
                    offset: 0,
                    row_no: 0,
                }
            }
            Format::JsonLines | Format::Lines => OpenFile::Lines {
                path: display,
                reader: BufReader::new(file),
                line_no: 0,
                line: String::new(),
            },
        })
    }

    /// Reads up to a batch from the open file; returns false at its end.
    fn read_batch(&mut self, out: &mut Vec<T>) -> Result<bool> {
        let mut consumed = 0;
        let more = self.read_records(out, &mut consumed, usize::MAX);
        self.consumed += consumed;
        more
    }

    /// Skips `n` raw records of the open file (after a restore).
    fn skip(&mut self, n: u64) -> Result<()> {
        let mut consumed = 0;
        let mut sink = Vec::new();
        self.read_records(&mut sink, &mut consumed, n as usize)?;
        self.consumed += consumed;
        Ok(())
    }

    /// Reads records into `out` until a batch is full, the file ends, or `limit` raw
    /// records were consumed (decoding them only when `limit` is unlimited).
    fn read_records(&mut self, out: &mut Vec<T>, consumed: &mut u64, limit: usize) -> Result<bool> {
        let decode = limit == usize::MAX;
        let Some(open) = self.current.as_mut() else {
            return Ok(false);
        };
        let format = &self.source.format;
        while out.len() < BATCH && (*consumed as usize) < limit {
            match open {
                OpenFile::Csv {
                    path,
                    reader,
                    headers,
                    record,
                } => {
                    let more = reader.read_record(record).map_err(|e| csv_error(path, e))?;
                    if !more {
                        return Ok(false);
                    }
                    *consumed += 1;
                    if !decode {
                        continue;
                    }
                    let line = record.position().map(|p| p.line()).unwrap_or(0);
                    let location = RecordLocation::new(path.as_str(), line);
                    if let Some(h) = headers.as_ref() {
                        if record.len() != h.len() {
                            let raw = record.iter().collect::<Vec<_>>().join(",");
                            let message = format!(
                                "expected {} columns as in the header, found {}",
                                h.len(),
                                record.len()
                            );
                            self.bad.handle(location, &raw, message)?;
                            continue;
                        }
                    }
                    match decode_csv(record, headers.as_ref(), &location) {
                        Ok(v) => out.push(v),
                        Err((loc, message)) => {
                            let raw = record.iter().collect::<Vec<_>>().join(",");
                            self.bad.handle(loc, &raw, message)?;
                        }
                    }
                }
                OpenFile::Parquet {
                    path,
                    reader,
                    batch,
                    offset,
                    row_no,
                } => {
                    let current = match batch {
                        Some(b) if *offset < b.num_rows() => b,
                        _ => match reader.next() {
                            None => return Ok(false),
                            Some(next) => {
                                let next = next.map_err(|e| RiffleError::BadRecord {
                                    location: RecordLocation::new(path.as_str(), *row_no + 1),
                                    message: format!("unreadable Parquet data: {e}"),
                                })?;
                                *offset = 0;
                                batch.insert(next)
                            }
                        },
                    };
                    let room = (BATCH - out.len()).min(limit - *consumed as usize);
                    let n = room.min(current.num_rows() - *offset);
                    let rows = current.slice(*offset, n);
                    let first_row = *row_no + 1;
                    *offset += n;
                    *row_no += n as u64;
                    *consumed += n as u64;
                    if !decode {
                        continue;
                    }
                    match serde_arrow::from_record_batch::<Vec<T>>(&rows) {
                        Ok(values) => out.extend(values),
                        // Find the rows that do not fit the record type, one by one.
                        Err(_) => {
                            for i in 0..n {
                                let row = rows.slice(i, 1);
                                match serde_arrow::from_record_batch::<Vec<T>>(&row) {
                                    Ok(values) => out.extend(values),
                                    Err(e) => {
                                        let location = RecordLocation::new(
                                            path.as_str(),
                                            first_row + i as u64,
                                        );
                                        self.bad.handle(
                                            location,
                                            &format!("row {}", first_row + i as u64),
                                            e.to_string(),
                                        )?;
                                    }
                                }
                            }
                        }
                    }
                }
                OpenFile::Lines {
                    path,
                    reader,
                    line_no,
                    line,
                } => {
                    line.clear();
                    let n = reader
                        .read_line(line)
                        .map_err(|e| RiffleError::io(path.as_str(), e))?;
                    if n == 0 {
                        return Ok(false);
                    }
                    *line_no += 1;
                    *consumed += 1;
                    if !decode {
                        continue;
                    }
                    let text = line.trim_end_matches(['\n', '\r']);
                    if text.is_empty() && *format != Format::Lines {
                        continue;
                    }
                    let location = RecordLocation::new(path.as_str(), *line_no);
                    match decode_line(format, text, &location) {
                        Ok(v) => out.push(v),
                        Err((loc, message)) => self.bad.handle(loc, text, message)?,
                    }
                }
            }
        }
        Ok(true)
    }

    fn rescan(&mut self) -> Result<()> {
        for file in list_files(&self.source.path)? {
            if self.seen.insert(file.clone()) && self.owns(&file) {
                self.queue.push_back(file);
            }
        }
        Ok(())
    }
}

fn csv_error(path: &str, e: csv::Error) -> RiffleError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    RiffleError::BadRecord {
        location: RecordLocation::new(path, line),
        message: format!("malformed CSV: {e}"),
    }
}

impl<T: DeserializeOwned + 'static> SourceReader<T> for FileReader<T> {
    fn poll(&mut self, out: &mut Vec<T>) -> Result<SourceStatus> {
        loop {
            if self.current.is_none() {
                match self.queue.pop_front() {
                    Some(path) => {
                        self.current = Some(self.open(&path)?);
                        self.current_path = Some(path);
                        self.consumed = 0;
                    }
                    None => {
                        let Some(interval) = self.source.watch else {
                            return Ok(SourceStatus::Finished);
                        };
                        if self.last_scan.elapsed() >= interval {
                            self.last_scan = Instant::now();
                            self.rescan()?;
                        }
                        if self.queue.is_empty() {
                            return Ok(SourceStatus::Idle);
                        }
                        continue;
                    }
                }
            }
            if !self.read_batch(out)? {
                self.current = None;
                self.done.extend(self.current_path.take());
            }
            if !out.is_empty() {
                return Ok(SourceStatus::Ready);
            }
        }
    }

    fn position(&self) -> Option<Vec<u8>> {
        let position = FilePosition {
            done: self.done.clone(),
            current: self.current_path.clone(),
            consumed: self.consumed,
        };
        serde_json::to_vec(&position).ok()
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        let position: FilePosition = serde_json::from_slice(position)
            .map_err(|e| RiffleError::Checkpoint(format!("bad file source position: {e}")))?;
        let finished: BTreeSet<&PathBuf> = position.done.iter().chain(&position.current).collect();
        self.queue.retain(|f| !finished.contains(f));
        self.seen.extend(finished.into_iter().cloned());
        self.done = position.done;
        if let Some(path) = position.current {
            self.current = Some(self.open(&path)?);
            self.current_path = Some(path);
            self.consumed = 0;
            self.skip(position.consumed)?;
        }
        Ok(())
    }
}

/// Where a file reader is: the files it finished, the one it reads, and how many raw records
/// (lines, or CSV records after the header) of it it has consumed.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct FilePosition {
    done: Vec<PathBuf>,
    current: Option<PathBuf>,
    consumed: u64,
}
