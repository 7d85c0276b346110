//! Nacos's HTTP open API: the authoritative read that bypasses the SDK's cache (which never
//! reports a deletion and keeps serving stale content), the 1.x long-poll listener, and the
//! login that gives their token.
//!
//! Redirects are never followed: following one would send the login form (user and password)
//! or the `accessToken` header to whatever origin the `Location` names. A 3xx is a transient
//! error naming its status. Every body is read chunk by chunk under a limit: the content under
//! [`hotconf_core::Limits::max_bytes`], the other answers (login, listener, errors) under a few KiB.

use std::time::{Duration, Instant};

use hotconf_core::provider::HttpStatus;
use hotconf_core::{Error, ErrorKind, Format, Result};
use hotconf_http::{read_body, read_error_page, redirect_refused, status_error, Asked, BodyError};
use md5::{Digest, Md5};
use once_cell::sync::OnceCell;
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use tokio::sync::Mutex;

use crate::config::{ClientConfig, NacosSource};

/// What the server holds for one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remote {
    /// The content, as bytes (a parse error, not a lossy decode, reports bad UTF-8), and the
    /// format the server gave the config (`Config-Type` on Nacos, a JSON media type on r-nacos).
    Content(Vec<u8>, Option<Format>),
    /// No such config (404): an empty layer.
    Missing,
}

impl Remote {
    /// The md5 Nacos compares listeners with: hex of the content's md5, empty for a missing
    /// config.
    pub(crate) fn md5(&self) -> String {
        match self {
            Remote::Content(bytes, _) => format!("{:x}", Md5::digest(bytes)),
            Remote::Missing => String::new(),
        }
    }
}

/// How long the server may hold a long poll (r-nacos clamps it to 10–120 s).
const HOLD: Duration = Duration::from_secs(30);
/// The largest answer to a login or a long poll (a token; the changed configs' keys).
const SMALL_BODY: usize = 64 << 10;

pub(crate) struct OpenApi {
    pub(crate) config: ClientConfig,
    /// Built on first use (see [`OpenApi::http`]).
    http: OnceCell<Http>,
    session: Mutex<Session>,
}

/// The HTTP client and the API's base URL.
#[derive(Debug, Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
}

/// The settings only: the HTTP client and the session (which holds the access token) say
/// nothing useful, and the token must not be printed.
impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The login state.
#[derive(Default)]
struct Session {
    /// The access token and when it was obtained.
    token: Option<(String, Instant)>,
    /// A login has worked before: later refusals are the server's trouble (a login rate limit,
    /// a restart), not wrong credentials.
    logged_in_once: bool,
}

/// A token younger than this is not renewed on a 403: the refusal is about permissions.
const FRESH: Duration = Duration::from_secs(30);

impl OpenApi {
    pub(crate) fn new(config: ClientConfig) -> Self {
        OpenApi {
            config,
            http: OnceCell::new(),
            session: Mutex::new(Session::default()),
        }
    }

    /// The HTTP client, built on first use: not exactly one endpoint, or a client that cannot
    /// be built, is a permanent `config` error.
    fn http(&self) -> Result<&Http> {
        self.http.get_or_try_init(|| self.build())
    }

    fn build(&self) -> Result<Http> {
        let [endpoint] = self.config.endpoints.as_slice() else {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "nacos: give exactly one server address (endpoints holds {})",
                    self.config.endpoints.len()
                ),
            )
            .with_transient(false));
        };
        // Never follow a redirect: the login form or the access token would go with it.
        // Plain requests end within 5 s; the long poll sets its own deadline.
        let options = hotconf_http::HttpOptions::default()
            .tls(self.config.tls.clone())
            .request_timeout(Duration::from_secs(5));
        let client = hotconf_http::client("nacos", &options)?;
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        Ok(Http {
            client,
            base: format!("{scheme}://{endpoint}/nacos"),
        })
    }

    /// Reads the config now, from the server.
    pub(crate) async fn get(&self, config: &NacosSource) -> Result<Remote> {
        match self.try_get(config).await {
            // An expired token: log in again, once.
            Err(error) if error.kind() == ErrorKind::PermissionDenied && self.renew().await => {
                self.try_get(config).await
            }
            other => other,
        }
    }

    async fn try_get(&self, config: &NacosSource) -> Result<Remote> {
        let http = self.http()?;
        let query = [
            ("dataId", config.data_id.as_str()),
            ("group", config.group.as_str()),
            ("tenant", config.namespace.as_str()),
        ];
        let request = http
            .client
            .get(format!("{}/v1/cs/configs", http.base))
            .query(&query);
        let response = self.send(http, request, "reading").await?;
        match response.status().as_u16() {
            200 => {
                let format = server_format(response.headers());
                let bytes =
                    read_bounded(response, self.config.limits.max_bytes, "the config").await?;
                Ok(Remote::Content(bytes, format))
            }
            404 => Ok(Remote::Missing),
            // Transient (401 and 403 too): an operator can grant the permission without
            // restarting anything.
            _ => Err(self.refused(response, "reading", config).await),
        }
    }

    /// The 1.x long-poll listener: returns `true` as soon as the server's md5 for the config
    /// differs from `md5` (at once when it already does), `false` after [`HOLD`] without a
    /// change. Creation (`md5` empty), deletion and every update end it, and being a fresh
    /// request each time it needs no re-listen after a reconnect.
    pub(crate) async fn long_poll(&self, config: &NacosSource, md5: &str) -> Result<bool> {
        let http = self.http()?;
        let mut listening = format!("{}\u{2}{}\u{2}{md5}", config.data_id, config.group);
        if !config.namespace.is_empty() {
            listening.push('\u{2}');
            listening.push_str(&config.namespace);
        }
        listening.push('\u{1}');
        let request = http
            .client
            .post(format!("{}/v1/cs/configs/listener", http.base))
            .header("Long-Pulling-Timeout", HOLD.as_millis().to_string())
            .form(&[("Listening-Configs", listening)])
            .timeout(HOLD + Duration::from_secs(10));
        let response = self.send(http, request, "listening").await?;
        match response.status().as_u16() {
            // The changed keys, or an empty body when the hold ended without a change.
            200 => Ok(!read_bounded(response, SMALL_BODY, "the listener's answer")
                .await?
                .trim_ascii()
                .is_empty()),
            // 204 "listener empty": the namespace is not readable with these credentials.
            _ => Err(self.refused(response, "listening to", config).await),
        }
    }

    /// Sends `request` with the access token in its `accessToken` header (never in the URL,
    /// which access logs keep), logging in first when there is none.
    /// A redirect is an error, never followed.
    async fn send(
        &self,
        http: &Http,
        request: reqwest::RequestBuilder,
        doing: &str,
    ) -> Result<Response> {
        let response = self
            .authorized(http, request)
            .await?
            .send()
            .await
            .map_err(unreachable)?;
        refuse_redirect(response, doing)
    }

    async fn authorized(
        &self,
        http: &Http,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        let (Some(user), Some(password)) = (&self.config.user, &self.config.password) else {
            return Ok(request);
        };
        let mut session = self.session.lock().await;
        if let Some((token, _)) = &session.token {
            return Ok(request.header("accessToken", token.as_str()));
        }
        let form = [("username", user.as_str()), ("password", password.expose())];
        let response = http
            .client
            .post(format!("{}/v1/auth/login", http.base))
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let response = refuse_redirect(response, "logging in")?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            // An error page may echo the form (a careless proxy): never the password.
            let body = read_error_page(response, &[password.expose()]).await;
            let body = String::from_utf8_lossy(&body);
            return Err(login_refused(user, status, &body, session.logged_in_once));
        }
        let body = read_bounded(response, SMALL_BODY, "the login's answer").await?;
        let body = String::from_utf8_lossy(&body);
        let token = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["accessToken"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PermissionDenied,
                    "nacos login answered without an accessToken",
                )
            })?;
        session.token = Some((token.clone(), Instant::now()));
        session.logged_in_once = true;
        Ok(request.header("accessToken", token))
    }

    /// The server's refusal of `doing` `config`, its error page without the password or the
    /// access token.
    async fn refused(&self, response: Response, doing: &str, config: &NacosSource) -> Error {
        let status = response.status();
        let token = self
            .session
            .lock()
            .await
            .token
            .clone()
            .map(|(token, _)| token);
        let password = self.config.password.as_ref().map(|p| p.expose().as_str());
        let secrets: Vec<&str> = password.into_iter().chain(token.as_deref()).collect();
        let page = read_error_page(response, &secrets).await;
        let hint = match status.as_u16() {
            401 | 403 => " (no permission on this namespace or config)",
            204 => " (an empty listener: the namespace is not readable with these credentials)",
            _ => "",
        };
        Asked::new("nacos", doing, &config.data_id).refused(status, &page, hint)
    }

    /// Drops a token old enough to have expired; `false` when there is none to renew.
    async fn renew(&self) -> bool {
        let mut session = self.session.lock().await;
        match &session.token {
            Some((_, at)) if at.elapsed() >= FRESH => {
                session.token = None;
                true
            }
            _ => false,
        }
    }
}

/// A refused login. Permanent only when it means wrong credentials: the first login, refused
/// for another reason than r-nacos's login rate limit or an internal error.
fn login_refused(user: &str, status: u16, body: &str, logged_in_once: bool) -> Error {
    let said: String = body.chars().take(120).collect();
    let busy = body.contains("LIMIT") || body.contains("SYSTEM_ERROR");
    if matches!(status, 401 | 403) && !busy && !logged_in_once {
        return Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "nacos login as `{user}` failed: wrong user name or password (HTTP {status}: {said})"
            ),
        )
        .with_transient(false)
        .with_cause(HttpStatus(status));
    }
    Error::new(
        ErrorKind::Unavailable,
        format!("nacos login as `{user}` refused for now (HTTP {status}: {said})"),
    )
    .with_transient(true)
    .with_cause(HttpStatus(status))
}

/// Passes `response` on unless it is a redirect: then a transient error naming the status (not
/// the `Location`, whose query may hold anything).
fn refuse_redirect(response: Response, doing: &str) -> Result<Response> {
    let status = response.status();
    if !status.is_redirection() {
        return Ok(response);
    }
    Err(redirected(doing, status))
}

fn redirected(doing: &str, status: StatusCode) -> Error {
    let why = redirect_refused(status, "the credentials", "server");
    status_error(
        ErrorKind::Unavailable,
        format!("nacos answered {doing} with {why}"),
        status,
    )
}

/// `response`'s body whole under `limit` bytes, refused as soon as it passes them. Transient:
/// the next answer may be within the limit again.
async fn read_bounded(response: Response, limit: usize, what: &str) -> Result<Vec<u8>> {
    read_body(response, limit).await.map_err(|e| match e {
        BodyError::TooLarge(e) => {
            Error::new(ErrorKind::Parse, format!("nacos: {what} {}", e.message()))
                .with_transient(true)
        }
        BodyError::Transport(e) => unreachable(e),
    })
}

/// The config's type as the server states it: Nacos's `Config-Type` header, or its media type.
fn server_format(headers: &HeaderMap) -> Option<Format> {
    headers
        .get("config-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.parse().ok())
        .or_else(|| hotconf_http::format_of(headers))
}

fn unreachable(error: reqwest::Error) -> Error {
    // Without its URL, reqwest's message names the host and the cause only.
    Error::new(ErrorKind::Unavailable, "nacos is unreachable")
        .with_transient(true)
        .with_cause(error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_first_refused_login_means_wrong_credentials() {
        let wrong = login_refused("app", 403, "USER_CHECK_ERROR", false);
        assert_eq!(wrong.kind(), ErrorKind::PermissionDenied);
        assert!(!wrong.is_transient());
        assert!(
            wrong.to_string().contains("wrong user name or password"),
            "{wrong}"
        );
        let limited = login_refused("app", 403, "LOGIN_LIMITE_ERROR,Frequent login", false);
        assert!(limited.is_transient(), "{limited}");
        assert!(login_refused("app", 403, "SYSTEM_ERROR", false).is_transient());
        assert!(login_refused("app", 403, "USER_CHECK_ERROR", true).is_transient());
        assert!(login_refused("app", 502, "bad gateway", false).is_transient());
    }
}
