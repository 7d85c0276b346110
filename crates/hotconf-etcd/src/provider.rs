//! `EtcdProvider`: an etcd prefix or key as a layer.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{
    follow, Capabilities, Follow, Layer, Metadata, SourceUri, WatchStream,
};
use hotconf_core::{Provider, Result};

use crate::client::EtcdClient;
use crate::config::{self, EtcdSource};
use crate::follow::Follower;

/// An etcd prefix (every key under it, nested on `/`) or a single key holding a document, as a
/// layer that follows every change without losing one: through reconnects, leader changes,
/// restarts, compaction and auth token expiry.
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_etcd::{EtcdClient, EtcdProvider, EtcdSource};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let client = EtcdClient::new(["127.0.0.1:2379"]);
/// let provider = EtcdProvider::new(&client, EtcdSource::prefix("app/").typed());
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(provider).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EtcdProvider {
    client: EtcdClient,
    source: Arc<EtcdSource>,
    name: String,
}

impl EtcdProvider {
    /// A provider following `source` through `client` (a clone of it: the connection is
    /// shared). Never fails; see [`EtcdClient`] for when errors surface.
    pub fn new(client: &EtcdClient, source: impl Into<EtcdSource>) -> Self {
        let source = source.into();
        EtcdProvider {
            name: config::name(client.config(), &source),
            client: client.clone(),
            source: Arc::new(source),
        }
    }

    /// A provider, with its own client, from `etcd://[user:password@]host[:port][,host[:port]]/path?mode=prefix|key&format=yaml&typed=true&tls=true&ca=…&cert=…&key=…&timeout=10s&watch_check=30s`
    /// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted). Without `mode`, a path ending
    /// with `/` is a prefix and one with a known extension a key (see
    /// [`hotconf_core::provider::Query::key_space`]).
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for another scheme, no host, an empty path, a bad
    /// option or an unknown parameter.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let (client, source) = config::from_uri(uri)?;
        Ok(EtcdProvider::new(&EtcdClient::from_config(client), source))
    }

    /// The source's printable name: an `etcd://` URI without the password.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this provider reads through.
    pub fn client(&self) -> &EtcdClient {
        &self.client
    }

    /// What this provider follows.
    pub fn source(&self) -> &EtcdSource {
        &self.source
    }

    fn follower(&self) -> Follower {
        Follower::new(self.client.clone(), self.source.clone(), self.name.clone())
    }
}

#[async_trait]
impl Provider for EtcdProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.name.clone(), Capabilities::WATCH_ORDERED)
    }

    async fn load(&self) -> Result<Layer> {
        self.follower()
            .read()
            .await
            .map_err(|e| e.or_source_name(&self.name))
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(follow(self.name.clone(), self.follower()))
    }
}
