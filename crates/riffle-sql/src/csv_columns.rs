//! CSV lines straight into Arrow columns, for the common case: no quotes, no carriage
//! returns, every line with the table's number of fields. Each cell is parsed once, into
//! its column's builder, by the same rules as Arrow's CSV reader (an empty cell is NULL;
//! numbers, dates and timestamps by `arrow_cast`'s parsers, with a shortcut for plain
//! integers and for `YYYY-MM-DD HH:MM:SS[.fff]` timestamps that gives the same values).
//! Anything else — a quote, a bad value, a column type it does not read — makes it give up
//! on the chunk, which then goes through Arrow's reader and the bad-record policy as
//! before, so errors are named the same way.

use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, ArrayRef, BinaryBuilder, BooleanBuilder, PrimitiveBuilder, RecordBatch,
    StringArray,
};
use datafusion::arrow::compute::kernels::cast_utils::{string_to_datetime, Parser};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Field, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};

use crate::field_ends::FieldEnds;

/// A parser of CSV chunks for one table's columns.
#[derive(Debug, Clone)]
pub(crate) struct CsvColumns {
    schema: SchemaRef,
    delimiter: u8,
    /// Which columns are kept; the others come out NULL (their fields nullable).
    read: Vec<bool>,
    /// Which columns are declared NOT NULL.
    required: Vec<bool>,
    /// An all-NULL array per column not read, sliced for each chunk (a new one per chunk
    /// cost an allocation of fresh, zeroed memory each time).
    nulls: Vec<Option<ArrayRef>>,
}

impl CsvColumns {
    /// The parser for `schema`, or `None` when a column has a type it does not read.
    pub(crate) fn new(schema: &SchemaRef, delimiter: u8) -> Option<Self> {
        let readable = schema
            .fields()
            .iter()
            .all(|f| column(f.data_type(), 0, 0).is_some());
        // A delimiter that is not ASCII could be a byte inside a character.
        let plain = delimiter.is_ascii() && !matches!(delimiter, b'"' | b'\n' | b'\r');
        (readable && plain).then(|| CsvColumns {
            schema: Arc::clone(schema),
            delimiter,
            read: vec![true; schema.fields().len()],
            required: schema.fields().iter().map(|f| !f.is_nullable()).collect(),
            nulls: vec![None; schema.fields().len()],
        })
    }

    /// Keeps only `columns` (by index); the others come out as NULLs, in `schema`, the
    /// fields made nullable ([`with_unread_nullable`]). Their cells are still checked (a
    /// bad value makes a bad record, as when every column is kept) but not kept; text
    /// cells, which cannot be bad, are skipped. For jobs that read some of a table's columns.
    pub(crate) fn read_only(&mut self, columns: &[usize], schema: SchemaRef) {
        self.read = (0..self.read.len()).map(|i| columns.contains(&i)).collect();
        self.schema = schema;
    }

    /// The `rows` lines of `bytes` (each ended by `\n`) as a batch, or `None` when the chunk
    /// needs Arrow's reader (which takes valid UTF-8 only: [`FieldEnds`] gives no ends in a
    /// chunk that is not).
    pub(crate) fn parse(&mut self, bytes: &[u8], rows: usize) -> Option<RecordBatch> {
        let fields = self.schema.fields();
        let parts = self.read.iter().zip(&self.required).zip(&mut self.nulls);
        let mut columns = fields
            .iter()
            .zip(parts)
            .map(|(f, ((read, required), nulls))| {
                let data_type = f.data_type();
                if *read {
                    return column(data_type, rows, bytes.len());
                }
                let nulls = match nulls {
                    Some(nulls) if nulls.len() >= rows => nulls,
                    _ => nulls.insert(new_null_array(data_type, rows.max(8192))),
                };
                Some(Box::new(Unread {
                    required: *required,
                    check: match data_type {
                        DataType::Utf8 => None,
                        _ => Some(column(data_type, rows, 0)?),
                    },
                    nulls: Arc::clone(nulls),
                    rows: 0,
                }) as Box<dyn Column>)
            })
            .collect::<Option<Vec<_>>>()?;
        let last = columns.len().checked_sub(1)?;
        // One pass over the chunk finds every field's end, and no end at all when it holds
        // a quote, a carriage return or bytes that are not UTF-8; a line must end (`\n`)
        // exactly at its last field.
        let mut ends = FieldEnds::new(bytes, self.delimiter);
        let (mut start, mut lines) = (0, 0);
        while start < bytes.len() {
            for (i, column) in columns.iter_mut().enumerate() {
                let end = ends.next()?;
                if (bytes[end] == b'\n') != (i == last) {
                    return None;
                }
                column.push(&bytes[start..end])?;
                start = end + 1;
            }
            lines += 1;
        }
        if lines != rows {
            return None;
        }
        let arrays = columns
            .iter_mut()
            .map(|c| c.finish())
            .collect::<Option<_>>()?;
        RecordBatch::try_new(Arc::clone(&self.schema), arrays).ok()
    }
}

/// `schema` with the fields not among `columns` (by index) made nullable: the schema of
/// batches whose unread columns are NULL.
pub(crate) fn with_unread_nullable(schema: &SchemaRef, columns: &[usize]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let read = columns.contains(&i);
            f.as_ref().clone().with_nullable(f.is_nullable() || !read)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// One column being read: takes its cells in order, `None` for a cell that does not parse.
/// A cell is the bytes between two field ends of a chunk of UTF-8.
trait Column {
    fn push(&mut self, cell: &[u8]) -> Option<()>;
    /// The column of the cells taken, `None` if they are not what it holds.
    fn finish(&mut self) -> Option<ArrayRef>;
}

/// A column of `data_type` for `rows` rows of `bytes` bytes in all, if this parser reads
/// the type. A text column is given room for all the bytes: it never grows (growing copies,
/// and touches fresh memory each chunk), and the allocator hands the same block back chunk
/// after chunk.
fn column(data_type: &DataType, rows: usize, bytes: usize) -> Option<Box<dyn Column>> {
    fn primitive<T: ArrowPrimitiveType>(
        rows: usize,
        parse: fn(&[u8]) -> Option<T::Native>,
    ) -> Option<Box<dyn Column>> {
        Some(Box::new(Primitive::<T> {
            builder: PrimitiveBuilder::with_capacity(rows),
            parse,
        }))
    }
    match data_type {
        DataType::Int8 => primitive::<Int8Type>(rows, integer::<Int8Type>),
        DataType::Int16 => primitive::<Int16Type>(rows, integer::<Int16Type>),
        DataType::Int32 => primitive::<Int32Type>(rows, integer::<Int32Type>),
        DataType::Int64 => primitive::<Int64Type>(rows, integer::<Int64Type>),
        DataType::UInt8 => primitive::<UInt8Type>(rows, integer::<UInt8Type>),
        DataType::UInt16 => primitive::<UInt16Type>(rows, integer::<UInt16Type>),
        DataType::UInt32 => primitive::<UInt32Type>(rows, integer::<UInt32Type>),
        DataType::UInt64 => primitive::<UInt64Type>(rows, integer::<UInt64Type>),
        DataType::Float32 => primitive::<Float32Type>(rows, by_arrow::<Float32Type>),
        DataType::Float64 => primitive::<Float64Type>(rows, by_arrow::<Float64Type>),
        DataType::Date32 => primitive::<Date32Type>(rows, by_arrow::<Date32Type>),
        DataType::Timestamp(unit, None) => {
            fn timestamps<T, const PER_SECOND: i64>(rows: usize) -> Option<Box<dyn Column>>
            where
                T: ArrowPrimitiveType<Native = i64>,
            {
                Some(Box::new(Timestamps::<T, PER_SECOND> {
                    builder: PrimitiveBuilder::with_capacity(rows),
                    day: None,
                }))
            }
            match unit {
                TimeUnit::Second => timestamps::<TimestampSecondType, 1>(rows),
                TimeUnit::Millisecond => timestamps::<TimestampMillisecondType, 1_000>(rows),
                TimeUnit::Microsecond => timestamps::<TimestampMicrosecondType, 1_000_000>(rows),
                TimeUnit::Nanosecond => timestamps::<TimestampNanosecondType, 1_000_000_000>(rows),
            }
        }
        DataType::Utf8 => Some(Box::new(Text(BinaryBuilder::with_capacity(rows, bytes)))),
        DataType::Boolean => Some(Box::new(Flags(BooleanBuilder::with_capacity(rows)))),
        _ => None,
    }
}

/// A cell read by Arrow's parser for `T`.
fn by_arrow<T: Parser>(cell: &[u8]) -> Option<T::Native> {
    T::parse(std::str::from_utf8(cell).ok()?)
}

struct Primitive<T: ArrowPrimitiveType> {
    builder: PrimitiveBuilder<T>,
    parse: fn(&[u8]) -> Option<T::Native>,
}

impl<T: ArrowPrimitiveType> Column for Primitive<T> {
    fn push(&mut self, cell: &[u8]) -> Option<()> {
        if cell.is_empty() {
            self.builder.append_null();
        } else {
            self.builder.append_value((self.parse)(cell)?);
        }
        Some(())
    }

    fn finish(&mut self) -> Option<ArrayRef> {
        Some(Arc::new(self.builder.finish()))
    }
}

/// A column the job does not read: its cells are checked by `check` (none for text), and
/// for emptiness when `required`, not kept; it comes out as a slice of `nulls` (one array
/// per column, kept by [`CsvColumns`] from chunk to chunk).
struct Unread {
    required: bool,
    check: Option<Box<dyn Column>>,
    nulls: ArrayRef,
    rows: usize,
}

impl Column for Unread {
    fn push(&mut self, cell: &[u8]) -> Option<()> {
        if self.required && cell.is_empty() {
            return None;
        }
        if let Some(check) = &mut self.check {
            check.push(cell)?;
        }
        self.rows += 1;
        Some(())
    }

    fn finish(&mut self) -> Option<ArrayRef> {
        Some(self.nulls.slice(0, std::mem::take(&mut self.rows)))
    }
}

/// A text column, gathered as bytes and checked as UTF-8 once, when it is finished (a check
/// per cell cost a call each).
struct Text(BinaryBuilder);

impl Column for Text {
    fn push(&mut self, cell: &[u8]) -> Option<()> {
        // As Arrow's reader: an empty cell is NULL.
        if cell.is_empty() {
            self.0.append_null();
        } else {
            self.0.append_value(cell);
        }
        Some(())
    }

    fn finish(&mut self) -> Option<ArrayRef> {
        // One check of the column's bytes, and of its cells' ends.
        Some(Arc::new(
            StringArray::try_from_binary(self.0.finish()).ok()?,
        ))
    }
}

struct Flags(BooleanBuilder);

impl Column for Flags {
    fn push(&mut self, cell: &[u8]) -> Option<()> {
        // Arrow's reader's words for booleans.
        if cell.is_empty() {
            self.0.append_null();
        } else if cell.eq_ignore_ascii_case(b"true") {
            self.0.append_value(true);
        } else if cell.eq_ignore_ascii_case(b"false") {
            self.0.append_value(false);
        } else {
            return None;
        }
        Some(())
    }

    fn finish(&mut self) -> Option<ArrayRef> {
        Some(Arc::new(self.0.finish()))
    }
}

/// An integer: an optional minus and up to 18 digits read directly, anything else by
/// Arrow's parser.
fn integer<T>(bytes: &[u8]) -> Option<T::Native>
where
    T: ArrowPrimitiveType + Parser,
    T::Native: TryFrom<i64>,
{
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 18 {
        return by_arrow::<T>(bytes);
    }
    let mut magnitude = 0i64;
    for digit in digits {
        let value = digit.wrapping_sub(b'0');
        if value > 9 {
            return by_arrow::<T>(bytes);
        }
        magnitude = magnitude * 10 + i64::from(value);
    }
    let value = if negative { -magnitude } else { magnitude };
    T::Native::try_from(value)
        .ok()
        .or_else(|| by_arrow::<T>(bytes))
}

/// A column of timestamps without time zone in `PER_SECOND` units, which remembers the
/// last date it read (a stream's timestamps mostly share their day).
struct Timestamps<T: ArrowPrimitiveType, const PER_SECOND: i64> {
    builder: PrimitiveBuilder<T>,
    day: Option<([u8; 10], i64)>,
}

impl<T, const PER_SECOND: i64> Column for Timestamps<T, PER_SECOND>
where
    T: ArrowPrimitiveType<Native = i64>,
{
    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        if bytes.is_empty() {
            self.builder.append_null();
            return Some(());
        }
        let plain = bytes.split_first_chunk::<10>().and_then(|(date, time)| {
            let days = match self.day {
                Some((day, days)) if day == *date => days,
                _ => {
                    let days = plain_date(date)?;
                    self.day = Some((*date, days));
                    days
                }
            };
            let (seconds, nanos) = plain_time(time)?;
            in_units::<PER_SECOND>(days * 86_400 + seconds, nanos)
        });
        self.builder
            .append_value(plain.or_else(|| timestamp::<PER_SECOND>(bytes))?);
        Some(())
    }

    fn finish(&mut self) -> Option<ArrayRef> {
        Some(Arc::new(self.builder.finish()))
    }
}

/// A timestamp without time zone in `PER_SECOND` units: `YYYY-MM-DD HH:MM:SS` (or `T` for
/// the space) with up to 9 digits of fraction read directly, anything else by Arrow's
/// parser (which reads it as UTC, as Arrow's CSV reader does).
fn timestamp<const PER_SECOND: i64>(bytes: &[u8]) -> Option<i64> {
    bytes
        .split_first_chunk::<10>()
        .and_then(|(date, time)| {
            let (seconds, nanos) = plain_time(time)?;
            in_units::<PER_SECOND>(plain_date(date)? * 86_400 + seconds, nanos)
        })
        .or_else(|| {
            let cell = std::str::from_utf8(bytes).ok()?;
            let time = string_to_datetime(&chrono::Utc, cell).ok()?;
            match PER_SECOND {
                1 => Some(time.timestamp()),
                1_000 => Some(time.timestamp_millis()),
                1_000_000 => Some(time.timestamp_micros()),
                _ => time.timestamp_nanos_opt(),
            }
        })
}

/// `seconds` since the epoch and `nanos` more in `PER_SECOND` units, if that fits.
fn in_units<const PER_SECOND: i64>(seconds: i64, nanos: i64) -> Option<i64> {
    seconds
        .checked_mul(PER_SECOND)?
        .checked_add(nanos / (1_000_000_000 / PER_SECOND))
}

/// The value of the ASCII digits `bytes`, if they are all digits.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

/// Days since the epoch of `YYYY-MM-DD`, if it is a real date.
fn plain_date(date: &[u8; 10]) -> Option<i64> {
    if date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        digits(&date[0..4])?,
        digits(&date[5..7])?,
        digits(&date[8..10])?,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (1..=month_days)
        .contains(&day)
        .then(|| days_from_civil(year, month, day))
}

/// Seconds into the day and nanoseconds of ` HH:MM:SS[.f{1,9}]` (or `T` for the space),
/// if `time` is exactly that and a real time.
fn plain_time(time: &[u8]) -> Option<(i64, i64)> {
    let (clock, fraction) = time.split_first_chunk::<9>()?;
    if !matches!(clock[0], b' ' | b'T') || clock[3] != b':' || clock[6] != b':' {
        return None;
    }
    let (hour, minute, second) = (
        digits(&clock[1..3])?,
        digits(&clock[4..6])?,
        digits(&clock[7..9])?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let nanos = match fraction {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10i64.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    Some((hour * 3_600 + minute * 60 + second, nanos))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array};

    fn arrow(schema: &SchemaRef, text: &str, rows: usize) -> Option<RecordBatch> {
        let batches = datafusion::arrow::csv::ReaderBuilder::new(Arc::clone(schema))
            .with_header(false)
            .with_batch_size(rows)
            .build(std::io::Cursor::new(text.as_bytes().to_vec()))
            .ok()?
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        datafusion::arrow::compute::concat_batches(schema, &batches).ok()
    }

    /// `lines` read by this parser and by Arrow's reader.
    fn both(schema: &SchemaRef, lines: &[&str]) -> (RecordBatch, RecordBatch) {
        let text = lines.join("\n") + "\n";
        let mut fast = CsvColumns::new(schema, b',').unwrap();
        let ours = fast.parse(text.as_bytes(), lines.len()).unwrap();
        (ours, arrow(schema, &text, lines.len()).unwrap())
    }

    fn schema(types: &[DataType]) -> SchemaRef {
        let fields: Vec<Field> = types
            .iter()
            .enumerate()
            .map(|(i, t)| Field::new(format!("c{i}"), t.clone(), true))
            .collect();
        Arc::new(Schema::new(fields))
    }

    #[test]
    fn every_type_reads_as_arrows_reader_reads_it() {
        let types = [
            DataType::Int64,
            DataType::Int32,
            DataType::UInt8,
            DataType::Float64,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Millisecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Second, None),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ];
        let schema = schema(&types);
        let lines = [
            "1,2,3,1.5,abc,true,2024-02-29,2023-11-14 22:13:20.000,2023-11-14 22:13:20.5,1969-12-31 23:59:59,2000-01-01T00:00:00.123456789",
            "-9223372036854775808,-2147483648,255,-0.0,x y,FALSE,1970-01-01,1969-12-31 23:59:59.999,1900-03-01 00:00:00.000001,2024-02-29 12:00:00,1970-01-01 00:00:00",
            ",,,,,,,,,,",
            "007,+5,0,1e300,é,True,2000-02-28,2023-11-14T22:13:20,2023-11-14 22:13:20.1234567,1600-01-01 00:00:00,2262-04-11 23:47:16.854775807",
            "123456789012345678,0,1,NaN,  padded ,false,1999-12-31,2023-11-14 22:13:20Z,2023-11-14 22:13:20+02:00,0001-01-01 00:00:00,1677-09-21 00:12:43.145224192",
        ];
        let (ours, theirs) = both(&schema, &lines);
        for (i, field) in schema.fields().iter().enumerate() {
            assert_eq!(
                ours.column(i).as_ref(),
                theirs.column(i).as_ref(),
                "{}",
                field.name()
            );
        }
    }

    #[test]
    fn what_it_does_not_read_is_left_to_arrows_reader() {
        let schema = schema(&[DataType::Int64, DataType::Utf8, DataType::Int32]);
        let mut fast = CsvColumns::new(&schema, b',').unwrap();
        for (text, rows) in [
            ("1,\"quoted, text\",2\n", 1),
            ("1,a,2\r\n", 1),
            ("1,a\n", 1),
            ("1,a,2,3\n", 1),
            ("x,a,2\n", 1),
            ("1,a,3000000000\n", 1),
            ("1,a,2\n", 2),
        ] {
            assert!(fast.parse(text.as_bytes(), rows).is_none(), "{text:?}");
        }
        let bad_timestamps = schema_of_timestamps();
        let mut fast = CsvColumns::new(&bad_timestamps, b',').unwrap();
        for cell in [
            "2023-02-29 00:00:00",
            "2023-13-01 00:00:00",
            "2023-01-01 24:00:00",
            "2023-01-01 00:00:00.1234567890",
        ] {
            let text = format!("{cell}\n");
            assert_eq!(
                fast.parse(text.as_bytes(), 1).is_some(),
                arrow(&bad_timestamps, &text, 1).is_some(),
                "{cell}"
            );
        }
        // A delimiter byte that can be inside a character is left to Arrow's reader.
        assert!(CsvColumns::new(&schema, 0xC2).is_none());
        let decimals = schema_of(DataType::Decimal128(10, 2));
        assert!(CsvColumns::new(&decimals, b',').is_none());
        let zoned = schema_of(DataType::Timestamp(
            TimeUnit::Millisecond,
            Some("UTC".into()),
        ));
        assert!(CsvColumns::new(&zoned, b',').is_none());
    }

    fn schema_of(data_type: DataType) -> SchemaRef {
        schema(&[data_type])
    }

    fn schema_of_timestamps() -> SchemaRef {
        schema_of(DataType::Timestamp(TimeUnit::Millisecond, None))
    }

    #[test]
    fn columns_not_read_come_out_null_and_still_checked() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
            Field::new("c", DataType::Int64, true),
            Field::new("d", DataType::Int64, true),
            Field::new("e", DataType::Utf8, false),
        ]));
        let mut fast = CsvColumns::new(&schema, b',').unwrap();
        fast.read_only(&[0, 2], with_unread_nullable(&schema, &[0, 2]));
        let batch = fast.parse(b"1,x,3,7,e\n4,,6,,e\n", 2).unwrap();
        assert_eq!(
            batch.column(0).as_ref(),
            &Int64Array::from(vec![1, 4]) as &dyn Array
        );
        assert_eq!(batch.column(1).null_count(), 2);
        assert!(batch.schema().field(1).is_nullable());
        assert!(batch.schema().field(4).is_nullable());
        assert_eq!(
            batch.column(2).as_ref(),
            &Int64Array::from(vec![3, 6]) as &dyn Array
        );
        // The NULLs are cut to each chunk's rows.
        let one = fast.parse(b"7,y,9,1,e\n", 1).unwrap();
        assert_eq!((one.num_rows(), one.column(1).len()), (1, 1));
        assert_eq!(one.column(1).null_count(), 1);
        // A bad number in the unread `d`, an empty cell in the unread NOT NULL `e`: Arrow's
        // reader (and the bad-record policy) take over, as when every column is read.
        assert!(fast.parse(b"1,x,3,seven,e\n", 1).is_none());
        assert!(fast.parse(b"1,x,3,7,\n", 1).is_none());
        // The number of fields is still checked.
        assert!(fast.parse(b"1,x,3,7\n", 1).is_none());
        assert!(fast.parse(b"1,x,3,7,e,f\n", 1).is_none());
    }

    #[test]
    fn timestamps_of_a_remembered_day_read_as_arrows_reader_reads_them() {
        let schema = schema_of_timestamps();
        let cells = [
            "2024-02-29 10:00:00.5",
            "2024-02-29 23:59:59",
            "2024-02-29T00:00:00.001",
            "2024-02-29 12:00:00+01:00",
            "2024-03-01 00:00:00",
            "2024-02-29 01:02:03.456789",
        ];
        let (ours, theirs) = both(&schema, &cells);
        assert_eq!(ours.column(0).as_ref(), theirs.column(0).as_ref());
        let mut fast = CsvColumns::new(&schema, b',').unwrap();
        let invalid = "2024-02-29 10:00:00\n2024-02-29 24:00:00\n";
        assert!(fast.parse(invalid.as_bytes(), 2).is_none());
        assert!(arrow(&schema, invalid, 2).is_none());
    }

    #[test]
    fn plain_timestamps_agree_with_arrows_parser_across_centuries() {
        // Every day from 1600 to 2400 (leap years and their exceptions), in microseconds,
        // and every tenth day of the nanosecond range at its last nanosecond.
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let expected = |cell: &str| string_to_datetime(&chrono::Utc, cell).unwrap();
        let mut date = day(1600, 1, 1);
        while date < day(2400, 1, 1) {
            let cell = format!("{date} 12:34:56.789");
            assert_eq!(
                timestamp::<1_000_000>(cell.as_bytes()),
                Some(expected(&cell).timestamp_micros()),
                "{cell}"
            );
            date = date.succ_opt().unwrap();
        }
        let mut date = day(1677, 9, 22);
        while date < day(2262, 4, 11) {
            let cell = format!("{date} 23:59:59.999999999");
            assert_eq!(
                timestamp::<1_000_000_000>(cell.as_bytes()),
                expected(&cell).timestamp_nanos_opt(),
                "{cell}"
            );
            date = date + chrono::Days::new(10);
        }
    }
}
