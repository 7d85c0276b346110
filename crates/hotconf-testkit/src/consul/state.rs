//! The emulated KV state store: entries, tombstones, table indexes and the raft index, with the
//! index rules of docs/protocols.md#how-the-index-is-computed and the write rules of
//! docs/protocols.md#consul-the-emulators-rules items 5 and 6.

use std::collections::BTreeMap;

/// One KV entry as the state store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The full key.
    pub key: String,
    /// The value; `None` for an empty PUT body (Consul's nil slice, `"Value": null`).
    pub value: Option<Vec<u8>>,
    /// Opaque flags.
    pub flags: u64,
    /// The raft index that created the entry.
    pub create_index: u64,
    /// The raft index of the entry's last change.
    pub modify_index: u64,
    /// Lock acquisitions (always 0: sessions are not emulated).
    pub lock_index: u64,
    /// The lock's session (always `None`: sessions are not emulated).
    pub session: Option<String>,
}

/// A copy of the whole state, for [`ConsulEmulator::restore`](super::ConsulEmulator::restore).
#[derive(Debug, Clone)]
pub struct Snapshot(pub(crate) State);

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) raft_index: u64,
    pub(crate) kvs: BTreeMap<String, Entry>,
    pub(crate) tombstones: BTreeMap<String, u64>,
    pub(crate) table_index_kvs: u64,
    pub(crate) table_index_tombstones: u64,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            raft_index: 10,
            kvs: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            table_index_kvs: 0,
            table_index_tombstones: 0,
        }
    }

    /// `kvsMaxIndex`: the larger table index of `kvs` and `tombstones`, 0 if none.
    fn kvs_max_index(&self) -> u64 {
        self.table_index_kvs.max(self.table_index_tombstones)
    }

    /// The index of a single-key read: the entry's ModifyIndex, else `kvsMaxIndex`, never 0.
    pub(crate) fn key_index(&self, key: &str) -> u64 {
        match self.kvs.get(key) {
            Some(entry) => entry.modify_index,
            None => self.kvs_max_index().max(1),
        }
    }

    /// The index of a list: max(ModifyIndex under `prefix`, tombstones under `prefix`), else
    /// `kvsMaxIndex`, never 0. The root prefix always uses `kvsMaxIndex`.
    pub(crate) fn list_index(&self, prefix: &str) -> u64 {
        if prefix.is_empty() {
            return self.kvs_max_index().max(1);
        }
        let entries = self
            .under(prefix)
            .map(|e| e.modify_index)
            .max()
            .unwrap_or(0);
        let stones = self
            .tombstones
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0);
        match entries.max(stones) {
            0 => self.kvs_max_index().max(1),
            index => index,
        }
    }

    /// Entries whose key starts with `prefix` (a raw string prefix, as Consul's radix tree).
    pub(crate) fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.kvs
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e)
    }

    fn next_index(&mut self) -> u64 {
        // Saturating: a test may move the raft index to u64::MAX (a hostile server's index).
        self.raft_index = self.raft_index.saturating_add(1);
        self.raft_index
    }

    /// A PUT: `cas` 0 creates only; otherwise it must equal the ModifyIndex. Unchanged value and
    /// flags are a no-op that keeps the ModifyIndex, unless `legacy_bump`.
    pub(crate) fn put(
        &mut self,
        key: &str,
        value: Vec<u8>,
        flags: u64,
        cas: Option<u64>,
        legacy_bump: bool,
    ) -> bool {
        let idx = self.next_index();
        let existing = self.kvs.get(key);
        match (cas, existing) {
            (Some(0), Some(_)) => return false,
            (Some(c), None) if c != 0 => return false,
            (Some(c), Some(e)) if c != 0 && c != e.modify_index => return false,
            _ => {}
        }
        let value = (!value.is_empty()).then_some(value);
        let create_index = match existing {
            Some(e) if e.value == value && e.flags == flags && !legacy_bump => return true,
            Some(e) => e.create_index,
            None => idx,
        };
        let entry = Entry {
            key: key.to_owned(),
            value,
            flags,
            create_index,
            modify_index: idx,
            lock_index: 0,
            session: None,
        };
        self.kvs.insert(key.to_owned(), entry);
        self.table_index_kvs = idx;
        true
    }

    /// A single-key DELETE (`cas`: only if the ModifyIndex matches; a missing key is `true`).
    pub(crate) fn delete(&mut self, key: &str, cas: Option<u64>) -> bool {
        let idx = self.next_index();
        let Some(existing) = self.kvs.get(key) else {
            return true;
        };
        if cas.is_some_and(|c| c != existing.modify_index) {
            return false;
        }
        self.kvs.remove(key);
        self.bury(key, idx);
        true
    }

    /// A `?recurse` DELETE: one tombstone keyed by the prefix, if anything was deleted.
    pub(crate) fn delete_tree(&mut self, prefix: &str) -> bool {
        let idx = self.next_index();
        let doomed: Vec<String> = self.under(prefix).map(|e| e.key.clone()).collect();
        if !doomed.is_empty() {
            for key in &doomed {
                self.kvs.remove(key);
            }
            self.bury(prefix, idx);
        }
        true
    }

    fn bury(&mut self, key: &str, idx: u64) {
        self.tombstones.insert(key.to_owned(), idx);
        self.table_index_tombstones = idx;
        self.table_index_kvs = idx;
    }

    /// Reaps every tombstone (the TombstoneTTL passed). Table indexes stay as they are.
    pub(crate) fn reap(&mut self) {
        self.tombstones.clear();
    }
}
