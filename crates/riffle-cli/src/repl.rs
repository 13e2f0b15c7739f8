//! `riffle sql` without a script: an interactive shell, as Flink's SQL client is. Statements
//! may span lines and end with `;`; the history is kept in `~/.riffle_sql_history`; Tab
//! completes keywords and the names of tables and views.

use std::borrow::Cow;
use std::path::PathBuf;

use riffle_core::{Result, RiffleError};
use riffle_sql::{complete_statement, Output, Session};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

/// Words the shell completes besides table names.
const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "HAVING",
    "ORDER BY",
    "LIMIT",
    "JOIN",
    "ON",
    "AS",
    "INSERT INTO",
    "CREATE TABLE",
    "CREATE VIEW",
    "DROP TABLE",
    "DROP VIEW",
    "DESCRIBE",
    "SHOW TABLES",
    "EXPLAIN",
    "SET",
    "WITH",
    "WATERMARK FOR",
    "INTERVAL",
    "TABLE",
    "TUMBLE",
    "HOP",
    "CUMULATE",
    "DESCRIPTOR",
    "window_start",
    "window_end",
    "COUNT",
    "SUM",
    "MIN",
    "MAX",
    "AVG",
    "DISTINCT",
    "OVER",
    "PARTITION BY",
    "ROW_NUMBER",
    "UNION ALL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "DATE_FORMAT",
    "TO_TIMESTAMP",
    "PROCTIME",
    "CREATE MODEL",
    "DESCRIBE MODEL",
    "DROP MODEL",
    "SHOW MODELS",
    "MODEL",
    "ML_PREDICT",
    "ML_EVALUATE",
    "ML_RECOMMEND",
    "QUIT",
];

/// Completions of the word that ends at `pos` in `line`.
pub fn completions(line: &str, pos: usize, tables: &[String]) -> (usize, Vec<String>) {
    let before = &line[..pos];
    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let word = &before[start..];
    if word.is_empty() {
        return (start, Vec::new());
    }
    let lower = word.to_lowercase();
    let mut found: Vec<String> = tables
        .iter()
        .filter(|t| t.to_lowercase().starts_with(&lower))
        .cloned()
        .collect();
    let upper = word.chars().next().is_some_and(char::is_uppercase);
    found.extend(
        KEYWORDS
            .iter()
            .filter(|k| k.to_lowercase().starts_with(&lower))
            .map(|k| {
                if upper {
                    k.to_string()
                } else {
                    k.to_lowercase()
                }
            }),
    );
    (start, found)
}

/// Completion with the session's table names (refreshed after every statement).
struct Shell {
    tables: Vec<String>,
}

impl Completer for Shell {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = completions(line, pos, &self.tables);
        Ok((
            start,
            words
                .into_iter()
                .map(|w| Pair {
                    display: w.clone(),
                    replacement: w,
                })
                .collect(),
        ))
    }
}

impl Hinter for Shell {
    type Hint = String;
}

impl Highlighter for Shell {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for Shell {}

impl Helper for Shell {}

fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".riffle_sql_history"))
}

/// Runs the shell until `QUIT;`, `EXIT;` or end of input (Ctrl-D); Ctrl-C drops the statement
/// being typed. `show` prints each statement's output.
pub fn run(session: &mut Session, mut show: impl FnMut(Output) -> Result<()>) -> Result<()> {
    let fail = |e: ReadlineError| RiffleError::Runtime(format!("the SQL shell failed: {e}"));
    let mut editor: Editor<Shell, DefaultHistory> = Editor::new().map_err(fail)?;
    editor.set_helper(Some(Shell {
        tables: session.table_names(),
    }));
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "Riffle SQL shell: statements end with ';' and may span lines; Tab completes; \
         QUIT; or Ctrl-D leaves."
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "Riffle SQL> "
        } else {
            "         > "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                buffer.push_str(&line);
                buffer.push('\n');
                if !complete_statement(&buffer) {
                    continue;
                }
                let statement = std::mem::take(&mut buffer);
                let _ = editor.add_history_entry(statement.trim());
                let command = statement.trim().trim_end_matches(';').trim().to_uppercase();
                if command == "QUIT" || command == "EXIT" {
                    break;
                }
                if let Err(error) = session.run_script(&statement, |_, output| show(output)) {
                    eprintln!("[ERROR] {error}");
                }
                if let Some(shell) = editor.helper_mut() {
                    shell.tables = session.table_names();
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(fail(e)),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_completes_table_names_and_keywords() {
        let tables = vec!["bids".to_string(), "people".to_string()];
        assert_eq!(
            completions("SELECT * FROM bi", 16, &tables),
            (14, vec!["bids".to_string()])
        );
        let (start, words) = completions("SEL", 3, &tables);
        assert_eq!((start, words), (0, vec!["SELECT".to_string()]));
        let (_, words) = completions("select * fr", 11, &tables);
        assert_eq!(words, vec!["from".to_string()]);
        let (_, words) = completions("SELECT * FROM ML_P", 18, &tables);
        assert_eq!(words, vec!["ML_PREDICT".to_string()]);
    }
}
