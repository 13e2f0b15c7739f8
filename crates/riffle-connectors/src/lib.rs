//! Riffle's connectors: sources and sinks, with formats kept separate from transports.
//!
//! - [`FileSource`] / [`FileSink`] / [`ParquetSink`]: files and directories in CSV, JSON lines,
//!   text lines or Parquet;
//! - [`SocketSource`] / [`SocketSink`]: line-delimited TCP;
//! - [`DataGen`]: seeded generated records at a rate or count;
//! - [`nexmark`]: the Nexmark auction benchmark generator;
//! - [`PrintSink`] and [`BlackholeSink`].
//!
//! Sources apply a [`riffle_core::BadRecordPolicy`] to records they cannot decode.

mod bad_record;
mod file;
mod format;
pub mod kafka;
pub mod nexmark;
mod part_files;

pub use bad_record::BadRecords;
pub use file::{FileReader, FileSource};
pub use format::Format;
mod datagen;
mod datagen_table;
mod file_sink;
mod nexmark_table;
mod sinks;
mod socket;

pub use datagen::{DataGen, RowRng, Throttle};
pub use datagen_table::{DataGenTable, DataGenTableReader};
pub use file_sink::{
    BatchParquetParts, BatchParquetSink, FileSink, ParquetParts, ParquetSink, PartSink, PartWriter,
    TextParts,
};
pub use nexmark_table::{NexmarkKind, NexmarkTable, NexmarkTableReader};
pub use part_files::PartFiles;
pub use sinks::{BlackholeSink, PrintSink};
pub use socket::{read_lines, Line, SocketSink, SocketSource};
