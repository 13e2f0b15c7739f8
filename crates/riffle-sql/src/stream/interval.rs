//! An inner interval join per part of its keys, as the aggregations keep their groups (see
//! [`PARTS`](super::PARTS)): each side's rows are cut per message into chunks by a hash of
//! their join key in Arrow's row format, and the keyed half keeps one state per part: each
//! key's rows of both sides with their expiry, and which keys have rows expiring in each
//! bucket of [`BUCKET_MS`], with one timer per part and bucket instead of one per row.
//!
//! Rows are kept in Arrow's row format (one allocation each) and decoded only when they pair.
//! A row is joined with the other side's rows of its key that have not expired under the
//! current watermark: rows still held past their expiry (until their bucket's timer fires)
//! are skipped, so the result is the one a timer per row gives.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use riffle_core::{Batch, Result};
use riffle_runtime::{Context, EventTime, KeyedProcessFunction, Timer, ValueState};
use serde::{Deserialize, Serialize};

use super::{arrow_error, evaluate, part_of, Interval, KeyRows, Physical};
use crate::value::Value;

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

/// One message's rows of one side whose keys fall in one part: each row's key, its expiry
/// (`None`: kept for good) and the row, key and row in Arrow's row format.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct JoinChunk {
    pub(super) part: u32,
    left: bool,
    rows: Vec<(Vec<u8>, Option<EventTime>, Vec<u8>)>,
}

/// How one side's rows are cut into chunks: its key expressions, and the encoders of its
/// keys and of its whole rows.
pub(super) struct SideRows {
    pub(super) keys: Vec<Physical>,
    pub(super) key_rows: KeyRows,
    pub(super) rows: KeyRows,
    pub(super) interval: Interval,
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
            let time = match left {
                true => self.interval.left_time,
                false => self.interval.right_time,
            };
            let times = cast(batch.column(time), &DataType::Int64).map_err(arrow_error)?;
            let times = times.as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                if key_columns.iter().any(|c| c.is_null(row)) {
                    continue;
                }
                let key = keys.row(row).data();
                let part = part_of(key);
                let (first, chunk) = parts.entry(part).or_insert_with(|| {
                    (
                        ts,
                        JoinChunk {
                            part,
                            left,
                            rows: Vec::new(),
                        },
                    )
                });
                *first = (*first).min(ts);
                let expiry = match times.is_null(row) {
                    true => None,
                    false => self.interval.expiry_after(times.value(row), left),
                };
                chunk
                    .rows
                    .push((key.to_vec(), expiry, rows.row(row).data().to_vec()));
            }
        }
        Ok(parts.into_values().collect())
    }
}

/// A side's rows of one key: each with its expiry (`None`: kept for good), in row format.
type Rows = Vec<(Option<EventTime>, Vec<u8>)>;

/// One key's rows of both sides, and the last expiry bucket the key was listed under.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Sides {
    lefts: Rows,
    rights: Rows,
    bucket: Option<EventTime>,
}

/// A part's keys and their rows, and the keys with rows expiring in each bucket (by the
/// bucket's end).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Part {
    keys: FxMap<Vec<u8>, Sides>,
    expiring: BTreeMap<EventTime, Vec<Vec<u8>>>,
}

/// Whether a row with this expiry is still held under watermark `now` (`None`: for good).
fn unexpired(expiry: Option<EventTime>, now: EventTime) -> bool {
    expiry.is_none_or(|e| e > now)
}

/// The end of the bucket an expiry falls in: the least multiple of [`BUCKET_MS`] at or
/// after it.
fn bucket_end(expiry: EventTime) -> EventTime {
    let rest = expiry.rem_euclid(BUCKET_MS);
    match rest {
        0 => expiry,
        _ => expiry.saturating_add(BUCKET_MS - rest),
    }
}

/// The keyed half of an inner interval join, per part (see the module's note). Rows stay in
/// row format; only the pairs found are decoded, by each side's row encoder.
pub(super) struct IntervalFold {
    pub(super) lefts: KeyRows,
    pub(super) rights: KeyRows,
    pub(super) job: Arc<riffle_runtime::JobShared>,
}

impl KeyedProcessFunction<u32, JoinChunk> for IntervalFold {
    type State = ValueState<Part>;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        chunk: JoinChunk,
        ctx: &mut Context<'_, u32, Self::State, Self::Out>,
    ) {
        let watermark = ctx.current_watermark();
        let live = |expiry: &Option<EventTime>| unexpired(*expiry, watermark);
        if ctx.state().value().is_none() {
            ctx.state().update(Part::default());
        }
        let Some(part) = ctx.state().value_mut() else {
            return;
        };
        let left = chunk.left;
        // The pairs found, as (left row, right row).
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut timers = Vec::new();
        for (key, expiry, row) in chunk.rows {
            let mut pair_with = |others: &Rows| {
                for (_, other) in others.iter().filter(|(e, _)| live(e)) {
                    pairs.push(match left {
                        true => (row.clone(), other.clone()),
                        false => (other.clone(), row.clone()),
                    });
                }
            };
            // One lookup per row: the key's bytes are copied only for a new key.
            let listed = part.keys.get_mut(&key);
            if let Some(sides) = &listed {
                pair_with(if left { &sides.rights } else { &sides.lefts });
            }
            // A row past its expiry is joined but not kept.
            if !live(&expiry) {
                continue;
            }
            let bucket = expiry.map(bucket_end);
            let listed_under = listed.as_ref().and_then(|s| s.bucket);
            let new_bucket = bucket.filter(|b| listed_under != Some(*b));
            let sides = match listed {
                Some(sides) => sides,
                None => part.keys.entry(key.clone()).or_default(),
            };
            if new_bucket.is_some() {
                sides.bucket = new_bucket;
            }
            let own = if left {
                &mut sides.lefts
            } else {
                &mut sides.rights
            };
            own.push((expiry, row));
            if let Some(b) = new_bucket {
                part.expiring.entry(b).or_default().push(key);
                timers.push(b);
            }
        }
        timers.sort_unstable();
        timers.dedup();
        for t in timers {
            ctx.register_event_time_timer(t);
        }
        if pairs.is_empty() {
            return;
        }
        let decoded = self
            .lefts
            .values(pairs.iter().map(|(l, _)| l.as_slice()))
            .and_then(|l| {
                Ok((
                    l,
                    self.rights
                        .values(pairs.iter().map(|(_, r)| r.as_slice()))?,
                ))
            });
        match decoded {
            Ok((lefts, rights)) => {
                for (mut row, right) in lefts.into_iter().zip(rights) {
                    row.extend(right);
                    ctx.collect(row);
                }
            }
            Err(error) => self.job.fail(error),
        }
    }

    fn on_timer(&mut self, _timer: Timer, ctx: &mut Context<'_, u32, Self::State, Self::Out>) {
        // Every bucket the input's watermark has passed, not only the timer's own.
        let now = ctx.input_watermark();
        let Some(part) = ctx.state().value_mut() else {
            return;
        };
        let later = match now.checked_add(1) {
            Some(next) => part.expiring.split_off(&next),
            None => BTreeMap::new(),
        };
        let due = std::mem::replace(&mut part.expiring, later);
        let live = |(expiry, _): &(Option<EventTime>, Vec<u8>)| unexpired(*expiry, now);
        for key in due.into_values().flatten() {
            let Some(sides) = part.keys.get_mut(&key) else {
                continue;
            };
            sides.lefts.retain(live);
            sides.rights.retain(live);
            if sides.lefts.is_empty() && sides.rights.is_empty() {
                part.keys.remove(&key);
            }
        }
        if part.keys.is_empty() && part.expiring.is_empty() {
            ctx.clear_state();
        }
    }
}
