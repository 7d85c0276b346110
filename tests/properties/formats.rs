//! Every format parses back to the tree it was written from.

use std::fmt::Write as _;

use hotconf::internals;
use hotconf::{Format, Limits};
use proptest::prelude::*;
use serde_json::Value;

use crate::strategies::{self, config};

/// Parses `text` with hotconf's parser for `format`.
pub fn parse(format: Format, text: &str) -> Result<Value, String> {
    internals::parse(format, text.as_bytes(), &Limits::default()).map_err(|e| e.to_string())
}

/// Writes a properties tree as a UTF-8 `.properties` document: `a.b.c=value`, one a line, with
/// Java's escapes (every space escaped, so leading ones survive; controls as `\uXXXX`).
pub fn to_properties(tree: &Value) -> String {
    fn escape(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '\\' | ' ' | ':' | '=' | '!' | '#' => {
                    out.push('\\');
                    out.push(c);
                }
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\x0c' => out.push_str("\\f"),
                c if c < ' ' || c == '\x7f' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out
    }
    fn walk(prefix: &str, value: &Value, out: &mut String) {
        match value {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::String(s) => {
                let _ = writeln!(out, "{}={}", escape(prefix), escape(s));
            }
            other => unreachable!("a properties tree holds maps and strings, not {other}"),
        }
    }
    let mut out = String::new();
    walk("", tree, &mut out);
    out
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn json_parses_back_to_the_tree(tree in strategies::tree()) {
        let text = serde_json::to_string_pretty(&tree).unwrap();
        prop_assert_eq!(parse(Format::Json, &text), Ok(tree), "document:\n{}", text);
    }

    #[test]
    fn toml_parses_back_to_the_tree(tree in strategies::tree()) {
        let text = toml::to_string(&tree).unwrap();
        prop_assert_eq!(parse(Format::Toml, &text), Ok(tree), "document:\n{}", text);
    }

    #[test]
    fn yaml_parses_back_to_the_tree(tree in strategies::tree()) {
        let text = serde_yaml_ng::to_string(&tree).unwrap();
        prop_assert_eq!(parse(Format::Yaml, &text), Ok(tree), "document:\n{}", text);
    }

    #[test]
    fn properties_parse_back_to_the_typed_tree(tree in strategies::properties_tree()) {
        let text = to_properties(&tree);
        let want = strategies::typed(&tree);
        prop_assert_eq!(parse(Format::Properties, &text), Ok(want), "document:\n{}", text);
    }
}

/// The writer above is right on a known document (so a failure above is the parser's).
#[test]
fn the_properties_writer_writes_java_escapes() {
    let tree = serde_json::json!({"a": {"b": " x=1", "c": "t\tu"}, "k y": "\u{1}"});
    assert_eq!(
        to_properties(&tree),
        "a.b=\\ x\\=1\na.c=t\\tu\nk\\ y=\\u0001\n"
    );
}
