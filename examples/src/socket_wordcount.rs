//! Word counts per 5-second processing-time window over lines read from a TCP server (Flink's
//! `SocketWindowWordCount`). Try it with `nc -lk 9999` in another terminal.

use std::time::Duration;

use riffle_connectors::{Format, SocketSource};
use riffle_core::Result;
use riffle_runtime::{Env, WatermarkStrategy, WindowAssigner};

use crate::Output;

/// Builds the job on one worker.
pub fn build(env: &mut Env<'_>, address: &str, window: Duration, output: &Output) -> Result<()> {
    let counts = SocketSource::new(address, Format::Lines)
        .stream::<String>(env, "socket", WatermarkStrategy::none())?
        .flat_map(|line| {
            line.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .key_by(|word| word.clone())
        .window(WindowAssigner::tumbling(window).processing_time())
        .count()
        .map(|w| (w.key, w.value));
    output.write(counts)
}
