//! Gaussian naive Bayes learned one record at a time (River's `naive_bayes.GaussianNB`):
//! per class, a count and each feature's running mean and variance.

use serde::{Deserialize, Serialize};

use super::OnlineClassifier;

/// River adds this to every density before its logarithm.
const PDF_EPS: f64 = 10e-10;

/// The probability of class 1 from the two classes' joint log-likelihoods (`None`: a class
/// not seen yet; one half when neither is).
fn class_one_probability(zero: Option<f64>, one: Option<f64>) -> f64 {
    match (zero, one) {
        (Some(zero), Some(one)) => 1.0 / (1.0 + (zero - one).exp()),
        (None, Some(_)) => 1.0,
        (Some(_), None) => 0.0,
        (None, None) => 0.5,
    }
}

/// Running mean and sum of squared deviations of one feature in one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn update(&mut self, x: f64) {
        self.n += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.n;
        self.m2 += delta * (x - self.mean);
    }

    /// `ln(EPS + pdf(x))` of the Gaussian with this mean and population variance (the
    /// density is 0 while the variance is 0).
    fn log_density(&self, x: f64) -> f64 {
        let variance = if self.n > 0.0 { self.m2 / self.n } else { 0.0 };
        let pdf = if variance > 0.0 {
            (-(x - self.mean).powi(2) / (2.0 * variance)).exp()
                / (std::f64::consts::TAU * variance).sqrt()
        } else {
            0.0
        };
        (PDF_EPS + pdf).ln()
    }
}

/// Gaussian naive Bayes for labels 0 and 1: `P(c) Π pdf_c(x_j)`, with each class's
/// per-feature normal distribution estimated from the records of that class seen so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineGaussianNb {
    /// Records seen per class (index = label).
    counts: [f64; 2],
    /// Per class, per feature.
    moments: [Vec<Moments>; 2],
}

impl OnlineGaussianNb {
    /// `ln P(c) + Σ ln pdf_c(x_j)`, or `None` for a class not seen yet.
    fn joint_log_likelihood(&self, class: usize, x: &[f64]) -> Option<f64> {
        let count = self.counts[class];
        if count == 0.0 {
            return None;
        }
        let prior = (count / (self.counts[0] + self.counts[1])).ln();
        let features = &self.moments[class];
        Some(
            prior
                + x.iter()
                    .enumerate()
                    .map(|(j, v)| features.get(j).map_or(PDF_EPS.ln(), |m| m.log_density(*v)))
                    .sum::<f64>(),
        )
    }
}

impl OnlineClassifier for OnlineGaussianNb {
    fn predict_proba_one(&self, x: &[f64]) -> f64 {
        class_one_probability(
            self.joint_log_likelihood(0, x),
            self.joint_log_likelihood(1, x),
        )
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        let class = usize::from(y == 1.0);
        self.counts[class] += 1.0;
        let features = &mut self.moments[class];
        if features.len() < x.len() {
            features.resize(x.len(), Moments::default());
        }
        for (m, v) in features.iter_mut().zip(x) {
            m.update(*v);
        }
    }
}

/// Multinomial naive Bayes for counts (River's `naive_bayes.MultinomialNB`): per class, the
/// total count of each feature; `P(f | c) = (count(f, c) + alpha) / (total(c) + alpha n)`
/// with `n` the features seen, and a record scores `ln P(c) + Σ x_f ln P(f | c)`. Features
/// must be counts or other non-negative weights (term frequencies, one-hot columns).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineMultinomialNb {
    /// Additive (Laplace) smoothing.
    pub alpha: f64,
    counts: [f64; 2],
    totals: [f64; 2],
    /// Per feature, per class.
    features: Vec<[f64; 2]>,
}

impl Default for OnlineMultinomialNb {
    fn default() -> Self {
        OnlineMultinomialNb {
            alpha: 1.0,
            counts: [0.0; 2],
            totals: [0.0; 2],
            features: Vec::new(),
        }
    }
}

impl OnlineMultinomialNb {
    fn joint_log_likelihood(&self, class: usize, x: &[f64]) -> Option<f64> {
        if self.counts[class] == 0.0 {
            return None;
        }
        let prior = (self.counts[class] / (self.counts[0] + self.counts[1])).ln();
        let terms = self.features.len().max(x.len()) as f64;
        let den = self.totals[class] + self.alpha * terms;
        let likelihood: f64 = x
            .iter()
            .enumerate()
            .map(|(f, v)| {
                let count = self.features.get(f).map_or(0.0, |c| c[class]);
                v * ((count + self.alpha) / den).ln()
            })
            .sum();
        Some(prior + likelihood)
    }
}

impl OnlineClassifier for OnlineMultinomialNb {
    fn predict_proba_one(&self, x: &[f64]) -> f64 {
        class_one_probability(
            self.joint_log_likelihood(0, x),
            self.joint_log_likelihood(1, x),
        )
    }

    fn learn_one(&mut self, x: &[f64], y: f64) {
        let class = usize::from(y == 1.0);
        self.counts[class] += 1.0;
        if self.features.len() < x.len() {
            self.features.resize(x.len(), [0.0; 2]);
        }
        for (f, v) in self.features.iter_mut().zip(x) {
            f[class] += v;
            self.totals[class] += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_gaussian_blobs_and_gives_calibrated_looking_probabilities() {
        let mut nb = OnlineGaussianNb::default();
        for i in 0..200 {
            let jitter = (i % 10) as f64 / 10.0 - 0.45;
            nb.learn_one(&[0.0 + jitter, 1.0 - jitter], 0.0);
            nb.learn_one(&[3.0 + jitter, 1.0 + jitter], 1.0);
        }
        assert!(nb.predict_proba_one(&[0.1, 1.0]) < 0.01);
        assert!(nb.predict_proba_one(&[2.9, 1.1]) > 0.99);
        let middle = nb.predict_proba_one(&[1.5, 1.0]);
        assert!((0.0..=1.0).contains(&middle));
    }

    #[test]
    fn a_feature_constant_within_a_class_has_zero_density_there_as_in_river() {
        let mut nb = OnlineGaussianNb::default();
        for i in 0..50 {
            nb.learn_one(&[1.0], 0.0);
            nb.learn_one(&[f64::from(i % 5)], 1.0);
        }
        // Class 0's variance is 0, so even its own value gets only the epsilon density.
        assert!(nb.predict_proba_one(&[1.0]) > 0.99);
    }

    #[test]
    fn multinomial_nb_tells_two_vocabularies_apart() {
        let mut nb = OnlineMultinomialNb::default();
        for i in 0..100 {
            let k = f64::from(i % 3);
            nb.learn_one(&[3.0 + k, 1.0, 0.0, 0.0], 0.0);
            nb.learn_one(&[0.0, 1.0, 2.0 + k, 4.0], 1.0);
        }
        assert!(nb.predict_proba_one(&[4.0, 1.0, 0.0, 0.0]) < 0.01);
        assert!(nb.predict_proba_one(&[0.0, 0.0, 3.0, 3.0]) > 0.99);
    }

    #[test]
    fn predicts_the_only_class_seen() {
        let mut nb = OnlineGaussianNb::default();
        assert_eq!(nb.predict_proba_one(&[1.0]), 0.5);
        nb.learn_one(&[1.0], 1.0);
        assert_eq!(nb.predict_one(&[5.0]), 1.0);
    }
}
