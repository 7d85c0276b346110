//! The single-document strategy: the only layer is a JSON document whose root is a map, and
//! the typed config is deserialized straight from its bytes, at the cost of a plain
//! `serde_json::from_slice`. Its tree is built only if someone asks for it.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::strict;

use super::{Attempt, Inputs};

/// Builds the candidate when there is one JSON document layer and no restart-required key;
/// passes on anything else, and on any parse error (the tree merge names its key and source).
pub(super) fn build<T: DeserializeOwned>(inputs: &Inputs<'_, T>) -> Result<Attempt<T>> {
    let ([only], true) = (inputs.layers.as_slice(), inputs.is_plain()) else {
        return Ok(Attempt::Pass);
    };
    let Some(bytes) = only.tree.json_map_bytes() else {
        return Ok(Attempt::Pass);
    };
    // The hash of the bytes, before the parse: an unchanged document is not parsed at all.
    let hash = only.tree.content_hash()?;
    if inputs.is_current(hash) {
        return Ok(Attempt::Unchanged);
    }
    // Checks the fields it ignores too: this strategy accepts exactly what the tree parser
    // accepts, so the snapshot's tree, built later from the same bytes, always builds.
    match strict::from_slice::<T>(bytes) {
        Ok(config) => Ok(Attempt::Built(inputs.candidate(
            Some(config),
            Arc::clone(only.tree),
            hash,
            Vec::new(),
        ))),
        Err(_) => Ok(Attempt::Pass),
    }
}
