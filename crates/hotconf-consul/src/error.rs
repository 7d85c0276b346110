//! Consul's answers and reqwest's errors, wrapped into hotconf's (never exposed).
//!
//! Every error here is transient: the watch loop keeps the last good state and retries with
//! backoff. That includes 403 (an ACL token without the policy, or one that does not exist yet):
//! an operator fixes it on the Consul side, and the source recovers without a restart. A
//! reloader that starts with [`Startup::FailFast`](hotconf_core::Startup) still fails at once on
//! it, with [`ErrorKind::PermissionDenied`].

use hotconf_core::{Error, ErrorKind};
use hotconf_http::{error_text, redirect_refused, status_error, transport_error};
use reqwest::StatusCode;

/// Wraps a transport error (connect, TLS, timeout, a dropped connection).
pub(crate) fn from_transport(doing: &str, what: &str, error: reqwest::Error) -> Error {
    transport_error("consul", doing, what, error)
}

/// The error of a status other than 200/404 on a read (or other than 200 on a write).
pub(crate) fn from_status(doing: &str, key: &str, status: StatusCode, body: &[u8]) -> Error {
    let (kind, hint) = match status.as_u16() {
        403 => (
            ErrorKind::PermissionDenied,
            " (check the ACL token and its policy: it needs `key_prefix` read on this path)",
        ),
        429 => (ErrorKind::Unavailable, " (rate limited by the agent)"),
        400 | 413 => (ErrorKind::Config, ""),
        _ => (ErrorKind::Unavailable, ""),
    };
    let text = error_text(body);
    status_error(
        kind,
        format!("consul: {doing} `{key}` got {status}: {text}{hint}"),
        status,
    )
    .with_key(key.to_owned())
}

/// The error of a 3xx answer: redirects are never followed, as the `X-Consul-Token` header
/// would go to whatever origin the `Location` names (over plain HTTP too). The `Location` is
/// not repeated (its query may hold anything).
pub(crate) fn from_redirect(doing: &str, key: &str, status: StatusCode) -> Error {
    let why = redirect_refused(status, "the ACL token", "agent");
    status_error(
        ErrorKind::Unavailable,
        format!("consul: {doing} `{key}` got {why}"),
        status,
    )
    .with_key(key.to_owned())
}
