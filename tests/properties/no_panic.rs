//! Random input never panics a parser: every document format, the source URI, durations, key
//! spaces and key paths. Each either parses or returns an error (proptest fails on a panic).

use hotconf::internals;
use hotconf::provider::{parse_duration, SourceUri};
use hotconf::{Format, Limits};
use proptest::prelude::*;

use crate::strategies::{self, config};

const FORMATS: [Format; 4] = [Format::Json, Format::Toml, Format::Yaml, Format::Properties];

/// A valid document in some format, then damaged: bytes replaced, inserted or cut.
fn damaged_document() -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6);
    (
        strategies::tree(),
        prop::sample::select(FORMATS.to_vec()),
        edits,
    )
        .prop_map(|(tree, format, edits)| {
            let text = match format {
                Format::Toml => toml::to_string(&tree).unwrap_or_default(),
                Format::Yaml => serde_yaml_ng::to_string(&tree).unwrap_or_default(),
                _ => serde_json::to_string(&tree).unwrap_or_default(),
            };
            let mut bytes = text.into_bytes();
            for (at, byte, kind) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => bytes.truncate(i),
                }
            }
            bytes
        })
}

/// Document bytes: random, random text, tokens of the formats, or a damaged document.
fn document_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        any::<String>().prop_map(String::into_bytes),
        "([\\[\\]{}:,=\"'\\\\ \n.#&*<>!|-]|a|1|true|null|\\\\u[0-9a-f]{0,4}){0,40}"
            .prop_map(String::into_bytes),
        damaged_document(),
    ]
}

/// Text shaped like a source URI, often almost valid.
fn uri_text() -> impl Strategy<Value = String> {
    let scheme = "(file|env|etcd|consul|nacos|http|x|c|)";
    let sep = "(:|://|:/|//|)";
    let rest = "([a-z0-9@:/?&=%,.\\[\\]\\\\ #+-]|%[0-9a-fA-F]{0,2}|%|\u{e9}){0,30}";
    prop_oneof![
        any::<String>(),
        (scheme, sep, rest).prop_map(|(s, p, r)| format!("{s}{p}{r}")),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn no_document_panics_a_parser(bytes in document_bytes()) {
        for format in FORMATS {
            let _ = internals::parse(format, &bytes, &Limits::default());
        }
    }

    #[test]
    fn no_text_panics_the_uri_parser(text in uri_text()) {
        let _ = text.parse::<SourceUri>().map(|uri| uri.to_string());
    }

    #[test]
    fn no_text_panics_the_duration_parser(
        text in prop_oneof![any::<String>(), "[0-9]{0,25}(ms|s|m|h|µs|)"],
    ) {
        let _ = parse_duration(&text);
    }

    #[test]
    fn no_key_space_panics_nest(
        entries in prop::collection::vec(("[a/.]{0,8}", "(1|true|x|null|)"), 0..8),
        typed in any::<bool>(),
    ) {
        let _ = internals::nest(&entries, '/', typed);
        let _ = internals::nest(&entries, '.', typed);
    }

    #[test]
    fn no_text_panics_the_key_path_parser(text in "([a-z.\\[\\]0-9-]|\u{e9}){0,16}") {
        let path = internals::parse_path(&text);
        let _ = internals::render_path(&path);
    }
}

/// Deep documents are refused, not a stack overflow, in every format.
#[test]
fn deep_documents_are_errors_not_overflows() {
    let depth = 5_000;
    let docs = [
        (Format::Json, "[".repeat(depth)),
        (
            Format::Json,
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            Format::Toml,
            format!("a = {}1{}", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            Format::Yaml,
            format!("a: {}1{}", "[".repeat(depth), "]".repeat(depth)),
        ),
        (Format::Properties, format!("{}=1", "a.".repeat(depth))),
    ];
    for (format, text) in docs {
        let result = internals::parse(format, text.as_bytes(), &Limits::default());
        assert!(result.is_err(), "{format}: {} bytes accepted", text.len());
    }
}
