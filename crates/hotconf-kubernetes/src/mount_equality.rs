//! Issue 26 item 3: the API path builds the same config as the kubelet's mount of the same
//! object, read by `FileProvider::directory(mount).typed()` (and without `.typed()` when the
//! source is untyped), so moving from the mount to the API is a one-line change.

use std::path::Path;

use hotconf_core::{Limits, MemoryProvider, Provider, Reloader, Revision};
use hotconf_file::FileProvider;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use serde_json::Value;

use crate::convert;
use crate::KubernetesSource;

/// The data of one object, with every rule of the mount in play: nesting on `.`, typed
/// scalars, trailing newlines (`\n`, `\r\n`, two of them), an empty value, a key starting with
/// `.` (hidden in the mount), a whole document as one key, and keys out of order.
const DATA: &[(&str, &str)] = &[
    ("port", "8080\n"),
    ("db.host", "pg.prod.svc\r\n"),
    ("db.port", "5432"),
    ("db.pool.max", "20\n"),
    ("enabled", "true"),
    ("ratio", "1.5"),
    ("name", "app\n\n"),
    ("empty", ""),
    ("quoted", "\"007\""),
    ("app.yaml", "server:\n  port: 1\n"),
    (".hidden", "not a key"),
    ("Z-upper_case", "x"),
];

/// The kubelet's AtomicWriter: `..TIMESTAMP/` holds the files, `..data` points at it, and each
/// key is a symlink `key -> ..data/key`.
fn mount(root: &Path, data: &[(&str, &[u8])]) {
    let ts = "..2026_12_07_00_00_00.000000001";
    std::fs::create_dir(root.join(ts)).unwrap();
    for (key, value) in data {
        std::fs::write(root.join(ts).join(key), value).unwrap();
        std::os::unix::fs::symlink(Path::new("..data").join(key), root.join(key)).unwrap();
    }
    std::os::unix::fs::symlink(ts, root.join("..data")).unwrap();
}

/// The config a reloader builds from `provider` alone.
async fn config(provider: impl Provider + 'static) -> Value {
    let reloader = Reloader::<Value>::builder()
        .layer(provider)
        .start()
        .await
        .unwrap();
    (**reloader.store().load()).clone()
}

/// The config a reloader builds from the API path's layer of `object`.
async fn api_config<K: convert::DataObject>(source: &KubernetesSource, object: &K) -> Value {
    let layer = convert::layer(source, Some(object), "12345", &Limits::default()).unwrap();
    assert_eq!(layer.revision, Revision::Tag("12345".into()));
    let (provider, handle) = MemoryProvider::new("k8s://prod/configmap/app");
    handle.set_layer(layer);
    config(provider).await
}

fn config_map() -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some("app".into()),
            resource_version: Some("12345".into()),
            ..ObjectMeta::default()
        },
        data: Some(
            DATA.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

#[tokio::test]
async fn a_config_map_from_the_api_is_the_config_of_its_mount() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<(&str, &[u8])> = DATA.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    mount(dir.path(), &bytes);
    let object = config_map();

    let typed = KubernetesSource::config_map("prod", "app");
    let from_mount = config(FileProvider::directory(dir.path()).typed()).await;
    let from_api = api_config(&typed, &object).await;
    assert_eq!(from_api, from_mount);
    // The rules are in play, not vacuous.
    assert_eq!(from_api["db"]["pool"]["max"], 20);
    assert_eq!(from_api["port"], 8080);
    assert_eq!(from_api["name"], "app\n");
    assert!(from_api.get(".hidden").is_none() && from_api.get("").is_none());

    // The layer content itself is the same, not only the config it builds.
    let mounted = FileProvider::directory(dir.path())
        .typed()
        .load()
        .await
        .unwrap();
    let api = convert::layer(&typed, Some(&object), "12345", &Limits::default()).unwrap();
    assert_eq!(api.content, mounted.content);

    let untyped = KubernetesSource::config_map("prod", "app").untyped();
    let from_mount = config(FileProvider::directory(dir.path())).await;
    let from_api = api_config(&untyped, &object).await;
    assert_eq!(from_api, from_mount);
    assert_eq!(from_api["port"], "8080");
}

#[tokio::test]
async fn a_secret_from_the_api_is_the_config_of_its_mount() {
    let data: &[(&str, &[u8])] = &[
        ("username", b"app\n"),
        ("password", b"s3cr3t"),
        ("db.port", b"5432"),
    ];
    let dir = tempfile::tempdir().unwrap();
    mount(dir.path(), data);
    let object = Secret {
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    let source = KubernetesSource::secret("prod", "app");
    let from_mount = config(FileProvider::directory(dir.path()).typed()).await;
    assert_eq!(api_config(&source, &object).await, from_mount);
    assert_eq!(from_mount["db"]["port"], 5432);
}
