//! `ConsulConfig`: where and how to follow Consul KV, from code or a `consul://` URI.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use hotconf_core::{
    parse_duration, Error, ErrorKind, Format, Limits, Result, Scheme, Secret, SourceUri,
};

/// What the provider follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Every key under a prefix; `app/db/port` under `app/` is `db.port`.
    Prefix,
    /// One key holding a whole document.
    Key(Format),
}

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

/// TLS material, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// The CA that signed the agent's certificate (the system roots are not used when set).
    pub ca: Option<PathBuf>,
    /// A client certificate and its key, for mutual TLS (`verify_incoming`).
    pub identity: Option<(PathBuf, PathBuf)>,
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
        let mut path = prefix.trim_start_matches('/').to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        ConsulConfig::with(address.into(), path, Mode::Prefix)
    }

    /// Follows one key holding a document in `format`.
    pub fn key(address: impl Into<String>, key: &str, format: Format) -> Self {
        let key = key.trim_start_matches('/').to_owned();
        ConsulConfig::with(address.into(), key, Mode::Key(format))
    }

    fn with(address: String, path: String, mode: Mode) -> Self {
        ConsulConfig {
            address,
            path,
            mode,
            typed: false,
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

    /// From `consul://host:port/path?mode=prefix|key&format=json&typed=true&token=…&dc=…&consistency=stale|consistent&wait=30s&tls=true&ca=…&cert=…&key=…`.
    /// Without `mode`, a path ending with `/` is a prefix and one with a known extension a key.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for another scheme, several hosts, an empty path or a bad option.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let bad = |why: String| Error::new(ErrorKind::Config, format!("{uri}: {why}"));
        if uri.scheme != Scheme::Consul {
            return Err(bad("not a consul:// source".into()));
        }
        let [address] = uri.endpoints.as_slice() else {
            return Err(bad("give exactly one agent address".into()));
        };
        if uri.path.trim_matches('/').is_empty() {
            return Err(bad("give a prefix or a key after the host".into()));
        }
        let format = match uri.param("format") {
            Some(f) => Some(f.parse::<Format>()?),
            None => Format::from_path(&uri.path),
        };
        let mut config = match (uri.param("mode"), format) {
            (Some("prefix"), _) => ConsulConfig::prefix(address, &uri.path),
            (Some("key"), Some(format)) | (None, Some(format)) if !uri.path.ends_with('/') => {
                ConsulConfig::key(address, &uri.path, format)
            }
            (Some("key"), _) => {
                return Err(bad(
                    "key mode needs a format (?format=json) or an extension".into(),
                ))
            }
            (None, _) => ConsulConfig::prefix(address, &uri.path),
            (Some(other), _) => return Err(bad(format!("unknown mode `{other}` (prefix, key)"))),
        };
        config.typed = uri.param("typed") == Some("true");
        config.token = uri.secret_params.get("token").cloned();
        config.datacenter = uri.param("dc").map(str::to_owned);
        config.consistency = match uri.param("consistency") {
            None | Some("default") => Consistency::Default,
            Some("stale") => Consistency::Stale,
            Some("consistent") => Consistency::Consistent,
            Some(other) => {
                return Err(bad(format!(
                    "unknown consistency `{other}` (default, stale, consistent)"
                )))
            }
        };
        if let Some(wait) = uri.param("wait") {
            config.wait = parse_duration(wait).map_err(|e| bad(e.message().to_owned()))?;
        }
        let identity = match (uri.param("cert"), uri.param("key")) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "give both cert= and key= for a client certificate".into()
                ))
            }
        };
        let ca = uri.param("ca").map(PathBuf::from);
        if ca.is_some() || identity.is_some() || uri.param("tls") == Some("true") {
            config.tls = Some(TlsFiles { ca, identity });
        }
        Ok(config)
    }

    /// The source's printable name: a `consul://` URI without the token.
    pub fn name(&self) -> String {
        let mode = match &self.mode {
            Mode::Prefix => "prefix".to_owned(),
            Mode::Key(format) => format!("key&format={format}"),
        };
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
