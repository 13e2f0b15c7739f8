//! Streaming execution of SQL on the runtime.
//!
//! DataFusion plans and type-checks the query; [`Node::from_plan`] turns its optimised logical
//! plan into a tree the runtime runs on every worker: sources read Arrow batches, projections
//! and filters run DataFusion's physical expressions batch by batch where the data is, and a
//! window aggregation folds each message's rows per group, then merges the partials in a
//! keyed process function with one state per part of the groups and window (see [`PARTS`]),
//! which fires when the watermark passes the window's end. Plans the runtime cannot run yet
//! are refused by name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int8Array, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, max};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use riffle_core::{Batch, Result, RiffleError};
use riffle_runtime::{
    Context, DataStream, Either, Env, EventTime, KeyedProcessFunction, KeyedStream, ListState,
    SourceReader, Timer, ValueState, WatermarkStrategy,
};
use serde::{Deserialize, Serialize};

use crate::tvf::{explode_columns, millis, WindowKind, WindowTvf};
use crate::value::Value;

mod fold;
mod groups;
mod interval;
mod over;
mod scalar;
mod slices;
use fold::fold_batch;
use groups::{GroupBlocks, KeyIndex};

/// A physical expression shared by every worker.
pub type Physical = Arc<dyn PhysicalExpr>;

/// Makes a source's reader on a worker: `(job, worker_index, workers, columns read)` (see
/// [`SourceSpec::reader`]).
pub type ReaderFactory = Arc<
    dyn Fn(
            &riffle_runtime::JobShared,
            usize,
            usize,
            Option<&[usize]>,
        ) -> Result<Box<dyn SourceReader<Batch>>>
        + Send
        + Sync,
>;

/// A table read by a streaming job.
#[derive(Clone)]
pub struct SourceSpec {
    /// The table's name, for errors and metrics.
    pub name: String,
    /// Its reader on each worker: made with the job, the worker's index, the number of
    /// workers and the columns the job reads (by index, sorted; `None`: all). A reader may
    /// leave the other columns NULL (a CSV file's reader does not parse them).
    pub reader: ReaderFactory,
    /// The reader's columns (the table's physical columns; an upsert source's reader adds
    /// the row kind).
    pub schema: SchemaRef,
    /// Event time: the expression giving a row's time and the watermark's delay behind the
    /// largest time seen (`WATERMARK FOR ts AS ts - INTERVAL ...`), if the table has one.
    pub rowtime: Option<(Physical, i64)>,
    /// The reader emits its own watermarks (generators that know their disorder).
    pub reader_watermarks: bool,
    /// The table ends (a bounded source). An unbounded one without event time holds no
    /// other input back while it has nothing to read (an idle timeout of zero): a lookup
    /// into a quiet table must not stall the probe rows, as processing time waits for
    /// nothing in Flink. A bounded one holds them until it is read whole.
    pub bounded: bool,
    /// An upsert source (`upsert-kafka`): its reader's batches carry each row's kind last
    /// (`+I` for a value, `-D` for a tombstone), and the scan makes them a changelog.
    pub upserts: Option<Upserts>,
}

/// How an upsert source's rows become a changelog.
#[derive(Clone)]
pub struct Upserts {
    /// The primary key's columns, by index.
    pub keys: Vec<usize>,
    /// The reader's schema: the table's physical columns and the row kind.
    pub schema: SchemaRef,
}

/// How to build the input of a window TVF: the plan of `SELECT * FROM table`.
pub type TvfInput = Box<Node>;

/// One operator of a streaming plan.
pub enum Node {
    /// Rows of a table, optionally a subset of its columns.
    Scan {
        /// The source.
        source: SourceSpec,
        /// Columns kept, by index.
        projection: Option<Vec<usize>>,
    },
    /// A window TVF: every row in each window it belongs to, with the window columns.
    Windows {
        /// The TVF's input.
        input: TvfInput,
        /// The call.
        tvf: WindowTvf,
        /// Its output schema.
        schema: SchemaRef,
        /// Columns kept, by index.
        projection: Option<Vec<usize>>,
    },
    /// `SELECT exprs`.
    Project {
        /// The input.
        input: Box<Node>,
        /// One expression per output column.
        exprs: Vec<Physical>,
        /// The output schema.
        schema: SchemaRef,
    },
    /// `WHERE predicate`.
    Filter {
        /// The input.
        input: Box<Node>,
        /// The condition.
        predicate: Physical,
    },
    /// `GROUP BY window_start, window_end, ...` over a window TVF (appends rows when windows
    /// fire), or `GROUP BY` without a window (an updating result: a changelog).
    Aggregate(Box<Aggregate>),
    /// An inner equi-join of two append-only inputs.
    Join(Box<Join>),
    /// `ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)` kept to `rn <= N`: Top-N and
    /// deduplication.
    TopN(Box<TopN>),
    /// Aggregates `OVER (PARTITION BY ... ORDER BY time ROWS|RANGE ... PRECEDING)`.
    Over(Box<Over>),
    /// `UNION ALL`.
    Union(Vec<Node>),
    /// Rows computed already (a batch-mode result on its way to a sink), emitted by the
    /// first worker.
    Values(Arc<Vec<RecordBatch>>),
}

/// A plan being built on a worker: the environment and the streams of the subplans built so
/// far, by [`Node::fingerprint`]. A subplan that appears twice (q5 reads `bid` into the same
/// window aggregation on both sides of its join) is built once and its stream read twice,
/// as Flink's sub-plan reuse does: the file is parsed once and the windows folded once.
pub struct Build<'a, 's> {
    /// Where the streams are built.
    pub env: &'a Env<'s>,
    built: std::cell::RefCell<HashMap<String, DataStream<'s, Batch>>>,
    /// The columns of each source the plans read (`None`: all of them).
    read: HashMap<String, Option<Vec<usize>>>,
}

impl<'a, 's> Build<'a, 's> {
    /// Starts building `plans` (one or more, sharing their common subplans) in `env`.
    pub fn new(env: &'a Env<'s>, plans: &[Node]) -> Self {
        let mut read = HashMap::new();
        for plan in plans {
            columns_read(plan, &mut read);
        }
        Build {
            env,
            built: Default::default(),
            read: read
                .into_iter()
                .map(|(name, columns)| (name, columns.map(|c| c.into_iter().collect())))
                .collect(),
        }
    }
}

/// Adds to `read` the columns of each source that `node` reads: a scan's projection, a
/// window TVF's projected input columns and time column when it reads a source directly, and
/// each source's rowtime column; all of them for a scan without projection or of an upsert
/// source (whose reader keys rows by their columns).
fn columns_read(node: &Node, read: &mut HashMap<String, Option<BTreeSet<usize>>>) {
    let mut add = |source: &SourceSpec, columns: Option<Vec<usize>>| {
        let entry = read
            .entry(source.name.clone())
            .or_insert_with(|| Some(BTreeSet::new()));
        match (entry.as_mut(), columns, &source.upserts) {
            (Some(set), Some(columns), None) => {
                set.extend(columns);
                if let Some((rowtime, _)) = &source.rowtime {
                    let used = datafusion::physical_expr::utils::collect_columns(rowtime);
                    set.extend(used.iter().map(|c| c.index()));
                }
            }
            _ => *entry = None,
        }
    };
    match node {
        Node::Scan { source, projection } => add(source, projection.clone()),
        // A window TVF straight over a scan: its columns are the scan's, then the window's;
        // it finds its time column by name.
        Node::Windows {
            input,
            tvf,
            projection: Some(projection),
            ..
        } => match &**input {
            Node::Scan {
                source,
                projection: scanned,
            } => {
                let all: Vec<usize> = (0..source.schema.fields().len()).collect();
                let scanned = scanned.as_ref().unwrap_or(&all);
                let time = source.schema.index_of(&tvf.time_column).ok();
                let columns = projection.iter().filter_map(|i| scanned.get(*i).copied());
                add(source, time.map(|t| columns.chain([t]).collect()));
            }
            _ => columns_read(input, read),
        },
        _ => {
            for input in node.inputs() {
                columns_read(input, read);
            }
        }
    }
}

/// An aggregation: keys (including the window's columns, for a window aggregation) and
/// aggregates.
pub struct Aggregate {
    input: Node,
    keys: Vec<Physical>,
    aggregates: Vec<AggregateSpec>,
    /// Which key gives the window's end, and how; `None` without a window.
    time: Option<WindowTime>,
    /// State time-to-live, ms (without a window).
    ttl: Option<i64>,
    /// The windows are over processing time: they close on the wall clock.
    processing: bool,
    /// The keys' types (for keys kept in Arrow's row format).
    key_types: Vec<DataType>,
    /// Without a window: update each group once per message (mini-batch), not per row.
    mini_batch: bool,
    schema: SchemaRef,
}

/// An equi-join: rows of both sides keyed by their join keys, each row joined with the
/// other side's rows of its key so far. A window join (keys holding a window's end on both
/// sides) drops a window's rows once the watermark passes the window. Outer and anti joins
/// are updating: a row emitted without a partner is taken back when one comes.
pub struct Join {
    left: Node,
    right: Node,
    kind: JoinKind,
    /// Columns of the left and the right rows (for NULL padding).
    widths: (usize, usize),
    left_keys: Vec<Physical>,
    right_keys: Vec<Physical>,
    /// The condition beyond the equalities, over the joined row.
    filter: Option<Physical>,
    /// Which key is the window's end, for a window join.
    window: Option<WindowTime>,
    /// The bounds the condition puts between the sides' times, for an interval join.
    interval: Option<Interval>,
    /// How the right side is read, for a temporal join.
    temporal: Option<TemporalJoin>,
    /// State time-to-live, ms (not for window joins).
    ttl: Option<i64>,
    /// The join keys' types, when both sides' are the same and compare as bytes in Arrow's
    /// row format as their values do, and the rows go through the row format unchanged: an
    /// interval join then keeps its rows per part of the keys (see `interval.rs`).
    key_types: Option<Vec<DataType>>,
    /// A side is an updating result: its rows can be taken back, and so can the pairs
    /// they made ([`PartnerFold`]).
    retracting: bool,
    schema: SchemaRef,
    /// The schema of a left row beside a right row (the condition's input).
    pair_schema: SchemaRef,
}

/// An interval join's time bounds: `lower <= left time - right time <= upper` (ms), over a
/// time attribute of each side (indexes into each side's values). A row is dropped once the
/// watermark shows that no row of the other side can still fall in its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Interval {
    left_time: usize,
    right_time: usize,
    lower: Option<i64>,
    upper: Option<i64>,
}

impl Interval {
    /// When a row of the side `left` with these values can be dropped: once the watermark
    /// reaches this time (`None`: never, or the row has no time).
    fn expiry(&self, values: &[Value], left: bool) -> Option<EventTime> {
        let index = match left {
            true => self.left_time,
            false => self.right_time,
        };
        self.expiry_after(time_of(values, index)?, left)
    }

    /// [`Interval::expiry`] of a row of the side `left` at `time`.
    fn expiry_after(&self, time: EventTime, left: bool) -> Option<EventTime> {
        let bound = match left {
            // Right rows still to come have times above the watermark; this left row at `t`
            // pairs with right times up to `t - lower`.
            true => self.lower.map(|l| -l),
            // This right row at `t` pairs with left times up to `t + upper`.
            false => self.upper,
        };
        Some(time.saturating_add(bound?))
    }

    /// The bounds a join condition sets between a time attribute of each side, if any:
    /// `l.t BETWEEN r.t - INTERVAL .. AND r.t + INTERVAL ..` and comparisons `<`, `<=`, `>`,
    /// `>=` of a column plus or minus an interval on each side.
    fn of(
        filter: &Expr,
        join: &datafusion::logical_expr::Join,
        tables: &dyn Tables,
    ) -> Option<Interval> {
        use datafusion::logical_expr::Operator as Op;
        let left_width = join.left.schema().fields().len();
        let millis = |side: &LogicalPlan, i: usize| {
            matches!(
                side.schema().field(i).data_type(),
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, _)
            ) && time_attribute(side, i, tables)
        };
        let mut interval: Option<Interval> = None;
        for conjunct in datafusion::logical_expr::utils::split_conjunction(filter) {
            let comparisons: Vec<(&Expr, Op, &Expr)> = match conjunct {
                Expr::BinaryExpr(b) => vec![(b.left.as_ref(), b.op, b.right.as_ref())],
                Expr::Between(b) if !b.negated => vec![
                    (b.expr.as_ref(), Op::GtEq, b.low.as_ref()),
                    (b.expr.as_ref(), Op::LtEq, b.high.as_ref()),
                ],
                _ => continue,
            };
            for (a, op, b) in comparisons {
                let (Some((ia, oa)), Some((ib, ob))) = (time_term(a, join), time_term(b, join))
                else {
                    continue;
                };
                // Oriented as `left + ol  op  right + or`.
                let (l, ol, op, r, or) = if ia < left_width && ib >= left_width {
                    (ia, oa, op, ib - left_width, ob)
                } else if ib < left_width && ia >= left_width {
                    let flipped = match op {
                        Op::Lt => Op::Gt,
                        Op::LtEq => Op::GtEq,
                        Op::Gt => Op::Lt,
                        Op::GtEq => Op::LtEq,
                        other => other,
                    };
                    (ib, ob, flipped, ia - left_width, oa)
                } else {
                    continue;
                };
                if !millis(&join.left, l) || !millis(&join.right, r) {
                    continue;
                }
                let bounds = interval.get_or_insert(Interval {
                    left_time: l,
                    right_time: r,
                    lower: None,
                    upper: None,
                });
                if (bounds.left_time, bounds.right_time) != (l, r) {
                    continue;
                }
                // left - right  op  or - ol
                let c = or - ol;
                match op {
                    Op::Lt | Op::LtEq => bounds.upper = Some(bounds.upper.map_or(c, |u| u.min(c))),
                    Op::Gt | Op::GtEq => bounds.lower = Some(bounds.lower.map_or(c, |u| u.max(c))),
                    _ => {}
                }
            }
        }
        interval.filter(|i| i.lower.is_some() || i.upper.is_some())
    }
}

/// A column of a join's output plus or minus a constant interval: (its index, the offset ms).
fn time_term(expr: &Expr, join: &datafusion::logical_expr::Join) -> Option<(usize, i64)> {
    use datafusion::logical_expr::Operator as Op;
    match expr {
        Expr::Column(c) => Some((join.schema.index_of_column(c).ok()?, 0)),
        Expr::Cast(c) => time_term(&c.expr, join),
        Expr::BinaryExpr(b) if matches!(b.op, Op::Plus | Op::Minus) => {
            let (index, offset) = time_term(&b.left, join)?;
            let Expr::Literal(value, _) = b.right.as_ref() else {
                return None;
            };
            let ms = interval_millis(value)?;
            Some((
                index,
                if b.op == Op::Plus {
                    offset + ms
                } else {
                    offset - ms
                },
            ))
        }
        _ => None,
    }
}

/// A table read `FOR SYSTEM_TIME AS OF` a time of the other side of a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemporalTable {
    /// A versioned table (a primary key and a `WATERMARK FOR`): each row joins the version
    /// of its key valid at its time (`left_time`, a column of the probe side; `right_time`,
    /// the table's rowtime).
    Versioned {
        /// The probe side's time column.
        left_time: String,
        /// The versioned table's time column.
        right_time: String,
    },
    /// Any other table: a lookup join, each probe row joined with the table's rows, the
    /// probe rows not kept. A lookup into an unbounded table joins a row with the rows at
    /// hand when it comes; `AS OF` a time of a bounded table waits until the watermark
    /// passes that time (`wait`, the probe side's column, or [`PROCTIME_NOW`] for the row's
    /// stream time), by when the whole table has been read.
    Lookup {
        /// The probe side's time column to wait for.
        wait: Option<String>,
    },
}

/// `wait` of a lookup `AS OF PROCTIME()` itself, rather than of a column.
pub const PROCTIME_NOW: &str = "PROCTIME()";

/// How a temporal join finds a row's partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum TemporalJoin {
    /// Probe rows (the left) are joined with the right rows present and not kept.
    Lookup,
    /// Probe rows wait for the watermark to pass their time (a column, or without one their
    /// event time in the stream), then join all the right rows.
    LookupAt { left_time: Option<usize> },
    /// The right row with the latest time at or before the left row's (column indexes).
    Versioned { left_time: usize, right_time: usize },
}

/// The index of a temporal join's time column `name` (`what`, for the error) in `side`.
fn temporal_column(side: &LogicalPlan, name: &str, what: &str) -> Result<usize> {
    side.schema()
        .fields()
        .iter()
        .position(|f| f.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            RiffleError::Sql(format!(
                "FOR SYSTEM_TIME AS OF: {what} '{name}' is not a column of the join"
            ))
        })
}

/// Whether column `name` of `plan` is computed by `PROCTIME()` (through projections,
/// filters and aliases): a lookup `AS OF` it is a processing-time lookup.
fn proctime_column(plan: &LogicalPlan, name: &str) -> bool {
    let Some(index) = plan
        .schema()
        .fields()
        .iter()
        .position(|f| f.name().eq_ignore_ascii_case(name))
    else {
        return false;
    };
    match plan {
        LogicalPlan::Projection(p) => match p.expr.get(index).map(strip_alias) {
            Some(Expr::ScalarFunction(f)) => f.name().eq_ignore_ascii_case("proctime"),
            Some(Expr::Column(c)) => proctime_column(&p.input, &c.name),
            _ => false,
        },
        LogicalPlan::Filter(f) => proctime_column(&f.input, name),
        LogicalPlan::SubqueryAlias(s) => proctime_column(&s.input, name),
        _ => false,
    }
}

/// The table a plan reads, when it reads one table through projections and filters only.
fn scanned_table(plan: &LogicalPlan) -> Option<String> {
    match plan {
        LogicalPlan::TableScan(scan) => Some(scan.table_name.table().to_string()),
        LogicalPlan::Projection(p) => scanned_table(&p.input),
        LogicalPlan::Filter(f) => scanned_table(&f.input),
        LogicalPlan::SubqueryAlias(s) => scanned_table(&s.input),
        _ => None,
    }
}

/// What a join emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum JoinKind {
    /// Pairs of rows.
    Inner,
    /// Pairs, and rows of an outer side without a partner, padded with NULLs.
    Outer { left: bool, right: bool },
    /// Rows of one side (the left if `left`) that have a partner, each once.
    Semi { left: bool },
    /// Rows of one side that have no partner.
    Anti { left: bool },
}

impl JoinKind {
    fn of(join_type: datafusion::logical_expr::JoinType) -> Option<JoinKind> {
        use datafusion::logical_expr::JoinType as T;
        Some(match join_type {
            T::Inner => JoinKind::Inner,
            T::Left => JoinKind::Outer {
                left: true,
                right: false,
            },
            T::Right => JoinKind::Outer {
                left: false,
                right: true,
            },
            T::Full => JoinKind::Outer {
                left: true,
                right: true,
            },
            T::LeftSemi => JoinKind::Semi { left: true },
            T::RightSemi => JoinKind::Semi { left: false },
            T::LeftAnti => JoinKind::Anti { left: true },
            T::RightAnti => JoinKind::Anti { left: false },
            _ => return None,
        })
    }

    /// Whether the join's result takes rows back.
    fn updating(self) -> bool {
        matches!(self, JoinKind::Outer { .. } | JoinKind::Anti { .. })
    }

    /// Whether a row of this side (the left if `left`) with a NULL key is emitted (it can
    /// never have a partner).
    fn keeps_unmatchable(self, left: bool) -> bool {
        match self {
            JoinKind::Inner | JoinKind::Semi { .. } => false,
            JoinKind::Outer { left: l, right: r } => {
                if left {
                    l
                } else {
                    r
                }
            }
            JoinKind::Anti { left: emitted } => emitted == left,
        }
    }
}

/// Top-N per partition: the rows with the `limit` smallest sort keys, numbered. Over a window
/// TVF's partitions (partition keys holding the window's end) it emits each window's rows
/// once, when the watermark passes the window; otherwise its result is updating: each rank's
/// row changes as better rows come.
pub struct TopN {
    input: Node,
    partition: Vec<Physical>,
    /// Sort keys: expression, ascending, nulls first.
    order: Vec<(Physical, bool, bool)>,
    /// How rows are numbered.
    ranking: Ranking,
    limit: usize,
    window: Option<WindowTime>,
    /// State time-to-live, ms (without a window).
    ttl: Option<i64>,
    schema: SchemaRef,
}

/// How a Top-N numbers its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Ranking {
    /// 1, 2, 3, ...: ties in arrival order.
    RowNumber,
    /// Ties share a rank; the next rank skips them (1, 1, 3).
    Rank,
    /// Ties share a rank; the next rank follows (1, 1, 2).
    Dense,
}

impl Ranking {
    /// The ranks of rows sorted best first (by their sort keys).
    fn ranks(self, keys: &[&[Value]]) -> Vec<usize> {
        let mut ranks = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let tie = i > 0 && keys[i - 1] == *key;
            let rank = match (self, tie) {
                (Ranking::RowNumber, _) | (Ranking::Rank, false) => i + 1,
                (_, true) => ranks[i - 1],
                (Ranking::Dense, false) => ranks.last().map_or(1, |r| r + 1),
            };
            ranks.push(rank);
        }
        ranks
    }
}

/// An OVER aggregation: each row with aggregates over the rows of its partition before it in
/// time (a number of rows, or a time range, or all), emitted in time order once the watermark
/// passes the row's time.
pub struct Over {
    input: Node,
    partition: Vec<Physical>,
    /// The time the rows are ordered by.
    time: Physical,
    aggregates: Vec<AggregateSpec>,
    frame: Frame,
    /// Over an updating input: results change as rows come and go ([`over`]).
    updating: bool,
    /// State time-to-live, ms (over an updating input).
    ttl: Option<i64>,
    schema: SchemaRef,
}

/// Which earlier rows an OVER aggregate sees besides the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Frame {
    /// `ROWS BETWEEN n PRECEDING AND CURRENT ROW`.
    Rows(u64),
    /// `RANGE BETWEEN INTERVAL ... PRECEDING AND CURRENT ROW` (ms); rows of equal time are
    /// peers and see each other.
    Range(i64),
    /// `UNBOUNDED PRECEDING` (RANGE: with peers).
    Unbounded {
        /// RANGE (peers included) rather than ROWS.
        range: bool,
    },
}

/// The column that carries each row's kind in an updating result (Flink's RowKind values).
pub const ROW_KIND: &str = "__op";
/// `+I`, `-U`, `+U`, `-D`, as `ROW_KIND` holds them.
pub const ROW_KINDS: [&str; 4] = ["+I", "-U", "+U", "-D"];

/// `schema` with the row-kind column last.
pub fn with_row_kind(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(datafusion::arrow::datatypes::Field::new(
        ROW_KIND,
        DataType::Int8,
        false,
    ));
    Arc::new(datafusion::arrow::datatypes::Schema::new(fields))
}

/// Where a window aggregation reads the window's end from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum WindowTime {
    /// Key `i` is `window_end`.
    End(usize),
    /// Key `i` is `window_start`; the window is that long.
    Start(usize, i64),
    /// Keys `start` and `end` are a SESSION row's own window, `[ts, ts + gap)`, which merges
    /// with the other sessions of its group.
    Session {
        /// Index of `window_start` among the keys.
        start: usize,
        /// Index of `window_end` among the keys.
        end: usize,
    },
}

impl WindowTime {
    /// The key that fixes the window's end, and how far the end is after that key's value.
    fn end_key(self) -> (usize, i64) {
        match self {
            WindowTime::End(i) | WindowTime::Session { end: i, .. } => (i, 0),
            WindowTime::Start(i, size) => (i, size),
        }
    }

    /// The window's largest timestamp (end - 1), when its timer fires.
    fn fire_at(self, key: &[Value]) -> Option<EventTime> {
        match key.get(self.end_key().0)? {
            Value::Int(v) => Some(self.fire_after(*v)),
            _ => None,
        }
    }

    /// When the timer of the window whose [`end_key`](Self::end_key) is `value` fires.
    fn fire_after(self, value: EventTime) -> EventTime {
        value.saturating_add(self.end_key().1) - 1
    }
}

/// The aggregate functions the streaming runtime computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Function {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    /// A function registered from Rust (or one of DataFusion's others), through its
    /// accumulator ([`crate::udaf`]).
    Udaf,
    /// `LAG(x, n, default)` in an OVER window: `x` of the `n`-th row before, in the
    /// partition's order (computed by the OVER fold, not by an accumulator).
    Lag,
}

struct AggregateSpec {
    function: Function,
    distinct: bool,
    arg: Physical,
    filter: Option<Physical>,
    /// The registered call of a [`Function::Udaf`].
    call: Option<String>,
    /// The offset and default of a [`Function::Lag`].
    lag: Option<(usize, Value)>,
}

/// An aggregate's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Acc {
    Count(i64),
    Sum(Value),
    Min(Value),
    Max(Value),
    Avg(f64, i64),
    Distinct(BTreeSet<Value>),
    /// Over an updating input, whose rows can be taken back: how many times each value is
    /// in (MIN, MAX and DISTINCT aggregates, as Flink's `MinWithRetract` keeps them).
    Counted(BTreeMap<Value, i64>),
    /// SUM over an updating input: the sum and how many values it holds (none: NULL).
    CountedSum(Value, i64),
    /// A registered aggregate call's accumulator state (boxed: the other states are small,
    /// and every group keeps one state per aggregate).
    Udaf(Box<UdafAcc>),
}

/// The state of a registered aggregate call: its name and accumulator.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UdafAcc {
    call: String,
    state: Vec<Value>,
}

impl Acc {
    /// A fresh state of the registered aggregate call `call`.
    fn udaf(call: String) -> Acc {
        Acc::Udaf(Box::new(UdafAcc {
            call,
            state: Vec::new(),
        }))
    }

    fn new(function: Function, distinct: bool, retracting: bool) -> Acc {
        match (function, distinct) {
            (Function::Min | Function::Max, _) | (_, true) if retracting => {
                Acc::Counted(BTreeMap::new())
            }
            (Function::Sum, false) if retracting => Acc::CountedSum(Value::Null, 0),
            (_, true) => Acc::Distinct(BTreeSet::new()),
            (Function::Count, _) => Acc::Count(0),
            (Function::Sum, _) => Acc::Sum(Value::Null),
            (Function::Min, _) => Acc::Min(Value::Null),
            (Function::Max, _) => Acc::Max(Value::Null),
            (Function::Avg, _) => Acc::Avg(0.0, 0),
            // LAG has no accumulator: a placeholder the OVER fold's result replaces.
            (Function::Lag, _) => Acc::Count(0),
            // Made by `Functions::fresh`, which knows the call.
            (Function::Udaf, _) => Acc::udaf(String::new()),
        }
    }

    /// Adds `v` (NULLs are skipped, as SQL's aggregates skip them).
    fn add(&mut self, v: Value) {
        if v.is_null() {
            return;
        }
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Sum(sum) => *sum = add(sum, &v),
            Acc::Min(m) => {
                if m.is_null() || v < *m {
                    *m = v
                }
            }
            Acc::Max(m) => {
                if m.is_null() || v > *m {
                    *m = v
                }
            }
            Acc::Avg(sum, n) => {
                *sum += as_f64(&v);
                *n += 1;
            }
            Acc::Distinct(set) => {
                set.insert(v);
            }
            Acc::Counted(values) => *values.entry(v).or_default() += 1,
            Acc::CountedSum(sum, n) => {
                *sum = add(sum, &v);
                *n += 1;
            }
            Acc::Udaf(u) => crate::udaf::update(&u.call, &mut u.state, &v, false),
        }
    }

    /// Takes back a `v` added before (a `-U` or `-D` row of an updating input). Only the
    /// states made for an updating input (`retracting`) can.
    fn retract(&mut self, v: Value) {
        if v.is_null() {
            return;
        }
        match self {
            Acc::Count(n) => *n -= 1,
            Acc::Avg(sum, n) => {
                *sum -= as_f64(&v);
                *n -= 1;
            }
            Acc::Counted(values) => {
                if let Some(count) = values.get_mut(&v) {
                    *count -= 1;
                    if *count <= 0 {
                        values.remove(&v);
                    }
                }
            }
            Acc::CountedSum(sum, n) => {
                *n -= 1;
                *sum = if *n <= 0 {
                    Value::Null
                } else {
                    subtract(sum, &v)
                };
            }
            Acc::Udaf(u) => crate::udaf::update(&u.call, &mut u.state, &v, true),
            Acc::Sum(_) | Acc::Min(_) | Acc::Max(_) | Acc::Distinct(_) => {}
        }
    }

    /// Folds each of `others` into the state of the same function in `accs`.
    fn merge_all(accs: &mut [Acc], others: Vec<Acc>) {
        for (acc, other) in accs.iter_mut().zip(others) {
            acc.merge(other);
        }
    }

    /// Folds `other` (of the same function) into this one: two sessions become one.
    fn merge(&mut self, other: Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Sum(a), Acc::Sum(b)) => *a = add(a, &b),
            (Acc::Min(a), Acc::Min(b)) if a.is_null() || (!b.is_null() && b < *a) => *a = b,
            (Acc::Max(a), Acc::Max(b)) if a.is_null() || (!b.is_null() && b > *a) => *a = b,
            (Acc::Avg(s, n), Acc::Avg(t, m)) => {
                *s += t;
                *n += m;
            }
            (Acc::Distinct(a), Acc::Distinct(b)) => a.extend(b),
            (Acc::Udaf(u), Acc::Udaf(other)) => {
                crate::udaf::merge(&u.call, &mut u.state, &other.state)
            }
            _ => {}
        }
    }

    fn result(&self, function: Function) -> Value {
        // The aggregate of the distinct values, each once.
        let of_values = |values: &mut dyn Iterator<Item = &Value>| {
            let mut acc = Acc::new(function, false, false);
            values.for_each(|v| acc.add(v.clone()));
            acc.result(function)
        };
        match self {
            Acc::Count(n) => Value::Int(*n),
            Acc::Sum(v) | Acc::Min(v) | Acc::Max(v) | Acc::CountedSum(v, _) => v.clone(),
            Acc::Avg(_, n) if *n <= 0 => Value::Null,
            Acc::Avg(sum, n) => Value::Float(sum / *n as f64),
            Acc::Distinct(set) => of_values(&mut set.iter()),
            Acc::Counted(values) => of_values(&mut values.keys()),
            Acc::Udaf(u) => crate::udaf::result(&u.call, &u.state),
        }
    }
}

/// The aggregate functions of one aggregation (each with its DISTINCT flag): their fresh
/// states, how a row's inputs fold in, and their results. Over an updating input they are
/// `retracting`: their states can take rows back.
#[derive(Debug, Clone)]
struct Functions {
    functions: Vec<(Function, bool)>,
    /// The registered call of each [`Function::Udaf`].
    calls: Vec<Option<String>>,
    /// The offset and default of each [`Function::Lag`].
    lags: Vec<Option<(usize, Value)>>,
    retracting: bool,
}

impl Functions {
    fn of(specs: &[AggregateSpec], retracting: bool) -> Self {
        Functions {
            functions: specs.iter().map(|a| (a.function, a.distinct)).collect(),
            calls: specs.iter().map(|a| a.call.clone()).collect(),
            lags: specs.iter().map(|a| a.lag.clone()).collect(),
            retracting,
        }
    }

    fn fresh(&self) -> Vec<Acc> {
        self.fresh_each().collect()
    }

    /// [`fresh`](Self::fresh)'s states one by one, for a caller that keeps them elsewhere
    /// (a new group's, in its block: a vector per group cost an allocation each).
    fn fresh_each(&self) -> impl Iterator<Item = Acc> + '_ {
        (0..self.functions.len()).map(|a| self.fresh_one(a))
    }

    /// A fresh state of aggregate `a`.
    fn fresh_one(&self, a: usize) -> Acc {
        let (function, distinct) = self.functions[a];
        match &self.calls[a] {
            Some(call) => Acc::udaf(call.clone()),
            None => Acc::new(function, distinct, self.retracting),
        }
    }

    /// Folds one row's inputs (a value per function) into `accs`.
    fn add(accs: &mut [Acc], inputs: impl IntoIterator<Item = Value>) {
        for (acc, value) in accs.iter_mut().zip(inputs) {
            acc.add(value);
        }
    }

    /// Takes one row's inputs back out of `accs`.
    fn retract(accs: &mut [Acc], inputs: impl IntoIterator<Item = Value>) {
        for (acc, value) in accs.iter_mut().zip(inputs) {
            acc.retract(value);
        }
    }

    fn results(&self, accs: &[Acc]) -> Vec<Value> {
        accs.iter()
            .zip(&self.functions)
            .map(|(acc, (f, _))| acc.result(*f))
            .collect()
    }

    /// The results over `rows` (each a row's inputs), folded into fresh states: an OVER
    /// frame's aggregates.
    fn over<'a>(&self, rows: impl IntoIterator<Item = &'a Vec<Value>>) -> Vec<Value> {
        let mut accs = self.fresh();
        for inputs in rows {
            Functions::add(&mut accs, inputs.iter().cloned());
        }
        self.results(&accs)
    }
}

fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Null, v) => v.clone(),
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
        (Value::UInt(x), Value::UInt(y)) => Value::UInt(x.wrapping_add(*y)),
        (x, y) => Value::Float(as_f64(x) + as_f64(y)),
    }
}

fn subtract(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_sub(*y)),
        (Value::UInt(x), Value::UInt(y)) => Value::UInt(x.wrapping_sub(*y)),
        (x, y) => Value::Float(as_f64(x) - as_f64(y)),
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(x) => *x as f64,
        Value::UInt(x) => *x as f64,
        Value::Float(x) => *x,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Null | Value::Str(_) => f64::NAN,
    }
}

/// The condition under which a row of a null-aware anti join (`x NOT IN (SELECT y ...)`)
/// has a partner: `x = y OR x IS NULL OR y IS NULL`; `None` for other joins. A correlated
/// one is a plain anti join with a condition by now (it was planned as NOT EXISTS:
/// `not_in.rs`).
fn null_aware(join: &datafusion::logical_expr::Join) -> Result<Option<Expr>> {
    if !join.null_aware {
        return Ok(None);
    }
    match (join.on.as_slice(), &join.filter) {
        ([(x, y)], None) => Ok(Some(crate::not_in::null_aware_partner(x, y))),
        _ => Err(RiffleError::Sql(
            "NOT IN over a subquery with more than one column (a null-aware anti join of \
             several keys) is not supported in streaming mode yet: NOT EXISTS (...) is, or \
             run it in batch mode"
                .into(),
        )),
    }
}

/// What the runtime cannot run yet, said plainly.
fn unsupported(what: &str) -> RiffleError {
    RiffleError::Sql(format!(
        "{what} is not supported in streaming mode yet; for bounded tables run it in batch \
         mode (SET 'execution.runtime-mode' = 'batch')"
    ))
}

/// SESSION rows read other than by a session aggregation.
pub fn sessions_unaggregated() -> RiffleError {
    unsupported(
        "reading SESSION window rows other than through GROUP BY window_start, window_end \
         (a session window aggregation)",
    )
}

/// What the planner needs to know about the tables a plan reads.
pub trait Tables {
    /// The source of the table DataFusion scans under `name`, if it is a catalog table.
    fn source(&self, name: &str) -> Result<Option<SourceSpec>>;
    /// The column of table `name` that its `WATERMARK FOR` makes its event time.
    fn rowtime(&self, name: &str) -> Option<String>;
    /// How table `name` is read when a query names it `FOR SYSTEM_TIME AS OF` a time.
    fn temporal(&self, name: &str) -> Option<TemporalTable>;
    /// How long a key's state lives without being read or written (Flink's
    /// `table.exec.state.ttl`, ms), for operators whose state nothing else bounds.
    fn state_ttl(&self) -> Result<Option<i64>>;
    /// Whether a GROUP BY updates each group once per message rather than once per row
    /// (Flink's `table.exec.mini-batch.enabled`).
    fn mini_batch(&self) -> Result<bool>;
    /// The window TVF the generated table `name` stands for, and its rows' schema.
    fn window(&self, name: &str) -> Option<(WindowTvf, SchemaRef)>;
    /// The plan of a window TVF's input (`SELECT * FROM` its table).
    fn window_input(&self, tvf: &WindowTvf) -> Result<Node>;
}

/// Column lineage: whether output column `index` of `plan` is a window TVF's
/// `window_start` or `window_end`, passed through unchanged.
fn window_column(
    plan: &LogicalPlan,
    index: usize,
    tables: &dyn Tables,
) -> Option<(String, WindowTvf)> {
    match plan {
        LogicalPlan::Projection(p) => match strip_alias(p.expr.get(index)?) {
            Expr::Column(c) => {
                let i = p.input.schema().index_of_column(c).ok()?;
                window_column(&p.input, i, tables)
            }
            _ => None,
        },
        LogicalPlan::Filter(f) => window_column(&f.input, index, tables),
        LogicalPlan::SubqueryAlias(s) => window_column(&s.input, index, tables),
        // A window aggregation's result keeps its window columns (cascaded windows).
        LogicalPlan::Aggregate(a) => match strip_alias(a.group_expr.get(index)?) {
            Expr::Column(c) => {
                let i = a.input.schema().index_of_column(c).ok()?;
                window_column(&a.input, i, tables)
            }
            _ => None,
        },
        LogicalPlan::TableScan(scan) => {
            let (tvf, schema) = tables.window(scan.table_name.table())?;
            let source_index = match &scan.projection {
                Some(p) => *p.get(index)?,
                None => index,
            };
            let name = schema.field(source_index).name().clone();
            (name == "window_start" || name == "window_end").then_some((name, tvf))
        }
        _ => None,
    }
}

/// Column lineage: whether output column `index` of `plan` is a time attribute, a column whose
/// value in every row that is not late exceeds the watermark under which the row arrives: a
/// table's `WATERMARK FOR` column (also through a window TVF), or a window aggregation's
/// `window_end`, passed through unchanged.
fn time_attribute(plan: &LogicalPlan, index: usize, tables: &dyn Tables) -> bool {
    let through = |input: &LogicalPlan, expr: Option<&Expr>| match expr.map(strip_alias) {
        Some(Expr::Column(c)) => input
            .schema()
            .index_of_column(c)
            .is_ok_and(|i| time_attribute(input, i, tables)),
        _ => false,
    };
    match plan {
        LogicalPlan::Projection(p) => through(&p.input, p.expr.get(index)),
        LogicalPlan::Filter(f) => time_attribute(&f.input, index, tables),
        LogicalPlan::SubqueryAlias(s) => time_attribute(&s.input, index, tables),
        LogicalPlan::Aggregate(a) => {
            matches!(
                window_column(plan, index, tables),
                Some((name, _)) if name == "window_end"
            ) && a.group_expr.len() > index
        }
        LogicalPlan::TableScan(scan) => {
            let name = scan.table_name.table();
            let source_index = match &scan.projection {
                Some(p) => match p.get(index) {
                    Some(i) => *i,
                    None => return false,
                },
                None => index,
            };
            if let Some((tvf, schema)) = tables.window(name) {
                let field = schema.field(source_index).name();
                return *field == tvf.time_column;
            }
            let Some(rowtime) = tables.rowtime(name) else {
                return false;
            };
            let schema = scan.source.schema();
            schema
                .fields()
                .get(source_index)
                .is_some_and(|f| f.name().eq_ignore_ascii_case(&rowtime))
        }
        _ => false,
    }
}

/// [`window_column`] of an expression over `plan`'s output: only a plain column has one.
fn expr_window(
    expr: &Expr,
    plan: &LogicalPlan,
    tables: &dyn Tables,
) -> Option<(String, WindowTvf)> {
    match expr {
        Expr::Column(c) => plan
            .schema()
            .index_of_column(c)
            .ok()
            .and_then(|i| window_column(plan, i, tables)),
        _ => None,
    }
}

/// The window a list of keys fixes, given each key's window lineage: a `window_end` key, or
/// else the `window_start` of a window whose length is known (TUMBLE, HOP).
fn keys_window(
    lineages: impl IntoIterator<Item = Option<(String, WindowTvf)>>,
) -> Option<WindowTime> {
    let mut start = None;
    for (i, lineage) in lineages.into_iter().enumerate() {
        match lineage {
            Some((name, _)) if name == "window_end" => return Some(WindowTime::End(i)),
            Some((_, tvf)) if start.is_none() => {
                start = tvf
                    .kind
                    .size_from_start()
                    .map(|size| WindowTime::Start(i, size));
            }
            _ => {}
        }
    }
    start
}

/// Whether output column `index` of `plan` comes unchanged from a SESSION TVF's rows, whose
/// window columns are a row's own session before sessions merge (a session aggregation
/// settles them).
fn raw_session(plan: &LogicalPlan, index: usize, tables: &dyn Tables) -> bool {
    match plan {
        LogicalPlan::Projection(p) => match p.expr.get(index).map(strip_alias) {
            Some(Expr::Column(c)) => p
                .input
                .schema()
                .index_of_column(c)
                .is_ok_and(|i| raw_session(&p.input, i, tables)),
            _ => false,
        },
        LogicalPlan::Filter(f) => raw_session(&f.input, index, tables),
        LogicalPlan::SubqueryAlias(s) => raw_session(&s.input, index, tables),
        LogicalPlan::TableScan(scan) => matches!(
            tables.window(scan.table_name.table()),
            Some((tvf, _)) if matches!(tvf.kind, WindowKind::Session { .. })
        ),
        _ => false,
    }
}

fn strip_alias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(a) => strip_alias(&a.expr),
        other => other,
    }
}

impl Node {
    /// The streaming plan of DataFusion's (optimised) logical `plan`.
    pub fn from_plan(
        plan: &LogicalPlan,
        state: &SessionState,
        tables: &dyn Tables,
    ) -> Result<Node> {
        let physical = |expr: &Expr, input: &LogicalPlan| -> Result<Physical> {
            state
                .create_physical_expr(expr.clone(), input.schema())
                .map_err(|e| RiffleError::Sql(e.to_string()))
        };
        if let Some(lifted) = scalar::lift_scalar_subqueries(plan)? {
            return Node::from_plan(&lifted, state, tables);
        }
        Ok(match plan {
            LogicalPlan::Projection(p) => Node::Project {
                input: Box::new(Node::from_plan(&p.input, state, tables)?),
                exprs: p
                    .expr
                    .iter()
                    .map(|e| physical(e, &p.input))
                    .collect::<Result<_>>()?,
                schema: Arc::new(p.schema.as_arrow().clone()),
            },
            LogicalPlan::Filter(f) => match top_n(f, state, tables)? {
                Some(node) => node,
                None => Node::Filter {
                    input: Box::new(Node::from_plan(&f.input, state, tables)?),
                    predicate: physical(&f.predicate, &f.input)?,
                },
            },
            LogicalPlan::SubqueryAlias(s) => Node::from_plan(&s.input, state, tables)?,
            LogicalPlan::Union(u) => {
                let inputs: Vec<Node> = u
                    .inputs
                    .iter()
                    .map(|i| Node::from_plan(i, state, tables))
                    .collect::<Result<_>>()?;
                // An append-only input of an updating union has its rows inserted (+I).
                Node::Union(inputs)
            }
            LogicalPlan::TableScan(scan) => {
                if scan.fetch.is_some() || !scan.filters.is_empty() {
                    return Err(unsupported("LIMIT"));
                }
                let name = scan.table_name.table();
                if let Some((tvf, schema)) = tables.window(name) {
                    let input = tables.window_input(&tvf)?;
                    if input.updating() {
                        return Err(RiffleError::Sql(format!(
                            "a window TVF over table '{}': an upsert-kafka table is a \
                             changelog, and windows take appended rows",
                            tvf.table
                        )));
                    }
                    Node::Windows {
                        input: Box::new(input),
                        tvf,
                        schema,
                        projection: scan.projection.clone(),
                    }
                } else if let Some(source) = tables.source(name)? {
                    Node::Scan {
                        source,
                        projection: scan.projection.clone(),
                    }
                } else {
                    return Err(RiffleError::Sql(format!(
                        "table '{name}' cannot be read in streaming mode"
                    )));
                }
            }
            LogicalPlan::Aggregate(a) => {
                let mut end = None;
                let mut start = None;
                let mut session = false;
                let mut processing = false;
                for (i, key) in a.group_expr.iter().enumerate() {
                    if matches!(key, Expr::GroupingSet(_)) {
                        return Err(unsupported("GROUPING SETS, CUBE and ROLLUP"));
                    }
                    let Expr::Column(c) = key else {
                        continue;
                    };
                    let Ok(index) = a.input.schema().index_of_column(c) else {
                        continue;
                    };
                    session |= raw_session(&a.input, index, tables);
                    let column = window_column(&a.input, index, tables);
                    processing |= column.as_ref().is_some_and(|(_, t)| t.processing_time);
                    match column {
                        Some((name, _)) if name == "window_end" => end = Some(i),
                        Some((_, tvf)) => start = Some((i, tvf)),
                        None => {}
                    }
                }
                let time = match (end, start) {
                    (Some(end), Some((start, _))) if session => {
                        Some(WindowTime::Session { start, end })
                    }
                    _ if session => {
                        return Err(RiffleError::Sql(
                            "a SESSION window aggregation must group by window_start and \
                             window_end"
                                .into(),
                        ))
                    }
                    (Some(i), _) => Some(WindowTime::End(i)),
                    (None, Some((i, tvf))) => match tvf.kind.size_from_start() {
                        Some(size) => Some(WindowTime::Start(i, size)),
                        None => {
                            return Err(RiffleError::Sql(
                                "a CUMULATE or SESSION window aggregation must group by \
                                 window_end (window_start alone does not fix the window)"
                                    .into(),
                            ))
                        }
                    },
                    (None, None) => None,
                };
                let input = Node::from_plan(&a.input, state, tables)?;
                if input.updating() && time.is_some() {
                    return Err(unsupported("a window aggregation of an updating result"));
                }
                let keys: Vec<Physical> = a
                    .group_expr
                    .iter()
                    .map(|e| physical(e, &a.input))
                    .collect::<Result<_>>()?;
                let key_types = keys
                    .iter()
                    .map(|k| k.data_type(a.input.schema().as_arrow()))
                    .collect::<datafusion::error::Result<Vec<_>>>()
                    .map_err(|e| RiffleError::Sql(e.to_string()))?;
                let output = a.schema.as_arrow();
                let mut aggregates = Vec::new();
                for expr in &a.aggr_expr {
                    let Expr::AggregateFunction(f) = strip_alias(expr) else {
                        return Err(unsupported(&format!("the aggregate {expr}")));
                    };
                    let name = f.func.name().to_lowercase();
                    let known = aggregate_function(&name);
                    if !f.params.order_by.is_empty() {
                        return Err(unsupported(
                            "an ordered aggregate (WITHIN GROUP / ORDER BY)",
                        ));
                    }
                    let [arg] = f.params.args.as_slice() else {
                        return Err(unsupported(&format!(
                            "{} over {} arguments",
                            name.to_uppercase(),
                            f.params.args.len()
                        )));
                    };
                    let arg_expr = physical(arg, &a.input)?;
                    // Others than COUNT/SUM/MIN/MAX/AVG run through their accumulators.
                    let (function, call) = match known {
                        Ok(function) => (function, None),
                        Err(_) => {
                            let input = Arc::new(a.input.schema().as_arrow().clone());
                            let call = crate::udaf::Udaf::new(
                                Arc::clone(&f.func),
                                input,
                                Arc::clone(&arg_expr),
                                f.params.distinct,
                            )?;
                            (Function::Udaf, Some(call.register()))
                        }
                    };
                    aggregates.push(AggregateSpec {
                        function,
                        call,
                        lag: None,
                        distinct: f.params.distinct,
                        arg: arg_expr,
                        filter: match &f.params.filter {
                            Some(filter) => Some(physical(filter, &a.input)?),
                            None => None,
                        },
                    });
                }
                Node::Aggregate(Box::new(Aggregate {
                    input,
                    keys,
                    aggregates,
                    processing: processing && time.is_some(),
                    ttl: if time.is_none() {
                        tables.state_ttl()?
                    } else {
                        None
                    },
                    mini_batch: time.is_none() && tables.mini_batch()?,
                    time,
                    key_types,
                    schema: Arc::new(output.clone()),
                }))
            }
            LogicalPlan::Sort(_) => return Err(unsupported("ORDER BY")),
            LogicalPlan::Limit(_) => return Err(unsupported("LIMIT")),
            LogicalPlan::Join(j) => {
                let Some(kind) = JoinKind::of(j.join_type) else {
                    return Err(unsupported(&format!(
                        "a {} join",
                        j.join_type.to_string().to_uppercase()
                    )));
                };
                // `x NOT IN (SELECT y ...)`: a row of x has a partner wherever x = y, x is
                // NULL or y is NULL (Flink's rewrite): no row of x is kept once a NULL y is
                // seen, and a NULL x is kept only while the subquery has no row. That is a
                // condition, not a key, so every row meets on one worker.
                let (on, condition) = match null_aware(j)? {
                    Some(condition) => (Vec::new(), Some(condition)),
                    None => (j.on.clone(), j.filter.clone()),
                };
                // A semi or anti join on a condition alone (a correlated NOT IN or EXISTS
                // without an equality) meets on one worker, as the null-aware join does.
                let conditional = matches!(kind, JoinKind::Semi { .. } | JoinKind::Anti { .. })
                    && condition.is_some();
                // A lifted scalar subquery's one row meets every row, on one worker.
                let scalar = scalar::lifted_side(&j.right);
                if on.is_empty() && !conditional && !scalar {
                    return Err(unsupported("a join without an equality of the two sides"));
                }
                let left = Node::from_plan(&j.left, state, tables)?;
                let right = Node::from_plan(&j.right, state, tables)?;
                // A regular join takes updating results (Flink's retracting join); window,
                // interval and temporal joins need appended rows.
                let retracting = left.updating() || right.updating();
                if left.raw_sessions() || right.raw_sessions() {
                    return Err(sessions_unaggregated());
                }
                let mut left_keys = Vec::new();
                let mut right_keys = Vec::new();
                let mut lineages = Vec::new();
                for (l, r) in &on {
                    left_keys.push(physical(l, &j.left)?);
                    right_keys.push(physical(r, &j.right)?);
                    // A window join: both sides' keys hold the same window column.
                    lineages.push(
                        match (
                            expr_window(l, &j.left, tables),
                            expr_window(r, &j.right, tables),
                        ) {
                            (Some(left), Some((right, _))) if left.0 == right => Some(left),
                            _ => None,
                        },
                    );
                }
                let window = keys_window(lineages);
                // The condition beyond the equalities, over a left row beside a right row (a
                // semi or anti join's own rows are the left's or the right's alone).
                let pairs = j
                    .left
                    .schema()
                    .join(j.right.schema())
                    .map_err(|e| RiffleError::Sql(e.to_string()))?;
                let filter = match &condition {
                    Some(f) => Some(
                        state
                            .create_physical_expr(f.clone(), &pairs)
                            .map_err(|e| RiffleError::Sql(e.to_string()))?,
                    ),
                    None => None,
                };
                let temporal = match scanned_table(&j.right).and_then(|t| tables.temporal(&t)) {
                    None => None,
                    Some(_) if window.is_some() => {
                        return Err(unsupported("a temporal join of window rows"))
                    }
                    Some(_)
                        if !matches!(
                            kind,
                            JoinKind::Inner
                                | JoinKind::Outer {
                                    left: true,
                                    right: false
                                }
                        ) =>
                    {
                        return Err(unsupported(
                            "a temporal join other than an inner or LEFT one",
                        ))
                    }
                    Some(TemporalTable::Lookup { wait: None }) => Some(TemporalJoin::Lookup),
                    // AS OF a processing time, of a table read whole: probe rows wait for
                    // their event time in the stream (Flink loads such a table before the
                    // first lookup).
                    Some(TemporalTable::Lookup { wait: Some(time) })
                        if time == PROCTIME_NOW || proctime_column(&j.left, &time) =>
                    {
                        Some(TemporalJoin::LookupAt { left_time: None })
                    }
                    Some(TemporalTable::Lookup { wait: Some(time) }) => {
                        Some(TemporalJoin::LookupAt {
                            left_time: Some(temporal_column(&j.left, &time, "the time")?),
                        })
                    }
                    Some(TemporalTable::Versioned {
                        left_time,
                        right_time,
                    }) => Some(TemporalJoin::Versioned {
                        left_time: temporal_column(&j.left, &left_time, "the time")?,
                        right_time: temporal_column(&j.right, &right_time, "the versioned time")?,
                    }),
                };
                if retracting && (window.is_some() || temporal.is_some()) {
                    return Err(unsupported(&format!(
                        "a {} join of an updating result (a regular join takes one)",
                        if window.is_some() {
                            "window"
                        } else {
                            "temporal"
                        }
                    )));
                }
                // Over an updating result, time bounds are a condition like any other.
                let interval = match (&j.filter, kind, window, temporal) {
                    (Some(f), JoinKind::Inner, None, None) if !retracting => {
                        Interval::of(f, j, tables)
                    }
                    _ => None,
                };
                let types = |keys: &[Physical], side: &LogicalPlan| {
                    keys.iter()
                        .map(|k| k.data_type(side.schema().as_arrow()))
                        .collect::<datafusion::error::Result<Vec<_>>>()
                        .map_err(|e| RiffleError::Sql(e.to_string()))
                };
                let left_types = types(&left_keys, &j.left)?;
                let columns: Vec<DataType> = (j.schema.fields().iter())
                    .map(|f| f.data_type().clone())
                    .collect();
                let key_types = (left_types == types(&right_keys, &j.right)?
                    && left_types.iter().all(interval::keyed_as_bytes)
                    && interval::rows_round_trip(&columns))
                .then_some(left_types);
                Node::Join(Box::new(Join {
                    pair_schema: Arc::new(pairs.as_arrow().clone()),
                    left,
                    right,
                    kind,
                    widths: (
                        j.left.schema().fields().len(),
                        j.right.schema().fields().len(),
                    ),
                    left_keys,
                    right_keys,
                    filter,
                    ttl: if window.is_none() {
                        tables.state_ttl()?
                    } else {
                        None
                    },
                    window,
                    interval,
                    temporal,
                    key_types: key_types.filter(|_| !retracting),
                    retracting,
                    schema: Arc::new(j.schema.as_arrow().clone()),
                }))
            }
            LogicalPlan::Window(w) => over(w, state, tables)?,
            LogicalPlan::Distinct(_) => return Err(unsupported("SELECT DISTINCT")),
            other => {
                return Err(unsupported(&format!(
                    "the plan step {}",
                    other.display().to_string().split(':').next().unwrap_or("?")
                )))
            }
        })
    }

    /// The operators of this plan, one per line, inputs indented below.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        self.describe_into(0, &mut out);
        out
    }

    fn describe_into(&self, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        out.push_str(&format!("{pad}{}\n", self.line()));
        for input in self.inputs() {
            input.describe_into(depth + 1, out);
        }
    }

    /// The operators this one reads, in order.
    fn inputs(&self) -> Vec<&Node> {
        match self {
            Node::Scan { .. } | Node::Values(_) => Vec::new(),
            Node::Windows { input, .. }
            | Node::Project { input, .. }
            | Node::Filter { input, .. } => vec![input],
            Node::Aggregate(a) => vec![&a.input],
            Node::TopN(t) => vec![&t.input],
            Node::Over(o) => vec![&o.input],
            Node::Join(j) => vec![&j.left, &j.right],
            Node::Union(inputs) => inputs.iter().collect(),
        }
    }

    /// What identifies this subplan for reuse: its operators with all their parameters, or
    /// `None` where it holds an operator that is never shared (joins, Top-N, OVER, unions and
    /// literal rows; rarely there twice).
    fn fingerprint(&self) -> Option<String> {
        let (own, input) = match self {
            Node::Scan { .. } => (String::new(), None),
            Node::Windows {
                input,
                tvf,
                schema,
                projection,
            } => {
                // The call's generated name differs between two calls of the same TVF.
                let call = WindowTvf {
                    name: String::new(),
                    ..tvf.clone()
                };
                (
                    format!("{call:?} {projection:?} {schema:?}"),
                    Some(&**input),
                )
            }
            Node::Project { input, schema, .. } => (format!("{schema:?}"), Some(&**input)),
            Node::Filter { input, .. } => (String::new(), Some(&**input)),
            Node::Aggregate(a) => (
                format!(
                    "{:?} {:?} {} {} {:?} {:?}",
                    a.time,
                    a.ttl,
                    a.processing,
                    a.mini_batch,
                    a.aggregates
                        .iter()
                        .map(|g| (g.filter.as_ref().map(|f| f.to_string()), &g.call))
                        .collect::<Vec<_>>(),
                    a.schema
                ),
                Some(&a.input),
            ),
            _ => return None,
        };
        let input = match input {
            Some(input) => input.fingerprint()?,
            None => String::new(),
        };
        Some(format!("{} | {own}\n{input}", self.line()))
    }

    /// This operator, on one line.
    fn line(&self) -> String {
        match self {
            Node::Scan { source, projection } => format!(
                "Source {}{} ({}){}",
                source.name,
                match &source.upserts {
                    Some(u) => format!(" as a changelog keyed by columns {:?}", u.keys),
                    None => String::new(),
                },
                match &source.rowtime {
                    Some((_, delay)) if source.reader_watermarks => {
                        format!("the generator's watermarks, declared delay {delay} ms")
                    }
                    Some((_, delay)) => format!("watermark {delay} ms behind the largest time"),
                    None => "no event time".into(),
                },
                match projection {
                    Some(p) => format!(", columns {p:?}"),
                    None => String::new(),
                }
            ),
            Node::Windows { tvf, .. } => format!(
                "Windows {:?} of {} on {} (offset {} ms)",
                tvf.kind, tvf.table, tvf.time_column, tvf.offset
            ),
            Node::Project { exprs, .. } => format!(
                "Project [{}]",
                exprs
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Node::Filter { predicate, .. } => format!("Filter {predicate}"),
            Node::Aggregate(a) => format!(
                "{} keyed by [{}]: {}",
                match (a.time, a.slicing()) {
                    (Some(_), Some(slicing)) => format!(
                        "WindowAggregate (fires on the watermark; folded by slices of {} ms)",
                        slicing.slide()
                    ),
                    (Some(_), None) => "WindowAggregate (fires on the watermark)".into(),
                    (None, _) if a.mini_batch => {
                        "GroupAggregate (changelog, an update per message)".into()
                    }
                    (None, _) => "GroupAggregate (changelog)".into(),
                },
                a.keys
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                a.aggregates
                    .iter()
                    .map(|g| format!(
                        "{:?}{}({}){}",
                        g.function,
                        if g.distinct { " DISTINCT" } else { "" },
                        g.arg,
                        if g.filter.is_some() { " FILTER" } else { "" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Node::Join(j) => format!(
                "{} on [{}] = [{}]{}",
                match (j.window.is_some(), j.kind) {
                    (_, _) if j.temporal == Some(TemporalJoin::Lookup) => {
                        "LookupJoin (the right side's rows at hand; left rows not kept)".to_string()
                    }
                    (_, _) if matches!(j.temporal, Some(TemporalJoin::LookupAt { .. })) => {
                        "LookupJoin (left rows wait for the watermark, then join the right rows)"
                            .to_string()
                    }
                    (_, _) if j.temporal.is_some() => {
                        "TemporalJoin (each left row with the right version valid at its time)"
                            .to_string()
                    }
                    (true, _) => "WindowJoin (state dropped at the window's end)".to_string(),
                    (false, JoinKind::Inner) if j.interval.is_some() => {
                        let i = j.interval.unwrap_or(Interval {
                            left_time: 0,
                            right_time: 0,
                            lower: None,
                            upper: None,
                        });
                        let bound =
                            |b: Option<i64>| b.map_or("any".to_string(), |b| format!("{b} ms"));
                        format!(
                            "IntervalJoin ({} <= left time - right time <= {}; rows dropped \
                             as the watermark passes their range)",
                            bound(i.lower),
                            bound(i.upper)
                        )
                    }
                    (false, JoinKind::Inner) => "Join (state kept)".to_string(),
                    (false, kind) => format!("{kind:?}Join (state kept, updating)"),
                },
                j.left_keys
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                j.right_keys
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                match &j.filter {
                    Some(f) => format!(" where {f}"),
                    None => String::new(),
                }
            ),
            Node::TopN(t) => format!(
                "{} of {} per [{}] by [{}]",
                if t.window.is_some() {
                    "WindowTopN (fires on the watermark)"
                } else {
                    "TopN (changelog)"
                },
                t.limit,
                t.partition
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                t.order
                    .iter()
                    .map(|(e, asc, _)| format!("{e} {}", if *asc { "ASC" } else { "DESC" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Node::Over(o) => format!(
                "Over{} {:?} per [{}] by {}: {}",
                if o.updating { " (changelog)" } else { "" },
                o.frame,
                o.partition
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                o.time,
                o.aggregates
                    .iter()
                    .map(|g| format!("{:?}({})", g.function, g.arg))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Node::Union(_) => "Union".into(),
            Node::Values(b) => format!("Values ({} batches)", b.len()),
        }
    }

    /// Whether this plan's rows are a SESSION TVF's rows with their own, unmerged session as
    /// window (only a session aggregation can take them).
    pub fn raw_sessions(&self) -> bool {
        match self {
            Node::Windows { tvf, .. } => matches!(tvf.kind, WindowKind::Session { .. }),
            Node::Scan { .. } | Node::Values(_) | Node::Aggregate(_) => false,
            Node::Project { input, .. } | Node::Filter { input, .. } => input.raw_sessions(),
            Node::TopN(t) => t.input.raw_sessions(),
            Node::Over(o) => o.input.raw_sessions(),
            Node::Join(j) => j.left.raw_sessions() || j.right.raw_sessions(),
            Node::Union(inputs) => inputs.iter().any(Node::raw_sessions),
        }
    }

    /// Whether this plan's result is updating (a changelog whose batches carry the row kind
    /// in their last column, [`ROW_KIND`]).
    pub fn updating(&self) -> bool {
        match self {
            Node::Scan { source, .. } => source.upserts.is_some(),
            Node::Windows { .. } | Node::Values(_) => false,
            Node::Project { input, .. } | Node::Filter { input, .. } => input.updating(),
            // A temporal join decides each row once, at the watermark: appended rows.
            // A window join emits its rows without partners when the window is over.
            Node::Join(j) => {
                j.retracting || (j.temporal.is_none() && j.window.is_none() && j.kind.updating())
            }
            Node::TopN(t) => t.window.is_none(),
            Node::Over(o) => o.updating,
            Node::Aggregate(a) => a.time.is_none(),
            Node::Union(inputs) => inputs.iter().any(Node::updating),
        }
    }

    /// Builds this plan on a worker: a stream of batches. A subplan built before in `plan`
    /// (the same operators over the same input) is not built again: its stream is read twice.
    pub fn build<'s>(&self, plan: &Build<'_, 's>) -> Result<DataStream<'s, Batch>> {
        let reuse = self.fingerprint();
        if let Some(stream) = reuse
            .as_ref()
            .and_then(|f| plan.built.borrow().get(f).cloned())
        {
            return Ok(stream);
        }
        let stream = self.build_new(plan)?;
        if let Some(f) = reuse {
            plan.built.borrow_mut().insert(f, stream.clone());
        }
        Ok(stream)
    }

    fn build_new<'s>(&self, plan: &Build<'_, 's>) -> Result<DataStream<'s, Batch>> {
        let env = plan.env;
        let guard = guard_of(env);
        Ok(match self {
            Node::Scan { source, projection } => match projection.clone() {
                // Scans of a table share one reader, whatever columns each keeps (the
                // reader parses the union of them all, see `columns_read`).
                Some(mut columns) => {
                    if let Some(upserts) = &source.upserts {
                        // The row kind, last.
                        columns.push(upserts.schema.fields().len() - 1);
                    }
                    Node::Scan {
                        source: source.clone(),
                        projection: None,
                    }
                    .build(plan)?
                    .flat_map(move |b| guard(project(&b, &columns)))
                }
                None => {
                    let columns = plan.read.get(&source.name).and_then(|c| c.as_deref());
                    match &source.upserts {
                        Some(upserts) => normalize(scan(env, source, None)?, upserts, guard),
                        None => scan(env, source, columns)?,
                    }
                }
            },
            Node::Windows {
                input,
                tvf,
                schema,
                projection,
            } => windows(
                input.build(plan)?,
                tvf.clone(),
                Arc::clone(schema),
                projection.clone(),
                guard,
            ),
            Node::Project {
                input,
                exprs,
                schema,
            } => {
                // An updating input's row kinds pass through, last.
                let updating = input.updating();
                let schema = if updating {
                    with_row_kind(schema)
                } else {
                    Arc::clone(schema)
                };
                let exprs = exprs.clone();
                map_batches(input.build(plan)?, "sql.project", move |b| {
                    let columns = exprs
                        .iter()
                        .map(|e| evaluate(e, &b))
                        .collect::<Result<Vec<_>>>()
                        .map(|mut columns| {
                            if updating {
                                columns.push(Arc::clone(b.column(b.num_columns() - 1)));
                            }
                            columns
                        });
                    guard(columns.and_then(|c| {
                        let options = datafusion::arrow::array::RecordBatchOptions::new()
                            .with_row_count(Some(b.num_rows()));
                        RecordBatch::try_new_with_options(Arc::clone(&schema), c, &options)
                            .map_err(arrow_error)
                    }))
                })
            }
            Node::Filter { input, predicate } => {
                let predicate = Arc::clone(predicate);
                map_batches(input.build(plan)?, "sql.filter", move |b| {
                    guard(evaluate(&predicate, &b).and_then(|mask| {
                        let mask = mask
                            .as_any()
                            .downcast_ref::<BooleanArray>()
                            .ok_or_else(|| RiffleError::Sql("WHERE needs a BOOLEAN".into()))?;
                        filter_record_batch(&b, mask).map_err(arrow_error)
                    }))
                })
            }
            Node::Union(inputs) => {
                let updating = self.updating();
                let mut streams = inputs.iter().map(|i| {
                    let stream = i.build(plan)?;
                    Ok::<_, RiffleError>(match updating && !i.updating() {
                        true => {
                            let guard = guard.clone();
                            map_batches(stream, "sql.union_inserts", move |b| guard(inserted(&b.0)))
                        }
                        false => stream,
                    })
                });
                let first = streams
                    .next()
                    .ok_or_else(|| RiffleError::Sql("UNION of nothing".into()))??;
                streams.try_fold(first, |acc, s| Ok::<_, RiffleError>(acc.union(s?)))?
            }
            Node::Aggregate(a) => a.build(plan, guard)?,
            Node::Join(j) => j.build(plan, guard)?,
            Node::TopN(t) => t.build(plan, guard)?,
            Node::Over(o) => o.build(plan, guard)?,
            Node::Values(batches) => {
                let batches: Vec<Batch> = batches.iter().cloned().map(Batch).collect();
                env.from_iter(batches, WatermarkStrategy::none())
            }
        })
    }
}

/// A watermark that says something about event time: none for the far-past ticks of a
/// source without event time (or before the first watermark).
fn known(watermark: EventTime) -> Option<EventTime> {
    (watermark > EventTime::MIN / 2).then_some(watermark)
}

/// `f` over each batch of `stream`, with `CURRENT_WATERMARK` reading the watermark the batch
/// travels under (none below the far-past ticks of a source without event time).
fn map_batches<'s>(
    stream: DataStream<'s, Batch>,
    name: &str,
    mut f: impl FnMut(Batch) -> Option<Batch> + 'static,
) -> DataStream<'s, Batch> {
    stream.map_chunks_with_watermark(name, move |watermark, batches, out| {
        crate::functions::with_watermark(known(watermark), || {
            for (ts, batch) in batches.drain(..) {
                if let Some(batch) = f(batch) {
                    out.push((ts, batch));
                }
            }
        });
    })
}

/// Appended rows as an updating result's: each an insert (`+I`).
fn inserted(batch: &RecordBatch) -> Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(Int8Array::from(vec![0i8; batch.num_rows()])));
    RecordBatch::try_new(with_row_kind(&batch.schema()), columns).map_err(arrow_error)
}

fn arrow_error(e: datafusion::arrow::error::ArrowError) -> RiffleError {
    RiffleError::Runtime(e.to_string())
}

/// What an operator does with a batch it computed: passes it on unless it is empty; an
/// error fails the job with it (no panics, no lost message).
fn guard_of(env: &Env<'_>) -> impl Fn(Result<RecordBatch>) -> Option<Batch> + Clone + 'static {
    let job = Arc::clone(env.job());
    move |result: Result<RecordBatch>| -> Option<Batch> {
        match result {
            Ok(batch) if batch.num_rows() > 0 => Some(Batch(batch)),
            Ok(_) => None,
            Err(error) => {
                job.fail(error);
                None
            }
        }
    }
}

/// `input` through a window TVF: each row once in every window it falls in, as `schema`
/// (or the columns `projection` keeps of it).
fn windows<'s>(
    input: DataStream<'s, Batch>,
    tvf: WindowTvf,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + 'static,
) -> DataStream<'s, Batch> {
    input.flat_map(move |b| guard(explode_columns(&tvf, &schema, &b, projection.as_deref())))
}

fn project(batch: &RecordBatch, columns: &[usize]) -> Result<RecordBatch> {
    batch.project(columns).map_err(arrow_error)
}

/// A row of an upsert source on its way to [`Normalize`]: its key, its values (the row kind
/// left off) and whether it deletes the key (a tombstone).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UpsertRow {
    key: Vec<Value>,
    values: Vec<Value>,
    delete: bool,
}

/// An upsert source's rows as a changelog: keyed by the primary key, each key's last row
/// kept, a new row for a key an update (`-U` old, `+U` new), a first one an insert, a
/// tombstone a delete of the row kept (Flink's ChangelogNormalize).
fn normalize<'s>(
    stream: DataStream<'s, Batch>,
    upserts: &Upserts,
    guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + Clone + 'static,
) -> DataStream<'s, Batch> {
    let keys = upserts.keys.clone();
    let fail = guard.clone();
    let rows = stream.flat_map_with_time("sql.upsert_rows", move |ts, batch, out| {
        let rows = (|| -> Result<Vec<UpsertRow>> {
            let kinds = row_kinds(&batch)?;
            let data = batch.num_columns() - 1;
            (0..batch.num_rows())
                .map(|row| {
                    let cell = |i: usize| Value::from_array(batch.column(i), row);
                    Ok(UpsertRow {
                        key: keys.iter().map(|k| cell(*k)).collect::<Result<_>>()?,
                        values: (0..data).map(cell).collect::<Result<_>>()?,
                        delete: kinds.value(row) == 3,
                    })
                })
                .collect()
        })();
        match rows {
            Ok(rows) => out.extend(rows.into_iter().map(|r| (ts, r))),
            Err(error) => {
                fail(Err(error));
            }
        }
    });
    let changes = rows
        .key_by(|row: &UpsertRow| row.key.clone())
        .process(Normalize);
    rows_to_batches(
        changes,
        "sql.upsert_batches",
        Arc::clone(&upserts.schema),
        Ok,
        guard,
    )
}

/// The keyed half of [`normalize`]: a key's last row.
struct Normalize;

impl KeyedProcessFunction<Vec<Value>, UpsertRow> for Normalize {
    type State = ValueState<Vec<Value>>;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: UpsertRow,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let with_kind = |mut values: Vec<Value>, kind: i64| {
            values.push(Value::Int(kind));
            values
        };
        let state = ctx.state();
        let before = state.value().cloned();
        let out = match (before, row.delete) {
            // A tombstone for a key without a row, or the same row again: nothing changes.
            (None, true) => vec![],
            (Some(old), false) if old == row.values => vec![],
            (Some(old), true) => {
                state.clear();
                vec![with_kind(old, 3)]
            }
            (Some(old), false) => {
                state.update(row.values.clone());
                vec![with_kind(old, 1), with_kind(row.values, 2)]
            }
            (None, false) => {
                state.update(row.values.clone());
                vec![with_kind(row.values, 0)]
            }
        };
        for values in out {
            ctx.collect(values);
        }
    }
}

/// `expr` over `batch`, as a column.
fn evaluate(expr: &Physical, batch: &RecordBatch) -> Result<ArrayRef> {
    expr.evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .map_err(|e| RiffleError::Runtime(format!("evaluating {expr}: {e}")))
}

/// The largest event time in `batch` under `rowtime`, in ms.
pub(crate) fn max_time(rowtime: &Physical, batch: &RecordBatch) -> Result<EventTime> {
    let times = millis(&evaluate(rowtime, batch)?, "the rowtime column")?;
    Ok(max(&times).unwrap_or(EventTime::MIN))
}

/// A source's stream on this worker, stamped with its rowtime and watermarked.
fn scan<'s>(
    env: &Env<'s>,
    source: &SourceSpec,
    columns: Option<&[usize]>,
) -> Result<DataStream<'s, Batch>> {
    let reader = (source.reader)(env.job(), env.worker_index(), env.workers(), columns)?;
    let name = format!("sql.{}", source.name);
    let strategy = match &source.rowtime {
        None if source.bounded => WatermarkStrategy::none(),
        None => WatermarkStrategy::none().with_idleness(std::time::Duration::ZERO),
        Some((rowtime, delay)) => {
            let rowtime = Arc::clone(rowtime);
            let job = Arc::clone(env.job());
            let stamp = move |b: &Batch| match max_time(&rowtime, b) {
                Ok(t) => t,
                Err(error) => {
                    job.fail(error);
                    EventTime::MIN
                }
            };
            if source.reader_watermarks {
                WatermarkStrategy::reader_defined(stamp)
            } else {
                WatermarkStrategy::bounded_out_of_orderness(
                    std::time::Duration::from_millis(*delay as u64),
                    stamp,
                )
            }
        }
    };
    Ok(env.source(&name, reader, strategy))
}

/// `function` over `keyed`, each key's state dropped once it has not been read or written for
/// `ttl` ms of processing time, when a time-to-live is set.
fn with_ttl<'s, T, F>(
    keyed: KeyedStream<'s, Vec<Value>, T>,
    function: F,
    ttl: Option<i64>,
) -> DataStream<'s, F::Out>
where
    T: riffle_runtime::Data,
    F: KeyedProcessFunction<Vec<Value>, T>,
{
    match ttl {
        Some(ttl) => keyed.process(StateTtl {
            inner: function,
            ttl,
        }),
        None => keyed.process(function),
    }
}

/// Flink's state time-to-live around a keyed fold: the time of a key's last access is kept
/// beside its state, and one processing-time timer per key checks it; a key idle for the
/// time-to-live loses all its state (a group starts again from nothing, as in Flink). The
/// folds it wraps use event-time timers only, so processing-time timers are its own.
struct StateTtl<F> {
    inner: F,
    ttl: i64,
}

impl<T, F: KeyedProcessFunction<Vec<Value>, T>> KeyedProcessFunction<Vec<Value>, T>
    for StateTtl<F>
{
    type State = (F::State, ValueState<i64>);
    type Out = F::Out;

    fn process_element(
        &mut self,
        value: T,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let now = ctx.current_processing_time();
        if ctx.state().1.value().is_none() {
            ctx.register_processing_time_timer(now + self.ttl);
        }
        ctx.state().1.update(now);
        let inner = &mut self.inner;
        ctx.with_state(|s| &mut s.0, |ctx| inner.process_element(value, ctx));
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        if timer.domain == riffle_runtime::TimeDomain::EventTime {
            let inner = &mut self.inner;
            ctx.with_state(|s| &mut s.0, |ctx| inner.on_timer(timer, ctx));
            return;
        }
        match ctx.state().1.value().copied() {
            Some(last) if timer.time < last + self.ttl => {
                ctx.register_processing_time_timer(last + self.ttl)
            }
            _ => ctx.clear_state(),
        }
    }
}

/// What an aggregation keys and folds: one row's key and aggregate inputs, and whether the
/// row takes back an earlier one (a `-U` or `-D` row of an updating input).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AggRow {
    key: Vec<Value>,
    inputs: Vec<Value>,
    retract: bool,
}

impl Aggregate {
    /// How this aggregation folds HOP windows by slice, if it does (see `slices.rs`).
    fn slicing(&self) -> Option<slices::Slicing> {
        if !self.windowed() || self.input.updating() {
            return None;
        }
        slices::Slicing::of(&self.input, &self.keys, &self.specs())
    }

    /// Whether this is a window aggregation whose windows fire on time (not sessions).
    fn windowed(&self) -> bool {
        matches!(self.time, Some(WindowTime::End(_) | WindowTime::Start(..)))
    }

    /// Each aggregate's argument and FILTER condition.
    fn specs(&self) -> Vec<(Physical, Option<Physical>)> {
        self.aggregates
            .iter()
            .map(|a| (Arc::clone(&a.arg), a.filter.clone()))
            .collect()
    }

    fn build<'s>(
        &self,
        plan: &Build<'_, 's>,
        guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + 'static,
    ) -> Result<DataStream<'s, Batch>> {
        let env = plan.env;
        let keys = self.keys.clone();
        let specs = self.specs();
        let time = self.time;
        let updating = self.input.updating();
        let job = Arc::clone(env.job());
        let functions = Functions::of(&self.aggregates, updating);
        let late = env.job().counter("sql.window.late_rows");
        // An aggregation of appended rows (a window's, or a mini-batch GROUP BY's without
        // state TTL) folds each message's rows per group before the exchange (Flink's local-global
        // aggregation), and the keyed half deals in parts of groups (see [`PARTS`]): what
        // crosses workers is one partial per group, and keyed state and timers are per part.
        let windowed = self.windowed();
        if !updating && (windowed || (self.mini_batch && self.ttl.is_none())) {
            // HOP windows are folded by slice (see `slices.rs`).
            if let Some(slicing) = self.slicing() {
                return slices::build(self, slicing, plan, guard);
            }
            let input = self.input.build(plan)?;
            let local = LocalFold {
                keys,
                encoder: KeyRows::new(&self.key_types)?,
                specs,
                time,
                functions: functions.clone(),
            };
            let chunks = input.map_chunks_with_watermark(
                "sql.aggregate_partials",
                move |watermark, batches, out| {
                    crate::functions::with_watermark(known(watermark), || {
                        let groups = local.fold(batches.drain(..), &job);
                        out.extend(Chunk::cut(groups, windowed, 0));
                    })
                },
            );
            let converter = KeyRows::new(&self.key_types)?;
            let keyed = chunks.key_by(|c: &Chunk| (c.window, c.part));
            let fired = match windowed {
                true => keyed.process(WindowFold {
                    functions,
                    late,
                    processing: self.processing,
                    keys: converter,
                    job: Arc::clone(env.job()),
                }),
                false => keyed.process(GroupFold {
                    functions,
                    keys: converter,
                    job: Arc::clone(env.job()),
                }),
            };
            let schema = match windowed {
                true => Arc::clone(&self.schema),
                false => with_row_kind(&self.schema),
            };
            return Ok(rows_to_batches(
                fired,
                "sql.aggregate_batches",
                schema,
                Ok,
                guard,
            ));
        }
        let input = self.input.build(plan)?;
        let rows = input.map_chunks_with_watermark(
            "sql.aggregate_rows",
            move |watermark, batches, out| {
                crate::functions::with_watermark(known(watermark), || {
                    for (ts, batch) in batches.drain(..) {
                        if let Err(error) = rows_of(&batch, ts, &keys, &specs, time, updating, out)
                        {
                            job.fail(error);
                        }
                    }
                })
            },
        );
        let (fired, schema) = match time {
            Some(WindowTime::Session { start, end }) => (
                // Keyed by the group without its window: sessions of a group merge.
                rows.key_by(move |row: &AggRow| {
                    row.key
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != start && *i != end)
                        .map(|(_, v)| v.clone())
                        .collect::<Vec<_>>()
                })
                .process(SessionFold {
                    functions,
                    start,
                    end,
                    late,
                }),
                Arc::clone(&self.schema),
            ),
            _ => (
                with_ttl(
                    rows.key_by(|row: &AggRow| row.key.clone()),
                    RowGroupFold { functions },
                    self.ttl,
                ),
                with_row_kind(&self.schema),
            ),
        };
        Ok(rows_to_batches(
            fired,
            "sql.aggregate_batches",
            schema,
            Ok,
            guard,
        ))
    }
}

/// Rows (one `Vec` of values per row, as keyed operators emit them) back into batches of
/// `schema`: one batch per container, stamped with its earliest time; `then` may transform
/// each batch (a join's residual condition).
fn rows_to_batches<'s>(
    rows: DataStream<'s, Vec<Value>>,
    name: &str,
    schema: SchemaRef,
    then: impl Fn(RecordBatch) -> Result<RecordBatch> + 'static,
    guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + 'static,
) -> DataStream<'s, Batch> {
    rows.map_chunks(name, move |rows, out| {
        let Some(ts) = rows.iter().map(|(ts, _)| *ts).min() else {
            return;
        };
        let values: Vec<Vec<Value>> = rows.drain(..).map(|(_, v)| v).collect();
        // An aggregate function that failed on this thread fails the job.
        if let Some(error) = crate::udaf::take_error() {
            guard(Err(error));
            return;
        }
        if let Some(batch) = guard(batch_of(&schema, &values).and_then(&then)) {
            out.push((ts, batch));
        }
    })
}

/// An aggregation's inputs over a batch: each aggregate's argument column and its FILTER mask.
struct AggregateInputs(Vec<(ArrayRef, Option<ArrayRef>)>);

impl AggregateInputs {
    fn of(batch: &RecordBatch, specs: &[(Physical, Option<Physical>)]) -> Result<Self> {
        let mut inputs = Vec::with_capacity(specs.len());
        for (arg, filter) in specs {
            let mask = match filter {
                Some(f) => Some(evaluate(f, batch)?),
                None => None,
            };
            inputs.push((evaluate(arg, batch)?, mask));
        }
        Ok(AggregateInputs(inputs))
    }

    /// Row `row`'s input to each aggregate: NULL (skipped) where its FILTER is not true.
    fn row(&self, row: usize) -> Result<Vec<Value>> {
        (0..self.0.len()).map(|a| self.value(a, row)).collect()
    }

    /// Row `row`'s input to aggregate `a`: NULL (skipped) where its FILTER is not true.
    fn value(&self, a: usize, row: usize) -> Result<Value> {
        let (column, mask) = &self.0[a];
        let selected = mask.as_ref().is_none_or(|m| {
            m.as_any()
                .downcast_ref::<BooleanArray>()
                .is_some_and(|m| m.is_valid(row) && m.value(row))
        });
        match selected {
            true => Value::from_array(column, row),
            false => Ok(Value::Null),
        }
    }
}

/// A batch of rows going into an operator: its data columns and, from an updating input, the
/// row kind of each row (the batch's last column).
struct Changes<'b> {
    columns: &'b [ArrayRef],
    kinds: Option<Int8Array>,
}

impl<'b> Changes<'b> {
    fn of(batch: &'b RecordBatch, updating: bool) -> Result<Self> {
        Ok(Changes {
            columns: &batch.columns()[..batch.num_columns() - usize::from(updating)],
            kinds: match updating {
                true => Some(row_kinds(batch)?),
                false => None,
            },
        })
    }

    /// Row `row`'s kind (`+I` for an appended row).
    fn kind(&self, row: usize) -> i8 {
        self.kinds.as_ref().map_or(0, |k| k.value(row))
    }

    /// Whether row `row` takes a row back.
    fn takes_back(&self, row: usize) -> bool {
        takes_back(self.kind(row))
    }
}

/// Whether a row of this kind takes a row back: `-U` (1) and `-D` (3) do.
fn takes_back(kind: i8) -> bool {
    kind % 2 == 1
}

/// The row kinds of an updating batch: its last column.
fn row_kinds(batch: &RecordBatch) -> Result<Int8Array> {
    batch
        .columns()
        .last()
        .and_then(|c| c.as_any().downcast_ref::<Int8Array>())
        .cloned()
        .ok_or_else(|| RiffleError::Runtime("an updating batch without row kinds".into()))
}

/// Row `row` of `columns` as values.
fn row_values(columns: &[ArrayRef], row: usize) -> Result<Vec<Value>> {
    // Sized once: collecting `Result`s would grow the `Vec` step by step.
    let mut values = Vec::with_capacity(columns.len());
    for column in columns {
        values.push(Value::from_array(column, row)?);
    }
    Ok(values)
}

/// Rows of `values` (one `Vec` per row, a value per column of `schema`) as a batch.
pub fn batch_of(schema: &SchemaRef, values: &[Vec<Value>]) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(j, field)| {
            let column: Vec<&Value> = values.iter().map(|row| &row[j]).collect();
            Value::to_array(&column, field.data_type())
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(arrow_error)
}

/// Splits `batch` into keyed rows, each stamped with its window's largest timestamp (or, without
/// a window, with the batch's time `ts`). An `updating` batch has its row kinds last.
fn rows_of(
    batch: &RecordBatch,
    ts: EventTime,
    keys: &[Physical],
    specs: &[(Physical, Option<Physical>)],
    time: Option<WindowTime>,
    updating: bool,
    out: &mut Vec<(EventTime, AggRow)>,
) -> Result<()> {
    let key_columns = keys
        .iter()
        .map(|k| evaluate(k, batch))
        .collect::<Result<Vec<_>>>()?;
    let inputs = AggregateInputs::of(batch, specs)?;
    let changes = Changes::of(batch, updating)?;
    for row in 0..batch.num_rows() {
        let key = row_values(&key_columns, row)?;
        let ts = match time {
            Some(time) => time
                .fire_at(&key)
                .ok_or_else(|| RiffleError::Runtime("a row has no window".into()))?,
            None => ts,
        };
        let values = inputs.row(row)?;
        let retract = changes.takes_back(row);
        out.push((
            ts,
            AggRow {
                key,
                inputs: values,
                retract,
            },
        ));
    }
    Ok(())
}

/// One message's rows of a group (and window), folded: the aggregate states, the window's
/// last millisecond (without a window, the message's earliest time), and how many rows went
/// in.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Partial {
    time: EventTime,
    accs: Vec<Acc>,
    rows: u64,
}

impl Partial {
    fn merge(&mut self, other: Partial) {
        Acc::merge_all(&mut self.accs, other.accs);
        self.rows += other.rows;
        self.time = self.time.min(other.time);
    }
}

/// How many parts the groups of an aggregation are cut into, by a hash of their key. The
/// keyed half of an aggregation keeps one state per part (and window): the part's groups in
/// a hash map of their keys in Arrow's row format, with one timer per window. Keyed state,
/// timers and the exchange then work per part rather than per group, and hashing and
/// comparing keys is hashing and comparing bytes.
const PARTS: u64 = 128;

/// The part of the groups (or join keys) that a key in row format falls in.
fn part_of(key: &[u8]) -> u32 {
    part_of_hash(riffle_runtime::key_hash(key))
}

/// [`part_of`] a key whose `key_hash` is `hash`.
fn part_of_hash(hash: u64) -> u32 {
    // The high bits: FxHash's low bits are weak.
    ((hash >> 40) % PARTS) as u32
}

/// The local half of an aggregation of appended rows (Flink's local aggregation): folds a
/// message's rows per group before the exchange.
struct LocalFold {
    keys: Vec<Physical>,
    /// Encodes the keys in row format.
    encoder: KeyRows,
    specs: Vec<(Physical, Option<Physical>)>,
    time: Option<WindowTime>,
    functions: Functions,
}

impl LocalFold {
    /// One message's batches folded per group (keys in row format): each batch by
    /// [`fold_batch`], and the batches' partials of a group merged. A batch that fails to
    /// fold fails the job.
    fn fold(
        &self,
        batches: impl Iterator<Item = (EventTime, Batch)>,
        job: &riffle_runtime::JobShared,
    ) -> HashMap<Vec<u8>, Partial, rustc_hash::FxBuildHasher> {
        let mut groups: HashMap<Vec<u8>, Partial, rustc_hash::FxBuildHasher> = HashMap::default();
        for (ts, batch) in batches {
            let folded = fold_batch(
                &batch,
                ts,
                &self.keys,
                &self.encoder,
                &self.specs,
                self.time,
                &self.functions,
            );
            match folded {
                Ok(partials) => {
                    for (key, partial) in partials {
                        match groups.get_mut(&key) {
                            Some(p) => p.merge(partial),
                            None => {
                                groups.insert(key, partial);
                            }
                        }
                    }
                }
                Err(error) => job.fail(error),
            }
        }
        groups
    }
}

/// The groups of one part (and window) that one message held, folded: what crosses
/// workers. `window` is the window's last millisecond, `None` without a window.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Chunk {
    window: Option<EventTime>,
    part: u32,
    groups: Vec<(Vec<u8>, Partial)>,
}

impl Chunk {
    /// `groups` (keys in row format) cut into chunks by part and window, each stamped with
    /// its window's last millisecond, or without a window with its earliest row's time. The
    /// last `suffix` bytes of each key (a sliced fold's slice column) are cut off first:
    /// the part, and the key that travels on, are the key's without them.
    fn cut(
        groups: HashMap<Vec<u8>, Partial, rustc_hash::FxBuildHasher>,
        windowed: bool,
        suffix: usize,
    ) -> impl Iterator<Item = (EventTime, Chunk)> {
        let mut chunks: HashMap<(Option<EventTime>, u32), Chunk, rustc_hash::FxBuildHasher> =
            HashMap::default();
        for (mut key, partial) in groups {
            key.truncate(key.len().saturating_sub(suffix));
            let part = part_of(&key);
            let window = windowed.then_some(partial.time);
            chunks
                .entry((window, part))
                .or_insert_with(|| Chunk {
                    window,
                    part,
                    groups: Vec::new(),
                })
                .groups
                .push((key, partial));
        }
        chunks.into_values().map(|c| {
            let time = c.groups.iter().map(|(_, p)| p.time).min();
            (time.unwrap_or(EventTime::MIN), c)
        })
    }

    fn rows(&self) -> u64 {
        self.groups.iter().map(|(_, p)| p.rows).sum()
    }
}

/// Group keys in Arrow's row format, and back to values: the same converter (from the keys'
/// planned types) encodes them before the exchange and decodes them after it.
struct KeyRows {
    converter: datafusion::arrow::row::RowConverter,
    width: usize,
}

impl KeyRows {
    fn new(types: &[DataType]) -> Result<Self> {
        use datafusion::arrow::row::{RowConverter, SortField};
        let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
        Ok(KeyRows {
            converter: RowConverter::new(fields).map_err(arrow_error)?,
            width: types.len(),
        })
    }

    /// The keys decoded, as one column per key column.
    fn columns<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        self.converter
            .convert_rows(keys.map(|k| parser.parse(k)))
            .map_err(arrow_error)
    }

    /// The values of each key.
    fn values<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> Result<Vec<Vec<Value>>> {
        if self.width == 0 {
            // A global aggregation: its one key has no values.
            return Ok(keys.map(|_| Vec::new()).collect());
        }
        let columns = self.columns(keys)?;
        let rows = columns.first().map_or(0, |c| c.len());
        (0..rows).map(|row| row_values(&columns, row)).collect()
    }
}

/// The keyed half of a window aggregation, per part and window: merges the partials of the
/// part's groups and emits each group's row when the watermark passes the window's end.
struct WindowFold {
    functions: Functions,
    late: Arc<AtomicU64>,
    /// Windows over processing time: a window fires when the wall clock passes its end,
    /// and no row is late.
    processing: bool,
    keys: KeyRows,
    job: Arc<riffle_runtime::JobShared>,
}

/// A part's groups: aggregate states by key (row format).
type Groups<T> = HashMap<Vec<u8>, T, rustc_hash::FxBuildHasher>;

impl KeyedProcessFunction<(Option<EventTime>, u32), Chunk> for WindowFold {
    type State = ValueState<Groups<Vec<Acc>>>;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        chunk: Chunk,
        ctx: &mut Context<'_, (Option<EventTime>, u32), Self::State, Self::Out>,
    ) {
        // The window has fired under this watermark: the rows are late (Flink drops them too).
        if !self.processing && ctx.timestamp() <= ctx.current_watermark() {
            self.late.fetch_add(chunk.rows(), Ordering::Relaxed);
            return;
        }
        if ctx.state().value().is_none() {
            ctx.state().update(Groups::default());
            match self.processing {
                true => ctx.register_processing_time_timer(ctx.timestamp()),
                false => ctx.register_event_time_timer(ctx.timestamp()),
            }
        }
        let Some(groups) = ctx.state().value_mut() else {
            return;
        };
        for (key, partial) in chunk.groups {
            match groups.get_mut(&key) {
                Some(accs) => Acc::merge_all(accs, partial.accs),
                None => {
                    groups.insert(key, partial.accs);
                }
            }
        }
    }

    fn on_timer(
        &mut self,
        _timer: Timer,
        ctx: &mut Context<'_, (Option<EventTime>, u32), Self::State, Self::Out>,
    ) {
        if let Some(groups) = ctx.state().value_mut().map(std::mem::take) {
            match self.keys.values(groups.keys().map(|k| k.as_slice())) {
                Ok(keys) => {
                    for (mut row, accs) in keys.into_iter().zip(groups.values()) {
                        row.extend(self.functions.results(accs));
                        ctx.collect(row);
                    }
                }
                Err(error) => self.job.fail(error),
            }
        }
        ctx.clear_state();
    }
}

/// The keyed half of an aggregation without windows over appended rows, per part: for each
/// message's partial of a group, the group's new result replaces its old one in the output,
/// as Flink's changelog does with mini-batches: `+I` for a new group, then `-U` (old) and
/// `+U` (new) when the result changes. The row kind is the last value.
struct GroupFold {
    functions: Functions,
    keys: KeyRows,
    job: Arc<riffle_runtime::JobShared>,
}

/// A part's groups in [`GroupFold`], numbered in order of arrival: their keys, and per
/// group its aggregate states and the result last emitted (one entry per aggregate each).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct GroupSlab {
    index: KeyIndex,
    accs: GroupBlocks<Acc>,
    last: GroupBlocks<Value>,
}

impl KeyedProcessFunction<(Option<EventTime>, u32), Chunk> for GroupFold {
    type State = ValueState<GroupSlab>;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        chunk: Chunk,
        ctx: &mut Context<'_, (Option<EventTime>, u32), Self::State, Self::Out>,
    ) {
        let keys = match self
            .keys
            .values(chunk.groups.iter().map(|(k, _)| k.as_slice()))
        {
            Ok(keys) => keys,
            Err(error) => return self.job.fail(error),
        };
        if ctx.state().value().is_none() {
            ctx.state().update(GroupSlab::default());
        }
        let mut lines = Vec::new();
        let Some(slab) = ctx.state().value_mut() else {
            return;
        };
        let width = self.functions.functions.len();
        for ((bytes, partial), key) in chunk.groups.into_iter().zip(keys) {
            let line = |values: &[Value], kind: i64| {
                let mut row = key.clone();
                row.extend_from_slice(values);
                row.push(Value::Int(kind));
                row
            };
            let (group, new) = slab.index.find_or_add(&bytes);
            if new {
                slab.accs.push(self.functions.fresh_each(), width);
                slab.last
                    .push(std::iter::repeat_n(Value::Null, width), width);
            }
            let accs = slab.accs.group_mut(group, width);
            Acc::merge_all(accs, partial.accs);
            let result = self.functions.results(accs);
            let last = slab.last.group_mut(group, width);
            if new {
                lines.push(line(&result, 0));
            } else if *last != *result {
                lines.push(line(last, 1));
                lines.push(line(&result, 2));
            } else {
                continue;
            }
            for (old, new) in last.iter_mut().zip(result) {
                *old = new;
            }
        }
        lines.into_iter().for_each(|l| ctx.collect(l));
    }
}

/// The keyed half of an aggregation without windows over an updating input (or with state
/// TTL), per group: for every row, the group's new result
/// replaces its old one in the output, as Flink's changelog does: `+I` for a new group, then
/// `-U` (old) and `+U` (new) when the result changes, and `-D` when an updating input takes
/// back the group's last row. The row kind is the last value.
struct RowGroupFold {
    functions: Functions,
}

/// A group's aggregate states, the result last emitted, and how many input rows it holds.
type GroupState = ValueState<(Vec<Acc>, Vec<Value>, i64)>;

impl KeyedProcessFunction<Vec<Value>, AggRow> for RowGroupFold {
    type State = GroupState;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: AggRow,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let key = ctx.key().clone();
        let functions = &self.functions;
        let state = ctx.state();
        if state.value().is_none() {
            if row.retract {
                // Taking back a row of a group that holds none: nothing to take.
                return;
            }
            state.update((functions.fresh(), Vec::new(), 0));
        }
        let Some((accs, last, rows)) = state.value_mut() else {
            return;
        };
        let line = |values: Vec<Value>, kind: i64| {
            let mut row = key.clone();
            row.extend(values);
            row.push(Value::Int(kind));
            row
        };
        // Whether the group's result was emitted: it holds rows (a group without aggregates,
        // as SELECT DISTINCT makes, has an empty result).
        let emitted = *rows > 0;
        if row.retract {
            Functions::retract(accs, row.inputs);
            *rows -= 1;
        } else {
            Functions::add(accs, row.inputs);
            *rows += 1;
        }
        if *rows <= 0 {
            let previous = std::mem::take(last);
            ctx.clear_state();
            if emitted {
                ctx.collect(line(previous, 3));
            }
            return;
        }
        let result = functions.results(accs);
        if emitted && *last == result {
            return;
        }
        let previous = std::mem::replace(last, result.clone());
        if !emitted {
            ctx.collect(line(result, 0));
        } else {
            ctx.collect(line(previous, 1));
            ctx.collect(line(result, 2));
        }
    }
}

/// A row on its way into a join: its key and all its values. A row with a NULL key can have
/// no partner (`unmatchable`). A row of an updating side can be one taken back (`retract`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JoinRow {
    key: Vec<Value>,
    values: Vec<Value>,
    unmatchable: bool,
    retract: bool,
}

/// A join input's rows with their keys; rows with a NULL key join nothing: they are dropped
/// unless `keep_unmatchable` (an outer side). An `updating` batch has its row kinds last.
fn join_rows(
    batch: &RecordBatch,
    keys: &[Physical],
    keep_unmatchable: bool,
    updating: bool,
    out: &mut Vec<JoinRow>,
) -> Result<()> {
    let key_columns = keys
        .iter()
        .map(|k| evaluate(k, batch))
        .collect::<Result<Vec<_>>>()?;
    let changes = Changes::of(batch, updating)?;
    for row in 0..batch.num_rows() {
        let key = row_values(&key_columns, row)?;
        let unmatchable = key.iter().any(Value::is_null);
        if unmatchable && !keep_unmatchable {
            continue;
        }
        let values = row_values(changes.columns, row)?;
        out.push(JoinRow {
            key,
            values,
            unmatchable,
            retract: changes.takes_back(row),
        });
    }
    Ok(())
}

impl Join {
    fn build<'s>(
        &self,
        plan: &Build<'_, 's>,
        guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + 'static,
    ) -> Result<DataStream<'s, Batch>> {
        let env = plan.env;
        let side = |node: &Node,
                    keys: &[Physical],
                    left: bool|
         -> Result<DataStream<'s, Either<JoinRow, JoinRow>>> {
            let keys = keys.to_vec();
            let job = Arc::clone(env.job());
            let keep = self.kind.keeps_unmatchable(left);
            let updating = node.updating();
            Ok(node
                .build(plan)?
                .flat_map_with_time("sql.join_rows", move |ts, batch, out| {
                    let mut rows = Vec::new();
                    if let Err(error) = join_rows(&batch, &keys, keep, updating, &mut rows) {
                        job.fail(error);
                    }
                    out.extend(rows.into_iter().map(|r| {
                        (
                            ts,
                            if left {
                                Either::Left(r)
                            } else {
                                Either::Right(r)
                            },
                        )
                    }));
                }))
        };
        // An outer, semi or anti join decides partners by the condition in its fold.
        let filter = self.filter.clone().filter(|_| self.kind == JoinKind::Inner);
        let condition = match (&self.filter, self.kind) {
            (Some(condition), kind) if kind != JoinKind::Inner => Some(PairCondition {
                condition: Arc::clone(condition),
                schema: Arc::clone(&self.pair_schema),
                job: Arc::clone(env.job()),
            }),
            _ => None,
        };
        let residual = move |batch: RecordBatch| match &filter {
            Some(filter) => {
                filter_record_batch(&batch, &join_mask(filter, &batch)?).map_err(arrow_error)
            }
            None => Ok(batch),
        };
        // An inner window or interval join over keys compared as bytes: per part, in rows.
        let expiry = match (
            self.kind,
            self.temporal,
            self.ttl,
            self.window,
            self.interval,
        ) {
            (JoinKind::Inner, None, None, Some(window), _) => {
                Some(interval::Expiry::Window(window))
            }
            (JoinKind::Inner, None, None, None, Some(bounds)) => {
                Some(interval::Expiry::Interval(bounds))
            }
            _ => None,
        };
        if let (Some(expiry), Some(types)) = (expiry, &self.key_types) {
            // Each side's rows in row format: the columns of its part of the joined schema.
            let fields = self.schema.fields();
            let types_of = |fields: &[datafusion::arrow::datatypes::FieldRef]| -> Vec<DataType> {
                fields.iter().map(|f| f.data_type().clone()).collect()
            };
            let left_types = types_of(&fields[..self.widths.0]);
            let right_types = types_of(&fields[self.widths.0..]);
            let chunks = |node: &Node, keys: &[Physical], columns: &[DataType], left| {
                let side = interval::SideRows {
                    keys: keys.to_vec(),
                    key_rows: KeyRows::new(types)?,
                    rows: KeyRows::new(columns)?,
                    expiry,
                    left,
                };
                let job = Arc::clone(env.job());
                Ok::<_, RiffleError>(node.build(plan)?.map_chunks(
                    "sql.join_chunks",
                    move |batches, out| match side.chunks(batches) {
                        Ok(chunks) => out.extend(chunks),
                        Err(error) => job.fail(error),
                    },
                ))
            };
            let joined = chunks(&self.left, &self.left_keys, &left_types, true)?
                .union(chunks(&self.right, &self.right_keys, &right_types, false)?)
                .key_by(|c: &interval::JoinChunk| c.part)
                .process(interval::IntervalFold {
                    lefts: KeyRows::new(&left_types)?,
                    rights: KeyRows::new(&right_types)?,
                    expiry,
                    schema: Arc::clone(&self.schema),
                    job: Arc::clone(env.job()),
                });
            // A message's batches as one, through the rest of the join's condition.
            let schema = Arc::clone(&self.schema);
            return Ok(joined.map_chunks("sql.join_batches", move |batches, out| {
                let Some(ts) = batches.iter().map(|(ts, _)| *ts).min() else {
                    return;
                };
                let parts: Vec<RecordBatch> = batches.drain(..).map(|(_, b)| b.0).collect();
                let batch = concat_batches(&schema, &parts)
                    .map_err(arrow_error)
                    .and_then(&residual);
                if let Some(batch) = guard(batch) {
                    out.push((ts, batch));
                }
            }));
        }
        let left = side(&self.left, &self.left_keys, true)?;
        let right = side(&self.right, &self.right_keys, false)?;
        let keyed = left
            .union(right)
            .key_by(|row: &Either<JoinRow, JoinRow>| match row {
                Either::Left(r) | Either::Right(r) => r.key.clone(),
            });
        // Inner, window and lookup joins pair rows as they come (JoinFold); other outer,
        // semi and anti joins, and joins of updating results, count partners (PartnerFold).
        let fold = (self.kind == JoinKind::Inner
            || self.window.is_some()
            || self.temporal == Some(TemporalJoin::Lookup))
            && !self.retracting;
        let (joined, schema) = match self.kind {
            JoinKind::Inner | JoinKind::Outer { .. }
                if matches!(
                    self.temporal,
                    Some(TemporalJoin::Versioned { .. } | TemporalJoin::LookupAt { .. })
                ) =>
            {
                (
                    with_ttl(
                        keyed,
                        VersionedFold {
                            join: self.temporal.unwrap_or(TemporalJoin::Lookup),
                            left_outer: self.kind != JoinKind::Inner,
                            widths: self.widths,
                            condition,
                        },
                        self.ttl,
                    ),
                    Arc::clone(&self.schema),
                )
            }
            kind if fold => (
                with_ttl(
                    keyed,
                    JoinFold {
                        kind,
                        widths: self.widths,
                        condition,
                        window: self.window,
                        interval: self.interval,
                        lookup: self.temporal == Some(TemporalJoin::Lookup),
                    },
                    self.ttl,
                ),
                Arc::clone(&self.schema),
            ),
            kind => (
                with_ttl(
                    keyed,
                    PartnerFold {
                        kind,
                        widths: self.widths,
                        condition,
                        retracting: self.retracting,
                    },
                    self.ttl,
                ),
                if kind.updating() || self.retracting {
                    with_row_kind(&self.schema)
                } else {
                    Arc::clone(&self.schema)
                },
            ),
        };
        Ok(rows_to_batches(
            joined,
            "sql.join_batches",
            schema,
            residual,
            guard,
        ))
    }
}

/// The keyed half of a join: each side's rows of the key, and each new row joined with the
/// other side's. A window join drops the key's rows at the window's end; an interval join
/// drops each row when the watermark passes its expiry.
///
/// An outer, semi or anti window join (as Flink's) emits at the window's end what depends on
/// a row never finding a partner: an outer side's rows without one, padded with NULLs; a
/// semi join's rows with one; an anti join's rows without one. Pairs come as they are made.
/// Its rows are kept with a last value that says whether they have found a partner
/// (`Bool`), or cannot (`Null`: a NULL key).
struct JoinFold {
    kind: JoinKind,
    /// Columns of the left and the right rows (for NULL padding).
    widths: (usize, usize),
    /// An outer, semi or anti join's condition beyond the key equalities.
    condition: Option<PairCondition>,
    window: Option<WindowTime>,
    interval: Option<Interval>,
    /// A lookup join: left rows join the right rows at hand and are not kept.
    lookup: bool,
}

impl KeyedProcessFunction<Vec<Value>, Either<JoinRow, JoinRow>> for JoinFold {
    type State = (ListState<Vec<Value>>, ListState<Vec<Value>>);
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: Either<JoinRow, JoinRow>,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        if let Some(window) = self.window {
            match window.fire_at(ctx.key()) {
                // The window is over: its rows are late, as in a window aggregation.
                Some(end) if end <= ctx.current_watermark() => return,
                Some(end) => ctx.register_event_time_timer(end),
                None => {}
            }
        }
        // An interval join keeps a row until its expiry (none past it, when it is late).
        let (left, values) = match &row {
            Either::Left(l) => (true, &l.values),
            Either::Right(r) => (false, &r.values),
        };
        let keep = match self.interval.map(|i| i.expiry(values, left)) {
            _ if self.lookup && left => false,
            Some(Some(expiry)) if expiry <= ctx.current_watermark() => false,
            Some(Some(expiry)) => {
                ctx.register_event_time_timer(expiry);
                true
            }
            _ => true,
        };
        let mut joined = Vec::new();
        // An interval join's rows are kept in order of expiry, so that its timers drop a
        // prefix; a row without one sorts last.
        let interval = self.interval.filter(|_| self.window.is_none());
        let keep_row =
            |rows: &mut ListState<Vec<Value>>, values: Vec<Value>, left: bool| match interval {
                Some(i) => {
                    rows.insert_sorted_by(values, |v| i.expiry(v, left).unwrap_or(EventTime::MAX))
                }
                None => rows.add(values),
            };
        if self.lookup && self.kind != JoinKind::Inner {
            self.lookup_row(row, ctx);
            return;
        }
        if self.kind != JoinKind::Inner {
            self.partner_row(row, ctx);
            return;
        }
        let (lefts, rights) = ctx.state();
        match row {
            Either::Left(l) => {
                for r in rights.get() {
                    joined.push(l.values.iter().chain(r).cloned().collect());
                }
                if keep {
                    keep_row(lefts, l.values, true);
                }
            }
            Either::Right(r) => {
                for l in lefts.get() {
                    joined.push(l.iter().chain(&r.values).cloned().collect());
                }
                if keep {
                    keep_row(rights, r.values, false);
                }
            }
        }
        if lefts.is_empty() && rights.is_empty() {
            // Nothing kept (a row past its expiry): no entry for the key either.
            ctx.clear_state();
        }
        for row in joined {
            ctx.collect(row);
        }
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        match self.interval {
            Some(interval) if self.window.is_none() => {
                let now = timer.time;
                let (lefts, rights) = ctx.state();
                lefts.remove_while(|v| interval.expiry(v, true).is_some_and(|e| e <= now));
                rights.remove_while(|v| interval.expiry(v, false).is_some_and(|e| e <= now));
                if lefts.is_empty() && rights.is_empty() {
                    ctx.clear_state();
                }
            }
            // A window join's window is over: no row of it can come any more.
            _ => {
                if self.kind != JoinKind::Inner {
                    self.window_over(ctx);
                }
                ctx.clear_state()
            }
        }
    }
}

/// The context of [`JoinFold`]'s functions.
type JoinContext<'a> =
    Context<'a, Vec<Value>, (ListState<Vec<Value>>, ListState<Vec<Value>>), Vec<Value>>;

/// Whether a kept row of an outer, semi or anti window join has found a partner.
fn partnered(row: &[Value]) -> bool {
    matches!(row.last(), Some(Value::Bool(true)))
}

/// A kept row of an outer, semi or anti window join without its last value.
fn kept_values(row: &[Value]) -> &[Value] {
    &row[..row.len().saturating_sub(1)]
}

impl JoinFold {
    /// A row of an outer, semi or anti window join: paired with the other side's rows of its
    /// key (an outer join emits the pairs), which have then found a partner, and kept with
    /// whether it has found one.
    fn partner_row(&self, row: Either<JoinRow, JoinRow>, ctx: &mut JoinContext<'_>) {
        let (left, row) = match row {
            Either::Left(r) => (true, r),
            Either::Right(r) => (false, r),
        };
        let (lefts, rights) = ctx.state();
        let (mine, theirs) = if left {
            (lefts, rights)
        } else {
            (rights, lefts)
        };
        let mut values = row.values;
        if row.unmatchable {
            // A NULL key: no partner, ever (its key holds only rows like it).
            values.push(Value::Null);
            mine.add(values);
            return;
        }
        let others: Vec<&[Value]> = theirs.get().iter().map(|o| kept_values(o)).collect();
        let met = meets(self.condition.as_ref(), &values, left, &others);
        let pairs = match self.kind {
            JoinKind::Outer { .. } => pairs_met(&values, &others, &met, left),
            _ => Vec::new(),
        };
        let found = met.iter().any(|m| *m);
        let newly = |(other, met): (&Vec<Value>, &bool)| *met && !partnered(other);
        if theirs.get().iter().zip(&met).any(newly) {
            let mut others = theirs.get().to_vec();
            for (other, met) in others.iter_mut().zip(&met) {
                if let (true, Some(flag)) = (*met, other.last_mut()) {
                    *flag = Value::Bool(true);
                }
            }
            theirs.update(others);
        }
        values.push(Value::Bool(found));
        mine.add(values);
        for pair in pairs {
            ctx.collect(pair);
        }
    }

    /// A row of a LEFT lookup join: a right row is kept (the table's rows at hand); a left
    /// row is joined with those that meet the condition, or without one padded with NULLs,
    /// and not kept.
    fn lookup_row(&self, row: Either<JoinRow, JoinRow>, ctx: &mut JoinContext<'_>) {
        let (_, rights) = ctx.state();
        let left = match row {
            Either::Right(r) => {
                rights.add(r.values);
                return;
            }
            Either::Left(l) => l.values,
        };
        let others: Vec<&[Value]> = rights.get().iter().map(Vec::as_slice).collect();
        let out = left_rows_met(self.condition.as_ref(), &left, &others, Some(self.widths));
        if others.is_empty() {
            // No right row of the key: no entry for it either.
            ctx.clear_state();
        }
        for row in out {
            ctx.collect(row);
        }
    }

    /// The key's window is over: emits the rows that depend on never having found a partner
    /// (see [`JoinFold`]).
    fn window_over(&self, ctx: &mut JoinContext<'_>) {
        let (lefts, rights) = ctx.state();
        let unpartnered = |rows: &[Vec<Value>]| -> Vec<Vec<Value>> {
            rows.iter()
                .filter(|row| !partnered(row))
                .map(|row| kept_values(row).to_vec())
                .collect()
        };
        let mut out: Vec<Vec<Value>> = Vec::new();
        match self.kind {
            JoinKind::Outer { left, right } => {
                if left {
                    let rows = unpartnered(lefts.get());
                    out.extend(rows.iter().map(|row| padded(row, true, self.widths)));
                }
                if right {
                    let rows = unpartnered(rights.get());
                    out.extend(rows.iter().map(|row| padded(row, false, self.widths)));
                }
            }
            JoinKind::Semi { left } => {
                let rows = if left { lefts.get() } else { rights.get() };
                let with_partner = rows.iter().filter(|row| partnered(row));
                out.extend(with_partner.map(|row| kept_values(row).to_vec()));
            }
            JoinKind::Anti { left } => {
                out.extend(unpartnered(if left { lefts.get() } else { rights.get() }));
            }
            JoinKind::Inner => {}
        }
        for row in out {
            ctx.collect(row);
        }
    }
}

/// The keyed half of an event-time temporal join: the versions of the key's right rows, and
/// the left rows waiting for the watermark to pass their time (by then every version up to
/// it has come), each then joined with the latest version at or before its time. Versions
/// older than the latest one the watermark has passed are dropped.
struct VersionedFold {
    join: TemporalJoin,
    /// A LEFT temporal join: a left row without a partner is emitted with NULLs.
    left_outer: bool,
    /// Columns of the left and the right rows (for NULL padding).
    widths: (usize, usize),
    /// A LEFT join's condition beyond the key equalities: a version that does not meet it
    /// is no partner (an inner join's is a filter after the fold).
    condition: Option<PairCondition>,
}

impl VersionedFold {
    /// The left rows' and the right rows' time columns; a left row without a time column
    /// waits with its stream time appended (`None`).
    fn times(&self) -> (Option<usize>, usize) {
        match self.join {
            TemporalJoin::Versioned {
                left_time,
                right_time,
            } => (Some(left_time), right_time),
            TemporalJoin::LookupAt { left_time } => (left_time, 0),
            TemporalJoin::Lookup => (None, 0),
        }
    }

    /// The rows `left` makes with those of `candidates` that meet the condition: one per
    /// partner, or, in a LEFT join without any, the row with NULLs.
    fn pairs(&self, left: &[Value], candidates: Vec<&Vec<Value>>) -> Vec<Vec<Value>> {
        let others: Vec<&[Value]> = candidates.iter().map(|v| v.as_slice()).collect();
        let widths = self.left_outer.then_some(self.widths);
        left_rows_met(self.condition.as_ref(), left, &others, widths)
    }

    /// The right rows a left row at `t` joins: the version valid then, or (a lookup) all.
    fn partners<'a>(&self, rights: &'a [Vec<Value>], t: EventTime) -> Vec<&'a Vec<Value>> {
        match self.join {
            TemporalJoin::Versioned { right_time, .. } => {
                version_at(rights, right_time, t).into_iter().collect()
            }
            _ => rights.iter().collect(),
        }
    }
}

fn time_of(values: &[Value], index: usize) -> Option<EventTime> {
    match values.get(index) {
        Some(Value::Int(t)) => Some(*t),
        _ => None,
    }
}

/// The right version valid at `t`: the latest at or before it (the last to arrive of equals).
fn version_at(versions: &[Vec<Value>], at: usize, t: EventTime) -> Option<&Vec<Value>> {
    versions
        .iter()
        .filter(|v| time_of(v, at).is_some_and(|vt| vt <= t))
        .max_by_key(|v| time_of(v, at))
}

impl KeyedProcessFunction<Vec<Value>, Either<JoinRow, JoinRow>> for VersionedFold {
    type State = (ListState<Vec<Value>>, ListState<Vec<Value>>);
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: Either<JoinRow, JoinRow>,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let (left_time, _) = self.times();
        let watermark = ctx.current_watermark();
        match row {
            Either::Left(l) => {
                let mut values = l.values;
                let t = match left_time {
                    Some(at) => time_of(&values, at),
                    None => Some(ctx.timestamp()),
                };
                // A NULL key or time has no partner, ever.
                let (Some(t), false) = (t, l.unmatchable) else {
                    for row in self.pairs(&values, Vec::new()) {
                        ctx.collect(row);
                    }
                    return;
                };
                if t <= watermark {
                    // Late: the versions it needs are in already.
                    let (_, rights) = ctx.state();
                    let joined = self.pairs(&values, self.partners(rights.get(), t));
                    for row in joined {
                        ctx.collect(row);
                    }
                } else {
                    if left_time.is_none() {
                        values.push(Value::Int(t));
                    }
                    ctx.state().0.add(values);
                    ctx.register_event_time_timer(t);
                }
            }
            Either::Right(r) => ctx.state().1.add(r.values),
        }
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let (left_time, right_time) = self.times();
        let now = timer.time;
        let (waiting, versions) = ctx.state();
        let mut joined = Vec::new();
        waiting.retain(|l| {
            // A row without a time column carries its stream time last.
            let (t, values) = match left_time {
                Some(at) => (time_of(l, at), &l[..]),
                None => (
                    time_of(l, l.len().saturating_sub(1)),
                    &l[..l.len().saturating_sub(1)],
                ),
            };
            match t {
                Some(t) if t <= now => {
                    joined.extend(self.pairs(values, self.partners(versions.get(), t)));
                    false
                }
                _ => true,
            }
        });
        // Only the version valid at the watermark and later ones can still be used.
        let current = match self.join {
            TemporalJoin::Versioned { .. } => {
                version_at(versions.get(), right_time, now).and_then(|v| time_of(v, right_time))
            }
            _ => None,
        };
        if let Some(current) = current {
            versions.retain(|v| time_of(v, right_time).is_none_or(|t| t >= current));
        }
        let empty = waiting.is_empty() && versions.is_empty();
        for row in joined {
            ctx.collect(row);
        }
        if empty {
            ctx.clear_state();
        }
    }
}

/// One side's rows of a key in an outer, semi or anti join, each with how many partners it
/// has had.
type Partners = Vec<(Vec<Value>, u64)>;

/// The keyed half of outer, semi and anti joins: each row remembers how many partners it has
/// had, so that a row emitted alone (NULL-padded, or by an anti join) is taken back (`-D`)
/// when its first partner comes, and a semi join emits a row at its first partner.
struct PartnerFold {
    kind: JoinKind,
    widths: (usize, usize),
    /// The condition beyond the key equalities a pair must meet to be partners.
    condition: Option<PairCondition>,
    /// A side is an updating result: every output row carries its kind.
    retracting: bool,
}

/// The condition of an outer, semi or anti join beyond its key equalities: a left row and a
/// right row of a key are partners if their pair meets it (TRUE; NULL and FALSE do not).
#[derive(Clone)]
struct PairCondition {
    condition: Physical,
    /// The schema of a left row beside a right row.
    schema: SchemaRef,
    job: Arc<riffle_runtime::JobShared>,
}

/// Which of `others`, rows of the side that is not `left`'s, are partners of `values` under
/// `condition` (all, without one). A condition that fails to evaluate fails the job.
fn meets(
    condition: Option<&PairCondition>,
    values: &[Value],
    left: bool,
    others: &[&[Value]],
) -> Vec<bool> {
    let Some(condition) = condition else {
        return vec![true; others.len()];
    };
    if others.is_empty() {
        return Vec::new();
    }
    let pairs: Vec<Vec<Value>> = others
        .iter()
        .map(|other| beside(values, other, left))
        .collect();
    let mask = batch_of(&condition.schema, &pairs)
        .and_then(|batch| join_mask(&condition.condition, &batch))
        .map(|m| (0..m.len()).map(|i| m.is_valid(i) && m.value(i)).collect());
    mask.unwrap_or_else(|error| {
        condition.job.fail(error);
        vec![false; others.len()]
    })
}

/// `values` of the side `left` beside each of `others` that `met` marks (see [`meets`]).
fn pairs_met(values: &[Value], others: &[&[Value]], met: &[bool], left: bool) -> Vec<Vec<Value>> {
    others
        .iter()
        .zip(met)
        .filter(|(_, met)| **met)
        .map(|(other, _)| beside(values, other, left))
        .collect()
}

/// A left row beside each of `others` that meets the condition; without any, in a LEFT
/// join (`widths` of the two sides given), the row padded with NULLs.
fn left_rows_met(
    condition: Option<&PairCondition>,
    left: &[Value],
    others: &[&[Value]],
    widths: Option<(usize, usize)>,
) -> Vec<Vec<Value>> {
    let met = meets(condition, left, true, others);
    let pairs = pairs_met(left, others, &met, true);
    match widths {
        Some(widths) if pairs.is_empty() => vec![padded(left, true, widths)],
        _ => pairs,
    }
}

/// A join condition's value over `batch`, which must be a BOOLEAN.
fn join_mask(condition: &Physical, batch: &RecordBatch) -> Result<BooleanArray> {
    evaluate(condition, batch)?
        .as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .ok_or_else(|| RiffleError::Sql("a join condition needs a BOOLEAN".into()))
}

/// `values` of the side `left` beside the other side's `other`, as a joined row.
fn beside(values: &[Value], other: &[Value], left: bool) -> Vec<Value> {
    let (first, second) = if left {
        (values, other)
    } else {
        (other, values)
    };
    first.iter().chain(second).cloned().collect()
}

/// `values` of the side `left` beside NULLs for the other side (`widths`: the columns of
/// the left and the right rows).
fn padded(values: &[Value], left: bool, widths: (usize, usize)) -> Vec<Value> {
    let nulls = vec![Value::Null; if left { widths.1 } else { widths.0 }];
    beside(values, &nulls, left)
}

const INSERT: i64 = 0;
const DELETE: i64 = 3;

impl KeyedProcessFunction<Vec<Value>, Either<JoinRow, JoinRow>> for PartnerFold {
    type State = ValueState<(Partners, Partners)>;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: Either<JoinRow, JoinRow>,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let (left, row) = match row {
            Either::Left(r) => (true, r),
            Either::Right(r) => (false, r),
        };
        let mut out: Vec<(Vec<Value>, i64)> = Vec::new();
        let kind = if row.retract { DELETE } else { INSERT };
        if row.unmatchable {
            // A NULL key: alone for ever.
            match self.kind {
                JoinKind::Outer { .. } => out.push((padded(&row.values, left, self.widths), kind)),
                JoinKind::Anti { .. } => out.push((row.values, kind)),
                JoinKind::Inner | JoinKind::Semi { .. } => {}
            }
        } else {
            let state = ctx.state();
            if state.value().is_none() {
                if row.retract {
                    // Taking back a row the key does not hold: nothing changes.
                    return;
                }
                state.update((Vec::new(), Vec::new()));
            }
            if let Some(sides) = state.value_mut() {
                self.meet(left, row.values, row.retract, sides, &mut out);
                if sides.0.is_empty() && sides.1.is_empty() {
                    ctx.clear_state();
                }
            }
        }
        let updating = self.kind.updating() || self.retracting;
        for (mut values, kind) in out {
            if updating {
                values.push(Value::Int(kind));
            }
            ctx.collect(values);
        }
    }
}

impl PartnerFold {
    /// A row of the side `left` comes (or, of an updating result, is taken back: `retract`)
    /// and meets the other side's rows of its key. Coming, it makes its pairs, takes back
    /// the NULL-padded or anti rows of partners that had none, and is emitted alone if it
    /// finds none (outer, anti) or emitted at its first partner (semi). Taken back, it
    /// undoes each: its pairs are deleted, partners left with none get their padded or anti
    /// rows back, and what it emitted alone is deleted. A row taken back that the key does
    /// not hold is ignored.
    fn meet(
        &self,
        left: bool,
        mut values: Vec<Value>,
        retract: bool,
        (lefts, rights): &mut (Partners, Partners),
        out: &mut Vec<(Vec<Value>, i64)>,
    ) {
        let (mine, theirs) = if left {
            (lefts, rights)
        } else {
            (rights, lefts)
        };
        // What a coming row emits and takes back; a row taken back the other way round.
        let (on, off) = if retract {
            (DELETE, INSERT)
        } else {
            (INSERT, DELETE)
        };
        // Without a condition, only the count of a semi or anti join's other side's rows
        // matters: they are kept without values.
        if let JoinKind::Semi { left: emitted } | JoinKind::Anti { left: emitted } = self.kind {
            if left != emitted && self.condition.is_none() {
                values = Vec::new();
            }
        }
        let partners = if retract {
            let Some(at) = mine.iter().position(|(v, _)| *v == values) else {
                return;
            };
            let (_, partners) = mine.swap_remove(at);
            partners
        } else {
            0
        };
        let others: Vec<&[Value]> = theirs.iter().map(|(v, _)| v.as_slice()).collect();
        let met = meets(self.condition.as_ref(), &values, left, &others);
        let partners = match retract {
            true => partners,
            false => met.iter().filter(|m| **m).count() as u64,
        };
        // Each partner's count of partners moves by this row as the match below reads it (a
        // semi or anti join's emitted side, whose partners' counts decide nothing, does
        // not); `alone` says whether the partner has none besides this row.
        let theirs =
            theirs
                .iter_mut()
                .zip(met)
                .filter(|(_, met)| *met)
                .map(|((other, count), _)| {
                    let alone = *count == u64::from(retract);
                    *count = match retract {
                        true => count.saturating_sub(1),
                        false => *count + 1,
                    };
                    (&*other, alone)
                });
        match self.kind {
            JoinKind::Inner => {
                out.extend(theirs.map(|(other, _)| (beside(&values, other, left), on)));
            }
            JoinKind::Outer { left: l, right: r } => {
                let (mine_outer, theirs_outer) = if left { (l, r) } else { (r, l) };
                for (other, alone) in theirs {
                    // A padded row is never out beside a pair of the same row.
                    let padding =
                        (theirs_outer && alone).then(|| (padded(other, !left, self.widths), off));
                    let pair = (beside(&values, other, left), on);
                    match retract {
                        true => out.extend([pair].into_iter().chain(padding)),
                        false => out.extend(padding.into_iter().chain([pair])),
                    }
                }
                if partners == 0 && mine_outer {
                    out.push((padded(&values, left, self.widths), on));
                }
            }
            JoinKind::Semi { left: emitted } | JoinKind::Anti { left: emitted } => {
                let semi = matches!(self.kind, JoinKind::Semi { .. });
                if left == emitted {
                    if semi == (partners > 0) {
                        out.push((values.clone(), on));
                    }
                } else {
                    for (other, alone) in theirs {
                        if alone {
                            out.push((other.clone(), if semi { on } else { off }));
                        }
                    }
                }
            }
        }
        if !retract {
            mine.push((values, partners));
        }
    }
}

/// The Top-N pattern: `Filter(rn <= N)` over pass-through projections over a `Window` of a
/// single `ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)`, as the planner makes it of
/// `SELECT * FROM (SELECT ..., ROW_NUMBER() OVER (...) AS rn FROM t) WHERE rn <= N`.
fn top_n(
    filter: &datafusion::logical_expr::Filter,
    state: &SessionState,
    tables: &dyn Tables,
) -> Result<Option<Node>> {
    use datafusion::logical_expr::{BinaryExpr, Operator};
    use datafusion::scalar::ScalarValue;
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &filter.predicate else {
        return Ok(None);
    };
    let (Expr::Column(column), Expr::Literal(value, _)) = (left.as_ref(), right.as_ref()) else {
        return Ok(None);
    };
    // Find the window expression the column is, through pass-through projections.
    let mut plan = filter.input.as_ref();
    let mut column = column.clone();
    let mut projections = Vec::new();
    let window = loop {
        match plan {
            LogicalPlan::Projection(p) => {
                let index = p.schema.index_of_column(&column).ok();
                let Some(Expr::Column(inner)) = index.and_then(|i| p.expr.get(i)).map(strip_alias)
                else {
                    return Ok(None);
                };
                column = inner.clone();
                projections.push(p);
                plan = p.input.as_ref();
            }
            LogicalPlan::Window(w) => break w,
            _ => return Ok(None),
        }
    };
    let index = window.schema.index_of_column(&column).ok();
    let inputs = window.input.schema().fields().len();
    let Some(k) = index.and_then(|i| i.checked_sub(inputs)) else {
        return Ok(None);
    };
    let [Expr::WindowFunction(function)] = window.window_expr.as_slice() else {
        return Err(unsupported("several OVER windows in one SELECT"));
    };
    let ranking = match function.fun.name().to_lowercase().as_str() {
        "row_number" => Ranking::RowNumber,
        "rank" => Ranking::Rank,
        "dense_rank" => Ranking::Dense,
        _ => return Ok(None),
    };
    if k != 0 {
        return Ok(None);
    }
    let bound = match value {
        ScalarValue::UInt64(Some(v)) => *v as i128,
        ScalarValue::Int64(Some(v)) => *v as i128,
        ScalarValue::Int32(Some(v)) => *v as i128,
        _ => {
            return Err(unsupported(
                "a ROW_NUMBER() compared with something else than a number",
            ))
        }
    };
    let limit = match op {
        Operator::LtEq => bound,
        Operator::Lt => bound - 1,
        Operator::Eq if bound == 1 => 1,
        _ => {
            return Err(unsupported(
                "a ROW_NUMBER() condition other than rn <= N, rn < N or rn = 1",
            ))
        }
    };
    if limit < 1 {
        return Err(RiffleError::Sql(
            "a Top-N condition that keeps no row".into(),
        ));
    }
    let params = &function.params;
    if params.order_by.is_empty() {
        return Err(unsupported("a ROW_NUMBER() without ORDER BY"));
    }
    let physical = |expr: &Expr| -> Result<Physical> {
        state
            .create_physical_expr(expr.clone(), window.input.schema())
            .map_err(|e| RiffleError::Sql(e.to_string()))
    };
    let partition = params
        .partition_by
        .iter()
        .map(&physical)
        .collect::<Result<Vec<_>>>()?;
    let window_time = keys_window(
        params
            .partition_by
            .iter()
            .map(|key| expr_window(key, &window.input, tables)),
    );
    let order = params
        .order_by
        .iter()
        .map(|sort| Ok((physical(&sort.expr)?, sort.asc, sort.nulls_first)))
        .collect::<Result<Vec<_>>>()?;
    let input = Node::from_plan(&window.input, state, tables)?;
    if input.updating() && window_time.is_some() {
        return Err(unsupported("a window Top-N of an updating result"));
    }
    if input.raw_sessions() {
        return Err(sessions_unaggregated());
    }
    let mut node = Node::TopN(Box::new(TopN {
        input,
        partition,
        order,
        ranking,
        limit: limit as usize,
        ttl: if window_time.is_none() {
            tables.state_ttl()?
        } else {
            None
        },
        window: window_time,
        schema: Arc::new(window.schema.as_arrow().clone()),
    }));
    // The projections between the filter and the window, innermost first.
    for p in projections.into_iter().rev() {
        node = Node::Project {
            input: Box::new(node),
            exprs: p
                .expr
                .iter()
                .map(|e| {
                    state
                        .create_physical_expr(e.clone(), p.input.schema())
                        .map_err(|e| RiffleError::Sql(e.to_string()))
                })
                .collect::<Result<_>>()?,
            schema: Arc::new(p.schema.as_arrow().clone()),
        };
    }
    Ok(Some(node))
}

/// A row on its way into a Top-N: its partition, sort key and values.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RankRow {
    partition: Vec<Value>,
    order: Vec<Value>,
    values: Vec<Value>,
    /// A row of an updating input taken back.
    retract: bool,
}

impl TopN {
    fn build<'s>(
        &self,
        plan: &Build<'_, 's>,
        guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + 'static,
    ) -> Result<DataStream<'s, Batch>> {
        let env = plan.env;
        let partition = self.partition.clone();
        let order: Vec<Physical> = self.order.iter().map(|(e, ..)| Arc::clone(e)).collect();
        let job = Arc::clone(env.job());
        let updating = self.input.updating();
        let rows =
            self.input
                .build(plan)?
                .flat_map_with_time("sql.rank_rows", move |ts, batch, out| {
                    let rows = (|| -> Result<Vec<RankRow>> {
                        let values = |exprs: &[Physical]| -> Result<Vec<ArrayRef>> {
                            exprs.iter().map(|e| evaluate(e, &batch)).collect()
                        };
                        let (keys, sorts) = (values(&partition)?, values(&order)?);
                        let changes = Changes::of(&batch, updating)?;
                        (0..batch.num_rows())
                            .map(|row| {
                                Ok(RankRow {
                                    partition: row_values(&keys, row)?,
                                    order: row_values(&sorts, row)?,
                                    values: row_values(changes.columns, row)?,
                                    retract: changes.takes_back(row),
                                })
                            })
                            .collect()
                    })();
                    match rows {
                        Ok(rows) => out.extend(rows.into_iter().map(|r| (ts, r))),
                        Err(error) => job.fail(error),
                    }
                });
        let directions: Vec<(bool, bool)> = self.order.iter().map(|(_, a, n)| (*a, *n)).collect();
        let ranked = with_ttl(
            rows.key_by(|row: &RankRow| row.partition.clone()),
            RankFold {
                ranking: self.ranking,
                directions,
                limit: self.limit,
                window: self.window,
                keep_all: updating,
                late: env.job().counter("sql.window.late_rows"),
            },
            self.ttl,
        );
        let schema = if self.window.is_some() {
            Arc::clone(&self.schema)
        } else {
            with_row_kind(&self.schema)
        };
        Ok(rows_to_batches(
            ranked,
            "sql.rank_batches",
            schema,
            Ok,
            guard,
        ))
    }
}

/// Orders sort keys as `ORDER BY` says: per key ascending or descending, NULLs first or last.
fn compare_keys(a: &[Value], b: &[Value], directions: &[(bool, bool)]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for ((x, y), (asc, nulls_first)) in a.iter().zip(b).zip(directions) {
        let order = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if *nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if *nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) if *asc => x.cmp(y),
            (false, false) => y.cmp(x),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// The keyed half of a Top-N: a partition's best rows (sort key and values), in order.
struct RankFold {
    ranking: Ranking,
    directions: Vec<(bool, bool)>,
    limit: usize,
    window: Option<WindowTime>,
    /// Over an updating input every row is kept: a row taken back from the top lets the
    /// next one in (Flink's retractable Top-N).
    keep_all: bool,
    late: Arc<AtomicU64>,
}

/// A partition's rows: (sort key, values), best first.
type Ranked = ValueState<Vec<(Vec<Value>, Vec<Value>)>>;

impl KeyedProcessFunction<Vec<Value>, RankRow> for RankFold {
    type State = Ranked;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: RankRow,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        if let Some(window) = self.window {
            match window.fire_at(ctx.key()) {
                Some(end) if end <= ctx.current_watermark() => {
                    self.late.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(end) => ctx.register_event_time_timer(end),
                None => {}
            }
        }
        let directions = &self.directions;
        let limit = self.limit;
        let state = ctx.state();
        if state.value().is_none() {
            if row.retract {
                return;
            }
            state.update(Vec::new());
        }
        let Some(best) = state.value_mut() else {
            return;
        };
        let ranking = self.ranking;
        let numbered = |rows: &[(Vec<Value>, Vec<Value>)]| {
            let keys: Vec<&[Value]> = rows.iter().map(|(k, _)| k.as_slice()).collect();
            ranking.ranks(&keys)
        };
        let within = |ranks: &[usize]| ranks.iter().take_while(|r| **r <= limit).count();
        let before_ranks = numbered(best);
        let before_kept = within(&before_ranks);
        let before: Vec<(Vec<Value>, Vec<Value>)> = best[..before_kept].to_vec();
        let at = if row.retract {
            // The row taken back, if the partition holds it.
            let found = best
                .iter()
                .position(|(key, values)| *values == row.values && *key == row.order);
            let Some(at) = found else {
                return;
            };
            best.remove(at);
            at
        } else {
            // After every row of an equal key: ties keep their arrival order.
            let at = best.partition_point(|(key, _)| {
                compare_keys(key, &row.order, directions) != std::cmp::Ordering::Greater
            });
            best.insert(at, (row.order, row.values));
            at
        };
        // Keep the rows ranked within the limit (with RANK, ties may make more of them), or
        // every row over an updating input.
        let ranks = numbered(best);
        let kept = within(&ranks);
        if !self.keep_all {
            best.truncate(kept);
        }
        if best.is_empty() {
            ctx.clear_state();
        }
        if (at >= kept && at >= before_kept) || self.window.is_some() {
            return;
        }
        // The changelog of the positions whose row or rank changed.
        let after: Vec<(Vec<Value>, Vec<Value>)> = match ctx.state().value() {
            Some(best) => best[..kept].to_vec(),
            None => Vec::new(),
        };
        let ranked = |values: &[Value], rank: usize, kind: i64| {
            let mut row = values.to_vec();
            row.push(Value::Int(rank as i64));
            row.push(Value::Int(kind));
            row
        };
        for (i, (_, new)) in after.iter().enumerate().skip(at) {
            match before.get(i) {
                Some((_, old)) if old == new && before_ranks[i] == ranks[i] => {}
                Some((_, old)) => {
                    ctx.collect(ranked(old, before_ranks[i], 1));
                    ctx.collect(ranked(new, ranks[i], 2));
                }
                None => ctx.collect(ranked(new, ranks[i], 0)),
            }
        }
        // Rows pushed out past the limit, or taken back, are deleted.
        for i in after.len().max(at)..before.len() {
            ctx.collect(ranked(&before[i].1, before_ranks[i], 3));
        }
    }

    fn on_timer(
        &mut self,
        _timer: Timer,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        if let Some(best) = ctx.state().value().cloned() {
            let keys: Vec<&[Value]> = best.iter().map(|(k, _)| k.as_slice()).collect();
            let ranks = self.ranking.ranks(&keys);
            for ((_, values), rank) in best.into_iter().zip(ranks) {
                let mut row = values;
                row.push(Value::Int(rank as i64));
                ctx.collect(row);
            }
        }
        ctx.clear_state();
    }
}

/// The streaming aggregate of a function name.
fn aggregate_function(name: &str) -> Result<Function> {
    Ok(match name {
        "count" => Function::Count,
        "sum" => Function::Sum,
        "min" => Function::Min,
        "max" => Function::Max,
        "avg" | "mean" => Function::Avg,
        other => {
            return Err(unsupported(&format!(
                "the aggregate function {} (COUNT, SUM, MIN, MAX and AVG are supported)",
                other.to_uppercase()
            )))
        }
    })
}

/// An interval literal in milliseconds (days and smaller units).
fn interval_millis(value: &datafusion::scalar::ScalarValue) -> Option<i64> {
    use datafusion::scalar::ScalarValue as S;
    match value {
        S::IntervalDayTime(Some(v)) => Some(v.days as i64 * 86_400_000 + v.milliseconds as i64),
        S::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            Some(v.days as i64 * 86_400_000 + v.nanoseconds / 1_000_000)
        }
        S::DurationMillisecond(Some(v)) => Some(*v),
        S::DurationSecond(Some(v)) => Some(v * 1000),
        _ => None,
    }
}

/// Plans an OVER aggregation; ROW_NUMBER without a Top-N filter and other window functions
/// are refused by name.
fn over(
    window: &datafusion::logical_expr::logical_plan::Window,
    state: &SessionState,
    tables: &dyn Tables,
) -> Result<Node> {
    use datafusion::logical_expr::{ExprSchemable, WindowFrameBound, WindowFrameUnits};
    let physical = |expr: &Expr| -> Result<Physical> {
        state
            .create_physical_expr(expr.clone(), window.input.schema())
            .map_err(|e| RiffleError::Sql(e.to_string()))
    };
    let mut shape = None;
    let mut aggregates = Vec::new();
    for expr in &window.window_expr {
        let Expr::WindowFunction(f) = strip_alias(expr) else {
            return Err(unsupported(&format!("the OVER expression {expr}")));
        };
        let name = f.fun.name().to_lowercase();
        let is_lag = name == "lag";
        if name == "lead" {
            return Err(unsupported(
                "LEAD, which needs rows that have not come yet (Flink refuses it in streaming \
                 too)",
            ));
        }
        if !is_lag
            && !matches!(
                f.fun,
                datafusion::logical_expr::WindowFunctionDefinition::AggregateUDF(_)
            )
        {
            return Err(unsupported(&format!(
                "the window function {} (aggregates OVER a window are, and ROW_NUMBER() \
                 filtered to rn <= N for Top-N)",
                name.to_uppercase()
            )));
        }
        let p = &f.params;
        let this = (
            p.partition_by.clone(),
            p.order_by.clone(),
            p.window_frame.clone(),
        );
        match &shape {
            None => shape = Some(this),
            Some(first) if *first == this => {}
            Some(_) => {
                return Err(unsupported(
                    "OVER windows with different PARTITION BY, ORDER BY or frames in one SELECT",
                ))
            }
        }
        if is_lag {
            let constant = |e: Option<&Expr>| match e.map(strip_alias) {
                None => Ok(None),
                Some(Expr::Literal(v, _)) => Ok(Some(v.clone())),
                Some(other) => Err(unsupported(&format!("LAG with the argument {other}"))),
            };
            let offset = match constant(p.args.get(1))? {
                None => 1,
                Some(v) => match v.cast_to(&DataType::UInt64) {
                    Ok(datafusion::scalar::ScalarValue::UInt64(Some(n))) => n as usize,
                    _ => return Err(unsupported(&format!("LAG with the offset {v}"))),
                },
            };
            let default = match constant(p.args.get(2))? {
                None => Value::Null,
                Some(v) => Value::from_scalar(&v)?,
            };
            let Some(arg) = p.args.first() else {
                return Err(unsupported("LAG without an argument"));
            };
            aggregates.push(AggregateSpec {
                function: Function::Lag,
                call: None,
                lag: Some((offset.max(1), default)),
                distinct: false,
                arg: physical(arg)?,
                filter: None,
            });
            continue;
        }
        let [arg] = p.args.as_slice() else {
            return Err(unsupported(&format!(
                "{} over {} arguments",
                name.to_uppercase(),
                p.args.len()
            )));
        };
        aggregates.push(AggregateSpec {
            function: aggregate_function(&name)?,
            call: None,
            lag: None,
            distinct: p.distinct,
            arg: physical(arg)?,
            filter: match &p.filter {
                Some(filter) => Some(physical(filter)?),
                None => None,
            },
        });
    }
    let Some((partition_by, order_by, frame)) = shape else {
        return Err(unsupported("an empty OVER window"));
    };
    let [order] = order_by.as_slice() else {
        return Err(unsupported(
            "an OVER window without exactly one ORDER BY (a time)",
        ));
    };
    let time_type = order
        .expr
        .get_type(window.input.schema().as_ref())
        .map_err(|e| RiffleError::Sql(e.to_string()))?;
    if !order.asc || !matches!(time_type, DataType::Timestamp(..)) {
        return Err(unsupported(
            "an OVER window not ordered by a time ascending (Flink orders OVER windows by \
             their time attribute)",
        ));
    }
    if frame.end_bound != WindowFrameBound::CurrentRow {
        return Err(unsupported(
            "an OVER frame that does not end at CURRENT ROW",
        ));
    }
    let frame = match (&frame.units, &frame.start_bound) {
        (WindowFrameUnits::Rows, WindowFrameBound::Preceding(v)) if v.is_null() => {
            Frame::Unbounded { range: false }
        }
        (WindowFrameUnits::Range, WindowFrameBound::Preceding(v)) if v.is_null() => {
            Frame::Unbounded { range: true }
        }
        (WindowFrameUnits::Rows, WindowFrameBound::Preceding(v)) => {
            match v.cast_to(&DataType::UInt64) {
                Ok(datafusion::scalar::ScalarValue::UInt64(Some(n))) => Frame::Rows(n),
                _ => return Err(unsupported(&format!("the ROWS frame {v} PRECEDING"))),
            }
        }
        (WindowFrameUnits::Rows, WindowFrameBound::CurrentRow) => Frame::Rows(0),
        (WindowFrameUnits::Range, WindowFrameBound::Preceding(v)) => match interval_millis(v) {
            Some(ms) => Frame::Range(ms),
            None => return Err(unsupported(&format!("the RANGE frame {v} PRECEDING"))),
        },
        (WindowFrameUnits::Range, WindowFrameBound::CurrentRow) => Frame::Range(0),
        (units, bound) => {
            return Err(unsupported(&format!(
                "the OVER frame {units:?} from {bound}"
            )))
        }
    };
    let input = Node::from_plan(&window.input, state, tables)?;
    let updating = input.updating();
    Ok(Node::Over(Box::new(Over {
        input,
        partition: partition_by.iter().map(&physical).collect::<Result<_>>()?,
        time: physical(&order.expr)?,
        aggregates,
        frame,
        updating,
        ttl: match updating {
            true => tables.state_ttl()?,
            false => None,
        },
        schema: Arc::new(window.schema.as_arrow().clone()),
    })))
}

/// A row on its way into an OVER aggregation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OverRow {
    partition: Vec<Value>,
    time: i64,
    inputs: Vec<Value>,
    values: Vec<Value>,
    /// Its row kind (`+I` over an appended input).
    kind: i8,
}

impl Over {
    fn build<'s>(
        &self,
        plan: &Build<'_, 's>,
        guard: impl Fn(Result<RecordBatch>) -> Option<Batch> + 'static,
    ) -> Result<DataStream<'s, Batch>> {
        let env = plan.env;
        let partition = self.partition.clone();
        let time = Arc::clone(&self.time);
        let specs: Vec<(Physical, Option<Physical>)> = self
            .aggregates
            .iter()
            .map(|a| (Arc::clone(&a.arg), a.filter.clone()))
            .collect();
        let job = Arc::clone(env.job());
        let updating = self.updating;
        let rows =
            self.input
                .build(plan)?
                .flat_map_with_time("sql.over_rows", move |ts, batch, out| {
                    let rows = (|| -> Result<Vec<(EventTime, OverRow)>> {
                        let keys = partition
                            .iter()
                            .map(|e| evaluate(e, &batch))
                            .collect::<Result<Vec<_>>>()?;
                        let times = millis(&evaluate(&time, &batch)?, "an OVER time")?;
                        let inputs = AggregateInputs::of(&batch, &specs)?;
                        let changes = Changes::of(&batch, updating)?;
                        let mut rows = Vec::new();
                        for row in 0..batch.num_rows() {
                            // A row without a time has no place in the order.
                            if times.is_null(row) {
                                continue;
                            }
                            let values = inputs.row(row)?;
                            let t = times.value(row);
                            rows.push((
                                // An updating input's rows are computed as they come.
                                if updating { ts } else { t },
                                OverRow {
                                    partition: row_values(&keys, row)?,
                                    time: t,
                                    inputs: values,
                                    values: row_values(changes.columns, row)?,
                                    kind: changes.kind(row),
                                },
                            ));
                        }
                        Ok(rows)
                    })();
                    match rows {
                        Ok(rows) => out.extend(rows),
                        Err(error) => job.fail(error),
                    }
                });
        let functions = Functions::of(&self.aggregates, false);
        let keyed = rows.key_by(|row: &OverRow| row.partition.clone());
        let (computed, schema) = match self.updating {
            true => (
                with_ttl(
                    keyed,
                    over::UpdatingOverFold {
                        functions,
                        frame: self.frame,
                    },
                    self.ttl,
                ),
                with_row_kind(&self.schema),
            ),
            false => (
                keyed.process(OverFold {
                    functions,
                    frame: self.frame,
                    late: env.job().counter("sql.over.late_rows"),
                }),
                Arc::clone(&self.schema),
            ),
        };
        Ok(rows_to_batches(
            computed,
            "sql.over_batches",
            schema,
            Ok,
            guard,
        ))
    }
}

/// A row waiting for the watermark: its aggregate inputs and its values.
type Waiting = (Vec<Value>, Vec<Value>);

/// A partition's OVER state: rows waiting for the watermark, the earlier rows the frame still
/// holds (time and aggregate inputs), and running aggregates for unbounded frames.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OverState {
    pending: std::collections::BTreeMap<i64, Vec<Waiting>>,
    history: std::collections::VecDeque<(i64, Vec<Value>)>,
    running: Vec<Acc>,
    /// The inputs of the rows before, as far back as the largest LAG offset.
    before: std::collections::VecDeque<Vec<Value>>,
}

/// The keyed half of an OVER aggregation.
struct OverFold {
    functions: Functions,
    frame: Frame,
    late: Arc<AtomicU64>,
}

impl OverFold {
    /// `results` with each LAG's value for the row of `inputs` (the row before it `n` back,
    /// or the default), then that row remembered for the rows after.
    fn with_lags(
        &self,
        over: &mut OverState,
        inputs: &[Value],
        mut results: Vec<Value>,
    ) -> Vec<Value> {
        let deepest = self.functions.lags.iter().flatten().map(|(n, _)| *n).max();
        let Some(deepest) = deepest else {
            return results;
        };
        for (i, lag) in self.functions.lags.iter().enumerate() {
            if let Some((n, default)) = lag {
                let earlier = over.before.len().checked_sub(*n).map(|k| &over.before[k]);
                results[i] = earlier
                    .and_then(|row| row.get(i).cloned())
                    .unwrap_or_else(|| default.clone());
            }
        }
        over.before.push_back(inputs.to_vec());
        while over.before.len() > deepest {
            over.before.pop_front();
        }
        results
    }
}

impl KeyedProcessFunction<Vec<Value>, OverRow> for OverFold {
    type State = ValueState<OverState>;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: OverRow,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        // Rows are computed in time order once the watermark passes them: an earlier one
        // arriving later is late.
        if row.time <= ctx.current_watermark() {
            self.late.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let state = ctx.state();
        if state.value().is_none() {
            state.update(OverState::default());
        }
        if let Some(over) = state.value_mut() {
            over.pending
                .entry(row.time)
                .or_default()
                .push((row.inputs, row.values));
        }
        ctx.register_event_time_timer(row.time);
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let Some(mut over) = ctx.state().value().cloned() else {
            return;
        };
        let Some(rows) = over.pending.remove(&timer.time) else {
            return;
        };
        let t = timer.time;
        let mut out = Vec::new();
        match self.frame {
            Frame::Unbounded { range } => {
                if over.running.is_empty() {
                    over.running = self.functions.fresh();
                }
                if range {
                    for (inputs, _) in &rows {
                        Functions::add(&mut over.running, inputs.iter().cloned());
                    }
                    let results = self.functions.results(&over.running);
                    for (inputs, values) in rows {
                        let results = self.with_lags(&mut over, &inputs, results.clone());
                        out.push(values.into_iter().chain(results).collect::<Vec<_>>());
                    }
                } else {
                    for (inputs, values) in rows {
                        Functions::add(&mut over.running, inputs.iter().cloned());
                        let results = self.functions.results(&over.running);
                        let results = self.with_lags(&mut over, &inputs, results);
                        out.push(values.into_iter().chain(results).collect::<Vec<_>>());
                    }
                }
            }
            Frame::Rows(n) => {
                for (inputs, values) in rows {
                    over.history.push_back((t, inputs.clone()));
                    while over.history.len() as u64 > n + 1 {
                        over.history.pop_front();
                    }
                    let results = self.functions.over(over.history.iter().map(|(_, i)| i));
                    let results = self.with_lags(&mut over, &inputs, results);
                    out.push(values.into_iter().chain(results).collect::<Vec<_>>());
                }
            }
            Frame::Range(ms) => {
                over.history
                    .extend(rows.iter().map(|(i, _)| (t, i.clone())));
                while over.history.front().is_some_and(|(time, _)| *time < t - ms) {
                    over.history.pop_front();
                }
                let results = self.functions.over(over.history.iter().map(|(_, i)| i));
                for (inputs, values) in rows {
                    let results = self.with_lags(&mut over, &inputs, results.clone());
                    out.push(values.into_iter().chain(results).collect::<Vec<_>>());
                }
            }
        }
        ctx.state().update(over);
        for row in out {
            ctx.collect(row);
        }
    }
}

/// A group's open sessions: start, end (exclusive) and aggregate states, by start.
type Sessions = ValueState<Vec<(i64, i64, Vec<Acc>)>>;

/// The keyed half of a SESSION window aggregation: each row opens the session `[ts, ts +
/// gap)`, which merges with every session of its group it overlaps; a session is emitted when
/// the watermark passes its end.
struct SessionFold {
    functions: Functions,
    /// Indices of `window_start` and `window_end` among the group's keys.
    start: usize,
    end: usize,
    late: Arc<AtomicU64>,
}

impl KeyedProcessFunction<Vec<Value>, AggRow> for SessionFold {
    type State = Sessions;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: AggRow,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let (Some(Value::Int(mut from)), Some(Value::Int(mut to))) = (
            row.key.get(self.start).cloned(),
            row.key.get(self.end).cloned(),
        ) else {
            return;
        };
        if to - 1 <= ctx.current_watermark() {
            self.late.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut accs = self.functions.fresh();
        Functions::add(&mut accs, row.inputs);
        let state = ctx.state();
        if state.value().is_none() {
            state.update(Vec::new());
        }
        let Some(sessions) = state.value_mut() else {
            return;
        };
        // Merge every session the new one overlaps.
        let mut kept = Vec::with_capacity(sessions.len() + 1);
        for (s, e, other) in sessions.drain(..) {
            if s < to && from < e {
                from = from.min(s);
                to = to.max(e);
                Acc::merge_all(&mut accs, other);
            } else {
                kept.push((s, e, other));
            }
        }
        kept.push((from, to, accs));
        kept.sort_by_key(|(s, ..)| *s);
        *sessions = kept;
        ctx.register_event_time_timer(to - 1);
    }

    fn on_timer(
        &mut self,
        timer: Timer,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let Some(sessions) = ctx.state().value().cloned() else {
            return;
        };
        let (done, open): (Vec<_>, Vec<_>) = sessions
            .into_iter()
            .partition(|(_, e, _)| e - 1 <= timer.time);
        let key = ctx.key().clone();
        for (from, to, accs) in done {
            // The group's keys with the session's window put back in their places.
            let mut rest = key.iter().cloned();
            let keys = (0..key.len() + 2).map(|i| {
                if i == self.start {
                    Value::Int(from)
                } else if i == self.end {
                    Value::Int(to)
                } else {
                    rest.next().unwrap_or(Value::Null)
                }
            });
            let results = self.functions.results(&accs);
            ctx.collect_at(to - 1, keys.chain(results).collect());
        }
        if open.is_empty() {
            ctx.clear_state();
        } else {
            ctx.state().update(open);
        }
    }
}
