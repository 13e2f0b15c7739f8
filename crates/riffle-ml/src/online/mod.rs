//! Online learning, River's way: a model learns from one record at a time (`learn_one`) and
//! predicts for one (`predict_one`), with batch variants that are exactly the loop over the
//! rows; progressive validation (predict, then learn) is the honest metric, always reported
//! beside a majority-class baseline.
//!
//! This is the first slice of issue 6: linear models with SGD, AdaGrad and FTRL-Proximal, and
//! the SEA and rotating-hyperplane streams the tests compare with River on. Operators on the
//! runtime and the other learners build on these traits.
//!
//! ```
//! use riffle_ml::online::{streams, OnlineClassifier, OnlineLogisticRegression, progressive_accuracy};
//! let stream = streams::sea(2_000, 0.1, 7);
//! let mut model = OnlineLogisticRegression::default();
//! let score = progressive_accuracy(&mut model, &stream.x, &stream.y);
//! assert!(score.accuracy > score.baseline);
//! ```

pub mod streams;

use serde::{Deserialize, Serialize};

use crate::Matrix;

/// How weights move after each record's gradient `g`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// `w -= lr * g` (River's `optim.SGD`).
    Sgd {
        /// Step size.
        lr: f64,
    },
    /// `G += g²; w -= lr / sqrt(G + eps) * g` per weight (River's `optim.AdaGrad`).
    AdaGrad {
        /// Step size.
        lr: f64,
        /// Added to the accumulated squares.
        eps: f64,
    },
    /// FTRL-Proximal (McMahan et al. 2013; River's `optim.FTRLProximal`), which keeps weights
    /// exactly zero under L1.
    Ftrl {
        /// Learning-rate scale.
        alpha: f64,
        /// Learning-rate smoothing.
        beta: f64,
        /// L1 weight.
        l1: f64,
        /// L2 weight.
        l2: f64,
    },
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::Sgd { lr: 0.01 }
    }
}

/// Per-weight state of an [`Optimizer`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct OptimizerState {
    /// AdaGrad: accumulated squared gradients. FTRL: `n`.
    squares: Vec<f64>,
    /// FTRL: `z`.
    z: Vec<f64>,
}

/// A binary classifier that learns one record at a time. Labels are 0 and 1.
pub trait OnlineClassifier {
    /// The probability that `x` is of class 1.
    fn predict_proba_one(&self, x: &[f64]) -> f64;
    /// Updates the model with one labelled record.
    fn learn_one(&mut self, x: &[f64], y: f64);
    /// The predicted class: 1 when the probability is above one half (ties to 0, as River).
    fn predict_one(&self, x: &[f64]) -> f64 {
        f64::from(self.predict_proba_one(x) > 0.5)
    }
    /// [`learn_one`](Self::learn_one) for every row, in order: exactly the loop.
    fn learn_many(&mut self, x: &Matrix, y: &[f64]) {
        for (row, label) in x.row_iter().zip(y) {
            self.learn_one(row, *label);
        }
    }
}

/// Logistic regression trained online (River's `linear_model.LogisticRegression`): after each
/// record, the weights take one [`Optimizer`] step on the log-loss gradient (plus `l2 * w`)
/// and the intercept one SGD step of `intercept_lr`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnlineLogisticRegression {
    /// How weights move.
    pub optimizer: Optimizer,
    /// L2 penalty added to each gradient.
    pub l2: f64,
    /// Step size of the intercept.
    pub intercept_lr: f64,
    /// Gradients are clipped to ± this (River's `clip_gradient`).
    pub clip_gradient: f64,
    weights: Vec<f64>,
    intercept: f64,
    state: OptimizerState,
}

impl Default for OnlineLogisticRegression {
    fn default() -> Self {
        OnlineLogisticRegression {
            optimizer: Optimizer::default(),
            l2: 0.0,
            intercept_lr: 0.01,
            clip_gradient: 1e12,
            weights: Vec::new(),
            intercept: 0.0,
            state: OptimizerState::default(),
        }
    }
}

impl OnlineLogisticRegression {
    /// A model with `optimizer` and River's other defaults.
    pub fn with_optimizer(optimizer: Optimizer) -> Self {
        OnlineLogisticRegression {
            optimizer,
            ..Default::default()
        }
    }

    /// The current weights (empty before the first record).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    fn raw(&self, x: &[f64]) -> f64 {
        self.intercept + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }
}

impl OnlineClassifier for OnlineLogisticRegression {
    fn predict_proba_one(&self, x: &[f64]) -> f64 {
        let z = self.raw(x);
        if z >= 0.0 {
            1.0 / (1.0 + (-z).exp())
        } else {
            let e = z.exp();
            e / (1.0 + e)
        }
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        if self.weights.len() < x.len() {
            // Features first seen now start at zero, as River's dictionaries do.
            self.weights.resize(x.len(), 0.0);
        }
        let p = self.predict_proba_one(x);
        let loss_gradient = (p - y).clamp(-self.clip_gradient, self.clip_gradient);
        self.intercept -= self.intercept_lr * loss_gradient;
        // One pass, no allocation: each weight's gradient is formed and applied in place
        // (the optimiser's per-weight rule is independent across weights).
        let l2 = self.l2;
        let gradient = |i: usize, w: f64| x.get(i).map_or(0.0, |v| v * loss_gradient) + l2 * w;
        match self.optimizer {
            Optimizer::Sgd { lr } => {
                for (i, w) in self.weights.iter_mut().enumerate() {
                    *w -= lr * gradient(i, *w);
                }
            }
            Optimizer::AdaGrad { lr, eps } => {
                let squares = &mut self.state.squares;
                squares.resize(self.weights.len(), 0.0);
                for (i, (w, g2)) in self.weights.iter_mut().zip(squares.iter_mut()).enumerate() {
                    let g = gradient(i, *w);
                    *g2 += g * g;
                    *w -= lr / (*g2 + eps).sqrt() * g;
                }
            }
            Optimizer::Ftrl {
                alpha,
                beta,
                l1,
                l2: ftrl_l2,
            } => {
                let n_len = self.weights.len();
                self.state.squares.resize(n_len, 0.0);
                self.state.z.resize(n_len, 0.0);
                let state = &mut self.state;
                for (i, w) in self.weights.iter_mut().enumerate() {
                    let g = gradient(i, *w);
                    let n = state.squares[i];
                    let sigma = ((n + g * g).sqrt() - n.sqrt()) / alpha;
                    state.z[i] += g - sigma * *w;
                    state.squares[i] = n + g * g;
                    let z = state.z[i];
                    // The weight for the next record, from the updated state (River computes
                    // it in its step and again, identically, before predicting).
                    *w = if z.abs() <= l1 {
                        0.0
                    } else {
                        -(z - z.signum() * l1)
                            / ((beta + state.squares[i].sqrt()) / alpha + ftrl_l2)
                    };
                }
            }
        }
    }
}

/// Progressive validation of a binary classifier: each record is first predicted, then
/// learned. Returns the model's accuracy and, beside it, a majority-class baseline's (which
/// predicts the more frequent label seen so far, also before learning each record).
pub fn progressive_accuracy(
    model: &mut dyn OnlineClassifier,
    x: &Matrix,
    y: &[f64],
) -> ProgressiveScore {
    let (mut correct, mut baseline_correct) = (0usize, 0usize);
    let (mut ones, mut seen) = (0usize, 0usize);
    for (row, label) in x.row_iter().zip(y) {
        if model.predict_one(row) == *label {
            correct += 1;
        }
        let majority = if 2 * ones > seen { 1.0 } else { 0.0 };
        if majority == *label {
            baseline_correct += 1;
        }
        model.learn_one(row, *label);
        seen += 1;
        ones += usize::from(*label == 1.0);
    }
    let n = y.len().max(1) as f64;
    ProgressiveScore {
        accuracy: correct as f64 / n,
        baseline: baseline_correct as f64 / n,
        records: y.len(),
    }
}

/// The result of [`progressive_accuracy`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgressiveScore {
    /// Share of records the model predicted right before learning them.
    pub accuracy: f64,
    /// The same for the majority-class baseline.
    pub baseline: f64,
    /// Records seen.
    pub records: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_many_is_exactly_learning_one_at_a_time() {
        let s = streams::hyperplane(500, 4, 0.0, 0.05, 3);
        for optimizer in [
            Optimizer::Sgd { lr: 0.1 },
            Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 },
            Optimizer::Ftrl {
                alpha: 0.05,
                beta: 1.0,
                l1: 0.0,
                l2: 1.0,
            },
        ] {
            let mut a = OnlineLogisticRegression::with_optimizer(optimizer);
            let mut b = a.clone();
            a.learn_many(&s.x, &s.y);
            for (row, y) in s.x.row_iter().zip(&s.y) {
                b.learn_one(row, *y);
            }
            assert_eq!(a, b);
        }
    }

    #[test]
    fn ftrl_keeps_weights_exactly_zero_while_their_gradient_sum_is_below_l1() {
        let s = streams::sea(2000, 0.0, 1);
        let ftrl = |l1| Optimizer::Ftrl {
            alpha: 0.05,
            beta: 1.0,
            l1,
            l2: 1.0,
        };
        let mut sparse = OnlineLogisticRegression::with_optimizer(ftrl(1e6));
        sparse.learn_many(&s.x, &s.y);
        assert!(
            sparse.weights().iter().all(|w| *w == 0.0),
            "{:?}",
            sparse.weights()
        );
        let mut dense = OnlineLogisticRegression::with_optimizer(ftrl(0.0));
        dense.learn_many(&s.x, &s.y);
        assert!(
            dense.weights().iter().all(|w| *w != 0.0),
            "{:?}",
            dense.weights()
        );
    }
}
