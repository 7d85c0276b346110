//! `--admin ADDR [--admin-token-file F]`: the admin API, page and metrics of `hotconf watch`.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hotconf::{Error, ErrorKind, Reloader, Result};
use hotconf_admin::{Admin, RunningServer, Server};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// The longest token file read: a bearer token is a line, not a document.
const MAX_TOKEN_BYTES: u64 = 4096;

/// The admin server of `hotconf watch`: it listens from the start (an address in use is a
/// usage error at once), answers `/healthz` and a `503` "waiting for the first valid config"
/// until the reloader has started, then serves the whole admin router.
pub(crate) struct AdminServer {
    server: RunningServer,
    router: watch::Sender<Option<Router>>,
    token: Option<String>,
}

impl AdminServer {
    /// Binds `addr`, reads the token file and starts serving; `None` without `--admin`.
    pub(crate) async fn start(
        addr: Option<SocketAddr>,
        token_file: Option<&Path>,
    ) -> Result<Option<AdminServer>> {
        let Some(addr) = addr else { return Ok(None) };
        let token = token_file.map(read_token).transpose()?;
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot serve the admin API on {addr}"),
            )
            .with_cause(e)
        })?;
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
        eprintln!(
            "hotconf: admin on http://{}/ ({writes})",
            server.local_addr()
        );
        Ok(Some(AdminServer {
            server: server.spawn(),
            router,
            token,
        }))
    }

    /// Serves the admin router of `reloader`, with its metrics, from now on.
    pub(crate) fn serve(&self, reloader: &Reloader<Value>) {
        let mut admin = Admin::reloader(reloader);
        if let Some(token) = &self.token {
            admin = admin.token(token);
        }
        let _ = self.router.send(Some(admin.router()));
    }

    /// Stops serving, letting the requests in flight finish.
    pub(crate) async fn shutdown(self) {
        let _ = self.server.shutdown().await;
    }
}

/// Before the first config: alive, not ready, and nothing else yet.
fn waiting(path: &str) -> Response {
    match path {
        "/healthz" => Json(json!({"status": "alive"})).into_response(),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "waiting for the first valid config"})),
        )
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "waiting for the first valid config"})),
        )
            .into_response(),
    }
}

/// The token in `path`: a regular file, at most 4 KiB, surrounding whitespace ignored.
fn read_token(path: &Path) -> Result<String> {
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
