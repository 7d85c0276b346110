//! The reload task: the loop that owns the engine and the followed sources once started,
//! running a batch whenever a source delivered and answering the
//! [`Reloader`](super::Reloader)'s commands.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::engine::Engine;
use crate::error::Result;
use crate::layer::Content;
use crate::store::Snapshot;
use crate::verdict::Verdict;

use super::sources::Sources;

/// A request from the [`Reloader`](super::Reloader) handle, with where to send the answer.
pub(super) enum Command<T> {
    /// Pin the content of a version from the history.
    Rollback(u64, oneshot::Sender<Result<Arc<Snapshot<T>>>>),
    /// Resume following the sources.
    Unpin(oneshot::Sender<Result<Option<Arc<Snapshot<T>>>>>),
    /// The versions kept for rollback.
    History(oneshot::Sender<Vec<Arc<Snapshot<T>>>>),
    /// Whether a proposed state of a layer (by name) would be accepted; nothing is applied.
    Check(String, Content, oneshot::Sender<Result<Verdict>>),
}

/// Runs batches and commands until the [`Reloader`](super::Reloader) is dropped.
pub(super) async fn run<T: DeserializeOwned + Send + Sync + 'static>(
    mut engine: Engine<T>,
    mut sources: Sources,
    mut commands: mpsc::Receiver<Command<T>>,
    debounce: Duration,
) {
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                None => return,
                Some(Command::Rollback(version, reply)) => { let _ = reply.send(engine.rollback(version)); }
                Some(Command::Unpin(reply)) => { let _ = reply.send(engine.unpin().await); }
                Some(Command::History(reply)) => { let _ = reply.send(engine.history()); }
                Some(Command::Check(layer, content, reply)) => {
                    let _ = reply.send(engine.check_proposal(&layer, content).await);
                }
            },
            () = sources.gather() => {
                if !debounce.is_zero() {
                    // Keep gathering (and the providers' streams moving) until the deadline.
                    let deadline = tokio::time::Instant::now() + debounce;
                    while tokio::time::timeout_at(deadline, sources.gather()).await.is_ok() {}
                }
                // Errors and rejections were already reported as events; the loop goes on.
                let _ = engine.batch(sources.pending(), false).await;
            }
        }
    }
}
