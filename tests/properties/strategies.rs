//! Generators: trees every format can represent (with keys valid in each), flat trees for
//! `.properties`, and overlapping layers for the merge.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// The test config: `PROPTEST_CASES` when set, else `default` cases. Failures are not persisted
/// to files: the known failing inputs are written down as plain tests in `known_bugs.rs`.
pub fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Words that some format reads as something other than a string when unquoted.
const TRICKY: &[&str] = &[
    "true", "false", "null", "~", "yes", "no", "on", "off", "y", "n", "1", "-1", "0x1f", "0o17",
    "1e3", ".inf", "-.inf", ".nan", "nan", "inf", "-", "?", "", " ", "#", "=", ":", "!", "'", "\"",
    "\\", "[]", "{}", "*a", "&a", "%x", "@x", "`x", "é", "🎉", "\t", "a\nb", "\r\n", "\u{0}",
    "\u{7f}", "\u{85}", "\u{2028}", "\u{feff}",
];

/// A string, often one of the tricky ones.
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(TRICKY).prop_map(str::to_owned),
        2 => "[a-z0-9 _.-]{0,10}",
        1 => any::<String>(),
    ]
}

/// A key valid in every format: not empty, no `.` (properties nest on it), not YAML's merge
/// key `<<`, not starting with U+FEFF (at the start of a document that is a byte-order mark,
/// which the properties reader drops as an encoding mark, as editors expect).
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_-]{0,6}",
        1 => string(),
    ]
    .prop_filter("a key every format keeps as is", |k| {
        !k.is_empty() && !k.contains('.') && k != "<<" && !k.starts_with('\u{feff}')
    })
}

/// A finite float (JSON has no NaN or infinity).
pub fn float() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<f64>(),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            0.1,
            1e300,
            -2.5e-308,
            5e-324,
            f64::MAX
        ]),
    ]
    .prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number))
}

/// A scalar every format can hold: string, 64-bit signed integer, boolean, finite float.
pub fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => string().prop_map(Value::String),
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => float(),
    ]
}

fn map_of(
    keys: impl Strategy<Value = String>,
    values: impl Strategy<Value = Value>,
    size: std::ops::Range<usize>,
) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(keys, values, size).prop_map(|m| Value::Object(Map::from_iter(m)))
}

/// A value every format can hold: scalars, arrays and maps, a few levels deep.
pub fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            map_of(key(), inner, 0..5),
        ]
    })
}

/// A document every format can hold: a map at the root.
pub fn tree() -> impl Strategy<Value = Value> {
    map_of(key(), value(), 0..6)
}

/// A tree `.properties` can hold: maps (never empty) of maps and strings. Its typed reading is
/// [`typed`] of it.
pub fn properties_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => string().prop_map(Value::String),
        1 => any::<i64>().prop_map(|i| Value::String(i.to_string())),
        1 => any::<bool>().prop_map(|b| Value::String(b.to_string())),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| map_of(key(), inner, 1..4));
    map_of(key(), value, 0..6)
}

/// What hotconf reads from a properties tree: a string that is a JSON scalar (`5`, `true`,
/// `null`) becomes that scalar (docs of `keyspace::nest`).
pub fn typed(tree: &Value) -> Value {
    match tree {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), typed(v))).collect()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
            _ => tree.clone(),
        },
        other => other.clone(),
    }
}

/// A layer for the merge: few distinct keys, so layers overlap; any JSON value, `null` and
/// integers above `i64::MAX` included.
pub fn merge_layer() -> impl Strategy<Value = Value> {
    let keys = || prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(str::to_owned);
    let leaf = prop_oneof![
        4 => scalar(),
        1 => Just(Value::Null),
        1 => any::<u64>().prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            map_of(keys(), inner, 0..4),
        ]
    });
    map_of(keys(), value, 0..4)
}
