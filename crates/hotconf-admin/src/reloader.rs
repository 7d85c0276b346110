//! The [`View`] of a running hotconf reloader, and [`router`] for it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use futures_util::future::BoxFuture;
use hotconf_core::provider::Content;
use hotconf_core::{Changes, Error, ErrorKind, Format, Origin, ReloaderHandle, Snapshot, Verdict};
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::body::{
    to_json, CheckBody, ConfigBody, DiffBody, DiffEntry, HistoryBody, HistoryEntry, ReadyDetail,
    RollbackBody, UnpinBody,
};
use crate::{Admin, AdminError, Readiness, View};

/// The admin router of a running reloader, read-only, with its metrics at `/metrics`: merge it
/// into the application's own axum server. [`Admin::reloader`] configures more (a token for
/// rollback and unpin, the application's own registry, limits).
///
/// ```no_run
/// # async fn run(reloader: hotconf_core::Reloader<serde_json::Value>) -> std::io::Result<()> {
/// let app = axum::Router::new().nest("/admin", hotconf_admin::router(&reloader));
/// # let _ = app; Ok(()) }
/// ```
pub fn router<T: Send + Sync + 'static>(reloader: &ReloaderHandle<T>) -> Router {
    Admin::reloader(reloader).router()
}

/// Serves the admin API, page and metrics of a running reloader on `addr`, read-only, until an
/// I/O error: for applications without an HTTP server of their own.
pub async fn serve<T: Send + Sync + 'static>(
    reloader: &ReloaderHandle<T>,
    addr: SocketAddr,
) -> io::Result<()> {
    Admin::reloader(reloader).serve(addr).await
}

impl Admin {
    /// An admin over a running reloader (a `Reloader` derefs to its handle): read-only until
    /// [`token`](Self::token) is set; `/metrics` serves the reloader's metrics from a registry
    /// of its own until [`registry`](Self::registry) gives the application's (register the
    /// reloader in it with `hotconf_metrics::register`).
    pub fn reloader<T: Send + Sync + 'static>(reloader: &ReloaderHandle<T>) -> Admin {
        let mut registry = Registry::default();
        hotconf_metrics::register(reloader, &mut registry);
        Admin::new(Arc::new(ReloaderView(reloader.clone()))).registry(Arc::new(registry))
    }
}

/// A reloader seen by the admin router. Every value it shows goes through the snapshot's
/// redaction policy.
struct ReloaderView<T>(ReloaderHandle<T>);

impl<T: Send + Sync + 'static> ReloaderView<T> {
    async fn version_of(&self, version: u64) -> Result<Arc<Snapshot<T>>, AdminError> {
        let current = self.0.store().get();
        if current.version() == version {
            return Ok(current);
        }
        let history = self.0.history().await.map_err(answer)?;
        history
            .into_iter()
            .find(|s| s.version() == version)
            .ok_or_else(|| AdminError::not_found(format!("version {version} is not kept")))
    }
}

impl<T: Send + Sync + 'static> View for ReloaderView<T> {
    fn version(&self) -> Value {
        to_json(self.0.status())
    }

    fn ready(&self) -> Readiness {
        let status = self.0.status();
        let warning = (status.origin == Origin::Disk)
            .then_some("serving the last-good file: the sources have not given a valid config yet");
        let detail = ReadyDetail {
            origin: &status.origin,
            version: status.version,
            warning,
        };
        Readiness {
            ready: status.version > 0,
            detail: to_json(detail),
        }
    }

    fn config(&self) -> Value {
        let current = self.0.store().get();
        to_json(ConfigBody {
            config: current.redacted(),
            version: current.version(),
        })
    }

    fn history(&self) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            let history = self.0.history().await.map_err(answer)?;
            let versions = history
                .iter()
                .map(|s| HistoryEntry {
                    applied_at: humantime::format_rfc3339_millis(s.applied_at()).to_string(),
                    changes: s.changes(),
                    content_hash: format!("{:016x}", s.content_hash()),
                    origin: s.origin(),
                    version: s.version(),
                })
                .collect();
            Ok(to_json(HistoryBody {
                pinned: self.0.status().pinned,
                versions,
            }))
        })
    }

    fn diff(&self, from: u64, to: u64) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            let (before, after) = (self.version_of(from).await?, self.version_of(to).await?);
            let changes = before.diff(&after);
            Ok(to_json(diff_body(from, to, &changes, &before, &after)))
        })
    }

    fn explain<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Value, AdminError>> {
        Box::pin(async move {
            let explanation = self.0.explain(key).await.map_err(answer)?;
            Ok(to_json(explanation))
        })
    }

    fn rollback(&self, version: u64) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            let snapshot = self.0.rollback(version).await.map_err(answer)?;
            Ok(to_json(RollbackBody::new(snapshot.version(), version)))
        })
    }

    fn unpin(&self) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            self.0.unpin().await.map_err(answer)?;
            Ok(to_json(UnpinBody::new(self.0.store().version())))
        })
    }

    fn check<'a>(
        &'a self,
        layer: &'a str,
        format: Format,
        document: Vec<u8>,
    ) -> BoxFuture<'a, Result<Value, AdminError>> {
        Box::pin(async move {
            let content = Content::Document {
                format,
                bytes: document.into(),
            };
            let verdict = self.0.check(layer, content).await.map_err(|error| {
                match error.kind() {
                    // An unknown layer: the message lists the layers.
                    ErrorKind::Config => AdminError::bad_request(error.to_string()),
                    ErrorKind::Unavailable => AdminError::unavailable(error.to_string()),
                    _ => answer(error),
                }
            })?;
            match &verdict {
                Verdict::Accepted {
                    changes,
                    restart_required,
                } => Ok(to_json(CheckBody::accepted(
                    layer,
                    changes,
                    restart_required,
                ))),
                Verdict::Rejected { error } => Ok(to_json(CheckBody::rejected(layer, error))),
                _ => Err(AdminError::internal("the verdict could not be shown")),
            }
        })
    }
}

/// The diff's body: each changed path with its values before and after, unless redacted.
fn diff_body<'a, T>(
    from: u64,
    to: u64,
    changes: &'a Changes,
    before: &Snapshot<T>,
    after: &Snapshot<T>,
) -> DiffBody<'a> {
    let policy = after.redaction();
    let entry = |key: &'a String, with_before: bool, with_after: bool| {
        if policy.is_redacted(key) || before.redaction().is_redacted(key) {
            return DiffEntry::redacted(key);
        }
        // Both policies apply (they differ only across a rebuilt reloader); the value is
        // looked at where it sits, so a `value` beside a secret `name` stays hidden.
        let shown = |snapshot: &Snapshot<T>| {
            let value = policy
                .redact_within(snapshot.merged(), key)
                .unwrap_or(Value::Null);
            before.redaction().redact_at(key, &value)
        };
        DiffEntry::shown(
            key,
            with_before.then(|| shown(before)),
            with_after.then(|| shown(after)),
        )
    };
    DiffBody {
        added: changes
            .added
            .iter()
            .map(|k| entry(k, false, true))
            .collect(),
        changed: changes
            .changed
            .iter()
            .map(|k| entry(k, true, true))
            .collect(),
        from,
        omitted: changes.omitted,
        removed: changes
            .removed
            .iter()
            .map(|k| entry(k, true, false))
            .collect(),
        to,
    }
}

/// The answer for a reloader error: 404 for a version not kept, 503 once it has stopped.
fn answer(error: Error) -> AdminError {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::NotFound => AdminError::not_found(message),
        ErrorKind::Closed => AdminError::unavailable(message),
        _ => AdminError::internal(message),
    }
}
