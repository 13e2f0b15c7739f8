//! The keyed half of an OVER aggregation over an updating input (Nexmark q6: the average of a
//! seller's last closing prices, each of which goes on rising while its auction is open).
//!
//! Flink refuses this plan. Here each partition keeps all its rows in order (time, then the
//! row's values, so that rows of one time have one order on any number of workers), and a
//! row that comes or is taken back changes the results of the rows whose frame holds it: the
//! row itself and, for `ROWS n`, the `n` after it; for a time range, the rows up to that far
//! after it and its peers; for an unbounded frame, every row after it. Those rows' old
//! results are taken back (`-U`) and their new ones emitted (`+U`), so the result is an
//! updating one, whose final rows are those of the same query over the input's final rows.
//! Each change computes the reached rows' results twice (before and after), each over its
//! frame: `ROWS n` costs about `2n²` folds a change, an unbounded frame the partition's
//! size.

use std::collections::BTreeMap;

use riffle_runtime::{Context, KeyedProcessFunction, ValueState};
use serde::{Deserialize, Serialize};

use super::{takes_back, Frame, Functions, OverRow};
use crate::value::Value;

/// A row's place in its partition's order: its time, then its values.
type Place = (i64, Vec<Value>);

/// Rows at one place: their aggregate inputs, and how many there are.
type Copies = (Vec<Value>, u32);

/// A partition's rows, in order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct OrderedRows(BTreeMap<Place, Copies>);

/// One row of a partition's sequence: its time, values and aggregate inputs.
type Entry<'a> = (i64, &'a Vec<Value>, &'a Vec<Value>);

/// The keyed half of an OVER aggregation over an updating input; each output row ends with
/// its row kind.
pub(super) struct UpdatingOverFold {
    pub(super) functions: Functions,
    pub(super) frame: Frame,
}

impl UpdatingOverFold {
    /// The largest LAG offset (0 without LAG).
    fn deepest_lag(&self) -> usize {
        let lags = self.functions.lags.iter().flatten();
        lags.map(|(n, _)| *n).max().unwrap_or(0)
    }

    /// Whether rows of one time are peers that see each other (RANGE frames).
    fn peers(&self) -> bool {
        matches!(
            self.frame,
            Frame::Range(_) | Frame::Unbounded { range: true }
        )
    }

    /// The rows around a change at `time` (ordered place `start`) whose results can change,
    /// and the rows before them that their frames reach: `(context, affected)`, both in
    /// order. `extra` more rows are taken after the change for a row that is to go.
    fn around<'a>(
        &self,
        rows: &'a OrderedRows,
        start: &Place,
        extra: usize,
    ) -> (Vec<Entry<'a>>, Vec<Entry<'a>>) {
        let lag = self.deepest_lag();
        let time = start.0;
        let expand = |((t, values), (inputs, n)): (&'a Place, &'a Copies)| {
            std::iter::repeat_n((*t, values, inputs), *n as usize)
        };
        // Rows back as far as a frame or a LAG reaches, and forward as far as a frame
        // can hold the change (peers included) or a LAG reaches it.
        let (back, forward) = match self.frame {
            Frame::Rows(n) => (n as usize, n as usize),
            _ => (0, 0),
        };
        let (back, forward) = (back.max(lag), forward.max(lag) + extra);
        let before_ok = |i: usize, t: i64| match self.frame {
            Frame::Unbounded { .. } => true,
            Frame::Range(ms) => i < back || t >= time.saturating_sub(ms),
            Frame::Rows(_) => i < back,
        };
        let after_ok = |i: usize, t: i64| match self.frame {
            Frame::Unbounded { .. } => true,
            Frame::Range(ms) => i < forward || t <= time.saturating_add(ms),
            Frame::Rows(_) => i < forward,
        };
        let mut context: Vec<Entry<'a>> = rows
            .0
            .range(..start.clone())
            .rev()
            .flat_map(expand)
            .enumerate()
            .take_while(|(i, (t, ..))| before_ok(*i, *t))
            .map(|(_, e)| e)
            .collect();
        context.reverse();
        let affected = rows
            .0
            .range(start.clone()..)
            .flat_map(expand)
            .enumerate()
            .take_while(|(i, (t, ..))| after_ok(*i, *t))
            .map(|(_, e)| e)
            .collect();
        (context, affected)
    }

    /// The output rows (values, then results) of `sequence`'s rows from `from` on, each
    /// with its frame among the rows of `sequence`.
    fn outputs(&self, sequence: &[Entry<'_>], from: usize) -> Vec<Vec<Value>> {
        let mut out = Vec::with_capacity(sequence.len().saturating_sub(from));
        // Unbounded frames run on: one pass with the states of every row before.
        let mut running = self.functions.fresh();
        let mut added = 0;
        for i in from..sequence.len() {
            let (time, values, _) = sequence[i];
            let mut results = match self.frame {
                Frame::Unbounded { range } => {
                    while added < sequence.len()
                        && (added <= i || (range && sequence[added].0 == time))
                    {
                        Functions::add(&mut running, sequence[added].2.iter().cloned());
                        added += 1;
                    }
                    self.functions.results(&running)
                }
                Frame::Rows(n) => {
                    let frame = &sequence[i.saturating_sub(n as usize)..=i];
                    self.functions.over(frame.iter().map(|e| e.2))
                }
                Frame::Range(ms) => {
                    // The frame is a slice: `sequence` is in time order.
                    let low = time.saturating_sub(ms);
                    let first = sequence.partition_point(|e| e.0 < low);
                    let end = sequence.partition_point(|e| e.0 <= time);
                    self.functions
                        .over(sequence[first..end].iter().map(|e| e.2))
                }
            };
            for (a, lag) in self.functions.lags.iter().enumerate() {
                if let Some((n, default)) = lag {
                    results[a] = match i.checked_sub(*n) {
                        Some(k) => sequence[k].2[a].clone(),
                        None => default.clone(),
                    };
                }
            }
            let mut row = values.clone();
            row.extend(results);
            out.push(row);
        }
        out
    }
}

impl KeyedProcessFunction<Vec<Value>, OverRow> for UpdatingOverFold {
    type State = ValueState<OrderedRows>;
    type Out = Vec<Value>;

    fn process_element(
        &mut self,
        row: OverRow,
        ctx: &mut Context<'_, Vec<Value>, Self::State, Self::Out>,
    ) {
        let retract = takes_back(row.kind);
        let state = ctx.state();
        if state.value().is_none() {
            if retract {
                return;
            }
            state.update(OrderedRows::default());
        }
        let Some(rows) = state.value_mut() else {
            return;
        };
        let key = (row.time, row.values);
        if retract && !rows.0.contains_key(&key) {
            // Taking back a row the partition does not hold: nothing changes.
            return;
        }
        // A RANGE frame's change reaches the row's peers before it in the order too.
        let start = match self.peers() {
            true => (row.time, Vec::new()),
            false => key.clone(),
        };
        // The results of the rows the change reaches, before and after it, and where the
        // changed row is among them (the first of its equals).
        let results = |rows: &OrderedRows, extra: bool| {
            let (context, affected) = self.around(rows, &start, usize::from(extra));
            let at = affected.partition_point(|e| (e.0, e.1) < (key.0, &key.1));
            let from = context.len();
            (self.outputs(&[context, affected].concat(), from), at)
        };
        let (old, at) = results(rows, retract);
        if retract {
            if let Some((_, n)) = rows.0.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    rows.0.remove(&key);
                }
            }
        } else {
            rows.0.entry(key.clone()).or_insert((row.inputs, 0)).1 += 1;
        }
        let (new, new_at) = results(rows, !retract);
        if rows.0.is_empty() {
            ctx.clear_state();
        }
        // The changed row's own result: a delete's or a first insert's kind, else an update.
        let own = match (retract, row.kind) {
            (true, 3) => 3,
            (true, _) => 1,
            (false, 0) => 0,
            (false, _) => 2,
        };
        let mut emit = |mut line: Vec<Value>, kind: i64| {
            line.push(Value::Int(kind));
            ctx.collect(line);
        };
        // The other rows are in both, in the same order: each whose result changed is
        // taken back (-U) and emitted again (+U).
        let (longer, at, shorter) = match retract {
            true => (old, at, new),
            false => (new, new_at, old),
        };
        let mut shorter = shorter.into_iter();
        for (i, line) in longer.into_iter().enumerate() {
            if i == at {
                emit(line, own);
                continue;
            }
            let Some(other) = shorter.next() else {
                break;
            };
            if line != other {
                let (before, after) = match retract {
                    true => (line, other),
                    false => (other, line),
                };
                emit(before, 1);
                emit(after, 2);
            }
        }
    }
}
