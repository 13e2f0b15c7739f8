//! Correlated `NOT IN`: `x NOT IN (SELECT y FROM s WHERE s.k = t.k)`.
//!
//! DataFusion plans a `NOT IN` over a subquery into a null-aware anti join whose first key
//! pair is `(x, y)`, whose other key pairs are the subquery's correlated equalities and whose
//! filter is the rest of its correlated condition. Its hash join runs only one key pair, so
//! a correlated equality fails in batch mode, and with a filter it drops every row once the
//! subquery has a NULL anywhere, whether or not that row meets the filter (a wrong result).
//! [`CorrelatedNotIn`] rewrites a correlated null-aware join into a plain anti join as Flink
//! does: keyed by the correlated equalities (none: a join of one worker), with `(x = y OR x
//! IS NULL OR y IS NULL) AND filter` as its condition, so that a row is dropped when a row of
//! its own subquery equals it or either value is NULL. An empty subquery keeps every row,
//! NULLs too, as `NOT IN` over an empty set is true. An uncorrelated `NOT IN` is left to
//! DataFusion (and to the streaming planner's null-aware join).

use datafusion::common::tree_node::Transformed;
use datafusion::common::Result;
use datafusion::logical_expr::{Expr, Join, JoinType, LogicalPlan};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The optimiser rule (see the module's note); it runs after DataFusion's own rules.
#[derive(Debug)]
pub(crate) struct CorrelatedNotIn;

/// `x NOT IN` a value `y` of the subquery is unknown or false: a partner of the anti join.
pub(crate) fn null_aware_partner(x: &Expr, y: &Expr) -> Expr {
    x.clone()
        .eq(y.clone())
        .or(x.clone().is_null())
        .or(y.clone().is_null())
}

impl OptimizerRule for CorrelatedNotIn {
    fn name(&self) -> &str {
        "riffle_correlated_not_in"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = plan else {
            return Ok(Transformed::no(plan));
        };
        let correlated = join.on.len() > 1 || join.filter.is_some();
        if !join.null_aware || join.join_type != JoinType::LeftAnti || !correlated {
            return Ok(Transformed::no(LogicalPlan::Join(join)));
        }
        // The subquery's value is its first column; the correlated columns follow it.
        let first = join.right.schema().qualified_field(0);
        let (x, y) = &join.on[0];
        if !matches!(y, Expr::Column(c) if (c.relation.as_ref(), c.name.as_str())
            == (first.0, first.1.name().as_str()))
        {
            return Ok(Transformed::no(LogicalPlan::Join(join)));
        }
        let partner = null_aware_partner(x, y);
        let filter = match join.filter {
            Some(filter) => partner.and(filter),
            None => partner,
        };
        Ok(Transformed::yes(LogicalPlan::Join(Join {
            on: join.on[1..].to_vec(),
            filter: Some(filter),
            null_aware: false,
            ..join
        })))
    }
}
