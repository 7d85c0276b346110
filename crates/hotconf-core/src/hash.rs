//! A stable content hash of a tree (xxh3), without serializing it.

use serde_json::Value;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Hashes a document's bytes (a JSON document read without its tree), in a domain apart from
/// trees.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    xxh3_64_with_seed(bytes, 0x686f74636f6e66)
}

/// Hashes a list of hashes (the layers of a merge), in a domain apart from the others.
pub(crate) fn hash_list(hashes: &[u64]) -> u64 {
    let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
    xxh3_64_with_seed(&bytes, 0x6c6179657273)
}

/// Hashes `value` structurally: equal trees give equal hashes, in every process and version.
/// A map's hash does not depend on the order of its keys ([`MapHash`]).
pub(crate) fn hash_value(value: &Value) -> u64 {
    match value {
        Value::Null => hash_null(),
        Value::Bool(b) => hash_bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => hash_i64(i),
            (None, Some(u)) => hash_u64(u),
            (None, None) => hash_f64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => hash_str(s),
        Value::Array(items) => {
            let mut seq = SeqHash::default();
            for item in items {
                seq.push(hash_value(item));
            }
            seq.finish()
        }
        Value::Object(map) => {
            let mut hash = MapHash::default();
            for (key, value) in map {
                hash.push(hash_str(key), hash_value(value));
            }
            hash.finish()
        }
    }
}

/// Seeds that keep each kind of value in its own domain.
mod domain {
    pub(super) const NULL: u64 = 0x6e;
    pub(super) const TRUE: u64 = 0x74;
    pub(super) const FALSE: u64 = 0x66;
    pub(super) const INT: u64 = 0x69;
    pub(super) const UINT: u64 = 0x75;
    pub(super) const FLOAT: u64 = 0x64;
    pub(super) const STR: u64 = 0x73;
    pub(super) const SEQ: u64 = 0x5b;
    pub(super) const MAP: u64 = 0x7b;
    pub(super) const ENTRY: u64 = 0x3a;
}

fn hash_null() -> u64 {
    xxh3_64_with_seed(&[], domain::NULL)
}

fn hash_bool(b: bool) -> u64 {
    xxh3_64_with_seed(&[], if b { domain::TRUE } else { domain::FALSE })
}

fn hash_i64(i: i64) -> u64 {
    xxh3_64_with_seed(&i.to_le_bytes(), domain::INT)
}

/// A `u64` that fits an `i64` hashes as one, as a tree's number does.
fn hash_u64(u: u64) -> u64 {
    match i64::try_from(u) {
        Ok(i) => hash_i64(i),
        Err(_) => xxh3_64_with_seed(&u.to_le_bytes(), domain::UINT),
    }
}

fn hash_f64(f: f64) -> u64 {
    xxh3_64_with_seed(&f.to_bits().to_le_bytes(), domain::FLOAT)
}

fn hash_str(s: &str) -> u64 {
    xxh3_64_with_seed(s.as_bytes(), domain::STR)
}

/// The hash of a list, from its items' hashes in order (chained, so it stays two words).
#[derive(Default)]
struct SeqHash {
    chain: u64,
    len: u64,
}

impl SeqHash {
    fn push(&mut self, item: u64) {
        self.chain = pair(self.chain, item, domain::SEQ);
        self.len += 1;
    }

    fn finish(&self) -> u64 {
        pair(self.chain, self.len, domain::SEQ)
    }
}

/// Hashes two words in `domain`.
fn pair(a: u64, b: u64, domain: u64) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    xxh3_64_with_seed(&bytes, domain)
}

/// The hash of a map, from its entries' hashes in any order.
#[derive(Default)]
struct MapHash {
    sum: u64,
    len: u64,
}

impl MapHash {
    fn push(&mut self, key: u64, value: u64) {
        self.sum = self.sum.wrapping_add(pair(key, value, domain::ENTRY));
        self.len += 1;
    }

    fn finish(&self) -> u64 {
        pair(self.sum, self.len, domain::MAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_trees_hash_equal_and_different_trees_differ() {
        let a = json!({"a": [1, "x"], "b": {"c": null}});
        assert_eq!(hash_value(&a), hash_value(&a.clone()));
        for other in [
            json!({"a": [1, "x"], "b": {"c": false}}),
            json!({"a": ["1", "x"], "b": {"c": null}}),
            json!({"a": [1], "b": {"c": null, "x": null}}),
            json!({"a": ["x", 1], "b": {"c": null}}),
            json!({"a": [1, "x"], "c": {"b": null}}),
            json!({"a": [1, "x"], "b": {"c": null}, "d": {}}),
            json!({"a": [[1], "x"], "b": {"c": null}}),
        ] {
            assert_ne!(hash_value(&a), hash_value(&other), "{other}");
        }
    }
}
