//! The file provider against real files: the behaviour suite, the kubelet's AtomicWriter
//! sequence step by step, every editor save pattern, partial writes, bursts, and no feedback loop.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::{Event, Provider, Reloader, Startup};
use hotconf_file::FileProvider;
use hotconf_testkit::{suite, wait_for_event, wait_until, Fixture};
use serde::Deserialize;
use tempfile::TempDir;

/// A YAML document file, written the way editors do (a temporary file renamed over it).
struct DocumentFixture {
    dir: TempDir,
}

impl DocumentFixture {
    fn new() -> Self {
        DocumentFixture { dir: tempfile::tempdir().unwrap() }
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
    async fn write_invalid(&self) {
        save_by_rename(&self.path(), "app: [unclosed");
    }
    async fn delete(&self) {
        // An emptied document is an empty layer (a missing file is an error, not a deletion).
        save_by_rename(&self.path(), "");
    }
}

/// A key-per-file directory laid out exactly as the kubelet lays out a ConfigMap mount.
struct ConfigMapFixture {
    dir: TempDir,
    generation: std::sync::atomic::AtomicU32,
}

impl ConfigMapFixture {
    fn new() -> Self {
        let fixture = ConfigMapFixture { dir: tempfile::tempdir().unwrap(), generation: Default::default() };
        fixture.publish(&[]);
        fixture
    }

    /// The AtomicWriter's update, step by step (kubernetes/pkg/volume/util/atomic_writer.go).
    fn publish(&self, files: &[(&str, &str)]) {
        let root = self.dir.path();
        let generation = self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_file_passes_the_behaviour_suite() {
    suite::run_all(DocumentFixture::new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_directory_passes_the_behaviour_suite() {
    suite::run_all(ConfigMapFixture::new).await;
}
