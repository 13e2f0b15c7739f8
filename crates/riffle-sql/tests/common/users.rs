//! A changelog of users for the upsert-kafka tests (the SQL connector's and the CLI's, which
//! includes this file): keyed JSON records, some of them tombstones, the count and total
//! score per city they leave, and the per-city rows a job wrote back.

use std::collections::BTreeMap;

use riffle_connectors::kafka::broker::{KeyedRecord, LocalBroker};

/// One event: a user and their new city and score, or `None` for a delete.
pub type Event = (i64, Option<(&'static str, i64)>);

/// Writes events `0..n` to `topic` (2 partitions; a user always in partition `user % 2`, key
/// `{"id"}`, value `{"id", "city", "score"}`, a delete as a tombstone). Returns, replayed by
/// a loop, the users left per city (count, total score) and how many users are left.
pub fn produce(
    broker: &LocalBroker,
    topic: &str,
    n: usize,
    event: impl Fn(usize) -> Event,
) -> (BTreeMap<String, (i64, i64)>, usize) {
    let records: Vec<KeyedRecord> = (0..n)
        .map(|i| {
            let (user, value) = event(i);
            let key = format!(r#"{{"id": {user}}}"#).into_bytes();
            let value = value.map(|(city, score)| {
                format!(r#"{{"id": {user}, "city": "{city}", "score": {score}}}"#).into_bytes()
            });
            ((user % 2) as i32, Some(key), value)
        })
        .collect();
    broker.produce_keyed(topic, &records).unwrap();
    let mut users = BTreeMap::new();
    for i in 0..n {
        match event(i) {
            (user, Some(row)) => users.insert(user, row),
            (user, None) => users.remove(&user),
        };
    }
    let mut per_city: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (city, score) in users.values() {
        let e = per_city.entry(city.to_string()).or_default();
        e.0 += 1;
        e.1 += score;
    }
    (per_city, users.len())
}

/// The rows an upsert topic of 2 partitions (key `{"city"}`, value `{"users", "total"}`)
/// holds: each city's last record (a tombstone: no row).
pub fn per_city(
    broker: &LocalBroker,
    topic: &str,
    expected: usize,
) -> BTreeMap<String, (i64, i64)> {
    broker
        .read_upserts(topic, 2, expected)
        .unwrap()
        .into_iter()
        .map(|(key, value)| {
            let key: serde_json::Value = serde_json::from_slice(&key).unwrap();
            let row: serde_json::Value = serde_json::from_slice(&value).unwrap();
            let city = key["city"].as_str().unwrap().to_string();
            let number = |field: &str| row[field].as_i64().unwrap();
            (city, (number("users"), number("total")))
        })
        .collect()
}
