//! Uncorrelated scalar subqueries in streaming mode (`WHERE v = (SELECT MAX(v) FROM t)`).
//!
//! DataFusion keeps such a subquery in the expression and runs it before the query in batch
//! mode. A stream has no "before": the subquery's one row is itself an updating result (the
//! maximum rises as rows come). As Flink does, the subquery becomes the right side of a LEFT
//! join without keys (one row, or none: NULL), and the expression reads its column; the
//! join keeps every row of the other side, so a new maximum takes back the old results and
//! gives the new ones.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, NullEquality};
use datafusion::logical_expr::{
    Expr, Join, JoinConstraint, JoinType, LogicalPlan, LogicalPlanBuilder,
};
use riffle_core::{Result, RiffleError};

use super::unsupported;

fn df_error(e: datafusion::error::DataFusionError) -> RiffleError {
    RiffleError::Sql(e.to_string())
}

/// The name of the `i`th lifted subquery's side of the join.
fn alias(i: usize) -> String {
    format!("__scalar_{i}")
}

/// `plan` (a filter or projection) with each uncorrelated scalar subquery of its expressions
/// lifted into a LEFT join of its input with the subquery, or `None` when it has none.
pub(super) fn lift_scalar_subqueries(plan: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    let (exprs, input) = match plan {
        LogicalPlan::Filter(f) => (vec![f.predicate.clone()], &f.input),
        LogicalPlan::Projection(p) => (p.expr.clone(), &p.input),
        _ => return Ok(None),
    };
    let mut subqueries = Vec::new();
    let mut lifted = Vec::with_capacity(exprs.len());
    for expr in exprs {
        let expr = expr
            .transform_up(|e| match e {
                Expr::ScalarSubquery(s) if s.outer_ref_columns.is_empty() => {
                    let name = s.subquery.schema().field(0).name().clone();
                    let column = Column::new(Some(alias(subqueries.len())), name);
                    subqueries.push(s.subquery);
                    Ok(Transformed::yes(Expr::Column(column)))
                }
                other => Ok(Transformed::no(other)),
            })
            .map_err(df_error)?;
        lifted.push(expr.data);
    }
    if subqueries.is_empty() {
        return Ok(None);
    }
    let mut joined = Arc::clone(input);
    for (i, subquery) in subqueries.into_iter().enumerate() {
        if !single_row(&subquery) {
            return Err(unsupported(
                "a scalar subquery other than an aggregate without GROUP BY (which has one \
                 row)",
            ));
        }
        let right = LogicalPlanBuilder::from(subquery.as_ref().clone())
            .alias(alias(i))
            .and_then(LogicalPlanBuilder::build)
            .map_err(df_error)?;
        // Without keys or condition (the builder wants one for a LEFT join).
        let join = Join::try_new(
            joined,
            Arc::new(right),
            Vec::new(),
            None,
            JoinType::Left,
            JoinConstraint::On,
            NullEquality::NullEqualsNothing,
            false,
        )
        .map_err(df_error)?;
        joined = Arc::new(LogicalPlan::Join(join));
    }
    let builder = LogicalPlanBuilder::from(joined);
    let built = match plan {
        LogicalPlan::Filter(_) => {
            // The input's columns again, under their own names, above the filter.
            let columns = input.schema().columns().into_iter().map(Expr::Column);
            builder
                .filter(lifted.remove(0))
                .and_then(|b| b.project(columns))
                .and_then(LogicalPlanBuilder::build)
        }
        _ => {
            let schema = plan.schema();
            let named = lifted.into_iter().enumerate().map(|(i, e)| {
                let (qualifier, field) = schema.qualified_field(i);
                e.alias_qualified(qualifier.cloned(), field.name())
            });
            builder.project(named).and_then(LogicalPlanBuilder::build)
        }
    };
    built.map(Some).map_err(df_error)
}

/// Whether `plan` is an aggregate without GROUP BY (under projections and aliases): one row.
fn single_row(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Projection(p) => single_row(&p.input),
        LogicalPlan::SubqueryAlias(s) => single_row(&s.input),
        LogicalPlan::Aggregate(a) => a.group_expr.is_empty(),
        _ => false,
    }
}

/// Whether a keyless join's right side is a lifted subquery's (one row).
pub(super) fn lifted_side(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::SubqueryAlias(s) => {
            s.alias.table().starts_with("__scalar_") && single_row(&s.input)
        }
        _ => false,
    }
}
