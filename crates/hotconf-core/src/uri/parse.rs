//! Parsing a source URI: scheme, credentials, endpoints, path and query, percent-decoded, with
//! credentials kept apart (as [`Secret`]s) and never echoed in an error.

use std::collections::BTreeMap;
use std::str::FromStr;

use percent_encoding::percent_decode_str;

use super::{SourceUri, SECRET_PARAMS};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

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
            // `?Token=` and `?TOKEN=` are the credential `token` too: a credential must never
            // fall through to the printed parameters because of its case.
            let lower = k.to_ascii_lowercase();
            if SECRET_PARAMS.contains(&lower.as_str()) {
                uri.secret_params.insert(lower, Secret::new(v));
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
    // Wider than the redaction policy's words (any `key`): this text could not even be parsed.
    SECRET_PARAMS.contains(&name.as_str())
        || crate::redaction::secret_name(&name)
        || name.contains("key")
}
