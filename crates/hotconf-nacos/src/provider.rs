//! `NacosProvider`: one Nacos config as a layer.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{Capabilities, Content, Layer, Metadata, SourceUri, WatchStream};
use hotconf_core::{Error, ErrorKind, Provider, Result, Revision};

use crate::client::NacosClient;
use crate::config::{self, Listener, NacosSource};
use crate::http::Remote;

/// One Nacos config (`dataId`, group, namespace) as a layer.
///
/// Every read goes to the server's HTTP API (never nacos-sdk's cache), and a state is yielded
/// when its md5 differs from the last one. Between reads the provider waits on the
/// [`Listener`]: by default the HTTP long poll, which the server answers as soon as its md5
/// differs from ours, or nacos-sdk's gRPC push used only as a hint; and on a periodic check
/// either way. So a config created after the provider started is seen, a deleted one becomes
/// an empty layer (lower layers show through), and changes made while disconnected are read
/// as soon as the server answers again.
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_nacos::{NacosClient, NacosProvider, NacosSource};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let client = NacosClient::new(["127.0.0.1:8848"]);
/// let shared = NacosProvider::new(&client, NacosSource::new("shared.yaml"));
/// let app = NacosProvider::new(&client, NacosSource::new("app.yaml").group("PROD"));
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(shared).layer(app).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NacosProvider {
    pub(crate) client: NacosClient,
    pub(crate) source: Arc<NacosSource>,
    pub(crate) name: String,
}

impl NacosProvider {
    /// A provider following `source` through `client` (a clone of it: the HTTP client and the
    /// login are shared). Never fails; see [`NacosClient`] for when errors surface. With
    /// [`Listener::Sdk`] and a client with credentials, the first `load()` or `watch()` fails
    /// with a permanent [`ErrorKind::Config`] error: nacos-sdk 0.8.3's login puts the password
    /// in a URL that it logs at error level when the server cannot be reached (guarantee G10).
    pub fn new(client: &NacosClient, source: NacosSource) -> Self {
        NacosProvider {
            name: config::name(client.config(), &source),
            client: client.clone(),
            source: Arc::new(source),
        }
    }

    /// A provider, with its own client, from `nacos://[user:password@]host[:port]/<dataId>?group=&namespace=&format=&check=5s&listener=long-poll|sdk&grpc_port=`
    /// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for another scheme, no server or several, no dataId, a bad option
    /// or an unknown parameter.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let (client, source) = config::from_uri(uri)?;
        Ok(NacosProvider::new(
            &NacosClient::from_config(client),
            source,
        ))
    }

    /// The source's printable name: a `nacos://` URI without the password.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this provider reads through.
    pub fn client(&self) -> &NacosClient {
        &self.client
    }

    /// What this provider follows.
    pub fn source(&self) -> &NacosSource {
        &self.source
    }

    /// Refuses [`Listener::Sdk`] with credentials (see [`NacosProvider::new`]).
    fn check(&self) -> Result<()> {
        if self.source.listener == Listener::Sdk && self.client.config().user.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "Listener::Sdk cannot be used with credentials: nacos-sdk 0.8.3 logs the password \
                 when its login fails; use the default long-poll listener",
            )
            .with_transient(false)
            .with_source_name(self.name.clone()));
        }
        Ok(())
    }

    /// Reads the config from the server; returns its layer and its Nacos md5.
    pub(crate) async fn read(&self) -> Result<(Layer, String)> {
        self.check()?;
        let remote = self
            .client
            .api
            .get(&self.source)
            .await
            .map_err(|e| e.with_source_name(self.name.clone()))?;
        let md5 = remote.md5();
        // The md5 is the revision: the one the Nacos console shows for this content.
        let revision = Revision::Tag(md5.clone());
        let layer = match remote {
            Remote::Content(bytes, server) => Layer::new(
                Content::Document {
                    format: self.source.resolved_format(server, &self.name)?,
                    bytes: bytes.into(),
                },
                revision,
            ),
            Remote::Missing => Layer::empty(revision),
        };
        Ok((layer, md5))
    }
}

#[async_trait]
impl Provider for NacosProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.name.clone(), Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        Ok(self.read().await?.0)
    }

    async fn watch(&self) -> Result<WatchStream> {
        self.check()?;
        Ok(crate::watch::watch(self.clone()))
    }
}
