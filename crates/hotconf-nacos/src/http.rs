//! Nacos's HTTP open API: the authoritative read that bypasses the SDK's cache (which never
//! reports a deletion and keeps serving stale content), the 1.x long-poll listener, and the
//! login that gives their token.

use std::time::{Duration, Instant};

use hotconf_core::{Error, ErrorKind, Format, Result};
use md5::{Digest, Md5};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use tokio::sync::Mutex;

use crate::config::NacosConfig;

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

pub(crate) struct OpenApi {
    http: reqwest::Client,
    base: String,
    session: Mutex<Session>,
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
    pub(crate) fn new(config: &NacosConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot build the HTTP client").with_cause(e)
            })?;
        Ok(OpenApi {
            http,
            base: format!("http://{}/nacos", config.server),
            session: Mutex::new(Session::default()),
        })
    }

    /// Reads the config now, from the server.
    pub(crate) async fn get(&self, config: &NacosConfig) -> Result<Remote> {
        match self.try_get(config).await {
            // An expired token: log in again, once.
            Err(error) if error.kind() == ErrorKind::PermissionDenied && self.renew().await => {
                self.try_get(config).await
            }
            other => other,
        }
    }

    async fn try_get(&self, config: &NacosConfig) -> Result<Remote> {
        let query = [
            ("dataId", config.data_id.as_str()),
            ("group", config.group.as_str()),
            ("tenant", config.namespace.as_str()),
        ];
        let request = self
            .http
            .get(format!("{}/v1/cs/configs", self.base))
            .query(&query);
        let response = self.send(config, request).await?;
        match response.status().as_u16() {
            200 => {
                let format = server_format(response.headers());
                let bytes = response.bytes().await.map_err(unreachable)?;
                Ok(Remote::Content(bytes.to_vec(), format))
            }
            404 => Ok(Remote::Missing),
            // Transient: an operator can grant the permission without restarting anything.
            401 | 403 => Err(Error::new(
                ErrorKind::PermissionDenied,
                "nacos refused the read (HTTP 403): no permission on this namespace or config",
            )
            .with_transient(true)),
            status => Err(refused(status)),
        }
    }

    /// The 1.x long-poll listener: returns `true` as soon as the server's md5 for the config
    /// differs from `md5` (at once when it already does), `false` after [`HOLD`] without a
    /// change. Creation (`md5` empty), deletion and every update end it, and being a fresh
    /// request each time it needs no re-listen after a reconnect.
    pub(crate) async fn long_poll(&self, config: &NacosConfig, md5: &str) -> Result<bool> {
        let mut listening = format!("{}\u{2}{}\u{2}{md5}", config.data_id, config.group);
        if !config.namespace.is_empty() {
            listening.push('\u{2}');
            listening.push_str(&config.namespace);
        }
        listening.push('\u{1}');
        let request = self
            .http
            .post(format!("{}/v1/cs/configs/listener", self.base))
            .header("Long-Pulling-Timeout", HOLD.as_millis().to_string())
            .form(&[("Listening-Configs", listening)])
            .timeout(HOLD + Duration::from_secs(10));
        let response = self.send(config, request).await?;
        match response.status().as_u16() {
            // The changed keys, or an empty body when the hold ended without a change.
            200 => Ok(!response
                .bytes()
                .await
                .map_err(unreachable)?
                .trim_ascii()
                .is_empty()),
            // 204 "listener empty": the namespace is not readable with these credentials.
            status => Err(refused(status)),
        }
    }

    /// Sends `request` with the access token in its `accessToken` header (never in the URL,
    /// which access logs keep), logging in first when there is none.
    async fn send(
        &self,
        config: &NacosConfig,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        self.authorized(config, request)
            .await?
            .send()
            .await
            .map_err(unreachable)
    }

    async fn authorized(
        &self,
        config: &NacosConfig,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        let (Some(user), Some(password)) = (&config.user, &config.password) else {
            return Ok(request);
        };
        let mut session = self.session.lock().await;
        if let Some((token, _)) = &session.token {
            return Ok(request.header("accessToken", token.as_str()));
        }
        let form = [("username", user.as_str()), ("password", password.expose())];
        let response = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        if !(200..300).contains(&status) {
            return Err(login_refused(user, status, &body, session.logged_in_once));
        }
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
            format!("nacos login as `{user}` failed: wrong user name or password ({said})"),
        )
        .with_transient(false);
    }
    Error::new(
        ErrorKind::Unavailable,
        format!("nacos login as `{user}` refused for now (HTTP {status}: {said})"),
    )
    .with_transient(true)
}

fn refused(status: u16) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("nacos answered HTTP {status}"),
    )
    .with_transient(true)
}

/// The config's type as the server states it: Nacos's `Config-Type` header, or a JSON media type.
fn server_format(headers: &HeaderMap) -> Option<Format> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    header("config-type")
        .and_then(|t| t.parse().ok())
        .or_else(|| {
            header(CONTENT_TYPE.as_str())
                .filter(|t| t.starts_with("application/json"))
                .map(|_| Format::Json)
        })
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
