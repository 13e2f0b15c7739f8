//! The ALS estimator: alternating regularised least squares over user and item factors.

use arrow_array::RecordBatch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{AlsModel, RatedItems};
use super::{required_ids, IdIndex};
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::linalg;
use crate::pipeline::Estimator;

/// What [`AlsModel`]'s `transform` does with a row whose user or item was not in the
/// training table (or whose id is null).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColdStartStrategy {
    /// Predict NaN, keeping the row (Spark's default). Metrics over such a table are NaN,
    /// which makes the cold rows impossible to overlook.
    #[default]
    Nan,
    /// Drop the row, as Spark's `coldStartStrategy="drop"`: what model selection needs to
    /// score a validation split that holds users or items the training split lacks.
    Drop,
}

/// Alternating least squares for matrix factorisation, as Spark ML's `ALS`: each user `u`
/// and item `i` get a vector of `rank` latent factors, and the predicted rating is their
/// dot product `x_u · y_i`.
///
/// **Explicit ratings** (default) minimise
/// `Σ (r_ui - x_u·y_i)² + λ (Σ_u n_u |x_u|² + Σ_i n_i |y_i|²)` over the observed ratings,
/// where `n_u`, `n_i` count the ratings of the user and of the item: the penalty scales with
/// them as in Spark (Zhou et al. 2008, "ALS-WR"), so `reg_param` means the same on small and
/// large data.
///
/// **Implicit feedback** (`implicit_prefs`) follows Hu, Koren & Volinsky (2008): every
/// user–item pair has preference `p = 1` if `r > 0` (else 0) and confidence
/// `c = 1 + alpha · r`; unobserved pairs have `p = 0, c = 1`. Each solve uses
/// `YᵀY + Yᵀ(C - I)Y`, so its cost grows with the user's interactions, not with the number
/// of items. The penalty is scaled by the number of positive interactions, as in Spark.
/// Ratings must be `>= 0` (counts or strengths); Spark also accepts negative ones, which
/// here are refused as most likely a data error.
///
/// Each half-iteration solves every item's (then every user's) `rank × rank` normal
/// equations independently, in parallel: items from the user factors first, then users,
/// `max_iter` times. User factors start as Gaussian vectors of unit length drawn from
/// `seed` (Spark's initialisation). A rating listed twice counts twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Als {
    /// Column of user ids (integers, or floats holding whole numbers).
    pub user_col: String,
    /// Column of item ids (integers, or floats holding whole numbers).
    pub item_col: String,
    /// Column of ratings (explicit) or interaction strengths (implicit).
    pub rating_col: String,
    /// Column the model writes.
    pub prediction_col: String,
    /// Number of latent factors.
    pub rank: usize,
    /// Alternations (each solves all items, then all users).
    pub max_iter: usize,
    /// Penalty weight λ, scaled per user and item by its number of ratings.
    pub reg_param: f64,
    /// Fit implicit feedback (Hu, Koren & Volinsky) instead of explicit ratings.
    pub implicit_prefs: bool,
    /// Confidence growth of implicit feedback: `c = 1 + alpha · r`.
    pub alpha: f64,
    /// Constrain all factors to be `>= 0` (non-negative least squares per solve).
    pub nonnegative: bool,
    /// Seed of the initial user factors.
    pub seed: u64,
    /// What `transform` does with unknown users and items.
    pub cold_start_strategy: ColdStartStrategy,
    /// Keep each user's training items in the model so that recommendations skip them.
    pub exclude_rated: bool,
}

impl Default for Als {
    fn default() -> Self {
        Als {
            user_col: "user".into(),
            item_col: "item".into(),
            rating_col: "rating".into(),
            prediction_col: "prediction".into(),
            rank: 10,
            max_iter: 10,
            reg_param: 0.1,
            implicit_prefs: false,
            alpha: 1.0,
            nonnegative: false,
            seed: 0,
            cold_start_strategy: ColdStartStrategy::Nan,
            exclude_rated: false,
        }
    }
}

impl Als {
    fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(MlError::param("rank", "must be at least 1"));
        }
        if self.max_iter == 0 {
            return Err(MlError::param("max_iter", "must be at least 1"));
        }
        if !(self.reg_param >= 0.0 && self.reg_param.is_finite()) {
            return Err(MlError::param(
                "reg_param",
                format!("must be a finite number >= 0, got {}", self.reg_param),
            ));
        }
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(MlError::param(
                "alpha",
                format!("must be a finite number >= 0, got {}", self.alpha),
            ));
        }
        if self.user_col == self.item_col {
            return Err(MlError::param(
                "item_col",
                format!("is the user column `{}` too", self.user_col),
            ));
        }
        if self.prediction_col == self.user_col || self.prediction_col == self.item_col {
            return Err(MlError::param(
                "prediction_col",
                format!(
                    "`{}` would overwrite the id column of that name",
                    self.prediction_col
                ),
            ));
        }
        Ok(())
    }

    /// The ratings, checked: finite, and `>= 0` for implicit feedback.
    fn ratings(&self, table: &RecordBatch) -> Result<Vec<f64>> {
        let ratings = data::read_f64(table, &self.rating_col)?;
        if self.implicit_prefs {
            if let Some(row) = ratings.iter().position(|&r| r < 0.0) {
                return Err(MlError::data(format!(
                    "column `{}` has the negative value {} at row {row}; implicit feedback (implicit_prefs) needs counts or strengths >= 0",
                    self.rating_col, ratings[row]
                )));
            }
        }
        Ok(ratings)
    }
}

impl Estimator for Als {
    type Model = AlsModel;

    fn fit(&self, table: &RecordBatch) -> Result<AlsModel> {
        self.validate()?;
        let users = required_ids(table, &self.user_col)?;
        let items = required_ids(table, &self.item_col)?;
        let ratings = self.ratings(table)?;
        if ratings.is_empty() {
            return Err(MlError::data(
                "ALS needs at least one rating; the table is empty",
            ));
        }
        let user_index = IdIndex::new(&users)?;
        let item_index = IdIndex::new(&items)?;
        let largest = user_index.len().max(item_index.len()).max(self.rank);
        if largest.checked_mul(self.rank).is_none() {
            return Err(MlError::param(
                "rank",
                format!("{} factors per id are too many to store", self.rank),
            ));
        }
        let user_pos: Vec<u32> = positions(&users, &user_index);
        let item_pos: Vec<u32> = positions(&items, &item_index);
        let by_user = Interactions::group(&user_pos, &item_pos, &ratings, user_index.len());
        let by_item = Interactions::group(&item_pos, &user_pos, &ratings, item_index.len());

        let solve = SolveSettings {
            rank: self.rank,
            reg_param: self.reg_param,
            implicit: self.implicit_prefs.then_some(self.alpha),
            nonnegative: self.nonnegative,
        };
        let mut user_factors = self.initial_factors(user_index.len());
        let mut item_factors = Vec::new();
        for _ in 0..self.max_iter {
            item_factors = solve.all(&user_factors, &by_item);
            user_factors = solve.all(&item_factors, &by_user);
        }
        if user_factors
            .iter()
            .chain(&item_factors)
            .any(|v| !v.is_finite())
        {
            return Err(MlError::data(
                "ALS diverged (non-finite factors); the ratings may be too large: rescale them or raise reg_param",
            ));
        }
        let rated = self
            .exclude_rated
            .then(|| RatedItems::from_groups(&by_user.offsets, &by_user.others));
        let (n_users, n_items) = (user_index.len(), item_index.len());
        Ok(AlsModel::new(
            user_index,
            Matrix::new(n_users, self.rank, user_factors)?,
            item_index,
            Matrix::new(n_items, self.rank, item_factors)?,
            rated,
            self.columns(),
        ))
    }
}

impl Als {
    fn columns(&self) -> super::model::Columns {
        super::model::Columns {
            user_col: self.user_col.clone(),
            item_col: self.item_col.clone(),
            prediction_col: self.prediction_col.clone(),
            cold_start_strategy: self.cold_start_strategy,
        }
    }

    /// Gaussian vectors scaled to unit length (their absolute values for non-negative
    /// factorisation), as Spark initialises.
    fn initial_factors(&self, n: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut factors: Vec<f64> = (0..n * self.rank)
            .map(|_| rng.sample::<f64, _>(StandardNormal))
            .collect();
        for row in factors.chunks_mut(self.rank) {
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            for v in row.iter_mut() {
                *v = if self.nonnegative { v.abs() } else { *v } * scale;
            }
        }
        factors
    }
}

/// The position of each id in `index`.
fn positions(ids: &[i64], index: &IdIndex) -> Vec<u32> {
    // Every id is in the index it was built from.
    ids.iter()
        .map(|&id| index.get(id).unwrap_or(0) as u32)
        .collect()
}

/// Ratings grouped by one side (users or items) in compressed rows: group `g` holds
/// `others[offsets[g]..offsets[g + 1]]` with their `ratings`.
pub(super) struct Interactions {
    pub(super) offsets: Vec<usize>,
    pub(super) others: Vec<u32>,
    ratings: Vec<f64>,
}

impl Interactions {
    /// Counting sort of the rows by `group`, keeping the table order within a group.
    fn group(group: &[u32], other: &[u32], ratings: &[f64], n_groups: usize) -> Self {
        let mut offsets = vec![0usize; n_groups + 1];
        for &g in group {
            offsets[g as usize + 1] += 1;
        }
        for g in 0..n_groups {
            offsets[g + 1] += offsets[g];
        }
        let mut next = offsets.clone();
        let mut others = vec![0u32; group.len()];
        let mut sorted = vec![0.0; group.len()];
        for ((&g, &o), &r) in group.iter().zip(other).zip(ratings) {
            let at = &mut next[g as usize];
            others[*at] = o;
            sorted[*at] = r;
            *at += 1;
        }
        Interactions {
            offsets,
            others,
            ratings: sorted,
        }
    }
}

/// How each factor vector is solved.
struct SolveSettings {
    rank: usize,
    reg_param: f64,
    /// `Some(alpha)` for implicit feedback.
    implicit: Option<f64>,
    nonnegative: bool,
}

/// Per-thread buffers of one solve.
struct Scratch {
    a: Vec<f64>,
    b: Vec<f64>,
}

impl SolveSettings {
    /// The factors of every group of `interactions` given the `fixed` factors of the other
    /// side, solved in parallel.
    fn all(&self, fixed: &[f64], interactions: &Interactions) -> Vec<f64> {
        let k = self.rank;
        let n = interactions.offsets.len() - 1;
        let base = self.implicit.map(|_| gram_of_rows(fixed, k));
        let mut out = vec![0.0; n * k];
        out.par_chunks_mut(k).enumerate().for_each_init(
            || Scratch {
                a: vec![0.0; k * k],
                b: vec![0.0; k],
            },
            |scratch, (g, x)| {
                let span = interactions.offsets[g]..interactions.offsets[g + 1];
                let others = &interactions.others[span.clone()];
                let ratings = &interactions.ratings[span];
                self.one(fixed, others, ratings, base.as_deref(), scratch, x);
            },
        );
        out
    }

    /// Solves one factor vector into `x` from the normal equations of its ratings.
    fn one(
        &self,
        fixed: &[f64],
        others: &[u32],
        ratings: &[f64],
        base: Option<&[f64]>,
        scratch: &mut Scratch,
        x: &mut [f64],
    ) {
        let k = self.rank;
        let Scratch { a, b } = scratch;
        match base {
            Some(yty) => a.copy_from_slice(yty),
            None => a.fill(0.0),
        }
        b.fill(0.0);
        let mut count = 0usize;
        for (&o, &r) in others.iter().zip(ratings) {
            let y = &fixed[o as usize * k..(o as usize + 1) * k];
            // Explicit: weight 1, target r. Implicit: the YᵀY base already holds weight 1
            // for every pair, so add c - 1 = alpha·r, and the target c·p.
            let (weight, target) = match self.implicit {
                None => (1.0, r),
                Some(alpha) => (alpha * r, if r > 0.0 { 1.0 + alpha * r } else { 0.0 }),
            };
            if self.implicit.is_none() || r > 0.0 {
                count += 1;
            }
            for i in 0..k {
                let wy = weight * y[i];
                // Lower triangle only; mirrored below.
                for j in 0..=i {
                    a[i * k + j] += wy * y[j];
                }
                b[i] += target * y[i];
            }
        }
        let lambda = self.reg_param * count as f64;
        for i in 0..k {
            a[i * k + i] += lambda;
            for j in 0..i {
                a[j * k + i] = a[i * k + j];
            }
        }
        if self.nonnegative {
            nonnegative_least_squares(a, b, k, x);
        } else {
            solve_positive_definite(a, b, k, x);
        }
    }
}

/// `Σ_rows y yᵀ` (`k × k`, row-major) of the rows of `factors`.
fn gram_of_rows(factors: &[f64], k: usize) -> Vec<f64> {
    let n = factors.len() / k;
    match Matrix::new(n, k, factors.to_vec()) {
        Ok(m) => linalg::gram(&m),
        Err(_) => vec![0.0; k * k],
    }
}

/// Solves `A x = b` for the small symmetric `A` by Cholesky; a singular `A` (no penalty
/// and fewer ratings than factors) gets the minimum-norm solution instead.
fn solve_positive_definite(a: &[f64], b: &[f64], k: usize, x: &mut [f64]) {
    let mut l = a.to_vec();
    if cholesky_in_place(&mut l, k) {
        // Forward then back substitution with the lower factor.
        for i in 0..k {
            let s: f64 = (0..i).map(|j| l[i * k + j] * x[j]).sum();
            x[i] = (b[i] - s) / l[i * k + i];
        }
        for i in (0..k).rev() {
            let s: f64 = (i + 1..k).map(|j| l[j * k + i] * x[j]).sum();
            x[i] = (x[i] - s) / l[i * k + i];
        }
    } else {
        x.copy_from_slice(&linalg::solve_symmetric(a, k, b));
    }
}

/// Overwrites the lower triangle of `a` with its Cholesky factor; `false` if `a` is not
/// safely positive definite (a pivot below `1e-12` of the largest diagonal entry).
fn cholesky_in_place(a: &mut [f64], k: usize) -> bool {
    let largest = (0..k).fold(0.0f64, |m, i| m.max(a[i * k + i]));
    let floor = 1e-12 * largest;
    for j in 0..k {
        let d = a[j * k + j] - (0..j).map(|m| a[j * k + m] * a[j * k + m]).sum::<f64>();
        if d.is_nan() || d <= floor {
            return false;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let s: f64 = (0..j).map(|m| a[i * k + m] * a[j * k + m]).sum();
            a[i * k + j] = (a[i * k + j] - s) / d;
        }
    }
    true
}

/// Minimises `½ xᵀAx - bᵀx` subject to `x >= 0` by projected coordinate descent (exact
/// minimisation along each coordinate, clipped at zero), which converges to the unique
/// minimiser for positive definite `A`, as Spark's NNLS solver does.
fn nonnegative_least_squares(a: &[f64], b: &[f64], k: usize, x: &mut [f64]) {
    const SWEEPS: usize = 1000;
    x.fill(0.0);
    // gradient = A x - b
    let mut gradient: Vec<f64> = b.iter().map(|v| -v).collect();
    for _ in 0..SWEEPS {
        let mut largest_step = 0.0f64;
        let mut largest_x = 0.0f64;
        for i in 0..k {
            let aii = a[i * k + i];
            if aii <= 0.0 {
                continue;
            }
            let new = (x[i] - gradient[i] / aii).max(0.0);
            let step = new - x[i];
            if step != 0.0 {
                for (g, aj) in gradient.iter_mut().zip(&a[i * k..(i + 1) * k]) {
                    *g += step * aj;
                }
                x[i] = new;
            }
            largest_step = largest_step.max(step.abs());
            largest_x = largest_x.max(new);
        }
        if largest_step <= 1e-12 * largest_x.max(f64::MIN_POSITIVE) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Transformer;
    use crate::recommendation::synthetic_ratings;
    use arrow_array::{Float64Array, Int64Array};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    fn ratings(rows: &[(i64, i64, f64)]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("user", DataType::Int64, true),
            Field::new("item", DataType::Int64, true),
            Field::new("rating", DataType::Float64, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_rank_one_matrix_is_recovered_exactly() {
        let u = [1.0, 2.0, -3.0];
        let v = [1.0, -1.0, 2.0, 0.5];
        let mut rows = Vec::new();
        for (i, a) in u.iter().enumerate() {
            for (j, b) in v.iter().enumerate() {
                rows.push((10 * i as i64, 100 + j as i64, a * b));
            }
        }
        let table = ratings(&rows);
        let als = Als {
            rank: 1,
            reg_param: 0.0,
            max_iter: 3,
            ..Default::default()
        };
        let model = als.fit(&table).unwrap();
        let scored = model.transform(&table).unwrap();
        let predicted = data::read_f64(&scored, "prediction").unwrap();
        for (row, p) in rows.iter().zip(predicted) {
            assert!((row.2 - p).abs() < 1e-9, "{row:?} predicted {p}");
        }
    }

    #[test]
    fn implicit_feedback_ranks_a_users_clicked_items_first() {
        // Two communities: users 0..4 click items 0..3, users 4..8 click items 3..6; user 0
        // misses item 2, which its community clicks.
        let mut rows = Vec::new();
        for user in 0..8i64 {
            let items = if user < 4 { 0..3 } else { 3..6 };
            for item in items {
                if (user, item) != (0, 2) {
                    rows.push((user, item, 1.0 + (user + item) as f64 % 3.0));
                }
            }
        }
        let als = Als {
            rank: 2,
            implicit_prefs: true,
            alpha: 10.0,
            reg_param: 0.01,
            max_iter: 15,
            ..Default::default()
        };
        let model = als.fit(&ratings(&rows)).unwrap();
        let score = |u, i| model.predict(u, i).unwrap();
        for user in 0..8 {
            let (mine, theirs) = if user < 4 { (0..3, 3..6) } else { (3..6, 0..3) };
            let worst_mine = mine.map(|i| score(user, i)).fold(f64::INFINITY, f64::min);
            let best_theirs = theirs
                .map(|i| score(user, i))
                .fold(f64::NEG_INFINITY, f64::max);
            assert!(
                worst_mine > best_theirs,
                "user {user}: {worst_mine} vs {best_theirs}"
            );
        }
        // Preferences are 0/1: clicked items score near 1.
        assert!((score(1, 0) - 1.0).abs() < 0.2, "{}", score(1, 0));
    }

    #[test]
    fn held_out_error_approaches_the_noise_level() {
        let table = synthetic_ratings(300, 200, 3, 0.2, 0.3, 11).unwrap();
        let split = crate::split::random_split(table.num_rows(), 0.2, 5).unwrap();
        let train = data::take_rows(&table, &split.train).unwrap();
        let test = data::take_rows(&table, &split.test).unwrap();
        let model = Als {
            rank: 3,
            reg_param: 0.05,
            max_iter: 15,
            cold_start_strategy: ColdStartStrategy::Drop,
            ..Default::default()
        }
        .fit(&train)
        .unwrap();
        let scored = model.transform(&test).unwrap();
        let rmse = crate::metrics::rmse(
            &data::read_f64(&scored, "rating").unwrap(),
            &data::read_f64(&scored, "prediction").unwrap(),
        )
        .unwrap();
        // The true factors' ratings have spread 1; the noise 0.3 is the floor.
        assert!(rmse > 0.28 && rmse < 0.36, "held-out RMSE {rmse}");
    }

    #[test]
    fn nonnegative_factors_stay_nonnegative() {
        let table = synthetic_ratings(40, 30, 2, 0.5, 0.1, 3).unwrap();
        let model = Als {
            rank: 3,
            nonnegative: true,
            ..Default::default()
        }
        .fit(&table)
        .unwrap();
        for &id in model.user_ids() {
            assert!(model.user_factors(id).unwrap().iter().all(|&v| v >= 0.0));
        }
        for &id in model.item_ids() {
            assert!(model.item_factors(id).unwrap().iter().all(|&v| v >= 0.0));
        }
    }

    #[test]
    fn nnls_matches_the_unconstrained_solution_when_it_is_feasible() {
        let a = [4.0, 1.0, 1.0, 3.0];
        let mut free = [0.0; 2];
        solve_positive_definite(&a, &[1.0, 2.0], 2, &mut free);
        let mut constrained = [0.0; 2];
        nonnegative_least_squares(&a, &[1.0, 2.0], 2, &mut constrained);
        assert!((free[0] - 1.0 / 11.0).abs() < 1e-12 && (free[1] - 7.0 / 11.0).abs() < 1e-12);
        assert!((constrained[0] - free[0]).abs() < 1e-10);
        // With b = (-1, 2) the free optimum has x0 < 0: the constrained one clips it.
        nonnegative_least_squares(&a, &[-1.0, 2.0], 2, &mut constrained);
        assert_eq!(constrained[0], 0.0);
        assert!((constrained[1] - 2.0 / 3.0).abs() < 1e-10);
    }

    #[test]
    fn a_singular_system_gets_the_minimum_norm_solution() {
        // No penalty and one rating for two factors: A = y yᵀ is singular.
        let mut x = [0.0; 2];
        solve_positive_definite(&[1.0, 1.0, 1.0, 1.0], &[2.0, 2.0], 2, &mut x);
        assert!(
            (x[0] - 1.0).abs() < 1e-9 && (x[1] - 1.0).abs() < 1e-9,
            "{x:?}"
        );
    }

    #[test]
    fn bad_ratings_and_ids_are_refused_with_the_row_named() {
        let implicit = Als {
            implicit_prefs: true,
            ..Default::default()
        };
        let err = implicit
            .fit(&ratings(&[(1, 1, 1.0), (1, 2, -2.0)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("negative value -2 at row 1"), "{err}");
        let err = Als::default()
            .fit(&ratings(&[(1, 1, 1.0), (2, 1, f64::NAN)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("NaN at row 1"), "{err}");
        let table = ratings(&[(1, 1, 1.0), (2, 1, 3.0)]);
        let null_user = Arc::new(Int64Array::from(vec![Some(1), None]));
        let table = data::with_column(&table, "user", null_user).unwrap();
        let err = Als::default().fit(&table).unwrap_err().to_string();
        assert!(err.contains("`user` has a missing id at row 1"), "{err}");
        let err = Als::default().fit(&ratings(&[])).unwrap_err().to_string();
        assert!(err.contains("at least one rating"), "{err}");
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let table = ratings(&[(1, 1, 1.0)]);
        for (als, name) in [
            (
                Als {
                    rank: 0,
                    ..Default::default()
                },
                "`rank`",
            ),
            (
                Als {
                    max_iter: 0,
                    ..Default::default()
                },
                "`max_iter`",
            ),
            (
                Als {
                    reg_param: -1.0,
                    ..Default::default()
                },
                "`reg_param`",
            ),
            (
                Als {
                    alpha: f64::NAN,
                    ..Default::default()
                },
                "`alpha`",
            ),
            (
                Als {
                    item_col: "user".into(),
                    ..Default::default()
                },
                "`item_col`",
            ),
            (
                Als {
                    prediction_col: "item".into(),
                    ..Default::default()
                },
                "`prediction_col`",
            ),
        ] {
            let err = als.fit(&table).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
