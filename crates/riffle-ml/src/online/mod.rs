//! Online learning, River's way: a model learns from one record at a time (`learn_one`) and
//! predicts for one (`predict_one`), with batch variants that are exactly the loop over the
//! rows; progressive validation (predict, then learn) is the honest metric, always reported
//! beside a majority-class baseline.
//!
//! - learners: [`OnlineLogisticRegression`] and [`OnlineLinearRegression`] (SGD, AdaGrad,
//!   FTRL-Proximal), Gaussian and multinomial naive Bayes ([`naive_bayes`]), the Hoeffding
//!   tree classifier ([`hoeffding`]) and regressor ([`hoeffding_regressor`]), the adaptive
//!   random forest ([`forest`]), online k-means ([`cluster`]);
//! - scalers, one-hot encoding and feature hashing: [`preprocessing`]; anomaly detectors: [`anomaly`] (half-space trees, EWMA
//!   z-score); drift detectors: [`drift`] (ADWIN, Page-Hinkley, DDM);
//! - streaming recommendation: [`recommend`] (online matrix factorisation, Swing-style item
//!   similarity, a popularity baseline);
//! - the learners as estimators on tables (`online-logistic-regression`, ... in
//!   [`crate::algorithms`]), which keep learning from table after table: [`table`];
//! - seeded streams (SEA, rotating hyperplane, Agrawal, Friedman) in [`streams`], on which the
//!   tests compare with River.
//!
//! ```
//! use riffle_ml::online::{streams, OnlineClassifier, OnlineLogisticRegression, progressive_accuracy};
//! let stream = streams::sea(2_000, 0.1, 7);
//! let mut model = OnlineLogisticRegression::default();
//! let score = progressive_accuracy(&mut model, &stream.x, &stream.y);
//! assert!(score.accuracy > score.baseline);
//! ```

pub mod anomaly;
pub mod cluster;
pub mod drift;
mod exp;
pub mod forest;
pub mod hoeffding;
pub mod hoeffding_regressor;
mod linear;
pub mod naive_bayes;
pub mod operators;
pub mod preprocessing;
pub mod recommend;
mod sigmoid;
pub mod streams;
pub mod table;

pub use linear::{LinearParams, OnlineLinearRegression, OnlineLogisticRegression, Optimizer};

use crate::Matrix;

/// A binary classifier that learns one record at a time. Labels are 0 and 1.
pub trait OnlineClassifier {
    /// The probability that `x` is of class 1.
    fn predict_proba_one(&self, x: &[f64]) -> f64;
    /// Updates the model with one labelled record.
    fn learn_one(&mut self, x: &[f64], y: f64);
    /// [`learn_one`](Self::learn_one) for a record whose probability the model has just
    /// given (`predict_proba_one(x)`, with no update in between): the same update, without
    /// computing the probability again. Progressive validation predicts, then learns.
    fn learn_predicted(&mut self, x: &[f64], y: f64, probability: f64) {
        let _ = probability;
        self.learn_one(x, y);
    }
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
    /// Test-then-train over the rows, in order: hands each row's
    /// [`predict_proba_one`](Self::predict_proba_one) and label to `each`, then learns the
    /// row. Exactly the loop; the linear models compile it for their width and optimiser.
    fn predict_then_learn_each(&mut self, x: &Matrix, y: &[f64], mut each: impl FnMut(f64, f64))
    where
        Self: Sized,
    {
        for (row, label) in x.row_iter().zip(y) {
            let probability = self.predict_proba_one(row);
            each(probability, *label);
            self.learn_predicted(row, *label, probability);
        }
    }
}

/// A regressor that learns one record at a time.
pub trait OnlineRegressor {
    /// The predicted value for `x`.
    fn predict_one(&self, x: &[f64]) -> f64;
    /// Updates the model with one record and its target.
    fn learn_one(&mut self, x: &[f64], y: f64);
    /// [`learn_one`](Self::learn_one) for a record whose prediction the model has just
    /// given (`predict_one(x)`, with no update in between), without predicting again.
    fn learn_predicted(&mut self, x: &[f64], y: f64, prediction: f64) {
        let _ = prediction;
        self.learn_one(x, y);
    }
    /// [`learn_one`](Self::learn_one) for every row, in order: exactly the loop.
    fn learn_many(&mut self, x: &Matrix, y: &[f64]) {
        for (row, target) in x.row_iter().zip(y) {
            self.learn_one(row, *target);
        }
    }
    /// Test-then-train over the rows, in order: hands each row's
    /// [`predict_one`](Self::predict_one) and target to `each`, then learns the row. Exactly
    /// the loop; the linear models compile it for their width and optimiser.
    fn predict_then_learn_each(&mut self, x: &Matrix, y: &[f64], mut each: impl FnMut(f64, f64))
    where
        Self: Sized,
    {
        for (row, target) in x.row_iter().zip(y) {
            let prediction = self.predict_one(row);
            each(prediction, *target);
            self.learn_predicted(row, *target, prediction);
        }
    }
}

/// A boxed classifier is one: progressive validation runs over models chosen at run time.
impl<M: OnlineClassifier + ?Sized> OnlineClassifier for Box<M> {
    fn predict_proba_one(&self, x: &[f64]) -> f64 {
        (**self).predict_proba_one(x)
    }
    fn learn_one(&mut self, x: &[f64], y: f64) {
        (**self).learn_one(x, y)
    }
    fn learn_predicted(&mut self, x: &[f64], y: f64, probability: f64) {
        (**self).learn_predicted(x, y, probability)
    }
    fn predict_one(&self, x: &[f64]) -> f64 {
        (**self).predict_one(x)
    }
    fn learn_many(&mut self, x: &Matrix, y: &[f64]) {
        (**self).learn_many(x, y)
    }
}

/// Progressive validation of a binary classifier: each record is first predicted, then
/// learned. Returns the model's accuracy and, beside it, a majority-class baseline's (which
/// predicts the more frequent label seen so far, also before learning each record).
pub fn progressive_accuracy<M: OnlineClassifier>(
    model: &mut M,
    x: &Matrix,
    y: &[f64],
) -> ProgressiveScore {
    let (mut correct, mut baseline_correct) = (0usize, 0usize);
    let (mut ones, mut seen) = (0usize, 0usize);
    model.predict_then_learn_each(x, y, |probability, label| {
        // Counted without branches: whether a prediction is right is as unpredictable as the
        // model is wrong, and a mispredicted branch on the prediction would stall the next
        // record's update, which waits on the same value.
        correct += usize::from(f64::from(probability > 0.5) == label);
        let majority = f64::from(2 * ones > seen);
        baseline_correct += usize::from(majority == label);
        seen += 1;
        ones += usize::from(label == 1.0);
    });
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

/// Progressive validation of a regressor: each record is first predicted, then learned.
/// Returns the mean absolute and root mean squared errors and, beside them, the mean absolute
/// error of a baseline predicting the running mean of the targets seen so far.
pub fn progressive_regression<M: OnlineRegressor>(
    model: &mut M,
    x: &Matrix,
    y: &[f64],
) -> RegressionScore {
    let (mut abs, mut squares, mut baseline_abs) = (0.0, 0.0, 0.0);
    let mut mean = 0.0;
    let mut seen = 0.0;
    model.predict_then_learn_each(x, y, |prediction, target| {
        let error = prediction - target;
        abs += error.abs();
        squares += error * error;
        baseline_abs += (mean - target).abs();
        seen += 1.0;
        mean += (target - mean) / seen;
    });
    let n = y.len().max(1) as f64;
    RegressionScore {
        mae: abs / n,
        rmse: (squares / n).sqrt(),
        baseline_mae: baseline_abs / n,
        records: y.len(),
    }
}

/// The result of [`progressive_regression`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegressionScore {
    /// Mean absolute error of the predictions made before learning each record.
    pub mae: f64,
    /// Root mean squared error of the same.
    pub rmse: f64,
    /// Mean absolute error of the running-mean baseline.
    pub baseline_mae: f64,
    /// Records seen.
    pub records: usize,
}
