//! `ConsulProvider`: a Consul KV prefix or key as a layer, on the provider scaffold.

use std::sync::Arc;

use hotconf_core::provider::{Capabilities, Follow, FollowedProvider, FollowedSource, SourceUri};
use hotconf_core::{Error, ErrorKind, Result};

use crate::client::ConsulClient;
use crate::config::{self, ConsulSource, Mode};
use crate::follow::Follower;

/// A Consul KV prefix (every key under it, nested on `/`) or a single key holding a document, as
/// a layer that follows every change with blocking queries: through timeouts, idempotent writes,
/// spurious wake-ups, index resets (snapshot restores, reaped tombstones), agent restarts and
/// ACL errors, keeping the last good state meanwhile.
///
/// Its revisions are the Consul index. After an index reset they go on from the last revision
/// yielded instead (revisions never go backwards, guarantee G3).
///
/// Made with `ConsulProvider::new(&client, source)`, or with its own client from
/// `ConsulProvider::from_uri` and
/// `consul://host[:port]/path?mode=prefix|key&format=json&typed=true&token=…&dc=…&consistency=stale|consistent&wait=30s&tls=true&ca=…&cert=…&key=…`
/// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted; without `mode`, a path ending with
/// `/` is a prefix and one with a known extension a key, see
/// [`hotconf_core::provider::Query::key_space`]). Its name is the URI without the token.
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
pub type ConsulProvider = FollowedProvider<ConsulSource>;

impl FollowedSource for ConsulSource {
    type Client = ConsulClient;
    fn capabilities(&self) -> Capabilities {
        Capabilities::WATCH_ORDERED
            .interruptible()
            .permanent_failures()
            .long_poll()
    }

    fn name(&self, client: &ConsulClient) -> String {
        config::name(client.config(), self)
    }

    fn from_uri(uri: &SourceUri) -> Result<(ConsulClient, ConsulSource)> {
        let (client, source) = config::from_uri(uri)?;
        Ok((ConsulClient::shared(client), source))
    }

    fn follower(
        self: &Arc<Self>,
        client: &ConsulClient,
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
