//! `--admin ADDR [--admin-token-file F] [--admin-read-token-file F] [--admin-allow-host H]…`:
//! the admin API, page and metrics of `hotconf watch`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hotconf::{Error, ErrorKind, Reloader, Result};
use hotconf_admin::body::HealthBody;
use hotconf_admin::{Admin, AdminError, Readiness, RunningServer, Server};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// The longest token file read: a bearer token is a line, not a document.
const MAX_TOKEN_BYTES: u64 = 4096;

/// The admin options of `hotconf watch`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct AdminArgs {
    /// Serve the admin API, page and Prometheus metrics on this address (127.0.0.1:9900; port
    /// 0 picks a free port, printed on stderr). Until the first config is applied, /healthz
    /// answers 200 and everything else 503.
    #[arg(long = "admin", value_name = "ADDR")]
    pub(crate) addr: Option<SocketAddr>,
    /// Enable rollback, unpin and check (`hotconf check --against`) on the admin API for
    /// requests bearing the token in this file.
    #[arg(long = "admin-token-file", value_name = "FILE", requires = "addr")]
    pub(crate) token_file: Option<PathBuf>,
    /// Guard reads too: every admin route but /, /healthz and /readyz needs the token in this
    /// file (or the write token) as `Authorization: Bearer`.
    #[arg(long = "admin-read-token-file", value_name = "FILE", requires = "addr")]
    pub(crate) read_token_file: Option<PathBuf>,
    /// Also serve requests whose Host header names HOST (repeatable; `*` for any). IP
    /// addresses and localhost are always served; other names answer 421 (DNS rebinding).
    #[arg(long = "admin-allow-host", value_name = "HOST", requires = "addr")]
    pub(crate) allow_hosts: Vec<String>,
}

/// The admin server of `hotconf watch`: it listens from the start (an address in use is a
/// usage error at once), answers `/healthz` and a `503` "waiting for the first valid config"
/// until the reloader has started, then serves the whole admin router.
pub(crate) struct AdminServer {
    server: RunningServer,
    router: watch::Sender<Option<Router>>,
    token: Option<String>,
    read_token: Option<String>,
    allow_hosts: Vec<String>,
    /// The JSON Schema of `--schema`, served at `/config/schema`.
    schema: Option<Value>,
}

impl AdminServer {
    /// Binds `addr`, reads the token file and starts serving; `None` without `--admin`.
    /// `schema` (the `--schema` file's) is served at `/config/schema`.
    pub(crate) async fn start(
        args: &AdminArgs,
        schema: Option<Value>,
    ) -> Result<Option<AdminServer>> {
        let Some(addr) = args.addr else {
            return Ok(None);
        };
        let token = args.token_file.as_deref().map(read_token).transpose()?;
        let read_token = args
            .read_token_file
            .as_deref()
            .map(read_token)
            .transpose()?;
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot serve the admin API on {addr}"),
            )
            .with_cause(e)
        })?;
        // Before the first config the placeholder router answers only /healthz and 503s: the
        // host and token rules apply once the admin router serves.
        let (router, current) = watch::channel(None::<Router>);
        let app = Router::new().fallback(move |request: Request| {
            let current = current.borrow().clone();
            async move {
                match current {
                    Some(router) => router.oneshot(request).await.into_response(),
                    None => waiting(request.uri().path()),
                }
            }
        });
        let server = Server::from_listener(app, listener)
            .map_err(|e| Error::new(ErrorKind::Config, "the admin listener").with_cause(e))?;
        let writes = if token.is_some() {
            "rollback and unpin enabled"
        } else {
            "read-only"
        };
        let reads = if read_token.is_some() {
            "reads need a token"
        } else {
            "reads open"
        };
        eprintln!(
            "hotconf: admin on http://{}/ ({writes}, {reads})",
            server.local_addr()
        );
        if !addr.ip().is_loopback() && read_token.is_none() {
            eprintln!(
                "hotconf: warning: the admin API on {addr} is readable by anyone who can reach \
                 this port (the config, redacted, its history and sources); guard reads with \
                 --admin-read-token-file or bind a loopback address"
            );
        }
        Ok(Some(AdminServer {
            server: server.spawn(),
            router,
            token,
            read_token,
            allow_hosts: args.allow_hosts.clone(),
            schema,
        }))
    }

    /// Serves the admin router of `reloader`, with its metrics, from now on.
    pub(crate) fn serve(&self, reloader: &Reloader<Value>) {
        let mut admin = Admin::reloader(reloader);
        if let Some(token) = &self.token {
            admin = admin.token(token);
        }
        if let Some(token) = &self.read_token {
            admin = admin.read_token(token);
        }
        admin = admin.allowed_hosts(&self.allow_hosts);
        if let Some(schema) = &self.schema {
            admin = admin.schema(schema.clone());
        }
        let _ = self.router.send(Some(admin.router()));
    }

    /// Stops serving, letting the requests in flight finish.
    pub(crate) async fn shutdown(self) {
        let _ = self.server.shutdown().await;
    }
}

/// Before the first config: alive, not ready, and nothing else yet, in the admin API's bodies.
fn waiting(path: &str) -> Response {
    const WAITING: &str = "waiting for the first valid config";
    match path {
        "/healthz" => Json(HealthBody::ALIVE).into_response(),
        "/readyz" => Readiness::not_ready(WAITING).into_response(),
        _ => AdminError::unavailable(WAITING).into_response(),
    }
}

/// The token in `path`: a regular file, at most 4 KiB, surrounding whitespace ignored.
pub(crate) fn read_token(path: &Path) -> Result<String> {
    let fail = |what: &str| {
        Error::new(
            ErrorKind::Config,
            format!("the admin token file {}: {what}", path.display()),
        )
    };
    let text = crate::small_file::read(path, MAX_TOKEN_BYTES).map_err(|what| fail(&what))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(fail("is empty"));
    }
    Ok(token.to_owned())
}
