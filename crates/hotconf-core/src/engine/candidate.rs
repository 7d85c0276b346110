//! Candidate building: the config the sources' latest states make, before any check.
//!
//! Four paths, each proven by tests to give the same config:
//! - one JSON document layer: deserialized straight from its bytes, at the cost of a plain
//!   `serde_json::from_slice`; its tree is built only if someone asks for it;
//! - a JSON document layer not parsed yet (the one that changed) among others: read as a
//!   stream with the other layers' trees merged in where they overlap; its tree is built only if
//!   someone asks for it;
//! - otherwise the layers' trees are deserialized in place, merging keys on the fly, and the
//!   merged tree is built only if someone asks for it;
//! - with restart-required keys, the merged tree is built and patched first.
//!
//! On any failure the typed config is left for the checks to deserialize from the merged tree,
//! which names the key and the source of the error.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::explain::LayerView;
use crate::layered;
use crate::merge;
use crate::path::{self, PathSegment};
use crate::revision::Revision;
use crate::store::{Origin, Snapshot};
use crate::strict::{self, overlay};
use crate::tree::Tree;

use super::source::SourceState;

/// A candidate config: the merged content, its hash, the revisions it was built from, and the
/// typed config if the fast path already has it.
pub(super) struct Candidate<T> {
    pub(super) config: Option<T>,
    pub(super) merged: Arc<Tree>,
    pub(super) hash: u64,
    pub(super) revisions: Arc<[(String, Revision)]>,
    pub(super) pending_restart: Vec<String>,
    pub(super) layers: Arc<[LayerView]>,
}

impl<T: DeserializeOwned> Candidate<T> {
    /// The candidate from the sources' latest states; `None` when it equals the `current`
    /// config. Keys in `restart_required` keep their running value.
    pub(super) fn build(
        sources: &[SourceState],
        restart_required: &[Vec<PathSegment>],
        current: Option<&Snapshot<T>>,
    ) -> Result<Option<Candidate<T>>> {
        let layers: Vec<(&str, &Arc<Tree>)> = sources
            .iter()
            .filter_map(|s| s.latest().map(|t| (s.name(), t)))
            .filter(|(_, t)| !t.is_empty_map())
            .collect();
        // A config read from disk is replaced by the sources' first one even when equal, so
        // that the origin says the sources are followed again.
        let unchanged = |hash: u64| {
            current.is_some_and(|c| c.content_hash() == hash && *c.origin() != Origin::Disk)
        };
        let revisions = || -> Arc<[(String, Revision)]> {
            sources
                .iter()
                .filter_map(|s| {
                    s.latest_revision()
                        .map(|r| (s.name().to_owned(), r.clone()))
                })
                .collect()
        };
        let views = || -> Arc<[LayerView]> { sources.iter().map(SourceState::view).collect() };
        let plain = restart_required.is_empty();
        if let ([(_, only)], true) = (layers.as_slice(), plain) {
            if let Some(bytes) = only.json_map_bytes() {
                let hash = only.content_hash()?;
                if unchanged(hash) {
                    return Ok(None);
                }
                // Checks the fields it ignores too: the fast path accepts exactly what the tree
                // parser accepts (on any error the general path names the key and source).
                if let Ok(config) = strict::from_slice::<T>(bytes) {
                    return Ok(Some(Candidate {
                        config: Some(config),
                        merged: Arc::clone(only),
                        hash,
                        revisions: revisions(),
                        pending_restart: Vec::new(),
                        layers: views(),
                    }));
                }
            }
        }
        // The largest JSON document not parsed yet (the one that changed, after startup).
        let streamed = (0..layers.len())
            .filter_map(|i| layers[i].1.streamable_json().map(|bytes| (bytes.len(), i)))
            .max()
            .map(|(_, i)| i);
        if let (Some(at), true, true) = (streamed, plain, layers.len() > 1) {
            let mut others = Vec::with_capacity(layers.len() - 1);
            for (_, (name, tree)) in layers.iter().enumerate().filter(|(i, _)| *i != at) {
                others.push(
                    tree.value()
                        .map_err(|e| e.with_source_name(*name))?
                        .as_ref(),
                );
            }
            let (below, above) = others.split_at(at);
            let document = layers[at].1;
            let bytes = document.streamable_json().unwrap_or_default();
            // Any failure (a real error, or an overlap only a tree can merge): the tree path.
            if let Ok(config) = overlay::from_layers::<T>(below, bytes, above) {
                let merged = Tree::from_layers(layers.iter().map(|(_, t)| Arc::clone(t)).collect());
                let hash = merged.content_hash()?;
                if unchanged(hash) {
                    return Ok(None);
                }
                return Ok(Some(Candidate {
                    config: Some(config),
                    merged,
                    hash,
                    revisions: revisions(),
                    pending_restart: Vec::new(),
                    layers: views(),
                }));
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
                revisions: revisions(),
                pending_restart: Vec::new(),
                layers: views(),
            }));
        }
        let mut merged = merge::merge_all(values);
        let mut pending_restart = Vec::new();
        if let Some(current) = current {
            for key in restart_required {
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
            revisions: revisions(),
            pending_restart,
            layers: views(),
        }))
    }

    /// A candidate from a config read back from the last-good file.
    pub(super) fn saved(
        config: serde_json::Value,
        revisions: Vec<(String, Revision)>,
    ) -> Result<Candidate<T>> {
        let merged = Tree::from_value(Arc::new(config));
        Ok(Candidate {
            config: None,
            hash: merged.content_hash()?,
            merged,
            revisions: revisions.into(),
            pending_restart: Vec::new(),
            layers: Arc::from(Vec::new()),
        })
    }
}
