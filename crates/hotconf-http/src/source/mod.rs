//! `HttpProvider`: a document at an `http://` or `https://` URL, followed with conditional GETs.

mod follow;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hotconf_core::provider::{
    Capabilities, ClientState, Follow, FollowedProvider, FollowedSource, SourceUri, TlsFiles,
};
use hotconf_core::{Format, Limits, Redaction, Result, Secret};
use once_cell::sync::OnceCell;
use reqwest::Url;

use crate::{Authorization, HttpOptions};
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

/// How an [`HttpProvider`] connects: TLS files, and the limits its answers are read under. The
/// HTTP client built from them (its connections) is shared by this client's clones.
#[derive(Debug, Clone, Default)]
pub struct HttpClient(ClientState<(HttpOptions, Limits), OnceCell<reqwest::Client>>);

impl HttpClient {
    /// Trusts `tls`'s CA (the only root when set) and presents its client certificate.
    pub fn tls(self, tls: Option<TlsFiles>) -> Self {
        HttpClient(self.0.edit(|(options, _)| options.tls = tls))
    }

    /// Reads under these limits (the document at most `max_bytes`).
    pub fn limits(self, limits: Limits) -> Self {
        HttpClient(self.0.edit(|(_, l)| *l = limits))
    }

    fn http(&self) -> Result<reqwest::Client> {
        let options = &self.0.config().0;
        self.0
            .built()
            .get_or_try_init(|| crate::client("http", options))
            .cloned()
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
    authorization: Option<Authorization>,
    /// What an error page must not show: the password, the token, the basic-auth header's
    /// base64, the values of secret parameters sent to the server.
    hidden: Vec<Secret>,
}

impl fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HttpSource").field(&self.name).finish()
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

    fn follower(self: &Arc<Self>, http: &HttpClient, _: &str, _: bool) -> Result<Box<dyn Follow>> {
        let (client, source) = (http.clone(), self.clone());
        Ok(Box::new(Poller {
            client,
            source,
            last: None,
        }))
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
        let interval = query
            .positive_duration("interval")?
            .unwrap_or(Duration::from_secs(30));
        if interval < MIN_INTERVAL {
            return Err(uri.error(format_args!("interval: at least {MIN_INTERVAL:?}")));
        }
        let format = query.format()?;
        let token = query.secret("token");
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
        let authorization = match (&uri.username, token) {
            (Some(_), Some(_)) => return Err(uri.error("give user:password@ or ?token=, not both")),
            (Some(user), None) => Some(Authorization::basic(user, uri.password.as_ref())?),
            (None, Some(token)) => Some(Authorization::bearer(&token)?),
            (None, None) => None,
        };
        hidden.extend(authorization.iter().flat_map(|a| a.secrets().to_vec()));
        let source = HttpSource {
            name: uri.to_string(),
            url,
            format,
            interval,
            authorization,
            hidden,
        };
        Ok((HttpClient::default().tls(tls), source))
    }
}
