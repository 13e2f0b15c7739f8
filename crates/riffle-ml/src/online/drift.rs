//! Concept-drift detectors fed with one number per record (a model's error, a feature): each
//! says when the stream's distribution has changed, so a model can be reset or replaced.
//! [`Adwin`], [`PageHinkley`] and [`Ddm`] follow River's `drift` module and its defaults.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// A detector that watches one value per record.
pub trait DriftDetector {
    /// Adds `x`; true when a drift is detected at this value (the detector then starts over
    /// on its own, as River's do).
    fn update(&mut self, x: f64) -> bool;
}

/// ADWIN (Bifet and Gavaldà 2007): an adaptive window of recent values, kept compressed in an
/// exponential histogram; whenever two sub-windows have means further apart than the
/// Hoeffding-style bound for confidence `delta`, the older part is dropped and a drift is
/// reported. Checked every `clock` values once `grace_period` have been seen. As River's, the
/// detector starts over (an empty window) with the value after a drift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adwin {
    /// Confidence of the cut test.
    pub delta: f64,
    /// Values between two checks.
    pub clock: u64,
    /// Buckets per row before two are merged.
    pub max_buckets: usize,
    /// Least values on each side of a cut.
    pub min_window_length: u64,
    /// Values before the first check.
    pub grace_period: u64,
    /// Row `i` holds buckets of `2^i` values, oldest first, as `(total, variance)`.
    rows: Vec<VecDeque<(f64, f64)>>,
    total: f64,
    variance: f64,
    width: u64,
    tick: u64,
    detections: u64,
    /// A drift was reported at the last value: start over at the next.
    restart: bool,
}

impl Default for Adwin {
    fn default() -> Self {
        Adwin {
            delta: 0.002,
            clock: 32,
            max_buckets: 5,
            min_window_length: 5,
            grace_period: 10,
            rows: Vec::new(),
            total: 0.0,
            variance: 0.0,
            width: 0,
            tick: 0,
            detections: 0,
            restart: false,
        }
    }
}

impl Adwin {
    /// Values in the current window.
    pub fn width(&self) -> u64 {
        self.width
    }

    /// The mean of the current window.
    pub fn estimation(&self) -> f64 {
        if self.width == 0 {
            0.0
        } else {
            self.total / self.width as f64
        }
    }

    /// Drifts detected so far.
    pub fn detections(&self) -> u64 {
        self.detections
    }

    fn insert(&mut self, x: f64) {
        self.width += 1;
        if self.width > 1 {
            let w = self.width as f64;
            let previous_mean = self.total / (w - 1.0);
            self.variance += (w - 1.0) * (x - previous_mean).powi(2) / w;
        }
        self.total += x;
        if self.rows.is_empty() {
            self.rows.push(VecDeque::new());
        }
        self.rows[0].push_back((x, 0.0));
        // Merge the two oldest buckets of a full row into one of the next row.
        let mut row = 0;
        while row < self.rows.len() && self.rows[row].len() > self.max_buckets {
            let size = (1u64 << row) as f64;
            let (t1, v1) = self.rows[row].pop_front().unwrap_or_default();
            let (t2, v2) = self.rows[row].pop_front().unwrap_or_default();
            let (m1, m2) = (t1 / size, t2 / size);
            let merged = (
                t1 + t2,
                v1 + v2 + size * size * (m1 - m2).powi(2) / (2.0 * size),
            );
            if row + 1 == self.rows.len() {
                self.rows.push(VecDeque::new());
            }
            self.rows[row + 1].push_back(merged);
            row += 1;
        }
    }

    /// Drops the oldest bucket; returns how many values it held.
    fn drop_oldest(&mut self) -> u64 {
        let Some(last) = self.rows.len().checked_sub(1) else {
            return 0;
        };
        let n = 1u64 << last;
        let (total, variance) = self.rows[last].pop_front().unwrap_or_default();
        self.width -= n;
        self.total -= total;
        if self.width > 0 {
            let (nf, wf) = (n as f64, self.width as f64);
            let mean_window = self.total / wf;
            self.variance -= variance + nf * wf * (total / nf - mean_window).powi(2) / (nf + wf);
        } else {
            self.variance = 0.0;
        }
        if self.rows[last].is_empty() {
            self.rows.pop();
        }
        n
    }

    fn cut(&self, n0: f64, n1: f64, mean_gap: f64) -> bool {
        let w = self.width as f64;
        let delta_prime = (2.0 * w.ln() / self.delta).ln();
        let min = self.min_window_length as f64;
        let m = 1.0 / (n0 - min + 1.0) + 1.0 / (n1 - min + 1.0);
        let epsilon =
            (2.0 * m * (self.variance / w) * delta_prime).sqrt() + 2.0 / 3.0 * delta_prime * m;
        mean_gap.abs() > epsilon
    }

    /// Looks for a cut, oldest buckets first; drops the part before it. True if one was found.
    fn shrink_once(&mut self) -> bool {
        let (mut n0, mut u0) = (0.0, 0.0);
        let (mut n1, mut u1) = (self.width as f64, self.total);
        let min = self.min_window_length as f64;
        for row in (0..self.rows.len()).rev() {
            let size = (1u64 << row) as f64;
            for (k, (total, _)) in self.rows[row].iter().enumerate() {
                n0 += size;
                n1 -= size;
                u0 += total;
                u1 -= total;
                if row == 0 && k + 1 == self.rows[0].len() {
                    return false;
                }
                if n0 >= min && n1 >= min && self.cut(n0, n1, u1 / n1 - u0 / n0) {
                    self.drop_oldest();
                    return true;
                }
            }
        }
        false
    }
}

impl DriftDetector for Adwin {
    fn update(&mut self, x: f64) -> bool {
        if self.restart {
            self.rows.clear();
            self.total = 0.0;
            self.variance = 0.0;
            self.width = 0;
            self.tick = 0;
            self.restart = false;
        }
        self.insert(x);
        self.tick += 1;
        let mut detected = false;
        if self.tick.is_multiple_of(self.clock) && self.width > self.grace_period {
            while self.width > 0 && self.shrink_once() {
                detected = true;
            }
        }
        if detected {
            self.detections += 1;
            self.restart = true;
        }
        detected
    }
}

/// The Page-Hinkley test: cumulative deviations of each value from the running mean (minus
/// a tolerance `delta`, with fading factor `alpha`); a drift when they rise more than
/// `threshold` above their least value (or fall below their greatest), after
/// `min_instances` values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageHinkley {
    /// Values before a drift may be reported.
    pub min_instances: u64,
    /// Tolerated deviation.
    pub delta: f64,
    /// Drift threshold.
    pub threshold: f64,
    /// Fading factor of the sums.
    pub alpha: f64,
    count: u64,
    mean: f64,
    sum_up: f64,
    sum_down: f64,
    min_up: f64,
    max_down: f64,
}

impl Default for PageHinkley {
    fn default() -> Self {
        PageHinkley {
            min_instances: 30,
            delta: 0.005,
            threshold: 50.0,
            alpha: 1.0 - 0.0001,
            count: 0,
            mean: 0.0,
            sum_up: 0.0,
            sum_down: 0.0,
            min_up: f64::INFINITY,
            max_down: -1.0,
        }
    }
}

impl PageHinkley {
    fn reset(&mut self) {
        *self = PageHinkley {
            min_instances: self.min_instances,
            delta: self.delta,
            threshold: self.threshold,
            alpha: self.alpha,
            ..PageHinkley::default()
        };
    }
}

impl DriftDetector for PageHinkley {
    fn update(&mut self, x: f64) -> bool {
        self.count += 1;
        self.mean += (x - self.mean) / self.count as f64;
        let deviation = x - self.mean;
        self.sum_up = self.alpha * self.sum_up + deviation - self.delta;
        self.sum_down = self.alpha * self.sum_down + deviation + self.delta;
        self.min_up = self.min_up.min(self.sum_up);
        self.max_down = self.max_down.max(self.sum_down);
        let detected = self.count >= self.min_instances
            && (self.sum_up - self.min_up > self.threshold
                || self.max_down - self.sum_down > self.threshold);
        if detected {
            self.reset();
        }
        detected
    }
}

/// The drift detection method (Gama et al. 2004) for a stream of 0/1 errors: with `p` the
/// error rate so far and `s` its standard error, a drift when `p + s` exceeds its least value
/// `p_min + s_min` by `drift_threshold` standard errors (a warning at `warning_threshold`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ddm {
    /// Values before a drift may be reported.
    pub warm_start: u64,
    /// Standard errors for a warning.
    pub warning_threshold: f64,
    /// Standard errors for a drift.
    pub drift_threshold: f64,
    count: u64,
    p: f64,
    p_min: f64,
    s_min: f64,
    ps_min: f64,
    warning: bool,
}

impl Default for Ddm {
    fn default() -> Self {
        Ddm {
            warm_start: 30,
            warning_threshold: 2.0,
            drift_threshold: 3.0,
            count: 0,
            p: 0.0,
            p_min: 0.0,
            s_min: 0.0,
            ps_min: f64::INFINITY,
            warning: false,
        }
    }
}

impl Ddm {
    /// True while the error rate is in the warning zone.
    pub fn warning(&self) -> bool {
        self.warning
    }
}

impl DriftDetector for Ddm {
    fn update(&mut self, x: f64) -> bool {
        self.count += 1;
        let n = self.count as f64;
        self.p += (x - self.p) / n;
        let s = (self.p * (1.0 - self.p) / n).sqrt();
        if self.count <= self.warm_start {
            return false;
        }
        if self.p + s <= self.ps_min {
            self.p_min = self.p;
            self.s_min = s;
            self.ps_min = self.p + s;
        }
        self.warning = self.p + s > self.p_min + self.warning_threshold * self.s_min;
        let detected = self.p + s > self.p_min + self.drift_threshold * self.s_min;
        if detected {
            *self = Ddm {
                warm_start: self.warm_start,
                warning_threshold: self.warning_threshold,
                drift_threshold: self.drift_threshold,
                ..Ddm::default()
            };
        }
        detected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Bernoulli values: rate `before` for `change` values, then `after`.
    fn errors(n: usize, change: usize, before: f64, after: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let p = if i < change { before } else { after };
                f64::from(rng.random::<f64>() < p)
            })
            .collect()
    }

    /// Indices at which `detector` reports a drift.
    fn detections(detector: &mut dyn DriftDetector, values: &[f64]) -> Vec<usize> {
        (0..values.len())
            .filter(|i| detector.update(values[*i]))
            .collect()
    }

    #[test]
    fn every_detector_finds_a_jump_in_the_error_rate_soon_after_it() {
        let values = errors(6000, 3000, 0.1, 0.6, 5);
        let mut adwin = Adwin::default();
        let mut ph = PageHinkley::default();
        let mut ddm = Ddm::default();
        // (detector, false alarms allowed before the change): DDM compares with the least
        // error rate seen, which a lucky early stretch makes low; it raised one false alarm
        // on this stream (the rule is River's, line for line).
        for (name, detector, false_alarms) in [
            ("adwin", &mut adwin as &mut dyn DriftDetector, 0),
            ("page-hinkley", &mut ph, 0),
            ("ddm", &mut ddm, 1),
        ] {
            let found = detections(detector, &values);
            let before = found.iter().filter(|i| **i < 3000).count();
            assert!(before <= false_alarms, "{name}: {found:?}");
            assert!(
                found.iter().any(|i| (3000..3300).contains(i)),
                "{name}: {found:?}"
            );
        }
    }

    #[test]
    fn adwin_keeps_a_stationary_stream_whole_and_shrinks_to_the_new_mean_after_a_shift() {
        let stationary = errors(5000, 5000, 0.3, 0.3, 8);
        let mut adwin = Adwin::default();
        assert!(detections(&mut adwin, &stationary).is_empty());
        assert_eq!(adwin.width(), 5000);
        assert!((adwin.estimation() - 0.3).abs() < 0.02);
        let shifted = errors(2000, 0, 0.0, 0.8, 9);
        detections(&mut adwin, &shifted);
        assert!(adwin.detections() >= 1);
        assert!(adwin.width() < 2100, "{}", adwin.width());
        assert!(
            (adwin.estimation() - 0.8).abs() < 0.05,
            "{}",
            adwin.estimation()
        );
    }
}
