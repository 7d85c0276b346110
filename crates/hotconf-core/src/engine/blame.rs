//! Blame: naming the key and the source at fault in a rejection.
//!
//! A failed deserialization is retried with path tracking to name the key; a key is traced to
//! the highest layer that holds it; with no key, the one source that changed is blamed.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::merge;
use crate::path::{self, PathSegment};

use super::source::SourceState;

/// Deserializes the merged tree; an error names the key and, through [`locate`], its source.
pub(super) fn deserialize<T: DeserializeOwned>(
    sources: &[SourceState],
    merged: &Value,
) -> Result<T> {
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
            Err(locate(sources, error))
        }
    }
}

/// Names the source of an error from its key: the highest layer that holds the key.
pub(super) fn locate(sources: &[SourceState], error: Error) -> Error {
    if error.source_name().is_some() {
        return error;
    }
    let Some(key) = error.key().map(path::parse) else {
        return error;
    };
    let named: Vec<(&str, &Value)> = sources
        .iter()
        .filter_map(|s| Some((s.name(), s.latest()?.value().ok()?.as_ref())))
        .collect();
    let trees: Vec<&Value> = named.iter().map(|(_, v)| *v).collect();
    match merge::provenance(&trees, &key) {
        Some(index) => error.with_source_name(named[index].0),
        None => error,
    }
}

/// With no key to go by, blames the one source that changed, when only one did.
pub(super) fn blame(sources: &[SourceState], error: Error) -> Error {
    if error.source_name().is_some() {
        return error;
    }
    let mut dirty = sources.iter().filter(|s| s.is_dirty());
    match (dirty.next(), dirty.next()) {
        (Some(only), None) => error.with_source_name(only.name().to_owned()),
        _ => error,
    }
}
