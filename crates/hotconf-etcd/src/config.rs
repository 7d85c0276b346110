//! `EtcdConfig`: where and how to follow etcd, from code or an `etcd://` URI.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use hotconf_core::{
    parse_duration, Error, ErrorKind, Format, Limits, Result, Scheme, Secret, SourceUri,
};

/// The default [`EtcdConfig::request_timeout`]: 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`EtcdConfig::watch_check`]: 30 s.
pub const DEFAULT_WATCH_CHECK: Duration = Duration::from_secs(30);

/// What the provider follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Every key under a prefix; `app/db/port` under `app/` is `db.port`.
    Prefix,
    /// One key holding a whole document.
    Key(Format),
}

/// TLS material, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// The CA that signed the servers' certificates.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key, for mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}

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
        let mut path = prefix.trim_start_matches('/').to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        EtcdConfig::with(endpoints, path, Mode::Prefix)
    }

    /// Follows one key holding a document in `format`.
    pub fn key(
        endpoints: impl IntoIterator<Item = impl Into<String>>,
        key: &str,
        format: Format,
    ) -> Self {
        EtcdConfig::with(
            endpoints,
            key.trim_start_matches('/').to_owned(),
            Mode::Key(format),
        )
    }

    fn with(
        endpoints: impl IntoIterator<Item = impl Into<String>>,
        path: String,
        mode: Mode,
    ) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            path,
            mode,
            typed: false,
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

    /// From `etcd://[user:password@]host:port[,host:port]/path?mode=prefix|key&format=yaml&typed=true&ca=…&cert=…&key=…&timeout=10s&watch_check=30s`.
    /// Without `mode`, a path ending with `/` is a prefix and one with a known extension a key.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for another scheme, an empty path or a bad option.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let bad = |why: String| Error::new(ErrorKind::Config, format!("{uri}: {why}"));
        if uri.scheme != Scheme::Etcd {
            return Err(bad("not an etcd:// source".into()));
        }
        if uri.path.trim_matches('/').is_empty() {
            return Err(bad("give a prefix or a key after the host".into()));
        }
        let format = match uri.param("format") {
            Some(f) => Some(f.parse::<Format>()?),
            None => Format::from_path(&uri.path),
        };
        let mut config = match (uri.param("mode"), format) {
            (Some("prefix"), _) => EtcdConfig::prefix(uri.endpoints.clone(), &uri.path),
            (Some("key"), Some(format)) | (None, Some(format)) if !uri.path.ends_with('/') => {
                EtcdConfig::key(uri.endpoints.clone(), &uri.path, format)
            }
            (Some("key"), _) => {
                return Err(bad(
                    "key mode needs a format (?format=yaml) or an extension".into(),
                ))
            }
            (None, _) => EtcdConfig::prefix(uri.endpoints.clone(), &uri.path),
            (Some(other), _) => return Err(bad(format!("unknown mode `{other}` (prefix, key)"))),
        };
        config.typed = uri.param("typed") == Some("true");
        if let Some(timeout) = uri.param("timeout") {
            config.request_timeout = positive(parse_duration(timeout)?).map_err(bad)?;
        }
        if let Some(check) = uri.param("watch_check") {
            config.watch_check = positive(parse_duration(check)?).map_err(bad)?;
        }
        config.user = uri.username.clone();
        config.password = uri.password.clone();
        if uri.param("ca").is_some() || uri.param("cert").is_some() {
            let identity = match (uri.param("cert"), uri.param("key")) {
                (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
                (None, None) => None,
                _ => {
                    return Err(bad(
                        "give both cert= and key= for a client certificate".into()
                    ))
                }
            };
            config.tls = Some(TlsFiles {
                ca: uri.param("ca").map(PathBuf::from),
                identity,
            });
        }
        Ok(config)
    }

    /// The source's printable name: an `etcd://` URI without the password.
    pub fn name(&self) -> String {
        let user = self
            .user
            .as_ref()
            .map_or(String::new(), |u| format!("{u}@"));
        let mode = match &self.mode {
            Mode::Prefix => "prefix".to_owned(),
            Mode::Key(format) => format!("key&format={format}"),
        };
        format!(
            "etcd://{user}{}/{}?mode={mode}",
            self.endpoints.join(","),
            self.path
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

fn positive(duration: Duration) -> std::result::Result<Duration, String> {
    if duration.is_zero() {
        Err("a duration must be above zero".into())
    } else {
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
