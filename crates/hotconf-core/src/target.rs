//! What a key-value backend follows (a prefix, or one key holding a document) and the TLS files
//! it may need: one definition for every backend (etcd, Consul, and providers users write).

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;
use crate::layer::{Content, Layer};
use crate::revision::Revision;

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

    /// The layer a store's `entries` (full keys and their values, in any order) make at
    /// `revision`: in key mode the value of the key itself as a document (no such entry: an
    /// empty layer); in prefix mode every key under the prefix, relative to it, sorted (so that
    /// equal states compare equal). Entries outside the key space are ignored: a store's prefix
    /// match may be a raw string match (Consul's `app` lists `application/…`).
    ///
    /// ```
    /// use hotconf_core::Revision;
    /// use hotconf_core::provider::{Content, KeySpace};
    /// let entries = [("app/db/port", b"5432".to_vec()), ("application/x", b"1".to_vec())];
    /// let layer = KeySpace::prefix("app").layer(entries, Revision::Ordered(7)).unwrap();
    /// assert!(matches!(layer.content, Content::Keys { ref entries, .. } if entries.len() == 1));
    /// ```
    ///
    /// # Errors
    /// A transient [`ErrorKind::Parse`] naming the key (dotted, relative) for a value in prefix
    /// mode that is not UTF-8: the store may yet be corrected, and the provider keeps following.
    pub fn layer<K: AsRef<str>>(
        &self,
        entries: impl IntoIterator<Item = (K, Vec<u8>)>,
        revision: Revision,
    ) -> Result<Layer> {
        let path = self.path.as_str();
        let mut entries = entries.into_iter();
        let Mode::Prefix = self.mode else {
            let value = entries.find(|(key, _)| key.as_ref() == path);
            return Ok(match (value, &self.mode) {
                (Some((_, bytes)), Mode::Key(format)) => Layer::new(
                    Content::Document {
                        format: *format,
                        bytes: bytes.into(),
                    },
                    revision,
                ),
                _ => Layer::empty(revision),
            });
        };
        let mut pairs = Vec::new();
        for (key, value) in entries {
            let Some(relative) = key.as_ref().strip_prefix(path) else {
                continue;
            };
            let value = String::from_utf8(value).map_err(|_| {
                Error::new(
                    ErrorKind::Parse,
                    format!("the value of key `{}` is not valid UTF-8", key.as_ref()),
                )
                .with_key(relative.replace('/', "."))
                .with_transient(true)
            })?;
            pairs.push((relative.to_owned(), value));
        }
        pairs.sort_unstable();
        Ok(Layer::new(
            Content::Keys {
                separator: '/',
                entries: pairs,
                typed: self.typed,
            },
            revision,
        ))
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
