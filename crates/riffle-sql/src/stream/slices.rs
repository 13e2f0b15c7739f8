//! HOP window aggregations folded by slice, as Flink's window aggregation slices them: each
//! row is folded once into its slice (a tumbling window as long as the hop's slide) instead
//! of once into each of the windows it belongs to, and each message's partial of a slice is
//! then added to every window that holds the slice. A window of `size` every `slide` holds
//! `size / slide` slices, so the rows are neither copied nor folded `size / slide` times.
//!
//! It applies when the windows' size is a multiple of their slide, the aggregation reads
//! the TVF directly, its group keys use the window columns only as plain columns, and no
//! aggregate reads them. The windows get exactly the partials they would get row by row:
//! every row of a slice lies in the same windows.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::physical_expr::expressions::Column;
use riffle_core::Result;

use super::{arrow_error, KeyRows, Node, Partial, Physical};
use crate::tvf::{WindowKind, WindowTvf};

type FxMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// How an aggregation over a HOP TVF is folded by slice: the TVF cut into slices, and which
/// group keys are the window's columns.
pub(super) struct Slicing {
    /// The TVF with tumbling windows of the hop's slide: the slices.
    pub(super) slices: WindowTvf,
    /// The hop's windows.
    hop: WindowKind,
    offset: i64,
    slide: i64,
    /// The group keys that are `window_start`, `window_end` and `window_time`.
    start: Option<usize>,
    end: Option<usize>,
    time: Option<usize>,
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
        let (mut start, mut end, mut time) = (None, None, None);
        for (k, key) in keys.iter().enumerate() {
            let column = key.downcast_ref::<Column>();
            match column.and_then(|c| name(c.index())).as_deref() {
                Some("window_start") => start = Some(k),
                Some("window_end") => end = Some(k),
                Some("window_time") => time = Some(k),
                // A key computed from a window column would see the slice's.
                _ if reads_window(key) => return None,
                _ => {}
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
            hop: tvf.kind,
            offset: tvf.offset,
            slide,
            start,
            end,
            time,
        })
    }

    /// The slices' length, ms.
    pub(super) fn slide(&self) -> i64 {
        self.slide
    }

    /// A message's partials of slices (keys in row format, their window columns a slice's)
    /// as partials of the windows that hold each slice, merged where slices meet in a window.
    pub(super) fn to_windows(
        &self,
        slices: FxMap<Vec<u8>, Partial>,
        encoder: &KeyRows,
    ) -> Result<FxMap<Vec<u8>, Partial>> {
        let slices: Vec<(Vec<u8>, Partial)> = slices.into_iter().collect();
        let mut windows = FxMap::default();
        if slices.is_empty() {
            return Ok(windows);
        }
        let columns = encoder.columns(slices.iter().map(|(k, _)| k.as_slice()))?;
        let millis = |i: usize| -> Result<Int64Array> {
            let values = cast(&columns[i], &DataType::Int64).map_err(arrow_error)?;
            Ok(values.as_primitive::<Int64Type>().clone())
        };
        // Each slice's start, from whichever window column is a key.
        let starts: Int64Array = match (self.start, self.end, self.time) {
            (Some(i), _, _) => millis(i)?,
            (_, Some(i), _) => millis(i)?.unary(|end: i64| end - self.slide),
            (_, _, Some(i)) => millis(i)?.unary(|time: i64| time + 1 - self.slide),
            (None, None, None) => return Ok(windows),
        };
        let (mut picked, mut window_starts, mut window_ends) = (Vec::new(), Vec::new(), Vec::new());
        let mut held = Vec::new();
        for (s, slice_start) in starts.iter().enumerate() {
            // Never NULL: the TVF drops rows without a time.
            let Some(slice_start) = slice_start else {
                continue;
            };
            held.clear();
            self.hop.windows(slice_start, self.offset, &mut held);
            for &(start, end) in &held {
                picked.push(s as u32);
                window_starts.push(start);
                window_ends.push(end);
            }
        }
        let picked = UInt32Array::from(picked);
        let typed = |values: Vec<i64>, like: &ArrayRef| -> Result<ArrayRef> {
            cast(&Int64Array::from(values), like.data_type()).map_err(arrow_error)
        };
        let window_times: Vec<i64> = window_ends.iter().map(|e| e - 1).collect();
        let mut exploded = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            exploded.push(if Some(i) == self.start {
                typed(window_starts.clone(), column)?
            } else if Some(i) == self.end {
                typed(window_ends.clone(), column)?
            } else if Some(i) == self.time {
                typed(window_times.clone(), column)?
            } else {
                take(column, &picked, None).map_err(arrow_error)?
            });
        }
        let rows = encoder
            .converter
            .convert_columns(&exploded)
            .map_err(arrow_error)?;
        for (j, s) in picked.values().iter().enumerate() {
            let mut partial = slices[*s as usize].1.clone();
            // The window's last millisecond, as the fold stamps a window's partial.
            partial.time = window_times[j];
            let key = rows.row(j).data();
            match windows.get_mut(key) {
                Some(p) => p.merge(partial),
                None => {
                    windows.insert(key.to_vec(), partial);
                }
            }
        }
        Ok(windows)
    }
}
