//! Seeded synthetic interactions with a known low-rank truth, for tests and benchmarks.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson, StandardNormal};

use crate::error::{MlError, Result};

/// How much a user's taste (the factor product) weighs in [`synthetic_clicks`] against an
/// item's overall popularity (a standard normal logit): enough that personal taste, not
/// popularity alone, decides most clicks.
const TASTE: f64 = 2.0;

/// Explicit ratings of `users` users (ids `0..users`) on `items` items (ids `0..items`)
/// from a true rank-`rank` model: `rating = x_u · y_i + noise · ε` with standard normal
/// `ε`, and factor entries drawn with variance `1/√rank` so that `x_u · y_i` has variance
/// 1 whatever the rank. Each user rates a Binomial(`items`, `density`) number of distinct
/// items (at least one). Columns `user` and `item` (`Int64`) and `rating` (`Float64`),
/// ordered by user, then item.
///
/// A model of the right rank fitted on part of these ratings should predict the rest with
/// a root mean squared error close to `noise`.
///
/// ```
/// let ratings = riffle_ml::recommendation::synthetic_ratings(10, 20, 2, 0.5, 0.1, 1).unwrap();
/// assert_eq!(ratings.schema().field(0).name(), "user");
/// assert!(ratings.num_rows() >= 10);
/// ```
pub fn synthetic_ratings(
    users: usize,
    items: usize,
    rank: usize,
    density: f64,
    noise: f64,
    seed: u64,
) -> Result<RecordBatch> {
    check_sizes(users, items, rank)?;
    if !(density > 0.0 && density <= 1.0) {
        return Err(MlError::param(
            "density",
            format!("must be in (0, 1], got {density}"),
        ));
    }
    if !(noise >= 0.0 && noise.is_finite()) {
        return Err(MlError::param(
            "noise",
            format!("must be a finite number >= 0, got {noise}"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (user_factors, item_factors) = true_factors(users, items, rank, &mut rng);
    let per_user = Binomial::new(items as u64, density)
        .map_err(|e| MlError::param("density", e.to_string()))?;
    let mut rows = Rows::default();
    for u in 0..users {
        let count = (per_user.sample(&mut rng) as usize).clamp(1, items);
        let mut chosen = rand::seq::index::sample(&mut rng, items, count).into_vec();
        chosen.sort_unstable();
        let x = &user_factors[u * rank..(u + 1) * rank];
        for i in chosen {
            let y = &item_factors[i * rank..(i + 1) * rank];
            let truth: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
            let epsilon: f64 = rng.sample(StandardNormal);
            rows.push(u, i, truth + noise * epsilon);
        }
    }
    rows.into_table()
}

/// Implicit feedback: each of `users` users clicks `clicks_per_user` distinct items among
/// `items`, drawn without replacement with probabilities proportional to
/// `exp(2 x_u · y_i + popularity_i)` (true rank-`rank` factors as in [`synthetic_ratings`],
/// standard normal item popularity logits). The `rating` column holds the number of
/// clicks, `1 + Poisson(1)`. Columns `user`, `item` (`Int64`) and `rating` (`Float64`),
/// ordered by user, then item.
///
/// Popular items are clicked by many users, so recommending the most popular items is a
/// real baseline; a model that learns each user's taste should beat it.
///
/// ```
/// let clicks = riffle_ml::recommendation::synthetic_clicks(10, 30, 2, 4, 1).unwrap();
/// assert_eq!(clicks.num_rows(), 40);
/// ```
pub fn synthetic_clicks(
    users: usize,
    items: usize,
    rank: usize,
    clicks_per_user: usize,
    seed: u64,
) -> Result<RecordBatch> {
    check_sizes(users, items, rank)?;
    if clicks_per_user == 0 || clicks_per_user > items {
        return Err(MlError::param(
            "clicks_per_user",
            format!("must be in 1..={items} (the number of items), got {clicks_per_user}"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (user_factors, item_factors) = true_factors(users, items, rank, &mut rng);
    let popularity: Vec<f64> = (0..items).map(|_| rng.sample(StandardNormal)).collect();
    let extra_clicks = Poisson::new(1.0).map_err(|e| MlError::data(e.to_string()))?;
    let mut rows = Rows::default();
    let mut keys: Vec<(f64, usize)> = Vec::with_capacity(items);
    for u in 0..users {
        let x = &user_factors[u * rank..(u + 1) * rank];
        keys.clear();
        for (i, y) in item_factors.chunks_exact(rank).enumerate() {
            let logit = TASTE * x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() + popularity[i];
            // Gumbel top-k: the largest `logit + Gumbel` keys are a draw without replacement
            // proportional to exp(logit). `1 - U` keeps the logarithm's argument above 0.
            let uniform: f64 = 1.0 - rng.random::<f64>();
            keys.push((logit - (-uniform.ln()).ln(), i));
        }
        keys.select_nth_unstable_by(clicks_per_user - 1, |a, b| b.0.total_cmp(&a.0));
        let mut chosen: Vec<usize> = keys[..clicks_per_user].iter().map(|k| k.1).collect();
        chosen.sort_unstable();
        for i in chosen {
            let clicks: f64 = extra_clicks.sample(&mut rng);
            rows.push(u, i, 1.0 + clicks);
        }
    }
    rows.into_table()
}

fn check_sizes(users: usize, items: usize, rank: usize) -> Result<()> {
    for (name, value) in [("users", users), ("items", items), ("rank", rank)] {
        if value == 0 {
            return Err(MlError::param(name, "must be at least 1"));
        }
    }
    if users.checked_mul(rank).is_none() || items.checked_mul(rank).is_none() {
        return Err(MlError::param("rank", "too many factors to generate"));
    }
    Ok(())
}

/// Row-major user and item factors with entries of variance `1/√rank`.
fn true_factors(
    users: usize,
    items: usize,
    rank: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, Vec<f64>) {
    let scale = (rank as f64).powf(-0.25);
    let mut draw = |n: usize| -> Vec<f64> {
        (0..n * rank)
            .map(|_| scale * rng.sample::<f64, _>(StandardNormal))
            .collect()
    };
    let user_factors = draw(users);
    let item_factors = draw(items);
    (user_factors, item_factors)
}

#[derive(Default)]
struct Rows {
    users: Vec<i64>,
    items: Vec<i64>,
    ratings: Vec<f64>,
}

impl Rows {
    fn push(&mut self, user: usize, item: usize, rating: f64) {
        self.users.push(user as i64);
        self.items.push(item as i64);
        self.ratings.push(rating);
    }

    fn into_table(self) -> Result<RecordBatch> {
        let schema = Schema::new(vec![
            Field::new("user", DataType::Int64, false),
            Field::new("item", DataType::Int64, false),
            Field::new("rating", DataType::Float64, false),
        ]);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(self.users)),
            Arc::new(Int64Array::from(self.items)),
            Arc::new(Float64Array::from(self.ratings)),
        ];
        Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data;

    #[test]
    fn ratings_are_reproducible_and_have_the_requested_shape() {
        let a = synthetic_ratings(200, 100, 4, 0.1, 0.5, 3).unwrap();
        assert_eq!(a, synthetic_ratings(200, 100, 4, 0.1, 0.5, 3).unwrap());
        assert_ne!(a, synthetic_ratings(200, 100, 4, 0.1, 0.5, 4).unwrap());
        // About 200 x 100 x 0.1 ratings.
        assert!((1700..2300).contains(&a.num_rows()), "{}", a.num_rows());
        let ratings = data::read_f64(&a, "rating").unwrap();
        let mean = ratings.iter().sum::<f64>() / ratings.len() as f64;
        let variance =
            ratings.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / ratings.len() as f64;
        // Signal variance 1 plus noise variance 0.25.
        assert!((variance - 1.25).abs() < 0.3, "variance {variance}");
        let users = data::read_f64(&a, "user").unwrap();
        let items = data::read_f64(&a, "item").unwrap();
        let pairs: std::collections::HashSet<(i64, i64)> = users
            .iter()
            .zip(&items)
            .map(|(&u, &i)| (u as i64, i as i64))
            .collect();
        assert_eq!(pairs.len(), a.num_rows(), "a user rates an item once");
    }

    #[test]
    fn clicks_favour_popular_items_and_are_counts() {
        let clicks = synthetic_clicks(300, 50, 3, 5, 8).unwrap();
        assert_eq!(clicks.num_rows(), 1500);
        let counts = data::read_f64(&clicks, "rating").unwrap();
        assert!(counts.iter().all(|&c| c >= 1.0 && c.fract() == 0.0));
        let mut per_item = vec![0usize; 50];
        for i in data::read_f64(&clicks, "item").unwrap() {
            per_item[i as usize] += 1;
        }
        per_item.sort_unstable();
        // Uniform choice would give each item about 30 clicks.
        assert!(per_item[49] > 3 * per_item[25], "{per_item:?}");
    }

    #[test]
    fn bad_sizes_are_refused_by_name() {
        let err = synthetic_ratings(0, 5, 1, 0.5, 0.1, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`users`"), "{err}");
        let err = synthetic_ratings(5, 5, 1, 0.0, 0.1, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`density`"), "{err}");
        let err = synthetic_ratings(5, 5, 1, 0.5, -1.0, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`noise`"), "{err}");
        let err = synthetic_clicks(5, 5, 1, 6, 0).unwrap_err().to_string();
        assert!(err.contains("`clicks_per_user`"), "{err}");
    }
}
