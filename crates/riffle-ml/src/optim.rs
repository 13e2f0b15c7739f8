//! Minimisers for smooth objectives: L-BFGS with a strong-Wolfe line search, and gradient
//! descent with Armijo backtracking and an optional L1 proximal step.
//!
//! Objectives are evaluated on the whole (bounded) training table at once; they parallelise
//! their own sums over rows (see [`crate::linear`]).

/// A differentiable function of a parameter vector.
pub trait Objective {
    /// Number of parameters.
    fn dimension(&self) -> usize;
    /// The value at `w`, with the gradient written into `grad`.
    fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64;
}

/// When a minimiser stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stopping {
    /// At most this many iterations.
    pub max_iter: usize,
    /// Stop when the largest gradient component (or, for proximal steps, the largest change of
    /// a parameter) is at most this.
    pub tol: f64,
}

/// How a minimisation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The parameters found.
    pub w: Vec<f64>,
    /// The objective's value there.
    pub value: f64,
    /// Iterations used.
    pub iterations: usize,
    /// Whether the tolerance was met (otherwise `max_iter` or a failed line search ended it).
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Limited-memory BFGS (Nocedal & Wright, algorithm 7.5) from `w0`, keeping `memory` pairs.
///
/// ```
/// use riffle_ml::optim::{lbfgs, Objective, Stopping};
/// struct Bowl;
/// impl Objective for Bowl {
///     fn dimension(&self) -> usize { 2 }
///     fn evaluate(&self, w: &[f64], g: &mut [f64]) -> f64 {
///         g[0] = 2.0 * (w[0] - 3.0);
///         g[1] = 20.0 * (w[1] + 1.0);
///         (w[0] - 3.0).powi(2) + 10.0 * (w[1] + 1.0).powi(2)
///     }
/// }
/// let m = lbfgs(&Bowl, vec![0.0, 0.0], 10, Stopping { max_iter: 100, tol: 1e-10 });
/// assert!(m.converged && (m.w[0] - 3.0).abs() < 1e-8 && (m.w[1] + 1.0).abs() < 1e-8);
/// ```
pub fn lbfgs(f: &dyn Objective, w0: Vec<f64>, memory: usize, stop: Stopping) -> Minimum {
    let n = w0.len();
    let mut w = w0;
    let mut g = vec![0.0; n];
    let mut value = f.evaluate(&w, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho_hist: Vec<f64> = Vec::new();
    let mut direction = vec![0.0; n];
    let mut alpha = vec![0.0; memory.max(1)];
    for iteration in 0..stop.max_iter {
        if max_abs(&g) <= stop.tol {
            return Minimum {
                w,
                value,
                iterations: iteration,
                converged: true,
            };
        }
        // Two-loop recursion: direction = -H g.
        direction.copy_from_slice(&g);
        for k in (0..s_hist.len()).rev() {
            alpha[k] = rho_hist[k] * dot(&s_hist[k], &direction);
            for (d, y) in direction.iter_mut().zip(&y_hist[k]) {
                *d -= alpha[k] * y;
            }
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / max_abs(&g).max(1.0),
        };
        direction.iter_mut().for_each(|d| *d *= gamma);
        for k in 0..s_hist.len() {
            let beta = rho_hist[k] * dot(&y_hist[k], &direction);
            for (d, s) in direction.iter_mut().zip(&s_hist[k]) {
                *d += s * (alpha[k] - beta);
            }
        }
        direction.iter_mut().for_each(|d| *d = -*d);
        let mut slope = dot(&g, &direction);
        if slope >= 0.0 {
            // Not a descent direction (curvature information went stale): restart from
            // steepest descent.
            s_hist.clear();
            y_hist.clear();
            rho_hist.clear();
            direction.iter_mut().zip(&g).for_each(|(d, gi)| *d = -gi);
            slope = -dot(&g, &g);
        }
        let Some((step, new_value, new_w, new_g)) =
            wolfe_line_search(f, &w, value, &g, &direction, slope)
        else {
            return Minimum {
                w,
                value,
                iterations: iteration,
                converged: false,
            };
        };
        let s: Vec<f64> = direction.iter().map(|d| d * step).collect();
        let y: Vec<f64> = new_g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        let relative_change = (value - new_value).abs() / value.abs().max(new_value.abs()).max(1.0);
        w = new_w;
        g = new_g;
        value = new_value;
        if sy > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            if s_hist.len() == memory.max(1) {
                s_hist.remove(0);
                y_hist.remove(0);
                rho_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
            rho_hist.push(1.0 / sy);
        }
        if relative_change <= f64::EPSILON * 10.0 {
            return Minimum {
                w,
                value,
                iterations: iteration + 1,
                converged: true,
            };
        }
    }
    let converged = max_abs(&g) <= stop.tol;
    Minimum {
        w,
        value,
        iterations: stop.max_iter,
        converged,
    }
}

/// A step along `d` satisfying the strong Wolfe conditions (Nocedal & Wright, algorithms
/// 3.5 and 3.6, with safeguarded cubic interpolation). `None` when no acceptable step is
/// found (the objective is flat to rounding along `d`).
fn wolfe_line_search(
    f: &dyn Objective,
    w: &[f64],
    f0: f64,
    _g0: &[f64],
    d: &[f64],
    slope0: f64,
) -> Option<(f64, f64, Vec<f64>, Vec<f64>)> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let n = w.len();
    let mut trial = vec![0.0; n];
    let mut grad = vec![0.0; n];
    let eval = |step: f64, trial: &mut Vec<f64>, grad: &mut Vec<f64>| {
        for i in 0..n {
            trial[i] = w[i] + step * d[i];
        }
        let v = f.evaluate(trial, grad);
        (v, dot(grad, d))
    };
    let (mut lo, mut f_lo, mut slope_lo) = (0.0, f0, slope0);
    let mut step = 1.0;
    let mut hi: Option<(f64, f64, f64)> = None;
    for _ in 0..40 {
        let (v, slope) = eval(step, &mut trial, &mut grad);
        if !v.is_finite() {
            hi = Some((step, f64::INFINITY, 0.0));
        } else if v > f0 + C1 * step * slope0 || (hi.is_none() && lo > 0.0 && v >= f_lo) {
            hi = Some((step, v, slope));
        } else if slope.abs() <= -C2 * slope0 {
            return Some((step, v, trial, grad));
        } else if slope >= 0.0 {
            hi = Some((lo, f_lo, slope_lo));
            lo = step;
            f_lo = v;
            slope_lo = slope;
        } else {
            lo = step;
            f_lo = v;
            slope_lo = slope;
        }
        step = match hi {
            // Still bracketing: extrapolate.
            None => step * 2.0,
            Some((h, f_h, slope_h)) => {
                let (a, b) = (lo.min(h), lo.max(h));
                let cubic = cubic_minimiser(lo, f_lo, slope_lo, h, f_h, slope_h);
                let guard = 0.1 * (b - a);
                match cubic {
                    Some(c) if c > a + guard && c < b - guard => c,
                    _ => 0.5 * (a + b),
                }
            }
        };
        if let Some((h, _, _)) = hi {
            if (h - lo).abs() <= 1e-16 * lo.abs().max(1.0) {
                break;
            }
        }
    }
    // No step met both conditions: accept the best sufficient-decrease step if any.
    if lo > 0.0 {
        let (v, _) = eval(lo, &mut trial, &mut grad);
        return Some((lo, v, trial, grad));
    }
    None
}

/// The minimiser of the cubic interpolating `(a, fa, da)` and `(b, fb, db)`.
fn cubic_minimiser(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> Option<f64> {
    if !fb.is_finite() {
        return None;
    }
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    if disc < 0.0 {
        return None;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let denom = db - da + 2.0 * d2;
    if denom == 0.0 {
        return None;
    }
    let c = b - (b - a) * (db + d2 - d1) / denom;
    c.is_finite().then_some(c)
}

/// Proximal gradient descent with Armijo backtracking: minimises `f(w) + l1 * |w[..penalised]|_1`
/// (the first `penalised` parameters carry the L1 term; an intercept after them does not).
/// With `l1 = 0` this is plain gradient descent.
pub fn proximal_gradient(
    f: &dyn Objective,
    w0: Vec<f64>,
    l1: f64,
    penalised: usize,
    stop: Stopping,
) -> Minimum {
    let n = w0.len();
    let mut w = w0;
    let mut g = vec![0.0; n];
    let mut value = f.evaluate(&w, &mut g);
    let mut step = 1.0;
    let mut trial = vec![0.0; n];
    let mut trial_g = vec![0.0; n];
    for iteration in 0..stop.max_iter {
        let mut accepted = false;
        for _ in 0..60 {
            for i in 0..n {
                let z = w[i] - step * g[i];
                trial[i] = if i < penalised {
                    soft_threshold(z, step * l1)
                } else {
                    z
                };
            }
            let v = f.evaluate(&trial, &mut trial_g);
            // Sufficient decrease for the smooth part along the proximal step.
            let diff: f64 = trial.iter().zip(&w).map(|(a, b)| (a - b) * (a - b)).sum();
            let linear: f64 = trial
                .iter()
                .zip(&w)
                .zip(&g)
                .map(|((a, b), gi)| (a - b) * gi)
                .sum();
            if v.is_finite() && v <= value + linear + diff / (2.0 * step) {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            return Minimum {
                w,
                value,
                iterations: iteration,
                converged: false,
            };
        }
        let change = trial
            .iter()
            .zip(&w)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        std::mem::swap(&mut w, &mut trial);
        std::mem::swap(&mut g, &mut trial_g);
        value = f.evaluate(&w, &mut g);
        if change / step.max(f64::MIN_POSITIVE) <= stop.tol || change <= 1e-15 {
            return Minimum {
                w,
                value,
                iterations: iteration + 1,
                converged: true,
            };
        }
        // Let the step grow again after a run of easy iterations.
        step *= 1.5;
    }
    Minimum {
        w,
        value,
        iterations: stop.max_iter,
        converged: false,
    }
}

/// `sign(z) * max(|z| - t, 0)`: the proximal operator of `t * |.|`.
pub fn soft_threshold(z: f64, t: f64) -> f64 {
    if z > t {
        z - t
    } else if z < -t {
        z + t
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's banana: minimum 0 at (1, 1), badly conditioned.
    struct Rosenbrock;

    impl Objective for Rosenbrock {
        fn dimension(&self) -> usize {
            2
        }
        fn evaluate(&self, w: &[f64], g: &mut [f64]) -> f64 {
            let (x, y) = (w[0], w[1]);
            g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
            g[1] = 200.0 * (y - x * x);
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
        }
    }

    #[test]
    fn lbfgs_finds_the_rosenbrock_minimum() {
        let m = lbfgs(
            &Rosenbrock,
            vec![-1.2, 1.0],
            10,
            Stopping {
                max_iter: 200,
                tol: 1e-9,
            },
        );
        assert!(m.converged, "{m:?}");
        assert!(
            (m.w[0] - 1.0).abs() < 1e-6 && (m.w[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    /// (w - c)^2 / 2 per coordinate: with an L1 weight t the minimiser is soft_threshold(c, t).
    struct Quadratic(Vec<f64>);

    impl Objective for Quadratic {
        fn dimension(&self) -> usize {
            self.0.len()
        }
        fn evaluate(&self, w: &[f64], g: &mut [f64]) -> f64 {
            let mut v = 0.0;
            for i in 0..w.len() {
                g[i] = w[i] - self.0[i];
                v += 0.5 * g[i] * g[i];
            }
            v
        }
    }

    #[test]
    fn the_proximal_step_zeroes_small_coefficients_exactly() {
        let f = Quadratic(vec![3.0, 0.5, -2.0]);
        let m = proximal_gradient(
            &f,
            vec![0.0; 3],
            1.0,
            3,
            Stopping {
                max_iter: 500,
                tol: 1e-12,
            },
        );
        assert!(m.converged);
        assert!(
            (m.w[0] - 2.0).abs() < 1e-9 && m.w[1] == 0.0 && (m.w[2] + 1.0).abs() < 1e-9,
            "{m:?}"
        );
    }
}
