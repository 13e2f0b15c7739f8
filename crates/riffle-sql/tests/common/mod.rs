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
