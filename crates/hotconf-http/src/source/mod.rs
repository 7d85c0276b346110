//! `HttpProvider`: a document at an `http://` or `https://` URL, followed with conditional GETs.

mod follow;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::provider::{follow, Capabilities, Layer, Metadata, SourceUri, WatchStream};
use hotconf_core::{Format, Limits, Provider, Redaction, Result, Secret};
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
/// let provider = HttpProvider::from_uri(&"https://config.internal/app.yaml?interval=10s".parse()?)?;
/// let reloader = hotconf_core::Reloader::<serde_json::Value>::builder().layer(provider).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpProvider {
    source: Arc<HttpSource>,
}

/// What an [`HttpProvider`] asks for, and how. Its `Debug` shows the name only: the URL may
/// carry the server's own secret parameters.
#[derive(Clone)]
struct HttpSource {
    name: String,
    url: Url,
    format: Option<Format>,
    interval: Duration,
    user: Option<(String, Option<Secret>)>,
    token: Option<Secret>,
    /// What an error page must not show: the password, the token, the basic-auth header's
    /// base64, the values of secret parameters sent to the server.
    hidden: Vec<Secret>,
    options: HttpOptions,
    limits: Limits,
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

impl HttpProvider {
    /// A provider from `http(s)://[user:password@]host[:port]/path?interval=30s&format=yaml&token=…&ca=FILE&cert=FILE&key=FILE`;
    /// any other parameter is sent to the server as written.
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for another scheme, not exactly one host, or a bad
    /// parameter.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
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
            options: HttpOptions::default().tls(tls),
            limits: Limits::default(),
        };
        Ok(HttpProvider {
            source: Arc::new(source),
        })
    }

    /// Reads under these limits (the document at most `max_bytes`).
    pub fn limits(mut self, limits: Limits) -> Self {
        Arc::make_mut(&mut self.source).limits = limits;
        self
    }

    /// The source's printable name: its URI, credentials redacted.
    pub fn name(&self) -> &str {
        &self.source.name
    }
}

#[async_trait]
impl Provider for HttpProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.source.name.clone(), Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        use hotconf_core::provider::Follow;
        Poller::new(self.source.clone())
            .read()
            .await
            .map_err(|e| e.or_source_name(&self.source.name))
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(follow(
            self.source.name.clone(),
            Poller::new(self.source.clone()),
        ))
    }
}
