//! Key paths (`db.servers[0].host`): parsing, rendering, lookup and update in a tree.

use serde_json::{Map, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A map key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Parses `db.servers[0].host` into segments. Empty segments are skipped.
pub fn parse(path: &str) -> Vec<PathSegment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(PathSegment::Key(key.to_owned()));
        }
        while let Some((index, tail)) = rest.split_once(']') {
            match index.parse() {
                Ok(i) => out.push(PathSegment::Index(i)),
                Err(_) => out.push(PathSegment::Key(index.to_owned())),
            }
            rest = tail.strip_prefix('[').unwrap_or(tail);
        }
    }
    out
}

/// Renders segments as `db.servers[0].host`.
pub fn render(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The value at `path` inside `root`, if any.
pub fn lookup<'v>(root: &'v Value, path: &[PathSegment]) -> Option<&'v Value> {
    path.iter().try_fold(root, |v, segment| match segment {
        PathSegment::Key(k) => v.get(k.as_str()),
        PathSegment::Index(i) => v.get(*i),
    })
}

/// Sets (`Some`) or removes (`None`) the value at `path`, creating maps on the way as needed.
/// A path through a scalar or a missing array element is left unchanged.
pub(crate) fn set(root: &mut Value, path: &[PathSegment], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for segment in parents {
        node = match (segment, node) {
            (PathSegment::Key(k), Value::Object(m)) => {
                if value.is_none() && !m.contains_key(k) {
                    return;
                }
                m.entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            (PathSegment::Index(i), Value::Array(a)) if *i < a.len() => &mut a[*i],
            _ => return,
        };
    }
    match (last, node, value) {
        (PathSegment::Key(k), Value::Object(m), Some(v)) => {
            m.insert(k.clone(), v);
        }
        (PathSegment::Key(k), Value::Object(m), None) => {
            m.remove(k);
        }
        (PathSegment::Index(i), Value::Array(a), Some(v)) if *i < a.len() => a[*i] = v,
        _ => {}
    }
}

/// Converts a serde_path_to_error path.
pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Vec<PathSegment> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(PathSegment::Index(*index)),
            Segment::Map { key } => Some(PathSegment::Key(key.clone())),
            Segment::Enum { variant } => Some(PathSegment::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_render_round_trip() {
        let p = parse("db.servers[0].host");
        assert_eq!(
            p,
            vec![
                PathSegment::Key("db".into()),
                PathSegment::Key("servers".into()),
                PathSegment::Index(0),
                PathSegment::Key("host".into())
            ]
        );
        assert_eq!(render(&p), "db.servers[0].host");
        assert_eq!(
            parse("m[1][2]"),
            vec![
                PathSegment::Key("m".into()),
                PathSegment::Index(1),
                PathSegment::Index(2)
            ]
        );
    }

    #[test]
    fn set_and_remove() {
        let mut v = json!({"a": {"b": 1}, "l": [1, 2]});
        set(&mut v, &parse("a.b"), Some(json!(2)));
        set(&mut v, &parse("x.y"), Some(json!(3)));
        set(&mut v, &parse("l[1]"), Some(json!(9)));
        set(&mut v, &parse("a.c"), None);
        assert_eq!(v, json!({"a": {"b": 2}, "x": {"y": 3}, "l": [1, 9]}));
        set(&mut v, &parse("a.b"), None);
        assert_eq!(lookup(&v, &parse("a.b")), None);
        assert_eq!(lookup(&v, &parse("l[1]")), Some(&json!(9)));
    }
}
