//! `Reloader`: follows every layer's provider and keeps a [`Store`] up to date.
//!
//! Its rooms: `builder` (what the user configures, and the start), `startup` (the startup
//! policy), `source_task` (one task per provider, feeding the inbox) and `task` (the reload
//! task that owns the engine). This file holds the handle the user keeps.

mod builder;
mod source_task;
mod startup;
mod task;

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::stats::Stats;
use crate::store::{Snapshot, Store};
use crate::subscription::Subscription;

pub use self::builder::ReloaderBuilder;
pub use self::startup::Startup;
use self::task::Command;

/// Aborts its tasks when dropped, so that the tasks of a reloader stop with it (and the
/// source tasks with a start that fails).
struct AbortOnDrop(Vec<JoinHandle<()>>);

impl AbortOnDrop {
    fn into_inner(mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Keeps a [`Store`] following its layers. Dropping it stops following (the store keeps its
/// last config).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> hotconf_core::Result<()> {
/// use hotconf_core::{Format, MemoryProvider, Reloader};
///
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
///
/// let (source, handle) = MemoryProvider::new("memory:app");
/// handle.set_document(Format::Toml, "port = 8080");
/// let reloader = Reloader::<App>::builder()
///     .layer(source)
///     .validate(|app| if app.port == 0 { Err(hotconf_core::Error::validation("must not be 0").with_key("port")) } else { Ok(()) })
///     .start()
///     .await?;
/// let store = reloader.store();
/// assert_eq!(store.load().port, 8080);
///
/// let mut changes = store.subscribe();
/// handle.set_document(Format::Toml, "port = 9090");
/// changes.changed().await.unwrap();
/// assert_eq!(store.load().port, 9090);
/// # Ok(()) }
/// ```
pub struct Reloader<T> {
    store: Store<T>,
    events: broadcast::Sender<Event>,
    stats: Subscription<Stats>,
    commands: mpsc::Sender<Command<T>>,
    _tasks: AbortOnDrop,
}

impl<T: fmt::Debug + Send + Sync + 'static> fmt::Debug for Reloader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloader")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Reloader<T> {
    /// A builder with no layers, fail-fast startup, a history of 10 and no debounce.
    pub fn builder() -> ReloaderBuilder<T> {
        ReloaderBuilder::default()
    }

    /// The store readers load from.
    pub fn store(&self) -> Store<T> {
        self.store.clone()
    }

    /// Subscribes to events from now on. A receiver that lags loses the oldest events, never
    /// blocks the reloader.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Counters of what the reloader did; the subscription changes after every batch.
    pub fn stats(&self) -> Subscription<Stats> {
        self.stats.clone()
    }

    async fn ask<R>(&self, command: impl FnOnce(oneshot::Sender<R>) -> Command<T>) -> Result<R> {
        let (reply, answer) = oneshot::channel();
        let closed = || Error::new(ErrorKind::Closed, "the reloader has stopped");
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())
    }

    /// Restores the content of `version` from the history as a new version and pins it: source
    /// changes are tracked but not applied until [`unpin`](Self::unpin).
    pub async fn rollback(&self, version: u64) -> Result<Arc<Snapshot<T>>> {
        self.ask(|reply| Command::Rollback(version, reply)).await?
    }

    /// Resumes following the sources, applying their latest states at once. Returns the
    /// snapshot applied, if the sources differ from the pinned content.
    pub async fn unpin(&self) -> Result<Option<Arc<Snapshot<T>>>> {
        self.ask(Command::Unpin).await?
    }

    /// The applied versions kept for rollback, oldest first.
    pub async fn history(&self) -> Result<Vec<Arc<Snapshot<T>>>> {
        self.ask(Command::History).await
    }
}
