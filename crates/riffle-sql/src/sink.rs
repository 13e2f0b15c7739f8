//! Where `INSERT INTO` writes: the print, blackhole and filesystem sinks for SQL rows.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use riffle_connectors::{BatchParquetSink, BlackholeSink, FileSink};
use riffle_core::{Batch, Result, RiffleError};
use riffle_runtime::{DataStream, Env, EventTime, Sink};

use crate::files::{FileFormat, TextFormat};
use crate::format::{changelog_lines, csv_lines, json_lines};
use crate::script::TableDef;

/// A sink table's connector.
#[derive(Debug, Clone)]
pub enum SinkSpec {
    /// Standard output, a changelog line per row (`+I[1, a]`).
    Print,
    /// Nowhere (counted).
    Blackhole,
    /// Part files in a directory, committed at the end of the job (or per checkpoint).
    Files {
        /// The directory.
        path: PathBuf,
        /// How rows are written.
        format: FileFormat,
        /// `PARTITIONED BY` columns: rows go to `path/a=1/b=x/`, without those columns.
        partition_by: Vec<String>,
    },
    /// A Kafka topic: each row a message value (CSV, JSON or the raw text of its one
    /// column).
    Kafka {
        /// The topic, brokers and delivery guarantee.
        config: riffle_connectors::kafka::KafkaSinkConfig,
        /// How rows become records (key, value; upsert).
        shape: crate::kafka::RecordShape,
    },
    /// A streaming `CREATE MODEL`: an online model learns the rows (all on the first
    /// worker) and is published to the model catalog.
    Model(Arc<crate::ml::ModelTarget>),
}

/// Renders a batch's rows as lines.
type Render = fn(&RecordBatch) -> Result<Vec<String>>;

impl SinkSpec {
    /// The sink of table `def`, or an error if its connector cannot be written to.
    pub fn of(def: &TableDef, physical: &SchemaRef) -> Result<SinkSpec> {
        match def.options.get("connector").map(String::as_str) {
            Some("print") => Ok(SinkSpec::Print),
            Some("blackhole") => Ok(SinkSpec::Blackhole),
            Some("filesystem") => {
                for column in &def.partition_by {
                    if !def
                        .columns
                        .iter()
                        .any(|c| c.name.eq_ignore_ascii_case(column))
                    {
                        return Err(RiffleError::Sql(format!(
                            "table '{}': PARTITIONED BY names no column '{column}'",
                            def.name
                        )));
                    }
                }
                let format = FileFormat::of(def)?;
                Ok(SinkSpec::Files {
                    path: PathBuf::from(def.options.get("path").cloned().unwrap_or_default()),
                    format,
                    partition_by: def.partition_by.clone(),
                })
            }
            Some("kafka" | "upsert-kafka") => {
                crate::kafka::check_writable(def)?;
                Ok(SinkSpec::Kafka {
                    config: crate::kafka::sink(def)?,
                    shape: crate::kafka::shape(def, physical)?,
                })
            }
            other => Err(RiffleError::Sql(format!(
                "table '{}' (connector {}) cannot be written to (sinks: print, blackhole, \
                 filesystem, kafka, upsert-kafka)",
                def.name,
                other.unwrap_or("none")
            ))),
        }
    }

    /// Writes `stream` to this sink on this worker.
    pub fn attach(&self, env: &Env<'_>, stream: DataStream<'_, Batch>) -> Result<()> {
        let job = Arc::clone(env.job());
        let lines = move |batch: Batch, render: Render| {
            render(&batch).unwrap_or_else(|error| {
                job.fail(error);
                Vec::new()
            })
        };
        match self {
            SinkSpec::Print => {
                let prefix = (env.workers() > 1).then(|| format!("{}> ", env.worker_index() + 1));
                stream
                    .flat_map(move |b| lines(b, changelog_lines))
                    .sink("print", LinePrinter { prefix });
            }
            SinkSpec::Blackhole => stream.sink("blackhole", BlackholeSink::new(env)),
            SinkSpec::Kafka { config, shape } => {
                let sink =
                    riffle_connectors::kafka::KafkaSink::new(config.clone(), env.worker_index())?;
                let (shape, job) = (shape.clone(), Arc::clone(env.job()));
                stream
                    .flat_map(move |b| {
                        crate::kafka::records(&shape, &b).unwrap_or_else(|error| {
                            job.fail(error);
                            Vec::new()
                        })
                    })
                    .sink("kafka", sink);
            }
            SinkSpec::Model(target) => stream.global().sink(
                "model",
                crate::ml::ModelSink::new(Arc::clone(target), env.worker_index()),
            ),
            SinkSpec::Files {
                path,
                format,
                partition_by,
            } => {
                let (render, extension): (Render, _) = match format {
                    FileFormat::Text(TextFormat::Csv { .. }) => (csv_lines, "csv"),
                    FileFormat::Text(TextFormat::Json) => (json_lines, "json"),
                    FileFormat::Parquet if partition_by.is_empty() => {
                        // Batches go into Parquet parts as they are.
                        let sink = BatchParquetSink::batches(env, path.clone())?;
                        stream.sink("filesystem", sink);
                        return Ok(());
                    }
                    FileFormat::Parquet => {
                        // Each batch cut into one batch per partition.
                        let columns = partition_by.clone();
                        let job = Arc::clone(env.job());
                        let worker = env.worker_index();
                        let sink = PartitionedFiles::new(path.clone(), move |dir| {
                            Ok(Box::new(BatchParquetSink::batches_for(worker, dir)?))
                        });
                        stream
                            .flat_map(move |b| {
                                partitioned_batches(&b, &columns).unwrap_or_else(|error| {
                                    job.fail(error);
                                    Vec::new()
                                })
                            })
                            .sink("filesystem", sink);
                        return Ok(());
                    }
                };
                if partition_by.is_empty() {
                    let sink = FileSink::encoded_lines(env, path.clone(), extension)?;
                    stream
                        .flat_map(move |b| lines(b, render))
                        .sink("filesystem", sink);
                } else {
                    let columns = partition_by.clone();
                    let job = Arc::clone(env.job());
                    let worker = env.worker_index();
                    let sink = PartitionedFiles::new(path.clone(), move |dir| {
                        Ok(Box::new(FileSink::encoded_lines_for(
                            worker, dir, extension,
                        )?))
                    });
                    stream
                        .flat_map(move |b| {
                            partitioned_lines(&b, &columns, render).unwrap_or_else(|error| {
                                job.fail(error);
                                Vec::new()
                            })
                        })
                        .sink("filesystem", sink);
                }
            }
        }
        Ok(())
    }
}

/// Each row's partition directory — Flink's `a=1/b=x`, values as text (NULL as
/// `__DEFAULT_PARTITION__`, as Flink names it) — and the batch without the partition columns.
fn partitions(batch: &RecordBatch, columns: &[String]) -> Result<(Vec<String>, RecordBatch)> {
    use datafusion::arrow::array::{Array, StringArray};
    let schema = batch.schema();
    let mut keys = Vec::new();
    for name in columns {
        let index = schema
            .fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| RiffleError::Sql(format!("no partition column '{name}'")))?;
        let text = datafusion::arrow::compute::cast(
            batch.column(index),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
        keys.push((index, name.clone(), text));
    }
    let kept: Vec<usize> = (0..batch.num_columns())
        .filter(|i| !keys.iter().any(|(k, ..)| k == i))
        .collect();
    let rest = batch
        .project(&kept)
        .map_err(|e| RiffleError::Runtime(e.to_string()))?;
    let dirs = (0..batch.num_rows())
        .map(|row| {
            keys.iter()
                .map(|(_, name, text)| {
                    let text = text.as_any().downcast_ref::<StringArray>();
                    let value = text
                        .filter(|t| t.is_valid(row))
                        .map(|t| t.value(row).replace('/', "%2F"))
                        .unwrap_or_else(|| "__DEFAULT_PARTITION__".to_string());
                    format!("{name}={value}")
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    Ok((dirs, rest))
}

/// A batch's rows as (partition directory, line without the partition columns).
fn partitioned_lines(
    batch: &RecordBatch,
    columns: &[String],
    render: Render,
) -> Result<Vec<(String, String)>> {
    let (dirs, rest) = partitions(batch, columns)?;
    Ok(dirs.into_iter().zip(render(&rest)?).collect())
}

/// A batch cut into (partition directory, its rows without the partition columns).
fn partitioned_batches(batch: &RecordBatch, columns: &[String]) -> Result<Vec<(String, Batch)>> {
    use datafusion::arrow::array::UInt32Array;
    let (dirs, rest) = partitions(batch, columns)?;
    let mut rows: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (row, dir) in dirs.into_iter().enumerate() {
        rows.entry(dir).or_default().push(row as u32);
    }
    rows.into_iter()
        .map(|(dir, indices)| {
            let part =
                datafusion::arrow::compute::take_record_batch(&rest, &UInt32Array::from(indices))
                    .map_err(|e| RiffleError::Runtime(e.to_string()))?;
            Ok((dir, Batch(part)))
        })
        .collect()
}

/// Opens the exactly-once part-file sink of one partition's directory.
type OpenPartition<R> = Box<dyn Fn(PathBuf) -> Result<Box<dyn Sink<R>>>>;

/// Part files in one directory per partition, each an exactly-once file sink of its own
/// (of lines or of Parquet batches): a partition's sink opens with its first row, and all of
/// them close, snapshot and commit together.
struct PartitionedFiles<R> {
    root: PathBuf,
    open: OpenPartition<R>,
    sinks: BTreeMap<String, Box<dyn Sink<R>>>,
}

impl<R> PartitionedFiles<R> {
    fn new(root: PathBuf, open: impl Fn(PathBuf) -> Result<Box<dyn Sink<R>>> + 'static) -> Self {
        PartitionedFiles {
            root,
            open: Box::new(open),
            sinks: BTreeMap::new(),
        }
    }

    fn sink(&mut self, partition: &str) -> Result<&mut Box<dyn Sink<R>>> {
        if !self.sinks.contains_key(partition) {
            let sink = (self.open)(self.root.join(partition))?;
            self.sinks.insert(partition.to_string(), sink);
        }
        self.sinks
            .get_mut(partition)
            .ok_or_else(|| RiffleError::Runtime("a partition's sink vanished".into()))
    }
}

impl<R: 'static> Sink<(String, R)> for PartitionedFiles<R> {
    fn write(&mut self, records: &mut Vec<(EventTime, (String, R))>) -> Result<()> {
        let mut by_partition: BTreeMap<String, Vec<(EventTime, R)>> = BTreeMap::new();
        for (ts, (partition, record)) in records.drain(..) {
            by_partition
                .entry(partition)
                .or_default()
                .push((ts, record));
        }
        for (partition, mut records) in by_partition {
            self.sink(&partition)?.write(&mut records)?;
        }
        Ok(())
    }

    fn epoch_complete(&mut self, epoch: u64) -> Result<()> {
        self.sinks
            .values_mut()
            .try_for_each(|s| s.epoch_complete(epoch))
    }

    fn snapshot(&mut self) -> Result<Vec<u8>> {
        let mut parts = Vec::new();
        for (partition, sink) in &mut self.sinks {
            parts.push((partition.clone(), sink.snapshot()?));
        }
        serde_json::to_vec(&parts).map_err(|e| RiffleError::Checkpoint(e.to_string()))
    }

    fn commit(&mut self, epoch: u64) -> Result<()> {
        self.sinks.values_mut().try_for_each(|s| s.commit(epoch))
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<()> {
        let parts: Vec<(String, Vec<u8>)> =
            serde_json::from_slice(snapshot).map_err(|e| RiffleError::Checkpoint(e.to_string()))?;
        for (partition, bytes) in parts {
            self.sink(&partition)?.restore(&bytes)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.sinks.values_mut().try_for_each(|s| s.finish())
    }
}

/// Prints lines to standard output (a closed pipe ends printing, not the job).
struct LinePrinter {
    prefix: Option<String>,
}

impl Sink<String> for LinePrinter {
    fn write(&mut self, records: &mut Vec<(EventTime, String)>) -> Result<()> {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for (_, line) in records.drain(..) {
            let written = match &self.prefix {
                Some(p) => writeln!(out, "{p}{line}"),
                None => writeln!(out, "{line}"),
            };
            match written {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(RiffleError::io("stdout", e)),
                Ok(()) => {}
            }
        }
        Ok(())
    }
}
