//! An inner interval or window join per part of its keys, as the aggregations keep their
//! groups (see [`PARTS`](super::PARTS)): each side's rows are cut per message into chunks by
//! a hash of their join key in Arrow's row format, and the keyed half keeps one state per
//! part: each side's rows in buckets by expiry ([`bucket_width`] wide), each bucket one
//! buffer of rows with their keys chained by hash, and one timer per part and bucket instead
//! of one per row. A window join's row expires at its window's end (read from its key, which
//! holds the window), so that its buckets are its windows.
//!
//! Rows are kept in Arrow's row format, copied into their bucket's buffer (no allocation per
//! row or per key), and decoded only when they pair. A row is joined with the other side's
//! rows of its key, found in each bucket whose end the watermark has not reached, that have
//! not expired under the current watermark: rows still held past their expiry (until their
//! bucket's timer fires) are skipped, so the result is the one a timer per row gives.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use riffle_core::{Batch, Result};
use riffle_runtime::{Context, EventTime, KeyedProcessFunction, Timer, ValueState};
use serde::{Deserialize, Serialize};

use super::{arrow_error, evaluate, part_of_hash, Interval, KeyRows, Physical, WindowTime};

type FxMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// The width of the expiry buckets, ms: rows whose expiry falls in one bucket leave the
/// state together when the watermark passes the bucket's end.
const BUCKET_MS: i64 = 1_000;

/// Whether keys of this type compare as bytes in Arrow's row format exactly as their
/// [`Value`]s compare (not floats: `-0.0` and `0.0` differ as bytes).
pub(super) fn keyed_as_bytes(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..)
    )
}

/// Whether rows of these column types go through Arrow's row format and come back as the
/// same values (dictionaries would come back decoded).
pub(super) fn rows_round_trip(types: &[DataType]) -> bool {
    use datafusion::arrow::row::{RowConverter, SortField};
    let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
    types.iter().all(|t| !matches!(t, DataType::Dictionary(..)))
        && RowConverter::new(fields).is_ok()
}

/// One message's rows of one side whose keys fall in one part, in one buffer: each row's
/// key and then the row itself, in Arrow's row format.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct JoinChunk {
    pub(super) part: u32,
    left: bool,
    bytes: Vec<u8>,
    rows: Vec<ChunkRow>,
}

/// A row of a [`JoinChunk`]: the hash of its key, the lengths of its key and of the row
/// (one after the other in the chunk's bytes), and its expiry (`None`: kept for good).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct ChunkRow {
    hash: u64,
    key_len: usize,
    row_len: usize,
    expiry: Option<EventTime>,
}

impl JoinChunk {
    /// Each row's description with its key and its row bytes.
    fn rows(&self) -> impl Iterator<Item = (&ChunkRow, &[u8], &[u8])> {
        let mut at = 0;
        self.rows.iter().map(move |r| {
            let key = &self.bytes[at..at + r.key_len];
            let row = &self.bytes[at + r.key_len..at + r.key_len + r.row_len];
            at += r.key_len + r.row_len;
            (r, key, row)
        })
    }
}

/// When a side's row leaves a join's state.
#[derive(Debug, Clone, Copy)]
pub(super) enum Expiry {
    /// An interval join's: once no row of the other side can meet it (by its time column).
    Interval(Interval),
    /// A window join's: when the watermark passes the end of the window its key holds (a
    /// late row meets no partner: theirs have left with the window).
    Window(WindowTime),
}

impl Expiry {
    /// The expiry of a row of the left side (or the right) at `time` (a window join: whose
    /// window starts or ends at `time`, as its key holds).
    fn after(&self, time: EventTime, left: bool) -> Option<EventTime> {
        match self {
            Expiry::Interval(interval) => interval.expiry_after(time, left),
            Expiry::Window(window) => Some(window.fire_after(time)),
        }
    }
}

/// How one side's rows are cut into chunks: its key expressions, the encoders of its keys
/// and of its whole rows, and when its rows expire.
pub(super) struct SideRows {
    pub(super) keys: Vec<Physical>,
    pub(super) key_rows: KeyRows,
    pub(super) rows: KeyRows,
    pub(super) expiry: Expiry,
    pub(super) left: bool,
}

impl SideRows {
    /// Cuts a message's batches into chunks per part, each stamped with the earliest time of
    /// its rows. Rows with a NULL in their key join nothing (an inner join) and are dropped.
    pub(super) fn chunks(
        &self,
        batches: &mut Vec<(EventTime, Batch)>,
    ) -> Result<Vec<(EventTime, JoinChunk)>> {
        let left = self.left;
        let mut parts: FxMap<u32, (EventTime, JoinChunk)> = FxMap::default();
        for (ts, batch) in batches.drain(..) {
            let key_columns = self
                .keys
                .iter()
                .map(|k| evaluate(k, &batch))
                .collect::<Result<Vec<_>>>()?;
            let keys = self
                .key_rows
                .converter
                .convert_columns(&key_columns)
                .map_err(arrow_error)?;
            let rows = self
                .rows
                .converter
                .convert_columns(batch.columns())
                .map_err(arrow_error)?;
            // Each row's time: an interval join's time column, a window join's window.
            let time = match self.expiry {
                Expiry::Interval(interval) => batch.column(match left {
                    true => interval.left_time,
                    false => interval.right_time,
                }),
                Expiry::Window(window) => &key_columns[window.end_key().0],
            };
            let times = cast(time, &DataType::Int64).map_err(arrow_error)?;
            let times = times.as_primitive::<Int64Type>();
            // A part's share of the batch, with some room: chunks grown by doubling copied
            // their bytes ~once over.
            let per_part = super::PARTS as usize;
            let share = |n: usize| n / per_part + n / (4 * per_part) + 16;
            let (byte_share, row_share) =
                (share(keys.size() + rows.size()), share(batch.num_rows()));
            for row in 0..batch.num_rows() {
                if key_columns.iter().any(|c| c.is_null(row)) {
                    continue;
                }
                let key = keys.row(row).data();
                let hash = riffle_runtime::key_hash(key);
                let part = part_of_hash(hash);
                let (first, chunk) = parts.entry(part).or_insert_with(|| {
                    (
                        ts,
                        JoinChunk {
                            part,
                            left,
                            bytes: Vec::with_capacity(byte_share),
                            rows: Vec::with_capacity(row_share),
                        },
                    )
                });
                *first = (*first).min(ts);
                let expiry = match times.is_null(row) {
                    true => None,
                    false => self.expiry.after(times.value(row), left),
                };
                let data = rows.row(row).data();
                chunk.bytes.extend_from_slice(key);
                chunk.bytes.extend_from_slice(data);
                chunk.rows.push(ChunkRow {
                    hash,
                    key_len: key.len(),
                    row_len: data.len(),
                    expiry,
                });
            }
        }
        Ok(parts.into_values().collect())
    }
}

/// A side's rows in one part whose expiries fall in one bucket, in one buffer (key, then
/// row, for each), with the rows of each key hash chained from the latest back: the whole
/// bucket leaves the state at once when the watermark passes its end, no row freed alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Bucket {
    bytes: Vec<u8>,
    rows: Vec<Slot>,
    /// The latest row of each key hash.
    latest: FxMap<u64, usize>,
}

/// A row of a [`Bucket`]: where its key starts in the bucket's bytes, the lengths of its key
/// and of the row after it, its expiry, and the row before it with the same key hash.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Slot {
    start: usize,
    key_len: usize,
    row_len: usize,
    expiry: Option<EventTime>,
    before: Option<usize>,
}

impl Bucket {
    fn with_capacity(bytes: usize, rows: usize) -> Self {
        Bucket {
            bytes: Vec::with_capacity(bytes),
            rows: Vec::with_capacity(rows),
            latest: FxMap::default(),
        }
    }

    fn push(&mut self, hash: u64, key: &[u8], row: &[u8], expiry: Option<EventTime>) {
        let index = self.rows.len();
        let before = self.latest.insert(hash, index);
        self.rows.push(Slot {
            start: self.bytes.len(),
            key_len: key.len(),
            row_len: row.len(),
            expiry,
            before,
        });
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(row);
    }

    /// The rows of `key` (whose hash is `hash`) not expired under watermark `now`, in the
    /// order they came.
    fn matches<'b>(&'b self, hash: u64, key: &[u8], now: EventTime, out: &mut Vec<&'b [u8]>) {
        let from = out.len();
        let mut next = self.latest.get(&hash).copied();
        while let Some(index) = next {
            let slot = &self.rows[index];
            let key_end = slot.start + slot.key_len;
            if &self.bytes[slot.start..key_end] == key && unexpired(slot.expiry, now) {
                out.push(&self.bytes[key_end..key_end + slot.row_len]);
            }
            next = slot.before;
        }
        out[from..].reverse();
    }
}

/// One side's buckets of a part, by the end of each (rows kept for good under
/// `EventTime::MAX`).
type Buckets = BTreeMap<EventTime, Bucket>;

/// A part's rows of both sides.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Part {
    lefts: Buckets,
    rights: Buckets,
}

/// Whether a row with this expiry is still held under watermark `now` (`None`: for good).
fn unexpired(expiry: Option<EventTime>, now: EventTime) -> bool {
    expiry.is_none_or(|e| e > now)
}

/// The end of the bucket of width `width` that an expiry falls in: the least multiple of
/// `width` at or after it.
fn bucket_end(expiry: EventTime, width: i64) -> EventTime {
    let rest = expiry.rem_euclid(width);
    match rest {
        0 => expiry,
        _ => expiry.saturating_add(width - rest),
    }
}

/// The width of the expiry buckets of a join, ms. An interval join's: at least
/// [`BUCKET_MS`], and a quarter of the interval's span, so that a row meets at most about
/// five buckets of the other side (rows stay at most a quarter longer than they must). A
/// window join's: 1, a bucket per window's end (its rows all expire then).
fn bucket_width(expiry: &Expiry) -> i64 {
    match expiry {
        Expiry::Interval(interval) => match (interval.lower, interval.upper) {
            (Some(lower), Some(upper)) => BUCKET_MS.max(upper.saturating_sub(lower) / 4),
            _ => BUCKET_MS,
        },
        Expiry::Window(_) => 1,
    }
}

/// Drops the buckets of `side` whose end the watermark `now` has reached (every row in
/// them has expired); rows kept for good stay.
fn drop_expired(side: &mut Buckets, now: EventTime) {
    let kept = side.split_off(&now.saturating_add(1));
    *side = kept;
}

/// The keyed half of an inner interval or window join, per part (see the module's note).
/// Rows stay in row format; only the pairs found are decoded, by each side's row encoder,
/// straight into the columns of a batch of the join's `schema`.
pub(super) struct IntervalFold {
    pub(super) lefts: KeyRows,
    pub(super) rights: KeyRows,
    /// When rows expire: what the buckets' width is ([`bucket_width`]), and, for a window
    /// join, that a row's partners (sharing its key, so its window and its expiry) are in
    /// its own bucket only.
    pub(super) expiry: Expiry,
    pub(super) schema: SchemaRef,
    pub(super) job: Arc<riffle_runtime::JobShared>,
}

impl IntervalFold {
    /// The pairs found (left row, right row) as a batch.
    fn batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<RecordBatch> {
        let mut columns = self.lefts.columns(pairs.iter().map(|(l, _)| *l))?;
        columns.extend(self.rights.columns(pairs.iter().map(|(_, r)| *r))?);
        RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(arrow_error)
    }
}

impl KeyedProcessFunction<u32, JoinChunk> for IntervalFold {
    type State = ValueState<Part>;
    type Out = Batch;

    fn process_element(
        &mut self,
        chunk: JoinChunk,
        ctx: &mut Context<'_, u32, Self::State, Self::Out>,
    ) {
        let watermark = ctx.current_watermark();
        if ctx.state().value().is_none() {
            ctx.state().update(Part::default());
        }
        let Some(part) = ctx.state().value_mut() else {
            return;
        };
        let left = chunk.left;
        let (own, others) = match left {
            true => (&mut part.lefts, &part.rights),
            false => (&mut part.rights, &part.lefts),
        };
        // The pairs found, as (left row, right row).
        let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
        let mut timers = Vec::new();
        let mut partners = Vec::new();
        let width = bucket_width(&self.expiry);
        let window = matches!(self.expiry, Expiry::Window(_));
        for (r, key, row) in chunk.rows() {
            let end = match r.expiry {
                Some(expiry) => bucket_end(expiry, width),
                None => EventTime::MAX,
            };
            // Buckets whose end the watermark has reached hold only expired rows.
            let live = watermark.saturating_add(1)..;
            match window {
                true if live.contains(&end) => {
                    if let Some(bucket) = others.get(&end) {
                        bucket.matches(r.hash, key, watermark, &mut partners);
                    }
                }
                true => {}
                false => {
                    for (_, bucket) in others.range(live) {
                        bucket.matches(r.hash, key, watermark, &mut partners);
                    }
                }
            }
            for other in partners.drain(..) {
                pairs.push(match left {
                    true => (row, other),
                    false => (other, row),
                });
            }
            // A row past its expiry is joined but not kept.
            if !unexpired(r.expiry, watermark) {
                continue;
            }
            // A new bucket is as large as the side's largest bucket of the part: buckets of
            // the same width hold about as many rows, and one grown by doubling copied its
            // bytes ~once over (2% of q5).
            let size = match own.contains_key(&end) {
                true => (0, 0),
                false => own.values().fold((0, 0), |(b, r), x| {
                    (b.max(x.bytes.len()), r.max(x.rows.len()))
                }),
            };
            let bucket = own.entry(end).or_insert_with(|| {
                if end != EventTime::MAX {
                    timers.push(end);
                }
                Bucket::with_capacity(size.0, size.1)
            });
            bucket.push(r.hash, key, row, r.expiry);
        }
        let batch = match pairs.is_empty() {
            true => None,
            false => Some(self.batch(&pairs)),
        };
        for t in timers {
            ctx.register_event_time_timer(t);
        }
        match batch {
            Some(Ok(batch)) => ctx.collect(Batch(batch)),
            Some(Err(error)) => self.job.fail(error),
            None => {}
        }
    }

    fn on_timer(&mut self, _timer: Timer, ctx: &mut Context<'_, u32, Self::State, Self::Out>) {
        // Every bucket the input's watermark has passed, not only the timer's own.
        let now = ctx.input_watermark();
        let Some(part) = ctx.state().value_mut() else {
            return;
        };
        drop_expired(&mut part.lefts, now);
        drop_expired(&mut part.rights, now);
        if part.lefts.is_empty() && part.rights.is_empty() {
            ctx.clear_state();
        }
    }
}
