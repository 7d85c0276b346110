//! Key-space mapping: flat `a/b/c = v` entries become nested maps.

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// The most segments a key may have (the same bound as the default nesting limit).
const MAX_SEGMENTS: usize = 128;

/// Builds a nested map from flat `(key, value)` pairs, splitting keys on `separator`.
///
/// Empty segments are ignored (`/a//b/` is `a.b`), and so are "folder" entries whose key ends with
/// the separator and whose value is empty (Consul creates them). With `typed`, a value that is a
/// JSON scalar (`5`, `1.5`, `true`, `null`) becomes that scalar; every other value stays a string.
///
/// # Errors
/// [`ErrorKind::Parse`] naming the key when one key is both a value and a parent
/// (`a = 1` beside `a/b = 2`), or when a key has more than 128 segments.
pub fn nest(entries: &[(String, String)], separator: char, typed: bool) -> Result<Value> {
    let mut root = Map::new();
    for (key, raw) in entries {
        if key.ends_with(separator) && raw.is_empty() {
            continue;
        }
        let segments: Vec<&str> = key.split(separator).filter(|s| !s.is_empty()).collect();
        if segments.len() > MAX_SEGMENTS {
            return Err(Error::new(
                ErrorKind::Parse,
                format!(
                    "a key has {} segments, above the limit of {MAX_SEGMENTS}",
                    segments.len()
                ),
            ));
        }
        let Some((last, parents)) = segments.split_last() else {
            continue;
        };
        let mut map = &mut root;
        for (depth, segment) in parents.iter().enumerate() {
            let slot = map
                .entry(segment.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            map = match slot {
                Value::Object(m) => m,
                _ => return Err(conflict(&segments[..=depth], key)),
            };
        }
        if matches!(map.get(*last), Some(Value::Object(_))) {
            return Err(conflict(&segments, key));
        }
        map.insert(last.to_string(), scalar(raw, typed));
    }
    Ok(Value::Object(root))
}

fn scalar(raw: &str, typed: bool) -> Value {
    if typed {
        if let Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) = serde_json::from_str(raw)
        {
            return v;
        }
    }
    Value::String(raw.to_owned())
}

fn conflict(path: &[&str], key: &str) -> Error {
    let dotted = path.join(".");
    Error::new(
        ErrorKind::Parse,
        format!("`{dotted}` is both a value and a parent of other keys (while adding `{key}`)"),
    )
    .with_key(dotted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nests_keys_and_types_scalars_on_request() {
        let e = entries(&[
            ("db/host", "h"),
            ("db/port", "5432"),
            ("/x//y/", "1"),
            ("dir/", ""),
        ]);
        assert_eq!(
            nest(&e, '/', false).unwrap(),
            json!({"db": {"host": "h", "port": "5432"}, "x": {"y": "1"}})
        );
        assert_eq!(nest(&e, '/', true).unwrap()["db"]["port"], json!(5432));
        assert_eq!(
            nest(&entries(&[("a", "007")]), '/', true).unwrap()["a"],
            json!("007")
        );
    }

    #[test]
    fn a_key_that_is_value_and_parent_is_an_error() {
        for pairs in [[("a", "1"), ("a/b", "2")], [("a/b", "2"), ("a", "1")]] {
            let err = nest(&entries(&pairs), '/', false).unwrap_err();
            assert_eq!(err.key(), Some("a"), "{err}");
        }
    }
}
