//! A server's refusal, in the one shape every HTTP backend prints.

use hotconf_core::{Error, ErrorKind};
use reqwest::StatusCode;

use crate::{error_text, status_error};

/// A request as its errors name it: `{backend}: {doing} `{what}``, and what a redirect would
/// have carried to which server (the reason it is not followed).
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// The backend (`consul`, `apollo`, `http`).
    pub backend: &'a str,
    /// What it was doing (`reading`, `polling`).
    pub doing: &'a str,
    /// To what: a key, a namespace, a path. The error's key.
    pub what: &'a str,
    /// What a followed redirect would carry (`the ACL token`).
    pub carries: &'a str,
    /// The server's role, in "give the {server}'s own address" (`agent`).
    pub server: &'a str,
}

impl<'a> Asked<'a> {
    /// `backend` `doing` `what`, whose redirect would carry the credentials to another server.
    pub fn new(backend: &'a str, doing: &'a str, what: &'a str) -> Self {
        Asked {
            backend,
            doing,
            what,
            carries: "the credentials",
            server: "server",
        }
    }

    /// This request, whose redirect would carry `carries` (`the ACL token`) away from the
    /// `server` (`agent`).
    pub fn carrying(self, carries: &'a str, server: &'a str) -> Self {
        Asked {
            carries,
            server,
            ..self
        }
    }

    /// The refusal of this request with `status`: `{backend}: {doing} `{what}` got {status}:
    /// {page}{hint}`, `page` being the error page's first bytes with the request's secrets
    /// already blanked ([`read_error_page`](crate::read_error_page)); for a redirect, why it is
    /// not followed instead of the page (its `Location` is never repeated: its query may hold
    /// anything). Transient and tagged with the status ([`status_error`]); of the kind
    /// [`refusal_kind`] gives, keyed by `what`.
    pub fn refused(&self, status: StatusCode, page: &[u8], hint: &str) -> Error {
        let said = if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            crate::redirect_refused(status, self.carries, self.server)
        } else {
            format!("{status}: {}{hint}", error_text(page))
        };
        let Asked {
            backend,
            doing,
            what,
            ..
        } = self;
        let message = format!("{backend}: {doing} `{what}` got {said}");
        status_error(refusal_kind(status), message, status).with_key(what.to_string())
    }
}

/// The kind of a refusal by its status: [`ErrorKind::PermissionDenied`] for 401 and 403,
/// [`ErrorKind::Config`] for 400 and 413 (the request itself is wrong), else
/// [`ErrorKind::Unavailable`] (the server cannot serve it now: 5xx, 429, a redirect).
pub fn refusal_kind(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 | 403 => ErrorKind::PermissionDenied,
        400 | 413 => ErrorKind::Config,
        _ => ErrorKind::Unavailable,
    }
}
