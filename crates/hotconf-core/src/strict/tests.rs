use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::from_slice;
use super::overlay::from_layers;
use crate::{layered, merge};

#[derive(Debug, Deserialize, PartialEq)]
struct Port {
    port: u16,
}

#[test]
fn ignored_values_are_checked_like_a_tree_parse() {
    for bad in [
        &br#"{"port": 1, "x": 1e400}"#[..],
        br#"{"port": 1, "x": "\ud800"}"#,
        b"{\"port\": 1, \"x\": \"\xff\"}",
        br#"{"port": 1, "x": {"y": [1, 2, 1e999]}}"#,
        br#"{"port": 1, "x": [1, 2,]}"#,
        br#"{"port": 1} x"#,
    ] {
        assert!(serde_json::from_slice::<Value>(bad).is_err());
        assert!(
            from_slice::<Port>(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
        assert!(from_layers::<Port>(&[], bad, &[]).is_err());
    }
    let deep = format!(
        "{{\"port\": 1, \"x\": {}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(from_slice::<Port>(deep.as_bytes()).is_err());
}

#[test]
fn what_it_accepts_is_what_serde_json_gives() {
    let doc = br#"{"port": 8080, "ignored": {"a": [1, "two", null, true, -3.5e10]}}"#;
    assert_eq!(from_slice::<Port>(doc).unwrap(), Port { port: 8080 });
    let map: BTreeMap<String, Option<Vec<u8>>> =
        from_slice(br#"{"a": null, "b": [1, 2]}"#).unwrap();
    assert_eq!(
        map,
        serde_json::from_slice(br#"{"a": null, "b": [1, 2]}"#).unwrap()
    );
    #[derive(Debug, Deserialize, PartialEq)]
    enum Mode {
        Fast,
        Slow { by: u8 },
    }
    let modes: Vec<Mode> = from_slice(br#"["Fast", {"Slow": {"by": 2, "skip": 1e5}}]"#).unwrap();
    assert_eq!(modes, [Mode::Fast, Mode::Slow { by: 2 }]);
    assert!(from_slice::<Vec<Mode>>(br#"[{"Slow": {"by": 2, "skip": 1e500}}]"#).is_err());
}

/// The stream's config against the tree path's: the merge of the parsed layers.
fn check(below: &[Value], document: &str, above: &[Value]) {
    let tree: Value = serde_json::from_str(document).unwrap();
    fn borrow(values: &[Value]) -> Vec<&Value> {
        values.iter().collect()
    }
    let config = from_layers::<Value>(&borrow(below), document.as_bytes(), &borrow(above)).unwrap();
    let mut all = borrow(below);
    all.push(&tree);
    all.extend(borrow(above));
    assert_eq!(config, merge::merge_all(all.iter().copied()), "{document}");
    let typed: BTreeMap<String, Value> =
        from_layers(&borrow(below), document.as_bytes(), &borrow(above)).unwrap();
    let expected: BTreeMap<String, Value> = layered::from_layers(&all).unwrap();
    assert_eq!(typed, expected);
}

#[test]
fn a_document_between_layers_merges_like_the_trees() {
    let doc = r#"{"b": {"x": 1, "y": [1, 2], "z": {"deep": true}}, "a": "s", "c": null, "e": 1.5}"#;
    check(&[], doc, &[]);
    check(&[json!({"b": {"w": 0, "x": 9}, "d": [0]})], doc, &[]);
    check(
        &[],
        doc,
        &[json!({"b": {"x": 2, "z": {"more": 1}}, "f": {"g": 1}})],
    );
    check(
        &[
            json!({"b": {"z": {"deep": false, "keep": 1}}}),
            json!({"a": {"was": "map"}}),
        ],
        doc,
        &[
            json!({"b": {"y": "replaced", "z": {"deep": 3}}}),
            json!({"c": 7, "e": [1]}),
        ],
    );
    // A value above replaces the document's map, which is still read (and checked).
    check(&[], doc, &[json!({"b": 5})]);
    assert!(from_layers::<Value>(&[], br#"{"b": 1e400}"#, &[&json!({"b": 5})]).is_err());
}

#[test]
fn a_map_above_a_value_of_the_document_is_left_to_the_tree_path() {
    let above = json!({"a": {"x": 1}});
    assert!(from_layers::<Value>(&[], br#"{"a": 1}"#, &[&above]).is_err());
    assert!(from_layers::<Value>(&[], br#"{"a": [1]}"#, &[&above]).is_err());
}

#[test]
fn enums_replace_a_value_below() {
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Debug,
        Info,
        Sampled(u8),
        Custom { target: String },
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Log {
        level: Level,
        #[serde(default)]
        other: Option<Level>,
    }
    for (doc, want) in [
        (r#"{"level": "debug"}"#, Level::Debug),
        (r#"{"level": {"info": null}}"#, Level::Info),
        (r#"{"level": {"sampled": 5}}"#, Level::Sampled(5)),
        (
            r#"{"level": {"custom": {"target": "db"}}, "other": "info"}"#,
            Level::Custom {
                target: "db".into(),
            },
        ),
    ] {
        let defaults = json!({"level": "info"});
        let log = from_layers::<Log>(&[&defaults], doc.as_bytes(), &[]).unwrap();
        assert_eq!(log.level, want, "{doc}");
    }
    // A map below a map-form enum would merge into it: the tree path decides.
    let below = json!({"level": {"custom": {"target": "x"}}});
    assert!(from_layers::<Log>(
        &[&below],
        br#"{"level": {"custom": {"target": "db"}}}"#,
        &[]
    )
    .is_err());
}
