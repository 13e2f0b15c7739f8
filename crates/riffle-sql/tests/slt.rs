//! Runs every `tests/sql/*.slt` file (sqllogictest format) against a fresh [`Session`].

use riffle_core::RiffleError;
use riffle_sql::{render, Output, ResultFormat, Session};
use sqllogictest::{DBOutput, DefaultColumnType};

/// The prefix of the directories the files name for their outputs (model catalogs).
const SCRATCH: &str = "/tmp/riffle-slt-";

/// A session, and the directory that stands in for [`SCRATCH`] in its statements, so that
/// runs at the same time (a test beside CI on one machine) do not share catalogs. Results
/// show the files' paths.
struct Db(Session, String);

impl sqllogictest::DB for Db {
    type Error = RiffleError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, RiffleError> {
        let mut result = DBOutput::StatementComplete(0);
        let scratch = &self.1;
        let sql = sql.replace(SCRATCH, scratch);
        self.0.run_script(&sql, |_, output| {
            if let Output::Text(text) = &output {
                // One row per line, one column.
                result = DBOutput::Rows {
                    types: vec![DefaultColumnType::Any],
                    rows: text
                        .lines()
                        .map(|l| vec![l.trim().replace(scratch.as_str(), SCRATCH)])
                        .collect(),
                };
            }
            if let Output::Rows { schema, batches } = output {
                // CSV without its header: one line per row, cells split on commas.
                let text = render(&schema, &batches, ResultFormat::Csv)?;
                let rows: Vec<Vec<String>> = text
                    .lines()
                    .skip(1)
                    .map(|line| split_csv(&line.replace(scratch.as_str(), SCRATCH)))
                    .collect();
                result = DBOutput::Rows {
                    types: vec![DefaultColumnType::Any; schema.fields().len()],
                    rows,
                };
            }
            Ok(())
        })?;
        Ok(result)
    }
}

/// Cells of one CSV line; empty cells are NULL.
fn split_csv(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells
        .into_iter()
        .map(|c| if c.is_empty() { "NULL".to_string() } else { c })
        .collect()
}

#[test]
fn sql_logic_tests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        // Files may refer to data beside them.
        std::env::set_current_dir(&dir).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let prefix = format!("{}/", scratch.path().display());
        let mut runner = sqllogictest::Runner::new(|| {
            let prefix = prefix.clone();
            async move { Ok(Db(Session::new()?, prefix)) }
        });
        if let Err(error) = runner.run_file(&file) {
            panic!("{}: {error}", file.display());
        }
    }
}
