//! Apollo's answers and reqwest's errors, wrapped into hotconf's (never exposed).
//!
//! Every error here is transient: the watch loop keeps the last good state and retries with
//! backoff. That includes 401 (an access key that is wrong, or was turned on before the client
//! got its secret): an operator fixes it on the Apollo side, and the source recovers without a
//! restart. A reloader that starts with [`Startup::FailFast`](hotconf_core::Startup) still
//! fails at once on it, with [`ErrorKind::PermissionDenied`].

use hotconf_core::{Error, ErrorKind};
use hotconf_http::{transport_error, Asked};
use reqwest::StatusCode;

/// Wraps a transport error (connect, TLS, timeout, a dropped connection).
pub(crate) fn from_transport(doing: &str, what: &str, error: reqwest::Error) -> Error {
    transport_error("apollo", doing, what, error)
}

/// The error of an unexpected status; `body` is an error page's first bytes, with the secret
/// already removed. A redirect is never followed: the signature would go with it.
pub(crate) fn from_status(
    doing: &str,
    what: &str,
    app: &str,
    status: StatusCode,
    body: &[u8],
) -> Error {
    let hint = match status.as_u16() {
        401 => format!(" (app `{app}` has an access key: check the client's secret and its clock)"),
        _ => String::new(),
    };
    Asked::new("apollo", doing, what)
        .carrying("the signature", "config service")
        .refused(status, body, &hint)
}

/// The error of an answer that does not decode or passes a limit. Transient: the next read
/// may be good.
pub(crate) fn bad_answer(doing: &str, what: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("apollo: the answer to {doing} `{what}` {why}"),
    )
    .with_key(what.to_owned())
    .with_transient(true)
}
