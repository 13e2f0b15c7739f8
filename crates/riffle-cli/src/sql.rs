//! `riffle sql`: Flink SQL scripts (a file, `-e`, or piped in) and, on a terminal, the
//! interactive shell; in batch mode over bounded tables and as streaming jobs on the runtime.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use riffle_core::{Result, RiffleError};
use riffle_runtime::ExecutionConfig;
use riffle_sql::{render, Output, ResultFormat, Session};

/// How results print.
#[derive(ValueEnum, Debug, Clone, Copy)]
enum Format {
    /// An aligned table (the default on a terminal).
    Table,
    /// CSV with a header (the default when the output is a pipe or file).
    Csv,
    /// One JSON object per line.
    Json,
}

/// Options of `riffle sql`.
#[derive(Args, Debug, Clone)]
pub struct SqlArgs {
    /// A SQL script to run, statements separated by `;`.
    #[arg(short = 'f', long = "file", conflicts_with = "execute")]
    file: Option<PathBuf>,
    /// Statements to run, given on the command line.
    #[arg(short = 'e', long = "execute")]
    execute: Option<String>,
    /// How SELECT results print.
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// Runs the script and prints each statement's result.
///
/// Streaming statements run with `config` (`-w`, `-n`, `-p`, checkpoints); a script's
/// `SET 'parallelism.default'` overrides `-w`.
pub fn run(args: &SqlArgs, config: &ExecutionConfig) -> Result<()> {
    let script = match (&args.file, &args.execute) {
        (Some(path), _) => {
            Some(std::fs::read_to_string(path).map_err(|e| RiffleError::io(path, e))?)
        }
        (None, Some(text)) => Some(text.clone()),
        // Statements piped in run as a script; a terminal gets the interactive shell.
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| RiffleError::io("stdin", e))?;
            Some(text)
        }
        (None, None) => None,
    };
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let format = match args.format {
        Some(Format::Table) => ResultFormat::Table,
        Some(Format::Csv) => ResultFormat::Csv,
        Some(Format::Json) => ResultFormat::Json,
        None if terminal => ResultFormat::Table,
        None => ResultFormat::Csv,
    };
    let mut session = Session::new()?;
    session.set_execution(config.clone());
    let show = |output: Output| {
        let text = match output {
            Output::Rows { schema, batches } => render(&schema, &batches, format)?,
            Output::Text(text) => text,
            // Messages are for people: keep them off a pipe that carries data.
            Output::Message(message) if terminal => format!("{message}\n"),
            Output::Message(message) => {
                eprintln!("{message}");
                String::new()
            }
        };
        // Locked per statement: a streaming job's print sink writes from its workers.
        stdout
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| RiffleError::Runtime(format!("cannot write the result: {e}")))
    };
    match script {
        Some(script) => session.run_script(&script, |_, output| show(output)),
        None => crate::repl::run(&mut session, show),
    }
}
