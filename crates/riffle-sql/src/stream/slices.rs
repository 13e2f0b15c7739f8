//! HOP window aggregations folded by slice, as Flink's window aggregation slices them: each
//! row is folded once into its slice (a tumbling window as long as the hop's slide) instead
//! of once into each of the windows it belongs to. The keyed half keeps each part's slices,
//! and when a window fires its groups are the merge of the slices it holds. A window of
//! `size` every `slide` holds `size / slide` slices, so the rows are neither copied, folded
//! nor sent `size / slide` times.
//!
//! It applies when the windows' size is a multiple of their slide, the aggregation reads
//! the TVF directly, its group keys use the window columns only as plain columns, and no
//! aggregate reads them. The windows get exactly the partials they would get row by row:
//! every row of a slice lies in the same windows. As in Flink, a row is late (dropped and
//! counted) when the last window holding its slice has fired; otherwise it counts in the
//! windows of its slice that have not fired yet.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::physical_expr::expressions::Column;
use riffle_core::{Batch, Result, RiffleError};
use riffle_runtime::{Context, DataStream, EventTime, KeyedProcessFunction, Timer, ValueState};
use serde::{Deserialize, Serialize};

use super::groups::{GroupBlocks, KeyIndex};
use super::{
    arrow_error, guard_of, known, windows, Acc, Aggregate, Build, Chunk, Functions, KeyRows,
    LocalFold, Node, Physical, WindowTime,
};
use crate::tvf::{WindowKind, WindowTvf};
use crate::value::Value;

/// How an aggregation over a HOP TVF is folded by slice: the TVF cut into slices, and which
/// group keys are the window's columns.
pub(super) struct Slicing {
    /// The TVF with tumbling windows of the hop's slide: the slices.
    pub(super) slices: WindowTvf,
    slide: i64,
    size: i64,
    /// The group keys that are `window_start`, `window_end` and `window_time`.
    start: Option<usize>,
    end: Option<usize>,
    time: Option<usize>,
    /// The other group keys.
    plain: Vec<usize>,
}

impl Slicing {
    /// The slicing of an aggregation with these group keys and aggregate inputs over
    /// `input`, if it applies (see the module's note).
    pub(super) fn of(
        input: &Node,
        keys: &[Physical],
        inputs: &[(Physical, Option<Physical>)],
    ) -> Option<Slicing> {
        let Node::Windows {
            tvf,
            schema,
            projection,
            ..
        } = input
        else {
            return None;
        };
        let WindowKind::Hop { slide, size } = tvf.kind else {
            return None;
        };
        if tvf.processing_time || slide <= 0 || size % slide != 0 || size == slide {
            return None;
        }
        let name = |i: usize| {
            let field = projection.as_ref().map_or(Some(i), |p| p.get(i).copied())?;
            Some(schema.fields().get(field)?.name().clone())
        };
        // Whether `expr` reads a window column (or a column not found).
        let reads_window = |expr: &Physical| {
            datafusion::physical_expr::utils::collect_columns(expr)
                .iter()
                .any(|c| {
                    name(c.index()).is_none_or(|n| {
                        matches!(n.as_str(), "window_start" | "window_end" | "window_time")
                    })
                })
        };
        // No aggregate may read a window column: it would see the slice's.
        if inputs
            .iter()
            .any(|(arg, filter)| reads_window(arg) || filter.as_ref().is_some_and(reads_window))
        {
            return None;
        }
        let (mut start, mut end, mut time, mut plain) = (None, None, None, Vec::new());
        for (k, key) in keys.iter().enumerate() {
            let column = key.downcast_ref::<Column>();
            match column.and_then(|c| name(c.index())).as_deref() {
                Some("window_start") => start = Some(k),
                Some("window_end") => end = Some(k),
                Some("window_time") => time = Some(k),
                // A key computed from a window column would see the slice's.
                _ if reads_window(key) => return None,
                _ => plain.push(k),
            }
        }
        if start.is_none() && end.is_none() && time.is_none() {
            return None;
        }
        Some(Slicing {
            slices: WindowTvf {
                kind: WindowKind::Tumble { size: slide },
                ..tvf.clone()
            },
            slide,
            size,
            start,
            end,
            time,
            plain,
        })
    }

    /// The slices' length, ms.
    pub(super) fn slide(&self) -> i64 {
        self.slide
    }

    /// The window column among the keys that the fold keys slices by (after the other
    /// keys), and how it gives the slice's last millisecond.
    fn slice_key(&self) -> (usize, WindowTime) {
        match (self.end, self.start, self.time) {
            (Some(k), _, _) => (k, WindowTime::End(self.plain.len())),
            (_, Some(k), _) => (k, WindowTime::Start(self.plain.len(), self.slide)),
            // `window_time` is the last millisecond: the start of a window 1 ms long.
            (_, _, Some(k)) => (k, WindowTime::Start(self.plain.len(), 1)),
            (None, None, None) => unreachable!("a slicing has a window key"),
        }
    }

    /// Where each of the aggregation's keys comes from when a window fires.
    fn layout(&self, keys: usize) -> Vec<KeyFrom> {
        (0..keys)
            .map(|k| match self.plain.iter().position(|&p| p == k) {
                Some(i) => KeyFrom::Plain(i),
                None if Some(k) == self.start => KeyFrom::Start,
                None if Some(k) == self.end => KeyFrom::End,
                None => KeyFrom::Time,
            })
            .collect()
    }
}

/// Builds `aggregate`, whose input is a HOP TVF, folded by slice (see the module's note).
pub(super) fn build<'s>(
    aggregate: &Aggregate,
    slicing: Slicing,
    plan: &Build<'_, 's>,
    guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + 'static,
) -> Result<DataStream<'s, Batch>> {
    let Node::Windows {
        input,
        schema,
        projection,
        ..
    } = &aggregate.input
    else {
        return Err(RiffleError::Runtime(
            "a sliced window aggregation reads a window TVF".into(),
        ));
    };
    let env = plan.env;
    let input = windows(
        input.build(plan)?,
        slicing.slices.clone(),
        Arc::clone(schema),
        projection.clone(),
        guard_of(env),
    );
    // Folded by the keys that are not window columns, then by the slice.
    let (window_key, slice_time) = slicing.slice_key();
    let picked: Vec<usize> = slicing.plain.iter().copied().chain([window_key]).collect();
    let types: Vec<DataType> = picked
        .iter()
        .map(|&k| aggregate.key_types[k].clone())
        .collect();
    let plain_types = &types[..slicing.plain.len()];
    let functions = Functions::of(&aggregate.aggregates, false);
    let local = LocalFold {
        keys: picked
            .iter()
            .map(|&k| Arc::clone(&aggregate.keys[k]))
            .collect(),
        encoder: KeyRows::new(&types)?,
        specs: aggregate.specs(),
        time: Some(slice_time),
        functions: functions.clone(),
    };
    let suffix = encoded_width(&types[slicing.plain.len()])?;
    let job = Arc::clone(env.job());
    let chunks = input.map_chunks_with_watermark(
        "sql.aggregate_partials",
        move |watermark, batches, out| {
            crate::functions::with_watermark(known(watermark), || {
                let groups = local.fold(batches.drain(..), &job);
                // The chunks' keys leave the slice column behind.
                out.extend(Chunk::cut(groups, true, suffix));
            })
        },
    );
    let fired = chunks
        .key_by(|c: &Chunk| (None, c.part))
        .process(SliceFold {
            functions,
            late: env.job().counter("sql.window.late_rows"),
            keys: KeyRows::new(plain_types)?,
            layout: slicing.layout(aggregate.keys.len()),
            schema: Arc::clone(&aggregate.schema),
            slide: slicing.slide,
            size: slicing.size,
            job: Arc::clone(env.job()),
        });
    Ok(fired.flat_map(move |b| guard(Ok(b.0))))
}

/// How many bytes a value of `data_type` (a window column: 64-bit) takes at the end of a
/// key in Arrow's row format, which encodes a row as its columns' encodings one after the
/// other, and a fixed-width value in as many bytes whether or not it is NULL.
fn encoded_width(data_type: &DataType) -> Result<usize> {
    let one = cast(&Int64Array::from(vec![0]), data_type).map_err(arrow_error)?;
    let rows = KeyRows::new(std::slice::from_ref(data_type))?
        .converter
        .convert_columns(&[one])
        .map_err(arrow_error)?;
    Ok(rows.row(0).data().len())
}

/// Where a key of a sliced aggregation's output row comes from when its window fires.
#[derive(Debug, Clone, Copy)]
enum KeyFrom {
    /// The `i`-th key that is not a window column.
    Plain(usize),
    Start,
    End,
    Time,
}

/// The keyed half of a sliced HOP window aggregation, per part: keeps each slice's groups
/// (merged from the messages' partials), and when the watermark passes a window's end emits
/// each group of the window, merged from the window's slices. A slice is dropped once the
/// last window holding it has fired.
struct SliceFold {
    functions: Functions,
    late: Arc<AtomicU64>,
    /// The keys that are not window columns.
    keys: KeyRows,
    layout: Vec<KeyFrom>,
    /// The output: the keys, then the aggregates.
    schema: SchemaRef,
    slide: i64,
    size: i64,
    job: Arc<riffle_runtime::JobShared>,
}

/// A part's slices by their last millisecond.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Slices(BTreeMap<EventTime, SliceGroups>);

/// A slice's groups (keys without the window columns) and their states.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SliceGroups {
    index: KeyIndex,
    accs: GroupBlocks<Acc>,
}

impl SliceFold {
    /// A fired window's groups (`index`, and `accs`: each group's states in turn) as a batch
    /// of the output: keys decoded straight into columns, the window's columns constant.
    fn window_batch(
        &self,
        index: &KeyIndex,
        accs: &[Acc],
        start: EventTime,
        last: EventTime,
    ) -> Result<Option<RecordBatch>> {
        let rows = index.len();
        if rows == 0 {
            return Ok(None);
        }
        let plain = self.keys.columns((0..rows).map(|g| index.key(g)))?;
        let width = self.functions.functions.len();
        let results: Vec<Vec<Value>> = (0..rows)
            .map(|g| self.functions.results(&accs[g * width..(g + 1) * width]))
            .collect();
        // An aggregate function that failed on this thread fails the job.
        if let Some(error) = crate::udaf::take_error() {
            return Err(error);
        }
        let fields = self.schema.fields();
        let typed = |array: ArrayRef, field: usize| -> Result<ArrayRef> {
            match array.data_type() == fields[field].data_type() {
                true => Ok(array),
                false => cast(&array, fields[field].data_type()).map_err(arrow_error),
            }
        };
        let constant = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v; rows])) };
        let mut columns = Vec::with_capacity(fields.len());
        for (k, from) in self.layout.iter().enumerate() {
            columns.push(typed(
                match from {
                    KeyFrom::Plain(i) => Arc::clone(&plain[*i]),
                    KeyFrom::Start => constant(start),
                    KeyFrom::End => constant(last + 1),
                    KeyFrom::Time => constant(last),
                },
                k,
            )?);
        }
        for a in 0..width {
            let field = self.layout.len() + a;
            let values: Vec<&Value> = results.iter().map(|r| &r[a]).collect();
            columns.push(Value::to_array(&values, fields[field].data_type())?);
        }
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map(Some)
            .map_err(arrow_error)
    }
}

impl KeyedProcessFunction<(Option<EventTime>, u32), Chunk> for SliceFold {
    type State = ValueState<Slices>;
    type Out = Batch;

    fn process_element(
        &mut self,
        chunk: Chunk,
        ctx: &mut Context<'_, (Option<EventTime>, u32), Self::State, Self::Out>,
    ) {
        let slice = chunk.window.unwrap_or(ctx.timestamp());
        let watermark = ctx.current_watermark();
        // The last window holding the slice has fired: the rows are late.
        if slice + self.size - self.slide <= watermark {
            self.late.fetch_add(chunk.rows(), Ordering::Relaxed);
            return;
        }
        if ctx.state().value().is_none() {
            ctx.state().update(Slices::default());
        }
        let Some(Slices(slices)) = ctx.state().value_mut() else {
            return;
        };
        let width = self.functions.functions.len();
        let fresh = !slices.contains_key(&slice);
        let groups = slices.entry(slice).or_default();
        for (key, partial) in chunk.groups {
            let (group, new) = groups.index.find_or_add(&key);
            match new {
                true => groups.accs.push(partial.accs, width),
                false => Acc::merge_all(groups.accs.group_mut(group, width), partial.accs),
            }
        }
        if fresh {
            // The windows holding the slice end with it and every slide after it.
            let ends = (0..self.size / self.slide).map(|k| slice + k * self.slide);
            for end in ends.filter(|&end| end > watermark) {
                ctx.register_event_time_timer(end);
            }
        }
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut Context<'_, (Option<EventTime>, u32), Self::State, Self::Out>,
    ) {
        let last = timer.time;
        let start = last + 1 - self.size;
        let width = self.functions.functions.len();
        let Some(Slices(slices)) = ctx.state().value_mut() else {
            return;
        };
        let mut index = KeyIndex::default();
        let mut accs: Vec<Acc> = Vec::new();
        for groups in slices.range(start + self.slide - 1..=last).map(|(_, g)| g) {
            for group in 0..groups.index.len() {
                let states = groups.accs.group(group, width);
                match index.find_or_add(groups.index.key(group)) {
                    (_, true) => accs.extend_from_slice(states),
                    (merged, false) => {
                        let into = &mut accs[merged * width..(merged + 1) * width];
                        for (acc, state) in into.iter_mut().zip(states) {
                            acc.merge(state.clone());
                        }
                    }
                }
            }
        }
        // The window's first slice is in no later window.
        *slices = slices.split_off(&(start + self.slide));
        let done = slices.is_empty();
        match self.window_batch(&index, &accs, start, last) {
            Ok(Some(batch)) => ctx.collect(Batch(batch)),
            Ok(None) => {}
            Err(error) => self.job.fail(error),
        }
        if done {
            ctx.clear_state();
        }
    }
}
