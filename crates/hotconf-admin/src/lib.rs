//! hotconf's admin HTTP API and page.
//!
//! [`Admin`] builds an [`axum::Router`] that lets an operator see and operate a running hotconf
//! configuration: the applied version and its sources, the history of applied versions, the diff
//! between two of them, where a key's value comes from, the (redacted) config, Prometheus metrics,
//! liveness and readiness, and (only with a bearer token configured) rollback and unpin. `GET /`
//! serves a self-contained admin page (no CDN, no build step) that uses the same API.
//!
//! The router talks to the running reloader through the object-safe [`View`] trait, so it does
//! not depend on the config type.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /` | the admin page |
//! | `GET /config/version` | [`View::version`] |
//! | `GET /config/history` | [`View::history`] |
//! | `GET /config/diff?from=N&to=M` | [`View::diff`] |
//! | `GET /config` | [`View::config`] (already redacted) |
//! | `GET /config/explain?key=K` | [`View::explain`] |
//! | `GET /metrics` | the registry: OpenMetrics when asked for, else the Prometheus text format (404 without a registry) |
//! | `GET /healthz` | always `200 {"status":"alive"}` |
//! | `GET /readyz` | `200` when ready, `503` otherwise; body `{"ready":bool, ...detail}` |
//! | `POST /config/rollback/{version}` | [`View::rollback`] (bearer token) |
//! | `POST /config/unpin` | [`View::unpin`] (bearer token) |
//!
//! A request whose `Host` names neither an IP address, `localhost`, nor a host listed with
//! [`Admin::allowed_hosts`] answers `421` (DNS rebinding). With [`Admin::read_token`], every
//! route but `/`, `/healthz` and `/readyz` needs the read or the write token.
//!
//! Every error answers a 4xx or 5xx status with a JSON body `{"error":"…"}`.
#![forbid(unsafe_code)]

mod access;
mod auth;
mod page;
mod reloader;
mod server;
mod view;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde::Deserialize;
use serde_json::{json, Value};

use auth::{authorize, Token};
pub use reloader::{router, serve};
pub use server::{RunningServer, Server};
pub use view::{AdminError, Readiness, View};

/// The content type of `GET /metrics`: the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of `GET /metrics` for scrapers that do not ask for OpenMetrics: the
/// Prometheus text format.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The default largest request body, in bytes ([`Admin::body_limit`]).
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// The longest key `GET /config/explain` takes, in bytes; a longer one answers `400`.
pub const MAX_EXPLAIN_KEY_BYTES: usize = 4096;

/// The most segments (`a.b[0]` has three) a key `GET /config/explain` takes; more answer `400`.
pub const MAX_EXPLAIN_KEY_SEGMENTS: usize = 256;

/// The default deadline of one request ([`Admin::request_timeout`]).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the admin router (or a server around it).
///
/// ```no_run
/// # use std::sync::Arc;
/// # async fn run(view: Arc<dyn hotconf_admin::View>) -> std::io::Result<()> {
/// hotconf_admin::Admin::new(view)
///     .token("s3cret")
///     .serve("127.0.0.1:9090".parse().unwrap())
///     .await
/// # }
/// ```
#[derive(Clone)]
pub struct Admin {
    view: Arc<dyn View>,
    token: Option<Token>,
    read_token: Option<Token>,
    allowed_hosts: Vec<String>,
    registry: Option<Arc<Registry>>,
    body_limit: usize,
    request_timeout: Duration,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("token", &self.token)
            .field("read_token", &self.read_token)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("registry", &self.registry.is_some())
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// An admin over this view: read-only (no token), no metrics.
    pub fn new(view: Arc<dyn View>) -> Self {
        Self {
            view,
            token: None,
            read_token: None,
            allowed_hosts: Vec::new(),
            registry: None,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Enables the write routes (rollback, unpin) for requests that carry
    /// `Authorization: Bearer <secret>`. The secret is compared in constant time and never
    /// printed. Surrounding whitespace is ignored (the newline at the end of a token file), and
    /// an empty secret leaves writes disabled.
    pub fn token(mut self, secret: impl AsRef<str>) -> Self {
        let secret = secret.as_ref().trim();
        self.token = (!secret.is_empty()).then(|| Token::new(secret));
        self
    }

    /// Guards reads too: every route but `/`, `/healthz` and `/readyz` then needs
    /// `Authorization: Bearer <secret>` (this secret or the write [`token`](Self::token)). For an
    /// admin API reachable beyond the host. Whitespace is trimmed; an empty secret guards nothing.
    pub fn read_token(mut self, secret: impl AsRef<str>) -> Self {
        let secret = secret.as_ref().trim();
        self.read_token = (!secret.is_empty()).then(|| Token::new(secret));
        self
    }

    /// Also serves requests naming these hosts (`admin.internal`, `app.example:9900`; the port
    /// is ignored; `*` serves any host, for a proxy that rewrites `Host`). IP addresses,
    /// `localhost` and `*.localhost` are always served; any other `Host` answers `421`, so a
    /// page that rebinds its own name to this address cannot read the API.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed_hosts.extend(
            hosts
                .into_iter()
                .map(|h| access::normalize_host(h.as_ref())),
        );
        self
    }

    /// Whether reads need a token ([`read_token`](Self::read_token)).
    pub fn reads_guarded(&self) -> bool {
        self.read_token.is_some()
    }

    /// Serves this registry at `/metrics` in the OpenMetrics text format.
    pub fn registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]); a larger
    /// one answers `413`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The deadline of one request (default [`DEFAULT_REQUEST_TIMEOUT`]); a request that takes
    /// longer answers `503`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Whether the write routes are enabled (a token is configured).
    pub fn writes_enabled(&self) -> bool {
        self.token.is_some()
    }

    /// The router, with every route, the body limit and the request deadline.
    pub fn router(self) -> Router {
        let page = page::Page::new(self.writes_enabled(), self.reads_guarded());
        let access = access::Access {
            hosts: self.allowed_hosts.into(),
            read_token: self.read_token,
            write_token: self.token.clone(),
        };
        let limits = Limits {
            body: self.body_limit,
            timeout: self.request_timeout,
        };
        let shared = Arc::new(Shared {
            view: self.view,
            token: self.token,
            registry: self.registry,
            page,
        });
        Router::new()
            .route("/", get(page_handler))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/config", get(config))
            .route("/config/version", get(version))
            .route("/config/history", get(history))
            .route("/config/diff", get(diff))
            .route("/config/explain", get(explain))
            .route("/config/rollback/{version}", post(rollback))
            .route("/config/unpin", post(unpin))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(shared)
            .layer(DefaultBodyLimit::max(limits.body))
            .layer(middleware::from_fn_with_state(access, access::check))
            .layer(middleware::from_fn_with_state(limits, guard))
    }

    /// Binds `addr` (port 0 picks a free port); [`Server::local_addr`] tells which.
    /// Binding an address beyond loopback with unguarded reads logs a warning: the config
    /// (redacted) is then readable by anyone who reaches the port.
    pub async fn bind(self, addr: std::net::SocketAddr) -> std::io::Result<Server> {
        if !addr.ip().is_loopback() && !self.reads_guarded() {
            tracing::warn!(
                %addr,
                "the admin API is readable by anyone who can reach this address: guard reads \
                 with a read token (Admin::read_token) or bind a loopback address"
            );
        }
        Server::bind(self.router(), addr).await
    }

    /// Binds `addr` and serves until the process ends (or an I/O error).
    pub async fn serve(self, addr: std::net::SocketAddr) -> std::io::Result<()> {
        self.bind(addr).await?.run().await
    }
}

struct Shared {
    view: Arc<dyn View>,
    token: Option<Token>,
    registry: Option<Arc<Registry>>,
    page: page::Page,
}

type AppState = State<Arc<Shared>>;

#[derive(Clone, Copy)]
struct Limits {
    body: usize,
    timeout: Duration,
}

/// Rejects a declared oversized body before any handler runs, and puts a deadline on the request.
async fn guard(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.body as u64) {
        return AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than the limit of {} bytes",
                limits.body
            ),
        )
        .into_response();
    }
    let mut response = match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AdminError::unavailable(format!(
            "the request did not finish within its deadline of {} ms",
            limits.timeout.as_millis()
        ))
        .into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn not_found() -> AdminError {
    AdminError::not_found("no such route; see the admin routes in hotconf-admin's documentation")
}

async fn method_not_allowed() -> AdminError {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed on this route (reads are GET, rollback and unpin are POST)",
    )
}

async fn page_handler(State(shared): AppState) -> Response {
    shared.page.response()
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

async fn readyz(State(shared): AppState) -> Response {
    let readiness = shared.view.ready();
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness.body())).into_response()
}

/// The registry in the format the scraper asks for: OpenMetrics when its `Accept` header names
/// it (Prometheus servers do), else the Prometheus text format 0.0.4 (curl, `promtool check
/// metrics`, older scrapers).
async fn metrics(State(shared): AppState, headers: HeaderMap) -> Result<Response, AdminError> {
    let registry = shared.registry.as_ref().ok_or_else(|| {
        AdminError::not_found("metrics are not enabled: no registry is configured")
    })?;
    let openmetrics = headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.contains("application/openmetrics-text"))
    });
    let mut body = String::new();
    let (encoded, content_type) = if openmetrics {
        let encoded = prometheus_client::encoding::text::encode(&mut body, registry);
        (encoded, OPENMETRICS_CONTENT_TYPE)
    } else {
        let encoded = prometheus_client::encoding::prometheus_text::encode(&mut body, registry);
        (encoded, PROMETHEUS_TEXT_CONTENT_TYPE)
    };
    encoded.map_err(|_| AdminError::internal("the metrics could not be encoded"))?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// Redacting a large config is CPU work in proportion to its size: it runs on the blocking
/// pool, not on a runtime worker that probes and the reloader share.
async fn config(State(shared): AppState) -> Result<Json<Value>, AdminError> {
    tokio::task::spawn_blocking(move || shared.view.config())
        .await
        .map(Json)
        .map_err(|_| AdminError::internal("the config could not be shown"))
}

async fn version(State(shared): AppState) -> Json<Value> {
    Json(shared.view.version())
}

async fn history(State(shared): AppState) -> Result<Json<Value>, AdminError> {
    shared.view.history().await.map(Json)
}

/// Query parameters, all optional so that a missing one gets a clear message.
#[derive(Deserialize)]
struct Params {
    from: Option<String>,
    to: Option<String>,
    key: Option<String>,
}

fn params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, AdminError> {
    query
        .map(|Query(params)| params)
        .map_err(|_| AdminError::bad_request("the query string is malformed"))
}

fn version_param(name: &str, value: Option<&str>) -> Result<u64, AdminError> {
    let value = value
        .ok_or_else(|| AdminError::bad_request(format!("missing query parameter `{name}`")))?;
    parse_version(value).map_err(|_| {
        AdminError::bad_request(format!(
            "query parameter `{name}` must be a version number (an unsigned integer)"
        ))
    })
}

fn parse_version(value: &str) -> Result<u64, std::num::ParseIntError> {
    // `u64::from_str` accepts a leading `+`; a version number is digits only.
    if value.starts_with('+') {
        return "x".parse();
    }
    value.parse()
}

async fn diff(
    State(shared): AppState,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let params = params(query)?;
    let from = version_param("from", params.from.as_deref())?;
    let to = version_param("to", params.to.as_deref())?;
    shared.view.diff(from, to).await.map(Json)
}

async fn explain(
    State(shared): AppState,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let params = params(query)?;
    let key = params
        .key
        .filter(|key| !key.is_empty())
        .ok_or_else(|| AdminError::bad_request("missing query parameter `key`"))?;
    if key.len() > MAX_EXPLAIN_KEY_BYTES || key.split(['.', '[']).count() > MAX_EXPLAIN_KEY_SEGMENTS
    {
        return Err(AdminError::bad_request(format!(
            "the key is too long: at most {MAX_EXPLAIN_KEY_BYTES} bytes and \
             {MAX_EXPLAIN_KEY_SEGMENTS} segments"
        )));
    }
    shared.view.explain(&key).await.map(Json)
}

async fn rollback(
    State(shared): AppState,
    headers: HeaderMap,
    version: Result<Path<String>, PathRejection>,
) -> Response {
    if let Err(error) = authorize(shared.token.as_ref(), &headers) {
        return error.into_response();
    }
    let version = match version.map(|Path(version)| parse_version(&version)) {
        Ok(Ok(version)) => version,
        _ => {
            return AdminError::bad_request(
                "the version to roll back to must be a version number (an unsigned integer)",
            )
            .into_response()
        }
    };
    respond(shared.view.rollback(version)).await
}

async fn unpin(State(shared): AppState, headers: HeaderMap) -> Response {
    if let Err(error) = authorize(shared.token.as_ref(), &headers) {
        return error.into_response();
    }
    respond(shared.view.unpin()).await
}

async fn respond(answer: impl Future<Output = Result<Value, AdminError>>) -> Response {
    match answer.await {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::bearer;
    use futures_util::future::BoxFuture;

    #[test]
    fn token_is_never_printed() {
        struct Nothing;
        impl View for Nothing {
            fn version(&self) -> Value {
                Value::Null
            }
            fn ready(&self) -> Readiness {
                Readiness::ready()
            }
            fn config(&self) -> Value {
                Value::Null
            }
            fn history(&self) -> BoxFuture<'_, Result<Value, AdminError>> {
                Box::pin(async { Ok(Value::Null) })
            }
            fn diff(&self, _: u64, _: u64) -> BoxFuture<'_, Result<Value, AdminError>> {
                Box::pin(async { Ok(Value::Null) })
            }
            fn explain<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Value, AdminError>> {
                Box::pin(async { Ok(Value::Null) })
            }
            fn rollback(&self, _: u64) -> BoxFuture<'_, Result<Value, AdminError>> {
                Box::pin(async { Ok(Value::Null) })
            }
            fn unpin(&self) -> BoxFuture<'_, Result<Value, AdminError>> {
                Box::pin(async { Ok(Value::Null) })
            }
        }
        let admin = Admin::new(Arc::new(Nothing)).token("hunter2-secret");
        let printed = format!("{admin:?} {:?}", admin.token);
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        assert!(admin.writes_enabled());
        assert!(!Admin::new(Arc::new(Nothing)).token("  ").writes_enabled());
    }

    #[test]
    fn token_compare_is_exact() {
        let token = Token::new("abc");
        assert!(token.matches(b"abc"));
        assert!(!token.matches(b"abd"));
        assert!(!token.matches(b"ab"));
        assert!(!token.matches(b"abcd"));
        assert!(!token.matches(b""));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bear"), None);
    }

    #[test]
    fn versions_are_digits_only() {
        assert_eq!(parse_version("12").ok(), Some(12));
        assert!(parse_version("+12").is_err());
        assert!(parse_version("-1").is_err());
        assert!(parse_version("abc").is_err());
        assert!(parse_version("").is_err());
        assert!(parse_version("99999999999999999999999").is_err());
    }

    #[test]
    fn error_status_is_always_an_error() {
        assert_eq!(AdminError::new(StatusCode::OK, "x").status(), 500);
        assert_eq!(AdminError::not_found("x").status(), 404);
    }

    #[test]
    fn readiness_body_merges_detail() {
        let body = Readiness {
            ready: false,
            detail: json!({"reason": "waiting", "ready": true}),
        };
        assert_eq!(body.body(), json!({"ready": false, "reason": "waiting"}));
        let body = Readiness {
            ready: true,
            detail: json!(3),
        };
        assert_eq!(body.body(), json!({"ready": true, "detail": 3}));
        assert_eq!(Readiness::ready().body(), json!({"ready": true}));
    }
}
