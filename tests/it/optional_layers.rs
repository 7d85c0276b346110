//! Optional layers (docs/concepts.md, "Required and optional layers"): the test kit's scenario
//! on a provider written here as an application would (over the follow helper, reached by a
//! scheme of its own), and `?optional=` on any URI.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use hotconf::provider::{
    follow, Capabilities, Follow, Layer, Metadata, Retry, SourceUri, WatchStream,
};
use hotconf::{Error, ErrorKind, Format, Health, Provider, Reloader, Result};
use hotconf_testkit::optional::{self, AbsentSource};
use serde_json::Value;
use tokio::sync::watch;

/// What a key store holds: a document, or why there is none.
#[derive(Clone)]
enum Held {
    Document(String),
    Missing,
    Unreachable,
}

/// A key store of the application's, one per host: `keystore://HOST/`.
fn stores() -> &'static Mutex<HashMap<String, Arc<watch::Sender<Held>>>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<watch::Sender<Held>>>>> = OnceLock::new();
    STORES.get_or_init(Mutex::default)
}

fn store(host: &str) -> Arc<watch::Sender<Held>> {
    let mut stores = stores().lock().unwrap();
    let store = stores
        .entry(host.to_owned())
        .or_insert_with(|| Arc::new(watch::Sender::new(Held::Missing)));
    store.clone()
}

/// The application's provider: follows one store's document.
struct KeyStoreProvider {
    name: String,
    held: Arc<watch::Sender<Held>>,
}

struct KeyStoreFollow(watch::Receiver<Held>);

#[async_trait]
impl Follow for KeyStoreFollow {
    async fn read(&mut self) -> Result<Layer> {
        match self.0.borrow_and_update().clone() {
            Held::Document(json) => Ok(Layer::document(Format::Json, json)),
            Held::Missing => {
                Err(Error::new(ErrorKind::NotFound, "no such document").with_transient(true))
            }
            Held::Unreachable => Err(Error::new(ErrorKind::Unavailable, "connection refused")),
        }
    }

    async fn changed(&mut self) {
        let _ = self.0.changed().await;
    }

    fn retry(&self, _: &Error) -> Retry {
        Retry::OnChange
    }
}

#[async_trait]
impl Provider for KeyStoreProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.name.clone(), Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        KeyStoreFollow(self.held.subscribe()).read().await
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(follow(
            self.name.clone(),
            KeyStoreFollow(self.held.subscribe()),
        ))
    }
}

fn register() {
    hotconf::register_scheme("keystore", |uri: &SourceUri| {
        uri.query().finish()?;
        Ok(Box::new(KeyStoreProvider {
            name: uri.to_string(),
            held: store(&uri.endpoints.join(",")),
        }) as Box<dyn Provider>)
    })
    .unwrap();
}

struct KeyStore {
    host: &'static str,
}

#[async_trait]
impl AbsentSource for KeyStore {
    fn provider(&self) -> Box<dyn Provider> {
        register();
        hotconf::provider_from_uri(&format!("keystore://{}/app", self.host)).unwrap()
    }

    async fn take_away(&mut self) {
        store(self.host).send_replace(Held::Unreachable);
    }

    async fn put(&mut self, json: &str) {
        store(self.host).send_replace(Held::Document(json.to_owned()));
    }

    async fn delete(&mut self) {
        store(self.host).send_replace(Held::Missing);
    }
}

#[tokio::test]
async fn an_optional_custom_provider_is_left_out_while_absent_and_joins_and_leaves() {
    optional::run(&mut KeyStore { host: "scenario" }).await;
}

#[tokio::test]
async fn optional_on_any_uri_makes_the_layer_optional() {
    register();
    store("by-uri").send_replace(Held::Missing);
    let base = || {
        let (base, handle) = hotconf::MemoryProvider::new("memory:base");
        handle.set_document(Format::Json, optional::BASE);
        base
    };
    let layer = |query: &str| hotconf::provider_from_uri(&format!("keystore://by-uri/app{query}"));
    assert!(layer("?optional=true").unwrap().metadata().optional);
    assert!(!layer("?optional=false").unwrap().metadata().optional);
    assert!(!layer("").unwrap().metadata().optional);
    let refused = layer("?optional=maybe").err().unwrap();
    assert_eq!(refused.kind(), ErrorKind::Config);

    let reloader = Reloader::<Value>::builder()
        .layer(base())
        .layer(layer("?optional=true").unwrap())
        .start()
        .await
        .unwrap();
    assert_eq!(reloader.store().load()["name"], "base");
    assert_eq!(reloader.status().sources[1].health, Health::Absent);

    // `required()` overrides what the URI says; fail fast names the missing layer.
    let error = Reloader::<Value>::builder()
        .layer(base())
        .layer(layer("?optional=true").unwrap())
        .required()
        .start()
        .await
        .err()
        .unwrap();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.source_name(), Some("keystore://by-uri/app"));
}

#[tokio::test]
async fn optional_before_any_layer_is_refused() {
    let error = Reloader::<Value>::builder()
        .optional()
        .layer(hotconf::MemoryProvider::new("memory:x").0)
        .start()
        .await
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("optional() was called before any layer"),
        "{error}"
    );
}

/// The last-good file stands in for sources that give no config; an absent optional layer is
/// no such failure: the start takes the other layers' config, not the file's.
#[tokio::test]
async fn an_absent_optional_layer_starts_from_the_other_layers_not_the_last_good_file() {
    register();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last-good.json");
    let start = || {
        let (base, handle) = hotconf::MemoryProvider::new("memory:base");
        handle.set_document(Format::Json, optional::BASE);
        let overrides =
            hotconf::provider_from_uri("keystore://last-good/app?optional=true").unwrap();
        let builder = Reloader::<Value>::builder()
            .layer(base)
            .layer(overrides)
            .last_good_file(&path);
        let stats = builder.stats();
        (builder.start(), stats)
    };
    store("last-good").send_replace(Held::Document(r#"{"name": "override"}"#.into()));
    let (started, mut stats) = start();
    let first = started.await.unwrap();
    assert_eq!(first.store().load()["name"], "override");
    crate::wait_stats(&mut stats, |s| s.snapshots_written >= 1).await;
    drop(first);

    store("last-good").send_replace(Held::Unreachable);
    let (started, _) = start();
    let second = started.await.unwrap();
    let snapshot = second.store().get();
    assert_eq!(snapshot["name"], "base");
    assert_eq!(*snapshot.origin(), hotconf::Origin::Sources);
    assert_eq!(second.status().sources[1].health, Health::Absent);
}
