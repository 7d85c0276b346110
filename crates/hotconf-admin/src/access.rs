//! Who may ask: the `Host` a request names (DNS rebinding) and, when reads are guarded, its
//! bearer token.
//!
//! A page on another site can rebind its own name to 127.0.0.1 and read a loopback admin API
//! with the victim's browser; the request then names the attacker's host. A request is served
//! only when its `Host` is an IP literal (a browser sends one only for a URL that names the
//! address itself, never after a rebinding), `localhost` or a `*.localhost` name (browsers
//! resolve those to loopback themselves), one the operator listed, or absent (no browser
//! omits it). Anything else answers `421 Misdirected Request`, but for the probes.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{authorize_read, Token};
use crate::AdminError;

/// The probes: served whatever the host (a load balancer's health check may name any; they
/// hold no config) and without a read token.
const PROBES: &[&str] = &["/healthz", "/readyz"];

/// The page: no read token needed (it holds no data; its requests carry the token the
/// operator types).
const PAGE: &str = "/";

/// The access rules of one router.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access {
    /// Host names served besides IP literals and loopback names, lowercase, without port;
    /// `*` serves any.
    pub(crate) hosts: Arc<[String]>,
    /// When set, reads need this token or the write token.
    pub(crate) read_token: Option<Token>,
    pub(crate) write_token: Option<Token>,
}

impl Access {
    /// Whether a request naming `host` (a `Host` header's value) may be served.
    pub(crate) fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        let name = name.strip_suffix('.').unwrap_or(&name);
        name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.hosts.iter().any(|h| h == "*" || h == name)
    }
}

/// The host part of a `Host` value: `[::1]:80` → `::1`, `a.b:80` → `a.b`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Normalizes an operator's host entry the way requests are compared.
pub(crate) fn normalize_host(host: &str) -> String {
    let name = host_name(host.trim()).to_ascii_lowercase();
    name.strip_suffix('.').unwrap_or(&name).to_owned()
}

/// The middleware: the host first, then the read token.
pub(crate) async fn check(State(access): State<Access>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if PROBES.contains(&path) {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{0}"))
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if host.is_some_and(|host| !access.host_allowed(host)) {
        return AdminError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "this admin API does not serve the host the request names (a protection against \
             DNS rebinding): use its address or localhost, or list the name with \
             --admin-allow-host / Admin::allowed_hosts",
        )
        .into_response();
    }
    if access.read_token.is_some() && path != PAGE {
        let tokens = [access.read_token.as_ref(), access.write_token.as_ref()];
        if let Err(error) = authorize_read(&tokens, request.headers()) {
            return error.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_loopback_names_and_listed_hosts_are_served() {
        let access = Access {
            hosts: vec![normalize_host("Admin.Example:9900")].into(),
            ..Access::default()
        };
        for host in [
            "127.0.0.1:9900",
            "10.1.2.3",
            "[::1]:80",
            "localhost:1",
            "LOCALHOST.",
            "app.localhost",
            "admin.example",
            "admin.example:80",
        ] {
            assert!(access.host_allowed(host), "{host}");
        }
        for host in [
            "rebind.attacker.example",
            "127.0.0.1.attacker.example",
            "localhost.attacker.example",
            "admin.example.evil",
            "",
        ] {
            assert!(!access.host_allowed(host), "{host}");
        }
        let any = Access {
            hosts: vec!["*".to_owned()].into(),
            ..Access::default()
        };
        assert!(any.host_allowed("anything.example"));
    }
}
