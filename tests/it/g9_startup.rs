//! Startup policy (G9): fail fast, or wait; with a last-good file, start from the last good
//! config saved on disk instead of failing.

use std::time::Duration;

use hotconf::{ErrorKind, Event, Format, MemoryProvider, Origin, Reloader, Startup, Stats};
use serde_json::json;

use crate::{set_json, two_layers, wait_for_event, wait_until, Cfg};

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
    let mut events = two.builder.events();
    let start = tokio::spawn(
        two.builder
            .startup(Startup::Wait(Duration::from_secs(20)))
            .start(),
    );
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
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
async fn a_static_figment_provider_sits_under_a_watched_one() {
    use figment::providers::Serialized;
    let defaults = hotconf::FigmentProvider::new(Serialized::defaults(
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
    wait_until(&store, |c| c.db.port == 3).await;
}

#[tokio::test]
async fn wait_never_applies_a_config_without_a_layer_whose_first_state_was_rejected() {
    let two = two_layers();
    set_json(&two.upper, json!({"name": ["not", "a", "string"]}));
    let (upper, lower) = (two.upper.clone(), two.lower.clone());
    let mut events = two.builder.events();
    let mut stats = two.builder.stats();
    let start = tokio::spawn(
        two.builder
            .startup(Startup::Wait(Duration::from_secs(20)))
            .start(),
    );
    wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
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

/// Waits until the reloader has written `n` snapshots.
async fn written(stats: &mut hotconf::Subscription<Stats>, n: u64) {
    tokio::time::timeout(
        hotconf_testkit::TIMEOUT,
        stats.wait_for(|s| s.snapshots_written >= n),
    )
    .await
    .expect("the snapshot was written")
    .unwrap();
}

#[tokio::test]
async fn every_applied_config_is_saved_owner_only_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.snapshot.json");
    let two = two_layers();
    let builder = two.builder.last_good_file(&path);
    let mut stats = builder.stats();
    let reloader = builder.start().await.unwrap();
    written(&mut stats, 1).await;
    set_json(&two.upper, json!({"name": "v2"}));
    wait_until(&reloader.store(), |c| c.name == "v2").await;
    written(&mut stats, 2).await;

    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["version"], 2);
    assert_eq!(
        saved["config"],
        json!({"name": "v2", "db": {"host": "localhost", "port": 5432}})
    );
    assert!(saved["revisions"]["memory:upper"].is_string(), "{saved}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file stays behind");
}

/// Saves a snapshot of `{"name": "saved", db…}` at `path` through a first reloader.
async fn save(path: &std::path::Path) {
    let (provider, handle) = MemoryProvider::new("memory:first-run");
    set_json(
        &handle,
        json!({"name": "saved", "db": {"host": "db-1", "port": 6000}}),
    );
    let builder = Reloader::<Cfg>::builder()
        .layer(provider)
        .last_good_file(path);
    let mut stats = builder.stats();
    let _reloader = builder.start().await.unwrap();
    written(&mut stats, 1).await;
}

#[tokio::test]
async fn fail_fast_starts_from_the_snapshot_then_follows_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    save(&path).await;

    let (provider, handle) = MemoryProvider::new("memory:config-server");
    handle.fail(ErrorKind::Unavailable, "connection refused", true);
    let builder = Reloader::<Cfg>::builder()
        .layer(provider)
        .last_good_file(&path);
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let store = reloader.store();
    assert_eq!(
        (store.load().name.as_str(), store.load().db.port),
        ("saved", 6000)
    );
    assert_eq!(*store.get().origin(), Origin::Disk);
    wait_for_event(&mut events, |e| {
        matches!(
            e,
            Event::Applied {
                reason: Origin::Disk,
                ..
            }
        )
    })
    .await;

    // The server comes back with the very same config (same content hash): it is applied
    // anyway, so the origin says the sources are followed again.
    handle.set_tree(json!({"name": "saved", "db": {"host": "db-1", "port": 6000}}));
    let mut changes = store.subscribe();
    tokio::time::timeout(
        hotconf_testkit::TIMEOUT,
        changes.wait_for(|s| *s.origin() == Origin::Sources),
    )
    .await
    .expect("the sources' config replaces the saved one")
    .unwrap();
    assert_eq!(store.load().name, "saved");
    set_json(
        &handle,
        json!({"name": "live", "db": {"host": "db-1", "port": 6000}}),
    );
    wait_until(&store, |c| c.name == "live").await;
}

#[tokio::test]
async fn wait_falls_back_to_the_snapshot_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    save(&path).await;
    let (provider, handle) = MemoryProvider::new("memory:slow");
    handle.fail(ErrorKind::Unavailable, "not yet", true);
    let reloader = Reloader::<Cfg>::builder()
        .layer(provider)
        .last_good_file(&path)
        .startup(Startup::Wait(Duration::from_millis(200)))
        .start()
        .await
        .unwrap();
    assert_eq!(reloader.store().load().name, "saved");
    assert_eq!(*reloader.store().get().origin(), Origin::Disk);
}

#[tokio::test]
async fn an_unusable_snapshot_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let failing = || {
        let (provider, handle) = MemoryProvider::new("memory:down");
        handle.fail(ErrorKind::Unavailable, "connection refused", true);
        provider
    };
    // Missing, torn, foreign, or refused by today's validation: the sources' error comes back.
    let missing = dir.path().join("missing.json");
    let torn = dir.path().join("torn.json");
    std::fs::write(&torn, br#"{"hotconf_snapshot":1,"config":{"name":"#).unwrap();
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, br#"{"name":"x","db":{"host":"h","port":1}}"#).unwrap();
    // Owner-only like a real one, so that each is refused for what it holds.
    #[cfg(unix)]
    for file in [&torn, &foreign] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let refused = dir.path().join("refused.json");
    save(&refused).await;
    for (path, validated) in [
        (&missing, false),
        (&torn, false),
        (&foreign, false),
        (&refused, true),
    ] {
        let mut builder = Reloader::<Cfg>::builder()
            .layer(failing())
            .last_good_file(path);
        if validated {
            builder = builder.validate(|c: &Cfg| {
                if c.db.port == 6000 {
                    Err(
                        hotconf::Error::new(ErrorKind::Validation, "port 6000 is retired")
                            .with_key("db.port"),
                    )
                } else {
                    Ok(())
                }
            });
        }
        let err = builder.start().await.unwrap_err();
        assert!(
            err.to_string().contains("connection refused"),
            "{}: {err}",
            path.display()
        );
    }
}

#[tokio::test]
async fn a_snapshot_that_cannot_be_written_is_counted_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("app.json");
    let two = two_layers();
    let builder = two.builder.last_good_file(&path);
    let mut stats = builder.stats();
    let reloader = builder.start().await.unwrap();
    tokio::time::timeout(
        hotconf_testkit::TIMEOUT,
        stats.wait_for(|s| s.snapshot_failures >= 1),
    )
    .await
    .expect("the failed write was counted")
    .unwrap();
    set_json(&two.upper, json!({"name": "v2"}));
    wait_until(&reloader.store(), |c| c.name == "v2").await;
    assert_eq!(reloader.stats().borrow().snapshots_written, 0);
    assert!(!path.exists());
}

/// Starts from `path` with every source down: `Ok` when the last-good file was served.
async fn served(path: &std::path::Path) -> hotconf::Result<String> {
    let (provider, handle) = MemoryProvider::new("memory:down");
    handle.fail(ErrorKind::Unavailable, "connection refused", true);
    let reloader = Reloader::<Cfg>::builder()
        .layer(provider)
        .last_good_file(path)
        .start()
        .await?;
    let name = reloader.store().load().name.clone();
    Ok(name)
}

#[cfg(unix)]
#[tokio::test]
async fn a_last_good_file_that_someone_else_could_have_planted_is_never_served() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    save(&good).await;
    assert_eq!(
        served(&good).await.unwrap(),
        "saved",
        "the control case is served"
    );

    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    let readable = dir.path().join("readable.json");
    std::fs::copy(&good, &readable).unwrap();
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
    let fifo = dir.path().join("fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Each differs from the served control case in one way only.
    let mut cases = vec![link, readable, fifo];
    let foreign = dir.path().join("foreign.json");
    std::fs::copy(&good, &foreign).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o600)).unwrap();
    match std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)) {
        Ok(()) => cases.push(foreign),
        // Only root can give a file away: as anyone else this case cannot be set up.
        Err(e) => eprintln!("not checking a file owned by another user: {e}"),
    }
    for path in cases {
        let err = served(&path).await.unwrap_err();
        assert!(
            err.to_string().contains("connection refused"),
            "{}: {err}",
            path.display()
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_writer_replaces_links_and_loose_modes_and_never_writes_through_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    let path = dir.path().join("last-good.json");
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    save(&path).await;
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced by a file"
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A loose mode on an earlier file does not survive the next write.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    save(&path).await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}
