//! `EtcdProvider`: an etcd prefix or key as a layer.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{
    follow, Capabilities, Follow, Layer, Metadata, SourceUri, WatchStream,
};
use hotconf_core::{Provider, Result};

use crate::config::EtcdConfig;
use crate::connection::EtcdConnection;
use crate::follow::Follower;

/// An etcd prefix (every key under it, nested on `/`) or a single key holding a document, as a
/// layer that follows every change without losing one: through reconnects, leader changes,
/// restarts, compaction and auth token expiry.
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_etcd::{EtcdConfig, EtcdProvider};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let config = EtcdConfig::prefix(["127.0.0.1:2379"], "app/").typed();
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(EtcdProvider::new(config)).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EtcdProvider {
    config: Arc<EtcdConfig>,
    connection: EtcdConnection,
}

impl EtcdProvider {
    /// A provider with its own connection.
    pub fn new(config: EtcdConfig) -> Self {
        let connection = EtcdConnection::new(&config);
        EtcdProvider::with_connection(connection, config)
    }

    /// A provider sharing `connection` with others (one client for the whole process).
    pub fn with_connection(connection: EtcdConnection, config: EtcdConfig) -> Self {
        EtcdProvider {
            config: Arc::new(config),
            connection,
        }
    }

    /// A provider from an `etcd://` URI (see [`EtcdConfig::from_uri`]).
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for a bad URI.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        Ok(EtcdProvider::new(EtcdConfig::from_uri(uri)?))
    }

    fn follower(&self) -> Follower {
        Follower::new(
            self.connection.clone(),
            self.config.clone(),
            self.config.name(),
        )
    }
}

#[async_trait]
impl Provider for EtcdProvider {
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
