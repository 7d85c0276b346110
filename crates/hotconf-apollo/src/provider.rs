//! `ApolloProvider`: an Apollo namespace as a layer, on the provider scaffold.

use std::sync::Arc;

use hotconf_core::provider::{Capabilities, Follow, FollowedProvider, FollowedSource, SourceUri};
use hotconf_core::Result;

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
/// Made with `ApolloProvider::new(&client, source)` (the HTTP client and the long poll are
/// shared by the client's clones), or from `ApolloProvider::from_uri` and
/// `apollo://HOST:PORT[,HOST:PORT…]/APP_ID/NAMESPACE?cluster=C&secret=S&label=L&ip=IP&dc=D&meta=true&format=F&typed=true&check=5m&poll_timeout=90s`
/// (port [`DEFAULT_PORT`](crate::DEFAULT_PORT) when omitted; with `meta=true` the hosts are
/// meta servers). Providers made from URIs with the same servers and settings (all but the
/// namespace, `format` and `typed`) share one client, and so one long poll, while any of them
/// is alive. Its name is the URI without the secret.
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
pub type ApolloProvider = FollowedProvider<ApolloSource>;

impl FollowedSource for ApolloSource {
    type Client = ApolloClient;
    fn capabilities(&self) -> Capabilities {
        Capabilities::WATCH
            .interruptible()
            .permanent_failures()
            .long_poll()
    }

    fn name(&self, client: &ApolloClient) -> String {
        config::name(client.config(), self)
    }

    fn from_uri(uri: &SourceUri) -> Result<(ApolloClient, ApolloSource)> {
        let (client, source) = config::from_uri(uri)?;
        Ok((ApolloClient::shared(client), source))
    }

    fn follower(
        self: &Arc<Self>,
        client: &ApolloClient,
        _: &str,
        watching: bool,
    ) -> Result<Box<dyn Follow>> {
        let follower = Follower::new(client.clone(), self.clone(), watching);
        Ok(Box::new(follower))
    }
}
