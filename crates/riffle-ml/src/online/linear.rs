//! Linear models trained online: logistic regression (log loss) and linear regression
//! (squared loss), each taking one [`Optimizer`] step per record as River's
//! `linear_model` does.

use serde::{Deserialize, Serialize};

use super::{OnlineClassifier, OnlineRegressor};

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

/// Weights, intercept and per-weight optimiser state of a linear model, and the one step
/// both losses share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinearParams {
    /// How weights move.
    pub optimizer: Optimizer,
    /// L2 penalty added to each gradient.
    pub l2: f64,
    /// Step size of the intercept.
    pub intercept_lr: f64,
    /// Loss gradients are clipped to ± this (River's `clip_gradient`).
    pub clip_gradient: f64,
    weights: Vec<f64>,
    intercept: f64,
    /// AdaGrad: accumulated squared gradients. FTRL: `n`.
    squares: Vec<f64>,
    /// FTRL: `z`.
    z: Vec<f64>,
}

impl Default for LinearParams {
    fn default() -> Self {
        LinearParams {
            optimizer: Optimizer::default(),
            l2: 0.0,
            intercept_lr: 0.01,
            clip_gradient: 1e12,
            weights: Vec::new(),
            intercept: 0.0,
            squares: Vec::new(),
            z: Vec::new(),
        }
    }
}

impl LinearParams {
    /// `intercept + w · x`.
    fn raw(&self, x: &[f64]) -> f64 {
        self.intercept + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }

    /// One step on a record whose loss gradient with respect to the raw output is
    /// `loss_gradient`.
    fn step(&mut self, x: &[f64], loss_gradient: f64) {
        if self.weights.len() < x.len() {
            // Features first seen now start at zero, as River's dictionaries do.
            self.weights.resize(x.len(), 0.0);
        }
        let loss_gradient = loss_gradient.clamp(-self.clip_gradient, self.clip_gradient);
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
                self.squares.resize(self.weights.len(), 0.0);
                let pairs = self.weights.iter_mut().zip(self.squares.iter_mut());
                for (i, (w, g2)) in pairs.enumerate() {
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
                let len = self.weights.len();
                self.squares.resize(len, 0.0);
                self.z.resize(len, 0.0);
                for (i, w) in self.weights.iter_mut().enumerate() {
                    let g = gradient(i, *w);
                    let n = self.squares[i];
                    let sigma = ((n + g * g).sqrt() - n.sqrt()) / alpha;
                    self.z[i] += g - sigma * *w;
                    self.squares[i] = n + g * g;
                    let z = self.z[i];
                    // The weight for the next record, from the updated state (River computes
                    // it in its step and again, identically, before predicting).
                    *w = if z.abs() <= l1 {
                        0.0
                    } else {
                        -(z - z.signum() * l1) / ((beta + self.squares[i].sqrt()) / alpha + ftrl_l2)
                    };
                }
            }
        }
    }
}

/// The logistic function, computed without overflow: `1 / (1 + e^-z)` for `z >= 0`, else
/// `e^z / (1 + e^z)`. Both take `e^-|z|`, so the `exp` is on the straight path and only the
/// numerator depends on the sign (a select, where a branch around the `exp` was
/// mispredicted on half of a balanced stream's records).
fn sigmoid(z: f64) -> f64 {
    let e = (-z.abs()).exp();
    let numerator = if z >= 0.0 { 1.0 } else { e };
    numerator / (1.0 + e)
}

/// Logistic regression trained online (River's `linear_model.LogisticRegression`): after each
/// record, the weights take one [`Optimizer`] step on the log-loss gradient (plus `l2 * w`)
/// and the intercept one SGD step of `intercept_lr`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineLogisticRegression {
    /// Parameters and learned state.
    pub params: LinearParams,
}

impl OnlineLogisticRegression {
    /// A model with `optimizer` and River's other defaults.
    pub fn with_optimizer(optimizer: Optimizer) -> Self {
        OnlineLogisticRegression {
            params: LinearParams {
                optimizer,
                ..Default::default()
            },
        }
    }

    /// The current weights (empty before the first record).
    pub fn weights(&self) -> &[f64] {
        &self.params.weights
    }
}

impl OnlineClassifier for OnlineLogisticRegression {
    fn predict_proba_one(&self, x: &[f64]) -> f64 {
        sigmoid(self.params.raw(x))
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        let p = self.predict_proba_one(x);
        self.params.step(x, p - y);
    }

    fn learn_predicted(&mut self, x: &[f64], y: f64, probability: f64) {
        self.params.step(x, probability - y);
    }
}

/// Linear regression trained online (River's `linear_model.LinearRegression`): one
/// [`Optimizer`] step per record on the squared loss, whose gradient is `2 (ŷ - y)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineLinearRegression {
    /// Parameters and learned state.
    pub params: LinearParams,
}

impl OnlineLinearRegression {
    /// A model with `optimizer` and River's other defaults.
    pub fn with_optimizer(optimizer: Optimizer) -> Self {
        OnlineLinearRegression {
            params: LinearParams {
                optimizer,
                ..Default::default()
            },
        }
    }

    /// The current weights (empty before the first record).
    pub fn weights(&self) -> &[f64] {
        &self.params.weights
    }

    /// The current intercept.
    pub fn intercept(&self) -> f64 {
        self.params.intercept
    }
}

impl OnlineRegressor for OnlineLinearRegression {
    fn predict_one(&self, x: &[f64]) -> f64 {
        self.params.raw(x)
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        let prediction = self.params.raw(x);
        self.params.step(x, 2.0 * (prediction - y));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::streams;

    fn optimizers() -> [Optimizer; 3] {
        [
            Optimizer::Sgd { lr: 0.1 },
            Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 },
            Optimizer::Ftrl {
                alpha: 0.05,
                beta: 1.0,
                l1: 0.0,
                l2: 1.0,
            },
        ]
    }

    #[test]
    fn learning_many_is_exactly_learning_one_at_a_time() {
        let s = streams::hyperplane(500, 4, 0.0, 0.05, 3);
        for optimizer in optimizers() {
            let mut a = OnlineLogisticRegression::with_optimizer(optimizer);
            let mut b = a.clone();
            OnlineClassifier::learn_many(&mut a, &s.x, &s.y);
            for (row, y) in s.x.row_iter().zip(&s.y) {
                OnlineClassifier::learn_one(&mut b, row, *y);
            }
            assert_eq!(a, b);
            let mut c = OnlineLinearRegression::with_optimizer(optimizer);
            let mut d = c.clone();
            OnlineRegressor::learn_many(&mut c, &s.x, &s.y);
            for (row, y) in s.x.row_iter().zip(&s.y) {
                OnlineRegressor::learn_one(&mut d, row, *y);
            }
            assert_eq!(c, d);
        }
    }

    #[test]
    fn linear_regression_recovers_a_noiseless_line() {
        // y = 3 x0 - 2 x1 + 1 on inputs in [0, 1): SGD with a fixed step converges to it.
        let s = streams::hyperplane(20_000, 2, 0.0, 0.0, 9);
        let mut model = OnlineLinearRegression::with_optimizer(Optimizer::Sgd { lr: 0.05 });
        model.params.intercept_lr = 0.05;
        for row in s.x.row_iter() {
            let y = 3.0 * row[0] - 2.0 * row[1] + 1.0;
            OnlineRegressor::learn_one(&mut model, row, y);
        }
        let w = model.weights();
        assert!((w[0] - 3.0).abs() < 0.01, "{w:?}");
        assert!((w[1] + 2.0).abs() < 0.01, "{w:?}");
        assert!(
            (model.intercept() - 1.0).abs() < 0.01,
            "{}",
            model.intercept()
        );
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
        OnlineClassifier::learn_many(&mut sparse, &s.x, &s.y);
        assert!(
            sparse.weights().iter().all(|w| *w == 0.0),
            "{:?}",
            sparse.weights()
        );
        let mut dense = OnlineLogisticRegression::with_optimizer(ftrl(0.0));
        OnlineClassifier::learn_many(&mut dense, &s.x, &s.y);
        assert!(
            dense.weights().iter().all(|w| *w != 0.0),
            "{:?}",
            dense.weights()
        );
    }
}
