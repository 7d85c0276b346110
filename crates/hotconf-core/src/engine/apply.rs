//! Applying: from the sources' latest states to a published snapshot, and back when the
//! candidate is rejected or the post-apply check fails.

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::layer_id::LayerId;
use crate::store::{Origin, Snapshot, SnapshotParts, Store};

use super::blame::{blame, deserialize};
use super::candidate::Candidate;
use super::checks;
use super::source::{Parsed, SourceState};
use super::Engine;

impl<T: DeserializeOwned + Send + Sync + 'static> Engine<T> {
    pub(super) fn current(&self) -> Option<Arc<Snapshot<T>>> {
        self.store.as_ref().map(Store::get)
    }

    pub(super) fn next_version(&self) -> u64 {
        self.last_version + 1
    }

    /// Builds and applies a config from the sources' latest states when anything changed.
    /// `Ok(None)`: nothing to do (a source not ready yet, pinned, or the same content).
    pub(super) async fn apply_sources(&mut self) -> Result<Option<Arc<Snapshot<T>>>> {
        let changed = self.sources.iter().any(SourceState::is_dirty);
        if self.history.is_pinned() {
            if let Some(current) = self.current().filter(|_| changed) {
                self.emit(|| Event::Held {
                    version: current.version(),
                });
            }
            return Ok(None);
        }
        if !self.sources.iter().all(SourceState::is_ready) || !changed {
            return Ok(None);
        }
        let span = tracing::info_span!(
            "reload",
            layers = tracing::field::Empty,
            version = tracing::field::Empty,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        // The changed layers' names, joined only when someone records the span.
        if !span.is_disabled() {
            let layers: Vec<&str> = self
                .sources
                .iter()
                .filter(|s| s.is_dirty())
                .map(SourceState::label)
                .collect();
            span.record("layers", layers.join(","));
        }
        let started = Instant::now();
        let result = self.build_and_apply().instrument(span.clone()).await;
        let took = started.elapsed();
        let outcome = match &result {
            Ok(Some(snapshot)) => {
                span.record("version", snapshot.version());
                "applied"
            }
            Ok(None) => "unchanged",
            Err(_) => "rejected",
        };
        span.record("outcome", outcome);
        span.record("duration_us", took.as_micros() as u64);
        if outcome != "unchanged" {
            self.count(|s| s.reload_duration.record(took));
        }
        result
    }

    async fn build_and_apply(&mut self) -> Result<Option<Arc<Snapshot<T>>>> {
        let current = self.current();
        let built = Candidate::build(
            &self.sources,
            &self.rules.restart_required,
            current.as_deref(),
        );
        let candidate = match built {
            Ok(Some(candidate)) => candidate,
            Ok(None) => {
                self.count(|s| s.unchanged += 1);
                self.board.rejection(None);
                self.accept();
                return Ok(None);
            }
            Err(error) => return Err(self.reject(error)),
        };
        let snapshot = match self.check(candidate, Origin::Sources).await {
            Ok(snapshot) => snapshot,
            Err(error) => return Err(self.reject(error)),
        };
        // Only a post-apply check can undo an apply: keep what to undo it to only then.
        let undo: Option<Vec<Option<Parsed>>> = self
            .rules
            .post_apply
            .as_ref()
            .map(|_| self.sources.iter().map(SourceState::applied).collect());
        self.accept();
        self.board.rejection(None);
        self.publish(snapshot.clone());
        if let Some(undo) = undo {
            self.post_apply_check(&snapshot, current, undo).await?;
        }
        self.save(&snapshot);
        Ok(Some(snapshot))
    }

    /// Deserializes (unless the fast path did) and validates a candidate as the next version.
    pub(super) async fn check(
        &self,
        candidate: Candidate<T>,
        origin: Origin,
    ) -> Result<Arc<Snapshot<T>>> {
        let version = self.next_version();
        checks::check_candidate(&self.rules, &self.sources, candidate, version, origin).await
    }

    fn accept(&mut self) {
        for (index, source) in self.sources.iter_mut().enumerate() {
            if source.is_dirty() {
                super::show_good(&self.board, index, source);
            }
            source.accept();
        }
        self.show_rollouts();
    }

    /// Shows each source's rollout membership as of the state it now builds with: a member
    /// whose candidate was rejected or reverted is not shown on the candidate.
    fn show_rollouts(&self) {
        self.board
            .rollouts(self.sources.iter().map(SourceState::rollout));
    }

    /// Reports a rejected candidate and puts the sources that changed back to their last
    /// accepted state, so that a later change elsewhere is not blocked by this one.
    fn reject(&mut self, error: Error) -> Error {
        let error = blame(&self.sources, error);
        tracing::warn!(%error, "rejected a config; the last good one keeps serving");
        self.count(|s| s.rejected += 1);
        self.board.rejection(Some(&error));
        // The layer at fault, when known, is failing: its latest state is not in use.
        if let Some(index) = error.layer().map(LayerId::position) {
            self.board.failed(index, &error);
        }
        self.emit(|| Event::rejected(&error));
        for source in &mut self.sources {
            source.revert();
        }
        self.show_rollouts();
        error
    }

    /// Runs the post-apply check on `snapshot` (just published over `before`); on failure
    /// publishes `before`'s content again as a new version and puts the sources back to the
    /// states `undo` saved. With no `before` (the first config), the store is taken back and
    /// startup goes on waiting or fails.
    async fn post_apply_check(
        &mut self,
        snapshot: &Arc<Snapshot<T>>,
        before: Option<Arc<Snapshot<T>>>,
        undo: Vec<Option<Parsed>>,
    ) -> Result<()> {
        let Some(check) = &self.rules.post_apply else {
            return Ok(());
        };
        let checked = checks::post_apply(
            check,
            snapshot,
            self.store.clone(),
            before.clone(),
            self.rules.check_timeout,
        )
        .await;
        let Err(error) = checked else {
            return Ok(());
        };
        self.count(|s| s.rejected += 1);
        self.board.rejection(Some(&error));
        self.emit(|| Event::rejected(&error));
        let restored = match before {
            Some(previous) => {
                let origin = Origin::Revert {
                    of: previous.version(),
                    failed: snapshot.version(),
                };
                self.restore(&previous, origin).map(drop)
            }
            None => {
                self.store = None;
                self.history.clear();
                Ok(())
            }
        };
        // Back to the states of the version reverted to. A source with none applied (the first
        // config, or one from the last-good file) keeps the state it was built with, and the
        // next change rebuilds.
        for (source, saved) in self.sources.iter_mut().zip(undo) {
            source.undo(saved);
        }
        self.show_rollouts();
        restored?;
        Err(error)
    }

    /// Swaps `snapshot` in, emits its events, notifies subscribers (a subscriber woken by a
    /// change finds its `applied` event already sent), then records it in the history.
    pub(super) fn publish(&mut self, snapshot: Arc<Snapshot<T>>) {
        snapshot.published(self.current().as_deref());
        let store = match &self.store {
            Some(store) => {
                store.swap(snapshot.clone());
                store.clone()
            }
            None => self
                .store
                .insert(Store::from_snapshot(snapshot.clone()))
                .clone(),
        };
        // Readers load it from now on: the end of the propagation of what the sources delivered.
        if let Some(delivered) = self
            .delivered_at
            .filter(|_| *snapshot.origin() == Origin::Sources)
        {
            self.count(|s| s.propagation.record(delivered.elapsed()));
        }
        self.last_version = snapshot.version();
        tracing::info!(version = snapshot.version(), "applied config");
        self.count(|s| s.applied += 1);
        // A subscriber woken below finds the counters up to date.
        self.publish_counts();
        self.emit(|| Event::applied(&snapshot));
        if !snapshot.pending_restart().is_empty() {
            self.emit(|| Event::RestartRequired {
                version: snapshot.version(),
                keys: snapshot.pending_restart().to_vec(),
            });
        }
        store.notify();
        // After the notification: recording may free the oldest version, which no reader
        // needs to wait for.
        self.history.record(snapshot);
    }

    /// Hands an applied snapshot that passed every check to the last-good file's writer.
    fn save(&self, snapshot: &Arc<Snapshot<T>>) {
        if let Some(disk) = self
            .disk
            .as_ref()
            .filter(|_| *snapshot.origin() != Origin::Disk)
        {
            disk.send_replace(Some(snapshot.clone()));
        }
    }

    /// Publishes the content of an earlier snapshot as a new version.
    pub(super) fn restore(
        &mut self,
        earlier: &Snapshot<T>,
        origin: Origin,
    ) -> Result<Arc<Snapshot<T>>> {
        // `try_merged`, not `merged`: a tree that cannot be built is an error here, never an
        // empty config restored in its place.
        let config = deserialize::<T>(&self.sources, earlier.try_merged()?)?;
        let snapshot = Arc::new(Snapshot::from_parts(SnapshotParts {
            config,
            version: self.next_version(),
            revisions: earlier.revisions().into(),
            merged: earlier.merged_tree().clone(),
            hash: earlier.content_hash(),
            origin,
            pending_restart: Vec::new(),
            layers: earlier.layers().clone(),
            // Its content's policy: a config read from the last-good file keeps what its
            // secret layers supplied covered.
            redaction: earlier.shared_redaction().clone(),
        }));
        self.publish(snapshot.clone());
        self.save(&snapshot);
        Ok(snapshot)
    }
}
