//! The Nexmark auction benchmark's event generator: people, auctions and bids, with the
//! standard proportions (1 : 3 : 46), id scheme and hot auctions, bidders and sellers of the
//! Apache Beam / Flink Nexmark generator. Event `n` is a pure function of the configuration
//! and `n`, so any worker can generate any event and the stream never depends on parallelism.

use std::borrow::Cow;

use riffle_core::Result;
use riffle_runtime::{
    decode_u64, DataStream, Env, EventTime, SourceReader, SourceStatus, WatermarkStrategy,
};
use serde::{Deserialize, Serialize};

use crate::datagen::{RowRng, Throttle};

/// A new person (a bidder or seller).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Person {
    /// Person id.
    pub id: u64,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email_address: String,
    /// Credit card number.
    pub credit_card: String,
    /// City.
    pub city: String,
    /// US state.
    pub state: String,
    /// Event time, ms.
    pub date_time: i64,
    /// Padding.
    pub extra: String,
}

/// A new auction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Auction {
    /// Auction id.
    pub id: u64,
    /// Item name.
    pub item_name: String,
    /// Item description.
    pub description: String,
    /// Starting price.
    pub initial_bid: u64,
    /// Reserve price.
    pub reserve: u64,
    /// Event time, ms.
    pub date_time: i64,
    /// When the auction closes, ms.
    pub expires: i64,
    /// Person id of the seller.
    pub seller: u64,
    /// Category id.
    pub category: u64,
    /// Padding.
    pub extra: String,
}

/// A bid on an auction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Bid {
    /// Auction id.
    pub auction: u64,
    /// Person id of the bidder.
    pub bidder: u64,
    /// Price in cents.
    pub price: u64,
    /// Channel the bid came through (shared, not copied, for the generator's channels).
    pub channel: Cow<'static, str>,
    /// URL of the bid.
    pub url: Cow<'static, str>,
    /// Event time, ms.
    pub date_time: i64,
    /// Padding.
    pub extra: String,
}

/// One Nexmark event. People and auctions are boxed: bids are 92% of events, and a small
/// enum is cheap to move through the dataflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Event {
    /// A new person.
    Person(Box<Person>),
    /// A new auction.
    Auction(Box<Auction>),
    /// A bid.
    Bid(Bid),
}

impl Event {
    /// The event's time, ms.
    pub fn timestamp(&self) -> EventTime {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }
}

/// Generator parameters, defaulting to the standard Nexmark configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NexmarkConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Events in all; `None` for an unbounded stream.
    pub max_events: Option<u64>,
    /// Event-time rate: events per second of event time (spacing of timestamps).
    pub events_per_second: u64,
    /// Time of the first event, ms.
    pub first_event_time_ms: i64,
    /// Persons per proportion period.
    pub person_proportion: u64,
    /// Auctions per proportion period.
    pub auction_proportion: u64,
    /// Bids per proportion period.
    pub bid_proportion: u64,
    /// People that are active bidders and sellers at a time.
    pub num_active_people: u64,
    /// Auctions open at a time.
    pub num_in_flight_auctions: u64,
    /// One in this many bids goes to a random auction; the rest to the hot one.
    pub hot_auction_ratio: u64,
    /// One in this many auctions has a random seller; the rest the hot one.
    pub hot_seller_ratio: u64,
    /// One in this many bids has a random bidder; the rest the hot one.
    pub hot_bidder_ratio: u64,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        NexmarkConfig {
            seed: 0,
            max_events: None,
            events_per_second: 100_000,
            first_event_time_ms: 1_700_000_000_000,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            hot_auction_ratio: 2,
            hot_seller_ratio: 4,
            hot_bidder_ratio: 4,
        }
    }
}

const FIRST_PERSON_ID: u64 = 1000;
const FIRST_AUCTION_ID: u64 = 1000;
const FIRST_CATEGORY_ID: u64 = 10;
const NUM_CATEGORIES: u64 = 5;
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const CHANNELS: [(&str, &str); 4] = [
    ("Google", "https://www.nexmark.com/auction?channel=google"),
    (
        "Facebook",
        "https://www.nexmark.com/auction?channel=facebook",
    ),
    ("Baidu", "https://www.nexmark.com/auction?channel=baidu"),
    ("Apple", "https://www.nexmark.com/auction?channel=apple"),
];

impl NexmarkConfig {
    fn period(&self) -> u64 {
        (self.person_proportion + self.auction_proportion + self.bid_proportion).max(1)
    }

    fn rate(&self) -> u64 {
        self.events_per_second.max(1)
    }

    /// Event time of event `n`: evenly spaced at `events_per_second`, never decreasing.
    pub fn timestamp(&self, n: u64) -> EventTime {
        let rate = self.rate() as u128;
        self.first_event_time_ms + (n as u128 * 1000 / rate) as EventTime
    }

    /// Persons among events `0..n` (the last person id is `FIRST_PERSON_ID + this - 1`).
    fn persons_before(&self, n: u64) -> u64 {
        let (epoch, offset) = (n / self.period(), n % self.period());
        epoch * self.person_proportion + offset.min(self.person_proportion)
    }

    /// Auctions among events `0..n`.
    fn auctions_before(&self, n: u64) -> u64 {
        let (epoch, offset) = (n / self.period(), n % self.period());
        epoch * self.auction_proportion
            + offset
                .saturating_sub(self.person_proportion)
                .min(self.auction_proportion)
    }
}

/// What the generator derives from an event's number alone: its place in the proportion
/// period, the people and auctions before it, and its time. [`Cursor::at`] computes it for
/// any `n`; a reader walking a block steps it with [`Cursor::advance`], without divisions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[doc(hidden)]
pub struct Cursor {
    n: u64,
    /// `n % period`.
    offset: u64,
    /// People among events `0..n`.
    persons: u64,
    /// Auctions among events `0..n`.
    auctions: u64,
    /// `n * 1000 / rate` and its remainder: the time offset in ms.
    millis: u64,
    millis_rem: u64,
}

impl Cursor {
    fn at(config: &NexmarkConfig, n: u64) -> Self {
        let scaled = n as u128 * 1000;
        let rate = config.rate() as u128;
        Cursor {
            n,
            offset: n % config.period(),
            persons: config.persons_before(n),
            auctions: config.auctions_before(n),
            millis: (scaled / rate) as u64,
            millis_rem: (scaled % rate) as u64,
        }
    }

    /// Moves to event `n + 1`; `step` is `(1000 / rate, 1000 % rate)`.
    fn advance(&mut self, config: &NexmarkConfig, step: (u64, u64)) {
        if self.offset < config.person_proportion {
            self.persons += 1;
        } else if self.offset < config.person_proportion + config.auction_proportion {
            self.auctions += 1;
        }
        self.n += 1;
        self.offset += 1;
        if self.offset == config.period() {
            self.offset = 0;
        }
        self.millis += step.0;
        self.millis_rem += step.1;
        if self.millis_rem >= config.rate() {
            self.millis_rem -= config.rate();
            self.millis += 1;
        }
    }

    fn timestamp(&self, config: &NexmarkConfig) -> EventTime {
        config.first_event_time_ms + self.millis as EventTime
    }

    /// A person id that exists now, among the recently active ones.
    fn recent_person(&self, config: &NexmarkConfig, rng: &mut RowRng) -> u64 {
        let count = self.persons.max(1);
        let active = config.num_active_people.min(count).max(1);
        FIRST_PERSON_ID + count - active + rng.below(active)
    }

    /// An auction id that exists now, among those in flight.
    fn recent_auction(&self, config: &NexmarkConfig, rng: &mut RowRng) -> u64 {
        let count = self.auctions.max(1);
        let in_flight = config.num_in_flight_auctions.min(count).max(1);
        FIRST_AUCTION_ID + count - in_flight + rng.below(in_flight)
    }
}

/// True for the share `(ratio - 1) / ratio` of choices that go to the hot item.
fn is_hot(rng: &mut RowRng, ratio: u64) -> bool {
    rng.below(ratio.max(1)) != 0
}

/// The hot item among ids up to `last`: `last` rounded down to a multiple of `ratio`.
fn round_down(last: u64, ratio: u64) -> u64 {
    last / ratio.max(1) * ratio.max(1)
}

/// Steps of the price table: prices are log-uniform, interpolated between table entries.
const PRICE_STEPS: usize = 1 << 10;

/// `100 · 10^(6 i / PRICE_STEPS)` cents for `i` in `0..=PRICE_STEPS`.
fn price_table() -> &'static [u64; PRICE_STEPS + 1] {
    static TABLE: std::sync::OnceLock<[u64; PRICE_STEPS + 1]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            (100.0 * 10f64.powf(6.0 * i as f64 / PRICE_STEPS as f64)).round() as u64
        })
    })
}

/// A price in cents, log-uniform from 1 to 1,000,000 dollars (as Nexmark's `10^(6u) · 100`),
/// interpolated in integers between table entries instead of calling `pow` for every bid.
fn price(rng: &mut RowRng) -> u64 {
    let table = price_table();
    let bits = rng.next_u64();
    // The top 10 bits pick the step, the next 16 the point within it.
    let i = (bits >> 54) as usize;
    let within = (bits >> 38) & 0xffff;
    let (lo, hi) = (table[i], table[i + 1]);
    lo + (((hi - lo) * within) >> 16)
}

fn pick<'a>(list: &[&'a str], rng: &mut RowRng) -> &'a str {
    list[rng.below(list.len() as u64) as usize]
}

/// Event `n` of the stream configured by `config`.
pub fn event(config: &NexmarkConfig, n: u64) -> Event {
    event_at(config, &Cursor::at(config, n))
}

fn event_at(config: &NexmarkConfig, at: &Cursor) -> Event {
    let mut rng = RowRng::new(config.seed, at.n);
    let date_time = at.timestamp(config);
    if at.offset < config.person_proportion {
        let id = FIRST_PERSON_ID + at.persons;
        // Built by hand rather than with `format!`, which costs more than a whole bid.
        let (first, last) = (pick(&FIRST_NAMES, &mut rng), pick(&LAST_NAMES, &mut rng));
        let mut name = String::with_capacity(first.len() + 1 + last.len());
        name.extend([first, " ", last]);
        let mut email_address = rng.string(7);
        email_address.push('@');
        email_address.push_str(&rng.string(5));
        email_address.push_str(".com");
        let mut credit_card = String::with_capacity(19);
        for group in 0..4 {
            if group > 0 {
                credit_card.push(' ');
            }
            let digits = rng.below(10_000);
            for place in [1000, 100, 10, 1] {
                credit_card.push(char::from(b'0' + (digits / place % 10) as u8));
            }
        }
        Event::Person(Box::new(Person {
            id,
            name,
            email_address,
            credit_card,
            city: pick(&US_CITIES, &mut rng).to_string(),
            state: pick(&US_STATES, &mut rng).to_string(),
            date_time,
            extra: String::new(),
        }))
    } else if at.offset < config.person_proportion + config.auction_proportion {
        let id = FIRST_AUCTION_ID + at.auctions;
        let seller = if is_hot(&mut rng, config.hot_seller_ratio) {
            // The hot seller: the most recent person, rounded down to the ratio.
            FIRST_PERSON_ID + round_down(at.persons.max(1) - 1, config.hot_seller_ratio)
        } else {
            at.recent_person(config, &mut rng)
        };
        let initial_bid = price(&mut rng);
        Event::Auction(Box::new(Auction {
            id,
            item_name: rng.string(20),
            description: rng.string(100),
            initial_bid,
            reserve: initial_bid + price(&mut rng),
            date_time,
            expires: date_time + 10_000 + rng.below(20_000) as i64,
            seller,
            category: FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES),
            extra: String::new(),
        }))
    } else {
        Event::Bid(bid_at(config, at, &mut rng, date_time))
    }
}

/// The bid at `at`, with `rng` as seeded for it.
fn bid_at(config: &NexmarkConfig, at: &Cursor, rng: &mut RowRng, date_time: EventTime) -> Bid {
    let auction = if is_hot(rng, config.hot_auction_ratio) {
        FIRST_AUCTION_ID + round_down(at.auctions.max(1) - 1, config.hot_auction_ratio)
    } else {
        at.recent_auction(config, rng)
    };
    let last_person = FIRST_PERSON_ID + at.persons.max(1) - 1;
    let bidder = if is_hot(rng, config.hot_bidder_ratio) {
        FIRST_PERSON_ID + round_down(at.persons.max(1) - 1, config.hot_bidder_ratio) + 1
    } else {
        at.recent_person(config, rng)
    }
    .min(last_person);
    let (channel, url) = CHANNELS[rng.below(CHANNELS.len() as u64) as usize];
    Bid {
        auction,
        bidder,
        price: price(rng),
        channel: Cow::Borrowed(channel),
        url: Cow::Borrowed(url),
        date_time,
        extra: String::new(),
    }
}

/// What a [`NexmarkReader`] yields: every [`Event`], or only the [`Bid`]s.
pub trait NexmarkOutput: Sized + 'static {
    /// Generates the event at `at` and appends what this output keeps of it to `out`.
    #[doc(hidden)]
    fn generate(config: &NexmarkConfig, at: &Cursor, out: &mut Vec<Self>);
}

impl NexmarkOutput for Event {
    fn generate(config: &NexmarkConfig, at: &Cursor, out: &mut Vec<Self>) {
        out.push(event_at(config, at));
    }
}

impl NexmarkOutput for Bid {
    fn generate(config: &NexmarkConfig, at: &Cursor, out: &mut Vec<Self>) {
        if at.offset < config.person_proportion + config.auction_proportion {
            // People and auctions are generated as in the full stream, then dropped.
            drop(event_at(config, at));
        } else {
            let mut rng = RowRng::new(config.seed, at.n);
            out.push(bid_at(config, at, &mut rng, at.timestamp(config)));
        }
    }
}

/// Event numbers per block handed to a worker.
const BLOCK: u64 = 1024;

/// One worker's share of the Nexmark stream: blocks of event numbers round-robin over the
/// workers. Its watermark per block is the block's first event time minus one, so no event is
/// late and watermarks do not depend on the number of workers. (Rate limits in wall-clock
/// time come from wrapping it in [`crate::Throttle`].)
///
/// A reader of all events ([`NexmarkReader::new`]) yields [`Event`]s; a reader of bids
/// ([`NexmarkReader::bids`]) still generates every event, and yields the bids.
pub struct NexmarkReader<O = Event> {
    config: NexmarkConfig,
    next_block: u64,
    workers: u64,
    watermark: EventTime,
    output: std::marker::PhantomData<O>,
}

impl NexmarkReader<Event> {
    /// The reader of all events for worker `worker_index` of `workers`.
    pub fn new(config: NexmarkConfig, worker_index: usize, workers: usize) -> Self {
        NexmarkReader::of(config, worker_index, workers)
    }
}

impl NexmarkReader<Bid> {
    /// The reader of the bids for worker `worker_index` of `workers`.
    pub fn bids(config: NexmarkConfig, worker_index: usize, workers: usize) -> Self {
        NexmarkReader::of(config, worker_index, workers)
    }
}

impl<O> NexmarkReader<O> {
    fn of(config: NexmarkConfig, worker_index: usize, workers: usize) -> Self {
        NexmarkReader {
            config,
            next_block: worker_index as u64,
            workers: workers.max(1) as u64,
            watermark: EventTime::MIN,
            output: std::marker::PhantomData,
        }
    }
}

impl<O: NexmarkOutput> SourceReader<O> for NexmarkReader<O> {
    fn poll(&mut self, out: &mut Vec<O>) -> Result<SourceStatus> {
        let start = self.next_block.saturating_mul(BLOCK);
        let end = match self.config.max_events {
            Some(max) => max.min(start.saturating_add(BLOCK)),
            None => start.saturating_add(BLOCK),
        };
        if start >= end {
            return Ok(SourceStatus::Finished);
        }
        let config = &self.config;
        let mut at = Cursor::at(config, start);
        self.watermark = at.timestamp(config) - 1;
        let step = (1000 / config.rate(), 1000 % config.rate());
        out.reserve((end - start) as usize);
        for _ in start..end {
            O::generate(config, &at, out);
            at.advance(config, step);
        }
        self.next_block += self.workers;
        Ok(SourceStatus::Ready)
    }

    fn batch_watermark(&self) -> Option<EventTime> {
        Some(self.watermark)
    }

    fn position(&self) -> Option<Vec<u8>> {
        Some(self.next_block.to_le_bytes().to_vec())
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        self.next_block = decode_u64(position)?;
        Ok(())
    }
}

/// The bids of the Nexmark stream: this worker's share, with the generator's watermarks, at
/// most `rate` events per second in all (`None`: as fast as possible).
pub fn bids<'s>(env: &Env<'s>, config: &NexmarkConfig, rate: Option<u64>) -> DataStream<'s, Bid> {
    let reader = NexmarkReader::bids(config.clone(), env.worker_index(), env.workers());
    // The throttle counts what the reader yields: bids, the bid share of the events.
    let bids_per_second = rate.map(|r| {
        let share = r as u128 * config.bid_proportion as u128 / config.period() as u128;
        (share as u64 / env.workers() as u64).max(1)
    });
    env.source(
        "nexmark",
        Throttle::new(reader, bids_per_second),
        WatermarkStrategy::reader_defined(|bid: &Bid| bid.date_time),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(events: u64) -> NexmarkConfig {
        NexmarkConfig {
            seed: 42,
            max_events: Some(events),
            ..NexmarkConfig::default()
        }
    }

    #[test]
    fn prices_are_log_uniform_over_six_decades() {
        let mut rng = RowRng::new(1, 2);
        let prices: Vec<u64> = (0..60_000).map(|_| price(&mut rng)).collect();
        assert!(prices.iter().all(|p| (100..=100_000_000).contains(p)));
        // Each decade of the price holds about a sixth of the bids.
        for decade in 0..6u32 {
            let (lo, hi) = (100 * 10u64.pow(decade), 100 * 10u64.pow(decade + 1));
            let share = prices.iter().filter(|p| (lo..hi).contains(*p)).count();
            assert!((9_000..11_000).contains(&share), "decade {decade}: {share}");
        }
    }

    #[test]
    fn stepping_a_cursor_equals_computing_it() {
        for rate in [1, 7, 999, 1000, 1001, 100_000] {
            let cfg = NexmarkConfig {
                events_per_second: rate,
                ..config(0)
            };
            let step = (1000 / cfg.rate(), 1000 % cfg.rate());
            let mut at = Cursor::at(&cfg, 12_345);
            for n in 12_345..12_345 + 500 {
                assert_eq!(at, Cursor::at(&cfg, n), "rate {rate}");
                assert_eq!(at.timestamp(&cfg), cfg.timestamp(n));
                at.advance(&cfg, step);
            }
        }
    }

    #[test]
    fn the_bid_reader_yields_the_bids_of_the_event_reader() {
        let cfg = config(10_000);
        let (mut events, mut bids) = (Vec::new(), Vec::new());
        let mut all = NexmarkReader::new(cfg.clone(), 1, 2);
        let mut only_bids = NexmarkReader::bids(cfg, 1, 2);
        while all.poll(&mut events).unwrap() == SourceStatus::Ready {}
        while only_bids.poll(&mut bids).unwrap() == SourceStatus::Ready {}
        let expected: Vec<Bid> = events
            .into_iter()
            .filter_map(|e| match e {
                Event::Bid(b) => Some(b),
                _ => None,
            })
            .collect();
        assert!(expected.len() > 4_000, "{}", expected.len());
        assert!(bids == expected);
    }

    #[test]
    fn events_are_a_function_of_seed_and_number() {
        let cfg = config(100);
        assert_eq!(event(&cfg, 77), event(&cfg, 77));
        let other = NexmarkConfig {
            seed: 43,
            ..cfg.clone()
        };
        let differs = (0..50)
            .filter(|n| event(&cfg, *n) != event(&other, *n))
            .count();
        assert!(differs > 40, "{differs}");
    }

    #[test]
    fn proportions_ids_and_times_follow_nexmark() {
        let cfg = config(50_000);
        let (mut persons, mut auctions, mut bids) = (0u64, 0u64, 0u64);
        let (mut max_person, mut max_auction) = (0, 0);
        let mut last_time = i64::MIN;
        for n in 0..50_000 {
            let e = event(&cfg, n);
            assert!(e.timestamp() >= last_time);
            last_time = e.timestamp();
            match e {
                Event::Person(p) => {
                    assert_eq!(p.id, FIRST_PERSON_ID + persons);
                    persons += 1;
                    max_person = p.id;
                }
                Event::Auction(a) => {
                    assert_eq!(a.id, FIRST_AUCTION_ID + auctions);
                    assert!(
                        a.seller >= FIRST_PERSON_ID && a.seller <= max_person,
                        "{a:?}"
                    );
                    auctions += 1;
                    max_auction = a.id;
                }
                Event::Bid(b) => {
                    assert!(
                        b.auction >= FIRST_AUCTION_ID && b.auction <= max_auction,
                        "{b:?}"
                    );
                    assert!(
                        b.bidder >= FIRST_PERSON_ID && b.bidder <= max_person,
                        "{b:?}"
                    );
                    bids += 1;
                }
            }
        }
        assert_eq!((persons, auctions, bids), (1_000, 3_000, 46_000));
    }

    #[test]
    fn hot_auctions_get_most_bids() {
        let cfg = config(100_000);
        let mut counts = std::collections::HashMap::new();
        for n in 0..100_000 {
            if let Event::Bid(b) = event(&cfg, n) {
                *counts.entry(b.auction).or_insert(0u64) += 1;
            }
        }
        let top = counts.values().max().copied().unwrap_or(0);
        let mean = 92_000 / counts.len() as u64;
        // Half the bids go to the current hot auction, which changes every 2 auctions.
        assert!(top > 3 * mean, "top {top}, mean {mean}");
    }

    #[test]
    fn readers_split_the_stream_whatever_the_number_of_workers() {
        let cfg = config(20_000);
        let mut expected: Vec<Event> = (0..20_000).map(|n| event(&cfg, n)).collect();
        expected.sort();
        for workers in [1, 2, 4] {
            let mut all = Vec::new();
            for w in 0..workers {
                let mut reader = NexmarkReader::new(cfg.clone(), w, workers);
                loop {
                    let mut batch = Vec::new();
                    let status = reader.poll(&mut batch).unwrap();
                    let wm = reader.batch_watermark().unwrap();
                    assert!(batch.iter().all(|e| e.timestamp() > wm));
                    all.extend(batch);
                    if status == SourceStatus::Finished {
                        break;
                    }
                }
            }
            all.sort();
            assert_eq!(all.len(), expected.len());
            assert!(all == expected, "workers = {workers}");
        }
    }
}
