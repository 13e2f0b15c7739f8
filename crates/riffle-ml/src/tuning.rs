//! Model selection without leakage: [`ParamGrid`], [`CrossValidator`] and
//! [`TrainValidationSplit`]. Each candidate — usually a whole [`Pipeline`](crate::Pipeline) —
//! is fitted anew on the training rows of every fold, so no statistic of a validation fold
//! (a scaler's mean, an imputer's median, an encoder's categories) reaches training.

use arrow_array::RecordBatch;
use serde::Serialize;

use crate::data;
use crate::error::{MlError, Result};
use crate::evaluation::{Metric, ScoredColumns};
use crate::pipeline::{DynEstimator, Model};
use crate::split::{self, Split};

/// Every combination of parameter values, as typed candidates.
///
/// ```
/// use riffle_ml::linear::LogisticRegression;
/// use riffle_ml::tuning::ParamGrid;
/// let grid = ParamGrid::new(LogisticRegression::default())
///     .axis(&[0.0, 0.01, 0.1], |m, v| m.reg_param = v)
///     .axis(&[50, 100], |m, v| m.max_iter = v);
/// assert_eq!(grid.candidates().len(), 6);
/// ```
#[derive(Clone, Debug)]
pub struct ParamGrid<T: Clone> {
    candidates: Vec<T>,
}

impl<T: Clone> ParamGrid<T> {
    /// A grid of one candidate, `base`.
    pub fn new(base: T) -> Self {
        ParamGrid {
            candidates: vec![base],
        }
    }

    /// Crosses every candidate so far with each of `values`, set by `set`.
    pub fn axis<V: Clone>(self, values: &[V], set: impl Fn(&mut T, V)) -> Self {
        let mut candidates = Vec::with_capacity(self.candidates.len() * values.len());
        for c in &self.candidates {
            for v in values {
                let mut next = c.clone();
                set(&mut next, v.clone());
                candidates.push(next);
            }
        }
        ParamGrid { candidates }
    }

    /// The candidates.
    pub fn candidates(&self) -> &[T] {
        &self.candidates
    }

    /// The candidates, owned.
    pub fn into_candidates(self) -> Vec<T> {
        self.candidates
    }
}

/// How rows are assigned to folds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FoldKind {
    /// Shuffled k-fold.
    Random,
    /// Shuffled k-fold keeping each class's share (classification).
    Stratified,
    /// Expanding-window folds in row order (rows must be in time order).
    TimeSeries,
}

/// Scores of each candidate on each fold, and the winner.
#[derive(Clone, Debug, Serialize)]
pub struct CvResult {
    /// The metric.
    pub metric: Metric,
    /// `scores[c][f]`: candidate `c` on fold `f`.
    pub scores: Vec<Vec<f64>>,
    /// Mean over folds per candidate.
    pub mean: Vec<f64>,
    /// Standard deviation over folds per candidate.
    pub std: Vec<f64>,
    /// Index of the best candidate by mean.
    pub best: usize,
}

/// K-fold cross-validation over candidates.
#[derive(Clone, Debug)]
pub struct CrossValidator {
    /// Number of folds (at least 2).
    pub folds: usize,
    /// How folds are drawn.
    pub kind: FoldKind,
    /// Seed of the shuffle.
    pub seed: u64,
    /// The metric to optimise.
    pub metric: Metric,
    /// Columns of the scored tables.
    pub columns: ScoredColumns,
}

impl CrossValidator {
    /// Cross-validation with `folds` folds on `metric`, default columns, seed 0.
    pub fn new(folds: usize, kind: FoldKind, metric: Metric) -> Self {
        CrossValidator {
            folds,
            kind,
            seed: 0,
            metric,
            columns: ScoredColumns::default(),
        }
    }

    fn splits(&self, table: &RecordBatch) -> Result<Vec<Split>> {
        let n = table.num_rows();
        match self.kind {
            FoldKind::Random => split::KFold {
                k: self.folds,
                shuffle_seed: Some(self.seed),
            }
            .splits(n),
            FoldKind::Stratified => {
                let labels = data::read_f64(table, &self.columns.label)?;
                split::StratifiedKFold {
                    k: self.folds,
                    shuffle_seed: Some(self.seed),
                }
                .splits(&labels)
            }
            FoldKind::TimeSeries => split::TimeSeriesSplit {
                n_splits: self.folds,
                gap: 0,
            }
            .splits(n),
        }
    }

    /// Scores every candidate on every fold (fitting on the other folds' rows only).
    pub fn evaluate(
        &self,
        candidates: &[&dyn DynEstimator],
        table: &RecordBatch,
    ) -> Result<CvResult> {
        if candidates.is_empty() {
            return Err(MlError::param("candidates", "give at least one estimator"));
        }
        let splits = self.splits(table)?;
        let mut scores = vec![Vec::with_capacity(splits.len()); candidates.len()];
        for s in &splits {
            let train = data::take_rows(table, &s.train)?;
            let test = data::take_rows(table, &s.test)?;
            for (c, candidate) in candidates.iter().enumerate() {
                let model = candidate.fit_boxed(&train)?;
                let scored = model.transform(&test)?;
                scores[c].push(self.metric.compute(&scored, &self.columns)?);
            }
        }
        Ok(summarise(self.metric, scores))
    }

    /// [`evaluate`](Self::evaluate), then refits the best candidate on the whole table.
    pub fn fit(
        &self,
        candidates: &[&dyn DynEstimator],
        table: &RecordBatch,
    ) -> Result<(CvResult, Box<dyn Model>)> {
        let result = self.evaluate(candidates, table)?;
        let model = candidates[result.best].fit_boxed(table)?;
        Ok((result, model))
    }
}

fn summarise(metric: Metric, scores: Vec<Vec<f64>>) -> CvResult {
    let mean: Vec<f64> = scores
        .iter()
        .map(|s| s.iter().sum::<f64>() / s.len() as f64)
        .collect();
    let std = scores
        .iter()
        .zip(&mean)
        .map(|(s, m)| (s.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / s.len() as f64).sqrt())
        .collect();
    let mut best = 0;
    for (c, m) in mean.iter().enumerate() {
        let better = if metric.higher_is_better() {
            *m > mean[best]
        } else {
            *m < mean[best]
        };
        if better {
            best = c;
        }
    }
    CvResult {
        metric,
        scores,
        mean,
        std,
        best,
    }
}

/// One random (or stratified) train/validation split instead of k folds: cheaper, noisier.
#[derive(Clone, Debug)]
pub struct TrainValidationSplit {
    /// Share of rows for validation, in (0, 1).
    pub validation_fraction: f64,
    /// Keep class shares (classification).
    pub stratified: bool,
    /// Seed of the split.
    pub seed: u64,
    /// The metric to optimise.
    pub metric: Metric,
    /// Columns of the scored table.
    pub columns: ScoredColumns,
}

impl TrainValidationSplit {
    /// Scores each candidate on the validation rows after fitting on the others, then refits
    /// the best on the whole table.
    pub fn fit(
        &self,
        candidates: &[&dyn DynEstimator],
        table: &RecordBatch,
    ) -> Result<(CvResult, Box<dyn Model>)> {
        if candidates.is_empty() {
            return Err(MlError::param("candidates", "give at least one estimator"));
        }
        let s = if self.stratified {
            split::stratified_split(
                &data::read_f64(table, &self.columns.label)?,
                self.validation_fraction,
                self.seed,
            )?
        } else {
            split::random_split(table.num_rows(), self.validation_fraction, self.seed)?
        };
        let train = data::take_rows(table, &s.train)?;
        let test = data::take_rows(table, &s.test)?;
        let mut scores = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let scored = candidate.fit_boxed(&train)?.transform(&test)?;
            scores.push(vec![self.metric.compute(&scored, &self.columns)?]);
        }
        let result = summarise(self.metric, scores);
        let model = candidates[result.best].fit_boxed(table)?;
        Ok((result, model))
    }
}
