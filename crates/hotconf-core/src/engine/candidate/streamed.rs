//! The streamed strategy: among several layers, the largest JSON document whose tree is not
//! built (after startup, the one that changed) is read as a stream, with the other layers'
//! trees merged in where they overlap ([`overlay`]). Building and freeing the tree of a large
//! document costs about as much as the typed parse itself; the merged tree is built only if
//! someone asks for it.

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::strict::overlay;

use super::{Attempt, Inputs};

/// Builds the candidate when one of several layers is a JSON document not parsed yet and no
/// key is restart-required; passes on anything else, and on any failure of the stream (a real
/// error, or an overlap only a tree can merge).
pub(super) fn build<T: DeserializeOwned>(inputs: &Inputs<'_, T>) -> Result<Attempt<T>> {
    if !inputs.is_plain() || inputs.layers.len() < 2 {
        return Ok(Attempt::Pass);
    }
    // The largest such document; of equal ones, the highest layer.
    let Some((at, bytes)) = inputs
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, layer)| layer.tree.streamable_json().map(|bytes| (i, bytes)))
        .max_by_key(|(_, bytes)| bytes.len())
    else {
        return Ok(Attempt::Pass);
    };
    let others = inputs.values_except(at)?;
    let (below, above) = others.split_at(at);
    let Ok(config) = overlay::from_layers::<T>(below, bytes, above) else {
        return Ok(Attempt::Pass);
    };
    let merged = inputs.merged_lazily();
    let hash = merged.content_hash()?;
    if inputs.is_current(hash) {
        return Ok(Attempt::Unchanged);
    }
    Ok(Attempt::Built(inputs.candidate(
        Some(config),
        merged,
        hash,
        Vec::new(),
    )))
}
