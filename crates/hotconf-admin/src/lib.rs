//! hotconf's admin HTTP API and page.
//!
//! [`Admin`] builds an [`axum::Router`] that lets an operator see and operate a running hotconf
//! configuration: the applied version and its sources, the history of applied versions, the diff
//! between two of them, where a key's value comes from, the (redacted) config, Prometheus metrics,
//! liveness and readiness, the config type's JSON Schema when the application gives it, and
//! (only with a bearer token configured) rollback, unpin and the check of a proposed layer
//! document. `GET /`
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
//! | `POST /config/check?layer=NAME&format=yaml` | [`View::check`] (bearer token): would the service accept the body as layer `NAME`? `200` either way |
//! | `GET /config/schema` | the JSON Schema given with [`Admin::schema`] (404 without one) |
//!
//! A request whose `Host` names neither an IP address, `localhost`, nor a host listed with
//! [`Admin::allowed_hosts`] answers `421` (DNS rebinding). With [`Admin::read_token`], every
//! route but `/`, `/healthz` and `/readyz` needs the read or the write token.
//!
//! Every error answers a 4xx or 5xx status with a JSON body `{"error":"…"}`. The [`body`]
//! module holds the type of every answer.
#![forbid(unsafe_code)]

mod access;
mod auth;
pub mod body;
mod check;
mod page;
mod reloader;
mod routes;
mod server;
mod view;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use prometheus_client::registry::Registry;

use auth::Token;
pub use check::MAX_LAYER_NAME_BYTES;
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

/// The default largest document `POST /config/check` reads ([`Admin::check_body_limit`]).
pub const DEFAULT_CHECK_BODY_LIMIT: usize = 1 << 20;

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
    schema: Option<axum::body::Bytes>,
    body_limit: usize,
    check_body_limit: usize,
    request_timeout: Duration,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("token", &self.token)
            .field("read_token", &self.read_token)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("registry", &self.registry.is_some())
            .field("schema", &self.schema.is_some())
            .field("body_limit", &self.body_limit)
            .field("check_body_limit", &self.check_body_limit)
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
            schema: None,
            body_limit: DEFAULT_BODY_LIMIT,
            check_body_limit: DEFAULT_CHECK_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Enables the write routes (rollback, unpin, check) for requests that carry
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
    /// one answers `413`. `POST /config/check` has its own
    /// ([`check_body_limit`](Self::check_body_limit)).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The largest document `POST /config/check` reads, in bytes (default
    /// [`DEFAULT_CHECK_BODY_LIMIT`], 1 MiB); a larger one answers `413`.
    pub fn check_body_limit(mut self, bytes: usize) -> Self {
        self.check_body_limit = bytes;
        self
    }

    /// Serves this JSON Schema at `GET /config/schema`: the schema of one layer's document,
    /// as `hotconf::schema::<Config>()` gives it (feature `schema`), for `hotconf check
    /// --schema` and for tools that edit a layer. The router is not generic over the config
    /// type, so the application hands the schema over as a value. Without one the route
    /// answers `404`.
    ///
    /// ```no_run
    /// # fn run(reloader: &hotconf_core::Reloader<serde_json::Value>, schema: serde_json::Value) {
    /// // schema = hotconf::schema::<AppConfig>()
    /// let router = hotconf_admin::Admin::reloader(reloader).schema(schema).router();
    /// # let _ = router; }
    /// ```
    pub fn schema(mut self, schema: serde_json::Value) -> Self {
        self.schema = Some(schema.to_string().into());
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
        let limits = routes::Limits {
            body: self.body_limit,
            check_body: self.check_body_limit,
            timeout: self.request_timeout,
        };
        let shared = routes::Shared {
            view: self.view,
            token: self.token,
            registry: self.registry,
            page,
            schema: self.schema,
            check_body_limit: self.check_body_limit,
        };
        routes::router(shared, access, limits)
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::future::BoxFuture;
    use serde_json::Value;

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
}
