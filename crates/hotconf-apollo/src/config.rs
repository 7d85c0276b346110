//! What an Apollo provider follows ([`ApolloSource`]), the client's settings, and the
//! `apollo://` URI that describes a client and a source at once.

use std::time::Duration;

use hotconf_core::provider::SourceUri;
use hotconf_core::{Error, ErrorKind, Format, Limits, LongPollPace, Result, Secret};

/// The URI schemes this backend serves: `apollo://`.
pub const SCHEMES: &[&str] = &["apollo"];
/// The port of a server address written without one: 8080, the config service's (and meta
/// server's) port in Apollo's quick start.
pub const DEFAULT_PORT: u16 = 8080;
/// How long one long poll may take before the client gives up on it: 90 s, above the server's
/// 60 s hold (Apollo's Java client uses 90 s too).
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(90);
/// How often every followed namespace is read in full, in case a notification was lost: 5
/// minutes, as Apollo's Java client.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(300);
/// The timeout of requests that do not wait (reads, meta-server listings).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach Apollo: the settings of an [`ApolloClient`](crate::ApolloClient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientConfig {
    /// `host:port` (or `http://host:port[/path]`) of config services, or of meta servers when
    /// `meta` is set.
    pub(crate) endpoints: Vec<String>,
    pub(crate) meta: bool,
    pub(crate) app_id: String,
    pub(crate) cluster: String,
    /// The access key's secret (`Secret`: never printed).
    pub(crate) secret: Option<Secret>,
    pub(crate) ip: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) data_center: Option<String>,
    pub(crate) request_timeout: Duration,
    pub(crate) poll_timeout: Duration,
    pub(crate) check_interval: Duration,
    /// The pace of the long poll when the server answers at once.
    pub(crate) poll_pace: LongPollPace,
    pub(crate) limits: Limits,
}

impl ClientConfig {
    pub(crate) fn new(endpoints: Vec<String>) -> Self {
        ClientConfig {
            endpoints,
            meta: false,
            app_id: String::new(),
            cluster: "default".to_owned(),
            secret: None,
            ip: None,
            label: None,
            data_center: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            poll_timeout: DEFAULT_POLL_TIMEOUT,
            check_interval: DEFAULT_CHECK_INTERVAL,
            poll_pace: LongPollPace::DEFAULT,
            limits: Limits::default(),
        }
    }

    /// Checks what a request needs: an app id, a cluster, at least one server.
    pub(crate) fn check(&self) -> Result<()> {
        let refuse = |why: &str| Err(Error::new(ErrorKind::Config, format!("apollo: {why}")));
        if self.endpoints.is_empty() {
            return refuse("give at least one config service (or meta server) address");
        }
        if self.app_id.is_empty() {
            return refuse("give the app id (`ApolloClient::app_id`)");
        }
        if self.cluster.is_empty() {
            return refuse("the cluster name is empty");
        }
        Ok(())
    }
}

/// How a namespace's configurations become a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A properties namespace (no suffix, or `.properties`): its keys nested on `.`.
    Properties,
    /// A namespace with a suffix: its one `content` key holds a document in this format.
    Document(Format),
    /// A suffix hotconf cannot parse (`.txt`, `.xml`) and no format given: an error at first
    /// use, naming the suffix.
    Unknown,
}

/// What an [`ApolloProvider`](crate::ApolloProvider) follows: one namespace of the client's
/// app and cluster.
///
/// A bare name (`application`) or one ending in `.properties` is a properties namespace, whose
/// keys become a key space (`db.host = h` → `{db: {host: h}}`). A name with a suffix
/// (`app.yaml`, `app.yml`, `app.json`) holds one document, parsed by that suffix; for
/// `.txt` (or any other suffix) give the document's format with [`format`](Self::format).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApolloSource {
    /// The namespace's name as Apollo knows it (suffix included).
    pub namespace: String,
    /// How its configurations become a layer.
    pub kind: Kind,
    /// In a properties namespace, type values as JSON scalars (`5432` a number) instead of
    /// strings.
    pub typed: bool,
}

impl ApolloSource {
    /// The namespace `name` (`application`, `datasources.json`, `app.yaml`…).
    pub fn namespace(name: impl Into<String>) -> Self {
        let namespace = name.into();
        let kind = match namespace.rsplit_once('.') {
            None => Kind::Properties,
            Some((_, "properties")) => Kind::Properties,
            Some((_, ext)) => Format::from_extension(ext).map_or(Kind::Unknown, Kind::Document),
        };
        ApolloSource {
            namespace,
            kind,
            typed: false,
        }
    }

    /// Parses the namespace's `content` as `format` (for `.txt` namespaces, say).
    pub fn format(mut self, format: Format) -> Self {
        self.kind = Kind::Document(format);
        self
    }

    /// Types a properties namespace's values as JSON scalars.
    pub fn typed(mut self) -> Self {
        self.typed = true;
        self
    }
}

impl From<&str> for ApolloSource {
    fn from(name: &str) -> Self {
        ApolloSource::namespace(name)
    }
}

/// Parses `apollo://HOST:PORT[,HOST:PORT…]/APP_ID/NAMESPACE?cluster=C&secret=S&label=L&ip=IP&dc=D&meta=true&format=F&typed=true&check=5m&poll_timeout=90s&burst=2&refill=1s`
/// into client settings and a source (`burst` and `refill`: the long poll's [`LongPollPace`]).
pub(crate) fn from_uri(uri: &SourceUri) -> Result<(ClientConfig, ApolloSource)> {
    uri.expect_scheme(SCHEMES)?;
    let mut client = ClientConfig::new(uri.endpoints_with_port(DEFAULT_PORT)?);
    let path = uri.path.trim_matches('/');
    let Some((app, namespace)) = path
        .split_once('/')
        .filter(|(a, n)| !a.is_empty() && !n.is_empty() && !n.contains('/'))
    else {
        return Err(uri.error(
            "give the app id and the namespace as the path: apollo://host:port/APP_ID/NAMESPACE",
        ));
    };
    client.app_id = app.to_owned();
    let mut query = uri.query();
    if let Some(cluster) = query.get("cluster") {
        client.cluster = cluster.to_owned();
    }
    client.secret = query.secret("secret");
    client.label = query.get("label").map(str::to_owned);
    client.ip = query.get("ip").map(str::to_owned);
    client.data_center = query.get("dc").map(str::to_owned);
    client.meta = query.flag("meta")?;
    if let Some(check) = query.positive_duration("check")? {
        client.check_interval = check;
    }
    if let Some(timeout) = query.positive_duration("poll_timeout")? {
        client.poll_timeout = timeout;
    }
    if let Some(burst) = query.parse::<u32>("burst")? {
        client.poll_pace.burst = burst.max(1);
    }
    if let Some(refill) = query.positive_duration("refill")? {
        client.poll_pace.refill = refill;
    }
    let mut source = ApolloSource::namespace(namespace);
    if let Some(format) = query.format()? {
        source = source.format(format);
    }
    source.typed = query.flag("typed")?;
    query.finish()?;
    Ok((client, source))
}

/// The source's printable name: an `apollo://` URI without the secret.
pub(crate) fn name(client: &ClientConfig, source: &ApolloSource) -> String {
    let mut params = vec![format!("cluster={}", client.cluster)];
    for (name, value) in [
        ("dc", &client.data_center),
        ("label", &client.label),
        ("ip", &client.ip),
    ] {
        if let Some(value) = value {
            params.push(format!("{name}={value}"));
        }
    }
    if client.meta {
        params.push("meta=true".to_owned());
    }
    format!(
        "apollo://{}/{}/{}?{}",
        client.endpoints.join(","),
        client.app_id,
        source.namespace,
        params.join("&")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(ClientConfig, ApolloSource)> {
        from_uri(&s.parse().unwrap())
    }

    #[test]
    fn namespaces_and_their_kinds() {
        assert_eq!(
            ApolloSource::namespace("application").kind,
            Kind::Properties
        );
        assert_eq!(
            ApolloSource::namespace("a.properties").kind,
            Kind::Properties
        );
        assert_eq!(
            ApolloSource::namespace("a.yml").kind,
            Kind::Document(Format::Yaml)
        );
        assert_eq!(
            ApolloSource::namespace("a.yaml").kind,
            Kind::Document(Format::Yaml)
        );
        assert_eq!(
            ApolloSource::namespace("a.json").kind,
            Kind::Document(Format::Json)
        );
        assert_eq!(ApolloSource::namespace("a.txt").kind, Kind::Unknown);
        assert_eq!(
            ApolloSource::namespace("a.txt").format(Format::Toml).kind,
            Kind::Document(Format::Toml)
        );
    }

    #[test]
    fn uris() {
        let (c, s) = parse(
            "apollo://127.0.0.1:8080/app1/application?cluster=sh&secret=s3cr3t&label=canary&ip=10.0.0.7&dc=dc1&check=30s",
        )
        .unwrap();
        assert_eq!(c.endpoints, ["127.0.0.1:8080"]);
        assert_eq!((c.app_id.as_str(), c.cluster.as_str()), ("app1", "sh"));
        assert_eq!(c.secret.as_ref().unwrap().expose(), "s3cr3t");
        assert_eq!(
            (c.label.as_deref(), c.ip.as_deref()),
            (Some("canary"), Some("10.0.0.7"))
        );
        assert_eq!(c.data_center.as_deref(), Some("dc1"));
        assert_eq!(c.check_interval, Duration::from_secs(30));
        assert_eq!(c.poll_pace, LongPollPace::DEFAULT);
        assert!(!c.meta);
        assert_eq!(s.namespace, "application");
        let printed = name(&c, &s);
        assert_eq!(
            printed,
            "apollo://127.0.0.1:8080/app1/application?cluster=sh&dc=dc1&label=canary&ip=10.0.0.7"
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let (c, s) = parse("apollo://m1,m2:9000/app/app.yaml?meta=true").unwrap();
        assert_eq!(c.endpoints, ["m1:8080", "m2:9000"]);
        assert!(c.meta);
        assert_eq!(c.cluster, "default");
        assert_eq!(s.kind, Kind::Document(Format::Yaml));
        let (c, _) = parse("apollo://h/app/application?burst=5&refill=250ms").unwrap();
        assert_eq!(
            c.poll_pace,
            LongPollPace {
                burst: 5,
                refill: Duration::from_millis(250)
            }
        );
        assert!(parse("apollo://h/app/application?refill=0s").is_err());
        let (_, s) = parse("apollo://h/app/notes.txt?format=json").unwrap();
        assert_eq!(s.kind, Kind::Document(Format::Json));
        for bad in [
            "apollo://h/app?secret=s3cr3t",
            "apollo://h/app/a/b?secret=s3cr3t",
            "apollo:///app/application?secret=s3cr3t",
            "apollo://h/app/application?secret=s3cr3t&clster=x",
            "apollo://h/app/application?secret=s3cr3t&meta=maybe",
            "consul://h/app/application?secret=s3cr3t",
        ] {
            let uri: SourceUri = bad.parse().unwrap();
            let err = from_uri(&uri).unwrap_err();
            let mut text = format!("{err} {err:?} {uri} {uri:?}");
            let mut cause = std::error::Error::source(&err);
            while let Some(c) = cause {
                text.push_str(&format!(" {c} {c:?}"));
                cause = c.source();
            }
            assert!(!text.contains("s3cr3t"), "{text}");
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}: {err}");
        }
    }
}
