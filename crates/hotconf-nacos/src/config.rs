//! What a Nacos provider follows ([`NacosSource`]), and the `nacos://` URI that describes a
//! client and a source at once.

use std::path::PathBuf;
use std::time::Duration;

use hotconf_core::provider::{SourceUri, TlsFiles};
use hotconf_core::{Error, ErrorKind, Format, Limits, LongPollPace, Result, Secret};

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
    /// credentials: nacos-sdk 0.8.3 logs the password when its login fails, so a provider with
    /// this listener on a client with a user fails its first `load()` or `watch()` with a
    /// permanent `config` error.
    Sdk,
}

/// How to reach Nacos: the settings of a [`NacosClient`](crate::NacosClient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientConfig {
    /// `host:port` of the HTTP API (exactly one).
    pub(crate) endpoints: Vec<String>,
    /// User name for Nacos auth.
    pub(crate) user: Option<String>,
    /// Password for Nacos auth (`Secret`: never printed).
    pub(crate) password: Option<Secret>,
    /// The gRPC port of [`Listener::Sdk`] (default: HTTP port + 1000).
    pub(crate) grpc_port: Option<u16>,
    /// What one answer may bring.
    pub(crate) limits: Limits,
    /// HTTPS to the open API, with these files (`None`: plain HTTP).
    pub(crate) tls: Option<TlsFiles>,
}

impl ClientConfig {
    pub(crate) fn new(endpoints: Vec<String>) -> Self {
        ClientConfig {
            endpoints,
            user: None,
            password: None,
            grpc_port: None,
            limits: Limits::default(),
            tls: None,
        }
    }
}

/// What a [`NacosProvider`](crate::NacosProvider) follows: one config `(dataId, group,
/// namespace)`, and how to read and follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NacosSource {
    /// The dataId, e.g. `app.yaml`.
    pub data_id: String,
    /// The group (`DEFAULT_GROUP` by default).
    pub group: String,
    /// The namespace id (empty: the public namespace).
    pub namespace: String,
    /// The format; by default from the dataId's extension, else the type the server gives.
    pub format: Option<Format>,
    /// How the provider learns of a change (default: the HTTP long poll).
    pub listener: Listener,
    /// With [`Listener::Sdk`], how often the state is read besides the pushes (catches
    /// creation, deletion and pushes lost across a reconnect). With the long poll, each poll is
    /// a check held up to 30 s, and this caps the pause after polls that fail. Default 5 s.
    pub check_interval: Duration,
    /// The pace of the long poll when the server answers at once (a proxy that does not hold
    /// the listener, a misbehaving server): `burst` polls back to back, then one per `refill`.
    /// A poll the server held earns its turn back, so a change is never delayed by it.
    /// Default [`LongPollPace::DEFAULT`] (burst 2, one more per second).
    pub poll_pace: LongPollPace,
    /// Where the SDK of [`Listener::Sdk`] keeps its cache, used as it is. Default: `sdk` in a
    /// fresh private directory in the temp dir (`hotconf-nacos-XXXXXX`, mode 0700), removed
    /// when the watch ends (the private directory is left, empty); never `~/nacos`.
    pub cache_dir: Option<PathBuf>,
}

impl NacosSource {
    /// The config `data_id` in `DEFAULT_GROUP` of the public namespace.
    pub fn new(data_id: impl Into<String>) -> Self {
        NacosSource {
            data_id: data_id.into(),
            group: "DEFAULT_GROUP".into(),
            namespace: String::new(),
            format: None,
            listener: Listener::default(),
            check_interval: Duration::from_secs(5),
            poll_pace: LongPollPace::DEFAULT,
            cache_dir: None,
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

    /// Sets the check interval (see [`check_interval`](field@NacosSource::check_interval)).
    pub fn check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval;
        self
    }

    /// Sets the long poll's pace (see [`poll_pace`](field@NacosSource::poll_pace)).
    pub fn poll_pace(mut self, pace: LongPollPace) -> Self {
        self.poll_pace = pace;
        self
    }

    /// Sets how the provider learns of a change.
    pub fn listener(mut self, listener: Listener) -> Self {
        self.listener = listener;
        self
    }

    /// Sets where [`Listener::Sdk`] keeps nacos-sdk's cache (instead of a private temporary
    /// directory); the directory should be readable by this user only.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The format to parse the content with: the explicit one, the dataId's extension, or the
    /// type the server gave the config.
    pub(crate) fn resolved_format(&self, server: Option<Format>, name: &str) -> Result<Format> {
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
                .with_source_name(name)
                .with_transient(false)
            })
    }
}

/// Parses `nacos://[user:password@]host[:port]/<dataId>?group=&namespace=&format=&check=5s&listener=long-poll|sdk&grpc_port=&burst=2&refill=1s`
/// into client settings and a source (`burst` and `refill`: the long poll's [`LongPollPace`]).
pub(crate) fn from_uri(uri: &SourceUri) -> Result<(ClientConfig, NacosSource)> {
    uri.expect_scheme(SCHEMES)?;
    let mut client = ClientConfig::new(vec![uri.one_endpoint(DEFAULT_PORT)?]);
    if uri.path.is_empty() || uri.path.contains('/') {
        return Err(
            uri.error("give the dataId after the host, e.g. nacos://127.0.0.1:8848/app.yaml")
        );
    }
    let mut source = NacosSource::new(uri.path.clone());
    let mut query = uri.query();
    if let Some(group) = query.get("group") {
        source = source.group(group);
    }
    if let Some(namespace) = query.get("namespace") {
        source = source.namespace(namespace);
    }
    source.format = query.format()?;
    if let Some(check) = query.duration("check")? {
        source = source.check_interval(check);
    }
    if query.choice("listener", &["long-poll", "sdk"])? == Some("sdk") {
        source = source.listener(Listener::Sdk);
    }
    client.grpc_port = query.parse("grpc_port")?;
    client.tls = query.tls()?;
    if let Some(burst) = query.parse::<u32>("burst")? {
        source.poll_pace.burst = burst.max(1);
    }
    if let Some(refill) = query.positive_duration("refill")? {
        source.poll_pace.refill = refill;
    }
    query.finish()?;
    client.user = uri.username.clone();
    client.password = uri.password.clone();
    Ok((client, source))
}

/// The printable name: a `nacos://` URI without the password.
pub(crate) fn name(client: &ClientConfig, source: &NacosSource) -> String {
    let user = client
        .user
        .as_ref()
        .map_or(String::new(), |u| format!("{u}@"));
    let namespace = if source.namespace.is_empty() {
        String::new()
    } else {
        format!("&namespace={}", source.namespace)
    };
    format!(
        "nacos://{user}{}/{}?group={}{namespace}",
        client.endpoints.join(","),
        source.data_id,
        source.group
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(ClientConfig, NacosSource)> {
        from_uri(&s.parse().unwrap())
    }

    #[test]
    fn uris() {
        let (c, s) = parse(
            "nacos://nacos:s3cret@127.0.0.1:8848/app.yaml?group=G&namespace=public&check=250ms",
        )
        .unwrap();
        assert_eq!(
            (s.data_id.as_str(), s.group.as_str(), s.namespace.as_str()),
            ("app.yaml", "G", "")
        );
        assert_eq!(s.check_interval, Duration::from_millis(250));
        assert_eq!(s.resolved_format(None, "n").unwrap(), Format::Yaml);
        assert_eq!(s.listener, Listener::LongPoll);
        assert_eq!(s.poll_pace, LongPollPace::DEFAULT);
        let paced = parse("nacos://h/a.yaml?burst=3&refill=2s").unwrap().1;
        assert_eq!(
            paced.poll_pace,
            LongPollPace {
                burst: 3,
                refill: Duration::from_secs(2)
            }
        );
        assert!(parse("nacos://h/a.yaml?refill=0s").is_err());
        assert_eq!(
            name(&c, &s),
            "nacos://nacos@127.0.0.1:8848/app.yaml?group=G"
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        let untyped = parse("nacos://h:1/app?listener=sdk").unwrap().1;
        assert_eq!(untyped.listener, Listener::Sdk);
        assert!(untyped.resolved_format(None, "n").is_err(), "no format");
        assert_eq!(
            untyped.resolved_format(Some(Format::Toml), "n").unwrap(),
            Format::Toml,
            "the server's type"
        );
        assert!(parse("nacos://h:1/app?listener=push").is_err());
        assert_eq!(
            parse("nacos://h:1/app?format=json").unwrap().1.format,
            Some(Format::Json)
        );
        assert!(parse("nacos://h:1/").is_err());
        assert!(parse("nacos://h:1,h:2/a.yaml").is_err());
        assert_eq!(parse("nacos://h/a.yaml").unwrap().0.endpoints, ["h:8848"]);
        assert_eq!(
            parse("nacos://h/a?grpc_port=9").unwrap().0.grpc_port,
            Some(9)
        );
        assert!(parse("nacos://h/a?grpc_port=x").is_err());
        let typo = parse("nacos://u:pw@h/a.yaml?namspace=n&token=t0k").unwrap_err();
        assert!(
            typo.to_string().contains("unknown parameter `namspace`"),
            "{typo}"
        );
        assert!(!typo.to_string().contains("pw@") && !typo.to_string().contains("t0k"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let client = crate::NacosClient::new(["h:1"]).user("nacos", "s3cr3t-pw");
        let provider = crate::NacosProvider::new(&client, NacosSource::new("app.yaml"));
        assert!(!format!("{client:?} {provider:?}").contains("s3cr3t-pw"));
        assert!(!provider.name().contains("s3cr3t-pw"));
    }
}
