//! The reload task: the loop that owns the engine once started, running a batch whenever the
//! inbox has something and answering the [`Reloader`](super::Reloader)'s commands.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::engine::Engine;
use crate::error::Result;
use crate::inbox::Inbox;
use crate::store::Snapshot;

/// A request from the [`Reloader`](super::Reloader) handle, with where to send the answer.
pub(super) enum Command<T> {
    /// Pin the content of a version from the history.
    Rollback(u64, oneshot::Sender<Result<Arc<Snapshot<T>>>>),
    /// Resume following the sources.
    Unpin(oneshot::Sender<Result<Option<Arc<Snapshot<T>>>>>),
    /// The versions kept for rollback.
    History(oneshot::Sender<Vec<Arc<Snapshot<T>>>>),
}

/// Runs batches and commands until the [`Reloader`](super::Reloader) is dropped.
pub(super) async fn run<T: DeserializeOwned + Send + Sync + 'static>(
    mut engine: Engine<T>,
    inbox: Arc<Inbox>,
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
            },
            () = inbox.wait() => {
                if !debounce.is_zero() {
                    tokio::time::sleep(debounce).await;
                }
                // Errors and rejections were already reported as events; the loop goes on.
                let _ = engine.batch(inbox.drain(), false).await;
            }
        }
    }
}
