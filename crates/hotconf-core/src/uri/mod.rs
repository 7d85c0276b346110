//! Source URIs (`etcd://user:pass@h1:2379,h2:2379/app/?mode=prefix`) parsed into a typed
//! description whose `Display` and `Debug` never show a credential, and [`Query`], the one
//! reader of their parameters (durations, flags, formats, the key-space target, TLS files) that
//! every backend shares.

mod parse;
mod query;

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

pub use query::Query;

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &["token", "password", "secret", "access_key", "secret_key"];

/// A parsed source URI.
///
/// The scheme is any name (letters, digits and `+`, starting with a letter, at least two
/// characters), lowercased: `file:` and `env:` take a path (`file:./app.toml`, `env:APP_`),
/// every other scheme takes `//[user[:password]@]host[:port][,host[:port]…]/path?query`. A bare
/// path (`./app.toml`, `C:\app.toml`) is the `file` scheme. Which schemes exist is not the
/// parser's business: `hotconf::provider_from_uri` dispatches on [`scheme`](Self::scheme).
///
/// ```
/// use hotconf_core::provider::SourceUri;
/// let uri: SourceUri = "etcd://app:s3cret@127.0.0.1:2379,127.0.0.1:22379/app/?mode=prefix".parse().unwrap();
/// assert_eq!(uri.scheme, "etcd");
/// assert_eq!(uri.endpoints, ["127.0.0.1:2379", "127.0.0.1:22379"]);
/// assert_eq!(uri.password.as_ref().unwrap().expose(), "s3cret");
/// assert_eq!(uri.to_string(), "etcd://app:***@127.0.0.1:2379,127.0.0.1:22379/app/?mode=prefix");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceUri {
    /// The scheme, lowercase (`file` for a bare path).
    pub scheme: String,
    /// Each server as written, `host` or `host:port` (empty for `file:` and `env:`); IPv6 hosts
    /// keep their brackets. A backend adds its default port with
    /// [`endpoints_with_port`](Self::endpoints_with_port).
    pub endpoints: Vec<String>,
    /// The path (a file path, an env prefix, a key or prefix, a Nacos dataId), percent-decoded.
    pub path: String,
    /// Query parameters other than credentials, percent-decoded.
    pub params: BTreeMap<String, String>,
    /// The user name from `user:password@`.
    pub username: Option<String>,
    /// The password from `user:password@`.
    pub password: Option<Secret>,
    /// Credentials given as query parameters (`token=…`), by name.
    pub secret_params: BTreeMap<String, Secret>,
}

impl SourceUri {
    /// The scheme of a bare path and of `file:` URIs.
    pub const FILE: &'static str = "file";
    /// The scheme of `env:PREFIX` URIs.
    pub const ENV: &'static str = "env";

    /// The parameter `name`, if given (credentials are in
    /// [`secret_params`](Self::secret_params)). Backends read parameters through
    /// [`query`](Self::query), which also refuses unknown ones.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Whether `name` can be a scheme: at least two characters, a letter then letters, digits
    /// or `+` (one letter is a Windows drive: `C:\app.toml` is a file).
    pub fn is_scheme_name(name: &str) -> bool {
        name.len() > 1
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')
    }

    /// A [`ErrorKind::Config`] error about this source: `"{uri}: {why}"`, the URI redacted.
    pub fn error(&self, why: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Config, format!("{self}: {why}"))
    }

    /// Checks that the scheme is one of `schemes` (a backend's own).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the expected schemes.
    pub fn expect_scheme(&self, schemes: &[&str]) -> Result<()> {
        if schemes.contains(&self.scheme.as_str()) {
            Ok(())
        } else {
            Err(self.error(format_args!("not a {}: source", schemes.join(":/"))))
        }
    }

    /// The endpoints, `default_port` added to those written without a port.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the URI names no server.
    pub fn endpoints_with_port(&self, default_port: u16) -> Result<Vec<String>> {
        if self.endpoints.is_empty() {
            return Err(self.error(format_args!(
                "give a server after the scheme, e.g. {}://127.0.0.1:{default_port}/…",
                self.scheme
            )));
        }
        Ok(self
            .endpoints
            .iter()
            .map(|e| {
                if has_port(e) {
                    e.clone()
                } else {
                    format!("{e}:{default_port}")
                }
            })
            .collect())
    }

    /// The one endpoint of a single-server backend, `default_port` added if it has none.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the URI names no server or several.
    pub fn one_endpoint(&self, default_port: u16) -> Result<String> {
        match self.endpoints_with_port(default_port)?.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(self.error("give exactly one server address")),
        }
    }
}

fn has_port(endpoint: &str) -> bool {
    match endpoint.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => endpoint.contains(':'),
    }
}

impl fmt::Display for SourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if self.scheme != SourceUri::FILE && self.scheme != SourceUri::ENV {
            f.write_str("//")?;
            if let Some(user) = &self.username {
                write!(f, "{user}")?;
                if self.password.is_some() {
                    f.write_str(":***")?;
                }
                f.write_str("@")?;
            }
            write!(f, "{}/", self.endpoints.join(","))?;
        }
        f.write_str(&self.path)?;
        let mut sep = '?';
        for (k, v) in &self.params {
            // A parameter no backend takes as a credential may still be one (`api_token`,
            // `Passwd`): its value is not printed either.
            if crate::redaction::secret_name(k) {
                write!(f, "{sep}{k}=***")?;
            } else {
                write!(f, "{sep}{k}={v}")?;
            }
            sep = '&';
        }
        for k in self.secret_params.keys() {
            write!(f, "{sep}{k}=***")?;
            sep = '&';
        }
        Ok(())
    }
}

impl fmt::Debug for SourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceUri({self})")
    }
}

#[cfg(test)]
mod tests;
