//! `ConsulProvider`: a Consul KV prefix or key as a layer.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{
    follow, Capabilities, Follow, Layer, Metadata, SourceUri, WatchStream,
};
use hotconf_core::{Provider, Result};

use crate::client::ConsulKv;
use crate::config::ConsulConfig;
use crate::follow::Follower;

/// A Consul KV prefix (every key under it, nested on `/`) or a single key holding a document, as
/// a layer that follows every change with blocking queries: through timeouts, idempotent writes,
/// spurious wake-ups, index resets (snapshot restores, reaped tombstones), agent restarts and
/// ACL errors, keeping the last good state meanwhile.
///
/// Its revisions are the Consul index. After an index reset they go on from the last revision
/// yielded instead (revisions never go backwards, guarantee G3).
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_consul::{ConsulConfig, ConsulProvider};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let config = ConsulConfig::prefix("127.0.0.1:8500", "app/").typed();
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(ConsulProvider::new(config)?).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConsulProvider {
    config: Arc<ConsulConfig>,
    kv: ConsulKv,
}

impl ConsulProvider {
    /// A provider with its own HTTP client.
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] when a TLS file cannot be read or parsed.
    pub fn new(config: ConsulConfig) -> Result<Self> {
        let kv = ConsulKv::new(&config)?;
        Ok(ConsulProvider::with_client(kv, config))
    }

    /// A provider sharing `kv` (its agent, token, TLS and [limits](ConsulConfig::limits)) with
    /// others; `config` gives the path, mode, wait and rate limit.
    pub fn with_client(kv: ConsulKv, config: ConsulConfig) -> Self {
        ConsulProvider {
            config: Arc::new(config),
            kv,
        }
    }

    /// A provider from a `consul://` URI (see [`ConsulConfig::from_uri`]).
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for a bad URI or TLS file.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        ConsulProvider::new(ConsulConfig::from_uri(uri)?)
    }

    /// The configuration this provider follows.
    pub fn config(&self) -> &ConsulConfig {
        &self.config
    }

    fn follower(&self) -> Follower {
        Follower::new(self.kv.clone(), self.config.clone())
    }
}

#[async_trait]
impl Provider for ConsulProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.config.name(), Capabilities::WATCH_ORDERED)
    }

    async fn load(&self) -> Result<Layer> {
        let name = self.config.name();
        self.follower()
            .read()
            .await
            .map_err(|e| e.or_source_name(&name))
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(follow(self.config.name(), self.follower()))
    }
}
