//! Our fast merge gives exactly figment's merge result, on documents of every shape.

use figment::providers::Serialized;
use figment::Figment;
use serde_json::{json, Value};

fn figment_merge(layers: &[Value]) -> Value {
    layers
        .iter()
        .fold(Figment::new(), |f, layer| {
            f.merge(Serialized::defaults(layer.clone()))
        })
        .extract()
        .unwrap()
}

#[test]
fn fast_merge_equals_figment_merge() {
    let cases = [
        vec![json!({"a": 1}), json!({"b": 2})],
        vec![
            json!({"db": {"host": "a", "port": 1, "opts": {"x": 1}}}),
            json!({"db": {"port": 2, "opts": {"y": 2}}}),
        ],
        vec![
            json!({"list": [1, 2, 3], "m": {"l": ["a"]}}),
            json!({"list": [9], "m": {"l": ["b", "c"]}}),
        ],
        vec![json!({"x": {"y": 1}}), json!({"x": 5})],
        vec![json!({"x": 5}), json!({"x": {"y": 1}})],
        vec![
            json!({"a": {"b": {"c": {"d": 1, "e": [1]}}}}),
            json!({"a": {"b": {"c": {"e": [2], "f": "s"}}}}),
            json!({"a": {"z": true}}),
        ],
        vec![
            json!({"s": "str", "f": 1.5, "n": -3, "t": true}),
            json!({"s": "other", "t": false}),
        ],
        vec![
            json!({"arr": [{"a": 1}, {"b": 2}]}),
            json!({"arr": [{"c": 3}]}),
        ],
    ];
    for layers in cases {
        let ours = hotconf::internals::merge_all(layers.iter());
        assert_eq!(ours, figment_merge(&layers), "layers: {layers:?}");
    }
}

mod fast_path {
    use std::collections::BTreeMap;

    use hotconf::{Format, MemoryProvider, Reloader};
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Doc {
        name: String,
        #[serde(default)]
        n: Option<f64>,
        #[serde(default)]
        big: Option<u64>,
        #[serde(default)]
        neg: Option<i64>,
        #[serde(default)]
        list: Vec<Value>,
        #[serde(default)]
        map: BTreeMap<String, Value>,
        #[serde(default)]
        unit: Option<()>,
    }

    /// Loads `text` as the only layer (the fast path: straight from the bytes) and over a
    /// lower layer whose only key it overrides (the general path: parse, then deserialize from
    /// the layers), and returns both configs and merged trees.
    async fn both_paths(text: &str) -> [(Doc, Value); 2] {
        let (fast, fast_handle) = MemoryProvider::new("memory:fast");
        fast_handle.set_document(Format::Json, text);
        let fast = Reloader::<Doc>::builder()
            .layer(fast)
            .start()
            .await
            .unwrap();

        let (lower, lower_handle) = MemoryProvider::new("memory:lower");
        lower_handle.set_tree(json!({"name": "overridden by every document"}));
        let (upper, upper_handle) = MemoryProvider::new("memory:general");
        upper_handle.set_document(Format::Json, text);
        let general = Reloader::<Doc>::builder()
            .layer(lower)
            .layer(upper)
            .start()
            .await
            .unwrap();

        [fast, general].map(|r| {
            let snapshot = r.store().get();
            (snapshot.config().clone(), snapshot.merged().clone())
        })
    }

    #[tokio::test]
    async fn the_fast_path_gives_the_same_config_and_tree_as_the_general_path() {
        let docs = [
            r#"{"name": "plain"}"#,
            r#"  {"name": "esc \u00e9 \"q\" \n", "n": 1.5e300, "big": 18446744073709551615, "neg": -9223372036854775808}"#,
            r#"{"name": "nested", "list": [1, [2, [3]], {"a": null}], "map": {"z": {"y": [true, false]}, "a": ""}}"#,
            r#"{"name": "dup", "name": "last wins"}"#,
            r#"{"name": "unit", "unit": null, "n": 0.1}"#,
            r#"{"name": "émoji 🎉", "map": {"ключ": "значение"}}"#,
        ];
        for text in docs {
            let [fast, general] = both_paths(text).await;
            assert_eq!(fast, general, "{text}");
        }
    }
}
