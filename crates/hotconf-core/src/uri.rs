//! Source URIs (`etcd://user:pass@h1:2379,h2:2379/app/?mode=prefix`) parsed into a typed
//! description whose `Display` and `Debug` never show a credential.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// The kind of source a URI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// A file or directory (`file:` or a bare path).
    File,
    /// Environment variables with a prefix (`env:APP_`).
    Env,
    /// etcd v3 (`etcd://`).
    Etcd,
    /// Consul KV (`consul://`).
    Consul,
    /// Nacos (`nacos://`).
    Nacos,
}

impl Scheme {
    /// The scheme's name as written in URIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::File => "file",
            Scheme::Env => "env",
            Scheme::Etcd => "etcd",
            Scheme::Consul => "consul",
            Scheme::Nacos => "nacos",
        }
    }

    fn default_port(self) -> Option<u16> {
        match self {
            Scheme::Etcd => Some(2379),
            Scheme::Consul => Some(8500),
            Scheme::Nacos => Some(8848),
            Scheme::File | Scheme::Env => None,
        }
    }
}

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &["token", "password", "secret", "access_key", "secret_key"];

/// A parsed source URI.
///
/// ```
/// use hotconf_core::{Scheme, SourceUri};
/// let uri: SourceUri = "etcd://app:s3cret@127.0.0.1:2379,127.0.0.1:22379/app/?mode=prefix".parse().unwrap();
/// assert_eq!(uri.scheme, Scheme::Etcd);
/// assert_eq!(uri.endpoints, ["127.0.0.1:2379", "127.0.0.1:22379"]);
/// assert_eq!(uri.password.as_ref().unwrap().expose(), "s3cret");
/// assert_eq!(uri.to_string(), "etcd://app:***@127.0.0.1:2379,127.0.0.1:22379/app/?mode=prefix");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceUri {
    /// The kind of source.
    pub scheme: Scheme,
    /// `host:port` of each server (empty for files and env); IPv6 hosts keep their brackets.
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
    /// The parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
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
            Some(("file", rest)) => (Scheme::File, rest),
            Some(("env", rest)) => (Scheme::Env, rest),
            Some(("etcd", rest)) => (Scheme::Etcd, rest),
            Some(("consul", rest)) => (Scheme::Consul, rest),
            Some(("nacos", rest)) => (Scheme::Nacos, rest),
            Some((s, _))
                if s.contains("//")
                    || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') =>
            {
                (Scheme::File, input)
            }
            Some((s, _)) if s.len() > 1 => return Err(bad(&format!("unknown scheme `{s}`"))),
            _ => (Scheme::File, input),
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
        let Some(default_port) = scheme.default_port() else {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            uri.path = decode(path).map_err(|e| bad(&e))?;
            if uri.path.is_empty() && scheme == Scheme::File {
                return Err(bad("the path is empty"));
            }
            return Ok(uri);
        };
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
        for host in hosts.split(',') {
            uri.endpoints
                .push(endpoint(host, default_port).map_err(|e| bad(&e))?);
        }
        uri.path = decode(path.strip_prefix('/').unwrap_or(path)).map_err(|e| bad(&e))?;
        Ok(uri)
    }
}

fn endpoint(host: &str, default_port: u16) -> std::result::Result<String, String> {
    if host.is_empty() {
        return Err("a server address is empty".into());
    }
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        let (addr, tail) = v6
            .split_once(']')
            .ok_or("unclosed `[` in an IPv6 address")?;
        (format!("[{addr}]"), tail.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name.to_owned(), Some(port)),
            None => (host.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?,
        None => default_port,
    };
    Ok(format!("{name}:{port}"))
}

fn decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad %-escape `%{hex}`"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a %-escape is not UTF-8".into())
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
    let name = decode(name)
        .unwrap_or_else(|_| name.to_owned())
        .to_ascii_lowercase();
    SECRET_PARAMS.contains(&name.as_str())
        || ["token", "password", "passwd", "secret", "credential", "key"]
            .iter()
            .any(|word| name.contains(word))
}

impl fmt::Display for SourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme.as_str())?;
        if !self.endpoints.is_empty() {
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
        ] {
            assert_eq!(parse(s).scheme, Scheme::File, "{s}");
        }
        assert_eq!(
            parse("file:/etc/app/?mode=documents").param("mode"),
            Some("documents")
        );
        assert_eq!(parse("C:\\app.toml").scheme, Scheme::File);
        let env = parse("env:APP_");
        assert_eq!((env.scheme, env.path.as_str()), (Scheme::Env, "APP_"));
        assert_eq!(env.to_string(), "env:APP_");
    }

    #[test]
    fn servers_with_defaults_ipv6_and_params() {
        let u = parse("consul://[::1]:8501/app/config?mode=key&format=json");
        assert_eq!(u.endpoints, ["[::1]:8501"]);
        assert_eq!(
            (u.path.as_str(), u.param("format")),
            ("app/config", Some("json"))
        );
        assert_eq!(
            parse("nacos://127.0.0.1/app.yaml?group=G").endpoints,
            ["127.0.0.1:8848"]
        );
        let u = parse("nacos://127.0.0.1:8848/my%20app.yaml?namespace=n%2F1");
        assert_eq!(
            (u.path.as_str(), u.param("namespace")),
            ("my app.yaml", Some("n/1"))
        );
    }

    #[test]
    fn credentials_never_print() {
        let u = parse("etcd://root:p%40ss@127.0.0.1:2379/app?token=abc&mode=prefix");
        assert_eq!(u.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(u.secret_params["token"].expose(), "abc");
        for shown in [u.to_string(), format!("{u:?}"), format!("{:?}", u.password)] {
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
            "ftp://x/y",
            "nacos://h/%zz",
            "nacos://[::1/x",
        ] {
            assert!(s.parse::<SourceUri>().is_err(), "{s}");
        }
    }
}
