//! The few dense linear-algebra kernels the estimators need, on faer: Gram matrices,
//! symmetric solves and symmetric eigendecompositions. Matrices cross this boundary as
//! row-major `f64` slices so the rest of the crate does not depend on faer's types.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, MatRef, Par, Side};

use crate::data::Matrix;

/// `XᵀX` (`d × d`, row-major) of the rows of `x`, computed in parallel.
pub fn gram(x: &Matrix) -> Vec<f64> {
    let d = x.cols();
    let view = MatRef::from_row_major_slice(x.as_slice(), x.rows(), d);
    let mut out = Mat::<f64>::zeros(d, d);
    matmul(
        &mut out,
        Accum::Replace,
        view.transpose(),
        view,
        1.0,
        Par::rayon(0),
    );
    row_major(out.as_ref())
}

/// `Xᵀv` for the rows of `x`.
pub fn transpose_times(x: &Matrix, v: &[f64]) -> Vec<f64> {
    let d = x.cols();
    let view = MatRef::from_row_major_slice(x.as_slice(), x.rows(), d);
    let rhs = MatRef::from_column_major_slice(v, v.len(), 1);
    let mut out = Mat::<f64>::zeros(d, 1);
    matmul(
        &mut out,
        Accum::Replace,
        view.transpose(),
        rhs,
        1.0,
        Par::rayon(0),
    );
    (0..d).map(|i| out[(i, 0)]).collect()
}

fn row_major(m: MatRef<'_, f64>) -> Vec<f64> {
    let mut data = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            data.push(m[(i, j)]);
        }
    }
    data
}

/// Solves `A w = b` for symmetric positive semi-definite `A` (`d × d`, row-major): by
/// Cholesky when `A` is positive definite, otherwise the minimum-norm least-squares solution
/// through the eigendecomposition (eigenvalues below `1e-12 × the largest` count as zero), as
/// `numpy.linalg.lstsq` gives for collinear features.
pub fn solve_symmetric(a: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let matrix = MatRef::from_row_major_slice(a, d, d);
    let rhs = MatRef::from_column_major_slice(b, d, 1);
    if let Ok(llt) = matrix.llt(Side::Lower) {
        let x = llt.solve(rhs);
        let x: Vec<f64> = (0..d).map(|i| x[(i, 0)]).collect();
        if x.iter().all(|v| v.is_finite()) && condition_ok(a, d) {
            return x;
        }
    }
    let (values, vectors) = symmetric_eigen(a, d);
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut w = vec![0.0; d];
    for k in 0..d {
        if values[k].abs() <= 1e-12 * largest || values[k] <= 0.0 {
            continue;
        }
        let u = |i: usize| vectors[i * d + k];
        let coefficient: f64 = (0..d).map(|i| u(i) * b[i]).sum::<f64>() / values[k];
        for (i, wi) in w.iter_mut().enumerate() {
            *wi += coefficient * u(i);
        }
    }
    w
}

/// Cholesky succeeds on nearly singular matrices too; then its answer is noise. Reject those
/// whose smallest diagonal pivot is tiny next to the largest diagonal entry.
fn condition_ok(a: &[f64], d: usize) -> bool {
    let (values, _) = symmetric_eigen(a, d);
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    values.iter().all(|&v| v > 1e-12 * largest)
}

/// Eigenvalues (ascending) and eigenvectors (column `k` of the row-major `d × d` result is
/// the vector of value `k`) of the symmetric matrix `a`.
pub fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let matrix = MatRef::from_row_major_slice(a, d, d);
    match matrix.self_adjoint_eigen(Side::Lower) {
        Ok(evd) => {
            let values: Vec<f64> = (0..d).map(|k| evd.S().column_vector()[k]).collect();
            (values, row_major(evd.U()))
        }
        // faer reports non-convergence only for non-finite input, which callers have
        // refused already; an all-zero answer keeps the caller's arithmetic finite.
        Err(_) => (vec![0.0; d], vec![0.0; d * d]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collinear_systems_get_the_minimum_norm_solution() {
        // Columns 0 and 1 are equal: w0 + w1 is determined, the minimum-norm answer splits it.
        let x = Matrix::new(3, 2, vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]).unwrap();
        let g = gram(&x);
        assert_eq!(g, vec![14.0, 14.0, 14.0, 14.0]);
        let rhs = transpose_times(&x, &[2.0, 4.0, 6.0]);
        let w = solve_symmetric(&g, 2, &rhs);
        assert!(
            (w[0] - 1.0).abs() < 1e-9 && (w[1] - 1.0).abs() < 1e-9,
            "{w:?}"
        );
    }

    #[test]
    fn positive_definite_systems_are_solved_exactly() {
        let w = solve_symmetric(&[4.0, 1.0, 1.0, 3.0], 2, &[1.0, 2.0]);
        assert!((w[0] - 1.0 / 11.0).abs() < 1e-12 && (w[1] - 7.0 / 11.0).abs() < 1e-12);
    }
}
