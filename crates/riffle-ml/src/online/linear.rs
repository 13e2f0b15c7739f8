//! Linear models trained online: logistic regression (log loss) and linear regression
//! (squared loss), each taking one [`Optimizer`] step per record as River's
//! `linear_model` does.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::sigmoid::{degree_7, logistic_of_negative};
use super::{OnlineClassifier, OnlineRegressor};
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

/// `$fma`, a call of a method compiled for FMA, where the CPU has FMA; else `$plain`, the
/// same method's plain compilation. Each fused multiply-add of the linear models is a
/// `mul_add`: one instruction in the first, a call to libm's `fma` in the second, with the
/// same result (so the two compilations agree bit for bit), and slower: the per-record
/// path ran 40% slower on it.
macro_rules! with_fma {
    ($fma:expr, $plain:expr) => {{
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        let value = if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the method is safe code whose only requirement, the reason it is
            // `unsafe` to call from here, is a CPU with FMA, checked just above.
            unsafe { $fma }
        } else {
            $plain
        };
        #[cfg(not(target_arch = "x86_64"))]
        let value = $plain;
        value
    }};
}

impl LinearParams {
    /// `intercept + w · x`, summed as [`raw_sum`] sums.
    fn raw(&self, x: &[f64]) -> f64 {
        raw_sum(self.intercept, &self.weights, x)
    }

    /// `L`'s prediction for `x`.
    fn predict<L: Link>(&self, x: &[f64]) -> f64 {
        with_fma!(self.predict_fma::<L>(x), self.predict_body::<L>(x))
    }

    /// [`predict_body`](Self::predict_body) compiled for FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    fn predict_fma<L: Link>(&self, x: &[f64]) -> f64 {
        self.predict_body::<L>(x)
    }

    /// The body of [`predict`](Self::predict), inlined into each of its compilations.
    #[inline(always)]
    fn predict_body<L: Link>(&self, x: &[f64]) -> f64 {
        L::predict(self.raw(x))
    }

    /// Learns one record, `x` with label `y`, which `L` predicted as `prediction` (with no
    /// update in between): the loss gradient's step, or, for a logistic model, its
    /// optimiser's [`LogisticRecord`] (which takes the raw output again rather than the
    /// prediction).
    fn learn_record<L: Link>(&mut self, x: &[f64], y: f64, prediction: f64) {
        with_fma!(
            self.learn_record_fma::<L>(x, y, prediction),
            self.learn_record_body::<L>(x, y, prediction)
        )
    }

    /// [`learn_record_body`](Self::learn_record_body) compiled for FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    fn learn_record_fma<L: Link>(&mut self, x: &[f64], y: f64, prediction: f64) {
        self.learn_record_body::<L>(x, y, prediction)
    }

    /// The body of [`learn_record`](Self::learn_record), inlined into each of its
    /// compilations.
    #[inline(always)]
    fn learn_record_body<L: Link>(&mut self, x: &[f64], y: f64, prediction: f64) {
        if let Some(rule) = self.squared_sgd::<L>() {
            // The prediction is the raw output.
            self.grow(x.len());
            return rule.learn(prediction, x, y, self.state(), &mut |_, _| {});
        }
        match self.logistic_record::<L>() {
            Some(rule) if rule.takes(y) => {
                // The raw output of the weights as they are, before new features get theirs.
                let raw = self.raw(x);
                self.grow(x.len());
                rule.learn(raw, x, y, self.state(), &mut |_, _| {});
            }
            _ => self.step::<L>(x, L::loss_gradient(prediction, y)),
        }
    }

    /// The rearranged record of this model's optimiser ([`LogisticRecord`]), if `L` is the
    /// logistic link and no loss gradient can be clipped (a logistic loss gradient of a
    /// label in `[0, 1]` is within `[-1, 1]`).
    fn logistic_record<L: Link>(&self) -> Option<LogisticRecord<Optimizer>> {
        (L::LOGISTIC && self.clip_gradient >= 1.0).then_some(LogisticRecord {
            step: self.optimizer,
            penalties: self.penalties(),
        })
    }

    /// The rearranged record of SGD on the squared loss ([`SquaredSgd`]), if `L` is the
    /// identity link and the optimiser SGD.
    fn squared_sgd<L: Link>(&self) -> Option<SquaredSgd> {
        match self.optimizer {
            Optimizer::Sgd { lr } if L::SQUARED => Some(SquaredSgd(self.linked(Sgd(lr)))),
            _ => None,
        }
    }

    /// This model's L2 penalty and intercept step size.
    fn penalties(&self) -> Penalties {
        Penalties {
            l2: self.l2,
            intercept_lr: self.intercept_lr,
        }
    }

    /// Gives features first seen now weights of zero, as River's dictionaries do, and their
    /// optimiser state.
    fn grow(&mut self, features: usize) {
        if self.weights.len() < features {
            self.weights.resize(features, 0.0);
        }
        let optimizer = self.optimizer;
        optimizer.size_state(self.weights.len(), &mut self.squares, &mut self.z);
    }

    /// One step on a record whose loss gradient with respect to the raw output is
    /// `loss_gradient` (inlined into [`learn_record`](Self::learn_record)'s compilations):
    /// [`Linked::step`] with this model's optimiser, on its vectors.
    #[inline(always)]
    fn step<L: Link>(&mut self, x: &[f64], loss_gradient: f64) {
        self.grow(x.len());
        let rule = self.linked::<L, _>(self.optimizer);
        rule.step(loss_gradient, x, self.state());
    }

    /// The learned state, borrowed for a rule to update.
    fn state(&mut self) -> State<'_> {
        State {
            intercept: &mut self.intercept,
            w: &mut self.weights,
            squares: &mut self.squares,
            z: &mut self.z,
        }
    }

    /// Predicts each row of `x` with `L`, handing the prediction and the row's label to
    /// `each`, then learns the row: exactly `predict` and `step` row after row, faster. For
    /// models of up to 16 weights, one per feature, the loop is compiled for the width and
    /// the optimiser: the weights and the optimiser's state live in local arrays, in
    /// registers, with no bounds checks. A record's update waits on the previous record's,
    /// so the loop's speed is the latency of that chain.
    fn predict_then_learn_each<L: Link, F: FnMut(f64, f64)>(
        &mut self,
        x: &Matrix,
        y: &[f64],
        each: &mut F,
    ) {
        let cols = x.cols();
        let mut rows = x.row_iter().zip(y);
        let learn = |params: &mut Self, row: &[f64], label: f64, each: &mut F| {
            let prediction = params.predict::<L>(row);
            each(prediction, label);
            params.learn_record::<L>(row, label, prediction);
        };
        // A row with features the model has not seen goes through `learn_record`, which adds
        // their weights (as River's dictionaries do).
        let mut done = 0;
        while self.weights.len() < cols {
            let Some((row, label)) = rows.next() else {
                return;
            };
            learn(self, row, *label, each);
            done += 1;
        }
        let fits = self.weights.len() == cols && self.squares.len() <= cols && self.z.len() <= cols;
        macro_rules! fixed_widths {
            ($($d:literal)*) => {
                match cols {
                    $($d => self.fixed_width::<L, $d>(x, y, done, each),)*
                    _ => 0,
                }
            };
        }
        // The fixed-width loop learns the rows it can; the rest go one at a time.
        let fixed = if fits {
            fixed_widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
        } else {
            0
        };
        // By index: skipping on the iterator would form each skipped row.
        let from = done + fixed;
        for (i, label) in y.iter().enumerate().take(x.rows()).skip(from) {
            learn(self, x.row(i), *label, each);
        }
    }

    /// [`predict_then_learn_each`](Self::predict_then_learn_each) from row `from` on, for a
    /// model of `D` weights on rows of `D` features. Returns how many rows it learned: all,
    /// unless a row's label is one its rule does not take ([`RecordRule::takes`]).
    fn fixed_width<L: Link, const D: usize>(
        &mut self,
        x: &Matrix,
        y: &[f64],
        from: usize,
        each: &mut impl FnMut(f64, f64),
    ) -> usize {
        let (x, y) = match (x.as_slice().get(from * D..), y.get(from..)) {
            (Some(x), Some(y)) => (x, y),
            _ => return 0,
        };
        self.optimizer.size_state(D, &mut self.squares, &mut self.z);
        if let Some(rule) = self.squared_sgd::<L>() {
            return self.fixed_rule::<D>(x, y, each, rule);
        }
        if let Some(record) = self.logistic_record::<L>() {
            return match record.step {
                Optimizer::Sgd { lr } => {
                    self.fixed_rule::<D>(x, y, each, record.with(LogisticSgd(lr)))
                }
                Optimizer::AdaGrad { lr, eps } => {
                    self.fixed_rule::<D>(x, y, each, record.with(LogisticAdaGrad(lr, eps)))
                }
                optimizer @ Optimizer::Ftrl { .. } => {
                    let ftrl = LogisticFtrl(Ftrl::of(optimizer));
                    self.fixed_rule::<D>(x, y, each, record.with(ftrl))
                }
            };
        }
        match self.optimizer {
            Optimizer::Sgd { lr } => {
                let rule = self.linked::<L, _>(Sgd(lr));
                self.fixed_rule::<D>(x, y, each, rule)
            }
            Optimizer::AdaGrad { lr, eps } => {
                let rule = self.linked::<L, _>(AdaGrad(lr, eps));
                self.fixed_rule::<D>(x, y, each, rule)
            }
            ftrl @ Optimizer::Ftrl { .. } => {
                let rule = self.linked::<L, _>(Ftrl::of(ftrl));
                self.fixed_rule::<D>(x, y, each, rule)
            }
        }
    }

    /// `L`'s loss gradient and `rule` with this model's parameters.
    fn linked<L, R>(&self, rule: R) -> Linked<L, R> {
        Linked {
            rule,
            penalties: self.penalties(),
            clip: self.clip_gradient,
            link: PhantomData,
        }
    }

    /// The loop of [`fixed_width`](Self::fixed_width) for one rule, compiled for FMA where
    /// the CPU has it: each `mul_add` is then one instruction, where elsewhere it is a call
    /// to libm's `fma`. Models of [`WIDE`] weights or more are compiled for AVX2 as well: the
    /// per-weight updates (AdaGrad's and FTRL's square roots and divisions) then go four
    /// lanes at a time. The arithmetic is the same in every compilation (each fused
    /// multiply-add is a `mul_add`, and Rust fuses nothing on its own), so are the results,
    /// bit for bit.
    fn fixed_rule<const D: usize>(
        &mut self,
        x: &[f64],
        y: &[f64],
        each: &mut impl FnMut(f64, f64),
        rule: impl RecordRule,
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        if D >= WIDE && std::arch::is_x86_feature_detected!("avx2") {
            return with_fma!(
                self.fixed_rule_avx2::<D>(x, y, each, rule),
                self.fixed_rule_body::<D>(x, y, each, rule)
            );
        }
        with_fma!(
            self.fixed_rule_fma::<D>(x, y, each, rule),
            self.fixed_rule_body::<D>(x, y, each, rule)
        )
    }

    /// [`fixed_rule_body`](Self::fixed_rule_body) compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn fixed_rule_avx2<const D: usize>(
        &mut self,
        x: &[f64],
        y: &[f64],
        each: &mut impl FnMut(f64, f64),
        rule: impl RecordRule,
    ) -> usize {
        self.fixed_rule_body::<D>(x, y, each, rule)
    }

    /// [`fixed_rule_body`](Self::fixed_rule_body) compiled for FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    fn fixed_rule_fma<const D: usize>(
        &mut self,
        x: &[f64],
        y: &[f64],
        each: &mut impl FnMut(f64, f64),
        rule: impl RecordRule,
    ) -> usize {
        self.fixed_rule_body::<D>(x, y, each, rule)
    }

    /// The loop of [`fixed_rule`](Self::fixed_rule), inlined into each of its compilations.
    #[inline(always)]
    fn fixed_rule_body<const D: usize>(
        &mut self,
        x: &[f64],
        y: &[f64],
        each: &mut impl FnMut(f64, f64),
        rule: impl RecordRule,
    ) -> usize {
        let lanes = |values: &[f64]| {
            let mut lanes = [0.0; D];
            lanes[..values.len()].copy_from_slice(values);
            lanes
        };
        let (mut w, mut squares, mut z) =
            (lanes(&self.weights), lanes(&self.squares), lanes(&self.z));
        let mut intercept = self.intercept;
        let (rows, _) = x.as_chunks::<D>();
        let mut learned = 0;
        for (i, (row, label)) in rows.iter().zip(y).enumerate() {
            if !rule.takes(*label) {
                break;
            }
            // Asks for the row `AHEAD` rows on, its first and last value, so that it is in
            // cache when its turn comes (see `AHEAD`).
            if let Some(ahead) = rows.get(i + AHEAD) {
                prefetch(&ahead[0]);
                prefetch(&ahead[D - 1]);
            }
            // The same sum, in the same order, as `raw`.
            let raw = raw_sum(intercept, &w, row);
            let state = State {
                intercept: &mut intercept,
                w: &mut w,
                squares: &mut squares,
                z: &mut z,
            };
            rule.learn(raw, row, *label, state, each);
            learned += 1;
        }
        self.weights.copy_from_slice(&w);
        let (squares_len, z_len) = (self.squares.len(), self.z.len());
        self.squares.copy_from_slice(&squares[..squares_len]);
        self.z.copy_from_slice(&z[..z_len]);
        self.intercept = intercept;
        learned
    }
}

/// How a fixed-width loop learns one record, as a type, so the loop can be compiled for it.
trait RecordRule: Copy {
    /// Whether the rule learns a record of label `y`. The fixed-width loop stops at the
    /// first it does not; that record and the rest are learned one at a time.
    fn takes(self, y: f64) -> bool;

    /// Learns the record `x` of label `y`, whose raw output under `state` is `raw`, and
    /// hands its prediction and label to `each`.
    fn learn(self, raw: f64, x: &[f64], y: f64, state: State, each: &mut impl FnMut(f64, f64));
}

/// A linear model's learned state, borrowed from the model or from a fixed-width loop's
/// lanes: the intercept, the weights and the optimiser's per-weight state (`squares`, `z`),
/// each at least as long as the weights.
struct State<'a> {
    intercept: &'a mut f64,
    w: &'a mut [f64],
    squares: &'a mut [f64],
    z: &'a mut [f64],
}

/// A link's loss gradient, clipped, then one optimiser's rule on each weight: what
/// [`LinearParams::step`] does, on fixed-width lanes.
struct Linked<L, R> {
    rule: R,
    penalties: Penalties,
    clip: f64,
    link: PhantomData<L>,
}

impl<L, R: Copy> Clone for Linked<L, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L, R: Copy> Copy for Linked<L, R> {}

impl<L, R: WeightRule> Linked<L, R> {
    /// One step on a record whose loss gradient with respect to the raw output is `loss`:
    /// the loss gradient clipped, then [`descend`] with `R`. The clip is behind a branch,
    /// which a stream whose gradients stay in range always predicts, so it is off the chain
    /// from one record's raw output to the next (as a minimum and a maximum it was on it).
    #[inline(always)]
    fn step(self, loss: f64, x: &[f64], state: State) {
        let loss = if loss.abs() <= self.clip {
            loss
        } else {
            loss.clamp(-self.clip, self.clip)
        };
        descend(self.rule, loss, self.penalties, x, state);
    }
}

/// The intercept's SGD step (of `penalties`' size) on the loss gradient `loss` (with respect
/// to the raw output), and `rule` on each weight, with the gradient `x * loss + l2 * w`. A
/// feature `x` lacks counts as 0; state lanes the optimiser does not keep (SGD none,
/// AdaGrad no `z`) are scratch.
#[inline(always)]
fn descend(rule: impl WeightRule, loss: f64, penalties: Penalties, x: &[f64], state: State) {
    let Penalties { l2, intercept_lr } = penalties;
    *state.intercept = (-intercept_lr).mul_add(loss, *state.intercept);
    // One pass, no allocation: each weight's gradient is formed and applied in place (the
    // optimiser's per-weight rule is independent across weights).
    for (i, w) in state.w.iter_mut().enumerate() {
        let mut scratch = [0.0; 2];
        let [squares, z] = &mut scratch;
        let gradient = Gradient {
            x: x.get(i).copied().unwrap_or(0.0),
            loss,
            l2,
        };
        rule.apply(
            w,
            state.squares.get_mut(i).unwrap_or(squares),
            state.z.get_mut(i).unwrap_or(z),
            gradient,
        );
    }
}

impl<L: Link, R: WeightRule> RecordRule for Linked<L, R> {
    #[inline(always)]
    fn takes(self, _: f64) -> bool {
        true
    }

    #[inline(always)]
    fn learn(self, raw: f64, x: &[f64], y: f64, state: State, each: &mut impl FnMut(f64, f64)) {
        let prediction = L::predict(raw);
        each(prediction, y);
        self.step(L::loss_gradient(prediction, y), x, state);
    }
}

/// `intercept + w · x` (over the shorter of the two), summed in four lanes: the intercept
/// starts lane 0 and `w[i] * x[i]` goes to lane `(i + 1) % 4`, then the lanes add as
/// `(0 + 2) + (1 + 3)`. A record's prediction waits on the previous record's update, and a
/// sum in four lanes is that much shorter a chain than one sum after the other (10
/// features: 4 additions deep, not 10).
#[inline(always)]
fn raw_sum(intercept: f64, w: &[f64], x: &[f64]) -> f64 {
    let n = w.len().min(x.len());
    let (w, x) = (&w[..n], &x[..n]);
    // -0.0 is the identity of addition (0.0 is not: -0.0 + 0.0 is 0.0).
    let mut lanes = [intercept, -0.0, -0.0, -0.0];
    // Every lane index below is a constant once the loops are unrolled, so the lanes stay
    // in registers (indexed by a variable, they went through memory, with stalls).
    for lane in 1..4 {
        if lane <= n {
            lanes[lane] += w[lane - 1] * x[lane - 1];
        }
    }
    let mut next = 3;
    while next < n {
        for (lane, sum) in lanes.iter_mut().enumerate() {
            if let (Some(w), Some(x)) = (w.get(next + lane), x.get(next + lane)) {
                *sum += w * x;
            }
        }
        next += 4;
    }
    (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
}

/// The number of weights from which [`LinearParams::fixed_rule`] runs its AVX2 compilation
/// (on fewer, the per-record chain of dependent steps, not the per-weight work, sets the
/// speed: the wider code measured no faster, and AdaGrad on 3 weights 15% slower).
#[cfg(target_arch = "x86_64")]
const WIDE: usize = 6;

impl Optimizer {
    /// Sizes the state this optimiser keeps for `weights` weights (SGD keeps none, AdaGrad
    /// the squares, FTRL both), as River's optimisers do.
    fn size_state(self, weights: usize, squares: &mut Vec<f64>, z: &mut Vec<f64>) {
        let (squares_len, z_len) = match self {
            Optimizer::Sgd { .. } => (0, 0),
            Optimizer::AdaGrad { .. } => (weights, 0),
            Optimizer::Ftrl { .. } => (weights, weights),
        };
        squares.resize(squares_len.max(squares.len()), 0.0);
        z.resize(z_len.max(z.len()), 0.0);
    }
}

/// The optimiser chosen at run time, as the per-record path takes it.
impl WeightRule for Optimizer {
    #[inline(always)]
    fn apply(self, w: &mut f64, squares: &mut f64, z: &mut f64, gradient: Gradient) {
        match self {
            Optimizer::Sgd { lr } => Sgd(lr).apply(w, squares, z, gradient),
            Optimizer::AdaGrad { lr, eps } => AdaGrad(lr, eps).apply(w, squares, z, gradient),
            ftrl @ Optimizer::Ftrl { .. } => Ftrl::of(ftrl).apply(w, squares, z, gradient),
        }
    }
}

/// One record's gradient for one weight `w`, `x * loss + l2 * w`: the weight's feature value
/// `x`, the record's loss gradient with respect to the raw output, and the L2 penalty.
#[derive(Clone, Copy)]
struct Gradient {
    x: f64,
    loss: f64,
    l2: f64,
}

impl Gradient {
    /// The gradient at weight `w`, its product and sum rounded once (a fused multiply-add,
    /// one step shorter a chain than a multiply then an add).
    #[inline(always)]
    fn at(self, w: f64) -> f64 {
        self.x.mul_add(self.loss, self.l2 * w)
    }
}

/// One optimiser's rule for one weight, as a type, so a loop can be compiled for it.
trait WeightRule: Copy {
    /// Moves weight `w`, whose optimiser state is `squares` (AdaGrad's accumulated squares,
    /// FTRL's `n`) and `z` (FTRL's), by `gradient`.
    fn apply(self, w: &mut f64, squares: &mut f64, z: &mut f64, gradient: Gradient);
}

#[derive(Clone, Copy)]
struct Sgd(f64);

impl WeightRule for Sgd {
    /// `w - lr * (x * loss + l2 * w)`, computed as `(w - lr * l2 * w) - (lr * x) * loss`:
    /// the two products in brackets do not wait on this record's loss gradient, so after it
    /// the weight is one fused multiply-add away (the record chain's update step, 3 steps
    /// shorter; River's order rounds differently in the last bit).
    #[inline(always)]
    fn apply(self, w: &mut f64, _: &mut f64, _: &mut f64, gradient: Gradient) {
        let Sgd(lr) = self;
        let decayed = (-(lr * gradient.l2)).mul_add(*w, *w);
        *w = (-(lr * gradient.x)).mul_add(gradient.loss, decayed);
    }
}

#[derive(Clone, Copy)]
struct AdaGrad(f64, f64);

impl WeightRule for AdaGrad {
    #[inline(always)]
    fn apply(self, w: &mut f64, squares: &mut f64, _: &mut f64, gradient: Gradient) {
        let AdaGrad(lr, eps) = self;
        let g = gradient.at(*w);
        *squares = g.mul_add(g, *squares);
        *w = (-(lr / (*squares + eps).sqrt())).mul_add(g, *w);
    }
}

/// A logistic model's AdaGrad step, arranged for a short chain of dependent steps from the
/// sigmoid's `g` to the next record's raw output.
///
/// A weight's gradient `x (p - y) + l2 w` is `(x slope) g + (x (sign - y) + l2 w)` (see
/// [`SigmoidParts`]): one fused multiply-add after `g`. The accumulated squares take `grad² +
/// G` beside the chain. River's order subtracts the label, multiplies, adds, squares, adds
/// and adds again before its square root. The step itself takes one of two arrangements,
/// chosen by the number of weights (so a model's bits do not depend on how it is called):
/// [`few`](Self::few), with no square root or division after `g`, for models of up to
/// [`LANES`] weights, whose speed the chain sets; [`many`](Self::many) for the rest, whose
/// speed the work per record sets.
///
/// The arithmetic is River's up to rounding (tested within 1e-12 relative); progressive
/// accuracy on SEA, the hyperplane and Agrawal stays equal to River's to 4 decimals
/// (`tests/river_reference.rs`).
#[derive(Clone, Copy)]
struct LogisticAdaGrad(f64, f64);

impl LogisticStep for LogisticAdaGrad {
    #[inline(always)]
    fn learn(self, parts: SigmoidParts, y: f64, x: &[f64], penalties: Penalties, state: State) {
        let Penalties { l2, intercept_lr } = penalties;
        *state.intercept = (-intercept_lr).mul_add(parts.loss(y), *state.intercept);
        let gradient = WeightGradient {
            g: parts.g,
            slope: parts.slope(),
            offset: parts.offset(y),
            l2,
        };
        let squares = &mut state.squares[..state.w.len()];
        if state.w.len() <= LANES {
            self.few(gradient, x, state.w, squares);
        } else {
            self.many(gradient, x, state.w, squares);
        }
    }
}

/// A logistic model's gradient for each weight `w` of feature value `x`, `(x slope) g + (x
/// offset + l2 w)`, from the sigmoid's parts ([`SigmoidParts`]) and the L2 penalty.
#[derive(Clone, Copy)]
struct WeightGradient {
    g: f64,
    slope: f64,
    offset: f64,
    l2: f64,
}

impl WeightGradient {
    /// The part that does not wait on the sigmoid, `x offset + l2 w`.
    #[inline(always)]
    fn rest(self, x: f64, w: f64) -> f64 {
        x.mul_add(self.offset, self.l2 * w)
    }
}

impl LogisticAdaGrad {
    /// The step on up to [`LANES`] weights, side by side as vector lanes. River's step `lr
    /// grad / sqrt(G + eps + grad²)` is `lr s / sqrt(1 + s²)` with `s = grad / sqrt(G + eps)`,
    /// and `1 / sqrt(G + eps)` waits only on the previous record's squares, so its square
    /// root and division run while this record's raw output and sigmoid are formed. `s` is
    /// then one fused multiply-add after `g` (its two parts scaled beforehand). Where every
    /// weight's `s²` is at most [`NEAR`] (all but a stream's first records and rare outliers:
    /// in River's arithmetic, about 230 of SEA's million records), `1 / sqrt(1 + s²)` is a
    /// short series ([`inverse_root_of_one_plus`]) and each weight one fused multiply-add
    /// after it: 24 cycles from `g` to the new weights, where a square root then a division
    /// on one divider took about 40. On SEA's 3 features, 31.6 -> 37.2 M records/s (medians
    /// of 5 alternating runs). A record where some `s²` is larger takes the square root and
    /// the division after `g`.
    #[inline(always)]
    fn few(self, gradient: WeightGradient, x: &[f64], w: &mut [f64], squares: &mut [f64]) {
        let LogisticAdaGrad(lr, eps) = self;
        let WeightGradient { g, slope, .. } = gradient;
        // Lanes past the weights stay at steps of 0.
        let (mut xs, mut rests, mut sums) = ([0.0; LANES], [0.0; LANES], [1.0; LANES]);
        for (k, (w, squares)) in w.iter().zip(squares.iter()).enumerate() {
            xs[k] = x.get(k).copied().unwrap_or(0.0);
            rests[k] = gradient.rest(xs[k], *w);
            sums[k] = *squares + eps;
        }
        let scales: [f64; LANES] = std::array::from_fn(|k| 1.0 / sums[k].sqrt());
        let gradients: [f64; LANES] = std::array::from_fn(|k| (xs[k] * slope).mul_add(g, rests[k]));
        let scaled: [f64; LANES] =
            std::array::from_fn(|k| (xs[k] * slope * scales[k]).mul_add(g, rests[k] * scales[k]));
        // A predicted branch, false where some `scaled` is not a number (`G + eps` of 0, a
        // NaN). Every lane is compared, without stopping at the first false, so that the
        // comparisons are one vector instruction.
        if scaled.iter().fold(true, |near, s| near & (s * s <= NEAR)) {
            let factors: [f64; LANES] =
                std::array::from_fn(|k| inverse_root_of_one_plus(scaled[k] * scaled[k]));
            for ((w, s), factor) in w.iter_mut().zip(scaled).zip(factors) {
                *w = (-(lr * s)).mul_add(factor, *w);
            }
        } else {
            let steps: [f64; LANES] = std::array::from_fn(|k| {
                let gradient = gradients[k];
                lr * gradient / gradient.mul_add(gradient, sums[k]).sqrt()
            });
            for (w, step) in w.iter_mut().zip(steps) {
                *w -= step;
            }
        }
        for (squares, gradient) in squares.iter_mut().zip(gradients) {
            *squares = gradient.mul_add(gradient, *squares);
        }
    }

    /// The step on any number of weights, [`LANES`] at a time: the square root of `grad² +
    /// (G + eps)` and a division, after `g`. The compiler makes each lane operation one
    /// vector instruction (on 10 features, 22.8 -> 25.3 M records/s against one weight after
    /// another). [`few`](Self::few)'s arrangement measured slower here (hyperplane, 10
    /// features: 20.4 -> 19.0 M records/s), its lanes taken two at a time, not four.
    #[inline(always)]
    fn many(self, gradient: WeightGradient, x: &[f64], w: &mut [f64], squares: &mut [f64]) {
        let LogisticAdaGrad(lr, eps) = self;
        let WeightGradient { g, slope, .. } = gradient;
        for (chunk, (w, squares)) in w
            .chunks_mut(LANES)
            .zip(squares.chunks_mut(LANES))
            .enumerate()
        {
            let mut numerators = [0.0; LANES];
            let mut denominators = [1.0; LANES];
            for (k, (w, squares)) in w.iter().zip(squares.iter_mut()).enumerate() {
                let x = x.get(chunk * LANES + k).copied().unwrap_or(0.0);
                let gradient = (x * slope).mul_add(g, gradient.rest(x, *w));
                denominators[k] = gradient.mul_add(gradient, *squares + eps);
                numerators[k] = lr * gradient;
                *squares = gradient.mul_add(gradient, *squares);
            }
            let steps: [f64; LANES] =
                std::array::from_fn(|k| numerators[k] / denominators[k].sqrt());
            for (w, step) in w.iter_mut().zip(steps) {
                *w -= step;
            }
        }
    }
}

/// The largest `u` that [`inverse_root_of_one_plus`] takes, 2^-7.
const NEAR: f64 = 1.0 / 128.0;

/// `1 / sqrt(1 + u)` for `0 <= u <= NEAR`: the binomial series `Σ C(2k, k) (-u / 4)^k` to
/// degree 7 (its coefficients are exact in binary), in Estrin's order ([`degree_7`]). The
/// first term left out is below `0.21 u^8 <= 2^-58`, a thirtieth of a unit in the last
/// place of a result near 1; with rounding, within 1 unit (tested).
#[inline(always)]
fn inverse_root_of_one_plus(u: f64) -> f64 {
    const C: [f64; 8] = [
        1.0,
        -0.5,
        0.375,
        -0.3125,
        0.273_437_5,
        -0.246_093_75,
        0.225_585_937_5,
        -0.209_472_656_25,
    ];
    degree_7(&C, u)
}

/// How many rows ahead [`LinearParams::fixed_rule_body`] prefetches. The hardware's own
/// prefetching starts again at each 4 KiB page. On Friedman's 10 features, 80 MB of rows
/// learned at 55 M records/s, against 79 M for rows already in cache; a plain read of the
/// row ahead made that about 60 M, and a prefetch instruction 84-93 M (16 and 64 rows
/// ahead measured no faster). The read held the loop up: a value kept (with `black_box`)
/// waits for its cache line, and the instructions after it cannot retire until it comes;
/// a prefetch waits for nothing.
const AHEAD: usize = 32;

/// Asks the CPU to bring `value`'s cache line in, without waiting for it: a prefetch
/// instruction where there is one (x86-64), else nothing.
#[inline(always)]
fn prefetch(value: &f64) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has, and a prefetch reads
    // nothing the program sees and faults on no address (here a valid one, besides).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// How many weights [`LogisticAdaGrad`] steps side by side.
const LANES: usize = 4;

/// A logistic model's record, arranged per optimiser (`S`, a [`LogisticStep`]) for a short
/// chain of dependent steps from one record's prediction to the next one's, where no loss
/// gradient can be clipped (labels in `[0, 1]`, `clip_gradient >= 1`): the clip's minimum
/// and maximum leave the chain, and so does the subtraction of the label, which each step
/// folds elsewhere. Other records take River's order ([`Linked`]). The arithmetic is River's
/// up to rounding (tested against River's order within 1e-12 relative).
#[derive(Clone, Copy)]
struct LogisticRecord<S> {
    step: S,
    penalties: Penalties,
}

impl<S> LogisticRecord<S> {
    /// This record with the step `step`.
    fn with<T>(self, step: T) -> LogisticRecord<T> {
        LogisticRecord {
            step,
            penalties: self.penalties,
        }
    }
}

impl<S: LogisticStep> RecordRule for LogisticRecord<S> {
    #[inline(always)]
    fn takes(self, y: f64) -> bool {
        (0.0..=1.0).contains(&y)
    }

    #[inline(always)]
    fn learn(self, raw: f64, x: &[f64], y: f64, state: State, each: &mut impl FnMut(f64, f64)) {
        let parts = SigmoidParts::of(raw);
        each(parts.probability(), y);
        self.step.learn(parts, y, x, self.penalties, state);
    }
}

/// A linear regression's SGD record, arranged for a short chain from one record's raw output
/// to the next: where the loss gradient `2 (raw - y)` is within the clip (a branch, which a
/// stream within it always predicts), a weight moves as `(w - lr l2 w + 2 lr x y) -
/// (2 lr x) raw`, whose bracket does not wait on `raw`: one fused multiply-add after it,
/// where River's order subtracts the label, doubles and multiplies first. A gradient beyond
/// the clip takes River's order, clipped ([`Linked`]). The arithmetic is River's up to
/// rounding (tested within 1e-12 relative).
#[derive(Clone, Copy)]
struct SquaredSgd(Linked<Identity, Sgd>);

impl RecordRule for SquaredSgd {
    #[inline(always)]
    fn takes(self, _: f64) -> bool {
        true
    }

    #[inline(always)]
    fn learn(self, raw: f64, x: &[f64], y: f64, state: State, each: &mut impl FnMut(f64, f64)) {
        each(raw, y);
        let loss = 2.0 * (raw - y);
        let SquaredSgd(linked) = self;
        if loss.abs() > linked.clip || loss.is_nan() {
            return linked.step(loss, x, state);
        }
        let (Sgd(lr), Penalties { l2, intercept_lr }) = (linked.rule, linked.penalties);
        let two_intercept_lr = 2.0 * intercept_lr;
        let intercept = two_intercept_lr.mul_add(y, *state.intercept);
        *state.intercept = (-two_intercept_lr).mul_add(raw, intercept);
        for (i, w) in state.w.iter_mut().enumerate() {
            let two_lr_x = 2.0 * lr * x.get(i).copied().unwrap_or(0.0);
            let decayed = (-(lr * l2)).mul_add(*w, *w);
            *w = (-two_lr_x).mul_add(raw, two_lr_x.mul_add(y, decayed));
        }
    }
}

/// A linear model's L2 penalty and intercept step size, as its rules take them.
#[derive(Clone, Copy)]
struct Penalties {
    l2: f64,
    intercept_lr: f64,
}

/// One optimiser's step on a logistic model's record of label `y` in `[0, 1]`, whose
/// sigmoid's parts are `parts`.
trait LogisticStep: Copy {
    fn learn(self, parts: SigmoidParts, y: f64, x: &[f64], penalties: Penalties, state: State);
}

/// The optimiser chosen at run time, as the per-record path takes it.
impl LogisticStep for Optimizer {
    #[inline(always)]
    fn learn(self, parts: SigmoidParts, y: f64, x: &[f64], penalties: Penalties, state: State) {
        match self {
            Optimizer::Sgd { lr } => LogisticSgd(lr).learn(parts, y, x, penalties, state),
            Optimizer::AdaGrad { lr, eps } => {
                LogisticAdaGrad(lr, eps).learn(parts, y, x, penalties, state)
            }
            ftrl @ Optimizer::Ftrl { .. } => {
                LogisticFtrl(Ftrl::of(ftrl)).learn(parts, y, x, penalties, state)
            }
        }
    }
}

/// A logistic model's SGD step: `w - lr (x (p - y) + l2 w)` taken as
/// `(w - lr l2 w - lr x (sign - y)) - (lr x slope) g` (see [`SigmoidParts`]), whose bracket
/// does not wait on the sigmoid's `g`, so each weight and the intercept are one fused
/// multiply-add after it.
#[derive(Clone, Copy)]
struct LogisticSgd(f64);

impl LogisticStep for LogisticSgd {
    #[inline(always)]
    fn learn(self, parts: SigmoidParts, y: f64, x: &[f64], penalties: Penalties, state: State) {
        let LogisticSgd(lr) = self;
        let Penalties { l2, intercept_lr } = penalties;
        let (g, slope, offset) = (parts.g, parts.slope(), parts.offset(y));
        let intercept = (-intercept_lr).mul_add(offset, *state.intercept);
        *state.intercept = (-intercept_lr * slope).mul_add(g, intercept);
        for (i, w) in state.w.iter_mut().enumerate() {
            let lr_x = lr * x.get(i).copied().unwrap_or(0.0);
            let decayed = (-(lr * l2)).mul_add(*w, *w);
            *w = (-lr_x * slope).mul_add(g, (-lr_x).mul_add(offset, decayed));
        }
    }
}

/// A logistic model's FTRL-Proximal step: the loss gradient `p - y` is one fused
/// multiply-add after the sigmoid's `g` ([`SigmoidParts::loss`]), where River's order
/// divides for the probability, subtracts and clips; each weight then takes [`Ftrl`]'s step.
#[derive(Clone, Copy)]
struct LogisticFtrl(Ftrl);

impl LogisticStep for LogisticFtrl {
    #[inline(always)]
    fn learn(self, parts: SigmoidParts, y: f64, x: &[f64], penalties: Penalties, state: State) {
        descend(self.0, parts.loss(y), penalties, x, state);
    }
}

/// FTRL-Proximal's `alpha`, `beta`, `l1` and `l2`.
#[derive(Clone, Copy)]
struct Ftrl([f64; 4]);

impl Ftrl {
    /// The parameters of `optimizer`, if it is FTRL-Proximal (else zeros, which no caller
    /// passes).
    #[inline(always)]
    fn of(optimizer: Optimizer) -> Ftrl {
        match optimizer {
            Optimizer::Ftrl {
                alpha,
                beta,
                l1,
                l2,
            } => Ftrl([alpha, beta, l1, l2]),
            _ => Ftrl([0.0; 4]),
        }
    }
}

impl WeightRule for Ftrl {
    /// River's FTRL-Proximal step, arranged for a short chain after the gradient `g`:
    /// `z + g - sigma w`, with `sigma = (sqrt(n + g²) - sqrt(n)) / alpha`, is taken as
    /// `(z + g + sqrt(n) w / alpha) - sqrt(n + g²) w / alpha` (`w / alpha` a multiplication
    /// by `1 / alpha`, hoisted out of loops), one fused multiply-add after the square root;
    /// the new weight `-(z - sign(z) l1) / ((beta + sqrt(n + g²)) / alpha + l2)` is
    /// `(z - sign(z) l1)` times `-alpha / (sqrt(n + g²) + (beta + alpha l2))`, whose division
    /// runs beside `z`'s update.
    #[inline(always)]
    fn apply(self, w: &mut f64, squares: &mut f64, z: &mut f64, gradient: Gradient) {
        let Ftrl([alpha, beta, l1, l2]) = self;
        let g = gradient.at(*w);
        let n = *squares;
        let n_next = g.mul_add(g, n);
        let root = n_next.sqrt();
        let w_per_alpha = *w * (1.0 / alpha);
        *z = (-root).mul_add(w_per_alpha, n.sqrt().mul_add(w_per_alpha, *z + g));
        *squares = n_next;
        let scale = -alpha / (root + alpha.mul_add(l2, beta));
        // The weight for the next record, from the updated state (River computes it in its
        // step and again, identically, before predicting). Formed before the choice, so that
        // the choice is a select, not a branch per weight.
        let shrunk = (*z - l1.copysign(*z)) * scale;
        *w = if z.abs() <= l1 { 0.0 } else { shrunk };
    }
}

/// How a linear model turns its raw output into a prediction, and the gradient of its loss
/// with respect to the raw output at that prediction.
trait Link {
    /// Whether this is [`Logistic`], whose records [`LogisticRecord`] learns.
    const LOGISTIC: bool = false;
    /// Whether this is [`Identity`], whose SGD records [`SquaredSgd`] learns.
    const SQUARED: bool = false;
    fn predict(raw: f64) -> f64;
    fn loss_gradient(prediction: f64, y: f64) -> f64;
}

/// Logistic regression: the probability of class 1; log loss.
struct Logistic;

impl Link for Logistic {
    const LOGISTIC: bool = true;
    #[inline(always)]
    fn predict(raw: f64) -> f64 {
        sigmoid(raw)
    }
    #[inline(always)]
    fn loss_gradient(probability: f64, y: f64) -> f64 {
        probability - y
    }
}

/// Linear regression: the raw output; squared loss.
struct Identity;

impl Link for Identity {
    const SQUARED: bool = true;
    #[inline(always)]
    fn predict(raw: f64) -> f64 {
        raw
    }
    #[inline(always)]
    fn loss_gradient(prediction: f64, y: f64) -> f64 {
        2.0 * (prediction - y)
    }
}

/// The logistic function: `1 - σ(-z)` for `z >= 0`, else `σ(-|z|)` (see [`SigmoidParts`]).
#[inline(always)]
fn sigmoid(z: f64) -> f64 {
    SigmoidParts::of(z).probability()
}

/// The parts of the logistic function of `z`: `g = σ(-|z|)`, the smaller side, which
/// [`logistic_of_negative`] forms without `exp`'s overflow or a division, and the sign of
/// `z`, 1 for `z >= 0`, else 0. The probability is `sign + slope g` with `slope` -1 for
/// `z >= 0`, else 1: `1 - g` or `g`, one fused multiply-add and no branch (a branch on the
/// sign was mispredicted on half of a balanced stream's records). Each is computed to the
/// `f64` nearest its exact value from `g`, so a probability near 0 keeps its relative
/// precision.
#[derive(Clone, Copy)]
struct SigmoidParts {
    g: f64,
    sign: f64,
}

impl SigmoidParts {
    #[inline(always)]
    fn of(z: f64) -> Self {
        SigmoidParts {
            g: logistic_of_negative(z.abs()),
            sign: f64::from(u8::from(z >= 0.0)),
        }
    }

    /// -1 for `z >= 0`, else 1: the probability and the loss gradient move by this much
    /// per unit of `g`.
    #[inline(always)]
    fn slope(self) -> f64 {
        1.0 - 2.0 * self.sign
    }

    /// `1 - g` for `z >= 0`, else `g`.
    #[inline(always)]
    fn probability(self) -> f64 {
        self.slope().mul_add(self.g, self.sign)
    }

    /// The loss gradient `p - y` of label `y`: `(sign - y) + slope g`, rounded once.
    /// `sign - y` does not depend on `g`, so this is one fused multiply-add after it, and
    /// a step that multiplies it by a weight's feature can take `(x slope) g + x (sign - y)`
    /// instead, one fused multiply-add from `g` to the product.
    #[inline(always)]
    fn loss(self, y: f64) -> f64 {
        self.slope().mul_add(self.g, self.offset(y))
    }

    /// `sign - y`, the part of the loss gradient `p - y` that does not depend on `g`.
    #[inline(always)]
    fn offset(self, y: f64) -> f64 {
        self.sign - y
    }
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
        self.params.predict::<Logistic>(x)
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        let p = self.predict_proba_one(x);
        self.learn_predicted(x, y, p);
    }

    /// Where the record is arranged ([`LogisticRecord`]: a label in `[0, 1]`), the step
    /// takes the sigmoid's parts rather than the probability, so the raw output is formed
    /// again here.
    fn learn_predicted(&mut self, x: &[f64], y: f64, probability: f64) {
        self.params.learn_record::<Logistic>(x, y, probability);
    }

    fn predict_then_learn_each(&mut self, x: &Matrix, y: &[f64], mut each: impl FnMut(f64, f64)) {
        self.params
            .predict_then_learn_each::<Logistic, _>(x, y, &mut each);
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
        self.learn_predicted(x, y, prediction);
    }

    fn learn_predicted(&mut self, x: &[f64], y: f64, prediction: f64) {
        self.params.learn_record::<Identity>(x, y, prediction);
    }

    fn predict_then_learn_each(&mut self, x: &Matrix, y: &[f64], mut each: impl FnMut(f64, f64)) {
        self.params
            .predict_then_learn_each::<Identity, _>(x, y, &mut each);
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

    /// [`optimizers`] and an FTRL with an L1 term (which zeroes weights).
    fn optimizers_and_an_l1_ftrl() -> Vec<Optimizer> {
        let mut optimizers = optimizers().to_vec();
        optimizers.push(Optimizer::Ftrl {
            alpha: 0.1,
            beta: 1.0,
            l1: 0.5,
            l2: 0.1,
        });
        optimizers
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
    fn predicting_then_learning_many_is_exactly_the_loop() {
        // Widths below, at and above the fixed-width lanes, with an L2 term, an FTRL with L1,
        // and a model that continues from learned state.
        let optimizers = optimizers_and_an_l1_ftrl();
        for features in [1, 3, 8, 10, 16, 20] {
            let s = streams::hyperplane(600, features, 0.001, 0.05, 4);
            for &optimizer in &optimizers {
                let mut batch = OnlineLogisticRegression::with_optimizer(optimizer);
                batch.params.l2 = 0.01;
                let mut looped = batch.clone();
                let mut probabilities = Vec::new();
                let (head, tail) = s.x.as_slice().split_at(250 * features);
                for (rows, y) in [(head, &s.y[..250]), (tail, &s.y[250..])] {
                    let rows = Matrix::new(y.len(), features, rows.to_vec()).unwrap();
                    batch.predict_then_learn_each(&rows, y, |p, _| probabilities.push(p.to_bits()));
                }
                // Bit for bit, on either compilation of the fixed-width loop (widths 8 to
                // 16 take the AVX2 one on CPUs that have it).
                let expected: Vec<u64> =
                    s.x.row_iter()
                        .zip(&s.y)
                        .map(|(row, y)| {
                            let p = looped.predict_proba_one(row);
                            looped.learn_predicted(row, *y, p);
                            p.to_bits()
                        })
                        .collect();
                assert_eq!(probabilities, expected, "{features} {optimizer:?}");
                assert_eq!(batch, looped, "{features} {optimizer:?}");

                let mut batch = OnlineLinearRegression::with_optimizer(optimizer);
                let mut looped = batch.clone();
                let mut predictions = Vec::new();
                batch.predict_then_learn_each(&s.x, &s.y, |p, _| predictions.push(p));
                let expected: Vec<f64> =
                    s.x.row_iter()
                        .zip(&s.y)
                        .map(|(row, y)| {
                            let p = OnlineRegressor::predict_one(&looped, row);
                            OnlineRegressor::learn_one(&mut looped, row, *y);
                            p
                        })
                        .collect();
                assert_eq!(predictions, expected, "{features} {optimizer:?}");
                assert_eq!(batch, looped, "{features} {optimizer:?}");
            }
        }
    }

    #[test]
    fn the_plain_compilation_gives_the_fma_compilations_bits() {
        // On a CPU with FMA, `predict` and `step` run their FMA compilation, while their
        // bodies called directly run the plain one, where each `mul_add` is libm's `fma`.
        let s = streams::hyperplane(400, 5, 0.001, 0.05, 9);
        let optimizers = optimizers_and_an_l1_ftrl();
        for optimizer in optimizers {
            let mut fma = OnlineLogisticRegression::with_optimizer(optimizer).params;
            fma.l2 = 0.01;
            let mut plain = fma.clone();
            for (row, y) in s.x.row_iter().zip(&s.y) {
                let (p, q) = (
                    fma.predict::<Logistic>(row),
                    plain.predict_body::<Logistic>(row),
                );
                assert_eq!(p.to_bits(), q.to_bits(), "{optimizer:?}");
                fma.learn_record::<Logistic>(row, *y, p);
                plain.learn_record_body::<Logistic>(row, *y, q);
            }
            assert_eq!(fma, plain, "{optimizer:?}");
        }
    }

    /// The loop of `predict_proba_one` and `learn_predicted` over `x` and `y`: the
    /// probabilities' bits, and the model after.
    fn looped(
        mut model: OnlineLogisticRegression,
        x: &Matrix,
        y: &[f64],
    ) -> (Vec<u64>, OnlineLogisticRegression) {
        let probabilities = x
            .row_iter()
            .zip(y)
            .map(|(row, y)| {
                let p = model.predict_proba_one(row);
                model.learn_predicted(row, *y, p);
                p.to_bits()
            })
            .collect();
        (probabilities, model)
    }

    /// River's `LogisticRegression` (intercept step 0.01, no clipping) in River's order of
    /// operations, written from its source for each optimiser: the reference the rearranged
    /// records ([`LogisticRecord`]) are held to.
    struct RiversLinear {
        /// Linear regression (River's `LinearRegression`: the raw output, squared loss)
        /// rather than logistic.
        squared: bool,
        optimizer: Optimizer,
        l2: f64,
        w: Vec<f64>,
        intercept: f64,
        n: Vec<f64>,
        z: Vec<f64>,
    }

    impl RiversLinear {
        fn new(optimizer: Optimizer, l2: f64, features: usize) -> Self {
            let zeros = vec![0.0; features];
            RiversLinear {
                squared: false,
                optimizer,
                l2,
                w: zeros.clone(),
                intercept: 0.0,
                n: zeros.clone(),
                z: zeros,
            }
        }

        fn predict(&self, x: &[f64]) -> f64 {
            let raw = self.intercept + self.w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>();
            if self.squared {
                raw
            } else {
                1.0 / (1.0 + (-raw).exp())
            }
        }

        fn learn(&mut self, x: &[f64], y: f64, p: f64) {
            let loss = if self.squared { 2.0 * (p - y) } else { p - y };
            self.intercept -= 0.01 * loss;
            for (i, x) in x.iter().enumerate() {
                let (w, n, z) = (&mut self.w[i], &mut self.n[i], &mut self.z[i]);
                let g = loss * x + self.l2 * *w;
                match self.optimizer {
                    Optimizer::Sgd { lr } => *w -= lr * g,
                    Optimizer::AdaGrad { lr, eps } => {
                        *n += g * g;
                        *w -= lr / (*n + eps).sqrt() * g;
                    }
                    Optimizer::Ftrl {
                        alpha,
                        beta,
                        l1,
                        l2,
                    } => {
                        let sigma = ((*n + g * g).sqrt() - n.sqrt()) / alpha;
                        *z += g - sigma * *w;
                        *n += g * g;
                        *w = if z.abs() > l1 {
                            -(z.signum() * (z.abs() - l1)) / ((beta + n.sqrt()) / alpha + l2)
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
    }

    #[test]
    fn the_rearranged_logistic_records_are_rivers_up_to_rounding() {
        // Each optimiser's `LogisticRecord` against River's order, with an L2 term, on 3 and 10
        // features (the second takes the AVX2 loop where the CPU has it), through the batch
        // loop and the per-record path (which agree bit for bit, tested above).
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
        for features in [3, 10] {
            let s = streams::hyperplane(3_000, features, 0.001, 0.05, 11);
            for optimizer in optimizers_and_an_l1_ftrl() {
                let mut model = OnlineLogisticRegression::with_optimizer(optimizer);
                model.params.l2 = 0.01;
                let mut rivers = RiversLinear::new(optimizer, 0.01, features);
                let mut expected = Vec::new();
                for (row, y) in s.x.row_iter().zip(&s.y) {
                    let p = rivers.predict(row);
                    rivers.learn(row, *y, p);
                    expected.push(p);
                }
                let mut got = Vec::new();
                model.predict_then_learn_each(&s.x, &s.y, |p, _| got.push(p));
                for (p, q) in got.iter().zip(&expected) {
                    assert!(close(*p, *q), "{features} {optimizer:?}: {p} {q}");
                }
                let params = &model.params;
                for (a, b) in params.weights.iter().zip(&rivers.w) {
                    assert!(close(*a, *b), "{features} {optimizer:?}: {a} {b}");
                }
                assert!(close(params.intercept, rivers.intercept));
                if !matches!(optimizer, Optimizer::Sgd { .. }) {
                    for (a, b) in params.squares.iter().zip(&rivers.n) {
                        assert!(close(*a, *b), "{features} {optimizer:?}: {a} {b}");
                    }
                }
                // And the rearrangement is in effect: the two differ in the last bits.
                assert_ne!(params.weights, rivers.w, "{features} {optimizer:?}");
            }
        }
    }

    #[test]
    fn the_series_for_one_over_a_square_root_is_within_a_unit_of_rounding() {
        // Against `1 / sqrt(1 + u)` to about 100 bits: `r = 1 / sqrt(1 + u)` in f64, then
        // Newton's correction `r e / 2` with `e = 1 - (1 + u) r²` formed exactly enough
        // (`1 + u` and `r²` each as a sum of two f64, the second by a fused multiply-add).
        // Leaving out the series' last term moves it by about 3 units at `u = NEAR`, and
        // fails this.
        let mut worst = 0.0_f64;
        for i in 0..=4096 {
            let u = NEAR * f64::from(i) / 4096.0;
            let (hi, lo) = (1.0 + u, u - ((1.0 + u) - 1.0));
            let r = 1.0 / hi.sqrt();
            let (square, square_lo) = (r * r, r.mul_add(r, -(r * r)));
            // 1 - (hi + lo)(square + square_lo), its large terms cancelled exactly first.
            let e = (-hi).mul_add(square, 1.0) - hi * square_lo - lo * square;
            let exact_correction = r * e / 2.0;
            let ours = inverse_root_of_one_plus(u);
            let unit = f64::EPSILON / 2.0; // below 1 and at least 1/2: a unit is 2^-53
            let off = ((ours - r) - exact_correction).abs() / unit;
            worst = worst.max(off);
        }
        assert!(worst <= 1.0, "{worst} units");
    }

    #[test]
    fn adagrads_two_arrangements_agree() {
        // `few` (the series after `1 / sqrt(G + eps)`) against `many` (a square root and a
        // division after the gradient) on one record: within a few units where the series
        // applies, bit for bit where some weight's `s²` is too large for it (a first record,
        // a zero `G + eps`, a NaN), whose record then takes `many`'s arithmetic.
        let parts = SigmoidParts::of(0.3);
        let gradient = WeightGradient {
            g: parts.g,
            slope: parts.slope(),
            offset: parts.offset(1.0),
            l2: 0.01,
        };
        let x = [0.5, -2.0, 3.0];
        // Gradients up to about 1.3 (the third feature's): from `G` of 250, every `s²` is at
        // most 1.7 / 250, within `NEAR`; at `G` of 25 the third's is not.
        let mut cases: Vec<(f64, [f64; 3], bool)> = (0..100)
            .map(|i| {
                let i = f64::from(i);
                (
                    1e-8,
                    [250.0 + 37.0 * i, 1e3 + 101.0 * i, 2e5 * (i + 1.0)],
                    true,
                )
            })
            .collect();
        cases.extend([
            (1e-8, [400.0, 900.0, 25.0], false),
            (1e-8, [0.0, 0.0, 0.0], false),
            (0.0, [0.0, 400.0, 400.0], false),
            (1e-8, [f64::NAN, 400.0, 400.0], false),
        ]);
        let mut differed = 0;
        for (eps, squares, near) in cases {
            let adagrad = LogisticAdaGrad(0.1, eps);
            // Weights of 0 on the near records, so that the steps' own bits show.
            let w = if near { [0.0; 3] } else { [0.25, -1.5, 0.75] };
            let (mut w_few, mut squares_few) = (w, squares);
            adagrad.few(gradient, &x, &mut w_few, &mut squares_few);
            let (mut w_many, mut squares_many) = (w, squares);
            adagrad.many(gradient, &x, &mut w_many, &mut squares_many);
            assert_eq!(
                squares_few.map(f64::to_bits),
                squares_many.map(f64::to_bits)
            );
            if near {
                for (a, b) in w_few.iter().zip(&w_many) {
                    assert!((a - b).abs() <= 4.0 * f64::EPSILON * b.abs(), "{a} {b}");
                }
                differed += usize::from(w_few != w_many);
            } else {
                assert_eq!(
                    w_few.map(f64::to_bits),
                    w_many.map(f64::to_bits),
                    "{squares:?}"
                );
            }
        }
        assert!(differed > 0, "the series is in effect");
    }

    #[test]
    fn the_rearranged_squared_loss_sgd_record_is_rivers_up_to_rounding() {
        // `SquaredSgd` against River's order, with an L2 term, on Friedman's 10 features and
        // on 3, through the batch loop and the per-record path.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
        let friedman = streams::friedman(3_000, 12);
        let three = streams::hyperplane(3_000, 3, 0.001, 0.05, 13);
        let three_y: Vec<f64> = three
            .x
            .row_iter()
            .map(|r| 4.0 * r[0] - r[2] + 1.0)
            .collect();
        for (x, y) in [(&friedman.x, &friedman.y), (&three.x, &three_y)] {
            let optimizer = Optimizer::Sgd { lr: 0.01 };
            let mut batch = OnlineLinearRegression::with_optimizer(optimizer);
            batch.params.l2 = 0.01;
            let mut one = batch.clone();
            let mut rivers = RiversLinear::new(optimizer, 0.01, x.cols());
            rivers.squared = true;
            let mut expected = Vec::new();
            for (row, y) in x.row_iter().zip(y.iter()) {
                let p = rivers.predict(row);
                rivers.learn(row, *y, p);
                expected.push(p);
                one.learn_one(row, *y);
            }
            let mut got = Vec::new();
            batch.predict_then_learn_each(x, y, |p, _| got.push(p));
            for (p, q) in got.iter().zip(&expected) {
                assert!(close(*p, *q), "{}: {p} {q}", x.cols());
            }
            for (a, b) in batch.weights().iter().zip(&rivers.w) {
                assert!(close(*a, *b), "{}: {a} {b}", x.cols());
            }
            assert!(close(batch.intercept(), rivers.intercept));
            assert_eq!(batch, one, "the batch loop is the per-record path");
            // And the rearrangement is in effect: the two differ in the last bits.
            assert_ne!(batch.weights(), rivers.w, "{}", x.cols());
        }
    }

    #[test]
    fn labels_outside_zero_one_and_clipping_below_one_are_learned_as_the_loop_learns_them() {
        // A label of 2 stops the fixed-width loop of a logistic AdaGrad model (its rule takes
        // labels in [0, 1]); the rows from there go one at a time, each by the rule that fits
        // it. A clip under 1 takes River's order for every row.
        let s = streams::hyperplane(600, 3, 0.001, 0.05, 5);
        let mut y = s.y.clone();
        y[300] = 2.0;
        y[450] = -0.5;
        for clip in [1e12, 0.3] {
            let mut batch =
                OnlineLogisticRegression::with_optimizer(Optimizer::AdaGrad { lr: 0.1, eps: 1e-8 });
            batch.params.clip_gradient = clip;
            let (expected, looped) = looped(batch.clone(), &s.x, &y);
            let mut got = Vec::new();
            batch.predict_then_learn_each(&s.x, &y, |p, _| got.push(p.to_bits()));
            assert_eq!(got, expected, "{clip}");
            assert_eq!(batch, looped, "{clip}");
        }
    }

    #[test]
    fn a_loss_gradient_beyond_the_clip_is_clipped() {
        // From zero weights, x = (1, 2) and y = 10 predict 0, a squared-loss gradient of
        // 2 (0 - 10) = -20; clipped to -0.5, SGD 0.01 moves each weight by 0.01 x 0.5, the
        // intercept (intercept_lr 0.01) by 0.01 x 0.5. Within the clip it moves by 20.
        let x = Matrix::new(1, 2, vec![1.0, 2.0]).unwrap();
        for (clip, moved) in [(0.5, 0.5), (1e12, 20.0)] {
            let mut one = OnlineLinearRegression::with_optimizer(Optimizer::Sgd { lr: 0.01 });
            one.params.clip_gradient = clip;
            let mut batch = one.clone();
            one.learn_one(&[1.0, 2.0], 10.0);
            batch.predict_then_learn_each(&x, &[10.0], |_, _| {});
            for model in [&one, &batch] {
                assert_eq!(
                    model.weights(),
                    [0.01 * moved, 0.01 * 2.0 * moved],
                    "{clip}"
                );
                assert_eq!(model.intercept(), 0.01 * moved, "{clip}");
            }
        }
    }

    #[test]
    fn a_first_row_with_an_infinite_feature_is_learned_as_the_loop_learns_it() {
        // The loop predicts a new model's first row from its intercept alone (it has no
        // weights yet), so the infinite value does not make that prediction NaN.
        let x = Matrix::new(3, 2, vec![f64::INFINITY, 1.0, 0.5, 0.5, 0.2, 0.1]).unwrap();
        let y = [1.0, 0.0, 1.0];
        let mut batch = OnlineLogisticRegression::default();
        let mut looped = batch.clone();
        let mut got = Vec::new();
        batch.predict_then_learn_each(&x, &y, |p, _| got.push(p.to_bits()));
        let expected: Vec<u64> = x
            .row_iter()
            .zip(&y)
            .map(|(row, y)| {
                let p = looped.predict_proba_one(row);
                looped.learn_predicted(row, *y, p);
                p.to_bits()
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(f64::from_bits(got[0]), 0.5);
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
