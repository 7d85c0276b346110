//! Source URIs (`etcd://user:pass@h1:2379,h2:2379/app/?mode=prefix`) parsed into a typed
//! description whose `Display` and `Debug` never show a credential, and [`Query`], the one
//! reader of their parameters (durations, flags, formats, the key-space target, TLS files) that
//! every backend shares.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::backoff::parse_duration;
use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;
use crate::secret::Secret;
use crate::target::{KeySpace, TlsFiles};

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

    /// A reader of the parameters that remembers which ones were asked for, so that
    /// [`Query::finish`] can refuse a misspelt or unsupported one.
    pub fn query(&self) -> Query<'_> {
        Query {
            uri: self,
            asked: BTreeSet::new(),
        }
    }
}

fn has_port(endpoint: &str) -> bool {
    match endpoint.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => endpoint.contains(':'),
    }
}

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
                Err(self.uri.error(format_args!(
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

impl FromStr for SourceUri {
    type Err = Error;

    fn from_str(input: &str) -> Result<SourceUri> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::Config,
                format!("invalid source `{}`: {why}", redact_raw(input)),
            )
        };
        let (scheme, rest) = match input.split_once(':') {
            Some((s, rest)) if SourceUri::is_scheme_name(s) => (s.to_ascii_lowercase(), rest),
            _ => (SourceUri::FILE.to_owned(), input),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = SourceUri {
            scheme,
            endpoints: Vec::new(),
            path: String::new(),
            params: BTreeMap::new(),
            username: None,
            password: None,
            secret_params: BTreeMap::new(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (
                decode(k).map_err(|e| bad(&e))?,
                decode(v).map_err(|e| bad(&e))?,
            );
            if SECRET_PARAMS.contains(&k.as_str()) {
                uri.secret_params.insert(k, Secret::new(v));
            } else {
                uri.params.insert(k, v);
            }
        }
        if uri.scheme == SourceUri::FILE || uri.scheme == SourceUri::ENV {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            uri.path = decode(path).map_err(|e| bad(&e))?;
            if uri.path.is_empty() && uri.scheme == SourceUri::FILE {
                return Err(bad("the path is empty"));
            }
            return Ok(uri);
        }
        let rest = rest
            .strip_prefix("//")
            .ok_or_else(|| bad("expected `//` after the scheme"))?;
        let (authority, path) = rest
            .find('/')
            .map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
        let hosts = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => {
                let (user, pass) = userinfo
                    .split_once(':')
                    .map_or((userinfo, None), |(u, p)| (u, Some(p)));
                uri.username = Some(decode(user).map_err(|e| bad(&e))?);
                uri.password = pass
                    .map(decode)
                    .transpose()
                    .map_err(|e| bad(&e))?
                    .map(Secret::new);
                hosts
            }
            None => authority,
        };
        if !hosts.is_empty() {
            for host in hosts.split(',') {
                uri.endpoints.push(endpoint(host).map_err(|e| bad(&e))?);
            }
        }
        uri.path = decode(path.strip_prefix('/').unwrap_or(path)).map_err(|e| bad(&e))?;
        Ok(uri)
    }
}

/// Checks one `host[:port]` (an IPv6 host in brackets) and returns it as written.
fn endpoint(host: &str) -> std::result::Result<String, String> {
    if host.is_empty() {
        return Err("a server address is empty".into());
    }
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        let (addr, tail) = v6
            .split_once(']')
            .ok_or("unclosed `[` in an IPv6 address")?;
        if !tail.is_empty() && !tail.starts_with(':') {
            return Err(format!("unexpected `{tail}` after an IPv6 address"));
        }
        (addr, tail.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if name.is_empty() {
        return Err("a server address has no host".into());
    }
    if !host.starts_with('[') && name.contains(':') {
        return Err("put an IPv6 address in brackets, e.g. [::1]:2379".into());
    }
    if let Some(p) = port {
        p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?;
    }
    Ok(host.to_owned())
}

/// Percent-decodes `s`, refusing a `%` that does not start an escape and bytes that are not
/// UTF-8 (the `percent-encoding` crate decodes; it would pass a stray `%` through).
fn decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    for (i, _) in s.match_indices('%') {
        let hex = bytes.get(i + 1..i + 3).ok_or("truncated %-escape")?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!("bad %-escape `%{}`", String::from_utf8_lossy(hex)));
        }
    }
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "a %-escape is not UTF-8".into())
}

/// Redacts a string that failed to parse, for error messages, assuming the worst of it: the
/// user info up to the *last* `@` before the query (a password may hold `@` or `/`), and the
/// value of every query parameter whose name looks like a credential, escaped or not.
fn redact_raw(input: &str) -> String {
    let (head, query) = match input.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (input, None),
    };
    let start = head
        .find("://")
        .map(|i| i + 3)
        .or_else(|| head.find(':').map(|i| i + 1));
    let mut out = match (start, head.rfind('@')) {
        (Some(start), Some(at)) if start <= at => {
            let user = head[start..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &head[..start], &head[at..])
        }
        _ => head.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if looks_secret(name) => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Whether a query parameter's name (raw or %-decoded, any case) names a credential.
fn looks_secret(name: &str) -> bool {
    let name = percent_decode_str(name)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    SECRET_PARAMS.contains(&name.as_str())
        || ["token", "password", "passwd", "secret", "credential", "key"]
            .iter()
            .any(|word| name.contains(word))
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
            write!(f, "{sep}{k}={v}")?;
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
mod tests {
    use super::*;
    use crate::target::Mode;

    fn parse(s: &str) -> SourceUri {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn files_and_env() {
        for s in [
            "./app.toml",
            "app.toml",
            "/etc/app.toml",
            "file:./app.toml",
            "file:/etc/app/",
            "./a:b.toml",
        ] {
            assert_eq!(parse(s).scheme, "file", "{s}");
        }
        assert_eq!(
            parse("file:/etc/app/?mode=documents").param("mode"),
            Some("documents")
        );
        assert_eq!(parse("C:\\app.toml").scheme, "file");
        let env = parse("env:APP_");
        assert_eq!((env.scheme.as_str(), env.path.as_str()), ("env", "APP_"));
        assert_eq!(env.to_string(), "env:APP_");
    }

    #[test]
    fn servers_ipv6_params_and_default_ports() {
        let u = parse("consul://[::1]:8501/app/config?mode=key&format=json");
        assert_eq!(u.endpoints, ["[::1]:8501"]);
        assert_eq!(
            (u.path.as_str(), u.param("format")),
            ("app/config", Some("json"))
        );
        let u = parse("nacos://127.0.0.1/app.yaml?group=G");
        assert_eq!(u.endpoints, ["127.0.0.1"]);
        assert_eq!(u.one_endpoint(8848).unwrap(), "127.0.0.1:8848");
        let u = parse("ETCD://[::1],h:1,h/x");
        assert_eq!(u.scheme, "etcd");
        assert_eq!(
            u.endpoints_with_port(2379).unwrap(),
            ["[::1]:2379", "h:1", "h:2379"]
        );
        assert!(u.one_endpoint(2379).is_err());
        let u = parse("nacos://127.0.0.1:8848/my%20app.yaml?namespace=n%2F1");
        assert_eq!(
            (u.path.as_str(), u.param("namespace")),
            ("my app.yaml", Some("n/1"))
        );
        // Any scheme parses; an empty authority names no server.
        let custom = parse("my+kv:///app?x=1");
        assert_eq!(
            (custom.scheme.as_str(), custom.path.as_str()),
            ("my+kv", "app")
        );
        assert!(custom.endpoints.is_empty());
        assert_eq!(custom.to_string(), "my+kv:///app?x=1");
        assert!(custom.endpoints_with_port(1).is_err());
    }

    #[test]
    fn credentials_never_print() {
        let u = parse("etcd://root:p%40ss@127.0.0.1:2379/app?token=abc&mode=prefix");
        assert_eq!(u.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(u.secret_params["token"].expose(), "abc");
        let mut query = u.query();
        query.get("mode");
        let unknown = query.finish().unwrap_err();
        assert!(
            unknown.to_string().contains("unknown parameter `token`"),
            "{unknown}"
        );
        for shown in [
            u.to_string(),
            format!("{u:?}"),
            format!("{:?}", u.password),
            format!("{:?}", u.query()),
            unknown.to_string(),
            format!("{unknown:?}"),
        ] {
            assert!(
                !shown.contains("p@ss") && !shown.contains("abc") && !shown.contains("p%40ss"),
                "{shown}"
            );
        }
        let err = "etcd://root:hunter2@127.0.0.1:notaport/"
            .parse::<SourceUri>()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("bad port"), "{err}");
    }

    #[test]
    fn parse_errors_print_no_credential() {
        for (input, secret) in [
            // The parser splits user info at the last `@`: so does the redaction.
            ("etcd://app:p@ss@127.0.0.1:99999/x", "ss"),
            ("etcd://app:pa/ss@127.0.0.1/x", "pa/ss"),
            ("etcd:app:hunter2@127.0.0.1/x", "hunter2"),
            ("consul://127.0.0.1:8500/app?token=hunter2&x=%zz", "hunter2"),
            ("consul://127.0.0.1:8500/app?x=%zz&Token=hunter2", "hunter2"),
            ("nacos://127.0.0.1/app?%70assword=hunter2&bad=%", "hunter2"),
            (
                "nacos://127.0.0.1/app?secret=hunter2&access_key=a1b2&bad=%",
                "a1b2",
            ),
            ("etcd://127.0.0.1:1,/x?password=hunter2", "hunter2"),
            ("custom://u:hunter2@h:1:2/x", "hunter2"),
        ] {
            let err = input.parse::<SourceUri>().unwrap_err().to_string();
            assert!(!err.contains(secret), "{input}: {err}");
            assert!(err.contains("***"), "{input}: {err}");
        }
        // A file path with an `@` is no credential.
        let err = "./my@file.json?x=%zz".parse::<SourceUri>().unwrap_err();
        assert!(err.to_string().contains("./my@file.json"), "{err}");
    }

    #[test]
    fn bad_uris() {
        for s in [
            "",
            "etcd:127.0.0.1",
            "etcd://,/x",
            "nacos://h/%zz",
            "nacos://h/%e9",
            "nacos://[::1/x",
            "nacos://[::1]x/x",
            "nacos://:1/x",
        ] {
            assert!(s.parse::<SourceUri>().is_err(), "{s}");
        }
    }

    #[test]
    fn shared_parameters() {
        let target = |s: &str| {
            let uri = parse(s);
            let mut query = uri.query();
            let target = query.key_space();
            target.and_then(|t| query.finish().map(|()| t))
        };
        let t = target("kv://h/app?typed").unwrap();
        assert_eq!(
            (t.path.as_str(), t.mode, t.typed),
            ("app/", Mode::Prefix, true)
        );
        assert_eq!(
            target("kv://h/app/c.yaml").unwrap().mode,
            Mode::Key(Format::Yaml)
        );
        assert_eq!(
            target("kv://h/app/c?mode=key&format=json").unwrap().mode,
            Mode::Key(Format::Json)
        );
        assert_eq!(
            target("kv://h/app/c.yaml?mode=prefix").unwrap().path,
            "app/c.yaml/"
        );
        for (bad, says) in [
            ("kv://h/app/c?mode=key", "key mode needs a format"),
            (
                "kv://h/app?mode=bogus",
                "unknown mode `bogus` (prefix, key)",
            ),
            ("kv://h/app?format=nope", "bad format `nope`"),
            ("kv://h/app?typed=maybe", "typed is `true` or `false`"),
            ("kv://h/?mode=prefix", "give a prefix or a key"),
            ("kv://h/app?mdoe=prefix", "unknown parameter `mdoe`"),
        ] {
            let err = target(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }

        let uri = parse("kv://h/x?ca=/ca.pem&cert=/c.pem&key=/k.pem&t=2s&z=0s&n=5");
        let mut q = uri.query();
        let tls = q.tls().unwrap().unwrap();
        assert_eq!(tls.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert!(tls.identity.is_some());
        assert_eq!(
            q.positive_duration("t").unwrap(),
            Some(Duration::from_secs(2))
        );
        assert!(q.positive_duration("z").is_err());
        assert_eq!(q.parse::<u16>("n").unwrap(), Some(5));
        assert_eq!(q.duration("absent").unwrap(), None);
        q.finish().unwrap();
        assert!(parse("kv://h/x?cert=/c.pem").query().tls().is_err());
        assert!(parse("kv://h/x?tls=true").query().tls().unwrap().is_some());
        assert!(parse("kv://h/x").query().tls().unwrap().is_none());
    }
}
