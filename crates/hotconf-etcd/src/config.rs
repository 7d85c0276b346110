//! What an etcd provider follows ([`EtcdSource`]), and the `etcd://` URI that describes a client
//! and a source at once.

use std::time::Duration;

use hotconf_core::provider::{KeySpace, SourceUri};
use hotconf_core::{Format, Limits, Result, Secret};

pub use hotconf_core::provider::{Mode, TlsFiles};

/// The URI schemes this backend serves: `etcd://`.
pub const SCHEMES: &[&str] = &["etcd"];
/// The port of an endpoint written without one: 2379, etcd's client port.
pub const DEFAULT_PORT: u16 = 2379;

/// The default [`EtcdClient::request_timeout`](crate::EtcdClient::request_timeout): 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`EtcdSource::watch_check`]: 30 s.
pub const DEFAULT_WATCH_CHECK: Duration = Duration::from_secs(30);

/// How to reach etcd: the settings of an [`EtcdClient`](crate::EtcdClient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientConfig {
    /// `host:port` of each member.
    pub(crate) endpoints: Vec<String>,
    /// User name for etcd auth.
    pub(crate) user: Option<String>,
    /// Password for etcd auth (`Secret`: never printed).
    pub(crate) password: Option<Secret>,
    /// TLS, if the members serve it.
    pub(crate) tls: Option<TlsFiles>,
    /// The deadline of every request that should answer at once.
    pub(crate) request_timeout: Duration,
    /// Bounds on what one source may hold.
    pub(crate) limits: Limits,
}

impl ClientConfig {
    pub(crate) fn new(endpoints: Vec<String>) -> Self {
        ClientConfig {
            endpoints,
            user: None,
            password: None,
            tls: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            limits: Limits::default(),
        }
    }
}

/// What an [`EtcdProvider`](crate::EtcdProvider) follows: a prefix (every key under it, nested
/// on `/`) or one key holding a document, and how to follow it.
///
/// Made with [`EtcdSource::prefix`], [`EtcdSource::key`], or from a [`KeySpace`] (every
/// constructor taking `impl Into<EtcdSource>` takes a `KeySpace` too).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EtcdSource {
    /// The prefix or the key, and how to read it.
    pub space: KeySpace,
    /// How long a watch may stay silent before the provider asks the member for a progress
    /// notification, which it must answer within the client's
    /// [`request_timeout`](crate::EtcdClient::request_timeout) (a member that answers HTTP/2
    /// pings but not the watch is noticed that way). Default [`DEFAULT_WATCH_CHECK`] (30 s).
    pub watch_check: Duration,
    /// In key mode: follow rollouts (the record `KEY.rollout`, see docs/rollout.md), deciding
    /// membership as this instance id. `None`: the key alone.
    pub rollout: Option<String>,
}

impl EtcdSource {
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

    /// Sets how long a watch may stay silent before it is checked (see
    /// [`watch_check`](field@Self::watch_check)). Zero is taken as 1 ms.
    pub fn watch_check(mut self, silence: Duration) -> Self {
        self.watch_check = silence.max(Duration::from_millis(1));
        self
    }
}

impl From<KeySpace> for EtcdSource {
    fn from(space: KeySpace) -> Self {
        EtcdSource {
            space,
            watch_check: DEFAULT_WATCH_CHECK,
            rollout: None,
        }
    }
}

/// Parses `etcd://[user:password@]host[:port][,host[:port]]/path?mode=prefix|key&format=yaml&typed=true&rollout=true&tls=true&ca=…&cert=…&key=…&timeout=10s&watch_check=30s`
/// into client settings and a source.
pub(crate) fn from_uri(uri: &SourceUri) -> Result<(ClientConfig, EtcdSource)> {
    uri.expect_scheme(SCHEMES)?;
    let mut client = ClientConfig::new(uri.endpoints_with_port(DEFAULT_PORT)?);
    let mut query = uri.query();
    let mut source = EtcdSource::from(query.key_space()?);
    client.tls = query.tls()?;
    if let Some(timeout) = query.positive_duration("timeout")? {
        client.request_timeout = timeout;
    }
    if let Some(check) = query.positive_duration("watch_check")? {
        source.watch_check = check;
    }
    if query.flag("rollout")? {
        if source.space.mode == Mode::Prefix {
            return Err(uri.error(format_args!(
                "rollout=true follows a single key (mode=key), not a prefix"
            )));
        }
        source = source.rollout();
    }
    query.finish()?;
    client.user = uri.username.clone();
    client.password = uri.password.clone();
    Ok((client, source))
}

/// The source's printable name: an `etcd://` URI without the password.
pub(crate) fn name(client: &ClientConfig, source: &EtcdSource) -> String {
    let user = client
        .user
        .as_ref()
        .map_or(String::new(), |u| format!("{u}@"));
    format!(
        "etcd://{user}{}/{}?mode={}{}",
        client.endpoints.join(","),
        source.space.path,
        KeySpace::mode_param(&source.space.mode),
        if source.rollout.is_some() {
            "&rollout=true"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(s: &str) -> Result<(ClientConfig, EtcdSource)> {
        from_uri(&s.parse().unwrap())
    }

    #[test]
    fn uris() {
        let (c, s) = parse("etcd://root:pw@127.0.0.1:2379,127.0.0.1:22379/app/").unwrap();
        assert_eq!(
            (s.space.mode.clone(), s.space.path.as_str()),
            (Mode::Prefix, "app/")
        );
        assert_eq!(c.endpoints, ["127.0.0.1:2379", "127.0.0.1:22379"]);
        assert_eq!(
            name(&c, &s),
            "etcd://root@127.0.0.1:2379,127.0.0.1:22379/app/?mode=prefix"
        );
        assert!(!format!("{c:?}").contains("pw"));
        assert_eq!(
            parse("etcd://h:1/app?mode=prefix").unwrap().1.space.path,
            "app/"
        );
        assert_eq!(
            parse("etcd://h:1/app/config.yaml").unwrap().1.space.mode,
            Mode::Key(Format::Yaml)
        );
        assert_eq!(
            parse("etcd://h:1/app/config?mode=key&format=json")
                .unwrap()
                .1
                .space
                .mode,
            Mode::Key(Format::Json)
        );
        assert!(parse("etcd://h:1/app/config?mode=key").is_err());
        assert!(parse("etcd://h:1/").is_err());
        let tls = parse("etcd://h:1/app/?ca=/ca.pem&cert=/c.pem&key=/k.pem")
            .unwrap()
            .0
            .tls
            .unwrap();
        assert_eq!(
            tls.identity,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        assert!(parse("etcd://h:1/app/?cert=/c.pem").is_err());
        let (timed, checked) = parse("etcd://h:1/app/?timeout=250ms&watch_check=2s").unwrap();
        assert_eq!(timed.request_timeout, Duration::from_millis(250));
        assert_eq!(checked.watch_check, Duration::from_secs(2));
        assert_eq!(
            parse("etcd://h:1/app/").unwrap().0.request_timeout,
            DEFAULT_REQUEST_TIMEOUT
        );
        assert!(parse("etcd://h:1/app/?timeout=0s").is_err());
        assert!(parse("etcd://h:1/app/?timeout=soon").is_err());
        assert_eq!(
            parse("etcd://h,[::1]/app/").unwrap().0.endpoints,
            ["h:2379", "[::1]:2379"]
        );
        assert!(parse("etcd:///app/").is_err(), "no host");
        let (c, rolled) = parse("etcd://h:1/app/config.json?rollout=true").unwrap();
        assert!(rolled.rollout.is_some());
        assert_eq!(
            name(&c, &rolled),
            "etcd://h:1/app/config.json?mode=key&format=json&rollout=true"
        );
        let refused = parse("etcd://h:1/app/?rollout=true").unwrap_err();
        assert!(refused.to_string().contains("single key"), "{refused}");
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
        let client = crate::EtcdClient::new(["h:1"]).user("root", "s3cr3t-pw");
        assert!(!format!("{client:?}").contains("s3cr3t-pw"));
        let provider = crate::EtcdProvider::new(&client, EtcdSource::prefix("app/"));
        assert!(!format!("{provider:?}").contains("s3cr3t-pw"));
        assert!(!provider.name().contains("s3cr3t-pw"));
        let parsed =
            crate::EtcdProvider::from_uri(&"etcd://root:s3cr3t-pw@h/app/".parse().unwrap())
                .unwrap();
        assert!(!format!("{parsed:?}").contains("s3cr3t-pw"));
    }
}
