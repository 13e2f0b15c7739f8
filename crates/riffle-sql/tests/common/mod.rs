//! Helpers shared by the SQL test binaries.

use riffle_sql::{render, Output, ResultFormat, Session};

/// Runs `script` and returns the rows of its last query as CSV lines (no header), sorted.
pub fn rows(script: &str) -> Vec<String> {
    rows_in(&mut Session::new().unwrap(), script)
}

/// [`rows`] in `session` (with its registered functions).
pub fn rows_in(session: &mut Session, script: &str) -> Vec<String> {
    let mut out = Vec::new();
    session
        .run_script(script, |_, output| {
            if let Output::Rows { schema, batches } = output {
                let text = render(&schema, &batches, ResultFormat::Csv)?;
                out = text.lines().skip(1).map(str::to_string).collect();
            }
            Ok(())
        })
        .unwrap();
    out.sort();
    out
}

/// `ms` since the epoch as a TIMESTAMP(3) prints (`2024-03-01 10:00:00.000`).
pub fn timestamp(ms: i64) -> String {
    datafusion::arrow::temporal_conversions::timestamp_ms_to_datetime(ms)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}
