//! Candidate building: the config the sources' latest states make, before any check.
//!
//! Three strategies, tried in this order; the first that decides builds the candidate:
//!
//! 1. [`single_document`]: the only layer is a JSON document, deserialized straight from its
//!    bytes at the cost of a plain `serde_json::from_slice`.
//! 2. [`streamed`]: a JSON document whose tree is not built (the one that changed, after
//!    startup) among other layers, read as a stream with the others' trees merged in where
//!    they overlap.
//! 3. [`tree_merge`]: the layers' trees, deserialized in place with keys merged on the fly; with
//!    restart-required keys, the same when each has its running value already (looked up in
//!    the layers), or with one more layer holding the running values where a layer can; else
//!    the merged tree is built and patched first. It decides every case.
//!
//! The first two pass to the next when the layers are not their shape, or when they cannot
//! decide alone (an error, which the tree merge names with its key and source, or an overlap
//! only a tree can merge). None builds the merged tree unless it must: a snapshot builds it
//! the first time someone asks. Every strategy ends in the one constructor,
//! [`Inputs::candidate`].
//!
//! # Why they agree
//!
//! For the same layers, every strategy that decides gives the same typed config and the same
//! merged content. Tests prove it:
//!
//! - `tests/properties/fast_path.rs` (the `hotconf-tests` package at the workspace root): the
//!   same document applied on each of the three paths, with hostile values in the fields the
//!   config ignores (`1e400`, 200 levels, lone surrogates), gives equal configs and equal
//!   `Snapshot::merged()`, or is rejected on all three;
//! - `tests/properties/merge.rs`: a reloader over 2–4 random overlapping layers in any format
//!   serves figment's merge of them;
//! - `tests/properties/layer_changes.rs`: a reloader over 2–12 random overlapping layers,
//!   changed one at a time (JSON documents, trees, keys removed, layers deleted), with and
//!   without a restart-required key, serves figment's merge after every change, with the
//!   right keys pending a restart;
//! - in this crate, `strict/tests.rs` (a document read as a stream between layers against the
//!   merge of the parsed layers), the tests of `layered.rs` (deserializing the layers in place
//!   against deserializing their merge) and `tests.rs` here (each strategy against the tree
//!   merge on the same sources).
//!
//! # No empty config in place of a failure
//!
//! A snapshot of the first two strategies builds its tree only when asked
//! (`Snapshot::merged`). That build cannot fail for a candidate they build: they accept only
//! documents the tree parser accepts (the `strict` parser parses in full every value the
//! config ignores), which the property tests above check on hostile documents. Where the
//! engine itself reads an applied snapshot's tree (restart-required keys here, a rollback in
//! `apply.rs`), it uses `Snapshot::try_merged` or `Tree::lookup` (which looks a key up in the
//! layers of a merge not built yet), both fallible, so that a failure there is an error, never
//! an empty config.

mod single_document;
mod streamed;
mod tree_merge;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Result;
use crate::explain::LayerView;
use crate::layer_id::LayerId;
use crate::path::PathSegment;
use crate::redaction::Redaction;
use crate::revision::Revision;
use crate::store::{Origin, Snapshot};
use crate::tree::Tree;

use super::source::SourceState;

/// A candidate config: the merged content, its hash, the revisions it was built from, and the
/// typed config if the strategy already has it.
pub(super) struct Candidate<T> {
    /// The typed config, when the strategy deserialized it (the checks do otherwise).
    pub(super) config: Option<T>,
    /// The merged content, built when first asked for.
    pub(super) merged: Arc<Tree>,
    /// The hash of the merged content.
    pub(super) hash: u64,
    /// The revision of every source with a good state, in layer order.
    pub(super) revisions: Arc<[(LayerId, Revision)]>,
    /// Restart-required keys whose source value differs from the running one kept.
    pub(super) pending_restart: Vec<String>,
    /// Every layer's latest state (none for a config read from the last-good file).
    pub(super) layers: Arc<[LayerView]>,
    /// The redaction policy when not the reloader's: for a config read from the last-good
    /// file, the reloader's and what secret layers supplied to it.
    pub(super) redaction: Option<Arc<Redaction>>,
}

/// What trying one of the first two strategies gave.
enum Attempt<T> {
    /// The candidate it built.
    Built(Candidate<T>),
    /// The content hashes as the applied config's: nothing to apply.
    Unchanged,
    /// Not its shape of layers, or it could not decide alone: the next strategy decides.
    Pass,
}

/// One of the strategies that may pass.
type Strategy<T> = fn(&Inputs<'_, T>) -> Result<Attempt<T>>;

impl<T: DeserializeOwned> Candidate<T> {
    /// The candidate from the sources' latest states; `None` when it equals the `current`
    /// config. Keys in `restart_required` keep their running value.
    pub(super) fn build(
        sources: &[SourceState],
        restart_required: &[Vec<PathSegment>],
        current: Option<&Snapshot<T>>,
    ) -> Result<Option<Candidate<T>>> {
        let inputs = Inputs::new(sources, restart_required, current);
        let strategies: [Strategy<T>; 2] = [single_document::build, streamed::build];
        for strategy in strategies {
            match strategy(&inputs)? {
                Attempt::Built(candidate) => return Ok(Some(candidate)),
                Attempt::Unchanged => return Ok(None),
                Attempt::Pass => {}
            }
        }
        // The last strategy decides every case.
        tree_merge::build(&inputs)
    }

    /// A candidate from a config read back from the last-good file.
    pub(super) fn saved(
        config: Value,
        revisions: Vec<(LayerId, Revision)>,
        redaction: Option<Arc<Redaction>>,
    ) -> Result<Candidate<T>> {
        let merged = Tree::from_value(Arc::new(config));
        Ok(Candidate {
            config: None,
            hash: merged.content_hash()?,
            merged,
            revisions: revisions.into(),
            pending_restart: Vec::new(),
            layers: Arc::from(Vec::new()),
            redaction,
        })
    }
}

/// A layer that holds something, with its id (errors name it).
#[derive(Clone, Copy)]
struct Named<'a> {
    id: &'a LayerId,
    tree: &'a Arc<Tree>,
}

impl<'a> Named<'a> {
    /// Its tree, built if it was not; a failure names its source.
    fn value(&self) -> Result<&'a Value> {
        match self.tree.value() {
            Ok(value) => Ok(&**value),
            Err(error) => Err(error.with_layer(self.id.clone())),
        }
    }
}

/// What every strategy reads, and the constructor they share.
struct Inputs<'a, T> {
    /// Every source, in layer order.
    sources: &'a [SourceState],
    /// The layers that hold something, lowest first.
    layers: Vec<Named<'a>>,
    /// Keys that keep their running value until a restart.
    restart_required: &'a [Vec<PathSegment>],
    /// The config applied now, if any.
    current: Option<&'a Snapshot<T>>,
}

impl<'a, T> Inputs<'a, T> {
    fn new(
        sources: &'a [SourceState],
        restart_required: &'a [Vec<PathSegment>],
        current: Option<&'a Snapshot<T>>,
    ) -> Self {
        let layers = sources
            .iter()
            .filter_map(|s| s.latest().map(|tree| Named { id: s.id(), tree }))
            .filter(|layer| !layer.tree.is_empty_map())
            .collect();
        Inputs {
            sources,
            layers,
            restart_required,
            current,
        }
    }

    /// Whether the content is the merge of the layers alone: no key keeps a running value.
    fn is_plain(&self) -> bool {
        self.restart_required.is_empty()
    }

    /// Whether content hashing to `hash` is the config applied now. A config read from disk
    /// is replaced by the sources' first one even when equal, so that the origin says the
    /// sources are followed again.
    fn is_current(&self, hash: u64) -> bool {
        self.current
            .is_some_and(|c| c.content_hash() == hash && *c.origin() != Origin::Disk)
    }

    /// The layers' trees, lowest first, building those not built yet; a failure names the
    /// layer's source.
    fn values(&self) -> Result<Vec<&'a Value>> {
        self.layers.iter().map(Named::value).collect()
    }

    /// The trees of every layer but the one at `at`, which stays unbuilt.
    fn values_except(&self, at: usize) -> Result<Vec<&'a Value>> {
        let others = self.layers.iter().enumerate().filter(|(i, _)| *i != at);
        others.map(|(_, layer)| layer.value()).collect()
    }

    /// The merge of the layers, built when first asked for.
    fn merged_lazily(&self) -> Arc<Tree> {
        Tree::from_layers(self.layers.iter().map(|l| Arc::clone(l.tree)).collect())
    }

    /// The one constructor every strategy ends in: the candidate of `merged` (hashing to
    /// `hash`), with the typed `config` when the strategy has it (otherwise the checks
    /// deserialize `merged`, naming the key and source of any error).
    fn candidate(
        &self,
        config: Option<T>,
        merged: Arc<Tree>,
        hash: u64,
        pending_restart: Vec<String>,
    ) -> Candidate<T> {
        Candidate {
            config,
            merged,
            hash,
            revisions: self
                .sources
                .iter()
                .filter_map(|s| s.latest_revision().map(|r| (s.id().clone(), r.clone())))
                .collect(),
            pending_restart,
            layers: self.sources.iter().map(SourceState::view).collect(),
            redaction: None,
        }
    }
}
