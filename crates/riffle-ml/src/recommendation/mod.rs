//! Recommendation by matrix factorisation: [`Als`] (alternating least squares, as Spark ML's
//! `ALS`) fits an [`AlsModel`] that predicts a user's rating of an item and recommends each
//! user the items with the highest predicted scores.
//!
//! A ratings table has one row per interaction: an integer user id, an integer item id
//! (`Int64`, `Int32` or any integer type, or a float column holding whole numbers) and a
//! rating. Explicit ratings (stars) are fitted by least squares; implicit feedback (clicks,
//! plays, purchases) by the confidence-weighted model of Hu, Koren & Volinsky (2008), with
//! `implicit_prefs = true`.
//!
//! Besides the model, this module holds what an honest evaluation needs: seeded synthetic
//! data with a known low-rank truth ([`synthetic_ratings`], [`synthetic_clicks`]), a
//! leave-one-out split per user ([`leave_one_out`]), hit rate at k ([`hit_rate`]) and the
//! baseline every recommender must beat, the most popular items ([`popularity_recommendations`]).
//!
//! ```
//! use riffle_ml::recommendation::{synthetic_ratings, Als};
//! use riffle_ml::{data, Estimator, Transformer};
//!
//! let ratings = synthetic_ratings(60, 40, 2, 0.5, 0.0, 7).unwrap();
//! let model = Als { rank: 2, max_iter: 15, reg_param: 0.01, ..Default::default() }
//!     .fit(&ratings)
//!     .unwrap();
//! let scored = model.transform(&ratings).unwrap();
//! let error = riffle_ml::metrics::rmse(
//!     &data::read_f64(&ratings, "rating").unwrap(),
//!     &data::read_f64(&scored, "prediction").unwrap(),
//! )
//! .unwrap();
//! assert!(error < 0.05, "{error}");
//! let top = model.recommend_for_users(&[0], 3);
//! assert_eq!(top[0].1.len(), 3);
//! ```

mod als;
mod model;
mod synthetic;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::DataType;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data;
use crate::error::{MlError, Result};
use crate::persist::ModelParts;
use crate::split::Split;

pub use als::{Als, ColdStartStrategy};
pub use model::AlsModel;
pub use synthetic::{synthetic_clicks, synthetic_ratings};

/// Recommendations per user: the user id and its `(item id, score)` pairs, best first.
pub type Recommendations = Vec<(i64, Vec<(i64, f64)>)>;

/// Ids exactly representable as `f64` and as `i64`: floats up to 2⁵³ in magnitude.
const MAX_FLOAT_ID: f64 = 9_007_199_254_740_992.0;

/// The id column `name` as `i64`s, nulls as `None`. Integer columns of any width are read
/// as they are; float columns must hold whole numbers (as Spark's ALS requires), else the
/// error names the row.
pub(crate) fn read_ids(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let array = data::column(batch, name)?;
    let dt = array.data_type();
    if dt.is_integer() {
        let cast = arrow_cast::cast(array, &DataType::Int64)?;
        let cast = cast.as_primitive::<Int64Type>();
        // A safe cast turns out-of-range values (UInt64 above i64::MAX) into nulls.
        if let Some(row) = (0..array.len()).find(|&i| array.is_valid(i) && cast.is_null(i)) {
            return Err(MlError::data(format!(
                "column `{name}` has an id too large for a 64-bit signed integer at row {row}"
            )));
        }
        return Ok(cast.iter().collect());
    }
    if dt.is_floating() {
        let cast = arrow_cast::cast(array, &DataType::Float64)?;
        return cast
            .as_primitive::<Float64Type>()
            .iter()
            .enumerate()
            .map(|(row, v)| match v {
                None => Ok(None),
                Some(v) if v.fract() == 0.0 && v.abs() <= MAX_FLOAT_ID => Ok(Some(v as i64)),
                Some(v) => Err(MlError::data(format!(
                    "column `{name}` has the id {v} at row {row}; ids must be whole numbers (at most 2^53 in a float column)"
                ))),
            })
            .collect();
    }
    Err(MlError::data(format!(
        "column `{name}` is {dt}; user and item ids must be integers (index strings with StringIndexer first)"
    )))
}

/// The id column `name` with no nulls: a missing id is an error naming its row.
pub(crate) fn required_ids(batch: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    read_ids(batch, name)?
        .into_iter()
        .enumerate()
        .map(|(row, id)| {
            id.ok_or_else(|| {
                MlError::data(format!(
                    "column `{name}` has a missing id at row {row}; drop the row before fitting"
                ))
            })
        })
        .collect()
}

/// Distinct ids in ascending order, each mapped to its position: row `k` of a factor
/// matrix belongs to `ids[k]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IdIndex {
    ids: Vec<i64>,
    positions: HashMap<i64, u32>,
}

impl IdIndex {
    /// The index of the distinct values of `ids`.
    pub(crate) fn new(ids: &[i64]) -> Result<Self> {
        let mut distinct = ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        Self::from_sorted(distinct)
    }

    /// The index of `ids`, which must be strictly ascending.
    pub(crate) fn from_sorted(ids: Vec<i64>) -> Result<Self> {
        if u32::try_from(ids.len()).is_err() {
            return Err(MlError::data(format!(
                "{} distinct ids are more than 2^32 - 1",
                ids.len()
            )));
        }
        if let Some(pair) = ids.windows(2).find(|w| w[0] >= w[1]) {
            return Err(MlError::data(format!(
                "ids are not strictly ascending ({} then {})",
                pair[0], pair[1]
            )));
        }
        let positions = ids
            .iter()
            .enumerate()
            .map(|(k, &id)| (id, k as u32))
            .collect();
        Ok(IdIndex { ids, positions })
    }

    /// The position of `id`, if known.
    pub(crate) fn get(&self, id: i64) -> Option<usize> {
        self.positions.get(&id).map(|&k| k as usize)
    }

    /// The ids, ascending.
    pub(crate) fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Number of ids.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

/// `parts` with the `i64` array `name`: ids above 2⁵³ would not survive a float array.
pub(crate) fn with_i64(mut parts: ModelParts, name: &str, values: &[i64]) -> ModelParts {
    parts.arrays.push((
        name.to_string(),
        Arc::new(Int64Array::from(values.to_vec())),
    ));
    parts
}

/// The `i64` array `name` of `parts`.
pub(crate) fn i64_array(parts: &ModelParts, name: &str) -> Result<Vec<i64>> {
    let array = parts
        .arrays
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, a)| a)
        .ok_or_else(|| parts.damaged(format!("array `{name}` is missing")))?;
    match array.data_type() {
        DataType::Int64 if array.null_count() == 0 => {
            Ok(array.as_primitive::<Int64Type>().values().to_vec())
        }
        other => Err(parts.damaged(format!(
            "array `{name}` is {other} with {} nulls, expected Int64 without nulls",
            array.null_count()
        ))),
    }
}

/// Splits the interactions of `table` leaving one out per user: each user with at least two
/// rows gets one of them, drawn with `seed`, in the test set; users with a single row keep
/// it for training. This is the usual protocol behind [`hit_rate`].
///
/// ```
/// use riffle_ml::recommendation::{leave_one_out, synthetic_clicks};
///
/// let clicks = synthetic_clicks(20, 30, 2, 5, 1).unwrap();
/// let split = leave_one_out(&clicks, "user", 2).unwrap();
/// assert_eq!(split.test.len(), 20);
/// ```
pub fn leave_one_out(table: &RecordBatch, user_col: &str, seed: u64) -> Result<Split> {
    let users = required_ids(table, user_col)?;
    let mut rows_of: HashMap<i64, Vec<usize>> = HashMap::new();
    for (row, &user) in users.iter().enumerate() {
        rows_of.entry(user).or_default().push(row);
    }
    // Users in ascending order so that the draws do not depend on hash order.
    let mut order: Vec<(i64, Vec<usize>)> = rows_of.into_iter().collect();
    order.sort_unstable_by_key(|(user, _)| *user);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut test = Vec::new();
    for (_, rows) in &order {
        if rows.len() >= 2 {
            if let Some(&row) = rows.choose(&mut rng) {
                test.push(row);
            }
        }
    }
    test.sort_unstable();
    let held: HashSet<usize> = test.iter().copied().collect();
    let train = (0..users.len()).filter(|row| !held.contains(row)).collect();
    Ok(Split { train, test })
}

/// The share of `held_out` `(user, item)` pairs whose item is among that user's
/// `recommendations` (hit rate at k, for lists of k items). A user without recommendations
/// counts as a miss.
///
/// ```
/// let recommendations = vec![(1, vec![(10, 0.9), (11, 0.5)]), (2, vec![(12, 0.7)])];
/// let rate = riffle_ml::recommendation::hit_rate(&recommendations, &[(1, 11), (2, 10)]).unwrap();
/// assert_eq!(rate, 0.5);
/// ```
pub fn hit_rate(
    recommendations: &[(i64, Vec<(i64, f64)>)],
    held_out: &[(i64, i64)],
) -> Result<f64> {
    if held_out.is_empty() {
        return Err(MlError::data("hit rate of no held-out interactions"));
    }
    let lists: HashMap<i64, HashSet<i64>> = recommendations
        .iter()
        .map(|(user, items)| (*user, items.iter().map(|(item, _)| *item).collect()))
        .collect();
    let hits = held_out
        .iter()
        .filter(|(user, item)| lists.get(user).is_some_and(|items| items.contains(item)))
        .count();
    Ok(hits as f64 / held_out.len() as f64)
}

/// The popularity baseline: recommends every user in `users` the `k` items with the most
/// interactions (rows) in `table`, ties to the smaller item id; with `exclude_rated`, items
/// the user already has in `table` are skipped. Scores are the interaction counts.
pub fn popularity_recommendations(
    table: &RecordBatch,
    user_col: &str,
    item_col: &str,
    users: &[i64],
    k: usize,
    exclude_rated: bool,
) -> Result<Recommendations> {
    let user_ids = required_ids(table, user_col)?;
    let item_ids = required_ids(table, item_col)?;
    let mut counts: HashMap<i64, usize> = HashMap::new();
    let mut rated: HashMap<i64, HashSet<i64>> = HashMap::new();
    for (&user, &item) in user_ids.iter().zip(&item_ids) {
        *counts.entry(item).or_default() += 1;
        if exclude_rated {
            rated.entry(user).or_default().insert(item);
        }
    }
    let mut ranked: Vec<(i64, usize)> = counts.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let none = HashSet::new();
    Ok(users
        .iter()
        .map(|user| {
            let seen = rated.get(user).unwrap_or(&none);
            let top = ranked
                .iter()
                .filter(|(item, _)| !seen.contains(item))
                .take(k)
                .map(|&(item, count)| (item, count as f64))
                .collect();
            (*user, top)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int32Array, StringArray, UInt64Array};
    use arrow_schema::{Field, Schema};

    fn one_column(array: Arc<dyn Array>) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("id", array.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap()
    }

    #[test]
    fn ids_are_read_from_integer_and_whole_float_columns() {
        let ints = one_column(Arc::new(Int32Array::from(vec![Some(3), None, Some(-1)])));
        assert_eq!(
            read_ids(&ints, "id").unwrap(),
            vec![Some(3), None, Some(-1)]
        );
        let floats = one_column(Arc::new(Float64Array::from(vec![4.0, 5.0])));
        assert_eq!(read_ids(&floats, "id").unwrap(), vec![Some(4), Some(5)]);
    }

    #[test]
    fn bad_ids_are_refused_with_the_row_named() {
        let fractional = one_column(Arc::new(Float64Array::from(vec![1.0, 2.5])));
        let err = read_ids(&fractional, "id").unwrap_err().to_string();
        assert!(err.contains("2.5 at row 1"), "{err}");
        let huge = one_column(Arc::new(UInt64Array::from(vec![1, u64::MAX])));
        let err = read_ids(&huge, "id").unwrap_err().to_string();
        assert!(err.contains("too large") && err.contains("row 1"), "{err}");
        let text = one_column(Arc::new(StringArray::from(vec!["a"])));
        let err = read_ids(&text, "id").unwrap_err().to_string();
        assert!(err.contains("must be integers"), "{err}");
        let missing = one_column(Arc::new(Int32Array::from(vec![Some(1), None])));
        let err = required_ids(&missing, "id").unwrap_err().to_string();
        assert!(err.contains("missing id at row 1"), "{err}");
    }

    #[test]
    fn the_id_index_is_sorted_and_refuses_unsorted_ids() {
        let index = IdIndex::new(&[30, 10, 30, 20]).unwrap();
        assert_eq!(index.ids(), &[10, 20, 30]);
        assert_eq!((index.get(20), index.get(25)), (Some(1), None));
        assert!(IdIndex::from_sorted(vec![1, 1]).is_err());
    }

    fn interactions(users: Vec<i64>, items: Vec<i64>) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("user", DataType::Int64, false),
            Field::new("item", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(users)),
                Arc::new(Int64Array::from(items)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn leave_one_out_holds_out_one_row_of_each_user_with_two() {
        let table = interactions(vec![1, 1, 1, 2, 3, 3], vec![5, 6, 7, 5, 6, 7]);
        let split = leave_one_out(&table, "user", 0).unwrap();
        // User 2 has one row only: it stays in training.
        assert_eq!(split.test.len(), 2);
        assert!(split.train.contains(&3));
        assert_eq!(split.train.len() + split.test.len(), 6);
        assert_eq!(split, leave_one_out(&table, "user", 0).unwrap());
    }

    #[test]
    fn popularity_ranks_by_count_and_can_skip_seen_items() {
        // Item 7 has three rows, 5 and 6 two each (5 wins the tie), 8 one.
        let table = interactions(vec![1, 1, 2, 2, 3, 3, 3, 4], vec![7, 5, 7, 6, 7, 5, 6, 8]);
        let all = popularity_recommendations(&table, "user", "item", &[1], 3, false).unwrap();
        assert_eq!(all[0].1, vec![(7, 3.0), (5, 2.0), (6, 2.0)]);
        let unseen = popularity_recommendations(&table, "user", "item", &[1, 9], 2, true).unwrap();
        assert_eq!(unseen[0].1, vec![(6, 2.0), (8, 1.0)]);
        assert_eq!(unseen[1].1, vec![(7, 3.0), (5, 2.0)]);
        let rate = hit_rate(&unseen, &[(1, 6), (9, 8), (4, 7)]).unwrap();
        assert!((rate - 1.0 / 3.0).abs() < 1e-15);
        assert!(hit_rate(&unseen, &[]).is_err());
    }
}
