//! Optional file layers (docs/concepts.md, "Required and optional layers"): the test kit's
//! scenario on a document and on a key-per-file directory, each missing at the start.

use std::fs;
use std::path::PathBuf;

use async_trait::async_trait;
use hotconf_core::Provider;
use hotconf_file::FileProvider;
use hotconf_testkit::optional::{self, AbsentSource};
use tempfile::TempDir;

/// `local.json` beside a base file: missing, then saved by rename (as editors do), then removed.
struct Document {
    dir: TempDir,
}

impl Document {
    fn path(&self) -> PathBuf {
        self.dir.path().join("local.json")
    }
}

#[async_trait]
impl AbsentSource for Document {
    fn provider(&self) -> Box<dyn Provider> {
        Box::new(FileProvider::new(self.path()))
    }

    async fn take_away(&mut self) {
        let _ = fs::remove_file(self.path());
    }

    async fn put(&mut self, json: &str) {
        let tmp = self.dir.path().join(".local.json.tmp");
        fs::write(&tmp, json).unwrap();
        fs::rename(&tmp, self.path()).unwrap();
    }

    async fn delete(&mut self) {
        fs::remove_file(self.path()).unwrap();
    }
}

/// A key-per-file directory (`conf.d/`, as a ConfigMap mount) that does not exist yet, below
/// a directory that does not exist either; created with its files, then removed whole.
struct Directory {
    dir: TempDir,
}

impl Directory {
    fn path(&self) -> PathBuf {
        self.dir.path().join("mounts").join("conf.d")
    }
}

#[async_trait]
impl AbsentSource for Directory {
    fn provider(&self) -> Box<dyn Provider> {
        Box::new(FileProvider::directory(self.path()).typed())
    }

    async fn take_away(&mut self) {
        let _ = fs::remove_dir_all(self.path());
    }

    /// The keys of `json`'s top level, one file each, written in a directory beside it and
    /// renamed into place at once (as the kubelet makes a mount appear whole).
    async fn put(&mut self, json: &str) {
        let config: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).unwrap();
        let staging = self.dir.path().join("staging");
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).unwrap();
        for (key, value) in config {
            let text = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            fs::write(staging.join(key), text).unwrap();
        }
        fs::create_dir_all(self.dir.path().join("mounts")).unwrap();
        let _ = fs::remove_dir_all(self.path());
        fs::rename(&staging, self.path()).unwrap();
    }

    async fn delete(&mut self) {
        fs::remove_dir_all(self.path()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_document_missing_at_start_joins_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    optional::run(&mut Document { dir }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_directory_missing_at_start_joins_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    optional::run(&mut Directory { dir }).await;
}
