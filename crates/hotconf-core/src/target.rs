//! What a key-value backend follows (a prefix, or one key holding a document) and the TLS files
//! it may need: one definition for every backend (etcd, Consul, and providers users write).

use std::path::PathBuf;

use crate::format::Format;

/// What a key-value provider follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Every key under a prefix; `app/db/port` under `app/` is `db.port`.
    Prefix,
    /// One key holding a whole document.
    Key(Format),
}

/// A key-space target: a prefix or a key, how to read it, and whether prefix values are typed.
///
/// [`Query::key_space`](crate::provider::Query::key_space) reads one from a URI's path and its
/// `?mode=prefix|key&format=…&typed=true` parameters.
///
/// ```
/// use hotconf_core::Format;
/// use hotconf_core::provider::{KeySpace, Mode};
/// assert_eq!(KeySpace::prefix("/app").path, "app/");
/// assert_eq!(KeySpace::key("/app/config", Format::Json).mode, Mode::Key(Format::Json));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySpace {
    /// The prefix (without a leading `/`, ending with `/`) or the key (without a leading `/`).
    pub path: String,
    /// Prefix or key mode.
    pub mode: Mode,
    /// In prefix mode, type values as JSON scalars (`5432` a number) instead of strings.
    pub typed: bool,
}

impl KeySpace {
    /// Every key under `prefix`: a leading `/` is dropped and a trailing `/` appended if
    /// missing, so `app` never matches `application/…`.
    pub fn prefix(prefix: &str) -> Self {
        let mut path = prefix.trim_start_matches('/').to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        KeySpace {
            path,
            mode: Mode::Prefix,
            typed: false,
        }
    }

    /// One key (a leading `/` dropped) holding a document in `format`.
    pub fn key(key: &str, format: Format) -> Self {
        KeySpace {
            path: key.trim_start_matches('/').to_owned(),
            mode: Mode::Key(format),
            typed: false,
        }
    }

    /// The `mode=…` (and `format=…`) part of a printable source name: `prefix` or
    /// `key&format=yaml`.
    pub fn mode_param(mode: &Mode) -> String {
        match mode {
            Mode::Prefix => "prefix".to_owned(),
            Mode::Key(format) => format!("key&format={format}"),
        }
    }
}

/// TLS material, as PEM files (from a URI's `?ca=…&cert=…&key=…&tls=true`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// The CA that signed the servers' certificates. When set, it is the only trusted root
    /// (where the client library allows it); when `None`, the system roots are used.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key, for mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}
