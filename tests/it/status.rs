//! `Reloader::status`: per source, its layer name, revision, health, failures and last error;
//! for the config, the version, pin and rejections in a row.

use hotconf::{ErrorKind, Event, Format, Health, MemoryProvider, Reloader};
use serde_json::json;

use super::{set_json, two_layers, wait_for_event, wait_stats, Cfg};

#[tokio::test]
async fn sources_report_health_failures_and_recovery() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let status = reloader.status();
    assert_eq!(status.version, 1);
    assert!(!status.pinned);
    let layers: Vec<&str> = status.sources.iter().map(|s| s.layer.as_str()).collect();
    assert_eq!(
        layers,
        ["memory-0", "memory-1"],
        "default names: scheme and position"
    );
    assert!(status
        .sources
        .iter()
        .all(|s| s.health == Health::Up && s.revision.is_some()));
    assert!(status.sources.iter().all(|s| s.last_change.is_some()));

    two.upper
        .fail(ErrorKind::Unavailable, "connection refused", true);
    wait_for_event(&mut two.events, |e| matches!(e, Event::SourceError { .. })).await;
    two.upper
        .fail(ErrorKind::Unavailable, "connection refused again", true);
    wait_for_event(
        &mut two.events,
        |e| matches!(e, Event::SourceError { error, .. } if error.contains("again")),
    )
    .await;
    let upper = &reloader.status().sources[1];
    assert_eq!(upper.health, Health::Erroring);
    assert_eq!(upper.consecutive_failures, 2);
    assert!(upper.last_error.as_deref().unwrap().contains("again"));
    assert_eq!(upper.errors.get("unavailable"), Some(&2));
    assert_eq!(reloader.status().sources[0].health, Health::Up);

    // A state that does not parse is a failure of that source too.
    two.upper.set_document(Format::Json, "{not json");
    wait_for_event(&mut two.events, |e| matches!(e, Event::Rejected { .. })).await;
    let upper = &reloader.status().sources[1];
    assert_eq!(upper.health, Health::Erroring);
    assert_eq!(upper.consecutive_failures, 3);
    assert_eq!(upper.errors.get("parse"), Some(&1));
    assert_eq!(reloader.status().consecutive_rejections, 1);

    set_json(&two.upper, json!({"name": "back"}));
    wait_for_event(&mut two.events, |e| matches!(e, Event::Applied { .. })).await;
    let upper = &reloader.status().sources[1];
    assert_eq!(upper.health, Health::Up);
    assert_eq!(upper.consecutive_failures, 0);
    assert_eq!(upper.last_error, None);
    assert_eq!(upper.errors.get("unavailable"), Some(&2), "totals stay");

    two.upper.fail(ErrorKind::Config, "denied", false);
    wait_for_event(&mut two.events, |e| {
        matches!(
            e,
            Event::SourceError {
                transient: false,
                ..
            }
        )
    })
    .await;
    let mut stats = reloader.stats();
    wait_stats(&mut stats, |s| s.source_errors >= 3).await;
    assert_eq!(reloader.status().sources[1].health, Health::Stopped);
}

#[tokio::test]
async fn rejections_in_a_row_pins_and_timings_are_reported() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    set_json(&two.upper, json!({"name": "v2"}));
    wait_for_event(&mut two.events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    for port in ["x", "y"] {
        set_json(&two.upper, json!({"db": {"port": port}}));
        wait_for_event(&mut two.events, |e| matches!(e, Event::Rejected { .. })).await;
    }
    let status = reloader.status();
    assert_eq!(status.consecutive_rejections, 2);
    assert!(status.last_rejection.unwrap().contains("db.port"));

    reloader.rollback(1).await.unwrap();
    let status = reloader.status();
    assert!(status.pinned);
    assert_eq!(status.origin, hotconf::Origin::Rollback { of: 1 });
    assert_eq!(status.version, 3);
    reloader.unpin().await.unwrap();
    assert!(!reloader.status().pinned);

    set_json(&two.upper, json!({"name": "v4"}));
    wait_for_event(&mut two.events, |e| matches!(e, Event::Applied { .. })).await;
    let status = reloader.status();
    assert_eq!(status.consecutive_rejections, 0);
    assert_eq!(status.last_rejection, None);

    let stats = *reloader.stats().borrow();
    assert!(stats.reload_duration.count >= 3, "{stats:?}");
    assert!(stats.propagation.count >= 2, "{stats:?}");
    assert!(stats.propagation.count <= stats.reload_duration.count);
    assert_eq!(
        stats.reload_duration.counts.iter().sum::<u64>(),
        stats.reload_duration.count
    );

    let json = serde_json::to_value(reloader.status()).unwrap();
    assert_eq!(json["content_hash"].as_str().unwrap().len(), 16);
    assert!(
        json["applied_at"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );
    assert_eq!(json["sources"][1]["health"], "up");
}

#[tokio::test]
async fn layers_can_be_named_and_names_are_unique() {
    let (a, a_handle) = MemoryProvider::new("memory:a");
    let (b, b_handle) = MemoryProvider::new("memory:b");
    a_handle.set_document(
        Format::Json,
        json!({"name": "n", "db": {"host": "h", "port": 1}}).to_string(),
    );
    b_handle.set_document(Format::Json, "{}");
    let reloader = Reloader::<Cfg>::builder()
        .named_layer("defaults", a)
        .layer(b)
        .start()
        .await
        .unwrap();
    let layers: Vec<String> = reloader
        .status()
        .sources
        .into_iter()
        .map(|s| s.layer)
        .collect();
    assert_eq!(layers, ["defaults", "memory-1"]);

    let (a, _) = MemoryProvider::new("memory:a");
    let (b, _) = MemoryProvider::new("memory:b");
    let error = Reloader::<Cfg>::builder()
        .named_layer("same", a)
        .named_layer("same", b)
        .start()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("`same`"), "{error}");
}
