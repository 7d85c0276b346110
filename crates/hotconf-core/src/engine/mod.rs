//! The reload engine: what the reloader knows of its sources and what it applied, and the
//! batch step that turns what the providers delivered into an applied config.
//!
//! Its rooms: `source` (one source's state and its transitions), `content` (a layer's content
//! as a tree), `candidate` (the config the sources make, by three named strategies tried in
//! order, and the tests proving they agree), `checks` (validation and the post-apply check),
//! `blame` (naming the key and source at fault), `history` (versions kept for rollback, and
//! the pin), `apply` (from candidate to published snapshot, and back), and `proposal` (a
//! layer's proposed state tried on a copy of the sources, never applied).

mod apply;
mod blame;
mod candidate;
mod checks;
mod content;
mod history;
mod proposal;
mod source;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::disk;
use crate::error::{Error, Result};
use crate::event::{Awaited, Event, EventChannel};
use crate::format::Limits;
use crate::inbox::Pending;
use crate::layer_id::LayerId;
use crate::path::PathSegment;
use crate::redaction::Redaction;
use crate::stats::Stats;
use crate::status::Board;
use crate::store::{Origin, Snapshot, Store};
use crate::subscription::Publisher;
use crate::validate::{AsyncCheck, SyncValidator};

use self::candidate::Candidate;
use self::history::History;
use self::source::{Offer, SourceState};

/// Everything the user configured on the builder, shared by the engine.
pub(crate) struct Rules<T> {
    pub(crate) validators: Vec<SyncValidator<T>>,
    pub(crate) async_validators: Vec<AsyncCheck<T>>,
    pub(crate) post_apply: Option<AsyncCheck<T>>,
    pub(crate) restart_required: Vec<Vec<PathSegment>>,
    pub(crate) history: usize,
    pub(crate) limits: Limits,
    /// How long an async validator or the post-apply check may take.
    pub(crate) check_timeout: Duration,
    /// Which values never leave the process.
    pub(crate) redaction: Arc<Redaction>,
}

/// What one [`Engine::batch`] did.
pub(crate) struct Batch<T> {
    /// The first source error taken in, if any.
    pub(crate) source_error: Option<Error>,
    /// What applying the sources gave (`Ok(None)`: nothing applied, or not tried because the
    /// batch stopped at a source error).
    pub(crate) applied: Result<Option<Arc<Snapshot<T>>>>,
}

/// The reload engine, owned by the reload task.
pub(crate) struct Engine<T> {
    sources: Vec<SourceState>,
    rules: Rules<T>,
    store: Option<Store<T>>,
    events: EventChannel,
    history: History<T>,
    stats: Arc<Publisher<Stats>>,
    /// Where applied snapshots go to be written to disk, when a last-good file is configured.
    disk: Option<disk::Latest<T>>,
    /// The version of the last snapshot published (versions never repeat, even when the first
    /// one is taken back by a failing post-apply check).
    last_version: u64,
    /// Per-source status and rejections, for [`Reloader::status`](crate::ReloaderHandle::status).
    board: Board,
    /// When the earliest state of the batch being applied was delivered.
    delivered_at: Option<Instant>,
    /// Counts not published yet (`None`: nothing counted): added to `stats` in one change
    /// (one copy of the counters, one wake-up of their subscribers) before an event is sent or
    /// the store's subscribers are notified, and at the end of each step, rather than one
    /// change per count. Whoever sees an event or a new config finds it counted.
    counted: Mutex<Option<Stats>>,
}

impl<T: DeserializeOwned + Send + Sync + 'static> Engine<T> {
    /// An engine for the layers `ids` (in layer order) that has applied nothing yet, keeping
    /// `board` up to date.
    pub(crate) fn new(
        ids: &[LayerId],
        rules: Rules<T>,
        events: EventChannel,
        stats: Arc<Publisher<Stats>>,
        disk: Option<disk::Latest<T>>,
        board: Board,
    ) -> Engine<T> {
        Engine {
            sources: ids.iter().cloned().map(SourceState::new).collect(),
            history: History::new(rules.history),
            rules,
            store: None,
            events,
            stats,
            disk,
            last_version: 0,
            board,
            delivered_at: None,
            counted: Mutex::new(None),
        }
    }

    /// The store, once a config was applied.
    pub(crate) fn store(&self) -> Option<Store<T>> {
        self.store.clone()
    }

    /// The applied versions kept for rollback, oldest first.
    pub(crate) fn history(&self) -> Vec<Arc<Snapshot<T>>> {
        self.history.snapshots()
    }

    /// The name of a source whose provider stopped for good before delivering a good state.
    pub(crate) fn stalled_source(&self) -> Option<&str> {
        self.sources
            .iter()
            .find(|s| s.is_stalled())
            .map(SourceState::name)
    }

    /// What a start waits for: every layer with no good state yet (in layer order, with its
    /// last error), and why the last config built was rejected, if it was.
    pub(crate) fn awaited(&self) -> (Vec<Awaited>, Option<String>) {
        let board = self.board.lock();
        let sources = (self.sources.iter().zip(&board.sources))
            .filter(|(source, _)| !source.is_ready())
            .map(|(_, status)| Awaited {
                layer: status.layer.clone(),
                source: status.source.clone(),
                error: status.last_error.clone(),
            })
            .collect();
        (sources, board.last_rejection.clone())
    }

    /// Sends an event to the subscribers, if any (counting happens where the event arises).
    pub(crate) fn emit(&self, event: impl FnOnce() -> Event) {
        if let Some(events) = self.events.listened() {
            self.publish_counts();
            let _ = events.send(event());
        }
    }

    /// Counts into the counters not published yet (see [`publish_counts`](Self::publish_counts)).
    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(self.lock_counted().get_or_insert_with(Stats::default));
    }

    /// Publishes what was counted since the last time, in one change of the counters.
    fn publish_counts(&self) {
        let counted = self.lock_counted().take();
        if let Some(counted) = counted {
            self.stats.send_modify(|s| s.add(&counted));
        }
    }

    fn lock_counted(&self) -> MutexGuard<'_, Option<Stats>> {
        self.counted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The batch step: takes in what the providers delivered (leaving `pending` empty, its
    /// buffers kept for the next batch), applies the sources if anything changed, and counts
    /// the batch. With `stop_at_source_error`, a batch that brought a source error stops
    /// before applying (and is not counted).
    pub(crate) async fn batch(
        &mut self,
        pending: &mut Pending,
        stop_at_source_error: bool,
    ) -> Batch<T> {
        let source_error = self.ingest(pending);
        if stop_at_source_error && source_error.is_some() {
            self.publish_counts();
            return Batch {
                source_error,
                applied: Ok(None),
            };
        }
        let applied = self.apply_sources().await;
        self.delivered_at = None;
        self.count(|s| s.batches += 1);
        self.publish_counts();
        Batch {
            source_error,
            applied,
        }
    }

    /// Takes in what the providers delivered; reports every source error and returns the
    /// first (but for the errors that make an optional layer absent, which are no failure).
    fn ingest(&mut self, pending: &mut Pending) -> Option<Error> {
        let dropped = std::mem::take(&mut pending.dropped_errors);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "source errors arrived faster than they were reported"
            );
        }
        for index in pending.stopped.drain(..) {
            self.sources[index].stop();
            self.board.stopped(index);
        }
        let mut first = None;
        for (index, error) in pending.errors.drain(..) {
            let source = &mut self.sources[index];
            let error = error.with_layer(source.id().clone());
            let absent = source.absent(&error);
            self.count(|s| s.source_errors += 1);
            if absent {
                let source = &self.sources[index];
                let name = source.name();
                tracing::info!(source = %name, layer = source.label(), %error, "optional layer absent; the config is built without it");
                self.board.absent(index, Some(&error));
                self.emit(|| Event::absent(name, &error));
                continue;
            }
            let source = &self.sources[index];
            let name = source.name();
            tracing::warn!(source = %name, layer = source.label(), %error, "source error; keeping its last good state");
            self.board.failed(index, &error);
            self.emit(|| Event::source_error(name, &error));
            first.get_or_insert(error);
        }
        self.delivered_at = match (self.delivered_at, pending.delivered_at.take()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let limits = self.rules.limits;
        for (index, slot) in pending.layers.iter_mut().enumerate() {
            let Some(layer) = slot.take() else { continue };
            let source = &mut self.sources[index];
            let revision = layer.revision.clone();
            match source.offer(layer, &limits) {
                Offer::Stale(revision) => {
                    tracing::warn!(source = %source.name(), %revision, "ignoring a state older than one already seen");
                    self.count(|s| s.stale += 1);
                }
                Offer::Repeat if !source.is_rejected() => show_good(&self.board, index, source),
                Offer::Repeat => {}
                // Its rollout membership shows once a build took it in (`show_rollouts`).
                Offer::Changed => self.board.changed(index, &revision),
                Offer::Rejected(error) => {
                    tracing::warn!(%error, "rejected a source state; keeping its last good state");
                    self.count(|s| s.rejected += 1);
                    self.board.failed(index, &error);
                    self.emit(|| Event::rejected(&error));
                }
            }
        }
        first
    }

    /// Applies the config saved in the last-good file `path`, deserialized and validated like
    /// any other (a saved config the rules now refuse is not used).
    pub(crate) async fn start_from_disk(&mut self, path: &Path) -> Result<Arc<Snapshot<T>>> {
        let saved = disk::read(path, &self.rules.limits)?;
        // The saved revisions of layers this reloader still has, by their printable names.
        let revisions = saved
            .revisions
            .into_iter()
            .filter_map(|(name, revision)| {
                let source = self.sources.iter().find(|s| s.name() == name)?;
                Some((source.id().clone(), revision))
            })
            .collect();
        let redaction = (saved.secret_shape.as_ref())
            .map(|shape| Arc::new(self.rules.redaction.with_secret_layers([shape])));
        let candidate = Candidate::saved(saved.config, revisions, redaction)?;
        let name = format!("last-good file {}", path.display());
        let snapshot = self
            .check(candidate, Origin::Disk)
            .await
            .map_err(|e| e.with_source_name(name))?;
        self.publish(snapshot.clone());
        Ok(snapshot)
    }

    /// Pins the content of `version` from the history.
    pub(crate) fn rollback(&mut self, version: u64) -> Result<Arc<Snapshot<T>>> {
        let earlier = self.history.find(version)?;
        let snapshot = self.restore(&earlier, Origin::Rollback { of: version })?;
        self.history.set_pinned(true);
        self.board.set_pinned(true);
        Ok(snapshot)
    }

    /// Resumes following the sources: applies their latest states at once.
    pub(crate) async fn unpin(&mut self) -> Result<Option<Arc<Snapshot<T>>>> {
        self.history.set_pinned(false);
        self.board.set_pinned(false);
        for source in &mut self.sources {
            source.touch();
        }
        let applied = self.apply_sources().await;
        self.publish_counts();
        applied
    }
}

/// Shows source `index`, whose latest state is good, on the board: up, or absent for an
/// optional layer that holds nothing (an absent source's board entry already says why).
fn show_good(board: &Board, index: usize, source: &SourceState) {
    if source.is_absent() {
        return;
    }
    if source.id().is_optional() && source.latest().is_none() {
        board.absent(index, None);
    } else {
        board.good(index);
    }
}
