//! G4: once writes stop, the store reflects the final state of every source, across
//! disconnects, lost watch streams and errors.

use hotconf::{ErrorKind, Event, Format, MemoryProvider, Reloader};
use serde::Deserialize;
use serde_json::json;

use crate::{set_json, two_layers, wait_for_event, wait_until};
use hotconf_testkit::ScriptedProvider;

#[tokio::test]
async fn g4_changes_made_while_disconnected_are_applied_after_reconnect() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    two.upper.disconnect();
    wait_for_event(&mut two.events, |e| {
        matches!(
            e,
            Event::SourceError {
                transient: true,
                ..
            }
        )
    })
    .await;
    for i in 0..20 {
        set_json(&two.upper, json!({"name": format!("offline-{i}")}));
    }
    assert_eq!(
        store.load().name,
        "v1",
        "nothing is applied while disconnected"
    );
    two.upper.reconnect();
    wait_until(&store, |c| c.name == "offline-19").await;
}

#[tokio::test]
async fn g4_source_errors_keep_the_last_good_layer_then_recover() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    two.upper.fail(ErrorKind::Unavailable, "server down", true);
    let event = wait_for_event(&mut two.events, |e| matches!(e, Event::SourceError { .. })).await;
    assert!(
        matches!(&event, Event::SourceError { source, transient: true, .. } if source == "memory:upper"),
        "{event:?}"
    );
    assert_eq!(store.load().name, "v1");
    set_json(&two.upper, json!({"name": "back"}));
    wait_until(&store, |c| c.name == "back").await;
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[tokio::test]
async fn g4_a_lost_watch_stream_is_restarted_and_converges() {
    let (scripted, script) = ScriptedProvider::new("scripted:flaky");
    script.send(Ok(hotconf::provider::Layer::document(
        Format::Json,
        r#"{"name": "a"}"#,
    )));
    let builder = Reloader::<Named>::builder()
        .layer(scripted)
        .max_backoff(std::time::Duration::from_millis(50));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let store = reloader.store();
    // The stream ends (a lost connection); the reloader reports it and calls watch() again,
    // whose first item is the source's current state.
    script.end_stream();
    let event = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    assert!(
        format!("{event:?}").contains("watch stream ended"),
        "{event:?}"
    );
    script.send(Ok(hotconf::provider::Layer::document(
        Format::Json,
        r#"{"name": "b"}"#,
    )));
    wait_until(&store, |c| c.name == "b").await;
}

#[tokio::test]
async fn g4_every_source_converges_when_several_change_at_once() {
    let sources: Vec<_> = (0..4)
        .map(|i| MemoryProvider::new(format!("memory:{i}")))
        .collect();
    let mut builder = Reloader::<serde_json::Value>::builder();
    for (i, (provider, handle)) in sources.iter().enumerate() {
        handle.set_document(Format::Json, json!({ format!("k{i}"): 0 }).to_string());
        builder = builder.layer(provider.clone());
    }
    let reloader = builder.start().await.unwrap();
    let store = reloader.store();
    for round in 1..=50 {
        for (i, (_, handle)) in sources.iter().enumerate() {
            handle.set_document(Format::Json, json!({ format!("k{i}"): round }).to_string());
        }
    }
    wait_until(&store, |c| (0..4).all(|i| c[format!("k{i}")] == 50)).await;
}
