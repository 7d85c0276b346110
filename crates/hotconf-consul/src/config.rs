//! What a Consul provider follows ([`ConsulSource`]), and the `consul://` URI that describes a
//! client and a source at once.

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

/// The request rate limit of the watch loop: the core's [`LongPollPace`](hotconf_core::LongPollPace),
/// a token bucket that allows `burst` requests at once, refilled with one token every `refill`
/// (default burst 2, one more per second). Idle blocking queries never use it up (a query the
/// server held earns its token back); it only bounds the requests while values churn, or while
/// a server answers at once (index 0, a proxy that does not hold requests).
pub use hotconf_core::LongPollPace as RateLimit;

/// How long a blocking query may wait by default: 5 minutes, Consul's own default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// How to reach Consul: the settings of a [`ConsulClient`](crate::ConsulClient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientConfig {
    /// `host:port` of the agent (exactly one).
    pub(crate) endpoints: Vec<String>,
    /// The ACL token, sent in the `X-Consul-Token` header only (`Secret`: never printed).
    pub(crate) token: Option<Secret>,
    /// The datacenter to read (`?dc=`); the agent's own when `None`.
    pub(crate) datacenter: Option<String>,
    /// Which servers may answer.
    pub(crate) consistency: Consistency,
    /// TLS (`https://`), if the agent serves it.
    pub(crate) tls: Option<TlsFiles>,
    /// What one read may bring.
    pub(crate) limits: Limits,
}

impl ClientConfig {
    pub(crate) fn new(endpoints: Vec<String>) -> Self {
        ClientConfig {
            endpoints,
            token: None,
            datacenter: None,
            consistency: Consistency::Default,
            tls: None,
            limits: Limits::default(),
        }
    }
}

/// What a [`ConsulProvider`](crate::ConsulProvider) follows: a prefix (every key under it,
/// nested on `/`) or one key holding a document, and how to follow it.
///
/// Made with [`ConsulSource::prefix`], [`ConsulSource::key`], or from a [`KeySpace`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsulSource {
    /// The prefix or the key, and how to read it.
    pub space: KeySpace,
    /// How long one blocking query may wait; clamped to 10 minutes, as Consul clamps it.
    /// Default [`DEFAULT_WAIT`] (5 minutes).
    pub wait: Duration,
    /// The watch loop's request rate limit.
    pub rate_limit: RateLimit,
    /// In key mode: follow rollouts (the record `KEY.rollout`, see docs/rollout.md), deciding
    /// membership as this instance id. `None`: the key alone.
    pub rollout: Option<String>,
}

impl ConsulSource {
    /// Every key under `prefix` (a `/` is appended if missing, so `app` never matches
    /// `application/…`).
    pub fn prefix(prefix: &str) -> Self {
        KeySpace::prefix(prefix).into()
    }

    /// One key holding a document in `format`.
    pub fn key(key: &str, format: Format) -> Self {
        KeySpace::key(key, format).into()
    }

    /// Types prefix values as JSON scalars.
    pub fn typed(mut self) -> Self {
        self.space.typed = true;
        self
    }

    /// Lets each blocking query wait up to `wait` (default 5 minutes).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Follows rollouts of this key (the record `KEY.rollout`, docs/rollout.md) as this
    /// process's [`instance_id`](hotconf_core::instance_id) (read now).
    pub fn rollout(self) -> Self {
        self.rollout_as(hotconf_core::instance_id())
    }

    /// Follows rollouts of this key as instance `instance_id`. Only for a key: on a prefix
    /// the provider fails with a configuration error.
    pub fn rollout_as(mut self, instance_id: impl Into<String>) -> Self {
        self.rollout = Some(instance_id.into());
        self
    }

    /// Sets the watch loop's rate limit.
    pub fn rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }
}

impl From<KeySpace> for ConsulSource {
    fn from(space: KeySpace) -> Self {
        ConsulSource {
            space,
            wait: DEFAULT_WAIT,
            rate_limit: RateLimit::default(),
            rollout: None,
        }
    }
}

/// Parses `consul://host[:port]/path?mode=prefix|key&format=json&typed=true&rollout=true&token=…&dc=…&consistency=stale|consistent&wait=30s&burst=2&refill=1s&tls=true&ca=…&cert=…&key=…`
/// into client settings and a source (`burst` and `refill`: the [`RateLimit`] while values churn).
pub(crate) fn from_uri(uri: &SourceUri) -> Result<(ClientConfig, ConsulSource)> {
    uri.expect_scheme(SCHEMES)?;
    let mut client = ClientConfig::new(vec![uri.one_endpoint(DEFAULT_PORT)?]);
    let mut query = uri.query();
    let mut source = ConsulSource::from(query.key_space()?);
    client.token = query.secret("token");
    client.datacenter = query.get("dc").map(str::to_owned);
    client.consistency = match query.choice("consistency", &["default", "stale", "consistent"])? {
        Some("stale") => Consistency::Stale,
        Some("consistent") => Consistency::Consistent,
        _ => Consistency::Default,
    };
    if let Some(wait) = query.duration("wait")? {
        source.wait = wait;
    }
    if let Some(burst) = query.parse::<u32>("burst")? {
        source.rate_limit.burst = burst.max(1);
    }
    if let Some(refill) = query.positive_duration("refill")? {
        source.rate_limit.refill = refill;
    }
    if query.flag("rollout")? {
        if source.space.mode == Mode::Prefix {
            return Err(uri.error(format_args!(
                "rollout=true follows a single key (mode=key), not a prefix"
            )));
        }
        source = source.rollout();
    }
    client.tls = query.tls()?;
    query.finish()?;
    Ok((client, source))
}

/// The source's printable name: a `consul://` URI without the token.
pub(crate) fn name(client: &ClientConfig, source: &ConsulSource) -> String {
    let mode = KeySpace::mode_param(&source.space.mode);
    let dc = client
        .datacenter
        .as_ref()
        .map_or(String::new(), |dc| format!("&dc={dc}"));
    let rollout = if source.rollout.is_some() {
        "&rollout=true"
    } else {
        ""
    };
    format!(
        "consul://{}/{}?mode={mode}{dc}{rollout}",
        client.endpoints.join(","),
        source.space.path
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(ClientConfig, ConsulSource)> {
        from_uri(&s.parse().unwrap())
    }

    #[test]
    fn uris() {
        let (c, s) =
            parse("consul://127.0.0.1:8500/app?token=s3cr3t&dc=dc2&consistency=stale&wait=30s")
                .unwrap();
        assert_eq!(
            (s.space.mode.clone(), s.space.path.as_str()),
            (Mode::Prefix, "app/")
        );
        assert_eq!(c.token.as_ref().unwrap().expose(), "s3cr3t");
        assert_eq!(
            (c.datacenter.as_deref(), c.consistency),
            (Some("dc2"), Consistency::Stale)
        );
        assert_eq!(s.wait, Duration::from_secs(30));
        assert_eq!(
            name(&c, &s),
            "consul://127.0.0.1:8500/app/?mode=prefix&dc=dc2"
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(s.rate_limit, RateLimit::default());
        let (_, s) = parse("consul://h/app/?burst=50&refill=10ms").unwrap();
        assert_eq!(
            s.rate_limit,
            RateLimit {
                burst: 50,
                refill: Duration::from_millis(10)
            }
        );
        assert!(parse("consul://h/app/?burst=lots").is_err());
        assert!(parse("consul://h/app/?refill=0s").is_err());
        let (c, rolled) = parse("consul://h:1/app/config.json?rollout=true").unwrap();
        assert!(rolled.rollout.is_some());
        assert!(name(&c, &rolled).ends_with("?mode=key&format=json&rollout=true"));
        let refused = parse("consul://h:1/app/?rollout=true").unwrap_err();
        assert!(refused.to_string().contains("single key"), "{refused}");
        assert_eq!(
            parse("consul://h/app/config.yaml").unwrap().1.space.mode,
            Mode::Key(Format::Yaml)
        );
        assert_eq!(
            parse("consul://h:1/app/config?mode=key&format=json")
                .unwrap()
                .1
                .space
                .mode,
            Mode::Key(Format::Json)
        );
        assert_eq!(parse("consul://h/x/").unwrap().0.endpoints, ["h:8500"]);
        assert!(parse("consul://h/x/?ca=/ca.pem").unwrap().0.tls.is_some());
        assert!(parse("consul://h/x/?tls=true").unwrap().0.tls.is_some());
        let typo = parse("consul://h/x/?consistensy=stale").unwrap_err();
        assert!(
            typo.to_string().contains("unknown parameter `consistensy`"),
            "{typo}"
        );
        // Every refused URI carries the token: its errors must not repeat it (Display, Debug and
        // the cause chain).
        for bad in [
            "consul://h:1/app/config?mode=key&token=s3cr3t",
            "consul://h:1/?token=s3cr3t",
            "consul://h:1,h:2/app/?token=s3cr3t",
            "consul://h:1/app/?token=s3cr3t&consistency=weird",
            "consul://h:1/app/?cert=/c.pem&token=s3cr3t",
            "consul://h:1/app/?wait=soon&token=s3cr3t",
            "consul://h:1/app/?mode=bogus&token=s3cr3t",
            "consul://h:1/app/config?format=nope&token=s3cr3t",
            "etcd://h:1/app/?token=s3cr3t",
            "consul://h:1/app/?tokne=x&token=s3cr3t",
            "consul://h:1/app/?password=s3cr3t",
            "consul:///app/?token=s3cr3t",
        ] {
            let uri: SourceUri = bad.parse().unwrap();
            assert!(bad.contains("s3cr3t"));
            let err = from_uri(&uri).unwrap_err();
            let mut text = format!("{err} {err:?} {uri} {uri:?}");
            let mut cause = std::error::Error::source(&err);
            while let Some(c) = cause {
                text.push_str(&format!(" {c} {c:?}"));
                cause = c.source();
            }
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }

    #[tokio::test]
    async fn a_client_never_fails_to_build_and_never_shows_its_token() {
        use hotconf_core::{ErrorKind, Provider};
        let client = crate::ConsulClient::new(["h:1", "h:2"]).token("s3cr3t-t0k");
        let provider = crate::ConsulProvider::new(&client, ConsulSource::prefix("app/"));
        assert!(!format!("{client:?} {provider:?}").contains("s3cr3t-t0k"));
        let err = provider.load().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(!err.is_transient(), "{err}");
        assert!(err.to_string().contains("exactly one agent"), "{err}");
        let missing = crate::ConsulClient::new(["127.0.0.1:1"]).tls(TlsFiles {
            ca: Some("/nonexistent/hotconf-ca.pem".into()),
            identity: None,
        });
        let err = crate::ConsulProvider::new(&missing, KeySpace::prefix("app/"))
            .load()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(!err.is_transient(), "{err}");
    }
}
