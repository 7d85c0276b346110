//! `ConsulProvider`: a Consul KV prefix or key as a layer.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{
    follow, Capabilities, Follow, Layer, Metadata, SourceUri, WatchStream,
};
use hotconf_core::{Provider, Result};

use crate::client::ConsulClient;
use crate::config::{self, ConsulSource};
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
/// use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let client = ConsulClient::new(["127.0.0.1:8500"]);
/// let provider = ConsulProvider::new(&client, ConsulSource::prefix("app/").typed());
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(provider).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConsulProvider {
    client: ConsulClient,
    source: Arc<ConsulSource>,
    name: String,
}

impl ConsulProvider {
    /// A provider following `source` through `client` (a clone of it: the HTTP client is
    /// shared). Never fails; see [`ConsulClient`] for when errors surface.
    pub fn new(client: &ConsulClient, source: impl Into<ConsulSource>) -> Self {
        let source = source.into();
        ConsulProvider {
            name: config::name(client.config(), &source),
            client: client.clone(),
            source: Arc::new(source),
        }
    }

    /// A provider, with its own client, from `consul://host[:port]/path?mode=prefix|key&format=json&typed=true&token=…&dc=…&consistency=stale|consistent&wait=30s&tls=true&ca=…&cert=…&key=…`
    /// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted). Without `mode`, a path ending
    /// with `/` is a prefix and one with a known extension a key (see
    /// [`hotconf_core::provider::Query::key_space`]).
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for another scheme, no host or several, an empty
    /// path, a bad option or an unknown parameter.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let (client, source) = config::from_uri(uri)?;
        Ok(ConsulProvider::new(
            &ConsulClient::from_config(client),
            source,
        ))
    }

    /// The source's printable name: a `consul://` URI without the token.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this provider reads through.
    pub fn client(&self) -> &ConsulClient {
        &self.client
    }

    /// What this provider follows.
    pub fn source(&self) -> &ConsulSource {
        &self.source
    }

    fn follower(&self) -> Follower {
        Follower::new(self.client.clone(), self.source.clone(), self.name.clone())
    }
}

#[async_trait]
impl Provider for ConsulProvider {
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
