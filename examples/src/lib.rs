//! Example jobs, each a small DataStream program a user can read and copy, and run with
//! `riffle run NAME`:
//!
//! - [`wordcount`]: word counts over a text file or directory;
//! - [`click_counts`]: views per page per second over generated clicks;
//! - [`socket_wordcount`]: word counts per 5-second processing-time window over a TCP socket;
//! - [`hot_items`]: the Nexmark "hot items" query, the auctions with most bids per sliding
//!   window, over the embedded generator;
//! - [`analytics`]: sales per store per 10 s window feeding an online regression that
//!   forecasts the next window, with live error beside a no-change forecast;
//! - [`monitoring`]: online fraud classification and anomaly detection on generated
//!   payments with injected fraud and drift, with live precision and recall;
//! - [`recommendation`]: top-10 items per click from online matrix factorisation and
//!   Swing-style similarity, with live hit-rate@10 beside popularity;
//! - [`ml_flow`]: the classic Flink ML flow — JSON events, a feature function, linear
//!   regression with 5-fold cross-validation and L-BFGS, predictions to files;
//! - [`fraud`]: a keyed-state rule, "3 large payments within 1 minute", over generated payments;
//! - [`window_join`]: orders joined with their payments per 10-second window.
//!
//! Every job takes an [`Output`]: print the results, or write them as JSON lines into a
//! directory with the exactly-once file sink.

pub mod analytics;
pub mod click_counts;
pub mod fraud;
pub mod hot_items;
pub mod ml_flow;
pub mod monitoring;
pub mod recommendation;
pub mod socket_wordcount;
pub mod window_join;
pub mod wordcount;

use std::fmt::Debug;
use std::path::PathBuf;

use riffle_connectors::{FileSink, Format, PrintSink};
use riffle_core::Result;
use riffle_runtime::{Data, DataStream, Env};
use serde::Serialize;

/// `events` generated rows of `make` (seeded with `seed`), at most `rate` per second if
/// given, with event time from `at` and 200 ms of disorder allowed: the source of the
/// scenarios.
pub fn generated<'s, T: Data>(
    env: &Env<'s>,
    name: &str,
    (events, seed, rate): (u64, u64, Option<u64>),
    make: impl Fn(u64, &mut riffle_connectors::RowRng) -> T + Send + Sync + 'static,
    at: fn(&T) -> i64,
) -> DataStream<'s, T> {
    let mut source = riffle_connectors::DataGen::new(seed, make).rows(events);
    if let Some(rate) = rate {
        source = source.rows_per_second(rate);
    }
    let strategy = riffle_runtime::WatermarkStrategy::bounded_out_of_orderness(
        std::time::Duration::from_millis(200),
        at,
    );
    source.stream(env, name, strategy)
}

/// Where an example's results go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Output {
    /// Print to standard output.
    #[default]
    Print,
    /// Write JSON lines part files into this directory.
    Directory(PathBuf),
    /// Count and drop (for benchmarks).
    Discard,
}

impl Output {
    /// Sends `stream` to this output.
    pub fn write<T: Data + Debug + Serialize>(&self, stream: DataStream<'_, T>) -> Result<()> {
        let env = stream.env().clone();
        match self {
            Output::Print => stream.sink("print", PrintSink::new(&env)),
            Output::Directory(dir) => {
                stream.sink("files", FileSink::new(&env, dir, Format::JsonLines)?)
            }
            Output::Discard => {
                stream.sink("blackhole", riffle_connectors::BlackholeSink::new(&env))
            }
        }
        Ok(())
    }
}
