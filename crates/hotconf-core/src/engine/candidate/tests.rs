//! Each fast strategy against the tree merge on the same sources: equal configs and equal
//! merged content, or a pass. Every case is built from fresh sources, since a strategy that
//! builds a document's tree changes which strategies fit.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{single_document, streamed, tree_merge, Attempt, Candidate, Inputs, Strategy};
use crate::format::{Format, Limits};
use crate::layer::{Content, Layer};
use crate::layer_id::LayerId;
use crate::path::PathSegment;
use crate::revision::Revision;

use super::super::source::{Offer, SourceState};

#[derive(Debug, PartialEq, Deserialize)]
struct App {
    port: u16,
    #[serde(default)]
    name: String,
    #[serde(default)]
    db: BTreeMap<String, Value>,
}

/// Sources holding `layers` (format and text), lowest first, none built yet.
fn sources(layers: &[(Format, &str)]) -> Vec<SourceState> {
    layers
        .iter()
        .enumerate()
        .map(|(i, (format, text))| {
            let mut source = SourceState::new(
                LayerId::for_layers(
                    &[(format!("l{i}"), format!("memory:l{i}"))],
                    |_| false,
                    |_| false,
                )[0]
                .clone(),
            );
            let layer = Layer::new(
                Content::Document {
                    format: *format,
                    bytes: text.as_bytes().into(),
                },
                Revision::Ordered(1),
            );
            assert!(matches!(
                source.offer(layer, &Limits::default()),
                Offer::Changed
            ));
            source
        })
        .collect()
}

/// What `strategy` builds from fresh sources of `layers` (`None`: it passed).
fn attempt<T: serde::de::DeserializeOwned>(
    strategy: Strategy<T>,
    layers: &[(Format, &str)],
) -> Option<(Option<T>, Value)> {
    let sources = sources(layers);
    let inputs = Inputs::<T>::new(&sources, &[], None);
    match strategy(&inputs).unwrap() {
        Attempt::Built(candidate) => Some(parts(candidate)),
        Attempt::Unchanged => panic!("nothing is applied: nothing can be unchanged"),
        Attempt::Pass => None,
    }
}

/// What the tree merge builds from fresh sources of `layers`.
fn reference<T: serde::de::DeserializeOwned>(
    layers: &[(Format, &str)],
    restart_required: &[Vec<PathSegment>],
) -> (Option<T>, Value) {
    let sources = sources(layers);
    let inputs = Inputs::<T>::new(&sources, restart_required, None);
    parts(tree_merge::build(&inputs).unwrap().expect("a candidate"))
}

fn parts<T>(candidate: Candidate<T>) -> (Option<T>, Value) {
    let merged = candidate.merged.value().unwrap().as_ref().clone();
    (candidate.config, merged)
}

const DOC: &str = r#"{"port": 8080, "name": "app", "db": {"host": "a", "pool": 4},
    "ignored": {"deep": [1, 2.5, "x", null, true]}}"#;

#[test]
fn one_json_document_is_built_by_the_single_document_strategy_as_by_the_tree_merge() {
    let layers = [(Format::Json, DOC)];
    let fast = attempt::<App>(single_document::build, &layers).expect("built");
    assert_eq!(fast, reference::<App>(&layers, &[]));
    assert!(fast.0.is_some());
    assert!(
        attempt::<App>(streamed::build, &layers).is_none(),
        "one layer"
    );
}

#[test]
fn a_document_among_other_layers_is_streamed_as_the_tree_merge_merges_it() {
    let cases: [&[(Format, &str)]; 3] = [
        &[
            (Format::Toml, "port = 1\n[db]\nuser = \"u\""),
            (Format::Json, DOC),
        ],
        &[
            (Format::Json, DOC),
            (Format::Yaml, "db:\n  pool: 9\nname: top"),
        ],
        &[
            (Format::Toml, "name = \"low\""),
            (Format::Json, DOC),
            (Format::Json, r#"{"db": {"host": "b"}}"#),
        ],
    ];
    for layers in cases {
        assert!(attempt::<App>(single_document::build, layers).is_none());
        let streamed = attempt::<App>(streamed::build, layers).expect("built");
        assert_eq!(streamed, reference::<App>(layers, &[]), "{layers:?}");
        let as_tree = attempt::<Value>(streamed::build, layers).expect("built");
        assert_eq!(as_tree.0.as_ref(), Some(&as_tree.1), "{layers:?}");
    }
}

#[test]
fn what_a_stream_cannot_merge_alone_is_left_to_the_tree_merge() {
    // A map above a value of the streamed document (the larger one): only a tree can merge
    // it.
    let layers = [
        (
            Format::Json,
            r#"{"port": 1, "name": "the streamed one", "db": 5}"#,
        ),
        (Format::Json, r#"{"db": {"host": "h"}}"#),
    ];
    assert!(attempt::<Value>(streamed::build, &layers).is_none());
    let (config, merged) = reference::<Value>(&layers, &[]);
    assert_eq!(config.as_ref(), Some(&merged));
    assert_eq!(
        merged,
        json!({"port": 1, "name": "the streamed one", "db": {"host": "h"}})
    );
}

#[test]
fn a_document_the_config_rejects_passes_to_the_tree_merge_which_leaves_it_to_the_checks() {
    let layers = [(Format::Json, r#"{"port": "high"}"#)];
    assert!(attempt::<App>(single_document::build, &layers).is_none());
    let (config, merged) = reference::<App>(&layers, &[]);
    assert!(config.is_none());
    assert_eq!(merged, json!({"port": "high"}));
}

#[test]
fn restart_required_keys_leave_only_the_tree_merge() {
    let keys = [vec![PathSegment::Key("port".into())]];
    let layers = [(Format::Json, DOC)];
    let sources = sources(&layers);
    let inputs = Inputs::<App>::new(&sources, &keys, None);
    assert!(matches!(
        single_document::build(&inputs).unwrap(),
        Attempt::Pass
    ));
    assert!(matches!(streamed::build(&inputs).unwrap(), Attempt::Pass));
    let (config, merged) = reference::<App>(&layers, &keys);
    // No config runs yet: no key keeps a running value, and the config is deserialized from
    // the layers in place (with a running config whose value differs, the checks deserialize
    // the patched tree: tests/it/restart_required.rs, tests/properties/layer_changes.rs).
    assert!(config.is_some(), "nothing to keep before a config runs");
    assert_eq!(merged["port"], json!(8080));
}
