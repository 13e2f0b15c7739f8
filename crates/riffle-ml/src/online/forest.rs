//! The Adaptive Random Forest classifier (Gomes et al. 2017), as River's
//! `forest.ARFClassifier` builds it with its defaults: ten Hoeffding trees whose leaves each
//! watch a random √d of the features, each record learned by each tree with a Poisson(6)
//! weight (online bagging), and per tree an ADWIN on its errors: a warning starts a
//! background tree, a drift replaces the tree by it. Trees vote with their accuracy so far.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::drift::{Adwin, DriftDetector};
use super::hoeffding::HoeffdingTreeClassifier;
use super::OnlineClassifier;

/// One tree of the forest with its detectors, background tree and accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Member {
    tree: HoeffdingTreeClassifier,
    background: Option<HoeffdingTreeClassifier>,
    warning: Adwin,
    drift: Adwin,
    correct: f64,
    seen: f64,
}

/// The forest; see the module documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveRandomForest {
    /// Trees.
    pub n_models: usize,
    /// Mean of the Poisson weight of each record for each tree.
    pub lambda: f64,
    /// Seed of the weights and of the trees' feature draws.
    pub seed: u64,
    members: Vec<Member>,
    trees_made: u64,
    draws: u64,
    warnings: u64,
    drifts: u64,
}

impl Default for AdaptiveRandomForest {
    fn default() -> Self {
        AdaptiveRandomForest::new(10, 42)
    }
}

impl AdaptiveRandomForest {
    /// `n_models` trees, seeded with `seed`.
    pub fn new(n_models: usize, seed: u64) -> Self {
        AdaptiveRandomForest {
            n_models: n_models.max(1),
            lambda: 6.0,
            seed,
            members: Vec::new(),
            trees_made: 0,
            draws: 0,
            warnings: 0,
            drifts: 0,
        }
    }

    /// Warnings (background trees started) and drifts (trees replaced) so far, over all
    /// trees.
    pub fn warnings_and_drifts(&self) -> (u64, u64) {
        (self.warnings, self.drifts)
    }

    fn new_tree(&mut self, dims: usize) -> HoeffdingTreeClassifier {
        self.trees_made += 1;
        let mut tree = HoeffdingTreeClassifier::default();
        tree.grace_period = 50.0;
        tree.delta = 0.01;
        tree.max_features = Some(((dims as f64).sqrt().round() as usize).max(1));
        tree.seed = self
            .seed
            .wrapping_add(self.trees_made.wrapping_mul(0xD1B5_4A32_D192_ED03));
        tree
    }

    fn detectors() -> (Adwin, Adwin) {
        let (mut warning, mut drift) = (Adwin::default(), Adwin::default());
        warning.delta = 0.01;
        drift.delta = 0.001;
        (warning, drift)
    }

    fn init(&mut self, dims: usize) {
        while self.members.len() < self.n_models {
            let tree = self.new_tree(dims);
            let (warning, drift) = Self::detectors();
            self.members.push(Member {
                tree,
                background: None,
                warning,
                drift,
                correct: 0.0,
                seen: 0.0,
            });
        }
    }

    /// A Poisson(`lambda`) draw (Knuth's method, as River's).
    fn poisson(&mut self) -> u32 {
        self.draws += 1;
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let limit = (-self.lambda).exp();
        let (mut k, mut p) = (0u32, 1.0);
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        k.saturating_sub(1)
    }
}

impl OnlineClassifier for AdaptiveRandomForest {
    fn predict_proba_one(&self, x: &[f64]) -> f64 {
        let (mut ones, mut total) = (0.0, 0.0);
        for m in &self.members {
            // A tree whose leaf has seen nothing gives every class 0 (River's), and no vote.
            let Some(p) = m.tree.predict_if_known(x) else {
                continue;
            };
            let accuracy = if m.seen > 0.0 {
                m.correct / m.seen
            } else {
                0.0
            };
            let weight = if accuracy > 0.0 { accuracy } else { 1.0 };
            ones += weight * p;
            total += weight;
        }
        if total > 0.0 {
            ones / total
        } else {
            0.0
        }
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        self.init(x.len());
        for i in 0..self.members.len() {
            // A tree that has learned nothing predicts no class (River's `None`), which
            // counts as wrong.
            let tree = &self.members[i].tree;
            let predicted = tree.has_learned().then(|| tree.predict_one(x));
            let wrong = predicted != Some(y);
            self.members[i].seen += 1.0;
            self.members[i].correct += f64::from(!wrong);
            let k = self.poisson();
            if k == 0 {
                continue;
            }
            let w = f64::from(k);
            let m = &mut self.members[i];
            if let Some(background) = &mut m.background {
                background.learn_weighted(x, y, w);
            }
            m.tree.learn_weighted(x, y, w);
            let error = f64::from(u8::from(wrong));
            if m.warning.update(error) {
                self.warnings += 1;
                let tree = self.new_tree(x.len());
                let m = &mut self.members[i];
                m.background = Some(tree);
                m.warning = Self::detectors().0;
            }
            let m = &mut self.members[i];
            if m.drift.update(error) {
                self.drifts += 1;
                // As River: the background tree takes over with fresh detectors; without one,
                // a new tree starts and the warning detector keeps its window.
                let (warning, drift) = Self::detectors();
                let replacement = match m.background.take() {
                    Some(tree) => {
                        m.warning = warning;
                        tree
                    }
                    None => self.new_tree(x.len()),
                };
                let m = &mut self.members[i];
                m.tree = replacement;
                m.drift = drift;
                m.correct = 0.0;
                m.seen = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::{progressive_accuracy, streams};

    #[test]
    fn beats_a_single_tree_on_agrawal_as_rivers_does() {
        // River on the same kind of stream: ARF 0.83, a single Hoeffding tree 0.71.
        let s = streams::agrawal(20_000, 1, 0.05, 19);
        let mut forest = AdaptiveRandomForest::default();
        let mut tree = HoeffdingTreeClassifier::default();
        let f = progressive_accuracy(&mut forest, &s.x, &s.y);
        let t = progressive_accuracy(&mut tree, &s.x, &s.y);
        assert!(f.accuracy > t.accuracy + 0.05, "forest {f:?} tree {t:?}");
        let (_, drifts) = forest.warnings_and_drifts();
        assert!(drifts > 0);
    }
}
