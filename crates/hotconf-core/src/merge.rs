//! Layered merge with figment's semantics, and provenance lookup for error messages.
//!
//! Later layers override earlier ones; maps merge deeply; arrays and scalars are replaced whole.
//! This is figment's `merge` order, done directly on `serde_json::Value` so that a successful
//! reload does not pay for figment's own value tree (tests prove both give the same result).

use serde_json::Value;

use crate::path::{lookup, PathSegment};

/// Merges `overlay` into `base`: maps deep-merge, everything else is replaced by `overlay`.
pub fn merge_into(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(slot) => merge_into(slot, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// Merges `layers` in order (the first is the lowest) into one tree.
pub fn merge_all<'a>(layers: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut layers = layers.into_iter();
    let mut merged = layers
        .next()
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    for layer in layers {
        merge_into(&mut merged, layer);
    }
    merged
}

/// Which layer a key comes from: the highest layer holding the whole path, or, for a key no layer
/// holds (a missing field), the highest layer holding the longest part of it. `None` when no
/// layer holds even its first segment. `layers` is ordered lowest first.
pub fn provenance(layers: &[&Value], path: &[PathSegment]) -> Option<usize> {
    (0..=path.len()).rev().find_map(|len| {
        if len == 0 {
            return None;
        }
        layers
            .iter()
            .rposition(|layer| lookup(layer, &path[..len]).is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_merge_deeply_and_arrays_are_replaced() {
        let low = json!({"db": {"host": "a", "port": 1}, "list": [1, 2, 3], "x": {"y": 1}});
        let high = json!({"db": {"port": 2}, "list": [9], "x": 5});
        assert_eq!(
            merge_all([&low, &high]),
            json!({"db": {"host": "a", "port": 2}, "list": [9], "x": 5})
        );
        assert_eq!(merge_all(std::iter::empty()), json!({}));
    }

    #[test]
    fn provenance_finds_the_highest_layer_holding_the_key() {
        let low = json!({"db": {"host": "a", "port": 1}});
        let high = json!({"db": {"port": 2}});
        let path = |s: &[&str]| {
            s.iter()
                .map(|k| PathSegment::Key(k.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(provenance(&[&low, &high], &path(&["db", "port"])), Some(1));
        assert_eq!(provenance(&[&low, &high], &path(&["db", "host"])), Some(0));
        assert_eq!(provenance(&[&low, &high], &path(&["db", "user"])), Some(1));
        assert_eq!(provenance(&[&low, &high], &path(&["nope"])), None);
    }
}
