//! The Nexmark "hot items" query (q5): every 2 seconds, the auction with the most bids in the
//! last 10 seconds, over the embedded Nexmark generator.

use std::time::Duration;

use riffle_connectors::nexmark::{self, NexmarkConfig};
use riffle_core::Result;
use riffle_runtime::{Env, WindowAssigner};
use serde::{Deserialize, Serialize};

use crate::Output;

/// The hottest auction of one window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HotItem {
    /// End of the 10-second window, ms.
    pub window_end: i64,
    /// The auction with most bids (the smallest id on ties).
    pub auction: u64,
    /// Its number of bids in the window.
    pub bids: u64,
}

/// Window length and slide of the query.
pub const WINDOW: Duration = Duration::from_secs(10);
/// How often a window ends.
pub const SLIDE: Duration = Duration::from_secs(2);

/// Builds the job over the generator configured by `config`, at most `rate` events per
/// second in all (`None`: as fast as possible).
pub fn build(
    env: &mut Env<'_>,
    config: &NexmarkConfig,
    rate: Option<u64>,
    output: &Output,
) -> Result<()> {
    let bids = nexmark::bids(env, config, rate).map(|bid| bid.auction);
    let counts = bids
        .key_by(|auction| *auction)
        .window(WindowAssigner::sliding(WINDOW, SLIDE))
        .count();
    // Each window's counts carry its last millisecond as event time: a tumbling window of
    // one slide holds exactly the counts of one sliding window, keyed by its end.
    let hottest = counts
        .key_by(|c| c.window.end)
        .window(WindowAssigner::tumbling(SLIDE))
        .reduce(|a, b| {
            if (b.value, std::cmp::Reverse(b.key)) > (a.value, std::cmp::Reverse(a.key)) {
                b
            } else {
                a
            }
        })
        .map(|w| HotItem {
            window_end: w.key,
            auction: w.value.key,
            bids: w.value.value,
        });
    output.write(hottest)
}
