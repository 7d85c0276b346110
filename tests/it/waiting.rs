//! A start never waits in silence: while no config is applied, it says which layers have no
//! first state and why (`waiting` events), and a start that fails names every layer that kept
//! it from starting.

use std::time::Duration;

use async_trait::async_trait;
use hotconf::provider::{Capabilities, Layer, Metadata, WatchStream};
use hotconf::{ErrorKind, Event, MemoryProvider, Provider, Reloader, Result, Startup};
use serde_json::{json, Value};

use crate::{set_json, two_layers, wait_for_event};

/// A source whose server accepts the connection and never answers.
struct Silent;

#[async_trait]
impl Provider for Silent {
    fn metadata(&self) -> Metadata {
        Metadata::new("silent://h/app", Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        std::future::pending().await
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(Box::pin(futures_util::stream::pending()))
    }
}

/// The `(layer, source, error)` of every layer a `waiting` event names.
fn awaited(event: &Event) -> Vec<(String, String, Option<String>)> {
    let Event::Waiting { sources, .. } = event else {
        panic!("not a waiting event: {event:?}")
    };
    sources
        .iter()
        .map(|a| (a.layer.clone(), a.source.clone(), a.error.clone()))
        .collect()
}

#[tokio::test]
async fn a_waiting_start_says_what_it_waits_for_and_again_when_that_changes() {
    let two = two_layers();
    two.upper
        .fail(ErrorKind::Unavailable, "connection refused", true);
    let upper = two.upper.clone();
    let mut events = two.builder.events();
    let start = tokio::spawn(
        two.builder
            .layer(Silent)
            .startup(Startup::Wait(Duration::MAX))
            .start(),
    );
    let first = wait_for_event(&mut events, |e| matches!(e, Event::Waiting { .. })).await;
    let waiting = awaited(&first);
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert_eq!(
        (waiting[0].0.as_str(), waiting[0].1.as_str()),
        ("memory-1", "memory:upper")
    );
    assert!(
        waiting[0]
            .2
            .as_deref()
            .is_some_and(|e| e.contains("connection refused")),
        "{waiting:?}"
    );
    assert_eq!(
        waiting[1],
        ("silent-2".to_owned(), "silent://h/app".to_owned(), None),
        "no answer yet"
    );

    // The upper layer answers: only the silent one is left.
    set_json(&upper, json!({"name": "up"}));
    let next = wait_for_event(&mut events, |e| matches!(e, Event::Waiting { .. })).await;
    assert_eq!(awaited(&next), [waiting[1].clone()]);
    start.abort();
}

#[tokio::test]
async fn a_start_that_times_out_names_every_layer_that_kept_it() {
    let (missing, missing_handle) = MemoryProvider::new("memory:missing");
    missing_handle.fail(ErrorKind::NotFound, "no such file", true);
    let (down, down_handle) = MemoryProvider::new("memory:down");
    down_handle.fail(ErrorKind::Unavailable, "connection refused", true);
    let error = Reloader::<Value>::builder()
        .layer(missing)
        .layer(down)
        .layer(Silent)
        .startup(Startup::Wait(Duration::from_millis(300)))
        .start()
        .await
        .err()
        .unwrap();
    let text = error.to_string();
    for part in [
        "memory-0 (memory:missing): not_found error in memory:missing: no such file",
        "memory-1 (memory:down): unavailable error in memory:down: connection refused",
        "silent-2 (silent://h/app): no answer yet",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

#[tokio::test]
async fn a_fail_fast_start_names_every_layer_failing_at_once() {
    let (missing, missing_handle) = MemoryProvider::new("memory:missing");
    missing_handle.fail(ErrorKind::NotFound, "no such file", true);
    let (also, also_handle) = MemoryProvider::new("memory:also-missing");
    also_handle.fail(ErrorKind::NotFound, "no such file either", true);
    let error = Reloader::<Value>::builder()
        .layer(missing)
        .layer(also)
        .start()
        .await
        .err()
        .unwrap();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    let text = error.to_string();
    assert!(
        text.contains("memory:missing") && text.contains("memory:also-missing"),
        "{text}"
    );
}

#[tokio::test]
async fn a_rejected_first_config_is_what_the_start_waits_on() {
    let two = two_layers();
    set_json(&two.upper, json!({"name": 5}));
    let mut events = two.builder.events();
    let start = tokio::spawn(two.builder.startup(Startup::Wait(Duration::MAX)).start());
    let waiting = wait_for_event(&mut events, |e| matches!(e, Event::Waiting { .. })).await;
    let Event::Waiting { rejection, sources } = &waiting else {
        unreachable!()
    };
    let reason = sources
        .iter()
        .filter_map(|a| a.error.clone())
        .chain(rejection.clone())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(reason.contains("`name`"), "{waiting:?}");
    start.abort();
}
