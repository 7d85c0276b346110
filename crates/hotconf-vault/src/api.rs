//! One request to the Vault HTTP API: the token in a sensitive `X-Vault-Token` header, the
//! namespace, a deadline, the answer read under a limit, refusals in the shared shape.

use std::time::Duration;

use hotconf_core::{Error, ErrorKind, Result, Secret};
use hotconf_http::{read_answer, read_error_page, transport_error, Asked};
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The deadline of one request (headers and body).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where requests go and how they are read: built once per client.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    /// `http(s)://host:port`, no trailing slash.
    pub(crate) base: String,
    pub(crate) namespace: Option<HeaderValue>,
    /// The largest answer read.
    pub(crate) max_bytes: usize,
}

/// A successful answer, or a 404 (no such secret, a deleted KV v2 version, an empty list).
#[derive(Debug)]
pub(crate) enum Reply {
    Found(Value),
    NotFound,
}

impl Api {
    /// `method` on `/v1/{path}` (path already percent-encoded), with `token` if any and `body`
    /// as JSON. `doing` and `what` name the request in errors.
    pub(crate) async fn call(
        &self,
        doing: &str,
        method: Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<&Value>,
    ) -> Result<Reply> {
        let what = path.split('?').next().unwrap_or(path);
        let url = format!("{}/v1/{path}", self.base);
        let mut request = self
            .http
            .request(method, url)
            .timeout(REQUEST_TIMEOUT)
            .header("X-Vault-Request", "true");
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token_header(token)?);
        }
        if let Some(namespace) = &self.namespace {
            request = request.header("X-Vault-Namespace", namespace.clone());
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error("vault", doing, what, e))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(Reply::NotFound);
        }
        if status.is_success() {
            let bytes = read_answer(response, self.max_bytes, "vault", doing, what).await?;
            let value = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).map_err(|e| {
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("vault: {doing} `{what}`: the answer is not JSON: {e}"),
                    )
                    .with_key(what.to_owned())
                    .with_transient(true)
                })?
            };
            return Ok(Reply::Found(value));
        }
        let secrets: Vec<&str> = token.map(|t| t.expose().as_str()).into_iter().collect();
        let page = read_error_page(response, &secrets).await;
        Err(Asked::new("vault", doing, what)
            .carrying("the Vault token", "server")
            .refused(status, &page, hint(status, what)))
    }
}

/// What a refusal of `what` (a path) means, for the operator who reads it.
fn hint(status: StatusCode, what: &str) -> &'static str {
    match status.as_u16() {
        403 if what.starts_with("auth/") && what.ends_with("/login") => {
            " (the login was refused: check the role and its credentials, the secret id or the \
             service account the role binds)"
        }
        403 => " (the token has no policy that allows this path, or it expired or was revoked)",
        503 => " (the server is sealed, or has no active node)",
        429 => " (a standby that does not forward, or a rate limit)",
        _ => "",
    }
}

/// The token as a header value marked sensitive, so that reqwest never prints it.
fn token_header(token: &Secret) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
        Error::new(
            ErrorKind::Config,
            "vault: the token holds characters a header cannot carry",
        )
        .with_transient(false)
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Whether `error` is the server's 403: the token is not (or no longer) allowed.
pub(crate) fn is_forbidden(error: &Error) -> bool {
    error.kind() == ErrorKind::PermissionDenied
}

/// `value` at `pointer` (`/data/metadata/version`) as a `u64`, if it is one.
pub(crate) fn u64_at(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

/// `value` at `pointer` as a string, if it is one.
pub(crate) fn str_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// A lying server's answer: `what` was not where the API puts it.
pub(crate) fn malformed(doing: &str, what: &str, missing: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("vault: {doing} `{what}`: the answer has no {missing}"),
    )
    .with_key(what.to_owned())
    .with_transient(true)
}

/// Percent-encodes each segment of a secret's path (`a b/c` → `a%20b/c`).
pub(crate) fn encode_path(path: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    path.split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("app/db primary/x?y"), "app/db%20primary/x%3Fy");
        assert_eq!(encode_path("a.b-c_d~e"), "a.b-c_d~e");
    }

    #[test]
    fn a_token_header_is_sensitive_and_a_bad_token_is_refused_without_quoting_it() {
        let header = token_header(&Secret::new("hvs.abc")).unwrap();
        assert!(header.is_sensitive());
        let error = token_header(&Secret::new("bad\ntoken")).unwrap_err();
        assert!(!error.to_string().contains("bad"), "{error}");
    }

    #[test]
    fn a_refused_login_is_told_from_a_token_without_the_policy() {
        let forbidden = StatusCode::FORBIDDEN;
        assert!(hint(forbidden, "auth/kubernetes/login").contains("login was refused"));
        assert!(hint(forbidden, "auth/approle/login").contains("login was refused"));
        assert!(hint(forbidden, "secret/data/app").contains("no policy"));
        assert!(hint(forbidden, "auth/token/renew-self").contains("no policy"));
    }
}
