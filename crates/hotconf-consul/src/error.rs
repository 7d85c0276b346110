//! Consul's answers and reqwest's errors, wrapped into hotconf's (never exposed).
//!
//! Every error here is transient: the watch loop keeps the last good state and retries with
//! backoff. That includes 403 (an ACL token without the policy, or one that does not exist yet):
//! an operator fixes it on the Consul side, and the source recovers without a restart. A
//! reloader that starts with [`Startup::FailFast`](hotconf_core::Startup) still fails at once on
//! it, with [`ErrorKind::PermissionDenied`].

use hotconf_core::provider::HttpStatus;
use hotconf_core::{Error, ErrorKind};
use reqwest::StatusCode;

/// Wraps a transport error (connect, TLS, timeout, a dropped connection).
pub(crate) fn from_transport(doing: &str, key: &str, error: reqwest::Error) -> Error {
    let why = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    // reqwest's text holds the URL, which holds keys but never the token (a header).
    Error::new(
        ErrorKind::Unavailable,
        format!("consul: {doing} `{key}` {why}"),
    )
    .with_key(key.to_owned())
    .with_transient(true)
    .with_cause(error)
}

/// The error of a status other than 200/404 on a read (or other than 200 on a write).
pub(crate) fn from_status(doing: &str, key: &str, status: StatusCode, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let text = if text.len() > 200 {
        format!("{}…", &text[..text.floor_char_boundary_compat(200)])
    } else {
        text.to_owned()
    };
    let (kind, hint) = match status.as_u16() {
        403 => (
            ErrorKind::PermissionDenied,
            " (check the ACL token and its policy: it needs `key_prefix` read on this path)",
        ),
        429 => (ErrorKind::Unavailable, " (rate limited by the agent)"),
        400 | 413 => (ErrorKind::Config, ""),
        _ => (ErrorKind::Unavailable, ""),
    };
    Error::new(
        kind,
        format!("consul: {doing} `{key}` got {status}: {text}{hint}"),
    )
    .with_key(key.to_owned())
    .with_transient(true)
    .with_cause(HttpStatus(status.as_u16()))
}

/// `str::floor_char_boundary` for our MSRV.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, index: usize) -> usize {
        (0..=index.min(self.len()))
            .rev()
            .find(|&i| self.is_char_boundary(i))
            .unwrap_or(0)
    }
}

/// The error of a 3xx answer: redirects are never followed, as the `X-Consul-Token` header
/// would go to whatever origin the `Location` names (over plain HTTP too). The `Location` is
/// not repeated (its query may hold anything).
pub(crate) fn from_redirect(doing: &str, key: &str, status: StatusCode) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "consul: {doing} `{key}` got {status}, a redirect, which is not followed (the ACL \
             token would go with it): give the agent's own address"
        ),
    )
    .with_key(key.to_owned())
    .with_transient(true)
    .with_cause(HttpStatus(status.as_u16()))
}

/// The error of a body refused by [`hotconf_core::provider::BoundedBody`] (its message says how large).
/// Transient: the next read may be within the limits again.
pub(crate) fn too_large(doing: &str, key: &str, error: &Error) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("consul: the answer to {doing} `{key}` {}", error.message()),
    )
    .with_key(key.to_owned())
    .with_transient(true)
}
