//! Real-time recommendation: a generated click stream (users with tastes: each of ten groups
//! prefers its own fifty items), and for every click, before learning it, the top 10 items
//! recommended to that user by an online matrix factorisation, by a Swing-style item-item
//! similarity, and by popularity (the baseline). A recommendation list is a hit when it holds
//! the item the user then clicked; the live summary gives each model's hit-rate@10 per
//! minute of event time.
//!
//! The three models are one global state (one key), applied in event-time order, so the
//! results do not depend on how many workers read the stream.

use std::time::Duration;

use riffle_connectors::RowRng;
use riffle_core::Result;
use riffle_ml::online::recommend::{ItemSimilarity, OnlineMf, Popularity};
use riffle_runtime::{
    Context, DataStream, Env, EventTimeBuffer, KeyedProcessFunction, Timer, WindowAssigner,
};
use serde::{Deserialize, Serialize};

use crate::Output;

/// A click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Click {
    /// The user.
    pub user: u64,
    /// The clicked item.
    pub item: u64,
    /// Event time, ms.
    pub at: i64,
}

/// What was served for one click, before the click was learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Served {
    /// The click.
    pub click: Click,
    /// The matrix factorisation's top 10 for the user.
    pub top10: Vec<u64>,
    /// Whether each list held the clicked item: factorisation, Swing-style, popularity.
    pub hits: [bool; 3],
}

/// Hit-rates over one minute of event time.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HitRates {
    /// End of the minute, seconds of event time since the first click.
    pub until_s: i64,
    /// Clicks served.
    pub clicks: u64,
    /// Hit-rate@10 of the matrix factorisation, the Swing-style similarity, popularity.
    pub hit_rate: [f64; 3],
}

impl std::fmt::Debug for HitRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t={:>5}s clicks {:>6} | hit-rate@10: matrix factorisation {:.3} | swing {:.3} | popular {:.3}",
            self.until_s, self.clicks, self.hit_rate[0], self.hit_rate[1], self.hit_rate[2]
        )
    }
}

const START: i64 = 1_700_000_000_000;
const USERS: u64 = 300;
const GROUPS: u64 = 10;
const GROUP_ITEMS: u64 = 50;
/// Items recommended per click.
pub const K: usize = 10;

/// Click `n`, one per 10 ms: a random user; 80% of the time an item of the user's group
/// (skewed towards the group's first items), otherwise any item.
pub fn click(n: u64, rng: &mut RowRng) -> Click {
    let user = rng.below(USERS);
    let skewed = |rng: &mut RowRng, n: u64| (n as f64 * rng.range_f64(0.0, 1.0).powi(2)) as u64;
    let item = if rng.chance(0.8) {
        (user % GROUPS) * GROUP_ITEMS + skewed(rng, GROUP_ITEMS)
    } else {
        skewed(rng, GROUPS * GROUP_ITEMS)
    };
    Click {
        user,
        item,
        at: START + 10 * n as i64,
    }
}

/// The three models.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Models {
    mf: OnlineMf,
    swing: ItemSimilarity,
    popular: Popularity,
}

impl Default for Models {
    fn default() -> Self {
        Models {
            mf: OnlineMf::new(16, 7),
            swing: ItemSimilarity::new(5, 5.0),
            popular: Popularity::default(),
        }
    }
}

impl Models {
    /// Serves `click`'s user, scores the lists against the click, then learns it.
    pub fn serve_then_learn(&mut self, click: Click) -> Served {
        let lists = [
            self.mf.recommend(click.user, K, &[]),
            self.swing.recommend(click.user, K, &[]),
            self.popular.recommend(K, &[]),
        ];
        let hits = [0, 1, 2].map(|m| lists[m].contains(&click.item));
        self.mf.learn_click(click.user, click.item);
        self.swing.learn_click(click.user, click.item);
        self.popular.learn_click(click.item);
        let [top10, _, _] = lists;
        Served { click, top10, hits }
    }
}

/// The models and the clicks waiting for the watermark.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecommenderState {
    models: Models,
    held: EventTimeBuffer<Click>,
}

/// Serves and learns every click in event-time order.
pub struct Recommender;

impl KeyedProcessFunction<u8, Click> for Recommender {
    type State = RecommenderState;
    type Out = Served;

    fn process_element(&mut self, c: Click, ctx: &mut Context<'_, u8, RecommenderState, Served>) {
        if let Some(at) = ctx.state().held.hold(c.at, c) {
            ctx.register_event_time_timer(at);
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, u8, RecommenderState, Served>) {
        let upto = ctx.input_watermark().max(timer.time);
        let state = ctx.state();
        let (due, next) = state.held.take_due(upto);
        let out: Vec<Served> = due
            .into_iter()
            .map(|(_, c)| state.models.serve_then_learn(c))
            .collect();
        if let Some(next) = next {
            ctx.register_event_time_timer(next);
        }
        for s in out {
            ctx.collect_at(s.click.at, s);
        }
    }
}

/// The job without its sink: what was served for each click.
pub fn served<'s>(
    env: &mut Env<'s>,
    events: u64,
    seed: u64,
    rate: Option<u64>,
) -> DataStream<'s, Served> {
    crate::generated(env, "clicks", (events, seed, rate), click, |c: &Click| c.at)
        .key_by(|_: &Click| 0u8)
        .process(Recommender)
}

/// Hit-rates per minute of event time.
pub fn hit_rates<'s>(served: DataStream<'s, Served>) -> DataStream<'s, HitRates> {
    served
        .key_by(|_: &Served| 0u8)
        .window(WindowAssigner::tumbling(Duration::from_secs(60)))
        .process(|_, window, all: Vec<Served>| {
            let n = all.len().max(1) as f64;
            let rate = |m: usize| all.iter().filter(|s| s.hits[m]).count() as f64 / n;
            Some(HitRates {
                until_s: (window.end - START) / 1000,
                clicks: all.len() as u64,
                hit_rate: [rate(0), rate(1), rate(2)],
            })
        })
}

/// Builds the job: hit-rates to `output`.
pub fn build(
    env: &mut Env<'_>,
    events: u64,
    seed: u64,
    rate: Option<u64>,
    output: &Output,
) -> Result<()> {
    let stream = hit_rates(served(env, events, seed, rate));
    output.write(stream)
}
