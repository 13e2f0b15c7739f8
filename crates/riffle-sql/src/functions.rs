//! Flink's names for functions that DataFusion has under other names, with other formats, or
//! not at all, registered in every session, and `ONE_HOT_ENCODE`, the example of a function
//! registered from Rust (`Session::register_udf` adds more).

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{
    Array, ArrayRef, Float64Builder, Int64Array, ListBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::numeric::rem;
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// Registers the Flink functions in `ctx`.
pub fn register(ctx: &SessionContext) {
    for function in [
        Function::Mod,
        Function::DateFormat,
        Function::ToTimestamp,
        Function::FromUnixtime,
        Function::Proctime,
        Function::OneHotEncode,
        Function::RegexpExtract,
        Function::SplitIndex,
        Function::Hour,
        Function::Minute,
        Function::Second,
        Function::CountChar,
        Function::CurrentWatermark,
    ] {
        ctx.register_udf(ScalarUDF::from(Flink::new(function)));
    }
}

/// The functions of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Function {
    /// `MOD(a, b)`: the remainder of `a / b`, with the sign of `a`.
    Mod,
    /// `DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm')`: a timestamp as text, in Java's pattern letters.
    DateFormat,
    /// `TO_TIMESTAMP(s [, 'yyyy-MM-dd HH:mm:ss'])`: text to TIMESTAMP(3); NULL if it does not
    /// parse.
    ToTimestamp,
    /// `FROM_UNIXTIME(seconds [, format])`: seconds since 1970 as text.
    FromUnixtime,
    /// `PROCTIME()`: the wall-clock time when the row is processed.
    Proctime,
    /// `ONE_HOT_ENCODE(value, 'a,b,c')`: an ARRAY<DOUBLE> with 1.0 at the value's place among
    /// the categories and 0.0 elsewhere (all zeros for a value not among them or NULL).
    OneHotEncode,
    /// `REGEXP_EXTRACT(s, regex [, group])`: the group (0: the whole match, the default) of the
    /// first match of `regex` in `s`; NULL without a match.
    RegexpExtract,
    /// `SPLIT_INDEX(s, separator, i)`: the `i`-th (from 0) piece of `s` split at every
    /// `separator` (empty pieces kept); NULL past the end.
    SplitIndex,
    /// `HOUR(ts)`, `MINUTE(ts)`, `SECOND(ts)`: a timestamp's field, as BIGINT.
    Hour,
    Minute,
    Second,
    /// `COUNT_CHAR(s, 'c')`: how many times the character occurs in `s` (Nexmark q14's
    /// user-defined function, shipped as a second example).
    CountChar,
    /// `CURRENT_WATERMARK(rowtime)`: the watermark under which the row travels, NULL when
    /// there is none yet (and in batch mode); set by the streaming projections and filters
    /// through [`with_watermark`].
    CurrentWatermark,
}

thread_local! {
    /// The watermark `CURRENT_WATERMARK` reads on this worker thread.
    static WATERMARK: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with `CURRENT_WATERMARK` reading `watermark` (`None`: no watermark yet).
pub fn with_watermark<R>(watermark: Option<i64>, f: impl FnOnce() -> R) -> R {
    WATERMARK.with(|w| w.set(watermark));
    let result = f();
    WATERMARK.with(|w| w.set(None));
    result
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Flink {
    function: Function,
    signature: Signature,
}

impl Flink {
    fn new(function: Function) -> Self {
        let any = |n: &[usize]| {
            Signature::one_of(
                n.iter().map(|&k| TypeSignature::Any(k)).collect(),
                Volatility::Immutable,
            )
        };
        let signature = match function {
            Function::Mod => Signature::uniform(
                2,
                vec![DataType::Int64, DataType::UInt64, DataType::Float64],
                Volatility::Immutable,
            ),
            Function::DateFormat | Function::OneHotEncode => any(&[2]),
            Function::ToTimestamp => Signature::one_of(
                vec![TypeSignature::String(1), TypeSignature::String(2)],
                Volatility::Immutable,
            ),
            Function::FromUnixtime => any(&[1, 2]),
            Function::Proctime => Signature::nullary(Volatility::Volatile),
            Function::RegexpExtract => any(&[2, 3]),
            Function::SplitIndex => any(&[3]),
            Function::Hour | Function::Minute | Function::Second => any(&[1]),
            Function::CountChar => any(&[2]),
            Function::CurrentWatermark => Signature::any(1, Volatility::Volatile),
        };
        Flink {
            function,
            signature,
        }
    }
}

fn internal(what: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Internal(format!("a cast did not give {what}"))
}

fn timestamp_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

/// A constant text argument (a format, a category list).
fn text_argument(args: &[ColumnarValue], i: usize, name: &str) -> Result<String> {
    match args.get(i) {
        Some(ColumnarValue::Scalar(s)) => match s.cast_to(&DataType::Utf8)?.try_as_str() {
            Some(Some(text)) => Ok(text.to_string()),
            _ => exec_err!("{name}: argument {} is NULL", i + 1),
        },
        _ => exec_err!("{name}: argument {} must be a constant", i + 1),
    }
}

/// Java's date pattern letters (`yyyy-MM-dd HH:mm:ss.SSS`) as chrono's format.
pub fn java_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        if c == '\'' {
            // Quoted literal text; '' is a quote.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                out.push(chars[j]);
                j += 1;
            }
            if j == i + 1 {
                out.push('\'');
            }
            i = j + 1;
            continue;
        }
        let mapped = match (c, run) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', _) => "%3f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('D', _) => "%j",
            ('%', _) => "%%",
            _ => {
                out.extend(std::iter::repeat_n(c, run));
                i += run;
                continue;
            }
        };
        out.push_str(mapped);
        i += run;
    }
    out
}

/// `text` parsed with the chrono `format` (a date-only format gives midnight).
fn parse_time(text: &str, format: &str) -> Option<i64> {
    let time = NaiveDateTime::parse_from_str(text.trim(), format)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text.trim(), format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(time.and_utc().timestamp_millis())
}

/// `times` (cast to millisecond timestamps) as text in the chrono `format`.
fn format_times(times: &ArrayRef, format: &str) -> Result<ArrayRef> {
    let times = cast(times, &timestamp_ms())?;
    let times = times
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .ok_or_else(|| internal("a millisecond timestamp"))?;
    let mut out = StringBuilder::with_capacity(times.len(), times.len() * format.len());
    for i in 0..times.len() {
        match times
            .is_valid(i)
            .then(|| times.value_as_datetime(i))
            .flatten()
        {
            Some(t) => out.append_value(t.format(format).to_string()),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

impl ScalarUDFImpl for Flink {
    fn name(&self) -> &str {
        match self.function {
            Function::Mod => "mod",
            Function::DateFormat => "date_format",
            Function::ToTimestamp => "to_timestamp",
            Function::FromUnixtime => "from_unixtime",
            Function::Proctime => "proctime",
            Function::OneHotEncode => "one_hot_encode",
            Function::RegexpExtract => "regexp_extract",
            Function::SplitIndex => "split_index",
            Function::Hour => "hour",
            Function::Minute => "minute",
            Function::Second => "second",
            Function::CountChar => "count_char",
            Function::CurrentWatermark => "current_watermark",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.function {
            Function::Mod => arg_types.first().cloned().unwrap_or(DataType::Int64),
            Function::DateFormat | Function::FromUnixtime => DataType::Utf8,
            Function::ToTimestamp | Function::Proctime | Function::CurrentWatermark => {
                timestamp_ms()
            }
            Function::OneHotEncode => {
                DataType::List(Arc::new(Field::new("item", DataType::Float64, true)))
            }
            Function::RegexpExtract | Function::SplitIndex => DataType::Utf8,
            Function::Hour | Function::Minute | Function::Second | Function::CountChar => {
                DataType::Int64
            }
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let name = self.name().to_uppercase();
        let column = |i: usize, to: &DataType| -> Result<ArrayRef> {
            Ok(cast(&args.args[i].to_array(rows)?, to)?)
        };
        let texts = |i: usize| -> Result<StringArray> {
            column(i, &DataType::Utf8)?
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| internal("text"))
        };
        let integers = |i: usize| -> Result<Int64Array> {
            column(i, &DataType::Int64)?
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .ok_or_else(|| internal("a BIGINT"))
        };
        let array: ArrayRef = match self.function {
            Function::Mod => {
                let arrays = ColumnarValue::values_to_arrays(&args.args)?;
                rem(&arrays[0], &arrays[1])?
            }
            Function::DateFormat => {
                let format = java_pattern(&text_argument(&args.args, 1, &name)?);
                format_times(&args.args[0].to_array(rows)?, &format)?
            }
            Function::FromUnixtime => {
                let format = match args.args.len() {
                    2 => java_pattern(&text_argument(&args.args, 1, &name)?),
                    _ => "%Y-%m-%d %H:%M:%S".to_string(),
                };
                let seconds = column(0, &DataType::Int64)?;
                let millis = datafusion::arrow::compute::kernels::numeric::mul(
                    &seconds,
                    &datafusion::arrow::array::Int64Array::new_scalar(1000),
                )?;
                format_times(&millis, &format)?
            }
            Function::ToTimestamp => {
                let format = match args.args.len() {
                    2 => java_pattern(&text_argument(&args.args, 1, &name)?),
                    _ => "%Y-%m-%d %H:%M:%S%.f".to_string(),
                };
                let texts = column(0, &DataType::Utf8)?;
                let texts = texts
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| internal("text"))?;
                let parsed: TimestampMillisecondArray = texts
                    .iter()
                    .map(|t| t.and_then(|t| parse_time(t, &format)))
                    .collect();
                Arc::new(parsed)
            }
            Function::CurrentWatermark => {
                let watermark = WATERMARK.with(|w| w.get());
                return Ok(ColumnarValue::Scalar(ScalarValue::TimestampMillisecond(
                    watermark, None,
                )));
            }
            Function::Proctime => {
                let now = riffle_runtime::now_millis();
                return Ok(ColumnarValue::Scalar(ScalarValue::TimestampMillisecond(
                    Some(now),
                    None,
                )));
            }
            Function::OneHotEncode => {
                let categories: Vec<String> = text_argument(&args.args, 1, &name)?
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .collect();
                let values = column(0, &DataType::Utf8)?;
                let values = values
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or_else(|| internal("text"))?;
                let mut out = ListBuilder::new(Float64Builder::new());
                for value in values.iter() {
                    for category in &categories {
                        let hit = value.is_some_and(|v| v == category);
                        out.values().append_value(if hit { 1.0 } else { 0.0 });
                    }
                    out.append(true);
                }
                Arc::new(out.finish())
            }
            Function::RegexpExtract => {
                let pattern = text_argument(&args.args, 1, &name)?;
                let regex = regex::Regex::new(&pattern).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!(
                        "{name}: '{pattern}' is not a regular expression: {e}"
                    ))
                })?;
                let groups = match args.args.len() {
                    3 => Some(integers(2)?),
                    _ => None,
                };
                let values = texts(0)?;
                let extracted: StringArray = (0..values.len())
                    .map(|row| {
                        let value = values.is_valid(row).then(|| values.value(row))?;
                        let group = match &groups {
                            Some(g) => {
                                usize::try_from(g.is_valid(row).then(|| g.value(row))?).ok()?
                            }
                            None => 0,
                        };
                        let found = regex.captures(value)?;
                        found.get(group).map(|m| m.as_str().to_string())
                    })
                    .collect();
                Arc::new(extracted)
            }
            Function::SplitIndex => {
                let (values, separators, indexes) = (texts(0)?, texts(1)?, integers(2)?);
                let pieces: StringArray = (0..values.len())
                    .map(|row| {
                        let valid = values.is_valid(row)
                            && separators.is_valid(row)
                            && indexes.is_valid(row);
                        let index = usize::try_from(indexes.value(row)).ok()?;
                        let separator = separators.value(row);
                        if !valid || separator.is_empty() {
                            return None;
                        }
                        values
                            .value(row)
                            .split(separator)
                            .nth(index)
                            .map(str::to_string)
                    })
                    .collect();
                Arc::new(pieces)
            }
            Function::Hour | Function::Minute | Function::Second => {
                let (unit, of) = match self.function {
                    Function::Hour => (3_600_000, 24),
                    Function::Minute => (60_000, 60),
                    _ => (1_000, 60),
                };
                let times = column(0, &timestamp_ms())?;
                let times = times
                    .as_any()
                    .downcast_ref::<TimestampMillisecondArray>()
                    .ok_or_else(|| internal("a millisecond timestamp"))?;
                let fields: Int64Array = times
                    .iter()
                    .map(|t| t.map(|ms| ms.div_euclid(unit).rem_euclid(of)))
                    .collect();
                Arc::new(fields)
            }
            Function::CountChar => {
                let wanted = text_argument(&args.args, 1, &name)?;
                let Some(wanted) = wanted.chars().next() else {
                    return exec_err!("{name}: the character to count is empty");
                };
                let counts: Int64Array = texts(0)?
                    .iter()
                    .map(|s| s.map(|s| s.chars().filter(|c| *c == wanted).count() as i64))
                    .collect();
                Arc::new(counts)
            }
        };
        Ok(ColumnarValue::Array(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_become_chrono_formats() {
        assert_eq!(
            java_pattern("yyyy-MM-dd HH:mm:ss.SSS"),
            "%Y-%m-%d %H:%M:%S.%3f"
        );
        assert_eq!(java_pattern("yyyy/M/d 'at' HH:mm"), "%Y/%-m/%-d at %H:%M");
        assert_eq!(
            parse_time("2024-03-01 10:00", &java_pattern("yyyy-MM-dd HH:mm")),
            Some(1_709_287_200_000)
        );
        assert_eq!(
            parse_time("2024-03-01", &java_pattern("yyyy-MM-dd")),
            Some(1_709_251_200_000)
        );
        assert_eq!(parse_time("soon", "%Y"), None);
    }

    /// Runs `sql` (one row, one column) in a session with these functions.
    fn one(sql: &str) -> String {
        let ctx = SessionContext::new();
        register(&ctx);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let batches =
            runtime.block_on(async { ctx.sql(sql).await.unwrap().collect().await.unwrap() });
        let column = cast(batches[0].column(0), &DataType::Utf8).unwrap();
        let column = column.as_any().downcast_ref::<StringArray>().unwrap();
        match column.is_valid(0) {
            true => column.value(0).to_string(),
            false => "NULL".to_string(),
        }
    }

    #[test]
    fn flinks_string_and_time_functions_give_flinks_results() {
        // Flink's documented examples.
        assert_eq!(
            one("SELECT REGEXP_EXTRACT('foothebar', 'foo(.*?)(bar)', 2)"),
            "bar"
        );
        assert_eq!(one("SELECT REGEXP_EXTRACT('foothebar', 'the')"), "the");
        assert_eq!(one("SELECT REGEXP_EXTRACT('foo', 'x(.)', 1)"), "NULL");
        let url = "'https://www.nexmark.com/abc/def/ghi/item.htm?query=1&channel_id=77'";
        assert_eq!(
            one(&format!(
                "SELECT REGEXP_EXTRACT({url}, '(&|^)channel_id=([^&]*)', 2)"
            )),
            "77"
        );
        assert_eq!(one(&format!("SELECT SPLIT_INDEX({url}, '/', 3)")), "abc");
        assert_eq!(one(&format!("SELECT SPLIT_INDEX({url}, '/', 1)")), "");
        assert_eq!(one(&format!("SELECT SPLIT_INDEX({url}, '/', 9)")), "NULL");
        assert_eq!(one("SELECT SPLIT_INDEX('a,b', ',', -1)"), "NULL");
        let ts = "TIMESTAMP '2024-03-01 18:42:07.5'";
        assert_eq!(one(&format!("SELECT HOUR({ts})")), "18");
        assert_eq!(one(&format!("SELECT MINUTE({ts})")), "42");
        assert_eq!(one(&format!("SELECT SECOND({ts})")), "7");
        assert_eq!(one("SELECT COUNT_CHAR('abcabc', 'c')"), "2");
    }
}
