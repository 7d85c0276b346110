//! `NacosProvider`: one Nacos config as a layer, on the provider scaffold.

use std::sync::Arc;

use hotconf_core::provider::{
    Capabilities, Content, Follow, FollowedProvider, FollowedSource, Layer, SourceUri,
};
use hotconf_core::{Error, ErrorKind, Result, Revision};

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
/// Made with `NacosProvider::new(&client, source)` (the HTTP client and the login are shared by
/// the client's clones), or with its own client from `NacosProvider::from_uri` and
/// `nacos://[user:password@]host[:port]/<dataId>?group=&namespace=&format=&check=5s&listener=long-poll|sdk&grpc_port=`
/// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted). Its name is the URI without the
/// password. With [`Listener::Sdk`] and a client with credentials, `load()` and `watch()` fail
/// with a permanent [`ErrorKind::Config`] error: nacos-sdk 0.8.3's login puts the password in a
/// URL that it logs at error level when the server cannot be reached (guarantee G10).
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
pub type NacosProvider = FollowedProvider<NacosSource>;

impl FollowedSource for NacosSource {
    type Client = NacosClient;
    /// Long polls with the default listener; nacos-sdk's push is no long poll.
    fn capabilities(&self) -> Capabilities {
        let capabilities = Capabilities::WATCH.interruptible().permanent_failures();
        match self.listener {
            Listener::LongPoll => capabilities.long_poll(),
            Listener::Sdk => capabilities,
        }
    }

    fn name(&self, client: &NacosClient) -> String {
        config::name(client.config(), self)
    }

    fn from_uri(uri: &SourceUri) -> Result<(NacosClient, NacosSource)> {
        let (client, source) = config::from_uri(uri)?;
        Ok((NacosClient::shared(client), source))
    }

    /// Refuses [`Listener::Sdk`] with credentials (see [`NacosProvider`]).
    fn follower(
        self: &Arc<Self>,
        client: &NacosClient,
        name: &str,
        watching: bool,
    ) -> Result<Box<dyn Follow>> {
        if self.listener == Listener::Sdk && client.config().user.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "Listener::Sdk cannot be used with credentials: nacos-sdk 0.8.3 logs the password \
                 when its login fails; use the default long-poll listener",
            )
            .with_transient(false));
        }
        let target = Target {
            client: client.clone(),
            source: self.clone(),
            name: name.to_owned(),
        };
        Ok(Box::new(crate::watch::watch(target, watching)))
    }
}

/// One Nacos config as read through one client.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) client: NacosClient,
    pub(crate) source: Arc<NacosSource>,
    pub(crate) name: String,
}

impl Target {
    /// Reads the config from the server; returns its layer and its Nacos md5.
    pub(crate) async fn read(&self) -> Result<(Layer, String)> {
        let remote = self.client.api.get(&self.source).await?;
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
