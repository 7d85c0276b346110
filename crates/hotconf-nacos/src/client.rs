//! `NacosClient`: how to reach a Nacos server, shared by any number of providers.

use std::sync::Arc;

use hotconf_core::provider::{LiveClients, TlsFiles};
use hotconf_core::{Limits, Secret};

use crate::config::ClientConfig;
use crate::http::OpenApi;

/// A client of a Nacos server's HTTP API: its address, credentials, the gRPC port of
/// [`Listener::Sdk`](crate::Listener::Sdk) and the read limits. Cheap to clone; one client
/// serves any number of [`NacosProvider`](crate::NacosProvider)s, with one login (one access
/// token) for all of them.
///
/// Making one never fails and does no I/O: the HTTP client is built on first use, and
/// `endpoints` not holding exactly one server is a permanent
/// [`ErrorKind::Config`](hotconf_core::ErrorKind::Config) error of that use. The setters
/// configure a client before it is shared: a clone made earlier keeps its own settings and
/// session.
///
/// ```
/// use hotconf_nacos::{NacosClient, NacosProvider, NacosSource};
/// let client = NacosClient::new(["127.0.0.1:8848"]).user("nacos", "pw");
/// let shared = NacosProvider::new(&client, NacosSource::new("shared.yaml"));
/// let app = NacosProvider::new(&client, NacosSource::new("app.yaml").group("PROD"));
/// ```
#[derive(Debug, Clone)]
pub struct NacosClient {
    pub(crate) api: Arc<OpenApi>,
}

impl NacosClient {
    /// A client of the server at `endpoints` (`host:port` of the HTTP API; the provider reads
    /// from one server, so exactly one).
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        NacosClient::from_config(ClientConfig::new(
            endpoints.into_iter().map(Into::into).collect(),
        ))
    }

    pub(crate) fn from_config(config: ClientConfig) -> Self {
        NacosClient {
            api: Arc::new(OpenApi::new(config)),
        }
    }

    /// A client with `config`: the live one made from a URI with equal settings, if any, so
    /// that providers made from URIs (one client each) share one HTTP connection pool and
    /// login, as providers of one client do.
    pub(crate) fn shared(config: ClientConfig) -> Self {
        static CLIENTS: LiveClients<ClientConfig, OpenApi> = LiveClients::new();
        let key = config.clone();
        NacosClient {
            api: CLIENTS.get(key, || OpenApi::new(config)).1,
        }
    }

    fn edit(self, change: impl FnOnce(&mut ClientConfig)) -> Self {
        let mut config = self.api.config.clone();
        change(&mut config);
        NacosClient::from_config(config)
    }

    /// Authenticates as `user` (the password is kept in a [`Secret`]).
    pub fn user(self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.edit(|c| {
            c.user = Some(user.into());
            c.password = Some(Secret::new(password.into()));
        })
    }

    /// Sets the gRPC port of [`Listener::Sdk`](crate::Listener::Sdk) (when it is not the HTTP
    /// port + 1000).
    pub fn grpc_port(self, port: u16) -> Self {
        self.edit(|c| c.grpc_port = Some(port))
    }

    /// Sets what one answer may bring: a config's content at most `max_bytes`, refused while
    /// it is read (as soon as it passes the limit, or at once for a `Content-Length` above
    /// it). Default [`Limits::default()`].
    pub fn limits(self, limits: Limits) -> Self {
        self.edit(|c| c.limits = limits)
    }

    /// Speaks HTTPS to the open API, trusting `tls.ca` (only it, when set) and presenting
    /// `tls.identity` (mutual TLS). The URI's `?tls`, `?ca=FILE`, `?cert=FILE&key=FILE` set it.
    pub fn tls(self, tls: TlsFiles) -> Self {
        self.edit(|c| c.tls = Some(tls))
    }

    /// The server addresses this client was given.
    pub fn endpoints(&self) -> &[String] {
        &self.api.config.endpoints
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.api.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_made_from_equal_settings_share_one_pool_and_others_do_not() {
        let config = || ClientConfig::new(vec!["127.0.0.1:8848".into()]);
        let first = NacosClient::shared(config());
        let same = NacosClient::shared(config());
        assert!(Arc::ptr_eq(&first.api, &same.api));
        let mut other = config();
        other.user = Some("another".to_owned());
        other.password = Some(Secret::new("pw".to_owned()));
        let other = NacosClient::shared(other);
        assert!(!Arc::ptr_eq(&first.api, &other.api));
        let api = Arc::downgrade(&first.api);
        drop((first, same));
        assert!(api.upgrade().is_none(), "kept only while in use");
    }
}
