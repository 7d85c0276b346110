//! `ConsulClient`: a small client for Consul's KV endpoint, faithful to the server's rules.

use once_cell::sync::OnceCell;
use std::time::Duration;

use hotconf_core::provider::{ClientState, LiveClients};
use hotconf_core::{Error, ErrorKind, Limits, Result, Secret};
use hotconf_http::{read_answer, read_error_page, HttpOptions};
use reqwest::{Method, RequestBuilder, StatusCode};

use crate::config::{ClientConfig, Consistency, TlsFiles};
use crate::error::{from_status, from_transport};
use crate::wire::{decode_entries, encode_key, encode_param, parse_index, KvEntry};

/// The timeout of requests that do not block.
const PLAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Consul's wait when none (or zero) is given.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// The longest wait Consul honours (it clamps longer ones): ours are clamped alike, so the
/// timeout computed from it cannot overflow and the request never waits longer than the server.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(600);
/// Added to `wait + wait/16` (the server's jitter) for a blocking request's timeout.
const SLACK: Duration = Duration::from_secs(5);
/// Room for the JSON around a value (key, indexes, flags, session) in a read that is not raw.
const ENTRY_OVERHEAD: usize = 64 << 10;

/// The answer to a KV read: the entries (none for a 404) and the blocking index (at least 1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvRead {
    /// `X-Consul-Index`, with a missing header or `0` read as 1.
    pub index: u64,
    /// The entries; empty when Consul answered 404.
    pub entries: Vec<KvEntry>,
}

/// A blocking query: wait up to `wait` for the index to pass `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The last index seen (0 reads at once).
    pub index: u64,
    /// How long the server may hold the request.
    pub wait: Duration,
}

/// A Consul KV client over reqwest (rustls): the agent, token, datacenter, consistency, TLS and
/// read limits. Cheap to clone; one client serves any number of
/// [`ConsulProvider`](crate::ConsulProvider)s. Reads send `recurse` and `raw` as presence flags
/// only, keys percent-encoded per segment, the index read from 200 and 404 answers, values as
/// bytes, the token in the `X-Consul-Token` header only.
///
/// Making one never fails and does no I/O: the HTTP client is built on first use, and a TLS
/// file that cannot be read or parsed, or `endpoints` not holding exactly one agent, is a
/// permanent [`ErrorKind::Config`] error of that use. The setters configure a client before it
/// is shared: a clone made earlier keeps its own settings.
///
/// Redirects are never followed (a 3xx is a transient error naming the status): following one
/// would send the token to whatever origin the `Location` names, over plain HTTP too. Bodies are
/// read chunk by chunk under the client's [`Limits`]: a value above `max_bytes`, a prefix above
/// `max_keys` or `max_total_bytes`, or a body that would pass them is refused while it is read.
///
/// ```
/// use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
/// let client = ConsulClient::new(["127.0.0.1:8500"]).token("my-acl-token");
/// let shared = ConsulProvider::new(&client, ConsulSource::prefix("shared/"));
/// let app = ConsulProvider::new(&client, ConsulSource::prefix("app/").typed());
/// ```
#[derive(Debug, Clone)]
pub struct ConsulClient {
    state: ClientState<ClientConfig, OnceCell<Http>>,
}

/// The HTTP client and the KV endpoint's base URL, built on first use.
#[derive(Debug, Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
}

impl ConsulClient {
    /// A client of the agent at `endpoints` (`host:port`; Consul is read through one agent, so
    /// exactly one).
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ConsulClient::from_config(ClientConfig::new(
            endpoints.into_iter().map(Into::into).collect(),
        ))
    }

    pub(crate) fn from_config(config: ClientConfig) -> Self {
        ConsulClient {
            state: ClientState::new(config),
        }
    }

    /// A client with `config`: the live one made from a URI with equal settings, if any, so
    /// that providers made from URIs (one client each) share one HTTP connection pool, as
    /// providers of one client do.
    pub(crate) fn shared(config: ClientConfig) -> Self {
        static CLIENTS: LiveClients<ClientConfig, OnceCell<Http>> = LiveClients::new();
        ConsulClient {
            state: ClientState::live(config, &CLIENTS),
        }
    }

    fn edit(self, change: impl FnOnce(&mut ClientConfig)) -> Self {
        ConsulClient {
            state: self.state.edit(change),
        }
    }

    /// Sends `token` in the `X-Consul-Token` header (kept in a [`Secret`]).
    pub fn token(self, token: impl Into<String>) -> Self {
        self.edit(|c| c.token = Some(Secret::new(token.into())))
    }

    /// Reads from datacenter `dc` (default: the agent's own).
    pub fn datacenter(self, dc: impl Into<String>) -> Self {
        self.edit(|c| c.datacenter = Some(dc.into()))
    }

    /// Reads with `consistency` (default [`Consistency::Default`]).
    pub fn consistency(self, consistency: Consistency) -> Self {
        self.edit(|c| c.consistency = consistency)
    }

    /// Uses TLS (`https://`; the files are read on first use).
    pub fn tls(self, tls: TlsFiles) -> Self {
        self.edit(|c| c.tls = Some(tls))
    }

    /// Sets what one read may bring: `max_bytes` per value (and per document in key mode),
    /// `max_keys` and `max_total_bytes` for a whole prefix. Bodies are refused while they are
    /// read, as soon as they pass their limit. Default [`Limits::default()`].
    pub fn limits(self, limits: Limits) -> Self {
        self.edit(|c| c.limits = limits)
    }

    /// The agent addresses this client was given.
    pub fn endpoints(&self) -> &[String] {
        &self.config().endpoints
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        self.state.config()
    }

    /// The HTTP client, built on first use.
    fn http(&self) -> Result<&Http> {
        self.state
            .built()
            .get_or_try_init(|| build(self.config()).map_err(|e| e.with_transient(false)))
    }

    /// Reads every entry under `prefix` (`?recurse`).
    ///
    /// # Errors
    /// A transient error for a transport failure, a status other than 200/404, or a body that
    /// does not decode; [`ErrorKind::PermissionDenied`] for a 403.
    pub async fn list(&self, prefix: &str, block: Option<Block>) -> Result<KvRead> {
        self.read(prefix, true, block).await
    }

    /// Reads one key.
    ///
    /// # Errors
    /// As [`list`](Self::list).
    pub async fn get(&self, key: &str, block: Option<Block>) -> Result<KvRead> {
        self.read(key, false, block).await
    }

    /// Reads one key's raw bytes (`?raw`); `None` when it does not exist.
    ///
    /// # Errors
    /// As [`list`](Self::list).
    pub async fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let request = self.request(Method::GET, key, &["raw"], None)?;
        let limit = self.config().limits.max_bytes;
        let (status, _, body) = self.send(request, key, "reading", limit).await?;
        match status {
            StatusCode::OK => Ok(Some(body)),
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(from_status("reading", key, other, &body)),
        }
    }

    /// Writes `value` into `key` if its `ModifyIndex` is still `cas` (0: only if the key does
    /// not exist); `Ok(false)` when it is not.
    ///
    /// # Errors
    /// A transient error for a transport failure or a status other than 200 (413: a value above
    /// the agent's `kv_max_value_size`); [`ErrorKind::PermissionDenied`] for a 403.
    pub async fn put_cas(&self, key: &str, value: &[u8], cas: u64) -> Result<bool> {
        let request = self
            .request(Method::PUT, key, &[&format!("cas={cas}")], None)?
            .body(value.to_vec());
        self.answer_bool(request, key, "writing").await
    }

    /// Deletes `key` if its `ModifyIndex` is still `cas`; `Ok(true)` also when the key does not
    /// exist (as Consul answers).
    ///
    /// # Errors
    /// As [`put_cas`](Self::put_cas).
    pub async fn delete_cas(&self, key: &str, cas: u64) -> Result<bool> {
        let request = self.request(Method::DELETE, key, &[&format!("cas={cas}")], None)?;
        self.answer_bool(request, key, "deleting").await
    }

    /// Sends a write and reads its `true`/`false` answer.
    async fn answer_bool(&self, request: RequestBuilder, key: &str, doing: &str) -> Result<bool> {
        let (status, _, body) = self.send(request, key, doing, 64).await?;
        if status != StatusCode::OK {
            return Err(from_status(doing, key, status, &body));
        }
        match body.trim_ascii() {
            b"true" => Ok(true),
            b"false" => Ok(false),
            _ => Err(Error::new(
                ErrorKind::Parse,
                format!("consul: {doing} `{key}`: the answer is neither true nor false"),
            )
            .with_key(key.to_owned())
            .with_transient(true)),
        }
    }

    async fn read(&self, key: &str, recurse: bool, block: Option<Block>) -> Result<KvRead> {
        let flags: &[&str] = if recurse { &["recurse"] } else { &[] };
        let limits = &self.config().limits;
        let limit = if recurse {
            list_body_limit(limits)
        } else {
            limits
                .max_bytes
                .saturating_mul(2)
                .saturating_add(ENTRY_OVERHEAD)
        };
        let (status, index, body) = self
            .send(
                self.request(Method::GET, key, flags, block)?,
                key,
                "reading",
                limit,
            )
            .await?;
        match status {
            StatusCode::OK => {
                let index =
                    parse_index(index.as_deref()).map_err(|e| e.with_key(key.to_owned()))?;
                let entries = decode_entries(&body, key)?;
                drop(body);
                check_limits(&entries, key, limits)?;
                Ok(KvRead { index, entries })
            }
            StatusCode::NOT_FOUND => Ok(KvRead {
                index: parse_index(index.as_deref()).map_err(|e| e.with_key(key.to_owned()))?,
                entries: Vec::new(),
            }),
            other => Err(from_status("reading", key, other, &body)),
        }
    }

    /// Builds a request: presence flags, `index`/`wait`, `dc`, consistency, the token header
    /// and a timeout above what the server may hold it.
    fn request(
        &self,
        method: Method,
        key: &str,
        flags: &[&str],
        block: Option<Block>,
    ) -> Result<RequestBuilder> {
        let http = self.http()?;
        let mut query: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        let mut timeout = PLAIN_TIMEOUT;
        if let Some(block) = block.filter(|b| b.index > 0) {
            // As on the server, a zero wait means its default, 5 minutes, and a longer one than
            // 10 minutes means 10 minutes.
            let wait = if block.wait.is_zero() {
                DEFAULT_WAIT
            } else {
                block.wait.min(MAX_WAIT)
            };
            query.push(format!("index={}", block.index));
            query.push(format!("wait={}ms", wait.as_millis()));
            timeout = wait.saturating_add(wait / 16).saturating_add(SLACK);
        }
        if method == Method::GET {
            match self.config().consistency {
                Consistency::Default => {}
                Consistency::Stale => query.push("stale".into()),
                Consistency::Consistent => query.push("consistent".into()),
            }
        }
        if let Some(dc) = &self.config().datacenter {
            query.push(format!("dc={}", encode_param(dc)));
        }
        let mut url = format!("{}{}", http.base, encode_key(key));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let mut request = http.client.request(method, url).timeout(timeout);
        if let Some(token) = &self.config().token {
            request = request.header("X-Consul-Token", token.expose());
        }
        Ok(request)
    }

    /// Sends `request`; returns the status, the index header and the body: for a 2xx, read
    /// whole under `limit` bytes (refused as soon as it passes them); for an error status, its
    /// first few KiB (for the message). A redirect is an error, never followed.
    async fn send(
        &self,
        request: RequestBuilder,
        key: &str,
        doing: &str,
        limit: usize,
    ) -> Result<(StatusCode, Option<Vec<u8>>, Vec<u8>)> {
        let response = request
            .send()
            .await
            .map_err(|e| from_transport(doing, key, e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(from_status(doing, key, status, &[]));
        }
        let index = response
            .headers()
            .get("X-Consul-Index")
            .map(|v| v.as_bytes().to_vec());
        let body = if status.is_success() {
            read_answer(response, limit, "consul", doing, key).await?
        } else {
            // An error page may echo the request (a careless proxy): never the token.
            let token = self.config().token.as_ref().map(|t| t.expose().as_str());
            read_error_page(response, token.as_slice()).await
        };
        Ok((status, index, body))
    }
}

/// The largest body of a `?recurse` read: every value base64-encoded (4/3) inside its JSON
/// entry. Twice `max_total_bytes` holds that for values of any size but the tiniest; the key
/// and byte counts are checked exactly once the body is decoded.
fn list_body_limit(limits: &Limits) -> usize {
    limits.max_total_bytes.saturating_mul(2)
}

/// Refuses a read with more keys, or more bytes in all, than `limits` allow, or a value above
/// `max_bytes` (naming its key).
fn check_limits(entries: &[KvEntry], requested: &str, limits: &Limits) -> Result<()> {
    limits
        .check_entries(entries.iter().map(|e| (e.key.as_str(), e.value.len())))
        .map_err(|breach| {
            Error::new(ErrorKind::Parse, format!("consul: `{requested}` {breach}"))
                .with_key(breach.key.unwrap_or_else(|| requested.to_owned()))
                .with_transient(true)
        })
}

/// The HTTP client and base URL for `config`.
fn build(config: &ClientConfig) -> Result<Http> {
    let [endpoint] = config.endpoints.as_slice() else {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "consul: give exactly one agent address (endpoints holds {})",
                config.endpoints.len()
            ),
        ));
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // Never follow a redirect: the token header would go to another origin (see the type's
    // docs). A blocking query may be held for minutes: TCP keepalive notices a vanished peer.
    let client = hotconf_http::client("consul", &HttpOptions::default().tls(config.tls.clone()))?;
    Ok(Http {
        client,
        base: format!("{scheme}://{endpoint}/v1/kv/"),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn clients_made_from_equal_settings_share_one_pool_and_others_do_not() {
        let config = || ClientConfig::new(vec!["127.0.0.1:8500".into()]);
        let first = ConsulClient::shared(config());
        let same = ConsulClient::shared(config());
        assert!(Arc::ptr_eq(first.state.built(), same.state.built()));
        let mut other = config();
        other.token = Some(Secret::new("another".to_owned()));
        let other = ConsulClient::shared(other);
        assert!(!Arc::ptr_eq(first.state.built(), other.state.built()));
        let built = Arc::downgrade(first.state.built());
        drop((first, same));
        assert!(built.upgrade().is_none(), "kept only while in use");
    }
}
