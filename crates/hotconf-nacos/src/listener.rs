//! The nacos-sdk side: a listener that only hands a hint to our task. The SDK runs every
//! callback on one shared thread, so the callback must never block or do work. Connecting runs
//! in a task of its own, each attempt with a deadline, so a gRPC port that never answers does
//! not hold the reads up; the SDK caches contents in a private directory (mode 0700, a fresh
//! name) removed when the task ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hotconf_core::provider::Backoff;
use hotconf_core::{Error, ErrorKind, Result};
use nacos_sdk::api::config::{
    ConfigChangeListener, ConfigResponse, ConfigService, ConfigServiceBuilder,
};
use nacos_sdk::api::props::ClientProps;
use tokio::sync::Notify;

use crate::config::NacosSource;
use crate::provider::Target;

struct Hint(Arc<Notify>);

impl ConfigChangeListener for Hint {
    fn notify(&self, _: ConfigResponse) {
        self.0.notify_one();
    }
}

/// How long one attempt to connect nacos-sdk and register the listener may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Between failed attempts: 1 s doubling to 60 s, jittered.
const RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

/// Where nacos-sdk keeps its cache of config contents.
pub(crate) struct CacheDir {
    path: PathBuf,
    /// Whether `path` is our own, inside a private directory: then it is removed when dropped,
    /// and the private directory is kept, empty. nacos-sdk creates its cache directory from a
    /// task of its own runtime that may run after we removed it: inside the kept private
    /// directory, whatever it recreates stays out of other users' reach.
    private: bool,
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        if self.private {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl CacheDir {
    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The cache directory for `config`: the one it names, else `sdk` inside a fresh private
/// directory in the temp directory (`hotconf-nacos-` and a random suffix, mode 0700 on Unix:
/// contents are readable by no other user, and no other user can plant files in it
/// beforehand).
pub(crate) fn cache_dir(config: &NacosSource, name: &str) -> Result<CacheDir> {
    if let Some(path) = &config.cache_dir {
        return Ok(CacheDir {
            path: path.clone(),
            private: false,
        });
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix("hotconf-nacos-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = builder.tempdir().map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            "cannot create a private cache directory for nacos-sdk",
        )
        .with_source_name(name)
        .with_cause(e)
    })?;
    Ok(CacheDir {
        path: dir.keep().join("sdk"),
        private: true,
    })
}

/// Connects nacos-sdk and keeps it listening until the task is aborted, trying again (each
/// attempt within [`CONNECT_TIMEOUT`]) while it cannot. Once listening, pokes `hint`: a read
/// then catches whatever changed before the listener was registered.
pub(crate) async fn keep_listening(provider: Target, hint: Arc<Notify>) {
    let dir = match cache_dir(&provider.source, &provider.name) {
        Ok(dir) => dir,
        Err(error) => {
            tracing::warn!(%error, "nacos-sdk cannot listen; the periodic checks go on");
            return;
        }
    };
    let mut attempt: u32 = 0;
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, listen(&provider, hint.clone(), &dir)).await {
            Ok(Ok(service)) => {
                hint.notify_one();
                // Held until the task is aborted (dropping it would stop the pushes); dropped
                // before `dir`.
                let _service = service;
                std::future::pending::<()>().await;
            }
            Ok(Err(error)) => {
                tracing::debug!(source = %provider.name, %error, "nacos-sdk is not listening yet");
            }
            Err(_) => {
                tracing::debug!(source = %provider.name, "nacos-sdk did not connect in {CONNECT_TIMEOUT:?}");
            }
        }
        tokio::time::sleep(RETRY.delay(attempt)).await;
        attempt = attempt.saturating_add(1);
    }
}

/// Connects the SDK and registers a listener that pokes `hint` on every push; the SDK caches
/// config contents in `cache_dir`.
async fn listen(
    provider: &Target,
    hint: Arc<Notify>,
    cache_dir: &CacheDir,
) -> Result<ConfigService> {
    let config = &provider.source;
    let cache_dir = cache_dir.path().to_path_buf();
    let mut props = ClientProps::new()
        .server_addr(provider.client.endpoints().join(","))
        .namespace(config.namespace.clone())
        .app_name("hotconf")
        // Behaviour never depends on stray NACOS_* variables or on ~/nacos.
        .env_first(false)
        .cache_dir(cache_dir)
        .load_cache_at_start(false);
    if let Some(port) = provider.client.config().grpc_port {
        props = props.remote_grpc_port(port);
    }
    // No credentials ever reach the SDK (the provider refuses them with this listener):
    // its login plugin puts the password in a URL it logs on failure.
    let service = ConfigServiceBuilder::new(props)
        .build()
        .await
        .map_err(sdk_error)?;
    service
        .add_listener(
            config.data_id.clone(),
            config.group.clone(),
            Arc::new(Hint(hint)),
        )
        .await
        .map_err(sdk_error)?;
    Ok(service)
}

fn sdk_error(error: nacos_sdk::api::error::Error) -> Error {
    Error::new(ErrorKind::Unavailable, "nacos-sdk could not listen")
        .with_transient(true)
        .with_cause(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_cache_is_a_private_unpredictable_directory_removed_after_use() {
        use std::os::unix::fs::PermissionsExt;
        let config = NacosSource::new("app.yaml");
        let a = cache_dir(&config, "n").unwrap();
        let b = cache_dir(&config, "n").unwrap();
        assert_ne!(a.path(), b.path(), "a fresh directory each time");
        let private = a.path().parent().unwrap().to_path_buf();
        assert_eq!(private.parent(), Some(std::env::temp_dir().as_path()));
        assert!(private
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("hotconf-nacos-"));
        assert_ne!(private, std::env::temp_dir().join("hotconf-nacos"));
        let meta = std::fs::metadata(&private).expect("the private directory exists");
        assert!(meta.is_dir());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o700,
            "{}",
            private.display()
        );
        // What nacos-sdk would create in it.
        std::fs::create_dir_all(a.path().join("config/public")).unwrap();
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists(), "the cache is removed when dropped");
        assert_eq!(std::fs::read_dir(&private).unwrap().count(), 0);
        std::fs::remove_dir(&private).unwrap();
        let other = b.path().parent().unwrap().to_path_buf();
        drop(b);
        std::fs::remove_dir(&other).unwrap();
        // A directory the user names is used as it is.
        let mine = std::env::temp_dir().join(format!("hotconf-nacos-mine-{}", std::process::id()));
        let named = cache_dir(&config.clone().cache_dir(&mine), "n").unwrap();
        assert_eq!(named.path(), mine);
    }
}
