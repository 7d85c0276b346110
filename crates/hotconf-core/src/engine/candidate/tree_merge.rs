//! The tree merge: every layer's tree is built, and the typed config is deserialized from the
//! layers in place, merging keys on the fly ([`layered`]); the merged tree is built only if
//! someone asks for it. With restart-required keys, the keys are looked up in the layers (not
//! in a merged tree): when each already has its running value, the same; when some do not and
//! one more layer over the others can give them their running values back, the same with that
//! layer; otherwise the merged tree is built first and every such key gets its running value
//! back. It decides every case: it is the reference the other strategies are tested against,
//! and it names the key and source of any error.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

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
    let kept = match inputs.is_plain() {
        true => Kept::Nothing,
        false => kept(inputs, &values)?,
    };
    let (patch, pending_restart) = match kept {
        Kept::Nothing => (None, Vec::new()),
        Kept::Layer(patch, pending) => (Some(Tree::from_value(Arc::new(patch))), pending),
        Kept::Tree => return patched_tree(inputs, values),
    };
    // The layers, and over them the running values given back, if any.
    let mut layers: Vec<Arc<Tree>> = inputs.layers.iter().map(|l| Arc::clone(l.tree)).collect();
    let mut values: Vec<&Value> = values;
    if let Some(patch) = &patch {
        layers.push(Arc::clone(patch));
        values.push(patch.value()?);
    }
    let merged = Tree::from_layers(layers);
    let hash = merged.content_hash()?;
    if inputs.is_current(hash) {
        return Ok(None);
    }
    // On failure the checks deserialize the merged tree, which names the key and source.
    let config = layered::from_layers::<T>(&values).ok();
    Ok(Some(inputs.candidate(
        config,
        merged,
        hash,
        pending_restart,
    )))
}

/// The merged tree built, with every restart-required key given its running value back.
fn patched_tree<T>(inputs: &Inputs<'_, T>, values: Vec<&Value>) -> Result<Option<Candidate<T>>> {
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

/// What the restart-required keys need.
enum Kept {
    /// Nothing: no config runs yet, or every key has its running value in the merge already
    /// (the common case: another key changed).
    Nothing,
    /// Their running values, as one more layer over the others (the keys, rendered): what
    /// [`keep_running`] does to the merged tree, when a layer does the same.
    Layer(Value, Vec<String>),
    /// The merged tree, patched by [`keep_running`].
    Tree,
}

/// What the restart-required keys need over the merge of `values`. Looks the keys up in the
/// layers and in the running config's layers, so that neither merged tree is built (a change
/// among many layers costs what the change costs).
///
/// A layer does what `keep_running` does when, for every key whose value differs, the running
/// value is there and is not a map (a map in a layer would merge with the one below, where
/// `keep_running` replaces it), the key is made of map keys only, and every value above it in
/// the merge is a map or absent (where `keep_running` leaves a path through another value as
/// it is, a layer would replace that value). The layer is built with `keep_running`'s own
/// setter, in the same order.
fn kept<T>(inputs: &Inputs<'_, T>, values: &[&Value]) -> Result<Kept> {
    let Some(current) = inputs.current else {
        return Ok(Kept::Nothing);
    };
    // A running tree that cannot be built is an error (see `keep_running`).
    let running = current.merged_tree();
    let mut patch = Value::Object(Map::new());
    let mut pending = Vec::new();
    for key in inputs.restart_required {
        let value = running.lookup(key)?;
        if merge::lookup_merged(values, key) == value {
            continue;
        }
        let Some(value) = value.filter(|v| !v.is_object()) else {
            return Ok(Kept::Tree);
        };
        if key.iter().any(|s| !matches!(s, PathSegment::Key(_))) {
            return Ok(Kept::Tree);
        }
        let through_maps = (1..key.len())
            .all(|len| merge::lookup_merged(values, &key[..len]).is_none_or(|v| v.is_object()));
        if !through_maps {
            return Ok(Kept::Tree);
        }
        path::set(&mut patch, key, Some(value.into_owned()));
        pending.push(path::render(key));
    }
    Ok(match pending.is_empty() {
        true => Kept::Nothing,
        false => Kept::Layer(patch, pending),
    })
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
