//! The smallest inputs the properties once found failing, as plain tests that name the bug, so
//! that each bug stays fixed; the property that found it stays too.

use hotconf::Format;
use serde_json::{json, Value};

use crate::fast_path::{all_paths, reload_outcome, Outcome, Path};
use crate::formats::parse;

/// An ignored field the typed parse skips but a tree cannot hold: the fast path applied the
/// document, with `Snapshot::merged()` silently `{}`, where the general path rejects it.
fn assert_paths_agree(document: &str) {
    let [fast, streamed, tree] = all_paths(document);
    if let Outcome::Applied(_, merged) = &fast {
        assert_eq!(
            merged["port"],
            json!(8080),
            "Snapshot::merged() of {document}"
        );
    }
    assert_eq!(fast, tree, "{document}");
    assert_eq!(streamed, tree, "{document}");
}

#[test]
fn an_ignored_out_of_range_number_gives_the_same_outcome_on_both_paths() {
    assert_paths_agree(r#"{"port":8080,"x":1e400}"#);
}

#[test]
fn an_ignored_out_of_range_number_in_a_reload_gives_the_same_outcome_on_both_paths() {
    let document = r#"{"port":8080,"x":1e400}"#;
    let tree = reload_outcome(document, Path::Tree);
    assert_eq!(reload_outcome(document, Path::Fast), tree, "{document}");
    assert_eq!(reload_outcome(document, Path::Streamed), tree, "{document}");
}

#[test]
fn an_ignored_lone_surrogate_gives_the_same_outcome_on_both_paths() {
    assert_paths_agree(r#"{"port":8080,"x":"\ud800"}"#);
}

/// 127 nested arrays under a key (128 levels with the root) is the smallest depth that differs.
#[test]
fn an_ignored_deep_value_gives_the_same_outcome_on_both_paths() {
    for depth in [127, 200] {
        let deep = format!("{}0{}", "[".repeat(depth), "]".repeat(depth));
        assert_paths_agree(&format!(r#"{{"port":8080,"x":{deep}}}"#));
    }
}

/// A `.properties` document is checked as UTF-8, then decoded as Windows-1252 (the
/// `java-properties` crate's default), so every non-ASCII character comes out garbled.
#[test]
fn properties_read_utf8_text_as_utf8() {
    assert_eq!(parse(Format::Properties, "k=é"), Ok(json!({"k": "é"})));
}

/// serde_json, without its `float_roundtrip` feature, reads some floats to a neighbouring
/// value: a JSON document does not give the number written in it (TOML and YAML do).
#[test]
fn json_reads_floats_exactly() {
    let f = 4.1931974048667974e+272_f64;
    let text = json!({ "f": f }).to_string();
    let want: Value = json!({ "f": f });
    assert_eq!(parse(Format::Json, &text), Ok(want), "{text}");
    assert_eq!(
        parse(Format::Toml, &format!("f = {f:e}")),
        Ok(json!({ "f": f }))
    );
}
