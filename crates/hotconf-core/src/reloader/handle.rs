//! `ReloaderHandle`: what an operator can see and do with a running reloader, from anywhere
//! (the admin router, a signal handler): status, history, explain, rollback, unpin, and the
//! check of a proposed layer.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventChannel};
use crate::explain::Explanation;
use crate::layer::Content;
use crate::stats::Stats;
use crate::status::{Board, Status};
use crate::store::{Snapshot, Store};
use crate::subscription::Subscription;
use crate::verdict::Verdict;

use super::task::Command;

/// A cheap, cloneable handle on a running [`Reloader`](super::Reloader), from
/// [`Reloader::handle`](super::Reloader::handle) (a `Reloader` derefs to its handle, so these
/// methods are the reloader's too). It does not keep the reloader running: once the reloader
/// is dropped, commands answer [`ErrorKind::Closed`] and the status stays as it was.
pub struct ReloaderHandle<T> {
    pub(super) store: Store<T>,
    pub(super) events: EventChannel,
    pub(super) stats: Subscription<Stats>,
    pub(super) commands: mpsc::Sender<Command<T>>,
    pub(super) board: Board,
}

impl<T> Clone for ReloaderHandle<T> {
    fn clone(&self) -> Self {
        ReloaderHandle {
            store: self.store.clone(),
            events: self.events.clone(),
            stats: self.stats.clone(),
            commands: self.commands.clone(),
            board: self.board.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> ReloaderHandle<T> {
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

    /// What the reloader is doing: the applied version and how it came to be, whether it is
    /// pinned, and every source's health, revision, last change and last error.
    pub fn status(&self) -> Status {
        let current = self.store.load();
        let board = self.board.lock();
        let (instance_id, rollout) = Status::instance(board.instance_id.as_deref(), &board.sources);
        Status {
            version: current.version(),
            content_hash: current.content_hash(),
            applied_at: current.applied_at(),
            origin: current.origin().clone(),
            pinned: board.pinned,
            pending_restart: current.pending_restart().to_vec(),
            consecutive_rejections: board.consecutive_rejections,
            last_rejection: board.last_rejection.clone(),
            instance_id,
            rollout,
            sources: board.sources.clone(),
        }
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

    /// Whether this reloader would accept `content` as the next state of the layer `layer`
    /// (the name given with [`named_layer`](crate::ReloaderBuilder::named_layer), else its
    /// scheme and position, `file-0`; or its printable name, the source's URI), with every
    /// other layer at its latest good state: the same parse, merge, deserialization and
    /// validators (sync and async) as a reload. Nothing is applied: no version, event,
    /// counter, status or history entry changes, and the post-apply check does not run (it
    /// needs the config published). An async validator sees the proposal as a snapshot of
    /// the next version, never published: keep validators free of side effects.
    ///
    /// The reload task runs the check between batches, so a slow async validator delays
    /// reloads as a reload would.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> hotconf_core::Result<()> {
    /// use hotconf_core::{provider::Content, Format, MemoryProvider, Reloader, Verdict};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct App { port: u16 }
    ///
    /// let (source, handle) = MemoryProvider::new("memory:app");
    /// handle.set_document(Format::Yaml, "port: 8080");
    /// let reloader = Reloader::<App>::builder().named_layer("app", source).start().await?;
    ///
    /// let proposal = |text: &str| Content::Document { format: Format::Yaml, bytes: text.as_bytes().into() };
    /// let verdict = reloader.check("app", proposal("port: 9090")).await?;
    /// assert_eq!(verdict.changes().unwrap().changed, ["port"]);
    /// let verdict = reloader.check("app", proposal("port: -1")).await?;
    /// assert_eq!(verdict.error().unwrap().key(), Some("port"));
    /// assert_eq!(reloader.store().load().port, 8080); // nothing applied
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when no layer has that name (the message lists them);
    /// [`ErrorKind::Unavailable`] when another layer has no good state yet;
    /// [`ErrorKind::Closed`] once the reloader has stopped. A proposal the reloader would
    /// reject is an `Ok`: [`Verdict::Rejected`].
    pub async fn check(&self, layer: &str, content: Content) -> Result<Verdict> {
        self.ask(|reply| Command::Check(layer.to_owned(), content, reply))
            .await?
    }

    /// The applied versions kept for rollback, oldest first.
    pub async fn history(&self) -> Result<Vec<Arc<Snapshot<T>>>> {
        self.ask(Command::History).await
    }

    /// Where the value of `key` comes from in the applied config
    /// ([`Snapshot::explain`]), and, when the previous version kept in the history took it
    /// from a layer that no longer holds it, that layer (the key was deleted there and fell
    /// back).
    pub async fn explain(&self, key: &str) -> Result<Explanation> {
        let current = self.store.get();
        let mut explanation = current.explain(key);
        let history = self.history().await?;
        let previous = history
            .iter()
            .rev()
            .find(|s| s.version() < current.version());
        if let Some(before) = previous.and_then(|p| p.explain(key).layer) {
            let gone = explanation
                .layers
                .iter()
                .any(|l| l.layer == before && !l.holds);
            if gone && explanation.layer.as_ref() != Some(&before) {
                explanation.fell_back_from = Some(before);
            }
        }
        Ok(explanation)
    }
}
