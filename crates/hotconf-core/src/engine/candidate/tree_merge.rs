//! The tree merge: every layer's tree is built, and the typed config is deserialized from the
//! layers in place, merging keys on the fly ([`layered`]); the merged tree is built only if
//! someone asks for it. With restart-required keys, when each already has its running value in
//! the merge (looked up in the layers, not in a merged tree), the same; when one does not, the
//! merged tree is built first and every such key gets its running value back. It decides every
//! case: it is the reference the other strategies are tested against, and it names the key and
//! source of any error.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Result;
use crate::layered;
use crate::merge;
use crate::path::{self, PathSegment};
use crate::store::Snapshot;
use crate::tree::Tree;

use super::{Candidate, Inputs};

/// Builds the candidate (`None`: it equals the applied config).
pub(super) fn build<T: DeserializeOwned>(inputs: &Inputs<'_, T>) -> Result<Option<Candidate<T>>> {
    let values = inputs.values()?;
    if inputs.is_plain() || keeps_nothing(inputs, &values)? {
        let merged = inputs.merged_lazily();
        let hash = merged.content_hash()?;
        if inputs.is_current(hash) {
            return Ok(None);
        }
        // On failure the checks deserialize the merged tree, which names the key and source.
        let config = layered::from_layers::<T>(&values).ok();
        return Ok(Some(inputs.candidate(config, merged, hash, Vec::new())));
    }
    let mut merged = merge::merge_all(values);
    let pending_restart = match inputs.current {
        Some(current) => keep_running(&mut merged, inputs.restart_required, current)?,
        None => Vec::new(),
    };
    let merged = Tree::from_value(Arc::new(merged));
    let hash = merged.content_hash()?;
    if inputs.is_current(hash) {
        return Ok(None);
    }
    Ok(Some(inputs.candidate(None, merged, hash, pending_restart)))
}

/// Whether the merge of `values` is the candidate as it is: no config runs yet, or every
/// restart-required key has its running value in it already (the common case: another key
/// changed). Looks the keys up in the layers and in the running config's layers, so that
/// neither merged tree is built (a change among many layers costs what the change costs).
fn keeps_nothing<T>(inputs: &Inputs<'_, T>, values: &[&Value]) -> Result<bool> {
    let Some(current) = inputs.current else {
        return Ok(true);
    };
    // A running tree that cannot be built is an error (see `keep_running`).
    let running = current.merged_tree();
    for key in inputs.restart_required {
        if merge::lookup_merged(values, key) != running.lookup(key)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Gives every key of `keys` whose value in `merged` differs from the `current` config's its
/// running value back; returns those keys, rendered.
fn keep_running<T>(
    merged: &mut Value,
    keys: &[Vec<PathSegment>],
    current: &Snapshot<T>,
) -> Result<Vec<String>> {
    // `try_merged`: a running tree that cannot be built is an error, where an empty one would
    // remove every restart-required key from the config.
    let running_tree = current.try_merged()?;
    let mut pending = Vec::new();
    for key in keys {
        let running = path::lookup(running_tree, key);
        if path::lookup(merged, key) != running {
            path::set(merged, key, running.cloned());
            pending.push(path::render(key));
        }
    }
    Ok(pending)
}
