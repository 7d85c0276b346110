//! The values secret layers supply: every key path a secret layer holds is redacted, whatever
//! it is called (a Kubernetes Secret's `db_host` too).

use std::sync::Arc;

use serde_json::Value;

use crate::path::PathSegment;
use crate::redaction::REDACTED;

/// The shape of every secret layer's tree, merged: a path that reaches a leaf of it (or goes
/// past one) is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretShape(Arc<Value>);

impl SecretShape {
    /// The shape of `trees` (the secret layers' trees), or `None` when they hold nothing.
    pub(crate) fn of<'a>(trees: impl IntoIterator<Item = &'a Value>) -> Option<SecretShape> {
        let mut shape = Value::Null;
        for tree in trees {
            overlay(&mut shape, tree);
        }
        (!shape.is_null()).then(|| SecretShape(Arc::new(shape)))
    }

    /// The shape as a tree.
    pub(crate) fn tree(&self) -> &Value {
        &self.0
    }

    /// Whether the value at `path` is secret as a whole.
    pub(crate) fn covers(&self, path: &[PathSegment]) -> bool {
        let mut node = &*self.0;
        for segment in path {
            match (node, segment) {
                (Value::Object(map), PathSegment::Key(k)) => match map.get(k) {
                    Some(next) => node = next,
                    None => return false,
                },
                (Value::Array(items), PathSegment::Index(i)) => match items.get(*i) {
                    Some(next) => node = next,
                    None => return false,
                },
                (Value::Object(_) | Value::Array(_), _) => return false,
                _ => return true,
            }
        }
        !matches!(node, Value::Object(_) | Value::Array(_))
    }

    /// Replaces in `value` (found at `path`) every part the shape covers with `***`.
    pub(crate) fn mask(&self, path: &[PathSegment], value: &mut Value) {
        let mut node = &*self.0;
        for segment in path {
            let next = match (node, segment) {
                (Value::Object(map), PathSegment::Key(k)) => map.get(k),
                (Value::Array(items), PathSegment::Index(i)) => items.get(*i),
                (Value::Object(_) | Value::Array(_), _) => None,
                _ => Some(node),
            };
            match next {
                Some(next) => node = next,
                None => return,
            }
        }
        mask_under(node, value);
    }

    /// `config` without the paths the shape covers (maps left empty by that are kept).
    pub(crate) fn removed(&self, config: &Value) -> Value {
        let mut config = config.clone();
        remove_under(&self.0, &mut config);
        config
    }
}

fn remove_under(shape: &Value, value: &mut Value) {
    if let (Value::Object(shape), Value::Object(map)) = (shape, value) {
        map.retain(|key, value| match shape.get(key) {
            None => true,
            Some(inner @ Value::Object(_)) => {
                remove_under(inner, value);
                true
            }
            Some(_) => false,
        });
    }
}

fn mask_under(shape: &Value, value: &mut Value) {
    match (shape, value) {
        (Value::Object(shape), Value::Object(map)) => {
            for (key, value) in map.iter_mut() {
                if let Some(shape) = shape.get(key) {
                    mask_under(shape, value);
                }
            }
        }
        (Value::Array(shape), Value::Array(items)) => {
            for (shape, value) in shape.iter().zip(items.iter_mut()) {
                mask_under(shape, value);
            }
        }
        (Value::Object(_) | Value::Array(_), _) => {}
        (_, value) => *value = Value::String(REDACTED.to_owned()),
    }
}

/// Merges `tree`'s shape into `shape`: maps and lists by key and index, a leaf wherever either
/// has one (a leaf covers everything below it; so does a map met where a list was).
fn overlay(shape: &mut Value, tree: &Value) {
    match tree {
        Value::Object(from) => {
            if shape.is_null() {
                *shape = Value::Object(Default::default());
            }
            match shape {
                Value::Object(into) => {
                    for (key, value) in from {
                        overlay(into.entry(key.clone()).or_insert(Value::Null), value);
                    }
                }
                _ => *shape = Value::Bool(true),
            }
        }
        Value::Array(from) => {
            if shape.is_null() {
                *shape = Value::Array(Vec::new());
            }
            match shape {
                Value::Array(into) => {
                    if into.len() < from.len() {
                        into.resize(from.len(), Value::Null);
                    }
                    for (into, from) in into.iter_mut().zip(from) {
                        overlay(into, from);
                    }
                }
                _ => *shape = Value::Bool(true),
            }
        }
        _ => *shape = Value::Bool(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path;
    use serde_json::json;

    #[test]
    fn every_path_of_a_secret_layer_is_covered_and_masked() {
        let a = json!({"db": {"host": "h", "user": "u"}, "list": [1, {"k": 2}]});
        let b = json!({"db": {"pass": "p"}, "token": "t"});
        let shape = SecretShape::of([&a, &b]).unwrap();
        for covered in [
            "db.host",
            "db.pass",
            "token",
            "list[0]",
            "list[1].k",
            "token.x",
        ] {
            assert!(shape.covers(&path::parse(covered)), "{covered}");
        }
        for open in ["db", "name", "db.port", "list[2]", "list[1]"] {
            assert!(!shape.covers(&path::parse(open)), "{open}");
        }
        let mut config = json!({"db": {"host": "h", "port": 5432, "pass": "p"}, "name": "n",
                                "list": [1, {"k": 2, "j": 3}], "token": "t"});
        shape.mask(&[], &mut config);
        assert_eq!(
            config,
            json!({"db": {"host": "***", "port": 5432, "pass": "***"}, "name": "n",
                   "list": ["***", {"k": "***", "j": 3}], "token": "***"})
        );
        let mut db = json!({"host": "h", "port": 1});
        shape.mask(&path::parse("db"), &mut db);
        assert_eq!(db, json!({"host": "***", "port": 1}));
        let kept = shape.removed(&json!({"db": {"host": "h", "port": 1}, "token": "t", "n": 1}));
        assert_eq!(kept, json!({"db": {"port": 1}, "n": 1}));
    }
}
