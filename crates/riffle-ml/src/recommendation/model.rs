//! The fitted ALS model: predictions, top-k recommendations and persistence.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::{BooleanArray, Float64Array, RecordBatch};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{i64_array, read_ids, with_i64, ColdStartStrategy, IdIndex, Recommendations};
use crate::data::{self, Matrix};
use crate::error::Result;
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Model, Transformer};

/// The columns a model reads and writes, and its cold-start rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Columns {
    pub(super) user_col: String,
    pub(super) item_col: String,
    pub(super) prediction_col: String,
    pub(super) cold_start_strategy: ColdStartStrategy,
}

/// Each user's training items in compressed rows: user position `u` rated the item
/// positions `items[offsets[u]..offsets[u + 1]]`, ascending and distinct.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RatedItems {
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl RatedItems {
    /// From ratings grouped by user (`others` holding item positions), deduplicated.
    pub(super) fn from_groups(offsets: &[usize], others: &[u32]) -> Self {
        let mut out = RatedItems {
            offsets: vec![0],
            items: Vec::with_capacity(others.len()),
        };
        for span in offsets.windows(2) {
            let mut mine = others[span[0]..span[1]].to_vec();
            mine.sort_unstable();
            mine.dedup();
            out.items.extend_from_slice(&mine);
            out.offsets.push(out.items.len());
        }
        out
    }

    fn of(&self, user: usize) -> &[u32] {
        &self.items[self.offsets[user]..self.offsets[user + 1]]
    }
}

/// A fitted [`Als`](super::Als): one factor vector per training user and item.
///
/// `transform` writes `x_u · y_i` for each row's user and item; rows with an unknown (or
/// null) user or item get NaN or are dropped, as [`ColdStartStrategy`] says.
/// [`recommend_for_users`](Self::recommend_for_users) ranks every item for a user.
#[derive(Clone, Debug, PartialEq)]
pub struct AlsModel {
    users: IdIndex,
    user_factors: Matrix,
    items: IdIndex,
    item_factors: Matrix,
    rated: Option<RatedItems>,
    /// Column of user ids read by `transform`.
    pub user_col: String,
    /// Column of item ids read by `transform`.
    pub item_col: String,
    /// Column written by `transform`.
    pub prediction_col: String,
    /// What `transform` does with unknown users and items.
    pub cold_start_strategy: ColdStartStrategy,
}

impl AlsModel {
    pub(super) fn new(
        users: IdIndex,
        user_factors: Matrix,
        items: IdIndex,
        item_factors: Matrix,
        rated: Option<RatedItems>,
        columns: Columns,
    ) -> Self {
        AlsModel {
            users,
            user_factors,
            items,
            item_factors,
            rated,
            user_col: columns.user_col,
            item_col: columns.item_col,
            prediction_col: columns.prediction_col,
            cold_start_strategy: columns.cold_start_strategy,
        }
    }

    /// Number of latent factors.
    pub fn rank(&self) -> usize {
        self.user_factors.cols()
    }

    /// The training users, ascending.
    pub fn user_ids(&self) -> &[i64] {
        self.users.ids()
    }

    /// The training items, ascending.
    pub fn item_ids(&self) -> &[i64] {
        self.items.ids()
    }

    /// The factors of `user`, if it was in the training table.
    pub fn user_factors(&self, user: i64) -> Option<&[f64]> {
        self.users.get(user).map(|u| self.user_factors.row(u))
    }

    /// The factors of `item`, if it was in the training table.
    pub fn item_factors(&self, item: i64) -> Option<&[f64]> {
        self.items.get(item).map(|i| self.item_factors.row(i))
    }

    /// The predicted rating (or implicit preference) of `item` by `user`; `None` if either
    /// was not in the training table.
    pub fn predict(&self, user: i64, item: i64) -> Option<f64> {
        Some(dot(self.user_factors(user)?, self.item_factors(item)?))
    }

    /// Whether recommendations skip the items each user had in training (the estimator's
    /// `exclude_rated`).
    pub fn excludes_rated(&self) -> bool {
        self.rated.is_some()
    }

    /// The `k` items with the highest scores for each of `users`, best first (ties to the
    /// smaller item id); with `exclude_rated`, a user's training items are skipped. Users
    /// not in the training table are left out, as Spark's `recommendForUserSubset` does.
    pub fn recommend_for_users(&self, users: &[i64], k: usize) -> Recommendations {
        users
            .par_iter()
            .filter_map(|&user| {
                let u = self.users.get(user)?;
                Some((user, self.top_items(u, k)))
            })
            .collect()
    }

    /// [`recommend_for_users`](Self::recommend_for_users) for every training user, in
    /// ascending user order.
    pub fn recommend_for_all_users(&self, k: usize) -> Recommendations {
        self.recommend_for_users(self.users.ids(), k)
    }

    fn top_items(&self, user: usize, k: usize) -> Vec<(i64, f64)> {
        let x = self.user_factors.row(user);
        let excluded: &[u32] = match &self.rated {
            Some(rated) => rated.of(user),
            None => &[],
        };
        let mut skip = excluded.iter().peekable();
        let mut scored: Vec<(f64, u32)> = Vec::with_capacity(self.items.len());
        for (i, y) in self.item_factors.row_iter().enumerate() {
            // `excluded` is ascending, so one pass alongside the items finds them.
            if skip.peek().is_some_and(|&&e| e as usize == i) {
                skip.next();
                continue;
            }
            scored.push((dot(x, y), i as u32));
        }
        // Item positions follow ascending ids, so the position breaks ties by id.
        let better = |a: &(f64, u32), b: &(f64, u32)| -> Ordering {
            b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
        };
        if k < scored.len() {
            scored.select_nth_unstable_by(k, better);
            scored.truncate(k);
        }
        scored.sort_unstable_by(better);
        scored
            .into_iter()
            .map(|(score, i)| (self.items.ids()[i as usize], score))
            .collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Transformer for AlsModel {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let users = read_ids(table, &self.user_col)?;
        let items = read_ids(table, &self.item_col)?;
        let predictions: Vec<f64> = users
            .par_iter()
            .zip(items.par_iter())
            .map(|(u, i)| match (u, i) {
                (Some(u), Some(i)) => self.predict(*u, *i).unwrap_or(f64::NAN),
                _ => f64::NAN,
            })
            .collect();
        let keep: Option<BooleanArray> = match self.cold_start_strategy {
            // Factors are finite, so NaN marks exactly the unknown rows.
            ColdStartStrategy::Drop if predictions.iter().any(|p| p.is_nan()) => {
                Some(predictions.iter().map(|p| Some(!p.is_nan())).collect())
            }
            _ => None,
        };
        let scored = data::with_column(
            table,
            &self.prediction_col,
            Arc::new(Float64Array::from(predictions)),
        )?;
        match keep {
            Some(keep) => Ok(arrow_select::filter::filter_record_batch(&scored, &keep)?),
            None => Ok(scored),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    #[serde(flatten)]
    columns: Columns,
    rank: usize,
    exclude_rated: bool,
}

impl Model for AlsModel {
    fn parts(&self) -> Result<ModelParts> {
        let meta = Meta {
            columns: Columns {
                user_col: self.user_col.clone(),
                item_col: self.item_col.clone(),
                prediction_col: self.prediction_col.clone(),
                cold_start_strategy: self.cold_start_strategy,
            },
            rank: self.rank(),
            exclude_rated: self.rated.is_some(),
        };
        let mut parts = ModelParts::new(Self::KIND, &meta)?
            .with_f64("user_factors", self.user_factors.as_slice())
            .with_f64("item_factors", self.item_factors.as_slice());
        parts = with_i64(parts, "user_ids", self.users.ids());
        parts = with_i64(parts, "item_ids", self.items.ids());
        if let Some(rated) = &self.rated {
            let offsets: Vec<i64> = rated.offsets.iter().map(|&o| o as i64).collect();
            let items: Vec<i64> = rated.items.iter().map(|&i| i64::from(i)).collect();
            parts = with_i64(parts, "rated_offsets", &offsets);
            parts = with_i64(parts, "rated_items", &items);
        }
        Ok(parts)
    }
}

impl Loadable for AlsModel {
    const KIND: &'static str = "AlsModel";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        let meta: Meta = parts.meta()?;
        let users = IdIndex::from_sorted(i64_array(parts, "user_ids")?)
            .map_err(|e| parts.damaged(format!("user_ids: {e}")))?;
        let items = IdIndex::from_sorted(i64_array(parts, "item_ids")?)
            .map_err(|e| parts.damaged(format!("item_ids: {e}")))?;
        if meta.rank == 0 {
            return Err(parts.damaged("rank is 0".into()));
        }
        let factors = |name: &str, n: usize| -> Result<Matrix> {
            let values = parts.f64(name)?;
            if values.len() != n * meta.rank {
                return Err(parts.damaged(format!(
                    "array `{name}` has {} values, expected {n} x rank {}",
                    values.len(),
                    meta.rank
                )));
            }
            Matrix::new(n, meta.rank, values)
        };
        let user_factors = factors("user_factors", users.len())?;
        let item_factors = factors("item_factors", items.len())?;
        let rated = if meta.exclude_rated {
            Some(rated_items(parts, users.len(), items.len())?)
        } else {
            None
        };
        Ok(AlsModel::new(
            users,
            user_factors,
            items,
            item_factors,
            rated,
            meta.columns,
        ))
    }
}

/// The saved per-user training items, checked against the numbers of users and items.
fn rated_items(parts: &ModelParts, n_users: usize, n_items: usize) -> Result<RatedItems> {
    let offsets = i64_array(parts, "rated_offsets")?;
    let items = i64_array(parts, "rated_items")?;
    let monotone = offsets.first() == Some(&0)
        && offsets.windows(2).all(|w| w[0] <= w[1])
        && offsets.last().copied() == i64::try_from(items.len()).ok();
    if offsets.len() != n_users + 1 || !monotone {
        return Err(parts.damaged(format!(
            "rated_offsets is not {} ascending offsets into the {} rated items",
            n_users + 1,
            items.len()
        )));
    }
    let items = items
        .into_iter()
        .map(|i| {
            u32::try_from(i)
                .ok()
                .filter(|&i| (i as usize) < n_items)
                .ok_or_else(|| parts.damaged(format!("rated item position {i} is out of range")))
        })
        .collect::<Result<Vec<u32>>>()?;
    Ok(RatedItems {
        offsets: offsets.into_iter().map(|o| o as usize).collect(),
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist;
    use crate::pipeline::Estimator;
    use crate::recommendation::{synthetic_ratings, Als};
    use arrow_array::{Array, Int64Array};

    fn fitted(exclude_rated: bool) -> (RecordBatch, AlsModel) {
        let table = synthetic_ratings(50, 40, 3, 0.3, 0.1, 9).unwrap();
        let model = Als {
            rank: 4,
            exclude_rated,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
        (table, model)
    }

    /// A table of (user, item) pairs with a rating column the model ignores.
    fn pairs(users: Vec<Option<i64>>, items: Vec<Option<i64>>) -> RecordBatch {
        let n = users.len();
        let table = data::float_table(vec![("rating", vec![0.0; n])]).unwrap();
        let table = data::with_column(&table, "user", Arc::new(Int64Array::from(users))).unwrap();
        data::with_column(&table, "item", Arc::new(Int64Array::from(items))).unwrap()
    }

    #[test]
    fn a_saved_model_loads_and_predicts_bit_for_bit_the_same() {
        let dir = tempfile::tempdir().unwrap();
        for exclude_rated in [false, true] {
            let (table, model) = fitted(exclude_rated);
            let path = dir.path().join(format!("als-{exclude_rated}"));
            model.save(&path).unwrap();
            let loaded: AlsModel = persist::load(&path).unwrap();
            assert_eq!(loaded, model);
            let (a, b) = (
                model.transform(&table).unwrap(),
                loaded.transform(&table).unwrap(),
            );
            let (a, b) = (
                data::read_f64(&a, "prediction").unwrap(),
                data::read_f64(&b, "prediction").unwrap(),
            );
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            assert_eq!(
                loaded.recommend_for_all_users(5),
                model.recommend_for_all_users(5)
            );
            assert_eq!(loaded.excludes_rated(), exclude_rated);
        }
    }

    #[test]
    fn cold_start_rows_get_nan_or_are_dropped() {
        let (_, mut model) = fitted(false);
        // User 999 and item 999 were never seen; a null id is unknown too.
        let table = pairs(
            vec![Some(0), Some(999), Some(1), None],
            vec![Some(0), Some(0), Some(999), Some(1)],
        );
        let scored = model.transform(&table).unwrap();
        let p = data::read_f64_nullable(&scored, "prediction").unwrap();
        assert!(
            p[0].is_some() && p[1..].iter().all(Option::is_none),
            "{p:?}"
        );
        model.cold_start_strategy = ColdStartStrategy::Drop;
        let kept = model.transform(&table).unwrap();
        assert_eq!(kept.num_rows(), 1);
        assert_eq!(
            data::read_f64(&kept, "prediction").unwrap()[0],
            model.predict(0, 0).unwrap()
        );
        let known = model
            .transform(&pairs(vec![Some(2)], vec![Some(3)]))
            .unwrap();
        assert_eq!(known.num_rows(), 1);
    }

    #[test]
    fn recommendations_are_the_best_scores_in_order() {
        let (table, model) = fitted(false);
        let top = model.recommend_for_users(&[3, 12345, 7], 5);
        // The unknown user is left out.
        assert_eq!(top.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 7]);
        for (user, items) in &top {
            assert_eq!(items.len(), 5);
            assert!(items.windows(2).all(|w| w[0].1 >= w[1].1));
            let fifth = items[4].1;
            let better = model
                .item_ids()
                .iter()
                .filter(|&&i| model.predict(*user, i).unwrap() > fifth)
                .count();
            assert!(better <= 4, "user {user}: {better} items beat the fifth");
            for (item, score) in items {
                assert_eq!(*score, model.predict(*user, *item).unwrap());
            }
        }
        // Without exclusion, a user's rated items may be recommended; with it, never.
        let (_, excluding) = fitted(true);
        let users = data::read_f64(&table, "user").unwrap();
        let items = data::read_f64(&table, "item").unwrap();
        let all = excluding.recommend_for_all_users(10);
        assert_eq!(all.len(), model.user_ids().len());
        for (user, recommended) in &all {
            for (item, _) in recommended {
                let rated = users
                    .iter()
                    .zip(&items)
                    .any(|(&u, &i)| u as i64 == *user && i as i64 == *item);
                assert!(!rated, "user {user} was recommended its rated item {item}");
            }
        }
        let everything = model.recommend_for_users(&[3], 1000);
        assert_eq!(everything[0].1.len(), model.item_ids().len());
    }

    #[test]
    fn damaged_parts_are_refused() {
        let (_, model) = fitted(true);
        let mut parts = model.parts().unwrap();
        parts.arrays.retain(|(name, _)| name != "rated_items");
        let err = AlsModel::from_parts(&parts).unwrap_err().to_string();
        assert!(err.contains("rated_items"), "{err}");
        let mut parts = model.parts().unwrap();
        for (name, array) in parts.arrays.iter_mut() {
            if name == "item_factors" {
                *array = Arc::new(Float64Array::from(vec![1.0; 3]));
            }
        }
        let err = AlsModel::from_parts(&parts).unwrap_err().to_string();
        assert!(
            err.contains("item_factors") && err.contains("expected"),
            "{err}"
        );
        assert!(parts.arrays.iter().all(|(_, a)| a.null_count() == 0));
    }
}
