//! Apollo's answers and reqwest's errors, wrapped into hotconf's (never exposed).
//!
//! Every error here is transient: the watch loop keeps the last good state and retries with
//! backoff. That includes 401 (an access key that is wrong, or was turned on before the client
//! got its secret): an operator fixes it on the Apollo side, and the source recovers without a
//! restart. A reloader that starts with [`Startup::FailFast`](hotconf_core::Startup) still
//! fails at once on it, with [`ErrorKind::PermissionDenied`].

use hotconf_core::provider::HttpStatus;
use hotconf_core::{Error, ErrorKind};
use reqwest::StatusCode;

/// Wraps a transport error (connect, timeout, a dropped connection). reqwest's text is left
/// out of the message, and its URL removed, although neither holds the secret (a header).
pub(crate) fn from_transport(doing: &str, what: &str, error: reqwest::Error) -> Error {
    let why = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    Error::new(
        ErrorKind::Unavailable,
        format!("apollo: {doing} `{what}` {why}"),
    )
    .with_key(what.to_owned())
    .with_transient(true)
    .with_cause(error.without_url())
}

/// The error of an unexpected status; `body` is an error page's first bytes, with the secret
/// already removed.
pub(crate) fn from_status(
    doing: &str,
    what: &str,
    app: &str,
    status: StatusCode,
    body: &[u8],
) -> Error {
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(200).collect();
    let (kind, hint) = match status.as_u16() {
        401 => (
            ErrorKind::PermissionDenied,
            format!(" (app `{app}` has an access key: check the client's secret and its clock)"),
        ),
        400 => (ErrorKind::Config, String::new()),
        _ => (ErrorKind::Unavailable, String::new()),
    };
    let status_text = if status.is_redirection() {
        format!("{status}, a redirect, which is not followed (the signature would go with it): give the config service's own address")
    } else {
        status.to_string()
    };
    Error::new(
        kind,
        format!("apollo: {doing} `{what}` got {status_text}: {text}{hint}"),
    )
    .with_key(what.to_owned())
    .with_transient(true)
    .with_cause(HttpStatus(status.as_u16()))
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
