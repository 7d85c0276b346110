//! hotconf's one HTTP layer: what every reqwest backend (Consul, Nacos, Apollo, and each one to
//! come) shares, so that they cannot drift apart; and [`HttpProvider`], a document at an
//! `http://` or `https://` URL as a layer, the smallest backend written on it.
//!
//! - [`client`]: a reqwest client with hotconf's options: rustls, connect deadline, TCP keepalive
//!   (a long poll held for minutes notices a vanished peer in about 30 s), no proxy from the
//!   environment, a user agent, optional TLS files, and **no redirects**: following one would
//!   carry a token, a password or a signature to whatever origin the `Location` names.
//! - [`read_body`]: a success's body read chunk by chunk under a limit, refused as soon as it
//!   passes it (or at once when its `Content-Length` does).
//! - [`read_error_page`]: an error page's first bytes, with the request's secrets blanked
//!   (raw and form-encoded: a careless proxy may echo the request).
//! - [`Asked::refused`] (on [`status_error`] and [`error_text`]): the one shape of a server's
//!   refusal, always tagged
//!   with [`HttpStatus`] so that [`Follow::retry`](hotconf_core::provider::Follow::retry)
//!   tells a server that answered from one that could not be reached.
//!
//! ```
//! use hotconf_http::{client, HttpOptions};
//! let http = client("my-backend", &HttpOptions::default()).unwrap();
//! # let _ = http;
//! ```
#![forbid(unsafe_code)]

mod auth;
mod body;
mod options;
mod refusal;
mod source;

pub use auth::Authorization;
pub use body::{error_text, read_answer, read_body, read_error_page, BodyError, ERROR_PAGE_BYTES};
pub use options::{client, HttpOptions};
pub use refusal::{refusal_kind, Asked};
pub use source::{HttpClient, HttpProvider, HttpSource, SCHEMES};

use hotconf_core::provider::HttpStatus;
use hotconf_core::{Error, ErrorKind};
pub use reqwest::StatusCode;

/// A server's refusal: `message` (which names the backend, what was asked and the status) as a
/// transient error of `kind`, its cause the [`HttpStatus`]: the server answered, so the retry
/// backs off as for an answer, not as for an unreachable server.
pub fn status_error(kind: ErrorKind, message: impl Into<String>, status: StatusCode) -> Error {
    Error::new(kind, message)
        .with_transient(true)
        .with_cause(HttpStatus(status.as_u16()))
}

/// A transport failure (connect, TLS, timeout, a dropped connection) of `backend` while
/// `doing` `what`: a transient [`ErrorKind::Unavailable`] error keyed by `what`, reqwest's
/// error (without its URL) as its cause.
pub fn transport_error(backend: &str, doing: &str, what: &str, error: reqwest::Error) -> Error {
    let why = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    Error::new(
        ErrorKind::Unavailable,
        format!("{backend}: {doing} `{what}` {why}"),
    )
    .with_key(what.to_owned())
    .with_transient(true)
    .with_cause(error.without_url())
}

/// The format an answer's `Content-Type` names (`…/json`, `…+json`, `…/yaml`, `…/x-yaml`,
/// `…/toml`, `…/x-java-properties`), if it names one.
pub fn format_of(headers: &reqwest::header::HeaderMap) -> Option<hotconf_core::Format> {
    use hotconf_core::Format;
    let value = headers.get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim().to_ascii_lowercase();
    match media.rsplit(['/', '+']).next()? {
        "json" => Some(Format::Json),
        "yaml" | "x-yaml" => Some(Format::Yaml),
        "toml" | "x-toml" => Some(Format::Toml),
        "x-java-properties" | "x-properties" => Some(Format::Properties),
        _ => None,
    }
}

/// A body refused by its limit ([`BodyError::TooLarge`], whose message says how large) while
/// `backend` was `doing` `what`: transient, as the next answer may be within the limit again.
pub(crate) fn too_large(backend: &str, doing: &str, what: &str, error: &Error) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!(
            "{backend}: the answer to {doing} `{what}` {}",
            error.message()
        ),
    )
    .with_key(what.to_owned())
    .with_transient(true)
}

/// The words that say why a redirect is refused, for a backend's error message: `"{status}, a
/// redirect, which is not followed ({what} would go with it): give the server's own address"`.
pub fn redirect_refused(status: StatusCode, what: &str, server: &str) -> String {
    format!(
        "{status}, a redirect, which is not followed ({what} would go with it): give the \
         {server}'s own address"
    )
}
