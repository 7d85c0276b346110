//! `ConsulConfig`: where and how to follow Consul KV, from code or a `consul://` URI.

use std::fmt;
use std::time::Duration;

use hotconf_core::provider::{KeySpace, SourceUri};
use hotconf_core::{Format, Limits, Result, Secret};

pub use hotconf_core::provider::{Mode, TlsFiles};

/// The URI schemes this backend serves: `consul://`.
pub const SCHEMES: &[&str] = &["consul"];
/// The port of an agent address written without one: 8500, Consul's HTTP API.
pub const DEFAULT_PORT: u16 = 8500;

/// Which servers may answer a read (Consul's consistency modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// The leader answers (Consul's default; a small staleness window).
    #[default]
    Default,
    /// Any server answers (`?stale`): scales reads; indexes may go backwards between servers.
    Stale,
    /// The leader verifies its leadership on every read (`?consistent`).
    Consistent,
}

/// The request rate limit of the watch loop: a token bucket that allows `burst` requests at
/// once, refilled with one token every `refill`. Idle blocking queries never use it up; it only
/// bounds the requests while values churn (or while a server answers at once, e.g. index 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed back to back.
    pub burst: u32,
    /// Time to earn one more request.
    pub refill: Duration,
}

impl Default for RateLimit {
    /// Burst 2, one more request per second.
    fn default() -> Self {
        RateLimit {
            burst: 2,
            refill: Duration::from_secs(1),
        }
    }
}

/// How to reach Consul and what to follow.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsulConfig {
    /// `host:port` of the agent.
    pub address: String,
    /// The prefix (normalized to end with `/`) or the key.
    pub path: String,
    /// Prefix or key mode.
    pub mode: Mode,
    /// In prefix mode, type values as JSON scalars (`5432` a number) instead of strings.
    pub typed: bool,
    /// The ACL token, sent in the `X-Consul-Token` header only (never printed).
    pub token: Option<Secret>,
    /// The datacenter to read (`?dc=`); the agent's own when `None`.
    pub datacenter: Option<String>,
    /// Which servers may answer.
    pub consistency: Consistency,
    /// How long one blocking query may wait; clamped to 10 minutes, as Consul clamps it.
    pub wait: Duration,
    /// The watch loop's request rate limit.
    pub rate_limit: RateLimit,
    /// TLS (`https://`), if the agent serves it.
    pub tls: Option<TlsFiles>,
    /// What one read may bring: `max_bytes` per value (and per document in key mode),
    /// `max_keys` and `max_total_bytes` for a whole prefix. Bodies are refused while they are
    /// read, as soon as they pass their limit. Default [`Limits::default()`].
    pub limits: Limits,
}

impl ConsulConfig {
    /// Follows every key under `prefix` (a `/` is appended if missing, so `app` never matches
    /// `application/…`).
    pub fn prefix(address: impl Into<String>, prefix: &str) -> Self {
        ConsulConfig::with(address.into(), KeySpace::prefix(prefix))
    }

    /// Follows one key holding a document in `format`.
    pub fn key(address: impl Into<String>, key: &str, format: Format) -> Self {
        ConsulConfig::with(address.into(), KeySpace::key(key, format))
    }

    fn with(address: String, target: KeySpace) -> Self {
        ConsulConfig {
            address,
            path: target.path,
            mode: target.mode,
            typed: target.typed,
            token: None,
            datacenter: None,
            consistency: Consistency::Default,
            wait: Duration::from_secs(300),
            rate_limit: RateLimit::default(),
            tls: None,
            limits: Limits::default(),
        }
    }

    /// Sends `token` in the `X-Consul-Token` header.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Secret::new(token.into()));
        self
    }

    /// Reads from datacenter `dc`.
    pub fn with_datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenter = Some(dc.into());
        self
    }

    /// Reads with `consistency`.
    pub fn with_consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// Lets each blocking query wait up to `wait` (default 5 minutes).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Sets the watch loop's rate limit.
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Uses TLS.
    pub fn with_tls(mut self, tls: TlsFiles) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets the limits of what one read may bring (see
    /// [`ConsulConfig::limits`](field@ConsulConfig::limits)).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Types prefix values as JSON scalars.
    pub fn typed(mut self) -> Self {
        self.typed = true;
        self
    }

    /// From `consul://host[:port]/path?mode=prefix|key&format=json&typed=true&token=…&dc=…&consistency=stale|consistent&wait=30s&tls=true&ca=…&cert=…&key=…`
    /// (port [`DEFAULT_PORT`] when omitted). Without `mode`, a path ending with `/` is a prefix
    /// and one with a known extension a key (see [`hotconf_core::provider::Query::key_space`]).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](hotconf_core::ErrorKind::Config) for another scheme, no host or
    /// several, an empty path, a bad option or an unknown parameter.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        uri.expect_scheme(SCHEMES)?;
        let address = uri.one_endpoint(DEFAULT_PORT)?;
        let mut query = uri.query();
        let mut config = ConsulConfig::with(address, query.key_space()?);
        config.token = query.secret("token");
        config.datacenter = query.get("dc").map(str::to_owned);
        config.consistency =
            match query.choice("consistency", &["default", "stale", "consistent"])? {
                Some("stale") => Consistency::Stale,
                Some("consistent") => Consistency::Consistent,
                _ => Consistency::Default,
            };
        if let Some(wait) = query.duration("wait")? {
            config.wait = wait;
        }
        config.tls = query.tls()?;
        query.finish()?;
        Ok(config)
    }

    /// The source's printable name: a `consul://` URI without the token.
    pub fn name(&self) -> String {
        let mode = KeySpace::mode_param(&self.mode);
        let dc = self
            .datacenter
            .as_ref()
            .map_or(String::new(), |dc| format!("&dc={dc}"));
        format!("consul://{}/{}?mode={mode}{dc}", self.address, self.path)
    }
}

impl fmt::Debug for ConsulConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsulConfig")
            .field("address", &self.address)
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("typed", &self.typed)
            .field("token", &self.token)
            .field("datacenter", &self.datacenter)
            .field("consistency", &self.consistency)
            .field("wait", &self.wait)
            .field("rate_limit", &self.rate_limit)
            .field("tls", &self.tls)
            .field("limits", &self.limits)
            .finish()
    }
}
