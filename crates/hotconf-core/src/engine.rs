//! The reload pipeline: ingest source states, merge, deserialize, validate, swap, record.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::disk;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::format::{self, Format, Limits};
use crate::inbox::Pending;
use crate::keyspace;
use crate::layer::{Content, Layer};
use crate::layered;
use crate::merge;
use crate::path::{self, PathSegment};
use crate::revision::Revision;
use crate::stats::Stats;
use crate::store::{Origin, Snapshot, SnapshotParts, Store};
use crate::subscription::Publisher;
use crate::tree::Tree;
use crate::validate::{AsyncCheck, SyncValidator};

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
}

/// What the engine knows of one source.
pub(crate) struct Source {
    pub(crate) name: String,
    /// The last state seen (to drop exact repeats) and the newest ordered revision (G3).
    last_layer: Option<Layer>,
    newest: Option<Revision>,
    /// The parsed tree last applied, and the one to apply next (`None`: empty layer).
    accepted: Option<Arc<Tree>>,
    accepted_revision: Option<Revision>,
    latest: Option<Arc<Tree>>,
    latest_revision: Option<Revision>,
    /// Delivered at least one good state.
    pub(crate) ready: bool,
    /// Changed since the last apply.
    dirty: bool,
    /// Its provider stopped for good.
    pub(crate) stopped: bool,
}

impl Source {
    pub(crate) fn new(name: String) -> Source {
        Source {
            name,
            last_layer: None,
            newest: None,
            accepted: None,
            accepted_revision: None,
            latest: None,
            latest_revision: None,
            ready: false,
            dirty: false,
            stopped: false,
        }
    }
}

pub(crate) struct Engine<T> {
    pub(crate) sources: Vec<Source>,
    pub(crate) rules: Rules<T>,
    pub(crate) store: Option<Store<T>>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) history: VecDeque<Arc<Snapshot<T>>>,
    pub(crate) pinned: bool,
    pub(crate) stats: Arc<Publisher<Stats>>,
    /// Where applied snapshots go to be written to disk, when a last-good file is configured.
    pub(crate) disk: Option<disk::Latest<T>>,
    /// The version of the last snapshot published (versions never repeat, even when the first
    /// one is taken back by a failing post-apply check).
    pub(crate) last_version: u64,
}

impl<T: DeserializeOwned + Send + Sync + 'static> Engine<T> {
    fn emit(&self, event: Event) {
        self.stats.send_modify(|s| match &event {
            Event::Applied { .. } => s.applied += 1,
            Event::Rejected { .. } => s.rejected += 1,
            Event::SourceError { .. } => s.source_errors += 1,
            _ => {}
        });
        let _ = self.events.send(event);
    }

    fn count(&self, f: impl Fn(&mut Stats)) {
        self.stats.send_modify(f);
    }

    /// Takes in what the providers delivered. Returns the source errors, for the startup policy.
    pub(crate) fn ingest(&mut self, pending: Pending) -> Vec<Error> {
        if pending.dropped_errors > 0 {
            tracing::warn!(
                dropped = pending.dropped_errors,
                "source errors arrived faster than they were reported"
            );
        }
        for index in pending.stopped {
            self.sources[index].stopped = true;
        }
        let mut errors = Vec::new();
        for (index, error) in pending.errors {
            let source = &self.sources[index];
            tracing::warn!(source = %source.name, %error, "source error; keeping its last good state");
            self.emit(Event::source_error(&source.name, &error));
            errors.push(error);
        }
        for (index, layer) in pending.layers.into_iter().enumerate() {
            if let Some(layer) = layer {
                self.ingest_layer(index, layer);
            }
        }
        errors
    }

    fn ingest_layer(&mut self, index: usize, layer: Layer) {
        let limits = self.rules.limits;
        let source = &mut self.sources[index];
        if source
            .newest
            .as_ref()
            .is_some_and(|newest| layer.revision.is_older_than(newest))
        {
            tracing::warn!(source = %source.name, revision = %layer.revision, "ignoring a state older than one already seen");
            self.count(|s| s.stale += 1);
            return;
        }
        if source.last_layer.as_ref() == Some(&layer) {
            return;
        }
        if matches!(layer.revision, Revision::Ordered(_)) {
            source.newest = Some(layer.revision.clone());
        }
        let parsed = parse_content(&layer.content, &limits);
        source.last_layer = Some(layer.clone());
        match parsed {
            Ok(tree) => {
                source.latest = tree;
                source.latest_revision = Some(layer.revision);
                source.ready = true;
                source.dirty = true;
            }
            Err(error) => {
                let error = error.with_source_name(source.name.clone());
                tracing::warn!(%error, "rejected a source state; keeping its last good state");
                self.emit(Event::rejected(&error));
            }
        }
    }

    fn current(&self) -> Option<Arc<Snapshot<T>>> {
        self.store.as_ref().map(Store::get)
    }

    fn next_version(&self) -> u64 {
        self.last_version + 1
    }

    /// Builds and applies a config from the sources' latest states when anything changed.
    /// `Ok(None)`: nothing to do (a source not ready yet, pinned, or the same content).
    pub(crate) async fn apply_sources(&mut self) -> Result<Option<Arc<Snapshot<T>>>> {
        if self.pinned {
            if let Some(current) = self
                .current()
                .filter(|_| self.sources.iter().any(|s| s.dirty))
            {
                self.emit(Event::Held {
                    version: current.version(),
                });
            }
            return Ok(None);
        }
        if !self.sources.iter().all(|s| s.ready) {
            return Ok(None);
        }
        if !self.sources.iter().any(|s| s.dirty) {
            return Ok(None);
        }
        let current = self.current();
        let candidate = match self.candidate(current.as_deref()) {
            Ok(Some(candidate)) => candidate,
            Ok(None) => {
                self.count(|s| s.unchanged += 1);
                self.accept_dirty();
                return Ok(None);
            }
            Err(error) => return Err(self.reject(error)),
        };
        let revisions: Arc<[(String, Revision)]> = self
            .sources
            .iter()
            .filter_map(|s| s.latest_revision.clone().map(|r| (s.name.clone(), r)))
            .collect();
        match self.build(candidate, revisions, Origin::Sources).await {
            Ok(snapshot) => {
                // Only a post-apply check can undo an apply: keep what to undo it to only then.
                let undo: Option<Vec<_>> = self.rules.post_apply.as_ref().map(|_| {
                    self.sources
                        .iter()
                        .map(|s| (s.accepted.clone(), s.accepted_revision.clone()))
                        .collect()
                });
                self.accept_dirty();
                self.publish(snapshot.clone());
                if let Some(undo) = undo {
                    let first = current.is_none();
                    if let Err(error) = self.post_apply_check(&snapshot, current).await {
                        // Back to the states of the version reverted to. A first config has
                        // none: the states stay, unaccepted, and the next change rebuilds.
                        for (source, (tree, revision)) in self.sources.iter_mut().zip(undo) {
                            if !first {
                                source.latest = tree.clone();
                                source.latest_revision = revision.clone();
                            }
                            source.accepted = tree;
                            source.accepted_revision = revision;
                        }
                        return Err(error);
                    }
                }
                self.save(&snapshot);
                Ok(Some(snapshot))
            }
            Err(error) => Err(self.reject(error)),
        }
    }

    /// Reports a rejected candidate and puts the sources that changed back to their last
    /// accepted state, so that a later change elsewhere is not blocked by this one.
    fn reject(&mut self, error: Error) -> Error {
        let error = self.blame(error);
        tracing::warn!(%error, "rejected a config; the last good one keeps serving");
        self.emit(Event::rejected(&error));
        for source in self.sources.iter_mut().filter(|s| s.dirty) {
            source.latest = source.accepted.clone();
            source.latest_revision = source.accepted_revision.clone();
            source.dirty = false;
            // A source none of whose states was ever accepted is not ready: building without
            // it would apply a config that silently lacks a layer.
            source.ready = source.accepted_revision.is_some();
        }
        error
    }

    /// The candidate from the sources' latest states; `None` when it equals the current config.
    ///
    /// Three paths, each proven by tests to give the same config:
    /// - one JSON document layer: deserialized straight from its bytes, at the cost of a plain
    ///   `serde_json::from_slice`; its tree is built only if someone asks for it;
    /// - otherwise the layers' trees are deserialized in place, merging keys on the fly, and
    ///   the merged tree is built only if someone asks for it;
    /// - with restart-required keys, the merged tree is built and patched first.
    ///
    /// On any failure the typed config is left for [`build`](Self::build) to deserialize from
    /// the merged tree, which names the key and the source of the error.
    fn candidate(&self, current: Option<&Snapshot<T>>) -> Result<Option<Candidate<T>>> {
        let layers: Vec<(&str, &Arc<Tree>)> = self
            .sources
            .iter()
            .filter_map(|s| s.latest.as_ref().map(|t| (s.name.as_str(), t)))
            .filter(|(_, t)| !t.is_empty_map())
            .collect();
        // A config read from disk is replaced by the sources' first one even when equal, so
        // that the origin says the sources are followed again.
        let unchanged = |hash: u64| {
            current.is_some_and(|c| c.content_hash() == hash && *c.origin() != Origin::Disk)
        };
        let plain = self.rules.restart_required.is_empty();
        if let ([(_, only)], true) = (layers.as_slice(), plain) {
            if let Some(bytes) = only.json_map_bytes() {
                let hash = only.content_hash()?;
                if unchanged(hash) {
                    return Ok(None);
                }
                // A typed parse skips ignored fields unchecked: the scan makes the fast path
                // accept exactly what the tree parser accepts (else the general path rejects).
                let config = serde_json::from_slice::<T>(bytes)
                    .ok()
                    .filter(|_| format::json_is_valid(bytes));
                if let Some(config) = config {
                    return Ok(Some(Candidate {
                        config: Some(config),
                        merged: Arc::clone(only),
                        hash,
                        pending_restart: Vec::new(),
                    }));
                }
            }
        }
        let mut values = Vec::with_capacity(layers.len());
        for (name, tree) in &layers {
            values.push(
                tree.value()
                    .map_err(|e| e.with_source_name(*name))?
                    .as_ref(),
            );
        }
        if plain {
            let merged = Tree::from_layers(layers.iter().map(|(_, t)| Arc::clone(t)).collect());
            let hash = merged.content_hash()?;
            if unchanged(hash) {
                return Ok(None);
            }
            let config = layered::from_layers::<T>(&values).ok();
            return Ok(Some(Candidate {
                config,
                merged,
                hash,
                pending_restart: Vec::new(),
            }));
        }
        let mut merged = merge::merge_all(values);
        let mut pending_restart = Vec::new();
        if let Some(current) = current {
            for key in &self.rules.restart_required {
                let running = path::lookup(current.merged(), key);
                if path::lookup(&merged, key) != running {
                    path::set(&mut merged, key, running.cloned());
                    pending_restart.push(path::render(key));
                }
            }
        }
        let merged = Tree::from_value(Arc::new(merged));
        let hash = merged.content_hash()?;
        if unchanged(hash) {
            return Ok(None);
        }
        Ok(Some(Candidate {
            config: None,
            merged,
            hash,
            pending_restart,
        }))
    }

    fn accept_dirty(&mut self) {
        for source in self.sources.iter_mut().filter(|s| s.dirty) {
            source.accepted = source.latest.clone();
            source.accepted_revision = source.latest_revision.clone();
            source.dirty = false;
        }
    }

    /// Deserializes (unless the fast path did) and validates a candidate. Does not publish it.
    async fn build(
        &self,
        candidate: Candidate<T>,
        revisions: Arc<[(String, Revision)]>,
        origin: Origin,
    ) -> Result<Arc<Snapshot<T>>> {
        let Candidate {
            config,
            merged,
            hash,
            pending_restart,
        } = candidate;
        let config = match config {
            Some(config) => config,
            None => self.deserialize(merged.value()?)?,
        };
        for validator in &self.rules.validators {
            catch_unwind(AssertUnwindSafe(|| validator(&config)))
                .unwrap_or_else(|panic| Err(panicked("a validator", &panic)))
                .map_err(|e| self.locate(e))?;
        }
        let version = self.next_version();
        let snapshot = Arc::new(Snapshot::from_parts(SnapshotParts {
            config,
            version,
            revisions,
            merged,
            hash,
            origin,
            pending_restart,
        }));
        for check in &self.rules.async_validators {
            run_check(
                check,
                &snapshot,
                "an async validator",
                self.rules.check_timeout,
            )
            .await
            .map_err(|e| self.locate(e))?;
        }
        Ok(snapshot)
    }

    fn deserialize(&self, merged: &Value) -> Result<T> {
        match T::deserialize(merged) {
            Ok(config) => Ok(config),
            // Failure is rare: only then pay for path tracking, to name the key and its source.
            Err(_) => {
                let err = match serde_path_to_error::deserialize::<_, T>(merged) {
                    Ok(_) => return Err(Error::new(ErrorKind::Type, "deserialization failed")),
                    Err(err) => err,
                };
                let mut key = path::from_serde(err.path());
                let message = err.inner().to_string();
                if let Some(field) = message
                    .strip_prefix("missing field `")
                    .and_then(|m| m.split('`').next())
                {
                    key.push(PathSegment::Key(field.to_owned()));
                }
                let mut error = Error::new(ErrorKind::Type, message);
                if !key.is_empty() {
                    error = error.with_key(path::render(&key));
                }
                Err(self.locate(error))
            }
        }
    }

    /// Names the source of an error from its key: the highest layer that holds the key.
    fn locate(&self, error: Error) -> Error {
        if error.source_name().is_some() {
            return error;
        }
        let Some(key) = error.key().map(path::parse) else {
            return error;
        };
        let named: Vec<(&str, &Value)> = self
            .sources
            .iter()
            .filter_map(|s| Some((s.name.as_str(), s.latest.as_ref()?.value().ok()?.as_ref())))
            .collect();
        let trees: Vec<&Value> = named.iter().map(|(_, v)| *v).collect();
        match merge::provenance(&trees, &key) {
            Some(index) => error.with_source_name(named[index].0),
            None => error,
        }
    }

    /// With no key to go by, blames the one source that changed, when only one did.
    fn blame(&self, error: Error) -> Error {
        if error.source_name().is_some() {
            return error;
        }
        let mut dirty = self.sources.iter().filter(|s| s.dirty);
        match (dirty.next(), dirty.next()) {
            (Some(only), None) => error.with_source_name(only.name.clone()),
            _ => error,
        }
    }

    /// Swaps `snapshot` in, records it, emits its events, then notifies subscribers: a
    /// subscriber woken by a change finds its `applied` event already sent.
    fn publish(&mut self, snapshot: Arc<Snapshot<T>>) {
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
        self.last_version = snapshot.version();
        self.history.push_back(snapshot.clone());
        while self.history.len() > self.rules.history.max(1) {
            self.history.pop_front();
        }
        tracing::info!(version = snapshot.version(), "applied config");
        self.emit(Event::applied(&snapshot));
        if !snapshot.pending_restart().is_empty() {
            self.emit(Event::RestartRequired {
                version: snapshot.version(),
                keys: snapshot.pending_restart().to_vec(),
            });
        }
        store.notify();
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

    /// Applies the config saved in the snapshot file `path`, deserialized and validated like
    /// any other (a saved config the rules now refuse is not used).
    pub(crate) async fn start_from_disk(&mut self, path: &Path) -> Result<Arc<Snapshot<T>>> {
        let saved = disk::read(path, &self.rules.limits)?;
        let merged = Tree::from_value(Arc::new(saved.config));
        let candidate = Candidate {
            config: None,
            hash: merged.content_hash()?,
            merged,
            pending_restart: Vec::new(),
        };
        let name = format!("snapshot file {}", path.display());
        let snapshot = self
            .build(candidate, saved.revisions.into(), Origin::Disk)
            .await
            .map_err(|e| e.with_source_name(name))?;
        self.publish(snapshot.clone());
        Ok(snapshot)
    }

    /// Runs the post-apply check on `snapshot` (just published over `before`); on failure
    /// publishes `before`'s content again as a new version. With no `before` (the first
    /// config), the store is taken back and startup goes on waiting or fails. If the reloader
    /// is dropped while the check runs, `before` is put back in the store as it was.
    async fn post_apply_check(
        &mut self,
        snapshot: &Arc<Snapshot<T>>,
        before: Option<Arc<Snapshot<T>>>,
    ) -> Result<()> {
        let Some(check) = &self.rules.post_apply else {
            return Ok(());
        };
        let on_drop = RevertOnDrop {
            store: self.store.clone(),
            to: before.clone(),
        };
        let checked = run_check(
            check,
            snapshot,
            "the post-apply check",
            self.rules.check_timeout,
        )
        .await;
        on_drop.disarm();
        let Err(error) = checked else {
            return Ok(());
        };
        let error = Error::new(
            ErrorKind::Validation,
            format!("post-apply check failed on version {}", snapshot.version()),
        )
        .with_cause(error);
        self.emit(Event::rejected(&error));
        match before {
            Some(previous) => {
                let origin = Origin::Revert {
                    of: previous.version(),
                    failed: snapshot.version(),
                };
                self.restore(&previous, origin)?;
            }
            None => {
                self.store = None;
                self.history.clear();
            }
        }
        Err(error)
    }

    /// Publishes the content of an earlier snapshot as a new version.
    pub(crate) fn restore(
        &mut self,
        earlier: &Snapshot<T>,
        origin: Origin,
    ) -> Result<Arc<Snapshot<T>>> {
        let config = self.deserialize(earlier.merged())?;
        let snapshot = Arc::new(Snapshot::from_parts(SnapshotParts {
            config,
            version: self.next_version(),
            revisions: earlier.revisions().into(),
            merged: earlier.merged_tree().clone(),
            hash: earlier.content_hash(),
            origin,
            pending_restart: Vec::new(),
        }));
        self.publish(snapshot.clone());
        self.save(&snapshot);
        Ok(snapshot)
    }

    /// Pins the content of `version` from the history.
    pub(crate) fn rollback(&mut self, version: u64) -> Result<Arc<Snapshot<T>>> {
        let earlier = self
            .history
            .iter()
            .find(|s| s.version() == version)
            .cloned()
            .ok_or_else(|| {
                let kept: Vec<u64> = self.history.iter().map(|s| s.version()).collect();
                Error::new(
                    ErrorKind::NotFound,
                    format!("version {version} is not in the history (kept: {kept:?})"),
                )
            })?;
        let snapshot = self.restore(&earlier, Origin::Rollback { of: version })?;
        self.pinned = true;
        Ok(snapshot)
    }

    /// Resumes following the sources: applies their latest states at once.
    pub(crate) async fn unpin(&mut self) -> Result<Option<Arc<Snapshot<T>>>> {
        self.pinned = false;
        for source in &mut self.sources {
            source.dirty = true;
        }
        self.apply_sources().await
    }
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

/// A candidate config: the merged content, its hash, and the typed config if the fast path
/// already has it.
struct Candidate<T> {
    config: Option<T>,
    merged: Arc<Tree>,
    hash: u64,
    pending_restart: Vec<String>,
}

/// Parses a layer's content into a tree (`None` for an empty layer). JSON documents are only
/// checked for size here, and parsed when first needed.
pub(crate) fn parse_content(content: &Content, limits: &Limits) -> Result<Option<Arc<Tree>>> {
    let value = match content {
        Content::Empty => return Ok(None),
        Content::Document {
            format: Format::Json,
            bytes,
        } => return Tree::from_json(bytes.clone(), *limits).map(Some),
        Content::Document { format, bytes } => format::parse(*format, bytes, limits)?,
        Content::Documents(documents) => {
            let mut trees = Vec::with_capacity(documents.len());
            for doc in documents {
                let parsed = format::parse(doc.format, &doc.bytes, limits).map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!("in document `{}`: {}", doc.name, e.message()),
                    )
                })?;
                trees.push(parsed);
            }
            merge::merge_all(trees.iter())
        }
        Content::Keys {
            separator,
            entries,
            typed,
        } => keyspace::nest(entries, *separator, *typed)?,
        Content::Tree(tree) => {
            format::check_depth(tree, limits.max_depth)?;
            if !tree.is_object() {
                return Err(Error::new(
                    ErrorKind::Parse,
                    format!("a layer must be a map, found {}", format::kind_name(tree)),
                ));
            }
            tree.clone()
        }
    };
    Ok(Some(Tree::from_value(Arc::new(value))))
}
