//! Reads are bounded while reading: a huge or endless file, a FIFO, a device or an oversized
//! directory is refused (naming the path) without being read whole, and without blocking the
//! runtime; the last good config keeps serving.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use hotconf_core::{Event, Limits, Provider, Reloader, Startup};
use hotconf_file::FileProvider;
use hotconf_testkit::{wait_for_event, wait_until};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct App {
    name: String,
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `load` on a current-thread runtime in its own thread: a blocked runtime shows as no
/// answer within `limit`, instead of hanging the test.
fn load_on_a_current_thread(provider: FileProvider, limit: Duration) -> hotconf_core::Error {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = tx.send(runtime.block_on(provider.load()));
    });
    match rx.recv_timeout(limit) {
        Ok(result) => result.expect_err("a non-regular file was loaded"),
        Err(_) => panic!("load did not return within {limit:?}: the runtime is blocked"),
    }
}

#[test]
fn a_fifo_is_refused_at_once_without_blocking_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.json");
    mkfifo(&fifo);
    let error = load_on_a_current_thread(FileProvider::new(&fifo), Duration::from_secs(5));
    let shown = error.to_string();
    assert!(
        shown.contains("fifo.json") && shown.contains("FIFO"),
        "{shown}"
    );
    assert!(!error.is_transient(), "{shown}");
}

#[test]
fn a_symlink_to_dev_zero_is_refused_naming_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let error = load_on_a_current_thread(FileProvider::new(&link), Duration::from_secs(5));
    let shown = error.to_string();
    assert!(
        shown.contains("zero.yaml") && shown.contains("character device"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_sparse_4_gib_file_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    fs::File::create(&path).unwrap().set_len(4 << 30).unwrap();
    let started = Instant::now();
    let error = FileProvider::new(&path).load().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let shown = error.to_string();
    assert!(
        shown.contains("huge.json") && shown.contains("limit"),
        "{shown}"
    );
    // A lower limit applies too.
    fs::write(&path, r#"{"name": "a little too long"}"#).unwrap();
    let limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    let error = FileProvider::new(&path)
        .limits(limits)
        .load()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("limit"), "{error}");
}

#[tokio::test]
async fn a_key_per_file_directory_past_max_keys_or_max_total_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        fs::write(dir.path().join(format!("key{i}")), "0123456789").unwrap();
    }
    let few_keys = Limits {
        max_keys: 4,
        ..Limits::default()
    };
    for provider in [
        FileProvider::directory(dir.path()),
        FileProvider::documents(dir.path()),
    ] {
        let error = provider.limits(few_keys).load().await.unwrap_err();
        assert!(error.to_string().contains("4"), "{error}");
    }
    let few_bytes = Limits {
        max_total_bytes: 45,
        ..Limits::default()
    };
    let error = FileProvider::directory(dir.path())
        .limits(few_bytes)
        .load()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("45"), "{error}");
    // Under both limits, it loads.
    let enough = Limits {
        max_keys: 5,
        max_total_bytes: 50,
        ..Limits::default()
    };
    FileProvider::directory(dir.path())
        .limits(enough)
        .load()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_good_config_keeps_serving_when_the_file_grows_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    fs::write(&path, r#"{"name": "good"}"#).unwrap();
    let limits = Limits {
        max_bytes: 64,
        ..Limits::default()
    };
    let builder = Reloader::<App>::builder()
        .layer(FileProvider::new(&path).limits(limits))
        .startup(Startup::Wait(Duration::from_secs(20)));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let store = reloader.store();
    let tmp = dir.path().join("app.json.tmp");
    fs::write(&tmp, format!(r#"{{"name": "{}"}}"#, "x".repeat(100))).unwrap();
    fs::rename(&tmp, &path).unwrap();
    let event = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    assert!(format!("{event:?}").contains("limit"), "{event:?}");
    assert_eq!(store.load().name, "good");
    // The source is still followed: a fixed file applies.
    fs::write(&tmp, r#"{"name": "fixed"}"#).unwrap();
    fs::rename(&tmp, &path).unwrap();
    wait_until(&store, |c| c.name == "fixed").await;
}
