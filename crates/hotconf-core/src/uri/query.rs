//! [`Query`]: the one reader of a source URI's parameters.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::SourceUri;
use crate::backoff::parse_duration;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::error::Result;
use crate::format::Format;
use crate::secret::Secret;
use crate::target::{KeySpace, TlsFiles};

/// Reads a [`SourceUri`]'s parameters for one backend: typed getters, the shared options
/// (formats, the key-space target, TLS files), and [`finish`](Self::finish), which refuses every
/// parameter nobody asked for (a typo in `?mdoe=` is an error, not a silent default).
///
/// Errors are [`ErrorKind::Config`], start with the redacted URI and name the parameter; they
/// may quote a value, never a credential's.
///
/// ```
/// use std::time::Duration;
/// use hotconf_core::provider::{Mode, SourceUri};
/// let uri: SourceUri = "kv://h:1/app/?typed=true&timeout=250ms".parse().unwrap();
/// let mut query = uri.query();
/// let target = query.key_space().unwrap();
/// assert_eq!((target.mode, target.typed), (Mode::Prefix, true));
/// assert_eq!(query.duration("timeout").unwrap(), Some(Duration::from_millis(250)));
/// query.finish().unwrap();
///
/// let typo: SourceUri = "kv://h:1/app/?mdoe=key".parse().unwrap();
/// let mut query = typo.query();
/// query.key_space().unwrap();
/// assert!(query.finish().unwrap_err().to_string().contains("unknown parameter `mdoe`"));
/// ```
#[derive(Debug)]
pub struct Query<'a> {
    uri: &'a SourceUri,
    asked: BTreeSet<String>,
}

impl SourceUri {
    /// A reader of the parameters that remembers which ones were asked for, so that
    /// [`Query::finish`] can refuse a misspelt or unsupported one.
    pub fn query(&self) -> Query<'_> {
        Query {
            uri: self,
            asked: BTreeSet::new(),
        }
    }
}

impl<'a> Query<'a> {
    /// The URI read.
    pub fn uri(&self) -> &'a SourceUri {
        self.uri
    }

    /// The parameter `name` as written (percent-decoded), if given.
    pub fn get(&mut self, name: &str) -> Option<&'a str> {
        self.asked.insert(name.to_owned());
        self.uri.param(name)
    }

    /// The credential parameter `name` (`token`, `password`, `secret`, `access_key`,
    /// `secret_key`), if given.
    pub fn secret(&mut self, name: &str) -> Option<Secret> {
        self.asked.insert(name.to_owned());
        self.uri.secret_params.get(name).cloned()
    }

    /// The parameter `name` parsed with [`FromStr`].
    ///
    /// # Errors
    /// When it does not parse.
    pub fn parse<T>(&mut self, name: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.get(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| self.uri.error(format_args!("bad {name} `{v}`: {e}")))
            })
            .transpose()
    }

    /// A boolean parameter: `true` when given as `name`, `name=true` or `name=1`; `false` when
    /// absent or `false`/`0`.
    ///
    /// # Errors
    /// For any other value.
    pub fn flag(&mut self, name: &str) -> Result<bool> {
        match self.get(name) {
            None | Some("false" | "0") => Ok(false),
            Some("" | "true" | "1") => Ok(true),
            Some(other) => Err(self
                .uri
                .error(format_args!("{name} is `true` or `false`, not `{other}`"))),
        }
    }

    /// One of `choices`, if given.
    ///
    /// # Errors
    /// For a value not in `choices` (the message lists them).
    pub fn choice(&mut self, name: &str, choices: &[&'static str]) -> Result<Option<&'static str>> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|c| **c == value)
            .map(|c| Some(*c))
            .ok_or_else(|| {
                self.uri.error(format_args!(
                    "unknown {name} `{value}` ({})",
                    choices.join(", ")
                ))
            })
    }

    /// A duration (`250ms`, `2s`, `1m`; see [`parse_duration`]), if given.
    ///
    /// # Errors
    /// When it does not parse.
    pub fn duration(&mut self, name: &str) -> Result<Option<Duration>> {
        self.get(name)
            .map(|v| {
                parse_duration(v)
                    .map_err(|e| self.uri.error(format_args!("{name}: {}", e.message())))
            })
            .transpose()
    }

    /// A duration above zero, if given.
    ///
    /// # Errors
    /// When it does not parse or is zero.
    pub fn positive_duration(&mut self, name: &str) -> Result<Option<Duration>> {
        match self.duration(name)? {
            Some(d) if d.is_zero() => Err(self
                .uri
                .error(format_args!("{name}: a duration must be above zero"))),
            other => Ok(other),
        }
    }

    /// The explicit `?format=`, if given.
    ///
    /// # Errors
    /// For an unknown format.
    pub fn format(&mut self) -> Result<Option<Format>> {
        self.parse("format")
    }

    /// The format from `?format=`, else from the extension of `path`.
    ///
    /// # Errors
    /// For an unknown explicit format.
    pub fn format_or_extension(&mut self, path: &str) -> Result<Option<Format>> {
        Ok(self.format()?.or_else(|| Format::from_path(path)))
    }

    /// The key-space target of the URI's path: `?mode=prefix|key`, `?format=` and
    /// `?typed=true`. Without `mode`, a path ending with `/` is a prefix, one with a known
    /// extension (or an explicit format) a key, and any other a prefix.
    ///
    /// # Errors
    /// For an empty path, an unknown mode or format, or key mode without a format.
    pub fn key_space(&mut self) -> Result<KeySpace> {
        let path = self.uri.path.as_str();
        let mode = self.choice("mode", &["prefix", "key"])?;
        let format = self.format_or_extension(path)?;
        let typed = self.flag("typed")?;
        if path.trim_matches('/').is_empty() {
            return Err(self.uri.error("give a prefix or a key after the host"));
        }
        let mut target = match (mode, format) {
            (Some("prefix"), _) => KeySpace::prefix(path),
            (Some("key"), Some(format)) | (None, Some(format)) if !path.ends_with('/') => {
                KeySpace::key(path, format)
            }
            (Some("key"), _) => {
                return Err(self
                    .uri
                    .error("key mode needs a format (?format=yaml) or an extension"))
            }
            _ => KeySpace::prefix(path),
        };
        target.typed = typed;
        Ok(target)
    }

    /// TLS files from `?ca=…&cert=…&key=…`, or `?tls=true` for TLS with the system roots.
    ///
    /// # Errors
    /// When only one of `cert` and `key` is given.
    pub fn tls(&mut self) -> Result<Option<TlsFiles>> {
        let ca = self.get("ca").map(Into::into);
        let identity = match (self.get("cert"), self.get("key")) {
            (Some(cert), Some(key)) => Some((cert.into(), key.into())),
            (None, None) => None,
            _ => {
                return Err(self
                    .uri
                    .error("give both cert= and key= for a client certificate"))
            }
        };
        let on = self.flag("tls")?;
        Ok((on || ca.is_some() || identity.is_some()).then_some(TlsFiles { ca, identity }))
    }

    /// The parameters (credentials included) that were never asked for, percent-decoded, for a
    /// source that passes them on to its server instead of refusing them ([`finish`](Self::finish)).
    pub fn rest(self) -> Vec<(&'a str, &'a str)> {
        let uri = self.uri;
        let plain = uri.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let secret = (uri.secret_params.iter()).map(|(k, v)| (k.as_str(), v.expose().as_str()));
        plain
            .chain(secret)
            .filter(|(name, _)| !self.asked.contains(*name))
            .collect()
    }

    /// Refuses the parameters (credentials included) that were never asked for.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the first unknown parameter and the known ones.
    pub fn finish(self) -> Result<()> {
        let unknown = self
            .uri
            .params
            .keys()
            .chain(self.uri.secret_params.keys())
            .find(|name| !self.asked.contains(name.as_str()));
        match unknown {
            None => Ok(()),
            Some(name) => {
                let known: Vec<&str> = self.asked.iter().map(String::as_str).collect();
                // The value of a parameter nobody asked for is never printed: a misspelt
                // credential (`?Secret=`, `?tokne=`) must not reach a log through this error.
                let mut shown = self.uri.clone();
                if let Some(value) = shown.params.remove(name) {
                    shown.secret_params.insert(name.clone(), Secret::new(value));
                }
                Err(shown.error(format_args!(
                    "unknown parameter `{name}` (a {}: source takes {})",
                    self.uri.scheme,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )))
            }
        }
    }
}
