//! `EtcdClient`: one etcd client, connected lazily and again after a failure, shared by any
//! number of providers.

use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use hotconf_core::provider::{ClientState, LiveClients};
use hotconf_core::{Error, ErrorKind, Limits, Result, Secret};
use tokio::sync::Mutex;

use crate::config::{ClientConfig, TlsFiles};
use crate::error::deadline;

/// A client of an etcd cluster: its endpoints, credentials, TLS, request deadline and limits.
/// Cheap to clone; one client serves any number of [`EtcdProvider`](crate::EtcdProvider)s.
///
/// Making one never fails and does no I/O: it connects on first use, with HTTP/2 keepalive (so
/// a dead connection is noticed), and with `require_leader` (so a member cut off from the
/// leader fails the watch instead of going silent). A TLS file that cannot be read is a
/// permanent [`ErrorKind::Config`] error of that first use. Connecting (authentication included)
/// and refreshing the token have the deadline [`request_timeout`](Self::request_timeout).
/// After a transport failure the next use connects again.
///
/// The setters configure a client before it is shared: a clone made earlier keeps its own
/// settings and connection.
///
/// ```
/// use hotconf_etcd::{EtcdClient, EtcdProvider, EtcdSource};
/// let client = EtcdClient::new(["127.0.0.1:2379"]).user("app", "pw");
/// let shared = EtcdProvider::new(&client, EtcdSource::prefix("shared/"));
/// let app = EtcdProvider::new(&client, EtcdSource::prefix("app/").typed());
/// ```
#[derive(Clone)]
pub struct EtcdClient {
    state: ClientState<ClientConfig, Mutex<Option<Client>>>,
}

/// The settings only: `etcd_client::Client` has no `Debug` (and holds the auth token).
impl std::fmt::Debug for EtcdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdClient")
            .field("config", self.config())
            .finish_non_exhaustive()
    }
}

impl EtcdClient {
    /// A client of the members at `endpoints` (`host:port` each).
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdClient::from_config(ClientConfig::new(
            endpoints.into_iter().map(Into::into).collect(),
        ))
    }

    pub(crate) fn from_config(config: ClientConfig) -> Self {
        EtcdClient {
            state: ClientState::new(config),
        }
    }

    /// A client with `config`: the live one made from a URI with equal settings, if any, so
    /// that providers made from URIs (one client each) share one connection, as providers of
    /// one client do.
    pub(crate) fn shared(config: ClientConfig) -> Self {
        static CLIENTS: LiveClients<ClientConfig, Mutex<Option<Client>>> = LiveClients::new();
        EtcdClient {
            state: ClientState::live(config, &CLIENTS),
        }
    }

    fn edit(self, change: impl FnOnce(&mut ClientConfig)) -> Self {
        EtcdClient {
            state: self.state.edit(change),
        }
    }

    /// Authenticates as `user` (the password is kept in a [`Secret`]).
    pub fn user(self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.edit(|c| {
            c.user = Some(user.into());
            c.password = Some(Secret::new(password.into()));
        })
    }

    /// Uses TLS (the files are read when the client connects).
    pub fn tls(self, tls: TlsFiles) -> Self {
        self.edit(|c| c.tls = Some(tls))
    }

    /// Sets the deadline of every request that should answer at once: connecting
    /// (authentication included), a list, a token refresh, creating a watch, and the answer to
    /// a watch's liveness check. A member that takes longer is a transient `unavailable`
    /// error, and the provider connects again. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`](crate::DEFAULT_REQUEST_TIMEOUT) (10 s); zero would fail
    /// every request: it is taken as 1 ms.
    pub fn request_timeout(self, timeout: Duration) -> Self {
        self.edit(|c| c.request_timeout = timeout.max(Duration::from_millis(1)))
    }

    /// Sets the bounds on each followed source: at most `max_keys` keys and `max_total_bytes`
    /// bytes (keys and values) under a prefix, no value above `max_bytes`. Default
    /// [`Limits::default`].
    pub fn limits(self, limits: Limits) -> Self {
        self.edit(|c| c.limits = limits)
    }

    /// The endpoints this client connects to.
    pub fn endpoints(&self) -> &[String] {
        &self.config().endpoints
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        self.state.config()
    }

    /// A connected client (a cheap clone of the shared one).
    pub(crate) async fn client(&self) -> Result<Client> {
        let mut slot = self.state.built().lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let timeout = self.config().request_timeout;
        let client = deadline(timeout, "connecting", connect(self.config())).await??;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Forgets the client after a transport failure: the next use connects again.
    pub(crate) async fn reset(&self) {
        *self.state.built().lock().await = None;
    }

    /// Gets a new auth token (after the server said the old one is invalid).
    pub(crate) async fn refresh_token(&self) -> Result<()> {
        if self.config().user.is_none() {
            return Ok(());
        }
        let client = self.client().await?;
        let timeout = self.config().request_timeout;
        let refreshed =
            deadline(timeout, "refreshing the auth token", client.refresh_token()).await;
        match refreshed {
            Ok(Ok(())) => Ok(()),
            Err(error) => {
                self.reset().await;
                Err(error)
            }
            Ok(Err(error)) => {
                self.reset().await;
                Err(crate::error::from_client(
                    "refreshing the auth token",
                    error,
                ))
            }
        }
    }
}

async fn connect(config: &ClientConfig) -> Result<Client> {
    let mut options = ConnectOptions::new()
        .with_keep_alive(Duration::from_secs(5), Duration::from_secs(5))
        .with_keep_alive_while_idle(true)
        .with_require_leader(true)
        .with_connect_timeout(Duration::from_secs(5));
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.with_user(user.clone(), password.expose().to_owned());
    }
    let mut endpoints = config.endpoints.clone();
    if let Some(tls) = &config.tls {
        options = options.with_tls(tls_options(tls)?);
        for endpoint in &mut endpoints {
            if !endpoint.starts_with("https://") {
                *endpoint = format!("https://{endpoint}");
            }
        }
    }
    Client::connect(endpoints, Some(options))
        .await
        .map_err(|e| crate::error::from_client("connecting", e))
}

fn tls_options(tls: &TlsFiles) -> Result<TlsOptions> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            Error::new(ErrorKind::Config, format!("cannot read {}", path.display()))
                .with_transient(false)
                .with_cause(e)
        })
    };
    let mut options = TlsOptions::new();
    if let Some(ca) = &tls.ca {
        options = options.ca_certificate(Certificate::from_pem(read(ca)?));
    }
    if let Some((cert, key)) = &tls.identity {
        options = options.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn clients_made_from_equal_settings_share_one_connection_and_others_do_not() {
        let config = || ClientConfig::new(vec!["127.0.0.1:2379".into()]);
        let first = EtcdClient::shared(config());
        let same = EtcdClient::shared(config());
        assert!(Arc::ptr_eq(first.state.built(), same.state.built()));
        let mut other = config();
        other.user = Some("root".to_owned());
        other.password = Some(Secret::new("pw".to_owned()));
        let other = EtcdClient::shared(other);
        assert!(!Arc::ptr_eq(first.state.built(), other.state.built()));
    }
}
