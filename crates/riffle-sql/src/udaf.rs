//! Aggregate functions registered from Rust (DataFusion `AggregateUDF`s) in streaming mode.
//!
//! A streaming aggregate keeps its state in keyed state, which is checkpointed, so the state
//! must be data: a group's state here is the accumulator's own `state()` as [`Value`]s. Every
//! update rebuilds an accumulator from that state (`merge_batch`), applies the value
//! (`update_batch`, or `retract_batch` over an updating input) and takes its state again.
//! That costs an accumulator per row: right for functions Riffle does not know, not for
//! COUNT/SUM/MIN/MAX/AVG, which have their own states.
//!
//! The planner registers each aggregate call here under a name the state carries, so that a
//! restored state finds its function again. A failing accumulator records its error on the
//! worker thread; the aggregation's output step fails the job with it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, SchemaRef};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use datafusion::physical_expr::PhysicalExpr;
use riffle_core::{Result, RiffleError};

use crate::value::Value;

/// One aggregate call of a plan: the function, its argument and the types its state holds.
#[derive(Debug)]
pub struct Udaf {
    function: Arc<AggregateUDF>,
    input: SchemaRef,
    arg: Arc<dyn PhysicalExpr>,
    arg_field: FieldRef,
    return_field: FieldRef,
    state_types: Vec<DataType>,
    distinct: bool,
}

impl Udaf {
    /// The call `function(arg)` over rows of `input`; refused when its state holds values
    /// that are not plain scalars (lists, structs).
    pub fn new(
        function: Arc<AggregateUDF>,
        input: SchemaRef,
        arg: Arc<dyn PhysicalExpr>,
        distinct: bool,
    ) -> Result<Udaf> {
        let fail = |e: datafusion::error::DataFusionError| RiffleError::Sql(e.to_string());
        let arg_field = arg.return_field(&input).map_err(fail)?;
        let return_field: FieldRef = Arc::new(Field::new(
            function.name(),
            function
                .return_type(&[arg_field.data_type().clone()])
                .map_err(fail)?,
            true,
        ));
        let state_types = function
            .state_fields(StateFieldsArgs {
                name: function.name(),
                input_fields: std::slice::from_ref(&arg_field),
                return_field: Arc::clone(&return_field),
                ordering_fields: &[],
                is_distinct: distinct,
            })
            .map_err(fail)?
            .iter()
            .map(|f| f.data_type().clone())
            .collect::<Vec<_>>();
        if let Some(nested) = state_types.iter().find(|t| t.is_nested()) {
            return Err(RiffleError::Sql(format!(
                "the aggregate function {} keeps a {nested} in its state, which streaming mode \
                 cannot checkpoint yet; run it in batch mode",
                function.name().to_uppercase()
            )));
        }
        Ok(Udaf {
            function,
            input,
            arg,
            arg_field,
            return_field,
            state_types,
            distinct,
        })
    }

    /// Registers this call and returns the name its states carry.
    pub fn register(self) -> String {
        let name = format!(
            "{}({}{})",
            self.function.name(),
            if self.distinct { "DISTINCT " } else { "" },
            self.arg_field.data_type()
        );
        if let Ok(mut calls) = registry().lock() {
            calls.insert(name.clone(), Arc::new(self));
        }
        name
    }

    fn accumulator(&self) -> datafusion::error::Result<Box<dyn Accumulator>> {
        self.function.accumulator(AccumulatorArgs {
            return_field: Arc::clone(&self.return_field),
            schema: &self.input,
            ignore_nulls: false,
            order_bys: &[],
            is_reversed: false,
            name: self.function.name(),
            is_distinct: self.distinct,
            exprs: std::slice::from_ref(&self.arg),
            expr_fields: std::slice::from_ref(&self.arg_field),
        })
    }

    /// An accumulator holding `state` (empty: a fresh one).
    fn restored(&self, state: &[Value]) -> Result<Box<dyn Accumulator>> {
        let mut accumulator = self.accumulator().map_err(runtime)?;
        if !state.is_empty() {
            let columns = state
                .iter()
                .zip(&self.state_types)
                .map(|(v, t)| Value::to_array(&[v], t))
                .collect::<Result<Vec<_>>>()?;
            accumulator.merge_batch(&columns).map_err(runtime)?;
        }
        Ok(accumulator)
    }

    fn state_of(accumulator: &mut dyn Accumulator) -> Result<Vec<Value>> {
        accumulator
            .state()
            .map_err(runtime)?
            .iter()
            .map(Value::from_scalar)
            .collect()
    }
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Udaf>>> {
    static CALLS: OnceLock<Mutex<HashMap<String, Arc<Udaf>>>> = OnceLock::new();
    CALLS.get_or_init(Default::default)
}

fn call(name: &str) -> Result<Arc<Udaf>> {
    registry()
        .lock()
        .ok()
        .and_then(|calls| calls.get(name).cloned())
        .ok_or_else(|| RiffleError::Runtime(format!("the aggregate {name} is not registered")))
}

fn runtime(e: datafusion::error::DataFusionError) -> RiffleError {
    RiffleError::Runtime(e.to_string())
}

thread_local! {
    /// The first error of an aggregate function on this worker thread, not yet reported.
    static ERROR: RefCell<Option<RiffleError>> = const { RefCell::new(None) };
}

/// Keeps the first error for [`take_error`].
fn record<T>(result: Result<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            ERROR.with(|slot| {
                slot.borrow_mut().get_or_insert(e);
            });
            None
        }
    }
}

/// An aggregate function's error on this thread since the last call, if any.
pub fn take_error() -> Option<RiffleError> {
    ERROR.with(|slot| slot.borrow_mut().take())
}

/// Adds `value` to (or, when `retract`, takes it back from) the state of call `name`.
pub fn update(name: &str, state: &mut Vec<Value>, value: &Value, retract: bool) {
    let next = (|| {
        let call = call(name)?;
        let mut accumulator = call.restored(state)?;
        let input = Value::to_array(&[value], call.arg_field.data_type())?;
        match retract {
            true => accumulator.retract_batch(&[input]),
            false => accumulator.update_batch(&[input]),
        }
        .map_err(runtime)?;
        Udaf::state_of(accumulator.as_mut())
    })();
    if let Some(next) = record(next) {
        *state = next;
    }
}

/// Merges `other` into `state` (two sessions or partials of one group).
pub fn merge(name: &str, state: &mut Vec<Value>, other: &[Value]) {
    if other.is_empty() {
        return;
    }
    if state.is_empty() {
        *state = other.to_vec();
        return;
    }
    let next = (|| {
        let call = call(name)?;
        let mut accumulator = call.restored(state)?;
        let columns = other
            .iter()
            .zip(&call.state_types)
            .map(|(v, t)| Value::to_array(&[v], t))
            .collect::<Result<Vec<_>>>()?;
        accumulator.merge_batch(&columns).map_err(runtime)?;
        Udaf::state_of(accumulator.as_mut())
    })();
    if let Some(next) = record(next) {
        *state = next;
    }
}

/// The result of call `name` over `state`.
pub fn result(name: &str, state: &[Value]) -> Value {
    let value = (|| {
        let call = call(name)?;
        let mut accumulator = call.restored(state)?;
        Value::from_scalar(&accumulator.evaluate().map_err(runtime)?)
    })();
    record(value).unwrap_or(Value::Null)
}
