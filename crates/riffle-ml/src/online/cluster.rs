//! Clustering on a stream (River's `cluster.KMeans`): each record moves its closest center
//! towards itself by a fixed share, so old records fade and the centers follow drift.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// K-means learned one record at a time: the closest center (Minkowski distance of order
/// `p`) moves `halflife` of the way to the record. Centers start as normal draws with mean
/// `mu` and deviation `sigma`, one feature at a time as features appear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineKMeans {
    /// Clusters.
    pub n_clusters: usize,
    /// Share of the way a center moves towards each record it wins (the decay of old
    /// records).
    pub halflife: f64,
    /// Mean of the initial centers.
    pub mu: f64,
    /// Deviation of the initial centers.
    pub sigma: f64,
    /// Order of the distance.
    pub p: f64,
    /// Seed of the initial centers.
    pub seed: u64,
    centers: Vec<Vec<f64>>,
    draws: u64,
}

impl OnlineKMeans {
    /// `n_clusters` clusters moving `halflife` of the way, River's other defaults.
    pub fn new(n_clusters: usize, halflife: f64, seed: u64) -> Self {
        OnlineKMeans {
            n_clusters: n_clusters.max(1),
            halflife,
            mu: 0.0,
            sigma: 1.0,
            p: 2.0,
            seed,
            centers: Vec::new(),
            draws: 0,
        }
    }

    fn grow(&mut self, dims: usize) {
        if self.centers.is_empty() {
            self.centers = vec![Vec::new(); self.n_clusters];
        }
        if self.centers[0].len() >= dims {
            return;
        }
        for center in &mut self.centers {
            while center.len() < dims {
                self.draws += 1;
                let mut rng = ChaCha8Rng::seed_from_u64(
                    self.seed ^ self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let z: f64 = StandardNormal.sample(&mut rng);
                center.push(self.mu + self.sigma * z);
            }
        }
    }

    /// The centers (empty before the first record).
    pub fn centers(&self) -> &[Vec<f64>] {
        &self.centers
    }

    /// The closest center to `x` (ties to the lower index); 0 before the first record.
    pub fn predict_one(&self, x: &[f64]) -> usize {
        let distance = |c: &Vec<f64>| -> f64 {
            let dims = c.len().max(x.len());
            (0..dims)
                .map(|k| {
                    let a = c.get(k).copied().unwrap_or(0.0);
                    let b = x.get(k).copied().unwrap_or(0.0);
                    (a - b).abs().powf(self.p)
                })
                .sum()
        };
        let mut best = (0, f64::INFINITY);
        for (i, c) in self.centers.iter().enumerate() {
            let d = distance(c);
            if d < best.1 {
                best = (i, d);
            }
        }
        best.0
    }

    /// Moves the closest center towards `x`; returns its index.
    pub fn learn_one(&mut self, x: &[f64]) -> usize {
        self.grow(x.len());
        let closest = self.predict_one(x);
        let step = self.halflife;
        for (c, v) in self.centers[closest].iter_mut().zip(x) {
            *c += step * (v - *c);
        }
        closest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn finds_three_blobs_and_follows_one_that_moves() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let blobs = [[-5.0, 0.0], [0.0, 5.0], [5.0, 0.0]];
        let mut km = OnlineKMeans::new(3, 0.05, 4);
        let point = |b: [f64; 2], rng: &mut ChaCha8Rng| {
            [
                b[0] + rng.random::<f64>() - 0.5,
                b[1] + rng.random::<f64>() - 0.5,
            ]
        };
        for i in 0..6000 {
            let p = point(blobs[i % 3], &mut rng);
            km.learn_one(&p);
        }
        let mut found: Vec<usize> = blobs.iter().map(|b| km.predict_one(b)).collect();
        found.sort_unstable();
        found.dedup();
        assert_eq!(found.len(), 3, "{:?}", km.centers());
        for b in blobs {
            let c = &km.centers()[km.predict_one(&b)];
            assert!(
                (c[0] - b[0]).abs() < 0.5 && (c[1] - b[1]).abs() < 0.5,
                "{c:?} vs {b:?}"
            );
        }
        // The third blob moves to (5, -5): its center follows.
        for _ in 0..3000 {
            let p = point([5.0, -5.0], &mut rng);
            km.learn_one(&p);
        }
        let c = &km.centers()[km.predict_one(&[5.0, -5.0])];
        assert!((c[1] + 5.0).abs() < 0.5, "{c:?}");
    }
}
