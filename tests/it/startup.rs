//! Startup policy (G9, without the snapshot file, which comes later): fail fast, or wait.

use std::time::Duration;

use hotconf::{ErrorKind, Format, MemoryProvider, Reloader, Startup};
use serde_json::json;

use crate::{set_json, two_layers, Cfg};

#[tokio::test]
async fn fail_fast_returns_the_first_source_error() {
    let two = two_layers();
    two.upper
        .fail(ErrorKind::PermissionDenied, "bad credentials", false);
    let err = two.builder.start().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(err.source_name(), Some("memory:upper"));
}

#[tokio::test]
async fn fail_fast_returns_a_rejection_of_the_first_config() {
    let two = two_layers();
    set_json(&two.upper, json!({"name": 5}));
    let err = two.builder.start().await.unwrap_err();
    assert_eq!((err.kind(), err.key()), (ErrorKind::Type, Some("name")));
}

#[tokio::test]
async fn wait_rides_out_errors_until_a_good_config_arrives() {
    let two = two_layers();
    two.upper.fail(ErrorKind::Unavailable, "not yet", true);
    let upper = two.upper.clone();
    let mut events = two.builder.subscribe_events();
    let start = tokio::spawn(
        two.builder
            .startup(Startup::Wait(Duration::from_secs(20)))
            .start(),
    );
    hotconf_testkit::wait_for_event(&mut events, |e| {
        matches!(e, hotconf::Event::SourceError { .. })
    })
    .await;
    set_json(&upper, json!({"name": "late"}));
    let reloader = start.await.unwrap().unwrap();
    assert_eq!(reloader.store().load().name, "late");
}

#[tokio::test]
async fn wait_gives_up_after_its_timeout_naming_the_last_error() {
    let (provider, handle) = MemoryProvider::new("memory:never");
    handle.fail(ErrorKind::Unavailable, "connection refused", true);
    let err = Reloader::<Cfg>::builder()
        .layer(provider)
        .startup(Startup::Wait(Duration::from_millis(200)))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn no_layers_is_a_config_error() {
    let err = Reloader::<Cfg>::builder().start().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn a_static_figment_layer_sits_under_a_watched_one() {
    use figment::providers::Serialized;
    let defaults = hotconf::FigmentLayer::new(Serialized::defaults(
        json!({"name": "d", "db": {"host": "h", "port": 1}}),
    ));
    let (provider, handle) = MemoryProvider::new("memory:top");
    handle.set_document(Format::Yaml, "db: {port: 2}");
    let reloader = Reloader::<Cfg>::builder()
        .layer(defaults)
        .layer(provider)
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    assert_eq!((store.load().name.as_str(), store.load().db.port), ("d", 2));
    handle.set_document(Format::Yaml, "db: {port: 3}");
    hotconf_testkit::wait_until(&store, |c| c.db.port == 3).await;
}

#[tokio::test]
async fn wait_never_applies_a_config_without_a_layer_whose_first_state_was_rejected() {
    let two = two_layers();
    set_json(&two.upper, json!({"name": ["not", "a", "string"]}));
    let (upper, lower) = (two.upper.clone(), two.lower.clone());
    let mut events = two.builder.subscribe_events();
    let mut stats = two.builder.stats();
    let start = tokio::spawn(
        two.builder
            .startup(Startup::Wait(Duration::from_secs(20)))
            .start(),
    );
    hotconf_testkit::wait_for_event(&mut events, |e| {
        matches!(e, hotconf::Event::Rejected { .. })
    })
    .await;
    let batches = stats.borrow_and_update().batches;
    // Another layer changes, and the reloader takes that batch: still no config, since the
    // upper layer has no good state yet.
    lower.set_document(
        Format::Toml,
        "name = \"base\"\n[db]\nhost = \"h2\"\nport = 1\n",
    );
    crate::wait_stats(&mut stats, |s| s.batches > batches).await;
    set_json(&upper, json!({"name": "good"}));
    let reloader = start.await.unwrap().unwrap();
    let snapshot = reloader.store().get();
    assert_eq!((snapshot.name.as_str(), snapshot.version()), ("good", 1));
}
