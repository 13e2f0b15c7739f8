//! Riffle's dataflow runtime, built on timely dataflow.
//!
//! A job is a function that builds a dataflow on every worker ([`execute`]); it starts from
//! sources ([`Env::source`], [`Env::from_iter`]), transforms typed [`DataStream`]s, partitions
//! them by key ([`DataStream::key_by`]) into [`KeyedStream`]s, cuts those into windows
//! ([`KeyedStream::window`]) and ends in [`Sink`]s. Event time travels in the dataflow's
//! logical [`Time`], so a window fires exactly when every worker's watermark has passed it,
//! whatever the number of workers or processes ([`ExecutionConfig`]).
//!
//! ```
//! use std::time::Duration;
//! use riffle_runtime::{execute, Collector, ExecutionConfig, WatermarkStrategy, WindowAssigner};
//! let counts = Collector::new();
//! let sink = counts.clone();
//! execute(&ExecutionConfig::threads(2), move |env| {
//!     let clicks = (0..100i64).map(|i| (i % 3, i * 100)); // (user, time in ms)
//!     env.from_iter(clicks, WatermarkStrategy::monotonous(|c: &(i64, i64)| c.1))
//!         .key_by(|c| c.0)
//!         .window(WindowAssigner::tumbling(Duration::from_secs(5)))
//!         .count()
//!         .map(|w| (w.key, w.window.start, w.value))
//!         .collect_into(&sink);
//!     Ok(())
//! })
//! .unwrap();
//! let total: u64 = counts.values().iter().map(|c| c.2).sum();
//! assert_eq!(total, 100);
//! ```

mod checkpoint;
mod collective;
mod config;
mod control;
mod count_window;
mod job;
mod join;
mod keyed;
mod metrics;
mod operator;
mod process;
mod sink;
mod source;
mod state;
mod stream;
mod time;
mod window;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use checkpoint::{CheckpointConfig, CheckpointStore, Restore};
pub use collective::{execute_collective, Collective};
pub use config::ExecutionConfig;
pub use count_window::{CountWindowState, CountWindowedStream};
pub use job::{execute, execute_with, Env, JobReport, JobShared};
pub use join::{
    ConnectedStreams, Either, IntervalJoin, JoinSides, KeyedCoProcessFunction,
    KeyedConnectedStreams, RegularJoin, WindowJoin,
};
pub use keyed::KeyedStream;
pub use metrics::MetricsServer;
pub use operator::FINAL_EPOCH;
pub use process::{Context, EventTimeBuffer, KeyedProcessFunction, Timer};
pub use sink::Sink;
pub use source::{decode_u64, now_millis, Scripted, SourceReader, SourceStatus, WatermarkStrategy};
pub use state::{KeyedState, ListState, MapState, ValueState};
pub use stream::{key_hash, Collector, DataStream};
pub use time::{frontier_watermark, EventTime, Time, MAX_WATERMARK, MIN_WATERMARK};
pub use window::{
    AggregateFunction, CollectAll, Count, Reduce, TimeDomain, Window, WindowAssigner, WindowKind,
    Windowed, WindowedStream,
};

/// What a record type needs to flow through a job: cloneable, sendable to other threads,
/// and serializable to cross processes and to be checkpointed.
pub trait Data: Clone + Send + Serialize + DeserializeOwned + 'static {}
impl<T: Clone + Send + Serialize + DeserializeOwned + 'static> Data for T {}
