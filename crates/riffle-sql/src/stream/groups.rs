//! A part's groups numbered in order of arrival, for the keyed half of an aggregation:
//! [`KeyIndex`] keeps their keys (row format) in one buffer, [`GroupBlocks`] their values
//! in blocks. Hundreds of thousands of groups then cost a few large allocations instead
//! of one per key, and a new group never moves or copies the others.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How many groups a block of [`GroupBlocks`] holds.
const GROUPS_PER_BLOCK: usize = 4096;

/// No group: the end of a chain in [`KeyIndex`].
const NONE: u32 = u32::MAX;

/// Keys in row format, numbered from 0 in order of arrival: their bytes one after another,
/// and per hash the newest key with it, each key chained to the one before with the same
/// hash. Checkpoints hold the keys only ([`KeyList`]); the chains are rebuilt on restore.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "KeyList", into = "KeyList")]
pub(super) struct KeyIndex {
    bytes: Vec<u8>,
    /// Where each key ends in `bytes`.
    ends: Vec<usize>,
    newest: HashMap<u64, u32, rustc_hash::FxBuildHasher>,
    /// Per key, the key before it with the same hash, or [`NONE`].
    before: Vec<u32>,
}

/// The keys of a [`KeyIndex`] as checkpoints hold them.
#[derive(Serialize, Deserialize)]
struct KeyList {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl KeyIndex {
    /// How many keys it holds.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Key number `group`.
    pub(super) fn key(&self, group: usize) -> &[u8] {
        let start = group.checked_sub(1).map_or(0, |g| self.ends[g]);
        &self.bytes[start..self.ends[group]]
    }

    /// The number of `key`, and whether it is new (numbered next).
    pub(super) fn find_or_add(&mut self, key: &[u8]) -> (usize, bool) {
        self.find_or_add_hashed(riffle_runtime::key_hash(key), key)
    }

    /// [`KeyIndex::find_or_add`] for a key whose hash is `hash`.
    fn find_or_add_hashed(&mut self, hash: u64, key: &[u8]) -> (usize, bool) {
        let mut at = self.newest.get(&hash).copied().unwrap_or(NONE);
        while at != NONE {
            if self.key(at as usize) == key {
                return (at as usize, false);
            }
            at = self.before[at as usize];
        }
        let group = self.len();
        self.add(hash, key);
        (group, true)
    }

    fn add(&mut self, hash: u64, key: &[u8]) {
        let group = u32::try_from(self.len()).expect("fewer than 4 billion groups in a part");
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
        self.before
            .push(self.newest.insert(hash, group).unwrap_or(NONE));
    }
}

impl From<KeyList> for KeyIndex {
    fn from(list: KeyList) -> Self {
        let mut index = KeyIndex::default();
        let mut start = 0;
        for end in list.ends {
            let key = &list.bytes[start..end];
            index.add(riffle_runtime::key_hash(key), key);
            start = end;
        }
        index
    }
}

impl From<KeyIndex> for KeyList {
    fn from(index: KeyIndex) -> Self {
        KeyList {
            bytes: index.bytes,
            ends: index.ends,
        }
    }
}

/// The same number of values per group, for groups numbered from 0, in blocks of
/// [`GROUPS_PER_BLOCK`] groups. One flat vector would copy every state each time it
/// doubles, and touch (and have the kernel zero) twice the memory it ends with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct GroupBlocks<T> {
    blocks: Vec<Vec<T>>,
    /// How many groups it holds.
    groups: usize,
}

impl<T> Default for GroupBlocks<T> {
    fn default() -> Self {
        GroupBlocks {
            blocks: Vec::new(),
            groups: 0,
        }
    }
}

impl<T> GroupBlocks<T> {
    /// Adds a group's `width` values as the next group. The first block grows as a vector
    /// does (a part may hold a few groups only); the others are made whole.
    pub(super) fn push(&mut self, values: impl IntoIterator<Item = T>, width: usize) {
        if self.groups == self.blocks.len() * GROUPS_PER_BLOCK {
            self.blocks.push(match self.blocks.is_empty() {
                true => Vec::new(),
                false => Vec::with_capacity(GROUPS_PER_BLOCK * width),
            });
        }
        self.groups += 1;
        if let Some(block) = self.blocks.last_mut() {
            block.extend(values);
        }
    }

    /// The values of group `group`, of `width` values each.
    pub(super) fn group(&self, group: usize, width: usize) -> &[T] {
        let start = group % GROUPS_PER_BLOCK * width;
        &self.blocks[group / GROUPS_PER_BLOCK][start..start + width]
    }

    /// [`GroupBlocks::group`], to change.
    pub(super) fn group_mut(&mut self, group: usize, width: usize) -> &mut [T] {
        let start = group % GROUPS_PER_BLOCK * width;
        &mut self.blocks[group / GROUPS_PER_BLOCK][start..start + width]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_numbered_in_arrival_order_and_found_again_after_a_checkpoint() {
        let keys: Vec<Vec<u8>> = (0..10_000u32)
            .map(|i| (i % 7_000).to_le_bytes().to_vec())
            .collect();
        let mut index = KeyIndex::default();
        let numbers: Vec<(usize, bool)> = keys.iter().map(|k| index.find_or_add(k)).collect();
        assert_eq!(index.len(), 7_000);
        for (i, (number, new)) in numbers.iter().enumerate() {
            assert_eq!(*number, i % 7_000);
            assert_eq!(*new, i < 7_000);
        }
        // The empty key and keys that are prefixes of each other stay apart.
        assert_eq!(index.find_or_add(b""), (7_000, true));
        assert_eq!(index.find_or_add(b"a"), (7_001, true));
        assert_eq!(index.find_or_add(b"ab"), (7_002, true));
        let bytes = bincode::serialize(&index).unwrap();
        let mut restored: KeyIndex = bincode::deserialize(&bytes).unwrap();
        assert_eq!(restored.len(), 7_003);
        assert_eq!(restored.key(7_002), b"ab");
        assert_eq!(restored.find_or_add(&keys[9_999]), (2_999, false));
        assert_eq!(restored.find_or_add(b""), (7_000, false));
    }

    #[test]
    fn keys_of_the_same_hash_are_told_apart_by_their_bytes() {
        let mut index = KeyIndex::default();
        for (i, k) in [b"x".as_slice(), b"y", b"z"].into_iter().enumerate() {
            assert_eq!(index.find_or_add_hashed(42, k), (i, true));
        }
        assert_eq!(index.find_or_add_hashed(42, b"y"), (1, false));
        assert_eq!(index.find_or_add_hashed(42, b"x"), (0, false));
        assert_eq!(index.find_or_add_hashed(42, b"w"), (3, true));
    }

    #[test]
    fn group_values_stay_in_place_across_blocks() {
        let mut blocks = GroupBlocks::default();
        for g in 0..(GROUPS_PER_BLOCK * 2 + 5) {
            blocks.push([g, g + 1], 2);
        }
        assert_eq!(blocks.blocks.len(), 3);
        for g in [
            0,
            GROUPS_PER_BLOCK - 1,
            GROUPS_PER_BLOCK,
            GROUPS_PER_BLOCK * 2 + 4,
        ] {
            assert_eq!(blocks.group_mut(g, 2), &[g, g + 1]);
        }
    }
}
