//! The checks a config goes through: deserialization and the validators before it is applied,
//! each under a deadline and with panics contained, and the post-apply check after.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::store::{Origin, Snapshot, SnapshotParts, Store};
use crate::validate::AsyncCheck;

use super::blame::{deserialize, locate};
use super::candidate::Candidate;
use super::source::SourceState;
use super::Rules;

/// Deserializes (unless the fast path did) and validates a candidate into the snapshot of
/// `version`. Does not publish it. Errors name their key and source where known.
pub(super) async fn check_candidate<T: DeserializeOwned>(
    rules: &Rules<T>,
    sources: &[SourceState],
    candidate: Candidate<T>,
    version: u64,
    origin: Origin,
) -> Result<Arc<Snapshot<T>>> {
    let Candidate {
        config,
        merged,
        hash,
        revisions,
        pending_restart,
        layers,
        redaction,
    } = candidate;
    let config = match config {
        Some(config) => config,
        None => deserialize(sources, merged.value()?)?,
    };
    for validator in &rules.validators {
        catch_unwind(AssertUnwindSafe(|| validator(&config)))
            .unwrap_or_else(|panic| Err(panicked("a validator", &panic)))
            .map_err(|e| locate(sources, e))?;
    }
    let snapshot = Arc::new(Snapshot::from_parts(SnapshotParts {
        config,
        version,
        revisions,
        merged,
        hash,
        origin,
        pending_restart,
        layers,
        redaction: redaction.unwrap_or_else(|| rules.redaction.clone()),
    }));
    for check in &rules.async_validators {
        run_check(check, &snapshot, "an async validator", rules.check_timeout)
            .await
            .map_err(|e| locate(sources, e))?;
    }
    Ok(snapshot)
}

/// Runs the post-apply check on `snapshot`, just published in `store` over `before`. If the
/// future is dropped while the check runs (the reloader is), `before` is put back in the store
/// as it was; on failure, putting it back is the caller's job.
pub(super) async fn post_apply<T: Send + Sync + 'static>(
    check: &AsyncCheck<T>,
    snapshot: &Arc<Snapshot<T>>,
    store: Option<Store<T>>,
    before: Option<Arc<Snapshot<T>>>,
    timeout: Duration,
) -> Result<()> {
    let on_drop = RevertOnDrop { store, to: before };
    let checked = run_check(check, snapshot, "the post-apply check", timeout).await;
    on_drop.disarm();
    checked.map_err(|error| {
        Error::new(
            ErrorKind::Validation,
            format!("post-apply check failed on version {}", snapshot.version()),
        )
        .with_cause(error)
    })
}

/// Runs an async check with a deadline; a panic or a timeout is a failure.
async fn run_check<T>(
    check: &AsyncCheck<T>,
    snapshot: &Arc<Snapshot<T>>,
    what: &str,
    timeout: Duration,
) -> Result<()> {
    let checked = AssertUnwindSafe(check(snapshot.clone())).catch_unwind();
    match tokio::time::timeout(timeout, checked).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(panicked(what, &panic)),
        Err(_) => Err(Error::new(
            ErrorKind::Validation,
            format!("{what} did not finish within {timeout:?}"),
        )),
    }
}

/// Puts a snapshot back in the store if dropped armed: the reload task was dropped (the
/// reloader with it) while a post-apply check ran, so no revert would follow.
struct RevertOnDrop<T: Send + Sync + 'static> {
    store: Option<Store<T>>,
    to: Option<Arc<Snapshot<T>>>,
}

impl<T: Send + Sync + 'static> RevertOnDrop<T> {
    fn disarm(mut self) {
        self.to = None;
    }
}

impl<T: Send + Sync + 'static> Drop for RevertOnDrop<T> {
    fn drop(&mut self) {
        if let (Some(store), Some(to)) = (&self.store, self.to.take()) {
            store.swap(to);
            store.notify();
        }
    }
}

fn panicked(what: &str, panic: &Box<dyn std::any::Any + Send>) -> Error {
    let detail = crate::error::panic_message(&**panic);
    Error::new(ErrorKind::Validation, format!("{what} panicked: {detail}"))
}
