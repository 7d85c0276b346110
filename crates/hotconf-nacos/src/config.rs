//! `NacosConfig`: which Nacos config to follow, from code or a `nacos://` URI.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use hotconf_core::provider::SourceUri;
use hotconf_core::{Error, ErrorKind, Format, Limits, Result, Secret};

/// The URI schemes this backend serves: `nacos://`.
pub const SCHEMES: &[&str] = &["nacos"];
/// The port of a server written without one: 8848, Nacos's HTTP API.
pub const DEFAULT_PORT: u16 = 8848;

/// How the provider learns of a change between its periodic checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Listener {
    /// The HTTP long-poll listener (`/v1/cs/configs/listener`, kept by Nacos 1.x–3.x for
    /// clients): the server compares our md5 and answers the moment it differs. About 0.6 ms
    /// from publish to applied on loopback, and state-based, so creation, deletion and changes
    /// made while disconnected are all seen. The default.
    #[default]
    LongPoll,
    /// nacos-sdk's gRPC push, used as a hint. About 44 ms from publish to applied on r-nacos
    /// 0.8.8, and blind to creation and deletion (the periodic check covers those). Not with
    /// credentials: nacos-sdk 0.8.3 logs the password when its login fails.
    Sdk,
}

/// One Nacos config: `(dataId, group, namespace)` on a server, and how to read it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NacosConfig {
    /// `host:port` of the HTTP API (8848 by default).
    pub server: String,
    /// The dataId, e.g. `app.yaml`.
    pub data_id: String,
    /// The group (`DEFAULT_GROUP` by default).
    pub group: String,
    /// The namespace id (empty: the public namespace).
    pub namespace: String,
    /// The format; by default from the dataId's extension, else the type the server gives.
    pub format: Option<Format>,
    /// User name for Nacos auth.
    pub user: Option<String>,
    /// Password for Nacos auth (never printed).
    pub password: Option<Secret>,
    /// How the provider learns of a change (default: the HTTP long poll).
    pub listener: Listener,
    /// With [`Listener::Sdk`], how often the state is read besides the pushes (catches
    /// creation, deletion and pushes lost across a reconnect). With the long poll, each poll is
    /// a check held up to 30 s, and this caps the pause after polls that fail. Default 5 s.
    pub check_interval: Duration,
    /// The gRPC port of [`Listener::Sdk`] (default: HTTP port + 1000).
    pub grpc_port: Option<u16>,
    /// Where the SDK keeps its cache, used as it is. Default: `sdk` in a fresh private directory
    /// in the temp dir (`hotconf-nacos-XXXXXX`, mode 0700), removed when the watch ends (the
    /// private directory is left, empty); never `~/nacos`.
    pub cache_dir: Option<PathBuf>,
    /// What one answer may bring: the config's content at most `max_bytes`, refused while it
    /// is read (as soon as it passes the limit, or at once for a `Content-Length` above it).
    /// Default [`Limits::default()`].
    pub limits: Limits,
}

impl NacosConfig {
    /// The config `data_id` in `DEFAULT_GROUP` of the public namespace on `server`.
    pub fn new(server: impl Into<String>, data_id: impl Into<String>) -> Self {
        NacosConfig {
            server: server.into(),
            data_id: data_id.into(),
            group: "DEFAULT_GROUP".into(),
            namespace: String::new(),
            format: None,
            user: None,
            password: None,
            listener: Listener::default(),
            check_interval: Duration::from_secs(5),
            grpc_port: None,
            cache_dir: None,
            limits: Limits::default(),
        }
    }

    /// Sets the group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets the namespace id (`public` is the empty namespace).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        self.namespace = if namespace == "public" {
            String::new()
        } else {
            namespace
        };
        self
    }

    /// Reads the content in `format`, whatever the dataId's extension.
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// Authenticates as `user`.
    pub fn with_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self.password = Some(Secret::new(password.into()));
        self
    }

    /// Sets the check interval (see [`NacosConfig::check_interval`](field@NacosConfig::check_interval)).
    pub fn check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval;
        self
    }

    /// Sets how the provider learns of a change.
    pub fn listener(mut self, listener: Listener) -> Self {
        self.listener = listener;
        self
    }

    /// Sets the gRPC port of [`Listener::Sdk`] (when it is not the HTTP port + 1000).
    pub fn grpc_port(mut self, port: u16) -> Self {
        self.grpc_port = Some(port);
        self
    }

    /// Sets where [`Listener::Sdk`] keeps nacos-sdk's cache (instead of a private temporary
    /// directory); the directory should be readable by this user only.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Sets the limits of what one answer may bring (see
    /// [`NacosConfig::limits`](field@NacosConfig::limits)).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The format to parse the content with: the explicit one, the dataId's extension, or the
    /// type the server gave the config.
    pub(crate) fn resolved_format(&self, server: Option<Format>) -> Result<Format> {
        self.format
            .or_else(|| Format::from_path(&self.data_id))
            .or(server)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "cannot tell the format of dataId `{}` (no extension, no type from the server): give ?format=",
                        self.data_id
                    ),
                )
                .with_source_name(self.name())
                .with_transient(false)
            })
    }

    /// From `nacos://[user:password@]host[:port]/<dataId>?group=&namespace=&format=&check=5s&listener=long-poll|sdk&grpc_port=`
    /// (port [`DEFAULT_PORT`] when omitted).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for another scheme, no server or several, no dataId, a bad option
    /// or an unknown parameter.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        uri.expect_scheme(SCHEMES)?;
        let server = uri.one_endpoint(DEFAULT_PORT)?;
        if uri.path.is_empty() || uri.path.contains('/') {
            return Err(
                uri.error("give the dataId after the host, e.g. nacos://127.0.0.1:8848/app.yaml")
            );
        }
        let mut config = NacosConfig::new(server, uri.path.clone());
        let mut query = uri.query();
        if let Some(group) = query.get("group") {
            config = config.group(group);
        }
        if let Some(namespace) = query.get("namespace") {
            config = config.namespace(namespace);
        }
        config.format = query.format()?;
        if let Some(check) = query.duration("check")? {
            config = config.check_interval(check);
        }
        if query.choice("listener", &["long-poll", "sdk"])? == Some("sdk") {
            config = config.listener(Listener::Sdk);
        }
        config.grpc_port = query.parse("grpc_port")?;
        query.finish()?;
        config.user = uri.username.clone();
        config.password = uri.password.clone();
        Ok(config)
    }

    /// The printable name: a `nacos://` URI without the password.
    pub fn name(&self) -> String {
        let user = self
            .user
            .as_ref()
            .map_or(String::new(), |u| format!("{u}@"));
        let namespace = if self.namespace.is_empty() {
            String::new()
        } else {
            format!("&namespace={}", self.namespace)
        };
        format!(
            "nacos://{user}{}/{}?group={}{namespace}",
            self.server, self.data_id, self.group
        )
    }
}

impl fmt::Debug for NacosConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NacosConfig")
            .field("name", &self.name())
            .field("password", &self.password)
            .field("check_interval", &self.check_interval)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NacosConfig> {
        NacosConfig::from_uri(&s.parse().unwrap())
    }

    #[test]
    fn uris() {
        let c = parse(
            "nacos://nacos:s3cret@127.0.0.1:8848/app.yaml?group=G&namespace=public&check=250ms",
        )
        .unwrap();
        assert_eq!(
            (c.data_id.as_str(), c.group.as_str(), c.namespace.as_str()),
            ("app.yaml", "G", "")
        );
        assert_eq!(c.check_interval, Duration::from_millis(250));
        assert_eq!(c.resolved_format(None).unwrap(), Format::Yaml);
        assert_eq!(c.listener, Listener::LongPoll);
        assert_eq!(c.name(), "nacos://nacos@127.0.0.1:8848/app.yaml?group=G");
        assert!(!format!("{c:?}").contains("s3cret"));
        let untyped = parse("nacos://h:1/app?listener=sdk").unwrap();
        assert_eq!(untyped.listener, Listener::Sdk);
        assert!(untyped.resolved_format(None).is_err(), "no format");
        assert_eq!(
            untyped.resolved_format(Some(Format::Toml)).unwrap(),
            Format::Toml,
            "the server's type"
        );
        assert!(parse("nacos://h:1/app?listener=push").is_err());
        assert_eq!(
            parse("nacos://h:1/app?format=json").unwrap().format,
            Some(Format::Json)
        );
        assert!(parse("nacos://h:1/").is_err());
        assert!(parse("nacos://h:1,h:2/a.yaml").is_err());
        assert_eq!(parse("nacos://h/a.yaml").unwrap().server, "h:8848");
        assert_eq!(parse("nacos://h/a?grpc_port=9").unwrap().grpc_port, Some(9));
        assert!(parse("nacos://h/a?grpc_port=x").is_err());
        let typo = parse("nacos://u:pw@h/a.yaml?namspace=n&token=t0k").unwrap_err();
        assert!(
            typo.to_string().contains("unknown parameter `namspace`"),
            "{typo}"
        );
        assert!(!typo.to_string().contains("pw@") && !typo.to_string().contains("t0k"));
    }
}
