//! `Store<T>`: the applied config, read lock-free, with change subscriptions.

use std::fmt;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde_json::Value;

use crate::changes::Changes;
use crate::error::Result;
use crate::explain::{self, Explanation, LayerView};
use crate::layer_id::LayerId;
use crate::redaction::Redaction;
use crate::revision::Revision;
use crate::subscription::{Publisher, Subscription};
use crate::tree::Tree;

/// A read guard from [`Store::load`]: derefs to the [`Snapshot`], which derefs to `T`.
pub type Guard<T> = arc_swap::Guard<Arc<Snapshot<T>>>;

/// How a snapshot came to be applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Origin {
    /// Built from the sources' latest states.
    Sources,
    /// Restored by [`Reloader::rollback`](crate::ReloaderHandle::rollback) from an earlier version.
    Rollback {
        /// The version whose content was restored.
        of: u64,
    },
    /// Restored because the post-apply check failed on a version.
    Revert {
        /// The version whose content was restored.
        of: u64,
        /// The version that failed the check.
        failed: u64,
    },
    /// Given directly to [`Store::new`].
    Initial,
    /// Read from the last-good file at startup because the sources gave no valid config
    /// ([`ReloaderBuilder::last_good_file`](crate::ReloaderBuilder::last_good_file)); replaced as soon as
    /// they do.
    Disk,
}

/// How a snapshot came to be applied, as a person reads it in a log line or a terminal:
/// `sources`, `rollback of v2`, `revert to v2 after v3 failed its check`, `initial`,
/// `last-good file`. (The JSON form, with a `kind` tag, is the serialized one.)
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Sources => f.write_str("sources"),
            Origin::Rollback { of } => write!(f, "rollback of v{of}"),
            Origin::Revert { of, failed } => {
                write!(f, "revert to v{of} after v{failed} failed its check")
            }
            Origin::Initial => f.write_str("initial"),
            Origin::Disk => f.write_str("last-good file"),
        }
    }
}

/// One applied config with what it was built from.
pub struct Snapshot<T> {
    config: T,
    version: u64,
    revisions: Arc<[(LayerId, Revision)]>,
    merged: Arc<Tree>,
    hash: u64,
    origin: Origin,
    pending_restart: Vec<String>,
    layers: Arc<[LayerView]>,
    redaction: Arc<Redaction>,
    built_at: SystemTime,
    facts: OnceLock<Facts>,
    changes: OnceLock<Changes>,
}

/// What is known of a snapshot once it is published: when, and what it replaced.
struct Facts {
    applied_at: SystemTime,
    /// The merged tree of the version it replaced, until [`Snapshot::changes`] compares them.
    previous: Mutex<Option<Arc<Tree>>>,
}

/// What a [`Snapshot`] is made of, by name (for [`Snapshot::from_parts`]).
pub(crate) struct SnapshotParts<T> {
    /// The typed config.
    pub(crate) config: T,
    /// Its version.
    pub(crate) version: u64,
    /// The revision of every source it was built from, in layer order.
    pub(crate) revisions: Arc<[(LayerId, Revision)]>,
    /// The merged tree it was deserialized from.
    pub(crate) merged: Arc<Tree>,
    /// The hash of the merged content.
    pub(crate) hash: u64,
    /// How it came to be applied.
    pub(crate) origin: Origin,
    /// Restart-required keys whose source value differs from the value kept.
    pub(crate) pending_restart: Vec<String>,
    /// The layers it was built from (none when read from the last-good file).
    pub(crate) layers: Arc<[LayerView]>,
    /// The redaction policy for showing its values.
    pub(crate) redaction: Arc<Redaction>,
}

impl<T> Snapshot<T> {
    /// A snapshot of the given parts.
    pub(crate) fn from_parts(parts: SnapshotParts<T>) -> Self {
        let SnapshotParts {
            config,
            version,
            revisions,
            merged,
            hash,
            origin,
            pending_restart,
            layers,
            redaction,
        } = parts;
        // The policy shows nothing a secret layer supplies: its shape is that of those layers.
        let secret: Vec<&Value> = (layers.iter())
            .filter(|l| l.secret)
            .filter_map(|l| Some(&**l.tree.as_ref()?.value().ok()?))
            .collect();
        let redaction = if secret.is_empty() {
            redaction
        } else {
            Arc::new(redaction.with_secret_layers(secret))
        };
        Snapshot {
            config,
            version,
            revisions,
            merged,
            hash,
            origin,
            pending_restart,
            layers,
            redaction,
            built_at: SystemTime::now(),
            facts: OnceLock::new(),
            changes: OnceLock::new(),
        }
    }

    /// Records that it was published now, over `previous` (the version it replaces).
    pub(crate) fn published(&self, previous: Option<&Snapshot<T>>) {
        let _ = self.facts.set(Facts {
            applied_at: SystemTime::now(),
            previous: Mutex::new(previous.map(|p| p.merged.clone())),
        });
    }

    /// The typed config.
    pub fn config(&self) -> &T {
        &self.config
    }

    /// The version: 1 for the first applied config, one more for each later one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The revision of every source this config was built from, in layer order.
    pub fn revisions(&self) -> &[(LayerId, Revision)] {
        &self.revisions
    }

    /// The merged tree this config was deserialized from.
    ///
    /// When the config came from a single JSON document, the tree is parsed on the first call
    /// (reloads skip building it).
    ///
    /// # Panics
    /// Never for a snapshot the reloader applied: its single-document path accepts only
    /// documents the tree parser accepts (`tests/properties/fast_path.rs` proves the two
    /// agree), so the tree of a config that deserialized always builds. Were that ever broken,
    /// this panics with the parser's error rather than hand out an empty config;
    /// [`try_merged`](Self::try_merged) returns it instead.
    pub fn merged(&self) -> &Value {
        match self.try_merged() {
            Ok(value) => value,
            Err(error) => panic!("the applied config's tree does not build: {error}"),
        }
    }

    /// The merged tree, or why it cannot be built (see [`merged`](Self::merged): never for an
    /// applied snapshot; a snapshot read from a last-good file may fail here).
    ///
    /// # Errors
    /// The tree parser's error for a single document it refuses.
    pub fn try_merged(&self) -> Result<&Value> {
        self.merged.value().map(|v| &**v)
    }

    pub(crate) fn merged_tree(&self) -> &Arc<Tree> {
        &self.merged
    }

    /// A stable 64-bit hash (xxh3) of the merged content (of the document's bytes when the
    /// config came from a single JSON document).
    pub fn content_hash(&self) -> u64 {
        self.hash
    }

    /// How this snapshot came to be applied.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Restart-required keys whose source value differs from the value kept here.
    pub fn pending_restart(&self) -> &[String] {
        &self.pending_restart
    }

    /// When it was swapped in for readers (for a candidate not yet applied, which validators
    /// see, when it was built).
    pub fn applied_at(&self) -> SystemTime {
        self.facts.get().map_or(self.built_at, |f| f.applied_at)
    }

    /// The key paths that changed from the version it replaced (for the first version, the
    /// top-level keys, all added). Paths only, never values. Computed on first use.
    pub fn changes(&self) -> &Changes {
        self.changes.get_or_init(|| {
            let previous = self
                .facts
                .get()
                .and_then(|f| f.previous.lock().unwrap_or_else(|p| p.into_inner()).take());
            let empty = Value::Object(Default::default());
            let before = previous.as_ref().and_then(|t| t.value().ok());
            Changes::between(before.map_or(&empty, |v| &**v), self.merged())
        })
    }

    /// The value at `key` (`db.servers[0].host`) in the merged config, if any. In-process use
    /// only: it is not redacted (see [`redacted`](Self::redacted) and [`redaction`](Self::redaction)).
    pub fn lookup(&self, key: &str) -> Option<&Value> {
        crate::path::lookup(self.merged(), &crate::path::parse(key))
    }

    /// The key paths that differ from this version to `newer` (paths only, never values).
    pub fn diff(&self, newer: &Snapshot<T>) -> Changes {
        Changes::between(self.merged(), newer.merged())
    }

    /// Where the value of `key` (`db.servers[0].host`) comes from: the layer in force, the
    /// lower layers it overrides, and the values where the redaction policy allows.
    pub fn explain(&self, key: &str) -> Explanation {
        explain::explain(
            key,
            &self.layers,
            self.merged(),
            &self.redaction,
            &self.pending_restart,
        )
    }

    /// The merged config with every value the redaction policy covers replaced by `***`:
    /// what may be shown outside the process.
    pub fn redacted(&self) -> Value {
        self.redaction.redact(self.merged())
    }

    /// The redaction policy it was built under
    /// ([`ReloaderBuilder::redaction`](crate::ReloaderBuilder::redaction)).
    pub fn redaction(&self) -> &Redaction {
        &self.redaction
    }

    /// The redaction policy, shared.
    pub(crate) fn shared_redaction(&self) -> &Arc<Redaction> {
        &self.redaction
    }

    /// The layers it was built from, to restore it with.
    pub(crate) fn layers(&self) -> &Arc<[LayerView]> {
        &self.layers
    }
}

impl<T> Deref for Snapshot<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.config
    }
}

impl<T: fmt::Debug> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field("revisions", &self.revisions)
            .field("origin", &self.origin)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A reader with its own cache of the current snapshot, from [`Store::cached`].
pub struct CachedReader<T> {
    cache: arc_swap::Cache<Arc<ArcSwap<Snapshot<T>>>, Arc<Snapshot<T>>>,
}

impl<T> CachedReader<T> {
    /// The current snapshot: a pointer comparison when nothing changed since the last call.
    pub fn load(&mut self) -> &Snapshot<T> {
        self.cache.load()
    }
}

impl<T: fmt::Debug> fmt::Debug for CachedReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedReader").finish_non_exhaustive()
    }
}

type Projection<T> = Box<dyn Fn(&Snapshot<T>) -> bool + Send + Sync>;

struct Shared<T> {
    current: Arc<ArcSwap<Snapshot<T>>>,
    changes: Publisher<Snapshot<T>>,
    projections: Mutex<Vec<Projection<T>>>,
}

/// The applied config: read without locks, swapped atomically by the reloader.
///
/// Reads never block and never see a half-applied config (guarantee G1). Load once per unit of
/// work and use that guard for the whole unit, so every field comes from the same version; do not
/// hold a guard across an `.await` or for long (use [`Store::get`] for that).
///
/// ```
/// use hotconf_core::Store;
/// let store = Store::new(8080u16);
/// assert_eq!(*store.load().config(), 8080);
/// assert_eq!(store.version(), 0);
/// ```
pub struct Store<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Store<T> {
    fn clone(&self) -> Self {
        Store {
            shared: self.shared.clone(),
        }
    }
}

impl<T: fmt::Debug + Send + Sync + 'static> fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("current", &*self.load())
            .finish()
    }
}

impl<T: Send + Sync + 'static> Store<T> {
    /// A store holding `config` as version 0 (a constant, e.g. for tests).
    pub fn new(config: T) -> Self {
        let empty: Arc<[(LayerId, Revision)]> = Arc::from(Vec::new());
        let merged = Tree::from_value(Arc::new(Value::Object(Default::default())));
        let snapshot = Arc::new(Snapshot::from_parts(SnapshotParts {
            config,
            version: 0,
            revisions: empty,
            merged,
            hash: 0,
            origin: Origin::Initial,
            pending_restart: Vec::new(),
            layers: Arc::from(Vec::new()),
            redaction: Arc::new(Redaction::default()),
        }));
        snapshot.published(None);
        Store::from_snapshot(snapshot)
    }

    pub(crate) fn from_snapshot(snapshot: Arc<Snapshot<T>>) -> Self {
        Store {
            shared: Arc::new(Shared {
                current: Arc::new(ArcSwap::new(snapshot.clone())),
                changes: Publisher::from_arc(snapshot),
                projections: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The current snapshot, as a cheap guard (no reference-count traffic on the hot path).
    pub fn load(&self) -> Guard<T> {
        self.shared.current.load()
    }

    /// A per-reader cache for the hottest read paths: its [`CachedReader::load`] only compares one
    /// pointer when nothing changed (about a nanosecond), and picks up a new version on the next
    /// call after a swap. Keep one per thread or task (it needs `&mut self`); it holds on to
    /// the last snapshot it saw until its next `load`.
    pub fn cached(&self) -> CachedReader<T> {
        CachedReader {
            cache: arc_swap::Cache::new(self.shared.current.clone()),
        }
    }

    /// The current snapshot as an `Arc`, to keep past an `.await` or hand to another task.
    pub fn get(&self) -> Arc<Snapshot<T>> {
        self.shared.current.load_full()
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.shared.current.load().version
    }

    /// A subscription that sees every applied snapshot (the latest one, if it reads slowly).
    /// When it wakes, readers already load the new snapshot and its `applied` event has been
    /// sent.
    ///
    /// A subscriber that never reads, holds a snapshot for ever, or panics affects nobody else
    /// (guarantee G7).
    pub fn subscribe(&self) -> Subscription<Snapshot<T>> {
        self.shared.changes.subscribe()
    }

    /// A subscription to `project(config)` that is notified only when that value changes.
    ///
    /// The projection runs on the reloader after each swap; a panicking projection is dropped
    /// (its subscription sees no more changes) without affecting the reload.
    pub fn subscribe_map<U, F>(&self, project: F) -> Subscription<U>
    where
        U: PartialEq + Send + Sync + 'static,
        F: Fn(&T) -> U + Send + Sync + 'static,
    {
        let publisher = Publisher::new(project(&self.load()));
        let subscription = publisher.subscribe();
        let projection: Projection<T> = Box::new(move |snapshot| {
            let next = project(snapshot);
            if *publisher.borrow() != next {
                publisher.send_replace(Arc::new(next));
            }
            !publisher.is_closed()
        });
        self.lock_projections().push(projection);
        subscription
    }

    /// Makes `snapshot` the one readers load. Subscribers and projections are not told: call
    /// [`notify`](Self::notify) once the swap's events are sent.
    pub(crate) fn swap(&self, snapshot: Arc<Snapshot<T>>) {
        self.shared.current.store(snapshot);
    }

    /// Notifies subscribers and projections of the current snapshot (after [`swap`](Self::swap)).
    pub(crate) fn notify(&self) {
        let snapshot = self.get();
        self.shared.changes.send_replace(Arc::clone(&snapshot));
        self.lock_projections().retain(|projection| {
            catch_unwind(AssertUnwindSafe(|| projection(&snapshot))).unwrap_or_else(|_| {
                tracing::warn!("a subscribe_map projection panicked; it is removed");
                false
            })
        });
    }

    fn lock_projections(&self) -> std::sync::MutexGuard<'_, Vec<Projection<T>>> {
        self.shared
            .projections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn an_origin_reads_as_words_not_as_its_debug_form() {
        let cases = [
            (Origin::Sources, "sources"),
            (Origin::Rollback { of: 2 }, "rollback of v2"),
            (
                Origin::Revert { of: 3, failed: 4 },
                "revert to v3 after v4 failed its check",
            ),
            (Origin::Initial, "initial"),
            (Origin::Disk, "last-good file"),
        ];
        for (origin, words) in cases {
            assert_eq!(origin.to_string(), words, "{origin:?}");
        }
    }
}
