//! Consul's answers and reqwest's errors, wrapped into hotconf's (never exposed).
//!
//! Every error here is transient: the watch loop keeps the last good state and retries with
//! backoff. That includes 403 (an ACL token without the policy, or one that does not exist yet):
//! an operator fixes it on the Consul side, and the source recovers without a restart. A
//! reloader that starts with [`Startup::FailFast`](hotconf_core::Startup) still fails at once on
//! it, with [`ErrorKind::PermissionDenied`](hotconf_core::ErrorKind::PermissionDenied).

use hotconf_core::Error;
use hotconf_http::{transport_error, Asked};
use reqwest::StatusCode;

/// Wraps a transport error (connect, TLS, timeout, a dropped connection).
pub(crate) fn from_transport(doing: &str, what: &str, error: reqwest::Error) -> Error {
    transport_error("consul", doing, what, error)
}

/// The error of a status other than 200/404 on a read (or other than 200 on a write), or of a
/// redirect (never followed: the `X-Consul-Token` header would go to whatever origin the
/// `Location` names, over plain HTTP too).
pub(crate) fn from_status(doing: &str, key: &str, status: StatusCode, body: &[u8]) -> Error {
    let hint = match status.as_u16() {
        403 => " (check the ACL token and its policy: it needs `key_prefix` read on this path, and write for a rollout controller)",
        429 => " (rate limited by the agent)",
        _ => "",
    };
    Asked::new("consul", doing, key)
        .carrying("the ACL token", "agent")
        .refused(status, body, hint)
}
