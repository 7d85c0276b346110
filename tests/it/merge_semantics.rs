//! Our fast merge gives exactly figment's merge result, on documents of every shape.

use figment::providers::Serialized;
use figment::Figment;
use serde_json::{json, Value};

fn figment_merge(layers: &[Value]) -> Value {
    layers
        .iter()
        .fold(Figment::new(), |f, layer| f.merge(Serialized::defaults(layer.clone())))
        .extract()
        .unwrap()
}

#[test]
fn fast_merge_equals_figment_merge() {
    let cases = [
        vec![json!({"a": 1}), json!({"b": 2})],
        vec![json!({"db": {"host": "a", "port": 1, "opts": {"x": 1}}}), json!({"db": {"port": 2, "opts": {"y": 2}}})],
        vec![json!({"list": [1, 2, 3], "m": {"l": ["a"]}}), json!({"list": [9], "m": {"l": ["b", "c"]}})],
        vec![json!({"x": {"y": 1}}), json!({"x": 5})],
        vec![json!({"x": 5}), json!({"x": {"y": 1}})],
        vec![json!({"a": {"b": {"c": {"d": 1, "e": [1]}}}}), json!({"a": {"b": {"c": {"e": [2], "f": "s"}}}}), json!({"a": {"z": true}})],
        vec![json!({"s": "str", "f": 1.5, "n": -3, "t": true}), json!({"s": "other", "t": false})],
        vec![json!({"arr": [{"a": 1}, {"b": 2}]}), json!({"arr": [{"c": 3}]})],
    ];
    for layers in cases {
        let ours = hotconf::merge::merge_all(layers.iter());
        assert_eq!(ours, figment_merge(&layers), "layers: {layers:?}");
    }
}
