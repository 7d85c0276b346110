//! Blame: naming the key and the source at fault in a rejection.
//!
//! A failed deserialization is retried with path tracking to name the key; a key is traced to
//! the highest layer that holds it; with no key, the one source that changed is blamed.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::format;
use crate::layer_id::LayerId;
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
            let message = without_value(&err.inner().to_string(), path::lookup(merged, &key));
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

/// A deserialization error's message that does not quote the value at fault (guarantee
/// G12): serde's `invalid type: string "…", expected u16` becomes `expected u16, found a
/// string`; an unknown enum variant is not named; anything else has the value's text cut out.
fn without_value(message: &str, value: Option<&Value>) -> String {
    let found = value.map_or("nothing", format::kind_name);
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((_, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            return format!("expected {expected}, found {found}");
        }
    }
    if let Some((_, expected)) = message
        .strip_prefix("unknown variant ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        return format!("unknown variant ({found}), expected {expected}");
    }
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        _ => return message.to_owned(),
    };
    if text.is_empty() || !message.contains(&text) {
        return message.to_owned();
    }
    // Quoted, the value is cut wherever it appears; bare, only when long enough not to be a
    // word of the message itself.
    let mut out = message.to_owned();
    for quoted in [
        format!("\"{text}\""),
        format!("`{text}`"),
        format!("'{text}'"),
    ] {
        out = out.replace(&quoted, "<value>");
    }
    if text.len() >= 4 {
        out = out.replace(&text, "<value>");
    }
    out
}

/// Names the source of an error from its key: the highest layer that holds the key.
pub(super) fn locate(sources: &[SourceState], error: Error) -> Error {
    if error.source_name().is_some() {
        return error;
    }
    let Some(key) = error.key().map(path::parse) else {
        return error;
    };
    let named: Vec<(&LayerId, &Value)> = sources
        .iter()
        .filter_map(|s| Some((s.id(), s.latest()?.value().ok()?.as_ref())))
        .collect();
    let trees: Vec<&Value> = named.iter().map(|(_, v)| *v).collect();
    match merge::provenance(&trees, &key) {
        Some(index) => error.with_layer(named[index].0.clone()),
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
        (Some(only), None) => error.with_layer(only.id().clone()),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_name_the_expected_type_and_the_kind_found_never_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        enum Mode {
            Fast,
            Safe,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct App {
            port: u16,
            mode: Mode,
            #[serde(default)]
            addr: Option<std::net::SocketAddr>,
        }
        let cases = [
            (
                json!({"port": "hunter2-secret", "mode": "Fast"}),
                "hunter2-secret",
                "expected u16, found a string",
            ),
            (
                json!({"port": 987654, "mode": "Fast"}),
                "987654",
                "expected u16, found a number",
            ),
            (
                json!({"port": 1, "mode": "s3cr3t-variant"}),
                "s3cr3t-variant",
                "unknown variant (a string), expected `Fast` or `Safe`",
            ),
            (
                json!({"port": 1, "mode": "Fast", "addr": "p4ssw0rd:x"}),
                "p4ssw0rd",
                "invalid socket address syntax",
            ),
        ];
        for (merged, secret, expected) in cases {
            let error = deserialize::<App>(&[], &merged).unwrap_err();
            let text = error.to_string();
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains(expected), "{text}");
        }
    }
}
