//! The Nexmark auction benchmark's event generator: people, auctions and bids, with the
//! standard proportions (1 : 3 : 46), id scheme, hot auctions, bidders, sellers and channels,
//! auction lengths and padding sizes of the Apache Beam / Flink Nexmark generator
//! (`nexmark-flink` 0.2). Event `n` is a pure function of the configuration and `n`, so any
//! worker can generate any event and the stream never depends on parallelism.
//!
//! Where it differs from that generator, on purpose: prices are interpolated in a table
//! (log-uniform over the same six decades, not `10^(6u)` per bid); the `extra` padding is a
//! slice of one shared random text (the same lengths, no copy per event); the URLs of the hot
//! channels are fixed strings rather than drawn when the generator class loads; and random
//! choices come from a counter-based generator per event, not `java.util.Random`.

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
    /// Padding to the benchmark's average event size (a slice of shared random text).
    pub extra: Cow<'static, str>,
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
    /// Padding to the benchmark's average event size (a slice of shared random text).
    pub extra: Cow<'static, str>,
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
    /// Padding to the benchmark's average event size (a slice of shared random text).
    pub extra: Cow<'static, str>,
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
    /// Average size of a person in bytes, reached with the `extra` padding.
    pub avg_person_byte_size: u64,
    /// Average size of an auction in bytes.
    pub avg_auction_byte_size: u64,
    /// Average size of a bid in bytes.
    pub avg_bid_byte_size: u64,
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
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
        }
    }
}

const FIRST_PERSON_ID: u64 = 1000;
const FIRST_AUCTION_ID: u64 = 1000;
const FIRST_CATEGORY_ID: u64 = 10;
const NUM_CATEGORIES: u64 = 5;
/// The hot auction, seller or bidder is the first (the second for bidders) of the latest
/// batch of this many ids.
const HOT_AUCTION_RATIO: u64 = 100;
const HOT_SELLER_RATIO: u64 = 100;
const HOT_BIDDER_RATIO: u64 = 100;
/// Random people and auctions may be up to this many ids ahead of the last one created, so
/// that some bids and auctions come before the event that creates what they refer to.
const PERSON_ID_LEAD: u64 = 10;
const AUCTION_ID_LEAD: u64 = 10;
/// One bid in this many comes through a numbered channel; the rest through a hot one.
const HOT_CHANNELS_RATIO: u64 = 2;
/// Numbered channels: `channel-0` .. `channel-9999`.
const CHANNELS_NUMBER: u64 = 10_000;
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
const HOT_CHANNELS: [(&str, &str); 4] = [
    (
        "Google",
        "https://www.nexmark.com/googl/bid_e/stm_q/item.htm?query=1",
    ),
    (
        "Facebook",
        "https://www.nexmark.com/meta_/bid_f/stm_r/item.htm?query=1",
    ),
    (
        "Baidu",
        "https://www.nexmark.com/bidu_/bid_g/stm_s/item.htm?query=1",
    ),
    (
        "Apple",
        "https://www.nexmark.com/aapl_/bid_h/stm_t/item.htm?query=1",
    ),
];

/// The numbered channels and their URLs, built once: as in Nexmark, a URL is a random
/// base URL, and nine in ten also carry `&channel_id=` with the channel's bits reversed.
fn numbered_channels() -> &'static [(String, String)] {
    static CHANNELS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    CHANNELS.get_or_init(|| {
        (0..CHANNELS_NUMBER)
            .map(|number| {
                let mut rng = RowRng::new(0x006e_6578_6d61_726b, number);
                let mut url = String::from("https://www.nexmark.com/");
                for _ in 0..3 {
                    url.push_str(&rng.string(5));
                    url.push('/');
                }
                url.push_str("item.htm?query=1");
                if rng.below(10) > 0 {
                    let reversed = (number as i32).reverse_bits().unsigned_abs();
                    url.push_str(&format!("&channel_id={reversed}"));
                }
                (format!("channel-{number}"), url)
            })
            .collect()
    })
}

/// Random lowercase text that `extra` paddings are slices of.
fn padding_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| RowRng::new(0x0070_6164_6469_6e67, 0).string(1 << 16))
}

/// Nexmark's `nextExtra`: padding that brings an event of `current` bytes to `average`
/// bytes on average (±20%), or nothing when it is already that big.
fn extra(rng: &mut RowRng, current: u64, average: u64) -> Cow<'static, str> {
    let Some(wanted) = average.checked_sub(current).filter(|w| *w > 0) else {
        return Cow::Borrowed("");
    };
    let delta = (wanted as f64 * 0.2).round() as u64;
    let len = (wanted - delta + rng.below(2 * delta)) as usize;
    let text = padding_text();
    let len = len.min(text.len());
    let start = rng.below((text.len() - len) as u64 + 1) as usize;
    Cow::Borrowed(&text[start..start + len])
}

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

    /// Base-0 id of the last person created before an auction or a bid (Nexmark's
    /// `lastBase0PersonId`).
    fn last_person(&self) -> u64 {
        self.persons.max(1) - 1
    }

    /// Base-0 id of the last auction created before a bid (`lastBase0AuctionId`).
    fn last_auction(&self) -> u64 {
        self.auctions.max(1) - 1
    }

    /// Nexmark's `nextBase0PersonId`: one of the active people, or up to
    /// [`PERSON_ID_LEAD`] ids ahead of the last one.
    fn random_person(&self, config: &NexmarkConfig, rng: &mut RowRng) -> u64 {
        let people = self.last_person() + 1;
        let active = config.num_active_people.min(people);
        people - active + rng.below(active + PERSON_ID_LEAD)
    }

    /// Nexmark's `nextBase0AuctionId`: one of the auctions in flight, or up to
    /// [`AUCTION_ID_LEAD`] ids ahead of the last one.
    fn random_auction(&self, config: &NexmarkConfig, rng: &mut RowRng) -> u64 {
        let last = self.last_auction();
        let first = last.saturating_sub(config.num_in_flight_auctions);
        first + rng.below(last - first + 1 + AUCTION_ID_LEAD)
    }

    /// Nexmark's `nextAuctionLengthMs`: uniform up to twice the time until the auction
    /// `num_in_flight_auctions` ahead of this one is created, so about that many are open.
    fn auction_length(&self, config: &NexmarkConfig, rng: &mut RowRng) -> EventTime {
        let ahead =
            config.num_in_flight_auctions * config.period() / config.auction_proportion.max(1);
        let horizon = config.timestamp(self.n + ahead) - self.timestamp(config);
        1 + rng.below((2 * horizon).max(1) as u64) as EventTime
    }
}

/// True for the share `(ratio - 1) / ratio` of choices that go to the hot item.
fn is_hot(rng: &mut RowRng, ratio: u64) -> bool {
    rng.below(ratio.max(1)) != 0
}

/// The first id of the batch of `batch` ids that `last` falls in.
fn batch_start(last: u64, batch: u64) -> u64 {
    last / batch * batch
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
        let (city, state) = (pick(&US_CITIES, &mut rng), pick(&US_STATES, &mut rng));
        let size =
            8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len();
        Event::Person(Box::new(Person {
            id,
            name,
            email_address,
            credit_card,
            city: city.to_string(),
            state: state.to_string(),
            date_time,
            extra: extra(&mut rng, size as u64, config.avg_person_byte_size),
        }))
    } else if at.offset < config.person_proportion + config.auction_proportion {
        let id = FIRST_AUCTION_ID + at.auctions;
        let seller = FIRST_PERSON_ID
            + if is_hot(&mut rng, config.hot_seller_ratio) {
                batch_start(at.last_person(), HOT_SELLER_RATIO)
            } else {
                at.random_person(config, &mut rng)
            };
        let initial_bid = price(&mut rng);
        let (item_name, description) = (rng.string(20), rng.string(100));
        // Sizes as Nexmark counts them: the id, the two texts and five numbers.
        let size = 8 + item_name.len() + description.len() + 5 * 8;
        Event::Auction(Box::new(Auction {
            id,
            item_name,
            description,
            initial_bid,
            reserve: initial_bid + price(&mut rng),
            date_time,
            expires: date_time + at.auction_length(config, &mut rng),
            seller,
            category: FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES),
            extra: extra(&mut rng, size as u64, config.avg_auction_byte_size),
        }))
    } else {
        Event::Bid(bid_at(config, at, &mut rng, date_time))
    }
}

/// The bid at `at`, with `rng` as seeded for it.
fn bid_at(config: &NexmarkConfig, at: &Cursor, rng: &mut RowRng, date_time: EventTime) -> Bid {
    let auction = FIRST_AUCTION_ID
        + if is_hot(rng, config.hot_auction_ratio) {
            batch_start(at.last_auction(), HOT_AUCTION_RATIO)
        } else {
            at.random_auction(config, rng)
        };
    // The second person of the batch, so that hot bidders are not the hot sellers.
    let bidder = FIRST_PERSON_ID
        + if is_hot(rng, config.hot_bidder_ratio) {
            batch_start(at.last_person(), HOT_BIDDER_RATIO) + 1
        } else {
            at.random_person(config, rng)
        };
    let price = price(rng);
    let (channel, url) = if is_hot(rng, HOT_CHANNELS_RATIO) {
        HOT_CHANNELS[rng.below(HOT_CHANNELS.len() as u64) as usize]
    } else {
        let (channel, url) = &numbered_channels()[rng.below(CHANNELS_NUMBER) as usize];
        (channel.as_str(), url.as_str())
    };
    Bid {
        auction,
        bidder,
        price,
        channel: Cow::Borrowed(channel),
        url: Cow::Borrowed(url),
        date_time,
        // Nexmark counts four 8-byte fields and pads the rest.
        extra: extra(rng, 32, config.avg_bid_byte_size),
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
                        a.seller >= FIRST_PERSON_ID && a.seller <= max_person + PERSON_ID_LEAD,
                        "{a:?}"
                    );
                    auctions += 1;
                    max_auction = a.id;
                }
                Event::Bid(b) => {
                    assert!(
                        b.auction >= FIRST_AUCTION_ID && b.auction <= max_auction + AUCTION_ID_LEAD,
                        "{b:?}"
                    );
                    assert!(
                        b.bidder >= FIRST_PERSON_ID && b.bidder <= max_person + PERSON_ID_LEAD,
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
        // Half the bids go to the current hot auction, which changes every 100 auctions
        // (1,667 events, 1,533 bids): about 767 bids each for the 60 hot auctions.
        assert!((700..900).contains(&top), "top {top}, mean {mean}");
        let hot = counts
            .iter()
            .filter(|(a, _)| (*a - FIRST_AUCTION_ID).is_multiple_of(HOT_AUCTION_RATIO));
        let hot_bids: u64 = hot.map(|(_, n)| n).sum();
        assert!((45_000..49_000).contains(&hot_bids), "{hot_bids}");
    }

    #[test]
    fn channels_paddings_and_auction_lengths_follow_nexmark() {
        let cfg = config(100_000);
        let (mut bids, mut hot_channel, mut bid_bytes) = (0u64, 0u64, 0u64);
        let (mut auctions, mut open_ms) = (0i64, 0i64);
        let mut channels = std::collections::HashSet::new();
        for n in 0..100_000 {
            match event(&cfg, n) {
                Event::Bid(b) => {
                    bids += 1;
                    bid_bytes += 32 + b.extra.len() as u64;
                    if HOT_CHANNELS
                        .iter()
                        .any(|(c, u)| *c == b.channel && *u == b.url)
                    {
                        hot_channel += 1;
                    } else {
                        assert!(b.channel.starts_with("channel-"), "{b:?}");
                        assert!(b.url.starts_with("https://www.nexmark.com/"), "{b:?}");
                    }
                    channels.insert(b.channel);
                }
                Event::Auction(a) => {
                    auctions += 1;
                    open_ms += a.expires - a.date_time;
                    let size = 8 + a.item_name.len() + a.description.len() + 40 + a.extra.len();
                    assert!((434..=566).contains(&size), "{size}");
                }
                Event::Person(p) => assert!(!p.extra.is_empty()),
            }
        }
        // Half the bids on the four hot channels, the other half spread over 10,000.
        let share = hot_channel as f64 / bids as f64;
        assert!((0.48..0.52).contains(&share), "{share}");
        assert!(channels.len() > 8_000, "{}", channels.len());
        // Bids average 100 bytes as Nexmark counts them.
        let mean = bid_bytes as f64 / bids as f64;
        assert!((98.0..102.0).contains(&mean), "{mean}");
        // Auctions stay open for about the time 100 more auctions take to arrive:
        // 1,666 events at 100,000 events/s, 16.7 ms.
        let mean_open = open_ms as f64 / auctions as f64;
        assert!((15.0..18.5).contains(&mean_open), "{mean_open}");
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
