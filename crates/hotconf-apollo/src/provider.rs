//! `ApolloProvider`: an Apollo namespace as a layer.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{
    follow, Capabilities, Follow, Layer, Metadata, SourceUri, WatchStream,
};
use hotconf_core::{Provider, Result};

use crate::client::ApolloClient;
use crate::config::{self, ApolloSource};
use crate::follow::Follower;

/// An Apollo namespace as a layer that follows every release: through the client's shared
/// long poll, a full read every check interval (in case a notification was lost), server
/// restarts whose notification ids repeat or go back, and errors, keeping the last good state
/// meanwhile. A namespace that does not exist (404) is an empty layer: lower layers show
/// through, and its creation is seen.
///
/// Its revisions are the release keys (tags, not ordered).
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let client = ApolloClient::new(["127.0.0.1:8080"]).app_id("my-app");
/// let reloader = hotconf_core::Reloader::<App>::builder()
///     .layer(ApolloProvider::new(&client, ApolloSource::namespace("shared").typed()))
///     .layer(ApolloProvider::new(&client, ApolloSource::namespace("application").typed()))
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ApolloProvider {
    client: ApolloClient,
    source: Arc<ApolloSource>,
    name: String,
}

impl ApolloProvider {
    /// A provider following `source` through `client` (a clone of it: the HTTP client and the
    /// long poll are shared). Never fails; see [`ApolloClient`] for when errors surface.
    pub fn new(client: &ApolloClient, source: impl Into<ApolloSource>) -> Self {
        let source = source.into();
        ApolloProvider {
            name: config::name(client.config(), &source),
            client: client.clone(),
            source: Arc::new(source),
        }
    }

    /// A provider from
    /// `apollo://HOST:PORT[,HOST:PORT…]/APP_ID/NAMESPACE?cluster=C&secret=S&label=L&ip=IP&dc=D&meta=true&format=F&typed=true&check=5m&poll_timeout=90s`
    /// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted; with `meta=true` the hosts are
    /// meta servers). Providers made from URIs with the same servers and settings (all but
    /// the namespace, `format` and `typed`) share one client, and so one long poll, while any
    /// of them is alive.
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for another scheme, no host, a path that is not
    /// `APP_ID/NAMESPACE`, a bad option or an unknown parameter (the secret never repeated).
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let (client, source) = config::from_uri(uri)?;
        Ok(ApolloProvider::new(&ApolloClient::shared(client), source))
    }

    /// The source's printable name: an `apollo://` URI without the secret.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this provider reads through.
    pub fn client(&self) -> &ApolloClient {
        &self.client
    }

    /// What this provider follows.
    pub fn source(&self) -> &ApolloSource {
        &self.source
    }
}

#[async_trait]
impl Provider for ApolloProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.name.clone(), Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        Follower::new(self.client.clone(), self.source.clone(), false)
            .read()
            .await
            .map_err(|e| e.or_source_name(&self.name))
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(follow(
            self.name.clone(),
            Follower::new(self.client.clone(), self.source.clone(), true),
        ))
    }
}
