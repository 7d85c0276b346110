//! `EtcdProvider`: an etcd prefix or key as a layer, on the provider scaffold.

use std::sync::Arc;

use hotconf_core::provider::{Capabilities, Follow, FollowedProvider, FollowedSource, SourceUri};
use hotconf_core::{Error, ErrorKind, Result};

use crate::client::EtcdClient;
use crate::config::{self, EtcdSource, Mode};
use crate::follow::Follower;

/// An etcd prefix (every key under it, nested on `/`) or a single key holding a document, as a
/// layer that follows every change without losing one: through reconnects, leader changes,
/// restarts, compaction and auth token expiry.
///
/// Made with `EtcdProvider::new(&client, source)`, or with its own client from
/// `EtcdProvider::from_uri` and
/// `etcd://[user:password@]host[:port][,host[:port]]/path?mode=prefix|key&format=yaml&typed=true&tls=true&ca=…&cert=…&key=…&timeout=10s&watch_check=30s`
/// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted; without `mode`, a path ending with
/// `/` is a prefix and one with a known extension a key, see
/// [`hotconf_core::provider::Query::key_space`]). Its name is the URI without the password.
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
pub type EtcdProvider = FollowedProvider<EtcdSource>;

impl FollowedSource for EtcdSource {
    type Client = EtcdClient;
    fn capabilities(&self) -> Capabilities {
        Capabilities::WATCH_ORDERED
            .interruptible()
            .permanent_failures()
    }

    fn name(&self, client: &EtcdClient) -> String {
        config::name(client.config(), self)
    }

    fn from_uri(uri: &SourceUri) -> Result<(EtcdClient, EtcdSource)> {
        let (client, source) = config::from_uri(uri)?;
        Ok((EtcdClient::shared(client), source))
    }

    fn follower(
        self: &Arc<Self>,
        client: &EtcdClient,
        name: &str,
        _: bool,
    ) -> Result<Box<dyn Follow>> {
        if self.rollout.is_some() && self.space.mode == Mode::Prefix {
            return Err(Error::new(
                ErrorKind::Config,
                "rollouts follow a single key, not a prefix",
            ));
        }
        let follower = Follower::new(client.clone(), self.clone(), name.to_owned());
        Ok(Box::new(follower))
    }
}
