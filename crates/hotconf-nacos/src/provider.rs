//! `NacosProvider`: one Nacos config as a layer.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{Capabilities, Content, Layer, Metadata, SourceUri, WatchStream};
use hotconf_core::{Error, ErrorKind, Provider, Result, Revision};

use crate::config::{Listener, NacosConfig};
use crate::http::{OpenApi, Remote};

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
/// use hotconf_nacos::{NacosConfig, NacosProvider};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let shared = NacosProvider::new(NacosConfig::new("127.0.0.1:8848", "shared.yaml"))?;
/// let app = NacosProvider::new(NacosConfig::new("127.0.0.1:8848", "app.yaml").group("PROD"))?;
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(shared).layer(app).start().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct NacosProvider {
    pub(crate) config: Arc<NacosConfig>,
    pub(crate) api: Arc<OpenApi>,
}

impl std::fmt::Debug for NacosProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NacosProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl NacosProvider {
    /// A provider for `config`.
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] when the HTTP client cannot be built, or for
    /// [`Listener::Sdk`] with credentials: nacos-sdk 0.8.3's login puts the password in a URL
    /// that it logs at error level when the server cannot be reached (guarantee G10).
    pub fn new(config: NacosConfig) -> Result<Self> {
        if config.listener == Listener::Sdk && config.user.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "Listener::Sdk cannot be used with credentials: nacos-sdk 0.8.3 logs the password \
                 when its login fails; use the default long-poll listener",
            )
            .with_source_name(config.name()));
        }
        let api = Arc::new(OpenApi::new(&config)?);
        Ok(NacosProvider {
            config: Arc::new(config),
            api,
        })
    }

    /// A provider from a `nacos://` URI (see [`NacosConfig::from_uri`]).
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for a bad URI.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        NacosProvider::new(NacosConfig::from_uri(uri)?)
    }

    /// Reads the config from the server; returns its layer and its Nacos md5.
    pub(crate) async fn read(&self) -> Result<(Layer, String)> {
        let name = self.config.name();
        let remote = self
            .api
            .get(&self.config)
            .await
            .map_err(|e| e.with_source_name(name.clone()))?;
        let md5 = remote.md5();
        // The md5 is the revision: the one the Nacos console shows for this content.
        let revision = Revision::Tag(md5.clone());
        let layer = match remote {
            Remote::Content(bytes, server) => Layer::new(
                Content::Document {
                    format: self.config.resolved_format(server)?,
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
        Metadata::new(self.config.name(), Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        Ok(self.read().await?.0)
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(crate::watch::watch(self.clone()))
    }
}
