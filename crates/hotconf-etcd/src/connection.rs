//! `EtcdConnection`: one etcd client, connected lazily and again after a failure, shared by any
//! number of providers.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use hotconf_core::{Error, ErrorKind, Result};
use tokio::sync::Mutex;

use crate::config::{EtcdConfig, TlsFiles};
use crate::error::deadline;

/// A connection to an etcd cluster: cheap to clone, shared by the providers made with
/// [`EtcdProvider::with_connection`](crate::EtcdProvider::with_connection).
///
/// It connects on first use, with HTTP/2 keepalive (so a dead connection is noticed), and with
/// `require_leader` (so a member cut off from the leader fails the watch instead of going
/// silent). Connecting (authentication included) and refreshing the token have the deadline of
/// the config it was made from ([`EtcdConfig::request_timeout`]). After a transport failure the
/// next use connects again.
#[derive(Clone)]
pub struct EtcdConnection {
    inner: Arc<Inner>,
}

struct Inner {
    config: EtcdConfig,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for EtcdConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdConnection")
            .field("endpoints", &self.inner.config.endpoints)
            .finish_non_exhaustive()
    }
}

impl EtcdConnection {
    /// A connection to the endpoints, credentials and TLS of `config` (its path and mode are
    /// not used).
    pub fn new(config: &EtcdConfig) -> Self {
        EtcdConnection {
            inner: Arc::new(Inner {
                config: config.clone(),
                client: Mutex::new(None),
            }),
        }
    }

    /// A connected client (a cheap clone of the shared one).
    pub(crate) async fn client(&self) -> Result<Client> {
        let mut slot = self.inner.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let timeout = self.inner.config.request_timeout;
        let client = deadline(timeout, "connecting", connect(&self.inner.config)).await??;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Forgets the client after a transport failure: the next use connects again.
    pub(crate) async fn reset(&self) {
        *self.inner.client.lock().await = None;
    }

    /// Gets a new auth token (after the server said the old one is invalid).
    pub(crate) async fn refresh_token(&self) -> Result<()> {
        if self.inner.config.user.is_none() {
            return Ok(());
        }
        let client = self.client().await?;
        let timeout = self.inner.config.request_timeout;
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

async fn connect(config: &EtcdConfig) -> Result<Client> {
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
