//! `Changes`: which key paths differ between two configs (paths only, never values).

use serde::Serialize;
use serde_json::Value;

use crate::path::{self, PathSegment};

/// The key paths that differ between two versions of the config: added, removed, changed.
/// Paths only, never values, so it can be shown anywhere. A map added or removed whole is one
/// path; lists are compared whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Changes {
    /// Keys present only in the newer version.
    pub added: Vec<String>,
    /// Keys present only in the older version.
    pub removed: Vec<String>,
    /// Keys present in both, with different values.
    pub changed: Vec<String>,
    /// Differences not listed because more than [`Changes::MAX_LISTED`] were found.
    pub omitted: u64,
}

impl Changes {
    /// At most this many paths are listed; the rest are counted in [`omitted`](Self::omitted).
    pub const MAX_LISTED: usize = 1000;

    /// The differences from `before` to `after`.
    pub(crate) fn between(before: &Value, after: &Value) -> Changes {
        let mut changes = Changes::default();
        let mut at = Vec::new();
        changes.walk(&mut at, before, after);
        changes
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.omitted == 0
    }

    /// How many differences were found (listed or not).
    pub fn len(&self) -> u64 {
        (self.added.len() + self.removed.len() + self.changed.len()) as u64 + self.omitted
    }

    fn walk(&mut self, at: &mut Vec<PathSegment>, before: &Value, after: &Value) {
        match (before, after) {
            (Value::Object(old), Value::Object(new)) => {
                for (key, old_value) in old {
                    at.push(PathSegment::Key(key.clone()));
                    match new.get(key) {
                        Some(new_value) => self.walk(at, old_value, new_value),
                        None => self.note(Kind::Removed, at),
                    }
                    at.pop();
                }
                for key in new.keys().filter(|k| !old.contains_key(*k)) {
                    at.push(PathSegment::Key(key.clone()));
                    self.note(Kind::Added, at);
                    at.pop();
                }
            }
            (old, new) if old != new => self.note(Kind::Changed, at),
            _ => {}
        }
    }

    fn note(&mut self, kind: Kind, at: &[PathSegment]) {
        let listed = self.added.len() + self.removed.len() + self.changed.len();
        if listed >= Changes::MAX_LISTED {
            self.omitted += 1;
            return;
        }
        let list = match kind {
            Kind::Added => &mut self.added,
            Kind::Removed => &mut self.removed,
            Kind::Changed => &mut self.changed,
        };
        list.push(path::render(at));
    }
}

enum Kind {
    Added,
    Removed,
    Changed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_added_removed_and_changed() {
        let before = json!({"db": {"host": "a", "port": 1, "pool": {"max": 2}}, "old": 1, "list": [1, 2], "x": {"y": 1}});
        let after = json!({"db": {"host": "a", "port": 2}, "new": {"k": 1}, "list": [1], "x": 5});
        let changes = Changes::between(&before, &after);
        assert_eq!(changes.added, ["new"]);
        assert_eq!(changes.removed, ["db.pool", "old"]);
        assert_eq!(changes.changed, ["db.port", "list", "x"]);
        assert_eq!(changes.len(), 6);
        assert!(Changes::between(&before, &before).is_empty());
    }

    #[test]
    fn a_huge_change_is_listed_up_to_the_cap() {
        let before = json!({});
        let after = Value::Object(
            (0..Changes::MAX_LISTED + 5)
                .map(|i| (format!("k{i}"), json!(i)))
                .collect(),
        );
        let changes = Changes::between(&before, &after);
        assert_eq!(changes.added.len(), Changes::MAX_LISTED);
        assert_eq!(changes.omitted, 5);
        assert_eq!(changes.len(), Changes::MAX_LISTED as u64 + 5);
    }
}
