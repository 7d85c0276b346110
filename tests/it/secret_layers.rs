//! Secret layers: every value a secret layer supplies is redacted in every output, whatever its
//! key is called, and left out of the last-good file unless the application keeps it.

use hotconf::provider::Secrecy;
use hotconf::{Format, MemoryHandle, MemoryProvider, Reloader, ReloaderBuilder};
use serde_json::{json, Value};

use super::{set_json, wait_stats, Cfg};

/// A lower ordinary layer (`name`, `db.port`) and an upper layer holding `db.host`, keys no
/// redaction word covers.
fn layers() -> (ReloaderBuilder<Cfg>, MemoryHandle, MemoryProvider) {
    let (lower, lower_handle) = MemoryProvider::new("memory:defaults");
    lower_handle.set_document(Format::Toml, "name = \"svc\"\n[db]\nport = 5432\n");
    let (upper, upper_handle) = MemoryProvider::new("memory:credentials");
    set_json(&upper_handle, json!({"db": {"host": "db-7.internal"}}));
    (Reloader::<Cfg>::builder().layer(lower), upper_handle, upper)
}

#[tokio::test]
async fn what_a_secret_layer_supplies_is_redacted_everywhere_and_only_that() {
    let (builder, _handle, upper) = layers();
    let reloader = builder.layer(upper).secret().start().await.unwrap();
    let snapshot = reloader.store().load();
    assert_eq!(snapshot.db.host, "db-7.internal", "the application sees it");
    assert_eq!(
        snapshot.redacted(),
        json!({"name": "svc", "db": {"host": "***", "port": 5432}})
    );
    assert!(snapshot.redaction().is_redacted("db.host"));
    assert!(!snapshot.redaction().is_redacted("db.port"));
    let within = snapshot.redaction().redact_within(snapshot.merged(), "db");
    assert_eq!(within, Some(json!({"host": "***", "port": 5432})));
    let explained = snapshot.explain("db.host");
    assert!(
        explained.redacted && explained.value.is_none(),
        "{explained:?}"
    );
    assert!(
        explained.layers.iter().all(|l| l.value.is_none()),
        "{explained:?}"
    );
    let shown = serde_json::to_string(&explained).unwrap();
    assert!(!shown.contains("db-7"), "{shown}");
    assert_eq!(snapshot.explain("db.port").value, Some(json!(5432)));
}

#[tokio::test]
async fn an_ordinary_layer_shows_its_values_and_a_uri_or_the_source_decides() {
    let (builder, _handle, upper) = layers();
    let reloader = builder.layer(upper).start().await.unwrap();
    let shown = reloader.store().load().redacted();
    assert_eq!(shown["db"]["host"], "db-7.internal");

    // A source whose values are secrets by nature, and the opt-out.
    let (builder, _handle, upper) = layers();
    let secret = Secrecy::new(upper, true);
    let reloader = builder.layer(secret.clone()).start().await.unwrap();
    assert_eq!(reloader.store().load().redacted()["db"]["host"], "***");
    let (builder, _handle, _) = layers();
    let reloader = builder.layer(secret).not_secret().start().await.unwrap();
    assert_eq!(
        reloader.store().load().redacted()["db"]["host"],
        "db-7.internal"
    );
}

#[tokio::test]
async fn secret_before_any_layer_is_refused() {
    let (_, _, upper) = layers();
    let builder = Reloader::<Cfg>::builder().secret().layer(upper);
    let error = builder.start().await.err().unwrap();
    assert!(error.to_string().contains("before any layer"), "{error}");
}

async fn saved_config(keep: bool) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last-good.json");
    save(&path, keep).await;
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    saved["config"].clone()
}

/// Runs a reloader over the layers with a secret one, saving to the last-good file `path`.
async fn save(path: &std::path::Path, keep: bool) {
    let (builder, _handle, upper) = layers();
    let builder = builder
        .layer(upper)
        .secret()
        .last_good_file(path)
        .secrets_on_disk(keep);
    let mut stats = builder.stats();
    let _reloader = builder.start().await.unwrap();
    wait_stats(&mut stats, |s| s.snapshots_written >= 1).await;
}

#[tokio::test]
async fn the_last_good_file_leaves_secret_values_out_unless_told_to_keep_them() {
    assert_eq!(
        saved_config(false).await,
        json!({"name": "svc", "db": {"port": 5432}})
    );
    assert_eq!(
        saved_config(true).await,
        json!({"name": "svc", "db": {"host": "db-7.internal", "port": 5432}})
    );
}

/// Kept on disk, a secret layer's values are still redacted in a config started from the file.
#[tokio::test]
async fn a_config_started_from_a_file_that_keeps_secrets_still_redacts_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last-good.json");
    save(&path, true).await;
    let (down, handle) = MemoryProvider::new("memory:credentials");
    handle.fail(hotconf::ErrorKind::Unavailable, "connection refused", true);
    let reloader = Reloader::<Cfg>::builder()
        .layer(down)
        .secret()
        .last_good_file(&path)
        .start()
        .await
        .unwrap();
    let snapshot = reloader.store().load();
    assert_eq!(*snapshot.origin(), hotconf::Origin::Disk);
    assert_eq!(snapshot.db.host, "db-7.internal");
    assert_eq!(
        snapshot.redacted()["db"],
        json!({"host": "***", "port": 5432})
    );
    assert!(snapshot.explain("db.host").value.is_none());
}
