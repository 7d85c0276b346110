//! Writing your own provider, and proving it keeps the contract with the test kit's suite.
//!
//! `PollingProvider` follows any source you can read with a function: it says how to read the
//! source and how to wait for a change, and hotconf's follow helper does the rest (yield only
//! changes, report failures once, back off, end after a permanent error). "Not found" is an empty
//! layer. Here the "remote" is an in-process map standing in for a config service.
//!
//! Run: `cargo run -p hotconf-examples --example custom_provider`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hotconf::provider::{follow, Capabilities, Follow, Layer, Metadata, WatchStream};
use hotconf::{Error, ErrorKind, Format, Provider, Result, Revision};
use hotconf_testkit::{suite, Fixture};

/// What the fake remote holds: a document, nothing (deleted), or an outage.
#[derive(Clone)]
enum Remote {
    Document(String),
    Deleted,
    Down,
    Refused,
}

/// A provider that polls `read` every `interval`.
#[derive(Clone)]
struct PollingProvider {
    name: String,
    format: Format,
    interval: Duration,
    read: Arc<dyn Fn() -> Result<Option<String>> + Send + Sync>,
}

#[async_trait]
impl Provider for PollingProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(
            self.name.clone(),
            Capabilities::WATCH.interruptible().permanent_failures(),
        )
    }

    async fn load(&self) -> Result<Layer> {
        let name = self.name.clone();
        self.clone()
            .read()
            .await
            .map_err(|e| e.or_source_name(&name))
    }

    async fn watch(&self) -> Result<WatchStream> {
        // The follow helper keeps the contract: the first read at once, one read after each
        // `changed`, repeated states and errors dropped, the source named on every error,
        // backoff after a failure, and the stream ended after a permanent error.
        Ok(follow(self.name.clone(), self.clone()))
    }
}

/// How the follow helper drives the source: read it, and wait for a possible change (here, a
/// timer: a source that can push or long-poll waits for that instead).
#[async_trait]
impl Follow for PollingProvider {
    async fn read(&mut self) -> Result<Layer> {
        match (self.read)()? {
            Some(text) => Ok(Layer::document(self.format, text)),
            None => Ok(Layer::empty(Revision::of_content(b""))),
        }
    }

    async fn changed(&mut self) {
        tokio::time::sleep(self.interval).await;
    }
}

/// Drives the fake remote for the behaviour suite.
struct RemoteFixture {
    remote: Arc<Mutex<Remote>>,
    saved: Mutex<Option<Remote>>,
}

impl RemoteFixture {
    fn new() -> Self {
        RemoteFixture {
            remote: Arc::new(Mutex::new(Remote::Deleted)),
            saved: Mutex::new(None),
        }
    }

    fn set(&self, remote: Remote) {
        let mut saved = self.saved.lock().unwrap();
        match saved.as_mut() {
            Some(during_outage) => *during_outage = remote,
            None => *self.remote.lock().unwrap() = remote,
        }
    }
}

#[async_trait]
impl Fixture for RemoteFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        let remote = self.remote.clone();
        Box::new(PollingProvider {
            name: "polling:remote/app.json".into(),
            format: Format::Json,
            interval: Duration::from_millis(5),
            read: Arc::new(move || match &*remote.lock().unwrap() {
                Remote::Document(text) => Ok(Some(text.clone())),
                Remote::Deleted => Ok(None),
                Remote::Down => Err(Error::new(ErrorKind::Unavailable, "connection refused")),
                // Permanent (errors are, but for `Unavailable`): the stream ends.
                Remote::Refused => Err(Error::new(ErrorKind::PermissionDenied, "forbidden")),
            }),
        })
    }

    async fn refused(&self) -> Option<Box<dyn Provider>> {
        *self.remote.lock().unwrap() = Remote::Refused;
        Some(self.provider().await)
    }

    async fn write(&self, config: &serde_json::Value) {
        self.set(Remote::Document(config.to_string()));
    }

    async fn write_invalid(&self) {
        self.set(Remote::Document("{\"app\": ".into()));
    }

    async fn delete(&self) {
        self.set(Remote::Deleted);
    }

    async fn interrupt(&self) -> bool {
        let current = std::mem::replace(&mut *self.remote.lock().unwrap(), Remote::Down);
        *self.saved.lock().unwrap() = Some(current);
        true
    }

    async fn restore(&self) {
        let saved = self
            .saved
            .lock()
            .unwrap()
            .take()
            .expect("interrupted first");
        *self.remote.lock().unwrap() = saved;
    }
}

// --- Reaching the provider by URI -------------------------------------------------------------

/// Makes `polling:///path/to/file.json?interval=2s&format=json` a source URI: after this,
/// `hotconf::provider_from_uri` (and so any tool built on it) builds a `PollingProvider` that
/// polls that file. The factory reads its parameters through `SourceUri::query`, which refuses
/// unknown ones, as the built-in backends do.
fn register_polling_scheme() -> Result<()> {
    hotconf::register_scheme("polling", |uri: &hotconf::provider::SourceUri| {
        let mut query = uri.query();
        let path = std::path::PathBuf::from(format!("/{}", uri.path));
        let format = query
            .format_or_extension(&uri.path)?
            .unwrap_or(Format::Json);
        let interval = query
            .positive_duration("interval")?
            .unwrap_or(Duration::from_secs(2));
        query.finish()?;
        Ok(Box::new(PollingProvider {
            name: uri.to_string(),
            format,
            interval,
            read: Arc::new(move || match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::new(ErrorKind::Unavailable, "cannot read").with_cause(e)),
            }),
        }) as Box<dyn Provider>)
    })
}

/// Registers the scheme and loads a file through it.
async fn load_by_uri() -> Result<Layer> {
    register_polling_scheme()?;
    let file = std::env::temp_dir().join(format!("hotconf-polling-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"app": {"port": 8080}}"#).expect("a temporary file");
    let provider =
        hotconf::provider_from_uri(&format!("polling://{}?interval=50ms", file.display()));
    let layer = provider?.load().await;
    let _ = std::fs::remove_file(&file);
    layer
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let layer = match load_by_uri().await {
        Ok(layer) => layer,
        Err(error) => {
            eprintln!("error: polling:// did not load: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("loaded by URI (polling://…): revision {}", layer.revision);
    println!("running the behaviour suite against PollingProvider…");
    suite::run_all(RemoteFixture::new).await;
    println!(
        "PollingProvider keeps the provider contract: initial load, updates, delete falls back,"
    );
    println!("bursts coalesced, invalid content rejected, outage ridden out, no repeated states.");
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod polling_provider {
    use super::RemoteFixture;
    hotconf_testkit::behaviour_tests!(async { RemoteFixture::new() }; interruptible, permanent_failures);

    #[tokio::test]
    async fn is_reachable_by_uri() {
        super::load_by_uri().await.unwrap();
        let typo = hotconf::provider_from_uri("polling:///x.json?intervall=1s").err();
        assert!(typo
            .unwrap()
            .to_string()
            .contains("unknown parameter `intervall`"));
    }
}
