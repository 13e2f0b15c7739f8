//! Page views per page per second of event time, over a generated click stream with
//! out-of-order and late clicks: the windowed aggregation the recovery tests kill and restart.

use std::time::Duration;

use riffle_connectors::{DataGen, RowRng};
use riffle_core::Result;
use riffle_runtime::{Env, WatermarkStrategy, WindowAssigner};
use serde::{Deserialize, Serialize};

use crate::Output;

/// A page view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Click {
    /// Viewing user.
    pub user: u32,
    /// Viewed page.
    pub page: u32,
    /// Event time, ms.
    pub at: i64,
}

/// Views of one page in one second.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PageViews {
    /// Start of the second, ms.
    pub second: i64,
    /// The page.
    pub page: u32,
    /// Views in that second.
    pub views: u64,
}

const START: i64 = 1_700_000_000_000;

/// Click `n`: one per millisecond of event time, up to 2 s out of order, 1 in 200 up to 10 s
/// late.
pub fn click(n: u64, rng: &mut RowRng) -> Click {
    let late = if rng.chance(0.005) { 10_000 } else { 2_000 };
    Click {
        user: rng.range_i64(0, 9_999) as u32,
        page: rng.range_i64(0, 49) as u32,
        at: START + n as i64 - rng.range_i64(0, late),
    }
}

/// Builds the job over `events` generated clicks, at most `rate` per second in all.
pub fn build(
    env: &mut Env<'_>,
    events: u64,
    rate: Option<u64>,
    seed: u64,
    output: &Output,
) -> Result<()> {
    let mut clicks = DataGen::new(seed, click).rows(events);
    if let Some(rate) = rate {
        clicks = clicks.rows_per_second(rate);
    }
    let views = clicks
        .stream(
            env,
            "clicks",
            WatermarkStrategy::bounded_out_of_orderness(Duration::from_secs(2), |c: &Click| c.at),
        )
        .key_by(|c| c.page)
        .window(WindowAssigner::tumbling(Duration::from_secs(1)))
        .count()
        .map(|w| PageViews {
            second: w.window.start,
            page: w.key,
            views: w.value,
        });
    output.write(views)
}
