//! The file provider against real files: the behaviour suite, the kubelet's AtomicWriter
//! sequence step by step, every editor save pattern, partial writes, bursts, and no feedback loop.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::{Event, Provider, Reloader, Startup};
use hotconf_file::FileProvider;
use hotconf_testkit::{wait_for_event, wait_until, Fixture};
use serde::Deserialize;
use tempfile::TempDir;

/// A YAML document file, written the way editors do (a temporary file renamed over it).
struct DocumentFixture {
    dir: TempDir,
}

impl DocumentFixture {
    fn new() -> Self {
        DocumentFixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("app.yaml")
    }
}

fn save_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

#[async_trait]
impl Fixture for DocumentFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(FileProvider::new(self.path()))
    }
    async fn write(&self, config: &serde_json::Value) {
        save_by_rename(&self.path(), &config.to_string()); // JSON is YAML
    }
    /// A FIFO where the document should be: hotconf reads only regular files.
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let fifo = self.dir.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");
        Some(Box::new(FileProvider::new(fifo)))
    }
    async fn write_invalid(&self) {
        save_by_rename(&self.path(), "app: [unclosed");
    }
    async fn delete(&self) {
        // `{}` empties the layer. (A missing file is an error, not a deletion, and so is an
        // empty file: an in-place save passes through it.)
        save_by_rename(&self.path(), "{}");
    }
}

/// A key-per-file directory laid out exactly as the kubelet lays out a ConfigMap mount.
struct ConfigMapFixture {
    dir: TempDir,
    generation: std::sync::atomic::AtomicU32,
}

impl ConfigMapFixture {
    fn new() -> Self {
        let fixture = ConfigMapFixture {
            dir: tempfile::tempdir().unwrap(),
            generation: Default::default(),
        };
        fixture.publish(&[]);
        fixture
    }

    /// The AtomicWriter's update, step by step (kubernetes/pkg/volume/util/atomic_writer.go).
    fn publish(&self, files: &[(&str, &str)]) {
        let root = self.dir.path();
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let old = fs::read_link(root.join("..data")).ok();
        // 2. a new timestamped directory with the payload
        let ts = format!("..2026_11_25_00_00_00.{generation:09}");
        fs::create_dir(root.join(&ts)).unwrap();
        for (key, value) in files {
            fs::write(root.join(&ts).join(key), value).unwrap();
        }
        // 3. user-visible symlinks for new keys
        for (key, _) in files {
            if fs::symlink_metadata(root.join(key)).is_err() {
                std::os::unix::fs::symlink(Path::new("..data").join(key), root.join(key)).unwrap();
            }
        }
        // 4-5. `..data_tmp -> ts`, renamed over `..data`: the atomic switch
        std::os::unix::fs::symlink(&ts, root.join("..data_tmp")).unwrap();
        fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        // 6. remove links of deleted keys
        for entry in fs::read_dir(root).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !name.starts_with("..") && !files.iter().any(|(k, _)| *k == name) {
                fs::remove_file(root.join(&name)).unwrap();
            }
        }
        // 7. remove the old timestamped directory
        if let Some(old) = old {
            fs::remove_dir_all(root.join(old)).unwrap();
        }
    }
}

#[async_trait]
impl Fixture for ConfigMapFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(FileProvider::directory(self.dir.path()))
    }
    /// A mount whose key is a FIFO: hotconf reads only regular files.
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let mount = self.dir.path().join("refused");
        fs::create_dir(&mount).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(mount.join("app.name"))
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");
        Some(Box::new(FileProvider::directory(mount)))
    }
    async fn write(&self, config: &serde_json::Value) {
        let name = config["app"]["name"].as_str().unwrap().to_owned();
        let mut files = vec![("app.name", name.clone())];
        if let Some(greeting) = config["app"]["greeting"].as_str() {
            files.push(("app.greeting", greeting.to_owned()));
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.publish(&files);
    }
    async fn write_invalid(&self) {
        // `app` both a value and a parent of `app.name`.
        self.publish(&[("app", "x"), ("app.name", "y")]);
    }
    async fn delete(&self) {
        self.publish(&[]);
    }
}

/// The behaviour suite on one document file.
mod document_file {
    use super::DocumentFixture;
    hotconf_testkit::behaviour_tests!(async { DocumentFixture::new() }; permanent_failures);
}

/// The behaviour suite on a ConfigMap mount.
mod configmap_directory {
    use super::ConfigMapFixture;
    hotconf_testkit::behaviour_tests!(async { ConfigMapFixture::new() }; permanent_failures);
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct App {
    name: String,
    #[serde(default)]
    port: u16,
}

/// Starts a reloader on one file provider; returns it with its events.
async fn follow(
    provider: FileProvider,
) -> (Reloader<App>, tokio::sync::broadcast::Receiver<Event>) {
    let builder = Reloader::<App>::builder()
        .layer(provider)
        .startup(Startup::Wait(Duration::from_secs(20)));
    let events = builder.events();
    (builder.start().await.unwrap(), events)
}

fn applied(events: &mut tokio::sync::broadcast::Receiver<Event>) -> usize {
    std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, Event::Applied { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_atomic_writer_swap_is_followed_through_the_symlinked_file() {
    let cm = ConfigMapFixture::new();
    cm.publish(&[("app.yaml", "name: v1\nport: 1\n")]);
    let (reloader, mut events) = follow(FileProvider::new(cm.dir.path().join("app.yaml"))).await;
    let store = reloader.store();
    assert_eq!(store.load().name, "v1");
    for i in 2..=4 {
        cm.publish(&[("app.yaml", &format!("name: v{i}\nport: {i}\n"))]);
        wait_until(&store, |c| c.name == format!("v{i}")).await;
    }
    assert_eq!(
        applied(&mut events),
        4,
        "one apply per swap, plus the first"
    );
    assert_eq!(store.load().port, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_editor_save_pattern_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.toml");
    fs::write(&path, "name = \"v0\"").unwrap();
    let (reloader, mut events) = follow(FileProvider::new(&path)).await;
    let store = reloader.store();

    // Write a temporary file, then rename it over the target (VS Code, JetBrains, sed -i).
    save_by_rename(&path, "name = \"renamed\"");
    wait_until(&store, |c| c.name == "renamed").await;

    // vim: probe file, rename the original to a backup, write a new file, delete the backup.
    fs::write(dir.path().join("4913"), "").unwrap();
    fs::remove_file(dir.path().join("4913")).unwrap();
    fs::rename(&path, dir.path().join("app.toml~")).unwrap();
    fs::write(&path, "name = \"vim\"").unwrap();
    fs::remove_file(dir.path().join("app.toml~")).unwrap();
    wait_until(&store, |c| c.name == "vim").await;

    // Delete, then create again: the deletion is an error (last good kept), the new file applies.
    fs::remove_file(&path).unwrap();
    let event = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    assert!(
        format!("{event:?}").contains("not_found") || format!("{event:?}").contains("cannot read"),
        "{event:?}"
    );
    assert_eq!(store.load().name, "vim");
    fs::write(&path, "name = \"recreated\"").unwrap();
    wait_until(&store, |c| c.name == "recreated").await;

    // In place: truncate, write half a document, then the rest. While the writer holds the file
    // open the half is not read (tests/partial.rs proves it in detail); the close applies it.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(b"name = \"trunc").unwrap();
    file.flush().unwrap();
    file.write_all(b"ated\"\nport = 7\n").unwrap();
    drop(file);
    wait_until(&store, |c| c.name == "truncated" && c.port == 7).await;
    let history = reloader.history().await.unwrap();
    assert!(
        history.iter().all(|s| s.name != "trunc"),
        "a half-written file was applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_missing_at_start_is_applied_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.json");
    let builder = Reloader::<App>::builder()
        .layer(FileProvider::new(&path))
        .startup(Startup::Wait(Duration::from_secs(20)));
    let mut events = builder.events();
    let start = tokio::spawn(builder.start());
    // The first read fails: the file is missing, the start waits.
    let event = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    assert!(
        format!("{event:?}").contains("not_found") || format!("{event:?}").contains("late.json"),
        "{event:?}"
    );
    fs::write(&path, r#"{"name": "late"}"#).unwrap();
    let reloader = start.await.unwrap().unwrap();
    assert_eq!(reloader.store().load().name, "late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_rapid_saves_end_in_the_last_with_no_duplicate_applies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    fs::write(&path, r#"{"name": "start"}"#).unwrap();
    let (reloader, mut events) = follow(FileProvider::new(&path)).await;
    let store = reloader.store();
    for i in 0..100 {
        save_by_rename(&path, &format!(r#"{{"name": "save-{i}"}}"#));
    }
    wait_until(&store, |c| c.name == "save-99").await;
    let applies = applied(&mut events);
    assert!(
        (2..=101).contains(&applies),
        "{applies} applies for 100 saves"
    );
    let history = reloader.history().await.unwrap();
    for pair in history.windows(2) {
        assert_ne!(
            pair[0].name, pair[1].name,
            "the same content applied twice in a row"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_mode_follows_changes_without_os_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.yaml");
    fs::write(&path, "name: a\n").unwrap();
    let (reloader, _) = follow(FileProvider::new(&path).polling(Duration::from_millis(10))).await;
    save_by_rename(&path, "name: polled\n");
    wait_until(&reloader.store(), |c| c.name == "polled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_of_documents_merges_in_name_order_and_names_a_bad_document() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("10-base.toml"), "name = \"base\"\nport = 1").unwrap();
    fs::write(dir.path().join("20-override.yaml"), "port: 2\n").unwrap();
    fs::write(dir.path().join("README"), "not a document").unwrap();
    let (reloader, mut events) = follow(FileProvider::documents(dir.path())).await;
    let store = reloader.store();
    assert_eq!((store.load().name.as_str(), store.load().port), ("base", 2));
    save_by_rename(&dir.path().join("20-override.yaml"), "port: [");
    let rejected = wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
    assert!(
        format!("{rejected:?}").contains("20-override.yaml"),
        "{rejected:?}"
    );
    assert_eq!(store.load().port, 2);
}

/// The inotify instances this process holds.
fn inotify_instances() -> usize {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("inotify"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_in_the_process_shares_one_os_watcher() {
    let dirs: Vec<TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut reloaders = Vec::new();
    for dir in &dirs {
        for name in ["a.yaml", "b.yaml"] {
            fs::write(dir.path().join(name), "name: x\n").unwrap();
            reloaders.push(follow(FileProvider::new(dir.path().join(name))).await.0);
        }
    }
    // Ten providers in five directories (and whatever other tests run meanwhile): one instance.
    assert_eq!(inotify_instances(), 1);
    drop(reloaders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_rescan_catches_a_change_no_event_reports() {
    // The followed file is a symlink into another directory: writing the target in place makes
    // no event in the watched directory, as when the kernel drops events. Only the rescan sees it.
    let watched = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("real.yaml");
    fs::write(&target, "name: before\n").unwrap();
    std::os::unix::fs::symlink(&target, watched.path().join("app.yaml")).unwrap();
    let provider = FileProvider::new(watched.path().join("app.yaml"))
        .rescan_interval(Duration::from_millis(50));
    let (reloader, _) = follow(provider).await;
    fs::write(&target, "name: after\n").unwrap();
    wait_until(&reloader.store(), |c| c.name == "after").await;
}

#[test]
fn a_file_that_is_a_mount_point_gets_one_clear_warning() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // /proc is a filesystem of its own: as a "file", it is a mount point, like a subPath.
            for _ in 0..2 {
                let mut stream = FileProvider::new("/proc")
                    .format(hotconf_core::Format::Json)
                    .watch()
                    .await
                    .unwrap();
                let _ = futures_util::StreamExt::next(&mut stream).await;
            }
        });
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        log.matches("is a mount point of its own").count(),
        1,
        "warned more than once: {log}"
    );
    assert!(log.contains("subPath"), "{log}");
    assert!(
        log.contains("Mount the whole ConfigMap as a directory"),
        "{log}"
    );
}
