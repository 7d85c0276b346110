//! A stable content hash of a tree (xxh3), without serializing it.

use serde_json::Value;
use xxhash_rust::xxh3::Xxh3;

/// Hashes a document's bytes (the fast path's content hash), in a domain apart from trees.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(bytes, 0x686f74636f6e66)
}

/// Hashes a list of hashes (the layers of a merge), in a domain apart from the others.
pub(crate) fn hash_list(hashes: &[u64]) -> u64 {
    let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, 0x6c6179657273)
}

/// Hashes `value` structurally: equal trees give equal hashes, in every process and version.
pub(crate) fn hash_value(value: &Value) -> u64 {
    let mut hasher = Xxh3::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Null => hasher.update(b"n"),
            Value::Bool(b) => hasher.update(if *b { b"t" } else { b"f" }),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    hasher.update(b"i");
                    hasher.update(&i.to_le_bytes());
                } else if let Some(u) = n.as_u64() {
                    hasher.update(b"u");
                    hasher.update(&u.to_le_bytes());
                } else {
                    hasher.update(b"f");
                    hasher.update(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
                }
            }
            Value::String(s) => {
                hasher.update(b"s");
                hasher.update(&(s.len() as u64).to_le_bytes());
                hasher.update(s.as_bytes());
            }
            Value::Array(a) => {
                hasher.update(b"[");
                hasher.update(&(a.len() as u64).to_le_bytes());
                stack.extend(a.iter().rev());
            }
            Value::Object(m) => {
                hasher.update(b"{");
                hasher.update(&(m.len() as u64).to_le_bytes());
                for (k, _) in m.iter() {
                    hasher.update(&(k.len() as u64).to_le_bytes());
                    hasher.update(k.as_bytes());
                }
                stack.extend(m.values().rev());
            }
        }
    }
    hasher.digest()
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
        ] {
            assert_ne!(hash_value(&a), hash_value(&other), "{other}");
        }
    }
}
