//! Nacos's HTTP open API: the authoritative read that bypasses the SDK's cache (which never
//! reports a deletion and keeps serving stale content), the 1.x long-poll listener, and the
//! login that gives their token.

use std::time::Duration;

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
    token: Mutex<Option<String>>,
}

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
            token: Mutex::new(None),
        })
    }

    /// Reads the config now, from the server.
    pub(crate) async fn get(&self, config: &NacosConfig) -> Result<Remote> {
        let first = self.try_get(config).await;
        match first {
            // A token that expired: log in again once.
            Err(error) if error.kind() == ErrorKind::PermissionDenied && config.user.is_some() => {
                *self.token.lock().await = None;
                self.try_get(config).await
            }
            other => other,
        }
    }

    async fn try_get(&self, config: &NacosConfig) -> Result<Remote> {
        let mut query = vec![
            ("dataId", config.data_id.clone()),
            ("group", config.group.clone()),
            ("tenant", config.namespace.clone()),
        ];
        if let Some(token) = self.token(config).await? {
            query.push(("accessToken", token));
        }
        let response = self
            .http
            .get(format!("{}/v1/cs/configs", self.base))
            .query(&query)
            .send()
            .await
            .map_err(unreachable)?;
        match response.status().as_u16() {
            200 => {
                let format = server_format(response.headers());
                let bytes = response.bytes().await.map_err(unreachable)?;
                Ok(Remote::Content(bytes.to_vec(), format))
            }
            404 => Ok(Remote::Missing),
            401 | 403 => Err(Error::new(
                ErrorKind::PermissionDenied,
                "nacos refused the read (HTTP 403)",
            )),
            status => Err(Error::new(
                ErrorKind::Unavailable,
                format!("nacos answered HTTP {status}"),
            )
            .with_transient(true)),
        }
    }

    /// The 1.x long-poll listener: returns as soon as the server's md5 for the config differs
    /// from `md5` (at once when it already does), or after [`HOLD`] without a change. Creation
    /// (`md5` empty), deletion and every update end it, and being a fresh request each time it
    /// needs no re-listen after a reconnect.
    pub(crate) async fn long_poll(&self, config: &NacosConfig, md5: &str) -> Result<()> {
        let mut listening = format!("{}\u{2}{}\u{2}{md5}", config.data_id, config.group);
        if !config.namespace.is_empty() {
            listening.push('\u{2}');
            listening.push_str(&config.namespace);
        }
        listening.push('\u{1}');
        let token: Vec<(&str, String)> = self
            .token(config)
            .await?
            .map(|t| ("accessToken", t))
            .into_iter()
            .collect();
        let response = self
            .http
            .post(format!("{}/v1/cs/configs/listener", self.base))
            .query(&token)
            .header("Long-Pulling-Timeout", HOLD.as_millis().to_string())
            .form(&[("Listening-Configs", listening)])
            .timeout(HOLD + Duration::from_secs(10))
            .send()
            .await
            .map_err(unreachable)?;
        match response.status().as_u16() {
            200 => Ok(()),
            // 204 "listener empty": the namespace is not readable with these credentials.
            status => Err(Error::new(
                ErrorKind::Unavailable,
                format!("nacos refused the long poll (HTTP {status})"),
            )
            .with_transient(true)),
        }
    }

    /// The access token, logging in when there is none yet.
    async fn token(&self, config: &NacosConfig) -> Result<Option<String>> {
        let (Some(user), Some(password)) = (&config.user, &config.password) else {
            return Ok(None);
        };
        let mut token = self.token.lock().await;
        if let Some(token) = token.as_ref() {
            return Ok(Some(token.clone()));
        }
        let form = [("username", user.as_str()), ("password", password.expose())];
        let response = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("nacos login as `{user}` failed: wrong user name or password"),
            )
            .with_transient(false));
        }
        let body: serde_json::Value = response.json().await.map_err(unreachable)?;
        let value = body["accessToken"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PermissionDenied,
                    "nacos login answered without an accessToken",
                )
                .with_transient(false)
            })?;
        *token = Some(value.clone());
        Ok(Some(value))
    }
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
    // reqwest's message never holds the query string's token: it names the host and the cause.
    Error::new(ErrorKind::Unavailable, "nacos is unreachable")
        .with_transient(true)
        .with_cause(error.without_url())
}
