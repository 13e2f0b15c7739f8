//! Correlated `NOT IN`: `x NOT IN (SELECT y FROM s WHERE s.k = t.k)`.
//!
//! DataFusion turns a `NOT IN` over a subquery into a null-aware anti join. Its hash join
//! takes one key pair, so a correlated equality fails in batch mode; with a correlated
//! condition that is not an equality it dropped every row once the subquery held a NULL
//! anywhere, whether or not that row's own subquery did (a wrong result); and once its
//! rules have run, which key pair is `x = y` cannot be told from the correlated ones.
//! [`CorrelatedNotIn`], an analyser rule, rewrites a correlated `NOT IN` before any of that,
//! as Flink does, into `NOT EXISTS (SELECT y FROM s WHERE s.k = t.k AND (x = y OR x IS NULL
//! OR y IS NULL))`: a row is dropped when a row of its own subquery equals it or either
//! value is NULL, and kept when its subquery is empty, with a NULL `x` too, as `NOT IN` over
//! an empty set is true. DataFusion then plans a plain anti join keyed by the correlated
//! equalities. An uncorrelated `NOT IN` stays DataFusion's null-aware join (one key pair,
//! which batch mode hashes; the streaming planner runs it on the same condition).

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, DFSchema, Result};
use datafusion::logical_expr::expr::{Exists, InSubquery};
use datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use datafusion::logical_expr::{lit, Expr, Filter, LogicalPlan, LogicalPlanBuilder, Subquery};
use datafusion::optimizer::AnalyzerRule;

/// The analyser rule (see the module's note).
#[derive(Debug)]
pub(crate) struct CorrelatedNotIn;

/// `x NOT IN` a value `y` of the subquery is unknown or false: a partner of the anti join.
pub(crate) fn null_aware_partner(x: &Expr, y: &Expr) -> Expr {
    x.clone()
        .eq(y.clone())
        .or(x.clone().is_null())
        .or(y.clone().is_null())
}

impl AnalyzerRule for CorrelatedNotIn {
    fn name(&self) -> &str {
        "riffle_correlated_not_in"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let LogicalPlan::Filter(filter) = plan else {
                return Ok(Transformed::no(plan));
            };
            let schema = Arc::clone(filter.input.schema());
            let mut changed = false;
            let conjuncts = split_conjunction_owned(filter.predicate)
                .into_iter()
                .map(|conjunct| match conjunct {
                    Expr::InSubquery(InSubquery {
                        expr,
                        subquery,
                        negated: true,
                    }) if !subquery.outer_ref_columns.is_empty() => {
                        changed = true;
                        not_exists(&expr, subquery, &schema)
                    }
                    other => Ok(other),
                })
                .collect::<Result<Vec<_>>>()?;
            // A predicate splits into one conjunct or more.
            let predicate = conjunction(conjuncts).unwrap_or_else(|| lit(true));
            let filter = Filter::try_new(predicate, filter.input)?;
            Ok(match changed {
                true => Transformed::yes(LogicalPlan::Filter(filter)),
                false => Transformed::no(LogicalPlan::Filter(filter)),
            })
        })
        .data()
    }
}

/// `NOT EXISTS (subquery WHERE x = y OR x IS NULL OR y IS NULL)` for `x NOT IN (subquery)`,
/// `x` being over the outer rows (`schema`) and `y` the subquery's one column.
fn not_exists(x: &Expr, subquery: Subquery, schema: &DFSchema) -> Result<Expr> {
    let mut outer = subquery.outer_ref_columns;
    // Inside the subquery, x's columns are references to the outer row.
    let x = x
        .clone()
        .transform(|e| match e {
            Expr::Column(column) => {
                let (_, field) = schema.qualified_field_from_column(&column)?;
                let reference = Expr::OuterReferenceColumn(Arc::clone(field), column);
                if !outer.contains(&reference) {
                    outer.push(reference.clone());
                }
                Ok(Transformed::yes(reference))
            }
            other => Ok(Transformed::no(other)),
        })
        .data()?;
    let values = Arc::unwrap_or_clone(subquery.subquery);
    let y = Expr::Column(Column::from(values.schema().qualified_field(0)));
    let partners = LogicalPlanBuilder::from(values)
        .filter(null_aware_partner(&x, &y))?
        .build()?;
    Ok(Expr::Exists(Exists::new(
        Subquery {
            subquery: Arc::new(partners),
            outer_ref_columns: outer,
            spans: subquery.spans,
        },
        true,
    )))
}
