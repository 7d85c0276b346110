//! The three ways a JSON document becomes a config agree: the fast path (the only layer,
//! deserialized straight from its bytes), the streamed path (the document read as a stream
//! between other layers, which are merged in where they overlap) and the tree path (parsed to a
//! tree and merged; forced here by a restart-required key). The same document is applied by all
//! three, with equal configs and equal `Snapshot::merged()`, or rejected by all three. Documents
//! carry ignored fields holding hostile values the typed parse skips but a tree cannot hold
//! (`1e400`, 200 levels, `"\ud800"`).

use hotconf::{Format, MemoryProvider, Reloader, Startup};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::strategies::{self, config};

/// The typed config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct App {
    port: u16,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    tls: Option<Tls>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Tls {
    cert: String,
    #[serde(default)]
    verify: bool,
}

/// What a reloader made of a document.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Applied: the config and `Snapshot::merged()`.
    Applied(App, Value),
    /// Rejected at startup.
    Rejected,
}

/// How a document is turned into a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The only layer: deserialized straight from its bytes.
    Fast,
    /// With another layer: read as a stream, the other layer merged in.
    Streamed,
    /// With another layer and a restart-required key: parsed to a tree and merged.
    Tree,
}

impl Path {
    /// A builder set up to take this path.
    fn builder(self) -> hotconf::ReloaderBuilder<App> {
        let builder = Reloader::<App>::builder();
        match self {
            Path::Tree => builder.restart_required("not.in.any.document"),
            Path::Fast | Path::Streamed => builder,
        }
    }
}

/// Starts a reloader on `layers` (JSON documents, lowest first) and says what it did.
fn outcome(layers: &[&str], path: Path) -> Outcome {
    crate::runtime().block_on(async {
        let mut builder = path.builder().startup(Startup::FailFast);
        for (i, text) in layers.iter().enumerate() {
            let (provider, handle) = MemoryProvider::new(format!("memory:layer{i}"));
            handle.set_document(Format::Json, *text);
            builder = builder.layer(provider);
        }
        match builder.start().await {
            Ok(reloader) => {
                let snapshot = reloader.store().get();
                Outcome::Applied(snapshot.config().clone(), snapshot.merged().clone())
            }
            Err(_) => Outcome::Rejected,
        }
    })
}

/// The document as the only layer (fast path), and under an empty JSON layer (streamed path,
/// tree path).
pub fn all_paths(document: &str) -> [Outcome; 3] {
    [
        outcome(&[document], Path::Fast),
        outcome(&[document, "{}"], Path::Streamed),
        outcome(&[document, "{}"], Path::Tree),
    ]
}

/// Starts a reloader on `{"port": 1}`, then sets `document` as a reload and awaits its outcome:
/// what serves afterwards, and whether the document was rejected. For the other paths a second
/// layer holds a key `App` ignores (an empty layer, once parsed, is skipped, so a reload would
/// take the fast path); it is removed from the merged tree before comparing.
pub fn reload_outcome(document: &str, path: Path) -> (Outcome, bool) {
    let general = path != Path::Fast;
    crate::runtime().block_on(async {
        let (provider, handle) = MemoryProvider::new("memory:document");
        handle.set_document(Format::Json, r#"{"port": 1}"#);
        let mut builder = path.builder().layer(provider);
        if general {
            let (other, other_handle) = MemoryProvider::new("memory:other");
            other_handle.set_document(Format::Json, r#"{"general_path": true}"#);
            builder = builder.layer(other);
        }
        let reloader = builder.start().await.expect("the first document is valid");
        let mut stats = reloader.stats();
        let before = *stats.borrow();
        let handled = |s: &hotconf::Stats| s.applied + s.rejected + s.unchanged;
        handle.set_document(Format::Json, document);
        let after = *tokio::time::timeout(
            hotconf_testkit::TIMEOUT,
            stats.wait_for(|s| handled(s) > handled(&before)),
        )
        .await
        .expect("the reload was handled in time")
        .expect("the reloader runs");
        let snapshot = reloader.store().get();
        let mut merged = snapshot.merged().clone();
        if let Some(map) = merged.as_object_mut().filter(|_| general) {
            map.remove("general_path");
        }
        let serving = Outcome::Applied(snapshot.config().clone(), merged);
        (serving, after.rejected > before.rejected)
    })
}

/// Nesting `depth` levels deep, of arrays or of maps.
fn nested(depth: usize, maps: bool) -> String {
    let (open, close) = if maps { ("{\"a\":", "}") } else { ("[", "]") };
    format!("{}0{}", open.repeat(depth), close.repeat(depth))
}

/// JSON text a tree cannot hold, or only barely.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "1e400",
            "-1e400",
            "1E+999",
            "123456789012345678901234567890",
            "-0",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "\"\\ud83d\\ude00\"",
            "\"\\u0000\"",
        ])
        .prop_map(str::to_owned),
        (100usize..=200, any::<bool>()).prop_map(|(depth, maps)| nested(depth, maps)),
    ]
}

/// The JSON text of one field's value: usually well-typed for `App`, sometimes not.
fn field_value(key: &str) -> BoxedStrategy<String> {
    let json = |s: BoxedStrategy<Value>| s.prop_map(|v| v.to_string()).boxed();
    let typed = match key {
        "port" => json((0u32..70_000).prop_map(Value::from).boxed()),
        "name" => json(strategies::string().prop_map(Value::String).boxed()),
        "tags" => json(
            prop::collection::vec(strategies::string().prop_map(Value::String), 0..3)
                .prop_map(Value::Array)
                .boxed(),
        ),
        "tls" => (strategies::string(), any::<bool>())
            .prop_map(|(cert, verify)| serde_json::json!({"cert": cert, "verify": verify}))
            .prop_map(|v| v.to_string())
            .boxed(),
        _ => json(strategies::value().boxed()),
    };
    let other = json(strategies::value().boxed());
    if matches!(key, "port" | "name" | "tags" | "tls") {
        prop_oneof![8 => typed, 1 => other, 1 => hostile()].boxed()
    } else {
        prop_oneof![1 => typed, 1 => hostile()].boxed()
    }
}

/// A JSON document: `App`'s fields (port almost always there) and extra fields, in any order.
pub fn document() -> impl Strategy<Value = String> {
    let keys = prop::sample::subsequence(vec!["name", "tags", "tls", "x", "y", "extra"], 0..=6);
    let port = prop::sample::select(vec![true, true, true, false]);
    (keys, port)
        .prop_flat_map(|(mut keys, port)| {
            if port {
                keys.push("port");
            }
            Just(keys).prop_shuffle()
        })
        .prop_flat_map(|keys| {
            let fields: Vec<_> = keys
                .into_iter()
                .map(|k| field_value(k).prop_map(move |v| format!("{k:?}: {v}")))
                .collect();
            (fields, " {0,2}")
        })
        .prop_map(|(fields, space)| format!("{space}{{{}}}", fields.join(", ")))
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn the_fast_streamed_and_tree_paths_agree(document in document()) {
        let [fast, streamed, tree] = all_paths(&document);
        prop_assert_eq!(&fast, &tree, "document: {}", document);
        prop_assert_eq!(&streamed, &tree, "document: {}", document);
    }

    /// The same as a reload of a running config: every path serves the same config and tree
    /// afterwards, and all reject the document or none does.
    #[test]
    fn a_reload_on_the_fast_streamed_and_tree_paths_agree(document in document()) {
        let tree = reload_outcome(&document, Path::Tree);
        prop_assert_eq!(&reload_outcome(&document, Path::Fast), &tree, "document: {}", document);
        prop_assert_eq!(&reload_outcome(&document, Path::Streamed), &tree, "document: {}", document);
    }
}
