//! Riffle's SQL layer: scripts in the Flink SQL dialect.
//!
//! [`parse_script`] splits a script into statements and parses Flink's DDL (`CREATE TABLE`
//! with computed columns, `WATERMARK FOR`, `PRIMARY KEY ... NOT ENFORCED` and `WITH`
//! options), which `sqlparser` does not know; everything else goes to DataFusion, which
//! plans and type-checks it. A [`Session`] keeps the catalog and runs statements over
//! bounded tables (Flink's batch mode); [`render`] prints results as Flink's SQL client does.
//!
//! Queries over unbounded tables (or with `SET 'execution.runtime-mode' = 'streaming'`) run
//! on the runtime: see [`stream`].

mod avro;
mod csv_columns;
mod field_ends;
mod files;
mod format;
mod functions;
mod kafka;
pub mod ml;
mod not_in;
mod script;
mod session;
mod sink;
pub mod stream;
mod temporal;
mod tvf;
mod types;
mod udaf;
pub mod value;

pub use format::{render, ResultFormat};
pub use script::{
    complete_statement, parse_script, ColumnDef, ColumnKind, Located, Statement, TableDef,
    WatermarkDef,
};
pub use session::{Output, Session};
pub use types::{arrow_type, flink_name};
