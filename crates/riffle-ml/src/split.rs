//! Train/test splits and cross-validation folds as index sets, built so that no
//! information leaks from test to train: stratified splits keep class proportions, group
//! splits keep every group on one side, time splits keep the test rows strictly later.
//!
//! Hold-out splits are functions ([`random_split`], [`stratified_split`], [`time_split`],
//! [`group_split`]); fold generators are parameter structs with a `splits` method
//! ([`KFold`], [`StratifiedKFold`], [`GroupKFold`], [`TimeSeriesSplit`]), each following the
//! scikit-learn class of the same name. Randomness comes from
//! `ChaCha8Rng::seed_from_u64(seed)`, so a seed gives the same split on every platform.
//!
//! ```
//! use riffle_ml::split::{random_split, KFold};
//!
//! let split = random_split(10, 0.3, 42).unwrap();
//! assert_eq!((split.train.len(), split.test.len()), (7, 3));
//! let folds = KFold { k: 3, shuffle_seed: None }.splits(10).unwrap();
//! assert_eq!(folds[0].test, vec![0, 1, 2, 3]);
//! ```

use std::collections::BTreeMap;
use std::hash::Hash;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{MlError, Result};

/// One train/test partition of the row indices `0..n`. Both lists are sorted ascending,
/// except in [`time_split`], where they are in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Rows to fit on.
    pub train: Vec<usize>,
    /// Rows to evaluate on.
    pub test: Vec<usize>,
}

/// Shuffles `0..n` and puts `ceil(test_fraction * n)` rows in the test set, as
/// scikit-learn's `ShuffleSplit`/`train_test_split` size it.
///
/// ```
/// let split = riffle_ml::split::random_split(5, 0.5, 7).unwrap();
/// assert_eq!(split.test.len(), 3);
/// ```
pub fn random_split(n: usize, test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let n_test = test_count(n, test_fraction);
    check_sides("random_split", n, n_test, test_fraction, "rows")?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut test = order[..n_test].to_vec();
    let mut train = order[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok(Split { train, test })
}

/// A random split that keeps each class's share of the rows on both sides.
///
/// The test set gets `ceil(test_fraction * n)` rows, apportioned to the classes by largest
/// remainder; then every class with at least two rows is given at least one row on each
/// side (which may move the test size by a row or two), and a class with a single row goes
/// to train, where a model can learn it (scikit-learn refuses such classes instead).
pub fn stratified_split(labels: &[f64], test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let n = labels.len();
    if n < 2 {
        return Err(MlError::data(format!(
            "stratified_split: needs at least 2 rows to split, got {n}"
        )));
    }
    let classes = class_rows("stratified_split", labels)?;
    let target = test_count(n, test_fraction);
    let quotas: Vec<f64> = classes
        .iter()
        .map(|rows| rows.len() as f64 * target as f64 / n as f64)
        .collect();
    let counts = apportion(&quotas, target, |c| {
        let size = classes[c].len();
        if size >= 2 {
            (1, size - 1)
        } else {
            (0, 0)
        }
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (mut rows, &count) in classes.into_iter().zip(&counts) {
        rows.shuffle(&mut rng);
        test.extend_from_slice(&rows[..count]);
        train.extend_from_slice(&rows[count..]);
    }
    if test.is_empty() || train.is_empty() {
        return Err(MlError::data(format!(
            "stratified_split: every class of the {n} rows has a single row, so no class can be split; use random_split"
        )));
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok(Split { train, test })
}

/// The earliest rows for training and the latest `ceil(test_fraction * n)` for testing.
///
/// Rows are ordered by time, ties in input order (stable), and both lists come back in
/// that order. Rows sharing the timestamp at the boundary all go to the side that keeps the
/// test size nearest the target (to train on a tie), so no timestamp is on both sides and
/// every training time is strictly earlier than every test time.
pub fn time_split(times: &[f64], test_fraction: f64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let n = times.len();
    if let Some(i) = times.iter().position(|t| !t.is_finite()) {
        return Err(MlError::data(format!(
            "time_split: the time at row {i} is {}, not a finite number",
            times[i]
        )));
    }
    let target = test_count(n, test_fraction);
    check_sides("time_split", n, target, test_fraction, "rows")?;
    let mut order: Vec<usize> = (0..n).collect();
    // `+ 0.0` makes -0.0 equal to 0.0 under `total_cmp`, as they are under `==`.
    order.sort_by(|&a, &b| (times[a] + 0.0).total_cmp(&(times[b] + 0.0)));
    let mut boundary = n - target;
    let time_at = |p: usize| times[order[p]];
    if time_at(boundary - 1) == time_at(boundary) {
        let tie = time_at(boundary);
        let first = order
            .iter()
            .position(|&i| times[i] == tie)
            .unwrap_or(boundary);
        let end = first
            + order[first..]
                .iter()
                .take_while(|&&i| times[i] == tie)
                .count();
        // Tied group to test (boundary = first) or to train (boundary = end); each is
        // possible only if it leaves the other side non-empty.
        boundary = match (first > 0, end < n) {
            (true, true) if end - boundary <= boundary - first => end,
            (true, true) | (true, false) => first,
            (false, true) => end,
            (false, false) => {
                return Err(MlError::data(format!(
                    "time_split: all {n} rows share the time {tie}, so the rows cannot be split by time"
                )))
            }
        };
    }
    Ok(Split {
        train: order[..boundary].to_vec(),
        test: order[boundary..].to_vec(),
    })
}

/// A random split of whole groups: `ceil(test_fraction * g)` of the `g` distinct groups go
/// to test, the others to train (scikit-learn's `GroupShuffleSplit`, which also counts
/// groups, not rows), so no group is on both sides.
pub fn group_split<G: Hash + Eq + Ord + Clone>(
    groups: &[G],
    test_fraction: f64,
    seed: u64,
) -> Result<Split> {
    check_fraction(test_fraction)?;
    // A BTreeMap, not a HashMap, so the order before shuffling (and hence the split) does
    // not depend on hashing.
    let mut members: Vec<Vec<usize>> = group_rows(groups).into_values().collect();
    let n_test = test_count(members.len(), test_fraction);
    check_sides(
        "group_split",
        members.len(),
        n_test,
        test_fraction,
        "groups",
    )?;
    members.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut test: Vec<usize> = members[..n_test].concat();
    let mut train: Vec<usize> = members[n_test..].concat();
    test.sort_unstable();
    train.sort_unstable();
    Ok(Split { train, test })
}

/// K-fold cross-validation (scikit-learn's `KFold`): the rows, shuffled when
/// `shuffle_seed` is set, are cut into `k` consecutive folds, the first `n % k` one row
/// larger; each fold is the test set of one split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KFold {
    /// Number of folds, at least 2 and at most the number of rows.
    pub k: usize,
    /// Shuffle the rows with this seed before cutting; `None` keeps the input order.
    pub shuffle_seed: Option<u64>,
}

impl KFold {
    /// The `k` splits of `0..n`.
    pub fn splits(&self, n: usize) -> Result<Vec<Split>> {
        check_k(self.k, n, "rows")?;
        let mut order: Vec<usize> = (0..n).collect();
        if let Some(seed) = self.shuffle_seed {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        }
        let mut fold_of = vec![0; n];
        let mut start = 0;
        for fold in 0..self.k {
            let size = n / self.k + usize::from(fold < n % self.k);
            for &row in &order[start..start + size] {
                fold_of[row] = fold;
            }
            start += size;
        }
        Ok(splits_from_folds(&fold_of, self.k))
    }
}

/// Stratified k-fold (scikit-learn's `StratifiedKFold`, same allocation): each class's rows
/// are dealt over the folds so every fold holds about `1/k` of each class.
///
/// As in scikit-learn, classes are numbered by first appearance, the sorted class codes are
/// dealt round-robin to decide how many rows of each class each fold gets, and each class's
/// rows (shuffled fold assignment when `shuffle_seed` is set) fill those places in order.
/// It is an error when every class has fewer than `k` rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StratifiedKFold {
    /// Number of folds, at least 2 and at most the number of rows.
    pub k: usize,
    /// Shuffle each class's fold assignment with this seed; `None` is deterministic.
    pub shuffle_seed: Option<u64>,
}

impl StratifiedKFold {
    /// The `k` splits of the rows of `labels`.
    pub fn splits(&self, labels: &[f64]) -> Result<Vec<Split>> {
        let k = self.k;
        check_k(k, labels.len(), "rows")?;
        check_labels("StratifiedKFold", labels)?;
        // Class codes by first appearance, as scikit-learn encodes them.
        let mut codes: Vec<(f64, usize)> = Vec::new();
        let mut encoded = Vec::with_capacity(labels.len());
        for &label in labels {
            let code = match codes.iter().position(|&(l, _)| l == label) {
                Some(code) => code,
                None => {
                    codes.push((label, 0));
                    codes.len() - 1
                }
            };
            codes[code].1 += 1;
            encoded.push(code);
        }
        if codes.iter().all(|&(_, count)| count < k) {
            return Err(MlError::param(
                "k",
                format!("k = {k} is larger than the number of rows of every class"),
            ));
        }
        let mut sorted_codes = encoded.clone();
        sorted_codes.sort_unstable();
        // allocation[c][f]: rows of class c in fold f, from dealing the sorted codes.
        let mut allocation = vec![vec![0usize; k]; codes.len()];
        for (position, &code) in sorted_codes.iter().enumerate() {
            allocation[code][position % k] += 1;
        }
        let mut rng = self.shuffle_seed.map(ChaCha8Rng::seed_from_u64);
        let mut fold_of = vec![0; labels.len()];
        for (code, per_fold) in allocation.iter().enumerate() {
            let mut places: Vec<usize> = per_fold
                .iter()
                .enumerate()
                .flat_map(|(fold, &count)| std::iter::repeat_n(fold, count))
                .collect();
            if let Some(rng) = rng.as_mut() {
                places.shuffle(rng);
            }
            let rows = encoded.iter().enumerate().filter(|&(_, &c)| c == code);
            for ((row, _), fold) in rows.zip(places) {
                fold_of[row] = fold;
            }
        }
        Ok(splits_from_folds(&fold_of, k))
    }
}

/// Group k-fold (scikit-learn's `GroupKFold`): whole groups are assigned to folds, largest
/// group first, each to the fold with the fewest rows so far, so fold sizes stay balanced
/// and no group is in two folds. Groups of equal size are taken in their `Ord` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupKFold {
    /// Number of folds, at least 2 and at most the number of distinct groups.
    pub k: usize,
}

impl GroupKFold {
    /// The `k` splits of the rows whose groups are `groups`.
    pub fn splits<G: Hash + Eq + Ord + Clone>(&self, groups: &[G]) -> Result<Vec<Split>> {
        let members: Vec<Vec<usize>> = group_rows(groups).into_values().collect();
        check_k(self.k, members.len(), "distinct groups")?;
        let mut by_size: Vec<usize> = (0..members.len()).collect();
        // Stable, so equal sizes keep the groups' order.
        by_size.sort_by(|&a, &b| members[b].len().cmp(&members[a].len()));
        let mut fold_rows = vec![0usize; self.k];
        let mut fold_of = vec![0; groups.len()];
        for g in by_size {
            let lightest = (0..self.k).min_by_key(|&f| (fold_rows[f], f)).unwrap_or(0);
            fold_rows[lightest] += members[g].len();
            for &row in &members[g] {
                fold_of[row] = lightest;
            }
        }
        Ok(splits_from_folds(&fold_of, self.k))
    }
}

/// Time-series cross-validation (scikit-learn's `TimeSeriesSplit` with `test_size=None`
/// and no `max_train_size`): `n_splits` consecutive test blocks of `n / (n_splits + 1)`
/// rows at the end of the data; each trains on every row before its block except the
/// `gap` rows just before it. Rows must already be in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeSeriesSplit {
    /// Number of splits, at least 2; there must be more than `n_splits` rows.
    pub n_splits: usize,
    /// Rows left out between the end of train and the start of test.
    pub gap: usize,
}

impl TimeSeriesSplit {
    /// The `n_splits` splits of `0..n`, with growing training windows.
    ///
    /// ```
    /// use riffle_ml::split::TimeSeriesSplit;
    /// let folds = TimeSeriesSplit { n_splits: 3, gap: 0 }.splits(10).unwrap();
    /// assert_eq!(folds[0].train, vec![0, 1, 2, 3]);
    /// assert_eq!(folds[2].test, vec![8, 9]);
    /// ```
    pub fn splits(&self, n: usize) -> Result<Vec<Split>> {
        let n_splits = self.n_splits;
        if n_splits < 2 {
            return Err(MlError::param(
                "n_splits",
                format!("{n_splits} is too few; cross-validation needs at least 2 splits"),
            ));
        }
        if n_splits >= n {
            return Err(MlError::param(
                "n_splits",
                format!(
                    "{n_splits} splits need at least {} rows, got {n}",
                    n_splits + 1
                ),
            ));
        }
        let test_size = n / (n_splits + 1);
        let used = self.gap.saturating_add(test_size * n_splits);
        if used >= n {
            return Err(MlError::param(
                "gap",
                format!(
                    "gap {} plus {n_splits} test blocks of {test_size} rows leaves no training rows out of {n}",
                    self.gap
                ),
            ));
        }
        Ok((0..n_splits)
            .map(|s| {
                let test_start = n - (n_splits - s) * test_size;
                Split {
                    train: (0..test_start - self.gap).collect(),
                    test: (test_start..test_start + test_size).collect(),
                }
            })
            .collect())
    }
}

fn check_fraction(test_fraction: f64) -> Result<()> {
    if test_fraction > 0.0 && test_fraction < 1.0 {
        Ok(())
    } else {
        Err(MlError::param(
            "test_fraction",
            format!("{test_fraction} is not strictly between 0 and 1"),
        ))
    }
}

/// `ceil(fraction * n)`, ignoring the representation error that makes `0.7 * 10`
/// 7.000000000000001 and would otherwise add a row.
fn test_count(n: usize, fraction: f64) -> usize {
    let raw = fraction * n as f64;
    (raw - 1e-9 * raw.max(1.0)).ceil().max(0.0) as usize
}

/// Refuses a split that would leave train or test without any of `n` units.
fn check_sides(what: &str, n: usize, n_test: usize, fraction: f64, units: &str) -> Result<()> {
    if n < 2 {
        return Err(MlError::data(format!(
            "{what}: needs at least 2 {units} to split, got {n}"
        )));
    }
    if n_test == 0 || n_test >= n {
        return Err(MlError::param(
            "test_fraction",
            format!(
                "{fraction} of {n} {units} puts {n_test} in test, leaving one side empty; choose a fraction between {} and {}",
                1.0 / n as f64,
                (n - 1) as f64 / n as f64
            ),
        ));
    }
    Ok(())
}

fn check_k(k: usize, n: usize, units: &str) -> Result<()> {
    if k < 2 {
        return Err(MlError::param(
            "k",
            format!("{k} is too few; cross-validation needs at least 2 folds"),
        ));
    }
    if k > n {
        return Err(MlError::param(
            "k",
            format!("{k} folds cannot be made from {n} {units}"),
        ));
    }
    Ok(())
}

fn check_labels(what: &str, labels: &[f64]) -> Result<()> {
    match labels.iter().position(|l| !l.is_finite()) {
        Some(i) => Err(MlError::data(format!(
            "{what}: the label at row {i} is {}, not a finite number",
            labels[i]
        ))),
        None => Ok(()),
    }
}

/// The rows of each class, classes in ascending label order, rows ascending.
fn class_rows(what: &str, labels: &[f64]) -> Result<Vec<Vec<usize>>> {
    check_labels(what, labels)?;
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| (labels[a] + 0.0).total_cmp(&(labels[b] + 0.0)));
    let mut classes: Vec<Vec<usize>> = Vec::new();
    let mut previous: Option<f64> = None;
    for i in order {
        if previous != Some(labels[i]) {
            classes.push(Vec::new());
            previous = Some(labels[i]);
        }
        if let Some(class) = classes.last_mut() {
            class.push(i);
        }
    }
    Ok(classes)
}

fn group_rows<G: Ord + Clone>(groups: &[G]) -> BTreeMap<G, Vec<usize>> {
    let mut members: BTreeMap<G, Vec<usize>> = BTreeMap::new();
    for (row, g) in groups.iter().enumerate() {
        members.entry(g.clone()).or_default().push(row);
    }
    members
}

/// Integer counts near `quotas` summing to `total` where `bounds(i)` allows it: floors
/// first, then the largest remainders, then clamped to the bounds and nudged back toward
/// `total` through the entries furthest from their quota.
fn apportion(quotas: &[f64], total: usize, bounds: impl Fn(usize) -> (usize, usize)) -> Vec<usize> {
    let mut counts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..quotas.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor()))
    });
    let missing = total.saturating_sub(counts.iter().sum());
    for &i in by_remainder.iter().take(missing) {
        counts[i] += 1;
    }
    for (i, count) in counts.iter_mut().enumerate() {
        let (low, high) = bounds(i);
        *count = (*count).clamp(low, high);
    }
    loop {
        let sum: usize = counts.iter().sum();
        let excess = |i: usize| counts[i] as f64 - quotas[i];
        let pick = if sum > total {
            (0..counts.len())
                .filter(|&i| counts[i] > bounds(i).0)
                .max_by(|&a, &b| excess(a).total_cmp(&excess(b)))
        } else if sum < total {
            (0..counts.len())
                .filter(|&i| counts[i] < bounds(i).1)
                .min_by(|&a, &b| excess(a).total_cmp(&excess(b)))
        } else {
            None
        };
        match pick {
            Some(i) if sum > total => counts[i] -= 1,
            Some(i) => counts[i] += 1,
            None => return counts,
        }
    }
}

/// One split per fold: fold `f`'s rows are its test set, all other rows its train set.
fn splits_from_folds(fold_of: &[usize], k: usize) -> Vec<Split> {
    (0..k)
        .map(|fold| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..fold_of.len()).partition(|&row| fold_of[row] == fold);
            Split { train, test }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Train and test together hold every index of `0..n` exactly once.
    fn assert_partition(split: &Split, n: usize) {
        let mut seen = vec![0u32; n];
        for &i in split.train.iter().chain(&split.test) {
            seen[i] += 1;
        }
        assert!(
            seen.iter().all(|&c| c == 1),
            "not a partition of 0..{n}: {split:?}"
        );
    }

    /// The folds' test sets together hold every index exactly once, and each fold's train
    /// set is the complement of its test set.
    fn assert_folds(folds: &[Split], n: usize) {
        let mut seen = vec![0u32; n];
        for fold in folds {
            assert_partition(fold, n);
            assert!(!fold.test.is_empty() && !fold.train.is_empty());
            for &i in &fold.test {
                seen[i] += 1;
            }
        }
        assert!(
            seen.iter().all(|&c| c == 1),
            "test sets overlap or miss rows"
        );
    }

    #[test]
    fn random_split_sizes_partition_and_reproducibility() {
        let split = random_split(10, 0.3, 42).unwrap();
        assert_partition(&split, 10);
        assert_eq!(split.test.len(), 3);
        // 0.7 * 10 is 7.000000000000001 in floating point; the test set is still 7.
        assert_eq!(random_split(10, 0.7, 1).unwrap().test.len(), 7);
        assert_eq!(random_split(10, 0.25, 1).unwrap().test.len(), 3);
        let a = random_split(100, 0.3, 7).unwrap();
        assert_eq!(a, random_split(100, 0.3, 7).unwrap());
        assert_ne!(a, random_split(100, 0.3, 8).unwrap());
        assert!(a.test.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn fractions_outside_the_open_unit_interval_are_refused() {
        for f in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            let err = random_split(10, f, 0).unwrap_err();
            assert!(
                matches!(err, MlError::InvalidParameter { ref name, .. } if name == "test_fraction")
            );
        }
        assert!(random_split(1, 0.5, 0).is_err());
        // 0.99 of 10 rows rounds up to all 10: no training rows left.
        assert!(random_split(10, 0.99, 0).is_err());
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        let labels: Vec<f64> = (0..100)
            .map(|i| if i % 5 < 3 { 0.0 } else { 1.0 })
            .collect();
        let split = stratified_split(&labels, 0.25, 3).unwrap();
        assert_partition(&split, 100);
        let zeros = split.test.iter().filter(|&&i| labels[i] == 0.0).count();
        // 60 zeros and 40 ones; 25 test rows -> 15 and 10.
        assert_eq!((zeros, split.test.len() - zeros), (15, 10));
    }

    #[test]
    fn stratified_split_puts_small_classes_on_both_sides() {
        // Classes: 0 x 20, 1 x 2, 2 x 1. With 10% in test class 1 would get 0.2 rows; it
        // gets one on each side instead; the singleton class 2 stays in train.
        let mut labels = vec![0.0; 20];
        labels.extend([1.0, 1.0, 2.0]);
        let split = stratified_split(&labels, 0.1, 0).unwrap();
        assert_partition(&split, labels.len());
        let count = |rows: &[usize], c: f64| rows.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!(count(&split.test, 1.0), 1);
        assert_eq!(count(&split.train, 1.0), 1);
        assert_eq!(count(&split.train, 2.0), 1);
        assert!(count(&split.test, 0.0) >= 1 && count(&split.train, 0.0) >= 1);
        assert!(stratified_split(&[0.0, 1.0, 2.0], 0.5, 0).is_err());
        let err = stratified_split(&[], 0.5, 0).unwrap_err();
        assert!(err.to_string().contains("at least 2 rows"), "{err}");
    }

    #[test]
    fn time_split_keeps_ties_together_and_test_later() {
        // Target 3 test rows; the boundary falls inside the three 3s (sorted positions
        // 2..5). Moving them to test gives 4 test rows (off by 1), to train 1 (off by 2).
        let times = [1.0, 2.0, 3.0, 3.0, 3.0, 4.0];
        let split = time_split(&times, 0.5).unwrap();
        assert_eq!(split.train, vec![0, 1]);
        assert_eq!(split.test, vec![2, 3, 4, 5]);
        // Unsorted times with ties come back in stable time order.
        let split = time_split(&[2.0, 1.0, 2.0, 1.0], 0.5).unwrap();
        assert_eq!(split.train, vec![1, 3]);
        assert_eq!(split.test, vec![0, 2]);
        let times: Vec<f64> = (0..50).map(|i| f64::from((i * 37) % 11)).collect();
        let split = time_split(&times, 0.3).unwrap();
        assert_partition(&split, 50);
        let latest_train = split
            .train
            .iter()
            .map(|&i| times[i])
            .fold(f64::MIN, f64::max);
        assert!(split.test.iter().all(|&i| times[i] > latest_train));
        let err = time_split(&[5.0, 5.0, 5.0], 0.5).unwrap_err();
        assert!(err.to_string().contains("share the time"), "{err}");
    }

    #[test]
    fn group_split_never_puts_a_group_on_both_sides() {
        let groups: Vec<u32> = (0..60).map(|i| (i * 7) % 10).collect();
        let split = group_split(&groups, 0.3, 11).unwrap();
        assert_partition(&split, 60);
        let test_groups: std::collections::BTreeSet<u32> =
            split.test.iter().map(|&i| groups[i]).collect();
        assert_eq!(test_groups.len(), 3, "ceil(0.3 * 10 groups)");
        assert!(split
            .train
            .iter()
            .all(|&i| !test_groups.contains(&groups[i])));
        assert!(group_split(&["a", "a"], 0.5, 0).is_err());
    }

    #[test]
    fn kfold_sizes_follow_sklearn() {
        let folds = KFold {
            k: 3,
            shuffle_seed: None,
        }
        .splits(10)
        .unwrap();
        assert_folds(&folds, 10);
        assert_eq!(folds[0].test, vec![0, 1, 2, 3]);
        assert_eq!(folds[1].test, vec![4, 5, 6]);
        assert_eq!(folds[2].test, vec![7, 8, 9]);
        let shuffled = KFold {
            k: 3,
            shuffle_seed: Some(5),
        }
        .splits(10)
        .unwrap();
        assert_folds(&shuffled, 10);
        let sizes: Vec<usize> = shuffled.iter().map(|f| f.test.len()).collect();
        assert_eq!(sizes, vec![4, 3, 3]);
        assert_ne!(shuffled, folds);
        assert!(KFold {
            k: 1,
            shuffle_seed: None
        }
        .splits(10)
        .is_err());
        assert!(KFold {
            k: 11,
            shuffle_seed: None
        }
        .splits(10)
        .is_err());
    }

    #[test]
    fn stratified_kfold_matches_sklearn_allocation() {
        // sklearn: StratifiedKFold(2).split(X, [1,1,0,0,0,0]) tests [0,2,3] then [1,4,5].
        // Codes by first appearance: 1 -> 0, 0 -> 1; dealing [0,0,1,1,1,1] gives each fold
        // one row of code 0 and two of code 1, filled in row order.
        let folds = StratifiedKFold {
            k: 2,
            shuffle_seed: None,
        }
        .splits(&[1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
        .unwrap();
        assert_eq!(folds[0].test, vec![0, 2, 3]);
        assert_eq!(folds[1].test, vec![1, 4, 5]);
        let labels: Vec<f64> = (0..90).map(|i| f64::from(i % 3 == 0)).collect();
        for seed in [None, Some(9)] {
            let folds = StratifiedKFold {
                k: 3,
                shuffle_seed: seed,
            }
            .splits(&labels)
            .unwrap();
            assert_folds(&folds, 90);
            for fold in &folds {
                let ones = fold.test.iter().filter(|&&i| labels[i] == 1.0).count();
                assert_eq!((ones, fold.test.len()), (10, 30));
            }
        }
        let err = StratifiedKFold {
            k: 3,
            shuffle_seed: None,
        }
        .splits(&[0.0, 0.0, 1.0, 1.0])
        .unwrap_err();
        assert!(err.to_string().contains("every class"), "{err}");
    }

    #[test]
    fn group_kfold_balances_whole_groups() {
        // Group sizes a 4, b 3, c 2, d 1. Largest first into the lightest fold:
        // a -> 0 (4, 0), b -> 1 (4, 3), c -> 1 (4, 5), d -> 0 (5, 5).
        let groups = ["a", "b", "c", "a", "b", "d", "a", "c", "b", "a"];
        let folds = GroupKFold { k: 2 }.splits(&groups).unwrap();
        assert_folds(&folds, groups.len());
        let in_fold = |f: usize| -> Vec<&str> {
            let mut g: Vec<&str> = folds[f].test.iter().map(|&i| groups[i]).collect();
            g.sort_unstable();
            g.dedup();
            g
        };
        assert_eq!(in_fold(0), vec!["a", "d"]);
        assert_eq!(in_fold(1), vec!["b", "c"]);
        let err = GroupKFold { k: 5 }.splits(&groups).unwrap_err();
        assert!(err.to_string().contains("4 distinct groups"), "{err}");
    }

    #[test]
    fn time_series_split_matches_sklearn() {
        // n = 10, 3 splits: test_size = 10 // 4 = 2, tests start at 4, 6, 8.
        let folds = TimeSeriesSplit {
            n_splits: 3,
            gap: 0,
        }
        .splits(10)
        .unwrap();
        let trains: Vec<Vec<usize>> = folds.iter().map(|f| f.train.clone()).collect();
        let tests: Vec<Vec<usize>> = folds.iter().map(|f| f.test.clone()).collect();
        assert_eq!(
            trains,
            vec![
                (0..4).collect::<Vec<_>>(),
                (0..6).collect(),
                (0..8).collect()
            ]
        );
        assert_eq!(tests, vec![vec![4, 5], vec![6, 7], vec![8, 9]]);
        // gap = 1 drops the row just before each test block.
        let folds = TimeSeriesSplit {
            n_splits: 3,
            gap: 1,
        }
        .splits(10)
        .unwrap();
        let train_ends: Vec<usize> = folds.iter().map(|f| f.train.len()).collect();
        assert_eq!(train_ends, vec![3, 5, 7]);
        assert_eq!(folds[0].test, vec![4, 5]);
        // sklearn's docstring example: n = 6, 5 splits -> train [0], test [1], ... .
        let folds = TimeSeriesSplit {
            n_splits: 5,
            gap: 0,
        }
        .splits(6)
        .unwrap();
        assert_eq!(
            folds[0],
            Split {
                train: vec![0],
                test: vec![1]
            }
        );
        assert_eq!(
            folds[4],
            Split {
                train: vec![0, 1, 2, 3, 4],
                test: vec![5]
            }
        );
        assert!(TimeSeriesSplit {
            n_splits: 3,
            gap: 0
        }
        .splits(3)
        .is_err());
        // 10 - 4 - 3 * 2 = 0 training rows.
        assert!(TimeSeriesSplit {
            n_splits: 3,
            gap: 4
        }
        .splits(10)
        .is_err());
        assert!(TimeSeriesSplit {
            n_splits: 1,
            gap: 0
        }
        .splits(10)
        .is_err());
    }
}
