//! Row values for keyed SQL state: group keys and aggregate states travel between workers
//! and into checkpoints as [`Value`]s, which hash, compare and serialize the same everywhere.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::scalar::ScalarValue;
use riffle_core::{Result, RiffleError};
use serde::{Deserialize, Serialize};

/// One SQL value. Times and dates are kept as their integer in the column's unit; the column's
/// type says which.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// Signed integers, timestamps, dates.
    Int(i64),
    /// Unsigned integers.
    UInt(u64),
    /// FLOAT, DOUBLE.
    Float(f64),
    /// STRING.
    Str(String),
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::UInt(_) => 3,
            Value::Float(_) => 4,
            Value::Str(_) => 5,
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value of row `row` of `array`: read straight from the common column types, through
    /// a DataFusion scalar for the others.
    pub fn from_array(array: &ArrayRef, row: usize) -> Result<Value> {
        use datafusion::arrow::array::{
            Array, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray,
            StringViewArray, TimestampMillisecondArray, UInt64Array,
        };
        if array.is_null(row) {
            return Ok(Value::Null);
        }
        let any = array.as_any();
        let fast = match array.data_type() {
            DataType::Int64 => any
                .downcast_ref::<Int64Array>()
                .map(|a| Value::Int(a.value(row))),
            DataType::Int32 => any
                .downcast_ref::<Int32Array>()
                .map(|a| Value::Int(a.value(row) as i64)),
            DataType::UInt64 => any
                .downcast_ref::<UInt64Array>()
                .map(|a| Value::UInt(a.value(row))),
            DataType::Float64 => any
                .downcast_ref::<Float64Array>()
                .map(|a| Value::Float(a.value(row))),
            DataType::Boolean => any
                .downcast_ref::<BooleanArray>()
                .map(|a| Value::Bool(a.value(row))),
            DataType::Utf8 => any
                .downcast_ref::<StringArray>()
                .map(|a| Value::Str(a.value(row).to_string())),
            DataType::Utf8View => any
                .downcast_ref::<StringViewArray>()
                .map(|a| Value::Str(a.value(row).to_string())),
            DataType::Timestamp(TimeUnit::Millisecond, _) => any
                .downcast_ref::<TimestampMillisecondArray>()
                .map(|a| Value::Int(a.value(row))),
            _ => None,
        };
        if let Some(value) = fast {
            return Ok(value);
        }
        let scalar = ScalarValue::try_from_array(array, row)
            .map_err(|e| RiffleError::Runtime(e.to_string()))?;
        Value::from_scalar(&scalar)
    }

    /// A DataFusion scalar as a value; types without a value form are refused by name.
    pub fn from_scalar(scalar: &ScalarValue) -> Result<Value> {
        use ScalarValue as S;
        Ok(match scalar {
            s if s.is_null() => Value::Null,
            S::Boolean(Some(v)) => Value::Bool(*v),
            S::Int8(Some(v)) => Value::Int(*v as i64),
            S::Int16(Some(v)) => Value::Int(*v as i64),
            S::Int32(Some(v)) => Value::Int(*v as i64),
            S::Int64(Some(v)) => Value::Int(*v),
            S::UInt8(Some(v)) => Value::UInt(*v as u64),
            S::UInt16(Some(v)) => Value::UInt(*v as u64),
            S::UInt32(Some(v)) => Value::UInt(*v as u64),
            S::UInt64(Some(v)) => Value::UInt(*v),
            S::Float32(Some(v)) => Value::Float(*v as f64),
            S::Float64(Some(v)) => Value::Float(*v),
            S::Utf8(Some(v)) | S::LargeUtf8(Some(v)) | S::Utf8View(Some(v)) => {
                Value::Str(v.clone())
            }
            S::Date32(Some(v)) => Value::Int(*v as i64),
            S::Date64(Some(v)) => Value::Int(*v),
            S::TimestampSecond(Some(v), _)
            | S::TimestampMillisecond(Some(v), _)
            | S::TimestampMicrosecond(Some(v), _)
            | S::TimestampNanosecond(Some(v), _) => Value::Int(*v),
            other => {
                return Err(RiffleError::Sql(format!(
                    "values of type {} cannot be grouped or aggregated in streaming mode yet",
                    other.data_type()
                )))
            }
        })
    }

    /// This value as a scalar of `data_type`.
    pub fn to_scalar(&self, data_type: &DataType) -> Result<ScalarValue> {
        let raw = match self {
            Value::Null => return ScalarValue::try_from(data_type).map_err(runtime),
            Value::Bool(v) => ScalarValue::Boolean(Some(*v)),
            Value::Int(v) => match data_type {
                DataType::Timestamp(unit, tz) => {
                    let (v, tz) = (Some(*v), tz.clone());
                    return Ok(match unit {
                        TimeUnit::Second => ScalarValue::TimestampSecond(v, tz),
                        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(v, tz),
                        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(v, tz),
                        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(v, tz),
                    });
                }
                DataType::Date32 => return Ok(ScalarValue::Date32(Some(*v as i32))),
                DataType::Date64 => return Ok(ScalarValue::Date64(Some(*v))),
                _ => ScalarValue::Int64(Some(*v)),
            },
            Value::UInt(v) => ScalarValue::UInt64(Some(*v)),
            Value::Float(v) => ScalarValue::Float64(Some(*v)),
            Value::Str(v) => ScalarValue::Utf8(Some(v.clone())),
        };
        if &raw.data_type() == data_type {
            Ok(raw)
        } else {
            raw.cast_to(data_type).map_err(runtime)
        }
    }

    /// `values` as a column of `data_type`: built directly for the common column types,
    /// through DataFusion scalars for the others (or values of another kind).
    pub fn to_array(values: &[&Value], data_type: &DataType) -> Result<ArrayRef> {
        use datafusion::arrow::array::{
            BooleanArray, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, StringArray,
            TimestampMillisecondArray, UInt64Array,
        };
        use std::sync::Arc;
        if values.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(data_type));
        }
        // Each kind's values, or `None` when one value is of another kind.
        fn all<'v, T>(
            values: &[&'v Value],
            get: impl Fn(&'v Value) -> Option<T>,
        ) -> Option<Vec<Option<T>>> {
            values
                .iter()
                .map(|v| match *v {
                    Value::Null => Some(None),
                    v => get(v).map(Some),
                })
                .collect()
        }
        let int = |v: &Value| match v {
            Value::Int(i) => Some(*i),
            _ => None,
        };
        let fast: Option<ArrayRef> = match data_type {
            DataType::Int64 => all(values, int).map(|v| Arc::new(Int64Array::from(v)) as _),
            // Narrower integers (a changelog's row kinds are `Int8`) when every value fits;
            // the scalars below name a value that does not.
            DataType::Int8 => all(values, |v| int(v).and_then(|i| i8::try_from(i).ok()))
                .map(|v| Arc::new(Int8Array::from(v)) as _),
            DataType::Int16 => all(values, |v| int(v).and_then(|i| i16::try_from(i).ok()))
                .map(|v| Arc::new(Int16Array::from(v)) as _),
            DataType::Int32 => all(values, |v| int(v).and_then(|i| i32::try_from(i).ok()))
                .map(|v| Arc::new(Int32Array::from(v)) as _),
            DataType::Timestamp(TimeUnit::Millisecond, tz) => all(values, int).map(|v| {
                Arc::new(TimestampMillisecondArray::from(v).with_timezone_opt(tz.clone())) as _
            }),
            DataType::UInt64 => all(values, |v| match v {
                Value::UInt(u) => Some(*u),
                _ => None,
            })
            .map(|v| Arc::new(UInt64Array::from(v)) as _),
            DataType::Float64 => all(values, |v| match v {
                Value::Float(f) => Some(*f),
                _ => None,
            })
            .map(|v| Arc::new(Float64Array::from(v)) as _),
            DataType::Boolean => all(values, |v| match v {
                Value::Bool(b) => Some(*b),
                _ => None,
            })
            .map(|v| Arc::new(BooleanArray::from(v)) as _),
            DataType::Utf8 => all(values, |v: &Value| match v {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .map(|v| Arc::new(StringArray::from(v)) as _),
            _ => None,
        };
        if let Some(array) = fast {
            return Ok(array);
        }
        let scalars = values
            .iter()
            .map(|v| v.to_scalar(data_type))
            .collect::<Result<Vec<_>>>()?;
        ScalarValue::iter_to_array(scalars).map_err(runtime)
    }
}

fn runtime(e: datafusion::error::DataFusionError) -> RiffleError {
    RiffleError::Runtime(e.to_string())
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::UInt(a), Value::UInt(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(v) => v.hash(state),
            Value::Int(v) => v.hash(state),
            Value::UInt(v) => v.hash(state),
            Value::Float(v) => v.to_bits().hash(state),
            Value::Str(v) => v.hash(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_scalars_of_their_column_type() {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        let v = Value::from_scalar(&ScalarValue::TimestampMillisecond(Some(5), None)).unwrap();
        assert_eq!(v, Value::Int(5));
        assert_eq!(
            v.to_scalar(&ts).unwrap(),
            ScalarValue::TimestampMillisecond(Some(5), None)
        );
        assert_eq!(
            Value::Int(3).to_scalar(&DataType::Float64).unwrap(),
            ScalarValue::Float64(Some(3.0))
        );
        assert!(Value::Null.to_scalar(&DataType::Utf8).unwrap().is_null());
        assert!(Value::Float(f64::NAN) == Value::Float(f64::NAN));
        assert!(Value::Null < Value::Int(i64::MIN));
    }

    #[test]
    fn narrow_integer_columns_built_directly_match_the_scalars_and_refuse_what_does_not_fit() {
        let values = [Value::Int(-3), Value::Null, Value::Int(100)];
        let refs: Vec<&Value> = values.iter().collect();
        for data_type in [DataType::Int8, DataType::Int16, DataType::Int32] {
            let direct = Value::to_array(&refs, &data_type).unwrap();
            let scalars = values.iter().map(|v| v.to_scalar(&data_type).unwrap());
            let expected = ScalarValue::iter_to_array(scalars).unwrap();
            assert_eq!(direct.data_type(), &data_type);
            assert_eq!(&direct, &expected);
        }
        let big = Value::Int(300);
        let error = Value::to_array(&[&big], &DataType::Int8).unwrap_err();
        assert!(error.to_string().contains("300"), "{error}");
    }
}
