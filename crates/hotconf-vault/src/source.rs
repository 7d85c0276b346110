//! `VaultSource`: which secret (or prefix) a provider follows, how often, where in the config it
//! goes; and the `vault://` URI.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hotconf_core::provider::{Capabilities, Follow, FollowedProvider, FollowedSource, SourceUri};
use hotconf_core::Result;

use crate::client::{Auth, VaultClient, SERVICE_ACCOUNT_TOKEN};
use crate::follow::Poller;

/// The schemes of [`VaultProvider::from_uri`].
pub const SCHEMES: &[&str] = &["vault"];

/// The default poll interval of KV secrets: 30 s (jittered by ±10 %).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// The shortest interval a URI may ask for; below it, a fleet's polls would be a load on the
/// server. (The builder takes any interval, 0 too, for benchmarks.)
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Vault's port when the URI names none.
const DEFAULT_PORT: u16 = 8200;

/// A secret, every secret under a prefix, or a leased credential on a Vault or OpenBao server,
/// as a **secret layer** (every value it supplies is redacted in every output).
///
/// Made from `vault://HOST:PORT/PATH` with `VaultProvider::from_uri`: `PATH` is the secret's
/// path as the CLI writes it (`secret/app/db`, the mount first); a trailing `/` follows every
/// secret under it, each one a subtree named by its path relative to the prefix. Parameters:
/// `kv=1|2` (skip the engine's detection), `interval=30s`, `at=db` (put the secret's keys under
/// `db`), `namespace=NS`, `tls=true`, `ca=FILE`, `cert=FILE&key=FILE`; the token from
/// `token_file=FILE`, `role_id=ID&secret_id_file=FILE[&approle_mount=approle]`,
/// `k8s_role=ROLE[&k8s_mount=kubernetes][&jwt_file=FILE]`, else `VAULT_TOKEN`/`BAO_TOKEN`.
/// Without a host, `VAULT_ADDR` (else `BAO_ADDR`) names the server: `vault:///secret/app`.
/// Plain HTTP unless `tls`, `ca` or the address says `https`.
///
/// ```
/// use hotconf_vault::VaultProvider;
/// let db = VaultProvider::from_uri(
///     &"vault://127.0.0.1:8200/secret/app/db?at=db&token_file=/run/token".parse().unwrap(),
/// )
/// .unwrap();
/// assert_eq!(db.name(), "vault://127.0.0.1:8200/secret/app/db?at=db");
/// ```
pub type VaultProvider = FollowedProvider<VaultSource>;

/// A KV engine's version, when it is given rather than detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvVersion {
    /// KV v1: no versions; the data is polled and compared.
    V1,
    /// KV v2: the metadata's `current_version` is polled, the data read when it moves.
    V2,
}

/// What a [`VaultProvider`] follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSource {
    /// The path, mount first, without slashes at either end.
    pub(crate) path: String,
    pub(crate) prefix: bool,
    pub(crate) kv: Option<KvVersion>,
    pub(crate) interval: Duration,
    /// Dotted key path under which the secret's keys go (`db`: `db.password`).
    pub(crate) at: Vec<String>,
}

impl VaultSource {
    /// The secret at `path` (`secret/app/db`, mount first): its keys are the layer's keys.
    pub fn secret(path: impl AsRef<str>) -> Self {
        VaultSource {
            path: path.as_ref().trim_matches('/').to_owned(),
            prefix: false,
            kv: None,
            interval: DEFAULT_INTERVAL,
            at: Vec::new(),
        }
    }

    /// Every secret under `path` (`secret/app/`) on a KV mount, each as a subtree named by its
    /// path relative to `path` (`db/primary` → `db.primary.*`).
    pub fn prefix(path: impl AsRef<str>) -> Self {
        VaultSource {
            prefix: true,
            ..VaultSource::secret(path)
        }
    }

    /// Takes the mount as KV `version` instead of asking the server (`sys/internal/ui/mounts`).
    pub fn kv(mut self, version: KvVersion) -> Self {
        self.kv = Some(version);
        self
    }

    /// Polls every `interval` (jittered by ±10 %) instead of [`DEFAULT_INTERVAL`]. A leased
    /// secret is not polled: it is read again when its lease must be replaced.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Puts the secret's keys under the dotted key path `at` (`db` → `db.password`).
    pub fn at(mut self, at: &str) -> Self {
        self.at = at
            .split('.')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        self
    }

    /// The path, mount first.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether every secret under the path is followed.
    pub fn is_prefix(&self) -> bool {
        self.prefix
    }
}

impl FollowedSource for VaultSource {
    type Client = VaultClient;

    fn capabilities(&self) -> Capabilities {
        Capabilities::WATCH.interruptible().permanent_failures()
    }

    /// Every Vault layer is a secret layer (`?secret=false` opts out).
    fn secret(&self) -> bool {
        true
    }

    fn name(&self, client: &VaultClient) -> String {
        let host = client
            .address()
            .split_once("://")
            .map_or(client.address(), |(_, host)| host);
        let slash = if self.prefix { "/" } else { "" };
        let mut params = Vec::new();
        if let Some(kv) = self.kv {
            params.push(format!("kv={}", if kv == KvVersion::V1 { 1 } else { 2 }));
        }
        if self.interval != DEFAULT_INTERVAL {
            params.push(format!("interval={:?}", self.interval));
        }
        if !self.at.is_empty() {
            params.push(format!("at={}", self.at.join(".")));
        }
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        format!("vault://{host}/{}{slash}{query}", self.path)
    }

    fn follower(
        self: &Arc<Self>,
        client: &VaultClient,
        _: &str,
        watching: bool,
    ) -> Result<Box<dyn Follow>> {
        Ok(Box::new(Poller::new(
            client.clone(),
            self.clone(),
            watching,
        )))
    }

    fn from_uri(uri: &SourceUri) -> Result<(VaultClient, VaultSource)> {
        uri.expect_scheme(SCHEMES)?;
        let mut query = uri.query();
        let tls = query.tls()?;
        let address = if uri.endpoints.is_empty() {
            let from_env = ["VAULT_ADDR", "BAO_ADDR"]
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|a| !a.trim().is_empty()));
            from_env.ok_or_else(|| {
                uri.error("give the server (vault://HOST:PORT/…) or set VAULT_ADDR or BAO_ADDR")
            })?
        } else {
            let host = uri.one_endpoint(DEFAULT_PORT)?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{host}")
        };
        if uri.path.trim_matches('/').is_empty() {
            return Err(uri.error("give the secret's path, mount first: vault://HOST/secret/app"));
        }
        let mut source = if uri.path.ends_with('/') {
            VaultSource::prefix(&uri.path)
        } else {
            VaultSource::secret(&uri.path)
        };
        source.kv = match query.choice("kv", &["1", "2"])? {
            Some("1") => Some(KvVersion::V1),
            Some(_) => Some(KvVersion::V2),
            None => None,
        };
        if let Some(interval) = query.duration("interval")? {
            if interval < MIN_INTERVAL {
                return Err(uri.error(format_args!("interval: at least {MIN_INTERVAL:?}")));
            }
            source.interval = interval;
        }
        if let Some(at) = query.get("at") {
            source = source.at(at);
        }
        let mut client = VaultClient::new(&address).tls(tls);
        if let Some(namespace) = query.get("namespace") {
            client = client.namespace(namespace);
        }
        if let Some(auth) = auth_from(&mut query)? {
            client = client.auth(auth);
        }
        query.finish()?;
        Ok((client, source))
    }
}

/// The login or token a URI names, if it names one (else the environment's token stays).
fn auth_from(query: &mut hotconf_core::provider::Query<'_>) -> Result<Option<Auth>> {
    let uri = query.uri();
    let token = query.secret("token");
    let token_file = query.get("token_file");
    let role_id = query.get("role_id");
    let secret_id_file = query.get("secret_id_file");
    let approle_mount = query.get("approle_mount");
    let k8s_role = query.get("k8s_role");
    let k8s_mount = query.get("k8s_mount");
    let jwt_file = query.get("jwt_file");
    let given = [
        token.is_some(),
        token_file.is_some(),
        role_id.is_some(),
        k8s_role.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(uri.error("give one of token, token_file, role_id and k8s_role"));
    }
    if role_id.is_some() != secret_id_file.is_some() {
        return Err(uri.error("role_id and secret_id_file go together (AppRole login)"));
    }
    if approle_mount.is_some() && role_id.is_none() {
        return Err(uri.error("approle_mount needs role_id"));
    }
    if (k8s_mount.is_some() || jwt_file.is_some()) && k8s_role.is_none() {
        return Err(uri.error("k8s_mount and jwt_file need k8s_role"));
    }
    Ok(if let Some(token) = token {
        Some(Auth::Token(token))
    } else if let Some(file) = token_file {
        Some(Auth::TokenFile(PathBuf::from(file)))
    } else if let (Some(role_id), Some(file)) = (role_id, secret_id_file) {
        Some(Auth::AppRole {
            mount: approle_mount.unwrap_or("approle").to_owned(),
            role_id: role_id.to_owned(),
            secret_id_file: PathBuf::from(file),
        })
    } else {
        k8s_role.map(|role| Auth::Kubernetes {
            mount: k8s_mount.unwrap_or("kubernetes").to_owned(),
            role: role.to_owned(),
            jwt_file: PathBuf::from(jwt_file.unwrap_or(SERVICE_ACCOUNT_TOKEN)),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(VaultClient, VaultSource)> {
        VaultSource::from_uri(&s.parse().unwrap())
    }

    #[test]
    fn a_secret_a_prefix_and_their_parameters_are_read() {
        let (client, source) =
            parse("vault://127.0.0.1:8201/secret/app/db?at=db&kv=2&interval=5s").unwrap();
        assert_eq!(client.address(), "http://127.0.0.1:8201");
        assert_eq!(source.path(), "secret/app/db");
        assert!(!source.is_prefix());
        assert_eq!(source.kv, Some(KvVersion::V2));
        assert_eq!(source.at, ["db"]);
        assert_eq!(
            source.name(&client),
            "vault://127.0.0.1:8201/secret/app/db?kv=2&interval=5s&at=db"
        );
        let (client, source) = parse("vault://vault.internal/kv/team/?tls=true&kv=1").unwrap();
        assert_eq!(client.address(), "https://vault.internal:8200");
        assert!(source.is_prefix());
        assert_eq!(
            source.name(&client),
            "vault://vault.internal:8200/kv/team/?kv=1"
        );
    }

    #[test]
    fn each_login_is_read_and_never_printed() {
        let auth = |s: &str| parse(s).unwrap().0.settings().auth.clone();
        assert_eq!(
            auth("vault://h/secret/a?token_file=/run/t"),
            Some(Auth::TokenFile("/run/t".into()))
        );
        let approle = auth("vault://h/secret/a?role_id=r-1&secret_id_file=/run/s");
        assert!(matches!(&approle, Some(Auth::AppRole { mount, .. }) if mount == "approle"));
        assert!(!format!("{approle:?}").contains("r-1"), "{approle:?}");
        let k8s = auth("vault://h/secret/a?k8s_role=app");
        assert!(
            matches!(&k8s, Some(Auth::Kubernetes { jwt_file, .. }) if jwt_file.to_str() == Some(SERVICE_ACCOUNT_TOKEN))
        );
        let (client, _) = parse("vault://h/secret/a?token=s.very-secret").unwrap();
        assert!(!format!("{client:?}").contains("very-secret"), "{client:?}");
    }

    #[test]
    fn malformed_uris_are_refused_with_a_reason() {
        for (uri, why) in [
            ("vault://h/", "give the secret's path"),
            ("vault://h/secret/a?kv=3", "kv"),
            ("vault://h/secret/a?interval=1ms", "at least"),
            ("vault://h/secret/a?role_id=x", "go together"),
            ("vault://h/secret/a?token_file=/t&k8s_role=r", "give one of"),
            ("vault://h/secret/a?jwt_file=/t", "need k8s_role"),
            ("vault://h/secret/a?mount=x", "unknown parameter"),
            ("vault://h1,h2/secret/a", "exactly one"),
        ] {
            let error = parse(uri).unwrap_err().to_string();
            assert!(error.contains(why), "{uri}: {error}");
        }
    }
}
