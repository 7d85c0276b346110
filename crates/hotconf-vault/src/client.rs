//! `VaultClient`: the server, the namespace, TLS, the limits and how to get a token; what is
//! built from them (the HTTP client and the token session) is shared by the client's clones.

use std::fmt;
use std::path::PathBuf;

use hotconf_core::provider::{ClientState, TlsFiles};
use hotconf_core::{Error, ErrorKind, Limits, Result, Secret};
use hotconf_http::HttpOptions;
use once_cell::sync::OnceCell;
use reqwest::header::HeaderValue;

use crate::api::Api;
use crate::session::Session;

/// How a [`VaultClient`] gets its token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// A token given as is (`VAULT_TOKEN`, `BAO_TOKEN`, `?token=`). Renewed while renewable;
    /// once it expires or is revoked, nothing can replace it: a source error until restart.
    Token(Secret),
    /// A token read from a file (`?token_file=`), read again when it changes (an agent or an
    /// operator writes the new one there).
    TokenFile(PathBuf),
    /// AppRole login (`?role_id=…&secret_id_file=FILE`): the secret id is read from its file
    /// at every login.
    AppRole {
        /// The auth mount (`approle`).
        mount: String,
        /// The role id.
        role_id: String,
        /// The file that holds the secret id.
        secret_id_file: PathBuf,
    },
    /// Kubernetes login (`?k8s_role=R`): the service account token is read from its file at
    /// every login.
    Kubernetes {
        /// The auth mount (`kubernetes`).
        mount: String,
        /// The Vault role bound to the service account.
        role: String,
        /// The service account token (default
        /// `/var/run/secrets/kubernetes.io/serviceaccount/token`).
        jwt_file: PathBuf,
    },
}

/// Where a pod's service account token is mounted.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

impl Auth {
    /// A token from `VAULT_TOKEN`, else `BAO_TOKEN`, if either is set and not empty.
    pub fn from_env() -> Option<Auth> {
        ["VAULT_TOKEN", "BAO_TOKEN"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|token| !token.trim().is_empty())
            .map(|token| Auth::Token(Secret::new(token.trim().to_owned())))
    }

    /// Whether a new token is had by logging in (AppRole, Kubernetes).
    pub(crate) fn logs_in(&self) -> bool {
        matches!(self, Auth::AppRole { .. } | Auth::Kubernetes { .. })
    }
}

/// Names the method, never a token, a secret id's contents or a role id.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Token(***)"),
            Auth::TokenFile(path) => f.debug_tuple("TokenFile").field(path).finish(),
            Auth::AppRole {
                mount,
                secret_id_file,
                ..
            } => f
                .debug_struct("AppRole")
                .field("mount", mount)
                .field("secret_id_file", secret_id_file)
                .finish_non_exhaustive(),
            Auth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => f
                .debug_struct("Kubernetes")
                .field("mount", mount)
                .field("role", role)
                .field("jwt_file", jwt_file)
                .finish(),
        }
    }
}

/// The settings of a [`VaultClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `http(s)://host:port`, no trailing slash.
    pub(crate) address: String,
    pub(crate) auth: Option<Auth>,
    pub(crate) namespace: Option<String>,
    pub(crate) tls: Option<TlsFiles>,
    pub(crate) limits: Limits,
}

/// What is built from the settings: the HTTP client and the token session, shared by clones.
#[derive(Default)]
pub(crate) struct Built {
    api: OnceCell<Api>,
    pub(crate) session: Session,
}

/// A client of one Vault or OpenBao server. Cheap to clone; one client (one token, one login,
/// one renewal) serves any number of [`VaultProvider`](crate::VaultProvider)s.
///
/// Making one never fails and does no I/O: the HTTP client is built on first use, and a TLS
/// file that cannot be read is then a permanent [`ErrorKind::Config`] error. Answers are read
/// under the client's [`Limits`] (`max_bytes` per answer, `max_keys` secrets under a prefix).
/// Redirects are never followed: a standby's 307 would carry the token to the `Location`'s
/// origin, over plain HTTP too; the token is sent to this address only.
///
/// ```
/// use hotconf_vault::{Auth, VaultClient, VaultProvider, VaultSource};
/// let client = VaultClient::new("https://vault.internal:8200")
///     .auth(Auth::TokenFile("/run/secrets/vault-token".into()));
/// let db = VaultProvider::new(&client, VaultSource::secret("secret/app/db").at("db"));
/// assert_eq!(db.name(), "vault://vault.internal:8200/secret/app/db?at=db");
/// ```
#[derive(Clone)]
pub struct VaultClient {
    pub(crate) state: ClientState<Settings, Built>,
}

impl fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.state, f)
    }
}

impl VaultClient {
    /// A client of the server at `address` (`http://127.0.0.1:8200`, `https://vault:8200`; a
    /// bare `host:port` is `https`), with the token of `VAULT_TOKEN`/`BAO_TOKEN` if set.
    pub fn new(address: &str) -> Self {
        let address = if address.contains("://") {
            address.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", address.trim_end_matches('/'))
        };
        VaultClient {
            state: ClientState::new(Settings {
                address,
                auth: Auth::from_env(),
                namespace: None,
                tls: None,
                limits: Limits::default(),
            }),
        }
    }

    fn edit(self, change: impl FnOnce(&mut Settings)) -> Self {
        VaultClient {
            state: self.state.edit(change),
        }
    }

    /// Gets its token this way.
    pub fn auth(self, auth: Auth) -> Self {
        self.edit(|s| s.auth = Some(auth))
    }

    /// Sends `namespace` as `X-Vault-Namespace` (Vault Enterprise, OpenBao 2.3 and later).
    pub fn namespace(self, namespace: impl Into<String>) -> Self {
        self.edit(|s| s.namespace = Some(namespace.into()))
    }

    /// Trusts `tls`'s CA (the only root when set) and presents its client certificate.
    pub fn tls(self, tls: Option<TlsFiles>) -> Self {
        self.edit(|s| s.tls = tls)
    }

    /// Reads under these limits.
    pub fn limits(self, limits: Limits) -> Self {
        self.edit(|s| s.limits = limits)
    }

    /// The server's address (`http(s)://host:port`).
    pub fn address(&self) -> &str {
        &self.settings().address
    }

    pub(crate) fn settings(&self) -> &Settings {
        self.state.config()
    }

    pub(crate) fn session(&self) -> &Session {
        &self.state.built().session
    }

    /// The API, its HTTP client built on first use.
    pub(crate) fn api(&self) -> Result<&Api> {
        let settings = self.settings();
        self.state.built().api.get_or_try_init(|| {
            let options = HttpOptions::default().tls(settings.tls.clone());
            let namespace = match &settings.namespace {
                Some(ns) => Some(HeaderValue::from_str(ns).map_err(|_| {
                    Error::new(
                        ErrorKind::Config,
                        "vault: the namespace holds characters a header cannot carry",
                    )
                })?),
                None => None,
            };
            Ok(Api {
                http: hotconf_http::client("vault", &options)?,
                base: settings.address.clone(),
                namespace,
                max_bytes: settings.limits.max_bytes,
            })
        })
    }
}
