//! Keyed state: the per-key values operators keep, and their snapshots.
//!
//! A keyed operator keeps one state value per key in a [`KeyedState`], never in an ad-hoc
//! map, so that a checkpoint can snapshot it and a restart restore it. Process functions
//! compose their per-key state from [`ValueState`], [`ListState`] and [`MapState`].

use std::collections::BTreeMap;
use std::hash::Hash;

use riffle_core::{Result, RiffleError};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::Data;

/// The per-key state of one operator on one worker, with snapshot and restore.
pub struct KeyedState<K, S> {
    values: FxHashMap<K, S>,
}

impl<K: Data + Hash + Eq, S: Data + Default> Default for KeyedState<K, S> {
    fn default() -> Self {
        KeyedState {
            values: FxHashMap::default(),
        }
    }
}

impl<K: Data + Hash + Eq, S: Data + Default> KeyedState<K, S> {
    /// The state of `key`, created empty on first use.
    pub fn get_mut(&mut self, key: &K) -> &mut S {
        if !self.values.contains_key(key) {
            self.values.insert(key.clone(), S::default());
        }
        match self.values.get_mut(key) {
            Some(state) => state,
            None => unreachable!("inserted above"),
        }
    }

    /// The state of `key`, if it has any.
    pub fn get(&self, key: &K) -> Option<&S> {
        self.values.get(key)
    }

    /// Forgets `key`'s state.
    pub fn remove(&mut self, key: &K) -> Option<S> {
        self.values.remove(key)
    }

    /// Number of keys with state.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if no key has state.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Serializes every key's state (compact binary).
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let entries: Vec<(&K, &S)> = self.values.iter().collect();
        bincode::serialize(&entries)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot serialize keyed state: {e}")))
    }

    /// Replaces the state with a snapshot taken by [`KeyedState::snapshot`].
    pub fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let entries: Vec<(K, S)> = bincode::deserialize(bytes)
            .map_err(|e| RiffleError::Checkpoint(format!("cannot read keyed state: {e}")))?;
        self.values = entries.into_iter().collect();
        Ok(())
    }
}

/// A single value per key (Flink's `ValueState`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueState<T>(Option<T>);

impl<T> Default for ValueState<T> {
    fn default() -> Self {
        ValueState(None)
    }
}

impl<T> ValueState<T> {
    /// The value, if set.
    pub fn value(&self) -> Option<&T> {
        self.0.as_ref()
    }
    /// The value to change in place, if set.
    pub fn value_mut(&mut self) -> Option<&mut T> {
        self.0.as_mut()
    }
    /// Sets the value.
    pub fn update(&mut self, value: T) {
        self.0 = Some(value);
    }
    /// Unsets the value.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

/// A list per key (Flink's `ListState`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListState<T>(Vec<T>);

impl<T> Default for ListState<T> {
    fn default() -> Self {
        ListState(Vec::new())
    }
}

impl<T> ListState<T> {
    /// Appends a value.
    pub fn add(&mut self, value: T) {
        self.0.push(value);
    }
    /// The values, in insertion order.
    pub fn get(&self) -> &[T] {
        &self.0
    }
    /// Keeps the values for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }
    /// Inserts `value` after the last value whose `rank` is not above its own. Values that
    /// come nearly in `rank` order (expiry times) stay sorted at the cost of a short search
    /// from the back.
    pub fn insert_sorted_by<R: Ord>(&mut self, value: T, rank: impl Fn(&T) -> R) {
        let r = rank(&value);
        let at = self
            .0
            .iter()
            .rposition(|v| rank(v) <= r)
            .map_or(0, |i| i + 1);
        self.0.insert(at, value);
    }
    /// Removes the values before the first one for which `done` is false: the expired
    /// front of a list sorted by expiry.
    pub fn remove_while(&mut self, mut done: impl FnMut(&T) -> bool) {
        let n = self.0.iter().take_while(|v| done(v)).count();
        self.0.drain(..n);
    }
    /// Replaces all values.
    pub fn update(&mut self, values: Vec<T>) {
        self.0 = values;
    }
    /// Removes all values.
    pub fn clear(&mut self) {
        self.0.clear();
    }
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A map per key (Flink's `MapState`), ordered by its keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapState<K: Ord, V>(BTreeMap<K, V>);

impl<K: Ord, V> Default for MapState<K, V> {
    fn default() -> Self {
        MapState(BTreeMap::new())
    }
}

impl<K: Ord, V> MapState<K, V> {
    /// The value at `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.get(key)
    }
    /// Sets the value at `key`.
    pub fn put(&mut self, key: K, value: V) {
        self.0.insert(key, value);
    }
    /// Removes the value at `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.0.remove(key)
    }
    /// True if `key` has a value.
    pub fn contains(&self, key: &K) -> bool {
        self.0.contains_key(key)
    }
    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter()
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_sorted_by_expiry_drops_its_expired_front() {
        let mut list = ListState::default();
        for (expiry, name) in [(5, "a"), (3, "b"), (9, "c"), (5, "d"), (1, "e")] {
            list.insert_sorted_by((expiry, name), |v| v.0);
        }
        // Equal ranks keep their insertion order.
        assert_eq!(
            list.get(),
            [(1, "e"), (3, "b"), (5, "a"), (5, "d"), (9, "c")]
        );
        list.remove_while(|v| v.0 <= 5);
        assert_eq!(list.get(), [(9, "c")]);
    }

    #[test]
    fn snapshot_restores_every_key() {
        let mut state: KeyedState<String, ListState<u32>> = KeyedState::default();
        state.get_mut(&"a".to_string()).add(1);
        state.get_mut(&"a".to_string()).add(2);
        state.get_mut(&"b".to_string()).add(3);
        let bytes = state.snapshot().unwrap();
        let mut restored: KeyedState<String, ListState<u32>> = KeyedState::default();
        restored.restore(&bytes).unwrap();
        assert_eq!(restored.len(), 2);
        assert_eq!(restored.get(&"a".to_string()).unwrap().get(), &[1, 2]);
        assert!(restored.restore(&[1, 2, 3]).is_err());
    }
}
