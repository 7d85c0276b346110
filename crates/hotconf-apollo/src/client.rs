//! `ApolloClient`: a small client for Apollo's config service (and meta server), faithful to
//! its "other language client" HTTP API, with the shared long poll of its namespaces.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hotconf_core::provider::{ClientState, LiveClients};
use hotconf_core::{Error, ErrorKind, Limits, LongPollPace, Result, Secret};
use hotconf_http::{read_answer, read_error_page, HttpOptions};
use once_cell::sync::OnceCell;
use reqwest::{Response, StatusCode, Url};

mod reads;
mod servers;

use crate::config::ClientConfig;
use crate::error::{bad_answer, from_status, from_transport};
use crate::poller::Poller;
use crate::wire::{encode, sign, ApolloConfig, Notification};

use self::servers::Servers;

/// The largest long-poll or meta-server answer read.
const SMALL_BODY: usize = 1 << 20;
/// Room for the JSON around the configurations of a read.
const READ_OVERHEAD: usize = 64 << 10;

/// The answer to a `/configs` read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigRead {
    /// A release other than the one named by the `releaseKey` sent.
    Release(ApolloConfig),
    /// 304: the release named by the `releaseKey` sent is still current.
    NotModified,
    /// 404: the namespace does not exist (or has no release).
    NotFound,
}

/// An Apollo client over reqwest (rustls): the config services (or meta servers), app id,
/// cluster, access-key secret, client ip and label, data centre, timeouts and read limits.
/// Cheap to clone; one client serves any number of [`ApolloProvider`](crate::ApolloProvider)s,
/// and the providers of one client share one long poll (one `/notifications/v2` request
/// carrying every followed namespace), as Apollo's own clients do.
///
/// Making one never fails and does no I/O: the HTTP client is built on first use, and a missing
/// app id or server address is a permanent [`ErrorKind::Config`] error of that use. The setters
/// configure a client before it is shared: a clone made earlier keeps its own settings (and its
/// own long poll).
///
/// Every request to the config service is signed when a secret is set
/// (`Authorization: Apollo {appId}:{signature}` and `Timestamp`). The secret is never sent
/// otherwise, never printed (Debug, errors, logs), and redirects are never followed. With
/// several servers (or those a meta server lists), a request that cannot reach one goes to the
/// next.
///
/// ```
/// use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
/// let client = ApolloClient::new(["127.0.0.1:8080"]).app_id("my-app")
///     .secret(hotconf_core::Secret::new("an-access-key"));
/// let shared = ApolloProvider::new(&client, ApolloSource::namespace("shared"));
/// let app = ApolloProvider::new(&client, ApolloSource::namespace("application"));
/// ```
#[derive(Debug, Clone)]
pub struct ApolloClient {
    state: ClientState<ClientConfig, Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    http: OnceCell<reqwest::Client>,
    reads: reads::Reads,
    servers: Mutex<Servers>,
    poller: Poller,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl ApolloClient {
    /// A client of the config services at `endpoints` (`host:port` or `http://host:port`), or
    /// of meta servers with [`meta(true)`](Self::meta).
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ApolloClient::from_config(ClientConfig::new(
            endpoints.into_iter().map(Into::into).collect(),
        ))
    }

    pub(crate) fn from_config(config: ClientConfig) -> Self {
        ApolloClient {
            state: ClientState::new(config),
        }
    }

    /// A client with `config`: the live one made here before with equal settings, if any, so
    /// that providers made from URIs (one client each) still share one long poll per
    /// app/cluster/settings, as providers of one client do.
    pub(crate) fn shared(config: ClientConfig) -> Self {
        static CLIENTS: LiveClients<ClientConfig, Inner> = LiveClients::new();
        ApolloClient {
            state: ClientState::live(config, &CLIENTS),
        }
    }

    fn edit(self, change: impl FnOnce(&mut ClientConfig)) -> Self {
        ApolloClient {
            state: self.state.edit(change),
        }
    }

    /// The app id (required).
    pub fn app_id(self, app_id: impl Into<String>) -> Self {
        self.edit(|c| c.app_id = app_id.into())
    }

    /// The cluster (default `default`; the server falls back to `default` for a namespace the
    /// cluster has no release of).
    pub fn cluster(self, cluster: impl Into<String>) -> Self {
        self.edit(|c| c.cluster = cluster.into())
    }

    /// Signs every request with the app's access key `secret` (kept in a [`Secret`]).
    pub fn secret(self, secret: impl Into<Secret>) -> Self {
        self.edit(|c| c.secret = Some(secret.into()))
    }

    /// The client ip sent with reads (`ip=`), which gray rules may match.
    pub fn ip(self, ip: impl Into<String>) -> Self {
        self.edit(|c| c.ip = Some(ip.into()))
    }

    /// The client label sent with reads (`label=`), which gray rules may match.
    pub fn label(self, label: impl Into<String>) -> Self {
        self.edit(|c| c.label = Some(label.into()))
    }

    /// The data centre (`dataCenter=`), read when the cluster has no release.
    pub fn data_center(self, data_center: impl Into<String>) -> Self {
        self.edit(|c| c.data_center = Some(data_center.into()))
    }

    /// Treats the endpoints as meta servers: the config services are those
    /// `GET /services/config` lists (asked again when none of them can be reached).
    pub fn meta(self, meta: bool) -> Self {
        self.edit(|c| c.meta = meta)
    }

    /// The timeout of reads and meta-server listings (default 30 s).
    pub fn request_timeout(self, timeout: Duration) -> Self {
        self.edit(|c| c.request_timeout = timeout)
    }

    /// The timeout of one long poll (default 90 s; keep it above the server's 60 s hold).
    pub fn poll_timeout(self, timeout: Duration) -> Self {
        self.edit(|c| c.poll_timeout = timeout)
    }

    /// How often each followed namespace is read in full, notified or not, in case a
    /// notification was lost (default 5 minutes).
    pub fn check_interval(self, interval: Duration) -> Self {
        self.edit(|c| c.check_interval = interval)
    }

    /// The pace of the long poll when the server answers at once (a proxy that does not hold
    /// requests, a misbehaving server): `burst` polls back to back, then one per `refill`.
    /// A poll the server held earns its turn back, so changes are never delayed by it.
    /// Default [`LongPollPace::DEFAULT`] (burst 2, one more per second; Apollo's Java client
    /// allows 2 a second).
    pub fn poll_pace(self, pace: LongPollPace) -> Self {
        self.edit(|c| c.poll_pace = pace)
    }

    /// What one read may bring: `max_bytes` per value (and per document), `max_keys` and
    /// `max_total_bytes` for a properties namespace. Default [`Limits::default()`].
    pub fn limits(self, limits: Limits) -> Self {
        self.edit(|c| c.limits = limits)
    }

    /// The server addresses this client was given.
    pub fn endpoints(&self) -> &[String] {
        &self.config().endpoints
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        self.state.config()
    }

    pub(crate) fn poller(&self) -> &Poller {
        &self.state.built().poller
    }

    fn http(&self) -> Result<&reqwest::Client> {
        self.state
            .built()
            .http
            .get_or_try_init(|| {
                self.config().check()?;
                // Never follow a redirect: the signature would go to another origin. A long
                // poll is held for a minute: TCP keepalive notices a vanished peer.
                hotconf_http::client("apollo", &HttpOptions::default())
            })
            .map_err(|e| e.with_transient(false))
    }

    /// Reads `namespace` from the uncached `/configs` endpoint: with `release_key` (the release
    /// the caller holds: 304 if still current) and the `messages` of the notification that
    /// asked for the read.
    ///
    /// # Errors
    /// A transient error for a transport failure, a status other than 200/304/404, or an answer
    /// that does not decode or passes the limits; [`ErrorKind::PermissionDenied`] for a 401;
    /// a permanent [`ErrorKind::Config`] error for a client without app id or server.
    pub async fn read(
        &self,
        namespace: &str,
        release_key: Option<&str>,
        messages: Option<&serde_json::Value>,
    ) -> Result<ConfigRead> {
        let config = self.config();
        let mut query = Vec::new();
        if let Some(key) = release_key.filter(|k| !k.is_empty()) {
            query.push(format!("releaseKey={}", encode(key)));
        }
        if let Some(messages) = messages {
            query.push(format!("messages={}", encode(&messages.to_string())));
        }
        for (name, value) in [
            ("ip", &config.ip),
            ("label", &config.label),
            ("dataCenter", &config.data_center),
        ] {
            if let Some(value) = value {
                query.push(format!("{name}={}", encode(value)));
            }
        }
        let mut path = format!(
            "/configs/{}/{}/{}",
            encode(&config.app_id),
            encode(&config.cluster),
            encode(namespace)
        );
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        let limit = config
            .limits
            .max_total_bytes
            .saturating_mul(2)
            .saturating_add(READ_OVERHEAD);
        let request = self.get(&path, config.request_timeout, limit, "reading", namespace);
        let (status, body) = self.state.built().reads.share(&path, request).await?;
        match status {
            StatusCode::OK => {
                let read: ApolloConfig = serde_json::from_slice(&body).map_err(|e| {
                    bad_answer("reading", namespace, "is not a release").with_cause(e)
                })?;
                check_limits(&read, namespace, &config.limits)?;
                Ok(ConfigRead::Release(read))
            }
            StatusCode::NOT_MODIFIED => Ok(ConfigRead::NotModified),
            StatusCode::NOT_FOUND => Ok(ConfigRead::NotFound),
            other => Err(self.status_error("reading", namespace, other, &body)),
        }
    }

    /// One long poll: `None` when the server answered 304 (nothing changed while it held the
    /// request), else the namespaces whose notification id differs from the one sent.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub async fn poll(&self, notifications: &[Notification]) -> Result<Option<Vec<Notification>>> {
        let config = self.config();
        let sent: Vec<Notification> = notifications
            .iter()
            .map(|n| Notification::new(n.namespace_name.clone(), n.notification_id))
            .collect();
        let list = serde_json::to_string(&sent).unwrap_or_else(|_| "[]".to_owned());
        let mut path = format!(
            "/notifications/v2?appId={}&cluster={}&notifications={}",
            encode(&config.app_id),
            encode(&config.cluster),
            encode(&list)
        );
        if let Some(dc) = &config.data_center {
            path.push_str(&format!("&dataCenter={}", encode(dc)));
        }
        if let Some(ip) = &config.ip {
            path.push_str(&format!("&ip={}", encode(ip)));
        }
        let what = "notifications";
        let (status, body) = self
            .get(&path, config.poll_timeout, SMALL_BODY, "polling", what)
            .await?;
        match status {
            StatusCode::OK => serde_json::from_slice(&body).map(Some).map_err(|e| {
                bad_answer("polling", what, "is not a notification list").with_cause(e)
            }),
            StatusCode::NOT_MODIFIED => Ok(None),
            other => Err(self.status_error("polling", what, other, &body)),
        }
    }

    /// GETs `path_and_query` (already encoded) from the current config service, signed, failing
    /// over to the next one on transport errors; the status and the body (whole under `limit`
    /// for a 200, the first few KiB of an error page).
    async fn get(
        &self,
        path_and_query: &str,
        timeout: Duration,
        limit: usize,
        doing: &str,
        what: &str,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let http = self.http()?;
        let mut attempt = 0;
        loop {
            let (base, servers) = self.base().await?;
            let url = Url::parse(&format!("{base}{path_and_query}")).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("apollo: `{base}` is not a usable server address"),
                )
                .with_cause(e)
            })?;
            let mut request = http.get(url.clone()).timeout(timeout);
            if let Some(secret) = &self.config().secret {
                let timestamp = now_ms();
                let signed = match url.query() {
                    Some(query) => format!("{}?{query}", url.path()),
                    None => url.path().to_owned(),
                };
                let signature = sign(secret.expose(), timestamp, &signed);
                request = request
                    .header(
                        "Authorization",
                        format!("Apollo {}:{signature}", self.config().app_id),
                    )
                    .header("Timestamp", timestamp.to_string());
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let body = self.body(response, status, limit, doing, what).await?;
                    return Ok((status, body));
                }
                Err(e) => {
                    let error = from_transport(doing, what, e);
                    self.failed(&base);
                    attempt += 1;
                    if attempt >= servers {
                        return Err(error);
                    }
                    tracing::debug!(server = %base, "apollo: a config service could not be reached; trying the next one");
                }
            }
        }
    }

    /// Reads an answer's body: a success (or 304) whole under `limit`, an error page's first
    /// few KiB with the secret removed.
    async fn body(
        &self,
        response: Response,
        status: StatusCode,
        limit: usize,
        doing: &str,
        what: &str,
    ) -> Result<Vec<u8>> {
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return read_answer(response, limit, "apollo", doing, what).await;
        }
        let secret = self.config().secret.as_ref().map(|s| s.expose().as_str());
        Ok(read_error_page(response, secret.as_slice()).await)
    }

    fn status_error(&self, doing: &str, what: &str, status: StatusCode, body: &[u8]) -> Error {
        from_status(doing, what, &self.config().app_id, status, body)
    }
}

/// Refuses a release with more keys, or more bytes in all, than `limits` allow, or a value
/// above `max_bytes` (naming its key).
fn check_limits(read: &ApolloConfig, namespace: &str, limits: &Limits) -> Result<()> {
    let entries = read.configurations.iter();
    limits
        .check_entries(entries.map(|(key, value)| (key.as_str(), value.len())))
        .map_err(|breach| {
            let key = breach.key.clone();
            let error = bad_answer("reading", namespace, breach);
            match key {
                Some(key) => error.with_key(key),
                None => error,
            }
        })
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}
