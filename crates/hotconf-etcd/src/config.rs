//! `EtcdConfig`: where and how to follow etcd, from code or an `etcd://` URI.

use std::fmt;
use std::time::Duration;

use hotconf_core::provider::{KeySpace, SourceUri};
use hotconf_core::{Format, Limits, Result, Secret};

pub use hotconf_core::provider::{Mode, TlsFiles};

/// The URI schemes this backend serves: `etcd://`.
pub const SCHEMES: &[&str] = &["etcd"];
/// The port of an endpoint written without one: 2379, etcd's client port.
pub const DEFAULT_PORT: u16 = 2379;

/// The default [`EtcdConfig::request_timeout`]: 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`EtcdConfig::watch_check`]: 30 s.
pub const DEFAULT_WATCH_CHECK: Duration = Duration::from_secs(30);

/// How to reach etcd and what to follow.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EtcdConfig {
    /// `host:port` of each member.
    pub endpoints: Vec<String>,
    /// The prefix (normalized to end with `/`) or the key.
    pub path: String,
    /// Prefix or key mode.
    pub mode: Mode,
    /// In prefix mode, type values as JSON scalars (`5432` a number) instead of strings.
    pub typed: bool,
    /// User name for etcd auth.
    pub user: Option<String>,
    /// Password for etcd auth (never printed).
    pub password: Option<Secret>,
    /// TLS, if the members serve it.
    pub tls: Option<TlsFiles>,
    /// The deadline of every request that should answer at once: connecting (authentication
    /// included), a list, a token refresh, creating a watch, and the answer to a watch's liveness
    /// check. A member that takes longer is a transient `unavailable` error, and the provider
    /// connects again. Default [`DEFAULT_REQUEST_TIMEOUT`] (10 s).
    pub request_timeout: Duration,
    /// How long a watch may stay silent before the provider asks the member for a progress
    /// notification, which it must answer within `request_timeout` (a member that answers
    /// HTTP/2 pings but not the watch is noticed that way). Default [`DEFAULT_WATCH_CHECK`] (30 s).
    pub watch_check: Duration,
    /// Bounds on the followed state: at most `max_keys` keys and `max_total_bytes` bytes (keys
    /// and values) under a prefix, no value above `max_bytes`. Default [`Limits::default`].
    pub limits: Limits,
}

impl EtcdConfig {
    /// Follows every key under `prefix` (a `/` is appended if missing, so `app` never matches
    /// `application/…`).
    pub fn prefix(endpoints: impl IntoIterator<Item = impl Into<String>>, prefix: &str) -> Self {
        EtcdConfig::with(endpoints, KeySpace::prefix(prefix))
    }

    /// Follows one key holding a document in `format`.
    pub fn key(
        endpoints: impl IntoIterator<Item = impl Into<String>>,
        key: &str,
        format: Format,
    ) -> Self {
        EtcdConfig::with(endpoints, KeySpace::key(key, format))
    }

    fn with(endpoints: impl IntoIterator<Item = impl Into<String>>, target: KeySpace) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            path: target.path,
            mode: target.mode,
            typed: target.typed,
            user: None,
            password: None,
            tls: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            watch_check: DEFAULT_WATCH_CHECK,
            limits: Limits::default(),
        }
    }

    /// Sets the deadline of requests (see [`request_timeout`](Self::request_timeout)). Zero
    /// would fail every request: it is taken as 1 ms.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets how long a watch may stay silent before it is checked (see
    /// [`watch_check`](Self::watch_check)). Zero is taken as 1 ms.
    pub fn with_watch_check(mut self, silence: Duration) -> Self {
        self.watch_check = silence.max(Duration::from_millis(1));
        self
    }

    /// Sets the bounds on the followed state (see [`limits`](Self::limits)).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Authenticates as `user`.
    pub fn with_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self.password = Some(Secret::new(password.into()));
        self
    }

    /// Uses TLS.
    pub fn with_tls(mut self, tls: TlsFiles) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Types prefix values as JSON scalars.
    pub fn typed(mut self) -> Self {
        self.typed = true;
        self
    }

    /// From `etcd://[user:password@]host[:port][,host[:port]]/path?mode=prefix|key&format=yaml&typed=true&tls=true&ca=…&cert=…&key=…&timeout=10s&watch_check=30s`
    /// (port [`DEFAULT_PORT`] when omitted). Without `mode`, a path ending with `/` is a prefix
    /// and one with a known extension a key (see [`hotconf_core::provider::Query::key_space`]).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](hotconf_core::ErrorKind::Config) for another scheme, no host, an
    /// empty path, a bad option or an unknown parameter.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        uri.expect_scheme(SCHEMES)?;
        let endpoints = uri.endpoints_with_port(DEFAULT_PORT)?;
        let mut query = uri.query();
        let mut config = EtcdConfig::with(endpoints, query.key_space()?);
        config.tls = query.tls()?;
        if let Some(timeout) = query.positive_duration("timeout")? {
            config.request_timeout = timeout;
        }
        if let Some(check) = query.positive_duration("watch_check")? {
            config.watch_check = check;
        }
        query.finish()?;
        config.user = uri.username.clone();
        config.password = uri.password.clone();
        Ok(config)
    }

    /// The source's printable name: an `etcd://` URI without the password.
    pub fn name(&self) -> String {
        let user = self
            .user
            .as_ref()
            .map_or(String::new(), |u| format!("{u}@"));
        format!(
            "etcd://{user}{}/{}?mode={}",
            self.endpoints.join(","),
            self.path,
            KeySpace::mode_param(&self.mode)
        )
    }
}

impl fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("typed", &self.typed)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("tls", &self.tls)
            .field("request_timeout", &self.request_timeout)
            .field("watch_check", &self.watch_check)
            .field("limits", &self.limits)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(s: &str) -> Result<EtcdConfig> {
        EtcdConfig::from_uri(&s.parse().unwrap())
    }

    #[test]
    fn uris() {
        let c = parse("etcd://root:pw@127.0.0.1:2379,127.0.0.1:22379/app/").unwrap();
        assert_eq!((c.mode.clone(), c.path.as_str()), (Mode::Prefix, "app/"));
        assert_eq!(c.endpoints, ["127.0.0.1:2379", "127.0.0.1:22379"]);
        assert_eq!(
            c.name(),
            "etcd://root@127.0.0.1:2379,127.0.0.1:22379/app/?mode=prefix"
        );
        assert!(!format!("{c:?}").contains("pw"));
        assert_eq!(parse("etcd://h:1/app?mode=prefix").unwrap().path, "app/");
        assert_eq!(
            parse("etcd://h:1/app/config.yaml").unwrap().mode,
            Mode::Key(Format::Yaml)
        );
        assert_eq!(
            parse("etcd://h:1/app/config?mode=key&format=json")
                .unwrap()
                .mode,
            Mode::Key(Format::Json)
        );
        assert!(parse("etcd://h:1/app/config?mode=key").is_err());
        assert!(parse("etcd://h:1/").is_err());
        let tls = parse("etcd://h:1/app/?ca=/ca.pem&cert=/c.pem&key=/k.pem")
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(
            tls.identity,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        assert!(parse("etcd://h:1/app/?cert=/c.pem").is_err());
        let timed = parse("etcd://h:1/app/?timeout=250ms&watch_check=2s").unwrap();
        assert_eq!(timed.request_timeout, Duration::from_millis(250));
        assert_eq!(timed.watch_check, Duration::from_secs(2));
        assert_eq!(
            parse("etcd://h:1/app/").unwrap().request_timeout,
            DEFAULT_REQUEST_TIMEOUT
        );
        assert!(parse("etcd://h:1/app/?timeout=0s").is_err());
        assert!(parse("etcd://h:1/app/?timeout=soon").is_err());
        assert_eq!(
            parse("etcd://h,[::1]/app/").unwrap().endpoints,
            ["h:2379", "[::1]:2379"]
        );
        assert!(parse("etcd:///app/").is_err(), "no host");
        assert!(parse("consul://h/app/").is_err(), "another scheme");
        let typo = parse("etcd://root:pw@h/app/?mdoe=key&token=t0k").unwrap_err();
        assert!(
            typo.to_string().contains("unknown parameter `mdoe`"),
            "{typo}"
        );
        assert!(!format!("{typo} {typo:?}").contains("pw@") && !typo.to_string().contains("t0k"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = EtcdConfig::prefix(["h:1"], "app/").with_user("root", "s3cr3t-pw");
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        assert!(!c.name().contains("s3cr3t-pw"));
        let provider = crate::EtcdProvider::new(c.clone());
        assert!(!format!("{provider:?}").contains("s3cr3t-pw"));
        let connection = crate::EtcdConnection::new(&c);
        assert!(!format!("{connection:?}").contains("s3cr3t-pw"));
    }
}
