//! The recommenders among the online algorithms (`online-mf`, `swing`, `popularity`): their
//! estimators, and how an [`OnlineLearnerModel`] learns clicks and serves lists with one.

use super::{Learner, OnlineLearnerModel};
use crate::error::{MlError, Result};
use crate::online::recommend::{ClickRecommender, ItemSimilarity, OnlineMf, Popularity};
use crate::{Estimator, Matrix};
use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

/// Feature `v` as a user or item id: a whole number from 0 to 2^53.
pub(super) fn id(v: f64) -> Option<u64> {
    (v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0).then_some(v as u64)
}

/// The user and item ids of a recommender's features `x`.
pub(super) fn user_item(x: &[f64]) -> Option<(u64, u64)> {
    match x {
        [user, item] => Some((id(*user)?, id(*item)?)),
        _ => None,
    }
}

impl OnlineLearnerModel {
    /// Progressive validation of a recommender over clicks `x` (user, item rows): each row's
    /// user is served the top k, a hit when it holds the item, and then the click is learned;
    /// the baseline serves the k most clicked items so far.
    pub(super) fn learn_clicks(&mut self, x: &Matrix) -> Result<()> {
        let ids = clicks(x)?;
        let Learner::Recommender { model, k } = &mut self.learner else {
            return Err(MlError::data("learn_clicks needs a recommender"));
        };
        let p = &mut self.progress;
        for (user, item) in ids {
            p.model += f64::from(model.recommend(user, *k, &[]).contains(&item));
            p.baseline += f64::from(p.popular.recommend(*k, &[]).contains(&item));
            p.rows += 1;
            model.learn_click(user, item);
            p.popular.learn_click(item);
        }
        Ok(())
    }

    /// The `k` items recommended to `user` with what has been learned so far (recommenders
    /// only).
    pub fn recommend(&self, user: u64, k: usize) -> Result<Vec<u64>> {
        match &self.learner {
            Learner::Recommender { model, .. } => Ok(model.recommend(user, k, &[])),
            _ => Err(MlError::data(
                "only a recommender (online-mf, swing, popularity) recommends items",
            )),
        }
    }
}

/// The (user, item) ids of clicks `x`, refused unless `x` has two columns of whole numbers.
pub(super) fn clicks(x: &Matrix) -> Result<Vec<(u64, u64)>> {
    if x.cols() != 2 {
        return Err(MlError::data(format!(
            "a recommender learns from clicks: two features, the user and the item; got {}",
            x.cols()
        )));
    }
    x.row_iter()
        .enumerate()
        .map(|(row, v)| match user_item(v) {
            Some(ids) => Ok(ids),
            None => Err(MlError::data(format!(
                "a recommender's user and item are whole numbers from 0 to 2^53; row {row} \
                 has user {} and item {}",
                v[0], v[1]
            ))),
        })
        .collect()
}

/// Checks the settings every recommender shares: `k` items per list, no scaling of ids.
fn recommender(model: ClickRecommender, k: usize, standardize: bool) -> Result<Learner> {
    if k == 0 {
        return Err(MlError::param(
            "top_k",
            "0: lists must hold at least one item",
        ));
    }
    if standardize {
        return Err(MlError::param(
            "standardize",
            "a recommender's features are user and item ids, which are not scaled",
        ));
    }
    Ok(Learner::Recommender { model, k })
}

online_estimator! {
    /// Online biased matrix factorisation learned from clicks, each with `negatives`
    /// sampled items learned as not clicked ([`OnlineMf`]).
    OnlineMfEstimator {
        /// Latent factors per user and item.
        factors: usize = 16,
        /// SGD step size.
        learning_rate: f64 = 0.1,
        /// L2 penalty.
        l2: f64 = 0.001,
        /// Items sampled as negatives per click.
        negatives: usize = 4,
        /// Seed of the initial factors and the negative draws.
        seed: u64 = 42,
        /// Items per recommendation list (hit-rate@k).
        top_k: usize = 10,
    }
    |p| {
        if !(1..=1_024).contains(&p.factors) {
            return Err(MlError::param("factors", format!("{}: use 1 to 1024", p.factors)));
        }
        if !(p.learning_rate > 0.0 && p.learning_rate.is_finite()) {
            return Err(MlError::param(
                "learning_rate",
                format!("{}: must be a positive number", p.learning_rate),
            ));
        }
        if !(p.l2 >= 0.0 && p.l2.is_finite()) {
            return Err(MlError::param("l2", format!("{}: must be 0 or more", p.l2)));
        }
        // Each negative is an SGD step per click: a large count stalls the stream.
        if p.negatives > 100 {
            return Err(MlError::param(
                "negatives",
                format!("{}: use 0 to 100 sampled negatives per click", p.negatives),
            ));
        }
        let mut mf = OnlineMf::new(p.factors, p.seed);
        mf.lr = p.learning_rate;
        mf.reg = p.l2;
        mf.negatives = p.negatives;
        recommender(ClickRecommender::Mf(mf), p.top_k, p.standardize)?
    }
}

online_estimator! {
    /// Swing-style item-item similarity learned from clicks ([`ItemSimilarity`]).
    SwingEstimator {
        /// Clicks remembered per user.
        history: usize = 10,
        /// Smoothing of the user weight `1 / (alpha + clicks of the user)`.
        alpha: f64 = 5.0,
        /// Items per recommendation list (hit-rate@k).
        top_k: usize = 10,
    }
    |p| {
        if p.history == 0 {
            return Err(MlError::param("history", "0: remember at least one click per user"));
        }
        if !(p.alpha >= 0.0 && p.alpha.is_finite()) {
            return Err(MlError::param("alpha", format!("{}: must be 0 or more", p.alpha)));
        }
        let swing = ItemSimilarity::new(p.history, p.alpha);
        recommender(ClickRecommender::Swing(swing), p.top_k, p.standardize)?
    }
}

online_estimator! {
    /// The most clicked items so far, the same list for every user (the baseline of
    /// recommenders).
    PopularityEstimator {
        /// Items per recommendation list (hit-rate@k).
        top_k: usize = 10,
    }
    |p| recommender(ClickRecommender::Popularity(Popularity::default()), p.top_k, p.standardize)?
}

#[cfg(test)]
mod tests {
    use super::super::tests::table;
    use super::super::{untrained, CLICK_RECOMMENDERS};
    use super::*;
    use crate::{data, Transformer};

    /// Clicks of 60 users in three groups, each clicking mostly its own 20 items.
    fn clicks_table(n: usize) -> (Vec<(u64, u64)>, RecordBatch) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let clicks: Vec<(u64, u64)> = (0..n)
            .map(|_| {
                let user = rng.random_range(0..60u64);
                let item = if rng.random::<f64>() < 0.8 {
                    (user % 3) * 20 + rng.random_range(0..20u64)
                } else {
                    rng.random_range(0..60u64)
                };
                (user, item)
            })
            .collect();
        let x = Matrix::from_rows(
            &clicks
                .iter()
                .map(|(u, i)| vec![*u as f64, *i as f64])
                .collect::<Vec<_>>(),
        )
        .unwrap();
        (clicks, table(&x, &vec![0.0; n]))
    }

    #[test]
    fn a_recommender_is_scored_by_its_progressive_hit_rate_beside_popularity() {
        let (clicks, t) = clicks_table(4_000);
        for name in CLICK_RECOMMENDERS {
            let params = vec![("top_k".to_string(), "5".to_string())];
            let mut model = untrained(name, &params).unwrap();
            model.learn_table(&t).unwrap();
            // The same by hand: serve the top 5, then learn the click.
            let mut reference = match untrained(name, &params).unwrap().learner {
                Learner::Recommender { model, .. } => model,
                other => panic!("{other:?}"),
            };
            let mut popular = Popularity::default();
            let (mut hits, mut baseline) = (0.0, 0.0);
            for &(u, i) in &clicks {
                hits += f64::from(reference.recommend(u, 5, &[]).contains(&i));
                baseline += f64::from(popular.recommend(5, &[]).contains(&i));
                reference.learn_click(u, i);
                popular.learn_click(i);
            }
            let m = model.progressive_metrics();
            assert_eq!(m["progressive_hit_rate"], hits / 4_000.0, "{name}");
            assert_eq!(m["baseline_hit_rate"], baseline / 4_000.0, "{name}");
            assert_eq!(
                model.recommend(7, 5).unwrap(),
                reference.recommend(7, 5, &[])
            );
            if name != "popularity" {
                // Five of a group's twenty items: a model that learned the groups beats the
                // global top five (~0.8 * 5/20 against ~5/60).
                assert!(
                    m["progressive_hit_rate"] > 1.8 * m["baseline_hit_rate"],
                    "{name} {m:?}"
                );
            }
            let scored = model.transform(&t).unwrap();
            let scores = data::read_f64(&scored, "prediction").unwrap();
            assert_eq!(scores[0], reference.score(clicks[0].0, clicks[0].1));
        }
    }

    #[test]
    fn a_recommender_refuses_rows_that_are_not_user_item_ids() {
        let mut model = untrained("swing", &[]).unwrap();
        let bad = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, -1.0]]).unwrap();
        let error = model.learn_table(&table(&bad, &[0.0, 0.0])).unwrap_err();
        assert!(
            error.to_string().contains("row 1 has user 3 and item -1"),
            "{error}"
        );
        let three = Matrix::from_rows(&[vec![1.0, 2.0, 3.0]]).unwrap();
        let error = model.learn_table(&table(&three, &[0.0])).unwrap_err();
        assert!(error.to_string().contains("got 3"), "{error}");
        assert_eq!(model.rows(), 0);
        let error = untrained("online-mf", &[("standardize".into(), "true".into())]);
        assert!(error.unwrap_err().to_string().contains("not scaled"));
        for (name, key, value) in [
            ("online-mf", "learning_rate", "0"),
            ("online-mf", "l2", "-1"),
            ("online-mf", "negatives", "100000"),
            ("swing", "alpha", "-2"),
        ] {
            let error = untrained(name, &[(key.into(), value.into())]).unwrap_err();
            assert!(error.to_string().contains(key), "{error}");
        }
        let error = untrained("hoeffding-tree", &[]).unwrap().recommend(1, 3);
        assert!(error.is_err());
    }
}
