//! Polynomial and interaction features of a vector column.

use arrow_array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::vector_column;
use crate::data::{self, Matrix};
use crate::error::{MlError, Result};
use crate::persist::{Loadable, ModelParts};
use crate::pipeline::{Model, Transformer};

/// More output features than this is almost surely a mistake (and dense rows that long do
/// not fit in memory for any useful number of rows).
const MAX_OUTPUT_FEATURES: usize = 1 << 20;

/// Expands a vector into all products of its features up to `degree`, as scikit-learn's
/// `PolynomialFeatures`, in the same column order: the bias `1` (with `include_bias`), then
/// the products of each degree in turn, each degree's products in lexicographic order of
/// their feature indices (`x0, x1, x2, x0², x0 x1, x0 x2, x1², x1 x2, x2²` for three
/// features and degree 2). With `interaction_only`, no feature appears twice in a product.
/// Spark's `PolynomialExpansion` has neither the bias nor this order. Needs no fitting.
///
/// ```
/// use riffle_ml::{data, feature::PolynomialExpansion, Matrix, Transformer};
/// let x = Matrix::new(1, 2, vec![2.0, 3.0]).unwrap();
/// let t = data::float_table(vec![("id", vec![0.0])]).unwrap();
/// let t = data::with_column(&t, "features", data::vector_array(&x).unwrap()).unwrap();
/// let out = PolynomialExpansion::default().transform(&t).unwrap();
/// let row = data::read_vectors(&out, "poly").unwrap().row(0).to_vec();
/// assert_eq!(row, vec![1.0, 2.0, 3.0, 4.0, 6.0, 9.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolynomialExpansion {
    /// Vector column read.
    pub input_col: String,
    /// Vector column written.
    pub output_col: String,
    /// Highest degree of a product (at least 1).
    pub degree: usize,
    /// Only products of distinct features.
    pub interaction_only: bool,
    /// Start with the constant feature 1.
    pub include_bias: bool,
}

impl Default for PolynomialExpansion {
    fn default() -> Self {
        PolynomialExpansion {
            input_col: "features".into(),
            output_col: "poly".into(),
            degree: 2,
            interaction_only: false,
            include_bias: true,
        }
    }
}

/// One product: `parent`'s product (the constant 1 when `None`) times input `feature`.
#[derive(Clone, Copy, Debug)]
struct Term {
    parent: Option<usize>,
    feature: usize,
}

impl PolynomialExpansion {
    /// The products of `n_features` inputs, in output order (the bias excluded).
    fn terms(&self, n_features: usize) -> Result<Vec<Term>> {
        if self.degree == 0 {
            return Err(MlError::param("degree", "must be at least 1"));
        }
        let mut terms: Vec<Term> = Vec::new();
        // Each product of degree k extends one of degree k - 1 (its prefix) by a feature at
        // or after the prefix's last; walking prefixes in order keeps lexicographic order.
        // `last` holds the last feature of each term of the previous degree.
        let mut previous: Vec<(Option<usize>, usize)> = vec![(None, 0)];
        for degree in 1..=self.degree {
            let mut current = Vec::new();
            for &(parent, last) in &previous {
                let first = match (parent, self.interaction_only) {
                    (None, _) => 0,
                    (Some(_), false) => last,
                    (Some(_), true) => last + 1,
                };
                for feature in first..n_features {
                    terms.push(Term { parent, feature });
                    current.push((Some(terms.len() - 1), feature));
                    if terms.len() + usize::from(self.include_bias) > MAX_OUTPUT_FEATURES {
                        return Err(MlError::param(
                            "degree",
                            format!(
                                "degree {} on {n_features} features gives more than {MAX_OUTPUT_FEATURES} output features (stopped at degree {degree})",
                                self.degree
                            ),
                        ));
                    }
                }
            }
            previous = current;
        }
        Ok(terms)
    }

    /// The input features multiplied in each output feature, in output order (the bias is
    /// the empty product), as scikit-learn's `powers_` lists them by exponent.
    pub fn products(&self, n_features: usize) -> Result<Vec<Vec<usize>>> {
        let terms = self.terms(n_features)?;
        let mut out: Vec<Vec<usize>> = Vec::with_capacity(terms.len() + 1);
        for term in &terms {
            let mut product = term.parent.map_or_else(Vec::new, |p| out[p].clone());
            product.push(term.feature);
            out.push(product);
        }
        if self.include_bias {
            out.insert(0, Vec::new());
        }
        Ok(out)
    }
}

impl Transformer for PolynomialExpansion {
    fn transform(&self, table: &RecordBatch) -> Result<RecordBatch> {
        let x = data::read_vectors(table, &self.input_col)?;
        let d = x.cols();
        if d == 0 {
            return Err(MlError::data(format!(
                "the vector column `{}` has vectors of length 0",
                self.input_col
            )));
        }
        let terms = self.terms(d)?;
        let offset = usize::from(self.include_bias);
        let width = terms.len() + offset;
        // The first d terms are the features themselves; every later one is an earlier
        // output slot times a feature.
        let products: Vec<(usize, usize)> = terms
            .iter()
            .skip(d)
            .filter_map(|t| t.parent.map(|p| (offset + p, t.feature)))
            .collect();
        let first = offset + d;
        let mut out = Matrix::zeros(x.rows(), width);
        out.as_mut_slice()
            .par_chunks_mut(width)
            .zip(x.as_slice().par_chunks(d))
            .for_each(|(row, input)| {
                if self.include_bias {
                    row[0] = 1.0;
                }
                row[offset..first].copy_from_slice(input);
                // Parents come before their children, so one pass fills the row.
                for (k, &(parent, feature)) in products.iter().enumerate() {
                    row[first + k] = row[parent] * input[feature];
                }
            });
        data::with_column(table, &self.output_col, vector_column(out)?)
    }
}

impl Model for PolynomialExpansion {
    fn parts(&self) -> Result<ModelParts> {
        ModelParts::new(Self::KIND, self)
    }
}

impl Loadable for PolynomialExpansion {
    const KIND: &'static str = "PolynomialExpansion";

    fn from_parts(parts: &ModelParts) -> Result<Self> {
        parts.meta()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(p: &PolynomialExpansion, row: &[f64]) -> Vec<f64> {
        let x = Matrix::new(1, row.len(), row.to_vec()).unwrap();
        let t = data::float_table(vec![("id", vec![0.0])]).unwrap();
        let t = data::with_column(&t, "features", data::vector_array(&x).unwrap()).unwrap();
        data::read_vectors(&p.transform(&t).unwrap(), "poly")
            .unwrap()
            .row(0)
            .to_vec()
    }

    #[test]
    fn columns_come_in_scikit_learn_order() {
        let p = PolynomialExpansion::default();
        // 1, a, b, c, a², ab, ac, b², bc, c²
        assert_eq!(
            expand(&p, &[2.0, 3.0, 5.0]),
            vec![1.0, 2.0, 3.0, 5.0, 4.0, 6.0, 10.0, 9.0, 15.0, 25.0]
        );
        let cubic = PolynomialExpansion {
            degree: 3,
            interaction_only: true,
            include_bias: false,
            ..Default::default()
        };
        // a, b, c, ab, ac, bc, abc
        assert_eq!(
            expand(&cubic, &[2.0, 3.0, 5.0]),
            vec![2.0, 3.0, 5.0, 6.0, 10.0, 15.0, 30.0]
        );
        assert_eq!(
            cubic.products(3).unwrap(),
            vec![
                vec![0],
                vec![1],
                vec![2],
                vec![0, 1],
                vec![0, 2],
                vec![1, 2],
                vec![0, 1, 2]
            ]
        );
        // With replacement, degree 3 on 2 features: a³, a²b, ab², b³ after the lower degrees.
        let full = PolynomialExpansion {
            degree: 3,
            ..Default::default()
        };
        assert_eq!(full.products(2).unwrap().len(), 10);
        assert_eq!(full.products(2).unwrap()[7], vec![0, 0, 1]);
    }

    #[test]
    fn bad_degrees_are_refused_and_parameters_round_trip() {
        let zero = PolynomialExpansion {
            degree: 0,
            ..Default::default()
        };
        let x = Matrix::new(1, 1, vec![1.0]).unwrap();
        let t = data::float_table(vec![("id", vec![0.0])]).unwrap();
        let t = data::with_column(&t, "features", data::vector_array(&x).unwrap()).unwrap();
        let err = zero.transform(&t).unwrap_err().to_string();
        assert!(err.contains("`degree`"), "{err}");
        let huge = PolynomialExpansion {
            degree: 40,
            ..Default::default()
        };
        assert!(huge.products(100).is_err());
        let p = PolynomialExpansion {
            interaction_only: true,
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        crate::persist::save(&p, dir.path()).unwrap();
        assert_eq!(
            crate::persist::load::<PolynomialExpansion>(dir.path()).unwrap(),
            p
        );
    }
}
