//! The Nexmark generator as SQL tables: `person`, `auction` and `bid` rows in Arrow batches,
//! with the columns of the Nexmark benchmark's Flink DDL.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use riffle_core::{did_you_mean, Batch, Result, RiffleError};
use riffle_runtime::{EventTime, SourceReader, SourceStatus};

use crate::datagen::Throttle;
use crate::nexmark::{Event, NexmarkConfig, NexmarkReader};

/// Which of the three Nexmark streams a table reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NexmarkKind {
    /// New people.
    Person,
    /// New auctions.
    Auction,
    /// Bids.
    Bid,
}

/// The value of one column of one event.
enum Cell<'a> {
    Int(i64),
    Str(&'a str),
    Time(i64),
}

/// The kind of a column: BIGINT, STRING or TIMESTAMP(3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Int,
    Str,
    Time,
}

type Extract = for<'a> fn(&'a Event) -> Option<Cell<'a>>;

/// Columns of each stream: name (as in the benchmark's DDL), type and how to read it.
fn columns(kind: NexmarkKind) -> Vec<(&'static str, ColumnType, Extract)> {
    use ColumnType::{Int, Str, Time};
    fn int(v: u64) -> Option<Cell<'static>> {
        Some(Cell::Int(v as i64))
    }
    match kind {
        NexmarkKind::Person => vec![
            ("id", Int, |e| person(e).and_then(|p| int(p.id))),
            ("name", Str, |e| person(e).map(|p| Cell::Str(&p.name))),
            ("emailAddress", Str, |e| {
                person(e).map(|p| Cell::Str(&p.email_address))
            }),
            ("creditCard", Str, |e| {
                person(e).map(|p| Cell::Str(&p.credit_card))
            }),
            ("city", Str, |e| person(e).map(|p| Cell::Str(&p.city))),
            ("state", Str, |e| person(e).map(|p| Cell::Str(&p.state))),
            ("dateTime", Time, |e| {
                person(e).map(|p| Cell::Time(p.date_time))
            }),
            ("extra", Str, |e| person(e).map(|p| Cell::Str(&p.extra))),
        ],
        NexmarkKind::Auction => vec![
            ("id", Int, |e| auction(e).and_then(|a| int(a.id))),
            ("itemName", Str, |e| {
                auction(e).map(|a| Cell::Str(&a.item_name))
            }),
            ("description", Str, |e| {
                auction(e).map(|a| Cell::Str(&a.description))
            }),
            ("initialBid", Int, |e| {
                auction(e).and_then(|a| int(a.initial_bid))
            }),
            ("reserve", Int, |e| auction(e).and_then(|a| int(a.reserve))),
            ("dateTime", Time, |e| {
                auction(e).map(|a| Cell::Time(a.date_time))
            }),
            ("expires", Time, |e| {
                auction(e).map(|a| Cell::Time(a.expires))
            }),
            ("seller", Int, |e| auction(e).and_then(|a| int(a.seller))),
            ("category", Int, |e| {
                auction(e).and_then(|a| int(a.category))
            }),
            ("extra", Str, |e| auction(e).map(|a| Cell::Str(&a.extra))),
        ],
        NexmarkKind::Bid => vec![
            ("auction", Int, |e| bid(e).and_then(|b| int(b.auction))),
            ("bidder", Int, |e| bid(e).and_then(|b| int(b.bidder))),
            ("price", Int, |e| bid(e).and_then(|b| int(b.price))),
            ("channel", Str, |e| bid(e).map(|b| Cell::Str(&b.channel))),
            ("url", Str, |e| bid(e).map(|b| Cell::Str(&b.url))),
            ("dateTime", Time, |e| {
                bid(e).map(|b| Cell::Time(b.date_time))
            }),
            ("extra", Str, |e| bid(e).map(|b| Cell::Str(&b.extra))),
        ],
    }
}

fn person(e: &Event) -> Option<&crate::nexmark::Person> {
    match e {
        Event::Person(p) => Some(p),
        _ => None,
    }
}

fn auction(e: &Event) -> Option<&crate::nexmark::Auction> {
    match e {
        Event::Auction(a) => Some(a),
        _ => None,
    }
}

fn bid(e: &Event) -> Option<&crate::nexmark::Bid> {
    match e {
        Event::Bid(b) => Some(b),
        _ => None,
    }
}

/// Column names compare without case and underscores: `dateTime`, `datetime` and
/// `date_time` are one column.
fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Options of the `nexmark` connector.
const OPTIONS: [&str; 9] = [
    "connector",
    "table",
    "events.num",
    "first-event.rate",
    "rate-limit",
    "seed",
    "person.proportion",
    "auction.proportion",
    "bid.proportion",
];

/// A SQL table over one Nexmark stream (`'connector' = 'nexmark'`, `'table' = 'bid'`), with
/// the columns a `CREATE TABLE` declares: any subset of the stream's columns, by name.
///
/// ```
/// use std::sync::Arc;
/// use arrow_schema::{DataType, Field, Schema, TimeUnit};
/// use riffle_connectors::NexmarkTable;
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("auction", DataType::Int64, true),
///     Field::new("price", DataType::Int64, true),
///     Field::new("dateTime", DataType::Timestamp(TimeUnit::Millisecond, None), true),
/// ]));
/// let options = [("connector", "nexmark"), ("table", "bid"), ("events.num", "1000")]
///     .into_iter()
///     .map(|(k, v)| (k.to_string(), v.to_string()))
///     .collect();
/// let table = NexmarkTable::from_options(schema, &options).unwrap();
/// assert_eq!(table.max_events(), Some(1000));
/// ```
#[derive(Debug, Clone)]
pub struct NexmarkTable {
    kind: NexmarkKind,
    schema: SchemaRef,
    /// For each column of `schema`, its index in [`columns`] of `kind`.
    picks: Vec<usize>,
    config: NexmarkConfig,
    /// Events per second in all, in wall-clock time; `None` for as fast as possible.
    rate_limit: Option<u64>,
}

fn number(key: &str, value: &str) -> Result<u64> {
    value.trim().parse().map_err(|_| {
        RiffleError::Config(format!(
            "nexmark: '{key}' = '{value}' is not a non-negative integer"
        ))
    })
}

impl NexmarkTable {
    /// The table of `schema` (columns chosen by name from the stream's) configured by
    /// `options`; unknown options, columns and mismatched types are errors that name them.
    pub fn from_options(schema: SchemaRef, options: &BTreeMap<String, String>) -> Result<Self> {
        for key in options.keys() {
            if !OPTIONS.contains(&key.as_str()) {
                let hint = did_you_mean(key, OPTIONS);
                return Err(RiffleError::Config(format!(
                    "nexmark: unknown option '{key}'{hint} (options: {})",
                    OPTIONS.join(", ")
                )));
            }
        }
        let kind = match options.get("table").map(String::as_str) {
            Some("person") => NexmarkKind::Person,
            Some("auction") => NexmarkKind::Auction,
            Some("bid") => NexmarkKind::Bid,
            Some(other) => {
                let hint = did_you_mean(other, ["person", "auction", "bid"]);
                return Err(RiffleError::Config(format!(
                    "nexmark: 'table' = '{other}' is not a Nexmark stream{hint} (person, auction, bid)"
                )));
            }
            None => {
                return Err(RiffleError::Config(
                    "nexmark: give the stream with 'table' = 'person', 'auction' or 'bid'".into(),
                ))
            }
        };
        let available = columns(kind);
        let mut picks = Vec::new();
        for field in schema.fields() {
            let wanted = normalized(field.name());
            let Some(index) = available.iter().position(|(n, ..)| normalized(n) == wanted) else {
                let hint = did_you_mean(field.name(), available.iter().map(|c| c.0));
                return Err(RiffleError::Config(format!(
                    "nexmark: the {kind:?} stream has no column '{}'{hint} (columns: {})",
                    field.name(),
                    available.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
                )));
            };
            let (name, column_type, _) = available[index];
            let fits = match column_type {
                ColumnType::Int => field.data_type() == &DataType::Int64,
                ColumnType::Str => matches!(field.data_type(), DataType::Utf8),
                ColumnType::Time => matches!(
                    field.data_type(),
                    DataType::Timestamp(TimeUnit::Millisecond, _)
                ),
            };
            if !fits {
                let want = match column_type {
                    ColumnType::Int => "BIGINT",
                    ColumnType::Str => "STRING",
                    ColumnType::Time => "TIMESTAMP(3)",
                };
                return Err(RiffleError::Config(format!(
                    "nexmark: column '{}' ({name}) is {want}, not {}",
                    field.name(),
                    field.data_type()
                )));
            }
            picks.push(index);
        }
        let mut config = NexmarkConfig::default();
        let get = |key: &str| options.get(key).map(|v| number(key, v)).transpose();
        config.max_events = get("events.num")?;
        if let Some(rate) = get("first-event.rate")? {
            config.events_per_second = rate.max(1);
        }
        if let Some(seed) = get("seed")? {
            config.seed = seed;
        }
        if let Some(p) = get("person.proportion")? {
            config.person_proportion = p;
        }
        if let Some(p) = get("auction.proportion")? {
            config.auction_proportion = p;
        }
        if let Some(p) = get("bid.proportion")? {
            config.bid_proportion = p;
        }
        let rate_limit = get("rate-limit")?.filter(|r| *r > 0);
        Ok(NexmarkTable {
            kind,
            schema,
            picks,
            config,
            rate_limit,
        })
    }

    /// The schema of the rows.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Events of all three streams in all, `None` when unbounded.
    pub fn max_events(&self) -> Option<u64> {
        self.config.max_events
    }

    /// The reader of worker `worker_index` of `workers`: batches of this table's rows, with
    /// the generator's watermarks (no event is late).
    pub fn reader(&self, worker_index: usize, workers: usize) -> NexmarkTableReader {
        NexmarkTableReader {
            table: self.clone(),
            inner: Throttle::new(
                NexmarkReader::new(self.config.clone(), worker_index, workers),
                self.rate_limit.map(|r| (r / workers.max(1) as u64).max(1)),
            ),
            events: Vec::new(),
        }
    }

    /// Rows of `events` (those of this table's stream) as one batch.
    fn batch(&self, events: &[Event]) -> Result<RecordBatch> {
        let available = columns(self.kind);
        let arrays: Vec<ArrayRef> = self
            .picks
            .iter()
            .map(|&i| {
                let (_, column_type, extract) = available[i];
                let cells = events.iter().filter_map(extract);
                match column_type {
                    ColumnType::Int => {
                        let mut b = Int64Builder::with_capacity(events.len());
                        cells.for_each(|c| {
                            if let Cell::Int(v) = c {
                                b.append_value(v)
                            }
                        });
                        Arc::new(b.finish()) as ArrayRef
                    }
                    ColumnType::Str => {
                        let mut b = StringBuilder::with_capacity(events.len(), events.len() * 16);
                        cells.for_each(|c| {
                            if let Cell::Str(v) = c {
                                b.append_value(v)
                            }
                        });
                        Arc::new(b.finish())
                    }
                    ColumnType::Time => {
                        let mut b = TimestampMillisecondBuilder::with_capacity(events.len());
                        cells.for_each(|c| {
                            if let Cell::Time(v) = c {
                                b.append_value(v)
                            }
                        });
                        Arc::new(b.finish())
                    }
                }
            })
            .collect();
        let rows = events.iter().filter(|e| self.is_mine(e)).count();
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)
            .map_err(|e| RiffleError::Runtime(format!("nexmark: {e}")))
    }

    fn is_mine(&self, event: &Event) -> bool {
        matches!(
            (self.kind, event),
            (NexmarkKind::Person, Event::Person(_))
                | (NexmarkKind::Auction, Event::Auction(_))
                | (NexmarkKind::Bid, Event::Bid(_))
        )
    }
}

/// One worker's share of a [`NexmarkTable`]: a batch per block of events.
pub struct NexmarkTableReader {
    table: NexmarkTable,
    /// The generator, limited to the table's `rate-limit` in events per second.
    inner: Throttle<NexmarkReader<Event>>,
    events: Vec<Event>,
}

impl SourceReader<Batch> for NexmarkTableReader {
    fn poll(&mut self, out: &mut Vec<Batch>) -> Result<SourceStatus> {
        self.events.clear();
        let status = self.inner.poll(&mut self.events)?;
        if !self.events.is_empty() {
            let batch = self.table.batch(&self.events)?;
            if batch.num_rows() > 0 {
                out.push(Batch(batch));
            }
        }
        Ok(status)
    }

    fn batch_watermark(&self) -> Option<EventTime> {
        self.inner.batch_watermark()
    }

    fn position(&self) -> Option<Vec<u8>> {
        self.inner.position()
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        self.inner.seek(position)
    }
}
