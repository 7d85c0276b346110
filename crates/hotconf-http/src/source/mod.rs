//! `HttpProvider`: a document at an `http://` or `https://` URL, followed with conditional GETs.

mod follow;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hotconf_core::provider::{Capabilities, Follow, FollowedProvider, FollowedSource, SourceUri};
use hotconf_core::{Format, Limits, Redaction, Result, Secret};
use reqwest::Url;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::HttpOptions;
use follow::Poller;

/// The schemes of [`HttpProvider::from_uri`].
pub const SCHEMES: &[&str] = &["http", "https"];

/// A config document served over HTTP (a Spring Cloud Config server, an object-store URL, any
/// static endpoint), as a layer. Every `interval` (default 30 s) it asks again with
/// `If-None-Match` / `If-Modified-Since`, so an unchanged document costs a `304`; the `ETag` (or
/// `Last-Modified`, or a hash of the body) is the revision. The format is `?format=`, else the
/// answer's `Content-Type`, else the path's extension. A `404` is an empty layer. Bodies are
/// read under [`Limits::max_bytes`]; redirects are never followed; credentials (`user:password@`
/// for basic auth, `?token=` for a bearer token) are never printed.
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_http::HttpProvider;
/// let provider = HttpProvider::from_uri(&"https://config.internal/app.yaml?interval=10s".parse()?)?
///     .map_client(|client| client.limits(hotconf_core::Limits::default()));
/// let reloader = hotconf_core::Reloader::<serde_json::Value>::builder().layer(provider).start().await?;
/// # Ok(()) }
/// ```
///
/// Made from `http(s)://[user:password@]host[:port]/path?interval=30s&format=yaml&token=…&ca=FILE&cert=FILE&key=FILE`
/// with `HttpProvider::from_uri`; any other parameter is sent to the server as written. Its name
/// is the URI, credentials redacted.
pub type HttpProvider = FollowedProvider<HttpSource>;

/// How an [`HttpProvider`] connects: TLS files, and the limits its answers are read under.
#[derive(Debug, Clone, Default)]
pub struct HttpClient {
    options: HttpOptions,
    limits: Limits,
}

impl HttpClient {
    /// Trusts `tls`'s CA (the only root when set) and presents its client certificate.
    pub fn tls(mut self, tls: Option<hotconf_core::provider::TlsFiles>) -> Self {
        self.options = self.options.tls(tls);
        self
    }

    /// Reads under these limits (the document at most `max_bytes`).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// What an [`HttpProvider`] asks for: the URL, its credentials, its format and interval, made
/// from a URI by [`HttpProvider::from_uri`]. Its `Debug` shows the name only: the URL may carry
/// the server's own secret parameters.
pub struct HttpSource {
    name: String,
    url: Url,
    format: Option<Format>,
    interval: Duration,
    user: Option<(String, Option<Secret>)>,
    token: Option<Secret>,
    /// What an error page must not show: the password, the token, the basic-auth header's
    /// base64, the values of secret parameters sent to the server.
    hidden: Vec<Secret>,
}

impl fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSource")
            .field("name", &self.name)
            .field("interval", &self.interval)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// The shortest interval: a source asked more often than this would be a load on its server.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

impl FollowedSource for HttpSource {
    type Client = HttpClient;
    fn capabilities(&self) -> Capabilities {
        Capabilities::WATCH.interruptible().permanent_failures()
    }

    fn name(&self, _: &HttpClient) -> String {
        self.name.clone()
    }

    fn follower(
        self: &Arc<Self>,
        client: &HttpClient,
        _: &str,
        _: bool,
    ) -> Result<Box<dyn Follow>> {
        Ok(Box::new(Poller::new(client.clone(), self.clone())))
    }

    fn from_uri(uri: &SourceUri) -> Result<(HttpClient, HttpSource)> {
        uri.expect_scheme(SCHEMES)?;
        let host = uri.one_endpoint(if uri.scheme == "https" { 443 } else { 80 })?;
        let mut url = Url::parse(&format!("{}://{host}/", uri.scheme))
            .map_err(|e| uri.error(format_args!("not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| uri.error("not a URL with a path"))?
            .pop_if_empty()
            .extend(uri.path.split('/'));
        let mut query = uri.query();
        let tls = query.tls()?;
        if tls.is_some() && uri.scheme == "http" {
            return Err(uri.error("tls, ca, cert and key need an https:// URL"));
        }
        let token = query.secret("token");
        if token.is_some() && uri.username.is_some() {
            return Err(uri.error("give user:password@ (basic) or ?token= (bearer), not both"));
        }
        let interval = query
            .positive_duration("interval")?
            .unwrap_or(Duration::from_secs(30));
        if interval < MIN_INTERVAL {
            return Err(uri.error(format_args!("interval: at least {MIN_INTERVAL:?}")));
        }
        let format = query.format()?;
        // Every parameter not read above is the server's own: sent with the request, and its
        // value blanked on error pages when its name is a secret's.
        let policy = Redaction::default();
        let mut hidden: Vec<Secret> = Vec::new();
        let passed = query.rest();
        for (name, value) in &passed {
            if policy.is_secret_name(name) {
                hidden.push(Secret::new(value.to_string()));
            }
        }
        if !passed.is_empty() {
            url.query_pairs_mut().extend_pairs(passed);
        }
        let user = uri.username.clone().map(|u| (u, uri.password.clone()));
        if let Some((name, password)) = &user {
            let pair = format!("{name}:{}", password.as_ref().map_or("", |p| p.expose()));
            hidden.push(Secret::new(BASE64.encode(pair)));
            hidden.extend(password.clone());
        }
        hidden.extend(token.clone());
        let source = HttpSource {
            name: uri.to_string(),
            url,
            format,
            interval,
            user,
            token,
            hidden,
        };
        Ok((HttpClient::default().tls(tls), source))
    }
}
