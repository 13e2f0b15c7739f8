//! Flink SQL types as Arrow types.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::ast::{
    DataType as SqlType, ExactNumberInfo, ObjectName, TimezoneInfo,
};
use riffle_core::{Result, RiffleError};

/// Flink's default precision of `TIMESTAMP` without one.
const DEFAULT_TIMESTAMP_PRECISION: u64 = 6;

fn time_unit(precision: u64) -> TimeUnit {
    match precision {
        0..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

/// The Arrow type of Flink SQL type `sql`: `TIMESTAMP(p)` has no zone, `TIMESTAMP_LTZ(p)`
/// (and `TIMESTAMP(p) WITH LOCAL TIME ZONE`) is an instant shown in UTC.
pub fn arrow_type(sql: &SqlType) -> Result<DataType> {
    Ok(match sql {
        SqlType::Boolean | SqlType::Bool => DataType::Boolean,
        SqlType::TinyInt(_) => DataType::Int8,
        SqlType::SmallInt(_) => DataType::Int16,
        SqlType::Int(_) | SqlType::Integer(_) => DataType::Int32,
        SqlType::BigInt(_) => DataType::Int64,
        SqlType::Float(_) | SqlType::Real => DataType::Float32,
        SqlType::Double(_) | SqlType::DoublePrecision => DataType::Float64,
        SqlType::Decimal(info) | SqlType::Numeric(info) | SqlType::Dec(info) => {
            let (precision, scale) = match info {
                ExactNumberInfo::None => (10, 0),
                ExactNumberInfo::Precision(p) => (*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s as u64),
            };
            DataType::Decimal128(precision.min(38) as u8, scale.min(38) as i8)
        }
        SqlType::String(_)
        | SqlType::Varchar(_)
        | SqlType::CharVarying(_)
        | SqlType::Char(_)
        | SqlType::Character(_)
        | SqlType::Text => DataType::Utf8,
        SqlType::Bytes(_) | SqlType::Varbinary(_) | SqlType::Binary(_) => DataType::Binary,
        SqlType::Date => DataType::Date32,
        SqlType::Time(_, _) => DataType::Time64(TimeUnit::Microsecond),
        SqlType::Timestamp(precision, zone) => {
            let unit = time_unit(precision.unwrap_or(DEFAULT_TIMESTAMP_PRECISION));
            match zone {
                TimezoneInfo::None | TimezoneInfo::WithoutTimeZone => {
                    DataType::Timestamp(unit, None)
                }
                _ => DataType::Timestamp(unit, Some("UTC".into())),
            }
        }
        SqlType::Custom(name, args) => custom(name, args)?,
        other => {
            return Err(RiffleError::Sql(format!(
                "type {other} is not supported in a table's columns yet"
            )))
        }
    })
}

/// Flink names `sqlparser` does not know: `TIMESTAMP_LTZ(p)`, `BYTES`.
fn custom(name: &ObjectName, args: &[String]) -> Result<DataType> {
    let precision = args
        .first()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(DEFAULT_TIMESTAMP_PRECISION);
    match name.to_string().to_uppercase().as_str() {
        "TIMESTAMP_LTZ" => Ok(DataType::Timestamp(
            time_unit(precision),
            Some("UTC".into()),
        )),
        "BYTES" => Ok(DataType::Binary),
        "STRING" => Ok(DataType::Utf8),
        other => Err(RiffleError::Sql(format!("unknown type {other}"))),
    }
}

/// The Flink SQL name of Arrow type `arrow`, for `DESCRIBE`.
pub fn flink_name(arrow: &DataType) -> String {
    match arrow {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTES".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(unit, zone) => {
            let precision = match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                TimeUnit::Nanosecond => 9,
            };
            match zone {
                None => format!("TIMESTAMP({precision})"),
                Some(_) => format!("TIMESTAMP_LTZ({precision})"),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn of(sql: &str) -> DataType {
        let mut parser = Parser::new(&GenericDialect {}).try_with_sql(sql).unwrap();
        arrow_type(&parser.parse_data_type().unwrap()).unwrap()
    }

    #[test]
    fn flink_types_map_to_arrow_and_back() {
        for (sql, flink) in [
            ("BIGINT", "BIGINT"),
            ("INT", "INT"),
            ("STRING", "STRING"),
            ("VARCHAR(10)", "STRING"),
            ("DOUBLE", "DOUBLE"),
            ("DECIMAL(10, 2)", "DECIMAL(10, 2)"),
            ("TIMESTAMP(3)", "TIMESTAMP(3)"),
            ("TIMESTAMP", "TIMESTAMP(6)"),
            ("TIMESTAMP_LTZ(3)", "TIMESTAMP_LTZ(3)"),
            ("BOOLEAN", "BOOLEAN"),
            ("DATE", "DATE"),
        ] {
            assert_eq!(flink_name(&of(sql)), flink, "{sql}");
        }
    }
}
