//! The optional-layer scenario (docs/concepts.md, "Required and optional layers") that every
//! backend runs: a base layer and the backend's source as an optional layer over it.
//!
//! 1. The source is absent (a file missing, a server down) and the layer required: the start
//!    fails, naming it.
//! 2. The same, with the layer optional: the start succeeds at once (fail fast) with the base
//!    layer's config; the status shows the layer absent; no value comes from it.
//! 3. The source appears with a document the validator refuses: rejected, nothing applied.
//! 4. It holds a valid document: applied, as exactly one new version.
//! 5. The document is deleted: the config falls back to the base layer (G5), the layer shows
//!    absent again, and `explain` names the layer the key fell back from.

use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::{
    Error, Event, Format, Health, MemoryProvider, Provider, Reloader, ReloaderBuilder, Startup,
};
use serde_json::Value;

use crate::wait::{wait_for_event, wait_until};

/// The base layer's document: `name` is `base`, `port` 1.
pub const BASE: &str = r#"{"name": "base", "port": 1}"#;

/// A source the scenario drives: one document (JSON) that can be absent.
#[async_trait]
pub trait AbsentSource: Send {
    /// A provider of the source, as the layer (the scenario marks it optional or not).
    fn provider(&self) -> Box<dyn Provider>;
    /// Makes the source absent as it matters most for the backend: a file or directory that
    /// does not exist, a server that cannot be reached.
    async fn take_away(&mut self);
    /// Makes the source present (the server back if it was down) and holding `json`.
    async fn put(&mut self, json: &str);
    /// Deletes the document (the file, the key, the namespace); the server stays up.
    async fn delete(&mut self);
}

fn builder(source: &dyn AbsentSource) -> ReloaderBuilder<Value> {
    let (base, handle) = MemoryProvider::new("memory:base");
    handle.set_document(Format::Json, BASE);
    Reloader::<Value>::builder()
        .named_layer("base", base)
        .named_layer("overrides", source.provider())
        .validate(|config| match config["port"].as_u64() {
            Some(0) => Err(Error::validation("must not be 0").with_key("port")),
            _ => Ok(()),
        })
}

fn name(config: &Value) -> &str {
    config["name"].as_str().unwrap_or_default()
}

/// Runs the scenario on `source`.
///
/// # Panics
/// When a step does not happen within [`TIMEOUT`](crate::TIMEOUT), or differs from the above.
pub async fn run(source: &mut dyn AbsentSource) {
    source.take_away().await;
    let source_name = source.provider().metadata().name;

    // 1. Required: no config without it.
    let required = builder(source)
        .startup(Startup::Wait(Duration::from_millis(500)))
        .start()
        .await;
    let Err(error) = required else {
        panic!("a required layer that is absent kept no start from succeeding");
    };
    assert!(
        error.to_string().contains("overrides"),
        "the error names the layer: {error}"
    );

    // 2. Optional: the base layer's config, at once.
    let reloader = builder(source)
        .optional()
        .start()
        .await
        .unwrap_or_else(|e| panic!("an optional absent layer kept the start back: {e}"));
    let store = reloader.store();
    assert_eq!(name(&store.load()), "base");
    let status = reloader.status();
    assert!(status.sources[1].optional);
    assert_eq!(status.sources[1].health, Health::Absent, "{status:?}");
    let explained = store.get().explain("name");
    assert_eq!(explained.layer.as_deref(), Some("base"));
    assert!(!explained.layers[1].holds);
    assert!(
        !store
            .get()
            .revisions()
            .iter()
            .any(|(l, _)| l.label() == "overrides"),
        "an absent layer has no revision"
    );

    // 3. It appears with a document the validator refuses.
    let mut events = reloader.events();
    source.put(r#"{"name": "refused", "port": 0}"#).await;
    let rejected = wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
    let Event::Rejected { source: blamed, .. } = &rejected else {
        unreachable!()
    };
    assert_eq!(
        blamed.as_deref(),
        Some(source_name.as_str()),
        "{rejected:?}"
    );
    assert_eq!((name(&store.load()), store.version()), ("base", 1));

    // 4. A valid document: applied once.
    source.put(r#"{"name": "local"}"#).await;
    wait_until(&store, |c| name(c) == "local").await;
    assert_eq!(store.version(), 2, "one new version");
    assert_eq!(store.load()["port"], 1, "merged over the base layer");
    assert_eq!(reloader.status().sources[1].health, Health::Up);

    // 5. Deleted: back to the base layer.
    source.delete().await;
    wait_until(&store, |c| name(c) == "base").await;
    assert_eq!(store.version(), 3);
    let status = reloader.status();
    assert_eq!(status.sources[1].health, Health::Absent, "{status:?}");
    let explained = reloader.explain("name").await.unwrap();
    assert_eq!(
        (
            explained.layer.as_deref(),
            explained.fell_back_from.as_deref()
        ),
        (Some("base"), Some("overrides"))
    );
}
