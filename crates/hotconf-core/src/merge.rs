//! Layered merge with figment's semantics, and provenance lookup for error messages.
//!
//! Later layers override earlier ones; maps merge deeply; arrays and scalars are replaced whole.
//! This is figment's `merge` order, done directly on `serde_json::Value` so that a successful
//! reload does not pay for figment's own value tree (tests prove both give the same result).

use std::borrow::Cow;

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

/// The value at `path` in the merge of `layers` (lowest first), as
/// [`lookup`]`(&merge_all(layers), path)` gives it, without building the merge: borrowed from the
/// layer that decides it, or merged when maps of several layers meet at `path` (only that
/// subtree is merged).
pub(crate) fn lookup_merged<'v>(
    layers: &[&'v Value],
    path: &[PathSegment],
) -> Option<Cow<'v, Value>> {
    let mut values: Vec<&'v Value> = layers.to_vec();
    for segment in path {
        let kept = kept(&values);
        values = kept
            .iter()
            .filter_map(|value| match segment {
                PathSegment::Key(k) => value.get(k.as_str()),
                PathSegment::Index(i) => value.get(*i),
            })
            .collect();
    }
    match kept(&values) {
        [] => None,
        [one] => Some(Cow::Borrowed(*one)),
        maps => Some(Cow::Owned(merge_all(maps.iter().copied()))),
    }
}

/// What the merge keeps of the values one path has in the layers (lowest first): the top one
/// when it is not a map, otherwise the maps right below it and it (values below a value that is
/// not a map are replaced by what is above).
fn kept<'a, 'v>(values: &'a [&'v Value]) -> &'a [&'v Value] {
    match values.last() {
        None => values,
        Some(top) if !top.is_object() => &values[values.len() - 1..],
        Some(_) => {
            let maps = values.iter().rev().take_while(|v| v.is_object()).count();
            &values[values.len() - maps..]
        }
    }
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
    fn a_lookup_in_the_layers_equals_a_lookup_in_their_merge() {
        let layers = [
            json!({"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"z": 0}}),
            json!({"a": {"y": [3], "w": {"k": 1}}, "b": {"q": 2}, "c": 7}),
            json!({"a": {"w": {"j": 2}}, "b": {"r": 3}, "d": null}),
        ];
        let refs: Vec<&Value> = layers.iter().collect();
        let merged = merge_all(refs.iter().copied());
        let paths = [
            "a", "a.x", "a.y", "a.y[0]", "a.y[1]", "a.w", "a.w.k", "b", "b.q", "b.r", "c", "c.z",
            "d", "e", "a.x.nope",
        ];
        for path in paths {
            let path = crate::path::parse(path);
            assert_eq!(
                lookup_merged(&refs, &path).as_deref(),
                lookup(&merged, &path),
                "{}",
                crate::path::render(&path)
            );
        }
        assert_eq!(lookup_merged(&[], &crate::path::parse("a")), None);
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
