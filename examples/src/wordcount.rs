//! Word count over a text file or a directory of text files: the count of every word, emitted
//! once the input ends.

use std::path::PathBuf;

use riffle_connectors::{FileSource, Format};
use riffle_core::Result;
use riffle_runtime::{Env, WatermarkStrategy, WindowAssigner};

use crate::Output;

/// Builds the job on one worker.
pub fn build(env: &mut Env<'_>, input: &PathBuf, output: &Output) -> Result<()> {
    let counts = FileSource::new(input, Format::Lines)
        .stream::<String>(env, "text", WatermarkStrategy::none())?
        .flat_map(|line| {
            line.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
        })
        .key_by(|word| word.clone())
        // One window over the whole input: it fires when the input ends.
        .window(WindowAssigner::global())
        .count()
        .map(|w| (w.key, w.value));
    output.write(counts)
}
