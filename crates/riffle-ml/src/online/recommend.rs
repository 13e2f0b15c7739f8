//! Streaming recommendation: models that learn from each interaction and recommend the top
//! items for a user at any moment.
//!
//! - [`OnlineMf`]: biased matrix factorisation trained by SGD, one interaction at a time
//!   (River's `reco.BiasedMF` rule), with sampled negatives for implicit feedback (clicks);
//! - [`ItemSimilarity`]: Swing-style item-item similarity: two items clicked by the same user
//!   grow closer by a weight that shrinks with how many items that user clicks, so heavy
//!   users count less (the idea of Alibaba's Swing, kept incremental: pairs within each user's
//!   recent history);
//! - [`Popularity`]: the most clicked items, the baseline both are measured against;
//! - [`ClickRecommender`]: any of the three behind one interface, as the `online-mf`,
//!   `swing` and `popularity` algorithms of [`crate::algorithms`] hold them.

use std::collections::{HashMap, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The `k` items with the highest score, best first (ties to the lower item id), leaving out
/// `exclude`. Score then item is a total order, so the result does not depend on the order
/// the items come in (hash maps give them in any order).
fn top_k(scores: impl Iterator<Item = (u64, f64)>, k: usize, exclude: &[u64]) -> Vec<u64> {
    let order = |a: &(u64, f64), b: &(u64, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let mut all: Vec<(u64, f64)> = scores.filter(|(i, _)| !exclude.contains(i)).collect();
    if all.len() > k && k > 0 {
        all.select_nth_unstable_by(k - 1, order);
        all.truncate(k);
    }
    all.sort_by(order);
    all.truncate(k);
    all.into_iter().map(|(item, _)| item).collect()
}

/// Biased matrix factorisation learned online: `score(u, i) = μ + b_u + b_i + p_u · q_i`;
/// each interaction takes one SGD step on the squared error with L2 weight `reg`. For
/// implicit feedback, [`learn_click`](Self::learn_click) learns the clicked item as 1 and
/// `negatives` random items seen before as 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineMf {
    /// Latent factors per user and item.
    pub factors: usize,
    /// SGD step size.
    pub lr: f64,
    /// L2 weight.
    pub reg: f64,
    /// Negatives sampled per click.
    pub negatives: usize,
    /// Standard deviation of the initial factors.
    pub init_std: f64,
    seed: u64,
    mean: f64,
    seen: u64,
    users: HashMap<u64, (f64, Vec<f64>)>,
    items: HashMap<u64, (f64, Vec<f64>)>,
    /// Items in the order first seen, for sampling negatives.
    catalogue: Vec<u64>,
    draws: u64,
}

impl OnlineMf {
    /// A model with `factors` latent factors, seeded with `seed`.
    pub fn new(factors: usize, seed: u64) -> Self {
        OnlineMf {
            factors,
            lr: 0.1,
            reg: 0.001,
            negatives: 4,
            init_std: 0.1,
            seed,
            mean: 0.0,
            seen: 0,
            users: HashMap::new(),
            items: HashMap::new(),
            catalogue: Vec::new(),
            draws: 0,
        }
    }

    fn rng(&mut self) -> ChaCha8Rng {
        self.draws += 1;
        ChaCha8Rng::seed_from_u64(self.seed ^ self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn init(&mut self) -> (f64, Vec<f64>) {
        let mut rng = self.rng();
        let std = self.init_std;
        (
            0.0,
            (0..self.factors)
                .map(|_| std * (rng.random::<f64>() * 2.0 - 1.0) * 1.732)
                .collect(),
        )
    }

    /// The score of `item` for `user` (the global mean for unknown ones).
    pub fn score(&self, user: u64, item: u64) -> f64 {
        self.score_of(self.users.get(&user), self.items.get(&item))
    }

    /// The score of an item with factors `i` for a user with factors `u`.
    fn score_of(&self, u: Option<&(f64, Vec<f64>)>, i: Option<&(f64, Vec<f64>)>) -> f64 {
        let mut s = self.mean;
        if let Some((b, _)) = u {
            s += b;
        }
        if let Some((b, _)) = i {
            s += b;
        }
        if let (Some((_, p)), Some((_, q))) = (u, i) {
            s += p.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
        }
        s
    }

    /// Learns that `user` gave `item` the value `y`.
    pub fn learn_one(&mut self, user: u64, item: u64, y: f64) {
        if !self.users.contains_key(&user) {
            let v = self.init();
            self.users.insert(user, v);
        }
        if !self.items.contains_key(&item) {
            let v = self.init();
            self.items.insert(item, v);
            self.catalogue.push(item);
        }
        self.seen += 1;
        self.mean += (y - self.mean) / self.seen as f64;
        let error = self.score(user, item) - y;
        let (lr, reg) = (self.lr, self.reg);
        let Some((bu, p)) = self.users.get(&user).cloned() else {
            return;
        };
        let Some((bi, q)) = self.items.get(&item).cloned() else {
            return;
        };
        let new_p: Vec<f64> = p
            .iter()
            .zip(&q)
            .map(|(pu, qi)| pu - lr * (error * qi + reg * pu))
            .collect();
        let new_q: Vec<f64> = q
            .iter()
            .zip(&p)
            .map(|(qi, pu)| qi - lr * (error * pu + reg * qi))
            .collect();
        self.users
            .insert(user, (bu - lr * (error + reg * bu), new_p));
        self.items
            .insert(item, (bi - lr * (error + reg * bi), new_q));
    }

    /// Learns a click: the item as 1, and `negatives` items drawn from those seen so far
    /// (other than it) as 0.
    pub fn learn_click(&mut self, user: u64, item: u64) {
        self.learn_one(user, item, 1.0);
        if self.catalogue.len() < 2 {
            return;
        }
        for _ in 0..self.negatives {
            let mut rng = self.rng();
            let other = self.catalogue[rng.random_range(0..self.catalogue.len())];
            if other != item {
                self.learn_one(user, other, 0.0);
            }
        }
    }

    /// The `k` best-scored items for `user`, leaving out `exclude`.
    pub fn recommend(&self, user: u64, k: usize, exclude: &[u64]) -> Vec<u64> {
        // Every item seen is in `items`; the user is looked up once. The order items come in
        // does not matter: `top_k` orders by score, then item.
        let u = self.users.get(&user);
        top_k(
            self.items
                .iter()
                .map(|(item, factors)| (*item, self.score_of(u, Some(factors)))),
            k,
            exclude,
        )
    }
}

/// Swing-style item-item similarity, learned from clicks: when a user clicks item `i`, every
/// item `j` in the user's last `history` clicks gets `sim(i, j) += 1 / (alpha + n_u)`, with
/// `n_u` the number of items the user has clicked; recommendations for a user are the items
/// most similar to their recent clicks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemSimilarity {
    /// Clicks per user remembered.
    pub history: usize,
    /// Smoothing of the user weight.
    pub alpha: f64,
    recent: HashMap<u64, VecDeque<u64>>,
    clicks: HashMap<u64, u64>,
    similar: HashMap<u64, HashMap<u64, f64>>,
}

impl ItemSimilarity {
    /// Remembering `history` clicks per user, with smoothing `alpha`.
    pub fn new(history: usize, alpha: f64) -> Self {
        ItemSimilarity {
            history,
            alpha,
            ..Default::default()
        }
    }

    /// Learns that `user` clicked `item`.
    pub fn learn_click(&mut self, user: u64, item: u64) {
        let n = self.clicks.entry(user).or_default();
        *n += 1;
        let weight = 1.0 / (self.alpha + *n as f64);
        let recent = self.recent.entry(user).or_default();
        for other in recent.iter().copied().filter(|o| *o != item) {
            *self
                .similar
                .entry(item)
                .or_default()
                .entry(other)
                .or_default() += weight;
            *self
                .similar
                .entry(other)
                .or_default()
                .entry(item)
                .or_default() += weight;
        }
        recent.retain(|o| *o != item);
        recent.push_front(item);
        recent.truncate(self.history);
    }

    /// How similar `item` is to `user`'s recent clicks: its similarities to them, summed (0
    /// for a user or item not seen).
    pub fn score(&self, user: u64, item: u64) -> f64 {
        self.recent
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|recent| self.similar.get(recent)?.get(&item))
            .sum()
    }

    /// The `k` items most similar to `user`'s recent clicks (summed over them), leaving out
    /// `exclude`.
    pub fn recommend(&self, user: u64, k: usize, exclude: &[u64]) -> Vec<u64> {
        let mut scores: HashMap<u64, f64> = HashMap::new();
        if let Some(recent) = self.recent.get(&user) {
            for item in recent {
                for (other, s) in self.similar.get(item).into_iter().flatten() {
                    *scores.entry(*other).or_default() += s;
                }
            }
        }
        top_k(scores.into_iter(), k, exclude)
    }
}

/// The most clicked items so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Popularity {
    counts: HashMap<u64, u64>,
}

impl Popularity {
    /// Counts a click on `item`.
    pub fn learn_click(&mut self, item: u64) {
        *self.counts.entry(item).or_default() += 1;
    }

    /// The `k` most clicked items, leaving out `exclude`.
    pub fn recommend(&self, k: usize, exclude: &[u64]) -> Vec<u64> {
        top_k(self.counts.iter().map(|(i, c)| (*i, *c as f64)), k, exclude)
    }

    /// How many times `item` was clicked.
    pub fn score(&self, item: u64) -> f64 {
        self.counts.get(&item).copied().unwrap_or(0) as f64
    }
}

/// One of the streaming recommenders, learning from clicks: what the `online-mf`, `swing`
/// and `popularity` algorithms hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClickRecommender {
    /// Online matrix factorisation.
    Mf(OnlineMf),
    /// Swing-style item-item similarity.
    Swing(ItemSimilarity),
    /// The most clicked items.
    Popularity(Popularity),
}

impl ClickRecommender {
    /// Learns that `user` clicked `item`.
    pub fn learn_click(&mut self, user: u64, item: u64) {
        match self {
            ClickRecommender::Mf(m) => m.learn_click(user, item),
            ClickRecommender::Swing(m) => m.learn_click(user, item),
            ClickRecommender::Popularity(m) => m.learn_click(item),
        }
    }

    /// How strongly `item` is recommended to `user` (higher is stronger; comparable only
    /// within one model).
    pub fn score(&self, user: u64, item: u64) -> f64 {
        match self {
            ClickRecommender::Mf(m) => m.score(user, item),
            ClickRecommender::Swing(m) => m.score(user, item),
            ClickRecommender::Popularity(m) => m.score(item),
        }
    }

    /// The `k` items recommended to `user`, best first, leaving out `exclude`.
    pub fn recommend(&self, user: u64, k: usize, exclude: &[u64]) -> Vec<u64> {
        match self {
            ClickRecommender::Mf(m) => m.recommend(user, k, exclude),
            ClickRecommender::Swing(m) => m.recommend(user, k, exclude),
            ClickRecommender::Popularity(m) => m.recommend(k, exclude),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_score_then_item_and_skips_excluded() {
        let scores = vec![(5, 1.0), (3, 2.0), (9, 2.0), (1, 0.5), (7, 3.0)];
        assert_eq!(top_k(scores.clone().into_iter(), 3, &[]), vec![7, 3, 9]);
        assert_eq!(top_k(scores.clone().into_iter(), 2, &[7]), vec![3, 9]);
        // Ties (3 and 9) are settled by item whatever order the items come in.
        assert_eq!(top_k(scores.into_iter().rev(), 2, &[7]), vec![3, 9]);
    }

    /// Two groups of users, each clicking only its own ten items.
    fn clicks() -> Vec<(u64, u64)> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        (0..20_000)
            .map(|_| {
                let user = rng.random_range(0..100u64);
                let group = user % 2;
                (user, group * 10 + rng.random_range(0..10u64))
            })
            .collect()
    }

    #[test]
    fn scores_rank_items_as_the_recommendations_do() {
        let mut models = [
            ClickRecommender::Mf(OnlineMf::new(8, 1)),
            ClickRecommender::Swing(ItemSimilarity::new(20, 5.0)),
            ClickRecommender::Popularity(Popularity::default()),
        ];
        for (u, i) in clicks() {
            for m in &mut models {
                m.learn_click(u, i);
            }
        }
        for m in &models {
            let top = m.recommend(4, 3, &[]);
            let mut by_score: Vec<(u64, f64)> = (0..20).map(|i| (i, m.score(4, i))).collect();
            by_score.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let best: Vec<u64> = by_score.iter().take(3).map(|(i, _)| *i).collect();
            assert_eq!(top, best, "{m:?}");
        }
        // Swing by hand: user 1 clicks 10, then 11 (pairing them with weight 1/(5 + 2)),
        // then user 2 clicks 11.
        let mut swing = ItemSimilarity::new(5, 5.0);
        swing.learn_click(1, 10);
        swing.learn_click(1, 11);
        swing.learn_click(2, 11);
        assert!((swing.score(2, 10) - 1.0 / 7.0).abs() < 1e-12);
        assert_eq!(swing.score(3, 10), 0.0);
    }

    #[test]
    fn each_model_recommends_the_users_own_group_of_items() {
        let mut mf = OnlineMf::new(8, 1);
        let mut swing = ItemSimilarity::new(20, 5.0);
        for (u, i) in clicks() {
            mf.learn_click(u, i);
            swing.learn_click(u, i);
        }
        for user in [4u64, 7] {
            let group = user % 2;
            for recs in [mf.recommend(user, 5, &[]), swing.recommend(user, 5, &[])] {
                assert_eq!(recs.len(), 5);
                assert!(
                    recs.iter().all(|i| i / 10 == group),
                    "user {user}: {recs:?}"
                );
            }
        }
    }
}
