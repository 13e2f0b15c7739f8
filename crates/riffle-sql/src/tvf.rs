//! Flink's window table-valued functions: `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL
//! '10' SECOND))`, `HOP(..., slide, size)` and `CUMULATE(..., step, size)`.
//!
//! DataFusion's parser does not know them, so [`rewrite`] replaces each call in the
//! statement's text by the name of a generated table (padded to the same length, so that
//! every later error position stays right) and returns what each call asked for. That table
//! is the input table's rows with `window_start`, `window_end` and `window_time` added, one
//! row per window a row falls in: [`explode`] computes it, for a bounded table at once, and
//! on a stream batch by batch.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, RecordBatch, TimestampMillisecondArray, UInt32Array,
};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan};
use riffle_core::{Result, RiffleError};

use crate::script::sql_error;

/// Which windows a window TVF assigns (sizes in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `size`.
    Tumble {
        /// Window length.
        size: i64,
    },
    /// Windows of `size` starting every `slide`.
    Hop {
        /// Distance between window starts.
        slide: i64,
        /// Window length.
        size: i64,
    },
    /// Windows growing by `step` from the start of each window of `size`.
    Cumulate {
        /// Growth of each window.
        step: i64,
        /// The largest window.
        size: i64,
    },
    /// Sessions: rows of a partition less than `gap` apart share a window, which ends `gap`
    /// after its last row. A row alone is the session `[ts, ts + gap)`; sessions merge as rows
    /// come (in batch mode, at once over all rows).
    Session {
        /// The largest gap inside a session.
        gap: i64,
    },
}

impl WindowKind {
    /// The `(start, end)` of every window holding time `ts`, in order of end.
    pub fn windows(&self, ts: i64, offset: i64, out: &mut Vec<(i64, i64)>) {
        let align = |every: i64| ts - (ts - offset).rem_euclid(every);
        match *self {
            WindowKind::Tumble { size } => {
                let start = align(size);
                out.push((start, start + size));
            }
            WindowKind::Hop { slide, size } => {
                let last = align(slide);
                let mut start = last - (size - 1) / slide * slide;
                while start <= last {
                    if start + size > ts {
                        out.push((start, start + size));
                    }
                    start += slide;
                }
            }
            WindowKind::Session { gap } => out.push((ts, ts + gap)),
            WindowKind::Cumulate { step, size } => {
                let start = align(size);
                let mut end = start + step;
                while end <= start + size {
                    if end > ts {
                        out.push((start, end));
                    }
                    end += step;
                }
            }
        }
    }

    /// Whether a window of this kind is fixed by its start alone (not so for CUMULATE).
    pub fn size_from_start(&self) -> Option<i64> {
        match *self {
            WindowKind::Tumble { size } | WindowKind::Hop { size, .. } => Some(size),
            WindowKind::Cumulate { .. } | WindowKind::Session { .. } => None,
        }
    }
}

/// One window TVF call of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowTvf {
    /// The generated table that stands for the call in the rewritten statement.
    pub name: String,
    /// The input table (`TABLE t`).
    pub table: String,
    /// The time column (`DESCRIPTOR(ts)`).
    pub time_column: String,
    /// `PARTITION BY` columns of a SESSION call.
    pub partition: Vec<String>,
    /// The windows.
    pub kind: WindowKind,
    /// Window alignment offset, ms.
    pub offset: i64,
    /// The time column is a `PROCTIME()` column: windows close on the wall clock.
    pub processing_time: bool,
}

/// The added columns.
pub const WINDOW_COLUMNS: [&str; 3] = ["window_start", "window_end", "window_time"];

impl WindowTvf {
    /// The schema of the call's rows: the input's columns, then the window columns.
    pub fn schema(&self, input: &Schema) -> Result<SchemaRef> {
        for name in WINDOW_COLUMNS {
            if input.field_with_name(name).is_ok() {
                return Err(RiffleError::Sql(format!(
                    "table '{}' already has a column '{name}', which the window function adds",
                    self.table
                )));
            }
        }
        let time = input.field_with_name(&self.time_column).map_err(|_| {
            let hint = riffle_core::did_you_mean(
                &self.time_column,
                input.fields().iter().map(|f| f.name().as_str()),
            );
            RiffleError::Sql(format!(
                "DESCRIPTOR({}): table '{}' has no column '{}'{hint}",
                self.time_column, self.table, self.time_column
            ))
        })?;
        if !matches!(time.data_type(), DataType::Timestamp(..)) {
            return Err(RiffleError::Sql(format!(
                "DESCRIPTOR({}): the time column of a window must be a TIMESTAMP, and '{}' is {}",
                self.time_column,
                self.time_column,
                crate::types::flink_name(time.data_type())
            )));
        }
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        for name in WINDOW_COLUMNS {
            fields.push(Field::new(
                name,
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ));
        }
        Ok(Arc::new(Schema::new(fields)))
    }
}

/// The rows of `batch` (the TVF's input) in their windows, with the window columns: the
/// schema is [`WindowTvf::schema`]. Rows whose time is NULL belong to no window.
pub fn explode(tvf: &WindowTvf, schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    explode_columns(tvf, schema, batch, None)
}

/// [`explode`], keeping only the output columns `projection` names (indexes into `schema`):
/// the columns a query does not read are never copied into the windows.
pub fn explode_columns(
    tvf: &WindowTvf,
    schema: &SchemaRef,
    batch: &RecordBatch,
    projection: Option<&[usize]>,
) -> Result<RecordBatch> {
    let time = times(tvf, batch)?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut starts = Vec::with_capacity(batch.num_rows());
    let mut ends = Vec::with_capacity(batch.num_rows());
    let mut windows = Vec::new();
    for row in 0..batch.num_rows() {
        if time.is_null(row) {
            continue;
        }
        windows.clear();
        tvf.kind.windows(time.value(row), tvf.offset, &mut windows);
        for &(start, end) in &windows {
            rows.push(row as u32);
            starts.push(start);
            ends.push(end);
        }
    }
    in_windows(schema, batch, rows, starts, ends, projection)
}

/// The TVF's time column of `batch`, in milliseconds.
fn times(tvf: &WindowTvf, batch: &RecordBatch) -> Result<TimestampMillisecondArray> {
    let time = batch
        .column_by_name(&tvf.time_column)
        .ok_or_else(|| RiffleError::Runtime(format!("no column '{}'", tvf.time_column)))?;
    millis(time, "the window's time column")
}

/// `column` (`what`, for the error) as timestamps in milliseconds.
pub fn millis(column: &ArrayRef, what: &str) -> Result<TimestampMillisecondArray> {
    let time = cast(column, &DataType::Timestamp(TimeUnit::Millisecond, None)).map_err(arrow)?;
    time.as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .cloned()
        .ok_or_else(|| RiffleError::Runtime(format!("{what} is not a timestamp")))
}

fn arrow(e: datafusion::arrow::error::ArrowError) -> RiffleError {
    RiffleError::Runtime(e.to_string())
}

/// Rows `rows` of `batch` (in that order, repeats allowed), each in the window `starts[i]` ..
/// `ends[i]`: the TVF's output of `schema`, or of the columns `projection` picks of it.
fn in_windows(
    schema: &SchemaRef,
    batch: &RecordBatch,
    rows: Vec<u32>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    projection: Option<&[usize]>,
) -> Result<RecordBatch> {
    let indices = UInt32Array::from(rows);
    let inputs = batch.num_columns();
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    let picked = projection.unwrap_or(&all);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(picked.len());
    for &i in picked {
        let column: ArrayRef = match i.checked_sub(inputs) {
            None => take(batch.column(i).as_ref(), &indices, None).map_err(arrow)?,
            Some(0) => Arc::new(TimestampMillisecondArray::from(starts.clone())),
            Some(1) => Arc::new(TimestampMillisecondArray::from(ends.clone())),
            Some(_) => Arc::new(TimestampMillisecondArray::from_iter_values(
                ends.iter().map(|e| e - 1),
            )),
        };
        columns.push(column);
    }
    let schema = match projection {
        Some(p) => Arc::new(schema.project(p).map_err(arrow)?),
        None => Arc::clone(schema),
    };
    let options =
        datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(indices.len()));
    RecordBatch::try_new_with_options(schema, columns, &options).map_err(arrow)
}

/// A TUMBLE, HOP or CUMULATE call's rows over a bounded table in batch mode, as DataFusion
/// scans them: the input's rows put in their windows for the columns the query reads only.
/// Putting every column in every window up front copied each text column once per window a
/// row falls in (five times for a HOP of 10 s every 2 s): gigabytes for a few million rows.
#[derive(Debug)]
pub struct WindowTable {
    tvf: WindowTvf,
    schema: SchemaRef,
    input: Vec<RecordBatch>,
}

impl WindowTable {
    /// The table of `tvf` (whose output schema is `schema`) over the `input` rows.
    pub fn new(tvf: WindowTvf, schema: SchemaRef, input: Vec<RecordBatch>) -> Self {
        WindowTable { tvf, schema, input }
    }
}

#[async_trait::async_trait]
impl datafusion::catalog::TableProvider for WindowTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> datafusion::logical_expr::TableType {
        datafusion::logical_expr::TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let picked = projection.map(Vec::as_slice);
        let batches = self
            .input
            .iter()
            .map(|b| explode_columns(&self.tvf, &self.schema, b, picked))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
        let schema = datafusion::common::project_schema(&self.schema, projection)?;
        let exec = datafusion::datasource::memory::MemorySourceConfig::try_new_exec(
            &[batches],
            schema,
            None,
        )?;
        Ok(exec)
    }
}

/// A SESSION call's rows over a whole bounded input (`batch`, all its rows): per partition,
/// rows in time order, a new session where the gap to the previous row reaches the call's gap.
pub fn sessions(tvf: &WindowTvf, schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let WindowKind::Session { gap } = tvf.kind else {
        return explode(tvf, schema, batch);
    };
    let time = times(tvf, batch)?;
    let mut keys = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut key = Vec::with_capacity(tvf.partition.len());
        for name in &tvf.partition {
            let column = batch.column_by_name(name).ok_or_else(|| {
                RiffleError::Sql(format!("SESSION: PARTITION BY names no column '{name}'"))
            })?;
            key.push(crate::value::Value::from_array(column, row)?);
        }
        keys.push(key);
    }
    let mut order: Vec<usize> = (0..batch.num_rows())
        .filter(|&r| time.is_valid(r))
        .collect();
    order.sort_by(|&a, &b| {
        keys[a]
            .cmp(&keys[b])
            .then(time.value(a).cmp(&time.value(b)))
    });
    // Sessions as runs of `order`: (first index in order, last index in order).
    let mut starts = vec![0i64; batch.num_rows()];
    let mut ends = vec![0i64; batch.num_rows()];
    let mut run = 0;
    for i in 0..=order.len() {
        let split = i == order.len()
            || (i > run
                && (keys[order[i]] != keys[order[i - 1]]
                    || time.value(order[i]) - time.value(order[i - 1]) >= gap));
        if split && i > run {
            let (first, last) = (time.value(order[run]), time.value(order[i - 1]));
            for &r in &order[run..i] {
                starts[r] = first;
                ends[r] = last + gap;
            }
            run = i;
        }
    }
    in_windows(
        schema,
        batch,
        order.iter().map(|&r| r as u32).collect(),
        order.iter().map(|&r| starts[r]).collect(),
        order.iter().map(|&r| ends[r]).collect(),
        None,
    )
}

/// Replaces every window TVF call in `text` by a generated table name (`__riffle_window_N`,
/// numbered from `first`), keeping every other character where it was.
pub fn rewrite(text: &str, first: usize) -> Result<(String, Vec<WindowTvf>)> {
    let tokens = crate::script::significant_tokens(text)?;
    let mut calls = Vec::new();
    let mut replaced: Vec<(Location, Location, String)> = Vec::new();
    let mut i = 0;
    while i + 3 < tokens.len() {
        let function = match (&tokens[i].token, &tokens[i + 1].token, &tokens[i + 2].token) {
            (Token::Word(t), Token::LParen, Token::Word(f)) if t.keyword == Keyword::TABLE => {
                f.value.to_uppercase()
            }
            _ => {
                i += 1;
                continue;
            }
        };
        if !["TUMBLE", "HOP", "CUMULATE", "SESSION"].contains(&function.as_str())
            || tokens[i + 3].token != Token::LParen
        {
            i += 1;
            continue;
        }
        let name = format!("__riffle_window_{}", first + calls.len());
        let (tvf, end) = call(text, &tokens, i + 2, &function, name.clone())?;
        // `end` is the index of the call's `)`; the `TABLE(` wrapper closes right after.
        let close = tokens.get(end + 1).filter(|t| t.token == Token::RParen);
        let Some(close) = close else {
            let at = tokens.get(end + 1).unwrap_or(&tokens[end]).span.start;
            return Err(sql_error(text, at, "expected ) to close TABLE(...)"));
        };
        replaced.push((tokens[i].span.start, close.span.end, name));
        calls.push(tvf);
        i = end + 2;
    }
    Ok((splice(text, &replaced), calls))
}

/// `text` with each `(from, to, name)` range replaced by `name` and spaces. Newlines are kept,
/// so lines do not move; columns after the call move only if the call's first line is shorter
/// than the name.
fn splice(text: &str, ranges: &[(Location, Location, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut line, mut column) = (1u64, 1u64);
    // The end of the range being replaced, and how many characters of it the name covers.
    let mut current: Option<(Location, usize)> = None;
    for c in text.chars() {
        let here = Location::new(line, column);
        if current.is_none() {
            if let Some((_, to, name)) = ranges.iter().find(|(from, ..)| *from == here) {
                out.push_str(name);
                current = Some((*to, name.chars().count()));
            }
        }
        match current.as_mut() {
            Some((to, covered)) if (here.line, here.column) < (to.line, to.column) => {
                if c == '\n' {
                    out.push('\n');
                } else if *covered > 0 {
                    *covered -= 1;
                } else {
                    out.push(' ');
                }
            }
            _ => {
                current = None;
                out.push(c);
            }
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    out
}

/// Parses `FUNCTION(args)` starting at `tokens[at]`; returns the call and the index of its
/// closing parenthesis.
fn call(
    text: &str,
    tokens: &[TokenWithSpan],
    at: usize,
    function: &str,
    name: String,
) -> Result<(WindowTvf, usize)> {
    let error = |t: &TokenWithSpan, message: &str| sql_error(text, t.span.start, message);
    // Split the arguments at top-level commas.
    let mut args: Vec<&[TokenWithSpan]> = Vec::new();
    let mut depth = 0;
    let mut start = at + 2;
    let mut end = None;
    for (j, t) in tokens.iter().enumerate().skip(at + 2) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => {
                args.push(&tokens[start..j]);
                end = Some(j);
                break;
            }
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                args.push(&tokens[start..j]);
                start = j + 1;
            }
            _ => {}
        }
    }
    let Some(end) = end else {
        return Err(error(&tokens[at], &format!("{function}( is not closed")));
    };
    let positional: &[&str] = match function {
        "TUMBLE" => &["DATA", "TIMECOL", "SIZE", "OFFSET"],
        "HOP" => &["DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"],
        "SESSION" => &["DATA", "TIMECOL", "GAP"],
        _ => &["DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"],
    };
    let mut named: Vec<(String, &[TokenWithSpan])> = Vec::new();
    for (k, arg) in args.iter().enumerate() {
        let Some(first) = arg.first() else {
            return Err(error(
                &tokens[end],
                &format!("{function}: an argument is empty"),
            ));
        };
        let (param, value) = match (&first.token, arg.get(1).map(|t| &t.token)) {
            (Token::Word(w), Some(Token::RArrow)) => (w.value.to_uppercase(), &arg[2..]),
            _ => match positional.get(k) {
                Some(p) => (p.to_string(), *arg),
                None => {
                    return Err(error(
                        first,
                        &format!("{function} takes at most {} arguments", positional.len()),
                    ))
                }
            },
        };
        if !positional.contains(&param.as_str()) {
            return Err(error(
                first,
                &format!(
                    "{function} has no parameter {param} (parameters: {})",
                    positional.join(", ")
                ),
            ));
        }
        named.push((param, value));
    }
    let get = |param: &str| named.iter().find(|(p, _)| p == param).map(|(_, v)| *v);
    let missing = |param: &str| {
        error(
            &tokens[end],
            &format!("{function} needs its {param} argument"),
        )
    };
    let data = get("DATA").ok_or_else(|| missing("DATA"))?;
    let (table, partition) = match data {
        [t, n, rest @ ..] if matches!(&t.token, Token::Word(w) if w.keyword == Keyword::TABLE) => {
            let table = word(n).ok_or_else(|| error(n, "expected a table name after TABLE"))?;
            let partition = match rest {
                [] => Vec::new(),
                [p, b, columns @ ..]
                    if function == "SESSION"
                        && matches!(&p.token, Token::Word(w) if w.keyword == Keyword::PARTITION)
                        && matches!(&b.token, Token::Word(w) if w.keyword == Keyword::BY) =>
                {
                    // One column, or a parenthesized list.
                    let names: Vec<String> = columns
                        .iter()
                        .filter(|t| {
                            !matches!(t.token, Token::LParen | Token::RParen | Token::Comma)
                        })
                        .map(|t| word(t).ok_or_else(|| error(t, "expected a column name")))
                        .collect::<Result<_>>()?;
                    if names.is_empty() {
                        return Err(error(b, "PARTITION BY needs a column"));
                    }
                    names
                }
                [other, ..] => {
                    return Err(error(
                        other,
                        &format!("{function}: expected , after TABLE {table}"),
                    ))
                }
            };
            (table, partition)
        }
        _ => {
            let at = data.first().unwrap_or(&tokens[end]);
            return Err(error(at, &format!("{function}: expected TABLE name")));
        }
    };
    let timecol = get("TIMECOL").ok_or_else(|| missing("TIMECOL"))?;
    let time_column = match timecol {
        [d, l, c, r]
            if matches!(&d.token, Token::Word(w) if w.value.eq_ignore_ascii_case("DESCRIPTOR"))
                && l.token == Token::LParen
                && r.token == Token::RParen =>
        {
            word(c).ok_or_else(|| error(c, "expected a column name in DESCRIPTOR(...)"))?
        }
        _ => {
            let at = timecol.first().unwrap_or(&tokens[end]);
            return Err(error(
                at,
                &format!("{function}: expected DESCRIPTOR(column)"),
            ));
        }
    };
    let interval = |param: &str| -> Result<i64> {
        let value = get(param).ok_or_else(|| missing(param))?;
        interval_ms(text, value, &tokens[end])
    };
    let kind = match function {
        "TUMBLE" => WindowKind::Tumble {
            size: interval("SIZE")?,
        },
        "SESSION" => WindowKind::Session {
            gap: interval("GAP")?,
        },
        "HOP" => {
            let (slide, size) = (interval("SLIDE")?, interval("SIZE")?);
            if size < slide {
                return Err(error(
                    &tokens[at],
                    "HOP: the window size must not be smaller than the slide",
                ));
            }
            WindowKind::Hop { slide, size }
        }
        _ => {
            let (step, size) = (interval("STEP")?, interval("SIZE")?);
            if size % step != 0 {
                return Err(error(
                    &tokens[at],
                    "CUMULATE: the window size must be a whole multiple of the step",
                ));
            }
            WindowKind::Cumulate { step, size }
        }
    };
    let offset = match get("OFFSET") {
        Some(value) => interval_ms(text, value, &tokens[end])?,
        None => 0,
    };
    Ok((
        WindowTvf {
            name,
            table,
            time_column,
            partition,
            kind,
            offset,
            processing_time: false,
        },
        end,
    ))
}

/// A name as DataFusion keys it: unquoted words lower-cased.
fn word(t: &TokenWithSpan) -> Option<String> {
    match &t.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        Token::Word(w) => Some(w.value.clone()),
        _ => None,
    }
}

/// `text`, an interval literal such as `INTERVAL '5' SECOND`, in milliseconds.
pub fn interval_text_ms(text: &str) -> Result<i64> {
    let tokens = crate::script::significant_tokens(text)?;
    let fallback = TokenWithSpan::wrap(Token::EOF);
    interval_ms(text, &tokens, &fallback)
}

/// `INTERVAL 'n' UNIT` in milliseconds (a positive whole number of them).
fn interval_ms(text: &str, tokens: &[TokenWithSpan], fallback: &TokenWithSpan) -> Result<i64> {
    let at = tokens.first().unwrap_or(fallback);
    let fail = || {
        sql_error(
            text,
            at.span.start,
            "expected an interval such as INTERVAL '10' SECOND",
        )
    };
    let [i, n, unit] = tokens else {
        return Err(fail());
    };
    if !matches!(&i.token, Token::Word(w) if w.keyword == Keyword::INTERVAL) {
        return Err(fail());
    }
    let number: f64 = match &n.token {
        Token::SingleQuotedString(s) => s.trim().parse().map_err(|_| fail())?,
        Token::Number(s, _) => s.parse().map_err(|_| fail())?,
        _ => return Err(fail()),
    };
    let Token::Word(unit) = &unit.token else {
        return Err(fail());
    };
    let scale = match unit.value.to_uppercase().trim_end_matches('S') {
        "MILLISECOND" => 1.0,
        "SECOND" => 1_000.0,
        "MINUTE" => 60_000.0,
        "HOUR" => 3_600_000.0,
        "DAY" => 86_400_000.0,
        _ => return Err(fail()),
    };
    let ms = number * scale;
    if ms < 1.0 || ms.fract() != 0.0 {
        return Err(sql_error(
            text,
            at.span.start,
            "a window interval must be a positive whole number of milliseconds",
        ));
    }
    Ok(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_replaced_in_place_and_their_arguments_read() {
        let text = "SELECT * FROM TABLE(HOP(TABLE bid, DESCRIPTOR(ts), INTERVAL '2' SECOND,\n  \
                    INTERVAL '10' SECOND)) AS w WHERE x";
        let (out, calls) = rewrite(text, 0).unwrap();
        assert_eq!(out.lines().count(), text.lines().count());
        assert_eq!(out.len(), text.len());
        assert!(out.starts_with("SELECT * FROM __riffle_window_0"));
        assert!(out.ends_with(" AS w WHERE x"));
        let short = "SELECT * FROM TABLE(\nTUMBLE(TABLE b, DESCRIPTOR(ts), INTERVAL '2' SECOND))";
        let (shifted, _) = rewrite(short, 0).unwrap();
        assert!(
            shifted.starts_with("SELECT * FROM __riffle_window_0\n"),
            "{shifted}"
        );
        assert_eq!(calls[0].table, "bid");
        assert_eq!(calls[0].time_column, "ts");
        assert_eq!(
            calls[0].kind,
            WindowKind::Hop {
                slide: 2000,
                size: 10_000
            }
        );
        let named = "SELECT * FROM TABLE(TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), \
                     SIZE => INTERVAL '1' MINUTES))";
        let (_, calls) = rewrite(named, 3).unwrap();
        assert_eq!(calls[0].name, "__riffle_window_3");
        assert_eq!(calls[0].kind, WindowKind::Tumble { size: 60_000 });
    }

    #[test]
    fn window_assignment_matches_flink() {
        let mut w = Vec::new();
        WindowKind::Tumble { size: 10 }.windows(-3, 0, &mut w);
        assert_eq!(w, vec![(-10, 0)]);
        w.clear();
        WindowKind::Hop { slide: 5, size: 15 }.windows(12, 0, &mut w);
        assert_eq!(w, vec![(0, 15), (5, 20), (10, 25)]);
        w.clear();
        WindowKind::Cumulate { step: 5, size: 15 }.windows(7, 0, &mut w);
        assert_eq!(w, vec![(0, 10), (0, 15)]);
    }

    #[test]
    fn bad_calls_point_at_the_argument() {
        let err = rewrite(
            "SELECT * FROM TABLE(TUMBLE(TABLE t, ts, INTERVAL '1' SECOND))",
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("expected DESCRIPTOR(column)"), "{err}");
        assert!(err.contains("column 37"), "{err}");
        let (_, calls) = rewrite(
            "SELECT * FROM TABLE(SESSION(TABLE t PARTITION BY (a, b), DESCRIPTOR(ts), INTERVAL '1' SECOND))",
            0,
        )
        .unwrap();
        assert_eq!(calls[0].partition, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(calls[0].kind, WindowKind::Session { gap: 1000 });
    }
}
