//! The Nexmark queries of `examples/nexmark/` run as written (over a smaller stream, their
//! `INSERT INTO` turned into the SELECT it writes), each checked against a plain loop over
//! the same generated events, on 1 and 4 workers.

mod common;

use std::collections::BTreeMap;

use common::{rows, timestamp};
use riffle_connectors::nexmark::{event, Event, NexmarkConfig};

/// Events and event-time rate of the Nexmark example tests.
const Q_EVENTS: u64 = 60_000;
const Q_RATE: u64 = 1_000;

/// Runs `examples/nexmark/NAME` on `workers` workers over a smaller stream, its `INSERT INTO`
/// turned into the SELECT it writes, and returns the rows as sorted CSV lines.
fn example_rows(name: &str, workers: usize) -> Vec<String> {
    let path = format!(
        "{}/../../examples/nexmark/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    let text = text
        .replace(
            "'events.num' = '10000000'",
            &format!("'events.num' = '{Q_EVENTS}', 'first-event.rate' = '{Q_RATE}'"),
        )
        .replace("'path' = 'examples/", &format!("'path' = '{root}examples/"));
    let select: String = text
        .lines()
        .filter(|l| !l.starts_with("INSERT INTO"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(select, text, "{name} has an INSERT INTO");
    rows(&format!(
        "SET 'parallelism.default' = '{workers}';\n{select}"
    ))
}

fn q_events() -> Vec<Event> {
    let config = NexmarkConfig {
        max_events: Some(Q_EVENTS),
        events_per_second: Q_RATE,
        ..NexmarkConfig::default()
    };
    (0..Q_EVENTS).map(|n| event(&config, n)).collect()
}

/// A DOUBLE as the CSV output prints it (`3.0`, not `3`).
fn double(x: f64) -> String {
    let text = x.to_string();
    match text.contains(['.', 'e', 'N', 'i']) {
        true => text,
        false => format!("{text}.0"),
    }
}

fn check_example(name: &str, mut expected: Vec<String>) {
    expected.sort();
    assert!(!expected.is_empty(), "{name}: the expected result is empty");
    for workers in [1, 4] {
        let got = example_rows(name, workers);
        if got != expected {
            let missing: Vec<_> = expected
                .iter()
                .filter(|r| !got.contains(r))
                .take(3)
                .collect();
            let extra: Vec<_> = got
                .iter()
                .filter(|r| !expected.contains(r))
                .take(3)
                .collect();
            panic!(
                "{name} on {workers} workers: {} rows, {} expected; missing {missing:?}; \
                 unexpected {extra:?}",
                got.len(),
                expected.len()
            );
        }
    }
}

#[test]
fn nexmark_q3_regular_join_matches_a_loop() {
    let events = q_events();
    let people: BTreeMap<u64, (String, String, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Person(p) => Some((p.id, (p.name.clone(), p.city.clone(), p.state.clone()))),
            _ => None,
        })
        .collect();
    let expected = events
        .iter()
        .filter_map(|e| match e {
            Event::Auction(a) if a.category == 10 => {
                let (name, city, state) = people.get(&a.seller)?;
                ["OR", "ID", "CA"]
                    .contains(&state.as_str())
                    .then(|| format!("{name},{city},{state},{}", a.id))
            }
            _ => None,
        })
        .collect();
    check_example("q3.sql", expected);
}

#[test]
fn nexmark_q5_hot_items_match_a_loop() {
    // Bids per (window start, auction) for windows of 10 s every 2 s.
    let mut counts: BTreeMap<(i64, u64), i64> = BTreeMap::new();
    for e in q_events() {
        if let Event::Bid(b) = e {
            let last = b.date_time - b.date_time.rem_euclid(2_000);
            for k in 0..5 {
                *counts.entry((last - k * 2_000, b.auction)).or_default() += 1;
            }
        }
    }
    let mut max: BTreeMap<i64, i64> = BTreeMap::new();
    for ((start, _), n) in &counts {
        let m = max.entry(*start).or_default();
        *m = (*m).max(*n);
    }
    let expected = counts
        .iter()
        .filter(|((start, _), n)| **n >= max[start])
        .map(|((_, auction), n)| format!("{auction},{n}"))
        .collect();
    check_example("q5.sql", expected);
}

/// Auction id -> (seller, category, expiry).
type Auctions = BTreeMap<u64, (u64, u64, i64)>;

/// Each auction's highest bid among those placed while it was open, whenever the auction
/// arrived (the join keeps both sides), and the auctions.
fn closing_prices(events: &[Event]) -> (BTreeMap<u64, u64>, Auctions) {
    let auctions: BTreeMap<u64, (u64, i64, i64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Auction(a) => Some((a.id, (a.category, a.date_time, a.expires, a.seller))),
            _ => None,
        })
        .collect();
    let mut finals: BTreeMap<u64, u64> = BTreeMap::new();
    for e in events {
        if let Event::Bid(b) = e {
            if let Some((_, opened, expires, _)) = auctions.get(&b.auction) {
                if (*opened..=*expires).contains(&b.date_time) {
                    let f = finals.entry(b.auction).or_default();
                    *f = (*f).max(b.price);
                }
            }
        }
    }
    let auctions = auctions
        .into_iter()
        .map(|(id, (category, _, expires, seller))| (id, (seller, category, expires)))
        .collect();
    (finals, auctions)
}

#[test]
fn nexmark_q4_average_closing_price_per_category_matches_a_loop() {
    let (finals, auctions) = closing_prices(&q_events());
    let mut per_category: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (auction, price) in &finals {
        let e = per_category.entry(auctions[auction].1).or_default();
        e.0 += price;
        e.1 += 1;
    }
    assert_eq!(per_category.len(), 5, "every category has a closed auction");
    for workers in [1, 4] {
        let rows = example_rows("q4.sql", workers);
        let got: Vec<(u64, f64)> = rows
            .iter()
            .map(|r| {
                let (c, avg) = r.split_once(',').unwrap();
                (c.parse().unwrap(), avg.parse().unwrap())
            })
            .collect();
        assert_eq!(got.len(), per_category.len(), "{rows:?}");
        for ((category, avg), (c, (sum, n))) in got.iter().zip(&per_category) {
            assert_eq!(category, c);
            let expected = *sum as f64 / *n as f64;
            assert!(
                (avg - expected).abs() < 1e-6 * expected,
                "{category}: {avg} vs {expected}"
            );
        }
    }
}

#[test]
fn nexmark_q6_average_of_each_sellers_last_closing_prices_matches_a_loop() {
    let (finals, auctions) = closing_prices(&q_events());
    // Per seller, the closing prices in order of expiry; each with the average of it and
    // the 10 before it.
    let mut per_seller: BTreeMap<u64, Vec<(i64, u64)>> = BTreeMap::new();
    for (auction, price) in &finals {
        let (seller, _, expires) = auctions[auction];
        per_seller
            .entry(seller)
            .or_default()
            .push((expires, *price));
    }
    let mut expected: Vec<(u64, f64)> = Vec::new();
    for (seller, prices) in &mut per_seller {
        // Rows of one time are in the order of their values, of which the price is first.
        prices.sort();
        for i in 0..prices.len() {
            let frame = &prices[i.saturating_sub(10)..=i];
            let sum: u64 = frame.iter().map(|(_, p)| p).sum();
            expected.push((*seller, sum as f64 / frame.len() as f64));
        }
    }
    expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert!(
        per_seller.values().any(|p| p.len() > 11),
        "some seller's frame is full"
    );
    for workers in [1, 4] {
        let mut got: Vec<(u64, f64)> = example_rows("q6.sql", workers)
            .iter()
            .map(|r| {
                let (s, avg) = r.split_once(',').unwrap();
                (s.parse().unwrap(), avg.parse().unwrap())
            })
            .collect();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got.len(), expected.len(), "on {workers} workers");
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                g.0 == e.0 && (g.1 - e.1).abs() < 1e-9 * e.1,
                "on {workers} workers: {g:?} vs {e:?}"
            );
        }
    }
}

#[test]
fn nexmark_q7_highest_bids_match_a_loop() {
    let bids: Vec<_> = q_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Bid(b) => Some(b),
            _ => None,
        })
        .collect();
    let mut max: BTreeMap<i64, u64> = BTreeMap::new();
    for b in &bids {
        let end = b.date_time - b.date_time.rem_euclid(10_000) + 10_000;
        let m = max.entry(end).or_default();
        *m = (*m).max(b.price);
    }
    let mut expected = Vec::new();
    for b in &bids {
        for (end, price) in &max {
            if *price == b.price && end - 10_000 <= b.date_time && b.date_time <= *end {
                let ts = timestamp(b.date_time);
                expected.push(format!(
                    "{},{},{},{ts},{}",
                    b.auction, b.price, b.bidder, b.extra
                ));
            }
        }
    }
    check_example("q7.sql", expected);
    // Its condition bounds the bid's time against the window's end: an interval join whose
    // rows are dropped as the watermark passes them (the result above shows none too early).
    let path = format!(
        "{}/../../examples/nexmark/q7.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut plans = String::new();
    riffle_sql::Session::new()
        .unwrap()
        .run_script(
            &text.replace("INSERT INTO nexmark_q7", "EXPLAIN INSERT INTO nexmark_q7"),
            |_, output| {
                if let riffle_sql::Output::Text(t) = output {
                    plans.push_str(&t);
                }
                Ok(())
            },
        )
        .unwrap();
    assert!(
        plans.contains("IntervalJoin (-10000 ms <= left time - right time <= 0 ms"),
        "{plans}"
    );
}

#[test]
fn nexmark_q8_window_join_matches_a_loop() {
    let events = q_events();
    let window = |ts: i64| ts - ts.rem_euclid(10_000);
    let sellers: std::collections::BTreeSet<(u64, i64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Auction(a) => Some((a.seller, window(a.date_time))),
            _ => None,
        })
        .collect();
    let people: std::collections::BTreeSet<(u64, String, i64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Person(p) => Some((p.id, p.name.clone(), window(p.date_time))),
            _ => None,
        })
        .collect();
    let expected = people
        .into_iter()
        .filter(|(id, _, start)| sellers.contains(&(*id, *start)))
        .map(|(id, name, start)| format!("{id},{name},{}", timestamp(start)))
        .collect();
    check_example("q8.sql", expected);
}

/// The bids of the test stream.
fn q_bids() -> Vec<riffle_connectors::nexmark::Bid> {
    q_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Bid(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn q_auctions() -> Vec<riffle_connectors::nexmark::Auction> {
    q_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Auction(a) => Some(*a),
            _ => None,
        })
        .collect()
}

#[test]
fn nexmark_q9_winning_bids_match_a_loop() {
    let auctions = q_auctions();
    let mut best: BTreeMap<u64, &riffle_connectors::nexmark::Bid> = BTreeMap::new();
    let bids = q_bids();
    let by_id: BTreeMap<u64, &riffle_connectors::nexmark::Auction> =
        auctions.iter().map(|a| (a.id, a)).collect();
    for b in &bids {
        let Some(a) = by_id.get(&b.auction) else {
            continue;
        };
        if !(a.date_time..=a.expires).contains(&b.date_time) {
            continue;
        }
        // ORDER BY price DESC, dateTime ASC.
        let better = best
            .get(&a.id)
            .is_none_or(|o| (b.price, -b.date_time) > (o.price, -o.date_time));
        if better {
            best.insert(a.id, b);
        }
    }
    let expected = best
        .iter()
        .map(|(id, b)| {
            let a = by_id[id];
            format!(
                "{},{},{},{},{},{},{}",
                a.id,
                auction_details(a),
                b.auction,
                b.bidder,
                b.price,
                timestamp(b.date_time),
                b.extra
            )
        })
        .collect();
    check_example("q9.sql", expected);
}

#[test]
fn nexmark_q11_bidder_sessions_match_a_loop() {
    let mut times: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for b in q_bids() {
        times.entry(b.bidder).or_default().push(b.date_time);
    }
    let mut expected = Vec::new();
    for (bidder, mut ts) in times {
        ts.sort();
        // A session goes on while the next bid comes less than 10 s after the last.
        let mut start = 0;
        for i in 1..=ts.len() {
            if i == ts.len() || ts[i] >= ts[i - 1] + 10_000 {
                expected.push(format!(
                    "{bidder},{},{},{}",
                    i - start,
                    timestamp(ts[start]),
                    timestamp(ts[i - 1] + 10_000)
                ));
                start = i;
            }
        }
    }
    check_example("q11.sql", expected);
}

#[test]
fn nexmark_q14_calculation_matches_a_loop() {
    let expected = q_bids()
        .iter()
        .filter(|b| {
            let p = 0.908 * b.price as f64;
            p > 1_000_000.0 && p < 50_000_000.0
        })
        .map(|b| {
            let hour = b.date_time.div_euclid(3_600_000).rem_euclid(24);
            let kind = match hour {
                8..=18 => "dayTime",
                h if h <= 6 || h >= 20 => "nightTime",
                _ => "otherTime",
            };
            let c = b.extra.chars().filter(|c| *c == 'c').count();
            format!(
                "{},{},{},{kind},{},{},{c}",
                b.auction,
                b.bidder,
                double(0.908 * b.price as f64),
                timestamp(b.date_time),
                b.extra
            )
        })
        .collect();
    check_example("q14.sql", expected);
}

/// Bids, and distinct bidders and auctions, per price rank (all, < 10,000, < 1,000,000, more),
/// as q15 and q16 count them: 12 numbers.
#[derive(Default)]
struct RankCounts {
    bids: [u64; 4],
    bidders: [std::collections::BTreeSet<u64>; 4],
    auctions: [std::collections::BTreeSet<u64>; 4],
}

impl RankCounts {
    fn add(&mut self, b: &riffle_connectors::nexmark::Bid) {
        let rank = match b.price {
            p if p < 10_000 => 1,
            p if p < 1_000_000 => 2,
            _ => 3,
        };
        for r in [0, rank] {
            self.bids[r] += 1;
            self.bidders[r].insert(b.bidder);
            self.auctions[r].insert(b.auction);
        }
    }

    fn line(&self) -> String {
        let counts = self.bids.iter().copied();
        let counts = counts.chain(self.bidders.iter().map(|s| s.len() as u64));
        let counts = counts.chain(self.auctions.iter().map(|s| s.len() as u64));
        counts.map(|n| n.to_string()).collect::<Vec<_>>().join(",")
    }
}

fn day(ms: i64) -> String {
    timestamp(ms)[..10].to_string()
}

#[test]
fn nexmark_q15_and_q16_daily_statistics_match_a_loop() {
    let (mut per_day, mut per_channel) = (BTreeMap::new(), BTreeMap::new());
    let mut last_minute: BTreeMap<(String, String), String> = BTreeMap::new();
    for b in q_bids() {
        let d = day(b.date_time);
        per_day
            .entry(d.clone())
            .or_insert_with(RankCounts::default)
            .add(&b);
        let key = (b.channel.to_string(), d);
        per_channel
            .entry(key.clone())
            .or_insert_with(RankCounts::default)
            .add(&b);
        let minute = timestamp(b.date_time)[11..16].to_string();
        let m = last_minute.entry(key).or_default();
        *m = m.clone().max(minute);
    }
    let q15 = per_day
        .iter()
        .map(|(d, c)| format!("{d},{}", c.line()))
        .collect();
    check_example("q15.sql", q15);
    let q16 = per_channel
        .iter()
        .map(|(key, c)| format!("{},{},{},{}", key.0, key.1, last_minute[key], c.line()))
        .collect();
    check_example("q16.sql", q16);
}

#[test]
fn nexmark_q17_auction_statistics_match_a_loop() {
    let mut stats: BTreeMap<(u64, String), Vec<u64>> = BTreeMap::new();
    for b in q_bids() {
        stats
            .entry((b.auction, day(b.date_time)))
            .or_default()
            .push(b.price);
    }
    let expected = stats
        .iter()
        .map(|((auction, d), prices)| {
            let rank = |lo: u64, hi: u64| prices.iter().filter(|p| (lo..hi).contains(*p)).count();
            let sum: u64 = prices.iter().sum();
            format!(
                "{auction},{d},{},{},{},{},{},{},{},{sum}",
                prices.len(),
                rank(0, 10_000),
                rank(10_000, 1_000_000),
                rank(1_000_000, u64::MAX),
                prices.iter().min().unwrap(),
                prices.iter().max().unwrap(),
                double(sum as f64 / prices.len() as f64),
            )
        })
        .collect();
    check_example("q17.sql", expected);
}

/// An auction's columns after its id, as the queries print them.
fn auction_details(a: &riffle_connectors::nexmark::Auction) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{}",
        a.item_name,
        a.description,
        a.initial_bid,
        a.reserve,
        timestamp(a.date_time),
        timestamp(a.expires),
        a.seller,
        a.category,
        a.extra
    )
}

fn bid_line(b: &riffle_connectors::nexmark::Bid) -> String {
    format!(
        "{},{},{},{},{},{},{}",
        b.auction,
        b.bidder,
        b.price,
        b.channel,
        b.url,
        timestamp(b.date_time),
        b.extra
    )
}

#[test]
fn nexmark_q18_last_bid_per_bidder_and_auction_matches_a_loop() {
    let mut last: BTreeMap<(u64, u64), riffle_connectors::nexmark::Bid> = BTreeMap::new();
    for b in q_bids() {
        // Event times are distinct at this rate: the latest is unique.
        last.insert((b.bidder, b.auction), b);
    }
    check_example("q18.sql", last.values().map(bid_line).collect());
}

#[test]
fn nexmark_q19_top_10_bids_per_auction_match_a_loop() {
    let mut per_auction: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for b in q_bids() {
        per_auction.entry(b.auction).or_default().push(b.price);
    }
    let mut expected = Vec::new();
    for (auction, mut prices) in per_auction {
        prices.sort_by(|a, b| b.cmp(a));
        for (rank, price) in prices.iter().take(10).enumerate() {
            expected.push(format!("{auction},{price},{}", rank + 1));
        }
    }
    expected.sort();
    // Equal prices may rank in either order, so compare auction, price and rank only.
    for workers in [1, 4] {
        let mut got: Vec<String> = example_rows("q19.sql", workers)
            .iter()
            .map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                format!("{},{},{}", f[0], f[2], f[f.len() - 1])
            })
            .collect();
        got.sort();
        assert_eq!(got, expected, "q19 on {workers} workers");
    }
}

#[test]
fn nexmark_q20_expanded_bids_match_a_loop() {
    let auctions: BTreeMap<u64, riffle_connectors::nexmark::Auction> = q_auctions()
        .into_iter()
        .filter(|a| a.category == 10)
        .map(|a| (a.id, a))
        .collect();
    let expected = q_bids()
        .iter()
        .filter_map(|b| {
            let a = auctions.get(&b.auction)?;
            Some(format!("{},{}", bid_line(b), auction_details(a)))
        })
        .collect();
    check_example("q20.sql", expected);
}

#[test]
fn nexmark_q21_and_q22_channel_ids_and_url_directories_match_a_loop() {
    let bids = q_bids();
    let q21 = bids
        .iter()
        .filter_map(|b| {
            let hot = ["apple", "google", "facebook", "baidu"];
            let lower = b.channel.to_lowercase();
            let from_url = b
                .url
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("channel_id=").map(str::to_string));
            let id = match hot.iter().position(|h| *h == lower) {
                Some(i) => Some(i.to_string()),
                None => from_url,
            }?;
            Some(format!(
                "{},{},{},{},{id}",
                b.auction, b.bidder, b.price, b.channel
            ))
        })
        .collect();
    check_example("q21.sql", q21);
    let q22 = bids
        .iter()
        .map(|b| {
            let dirs: Vec<&str> = b.url.split('/').collect();
            format!(
                "{},{},{},{},{},{},{}",
                b.auction, b.bidder, b.price, b.channel, dirs[3], dirs[4], dirs[5]
            )
        })
        .collect();
    check_example("q22.sql", q22);
}

/// The tables of `examples/nexmark/NAME` (its text up to its sink table) over the test stream,
/// in streaming mode on `workers` workers, followed by `query`: the query's rows.
fn query_over_tables_of(name: &str, query: &str, workers: usize) -> Vec<String> {
    let path = format!(
        "{}/../../examples/nexmark/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let tables = &text[..text.find("CREATE TABLE nexmark_").unwrap()];
    let tables = tables.replace(
        "'events.num' = '10000000'",
        &format!("'events.num' = '{Q_EVENTS}', 'first-event.rate' = '{Q_RATE}'"),
    );
    rows(&format!(
        "SET 'parallelism.default' = '{workers}'; SET 'execution.runtime-mode' = 'streaming';
        {tables} {query}"
    ))
}

#[test]
fn a_left_join_of_bids_to_auctions_pads_the_bids_of_auctions_never_created() {
    let categories: BTreeMap<u64, u64> = q_auctions().iter().map(|a| (a.id, a.category)).collect();
    let mut expected: Vec<String> = q_bids()
        .iter()
        .map(|b| match categories.get(&b.auction) {
            Some(c) => format!("{},{},{c}", b.auction, b.price),
            None => format!("{},{},", b.auction, b.price),
        })
        .collect();
    expected.sort();
    // The id lead makes some bids name auctions past the end of the stream.
    assert!(expected.iter().any(|r| r.ends_with(',')));
    let query = "SELECT B.auction, B.price, A.category
        FROM bid B LEFT JOIN auction A ON B.auction = A.id;";
    for workers in [1, 4] {
        assert_eq!(
            query_over_tables_of("q20.sql", query, workers),
            expected,
            "{workers} workers"
        );
    }
}

#[test]
fn nexmark_q13_side_input_lookup_join_matches_a_loop() {
    // Every bid finds its side row: the side file is read whole before bids are looked up.
    let expected = q_bids()
        .iter()
        .map(|b| {
            format!(
                "{},{},{},{},side-{}",
                b.auction,
                b.bidder,
                b.price,
                timestamp(b.date_time),
                b.auction % 10_000
            )
        })
        .collect();
    check_example("q13.sql", expected);
}

#[test]
fn nexmark_q12_processing_time_windows_count_every_bid_once() {
    // Windows depend on the wall clock; the counts per bidder summed over them do not.
    let mut expected: BTreeMap<u64, u64> = BTreeMap::new();
    for b in q_bids() {
        *expected.entry(b.bidder).or_default() += 1;
    }
    for workers in [1, 4] {
        let mut got: BTreeMap<u64, u64> = BTreeMap::new();
        for line in example_rows("q12.sql", workers) {
            let cells: Vec<&str> = line.split(',').collect();
            *got.entry(cells[0].parse().unwrap()).or_default() += cells[1].parse::<u64>().unwrap();
        }
        assert_eq!(got, expected, "{workers} workers");
    }
}

#[test]
fn nexmark_q10_writes_each_bid_under_its_day_and_minute() {
    let dir = tempfile::tempdir().unwrap();
    let path = format!(
        "{}/../../examples/nexmark/q10.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let script = std::fs::read_to_string(path)
        .unwrap()
        .replace(
            "'events.num' = '10000000'",
            &format!("'events.num' = '{Q_EVENTS}', 'first-event.rate' = '{Q_RATE}'"),
        )
        .replace("/tmp/riffle-nexmark-q10", &dir.path().display().to_string());
    let script = format!("SET 'parallelism.default' = '2';\n{script}");
    riffle_sql::Session::new()
        .unwrap()
        .run_script(&script, |_, _| Ok(()))
        .unwrap();
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for b in q_bids() {
        let t = timestamp(b.date_time);
        let partition = format!("dt={}/hm={}", &t[..10], &t[11..16]);
        let line = format!("{},{},{},{t},{}", b.auction, b.bidder, b.price, b.extra);
        expected.entry(partition).or_default().push(line);
    }
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for day in std::fs::read_dir(dir.path()).unwrap().flatten() {
        for minute in std::fs::read_dir(day.path()).unwrap().flatten() {
            let partition = format!(
                "{}/{}",
                day.file_name().to_string_lossy(),
                minute.file_name().to_string_lossy()
            );
            for part in std::fs::read_dir(minute.path()).unwrap().flatten() {
                let name = part.file_name().to_string_lossy().to_string();
                assert!(!name.starts_with('.'), "uncommitted part {name}");
                let text = std::fs::read_to_string(part.path()).unwrap();
                got.entry(partition.clone())
                    .or_default()
                    .extend(text.lines().map(str::to_string));
            }
        }
    }
    for lines in expected.values_mut().chain(got.values_mut()) {
        lines.sort();
    }
    assert!(expected.len() > 1, "the test stream spans several minutes");
    assert_eq!(got, expected);
}
