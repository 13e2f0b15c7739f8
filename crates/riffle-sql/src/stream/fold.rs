//! One message's rows of an aggregation folded per group before the exchange (Flink's local
//! aggregation): the rows are grouped by key, and each aggregate is folded per group into
//! the states [`Acc::add`] would reach row by row.
//!
//! Grouping and folding are columnar where the columns allow it. Keys that are all integers,
//! dates or timestamps without NULLs are grouped by their values in a hash map of `[i64; K]`;
//! other keys by their bytes in Arrow's row format. COUNT, SUM, MIN and MAX (without
//! DISTINCT) over integers, dates or timestamps fold straight from the column's values; the
//! other aggregates take each row's input as a [`Value`].

use std::collections::HashMap;
use std::hash::Hash;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt32Type};
use riffle_core::{Result, RiffleError};
use riffle_runtime::EventTime;

use super::{
    arrow_error, evaluate, row_values, Acc, AggregateInputs, Function, Functions, KeyRows, Partial,
    Physical, WindowTime,
};
use crate::value::Value;

type FxMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// An aggregation's rows of `batch` folded per group: each group's key in row format and its
/// partial. Each group's partial has its window's last millisecond, or without a window the
/// batch's time `ts`.
pub(super) fn fold_batch(
    batch: &RecordBatch,
    ts: EventTime,
    keys: &[Physical],
    encoder: &KeyRows,
    specs: &[(Physical, Option<Physical>)],
    time: Option<WindowTime>,
    functions: &Functions,
) -> Result<Vec<(Vec<u8>, Partial)>> {
    let key_columns = keys
        .iter()
        .map(|k| evaluate(k, batch))
        .collect::<Result<Vec<_>>>()?;
    let grouping = Grouping::of(&key_columns, batch.num_rows(), encoder)?;
    let groups = grouping.firsts.len();
    let mut counts = vec![0u64; groups];
    for &g in &grouping.group_of {
        counts[g as usize] += 1;
    }
    let inputs = AggregateInputs::of(batch, specs)?;
    let mut accs: Vec<Vec<Acc>> = (0..groups)
        .map(|_| Vec::with_capacity(specs.len()))
        .collect();
    for (a, (column, mask)) in inputs.0.iter().enumerate() {
        let folded = match fold_column(
            functions.functions[a],
            column,
            mask.as_ref(),
            &grouping.group_of,
            &counts,
        ) {
            Some(folded) => folded,
            None => {
                let mut folded: Vec<Acc> = (0..groups).map(|_| functions.fresh_one(a)).collect();
                for (row, &g) in grouping.group_of.iter().enumerate() {
                    folded[g as usize].add(inputs.value(a, row)?);
                }
                folded
            }
        };
        for (group, acc) in accs.iter_mut().zip(folded) {
            group.push(acc);
        }
    }
    let mut out = Vec::with_capacity(groups);
    let parts = grouping
        .firsts
        .iter()
        .zip(grouping.keys)
        .zip(accs)
        .zip(counts);
    for (((&first, key), accs), rows) in parts {
        let time = match time {
            Some(t) => t
                .fire_at(&row_values(&key_columns, first)?)
                .ok_or_else(|| RiffleError::Runtime("a row has no window".into()))?,
            None => ts,
        };
        out.push((key, Partial { time, accs, rows }));
    }
    Ok(out)
}

/// Which group each row of a batch is in (groups numbered in the order of their first row),
/// each group's first row, and each group's key in row format.
struct Grouping {
    group_of: Vec<u32>,
    firsts: Vec<usize>,
    keys: Vec<Vec<u8>>,
}

impl Grouping {
    fn of(key_columns: &[ArrayRef], rows: usize, encoder: &KeyRows) -> Result<Self> {
        if key_columns.is_empty() {
            // A global aggregation: one group, whose key has no values.
            let firsts = if rows > 0 { vec![0] } else { Vec::new() };
            let keys = firsts.iter().map(|_| Vec::new()).collect();
            return Ok(Grouping {
                group_of: vec![0; rows],
                firsts,
                keys,
            });
        }
        let ints: Option<Vec<_>> = key_columns
            .iter()
            .map(|c| (c.null_count() == 0).then(|| integers(c)).flatten())
            .collect();
        let Some(ints) = ints else {
            return Self::by_bytes(key_columns, rows, encoder);
        };
        let values: Vec<&[i64]> = ints.iter().map(|c| c.values().as_ref()).collect();
        let (group_of, firsts) = match values.len() {
            1 => group_integers::<1>(&values, rows),
            2 => group_integers::<2>(&values, rows),
            3 => group_integers::<3>(&values, rows),
            4 => group_integers::<4>(&values, rows),
            _ => return Self::by_bytes(key_columns, rows, encoder),
        };
        // Only the groups' first rows are encoded: the keys that travel on.
        let indices = datafusion::arrow::array::PrimitiveArray::<UInt32Type>::from_iter_values(
            firsts.iter().map(|&row| row as u32),
        );
        let taken = key_columns
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(arrow_error)?;
        let encoded = encoder
            .converter
            .convert_columns(&taken)
            .map_err(arrow_error)?;
        let keys = (0..firsts.len())
            .map(|i| encoded.row(i).data().to_vec())
            .collect();
        Ok(Grouping {
            group_of,
            firsts,
            keys,
        })
    }

    /// Grouping by the keys' bytes in row format, for keys of any type.
    fn by_bytes(key_columns: &[ArrayRef], rows: usize, encoder: &KeyRows) -> Result<Self> {
        let encoded = encoder
            .converter
            .convert_columns(key_columns)
            .map_err(arrow_error)?;
        let (group_of, firsts) = number_groups((0..rows).map(|row| encoded.row(row).data()));
        let keys = firsts
            .iter()
            .map(|&row| encoded.row(row).data().to_vec())
            .collect();
        Ok(Grouping {
            group_of,
            firsts,
            keys,
        })
    }
}

/// Each row's group by the values of `K` integer columns, and each group's first row.
fn group_integers<const K: usize>(columns: &[&[i64]], rows: usize) -> (Vec<u32>, Vec<usize>) {
    number_groups((0..rows).map(|row| -> [i64; K] { std::array::from_fn(|k| columns[k][row]) }))
}

/// Each row's group, given the rows' keys in order (groups numbered in the order of their
/// first row), and each group's first row.
fn number_groups<K: Copy + Eq + Hash>(
    keys: impl ExactSizeIterator<Item = K>,
) -> (Vec<u32>, Vec<usize>) {
    let mut index: FxMap<K, u32> = FxMap::default();
    let mut group_of = Vec::with_capacity(keys.len());
    let mut firsts = Vec::new();
    // Rows of one group often come together: the previous row's group is checked first.
    let mut last: Option<(K, u32)> = None;
    for (row, key) in keys.enumerate() {
        let group = match last {
            Some((previous, group)) if previous == key => group,
            _ => {
                let next = firsts.len() as u32;
                let group = *index.entry(key).or_insert(next);
                if group == next {
                    firsts.push(row);
                }
                last = Some((key, group));
                group
            }
        };
        group_of.push(group);
    }
    (group_of, firsts)
}

/// The column as 64-bit integers (NULLs kept) when its values are signed integers, dates or
/// timestamps: the types whose [`Value`] is [`Value::Int`] of that integer.
fn integers(column: &ArrayRef) -> Option<datafusion::arrow::array::Int64Array> {
    let integral = matches!(
        column.data_type(),
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..)
    );
    if !integral {
        return None;
    }
    let cast = cast(column, &DataType::Int64).ok()?;
    Some(cast.as_primitive::<Int64Type>().clone())
}

/// Aggregate `function` per group straight from its column, where that gives the states
/// [`Acc::add`] reaches row by row: COUNT of any column, SUM, MIN and MAX of integers, dates
/// and timestamps, none of them DISTINCT. `None` for the other aggregates. NULLs and rows
/// the FILTER `mask` does not select are skipped, as [`AggregateInputs::value`] skips them.
fn fold_column(
    function: (Function, bool),
    column: &ArrayRef,
    mask: Option<&ArrayRef>,
    group_of: &[u32],
    counts: &[u64],
) -> Option<Vec<Acc>> {
    let (function, false) = function else {
        return None;
    };
    let mask: Option<&BooleanArray> = match mask {
        Some(m) => Some(m.as_any().downcast_ref::<BooleanArray>()?),
        None => None,
    };
    let whole = mask.is_none() && column.null_count() == 0;
    let selected =
        |row: usize| column.is_valid(row) && mask.is_none_or(|m| m.is_valid(row) && m.value(row));
    if function == Function::Count {
        if whole {
            return Some(counts.iter().map(|&n| Acc::Count(n as i64)).collect());
        }
        let mut n = vec![0i64; counts.len()];
        for (row, &g) in group_of.iter().enumerate() {
            if selected(row) {
                n[g as usize] += 1;
            }
        }
        return Some(n.into_iter().map(Acc::Count).collect());
    }
    let step: fn(i64, i64) -> i64 = match function {
        Function::Sum => i64::wrapping_add,
        Function::Min => i64::min,
        Function::Max => i64::max,
        _ => return None,
    };
    let ints = integers(column)?;
    let values = ints.values();
    let mut states: Vec<Option<i64>> = vec![None; counts.len()];
    let mut fold = |row: usize, g: u32| {
        let state = &mut states[g as usize];
        *state = Some(state.map_or(values[row], |s| step(s, values[row])));
    };
    match whole {
        true => group_of
            .iter()
            .enumerate()
            .for_each(|(row, &g)| fold(row, g)),
        false => group_of
            .iter()
            .enumerate()
            .filter(|&(row, _)| selected(row))
            .for_each(|(row, &g)| fold(row, g)),
    }
    let acc = |state: Option<i64>| {
        let value = state.map_or(Value::Null, Value::Int);
        match function {
            Function::Sum => Acc::Sum(value),
            Function::Min => Acc::Min(value),
            _ => Acc::Max(value),
        }
    };
    Some(states.into_iter().map(acc).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Float64Array, Int32Array, Int64Array, StringArray, TimestampMillisecondArray,
    };
    use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};
    use datafusion::physical_expr::expressions::Column;

    use super::*;

    /// A small deterministic generator, so that the batches are the same every run.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn functions(list: &[Function]) -> Functions {
        Functions {
            functions: list.iter().map(|&f| (f, false)).collect(),
            calls: vec![None; list.len()],
            lags: vec![None; list.len()],
            retracting: false,
        }
    }

    fn column(batch: &RecordBatch, name: &str) -> Physical {
        let index = batch.schema().index_of(name).unwrap();
        Arc::new(Column::new(name, index))
    }

    /// `fold_batch`'s groups and results, against a loop that adds each row's inputs to its
    /// group's states one by one (keys as values, groups in the order of their first row).
    fn check(batch: &RecordBatch, keys: &[&str], aggregates: &[(Function, &str, Option<&str>)]) {
        let key_exprs: Vec<Physical> = keys.iter().map(|k| column(batch, k)).collect();
        let types: Vec<DataType> = keys
            .iter()
            .map(|k| {
                batch
                    .schema()
                    .field_with_name(k)
                    .unwrap()
                    .data_type()
                    .clone()
            })
            .collect();
        let encoder = KeyRows::new(&types).unwrap();
        let specs: Vec<(Physical, Option<Physical>)> = aggregates
            .iter()
            .map(|(_, arg, filter)| (column(batch, arg), filter.map(|f| column(batch, f))))
            .collect();
        let list: Vec<Function> = aggregates.iter().map(|(f, _, _)| *f).collect();
        let functions = functions(&list);
        let folded = fold_batch(batch, 7, &key_exprs, &encoder, &specs, None, &functions).unwrap();

        let key_columns: Vec<ArrayRef> = key_exprs
            .iter()
            .map(|k| evaluate(k, batch).unwrap())
            .collect();
        let inputs = AggregateInputs::of(batch, &specs).unwrap();
        let mut expected: Vec<(Vec<Value>, Vec<Acc>, u64)> = Vec::new();
        for row in 0..batch.num_rows() {
            let key = row_values(&key_columns, row).unwrap();
            let at = match expected.iter().position(|(k, _, _)| *k == key) {
                Some(at) => at,
                None => {
                    expected.push((key, functions.fresh(), 0));
                    expected.len() - 1
                }
            };
            Functions::add(&mut expected[at].1, inputs.row(row).unwrap());
            expected[at].2 += 1;
        }
        let keys = encoder
            .values(folded.iter().map(|(k, _)| k.as_slice()))
            .unwrap();
        assert_eq!(folded.len(), expected.len());
        for (((_, partial), key), (want_key, want_accs, rows)) in
            folded.iter().zip(keys).zip(&expected)
        {
            assert_eq!(&key, want_key);
            assert_eq!(partial.rows, *rows);
            assert_eq!(partial.time, 7);
            assert_eq!(
                functions.results(&partial.accs),
                functions.results(want_accs)
            );
            assert_eq!(format!("{:?}", partial.accs), format!("{want_accs:?}"));
        }
    }

    fn batch(rows: usize, seed: u64) -> RecordBatch {
        let mut r = Lcg(seed);
        let maybe = |r: &mut Lcg, v: i64| (r.below(5) > 0).then_some(v);
        let auction: Int64Array = (0..rows).map(|_| r.below(20) as i64 - 5).collect();
        let store: Int32Array = (0..rows).map(|_| Some(r.below(3) as i32)).collect();
        let at: TimestampMillisecondArray =
            (0..rows).map(|_| Some(1_000 * r.below(4) as i64)).collect();
        let price: Int64Array = (0..rows)
            .map(|_| {
                let v = r.below(1000) as i64 - 300;
                maybe(&mut r, v)
            })
            .collect();
        let big: Int64Array = (0..rows)
            .map(|_| Some(i64::MAX - r.below(3) as i64))
            .collect();
        let nullable_key: Int64Array = (0..rows)
            .map(|_| {
                let v = r.below(4) as i64;
                maybe(&mut r, v)
            })
            .collect();
        let name: StringArray = (0..rows)
            .map(|_| Some(format!("n{}", r.below(6))))
            .collect();
        let amount: Float64Array = (0..rows).map(|_| Some(r.below(100) as f64 / 7.0)).collect();
        let keep: BooleanArray = (0..rows)
            .map(|_| match r.below(4) {
                0 => None,
                n => Some(n > 1),
            })
            .collect();
        let fields = vec![
            Field::new("auction", DataType::Int64, false),
            Field::new("store", DataType::Int32, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new("price", DataType::Int64, true),
            Field::new("big", DataType::Int64, false),
            Field::new("nullable_key", DataType::Int64, true),
            Field::new("name", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, false),
            Field::new("keep", DataType::Boolean, true),
        ];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(auction),
            Arc::new(store),
            Arc::new(at),
            Arc::new(price),
            Arc::new(big),
            Arc::new(nullable_key),
            Arc::new(name),
            Arc::new(amount),
            Arc::new(keep),
        ];
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    const INTEGER_AGGREGATES: &[(Function, &str, Option<&str>)] = &[
        (Function::Count, "auction", None),
        (Function::Count, "price", None),
        (Function::Sum, "price", None),
        (Function::Min, "price", None),
        (Function::Max, "price", Some("keep")),
        (Function::Count, "price", Some("keep")),
        (Function::Sum, "big", None),
        (Function::Max, "at", None),
        (Function::Min, "store", Some("keep")),
    ];

    #[test]
    fn integer_keys_fold_like_the_row_loop() {
        for seed in 1..4 {
            let b = batch(500, seed);
            check(&b, &["auction"], INTEGER_AGGREGATES);
            check(&b, &["store", "at"], INTEGER_AGGREGATES);
            check(&b, &["auction", "store", "at"], INTEGER_AGGREGATES);
            check(&b, &["auction", "store", "at", "big"], INTEGER_AGGREGATES);
        }
    }

    #[test]
    fn other_keys_and_aggregates_fold_like_the_row_loop() {
        let others: &[(Function, &str, Option<&str>)] = &[
            (Function::Sum, "amount", None),
            (Function::Max, "name", None),
            (Function::Avg, "price", Some("keep")),
            (Function::Count, "price", None),
        ];
        for seed in 1..4 {
            let b = batch(500, seed);
            // NULL keys, text keys, five keys: grouped by their bytes.
            check(&b, &["nullable_key"], INTEGER_AGGREGATES);
            check(&b, &["name", "store"], INTEGER_AGGREGATES);
            check(
                &b,
                &["auction", "store", "at", "big", "price"],
                INTEGER_AGGREGATES,
            );
            check(&b, &["auction"], others);
            // A global aggregation: one group.
            check(&b, &[], INTEGER_AGGREGATES);
            check(&b, &[], others);
        }
        check(&batch(0, 1), &[], INTEGER_AGGREGATES);
        check(&batch(0, 1), &["auction"], INTEGER_AGGREGATES);
    }

    #[test]
    fn sums_wrap_as_the_row_loop_does() {
        let b = batch(50, 9);
        check(&b, &["store"], &[(Function::Sum, "big", None)]);
    }
}
